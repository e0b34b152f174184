#ifndef JOBWATCH_COMPONENTS_GATEWAY_HPP
#define JOBWATCH_COMPONENTS_GATEWAY_HPP

#include <jobwatch/components/aggregator.hpp>
#include <jobwatch/components/health.hpp>
#include <jobwatch/components/wait_cancelled.hpp>
#include <jobwatch/core.hpp>
#include <jobwatch/detail/asio.hpp>
#include <jobwatch/http/auth.hpp>
#include <jobwatch/http/request.hpp>
#include <jobwatch/http/rest.hpp>
#include <jobwatch/http/session.hpp>
#include <jobwatch/http/wire.hpp>
#include <jobwatch/http/ws_session.hpp>
#include <jobwatch/messages/client_message.hpp>
#include <jobwatch/version.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace jobwatch {

/** @brief The gateway: live updates over WebSocket (`/ws`), SSE
    (`/api/v1/stream`) and long-poll (`/api/v1/poll`), and the REST API
    (`/api/v1/...`, `/healthz`, `/readyz`), on one HTTP/1.1 port.

    @li Every request and connection is authenticated (`config::auth`, or
        the `auth` settings) and every subscription, query and publish
        passes an access check (tenant isolation).
    @li Room messages from the core are encoded once per room and shared by
        all subscribers; each connection has one bounded send queue with the
        overflow ladder (coalesce, `lagged`, close 1008) and one writer that
        flushes everything queued in one gather write.
    @li Limits: header and body size (431, 413), read and idle timeouts,
        `max_connections` (503), WebSocket message size (close 1009),
        heartbeats with dead-peer detection. One sweep timer drives every
        connection's timers.
    @li Shutdown (`total` cancellation): stops accepting, closes WebSockets
        with 1001, ends SSE streams and long-polls, lets requests in flight
        finish, and returns when every connection is gone (or, after
        `terminal` cancellation, at once).

    @code
    app.add<jobwatch::gateway>({.port = 8080});
    @endcode

    @par Threads
    With `gateway.threads` = 0 everything runs on the core thread. With K > 0
    the gateway starts K I/O threads, share-nothing shards: each has its own
    `io_context`, room table, connections, sweep timer and counters. The core
    accepts and hands each connection to the next shard; it encodes a room
    message once, only when some shard watches the room, and posts the one
    shared buffer to each shard that does. What needs the core's state (REST,
    long-poll, the snapshot and replay of a subscribe, publish) hops to the
    core and back; a WebSocket client's next message waits for the answer,
    so its messages are answered in order.

    @par Thread Safety
    Construct, run and destroy on the core executor. `port()`,
    `connection_count()` and `counters()` from any thread.
*/
class gateway final
{
public:
    /// Overrides of the `gateway` and `auth` settings; empty fields take the settings.
    struct config
    {
        std::optional<std::string> host{};    ///< address to listen on
        std::optional<std::uint16_t> port{};  ///< TCP port; 0 picks a free one
        /// Decides who each request is; empty: the `auth` settings' mode.
        std::shared_ptr<http::authenticator const> auth{};
    };

    gateway(core& c, config cfg);
    ~gateway();

    gateway(gateway const&) = delete;
    gateway& operator=(gateway const&) = delete;

    /** @brief Serves until cancelled, then drains (see the class description).
        @throws boost::system::system_error if the port could not be bound. */
    asio::awaitable<void> run();

    /// The port listened on (useful with port 0); 0 when binding failed.
    std::uint16_t port() const noexcept { return port_; }
    /// Counters since start, summed over the shards.
    http::gateway_counters counters() const;
    /// Open connections (HTTP, WebSocket, SSE), accepted ones not yet served included.
    std::size_t connection_count() const noexcept;
    /// I/O shards serving connections (1 when `gateway.threads` is 0: the core thread).
    std::size_t shard_count() const noexcept { return shards_.size(); }
    /// Rooms watched by a subscriber or a parked long-poll. Core thread only.
    std::size_t room_count() const;

private:
    class shard;
    class http_conn;
    class sse_session;
    friend class shard;
    friend class sse_session;

    /// What the core decided for a subscribe (WebSocket, or an SSE stream's rooms).
    struct stream_plan
    {
        std::optional<http::response> refusal;  ///< SSE: the answer instead of a stream
        bool error = false;                     ///< WebSocket: the subscribe was refused (an `error` in msgs)
        std::vector<std::string> rooms;         ///< granted: subscribe to these
        /// In order: replies and notices (false), and replayed room messages (true).
        std::vector<std::pair<http::wire_ptr, bool>> msgs;
    };

    void add_conn(shard& sh, std::shared_ptr<http::connection> c);
    void remove_conn(shard& sh, http::connection& c);
    void accept_next();
    void arm_sweep();
    void arm_shard_sweep(shard& sh);
    void sweep(shard& sh);
    /// The queue and room figures of the monitor report, from `sh`'s thread.
    static void refresh_stats(shard& sh);
    void apply_settings(jobwatch::config const& s);
    void on_room_message(room_message const& m);
    void send_batches();
    /// Shard: `room` lost messages from `seq` on; its subscribers there are told they lagged.
    static void lag_room(shard& sh, std::string const& room, std::uint64_t seq);
    void grant(std::string const& room, shard const& sh);
    void release(std::string const& room, std::size_t shard_index);
    void start_shards();
    void stop_shards();
    /// Runs `f(shard&)` on every shard's thread (directly on the core's).
    template<class F>
    void each_shard(F f);
    /// Core: the `subscriptions` reply, with each room's latest sequence number.
    http::wire_ptr subscriptions_reply(std::optional<std::string> id, std::vector<std::string> rooms) const;
    /// Core: publishes for a WebSocket client; the reply, and whether it is an error.
    std::pair<http::wire_ptr, bool> publish_reply(publish_request r, principal const& who);

    /** @brief Runs `start(done)` on the core, which calls `done(R)` there once;
        then `then(R)` on `sh`'s thread. Directly when `sh` is the core's. */
    template<class R, class Start, class Then>
    void hop(shard& sh, Start start, Then then);
    /// `hop` for a coroutine on `sh`: resumes it with the core's answer.
    template<class R, class Start>
    asio::awaitable<R> on_core(shard& sh, Start start);

    asio::awaitable<void> serve_http(shard& sh, http::tcp::socket sock);
    asio::awaitable<void> refuse(http::tcp::socket sock);
    asio::awaitable<http::response> long_poll(http::request const& req, http::target const& t, principal const& who);
    void start_ws(shard& sh, http::tcp::socket sock, std::string preread, http::request req,
                  std::shared_ptr<principal const> who);
    /// Core: checks an SSE request's rooms and prepares its first messages.
    stream_plan plan_sse(http::request const& req, http::target const& t, principal const& who,
                         shard const& sh);
    void start_sse(shard& sh, http::tcp::socket sock, stream_plan plan);
    /// Validates and access-checks the rooms of an SSE or long-poll request; the refusal, if any.
    std::optional<http::response> check_rooms(http::request const& req, std::vector<std::string> const& rooms,
                                              principal const& who) const;
    http::auth_result authenticate(http::request const& req, http::target const& t, std::string_view remote) const;

    // WebSocket protocol (on the session's shard; the core parts as noted)
    bool on_ws_message(shard& sh, http::ws_session& s, std::string_view text);
    bool ws_subscribe(shard& sh, http::ws_session& s, subscribe_request r);
    /// Core: access check, grant, snapshot or replay of one subscribe.
    stream_plan plan_subscribe(principal const& who, subscribe_request const& r, shard const& sh);
    /// Shard: subscribes to what was granted and queues the plan's messages.
    void apply_plan(shard& sh, http::stream_session& s, stream_plan& plan);
    bool ws_publish(shard& sh, http::ws_session& s, publish_request r);
    /// The current state of a room for `subscribed`; empty for alerts or unknown state.
    std::optional<snapshot> snapshot_of(std::string_view room) const;
    std::string connections_json() const;

    core& core_;
    config cfg_;
    std::shared_ptr<http::authenticator const> auth_;
    http::session_limits limits_;  ///< the core's copy; each shard has its own
    std::size_t max_connections_;
    std::size_t max_header_bytes_;
    std::size_t max_body_bytes_;
    std::size_t max_shard_backlog_;  ///< room messages handed to one shard and not yet fanned out
    http::gateway_counters core_counters_;  ///< accept and refuse, counted on the core
    http::hub polls_;  ///< long-polls parked on the core
    http::rest_api rest_;
    http::tcp::acceptor acceptor_;
    asio::steady_timer sweep_timer_;
    boost::system::error_code bind_error_;
    std::string bind_what_;
    std::uint16_t port_ = 0;
    std::vector<std::unique_ptr<shard>> shards_;
    std::size_t next_shard_ = 0;
    /// Sharded: per room, how many subscriptions each shard holds (grants not yet released).
    std::unordered_map<std::string, std::vector<std::uint32_t>, detail::short_string_hash,
                       detail::short_string_equal>
        watched_;
    std::vector<std::vector<http::wire_ptr>> batches_;  ///< sharded: room messages not yet posted, per shard
    /// Sharded, per shard: rooms whose messages the shard's backlog bound turned
    /// away since the last post, with the first one's sequence number.
    std::vector<std::vector<std::pair<std::string, std::uint64_t>>> lost_;
    bool batches_posted_ = false;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
    std::atomic<std::uint64_t> next_conn_id_{1};
    std::atomic<std::size_t> accepting_{0};  ///< accepted, not yet registered on their shard
    std::atomic<std::size_t> hops_{0};       ///< answers of the core not yet back on their shard
    std::atomic<std::size_t> refusing_{0};
    bool running_ = false;
    std::atomic<bool> draining_{false};
    bool accept_pending_ = false;
};

}  // namespace jobwatch

#include <jobwatch/components/impl/gateway.hpp>

#endif
