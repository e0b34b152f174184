#ifndef JOBWATCH_GATEWAY_SSE_STREAM_HPP
#define JOBWATCH_GATEWAY_SSE_STREAM_HPP

/** @file
    `GET /api/v1/stream`: an SSE stream of the rooms in the query, resumed
    from `Last-Event-ID` or `?since=`.
*/

#include <jobwatch/gateway/long_poll.hpp>
#include <jobwatch/gateway/server.hpp>
#include <jobwatch/gateway/sse_session.hpp>
#include <jobwatch/gateway/ws_protocol.hpp>

#include <optional>
#include <string>
#include <vector>

namespace jobwatch::gw {

/// What the core decided for an SSE request: a refusal, or each room's plan.
struct sse_plan
{
    std::optional<http::response> refusal;
    std::vector<plan_messages> rooms;
};

/** @brief On the core: checks the rooms of an SSE request and plans each
    (granted to `sh` before its snapshot is taken). */
inline sse_plan plan_sse(server& srv, shard const& sh, http::request const& req, http::target const& t,
                         principal const& who)
{
    sse_plan out;
    auto& c = srv.get_core();
    auto const rooms = t.all("room");
    if ((out.refusal = check_rooms(c, req, rooms, who)))
        return out;
    std::optional<std::uint64_t> since;
    auto last = req["Last-Event-ID"];
    if (last.empty())
        if (auto q = t.get("since"))
            last = *q;
    if (!last.empty()) {
        bool bad = false;
        since = http::to_uint(last, bad);
        if (bad) {
            out.refusal = http::problem(req, http::status::bad_request, "Last-Event-ID must be a sequence number");
            return out;
        }
    }
    for (auto const& room : rooms) {
        auto const p = plan_subscription(c, who, room, since, replay_bound_of(srv.limits.queue));
        if (p)
            srv.fan.grant(room, sh);
        out.rooms.push_back(messages_of(p, room, std::nullopt));
    }
    return out;
}

/// On `sh`: starts the SSE stream on `s` with what the core planned (`cors_headers`: CRLF-ended lines, or empty).
template<class Stream>
void start_sse(server& srv, shard& sh, Stream s, auth::identity who, sse_plan plan, std::string const& cors_headers,
               std::unique_ptr<connection_quota::slot> slot)
{
    auto session = std::make_shared<sse_session<Stream>>(sh.hub, sh.limits, sh.counters, std::move(s),
                                                         std::move(who.who),
                                                         [&sh](subscriber& gone) { sh.remove(gone); });
    session->set_expiry(who.expires_at, sh.limits.refresh_notice);
    session->quota_slot = std::move(slot);
    sh.add(session);
    std::string head = "HTTP/1.1 200 OK\r\nServer: jobwatch\r\nContent-Type: text/event-stream\r\n"
                       "Cache-Control: no-store\r\nConnection: keep-alive\r\nX-Accel-Buffering: no\r\n" +
                       cors_headers + "\r\n";
    // The reconnection delay a browser's EventSource waits.
    head += "retry: 2000\n\n";
    session->start(std::move(head));
    for (auto& m : plan.rooms)
        apply_plan(srv, sh, *session, m);
    // Shutdown began while the core prepared the stream.
    if (srv.draining)
        session->shutdown();
}

}  // namespace jobwatch::gw

#endif
