#ifndef JOBWATCH_DETAIL_CODEC_READ_HPP
#define JOBWATCH_DETAIL_CODEC_READ_HPP

#include <jobwatch/detail/rfc3339.hpp>
#include <jobwatch/detail/utf8.hpp>

#include <boost/json/value.hpp>

#include <boost/json/parse.hpp>

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <locale>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace jobwatch::detail {

/** @brief State of one validating read: the error and where it happened.

    The path is built only on failure: each level that sees a child fail
    appends its own key or index on the way out, so a successful read costs
    nothing for paths.
*/
class read_context
{
public:
    /// Records the reason; the path is filled in as the failure unwinds.
    bool fail(std::string message)
    {
        message_ = std::move(message);
        return false;
    }
    /// Called by a parent whose member `key` failed.
    bool at(std::string_view key)
    {
        segments_.emplace_back(key);
        return false;
    }
    /// Called by a parent whose element `index` failed.
    bool at(std::size_t index)
    {
        segments_.emplace_back(std::to_string(index));
        return false;
    }
    /// Fails at member `key` with `message` (for a key that is itself wrong).
    bool fail_at(std::string_view key, std::string message)
    {
        fail(std::move(message));
        return at(key);
    }

    std::string const& message() const noexcept { return message_; }

    /// The JSON Pointer (RFC 6901) of the offending value.
    std::string pointer() const
    {
        std::string out;
        for (auto it = segments_.rbegin(); it != segments_.rend(); ++it) {
            out.push_back('/');
            for (char c : *it) {
                if (c == '~')
                    out += "~0";
                else if (c == '/')
                    out += "~1";
                else
                    out.push_back(c);
            }
        }
        return out;
    }

private:
    std::string message_;
    std::vector<std::string> segments_;
};

template<class T>
inline constexpr bool is_vector_v = false;
template<class T, class A>
inline constexpr bool is_vector_v<std::vector<T, A>> = true;

/// A string as JSON text, for messages (`must be "job.queued"`).
inline std::string json_text(std::string_view s)
{
    std::string out = "\"";
    for (char c : s) {
        auto const u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (u < 0x20) {
            static constexpr char hex[] = "0123456789abcdef";
            out += "\\u00";
            out += hex[u >> 4];
            out += hex[u & 0xF];
        } else {
            out += c;
        }
    }
    return out + '"';
}

/// Names a JSON kind for error messages.
inline char const* kind_name(boost::json::value const& v) noexcept
{
    switch (v.kind()) {
    case boost::json::kind::null: return "null";
    case boost::json::kind::bool_: return "boolean";
    case boost::json::kind::int64:
    case boost::json::kind::uint64: return "integer";
    case boost::json::kind::double_: return "number";
    case boost::json::kind::string: return "string";
    case boost::json::kind::array: return "array";
    case boost::json::kind::object: return "object";
    }
    return "value";
}

inline bool type_error(read_context& ctx, boost::json::value const& v, char const* expected)
{
    return ctx.fail(std::string("expected ") + expected + ", got " + kind_name(v));
}

/// Formats a bound for messages without trailing zeros.
inline std::string number_text(double d)
{
    char buf[32];
    auto const r = std::to_chars(buf, buf + sizeof buf, d);
    return std::string(buf, r.ptr);
}

/// Constraints on a number or integer (`minimum`, `exclusiveMaximum`, `multipleOf`, ...).
struct number_rules
{
    std::optional<double> minimum;
    std::optional<double> maximum;
    std::optional<double> exclusive_minimum;
    std::optional<double> exclusive_maximum;
    std::optional<double> multiple_of;
    /// `multipleOf` was written as an integer (`2`, not `2.0`): JSON Schema's
    /// reference implementation then takes a remainder instead of a quotient.
    bool multiple_of_integer = false;
};

/// `multipleOf` as python3-jsonschema decides it: a remainder for an
/// integer divisor, else whether the quotient is a whole number.
template<class Number>
bool is_multiple(Number x, double m, bool integer_divisor)
{
    if (integer_divisor) {
        if constexpr (std::is_integral_v<Number>) {
            if (std::abs(m) < 9223372036854775808.0)
                return x % static_cast<Number>(m) == 0;
        }
        return std::fmod(static_cast<double>(x), m) == 0;
    }
    double const q = static_cast<double>(x) / m;
    return std::isfinite(q) && q == std::trunc(q);
}

/// Checks `x` against the bounds; `x` must be exactly the value read.
template<class Number>
bool check_bounds(read_context& ctx, Number x, number_rules const& r)
{
    if (r.minimum && x < *r.minimum)
        return ctx.fail("must be >= " + number_text(*r.minimum));
    if (r.maximum && x > *r.maximum)
        return ctx.fail("must be <= " + number_text(*r.maximum));
    if (r.exclusive_minimum && x <= *r.exclusive_minimum)
        return ctx.fail("must be > " + number_text(*r.exclusive_minimum));
    if (r.exclusive_maximum && x >= *r.exclusive_maximum)
        return ctx.fail("must be < " + number_text(*r.exclusive_maximum));
    return true;
}

template<class Number>
bool check_number(read_context& ctx, Number x, number_rules const& r)
{
    if (!check_bounds(ctx, x, r))
        return false;
    if (r.multiple_of && !is_multiple(x, *r.multiple_of, r.multiple_of_integer))
        return ctx.fail("must be a multiple of " + number_text(*r.multiple_of));
    return true;
}

/** @brief Checks an integer against the bounds without rounding it.

    Integers up to 2^53 are exact as doubles, which covers every bound the
    schemas use; larger ones are compared in long double, which holds every
    int64 and uint64 exactly, so no value slips past a bound by rounding.
*/
template<class Integer>
bool check_integer_bounds(read_context& ctx, Integer x, number_rules const& r)
{
    constexpr Integer exact_limit = Integer{1} << 53;
    bool const in_bounds = x <= exact_limit && (std::is_unsigned_v<Integer> || x >= -exact_limit)
                               ? check_bounds(ctx, static_cast<double>(x), r)
                               : check_bounds(ctx, static_cast<long double>(x), r);
    if (!in_bounds)
        return false;
    if (r.multiple_of && !is_multiple(x, *r.multiple_of, r.multiple_of_integer))
        return ctx.fail("must be a multiple of " + number_text(*r.multiple_of));
    return true;
}

/** @brief Reads a JSON Schema `integer`: any number with no fractional part.

    `1.0` is an integer in JSON Schema; `1.5` is not. Values outside int64 are
    rejected because the C++ member cannot hold them.
*/
inline bool read_integer(read_context& ctx, boost::json::value const& v, std::int64_t& out,
                         number_rules const& r)
{
    switch (v.kind()) {
    case boost::json::kind::int64: out = v.get_int64(); break;
    case boost::json::kind::uint64:
        if (v.get_uint64() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
            return ctx.fail("integer out of range");
        out = static_cast<std::int64_t>(v.get_uint64());
        break;
    case boost::json::kind::double_: {
        double const d = v.get_double();
        if (!std::isfinite(d))
            return ctx.fail("number out of range");
        if (d != std::floor(d))
            return ctx.fail("expected integer, got number with a fraction");
        // 2^63 is exact as a double; anything at or past it does not fit.
        if (d < -9223372036854775808.0 || d >= 9223372036854775808.0)
            return ctx.fail("integer out of range");
        out = static_cast<std::int64_t>(d);
        break;
    }
    default: return type_error(ctx, v, "integer");
    }
    return check_integer_bounds(ctx, out, r);
}

/// Reads a JSON Schema `number` (integers are numbers too).
inline bool read_number(read_context& ctx, boost::json::value const& v, double& out,
                        number_rules const& r)
{
    switch (v.kind()) {
    case boost::json::kind::int64:
        out = static_cast<double>(v.get_int64());
        return check_integer_bounds(ctx, v.get_int64(), r);
    case boost::json::kind::uint64:
        out = static_cast<double>(v.get_uint64());
        return check_integer_bounds(ctx, v.get_uint64(), r);
    case boost::json::kind::double_:
        out = v.get_double();
        if (!std::isfinite(out))
            return ctx.fail("number out of range");
        return check_number(ctx, out, r);
    default: return type_error(ctx, v, "number");
    }
}

/// `x-cpp-type: size`: the schema's `minimum` keeps it non-negative.
inline bool read_integer(read_context& ctx, boost::json::value const& v, std::size_t& out,
                         number_rules const& r)
{
    std::int64_t x = 0;
    if (!read_integer(ctx, v, x, r))
        return false;
    if (x < 0)
        return ctx.fail("must be >= 0");
    out = static_cast<std::size_t>(x);
    return true;
}

/// `x-cpp-type: milliseconds`.
inline bool read_integer(read_context& ctx, boost::json::value const& v, std::chrono::milliseconds& out,
                         number_rules const& r)
{
    std::int64_t x = 0;
    if (!read_integer(ctx, v, x, r))
        return false;
    out = std::chrono::milliseconds{x};
    return true;
}

inline bool read_boolean(read_context& ctx, boost::json::value const& v, bool& out)
{
    if (!v.is_bool())
        return type_error(ctx, v, "boolean");
    out = v.get_bool();
    return true;
}

inline bool read_null(read_context& ctx, boost::json::value const& v, std::nullptr_t& out)
{
    if (!v.is_null())
        return type_error(ctx, v, "null");
    out = nullptr;
    return true;
}

/** @brief Compiles a pattern that jobwatch-codegen has rewritten for std::wregex.

    The generator translates the schema's ECMA-262 pattern so that every class
    (`.`, `\s`, `\d`, `\w`, `[...]`) is spelled as explicit code point ranges
    and nothing depends on a locale; the classic locale keeps `\b` to ASCII
    word characters, as ECMA-262 defines them. Matching runs over UTF-32 (see
    utf8_to_wide), so classes and `.` match code points, not bytes.
*/
inline std::wregex compile_pattern(std::string_view pattern)
{
    std::wregex re;
    re.imbue(std::locale::classic());
    re.assign(utf8_to_wide(pattern), std::regex::ECMAScript | std::regex::optimize);
    return re;
}

/// Matches `s` against an ECMA-262 regex without anchoring (JSON Schema `pattern`).
inline bool search_pattern(std::string_view s, std::wregex const& re)
{
    return std::regex_search(utf8_to_wide(s), re);
}

/** @brief A set of ASCII characters, for patterns of the form `^[class]{m,n}$`.

    The generator recognizes such patterns and checks them with this table
    rather than `std::regex`, which is an order of magnitude slower. The
    decision is the same: a byte outside ASCII is never in the set, and for
    ASCII text bytes and code points coincide.
*/
struct ascii_set
{
    bool in[128] = {};

    constexpr ascii_set(std::initializer_list<std::pair<int, int>> ranges) noexcept
    {
        for (auto [lo, hi] : ranges)
            for (int c = lo; c <= hi; ++c)
                in[c] = true;
    }
};

/// True when `s` is between `min` and `max` characters, all from `set`.
constexpr bool match_repeated(std::string_view s, ascii_set const& set, std::size_t min,
                              std::size_t max) noexcept
{
    if (s.size() < min || s.size() > max)
        return false;
    for (char c : s) {
        auto const u = static_cast<unsigned char>(c);
        if (u >= 128 || !set.in[u])
            return false;
    }
    return true;
}

/// Constraints on a string. `pattern` is a generated matcher, one per pattern.
struct string_rules
{
    std::size_t min_length = 0;
    std::size_t max_length = std::numeric_limits<std::size_t>::max();
    bool date_time = false;
    bool (*pattern)(std::string_view) = nullptr;
    char const* pattern_text = nullptr;
};

/** @brief Checks a string against its rules; lengths count code points. */
inline bool check_string(read_context& ctx, std::string_view s, string_rules const& r)
{
    // Code points never exceed bytes, so the byte count settles the common case
    // and the string is only scanned when it could be on the wrong side.
    bool const may_be_short = r.min_length > 0 && s.size() < 4 * r.min_length;
    bool const may_be_long = s.size() > r.max_length;
    if (may_be_short || may_be_long) {
        std::size_t const n = utf8_length(s);
        if (n < r.min_length)
            return ctx.fail("must be at least " + std::to_string(r.min_length) + " characters");
        if (n > r.max_length)
            return ctx.fail("must be at most " + std::to_string(r.max_length) + " characters");
    }
    if (r.date_time && !is_rfc3339_date_time(s))
        return ctx.fail("must be an RFC 3339 date-time");
    // ECMA-262 `pattern` is unanchored: a match anywhere in the string counts.
    if (r.pattern && !r.pattern(s))
        return ctx.fail(std::string("must match pattern ") + r.pattern_text);
    return true;
}

inline bool read_string(read_context& ctx, boost::json::value const& v, std::string& out,
                        string_rules const& r)
{
    auto const* s = v.if_string();
    if (!s)
        return type_error(ctx, v, "string");
    std::string_view const sv{s->data(), s->size()};
    if (!check_string(ctx, sv, r))
        return false;
    out.assign(sv);
    return true;
}

/// `true`/`{}` beside `type: object`: any object, kept as it is.
inline bool read_any_object(read_context& ctx, boost::json::value const& v, boost::json::object& out)
{
    auto const* o = v.if_object();
    if (!o)
        return type_error(ctx, v, "object");
    out = *o;
    return true;
}

/** @brief JSON equality as JSON Schema's `const` and `enum` mean it.

    Numbers compare by value (`1` equals `1.0`; an int64 and a uint64 of the
    same value are equal), a boolean never equals a number, objects compare as
    sets of members.
*/
inline bool json_equal(boost::json::value const& a, boost::json::value const& b)
{
    if (a.is_number() && b.is_number()) {
        if (a.is_double() || b.is_double()) {
            auto const as_double = [](boost::json::value const& v) {
                return v.is_double() ? v.get_double()
                       : v.is_int64() ? static_cast<double>(v.get_int64())
                                      : static_cast<double>(v.get_uint64());
            };
            auto const as_long_double = [](boost::json::value const& v) {
                return v.is_double() ? static_cast<long double>(v.get_double())
                       : v.is_int64() ? static_cast<long double>(v.get_int64())
                                      : static_cast<long double>(v.get_uint64());
            };
            // long double holds every int64 and uint64 exactly, so 2^53 + 1 != 2^53.
            return as_double(a) == as_double(b) && as_long_double(a) == as_long_double(b);
        }
        if (a.is_int64() && b.is_int64())
            return a.get_int64() == b.get_int64();
        if (a.is_uint64() && b.is_uint64())
            return a.get_uint64() == b.get_uint64();
        auto const& i = a.is_int64() ? a : b;
        auto const& u = a.is_int64() ? b : a;
        return i.get_int64() >= 0 && static_cast<std::uint64_t>(i.get_int64()) == u.get_uint64();
    }
    if (a.kind() != b.kind())
        return false;
    switch (a.kind()) {
    case boost::json::kind::array: {
        auto const& x = a.get_array();
        auto const& y = b.get_array();
        if (x.size() != y.size())
            return false;
        for (std::size_t i = 0; i < x.size(); ++i)
            if (!json_equal(x[i], y[i]))
                return false;
        return true;
    }
    case boost::json::kind::object: {
        auto const& x = a.get_object();
        auto const& y = b.get_object();
        if (x.size() != y.size())
            return false;
        for (auto const& kv : x) {
            auto const* other = y.if_contains(kv.key());
            if (!other || !json_equal(kv.value(), *other))
                return false;
        }
        return true;
    }
    default: return a == b;
    }
}

/// The allowed values of a `const` or `enum`, parsed once from their JSON text.
inline boost::json::array parse_values(std::string_view json)
{
    return boost::json::parse(boost::json::string_view{json.data(), json.size()}).as_array();
}

/** @brief A `const` or `enum` whose values are not all strings (or that is
    not a required string property): the value must equal one of `values`,
    and is then stored in the member's type, which the generator chose so
    that every allowed value fits. */
template<class T>
bool read_values(read_context& ctx, boost::json::value const& v, T& out, boost::json::array const& values,
                 char const* message)
{
    bool found = false;
    for (auto const& allowed : values) {
        if (json_equal(v, allowed)) {
            found = true;
            break;
        }
    }
    if (!found)
        return ctx.fail(message);
    if constexpr (std::is_same_v<T, std::string>)
        out.assign(v.get_string().data(), v.get_string().size());
    else if constexpr (std::is_same_v<T, bool>)
        out = v.get_bool();
    else if constexpr (std::is_same_v<T, std::nullptr_t>)
        out = nullptr;
    else if constexpr (std::is_same_v<T, std::int64_t>)
        return read_integer(ctx, v, out, {});
    else if constexpr (std::is_same_v<T, double>)
        return read_number(ctx, v, out, {});
    else
        out = v;
    return true;
}

/// A required `const` string, such as a union's `type` tag.
inline bool read_const(read_context& ctx, boost::json::value const& v, std::string_view expected)
{
    auto const* s = v.if_string();
    if (!s || std::string_view{s->data(), s->size()} != expected)
        return ctx.fail("must be " + json_text(expected));
    return true;
}

/// `true`/`{}` in a schema: any JSON value, kept as it is.
inline bool read_any(read_context&, boost::json::value const& v, boost::json::value& out)
{
    out = v;
    return true;
}

/// Constraints on an array (`minItems`, `maxItems`).
struct array_rules
{
    std::size_t min_items = 0;
    std::size_t max_items = std::numeric_limits<std::size_t>::max();
};

template<class T, class ReadItem>
bool read_array(read_context& ctx, boost::json::value const& v, std::vector<T>& out,
                array_rules const& r, ReadItem&& read_item)
{
    auto const* a = v.if_array();
    if (!a)
        return type_error(ctx, v, "array");
    if (a->size() < r.min_items)
        return ctx.fail("must have at least " + std::to_string(r.min_items) + " items");
    if (a->size() > r.max_items)
        return ctx.fail("must have at most " + std::to_string(r.max_items) + " items");
    out.clear();
    out.reserve(a->size());
    for (std::size_t i = 0; i < a->size(); ++i) {
        if constexpr (std::is_same_v<T, bool>) {
            // std::vector<bool> hands out proxies, not bool&.
            bool item = false;
            if (!read_item(ctx, (*a)[i], item))
                return ctx.at(i);
            out.push_back(item);
        } else if (!read_item(ctx, (*a)[i], out.emplace_back())) {
            return ctx.at(i);
        }
    }
    return true;
}

/// An object with no `properties` and a schema for `additionalProperties`.
template<class T, class ReadItem>
bool read_map(read_context& ctx, boost::json::value const& v, std::map<std::string, T>& out,
              ReadItem&& read_item)
{
    auto const* o = v.if_object();
    if (!o)
        return type_error(ctx, v, "object");
    out.clear();
    for (auto const& kv : *o) {
        std::string_view const key{kv.key().data(), kv.key().size()};
        if (!read_item(ctx, kv.value(), out[std::string(key)]))
            return ctx.at(key);
    }
    return true;
}

/// `[T, "null"]`: null becomes `std::nullopt`.
template<class T, class ReadItem>
bool read_nullable(read_context& ctx, boost::json::value const& v, std::optional<T>& out,
                   ReadItem&& read_item)
{
    if (v.is_null()) {
        out.reset();
        return true;
    }
    return read_item(ctx, v, out.emplace());
}

/// The wire text of an enumerator, from the generated table.
template<class E, std::size_t N>
constexpr std::string_view enum_to_string(std::pair<std::string_view, E> const (&table)[N], E v) noexcept
{
    for (auto const& [name, value] : table)
        if (value == v)
            return name;
    return {};
}

/// The enumerator of a wire text, from the generated table.
template<class E, std::size_t N>
constexpr bool enum_from_string(std::pair<std::string_view, E> const (&table)[N], std::string_view s,
                                E& out) noexcept
{
    for (auto const& [name, value] : table) {
        if (name == s) {
            out = value;
            return true;
        }
    }
    return false;
}

/// Looks a string enum value up in a generated table.
template<class E, std::size_t N>
bool read_enum(read_context& ctx, boost::json::value const& v, E& out,
               std::pair<std::string_view, E> const (&table)[N], char const* message)
{
    auto const* s = v.if_string();
    if (!s)
        return type_error(ctx, v, "string");
    if (enum_from_string(table, std::string_view{s->data(), s->size()}, out))
        return true;
    return ctx.fail(message);
}

/// Which JSON values go to an alternative of a `type` list's variant.
template<class T>
bool accepts_kind(boost::json::value const& v) noexcept
{
    if constexpr (std::is_same_v<T, std::int64_t> || std::is_same_v<T, double> ||
                  std::is_same_v<T, std::size_t> || std::is_same_v<T, std::chrono::milliseconds>)
        return v.is_number();
    else if constexpr (std::is_same_v<T, std::string>)
        return v.is_string();
    else if constexpr (std::is_same_v<T, bool>)
        return v.is_bool();
    else if constexpr (std::is_same_v<T, std::nullptr_t>)
        return v.is_null();
    else if constexpr (is_vector_v<T>)
        return v.is_array();
    else
        return v.is_object();
}

/** @brief `type: [A, B, ...]`: the JSON kind of the value picks the
    alternative (the generator merges `integer` into `number`, so no two
    alternatives take the same kind), whose reader then checks the rules. */
template<class... T, class... ReadItem>
bool read_union(read_context& ctx, boost::json::value const& v, std::variant<T...>& out, char const* expected,
                ReadItem&&... read_item)
{
    static_assert(sizeof...(T) == sizeof...(ReadItem));
    auto readers = std::forward_as_tuple(read_item...);
    bool matched = false;
    bool ok = false;
    [&]<std::size_t... I>(std::index_sequence<I...>) {
        ((!matched && accepts_kind<T>(v)
              ? (matched = true, ok = std::get<I>(readers)(ctx, v, out.template emplace<I>()), 0)
              : 0),
         ...);
    }(std::index_sequence_for<T...>{});
    return matched ? ok : type_error(ctx, v, expected);
}

/// Finds a union's discriminator; fails at the object when absent.
inline boost::json::string const* discriminator(read_context& ctx, boost::json::value const& v,
                                                std::string_view key)
{
    auto const* o = v.if_object();
    if (!o) {
        type_error(ctx, v, "object");
        return nullptr;
    }
    auto const* tag = o->if_contains(boost::json::string_view{key.data(), key.size()});
    if (!tag) {
        ctx.fail("missing required property \"" + std::string(key) + "\"");
        return nullptr;
    }
    auto const* s = tag->if_string();
    if (!s) {
        type_error(ctx, *tag, "string");
        ctx.at(key);
    }
    return s;
}

}  // namespace jobwatch::detail

#endif
