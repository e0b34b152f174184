#ifndef JOBWATCH_REDIS_REPLY_HPP
#define JOBWATCH_REDIS_REPLY_HPP

/** @file
    One Redis reply (RESP2), owned: a status, an error, an integer, a bulk
    string, nil, or an array of replies (nested to any depth RESP allows).
*/

#include <charconv>
#include <cstdint>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace jobwatch::redis {

class reply;

/// A status reply (`+OK`, `+PONG`, `+QUEUED`).
struct status
{
    std::string text;
    friend bool operator==(status const&, status const&) = default;
};

/// An error reply (`-ERR ...`, `-WRONGTYPE ...`): the whole line without the `-`.
struct error_reply
{
    std::string message;
    friend bool operator==(error_reply const&, error_reply const&) = default;
};

/// A nil bulk string or nil array (`$-1`, `*-1`): GET of a missing key, an XREAD that timed out.
struct nil
{
    friend bool operator==(nil, nil) = default;
};

/** @brief One reply from Redis, owning its contents.

    @code
    auto [ec, replies] = co_await conn.exec(req);
    if (auto n = replies[0].to_integer()) ...;          // INCR, XLEN, or a number in a bulk string
    if (auto s = replies[1].string()) ...;              // GET: bulk string; nullopt for nil
    for (auto const& e : replies[2].elements()) ...;    // LRANGE, XREAD: an array's elements
    @endcode

    @par Thread Safety
    A value type: distinct objects may be used concurrently.
*/
class reply
{
public:
    /// The RESP2 types, in the order of `value_type`'s alternatives.
    enum class kind
    {
        nil,
        status,
        error,
        integer,
        string,  ///< a bulk string (binary safe)
        array,
    };

    using array_type = std::vector<reply>;
    using value_type =
        std::variant<nil, status, error_reply, std::int64_t, std::string, array_type>;

    /// A nil reply.
    reply() = default;
    reply(nil) {}
    reply(status s) : value_(std::move(s)) {}
    reply(error_reply e) : value_(std::move(e)) {}
    reply(std::int64_t i) : value_(i) {}
    /// A bulk string.
    reply(std::string s) : value_(std::move(s)) {}
    reply(array_type a) : value_(std::move(a)) {}

    kind type() const noexcept { return static_cast<kind>(value_.index()); }
    bool is_nil() const noexcept { return type() == kind::nil; }
    bool is_error() const noexcept { return type() == kind::error; }
    bool is_array() const noexcept { return type() == kind::array; }

    /// The alternative held, for `std::visit`.
    value_type const& value() const noexcept { return value_; }
    value_type& value() noexcept { return value_; }

    /// The text of a bulk string or a status; `nullopt` for anything else (nil included).
    std::optional<std::string_view> string() const noexcept
    {
        if (auto const* s = std::get_if<std::string>(&value_))
            return std::string_view{*s};
        if (auto const* s = std::get_if<status>(&value_))
            return std::string_view{s->text};
        return std::nullopt;
    }

    /** @brief The value of an integer reply, or of a bulk string or status that
        holds a whole decimal number (Redis returns many numbers that way:
        `HGET`, `XINFO`); `nullopt` for anything else. */
    std::optional<std::int64_t> to_integer() const noexcept
    {
        if (auto const* i = std::get_if<std::int64_t>(&value_))
            return *i;
        auto const s = string();
        if (!s || s->empty())
            return std::nullopt;
        std::int64_t v = 0;
        auto const* first = s->data();
        auto const* last = s->data() + s->size();
        // from_chars takes no '+', and neither does Redis's own string2ll.
        auto const [ptr, ec] = std::from_chars(first, last, v);
        if (ec != std::errc{} || ptr != last)
            return std::nullopt;
        return v;
    }

    /// The message of an error reply (`"WRONGTYPE Operation against..."`); empty otherwise.
    std::string_view error_message() const noexcept
    {
        if (auto const* e = std::get_if<error_reply>(&value_))
            return e->message;
        return {};
    }

    /// The elements of an array; empty for anything else.
    std::span<reply const> elements() const noexcept
    {
        if (auto const* a = std::get_if<array_type>(&value_))
            return *a;
        return {};
    }

    /// The element `i` of an array, or nullptr if this is not an array or is too short.
    reply const* at(std::size_t i) const noexcept
    {
        auto const e = elements();
        return i < e.size() ? &e[i] : nullptr;
    }

    friend bool operator==(reply const&, reply const&) = default;

    /// A readable form for logs and test failures: `"OK"` (status), `(error) ERR x`,
    /// `(integer) 3`, `"bulk"` quoted with escapes, `(nil)`, `[a, b]`.
    friend std::string to_string(reply const& r)
    {
        std::string out;
        r.append_to(out);
        return out;
    }

    friend std::ostream& operator<<(std::ostream& os, reply const& r) { return os << to_string(r); }

private:
    void append_to(std::string& out) const
    {
        auto quoted = [&out](std::string_view s) {
            out += '"';
            for (char c : s) {
                auto const u = static_cast<unsigned char>(c);
                if (c == '"' || c == '\\') {
                    out += '\\';
                    out += c;
                } else if (u < 0x20 || u >= 0x7f) {
                    constexpr char hex[] = "0123456789abcdef";
                    out += "\\x";
                    out += hex[u >> 4];
                    out += hex[u & 0xf];
                } else {
                    out += c;
                }
            }
            out += '"';
        };
        switch (type()) {
        case kind::nil:
            out += "(nil)";
            break;
        case kind::status:
            out += std::get<status>(value_).text;
            break;
        case kind::error:
            out += "(error) " + std::get<error_reply>(value_).message;
            break;
        case kind::integer:
            out += "(integer) " + std::to_string(std::get<std::int64_t>(value_));
            break;
        case kind::string:
            quoted(std::get<std::string>(value_));
            break;
        case kind::array: {
            out += '[';
            bool first = true;
            for (auto const& e : std::get<array_type>(value_)) {
                if (!first)
                    out += ", ";
                first = false;
                e.append_to(out);
            }
            out += ']';
            break;
        }
        }
    }

    value_type value_;
};

}  // namespace jobwatch::redis

#endif
