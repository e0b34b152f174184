#ifndef JOBWATCH_EVENTS_EVENT_LOG_HPP
#define JOBWATCH_EVENTS_EVENT_LOG_HPP

#include <jobwatch/codec.hpp>
#include <jobwatch/events/event.hpp>
#include <jobwatch/messages/alert.hpp>

#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace jobwatch {

/** @brief One message kept in a room's history, shared by every room it went to.

    Job events and alerts take sequence numbers from the same counter, so
    `since = N` means the same point in time in every room.
*/
struct room_entry
{
    std::uint64_t seq = 0;                       ///< from the event log
    std::shared_ptr<logged_event const> event;   ///< set for job events
    std::shared_ptr<alert const> alert_msg;      ///< set for alerts
};

/** @brief The ordered log of accepted events, and the history of every room.

    @li validates events that arrive as text with the generated parser;
    @li drops a second event with the same producer `id` seen within the last
        `dedup_window` ids;
    @li gives every accepted event the next sequence number and its time
        (the producer's, or `now` when absent; see `logged_event::json`);
    @li keeps, per room, the last `history_per_room` messages, so that a
        subscriber asking for `since = N` gets exactly what it missed, in
        order, or a reset when part of it is gone.

    Plain class, no I/O: the caller passes `now`.

    @par Thread Safety
    Not thread safe: the core executor owns it.
*/
class event_log
{
public:
    /// Bounds of the log. Every field has a working default.
    struct config
    {
        std::size_t history_per_room = 1000;  ///< messages kept per room for resume
        std::size_t dedup_window = 10'000;    ///< producer ids remembered for duplicate detection; 0 disables
        std::size_t max_rooms = 100'000;      ///< rooms with a history; the least recently used goes first
    };

    /// What became of an event offered to the log.
    enum class status
    {
        accepted,   ///< it got a sequence number
        duplicate,  ///< its producer id was seen within the window; dropped
        invalid,    ///< it does not satisfy the schema; `error` says why
    };

    /// The outcome of `append`.
    struct append_result
    {
        status st = status::invalid;
        std::shared_ptr<logged_event const> event;  ///< set when accepted
        parse_error error;                          ///< set when invalid
    };

    /// Counters of the log since it started.
    struct stats
    {
        std::uint64_t accepted = 0;       ///< events and alerts that got a sequence number
        std::uint64_t duplicates = 0;     ///< dropped for a repeated producer id
        std::uint64_t invalid = 0;        ///< rejected by the schema
        std::uint64_t rooms_evicted = 0;  ///< room histories dropped to stay within max_rooms
    };

    /// What a subscriber resuming from `since` receives.
    struct replay_result
    {
        bool reset = false;                  ///< part of what it missed is gone: fetch a snapshot
        std::uint64_t seq = 0;               ///< the room's current sequence number
        std::vector<room_entry> entries;     ///< what it missed, oldest first (empty on reset)
    };

    // Two constructors rather than `config cfg = {}`: GCC cannot use a nested
    // aggregate's default member initializers in a default argument (PR 88165).
    event_log() : event_log(config{}) {}
    explicit event_log(config cfg) : cfg_(cfg) {}

    /// Validates JSON text as a job event and appends it.
    append_result append_text(std::string_view text, time_point now)
    {
        auto r = parse<job_event>(text);
        if (!r) {
            ++stats_.invalid;
            return {status::invalid, nullptr, r.error()};
        }
        return append(std::move(*r), now);
    }

    /** @brief Appends a job event that is already a typed value.

        Typed events from in-process producers are trusted to satisfy the
        schema's types; their time is checked here, and taken from `now`
        when absent.
    */
    append_result append(job_event ev, time_point now)
    {
        if (auto const& id = event_id_of(ev); id && cfg_.dedup_window > 0) {
            if (!remember_id(*id)) {
                ++stats_.duplicates;
                return {status::duplicate, nullptr, {}};
            }
        }
        auto logged = std::make_shared<logged_event>();
        if (auto const& t = time_of(ev)) {
            auto const parsed = parse_time(*t);
            if (!parsed) {
                ++stats_.invalid;
                return {status::invalid, nullptr, {"/time", "must be an RFC 3339 date-time"}};
            }
            logged->time = *parsed;
        } else {
            logged->time = now;
        }
        logged->seq = ++seq_;
        logged->event = std::move(ev);
        ++stats_.accepted;
        std::shared_ptr<logged_event const> shared = std::move(logged);
        route(*shared, room_entry{shared->seq, shared, nullptr});
        return {status::accepted, std::move(shared), {}};
    }

    /// Gives an alert the next sequence number and keeps it in room `alerts`.
    room_entry append_alert(alert a)
    {
        room_entry entry{++seq_, nullptr, std::make_shared<alert const>(std::move(a))};
        ++stats_.accepted;
        push(rooms::alerts, entry);
        return entry;
    }

    /// The last sequence number given out (0 before the first event).
    std::uint64_t last_seq() const noexcept { return seq_; }

    /// The sequence number of the newest message of `room` (0 when none is kept).
    std::uint64_t room_seq(std::string_view room) const
    {
        auto it = rooms_.find(room);
        return it == rooms_.end() || it->second.entries.empty() ? 0 : it->second.entries.back().seq;
    }

    /** @brief What a subscriber of `room` that has seen everything up to `since` missed.

        Never skips silently: when an entry after `since` is no longer kept
        (the room's history overflowed, or the room was evicted), the result
        is a reset.
    */
    replay_result replay(std::string_view room, std::uint64_t since) const
    {
        replay_result out;
        auto it = rooms_.find(room);
        if (it == rooms_.end()) {
            // Unknown room: it may have been evicted with entries after `since`.
            out.reset = since < evicted_up_to_;
            out.seq = 0;
            return out;
        }
        auto const& r = it->second;
        out.seq = r.entries.empty() ? r.dropped_up_to : r.entries.back().seq;
        if (since < r.dropped_up_to) {
            out.reset = true;
            return out;
        }
        for (auto const& e : r.entries)
            if (e.seq > since)
                out.entries.push_back(e);
        return out;
    }

    stats const& counters() const noexcept { return stats_; }
    std::size_t room_count() const noexcept { return rooms_.size(); }
    config const& settings() const noexcept { return cfg_; }

private:
    struct room
    {
        std::deque<room_entry> entries;
        std::uint64_t dropped_up_to = 0;  // newest seq no longer kept
        std::list<std::string>::iterator lru;
    };

    struct string_hash
    {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept
        {
            return std::hash<std::string_view>{}(s);
        }
    };

    // False when `id` is already in the window.
    bool remember_id(std::string const& id)
    {
        if (!ids_.insert(id).second)
            return false;
        id_order_.push_back(id);
        if (id_order_.size() > cfg_.dedup_window) {
            ids_.erase(id_order_.front());
            id_order_.pop_front();
        }
        return true;
    }

    void route(logged_event const& ev, room_entry const& entry)
    {
        // Room names are composed in one reused buffer: no allocation per
        // event for rooms that already exist.
        auto with_prefix = [&](std::string_view prefix, std::string_view id) {
            key_.assign(prefix);
            key_.append(id);
            push(key_, entry);
        };
        auto const& e = ev.event;
        with_prefix("job:", job_id_of(e));
        with_prefix("queue:", queue_of(e));
        if (auto const& r = run_id_of(e))
            with_prefix("run:", *r);
        if (auto const& t = tenant_id_of(e))
            with_prefix("tenant:", *t);
        if (auto const& u = user_id_of(e))
            with_prefix("user:", *u);
    }

    void push(std::string_view name, room_entry const& entry)
    {
        auto it = rooms_.find(name);
        if (it == rooms_.end()) {
            if (cfg_.max_rooms > 0 && rooms_.size() >= cfg_.max_rooms)
                evict_one();
            lru_.emplace_front(name);
            it = rooms_.emplace(lru_.front(), room{}).first;
            it->second.lru = lru_.begin();
        } else if (it->second.lru != lru_.begin()) {
            lru_.splice(lru_.begin(), lru_, it->second.lru);
        }
        auto& r = it->second;
        r.entries.push_back(entry);
        if (r.entries.size() > cfg_.history_per_room) {
            r.dropped_up_to = r.entries.front().seq;
            r.entries.pop_front();
        }
    }

    void evict_one()
    {
        auto const& name = lru_.back();
        auto it = rooms_.find(name);
        if (it != rooms_.end()) {
            auto const newest = it->second.entries.empty() ? it->second.dropped_up_to
                                                           : it->second.entries.back().seq;
            evicted_up_to_ = std::max(evicted_up_to_, newest);
            rooms_.erase(it);
        }
        lru_.pop_back();
        ++stats_.rooms_evicted;
    }

    config cfg_;
    std::uint64_t seq_ = 0;
    std::uint64_t evicted_up_to_ = 0;  // newest seq of any evicted room
    std::unordered_map<std::string, room, string_hash, std::equal_to<>> rooms_;
    std::list<std::string> lru_;  // room names, most recently used first
    std::unordered_set<std::string> ids_;
    std::deque<std::string> id_order_;
    std::string key_;
    stats stats_;
};

}  // namespace jobwatch

#endif
