#ifndef JOBWATCH_COMPONENTS_IMPL_GATEWAY_HPP
#define JOBWATCH_COMPONENTS_IMPL_GATEWAY_HPP

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <algorithm>

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
    void set_wake(std::function<void()>* wake) noexcept { wake_ = wake; }
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
        if (phase_ == phase::idle)
            abort();
        else if (phase_ == phase::polling && wake_)
            (*wake_)();
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
    std::function<void()>* wake_ = nullptr;
    bool stopping_ = false;
};

/** @brief A Server-Sent Events stream: the same room messages as WebSocket,
    as `id: <seq>` / `event: <type>` / `data: <json>` records, through the same
    bounded queue and overflow ladder. Heartbeats are comment lines. */
class gateway::sse_session final : public http::stream_session
{
public:
    sse_session(gateway& g, http::tcp::socket sock)
        : stream_session(g.hub_, g.limits_, g.counters_), gw_(&g), sock_(std::move(sock))
    {
    }

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
    void detach_gateway() noexcept { gw_ = nullptr; }

private:
    http::tcp::socket& socket() noexcept override { return sock_; }
    bool is_sse() const noexcept override { return true; }
    void on_finished() override
    {
        if (gw_)
            gw_->remove_conn(*this);
    }

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

    gateway* gw_;
    http::tcp::socket sock_;
    char probe_[1] = {};
};

// --- construction -------------------------------------------------------------

inline gateway::gateway(core& c, config cfg)
    : core_(c)
    , cfg_(std::move(cfg))
    , auth_(cfg_.auth ? cfg_.auth : http::make_authenticator(c.settings().auth))
    , max_connections_(static_cast<std::size_t>(std::max<std::int64_t>(c.settings().gateway.max_connections, 1)))
    , max_header_bytes_(static_cast<std::size_t>(c.settings().gateway.max_header_bytes))
    , max_body_bytes_(static_cast<std::size_t>(c.settings().gateway.max_body_bytes))
    , hub_(c.get_executor())
    , rest_(c, http::rest_api::hooks{.connections_json = [this] { return connections_json(); },
                                     .ready = [this] { return running_ && !draining_; }})
    , acceptor_(c.get_executor())
    , sweep_timer_(c.get_executor())
{
    apply_settings(c.settings());
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
    // Whatever is still pending (the app stopped the context) must not reach back here.
    *alive_ = false;
    for (auto& c : conns_)
        if (auto* s = dynamic_cast<http::stream_session*>(c.get())) {
            if (auto* sse = dynamic_cast<sse_session*>(s))
                sse->detach_gateway();
            s->detach();
        } else {
            c->abort();
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
}

// --- run and shutdown --------------------------------------------------------------

inline asio::awaitable<void> gateway::run()
{
    if (bind_error_) {
        core_.log().error(bind_what_ + ": " + bind_error_.message());
        throw boost::system::system_error(bind_error_, bind_what_);
    }
    if (core_.settings().gateway.threads > 0)
        core_.log().warn("gateway.threads > 0: I/O shards are not implemented yet; serving on the core thread");
    if (dynamic_cast<http::open_authenticator const*>(auth_.get()))
        core_.log().warn("!!! " + auth_->describe() + " !!!");
    else
        core_.log().info(auth_->describe());
    core_.log().info("gateway listening on http://" + acceptor_.local_endpoint().address().to_string() + ":" +
                     std::to_string(port_));
    running_ = true;
    accept_next();
    arm_sweep();

    co_await detail::wait_until_cancelled();

    // Drain: no new connections; every connection finishes its unit of work.
    co_await asio::this_coro::throw_if_cancelled(false);
    co_await asio::this_coro::reset_cancellation_state(asio::enable_terminal_cancellation());
    draining_ = true;
    boost::system::error_code ec;
    acceptor_.close(ec);
    auto const snapshot = conns_;
    for (auto& c : snapshot)
        c->shutdown();
    detail::tuple_timer t(co_await asio::this_coro::executor);
    auto const deadline = std::chrono::steady_clock::now() + std::chrono::seconds{10};
    while (!conns_.empty()) {
        auto cs = co_await asio::this_coro::cancellation_state;
        if (cs.cancelled() != asio::cancellation_type::none || std::chrono::steady_clock::now() >= deadline) {
            auto const left = conns_;
            for (auto& c : left)
                c->abort();
            break;
        }
        t.expires_after(std::chrono::milliseconds{10});
        co_await t.async_wait();
    }
    sweep_timer_.cancel();
    running_ = false;
}

inline void gateway::add_conn(std::shared_ptr<http::connection> c)
{
    c->registry_index = conns_.size();
    conns_.push_back(std::move(c));
}

inline void gateway::remove_conn(http::connection& c)
{
    auto const i = c.registry_index;
    if (i >= conns_.size() || conns_[i].get() != &c)
        return;
    // Swap-remove; the registry's reference goes after this call returns.
    auto keep = std::move(conns_[i]);
    if (i + 1 != conns_.size()) {
        conns_[i] = std::move(conns_.back());
        conns_[i]->registry_index = i;
    }
    conns_.pop_back();
    c.registry_index = static_cast<std::size_t>(-1);
    asio::post(core_.get_executor(), [keep = std::move(keep)] {});
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
        on_accept(ec, std::move(sock));
    });
}

inline void gateway::on_accept(boost::system::error_code ec, http::tcp::socket sock)
{
    if (ec == asio::error::operation_aborted || draining_)
        return;
    if (ec) {
        // EMFILE and friends: do not spin; the sweep re-arms accepting.
        core_.log().warn("accept failed: " + ec.message());
        return;
    }
    ++counters_.accepted;
    sock.set_option(http::tcp::no_delay(true), ec);
    if (conns_.size() >= max_connections_) {
        ++counters_.refused;
        if (refusing_ < 64) {
            ++refusing_;
            asio::co_spawn(core_.get_executor(), refuse(std::move(sock)), asio::detached);
        }
    } else {
        asio::co_spawn(core_.get_executor(), serve_http(std::move(sock), alive_), asio::detached);
    }
    accept_next();
}

inline asio::awaitable<void> gateway::refuse(http::tcp::socket sock)
{
    auto alive = alive_;
    // Polite refusal: read the request head (briefly), answer 503.
    detail::tuple_timer timer(sock.get_executor());
    timer.expires_after(std::chrono::seconds{2});
    // Cancelled (operation_aborted) when the refusal ends first: then the socket is not touched.
    timer.async_wait([&sock](boost::system::error_code ec) {
        if (!ec)
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
        sweep();
        if (running_)
            arm_sweep();
    });
}

inline void gateway::sweep()
{
    auto const now = std::chrono::steady_clock::now();
    // Accepting stopped on an error (out of file descriptors): try again.
    if (running_ && !draining_ && !accept_pending_)
        accept_next();
    // Index loop: a sweep may remove connections (swap-remove keeps the rest in place).
    for (std::size_t i = 0; i < conns_.size();) {
        auto* c = conns_[i].get();
        c->sweep(now);
        if (i < conns_.size() && conns_[i].get() == c)
            ++i;
    }
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

inline asio::awaitable<void> gateway::serve_http(http::tcp::socket sock, std::shared_ptr<bool> alive)
{
    namespace bhttp = boost::beast::http;
    auto conn = std::make_shared<http_conn>(sock, counters_);
    add_conn(conn);
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
            conn->set(http_conn::phase::idle, now + (first ? limits_.read_timeout : limits_.idle_timeout));
            auto [ec] = co_await sock.async_wait(http::tcp::socket::wait_read, detail::use_tuple);
            if (ec || !*alive || !conn->keep_alive_allowed())
                break;
        }
        first = false;
        conn->set(http_conn::phase::reading, std::chrono::steady_clock::now() + limits_.read_timeout);
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
                conn->set(http_conn::phase::writing, std::chrono::steady_clock::now() + limits_.read_timeout);
                co_await bhttp::async_write(sock, *res, detail::use_tuple);
            }
            break;
        }
        ++counters_.http_requests;
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
                    } else {
                        // Hand the socket (and any bytes behind the request) to the session.
                        std::string preread(boost::beast::buffers_to_string(buf.data()));
                        conn->release();
                        remove_conn(*conn);
                        start_ws(std::move(sock), std::move(preread), std::move(req), holder);
                        co_return;
                    }
                } else if (t.path == "/api/v1/stream") {
                    if (req.method() != http::verb::get) {
                        res = http::method_not_allowed(req, "GET");
                    } else {
                        res = start_sse(sock, req, t, p);
                        if (!res) {
                            conn->release();
                            remove_conn(*conn);
                            co_return;
                        }
                    }
                } else if (t.path == "/api/v1/poll") {
                    if (req.method() != http::verb::get) {
                        res = http::method_not_allowed(req, "GET");
                    } else {
                        res = co_await long_poll(req, t, p, *conn);
                        if (!*alive)
                            co_return;
                    }
                } else {
                    res = rest_.handle(req, t, p);
                }
            }
        }
        if (draining_ || !conn->keep_alive_allowed())
            res->keep_alive(false);
        if (req.method() == http::verb::head)
            res->body().clear();
        conn->set(http_conn::phase::writing, std::chrono::steady_clock::now() + limits_.read_timeout);
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
    remove_conn(*conn);
}

// --- WebSocket ----------------------------------------------------------------------

inline void gateway::start_ws(http::tcp::socket sock, std::string preread, http::request req,
                              std::shared_ptr<principal const> who)
{
    auto const id = next_conn_id_++;
    welcome_message w{.connection_id = "c" + std::to_string(id),
                      .server_version = std::string(version),
                      .protocol = protocol_version,
                      .heartbeat_ms = limits_.heartbeat.count(),
                      .max_message_bytes = static_cast<std::int64_t>(limits_.max_message_bytes),
                      .subject = who->subject.empty() ? std::nullopt : std::optional<std::string>(who->subject),
                      .tenant_id = who->tenant_id};
    auto s = std::make_shared<http::ws_session>(hub_, limits_, counters_, *this, std::move(sock), std::move(preread),
                                                std::move(who), id);
    add_conn(s);
    s->start(std::move(req), http::encode_message(w));
}

inline void gateway::on_ws_finished(http::ws_session& s) { remove_conn(s); }

inline void gateway::on_ws_message(http::ws_session& s, std::string_view text)
{
    auto reply_error = [&](std::optional<std::string> id, protocol_error code, std::string message,
                           std::optional<std::string> path) {
        ++counters_.ws_bad_messages;
        s.send(http::encode_message(error_message{
            .id = std::move(id), .code = code, .message = std::move(message), .path = std::move(path)}));
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
    std::visit(
        [&](auto& m) {
            using T = std::decay_t<decltype(m)>;
            if constexpr (std::is_same_v<T, subscribe_request>) {
                ws_subscribe(s, m);
            } else if constexpr (std::is_same_v<T, unsubscribe_request>) {
                if (hub_.unsubscribe(s, m.room))
                    s.send(http::encode_message(unsubscribed_message{.id = m.id, .room = m.room}));
                else
                    reply_error(m.id, protocol_error::not_found, "not subscribed to " + m.room, std::string("/room"));
            } else if constexpr (std::is_same_v<T, subscriptions_request>) {
                subscriptions_message out{.id = m.id, .rooms = {}};
                for (auto const& sub : s.subscriptions())
                    out.rooms.push_back(
                        {.room = sub.room->name,
                         .seq = static_cast<std::int64_t>(core_.events().room_seq(sub.room->name))});
                std::sort(out.rooms.begin(), out.rooms.end(),
                          [](auto const& a, auto const& b) { return a.room < b.room; });
                s.send(http::encode_message(out));
            } else if constexpr (std::is_same_v<T, ping_request>) {
                s.send(http::encode_message(pong_message{.id = m.id}));
            } else {
                ws_publish(s, m);
            }
        },
        *msg);
}

inline std::optional<snapshot> gateway::snapshot_of(std::string_view room) const
{
    if (room.starts_with("job:")) {
        if (auto const* rec = core_.store().find(room.substr(4)))
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

inline void gateway::ws_subscribe(http::ws_session& s, subscribe_request const& r)
{
    auto const access = http::check_room(s.who(), r.room, core_.store());
    if (access != http::room_access::allowed) {
        bool const nf = access == http::room_access::not_found;
        ++counters_.ws_bad_messages;
        s.send(http::encode_message(error_message{
            .id = r.id,
            .code = nf ? protocol_error::not_found : protocol_error::forbidden,
            .message = nf ? "no room " + r.room : "not allowed to subscribe to " + r.room,
            .path = "/room"}));
        return;
    }
    constexpr std::size_t max_rooms_per_connection = 1000;
    if (s.subscriptions().size() >= max_rooms_per_connection && !s.find_subscription(hub_.find(r.room))) {
        s.send(http::encode_message(error_message{
            .id = r.id,
            .code = protocol_error::rate_limited,
            .message = "at most " + std::to_string(max_rooms_per_connection) + " rooms per connection",
            .path = "/room"}));
        return;
    }
    // A repeated subscribe starts over (the client resumes or resyncs).
    hub_.unsubscribe(s, r.room);
    hub_.subscribe(s, r.room);
    auto const& log = core_.events();
    if (r.since) {
        auto const since = static_cast<std::uint64_t>(std::max<std::int64_t>(*r.since, 0));
        auto replay = log.replay(r.room, since);
        if (!replay.reset) {
            s.send(http::encode_message(subscribed_message{
                .id = r.id, .room = r.room, .seq = static_cast<std::int64_t>(replay.seq), .snapshot = std::nullopt}));
            for (auto const& e : replay.entries)
                s.deliver(http::encode_entry(r.room, e));
            return;
        }
        s.send(http::encode_message(reset_message{
            .room = r.room, .seq = static_cast<std::int64_t>(replay.seq), .reason = "history_truncated"}));
    }
    s.send(http::encode_message(subscribed_message{.id = r.id,
                                                   .room = r.room,
                                                   .seq = static_cast<std::int64_t>(log.room_seq(r.room)),
                                                   .snapshot = snapshot_of(r.room)}));
}

inline void gateway::ws_publish(http::ws_session& s, publish_request& r)
{
    auto fail = [&](protocol_error code, std::string message, std::string path) {
        ++counters_.ws_bad_messages;
        s.send(http::encode_message(
            error_message{.id = r.id, .code = code, .message = std::move(message), .path = std::move(path)}));
    };
    if (!http::has_scope(s.who(), auth_scope::publish))
        return fail(protocol_error::forbidden, "the publish scope is required", "");
    if (s.who().tenant_id && tenant_id_of(r.event) != s.who().tenant_id)
        return fail(protocol_error::forbidden, "tenant_id must be \"" + *s.who().tenant_id + "\"",
                    "/event/tenant_id");
    auto id = r.id;
    auto const res = core_.publish(std::move(r.event));
    if (res.status == event_log::status::invalid)
        return fail(protocol_error::invalid_message, res.error.message, "/event" + res.error.path);
    s.send(http::encode_message(published_message{.id = std::move(id), .seq = static_cast<std::int64_t>(res.seq)}));
}

// --- fan-out ----------------------------------------------------------------------

inline void gateway::on_room_message(room_message const& m)
{
    std::visit(
        [&](auto const& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, event_out>) {
                auto const& ev = *v.event;
                for_each_room(ev.event, [&](std::string_view prefix, std::string_view id) {
                    room_buf_.assign(prefix);
                    room_buf_.append(id);
                    hub_.dispatch(room_buf_, [&] { return http::encode_event(room_buf_, ev); });
                });
            } else if constexpr (std::is_same_v<T, summary_out>) {
                hub_.dispatch(v.room, [&] { return http::encode_summary(v.room, v.seq, *v.value); });
            } else if constexpr (std::is_same_v<T, alert_out>) {
                hub_.dispatch(rooms::alerts, [&] { return http::encode_alert(v.seq, *v.value); });
            } else {
                hub_.dispatch(rooms::health, [&] { return http::encode_health(v.seq, *v.value); });
            }
        },
        m);
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

inline std::optional<http::response> gateway::start_sse(http::tcp::socket& sock, http::request const& req,
                                                        http::target const& t, principal const& who)
{
    auto const rooms = t.all("room");
    if (auto refused = check_rooms(req, rooms, who))
        return refused;
    std::optional<std::uint64_t> since;
    auto last = req["Last-Event-ID"];
    if (last.empty())
        if (auto q = t.get("since"))
            last = *q;
    if (!last.empty()) {
        bool bad = false;
        since = http::to_uint(last, bad);
        if (bad)
            return http::problem(req, http::status::bad_request, "Last-Event-ID must be a sequence number");
    }
    auto s = std::make_shared<sse_session>(*this, std::move(sock));
    add_conn(s);
    std::string head = "HTTP/1.1 200 OK\r\nServer: jobwatch\r\nContent-Type: text/event-stream\r\n"
                       "Cache-Control: no-store\r\nConnection: keep-alive\r\nX-Accel-Buffering: no\r\n\r\n";
    // The reconnection delay a browser's EventSource waits.
    head += "retry: 2000\n\n";
    s->start(std::move(head));
    auto const& log = core_.events();
    for (auto const& room : rooms) {
        hub_.subscribe(*s, room);
        if (since) {
            auto replay = log.replay(room, *since);
            if (!replay.reset) {
                for (auto const& e : replay.entries)
                    s->deliver(http::encode_entry(room, e));
                continue;
            }
            s->send(http::encode_message(
                reset_message{.room = room, .seq = static_cast<std::int64_t>(replay.seq), .reason = "history_truncated"}));
        }
        s->send(http::encode_message(subscribed_message{.id = std::nullopt,
                                                        .room = room,
                                                        .seq = static_cast<std::int64_t>(log.room_seq(room)),
                                                        .snapshot = snapshot_of(room)}));
    }
    return std::nullopt;
}

inline asio::awaitable<http::response> gateway::long_poll(http::request const& req, http::target const& t,
                                                          principal const& who, http_conn& conn)
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
                                         .seq = static_cast<std::int64_t>(log.room_seq(room)),
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
        conn.set_wake(&wake);
        conn.set(http_conn::phase::polling, {});
        while (items.empty() && std::chrono::steady_clock::now() < deadline && !draining_ &&
               conn.keep_alive_allowed()) {
            for (auto const& room : rooms)
                hub_.park(room, &wake);
            timer.expires_at(deadline);
            co_await timer.async_wait();
            if (!*alive)
                co_return http::response{};
            for (auto const& room : rooms)
                hub_.unpark(room, &wake);
            collect(items, next);
        }
        conn.set_wake(nullptr);
        conn.set(http_conn::phase::handling, {});
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
    std::size_t ws = 0, sse = 0, plain = 0, queued_msgs = 0, queued_bytes = 0;
    for (auto const& c : conns_) {
        auto const k = c->kind();
        if (k == "ws")
            ++ws;
        else if (k == "sse")
            ++sse;
        else
            ++plain;
        if (auto const* s = dynamic_cast<http::stream_session const*>(c.get())) {
            queued_msgs += s->queued_messages();
            queued_bytes += s->queued_bytes();
        }
    }
    o["connections"] = conns_.size();
    o["websocket"] = ws;
    o["sse"] = sse;
    o["http"] = plain;
    o["max_connections"] = max_connections_;
    o["rooms"] = hub_.room_count();
    o["queued_messages"] = queued_msgs;
    o["queued_bytes"] = queued_bytes;
    auto const& c = counters_;
    o["counters"] = boost::json::object{{"accepted", c.accepted},
                                        {"refused", c.refused},
                                        {"http_requests", c.http_requests},
                                        {"ws_messages_in", c.ws_messages_in},
                                        {"ws_bad_messages", c.ws_bad_messages},
                                        {"frames_out", c.frames_out},
                                        {"write_calls", c.write_calls},
                                        {"coalesced", c.coalesced},
                                        {"lagged", c.lagged},
                                        {"overflow_closes", c.overflow_closes},
                                        {"dead_peers", c.dead_peers},
                                        {"timeouts", c.timeouts}};
    std::vector<std::pair<std::size_t, std::string>> top;
    hub_.for_each_room([&](http::room_state const& r) { top.emplace_back(r.subs.size(), r.name); });
    std::sort(top.begin(), top.end(), [](auto const& a, auto const& b) { return a.first > b.first; });
    boost::json::array rooms;
    for (std::size_t i = 0; i < top.size() && i < 20; ++i)
        rooms.push_back(boost::json::object{{"room", top[i].second}, {"subscribers", top[i].first}});
    o["top_rooms"] = std::move(rooms);
    return boost::json::serialize(o);
}

}  // namespace jobwatch

#endif
