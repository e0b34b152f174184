#ifndef JOBWATCH_REDIS_SUBSCRIBER_HPP
#define JOBWATCH_REDIS_SUBSCRIBER_HPP

/** @file
    Redis pub/sub on a connection of its own: SUBSCRIBE and PSUBSCRIBE,
    messages taken from a bounded queue, subscriptions renewed after every
    reconnect.
*/

#include <jobwatch/detail/asio.hpp>
#include <jobwatch/logger.hpp>
#include <jobwatch/redis/detail/link.hpp>
#include <jobwatch/redis/error.hpp>
#include <jobwatch/redis/health.hpp>
#include <jobwatch/redis/reply.hpp>
#include <jobwatch/redis/request.hpp>
#include <jobwatch/redis/settings.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/system/error_code.hpp>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>

namespace jobwatch::redis {

/// One pub/sub message.
struct message
{
    std::string channel;
    std::string payload;
    std::string pattern{};  ///< the PSUBSCRIBE pattern that matched; empty for SUBSCRIBE
    /// Messages may have been lost just before this one: the queue was full
    /// (`settings::max_pending_messages`), or the connection was re-established
    /// (Redis keeps nothing for a subscriber that is away).
    bool gap_before = false;

    friend bool operator==(message const&, message const&) = default;
};

namespace detail {

/// What one reply on a subscribed connection is (RESP2: pushes are arrays).
struct push
{
    enum class kind
    {
        message,       ///< `msg` holds it
        subscribed,    ///< a (P)SUBSCRIBE or (P)UNSUBSCRIBE confirmation; `count` is the total
        pong,          ///< the answer to a PING
        server_error,  ///< an error reply; `text` holds it
        unexpected,    ///< not a pub/sub reply: the connection is out of step
    };
    kind what = kind::unexpected;
    message msg{};
    std::int64_t count = 0;
    std::string text{};
};

/// Classifies one reply of a subscribed connection, moving its strings out.
inline push classify_push(reply&& r)
{
    push p;
    if (r.is_error()) {
        p.what = push::kind::server_error;
        p.text = std::string(r.error_message());
        return p;
    }
    if (auto const s = r.string(); s && r.type() == reply::kind::status) {
        // PING on a connection with no subscription left answers +PONG.
        p.what = *s == "PONG" ? push::kind::pong : push::kind::unexpected;
        return p;
    }
    if (!r.is_array())
        return p;
    auto& a = std::get<reply::array_type>(r.value());
    auto str = [&a](std::size_t i) -> std::string* {
        return i < a.size() ? std::get_if<std::string>(&a[i].value()) : nullptr;
    };
    auto const* head = str(0);
    if (!head)
        return p;
    if (*head == "message" && a.size() == 3 && str(1) && str(2)) {
        p.what = push::kind::message;
        p.msg.channel = std::move(*str(1));
        p.msg.payload = std::move(*str(2));
    } else if (*head == "pmessage" && a.size() == 4 && str(1) && str(2) && str(3)) {
        p.what = push::kind::message;
        p.msg.pattern = std::move(*str(1));
        p.msg.channel = std::move(*str(2));
        p.msg.payload = std::move(*str(3));
    } else if ((*head == "subscribe" || *head == "psubscribe" || *head == "unsubscribe" ||
                *head == "punsubscribe") &&
               a.size() == 3 && a[2].type() == reply::kind::integer) {
        p.what = push::kind::subscribed;
        p.count = *a[2].to_integer();
    } else if (*head == "pong" && a.size() == 2) {
        p.what = push::kind::pong;
    }
    return p;
}

}  // namespace detail

/** @brief A Redis pub/sub subscriber: a connection of its own in subscribed
    mode, with a bounded queue of the messages received.

    @code
    jobwatch::redis::subscriber sub{ex, settings, lgr};
    sub.subscribe("job-status:global");
    sub.psubscribe("job-status:user:*");
    co_spawn(ex, sub.run(), ...);
    for (;;) {
        auto [ec, msg] = co_await sub.receive();
        if (ec) break;                       // run() ended, or cancelled
        if (msg.gap_before) ...;             // some messages were lost before this one
        handle(msg.channel, msg.payload);
    }
    @endcode

    The subscriptions are a set kept by the subscriber: they are sent when
    connected, and again after every reconnect. Pub/sub is at-most-once:
    messages published while the connection is down are lost (Redis keeps
    none), and so are messages that find the queue full; the next message
    kept has `gap_before` set. The reader never waits for the consumer, so a
    slow consumer cannot make Redis close the connection for its output
    buffer limit.

    @par Thread Safety
    Only from `get_executor()`. The subscriber must outlive `run()` and
    every `receive()`.
*/
class subscriber : private detail::link_hooks
{
public:
    using executor_type = asio::any_io_executor;
    using result = std::tuple<boost::system::error_code, message>;

    subscriber(executor_type ex, settings s = {}, logger lgr = {})
        : link_(ex, std::move(s), std::move(lgr), "subscriber"), ready_(ex)
    {
        // Set once: several receivers may wait, and a new expiry would cancel them all.
        ready_.expires_at(std::chrono::steady_clock::time_point::max());
    }

    subscriber(subscriber const&) = delete;
    subscriber& operator=(subscriber const&) = delete;

    executor_type get_executor() const noexcept { return link_.get_executor(); }

    /** @brief Connects, subscribes and keeps the subscriptions until cancelled.
        The same life as `connection::run()` (handshake, health PINGs, backoff),
        with the subscriptions sent after every handshake.
        @par Cancellation
        Any type: closes the connection and returns; `receive()` then hands out
        the messages still queued, and after them `error::not_connected`.
        @throws boost::system::system_error with `error::invalid_settings`. */
    asio::awaitable<void> run()
    {
        stopped_ = false;
        co_await link_.run(*this);
    }

    /// Adds a channel (sent now if connected, and after every reconnect).
    void subscribe(std::string_view channel) { add(channels_, "SUBSCRIBE", channel); }
    /// Adds a glob-style pattern (`job-status:user:*`).
    void psubscribe(std::string_view pattern) { add(patterns_, "PSUBSCRIBE", pattern); }
    void unsubscribe(std::string_view channel) { remove(channels_, "UNSUBSCRIBE", channel); }
    void punsubscribe(std::string_view pattern) { remove(patterns_, "PUNSUBSCRIBE", pattern); }

    /** @brief The next message, waiting for one if none is queued.

        Completes with `{ {}, message }`; with `error::not_connected` once
        `run()` has ended and the queue is empty; with
        `asio::error::operation_aborted` if cancelled (no message is lost).
        Several coroutines may wait at once; each message goes to one of them.

        @code
        asio::awaitable<std::tuple<error_code, message>> receive();
        @endcode
    */
    asio::awaitable<result> receive()
    {
        for (;;) {
            if (auto m = try_receive())
                co_return result{boost::system::error_code{}, std::move(*m)};
            if (stopped_)
                co_return result{error::not_connected, {}};
            // Checked before the wait, not after it: a cancellation emitted while this
            // coroutine was not waiting would not end a wait started after it.
            if (co_await detail::is_cancelled())
                co_return result{asio::error::operation_aborted, {}};
            co_await ready_.async_wait();  // cancel()ed when a message arrives or run() ends
        }
    }

    /// The next queued message, without waiting.
    std::optional<message> try_receive()
    {
        if (messages_.empty())
            return std::nullopt;
        auto m = std::move(messages_.front());
        messages_.pop_front();
        return m;
    }

    /// The connection's state; `queued` is the number of messages waiting in the queue.
    health_info health() const
    {
        auto h = link_.health();
        h.queued = messages_.size();
        return h;
    }

    /// Messages dropped because the queue was full.
    std::uint64_t dropped() const noexcept { return dropped_; }

    /// Channels and patterns the server confirmed, as of its last confirmation.
    std::size_t subscriptions() const noexcept { return confirmed_; }

private:
    void add(std::set<std::string, std::less<>>& set, std::string_view cmd, std::string_view name)
    {
        if (!set.emplace(name).second || !link_.connected())
            return;
        out_.push(cmd, name);
        link_.wake_writer();
    }

    void remove(std::set<std::string, std::less<>>& set, std::string_view cmd,
                std::string_view name)
    {
        auto it = set.find(name);
        if (it == set.end())
            return;
        set.erase(it);
        if (!link_.connected())
            return;
        out_.push(cmd, name);
        link_.wake_writer();
    }

    void deliver(message&& m)
    {
        if (messages_.size() >= link_.config().max_pending_messages) {
            gap_ = true;
            // Rate-limited: the 1st, 2nd, 4th, 8th... drop.
            ++dropped_;
            if ((dropped_ & (dropped_ - 1)) == 0)
                link_.log().warn("redis", std::string(link_.who()) + "message queue full (" +
                                 std::to_string(link_.config().max_pending_messages) +
                                 "): dropped " + std::to_string(dropped_) + " so far");
            return;
        }
        m.gap_before = std::exchange(gap_, false);
        messages_.push_back(std::move(m));
        ready_.cancel();
    }

    // link_hooks
    void on_connected() override
    {
        out_.clear();
        confirmed_ = 0;
        // Nothing was received while the connection was down.
        if (link_.health().reconnects > 0 && (!channels_.empty() || !patterns_.empty()))
            gap_ = true;
        if (!channels_.empty())
            out_.push_range("SUBSCRIBE", channels_);
        if (!patterns_.empty())
            out_.push_range("PSUBSCRIBE", patterns_);
    }

    void fill(std::string& out) override
    {
        out.append(out_.payload());
        out_.clear();
    }

    boost::system::error_code on_reply(reply&& r) override
    {
        auto p = detail::classify_push(std::move(r));
        switch (p.what) {
        case detail::push::kind::message:
            deliver(std::move(p.msg));
            break;
        case detail::push::kind::subscribed:
            confirmed_ = static_cast<std::size_t>(p.count);
            break;
        case detail::push::kind::pong:
            link_.pong();
            break;
        case detail::push::kind::server_error:
            link_.log().warn("redis", std::string(link_.who()) + "server error: " + p.text);
            break;
        case detail::push::kind::unexpected:
            return error::protocol;
        }
        return {};
    }

    void send_ping() override { out_.push("PING"); }

    void on_disconnected() override
    {
        out_.clear();
        confirmed_ = 0;
    }

    void on_stopped() override
    {
        stopped_ = true;
        out_.clear();
        confirmed_ = 0;
        ready_.cancel();
    }

    detail::link link_;
    ::jobwatch::detail::tuple_timer ready_;  // a condition variable for receive()
    std::set<std::string, std::less<>> channels_;
    std::set<std::string, std::less<>> patterns_;
    request out_;  // commands to write next
    std::deque<message> messages_;
    bool gap_ = false;
    bool stopped_ = false;
    std::uint64_t dropped_ = 0;
    std::size_t confirmed_ = 0;
};

}  // namespace jobwatch::redis

#endif
