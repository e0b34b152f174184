#ifndef JOBWATCH_REDIS_CONNECTION_HPP
#define JOBWATCH_REDIS_CONNECTION_HPP

/** @file
    A pipelined Redis connection on Asio that keeps itself connected: one
    `run()` per connection, any number of concurrent `exec`s.
*/

#include <jobwatch/detail/asio.hpp>
#include <jobwatch/logger.hpp>
#include <jobwatch/redis/detail/link.hpp>
#include <jobwatch/redis/detail/pipeline.hpp>
#include <jobwatch/redis/error.hpp>
#include <jobwatch/redis/health.hpp>
#include <jobwatch/redis/reply.hpp>
#include <jobwatch/redis/request.hpp>
#include <jobwatch/redis/settings.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/system/error_code.hpp>

#include <memory>
#include <string>
#include <tuple>
#include <vector>

namespace jobwatch::redis {

/** @brief A Redis connection: connects, authenticates, selects the database,
    stays connected, and pipelines the requests of every caller.

    @code
    jobwatch::redis::connection conn{ex, settings, lgr};
    co_spawn(ex, conn.run(), ...);                 // lives as long as the app
    jobwatch::redis::request req;
    req.push("XADD", "jobwatch:events", "*", "e", json);
    auto [ec, replies] = co_await conn.exec(req);  // replies[0]: the entry id
    @endcode

    Requests of concurrent `exec` calls are queued and written by one writer,
    several per write, and answered in order. Requests queued while
    disconnected wait or fail at once, by `settings::when_disconnected`.

    **Blocking commands** (`XREAD BLOCK`, `BLPOP`, `WAIT`) hold up every
    request pipelined behind them, so a reader that blocks owns a connection
    of its own and is its only caller. A health PING waits behind the block
    too: keep the blocking time below `settings::ping_timeout`. SUBSCRIBE
    and its kin go through `subscriber`; `exec` refuses them.

    Do not change the connection's state through `exec` (SELECT, AUTH,
    CLIENT SETNAME, MULTI without EXEC in the same request): it is not
    restored after a reconnect. Use the settings.

    @par Thread Safety
    Only from `get_executor()` (every member, `run()` and `exec()`
    included). The connection must outlive `run()` and every `exec()`.
*/
class connection : private detail::link_hooks
{
public:
    using executor_type = asio::any_io_executor;
    /// What `exec` completes with: an error code and one reply per command.
    using result = std::tuple<boost::system::error_code, std::vector<reply>>;

    /** @brief A connection that does nothing before `run()`. Does not throw on
        bad settings: `run()` checks them. */
    connection(executor_type ex, settings s = {}, logger lgr = {})
        : link_(std::move(ex), std::move(s), std::move(lgr), "connection"),
          pipeline_({.max_queued = link_.config().max_queued_requests,
                     .max_in_flight = link_.config().max_in_flight_requests})
    {
    }

    connection(connection const&) = delete;
    connection& operator=(connection const&) = delete;

    executor_type get_executor() const noexcept { return link_.get_executor(); }
    settings const& config() const noexcept { return link_.config(); }

    /** @brief Connects and keeps the connection up until cancelled.

        @li Resolves the host, connects (TCP_NODELAY), and sends the handshake
            in one write: AUTH (if a password is set), SELECT (database not 0),
            CLIENT SETNAME (if named), PING; all within `connect_timeout`.
        @li Then reads replies, writes queued requests (one writer, one write
            in flight, at most `max_in_flight_requests` requests awaiting
            replies) and PINGs every `health_interval`, until the connection
            drops or a PING goes unanswered for `ping_timeout`.
        @li On a drop, requests in flight complete with `error::connection_lost`
            (with the replies that did arrive: those commands were applied, the
            others may or may not have been); with `fail_fast`, queued ones
            complete with `error::not_connected`. It then waits a backoff
            (exponential, full jitter, bounded by `reconnect_max`) and
            connects again; a refused AUTH is retried the same way.

        @par Thread Safety
        Call on `get_executor()`; one `run()` at a time.

        @par Cancellation
        `terminal`, `partial` and `total`, at any point: closes the socket,
        completes requests in flight with `error::connection_lost` and queued
        ones with `error::not_connected`, and returns. Later `exec` calls fail
        with `error::not_connected` until `run()` is called again.

        @code
        asio::awaitable<void> run();   // returns normally when cancelled
        @endcode
        @throws boost::system::system_error with `error::invalid_settings` if
        the settings fail `check()`; std::logic_error if `run()` is already running.
    */
    asio::awaitable<void> run();

    /** @brief Sends `req` and waits for all its replies.

        Returns `{ec, replies}`; on success `replies.size() == req.size()`.
        `ec` is:
        @li empty: every command got a reply that is not an error;
        @li `error::reply_error`: every command got a reply, and at least one
            is an error reply (look at `replies`);
        @li `error::connection_lost`: written, then the connection dropped;
            `replies` holds those that arrived. Whether the rest were applied
            is unknown: the caller decides whether to retry (an `XADD` retried
            may be in the stream twice);
        @li `error::not_connected`: never written (`fail_fast` while
            disconnected, or `run()` ended);
        @li `error::queue_full`: never written (`max_queued_requests` reached);
        @li `error::invalid_request`: `req` holds SUBSCRIBE or its kin;
        @li `asio::error::operation_aborted`: this `exec` was cancelled.

        An empty request completes at once with no replies. `req` must stay
        alive and unchanged until `exec` completes.

        @par Thread Safety
        Call on `get_executor()`; any number may be pending at once.

        @par Cancellation
        `terminal` (and `partial`, `total` if the calling coroutine enables
        them): completes at once with `operation_aborted`. A request not yet
        written is not sent; one already written still gets its replies, which
        are read and dropped, so the requests after it get their own.

        @code
        asio::awaitable<std::tuple<error_code, std::vector<reply>>> exec(request const& req);
        @endcode
    */
    asio::awaitable<result> exec(request const& req);

    /// The connection's state, for health reports.
    health_info health() const
    {
        auto h = link_.health();
        h.queued = pipeline_.queued();
        h.in_flight = pipeline_.in_flight();
        return h;
    }

private:
    // A request whose caller waits in exec(); `wake` is cancelled when it is done.
    struct exec_op : detail::pending
    {
        ::jobwatch::detail::tuple_timer wake;
        exec_op(executor_type const& ex, request const& req)
            : pending(req.payload(), req.size()), wake(ex)
        {
            wake.expires_at(std::chrono::steady_clock::time_point::max());
        }
    };

    // Gives up `op` unless it is done. (A class member: GCC 12 crashes mangling a
    // class declared inside a coroutine, "in write_encoding".)
    struct abandon_on_exit
    {
        detail::pipeline& p;
        detail::pending& op;
        ~abandon_on_exit() { p.abandon(op); }
    };

    void complete(detail::pending& p);

    // link_hooks
    void on_connected() override {}
    void fill(std::string& out) override { pipeline_.take(out); }
    boost::system::error_code on_reply(reply&& r) override;
    void send_ping() override;
    void on_disconnected() override;
    void on_stopped() override;

    detail::link link_;
    detail::pipeline pipeline_;
    bool stopped_ = false;  // run() ended: exec fails fast until it runs again
};

}  // namespace jobwatch::redis

#include <jobwatch/redis/impl/connection.hpp>

#endif
