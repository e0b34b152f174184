#ifndef JOBWATCH_GATEWAY_HTTP_CONNECTION_HPP
#define JOBWATCH_GATEWAY_HTTP_CONNECTION_HPP

/** @file
    A plain HTTP connection: reads requests, routes them (REST on the core's
    router, SSE, long-poll, the WebSocket upgrade), writes the answers.
*/

#include <jobwatch/gateway/long_poll.hpp>
#include <jobwatch/gateway/server.hpp>
#include <jobwatch/gateway/sio_endpoint.hpp>
#include <jobwatch/gateway/sse_stream.hpp>
#include <jobwatch/gateway/ws_protocol.hpp>

#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <memory>
#include <optional>
#include <string>
#include <type_traits>

namespace jobwatch::gw {

/** @brief The registry's handle on a connection served by `serve_http`: the
    phase it is in and its deadline, which the shard's sweep enforces. */
template<class Stream>
class http_conn final : public connection
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

    http_conn(Stream& s, gateway_counters& counters) : stream_(&s), counters_(&counters) {}

    void set(phase p, steady_time deadline) noexcept
    {
        phase_ = p;
        deadline_ = deadline;
    }
    bool keep_alive_allowed() const noexcept { return !stopping_; }
    /// The stream moves on (upgrade, SSE): this handle no longer touches it.
    void release() noexcept { stream_ = nullptr; }

    void sweep(steady_time now) override
    {
        if (stream_ && phase_ != phase::handling && phase_ != phase::polling && now >= deadline_) {
            ++(*counters_)[count::timeouts];
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
        if (stream_)
            impl::close_lowest(*stream_);
    }
    std::string_view kind() const noexcept override { return "http"; }
    void detach() noexcept override { abort(); }

private:
    Stream* stream_;
    gateway_counters* counters_;
    phase phase_ = phase::idle;
    steady_time deadline_{};
    bool stopping_ = false;
};

namespace impl {

/** @brief Why a request's framing is refused (RFC 9112 §6.1, §6.3): a
    `Transfer-Encoding` other than exactly `chunked` leaves the body's length
    unknown, and together with `Content-Length` it is ambiguous; either way
    the rest of the connection cannot be trusted (request smuggling behind a
    proxy), so the answer is 400 and the connection closes. */
inline char const* bad_framing(http::request const& req) noexcept
{
    namespace bhttp = boost::beast::http;
    bool const te = req.count(bhttp::field::transfer_encoding) > 0;
    if (!te)
        return nullptr;
    if (req.count(bhttp::field::content_length) > 0)
        return "a request may not have both Transfer-Encoding and Content-Length";
    if (!req.chunked())
        return "Transfer-Encoding must end with chunked; other transfer codings are not supported";
    auto const v = std::string_view(req[bhttp::field::transfer_encoding]);
    if (v.find(',') != std::string_view::npos)
        return "Transfer-Encoding must be exactly chunked";
    return nullptr;
}

/** @brief True for a WebSocket upgrade that presents no credentials and was
    refused only for that (401 by an authenticator that requires them): it is
    accepted, and must authenticate by its first message (browsers can set no
    header on a WebSocket, and a token in the URL ends up in access logs). */
inline bool auths_by_message(http::request const& req, http::target const& t, auth::auth_result const& who,
                             auth::authenticator const& a)
{
    auto const* fail = std::get_if<auth::auth_failure>(&who);
    return fail && fail->status == 401 && a.requires_credentials() && t.path == "/ws" &&
           boost::beast::websocket::is_upgrade(req) && req[boost::beast::http::field::authorization].empty() &&
           !t.get("token");
}

}  // namespace impl

/** @brief Serves one HTTP/1.1 connection on `sh` until it closes, upgrades
    to WebSocket, or becomes an SSE stream.

    @par Cancellation
    The shard's shutdown ends it between requests; a request in flight is
    answered first (with `Connection: close`).
*/
template<class Stream>
asio::awaitable<void> serve_http(server& srv, shard& sh, ws_host& ws, Stream sock)
{
    namespace bhttp = boost::beast::http;
    auto conn = std::make_shared<http_conn<Stream>>(sock, sh.counters);
    using phase = typename http_conn<Stream>::phase;
    sh.add(conn);
    --srv.accepting;
    auto const& limits = sh.limits;
    boost::beast::flat_buffer buf;
    bool first = true;
    auto const remote = impl::remote_address(sock);
    auto const finish = [&] {
        conn->release();
        sh.remove(*conn);
    };
    for (;;) {
        auto const now = std::chrono::steady_clock::now();
        if (buf.size() == 0) {
            conn->set(phase::idle, now + (first ? limits.read_timeout : limits.idle_timeout));
            if constexpr (std::is_same_v<Stream, tcp::socket>) {
                // Idle keep-alive connections hold no read buffer until bytes arrive.
                auto [ec] = co_await sock.async_wait(tcp::socket::wait_read, detail::use_tuple);
                if (ec || !conn->keep_alive_allowed())
                    break;
            }
        }
        first = false;
        conn->set(phase::reading, std::chrono::steady_clock::now() + limits.read_timeout);
        bhttp::request_parser<bhttp::string_body> parser;
        parser.header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(srv.max_header_bytes, 0xFFFFFFFF)));
        parser.body_limit(srv.max_body_bytes);
        auto [ec, n] = co_await bhttp::async_read(sock, buf, parser, detail::use_tuple);
        if (ec) {
            std::optional<http::response> res;
            http::request blank;
            blank.version(11);
            if (ec == bhttp::error::header_limit)
                res = http::problem(blank, http::status::request_header_fields_too_large,
                                    "request headers exceed " + std::to_string(srv.max_header_bytes) + " bytes");
            else if (ec == bhttp::error::body_limit)
                res = http::problem(blank, http::status::payload_too_large,
                                    "request body exceeds " + std::to_string(srv.max_body_bytes) + " bytes");
            else if (ec.category() == bhttp::make_error_code(bhttp::error::end_of_stream).category() &&
                     ec != bhttp::error::end_of_stream && impl::is_open(sock))
                // A parse error (a socket's or TLS's error leaves nothing to answer on).
                res = http::problem(blank, http::status::bad_request, "malformed HTTP request: " + ec.message());
            if (res) {
                ++sh.counters[count::bad_requests];
                res->keep_alive(false);
                conn->set(phase::writing, std::chrono::steady_clock::now() + limits.read_timeout);
                co_await bhttp::async_write(sock, *res, detail::use_tuple);
            }
            break;
        }
        ++sh.counters[count::http_requests];
        conn->set(phase::handling, {});
        auto req = parser.release();
        auto const t = http::parse_target(req.target());
        std::optional<http::response> res;
        if (auto const why = impl::bad_framing(req)) {
            ++sh.counters[count::bad_requests];
            res = http::problem(req, http::status::bad_request, why);
            res->keep_alive(false);
        } else if (t.bad) {
            res = http::problem(req, http::status::bad_request, "malformed percent-encoding in the request target");
        } else if (http::cors_policy::is_preflight(req)) {
            // Before authentication: a browser sends no credentials with a preflight.
            res = srv.cors.preflight(req);
        } else if (auto page = srv.dashboard ? gw::dashboard_answer(req, t.path) : std::nullopt) {
            // The dashboard's files: public, answered here on the I/O thread (the page asks for a token).
            res = std::move(page);
        } else if (t.path == "/api/v1/openapi.json" && srv.openapi) {
            // The API document: public like the dashboard's files (it describes, it holds no data).
            if (req.method() != http::verb::get && req.method() != http::verb::head)
                res = http::method_not_allowed(req, "GET, HEAD");
            else
                res = http::json_response(req, http::status::ok, *srv.openapi);
        } else if (t.path == "/socket.io/" && srv.sio) {
            // Socket.IO authenticates in its CONNECT packet, per namespace (sio_endpoint.hpp).
            if (boost::beast::websocket::is_upgrade(req)) {
                if (!srv.cors.allows(req[bhttp::field::origin], req[bhttp::field::host])) {
                    res = http::problem(req, http::status::forbidden,
                                        "origin " + std::string(req[bhttp::field::origin].substr(0, 256)) +
                                            " is not in gateway.cors.allowed_origins");
                } else if (srv.draining) {
                    res = http::problem(req, http::status::service_unavailable, "the server is shutting down");
                } else {
                    std::string preread(boost::beast::buffers_to_string(buf.data()));
                    res = sio_upgrade(srv, *srv.sio, sh, sock, preread, req, t, remote);
                    if (!res) {
                        conn->release();
                        sh.remove(*conn);
                        co_return;
                    }
                }
            } else {
                conn->set(phase::polling, {});
                res = co_await sio_poll(srv, *srv.sio, sh, req, t, remote);
                conn->set(phase::handling, {});
            }
        } else if (auto who = srv.authenticate(req, t, remote);
                   std::get_if<auth::auth_failure>(&who) && !impl::auths_by_message(req, t, who, *srv.auth)) {
            auto const* fail = std::get_if<auth::auth_failure>(&who);
            ++sh.counters[count::auth_refused];
            srv.note_refusal(remote, fail->reason);
            res = http::problem(req, static_cast<http::status>(fail->status), fail->reason);
            if (fail->status == 401)
                res->set(bhttp::field::www_authenticate, R"(Bearer realm="jobwatch")");
        } else {
            // No identity: a WebSocket upgrade without credentials, which must send an auth message.
            auto ident = std::holds_alternative<auth::identity>(who) ? std::get<auth::identity>(who) : auth::identity{};
            auto const holder = ident.who;
            if (t.path == "/ws") {
                if (!boost::beast::websocket::is_upgrade(req)) {
                    res = http::problem(req, http::status::upgrade_required,
                                        "this is the WebSocket endpoint: send an upgrade request");
                    res->set(bhttp::field::upgrade, "websocket");
                } else if (!srv.cors.allows(req[bhttp::field::origin], req[bhttp::field::host])) {
                    // Cross-site WebSocket hijacking: a page of another origin may not open it.
                    res = http::problem(req, http::status::forbidden,
                                        "origin " + std::string(req[bhttp::field::origin].substr(0, 256)) +
                                            " is not in gateway.cors.allowed_origins");
                } else if (holder && !auth::has_scope(*holder, auth_scope::read)) {
                    res = http::problem(req, http::status::forbidden, "the read scope is required");
                } else if (srv.draining) {
                    res = http::problem(req, http::status::service_unavailable, "the server is shutting down");
                } else if (auto [slot, why] = holder ? srv.take_quota(sh, *holder)
                                                     : std::pair<std::unique_ptr<connection_quota::slot>, std::string>{};
                           !why.empty()) {
                    res = http::problem(req, http::status::too_many_requests, why);
                    res->set(bhttp::field::retry_after, "5");
                } else {
                    // Hand the stream (and any bytes behind the request) to the session;
                    // registered before this connection leaves: a drain never sees zero in between.
                    std::string preread(boost::beast::buffers_to_string(buf.data()));
                    conn->release();
                    start_ws(srv, sh, ws, std::move(sock), std::move(preread), std::move(req), std::move(ident),
                             std::move(slot), std::string(remote));
                    sh.remove(*conn);
                    co_return;
                }
            } else if (t.path == "/api/v1/stream") {
                if (req.method() != http::verb::get) {
                    res = http::method_not_allowed(req, "GET");
                } else {
                    // (GCC 12: no co_await inside a conditional expression or a temporary lambda's call.)
                    auto start = [&](auto done) { done(plan_sse(srv, sh, req, t, *holder)); };
                    auto plan = co_await srv.on_core<sse_plan>(sh, std::move(start));
                    auto [slot, why] = plan.refusal ? std::pair<std::unique_ptr<connection_quota::slot>, std::string>{}
                                                    : srv.take_quota(sh, *holder);
                    if (plan.refusal) {
                        res = std::move(plan.refusal);
                    } else if (!why.empty()) {
                        res = http::problem(req, http::status::too_many_requests, why);
                        res->set(bhttp::field::retry_after, "5");
                    } else {
                        conn->release();
                        start_sse(srv, sh, std::move(sock), std::move(ident), std::move(plan),
                                  srv.cors.headers_for(req), std::move(slot));
                        sh.remove(*conn);
                        co_return;
                    }
                }
            } else {
                // The route table on the core: REST, and the long-poll, which waits there.
                conn->set(phase::polling, {});
                auto start = [&](auto done) {
                    asio::co_spawn(srv.get_core().get_executor(), srv.get_core().routes().serve(req, t, *holder),
                                   [&req, done = std::move(done)](std::exception_ptr e, http::response r) mutable {
                                       if (e)
                                           r = http::problem(req, http::status::internal_server_error,
                                                             "the request failed");
                                       done(std::move(r));
                                   });
                };
                res = co_await srv.on_core<http::response>(sh, std::move(start));
                conn->set(phase::handling, {});
            }
        }
        srv.cors.decorate(req, *res);
        if (srv.draining || !conn->keep_alive_allowed())
            res->keep_alive(false);
        if (req.method() == http::verb::head)
            res->body().clear();
        conn->set(phase::writing, std::chrono::steady_clock::now() + limits.read_timeout);
        auto [wec, wn] = co_await bhttp::async_write(sock, *res, detail::use_tuple);
        if (wec || !res->keep_alive())
            break;
    }
    if constexpr (std::is_same_v<Stream, tcp::socket>) {
        // Our side is done: the peer reads everything sent before the FIN.
        boost::system::error_code ec;
        sock.shutdown(tcp::socket::shutdown_send, ec);
    } else if constexpr (impl::over_tcp<Stream>) {
        // TLS: close_notify tells the peer the answer is complete; its own, or
        // its FIN, is awaited within the read timeout (the sweep).
        if (impl::is_open(sock)) {
            conn->set(phase::writing, std::chrono::steady_clock::now() + limits.read_timeout);
            co_await sock.async_shutdown(detail::use_tuple);
        }
    }
    impl::close_lowest(sock);
    finish();
}

}  // namespace jobwatch::gw

#endif
