#ifndef JOBWATCH_DETAIL_JSON_PULL_HPP
#define JOBWATCH_DETAIL_JSON_PULL_HPP

#include <jobwatch/detail/codec_read.hpp>

#include <boost/json/value.hpp>

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

namespace jobwatch::detail {

/** @brief Reads JSON text token by token, straight into generated types.

    `parse<T>` first tries this fast path, which builds no `json::value`: the
    generated `jobwatch_pull` functions read each member from the text and
    check it with the same rules as `jobwatch_read`. Every function returns
    false when the document is not one the fast path is sure about: a schema
    violation, invalid JSON, and also anything unusual (a discriminator that
    is not the first member, a number with a long exponent, nesting past the
    limit, an escaped lone surrogate, a `const` of a non-string). `parse<T>`
    then decides with the DOM path (`parse_json` and `jobwatch_read`), which
    also words the error. So the fast path only has to be right when it says
    yes: it accepts a document only if the DOM path accepts it with the same
    value (duplicate keys overwrite, so the last one wins there too).
*/
class pull_reader
{
public:
    pull_reader(std::string_view text, std::size_t max_depth) noexcept
        : p_(text.data()), end_(text.data() + text.size()), max_depth_(max_depth)
    {}

    /// Where the reader is, to come back to (a union peeks at its tag).
    struct position
    {
        char const* p;
        std::size_t depth;
        bool first;
    };
    position mark() const noexcept { return {p_, depth_, first_}; }
    void reset(position const& at) noexcept
    {
        p_ = at.p;
        depth_ = at.depth;
        first_ = at.first;
    }

    /// The first character of the next value, after whitespace ('\0' at the end).
    char peek() noexcept
    {
        skip_ws();
        return p_ < end_ ? *p_ : '\0';
    }

    /// Only whitespace is left.
    bool finish() noexcept { return peek() == '\0' && p_ == end_; }

    bool begin_object() noexcept { return open('{'); }
    bool begin_array() noexcept { return open('['); }

    /** @brief The next key of the object (`done` at its end). */
    bool next_key(std::string_view& key, bool& done)
    {
        if (!next(done, '}'))
            return false;
        if (done)
            return true;
        if (peek() != '"' || !string(key))
            return false;
        if (peek() != ':')
            return false;
        ++p_;
        return true;
    }

    /** @brief Whether another array element follows (`done` at the end). */
    bool next_item(bool& done) { return next(done, ']'); }

    /// A string value, unescaped; valid only until the next string is read.
    bool string(std::string_view& out)
    {
        if (peek() != '"')
            return false;
        ++p_;
        char const* start = p_;
        // The common case: no escapes, so the text itself is the value.
        while (p_ < end_) {
            auto const c = static_cast<unsigned char>(*p_);
            if (c == '"') {
                out = std::string_view(start, static_cast<std::size_t>(p_ - start));
                ++p_;
                return true;
            }
            if (c == '\\')
                break;
            if (c < 0x20)
                return false;
            if (c < 0x80) {
                ++p_;
                continue;
            }
            if (!utf8_sequence())
                return false;
        }
        scratch_.assign(start, p_);
        while (p_ < end_) {
            auto const c = static_cast<unsigned char>(*p_);
            if (c == '"') {
                ++p_;
                out = scratch_;
                return true;
            }
            if (c < 0x20)
                return false;
            if (c == '\\') {
                if (!escape())
                    return false;
                continue;
            }
            char const* s = p_;
            if (c < 0x80)
                ++p_;
            else if (!utf8_sequence())
                return false;
            scratch_.append(s, p_);
        }
        return false;
    }

    /// `true` or `false`.
    bool boolean(bool& out) noexcept
    {
        if (literal("true")) {
            out = true;
            return true;
        }
        if (literal("false")) {
            out = false;
            return true;
        }
        return false;
    }

    bool null() noexcept { return literal("null"); }

    /** @brief A number: `integral` when written as a plain integer of up to
        18 digits (then `i` holds it exactly), else `d` holds the correctly
        rounded double. Long exponents and long integers are left to the DOM
        path, which knows Boost.JSON's limits. */
    bool number(bool& integral, std::int64_t& i, double& d) noexcept
    {
        skip_ws();
        char const* start = p_;
        if (p_ < end_ && *p_ == '-')
            ++p_;
        char const* digits = p_;
        if (p_ >= end_ || *p_ < '0' || *p_ > '9')
            return false;
        if (*p_ == '0')
            ++p_;
        else
            while (p_ < end_ && *p_ >= '0' && *p_ <= '9')
                ++p_;
        std::size_t const int_digits = static_cast<std::size_t>(p_ - digits);
        bool plain = true;
        if (p_ < end_ && *p_ == '.') {
            plain = false;
            ++p_;
            char const* frac = p_;
            while (p_ < end_ && *p_ >= '0' && *p_ <= '9')
                ++p_;
            if (p_ == frac)
                return false;
        }
        if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
            plain = false;
            ++p_;
            if (p_ < end_ && (*p_ == '+' || *p_ == '-'))
                ++p_;
            char const* exp = p_;
            while (p_ < end_ && *p_ >= '0' && *p_ <= '9')
                ++p_;
            if (p_ == exp || p_ - exp > 3)
                return false;
        }
        if (plain) {
            // "-0" is left to the DOM path, which decides its kind.
            if (int_digits > 18 || (start[0] == '-' && int_digits == 1 && digits[0] == '0'))
                return false;
            auto const r = std::from_chars(start, p_, i);
            integral = true;
            return r.ec == std::errc{};
        }
        if (p_ - start > 64)
            return false;
        auto const r = std::from_chars(start, p_, d);
        integral = false;
        return r.ec == std::errc{} && std::isfinite(d);
    }

    /// Skips one value of any kind, checking its syntax.
    bool skip()
    {
        std::optional<boost::json::value> ignored;
        return value(ignored);
    }

    /// Any value, built as a json::value (`out` is left empty when only skipping).
    bool value(std::optional<boost::json::value>& out)
    {
        switch (peek()) {
        case '{': {
            if (!begin_object())
                return false;
            boost::json::object o;
            for (;;) {
                std::string_view key;
                bool done = false;
                if (!next_key(key, done))
                    return false;
                if (done)
                    break;
                std::string const k(key);
                std::optional<boost::json::value> v;
                if (!value(v))
                    return false;
                // Duplicate keys: the last one wins, as in the DOM path.
                o[boost::json::string_view(k.data(), k.size())] = std::move(*v);
            }
            out.emplace(std::move(o));
            return true;
        }
        case '[': {
            if (!begin_array())
                return false;
            boost::json::array a;
            for (;;) {
                bool done = false;
                if (!next_item(done))
                    return false;
                if (done)
                    break;
                std::optional<boost::json::value> v;
                if (!value(v))
                    return false;
                a.push_back(std::move(*v));
            }
            out.emplace(std::move(a));
            return true;
        }
        case '"': {
            std::string_view s;
            if (!string(s))
                return false;
            out.emplace(boost::json::string_view(s.data(), s.size()));
            return true;
        }
        case 't':
        case 'f': {
            bool b = false;
            if (!boolean(b))
                return false;
            out.emplace(b);
            return true;
        }
        case 'n':
            if (!null())
                return false;
            out.emplace(nullptr);
            return true;
        default: {
            bool integral = false;
            std::int64_t i = 0;
            double d = 0;
            if (!number(integral, i, d))
                return false;
            if (integral)
                out.emplace(i);
            else
                out.emplace(d);
            return true;
        }
        }
    }

private:
    void skip_ws() noexcept
    {
        while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t'))
            ++p_;
    }

    bool open(char c) noexcept
    {
        if (peek() != c || depth_ >= max_depth_)
            return false;
        ++p_;
        ++depth_;
        first_ = true;
        return true;
    }

    bool next(bool& done, char close) noexcept
    {
        char const c = peek();
        if (c == close) {
            ++p_;
            --depth_;
            done = true;
            first_ = false;
            return true;
        }
        done = false;
        if (!first_) {
            if (c != ',')
                return false;
            ++p_;
            if (peek() == close)
                return false;  // a trailing comma
        }
        first_ = false;
        return true;
    }

    bool literal(std::string_view word) noexcept
    {
        skip_ws();
        if (static_cast<std::size_t>(end_ - p_) < word.size() || std::memcmp(p_, word.data(), word.size()) != 0)
            return false;
        p_ += word.size();
        return true;
    }

    /// One multi-byte UTF-8 sequence at p_, as strictly as RFC 3629 says.
    bool utf8_sequence() noexcept
    {
        auto const b0 = static_cast<unsigned char>(*p_);
        std::size_t n = 0;
        unsigned char lo = 0x80, hi = 0xBF;
        if (b0 >= 0xC2 && b0 <= 0xDF)
            n = 1;
        else if (b0 >= 0xE0 && b0 <= 0xEF) {
            n = 2;
            if (b0 == 0xE0)
                lo = 0xA0;
            else if (b0 == 0xED)
                hi = 0x9F;
        } else if (b0 >= 0xF0 && b0 <= 0xF4) {
            n = 3;
            if (b0 == 0xF0)
                lo = 0x90;
            else if (b0 == 0xF4)
                hi = 0x8F;
        } else
            return false;
        if (static_cast<std::size_t>(end_ - p_) <= n)
            return false;
        for (std::size_t k = 1; k <= n; ++k) {
            auto const b = static_cast<unsigned char>(p_[k]);
            if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF))
                return false;
        }
        p_ += n + 1;
        return true;
    }

    bool hex4(std::uint32_t& out) noexcept
    {
        if (end_ - p_ < 4)
            return false;
        out = 0;
        for (int k = 0; k < 4; ++k) {
            char const c = *p_++;
            out <<= 4;
            if (c >= '0' && c <= '9')
                out |= static_cast<std::uint32_t>(c - '0');
            else if (c >= 'a' && c <= 'f')
                out |= static_cast<std::uint32_t>(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F')
                out |= static_cast<std::uint32_t>(c - 'A' + 10);
            else
                return false;
        }
        return true;
    }

    /// One escape at p_ (the backslash), appended to scratch_ as UTF-8.
    bool escape()
    {
        if (end_ - p_ < 2)
            return false;
        char const e = p_[1];
        p_ += 2;
        switch (e) {
        case '"': scratch_.push_back('"'); return true;
        case '\\': scratch_.push_back('\\'); return true;
        case '/': scratch_.push_back('/'); return true;
        case 'b': scratch_.push_back('\b'); return true;
        case 'f': scratch_.push_back('\f'); return true;
        case 'n': scratch_.push_back('\n'); return true;
        case 'r': scratch_.push_back('\r'); return true;
        case 't': scratch_.push_back('\t'); return true;
        case 'u': break;
        default: return false;
        }
        std::uint32_t cp = 0;
        if (!hex4(cp))
            return false;
        if (cp >= 0xDC00 && cp <= 0xDFFF)
            return false;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            // Only a whole pair; a lone surrogate is the DOM path's to reject.
            std::uint32_t low = 0;
            if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u')
                return false;
            p_ += 2;
            if (!hex4(low) || low < 0xDC00 || low > 0xDFFF)
                return false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        }
        if (cp < 0x80) {
            scratch_.push_back(static_cast<char>(cp));
        } else if (cp < 0x800) {
            scratch_.push_back(static_cast<char>(0xC0 | (cp >> 6)));
            scratch_.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else if (cp < 0x10000) {
            scratch_.push_back(static_cast<char>(0xE0 | (cp >> 12)));
            scratch_.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
            scratch_.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else {
            scratch_.push_back(static_cast<char>(0xF0 | (cp >> 18)));
            scratch_.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
            scratch_.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
            scratch_.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        }
        return true;
    }

    char const* p_;
    char const* end_;
    std::size_t max_depth_;
    std::size_t depth_ = 0;
    bool first_ = false;
    std::string scratch_;
};

// ---------------------------------------------------------------------------
// Pull readers of the standard shapes. They check with the same functions as
// the DOM readers (a throwaway read_context: the message is never read).

inline bool pull_string(pull_reader& r, std::string& out, string_rules const& rules)
{
    std::string_view s;
    if (!r.string(s))
        return false;
    read_context ignored;
    if (!check_string(ignored, s, rules))
        return false;
    out.assign(s);
    return true;
}

inline bool pull_const(pull_reader& r, std::string_view expected)
{
    std::string_view s;
    return r.string(s) && s == expected;
}

/// Integers: JSON Schema's `integer` is any number without a fraction.
template<class Integer>
bool pull_integer(pull_reader& r, Integer& out, number_rules const& rules)
{
    bool integral = false;
    std::int64_t i = 0;
    double d = 0;
    if (!r.number(integral, i, d))
        return false;
    read_context ignored;
    if (!integral) {
        if (d != std::floor(d) || d < -9007199254740992.0 || d > 9007199254740992.0)
            return false;  // a fraction, or a size where the DOM path decides
        i = static_cast<std::int64_t>(d);
    }
    if (!check_integer_bounds(ignored, i, rules))
        return false;
    if constexpr (std::is_same_v<Integer, std::chrono::milliseconds>)
        out = std::chrono::milliseconds{i};
    else if constexpr (std::is_same_v<Integer, std::size_t>) {
        if (i < 0)
            return false;
        out = static_cast<std::size_t>(i);
    } else
        out = i;
    return true;
}

inline bool pull_number(pull_reader& r, double& out, number_rules const& rules)
{
    bool integral = false;
    std::int64_t i = 0;
    if (!r.number(integral, i, out))
        return false;
    read_context ignored;
    if (integral) {
        out = static_cast<double>(i);
        return check_integer_bounds(ignored, i, rules);
    }
    return check_number(ignored, out, rules);
}

inline bool pull_boolean(pull_reader& r, bool& out) { return r.boolean(out); }

inline bool pull_null(pull_reader& r, std::nullptr_t& out)
{
    out = nullptr;
    return r.null();
}

inline bool pull_any(pull_reader& r, boost::json::value& out)
{
    std::optional<boost::json::value> v;
    if (!r.value(v))
        return false;
    out = std::move(*v);
    return true;
}

inline bool pull_any_object(pull_reader& r, boost::json::object& out)
{
    if (r.peek() != '{')
        return false;
    std::optional<boost::json::value> v;
    if (!r.value(v))
        return false;
    out = std::move(v->get_object());
    return true;
}

/// A `const` or `enum` checked as JSON values (see read_values).
template<class T>
bool pull_values(pull_reader& r, T& out, boost::json::array const& values)
{
    std::optional<boost::json::value> v;
    if (!r.value(v))
        return false;
    read_context ignored;
    return read_values(ignored, *v, out, values, "");
}

template<class E, std::size_t N>
bool pull_enum(pull_reader& r, E& out, std::pair<std::string_view, E> const (&table)[N])
{
    std::string_view s;
    return r.string(s) && enum_from_string(table, s, out);
}

template<class T, class PullItem>
bool pull_array(pull_reader& r, std::vector<T>& out, array_rules const& rules, PullItem&& pull_item)
{
    if (!r.begin_array())
        return false;
    out.clear();
    for (;;) {
        bool done = false;
        if (!r.next_item(done))
            return false;
        if (done)
            break;
        if constexpr (std::is_same_v<T, bool>) {
            bool item = false;
            if (!pull_item(r, item))
                return false;
            out.push_back(item);
        } else if (!pull_item(r, out.emplace_back())) {
            return false;
        }
    }
    return out.size() >= rules.min_items && out.size() <= rules.max_items;
}

template<class T, class PullItem>
bool pull_map(pull_reader& r, std::map<std::string, T>& out, PullItem&& pull_item)
{
    if (!r.begin_object())
        return false;
    out.clear();
    for (;;) {
        std::string_view key;
        bool done = false;
        if (!r.next_key(key, done))
            return false;
        if (done)
            return true;
        // The key first: reading the item may reuse the buffer an escaped key was decoded into.
        std::string k(key);
        // A fresh item: with a duplicate key the last one wins whole, as in the DOM path.
        T item{};
        if (!pull_item(r, item))
            return false;
        out.insert_or_assign(std::move(k), std::move(item));
    }
}

/// A generated struct read afresh: a duplicate key must not leave members of the earlier value.
template<class T>
bool pull_fresh(pull_reader& r, T& out)
{
    out = T{};
    return jobwatch_pull(r, out);
}

template<class T, class PullItem>
bool pull_nullable(pull_reader& r, std::optional<T>& out, PullItem&& pull_item)
{
    if (r.peek() == 'n') {
        out.reset();
        return r.null();
    }
    return pull_item(r, out.emplace());
}

/// Which first character of a value goes to an alternative of a type list.
template<class T>
bool starts_kind(char c) noexcept
{
    if constexpr (std::is_same_v<T, std::int64_t> || std::is_same_v<T, double> ||
                  std::is_same_v<T, std::size_t> || std::is_same_v<T, std::chrono::milliseconds>)
        return c == '-' || (c >= '0' && c <= '9');
    else if constexpr (std::is_same_v<T, std::string>)
        return c == '"';
    else if constexpr (std::is_same_v<T, bool>)
        return c == 't' || c == 'f';
    else if constexpr (std::is_same_v<T, std::nullptr_t>)
        return c == 'n';
    else if constexpr (is_vector_v<T>)
        return c == '[';
    else
        return c == '{';
}

template<class... T, class... PullItem>
bool pull_union(pull_reader& r, std::variant<T...>& out, PullItem&&... pull_item)
{
    auto pullers = std::forward_as_tuple(pull_item...);
    char const c = r.peek();
    bool matched = false;
    bool ok = false;
    [&]<std::size_t... I>(std::index_sequence<I...>) {
        ((!matched && starts_kind<T>(c)
              ? (matched = true, ok = std::get<I>(pullers)(r, out.template emplace<I>()), 0)
              : 0),
         ...);
    }(std::index_sequence_for<T...>{});
    return matched && ok;
}

/** @brief A tagged union's tag, when it is the object's first member (else
    false: the DOM path finds it wherever it is). The reader is left where it
    was. */
inline bool pull_tag(pull_reader& r, std::string_view key, std::string_view& tag)
{
    auto const start = r.mark();
    std::string_view k;
    bool done = false;
    bool const ok = r.begin_object() && r.next_key(k, done) && !done && k == key && r.string(tag);
    r.reset(start);
    return ok;
}

}  // namespace jobwatch::detail

#endif
