#ifndef JOBWATCH_DETAIL_CODEC_READ_HPP
#define JOBWATCH_DETAIL_CODEC_READ_HPP

#include <jobwatch/detail/rfc3339.hpp>
#include <jobwatch/detail/utf8.hpp>

#include <boost/json/value.hpp>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <type_traits>
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

/// Constraints on a number or integer (`minimum`, `exclusiveMaximum`, ...).
struct number_rules
{
    std::optional<double> minimum;
    std::optional<double> maximum;
    std::optional<double> exclusive_minimum;
    std::optional<double> exclusive_maximum;
};

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

/** @brief Checks an integer against the bounds without rounding it.

    Integers up to 2^53 are exact as doubles, which covers every bound the
    schemas use; larger ones are compared in long double, which holds every
    int64 and uint64 exactly, so no value slips past a bound by rounding.
*/
template<class Integer>
bool check_integer_bounds(read_context& ctx, Integer x, number_rules const& r)
{
    constexpr Integer exact_limit = Integer{1} << 53;
    if (x <= exact_limit && (std::is_unsigned_v<Integer> || x >= -exact_limit))
        return check_bounds(ctx, static_cast<double>(x), r);
    return check_bounds(ctx, static_cast<long double>(x), r);
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
        return check_bounds(ctx, out, r);
    default: return type_error(ctx, v, "number");
    }
}

inline bool read_boolean(read_context& ctx, boost::json::value const& v, bool& out)
{
    if (!v.is_bool())
        return type_error(ctx, v, "boolean");
    out = v.get_bool();
    return true;
}

/// Compiles an ECMA-262 pattern for code-point matching (see utf8_to_wide).
inline std::wregex compile_pattern(std::string_view pattern)
{
    return std::wregex(utf8_to_wide(pattern), std::regex::ECMAScript | std::regex::optimize);
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

/// A required `const` string, such as a union's `type` tag.
inline bool read_const(read_context& ctx, boost::json::value const& v, std::string_view expected)
{
    auto const* s = v.if_string();
    if (!s || std::string_view{s->data(), s->size()} != expected)
        return ctx.fail("must be \"" + std::string(expected) + "\"");
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
        if (!read_item(ctx, (*a)[i], out.emplace_back()))
            return ctx.at(i);
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

/// Looks a string enum value up in a generated table.
template<class E, std::size_t N>
bool read_enum(read_context& ctx, boost::json::value const& v, E& out,
               std::pair<std::string_view, E> const (&table)[N], char const* expected)
{
    auto const* s = v.if_string();
    if (!s)
        return type_error(ctx, v, "string");
    std::string_view const sv{s->data(), s->size()};
    for (auto const& [name, value] : table) {
        if (name == sv) {
            out = value;
            return true;
        }
    }
    return ctx.fail("must be one of " + std::string(expected));
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
