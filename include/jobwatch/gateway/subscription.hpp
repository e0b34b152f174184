#ifndef JOBWATCH_GATEWAY_SUBSCRIPTION_HPP
#define JOBWATCH_GATEWAY_SUBSCRIPTION_HPP

/** @file
    What a client gets when it joins a room, for every transport: the one
    decision of access, replay, reset and snapshot.
*/

#include <jobwatch/auth/access.hpp>
#include <jobwatch/core.hpp>
#include <jobwatch/gateway/send_queue.hpp>
#include <jobwatch/gateway/wire.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace jobwatch::gw {

/** @brief What joining a room gives a client (WebSocket `subscribe`, an SSE
    stream's rooms, a long-poll).

    In order: the room messages it missed since `since` (each once, oldest
    first), or a `reset` when part of them is gone; then `subscribed` with
    the room's position and its current state (a job's snapshot, a summary,
    a health report). A resume therefore brings back every missed event and
    then the state rooms' missed state; live messages continue after the
    position.
*/
struct subscription_plan
{
    auth::room_access access = auth::room_access::allowed;
    bool invalid = false;            ///< not a room name
    std::string refusal;             ///< why, when not allowed
    std::vector<wire_ptr> replay;    ///< missed room messages, oldest first
    std::optional<std::uint64_t> reset;  ///< set when the missed messages cannot be sent: the position to take
    std::string_view reset_reason = "history_truncated";  ///< or "too_far_behind"
    std::uint64_t seq = 0;           ///< the room's position (`subscribed.seq`)
    std::optional<snapshot> state;   ///< the room's current state

    explicit operator bool() const noexcept { return !invalid && access == auth::room_access::allowed; }
};

/// How much a replay may put into one client's send queue at once.
struct replay_bound
{
    std::size_t messages = SIZE_MAX;
    std::size_t bytes = SIZE_MAX;
};

/** @brief Plans `who` joining `room`, resuming after `since` when given.
    A replay larger than `bound` (what the client's send queue can take at
    once) becomes a `reset` with reason "too_far_behind": sent anyway, it
    would only overflow the queue and lag the client again.
    @par Thread Safety Only on the core executor (it reads the core). */
inline subscription_plan plan_subscription(core const& c, principal const& who, std::string_view room,
                                           std::optional<std::uint64_t> since, replay_bound bound = {})
{
    subscription_plan p;
    if (!rooms::parse(room)) {
        p.invalid = true;
        p.refusal = "not a room: " + std::string(room) + "; " + std::string(rooms::syntax);
        return p;
    }
    p.access = auth::check_room(who, room, c.store());
    if (p.access != auth::room_access::allowed) {
        p.refusal = p.access == auth::room_access::not_found ? "no room " + std::string(room)
                                                            : "not allowed to read " + std::string(room);
        return p;
    }
    auto const& log = c.events();
    if (since) {
        auto r = log.replay(room, *since);
        if (r.reset) {
            p.reset = r.seq;
        } else if (r.entries.size() > bound.messages) {
            p.reset = r.seq;
            p.reset_reason = "too_far_behind";
        } else {
            p.replay.reserve(r.entries.size());
            std::size_t bytes = 0;
            for (auto const& e : r.entries) {
                p.replay.push_back(encode_entry(room, e));
                bytes += p.replay.back()->frame_size();
            }
            if (bytes > bound.bytes) {
                p.replay.clear();
                p.reset = r.seq;
                p.reset_reason = "too_far_behind";
            }
        }
        p.seq = r.seq;
    } else {
        p.seq = log.position(room);
    }
    p.state = c.snapshot_of(room);
    return p;
}

/// The reset notice of a plan whose missed messages cannot be sent.
inline wire_ptr reset_notice(std::string_view room, std::uint64_t seq, std::string_view reason = "history_truncated")
{
    return encode_message(
        reset_message{.room = std::string(room), .seq = static_cast<std::int64_t>(seq), .reason = std::string(reason)});
}

/// What a replay may put into a send queue with `limits`: room for the notices and live traffic besides.
inline replay_bound replay_bound_of(send_limits const& limits)
{
    return {.messages = limits.max_messages > 8 ? limits.max_messages - 8 : 1,
            .bytes = limits.max_bytes / 4 * 3};
}

/// The `subscribed` reply of a plan (`id` echoes the client's request id).
inline wire_ptr subscribed_reply(subscription_plan const& p, std::string_view room, std::optional<std::string> id)
{
    return encode_message(subscribed_message{
        .id = std::move(id), .room = std::string(room), .seq = static_cast<std::int64_t>(p.seq), .snapshot = p.state});
}

}  // namespace jobwatch::gw

#endif
