#ifndef JOBWATCH_COMPONENTS_IMPL_GATEWAY_HPP
#define JOBWATCH_COMPONENTS_IMPL_GATEWAY_HPP

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <algorithm>

#include <unistd.h>

namespace jobwatch {

// --- connections ----------------------------------------------------------------

/// A plain HTTP connection, served by one coroutine (`serve_http`) until it
/// upgrades, streams, or closes. The sweep enforces its deadlines.
class gateway::http_conn final : public http::connection
{
public:
    enum class phase
    {
        idle,      ///< waiting for the next request (idle timeout)
        reading,   ///< receiving a request (read timeout)
        handling,  ///< the request is being answered
        writing,   ///< sending the response (read timeout, as a write timeout)
        polling,   ///< a long-poll is parked
    };

    explicit http_conn(http::tcp::socket& sock, http::gateway_counters& counters) : sock_(&sock), counters_(&counters) {}

    void set(phase p, http::steady_time deadline) noexcept
    {
        phase_ = p;
        deadline_ = deadline;
    }
    phase current() const noexcept { return phase_; }
    bool keep_alive_allowed() const noexcept { return !stopping_; }
    void release() noexcept { sock_ = nullptr; }

    void sweep(http::steady_time now) override
    {
        if (sock_ && phase_ != phase::handling && phase_ != phase::polling && now >= deadline_) {
            ++counters_->timeouts;
            abort();
        }
    }
    void shutdown() override
    {
        stopping_ = true;
        // A parked long-poll is woken by the gateway (it waits on the core).
        if (phase_ == phase::idle)
            abort();
    }
    void abort() override
    {
        if (!sock_)
            return;
        boost::system::error_code ec;
        sock_->close(ec);
    }
    std::string_view kind() const noexcept override { return "http"; }

private:
    http::tcp::socket* sock_;
    http::gateway_counters* counters_;
    phase phase_ = phase::idle;
    http::steady_time deadline_{};
    bool stopping_ = false;
};

/** @brief A Server-Sent Events stream: the same room messages as WebSocket,
    as `id: <seq>` / `event: <type>` / `data: <json>` records, through the same
    bounded queue and overflow ladder. Heartbeats are comment lines. */
class gateway::sse_session final : public http::stream_session
{
public:
    sse_session(shard& sh, http::tcp::socket sock);

    /// Starts the stream: the response head, then watches for the client going away.
    void start(std::string head)
    {
        auto m = std::make_shared<http::wire_msg>();
        m->bytes = std::move(head);
        send(std::move(m));
        watch_eof();
    }

    void sweep(http::steady_time now) override
    {
        if (closing_ || finished_) {
            if (close_deadline_ != http::steady_time{} && now >= close_deadline_)
                abort();
            return;
        }
        auto const hb = limits_->heartbeat;
        if (hb.count() > 0 && now - last_ping_ >= hb) {
            last_ping_ = now;
            static http::wire_ptr const comment = [] {
                auto m = std::make_shared<http::wire_msg>();
                m->bytes = ": heartbeat\n\n";
                return m;
            }();
            send(comment);
        }
    }
    void shutdown() override { close(1001, "server shutting down"); }
    void abort() override { close_socket(); }
    std::string_view kind() const noexcept override { return "sse"; }
    void detach_gateway() noexcept { sh_ = nullptr; }

private:
    http::tcp::socket& socket() noexcept override { return sock_; }
    bool is_sse() const noexcept override { return true; }
    void on_finished() override;

    void watch_eof()
    {
        // The client sends nothing after its request: any read completion means it left.
        auto self = shared_from_this();
        sock_.async_read_some(asio::buffer(probe_), [self, this](boost::system::error_code ec, std::size_t) {
            if (!ec && !finished_) {
                watch_eof();
                return;
            }
            abort();
        });
    }

    shard* sh_;
    http::tcp::socket sock_;
    char probe_[1] = {};
};

// --- shards -----------------------------------------------------------------------

/** @brief One share-nothing I/O shard: its connections, room table, limits,
    counters and sweep, on its own thread and `io_context` — or, with
    `gateway.threads` = 0, the single shard on the core's executor. */
class gateway::shard final : public http::ws_host
{
public:
    shard(gateway& g, std::size_t i, asio::any_io_executor core_ex, bool own_thread)
        : gw(g)
        , index(i)
        , ioc(own_thread ? std::make_unique<asio::io_context>(1) : nullptr)
        , ex(ioc ? asio::any_io_executor(ioc->get_executor()) : std::move(core_ex))
        , limits(g.limits_)
        , hub(ex)
        , sweep_timer(ex)
    {
    }

    /// The core's own shard (`gateway.threads` = 0): no hop, no thread.
    bool is_core() const noexcept { return !ioc; }

    bool on_ws_message(http::ws_session& s, std::string_view text) override { return gw.on_ws_message(*this, s, text); }
    void on_ws_finished(http::ws_session& s) override { gw.remove_conn(*this, s); }

    gateway& gw;
    std::size_t const index;
    std::unique_ptr<asio::io_context> ioc;  ///< first member: outlives the sockets and timers below
    asio::any_io_executor ex;
    http::session_limits limits;
    http::gateway_counters counters;
    http::hub hub;
    std::vector<std::shared_ptr<http::connection>> conns;
    // Read by the core (connection_count, the monitor report).
    std::atomic<std::size_t> open{0};  ///< conns.size()
    std::atomic<std::size_t> ws{0};
    std::atomic<std::size_t> sse{0};
    std::atomic<std::size_t> queued_messages{0};  ///< as of the last sweep
    std::atomic<std::size_t> queued_bytes{0};     ///< as of the last sweep
    std::atomic<std::size_t> rooms{0};            ///< as of the last sweep
    /// Room messages the core has handed over and the shard not yet fanned out.
    std::atomic<std::size_t> backlog{0};
    asio::steady_timer sweep_timer;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
    std::thread thread;
};

inline gateway::sse_session::sse_session(shard& sh, http::tcp::socket sock)
    : stream_session(sh.hub, sh.limits, sh.counters), sh_(&sh), sock_(std::move(sock))
{
}

inline void gateway::sse_session::on_finished()
{
    if (sh_)
        sh_->gw.remove_conn(*sh_, *this);
}

// --- construction -------------------------------------------------------------

inline gateway::gateway(core& c, config cfg)
    : core_(c)
    , cfg_(std::move(cfg))
    , auth_(cfg_.auth ? cfg_.auth : http::make_authenticator(c.settings().auth))
    , max_connections_(static_cast<std::size_t>(std::max<std::int64_t>(c.settings().gateway.max_connections, 1)))
    , max_header_bytes_(static_cast<std::size_t>(c.settings().gateway.max_header_bytes))
    , max_body_bytes_(static_cast<std::size_t>(c.settings().gateway.max_body_bytes))
    , max_shard_backlog_(static_cast<std::size_t>(std::max<std::int64_t>(c.settings().gateway.max_shard_backlog, 1)))
    , polls_(c.get_executor())
    , rest_(c, http::rest_api::hooks{.connections_json = [this] { return connections_json(); },
                                     .ready = [this] { return running_ && !draining_; }})
    , acceptor_(c.get_executor())
    , sweep_timer_(c.get_executor())
{
    apply_settings(c.settings());
    auto const threads = static_cast<std::size_t>(std::max<std::int64_t>(c.settings().gateway.threads, 0));
    for (std::size_t i = 0; i < std::max<std::size_t>(threads, 1); ++i) {
        auto sh = std::make_unique<shard>(*this, i, c.get_executor(), threads > 0);
        if (!sh->is_core()) {
            // Each subscription that ends on the shard releases the core's grant.
            sh->hub.on_leave = [this, i](std::string const& room) {
                asio::post(core_.get_executor(), [this, i, room, alive = alive_] {
                    if (*alive)
                        release(room, i);
                });
            };
        }
        shards_.push_back(std::move(sh));
    }
    if (threads > 0) {
        batches_.resize(threads);
        lost_.resize(threads);
    }
    auto const& s = c.settings().gateway;
    auto const host = cfg_.host.value_or(s.host);
    auto const port = cfg_.port ? *cfg_.port : static_cast<std::uint16_t>(s.port);
    // Bind now, so the port is known (and a taken port reported) before run().
    boost::system::error_code ec;
    auto const addr = asio::ip::make_address(host, ec);
    if (ec) {
        bind_error_ = ec;
        bind_what_ = "gateway.host \"" + host + "\" is not an IP address";
    } else {
        http::tcp::endpoint ep{addr, port};
        acceptor_.open(ep.protocol(), ec);
        if (!ec)
            acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
        if (!ec)
            acceptor_.bind(ep, ec);
        if (!ec)
            acceptor_.listen(asio::socket_base::max_listen_connections, ec);
        if (ec) {
            bind_error_ = ec;
            bind_what_ = "cannot listen on " + host + ":" + std::to_string(port);
            acceptor_.close(ec);
        } else {
            port_ = acceptor_.local_endpoint().port();
        }
    }
    c.on_settings([this](jobwatch::config const& s2) { apply_settings(s2); });
    c.on_room_message([this](room_message const& m) { on_room_message(m); });
    c.provide(*this);
}

inline gateway::~gateway()
{
    // Whatever is still pending (the app stopped the context) must not reach
    // back here. The shards' threads are joined first: they read the flag.
    stop_shards();
    *alive_ = false;
    for (auto& sh : shards_)
        for (auto& c : sh->conns)
            if (auto* s = dynamic_cast<http::stream_session*>(c.get())) {
                if (auto* sse = dynamic_cast<sse_session*>(s))
                    sse->detach_gateway();
                s->detach();
            } else {
                c->abort();
            }
}

template<class F>
void gateway::each_shard(F f)
{
    for (auto& p : shards_) {
        auto& sh = *p;
        if (sh.is_core())
            f(sh);
        else
            asio::post(sh.ex, [&sh, f] { f(sh); });
    }
}

inline void gateway::apply_settings(jobwatch::config const& s)
{
    auto const& g = s.gateway;
    limits_.max_send_queue_bytes = static_cast<std::size_t>(std::max<std::int64_t>(g.max_send_queue_bytes, 1024));
    limits_.max_send_queue_messages = static_cast<std::size_t>(std::max<std::int64_t>(g.max_send_queue_messages, 8));
    limits_.heartbeat = std::chrono::milliseconds{g.heartbeat_ms};
    limits_.idle_timeout = std::chrono::milliseconds{std::max<std::int64_t>(g.idle_timeout_ms, 1)};
    limits_.read_timeout = std::chrono::milliseconds{std::max<std::int64_t>(g.read_timeout_ms, 1)};
    limits_.max_message_bytes = static_cast<std::size_t>(std::max<std::int64_t>(g.max_message_bytes, 1));
    each_shard([l = limits_](shard& sh) { sh.limits = l; });
}

inline http::gateway_counters gateway::counters() const
{
    auto total = core_counters_;
    for (auto const& sh : shards_)
        total += sh->counters;
    return total;
}

inline std::size_t gateway::connection_count() const noexcept
{
    std::size_t n = accepting_.load(std::memory_order_relaxed);
    for (auto const& sh : shards_)
        n += sh->open.load(std::memory_order_relaxed);
    return n;
}

inline std::size_t gateway::room_count() const
{
    auto const& first = *shards_.front();
    return (first.is_core() ? first.hub.room_count() : watched_.size()) + polls_.room_count();
}

// --- run and shutdown --------------------------------------------------------------

inline asio::awaitable<void> gateway::run()
{
    if (bind_error_) {
        core_.log().error(bind_what_ + ": " + bind_error_.message());
        throw boost::system::system_error(bind_error_, bind_what_);
    }
    if (dynamic_cast<http::open_authenticator const*>(auth_.get()))
        core_.log().warn("!!! " + auth_->describe() + " !!!");
    else
        core_.log().info(auth_->describe());
    auto const sharded = !shards_.front()->is_core();
    core_.log().info("gateway listening on http://" + acceptor_.local_endpoint().address().to_string() + ":" +
                     std::to_string(port_) +
                     (sharded ? " with " + std::to_string(shards_.size()) + " I/O threads" : std::string()));
    running_ = true;
    start_shards();
    accept_next();
    arm_sweep();

    co_await detail::wait_until_cancelled();

    // Drain: no new connections; every connection finishes its unit of work.
    co_await asio::this_coro::throw_if_cancelled(false);
    co_await asio::this_coro::reset_cancellation_state(asio::enable_terminal_cancellation());
    draining_ = true;
    boost::system::error_code ec;
    acceptor_.close(ec);
    polls_.wake_all();
    each_shard([](shard& sh) {
        auto const snapshot = sh.conns;
        for (auto& c : snapshot)
            c->shutdown();
    });
    detail::tuple_timer t(co_await asio::this_coro::executor);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{10};
    bool aborted = false;
    // Answers of the core on their way to a shard are waited for too: they resume its coroutines.
    while (connection_count() > 0 || hops_.load() > 0) {
        auto cs = co_await asio::this_coro::cancellation_state;
        auto const now = std::chrono::steady_clock::now();
        if (!aborted && (cs.cancelled() != asio::cancellation_type::none || now >= deadline)) {
            aborted = true;
            each_shard([](shard& sh) {
                auto const left = sh.conns;
                for (auto& c : left)
                    c->abort();
            });
            if (!sharded)
                break;
            deadline = now + std::chrono::seconds{1};
        } else if (aborted && now >= deadline) {
            break;
        }
        t.expires_after(std::chrono::milliseconds{10});
        co_await t.async_wait();
    }
    sweep_timer_.cancel();
    stop_shards();
    running_ = false;
}

inline void gateway::start_shards()
{
    for (auto& p : shards_) {
        auto& sh = *p;
        if (sh.is_core() || sh.thread.joinable())
            continue;
        sh.work.emplace(sh.ioc->get_executor());
        arm_shard_sweep(sh);
        sh.thread = std::thread([this, &sh] {
            for (;;) {
                try {
                    sh.ioc->run();
                    return;
                } catch (std::exception const& e) {
                    // One failed handler must not take the shard's other connections down.
                    asio::post(core_.get_executor(), [this, what = std::string(e.what()), alive = alive_] {
                        if (*alive)
                            core_.log().error(std::string("gateway I/O thread: ") + what);
                    });
                }
            }
        });
    }
}

inline void gateway::stop_shards()
{
    for (auto& p : shards_) {
        auto& sh = *p;
        if (sh.is_core() || !sh.thread.joinable())
            continue;
        // What is left in the shard's queue is destroyed with it, on this thread.
        sh.work.reset();
        sh.ioc->stop();
        sh.thread.join();
    }
}

inline void gateway::add_conn(shard& sh, std::shared_ptr<http::connection> c)
{
    auto const kind = c->kind();
    if (kind == "ws")
        ++sh.ws;
    else if (kind == "sse")
        ++sh.sse;
    c->registry_index = sh.conns.size();
    sh.conns.push_back(std::move(c));
    ++sh.open;
}

inline void gateway::remove_conn(shard& sh, http::connection& c)
{
    auto const i = c.registry_index;
    if (i >= sh.conns.size() || sh.conns[i].get() != &c)
        return;
    auto const kind = c.kind();
    if (kind == "ws")
        --sh.ws;
    else if (kind == "sse")
        --sh.sse;
    // Swap-remove; the registry's reference goes after this call returns.
    auto keep = std::move(sh.conns[i]);
    if (i + 1 != sh.conns.size()) {
        sh.conns[i] = std::move(sh.conns.back());
        sh.conns[i]->registry_index = i;
    }
    sh.conns.pop_back();
    --sh.open;
    c.registry_index = static_cast<std::size_t>(-1);
    asio::post(sh.ex, [keep = std::move(keep)] {});
}

inline void gateway::accept_next()
{
    if (draining_ || !acceptor_.is_open())
        return;
    accept_pending_ = true;
    acceptor_.async_accept([this, alive = alive_](boost::system::error_code ec, http::tcp::socket sock) {
        if (!*alive)
            return;
        accept_pending_ = false;
        if (ec == asio::error::operation_aborted || draining_)
            return;
        if (ec) {
            // EMFILE and friends: do not spin; the sweep re-arms accepting.
            core_.log().warn("accept failed: " + ec.message());
            return;
        }
        ++core_counters_.accepted;
        sock.set_option(http::tcp::no_delay(true), ec);
        // Round robin over the shards. The socket moves to the shard's context
        // (accepted on the core's: a pending accept never holds a shard's socket,
        // which must not outlive its context).
        auto& sh = *shards_[next_shard_++ % shards_.size()];
        if (!sh.is_core()) {
            auto const protocol = sock.local_endpoint(ec).protocol();
            auto const fd = ec ? -1 : sock.release(ec);
            http::tcp::socket moved(sh.ex);
            if (!ec) {
                moved.assign(protocol, fd, ec);
                if (ec)
                    ::close(fd);
            }
            if (ec) {
                core_.log().warn("cannot hand a connection to an I/O thread: " + ec.message());
                accept_next();
                return;
            }
            sock = std::move(moved);
        }
        if (connection_count() >= max_connections_) {
            ++core_counters_.refused;
            if (refusing_ < 64) {
                ++refusing_;
                asio::co_spawn(sh.ex, refuse(std::move(sock)), asio::detached);
            }
        } else {
            ++accepting_;
            asio::co_spawn(sh.ex, serve_http(sh, std::move(sock)), asio::detached);
        }
        accept_next();
    });
}

inline asio::awaitable<void> gateway::refuse(http::tcp::socket sock)
{
    auto alive = alive_;
    // Polite refusal: read the request head (briefly), answer 503.
    detail::tuple_timer timer(sock.get_executor());
    timer.expires_after(std::chrono::seconds{2});
    // `done`: the timer may have fired just before cancel() (then its handler
    // runs after this coroutine has ended and the socket is gone).
    auto done = std::make_shared<bool>(false);
    timer.async_wait([&sock, done](boost::system::error_code ec) {
        if (!ec && !*done)
            sock.close(ec);
    });
    boost::beast::flat_buffer buf;
    http::request req;
    {
        boost::beast::http::request_parser<boost::beast::http::string_body> p;
        p.header_limit(static_cast<std::uint32_t>(max_header_bytes_));
        auto [ec, n] = co_await boost::beast::http::async_read_header(sock, buf, p, detail::use_tuple);
        if (!ec)
            req = p.release();
    }
    if (sock.is_open()) {
        auto res = http::problem(req, http::status::service_unavailable,
                                 "too many connections; try again later");
        res.set(boost::beast::http::field::retry_after, "5");
        res.keep_alive(false);
        co_await boost::beast::http::async_write(sock, res, detail::use_tuple);
    }
    *done = true;
    timer.cancel();
    boost::system::error_code ec;
    sock.shutdown(http::tcp::socket::shutdown_both, ec);
    sock.close(ec);
    if (*alive)
        --refusing_;
}

inline void gateway::arm_sweep()
{
    sweep_timer_.expires_after(std::chrono::milliseconds{250});
    sweep_timer_.async_wait([this, alive = alive_](boost::system::error_code ec) {
        if (ec || !*alive)
            return;
        // Accepting stopped on an error (out of file descriptors): try again.
        if (running_ && !draining_ && !accept_pending_)
            accept_next();
        if (shards_.front()->is_core())
            sweep(*shards_.front());
        if (running_)
            arm_sweep();
    });
}

inline void gateway::arm_shard_sweep(shard& sh)
{
    sh.sweep_timer.expires_after(std::chrono::milliseconds{250});
    sh.sweep_timer.async_wait([this, &sh](boost::system::error_code ec) {
        if (ec)
            return;
        sweep(sh);
        arm_shard_sweep(sh);
    });
}

inline void gateway::sweep(shard& sh)
{
    auto const now = std::chrono::steady_clock::now();
    // Index loop: a sweep may remove connections (swap-remove keeps the rest in place).
    for (std::size_t i = 0; i < sh.conns.size();) {
        auto* c = sh.conns[i].get();
        c->sweep(now);
        if (i < sh.conns.size() && sh.conns[i].get() == c)
            ++i;
    }
    refresh_stats(sh);
}

inline void gateway::refresh_stats(shard& sh)
{
    std::size_t msgs = 0, bytes = 0;
    for (auto const& c : sh.conns)
        if (auto const* s = dynamic_cast<http::stream_session const*>(c.get())) {
            msgs += s->queued_messages();
            bytes += s->queued_bytes();
        }
    sh.queued_messages = msgs;
    sh.queued_bytes = bytes;
    sh.rooms = sh.hub.room_count();
}

// --- HTTP -----------------------------------------------------------------------

inline http::auth_result gateway::authenticate(http::request const& req, http::target const& t,
                                               std::string_view remote) const
{
    auto const token = t.get("token");
    return auth_->authenticate(http::credentials{.authorization = req[boost::beast::http::field::authorization],
                                                 .query_token = token ? *token : std::string_view{},
                                                 .remote = remote});
}

inline asio::awaitable<void> gateway::serve_http(shard& sh, http::tcp::socket sock)
{
    namespace bhttp = boost::beast::http;
    auto const alive = alive_;
    auto conn = std::make_shared<http_conn>(sock, sh.counters);
    add_conn(sh, conn);
    --accepting_;
    auto const& limits = sh.limits;
    boost::beast::flat_buffer buf;
    bool first = true;
    std::string remote;
    {
        boost::system::error_code ec;
        auto ep = sock.remote_endpoint(ec);
        if (!ec)
            remote = ep.address().to_string();
    }
    for (;;) {
        auto const now = std::chrono::steady_clock::now();
        if (buf.size() == 0) {
            conn->set(http_conn::phase::idle, now + (first ? limits.read_timeout : limits.idle_timeout));
            auto [ec] = co_await sock.async_wait(http::tcp::socket::wait_read, detail::use_tuple);
            if (ec || !*alive || !conn->keep_alive_allowed())
                break;
        }
        first = false;
        conn->set(http_conn::phase::reading, std::chrono::steady_clock::now() + limits.read_timeout);
        bhttp::request_parser<bhttp::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(max_header_bytes_, 0xFFFFFFFF)));
        parser.body_limit(max_body_bytes_);
        auto [ec, n] = co_await bhttp::async_read(sock, buf, parser, detail::use_tuple);
        if (!*alive)
            co_return;
        if (ec) {
            std::optional<http::response> res;
            http::request blank;
            blank.version(11);
            if (ec == bhttp::error::header_limit)
                res = http::problem(blank, http::status::request_header_fields_too_large,
                                    "request headers exceed " + std::to_string(max_header_bytes_) + " bytes");
            else if (ec == bhttp::error::body_limit)
                res = http::problem(blank, http::status::payload_too_large,
                                    "request body exceeds " + std::to_string(max_body_bytes_) + " bytes");
            else if (ec != bhttp::error::end_of_stream && ec != asio::error::operation_aborted &&
                     ec != asio::error::bad_descriptor && ec != asio::error::eof &&
                     ec != asio::error::connection_reset && sock.is_open())
                res = http::problem(blank, http::status::bad_request, "malformed HTTP request: " + ec.message());
            if (res) {
                res->keep_alive(false);
                conn->set(http_conn::phase::writing, std::chrono::steady_clock::now() + limits.read_timeout);
                co_await bhttp::async_write(sock, *res, detail::use_tuple);
            }
            break;
        }
        ++sh.counters.http_requests;
        conn->set(http_conn::phase::handling, {});
        auto req = parser.release();
        auto const t = http::parse_target(req.target());
        std::optional<http::response> res;
        if (t.bad) {
            res = http::problem(req, http::status::bad_request, "malformed percent-encoding in the request target");
        } else {
            auto who = authenticate(req, t, remote);
            if (auto* fail = std::get_if<http::auth_failure>(&who)) {
                res = http::problem(req, static_cast<http::status>(fail->status), fail->reason);
                if (fail->status == 401)
                    res->set(bhttp::field::www_authenticate, R"(Bearer realm="jobwatch")");
            } else {
                auto const holder = std::get<std::shared_ptr<principal const>>(who);
                auto const& p = *holder;
                if (t.path == "/ws") {
                    if (!boost::beast::websocket::is_upgrade(req)) {
                        res = http::problem(req, http::status::upgrade_required,
                                            "this is the WebSocket endpoint: send an upgrade request");
                        res->set(bhttp::field::upgrade, "websocket");
                    } else if (!http::has_scope(p, auth_scope::read)) {
                        res = http::problem(req, http::status::forbidden, "the read scope is required");
                    } else if (draining_) {
                        res = http::problem(req, http::status::service_unavailable, "the server is shutting down");
                    } else {
                        // Hand the socket (and any bytes behind the request) to the session.
                        std::string preread(boost::beast::buffers_to_string(buf.data()));
                        // Registered before the HTTP connection leaves: a drain never sees zero in between.
                        conn->release();
                        start_ws(sh, std::move(sock), std::move(preread), std::move(req), holder);
                        remove_conn(sh, *conn);
                        co_return;
                    }
                } else if (t.path == "/api/v1/stream") {
                    if (req.method() != http::verb::get) {
                        res = http::method_not_allowed(req, "GET");
                    } else {
                        // (GCC 12: no temporaries inside a co_await expression.)
                        stream_plan plan;
                        if (sh.is_core()) {
                            plan = plan_sse(req, t, p, sh);
                        } else {
                            auto start = [&](auto done) { done(plan_sse(req, t, p, sh)); };
                            plan = co_await on_core<stream_plan>(sh, std::move(start));
                        }
                        if (!*alive)
                            co_return;
                        if (plan.refusal) {
                            res = std::move(plan.refusal);
                        } else {
                            conn->release();
                            start_sse(sh, std::move(sock), std::move(plan));
                            remove_conn(sh, *conn);
                            co_return;
                        }
                    }
                } else if (t.path == "/api/v1/poll") {
                    if (req.method() != http::verb::get) {
                        res = http::method_not_allowed(req, "GET");
                    } else {
                        conn->set(http_conn::phase::polling, {});
                        if (sh.is_core()) {
                            res = co_await long_poll(req, t, p);
                        } else {
                            auto start = [&](auto done) {
                                asio::co_spawn(core_.get_executor(), long_poll(req, t, p),
                                               [&req, done = std::move(done)](std::exception_ptr e,
                                                                              http::response r) mutable {
                                                   if (e)
                                                       r = http::problem(req, http::status::internal_server_error,
                                                                         "the long-poll failed");
                                                   done(std::move(r));
                                               });
                            };
                            res = co_await on_core<http::response>(sh, std::move(start));
                        }
                        if (!*alive)
                            co_return;
                        conn->set(http_conn::phase::handling, {});
                    }
                } else {
                    if (sh.is_core()) {
                        res = rest_.handle(req, t, p);
                    } else {
                        auto start = [&](auto done) { done(rest_.handle(req, t, p)); };
                        res = co_await on_core<http::response>(sh, std::move(start));
                    }
                    if (!*alive)
                        co_return;
                }
            }
        }
        if (draining_ || !conn->keep_alive_allowed())
            res->keep_alive(false);
        if (req.method() == http::verb::head)
            res->body().clear();
        conn->set(http_conn::phase::writing, std::chrono::steady_clock::now() + limits.read_timeout);
        auto [wec, wn] = co_await bhttp::async_write(sock, *res, detail::use_tuple);
        if (!*alive)
            co_return;
        if (wec || !res->keep_alive())
            break;
    }
    if (!*alive)
        co_return;
    boost::system::error_code ec;
    sock.shutdown(http::tcp::socket::shutdown_send, ec);
    sock.close(ec);
    conn->release();
    remove_conn(sh, *conn);
}

// --- hops between a shard and the core ------------------------------------------------

template<class R, class Start, class Then>
void gateway::hop(shard& sh, Start start, Then then)
{
    if (sh.is_core()) {
        start([then = std::move(then)](R r) mutable { then(std::move(r)); });
        return;
    }
    ++hops_;
    asio::post(core_.get_executor(), [this, &sh, start = std::move(start), then = std::move(then)]() mutable {
        start([this, &sh, then = std::move(then)](R r) mutable {
            // Room messages queued before this answer go first: the shard sees
            // them before it subscribes (they are in the snapshot), and every
            // later one after (posts from one thread run in order).
            send_batches();
            asio::post(sh.ex, [this, r = std::move(r), then = std::move(then)]() mutable {
                then(std::move(r));
                --hops_;
            });
        });
    });
}

template<class R, class Start>
asio::awaitable<R> gateway::on_core(shard& sh, Start start)
{
    return asio::async_initiate<decltype(asio::use_awaitable), void(R)>(
        [this, &sh](auto handler, Start st) {
            this->template hop<R>(sh, std::move(st), [h = std::move(handler)](R r) mutable { std::move(h)(std::move(r)); });
        },
        asio::use_awaitable, std::move(start));
}

// --- WebSocket ----------------------------------------------------------------------

inline void gateway::start_ws(shard& sh, http::tcp::socket sock, std::string preread, http::request req,
                              std::shared_ptr<principal const> who)
{
    auto const id = next_conn_id_++;
    welcome_message w{.connection_id = "c" + std::to_string(id),
                      .server_version = std::string(version),
                      .protocol = protocol_version,
                      .heartbeat_ms = sh.limits.heartbeat.count(),
                      .max_message_bytes = static_cast<std::int64_t>(sh.limits.max_message_bytes),
                      .subject = who->subject.empty() ? std::nullopt : std::optional<std::string>(who->subject),
                      .tenant_id = who->tenant_id};
    auto s = std::make_shared<http::ws_session>(sh.hub, sh.limits, sh.counters, sh, std::move(sock),
                                                std::move(preread), std::move(who), id);
    add_conn(sh, s);
    s->start(std::move(req), http::encode_message(w));
}

inline bool gateway::on_ws_message(shard& sh, http::ws_session& s, std::string_view text)
{
    auto reply_error = [&](std::optional<std::string> id, protocol_error code, std::string message,
                           std::optional<std::string> path) {
        ++sh.counters.ws_bad_messages;
        s.send(http::encode_message(error_message{
            .id = std::move(id), .code = code, .message = std::move(message), .path = std::move(path)}));
        return true;
    };
    unsigned char scratch[4096];
    boost::json::monotonic_resource mr(scratch, sizeof scratch);
    boost::system::error_code ec;
    auto const jv = boost::json::parse(text, ec, &mr);
    if (ec)
        return reply_error(std::nullopt, protocol_error::bad_json, "not JSON: " + ec.message(), std::string());
    auto const* obj = jv.if_object();
    if (!obj)
        return reply_error(std::nullopt, protocol_error::invalid_message, "a message is a JSON object",
                           std::string());
    std::optional<std::string> id;
    if (auto const* idv = obj->if_contains("id"); idv && idv->is_string())
        id = std::string(idv->get_string());
    auto const* type = obj->if_contains("type");
    if (!type || !type->is_string())
        return reply_error(id, protocol_error::invalid_message, "a message needs a string \"type\"",
                           std::string("/type"));
    auto const t = std::string_view(type->get_string());
    if (t != "subscribe" && t != "unsubscribe" && t != "subscriptions" && t != "ping" && t != "publish")
        return reply_error(id, protocol_error::unknown_type,
                           "unknown message type \"" + std::string(t) +
                               "\"; expected subscribe, unsubscribe, subscriptions, ping or publish",
                           std::string("/type"));
    auto msg = parse_value<client_message>(jv);
    if (!msg)
        return reply_error(id, protocol_error::invalid_message, msg.error().message, msg.error().path);
    return std::visit(
        [&](auto& m) -> bool {
            using T = std::decay_t<decltype(m)>;
            if constexpr (std::is_same_v<T, subscribe_request>) {
                return ws_subscribe(sh, s, std::move(m));
            } else if constexpr (std::is_same_v<T, unsubscribe_request>) {
                if (sh.hub.unsubscribe(s, m.room))
                    s.send(http::encode_message(unsubscribed_message{.id = m.id, .room = m.room}));
                else
                    reply_error(m.id, protocol_error::not_found, "not subscribed to " + m.room, std::string("/room"));
                return true;
            } else if constexpr (std::is_same_v<T, subscriptions_request>) {
                std::vector<std::string> rooms;
                for (auto const& sub : s.subscriptions())
                    rooms.push_back(sub.room->name);
                if (sh.is_core()) {
                    s.send(subscriptions_reply(m.id, std::move(rooms)));
                    return true;
                }
                auto self = std::static_pointer_cast<http::ws_session>(s.shared_from_this());
                hop<http::wire_ptr>(
                    sh,
                    [this, id = m.id, rooms = std::move(rooms)](auto done) mutable {
                        done(subscriptions_reply(std::move(id), std::move(rooms)));
                    },
                    [self](http::wire_ptr reply) {
                        self->send(std::move(reply));
                        self->resume_reading();
                    });
                return false;
            } else if constexpr (std::is_same_v<T, ping_request>) {
                s.send(http::encode_message(pong_message{.id = m.id}));
                return true;
            } else {
                return ws_publish(sh, s, std::move(m));
            }
        },
        *msg);
}

inline http::wire_ptr gateway::subscriptions_reply(std::optional<std::string> id, std::vector<std::string> rooms) const
{
    subscriptions_message out{.id = std::move(id), .rooms = {}};
    for (auto& room : rooms) {
        auto const seq = static_cast<std::int64_t>(core_.events().position(room));
        out.rooms.push_back({.room = std::move(room), .seq = seq});
    }
    std::sort(out.rooms.begin(), out.rooms.end(), [](auto const& a, auto const& b) { return a.room < b.room; });
    return http::encode_message(out);
}

inline std::optional<snapshot> gateway::snapshot_of(std::string_view room) const
{
    if (room.starts_with("job:")) {
        auto const n = rooms::parse(room);
        if (auto const* rec = n ? core_.store().find(n->tenant, n->id) : nullptr)
            return snapshot{core_.store().snapshot(*rec)};
        return std::nullopt;
    }
    if (room == rooms::health) {
        if (auto* h = core_.find<health>())
            return snapshot{h->report()};
        if (auto r = core_.latest_health())
            return snapshot{*r};
        return std::nullopt;
    }
    if (room == rooms::alerts)
        return std::nullopt;
    if (auto* agg = core_.find<aggregator>()) {
        if (auto s = agg->summary_of(room))
            return snapshot{std::move(*s)};
        // A scope with no job yet: a summary of zeros, as the aggregator would send.
        return snapshot{agg->metrics().summary_of(room, core_.now())};
    }
    return std::nullopt;
}

inline bool gateway::ws_subscribe(shard& sh, http::ws_session& s, subscribe_request r)
{
    constexpr std::size_t max_rooms_per_connection = 1000;
    if (s.subscriptions().size() >= max_rooms_per_connection && !s.find_subscription(sh.hub.find(r.room))) {
        s.send(http::encode_message(error_message{
            .id = r.id,
            .code = protocol_error::rate_limited,
            .message = "at most " + std::to_string(max_rooms_per_connection) + " rooms per connection",
            .path = "/room"}));
        return true;
    }
    if (sh.is_core()) {
        auto plan = plan_subscribe(s.who(), r, sh);
        apply_plan(sh, s, plan);
        return true;
    }
    auto self = std::static_pointer_cast<http::ws_session>(s.shared_from_this());
    hop<stream_plan>(
        sh,
        [this, &sh, who = s.who_ptr(), r = std::move(r)](auto done) mutable { done(plan_subscribe(*who, r, sh)); },
        [this, &sh, self](stream_plan plan) {
            apply_plan(sh, *self, plan);
            self->resume_reading();
        });
    return false;
}

inline gateway::stream_plan gateway::plan_subscribe(principal const& who, subscribe_request const& r,
                                                    shard const& sh)
{
    stream_plan plan;
    auto send = [&](http::wire_ptr m) { plan.msgs.emplace_back(std::move(m), false); };
    auto const access = http::check_room(who, r.room, core_.store());
    if (access != http::room_access::allowed) {
        bool const nf = access == http::room_access::not_found;
        plan.error = true;
        send(http::encode_message(error_message{
            .id = r.id,
            .code = nf ? protocol_error::not_found : protocol_error::forbidden,
            .message = nf ? "no room " + r.room : "not allowed to subscribe to " + r.room,
            .path = "/room"}));
        return plan;
    }
    // Granted before the snapshot is taken: every later room message reaches the shard.
    grant(r.room, sh);
    plan.rooms.push_back(r.room);
    auto const& log = core_.events();
    if (r.since) {
        auto const since = static_cast<std::uint64_t>(std::max<std::int64_t>(*r.since, 0));
        auto replay = log.replay(r.room, since);
        if (!replay.reset) {
            send(http::encode_message(subscribed_message{
                .id = r.id, .room = r.room, .seq = static_cast<std::int64_t>(replay.seq), .snapshot = std::nullopt}));
            for (auto const& e : replay.entries)
                plan.msgs.emplace_back(http::encode_entry(r.room, e), true);
            return plan;
        }
        send(http::encode_message(reset_message{
            .room = r.room, .seq = static_cast<std::int64_t>(replay.seq), .reason = "history_truncated"}));
    }
    send(http::encode_message(subscribed_message{.id = r.id,
                                                 .room = r.room,
                                                 .seq = static_cast<std::int64_t>(log.position(r.room)),
                                                 .snapshot = snapshot_of(r.room)}));
    return plan;
}

inline void gateway::apply_plan(shard& sh, http::stream_session& s, stream_plan& plan)
{
    if (plan.error)
        ++sh.counters.ws_bad_messages;
    for (auto const& room : plan.rooms) {
        // A repeated subscribe starts over (the client resumes or resyncs).
        sh.hub.unsubscribe(s, room);
        if (s.finished()) {
            // Gone while the core answered: its grant goes back.
            if (sh.hub.on_leave)
                sh.hub.on_leave(room);
            continue;
        }
        sh.hub.subscribe(s, room);
    }
    for (auto& [m, room_message] : plan.msgs) {
        if (room_message)
            s.deliver(m);
        else
            s.send(std::move(m));
    }
}

inline bool gateway::ws_publish(shard& sh, http::ws_session& s, publish_request r)
{
    auto fail = [&](protocol_error code, std::string message, std::string path) {
        ++sh.counters.ws_bad_messages;
        s.send(http::encode_message(
            error_message{.id = r.id, .code = code, .message = std::move(message), .path = std::move(path)}));
        return true;
    };
    if (!http::has_scope(s.who(), auth_scope::publish))
        return fail(protocol_error::forbidden, "the publish scope is required", "");
    auto self = std::static_pointer_cast<http::ws_session>(s.shared_from_this());
    auto then = [&sh, self, resume = !sh.is_core()](std::pair<http::wire_ptr, bool> reply) {
        if (reply.second)
            ++sh.counters.ws_bad_messages;
        self->send(std::move(reply.first));
        if (resume)
            self->resume_reading();
    };
    hop<std::pair<http::wire_ptr, bool>>(
        sh, [this, r = std::move(r), who = s.who_ptr()](auto done) mutable { done(publish_reply(std::move(r), *who)); },
        std::move(then));
    return sh.is_core();
}

inline std::pair<http::wire_ptr, bool> gateway::publish_reply(publish_request r, principal const& who)
{
    auto id = r.id;
    auto const res = core_.publish(std::move(r.event), &who);
    if (res.status == publish_status::invalid || res.status == publish_status::forbidden ||
        res.status == publish_status::conflict)
        return {http::encode_message(error_message{.id = std::move(id),
                                                   .code = res.status == publish_status::invalid
                                                               ? protocol_error::invalid_message
                                                               : protocol_error::forbidden,
                                                   .message = res.error.message,
                                                   .path = "/event" + res.error.path}),
                true};
    return {http::encode_message(published_message{.id = std::move(id), .seq = static_cast<std::int64_t>(res.seq)}),
            false};
}

// --- fan-out ----------------------------------------------------------------------

inline void gateway::on_room_message(room_message const& m)
{
    auto const sharded = !shards_.front()->is_core();
    auto route = [&](std::string_view room, auto&& encode) {
        // Long-polls parked on the room wake up (they hold no subscription: nothing is encoded).
        polls_.dispatch(room, encode);
        if (!sharded)
            return shards_.front()->hub.dispatch(room, encode);
        auto it = watched_.find(room);
        if (it == watched_.end())
            return;
        // One encoding, one shared buffer for every shard that watches the room.
        http::wire_ptr const msg = encode();
        for (std::size_t i = 0; i < it->second.size(); ++i) {
            if (it->second[i] == 0)
                continue;
            // A shard that fell this far behind does not queue more: its
            // subscribers of the room are told they lagged, and they resume
            // from the event log. Once a room lost a message, every later one
            // is turned away too until that notice is on its way (no gap).
            auto& lost = lost_[i];
            auto const turned_away = std::find_if(lost.begin(), lost.end(), [&](auto const& l) {
                return l.first == room;
            }) != lost.end();
            if (turned_away)
                continue;
            if (shards_[i]->backlog.load(std::memory_order_relaxed) + batches_[i].size() >= max_shard_backlog_) {
                lost.emplace_back(room, msg->seq);
                continue;
            }
            batches_[i].push_back(msg);
        }
        if (!batches_posted_) {
            batches_posted_ = true;
            asio::post(core_.get_executor(), [this, alive = alive_] {
                if (*alive)
                    send_batches();
            });
        }
    };
    std::visit(
        [&](auto const& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, event_out>) {
                auto const& ev = *v.event;
                auto const& rooms = *ev.rooms;
                for (std::size_t i = 0; i < rooms.size(); ++i)
                    route(rooms[i], [&] { return http::encode_event(rooms[i], ev); });
            } else if constexpr (std::is_same_v<T, summary_out>) {
                route(v.room, [&] { return http::encode_summary(v.room, v.seq, *v.value); });
            } else if constexpr (std::is_same_v<T, alert_out>) {
                route(rooms::alerts, [&] { return http::encode_alert(v.seq, *v.value); });
            } else {
                route(rooms::health, [&] { return http::encode_health(v.seq, *v.value); });
            }
        },
        m);
}

inline void gateway::send_batches()
{
    batches_posted_ = false;
    for (std::size_t i = 0; i < batches_.size(); ++i) {
        if (batches_[i].empty() && lost_[i].empty())
            continue;
        auto& sh = *shards_[i];
        sh.backlog.fetch_add(batches_[i].size(), std::memory_order_relaxed);
        asio::post(sh.ex, [&sh, batch = std::move(batches_[i]), lost = std::move(lost_[i])] {
            for (auto const& m : batch)
                sh.hub.dispatch(m->room, [&m] { return m; });
            sh.backlog.fetch_sub(batch.size(), std::memory_order_relaxed);
            // After the messages that did arrive: the notice says where to resume.
            for (auto const& [room, seq] : lost)
                lag_room(sh, room, seq);
        });
        batches_[i] = {};
        lost_[i] = {};
    }
}

inline void gateway::lag_room(shard& sh, std::string const& room, std::uint64_t seq)
{
    auto const* r = sh.hub.find(room);
    if (!r || r->subs.empty())
        return;
    auto const notice = http::encode_message(
        lagged_message{.room = room, .resume_from = static_cast<std::int64_t>(seq - 1)});
    // A copy: each unsubscribe changes the room's list (and the last one releases the room).
    auto const subs = r->subs;
    for (auto* s : subs) {
        s->send(notice);
        ++sh.counters.lagged;
        sh.hub.unsubscribe(*s, room);
    }
}

inline void gateway::grant(std::string const& room, shard const& sh)
{
    if (sh.is_core())
        return;
    auto& counts = watched_[room];
    if (counts.empty())
        counts.resize(shards_.size());
    ++counts[sh.index];
}

inline void gateway::release(std::string const& room, std::size_t shard_index)
{
    auto it = watched_.find(room);
    if (it == watched_.end() || it->second[shard_index] == 0)
        return;
    --it->second[shard_index];
    if (std::all_of(it->second.begin(), it->second.end(), [](std::uint32_t n) { return n == 0; }))
        watched_.erase(it);
}

// --- SSE and long-poll --------------------------------------------------------------

inline std::optional<http::response> gateway::check_rooms(http::request const& req,
                                                          std::vector<std::string> const& rooms,
                                                          principal const& who) const
{
    if (rooms.empty())
        return http::problem(req, http::status::bad_request, "name at least one room: ?room=queue:emails");
    if (rooms.size() > 100)
        return http::problem(req, http::status::bad_request, "at most 100 rooms per request");
    for (auto const& room : rooms) {
        if (!http::valid_room(room))
            return http::problem(req, http::status::bad_request, "not a room name: " + room);
        auto const a = http::check_room(who, room, core_.store());
        if (a == http::room_access::not_found)
            return http::problem(req, http::status::not_found, "no room " + room);
        if (a == http::room_access::forbidden)
            return http::problem(req, http::status::forbidden, "not allowed to read " + room);
    }
    return std::nullopt;
}

inline gateway::stream_plan gateway::plan_sse(http::request const& req, http::target const& t, principal const& who,
                                              shard const& sh)
{
    stream_plan plan;
    auto const rooms = t.all("room");
    if ((plan.refusal = check_rooms(req, rooms, who)))
        return plan;
    std::optional<std::uint64_t> since;
    auto last = req["Last-Event-ID"];
    if (last.empty())
        if (auto q = t.get("since"))
            last = *q;
    if (!last.empty()) {
        bool bad = false;
        since = http::to_uint(last, bad);
        if (bad) {
            plan.refusal = http::problem(req, http::status::bad_request, "Last-Event-ID must be a sequence number");
            return plan;
        }
    }
    auto const& log = core_.events();
    for (auto const& room : rooms) {
        grant(room, sh);
        plan.rooms.push_back(room);
        if (since) {
            auto replay = log.replay(room, *since);
            if (!replay.reset) {
                for (auto const& e : replay.entries)
                    plan.msgs.emplace_back(http::encode_entry(room, e), true);
                continue;
            }
            plan.msgs.emplace_back(http::encode_message(reset_message{.room = room,
                                                                      .seq = static_cast<std::int64_t>(replay.seq),
                                                                      .reason = "history_truncated"}),
                                   false);
        }
        plan.msgs.emplace_back(http::encode_message(subscribed_message{.id = std::nullopt,
                                                                       .room = room,
                                                                       .seq = static_cast<std::int64_t>(log.position(room)),
                                                                       .snapshot = snapshot_of(room)}),
                               false);
    }
    return plan;
}

inline void gateway::start_sse(shard& sh, http::tcp::socket sock, stream_plan plan)
{
    auto s = std::make_shared<sse_session>(sh, std::move(sock));
    add_conn(sh, s);
    std::string head = "HTTP/1.1 200 OK\r\nServer: jobwatch\r\nContent-Type: text/event-stream\r\n"
                       "Cache-Control: no-store\r\nConnection: keep-alive\r\nX-Accel-Buffering: no\r\n\r\n";
    // The reconnection delay a browser's EventSource waits.
    head += "retry: 2000\n\n";
    s->start(std::move(head));
    apply_plan(sh, *s, plan);
    // Shutdown began while the core prepared the stream.
    if (draining_)
        s->shutdown();
}

inline asio::awaitable<http::response> gateway::long_poll(http::request const& req, http::target const& t,
                                                          principal const& who)
{
    auto const rooms = t.all("room");
    if (auto refused = check_rooms(req, rooms, who))
        co_return std::move(*refused);
    bool bad = false;
    std::optional<std::uint64_t> since;
    if (t.get("since"))
        since = http::uint_param(t, "since", 0, bad);
    auto const timeout = http::uint_param(t, "timeout_ms", 25'000, bad);
    if (bad)
        co_return http::problem(req, http::status::bad_request, "since and timeout_ms must be non-negative integers");
    auto const wait = std::chrono::milliseconds{std::min<std::uint64_t>(timeout, 60'000)};

    // Collects what there is after `since`; the messages are the WebSocket ones.
    auto collect = [&](std::string& out, std::uint64_t& next) {
        std::vector<std::pair<std::uint64_t, http::wire_ptr>> msgs;
        auto const& log = core_.events();
        for (auto const& room : rooms) {
            if (!since) {
                msgs.emplace_back(0, http::encode_message(subscribed_message{
                                         .id = std::nullopt,
                                         .room = room,
                                         .seq = static_cast<std::int64_t>(log.position(room)),
                                         .snapshot = snapshot_of(room)}));
                continue;
            }
            auto replay = log.replay(room, *since);
            if (replay.reset) {
                msgs.emplace_back(0, http::encode_message(reset_message{
                                         .room = room, .seq = static_cast<std::int64_t>(replay.seq),
                                         .reason = "history_truncated"}));
                msgs.emplace_back(0, http::encode_message(subscribed_message{
                                         .id = std::nullopt,
                                         .room = room,
                                         .seq = static_cast<std::int64_t>(replay.seq),
                                         .snapshot = snapshot_of(room)}));
                next = std::max(next, replay.seq);
                continue;
            }
            for (auto const& e : replay.entries)
                msgs.emplace_back(e.seq, http::encode_entry(room, e));
        }
        std::stable_sort(msgs.begin(), msgs.end(), [](auto const& a, auto const& b) { return a.first < b.first; });
        if (!since)
            next = std::max(next, log.last_seq());
        for (auto const& [seq, m] : msgs) {
            if (!out.empty())
                out += ',';
            out.append(m->payload());
            next = std::max(next, seq);
        }
        return !msgs.empty();
    };

    std::string items;
    std::uint64_t next = since.value_or(0);
    if (!collect(items, next) && wait.count() > 0) {
        // Park on the rooms until a message arrives, the timeout, or shutdown.
        detail::tuple_timer timer(co_await asio::this_coro::executor);
        auto const deadline = std::chrono::steady_clock::now() + wait;
        std::function<void()> wake = [&timer] { timer.cancel(); };
        auto alive = alive_;
        // Shutdown wakes every parked poll (polls_.wake_all).
        while (items.empty() && std::chrono::steady_clock::now() < deadline && !draining_) {
            for (auto const& room : rooms)
                polls_.park(room, &wake);
            timer.expires_at(deadline);
            co_await timer.async_wait();
            if (!*alive)
                co_return http::response{};
            for (auto const& room : rooms)
                polls_.unpark(room, &wake);
            collect(items, next);
        }
    }
    std::string body = R"({"messages":[)";
    body += items;
    body += R"(],"seq":)";
    body += std::to_string(next);
    body += '}';
    co_return http::json_response(req, http::status::ok, std::move(body));
}

// --- monitor ---------------------------------------------------------------------

inline std::string gateway::connections_json() const
{
    boost::json::object o;
    std::size_t all = 0, ws = 0, sse = 0, queued_msgs = 0, queued_bytes = 0;
    boost::json::array shards;
    for (auto const& p : shards_) {
        auto& sh = *p;
        // The core's own shard is read now; another shard's queue figures are as of its last sweep.
        if (sh.is_core())
            refresh_stats(sh);
        auto const n = sh.open.load();
        all += n;
        ws += sh.ws.load();
        sse += sh.sse.load();
        queued_msgs += sh.queued_messages.load();
        queued_bytes += sh.queued_bytes.load();
        shards.push_back(boost::json::object{
            {"connections", n}, {"rooms", sh.rooms.load()}, {"backlog", sh.backlog.load()}});
    }
    all += accepting_.load();
    o["connections"] = all;
    o["websocket"] = ws;
    o["sse"] = sse;
    o["http"] = all - std::min(all, ws + sse);
    o["max_connections"] = max_connections_;
    o["rooms"] = room_count();
    o["queued_messages"] = queued_msgs;
    o["queued_bytes"] = queued_bytes;
    o["threads"] = shards_.front()->is_core() ? 0 : shards_.size();
    o["shards"] = std::move(shards);
    auto const c = counters();
    o["counters"] = boost::json::object{{"accepted", c.accepted.load()},
                                        {"refused", c.refused.load()},
                                        {"http_requests", c.http_requests.load()},
                                        {"ws_messages_in", c.ws_messages_in.load()},
                                        {"ws_bad_messages", c.ws_bad_messages.load()},
                                        {"frames_out", c.frames_out.load()},
                                        {"write_calls", c.write_calls.load()},
                                        {"coalesced", c.coalesced.load()},
                                        {"lagged", c.lagged.load()},
                                        {"overflow_closes", c.overflow_closes.load()},
                                        {"dead_peers", c.dead_peers.load()},
                                        {"timeouts", c.timeouts.load()}};
    std::vector<std::pair<std::size_t, std::string>> top;
    if (shards_.front()->is_core())
        shards_.front()->hub.for_each_room([&](http::room_state const& r) { top.emplace_back(r.subs.size(), r.name); });
    else
        for (auto const& [name, counts] : watched_) {
            std::size_t subs = 0;
            for (auto n : counts)
                subs += n;
            top.emplace_back(subs, name);
        }
    std::sort(top.begin(), top.end(), [](auto const& a, auto const& b) { return a.first > b.first; });
    boost::json::array rooms;
    for (std::size_t i = 0; i < top.size() && i < 20; ++i)
        rooms.push_back(boost::json::object{{"room", top[i].second}, {"subscribers", top[i].first}});
    o["top_rooms"] = std::move(rooms);
    return boost::json::serialize(o);
}

}  // namespace jobwatch

#endif
