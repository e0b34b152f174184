#ifndef JOBWATCH_REDIS_ERROR_HPP
#define JOBWATCH_REDIS_ERROR_HPP

/** @file
    The expected outcomes of the Redis client, as `error_code`s (STYLE.md
    item 8): a caller branches on them, nothing is thrown for them.
*/

#include <boost/system/error_code.hpp>

#include <string>
#include <type_traits>

namespace jobwatch::redis {

/// What can go wrong with a Redis request or connection.
enum class error
{
    /// Not connected, and the policy is `on_disconnected::fail_fast` (or `run()` has
    /// ended): the request was never written, so Redis did not apply it.
    not_connected = 1,
    /// The connection dropped after the request was written: Redis may or may not
    /// have applied it (an `XADD` may be in the stream). The caller decides whether to retry.
    connection_lost,
    /// `settings::max_queued_requests` requests already wait to be written: not queued.
    queue_full,
    /// The server sent bytes that are not RESP, or a reply no request was waiting for.
    protocol,
    /// At least one command of the request got an error reply; every reply is still
    /// returned, so the caller can see which.
    reply_error,
    /// Not a `redis://` URL this client understands.
    invalid_url,
    /// TLS (`rediss://`): the CA file cannot be used, or the handshake or the server's certificate failed.
    tls_failed,
    /// A request `exec` cannot carry: SUBSCRIBE and its kin go through `subscriber`.
    invalid_request,
    /// The server refused AUTH (wrong password or user), or wants AUTH and got none.
    auth_failed,
    /// The server refused SELECT or CLIENT SETNAME while connecting.
    handshake_failed,
    /// Connecting and the handshake did not finish within `settings::connect_timeout`.
    connect_timeout,
    /// A health PING went unanswered for `settings::ping_timeout`: the connection is
    /// considered dead and is closed.
    ping_timeout,
    /// The settings fail validation (`run()` throws `system_error` with this code).
    invalid_settings,
};

namespace detail {

class error_category_impl final : public boost::system::error_category
{
public:
    char const* name() const noexcept override { return "jobwatch.redis"; }

    std::string message(int ev) const override
    {
        switch (static_cast<error>(ev)) {
        case error::not_connected:
            return "not connected to Redis; the request was not sent";
        case error::connection_lost:
            return "the Redis connection was lost after the request was sent; it may or may "
                   "not have been applied";
        case error::queue_full:
            return "too many Redis requests wait to be sent";
        case error::protocol:
            return "Redis protocol error";
        case error::reply_error:
            return "Redis answered a command with an error";
        case error::invalid_url:
            return "invalid Redis URL";
        case error::tls_failed:
            return "TLS failed (the CA file, the handshake or the server's certificate)";
        case error::invalid_request:
            return "this request cannot go through exec (use a subscriber for SUBSCRIBE)";
        case error::auth_failed:
            return "Redis refused the authentication";
        case error::handshake_failed:
            return "Redis refused SELECT or CLIENT SETNAME";
        case error::connect_timeout:
            return "connecting to Redis timed out";
        case error::ping_timeout:
            return "Redis did not answer a health PING in time";
        case error::invalid_settings:
            return "invalid Redis settings";
        }
        return "unknown jobwatch.redis error";
    }
};

}  // namespace detail

/// The category of `jobwatch::redis::error`.
inline boost::system::error_category const& error_category() noexcept
{
    static detail::error_category_impl const instance;
    return instance;
}

/// Lets `error_code ec = error::queue_full;` and `ec == error::queue_full` work.
inline boost::system::error_code make_error_code(error e) noexcept
{
    return {static_cast<int>(e), error_category()};
}

}  // namespace jobwatch::redis

template <> struct boost::system::is_error_code_enum<jobwatch::redis::error> : std::true_type
{
};

#endif
