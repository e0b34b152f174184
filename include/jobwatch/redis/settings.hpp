#ifndef JOBWATCH_REDIS_SETTINGS_HPP
#define JOBWATCH_REDIS_SETTINGS_HPP

/** @file
    Where a Redis connection goes and how it behaves: the settings aggregate,
    `redis://` URL parsing into it, and its validation.
*/

#include <jobwatch/redis/error.hpp>

#include <boost/system/error_code.hpp>

#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace jobwatch::redis {

/// What `exec` does with a request while the connection is down.
enum class on_disconnected
{
    /// Queue it (up to `settings::max_queued_requests`) until the connection is up again;
    /// the caller bounds the wait with its own deadline (cancelling `exec`).
    wait,
    /// Complete it at once with `error::not_connected` (and fail the queued ones when
    /// the connection drops): for callers that answer "unavailable" rather than wait.
    fail_fast,
};

/** @brief Settings of a `connection` or a `subscriber`. Every field has a
    working default; `parse_url` fills the address fields from a URL.

    @code
    jobwatch::redis::settings s{.client_name = "jobwatch-ingest"};
    if (auto ec = jobwatch::redis::parse_url("redis://:secret@10.0.0.5:6379/2", s))
        ...;  // error::invalid_url
    @endcode
*/
struct settings
{
    using duration = std::chrono::steady_clock::duration;

    std::string host = "127.0.0.1";  ///< a name or an address; resolved at every connect
    std::uint16_t port = 6379;
    std::string username{};     ///< ACL user (AUTH user password); empty: AUTH password alone
    std::string password{};     ///< empty: no AUTH
    int database = 0;           ///< SELECTed at every connect when not 0
    std::string client_name{};  ///< sent as CLIENT SETNAME when not empty (seen in CLIENT LIST)
    /// TLS (`rediss://`): the server's certificate is verified against `tls_ca_file`
    /// (or the system's CAs) and `host` (its name, or its address).
    bool tls = false;
    std::string tls_ca_file{};  ///< PEM certificates of the CAs to trust; empty: the system's

    /// Bound on resolving, connecting and the handshake (AUTH, SELECT, SETNAME, PING).
    duration connect_timeout = std::chrono::seconds{5};
    /// Reconnect backoff: the n-th consecutive failed attempt waits a uniformly random time in
    /// [0, min(reconnect_max, reconnect_base * 2^n)] ("full jitter"). Both must be > 0.
    duration reconnect_base = std::chrono::milliseconds{100};
    duration reconnect_max = std::chrono::seconds{10};  ///< upper bound of one backoff wait
    /// Seeds the jitter; 0 draws a seed from std::random_device. Tests fix it.
    std::uint64_t seed = 0;

    /// Health PING period; 0 disables the PINGs (and so `last_rtt` and `ping_timeout`).
    duration health_interval = std::chrono::seconds{1};
    /// A PING unanswered this long means the connection is dead: it is closed and
    /// reconnected. 0: never. A PING waits behind a blocking command (XREAD BLOCK),
    /// so on a connection that blocks, keep the blocking time below this.
    duration ping_timeout = std::chrono::seconds{10};

    on_disconnected when_disconnected = on_disconnected::wait;  ///< see `on_disconnected`
    /// Bound on requests waiting to be written (while disconnected, or behind the in-flight
    /// bound); past it `exec` fails with `error::queue_full`. At least 1.
    std::size_t max_queued_requests = 10'000;
    /// Bound on requests written and waiting for their replies; the writer waits below it.
    /// At least 1.
    std::size_t max_in_flight_requests = 1'000;
    /// A `subscriber`'s bound on messages received and not yet taken by `receive()`; past
    /// it new messages are dropped, counted, and the next one kept says so. At least 1.
    std::size_t max_pending_messages = 10'000;
};

namespace detail {

inline int hex_digit(char c) noexcept
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

// Decodes %XX escapes (passwords may hold '@', ':' or '/'); false on a bad escape.
inline bool percent_decode(std::string_view in, std::string& out)
{
    out.clear();
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] != '%') {
            out += in[i];
            continue;
        }
        if (i + 2 >= in.size())
            return false;
        int const hi = hex_digit(in[i + 1]);
        int const lo = hex_digit(in[i + 2]);
        if (hi < 0 || lo < 0)
            return false;
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    return true;
}

template <class Int> bool parse_decimal(std::string_view s, Int& out) noexcept
{
    if (s.empty())
        return false;
    auto const [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc{} && ptr == s.data() + s.size();
}

inline bool iequals_prefix(std::string_view s, std::string_view prefix) noexcept
{
    if (s.size() < prefix.size())
        return false;
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
        if (c != prefix[i])
            return false;
    }
    return true;
}

inline boost::system::error_code refuse(error e, std::string* reason, std::string_view why)
{
    if (reason)
        *reason = why;
    return e;
}

}  // namespace detail

/** @brief Fills the address fields of `s` (host, port, username, password,
    database) from a URL, leaving the other fields as they are.

    Accepted: `redis://host`, `redis://host:port`, `redis://host:port/db`,
    `redis://:password@host:port/db`, `redis://user:password@host:port/db`
    (ACL), and `[v6 address]` as host; `rediss://` the same over TLS
    (`tls`). The port defaults to 6379 and the database to 0; user and
    password may carry `%XX` escapes. Refused: other schemes, `user@` without
    a `:` (ambiguous between a user and a password), query strings, and bad
    numbers (`error::invalid_url`). On failure `s` is unchanged, and
    `reason`, when given, gets a one-line explanation that never contains
    the password.
*/
[[nodiscard]] inline boost::system::error_code parse_url(std::string_view url, settings& s,
                                                         std::string* reason = nullptr)
{
    using detail::refuse;
    bool const tls = detail::iequals_prefix(url, "rediss://");
    if (!tls && !detail::iequals_prefix(url, "redis://"))
        return refuse(error::invalid_url, reason, "the URL must start with redis:// or rediss://");
    auto rest = url.substr(tls ? 9 : 8);
    if (rest.find_first_of("?#") != std::string_view::npos)
        return refuse(error::invalid_url, reason,
                      "query strings and fragments are not supported in a Redis URL");

    // authority [/ db]
    auto const slash = rest.find('/');
    auto authority = rest.substr(0, slash);
    auto const path = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);

    std::string username;
    std::string password;
    if (auto const at = authority.rfind('@'); at != std::string_view::npos) {
        auto const userinfo = authority.substr(0, at);
        authority = authority.substr(at + 1);
        auto const colon = userinfo.find(':');
        if (colon == std::string_view::npos)
            return refuse(error::invalid_url, reason,
                          "the user information needs a ':' (':password@' or "
                          "'user:password@')");
        if (!detail::percent_decode(userinfo.substr(0, colon), username) ||
            !detail::percent_decode(userinfo.substr(colon + 1), password))
            return refuse(error::invalid_url, reason, "bad %-escape in the user information");
        if (password.empty())
            return refuse(error::invalid_url, reason, "the password after ':' is empty");
    }

    std::string_view host;
    std::string_view port_text;
    if (!authority.empty() && authority.front() == '[') {
        auto const close = authority.find(']');
        if (close == std::string_view::npos)
            return refuse(error::invalid_url, reason, "an IPv6 host lacks its ']'");
        host = authority.substr(1, close - 1);
        auto const after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':')
                return refuse(error::invalid_url, reason, "unexpected text after the IPv6 host");
            port_text = after.substr(1);
            if (port_text.empty())
                return refuse(error::invalid_url, reason, "the port after ':' is empty");
        }
    } else {
        auto const colon = authority.find(':');
        host = authority.substr(0, colon);
        if (colon != std::string_view::npos) {
            port_text = authority.substr(colon + 1);
            if (port_text.empty())
                return refuse(error::invalid_url, reason, "the port after ':' is empty");
        }
    }
    if (host.empty())
        return refuse(error::invalid_url, reason, "the host is empty");

    std::uint16_t port = 6379;
    if (!port_text.empty() && (!detail::parse_decimal(port_text, port) || port == 0))
        return refuse(error::invalid_url, reason, "the port must be a number from 1 to 65535");

    int database = 0;
    if (!path.empty() && (!detail::parse_decimal(path, database) || database < 0))
        return refuse(error::invalid_url, reason,
                      "the path must be a database number (redis://host:port/0)");

    s.host = std::string(host);
    s.port = port;
    s.username = std::move(username);
    s.password = std::move(password);
    s.database = database;
    s.tls = tls;
    return {};
}

/** @brief Checks `s`; `run()` does it first and throws `system_error` with
    `error::invalid_settings` and this reason. Returns success or
    `error::invalid_settings`, and `reason`, when given, names the field. */
[[nodiscard]] inline boost::system::error_code check(settings const& s,
                                                     std::string* reason = nullptr)
{
    using detail::refuse;
    auto const bad = [&](std::string_view why) {
        return refuse(error::invalid_settings, reason, why);
    };
    if (s.host.empty())
        return bad("settings.host is empty");
    if (s.port == 0)
        return bad("settings.port is 0");
    if (s.database < 0)
        return bad("settings.database is negative");
    if (!s.username.empty() && s.password.empty())
        return bad("settings.username is set without settings.password");
    if (s.connect_timeout <= settings::duration::zero())
        return bad("settings.connect_timeout must be > 0");
    if (s.reconnect_base <= settings::duration::zero())
        return bad("settings.reconnect_base must be > 0");
    if (s.reconnect_max < s.reconnect_base)
        return bad("settings.reconnect_max must be >= settings.reconnect_base");
    if (s.health_interval < settings::duration::zero())
        return bad("settings.health_interval is negative");
    if (s.ping_timeout < settings::duration::zero())
        return bad("settings.ping_timeout is negative");
    if (s.max_queued_requests == 0)
        return bad("settings.max_queued_requests is 0; it must be at least 1");
    if (s.max_in_flight_requests == 0)
        return bad("settings.max_in_flight_requests is 0; it must be at least 1");
    if (s.max_pending_messages == 0)
        return bad("settings.max_pending_messages is 0; it must be at least 1");
    return {};
}

}  // namespace jobwatch::redis

#endif
