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

#include <chrono>
#include <memory>
#include <optional>
#include <string>
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

    @par Thread Safety
    Runs on the core executor (`gateway.threads` > 0 is refused for now; see
    docs/protocol.md). `port()` from any thread after construction.
*/
class gateway final : public http::ws_host
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
    ~gateway() override;

    gateway(gateway const&) = delete;
    gateway& operator=(gateway const&) = delete;

    /** @brief Serves until cancelled, then drains (see the class description).
        @throws boost::system::system_error if the port could not be bound. */
    asio::awaitable<void> run();

    /// The port listened on (useful with port 0); 0 when binding failed.
    std::uint16_t port() const noexcept { return port_; }
    /// Counters since start.
    http::gateway_counters const& counters() const noexcept { return counters_; }
    /// Open connections (HTTP, WebSocket, SSE).
    std::size_t connection_count() const noexcept { return conns_.size(); }
    /// The room table (for tests and the monitor).
    http::hub const& rooms() const noexcept { return hub_; }

    // ws_host
    void on_ws_message(http::ws_session& s, std::string_view text) override;
    void on_ws_finished(http::ws_session& s) override;

private:
    class http_conn;
    class sse_session;
    friend class sse_session;

    void add_conn(std::shared_ptr<http::connection> c);
    void remove_conn(http::connection& c);
    void accept_next();
    void on_accept(boost::system::error_code ec, http::tcp::socket sock);
    void arm_sweep();
    void sweep();
    void apply_settings(jobwatch::config const& s);
    void on_room_message(room_message const& m);

    asio::awaitable<void> serve_http(http::tcp::socket sock, std::shared_ptr<bool> alive);
    asio::awaitable<void> refuse(http::tcp::socket sock);
    asio::awaitable<http::response> long_poll(http::request const& req, http::target const& t, principal const& who,
                                               http_conn& conn);
    void start_ws(http::tcp::socket sock, std::string preread, http::request req,
                  std::shared_ptr<principal const> who);
    std::optional<http::response> start_sse(http::tcp::socket& sock, http::request const& req,
                                            http::target const& t, principal const& who);
    /// Validates and access-checks the rooms of an SSE or long-poll request; the refusal, if any.
    std::optional<http::response> check_rooms(http::request const& req, std::vector<std::string> const& rooms,
                                              principal const& who) const;
    http::auth_result authenticate(http::request const& req, http::target const& t, std::string_view remote) const;

    // WebSocket protocol
    void ws_subscribe(http::ws_session& s, subscribe_request const& r);
    void ws_publish(http::ws_session& s, publish_request& r);
    /// The current state of a room for `subscribed`; empty for alerts or unknown state.
    std::optional<snapshot> snapshot_of(std::string_view room) const;
    std::string connections_json() const;

    core& core_;
    config cfg_;
    std::shared_ptr<http::authenticator const> auth_;
    http::session_limits limits_;
    std::size_t max_connections_;
    std::size_t max_header_bytes_;
    std::size_t max_body_bytes_;
    http::gateway_counters counters_;
    http::hub hub_;
    http::rest_api rest_;
    http::tcp::acceptor acceptor_;
    asio::steady_timer sweep_timer_;
    boost::system::error_code bind_error_;
    std::string bind_what_;
    std::uint16_t port_ = 0;
    std::vector<std::shared_ptr<http::connection>> conns_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
    std::uint64_t next_conn_id_ = 1;
    std::size_t refusing_ = 0;
    std::string room_buf_;
    bool running_ = false;
    bool draining_ = false;
    bool accept_pending_ = false;
};

}  // namespace jobwatch

#include <jobwatch/components/impl/gateway.hpp>

#endif
