#ifndef JOBWATCH_GATEWAY_LONG_POLL_HPP
#define JOBWATCH_GATEWAY_LONG_POLL_HPP

/** @file
    `GET /api/v1/poll`: the same rooms and messages as WebSocket, one answer
    per request.
*/

#include <jobwatch/gateway/server.hpp>
#include <jobwatch/gateway/subscription.hpp>
#include <jobwatch/http/request.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace jobwatch::gw {

/// Validates and access-checks the rooms of an SSE or long-poll request; the refusal, if any.
inline std::optional<http::response> check_rooms(core const& c, http::request const& req,
                                                 std::vector<std::string> const& rooms, principal const& who)
{
    using http::status;
    if (rooms.empty())
        return http::problem(req, status::bad_request, "name at least one room: ?room=queue:emails");
    if (rooms.size() > 100)
        return http::problem(req, status::bad_request, "at most 100 rooms per request");
    for (auto const& room : rooms) {
        if (!rooms::parse(room))
            return http::problem(req, status::bad_request, "not a room: " + room + "; " + std::string(rooms::syntax));
        auto const a = auth::check_room(who, room, c.store());
        if (a == auth::room_access::not_found)
            return http::problem(req, status::not_found, "no room " + room);
        if (a == auth::room_access::forbidden)
            return http::problem(req, status::forbidden, "not allowed to read " + room);
    }
    return std::nullopt;
}

/** @brief Answers a long-poll: `{"messages":[...],"seq":N}`, where the
    messages are the WebSocket ones and N is the `since` of the next poll.

    @li Without `since`: each room's `subscribed` (position and state), and N
        is the last sequence number.
    @li With `since`: what the rooms missed, each event once, oldest first,
        then the state of each room that moved (its `subscribed`); or, for a
        room whose history was cut, a `reset` and its `subscribed`. When
        there is nothing new the poll waits, up to `timeout_ms` (default
        25 s, at most 60 s), and never answers early with nothing new:
        a `reset` always names a position other than `since`.

    @par Thread Safety
    Runs on the core executor.
*/
inline asio::awaitable<http::response> long_poll(server& srv, http::request const& req, http::target const& t,
                                                 principal const& who)
{
    auto& c = srv.get_core();
    auto const rooms = t.all("room");
    if (auto refused = check_rooms(c, req, rooms, who))
        co_return std::move(*refused);
    bool bad = false;
    std::optional<std::uint64_t> since;
    if (t.get("since"))
        since = http::uint_param(t, "since", 0, bad);
    auto const timeout = http::uint_param(t, "timeout_ms", 25'000, bad);
    if (bad)
        co_return http::problem(req, http::status::bad_request, "since and timeout_ms must be non-negative integers");
    auto const wait = std::chrono::milliseconds{std::min<std::uint64_t>(timeout, 60'000)};
    auto const user = auth::user_key(who);

    // Collects what there is after `since`; false when nothing is new.
    std::string items;
    std::uint64_t next = since.value_or(0);
    auto collect = [&] {
        std::vector<std::pair<std::uint64_t, wire_ptr>> msgs;
        std::vector<wire_ptr> states;
        for (auto const& room : rooms) {
            auto const p = plan_subscription(c, who, room, since);
            if (!p)
                continue;  // access changed while parked: the room says nothing more
            if (p.reset) {
                msgs.emplace_back(0, reset_notice(room, *p.reset));
                states.push_back(subscribed_reply(p, room, std::nullopt));
                next = *p.reset;
                continue;
            }
            bool moved = !since;
            for (auto const& m : p.replay) {
                if (!entitled(user, *m))
                    continue;
                msgs.emplace_back(m->seq, m);
                moved = true;
            }
            // State rooms show their state once something of them moved.
            if (moved || (room == rooms::health && p.seq > *since))
                states.push_back(subscribed_reply(p, room, std::nullopt));
        }
        std::stable_sort(msgs.begin(), msgs.end(), [](auto const& a, auto const& b) { return a.first < b.first; });
        if (!since)
            next = std::max(next, c.events().last_seq());
        for (auto const& [seq, m] : msgs) {
            items += items.empty() ? "" : ",";
            items += m->json();
            next = std::max(next, seq);
        }
        if (msgs.empty() && !since)
            next = std::max(next, c.events().last_seq());
        for (auto const& m : states) {
            items += items.empty() ? "" : ",";
            items += m->json();
        }
        return !msgs.empty() || !states.empty();
    };

    if (!collect() && wait.count() > 0) {
        // Park on the rooms until a message arrives, the timeout, or shutdown.
        detail::tuple_timer timer(co_await asio::this_coro::executor);
        auto const deadline = std::chrono::steady_clock::now() + wait;
        std::function<void()> wake = [&timer] { timer.cancel(); };
        while (items.empty() && std::chrono::steady_clock::now() < deadline && !srv.draining) {
            for (auto const& room : rooms)
                srv.fan.polls.park(room, &wake);
            timer.expires_at(deadline);
            co_await timer.async_wait();
            for (auto const& room : rooms)
                srv.fan.polls.unpark(room, &wake);
            collect();
        }
    }
    std::string body = R"({"messages":[)";
    body += items;
    body += R"(],"seq":)";
    body += std::to_string(next);
    body += '}';
    co_return http::json_response(req, http::status::ok, std::move(body));
}

}  // namespace jobwatch::gw

#endif
