#ifndef JOBWATCH_GATEWAY_MONITOR_HPP
#define JOBWATCH_GATEWAY_MONITOR_HPP

/** @file
    `GET /api/v1/monitor/connections`: the gateway's connections, rooms,
    queues and counters, and the core's ingest counters.
*/

#include <jobwatch/gateway/server.hpp>
#include <jobwatch/metrics/prometheus.hpp>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace jobwatch::gw {

/// Every shard's counters and the core's, summed.
inline gateway_counters total_counters(server const& srv)
{
    auto total = srv.counters;
    for (auto const& sh : srv.shards)
        total += sh->counters;
    return total;
}

/// Connections by kind and what their send queues hold, over every shard.
struct connection_totals
{
    std::size_t all = 0, ws = 0, sse = 0, sio = 0, queued_msgs = 0, queued_bytes = 0;
    std::size_t http() const noexcept { return all - std::min(all, ws + sse + sio); }
};

/** @brief Sums the shards' figures. Another shard's queue and room figures are
    as of its last sweep (a quarter of a second); the core's shard is read now.
    `each(shard)` is called for every shard. @par Thread Safety On the core executor. */
template<class F>
connection_totals sum_connections(server& srv, F&& each)
{
    connection_totals s;
    for (auto const& p : srv.shards) {
        auto& sh = *p;
        if (sh.is_core())
            sh.refresh_stats();
        s.all += sh.conns.size();
        s.ws += sh.ws.load();
        s.sse += sh.sse.load();
        s.sio += sh.socketio.load();
        s.queued_msgs += sh.queued_messages.load();
        s.queued_bytes += sh.queued_bytes.load();
        each(sh);
    }
    s.all += srv.accepting.load();
    return s;
}

/** @brief The report's JSON. @par Thread Safety On the core executor. */
inline std::string connections_report(server& srv)
{
    boost::json::object o;
    boost::json::array shards;
    auto const s = sum_connections(srv, [&](shard& sh) {
        shards.push_back(
            boost::json::object{{"connections", sh.conns.size()}, {"rooms", sh.rooms.load()}, {"backlog", sh.backlog.load()}});
    });
    o["connections"] = s.all;
    o["websocket"] = s.ws;
    o["sse"] = s.sse;
    o["socketio"] = s.sio;
    o["http"] = s.http();
    o["max_connections"] = srv.max_connections;
    o["rooms"] = srv.fan.room_count();
    o["queued_messages"] = s.queued_msgs;
    o["queued_bytes"] = s.queued_bytes;
    o["threads"] = srv.shards.front()->is_core() ? 0 : srv.shards.size();
    o["shards"] = std::move(shards);
    boost::json::object counters;
    total_counters(srv).for_each([&](std::string_view name, std::uint64_t v) { counters[name] = v; });
    o["counters"] = std::move(counters);
    auto const& core = srv.get_core();
    auto const& in = core.ingest_counters();
    auto const& log = core.events().counters();
    o["ingest"] = boost::json::object{{"accepted", log.accepted},     {"duplicates", log.duplicates},
                                      {"invalid", log.invalid},       {"ignored", in.ignored},
                                      {"forbidden", in.forbidden},    {"conflicts", in.conflicts},
                                      {"rate_limited", in.rate_limited}};
    if (auto const* j = core.journal()) {
        auto const r = j->report();
        o["storage"] = boost::json::object{{"committed", r.committed}, {"transactions", r.transactions},
                                           {"failures", r.failures},   {"deleted", r.deleted},
                                           {"refused", r.refused},     {"pending", r.pending},
                                           {"committed_seq", r.committed_seq}, {"writing", r.writing}};
    }
    std::vector<std::pair<std::size_t, std::string>> top;
    srv.fan.for_each_room([&](std::string_view room, std::size_t subs) { top.emplace_back(subs, std::string(room)); });
    std::sort(top.begin(), top.end(), [](auto const& a, auto const& b) { return a.first > b.first; });
    boost::json::array rooms;
    for (std::size_t i = 0; i < top.size() && i < 20; ++i)
        rooms.push_back(boost::json::object{{"room", top[i].second}, {"subscribers", top[i].first}});
    o["top_rooms"] = std::move(rooms);
    return boost::json::serialize(o);
}

/// What each gateway counter means, for `/metrics` (in `count`'s order).
inline constexpr std::array<std::string_view, count_names.size()> count_help = {
    "TCP connections accepted.",
    "Connections refused at gateway.max_connections.",
    "HTTP requests answered.",
    "WebSocket messages received.",
    "WebSocket messages refused (bad JSON, schema, unknown type).",
    "Messages queued to clients (sent).",
    "Gather writes issued.",
    "Queued messages replaced by a newer one under pressure (coalesced).",
    "lagged notices sent to clients that fell behind (messages dropped for them).",
    "Connections closed for a send queue overflow.",
    "Connections closed for missed heartbeats.",
    "HTTP connections closed for read or idle timeouts.",
    "HTTP requests refused before routing (malformed, ambiguous framing).",
    "Requests and upgrades refused by the authenticator.",
    "Room messages not delivered to a principal they are not for.",
    "WebSockets closed for sending no auth message in time.",
    "WebSocket and SSE connections closed when their token expired.",
    "WebSocket messages refused for rate_limits.ws_messages_per_s.",
    "WebSockets closed for rate_limits.ws_close_after_refused.",
    "New connections refused for rate_limits.new_connections_per_ip_per_s.",
    "Connections refused for rate_limits.max_connections_per_subject.",
    "Connections refused for rate_limits.max_connections_per_tenant.",
    "TLS handshakes that failed.",
    "Plain HTTP requests on the TLS port.",
};

/** @brief The gateway's families of `/metrics`: connections by kind, send
    queues, rooms, and every counter as `jobwatch_gateway_<name>_total`.
    @par Thread Safety On the core executor. */
inline void write_metrics(server& srv, metrics::prometheus_writer& w)
{
    auto const s = sum_connections(srv, [](shard&) {});
    w.family("jobwatch_connections", "gauge",
             "Open connections by kind (websocket, sse, http: REST and long-poll; socketio: Socket.IO sessions, whose "
             "WebSockets count as websocket too).");
    w.sample("jobwatch_connections", {{"kind", "websocket"}}, static_cast<double>(s.ws));
    w.sample("jobwatch_connections", {{"kind", "sse"}}, static_cast<double>(s.sse));
    w.sample("jobwatch_connections", {{"kind", "socketio"}}, static_cast<double>(s.sio));
    w.sample("jobwatch_connections", {{"kind", "http"}}, static_cast<double>(s.http()));
    w.single("jobwatch_send_queue_messages", "gauge", "Messages waiting in clients' send queues.",
             static_cast<double>(s.queued_msgs));
    w.single("jobwatch_send_queue_bytes", "gauge", "Bytes waiting in clients' send queues.",
             static_cast<double>(s.queued_bytes));
    w.single("jobwatch_rooms", "gauge", "Rooms with at least one subscriber.",
             static_cast<double>(srv.fan.room_count()));
    std::size_t i = 0;
    total_counters(srv).for_each([&](std::string_view name, std::uint64_t v) {
        auto const family = "jobwatch_gateway_" + std::string(name) + "_total";
        w.single(family, "counter", count_help[i++], static_cast<double>(v));
    });
}

}  // namespace jobwatch::gw

#endif
