#ifndef JOBWATCH_GATEWAY_MONITOR_HPP
#define JOBWATCH_GATEWAY_MONITOR_HPP

/** @file
    `GET /api/v1/monitor/connections`: the gateway's connections, rooms,
    queues and counters, and the core's ingest counters.
*/

#include <jobwatch/gateway/server.hpp>

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

/** @brief The report's JSON. Another shard's queue and room figures are as of
    its last sweep (a quarter of a second); the core's shard is read now.
    @par Thread Safety On the core executor. */
inline std::string connections_report(server& srv)
{
    boost::json::object o;
    std::size_t all = 0, ws = 0, sse = 0, queued_msgs = 0, queued_bytes = 0;
    boost::json::array shards;
    for (auto const& p : srv.shards) {
        auto& sh = *p;
        if (sh.is_core())
            sh.refresh_stats();
        auto const n = sh.conns.size();
        all += n;
        ws += sh.ws.load();
        sse += sh.sse.load();
        queued_msgs += sh.queued_messages.load();
        queued_bytes += sh.queued_bytes.load();
        shards.push_back(boost::json::object{{"connections", n}, {"rooms", sh.rooms.load()}, {"backlog", sh.backlog.load()}});
    }
    all += srv.accepting.load();
    o["connections"] = all;
    o["websocket"] = ws;
    o["sse"] = sse;
    o["http"] = all - std::min(all, ws + sse);
    o["max_connections"] = srv.max_connections;
    o["rooms"] = srv.fan.room_count();
    o["queued_messages"] = queued_msgs;
    o["queued_bytes"] = queued_bytes;
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

}  // namespace jobwatch::gw

#endif
