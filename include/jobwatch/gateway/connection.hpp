#ifndef JOBWATCH_GATEWAY_CONNECTION_HPP
#define JOBWATCH_GATEWAY_CONNECTION_HPP

/** @file
    What the gateway knows of a connection: the registry's view (timers,
    shutdown) and the room table's view (a subscriber with a send queue).
*/

#include <jobwatch/auth/access.hpp>
#include <jobwatch/gateway/counters.hpp>
#include <jobwatch/gateway/quota.hpp>
#include <jobwatch/gateway/send_queue.hpp>
#include <jobwatch/messages/config.hpp>
#include <jobwatch/runtime/token_bucket.hpp>
#include <jobwatch/time.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jobwatch::gw {

using steady_time = std::chrono::steady_clock::time_point;

/// Limits of the gateway's connections, from the `gateway` settings.
struct session_limits
{
    send_limits queue{};                             ///< a connection's send queue
    std::chrono::milliseconds heartbeat{15'000};     ///< ping / SSE comment interval; 0 disables
    std::chrono::milliseconds idle_timeout{60'000};  ///< HTTP keep-alive connections with no request
    std::chrono::milliseconds read_timeout{10'000};  ///< time to receive a whole HTTP request
    std::size_t max_message_bytes = 65536;           ///< largest WebSocket message from a client
    std::chrono::milliseconds close_timeout{5'000};  ///< a closing connection is dropped after this
    std::chrono::milliseconds auth_timeout{5'000};   ///< a WebSocket opened without credentials must auth by then
    std::chrono::seconds refresh_notice{60};         ///< auth_expiring this long before a token's exp
    rate_limit ws_messages{};                        ///< messages a WebSocket client may send (rate_limits.ws_*)
    std::int64_t ws_close_after_refused = 100;       ///< refused in a row before close 1008; 0: never
    std::size_t max_per_subject = 0;                 ///< WebSocket and SSE connections per subject; 0: no limit
    std::size_t max_per_tenant = 0;                  ///< ... per tenant
};

/** @brief A connection the gateway tracks: swept for timeouts and closed at shutdown.

    @par Thread Safety
    Only from the executor of the gateway shard that owns it.
*/
class connection
{
public:
    virtual ~connection() = default;
    /// Checks timers (heartbeat, idle, read, close deadlines) at `now`.
    virtual void sweep(steady_time now) = 0;
    /// Begins a graceful close (WebSocket 1001, end of an SSE stream, no more keep-alive).
    virtual void shutdown() = 0;
    /// Drops the connection now.
    virtual void abort() = 0;
    /// The gateway is going away: drops the connection without calling back into it.
    virtual void detach() noexcept = 0;
    /// "ws", "sse", "http".
    virtual std::string_view kind() const noexcept = 0;
    /// Unsent messages and bytes (0 for plain HTTP).
    virtual std::size_t queued_messages() const noexcept { return 0; }
    virtual std::size_t queued_bytes() const noexcept { return 0; }

    std::size_t registry_index = static_cast<std::size_t>(-1);  ///< position in its shard's registry
};

struct room_state;

/** @brief False for a job event that a principal bound to the user
    `user_key` (`tenant/user`; empty: not bound) is not entitled to: it may
    subscribe to a job room before the job exists, and then gets only its
    own jobs' events. */
inline bool entitled(std::string_view user_key, wire_msg const& m) noexcept
{
    return user_key.empty() || !std::string_view(m.room).starts_with("job:") || m.user_key == user_key;
}

/** @brief A streaming connection (WebSocket or SSE) as the room table sees
    it: subscribed to rooms, it takes room messages during fan-out without
    ever waiting, and is flushed once per batch.

    @par Thread Safety
    Only from its shard's executor.
*/
class subscriber : public connection, public std::enable_shared_from_this<subscriber>
{
public:
    struct subscription
    {
        room_state* room = nullptr;
        std::uint32_t index = 0;  ///< position in the room's subscriber list
    };

    /// `who`: null for a WebSocket that has yet to send its `auth` message (it can do nothing else until then).
    explicit subscriber(std::shared_ptr<principal const> who)
        : who_(std::move(who)), user_key_(who_ ? auth::user_key(*who_) : std::string())
    {
    }

    /// A room message (fan-out); the overflow ladder applies.
    virtual void deliver(wire_ptr const& m) = 0;
    /// A reply or notice.
    virtual void send(wire_ptr m) = 0;
    /// Writes what is queued (the room table calls it once per fan-out batch).
    virtual void flush() = 0;
    /// Unsubscribed from everything and taking no more messages (closing or gone).
    virtual bool finished() const noexcept = 0;
    /// Reads the client's next message after its last one was held for an answer from the core.
    virtual void resume_reading() {}
    /** @brief Closes with a WebSocket close `code` and `reason`, `notice`
        (why) being the last message before it; what else is unsent goes.
        Other transports send `notice` and end. */
    virtual void close_with(std::uint16_t code, std::string_view reason, wire_ptr notice) = 0;

    principal const& who() const noexcept { return *who_; }
    std::shared_ptr<principal const> const& who_ptr() const noexcept { return who_; }

    /// False until a WebSocket opened without credentials has authenticated.
    bool authenticated() const noexcept { return who_ != nullptr; }
    /// Takes the principal of an `auth` message (the first, or a refresh of the same subject and tenant).
    void set_who(std::shared_ptr<principal const> who)
    {
        who_ = std::move(who);
        user_key_ = auth::user_key(*who_);
    }

    /** @brief When the credential expires (a JWT's `exp`): the connection is
        told `notice` before, and closed then. None: never. Converted once to
        the steady clock the sweep reads. */
    void set_expiry(std::optional<time_point> exp, std::chrono::seconds notice)
    {
        expiry = {};
        // In milliseconds first: an `exp` centuries ahead (tokens may say year 9999) overflows the
        // clocks' nanoseconds. Past a year ahead the sweep has nothing to do for it yet.
        constexpr auto far = std::chrono::hours{24 * 366};
        if (!exp)
            return;
        auto const left = *exp - std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
        if (left > far)
            return;
        expiry.at = std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(left);
        expiry.notice_at = expiry.at - notice;
        expiry.text = format_time(*exp);
    }

    /// The credential's end, in the steady clock (`at` zero: none).
    struct expiry_state
    {
        steady_time at{};
        steady_time notice_at{};
        std::string text;  ///< `exp` as RFC 3339, for the notice
        bool noticed = false;
    } expiry;
    /// A WebSocket opened without credentials is closed (4401) if not authenticated by then.
    steady_time auth_deadline{};
    /// The connection's number (its `connection_id` is "c" followed by it).
    std::uint64_t conn_id = 0;
    /// The peer's address, for an authenticator that looks at it (an `auth` message) and for logs.
    std::string remote;
    /// Its place in the per-subject and per-tenant counts, given back when it finishes.
    std::unique_ptr<connection_quota::slot> quota_slot;

    /// False for a job event this principal is not entitled to (`gw::entitled`).
    bool entitled(wire_msg const& m) const noexcept { return gw::entitled(user_key_, m); }

    std::vector<subscription>& subscriptions() noexcept { return subs_; }
    subscription* find_subscription(room_state const* r) noexcept
    {
        for (auto& s : subs_)
            if (s.room == r)
                return &s;
        return nullptr;
    }

    bool flush_pending = false;  ///< on the room table's list of sessions to flush

private:
    std::shared_ptr<principal const> who_;
    std::string user_key_;  // `tenant/user` of a principal bound to a user; empty otherwise
    std::vector<subscription> subs_;
};

/// A room with subscribers or waiting long-polls.
struct room_state
{
    std::string name;
    std::vector<subscriber*> subs;
    std::vector<std::function<void()>*> waiters;  ///< long-polls parked on the room
};

}  // namespace jobwatch::gw

#endif
