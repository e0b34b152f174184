#ifndef JOBWATCH_COMPONENTS_GATEWAY_HPP
#define JOBWATCH_COMPONENTS_GATEWAY_HPP

#include <jobwatch/auth/authenticator.hpp>
#include <jobwatch/core.hpp>
#include <jobwatch/gateway/http_connection.hpp>
#include <jobwatch/gateway/listener.hpp>
#include <jobwatch/gateway/long_poll.hpp>
#include <jobwatch/gateway/monitor.hpp>
#include <jobwatch/gateway/server.hpp>
#include <jobwatch/gateway/tls.hpp>
#include <jobwatch/gateway/ws_protocol.hpp>
#include <jobwatch/http/openapi.hpp>
#include <jobwatch/runtime/wait_cancelled.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace jobwatch {

/** @brief The gateway: live updates over WebSocket (`/ws`), SSE
    (`/api/v1/stream`) and long-poll (`/api/v1/poll`), and the REST API
    (`/api/v1/...`, `/healthz`, `/readyz`), on one HTTP/1.1 port, and the
    OpenAPI document of what this app serves (`/api/v1/openapi.json`, public).

    @li Every request and connection is authenticated (`config::auth`, or
        the `auth` settings) and every subscription, query and publish
        passes an access check (tenants and users, `auth/access.hpp`).
    @li Room messages from the core are encoded once per room and shared by
        all subscribers; each connection has one bounded send queue with the
        overflow ladder (`gateway/send_queue.hpp`) and one writer.
    @li Limits: header and body size (431, 413), read and idle timeouts,
        `max_connections` (503), WebSocket message size (close 1009),
        heartbeats with dead-peer detection. One sweep timer per shard
        drives every connection's timers.
    @li Shutdown (`total` cancellation): stops accepting, closes WebSockets
        with 1001, ends SSE streams and long-polls, lets requests in flight
        finish, and returns when every connection is gone (or, after
        `terminal` cancellation or 10 s, once they are dropped).

    Its parts, one concern per file under `gateway/`: the listener, the
    shards, the HTTP connection, the WebSocket and SSE sessions, the send
    queue, the subscription plan, the fan-out, the monitor report
    (`docs/architecture.md`).

    @code
    app.add<jobwatch::gateway>({.port = 8080});
    @endcode

    @par Threads
    With `gateway.threads` = 0 everything runs on the core thread. With K > 0
    the gateway starts K I/O threads, share-nothing shards (`gw::shard`). What
    needs the core's state hops to the core and back (`gw::server::hop`).

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
        std::shared_ptr<auth::authenticator const> auth{};
        /// Socket.IO namespaces mapped in C++ (payload views as code); beside `gateway.socketio.namespaces`.
        std::vector<gw::sio_mapping> socketio_namespaces{};
    };

    gateway(core& c, config cfg)
        : core_(c)
        , srv_(c, cfg.auth ? cfg.auth : auth::make_authenticator(c.settings().auth))
        , listener_(srv_, [this](gw::shard& sh, gw::tcp::socket s) { serve(sh, std::move(s)); })
        , tls_(gw::tls_certificates::from(c.settings().gateway.tls))
    {
        for (auto& sh : srv_.shards)
            protocols_.push_back(std::make_unique<gw::ws_protocol>(srv_, *sh));
        if (auto const& sio = c.settings().gateway.socketio; sio.enabled) {
            sio_ = std::make_unique<gw::sio_endpoint>(srv_, sio, std::move(cfg.socketio_namespaces));
            if (auto why = sio_->check(); !why.empty())
                throw std::invalid_argument(why);
            srv_.sio = sio_.get();
        }
        auto const& s = c.settings().gateway;
        listener_.bind(cfg.host.value_or(s.host), cfg.port ? *cfg.port : static_cast<std::uint16_t>(s.port));
        c.on_settings([this](jobwatch::config const& next) { srv_.apply_settings(next); });
        c.on_room_message([this](room_message const& m) { srv_.fan.on_room_message(m); });
        // Numbers this instance will never hold (the cluster's stream was trimmed past it):
        // every live subscriber resumes, and gets a reset.
        c.on_gap([this](std::uint64_t seq) { srv_.fan.lag_all(seq); });
        c.on_reload([this] {
            // Reading the key files here blocks the core briefly; SIGHUP is rare.
            if (auto const why = srv_.auth->reload())
                core_.log().error("auth", "keys not reloaded, the current ones stay in use: " + *why);
            else
                core_.log().info("auth", srv_.auth->describe());
            if (!tls_)
                return;
            // New connections get the new certificate; open ones keep theirs.
            if (auto const why = tls_->reload())
                core_.log().error("tls", "certificate not reloaded, the current one stays in use: " + *why);
            else
                core_.log().info("tls", tls_->describe());
        });
        install_routes();
        c.add_metrics([this](metrics::prometheus_writer& w) { gw::write_metrics(srv_, w); });
    }

    ~gateway()
    {
        // Whatever is still pending (the app stopped the context) must not
        // reach back here: the shards' threads stop first, then the sessions
        // left are cut off from the gateway.
        for (auto& sh : srv_.shards)
            sh->stop();
        for (auto& sh : srv_.shards)
            sh->conns.for_each([](gw::connection& c) { c.detach(); });
    }

    gateway(gateway const&) = delete;
    gateway& operator=(gateway const&) = delete;

    /** @brief What the gateway answers itself, outside the route table: the
        WebSocket and SSE endpoints, and the API document (public, like the
        dashboard's files). */
    static std::vector<http::api_operation> direct_operations()
    {
        return {{"get", "/ws", "read"}, {"get", "/api/v1/stream", "read"}, {"get", "/api/v1/openapi.json", "public"}};
    }

    /** @brief Every operation this server serves: the route table's (every
        component's routes are added by the time the app runs) and the
        gateway's own. */
    std::vector<http::api_operation> served_operations() const
    {
        auto out = http::operations_of(core_.routes().routes());
        for (auto& op : direct_operations())
            out.push_back(std::move(op));
        return out;
    }

    /** @brief Serves until cancelled, then drains (see the class description).
        @throws boost::system::system_error if the port could not be bound. */
    asio::awaitable<void> run()
    {
        auto& log = core_.log();
        if (listener_.error()) {
            log.error("gateway", listener_.what() + ": " + listener_.error().message());
            throw boost::system::system_error(listener_.error(), listener_.what());
        }
        if (dynamic_cast<auth::open_authenticator const*>(srv_.auth.get()))
            log.warn("auth", "!!! " + srv_.auth->describe() + " !!!");
        else
            log.info("auth", srv_.auth->describe());
        bool const sharded = !srv_.shards.front()->is_core();
        if (tls_)
            log.info("tls", tls_->describe());
        if (core_.settings().gateway.dashboard && !gw::dashboard_built())
            log.warn("gateway", "gateway.dashboard is on, but this binary was built without the dashboard "
                     "(link jobwatch::dashboard; it needs node and the npm packages of scripts/setup.sh)");
        log.info("gateway", std::string("listening on ") + (tls_ ? "https://" : "http://") + listener_.address() + ":" + std::to_string(listener_.port()) +
                 (sharded ? " with " + std::to_string(srv_.shards.size()) + " I/O threads" : std::string()));
        // The routes are complete now: every component was added before the app ran.
        srv_.openapi = std::make_shared<std::string const>(http::openapi_document(served_operations()));
        srv_.running = true;
        for (auto& sh : srv_.shards)
            sh->start([this](std::string what) {
                asio::post(core_.get_executor(), [this, what] { core_.log().error("gateway", "I/O thread: " + what); });
            });
        listener_.accept();
        rearm_accepting();

        co_await detail::wait_until_cancelled();

        // Drain: no new connections; every connection finishes its unit of work.
        co_await asio::this_coro::throw_if_cancelled(false);
        co_await asio::this_coro::reset_cancellation_state(asio::enable_terminal_cancellation());
        srv_.draining = true;
        listener_.close();
        srv_.fan.polls.wake_all();
        for_each_shard([](gw::shard& sh) { sh.conns.for_each([](gw::connection& c) { c.shutdown(); }); });
        auto const deadline = std::chrono::steady_clock::now() + std::chrono::seconds{10};
        bool const drained = co_await wait_drained(deadline);
        if (!drained) {
            for_each_shard([](gw::shard& sh) { sh.conns.for_each([](gw::connection& c) { c.abort(); }); });
            co_await wait_drained(std::chrono::steady_clock::now() + std::chrono::seconds{1});
        }
        rearm_.cancel();
        for (auto& sh : srv_.shards)
            sh->stop();
        srv_.running = false;
    }

    /// The port listened on (useful with port 0); 0 when binding failed.
    std::uint16_t port() const noexcept { return listener_.port(); }
    /// Counters since start, summed over the shards.
    gw::gateway_counters counters() const { return gw::total_counters(srv_); }
    /// Open connections (HTTP, WebSocket, SSE), accepted ones not yet served included.
    std::size_t connection_count() const noexcept { return srv_.connection_count(); }
    /// I/O shards serving connections (1 when `gateway.threads` is 0: the core thread).
    std::size_t shard_count() const noexcept { return srv_.shards.size(); }
    /// Rooms watched by a subscriber or a parked long-poll. Core thread only.
    std::size_t room_count() const { return srv_.fan.room_count(); }

private:
    void serve(gw::shard& sh, gw::tcp::socket s)
    {
        auto& host = *protocols_[sh.index];
        // A failure of one connection is logged where it is spawned; the others go on.
        auto served = [this](std::exception_ptr e) {
            if (!e)
                return;
            try {
                std::rethrow_exception(e);
            } catch (std::exception const& ex) {
                asio::post(core_.get_executor(),
                           [this, what = std::string(ex.what())] { core_.log().error("gateway", "connection failed: " + what); });
            }
        };
        if (tls_)
            asio::co_spawn(sh.ex, gw::serve_tls(srv_, sh, host, std::move(s), tls_->current()), std::move(served));
        else
            asio::co_spawn(sh.ex, gw::serve_http(srv_, sh, host, std::move(s)), std::move(served));
    }

    // Accepting stopped on an error (out of file descriptors): try again every quarter second.
    void rearm_accepting()
    {
        rearm_.expires_after(std::chrono::milliseconds{250});
        rearm_.async_wait([this](boost::system::error_code ec) {
            if (ec || srv_.draining)
                return;
            listener_.accept();
            rearm_accepting();
        });
    }

    // Every shard's connections gone and every answer of the core delivered (they resume its coroutines).
    asio::awaitable<bool> wait_drained(gw::steady_time deadline)
    {
        for (auto& sh : srv_.shards) {
            if (sh->is_core())
                co_await sh->conns.wait_empty(deadline);
            else
                co_await asio::co_spawn(sh->ex, sh->conns.wait_empty(deadline), asio::use_awaitable);
        }
        detail::tuple_timer t(co_await asio::this_coro::executor);
        while ((srv_.hops > 0 || srv_.refusing > 0) && std::chrono::steady_clock::now() < deadline) {
            t.expires_after(std::chrono::milliseconds{5});
            co_await t.async_wait();
        }
        co_return srv_.connection_count() == 0 && srv_.hops == 0 && srv_.refusing == 0;
    }

    /// Runs `f(shard&)` on every shard's thread (directly on the core's).
    template<class F>
    void for_each_shard(F f)
    {
        for (auto& p : srv_.shards) {
            auto& sh = *p;
            if (sh.is_core())
                f(sh);
            else
                asio::post(sh.ex, [&sh, f] { f(sh); });
        }
    }

    // /healthz, /readyz and /api/v1/monitor/connections.
    void install_routes()
    {
        using namespace http;
        auto& r = core_.routes();
        r.add({{verb::get}, "/healthz", needs::none, "Liveness",
               [](call const& c) { return json_response(c.req, status::ok, R"({"status":"ok"})"); }});
        r.add({{verb::get}, "/readyz", needs::none, "Readiness: listening, not draining, every part ready",
               [this](call const& c) {
                   if (!srv_.running || srv_.draining)
                       return problem(c.req, status::service_unavailable, "not accepting work (starting or draining)");
                   for (auto const& [name, fn] : core_.health_checks())
                       if (auto const h = fn(); !h.ready)
                           return problem(c.req, status::service_unavailable, name + ": " + h.reason);
                   return json_response(c.req, status::ok, R"({"status":"ready"})");
               }});
        r.add({{verb::get}, "/api/v1/health", needs::read, "The server's parts: ready or not, why, and their figures",
               [this](call const& c) { return json_response(c.req, status::ok, health_report_json()); }});
        r.add({{verb::get}, "/api/v1/monitor/connections", needs::admin, "Connections, rooms, queues and counters",
               [this](call const& c) { return json_response(c.req, status::ok, gw::connections_report(srv_)); }});
        r.add({{verb::get}, "/api/v1/poll", needs::read, "Long-poll: the rooms' messages after since", {},
               [this](call const& c) { return gw::long_poll(srv_, c.req, c.t, c.who); }});
    }

    // GET /api/v1/health: {"status": "ok" or "unavailable", "ready", "checks": {name: {ready, reason, ...}}}.
    std::string health_report_json() const
    {
        bool ready = srv_.running && !srv_.draining;
        std::string checks;
        detail::json_writer w(checks);
        bool first = true;
        for (auto const& [name, fn] : core_.health_checks()) {
            auto const h = fn();
            ready = ready && h.ready;
            w.raw(first ? "" : ",");
            first = false;
            w.string(name);
            w.raw(R"(:{"ready":)");
            w.raw(h.ready ? "true" : "false");
            if (!h.reason.empty()) {
                w.raw(R"(,"reason":)");
                w.string(h.reason);
            }
            if (h.detail.size() > 2) {
                w.raw(",");  // the part's own figures, after its readiness
                w.raw(std::string_view(h.detail).substr(1, h.detail.size() - 2));
            }
            w.raw('}');
        }
        std::string out;
        detail::json_writer o(out);
        o.raw(R"({"status":)");
        o.string(ready ? "ok" : "unavailable");
        o.raw(R"(,"ready":)");
        o.raw(ready ? "true" : "false");
        o.raw(R"(,"draining":)");
        o.raw(srv_.draining ? "true" : "false");
        o.raw(R"(,"checks":{)");
        o.raw(checks);
        o.raw("}}");
        return out;
    }

    core& core_;
    gw::server srv_;
    std::vector<std::unique_ptr<gw::ws_protocol>> protocols_;
    std::unique_ptr<gw::sio_endpoint> sio_;  // gateway.socketio.enabled
    gw::listener listener_;
    std::unique_ptr<gw::tls_certificates> tls_;  ///< null: plain HTTP
    asio::steady_timer rearm_{core_.get_executor()};
};

}  // namespace jobwatch

#endif
