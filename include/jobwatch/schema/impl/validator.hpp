#ifndef JOBWATCH_SCHEMA_IMPL_VALIDATOR_HPP
#define JOBWATCH_SCHEMA_IMPL_VALIDATOR_HPP

// The bodies of jobwatch/schema/validator.hpp. The compiler is a reading of
// codegen/jobwatch_codegen/model.py (Builder.shape and what it calls): the
// same refusals in the same order with the same words, so that a schema the
// generator refuses is refused here too, and the compiled nodes are its
// `Shape` kinds. The checks reuse the generated parsers' own helpers
// (jobwatch/detail/codec_read.hpp), so numbers, strings and messages are
// decided by the very code the generated parsers run.

#include <jobwatch/detail/codec_read.hpp>
#include <jobwatch/detail/rfc3339.hpp>
#include <jobwatch/detail/utf8.hpp>
#include <jobwatch/schema/detail/ecma_pattern.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace jobwatch::schema {
namespace detail {

namespace json = boost::json;

// ---------------------------------------------------------------------------
// Texts as the generator writes them (Python's json.dumps and repr), so that
// messages read the same whichever side decided.

/// `json.dumps(s, ensure_ascii=False)` of a string.
inline void append_py_json_string(std::string& out, std::string_view s)
{
    static constexpr char hex[] = "0123456789abcdef";
    out += '"';
    for (char c : s) {
        auto const u = static_cast<unsigned char>(c);
        switch (c) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\t':
            out += "\\t";
            break;
        case '\b':
            out += "\\b";
            break;
        case '\f':
            out += "\\f";
            break;
        default:
            if (u < 0x20) {
                out += "\\u00";
                out += hex[u >> 4];
                out += hex[u & 0xF];
            } else {
                out += c;
            }
        }
    }
    out += '"';
}

inline std::string py_json_string(std::string_view s)
{
    std::string out;
    append_py_json_string(out, s);
    return out;
}

/// Python's `repr(float)`: shortest round trip, `1.0`, `1e+16`, `1e-05`.
inline std::string py_float(double d)
{
    if (d == 0)
        return std::signbit(d) ? "-0.0" : "0.0";
    char buf[64];
    auto const r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
    std::string_view sci{buf, static_cast<std::size_t>(r.ptr - buf)};
    std::string out;
    if (sci.front() == '-') {
        out += '-';
        sci.remove_prefix(1);
    }
    auto const e = sci.find('e');
    std::string digits;
    for (char c : sci.substr(0, e))
        if (c != '.')
            digits += c;
    int exponent = 0;
    auto const exp_text = sci.substr(e + 1);
    std::from_chars(exp_text.data() + (exp_text.front() == '+'), exp_text.data() + exp_text.size(),
                    exponent);
    int const point = exponent + 1;  // digits are 0.ddd x 10^point
    if (point > -4 && point <= 16) {
        auto const n = static_cast<int>(digits.size());
        if (point <= 0)
            out += "0." + std::string(static_cast<std::size_t>(-point), '0') + digits;
        else if (point >= n)
            out += digits + std::string(static_cast<std::size_t>(point - n), '0') + ".0";
        else
            out += digits.substr(0, static_cast<std::size_t>(point)) + "." +
                   digits.substr(static_cast<std::size_t>(point));
        return out;
    }
    out += digits.substr(0, 1);
    if (digits.size() > 1)
        out += "." + digits.substr(1);
    out += exponent < 0 ? "e-" : "e+";
    auto const magnitude = std::to_string(exponent < 0 ? -exponent : exponent);
    if (magnitude.size() < 2)
        out += '0';
    out += magnitude;
    return out;
}

/// `json.dumps(v, ensure_ascii=False, separators=(",", ":"))` (escape.py `json_text`).
inline void append_py_json(std::string& out, json::value const& v)
{
    switch (v.kind()) {
    case json::kind::null:
        out += "null";
        return;
    case json::kind::bool_:
        out += v.get_bool() ? "true" : "false";
        return;
    case json::kind::int64:
        out += std::to_string(v.get_int64());
        return;
    case json::kind::uint64:
        out += std::to_string(v.get_uint64());
        return;
    case json::kind::double_:
        out += py_float(v.get_double());
        return;
    case json::kind::string:
        append_py_json_string(out, v.get_string());
        return;
    case json::kind::array: {
        out += '[';
        bool first = true;
        for (auto const& x : v.get_array()) {
            if (!first)
                out += ',';
            first = false;
            append_py_json(out, x);
        }
        out += ']';
        return;
    }
    case json::kind::object: {
        out += '{';
        bool first = true;
        for (auto const& kv : v.get_object()) {
            if (!first)
                out += ',';
            first = false;
            append_py_json_string(out, kv.key());
            out += ':';
            append_py_json(out, kv.value());
        }
        out += '}';
        return;
    }
    }
}

inline std::string py_json(json::value const& v)
{
    std::string out;
    append_py_json(out, v);
    return out;
}

/// Python's `repr(str)`, as `{k!r}` shows a keyword in the generator's messages.
inline std::string py_repr(std::string_view s)
{
    char const quote =
        s.find('\'') != std::string_view::npos && s.find('"') == std::string_view::npos ? '"'
                                                                                        : '\'';
    std::string out(1, quote);
    for (char c : s) {
        auto const u = static_cast<unsigned char>(c);
        if (c == quote || c == '\\') {
            out += '\\';
            out += c;
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c == '\t') {
            out += "\\t";
        } else if (u < 0x20 || u == 0x7F) {
            static constexpr char hex[] = "0123456789abcdef";
            out += "\\x";
            out += hex[u >> 4];
            out += hex[u & 0xF];
        } else {
            out += c;
        }
    }
    return out + quote;
}

/// Python's `repr` of a JSON value as `json.loads` gives it (`True`, `None`, `['a', 'b']`).
inline std::string py_repr_value(json::value const& v)
{
    switch (v.kind()) {
    case json::kind::null:
        return "None";
    case json::kind::bool_:
        return v.get_bool() ? "True" : "False";
    case json::kind::string:
        return py_repr(std::string_view{v.get_string()});
    case json::kind::array: {
        std::string out = "[";
        for (std::size_t i = 0; i < v.get_array().size(); ++i)
            out += (i ? ", " : "") + py_repr_value(v.get_array()[i]);
        return out + "]";
    }
    case json::kind::object: {
        std::string out = "{";
        bool first = true;
        for (auto const& kv : v.get_object()) {
            out += (first ? "" : ", ") + py_repr(std::string_view{kv.key()}) + ": " +
                   py_repr_value(kv.value());
            first = false;
        }
        return out + "}";
    }
    default:
        return py_json(v);
    }
}

/// One JSON Pointer (RFC 6901) segment.
inline std::string pointer_token(std::string_view key)
{
    std::string out;
    for (char c : key) {
        if (c == '~')
            out += "~0";
        else if (c == '/')
            out += "~1";
        else
            out += c;
    }
    return out;
}

// ---------------------------------------------------------------------------
// The vocabulary (model.py ANNOTATIONS, ASSERTIONS, REFUSED, KEYWORDS_BY_TYPE).

using keyword_list = std::span<std::string_view const>;

inline bool in(keyword_list list, std::string_view k)
{
    return std::find(list.begin(), list.end(), k) != list.end();
}

/// Keywords that only annotate: accepted, never checked.
inline constexpr std::string_view annotations[] = {
    "$schema",      "$id",      "$defs",       "$comment",         "$anchor",
    "$vocabulary",  "title",    "description", "default",          "examples",
    "deprecated",   "readOnly", "writeOnly",   "contentMediaType", "contentEncoding",
    "contentSchema"};

/// Keywords that change what is valid, all implemented.
inline constexpr std::string_view assertions[] = {"type",
                                                  "properties",
                                                  "required",
                                                  "additionalProperties",
                                                  "items",
                                                  "enum",
                                                  "const",
                                                  "minimum",
                                                  "maximum",
                                                  "exclusiveMinimum",
                                                  "exclusiveMaximum",
                                                  "multipleOf",
                                                  "minLength",
                                                  "maxLength",
                                                  "minItems",
                                                  "maxItems",
                                                  "$ref",
                                                  "format",
                                                  "pattern",
                                                  "oneOf",
                                                  "anyOf",
                                                  "minContains",
                                                  "maxContains"};

/// Keywords of 2020-12 the generator refuses, with why and what to write instead.
inline std::string_view refusal(std::string_view k)
{
    static constexpr std::pair<std::string_view, std::string_view> table[] = {
        {"allOf",
         "a value cannot be several C++ types at once; merge the subschemas into one schema"},
        {"not", "a negation has no type; say what is allowed instead (enum, pattern, bounds)"},
        {"if", "a conditional has no single type; use a oneOf whose branches are tagged by a const "
               "property"},
        {"then", "a conditional has no single type; use a oneOf whose branches are tagged by a "
                 "const property"},
        {"else", "a conditional has no single type; use a oneOf whose branches are tagged by a "
                 "const property"},
        {"uniqueItems", "uniqueness is not checked; check it in the application, or use an object "
                        "keyed by the item"},
        {"patternProperties", "keys chosen by a pattern have no member to go to; use "
                              "additionalProperties with a schema"},
        {"propertyNames",
         "key constraints are not checked; use properties, or additionalProperties with a schema"},
        {"prefixItems", "tuples are not typed; use an object with named properties"},
        {"contains",
         "contains does not type the items; give items a schema that every item satisfies"},
        {"minProperties", "member counts are not checked; use required"},
        {"maxProperties", "member counts are not checked; use additionalProperties: false"},
        {"dependentRequired",
         "conditional presence has no single type; use a oneOf tagged by a const property"},
        {"dependentSchemas",
         "a conditional has no single type; use a oneOf tagged by a const property"},
        {"unevaluatedProperties",
         "it depends on which subschemas applied; use additionalProperties"},
        {"unevaluatedItems", "it depends on which subschemas applied; use items"},
        {"$dynamicRef", "dynamic references are not supported; use $ref"},
        {"$dynamicAnchor", "dynamic references are not supported; use $ref"},
        {"additionalItems", "it is not a 2020-12 keyword; use items"},
        {"dependencies", "it is not a 2020-12 keyword"},
    };
    for (auto const& [name, why] : table)
        if (name == k)
            return why;
    return {};
}

inline keyword_list keywords_of_type(std::string_view t)
{
    static constexpr std::string_view string_kw[] = {"minLength", "maxLength", "pattern", "format"};
    static constexpr std::string_view number_kw[] = {"minimum", "maximum", "exclusiveMinimum",
                                                     "exclusiveMaximum", "multipleOf"};
    static constexpr std::string_view array_kw[] = {"items", "minItems", "maxItems", "minContains",
                                                    "maxContains"};
    static constexpr std::string_view object_kw[] = {"properties", "required",
                                                     "additionalProperties"};
    if (t == "string")
        return string_kw;
    if (t == "integer" || t == "number")
        return number_kw;
    if (t == "array")
        return array_kw;
    if (t == "object")
        return object_kw;
    return {};
}

inline constexpr std::string_view json_types[] = {"null",   "boolean", "object", "array",
                                                  "number", "string",  "integer"};

// ---------------------------------------------------------------------------
// The compiled form: model.py's Shape kinds, linked by pointers.

enum class node_kind
{
    any,      ///< `true`, `{}`, or no assertion
    string,   ///< lengths, date-time, pattern
    integer,  ///< JSON Schema integer (1.0 included), held in int64
    number,   ///< any finite number
    boolean,
    null,
    any_object,   ///< `type: object` with nothing else to check
    map,          ///< an object whose every member satisfies `item`
    object,       ///< properties, required, additionalProperties (a generated struct)
    values,       ///< `const`, or an `enum` not all strings: JSON equality
    enumeration,  ///< an `enum` of strings (a generated enum class)
    nullable,     ///< `null`, or `item`
    type_union,   ///< a `type` list: the value's JSON type picks the alternative
    array,
    tagged,  ///< `oneOf`/`anyOf` tagged by a const discriminator
};

struct node;

struct field_def
{
    std::string name;
    node const* shape = nullptr;
    bool required = false;
    bool is_const =
        false;  ///< a required string const: the generated parser compares it (read_const)
};

struct node
{
    node_kind kind = node_kind::any;
    // string
    std::size_t min_length = 0;
    std::size_t max_length = std::numeric_limits<std::size_t>::max();
    bool date_time = false;
    std::optional<compiled_pattern> pattern;
    // integer, number
    ::jobwatch::detail::number_rules numbers;
    // values, enumeration
    json::array values;
    std::vector<std::string> strings;
    std::string message;
    // array, map, nullable
    node const* item = nullptr;
    std::size_t min_items = 0;
    std::size_t max_items = std::numeric_limits<std::size_t>::max();
    // object
    std::vector<field_def> fields;
    std::map<std::string, std::size_t, std::less<>> field_index;
    bool forbid_additional = false;
    node const* additional = nullptr;  ///< a schema for the other members; null accepts them all
    // type_union
    std::vector<node const*> alternatives;
    std::string expected;
    // tagged
    std::string discriminator;
    std::vector<std::pair<std::string, node const*>> tags;
};

struct graph
{
    std::vector<std::unique_ptr<node>> nodes;
    node const* root = nullptr;
    limits lim;
};

/** @brief The pointer of the first array or object nested deeper than `max`.

    Iterative, so that a hostile document cannot exhaust the stack here
    either; depth counts as Boost.JSON's `parse_options::max_depth` does
    (`[]` is at depth 1).
*/
inline std::optional<std::string> too_deep(json::value const& root, std::size_t max)
{
    struct frame
    {
        json::value const* v;
        std::size_t next;
    };
    if (!root.is_array() && !root.is_object())
        return std::nullopt;
    if (max == 0)
        return std::string{};
    std::vector<frame> stack{{&root, 0}};
    while (!stack.empty()) {
        auto& f = stack.back();
        json::value const* child = nullptr;
        if (auto const* a = f.v->if_array()) {
            if (f.next < a->size())
                child = &(*a)[f.next];
        } else {
            auto const& o = f.v->get_object();
            if (f.next < o.size())
                child = &(o.begin() + static_cast<std::ptrdiff_t>(f.next))->value();
        }
        if (!child) {
            stack.pop_back();
            continue;
        }
        ++f.next;
        if (!child->is_array() && !child->is_object())
            continue;
        if (stack.size() + 1 > max) {
            std::string path;
            for (auto const& s : stack) {
                path += '/';
                if (s.v->is_array())
                    path += std::to_string(s.next - 1);
                else
                    path += pointer_token(
                        (s.v->get_object().begin() + static_cast<std::ptrdiff_t>(s.next - 1))
                            ->key());
            }
            return path;
        }
        stack.push_back({child, 0});
    }
    return std::nullopt;
}

/// A refusal on its way out of `compiler`; `compile` turns it into a `schema::error`.
struct compile_failure
{
    std::string pointer;
    std::string message;
};

/** @brief Turns a schema document into nodes, refusing what the generator refuses.

    A refusal unwinds with `compile_failure`, caught in `compile()` and
    never seen outside: the compiler has some forty refusal sites, each one
    line as in model.py, and none of them is an expected outcome of a
    well-formed schema.
*/
class compiler
{
public:
    compiler(json::value const& doc, limits const& lim, graph& g) : doc_(doc), lim_(lim), g_(g) {}

    node const* build()
    {
        auto const* root = doc_.if_object();
        if (!root)
            fail("", "the root of a schema file must be an object");
        if (auto const* sch = root->if_contains("$schema");
            sch && !(sch->is_string() &&
                     sch->get_string() == "https://json-schema.org/draft/2020-12/schema"))
            fail("/$schema", "only draft 2020-12 is supported");
        node const* top = decl_for("", 0);
        if (auto const* defs = root->if_contains("$defs")) {
            if (!defs->is_object())
                fail("/$defs", "$defs must be an object");
            // Every entry is checked, used or not, as the generator checks them.
            for (auto const& kv : defs->get_object())
                decl_for("/$defs/" + pointer_token(kv.key()), 0);
        }
        return top;
    }

private:
    [[noreturn]] static void fail(std::string pointer, std::string message)
    {
        throw compile_failure{std::move(pointer), std::move(message)};
    }

    node* make(node_kind k)
    {
        g_.nodes.push_back(std::make_unique<node>());
        g_.nodes.back()->kind = k;
        return g_.nodes.back().get();
    }

    void check_depth(std::string const& pointer, std::size_t depth) const
    {
        if (depth > lim_.max_schema_depth)
            fail(pointer, "schemas nested deeper than " + std::to_string(lim_.max_schema_depth) +
                              " levels (each $ref followed counts as one)");
    }

    /// The schema at a root or `/$defs/<key>` pointer, or null.
    json::value const* node_at(std::string_view pointer) const
    {
        if (pointer.empty())
            return &doc_;
        constexpr std::string_view defs = "/$defs/";
        if (!pointer.starts_with(defs))
            return nullptr;
        std::string key;
        auto const token = pointer.substr(defs.size());
        for (std::size_t i = 0; i < token.size(); ++i) {
            if (token[i] == '~' && i + 1 < token.size() &&
                (token[i + 1] == '0' || token[i + 1] == '1')) {
                key += token[i + 1] == '0' ? '~' : '/';
                ++i;
            } else {
                key += token[i];
            }
        }
        auto const* d = doc_.as_object().if_contains("$defs");
        if (!d || !d->is_object())
            return nullptr;
        return d->get_object().if_contains(key);
    }

    static std::string percent_decode(std::string_view s)
    {
        auto const hex = [](char c) -> int {
            if (c >= '0' && c <= '9')
                return c - '0';
            if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
            if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
            return -1;
        };
        std::string out;
        for (std::size_t i = 0; i < s.size(); ++i) {
            if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
                out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
                i += 2;
            } else {
                out += s[i];
            }
        }
        return out;
    }

    /// The pointer a `$ref` names (model.py `locate`), within this document only.
    std::string locate(std::string const& pointer, json::value const& ref_value) const
    {
        auto const* ref_string = ref_value.if_string();
        if (!ref_string)
            fail(pointer + "/$ref", "$ref must be a string");
        std::string_view const ref{*ref_string};
        auto const hash = ref.find('#');
        auto const target = ref.substr(0, hash);
        auto const fragment =
            hash == std::string_view::npos ? std::string{} : percent_decode(ref.substr(hash + 1));
        if (!target.empty()) {
            // A reference to this document by its own $id is a reference within it.
            std::string_view id;
            if (auto const* v = doc_.as_object().if_contains("$id"); v && v->is_string())
                id = v->get_string();
            bool absolute =
                !target.empty() && std::isalpha(static_cast<unsigned char>(target.front()));
            std::size_t i = 1;
            while (absolute && i < target.size() &&
                   (std::isalnum(static_cast<unsigned char>(target[i])) || target[i] == '+' ||
                    target[i] == '.' || target[i] == '-'))
                ++i;
            absolute = absolute && i < target.size() && target[i] == ':';
            bool self = !id.empty() && target == id;
            if (!self && !absolute && id.find('/') != std::string_view::npos)
                self = std::string(id.substr(0, id.rfind('/') + 1)) + std::string(target) == id;
            if (!self)
                fail(pointer, "$ref " + py_repr(ref) +
                                  ": the referenced schema is not this document; "
                                  "only references within it (#/$defs/<name>, or its own $id) are "
                                  "supported at "
                                  "run time; move the referenced schema into $defs");
        }
        if (!fragment.empty() && (!std::string_view{fragment}.starts_with("/$defs/") ||
                                  std::count(fragment.begin(), fragment.end(), '/') != 2))
            fail(pointer, "$ref " + py_repr(ref) +
                              ": only references to top-level $defs entries or to whole "
                              "schema files are supported; move the referenced schema into $defs");
        if (!node_at(fragment))
            fail(pointer, "$ref " + py_repr(ref) + " does not resolve");
        return fragment;
    }

    /// The node of the schema at a root or `$defs` pointer, built once.
    node const* decl_for(std::string const& pointer, std::size_t depth)
    {
        if (auto it = decl_at_.find(pointer); it != decl_at_.end())
            return it->second;
        if (building_.contains(pointer))
            fail(pointer, "recursive types are not supported: a generated type cannot hold itself; "
                          "break the cycle with an array of ids or an untyped value ({})");
        building_.insert(pointer);
        node const* n = shape(pointer, *node_at(pointer), depth);
        building_.erase(pointer);
        decl_at_.emplace(pointer, n);
        return n;
    }

    static json::value const& true_schema()
    {
        static json::value const t(true);
        return t;
    }

    node const* shape(std::string const& pointer, json::value const& schema, std::size_t depth)
    {
        check_depth(pointer, depth);
        if (schema.is_bool()) {
            if (schema.get_bool())
                return make(node_kind::any);
            fail(pointer,
                 "the schema `false` accepts nothing, so it has no type; leave the property "
                 "out and set additionalProperties: false");
        }
        auto const* o = schema.if_object();
        if (!o)
            fail(pointer, "a schema must be an object or a boolean");
        for (auto const& kv : *o) {
            std::string_view const k = kv.key();
            if (auto why = refusal(k); !why.empty())
                fail(pointer + "/" + pointer_token(k),
                     "unsupported keyword " + py_repr(k) + ": " + std::string(why));
        }
        for (auto const& kv : *o) {
            std::string_view const k = kv.key();
            // The generator passes unknown keywords over; a schema loaded at run
            // time is refused instead, so that a typo (`maxLenght`) is not a
            // silently missing check. `x-` names are extensions.
            if (!in(annotations, k) && !in(assertions, k) && !k.starts_with("x-"))
                fail(pointer + "/" + pointer_token(k),
                     "unsupported keyword " + py_repr(k) +
                         ": jobwatch does not know it; check its spelling, "
                         "or name an extension x-...");
        }
        if (o->contains("$defs") && !pointer.empty())
            fail(pointer + "/$defs", "$defs is supported at the root of a schema file only; "
                                     "move the entries to the root's $defs");
        for (std::string_view k : {"title", "description"})
            if (auto const* v = o->if_contains(k); v && !v->is_string())
                fail(pointer + "/" + std::string(k), std::string(k) + " must be a string");
        std::set<std::string, std::less<>> asserts;
        for (auto const& kv : *o)
            if (in(assertions, kv.key()))
                asserts.emplace(kv.key());
        auto const* type = o->if_contains("type");
        bool const integer_type = type && type->is_string() && type->get_string() == "integer";
        if (o->contains("x-cpp-type") && !integer_type)
            fail(pointer + "/x-cpp-type", "x-cpp-type applies to schemas of type integer only");
        for (std::string_view k : {"minContains", "maxContains"}) {
            if (o->contains(k)) {
                // Without contains (refused), they assert nothing.
                asserts.erase(std::string(k));
                nonneg_int(pointer, *o, k);
            }
        }

        if (auto const* ref = o->if_contains("$ref")) {
            if (asserts.size() != 1) {
                std::string others;
                for (auto const& a : asserts)
                    if (a != "$ref")
                        others += (others.empty() ? "" : ", ") + a;
                fail(pointer,
                     "$ref cannot be combined with other assertions (" + others +
                         "); put them into the referenced schema, or into a new $defs entry");
            }
            return decl_for(locate(pointer, *ref), depth + 1);
        }

        for (std::string_view kw : {"oneOf", "anyOf"}) {
            if (o->contains(kw)) {
                bool other = false;
                for (auto const& a : asserts)
                    other = other || (a != kw && a != "type");
                if (other || (type && !(type->is_string() && type->get_string() == "object")))
                    fail(pointer,
                         std::string(kw) +
                             " cannot be combined with other assertions than type: object; "
                             "put them into each branch");
                return variant(pointer, *o, kw, depth);
            }
        }

        if (o->contains("enum") || o->contains("const"))
            return value_shape(pointer, *o, depth);

        if (!type) {
            if (!asserts.empty()) {
                std::string names;
                for (auto const& a : asserts)
                    names += (names.empty() ? "" : ", ") + a;
                fail(pointer,
                     "assertions other than $ref, oneOf, anyOf, enum and const need a type "
                     "(without one, " +
                         names +
                         " would apply only to values of its own type and let every other value "
                         "through); add \"type\"");
            }
            return make(node_kind::any);
        }

        auto const types = type_list(pointer, *o);
        bool const has_null = std::find(types.begin(), types.end(), "null") != types.end();
        std::vector<std::string> rest;
        for (auto const& t : types)
            if (t != "null")
                rest.push_back(t);
        if (rest.empty())
            rest.push_back("null");
        node const* inner = nullptr;
        if (rest.size() == 1) {
            inner = typed(pointer, *o, rest.front(), depth);
        } else {
            auto* u = make(node_kind::type_union);
            for (auto const& t : rest) {
                u->alternatives.push_back(typed(pointer, *o, t, depth));
                u->expected += (u->expected.empty() ? "" : " or ") + t;
            }
            inner = u;
        }
        if (!(has_null && types.size() > 1))
            return inner;
        auto* n = make(node_kind::nullable);
        n->item = inner;
        return n;
    }

    /// The `type` keyword as a list, with every other assertion checked to apply to one of them.
    std::vector<std::string> type_list(std::string const& pointer, json::object const& o) const
    {
        auto const& t = o.at("type");
        if (!t.is_string() && !t.is_array())
            fail(pointer + "/type", "unsupported type " + py_repr_value(t));
        std::vector<std::string> types;
        bool ok = true;
        if (t.is_string()) {
            types.emplace_back(t.get_string());
        } else {
            ok = !t.get_array().empty();
            for (auto const& x : t.get_array()) {
                if (!x.is_string()) {
                    ok = false;
                    break;
                }
                std::string s(x.get_string());
                ok = ok && std::find(types.begin(), types.end(), s) == types.end();
                types.push_back(std::move(s));
            }
        }
        if (!ok)
            fail(pointer + "/type",
                 "type must be a type name or a non-empty list of distinct type names");
        for (auto const& x : types)
            if (!in(json_types, x))
                fail(pointer + "/type", "unsupported type " + py_repr(x));
        bool const number = std::find(types.begin(), types.end(), "number") != types.end();
        if (number)
            std::erase(types, "integer");  // every integer is a number
        for (auto const& kv : o) {
            std::string_view const k = kv.key();
            if (!in(assertions, k) || k == "type" || k == "enum" || k == "const")
                continue;
            bool allowed = false;
            for (auto const& x : types)
                allowed = allowed || in(keywords_of_type(x), k);
            if (!allowed)
                fail(pointer + "/" + std::string(k),
                     py_repr(k) + " does not apply to type " + py_repr_value(t) +
                         ": it would be ignored; remove it, or add the type it is "
                         "meant for");
        }
        return types;
    }

    std::optional<std::size_t> nonneg_int(std::string const& pointer, json::object const& o,
                                          std::string_view key) const
    {
        auto const* v = o.if_contains(key);
        if (!v)
            return std::nullopt;
        bool const integral = v->is_int64() || v->is_uint64() ||
                              (v->is_double() && std::isfinite(v->get_double()) &&
                               v->get_double() == std::floor(v->get_double()));
        double const d = v->is_double() ? v->get_double() : 0;
        if (!integral || (v->is_int64() && v->get_int64() < 0) || d < 0)
            fail(pointer + "/" + std::string(key),
                 std::string(key) + " must be a non-negative integer");
        // Beyond any size a document can have: no bound.
        if (v->is_int64())
            return static_cast<std::size_t>(v->get_int64());
        if (v->is_uint64())
            return v->get_uint64() < (std::uint64_t{1} << 63)
                       ? std::optional<std::size_t>(v->get_uint64())
                       : std::nullopt;
        return d < 9223372036854775808.0 ? std::optional<std::size_t>(static_cast<std::size_t>(d))
                                         : std::nullopt;
    }

    std::optional<double> finite_number(std::string const& pointer, json::object const& o,
                                        std::string_view key) const
    {
        auto const* v = o.if_contains(key);
        if (!v)
            return std::nullopt;
        if (!v->is_number() || (v->is_double() && !std::isfinite(v->get_double())))
            fail(pointer + "/" + std::string(key),
                 std::string(key) + " must be a finite number within the range of a double");
        return v->to_number<double>();
    }

    node const* typed(std::string const& pointer, json::object const& o, std::string const& t,
                      std::size_t depth)
    {
        if (t == "string") {
            auto* n = make(node_kind::string);
            n->min_length = nonneg_int(pointer, o, "minLength").value_or(0);
            n->max_length = nonneg_int(pointer, o, "maxLength")
                                .value_or(std::numeric_limits<std::size_t>::max());
            if (auto const* fmt = o.if_contains("format")) {
                if (!fmt->is_string())
                    fail(pointer + "/format", "format must be a string");
                // Other formats are annotations, as 2020-12's default format-annotation vocabulary
                // says.
                n->date_time = fmt->get_string() == "date-time";
            }
            if (auto const* pat = o.if_contains("pattern")) {
                if (!pat->is_string())
                    fail(pointer + "/pattern", "pattern must be a string");
                n->pattern = compile_pattern(pointer, pat->get_string());
            }
            return n;
        }
        if (t == "integer" || t == "number") {
            auto* n = make(t == "integer" ? node_kind::integer : node_kind::number);
            n->numbers.minimum = finite_number(pointer, o, "minimum");
            n->numbers.maximum = finite_number(pointer, o, "maximum");
            n->numbers.exclusive_minimum = finite_number(pointer, o, "exclusiveMinimum");
            n->numbers.exclusive_maximum = finite_number(pointer, o, "exclusiveMaximum");
            n->numbers.multiple_of = finite_number(pointer, o, "multipleOf");
            if (n->numbers.multiple_of) {
                if (*n->numbers.multiple_of <= 0)
                    fail(pointer + "/multipleOf", "multipleOf must be greater than 0");
                // Written as an integer (`2`, not `2.0`): a remainder decides, as in Python.
                n->numbers.multiple_of_integer = !o.at("multipleOf").is_double();
            }
            if (auto const* hint = o.if_contains("x-cpp-type")) {
                bool const known = hint->is_string() && (hint->get_string() == "milliseconds" ||
                                                         hint->get_string() == "size");
                if (t != "integer" || !known)
                    fail(pointer + "/x-cpp-type",
                         "x-cpp-type must be \"milliseconds\" or \"size\", "
                         "on a schema of type integer");
                auto const& r = n->numbers;
                if (hint->get_string() == "size" &&
                    !((r.minimum && *r.minimum >= 0) ||
                      (r.exclusive_minimum && *r.exclusive_minimum >= -1)))
                    fail(pointer + "/x-cpp-type",
                         "x-cpp-type size needs minimum >= 0 (a std::size_t "
                         "cannot hold a negative value)");
            }
            return n;
        }
        if (t == "boolean")
            return make(node_kind::boolean);
        if (t == "null")
            return make(node_kind::null);
        if (t == "array") {
            auto const* items = o.if_contains("items");
            node const* item = shape(pointer + "/items", items ? *items : true_schema(), depth + 1);
            auto* n = make(node_kind::array);
            n->item = item;
            n->min_items = nonneg_int(pointer, o, "minItems").value_or(0);
            n->max_items = nonneg_int(pointer, o, "maxItems")
                               .value_or(std::numeric_limits<std::size_t>::max());
            return n;
        }
        // object
        auto const* props = o.if_contains("properties");
        auto const* addl = o.if_contains("additionalProperties");
        bool const addl_false = addl && addl->is_bool() && !addl->get_bool();
        bool const addl_any = !addl || (addl->is_bool() && addl->get_bool()) ||
                              (addl->is_object() && addl->get_object().empty());
        if (!props && !o.contains("required") && !addl_false) {
            if (addl_any)
                return make(node_kind::any_object);
            node const* item = shape(pointer + "/additionalProperties", *addl, depth + 1);
            auto* n = make(node_kind::map);
            n->item = item;
            return n;
        }
        return structure(pointer, o, depth);
    }

    compiled_pattern compile_pattern(std::string const& pointer, std::string_view text) const
    {
        auto p = compiled_pattern::compile(text);
        if (auto const* e = std::get_if<regex_error>(&p))
            fail(pointer + "/pattern",
                 "pattern is not an ECMA-262 regular expression that jobwatch can check: " +
                     e->message);
        return std::get<compiled_pattern>(std::move(p));
    }

    node const* structure(std::string const& pointer, json::object const& o, std::size_t depth)
    {
        static json::object const no_properties;
        auto const* props_value = o.if_contains("properties");
        if (props_value && !props_value->is_object())
            fail(pointer + "/properties", "properties must be an object");
        auto const& props = props_value ? props_value->get_object() : no_properties;
        std::vector<std::string> required;
        if (auto const* r = o.if_contains("required")) {
            bool ok = r->is_array();
            if (ok)
                for (auto const& x : r->get_array()) {
                    ok = ok && x.is_string();
                    if (ok)
                        required.emplace_back(x.get_string());
                }
            if (!ok)
                fail(pointer + "/required", "required must be an array of strings");
        }
        auto const* addl = o.if_contains("additionalProperties");
        json::value const& addl_schema = addl ? *addl : true_schema();
        bool const addl_false = addl_schema.is_bool() && !addl_schema.get_bool();
        // A required name without a schema in properties is checked by additionalProperties.
        std::vector<std::pair<std::string, json::value const*>> members;
        for (auto const& kv : props)
            members.emplace_back(std::string(kv.key()), &kv.value());
        for (auto const& r : required) {
            if (props.contains(r) || std::any_of(members.begin(), members.end(),
                                                 [&](auto const& m) { return m.first == r; }))
                continue;
            if (addl_false)
                fail(pointer + "/required", "required property " + py_repr(r) +
                                                " is not in properties and "
                                                "additionalProperties is false, so no object is "
                                                "valid; add it to properties");
            members.emplace_back(r, &addl_schema);
        }
        if (members.size() > 64)
            fail(pointer + "/properties", "at most 64 properties per object are supported; "
                                          "group some of them into nested objects");
        auto* n = make(node_kind::object);
        n->forbid_additional = addl_false;
        for (auto const& [name, schema] : members) {
            auto const ppointer = props.contains(name)
                                      ? pointer + "/properties/" + pointer_token(name)
                                      : pointer + "/additionalProperties";
            field_def f;
            f.name = name;
            f.shape = shape(ppointer, *schema, depth + 1);
            f.required = std::find(required.begin(), required.end(), name) != required.end();
            f.is_const = f.required && f.shape->kind == node_kind::values &&
                         f.shape->values.size() == 1 && f.shape->values.front().is_string();
            n->field_index.emplace(name, n->fields.size());
            n->fields.push_back(std::move(f));
        }
        bool const addl_any =
            addl_schema.is_bool() || (addl_schema.is_object() && addl_schema.get_object().empty());
        if (!addl_any)
            n->additional = shape(pointer + "/additionalProperties", addl_schema, depth + 1);
        return n;
    }

    /// `enum` or `const` (with whatever else the schema says): the values that satisfy every
    /// keyword.
    node const* value_shape(std::string const& pointer, json::object const& o, std::size_t depth)
    {
        bool const is_enum = o.contains("enum");
        std::string const source = is_enum ? "enum" : "const";
        json::array candidates;
        if (is_enum) {
            auto const& e = o.at("enum");
            if (!e.is_array() || e.get_array().empty())
                fail(pointer + "/enum", "enum must be a non-empty array");
            candidates = e.get_array();
        } else {
            candidates.push_back(o.at("const"));
        }
        json::value rest = o;
        rest.get_object().erase(source);
        if (o.contains("type"))
            type_list(pointer, o);
        json::array kept;
        for (auto const& v : candidates) {
            bool const seen = std::any_of(kept.begin(), kept.end(), [&](json::value const& k) {
                return ::jobwatch::detail::json_equal(v, k);
            });
            if (!seen && valid(pointer, rest, v, depth))
                kept.push_back(v);
        }
        if (kept.empty())
            fail(pointer + "/" + source, "no value of " + source +
                                             " satisfies the other keywords, so nothing "
                                             "is valid; fix the values or the keywords");
        std::vector<std::string> strings;
        bool has_null = false;
        for (auto const& v : kept) {
            if (v.is_string())
                strings.emplace_back(v.get_string());
            has_null = has_null || v.is_null();
        }
        if (is_enum && !strings.empty() && strings.size() + (has_null ? 1 : 0) == kept.size()) {
            // A generated enum class: a string, then one of the names.
            auto* e = make(node_kind::enumeration);
            e->message = "must be one of ";
            for (std::size_t i = 0; i < strings.size(); ++i)
                e->message += (i ? ", " : "") + py_json_string(strings[i]);
            e->strings = std::move(strings);
            if (!has_null)
                return e;
            auto* n = make(node_kind::nullable);
            n->item = e;
            return n;
        }
        auto* n = make(node_kind::values);
        if (kept.size() == 1) {
            n->message = "must be " + py_json(kept.front());
        } else {
            n->message = "must be one of ";
            for (std::size_t i = 0; i < kept.size(); ++i)
                n->message += (i ? ", " : "") + py_json(kept[i]);
        }
        n->values = std::move(kept);
        return n;
    }

    /// JSON Schema's decision on the raw schema (model.py `valid`), used to keep
    /// the `enum` and `const` values that the other keywords allow.
    bool valid(std::string const& pointer, json::value const& schema, json::value const& value,
               std::size_t depth)
    {
        check_depth(pointer, depth);
        if (schema.is_bool())
            return schema.get_bool();
        auto const* o = schema.if_object();
        if (!o)
            return false;
        if (o->empty())
            return true;
        if (auto const* ref = o->if_contains("$ref"); ref && ref->is_string()) {
            auto const fragment = locate(pointer, *ref);
            if (!valid(pointer, *node_at(fragment), value, depth + 1))
                return false;
        }
        bool const integral = value.is_int64() || value.is_uint64() ||
                              (value.is_double() && std::isfinite(value.get_double()) &&
                               value.get_double() == std::floor(value.get_double()));
        std::string_view const kind = value.is_null()     ? "null"
                                      : value.is_bool()   ? "boolean"
                                      : value.is_number() ? (integral ? "integer" : "number")
                                      : value.is_string() ? "string"
                                      : value.is_array()  ? "array"
                                                          : "object";
        if (auto const* t = o->if_contains("type")) {
            auto const has = [&](std::string_view name) {
                if (t->is_string())
                    return t->get_string() == name;
                if (t->is_array())
                    for (auto const& x : t->get_array())
                        if (x.is_string() && x.get_string() == name)
                            return true;
                return false;
            };
            if (!(has(kind) || (kind == "integer" && has("number"))))
                return false;
        }
        if (auto const* e = o->if_contains("enum")) {
            if (!e->is_array() || std::none_of(e->get_array().begin(), e->get_array().end(),
                                               [&](json::value const& x) {
                                                   return ::jobwatch::detail::json_equal(value, x);
                                               }))
                return false;
        }
        if (auto const* c = o->if_contains("const");
            c && !::jobwatch::detail::json_equal(value, *c))
            return false;
        if (value.is_number()) {
            auto const x = value.is_int64()    ? static_cast<long double>(value.get_int64())
                           : value.is_uint64() ? static_cast<long double>(value.get_uint64())
                                               : static_cast<long double>(value.get_double());
            auto const bound = [&](std::string_view k) -> std::optional<long double> {
                auto const* b = o->if_contains(k);
                if (!b || !b->is_number())
                    return std::nullopt;
                return b->is_int64()    ? static_cast<long double>(b->get_int64())
                       : b->is_uint64() ? static_cast<long double>(b->get_uint64())
                                        : static_cast<long double>(b->get_double());
            };
            if (auto b = bound("minimum"); b && x < *b)
                return false;
            if (auto b = bound("maximum"); b && x > *b)
                return false;
            if (auto b = bound("exclusiveMinimum"); b && x <= *b)
                return false;
            if (auto b = bound("exclusiveMaximum"); b && x >= *b)
                return false;
            if (auto const* m = o->if_contains("multipleOf"); m && m->is_number()) {
                double const divisor = m->to_number<double>();
                bool const integer_divisor = !m->is_double();
                bool const ok =
                    value.is_int64() ? ::jobwatch::detail::is_multiple(value.get_int64(), divisor,
                                                                       integer_divisor)
                    : value.is_uint64() ? ::jobwatch::detail::is_multiple(value.get_uint64(),
                                                                          divisor, integer_divisor)
                                        : ::jobwatch::detail::is_multiple(value.get_double(),
                                                                          divisor, integer_divisor);
                if (!ok)
                    return false;
            }
        }
        auto const count = [&](std::string_view k) -> std::optional<long double> {
            auto const* b = o->if_contains(k);
            if (!b || !b->is_number())
                return std::nullopt;
            return static_cast<long double>(b->to_number<double>());
        };
        if (auto const* s = value.if_string()) {
            auto const n = static_cast<long double>(::jobwatch::detail::utf8_length(*s));
            if (auto b = count("minLength"); b && n < *b)
                return false;
            if (auto b = count("maxLength"); b && n > *b)
                return false;
            if (auto const* p = o->if_contains("pattern");
                p && p->is_string() && !compile_pattern(pointer, p->get_string()).search(*s))
                return false;
            if (auto const* f = o->if_contains("format");
                f && f->is_string() && f->get_string() == "date-time" &&
                !::jobwatch::detail::is_rfc3339_date_time(*s))
                return false;
        }
        if (auto const* a = value.if_array()) {
            auto const n = static_cast<long double>(a->size());
            if (auto b = count("minItems"); b && n < *b)
                return false;
            if (auto b = count("maxItems"); b && n > *b)
                return false;
            auto const* items = o->if_contains("items");
            for (auto const& x : *a)
                if (!valid(pointer, items ? *items : true_schema(), x, depth + 1))
                    return false;
        }
        if (auto const* obj = value.if_object()) {
            if (auto const* r = o->if_contains("required"); r && r->is_array())
                for (auto const& name : r->get_array())
                    if (name.is_string() && !obj->contains(name.get_string()))
                        return false;
            auto const* props = o->if_contains("properties");
            auto const* addl = o->if_contains("additionalProperties");
            for (auto const& kv : *obj) {
                json::value const* sub = props && props->is_object()
                                             ? props->get_object().if_contains(kv.key())
                                             : nullptr;
                if (!sub)
                    sub = addl ? addl : &true_schema();
                if (!valid(pointer, *sub, kv.value(), depth + 1))
                    return false;
            }
        }
        if (auto const* branches = o->if_contains("oneOf"); branches && branches->is_array()) {
            std::size_t matched = 0;
            for (auto const& b : branches->get_array())
                matched += valid(pointer, b, value, depth + 1) ? 1 : 0;
            if (matched != 1)
                return false;
        }
        if (auto const* branches = o->if_contains("anyOf"); branches && branches->is_array()) {
            bool any = false;
            for (auto const& b : branches->get_array())
                any = any || valid(pointer, b, value, depth + 1);
            if (!any)
                return false;
        }
        return true;
    }

    /// `oneOf`/`anyOf` of `$ref`s to objects tagged by a const property.
    node const* variant(std::string const& pointer, json::object const& o, std::string_view kw,
                        std::size_t depth)
    {
        std::string const kw_pointer = pointer + "/" + std::string(kw);
        auto const& branches = o.at(kw);
        if (!branches.is_array() || branches.get_array().empty())
            fail(kw_pointer, std::string(kw) + " must be a non-empty array");
        std::vector<node const*> decls;
        for (std::size_t i = 0; i < branches.get_array().size(); ++i) {
            auto const bp = kw_pointer + "/" + std::to_string(i);
            auto const* b = branches.get_array()[i].if_object();
            bool shape_ok = b && b->contains("$ref");
            if (shape_ok)
                for (auto const& kv : *b)
                    shape_ok = shape_ok && (kv.key() == "$ref" || in(annotations, kv.key()));
            if (!shape_ok)
                fail(bp, "each " + std::string(kw) +
                             " branch must be a $ref to an object type (a C++ variant needs "
                             "named alternatives); move the branch into $defs and refer to it");
            node const* d = decl_for(locate(bp, b->at("$ref")), depth + 1);
            if (d->kind != node_kind::object)
                fail(bp, "each " + std::string(kw) +
                             " branch must be an object type with a const discriminator");
            decls.push_back(d);
        }
        // The discriminator: a required const property present in every branch
        // with distinct values. Prefer `type`, then `kind`.
        auto const const_of = [](node const* d,
                                 std::string_view name) -> std::optional<std::string> {
            for (auto const& f : d->fields)
                if (f.name == name && f.is_const)
                    return std::string(f.shape->values.front().get_string());
            return std::nullopt;
        };
        std::vector<std::string> candidates;
        for (auto const& f : decls.front()->fields) {
            if (!f.is_const)
                continue;
            bool const everywhere = std::all_of(decls.begin(), decls.end(), [&](node const* d) {
                return const_of(d, f.name).has_value();
            });
            if (everywhere)
                candidates.push_back(f.name);
        }
        auto const rank = [](std::string const& c) {
            return std::tuple(c != "type" && c != "kind", c != "type", c);
        };
        std::sort(candidates.begin(), candidates.end(),
                  [&](std::string const& a, std::string const& b) { return rank(a) < rank(b); });
        auto* n = make(node_kind::tagged);
        for (auto const& c : candidates) {
            std::vector<std::pair<std::string, node const*>> tags;
            bool distinct = true;
            for (node const* d : decls) {
                auto tag = *const_of(d, c);
                distinct = distinct && std::none_of(tags.begin(), tags.end(),
                                                    [&](auto const& t) { return t.first == tag; });
                tags.emplace_back(std::move(tag), d);
            }
            if (distinct) {
                n->discriminator = c;
                n->tags = std::move(tags);
                break;
            }
        }
        if (n->discriminator.empty())
            fail(kw_pointer,
                 std::string(kw) +
                     " branches need a common required const property with a distinct "
                     "value in each (a discriminator such as \"type\"), so that the tag "
                     "decides which C++ alternative a document is");
        n->message = "must be one of ";
        for (std::size_t i = 0; i < n->tags.size(); ++i)
            n->message += (i ? ", " : "") + py_json_string(n->tags[i].first);
        return n;
    }

    json::value const& doc_;
    limits lim_;
    graph& g_;
    std::map<std::string, node const*> decl_at_;
    std::set<std::string> building_;
};

// ---------------------------------------------------------------------------
// Validation: the generated readers' order of checks, with their helpers.

using ::jobwatch::detail::read_context;

/// Which values a `type` list's alternative takes (codec_read.hpp `accepts_kind`).
inline bool accepts(node const& alt, json::value const& v) noexcept
{
    switch (alt.kind) {
    case node_kind::integer:
    case node_kind::number:
        return v.is_number();
    case node_kind::string:
        return v.is_string();
    case node_kind::boolean:
        return v.is_bool();
    case node_kind::null:
        return v.is_null();
    case node_kind::array:
        return v.is_array();
    default:
        return v.is_object();
    }
}

/// `check_string` of codec_read.hpp, with a pattern compiled at run time.
inline bool check_string(read_context& ctx, std::string_view s, node const& n)
{
    // Code points never exceed bytes, so the byte count settles the common case.
    bool const may_be_short = n.min_length > 0 && s.size() / 4 < n.min_length;
    bool const may_be_long = s.size() > n.max_length;
    if (may_be_short || may_be_long) {
        std::size_t const length = ::jobwatch::detail::utf8_length(s);
        if (length < n.min_length)
            return ctx.fail("must be at least " + std::to_string(n.min_length) + " characters");
        if (length > n.max_length)
            return ctx.fail("must be at most " + std::to_string(n.max_length) + " characters");
    }
    if (n.date_time && !::jobwatch::detail::is_rfc3339_date_time(s))
        return ctx.fail("must be an RFC 3339 date-time");
    // ECMA-262 `pattern` is unanchored: a match anywhere in the string counts.
    if (n.pattern && !n.pattern->search(s))
        return ctx.fail("must match pattern " + n.pattern->text());
    return true;
}

/** @brief Checks `v` against `n`; on failure the context holds the message
    and the path is built as the failure unwinds, as in the generated readers.

    Recursion follows the document, whose depth `validate` has bounded, and
    the compiled nodes, which hold no cycle.
*/
inline bool check(read_context& ctx, node const& n, json::value const& v)
{
    namespace cd = ::jobwatch::detail;
    switch (n.kind) {
    case node_kind::any:
        return true;
    case node_kind::string: {
        auto const* s = v.if_string();
        if (!s)
            return cd::type_error(ctx, v, "string");
        return check_string(ctx, std::string_view{s->data(), s->size()}, n);
    }
    case node_kind::integer: {
        std::int64_t x = 0;
        return cd::read_integer(ctx, v, x, n.numbers);
    }
    case node_kind::number: {
        double x = 0;
        return cd::read_number(ctx, v, x, n.numbers);
    }
    case node_kind::boolean: {
        bool x = false;
        return cd::read_boolean(ctx, v, x);
    }
    case node_kind::null: {
        std::nullptr_t x = nullptr;
        return cd::read_null(ctx, v, x);
    }
    case node_kind::any_object:
        return v.is_object() || cd::type_error(ctx, v, "object");
    case node_kind::map: {
        auto const* o = v.if_object();
        if (!o)
            return cd::type_error(ctx, v, "object");
        for (auto const& kv : *o)
            if (!check(ctx, *n.item, kv.value()))
                return ctx.at(std::string_view{kv.key().data(), kv.key().size()});
        return true;
    }
    case node_kind::object: {
        auto const* o = v.if_object();
        if (!o)
            return cd::type_error(ctx, v, "object");
        std::uint64_t seen = 0;
        for (auto const& kv : *o) {
            std::string_view const key{kv.key().data(), kv.key().size()};
            if (auto it = n.field_index.find(key); it != n.field_index.end()) {
                auto const& f = n.fields[it->second];
                bool const ok = f.is_const ? cd::read_const(ctx, kv.value(),
                                                            f.shape->values.front().get_string())
                                           : check(ctx, *f.shape, kv.value());
                if (!ok)
                    return ctx.at(key);
                if (f.required)
                    seen |= std::uint64_t{1} << it->second;
                continue;
            }
            if (n.forbid_additional)
                return ctx.fail_at(key, "unknown property");
            if (n.additional && !check(ctx, *n.additional, kv.value()))
                return ctx.at(key);
        }
        for (std::size_t i = 0; i < n.fields.size(); ++i)
            if (n.fields[i].required && !(seen & (std::uint64_t{1} << i)))
                return ctx.fail("missing required property " + py_json_string(n.fields[i].name));
        return true;
    }
    case node_kind::values:
        for (auto const& allowed : n.values)
            if (cd::json_equal(v, allowed))
                return true;
        return ctx.fail(n.message);
    case node_kind::enumeration: {
        auto const* s = v.if_string();
        if (!s)
            return cd::type_error(ctx, v, "string");
        std::string_view const text{s->data(), s->size()};
        if (std::find(n.strings.begin(), n.strings.end(), text) != n.strings.end())
            return true;
        return ctx.fail(n.message);
    }
    case node_kind::nullable:
        return v.is_null() || check(ctx, *n.item, v);
    case node_kind::type_union:
        for (node const* alt : n.alternatives)
            if (accepts(*alt, v))
                return check(ctx, *alt, v);
        return cd::type_error(ctx, v, n.expected.c_str());
    case node_kind::array: {
        auto const* a = v.if_array();
        if (!a)
            return cd::type_error(ctx, v, "array");
        if (a->size() < n.min_items)
            return ctx.fail("must have at least " + std::to_string(n.min_items) + " items");
        if (a->size() > n.max_items)
            return ctx.fail("must have at most " + std::to_string(n.max_items) + " items");
        for (std::size_t i = 0; i < a->size(); ++i)
            if (!check(ctx, *n.item, (*a)[i]))
                return ctx.at(i);
        return true;
    }
    case node_kind::tagged: {
        auto const* tag = cd::discriminator(ctx, v, n.discriminator);
        if (!tag)
            return false;
        std::string_view const t{tag->data(), tag->size()};
        for (auto const& [name, branch] : n.tags)
            if (name == t)
                return check(ctx, *branch, v);
        return ctx.fail_at(n.discriminator, n.message);
    }
    }
    return true;
}

}  // namespace detail

inline std::optional<error> validator::validate(boost::json::value const& instance) const
{
    auto const max = g_->lim.max_instance_depth;
    if (auto path = detail::too_deep(instance, max))
        return error{std::move(*path), "nested deeper than " + std::to_string(max) + " levels"};
    ::jobwatch::detail::read_context ctx;
    if (detail::check(ctx, *g_->root, instance))
        return std::nullopt;
    return error{ctx.pointer(), ctx.message()};
}

inline limits const& validator::get_limits() const noexcept
{
    return g_->lim;
}

inline result<validator> compile(boost::json::value const& schema, limits const& lim)
{
    if (auto path = detail::too_deep(schema, lim.max_schema_depth))
        return error{std::move(*path), "schema nested deeper than " +
                                           std::to_string(lim.max_schema_depth) + " levels"};
    auto g = std::make_shared<detail::graph>();
    g->lim = lim;
    try {
        detail::compiler c{schema, lim, *g};
        g->root = c.build();
    } catch (detail::compile_failure& f) {
        return error{std::move(f.pointer), std::move(f.message)};
    }
    return validator{std::move(g)};
}

}  // namespace jobwatch::schema

#endif
