#ifndef JOBWATCH_GATEWAY_FANOUT_HPP
#define JOBWATCH_GATEWAY_FANOUT_HPP

/** @file
    The core's side of fan-out: each room message encoded once, handed to the
    shards that watch its room, within a bound per shard.
*/

#include <jobwatch/core.hpp>
#include <jobwatch/detail/hash.hpp>
#include <jobwatch/gateway/shard.hpp>
#include <jobwatch/gateway/wire.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace jobwatch::gw {

/** @brief Routes the core's room messages to the shards.

    With one shard on the core's thread a message goes straight to its room
    table. With K shards on their own threads the core encodes a room
    message once, only when some shard holds a subscription to the room (the
    grants below), and posts the one shared buffer, in a batch per shard, to
    each shard that does. A shard that falls `max_backlog` messages behind
    is not queued more: its subscribers of each room that loses messages are
    told they lagged, after the messages that did arrive, and resume from
    the event log; once a room lost a message every later one is turned away
    until that notice is on its way, so a resume has no gap.

    Long-polls park on the core (`polls`): they wake on a message of their
    rooms and collect from the event log.

    @par Thread Safety
    Only from the core executor.
*/
class fanout
{
public:
    fanout(asio::any_io_executor core_ex, std::vector<std::unique_ptr<shard>>& shards, std::size_t max_backlog)
        : polls(core_ex), core_ex_(std::move(core_ex)), shards_(shards), max_backlog_(max_backlog)
    {
    }

    /// The core's own shard only: no grants, no batches.
    bool single() const noexcept { return shards_.size() == 1 && shards_.front()->is_core(); }

    /// Counts one subscription to `room` on `sh`, before its snapshot is taken:
    /// every later room message reaches the shard.
    void grant(std::string_view room, shard const& sh)
    {
        if (sh.is_core())
            return;
        auto it = watched_.find(room);
        if (it == watched_.end())
            it = watched_.emplace(std::string(room), std::vector<std::uint32_t>(shards_.size())).first;
        ++it->second[sh.index];
    }

    /// A subscription to `room` on shard `i` ended.
    void release(std::string const& room, std::size_t i)
    {
        auto it = watched_.find(room);
        if (it == watched_.end() || it->second[i] == 0)
            return;
        --it->second[i];
        if (std::all_of(it->second.begin(), it->second.end(), [](std::uint32_t n) { return n == 0; }))
            watched_.erase(it);
    }

    /// One message of the core for the rooms.
    void on_room_message(room_message const& m)
    {
        std::visit(
            [&](auto const& v) {
                using T = std::decay_t<decltype(v)>;
                if constexpr (std::is_same_v<T, event_out>) {
                    auto const& rooms = *v.event->rooms;
                    for (std::size_t i = 0; i < rooms.size(); ++i)
                        route(rooms[i], [&] { return encode_event(rooms[i], v.event); });
                } else if constexpr (std::is_same_v<T, summary_out>) {
                    route(v.room, [&] { return encode_summary(v.room, v.seq, *v.value); });
                } else if constexpr (std::is_same_v<T, alert_out>) {
                    route(rooms::alerts, [&] { return encode_alert(v.seq, *v.value); });
                } else {
                    route(rooms::health, [&] { return encode_health(v.seq, *v.value); });
                }
            },
            m);
    }

    /// Posts the pending batches to their shards (answers of the core to a
    /// shard go after the batches queued before them: `hop`).
    void send_batches()
    {
        posted_ = false;
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

    /** @brief Every subscriber of every room, on every shard, is told it
        lagged from `first` on (after what was queued before): it resumes
        from `first - 1`, and the event log answers with a reset where
        numbers were lost. */
    void lag_all(std::uint64_t first)
    {
        send_batches();
        for (auto& p : shards_) {
            auto& sh = *p;
            auto lag = [&sh, first] {
                std::vector<std::string> names;
                sh.hub.for_each_room([&](room_state const& r) { names.push_back(r.name); });
                for (auto const& room : names)
                    lag_room(sh, room, first);
            };
            if (sh.is_core())
                lag();
            else
                asio::post(sh.ex, lag);
        }
    }

    /// Rooms watched by a subscriber (sharded: granted) or a parked long-poll.
    std::size_t room_count() const
    {
        auto const& first = *shards_.front();
        return (first.is_core() ? first.hub.room_count() : watched_.size()) + polls.room_count();
    }

    /// Calls `f(room, subscribers)` for every watched room (the core's shard, or the grants).
    template<class F>
    void for_each_room(F&& f) const
    {
        if (single()) {
            shards_.front()->hub.for_each_room([&](room_state const& r) { f(std::string_view(r.name), r.subs.size()); });
            return;
        }
        for (auto const& [name, counts] : watched_) {
            std::size_t subs = 0;
            for (auto n : counts)
                subs += n;
            f(std::string_view(name), subs);
        }
    }

    hub polls;  ///< long-polls parked on the core

private:
    template<class Encode>
    void route(std::string_view room, Encode&& encode)
    {
        // Long-polls parked on the room wake up (they hold no subscription: nothing is encoded).
        polls.dispatch(room, encode);
        if (single())
            return shards_.front()->hub.dispatch(room, encode);
        auto it = watched_.find(room);
        if (it == watched_.end())
            return;
        if (batches_.empty()) {
            batches_.resize(shards_.size());
            lost_.resize(shards_.size());
        }
        // One encoding, one shared buffer for every shard that watches the room.
        wire_ptr const msg = encode();
        for (std::size_t i = 0; i < it->second.size(); ++i) {
            if (it->second[i] == 0)
                continue;
            auto& lost = lost_[i];
            bool const turned_away =
                std::find_if(lost.begin(), lost.end(), [&](auto const& l) { return l.first == room; }) != lost.end();
            if (turned_away)
                continue;
            if (shards_[i]->backlog.load(std::memory_order_relaxed) + batches_[i].size() >= max_backlog_) {
                lost.emplace_back(std::string(room), msg->kind == wire_kind::state ? msg->seq + 1 : msg->seq);
                continue;
            }
            batches_[i].push_back(msg);
        }
        if (!posted_) {
            posted_ = true;
            asio::post(core_ex_, [this] { send_batches(); });
        }
    }

    // Shard: `room` lost messages from `seq` on; its subscribers there are told they lagged.
    static void lag_room(shard& sh, std::string const& room, std::uint64_t seq)
    {
        auto const* r = sh.hub.find(room);
        if (!r || r->subs.empty())
            return;
        auto const notice = encode_message(lagged_message{.room = room, .resume_from = static_cast<std::int64_t>(seq - 1)});
        // A copy: each unsubscribe changes the room's list (and the last one releases the room).
        auto const subs = r->subs;
        for (auto* s : subs) {
            s->send(notice);
            ++sh.counters[count::lagged];
            sh.hub.unsubscribe(*s, room);
        }
    }

    asio::any_io_executor core_ex_;
    std::vector<std::unique_ptr<shard>>& shards_;
    std::size_t max_backlog_;
    /// Sharded: per room, how many subscriptions each shard holds (grants not yet released).
    std::unordered_map<std::string, std::vector<std::uint32_t>, ::jobwatch::detail::string_hash,
                       ::jobwatch::detail::string_equal>
        watched_;
    std::vector<std::vector<wire_ptr>> batches_;  ///< room messages not yet posted, per shard
    /// Per shard: rooms whose messages the backlog bound turned away since the last post, with the
    /// first one's resume point + 1.
    std::vector<std::vector<std::pair<std::string, std::uint64_t>>> lost_;
    bool posted_ = false;
};

}  // namespace jobwatch::gw

#endif
