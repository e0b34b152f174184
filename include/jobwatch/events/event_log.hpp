#ifndef JOBWATCH_EVENTS_EVENT_LOG_HPP
#define JOBWATCH_EVENTS_EVENT_LOG_HPP

#include <jobwatch/codec.hpp>
#include <jobwatch/detail/hash.hpp>
#include <jobwatch/events/event.hpp>
#include <jobwatch/messages/alert.hpp>

#include <bit>
#include <cstdint>
#include <deque>
#include <algorithm>
#include <atomic>
#include <cassert>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <boost/unordered/unordered_flat_map.hpp>

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

/** @brief The ordered log of applied events, and the history of every room.

    @li checks an event's time and drops a second event with the same
        producer `id` of the same tenant seen within the last `dedup_window`
        ids (`admit`);
    @li gives every event the core applied the next sequence number and
        keeps it in the histories of its job's rooms (`commit`); an event the
        job store ignored takes no number;
    @li keeps the newest `history_size` messages in one ring, and per room
        the sequence numbers of its last `history_per_room` messages, so
        that a subscriber asking for `since = N` gets exactly what it missed,
        in order, or a reset when part of it is gone.

    A message is stored once, however many rooms it goes to: a room's
    history is a list of sequence numbers into the ring (no reference
    counting per room on the hot path).

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
        std::size_t history_size = 100'000;   ///< messages kept in all (the newest); must be > 0
        std::size_t dedup_window = 10'000;    ///< producer ids remembered for duplicate detection; 0 disables
        std::size_t max_rooms = 100'000;      ///< rooms with a history; the least recently used go first
    };

    /// What became of an event offered to the log.
    enum class status
    {
        accepted,   ///< admitted (and then, once committed, given a sequence number)
        duplicate,  ///< its producer id was seen within the window; dropped
        invalid,    ///< it does not satisfy the schema; `error` says why
    };

    /// The outcome of `admit`.
    struct admit_result
    {
        status st = status::invalid;
        std::shared_ptr<logged_event> event;  ///< set when admitted: seq is the next number, rooms unset
        parse_error error;                    ///< set when invalid
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
        std::uint64_t seq = 0;               ///< the room's position (`position`)
        std::vector<room_entry> entries;     ///< what it missed, oldest first (empty on reset)
    };

    // Two constructors rather than `config cfg = {}`: GCC cannot use a nested
    // aggregate's default member initializers in a default argument (PR 88165).
    event_log() : event_log(config{}) {}
    explicit event_log(config cfg) : cfg_(cfg), ring_(std::max<std::size_t>(cfg.history_size, 1)) {}

    /** @brief Checks a job event's time and producer id, and prepares it for
        the job store: its `seq` is the number it gets if `commit`ted.

        The event names its tenant already (the core resolves it): producer
        ids are remembered per tenant. Typed events from in-process producers
        are trusted to satisfy the schema's types; their time is checked here,
        and taken from `now` when absent.
    */
    admit_result admit(job_event ev, time_point now)
    {
        if (auto const& id = event_id_of(ev); id && cfg_.dedup_window > 0) {
            auto const& t = tenant_id_of(ev);
            if (!remember_id(t ? std::string_view(*t) : std::string_view{}, *id)) {
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
        logged->seq = seq_ + 1;
        logged->event = std::move(ev);
        return {status::accepted, std::move(logged), {}};
    }

    /// Counts an event refused before `admit` (the schema, the tenant check).
    void count_invalid() noexcept { ++stats_.invalid; }

    /** @brief Gives an admitted event, which the job store applied, its
        sequence number, and keeps it in the history of each of its rooms. */
    void commit(std::shared_ptr<logged_event const> const& ev)
    {
        assert(ev->seq == seq_ + 1 && ev->rooms && "commit the event admitted last, once applied");
        seq_ = ev->seq;
        ++stats_.accepted;
        store(room_entry{ev->seq, ev, nullptr});
        auto const& rooms = *ev->rooms;
        auto& h = rooms.handles();
        if (h.generation != generation_) {
            auto const g = generation_;
            for (std::size_t i = 0; i < rooms.size(); ++i) {
                auto& r = room_of(rooms[i]);
                r.last_used = ev->seq;  // not among the oldest while the others are made
                h.room[i] = &r;
            }
            if (g != generation_) {
                // Making one of them dropped rooms (a bound below five): by name, once.
                for (std::size_t i = 0; i < rooms.size(); ++i)
                    append(room_of(rooms[i]), ev->seq);
                return;
            }
            h.generation = g;
        }
        for (std::size_t i = 0; i < rooms.size(); ++i)
            append(*static_cast<room*>(h.room[i]), ev->seq);
    }

    /// Gives an alert the next sequence number and keeps it in room `alerts`.
    room_entry append_alert(alert a)
    {
        room_entry entry{++seq_, nullptr, std::make_shared<alert const>(std::move(a))};
        ++stats_.accepted;
        store(entry);
        append(room_of(rooms::alerts), entry.seq);
        return entry;
    }

    /** @brief Continues numbering after `seq` when the log is behind it (a
        journal replayed at start: numbers of deleted records are not given
        out again). */
    void resume_after(std::uint64_t seq) noexcept { seq_ = std::max(seq_, seq); }

    /** @brief Numbers up to `seq` that this log never held (the cluster's
        stream was trimmed past it): a client that resumes from before `seq`
        gets a reset in every room, never a silent gap. */
    void mark_lost(std::uint64_t seq) noexcept
    {
        lost_up_to_ = std::max(lost_up_to_, seq);
        seq_ = std::max(seq_, seq);
    }

    /// The last sequence number given out (0 before the first event).
    std::uint64_t last_seq() const noexcept { return seq_; }

    /** @brief Where `room` stands: the sequence number of its newest kept
        message; for a room with no kept history (none yet, evicted, or a
        room of state only, `health`), the last sequence number given out.
        A client that has the room up to its position resumes from it. */
    std::uint64_t position(std::string_view room) const
    {
        auto it = rooms_.find(room);
        if (it == rooms_.end() || it->second->seqs.empty())
            return seq_;
        return it->second->seqs.back();
    }

    /** @brief What a subscriber of `room` that has seen everything up to `since` missed.

        Never skips silently: when an entry after `since` is no longer kept
        (the room's history overflowed, or the room was evicted), the result
        is a reset, whose `seq` is where the room stands now (never behind
        `since`, so a client that takes it moves forward). A `since` beyond
        the last sequence number (the server restarted without its history)
        is a reset to the last one. `health` keeps no history: it never
        resets otherwise, its state comes with each snapshot.
    */
    replay_result replay(std::string_view room, std::uint64_t since) const
    {
        replay_result out;
        if (since > seq_) {
            // A point this log never reached (the server restarted without its
            // history): what the client holds cannot be trusted.
            out.reset = true;
            out.seq = seq_;
            return out;
        }
        auto it = rooms_.find(room);
        if (since < lost_up_to_ && room != rooms::health) {
            // Its history may lack numbers this log never held.
            out.reset = true;
            out.seq = it == rooms_.end() || it->second->seqs.empty() ? seq_ : it->second->seqs.back();
            return out;
        }
        if (it == rooms_.end()) {
            // Unknown room: it may have been evicted with entries after `since`.
            out.reset = room != rooms::health && since < evicted_up_to_;
            out.seq = std::max(seq_, since);
            return out;
        }
        auto const& r = *it->second;
        out.seq = r.seqs.empty() ? seq_ : r.seqs.back();
        if (since < r.dropped_up_to) {
            out.reset = true;
            return out;
        }
        for (std::size_t i = r.seqs.first_after(since); i < r.seqs.size(); ++i) {
            auto const seq = r.seqs[i];
            auto const& e = ring_[seq % ring_.size()];
            if (e.seq != seq) {
                // It has left the ring: the room's history is no longer whole.
                out.reset = true;
                out.entries.clear();
                return out;
            }
            out.entries.push_back(e);
        }
        return out;
    }

    stats const& counters() const noexcept { return stats_; }
    std::size_t room_count() const noexcept { return rooms_.size(); }
    config const& settings() const noexcept { return cfg_; }

private:
    /// The sequence numbers of one room's history, oldest first: a ring whose
    /// storage doubles up to the room's bound. Numbers that have left the
    /// log's ring are dropped as new ones come, so a room that hears one
    /// message in ten thousand holds a few numbers, not its bound (10,000 job
    /// rooms of 1,000 numbers each were 80 MB that no resume could use, and
    /// every push missed the cache).
    class seq_ring
    {
    public:
        bool empty() const noexcept { return size_ == 0; }
        std::size_t size() const noexcept { return size_; }
        std::uint64_t operator[](std::size_t i) const noexcept { return buf_[(head_ + i) & mask_]; }
        std::uint64_t back() const noexcept { return (*this)[size_ - 1]; }

        /// Appends `seq` after dropping the numbers below `oldest_kept` and,
        /// to keep at most `cap`, the oldest; returns the newest number
        /// dropped, or 0.
        std::uint64_t push(std::uint64_t seq, std::size_t cap, std::uint64_t oldest_kept)
        {
            std::uint64_t dropped = 0;
            while (size_ > 0 && (buf_[head_] < oldest_kept || size_ >= cap)) {
                dropped = buf_[head_];
                head_ = (head_ + 1) & mask_;
                --size_;
            }
            if (size_ == capacity())
                grow(cap);
            buf_[(head_ + size_) & mask_] = seq;
            ++size_;
            return dropped;
        }

        /// Index of the first entry greater than `seq` (entries ascend).
        std::size_t first_after(std::uint64_t seq) const noexcept
        {
            std::size_t lo = 0, hi = size_;
            while (lo < hi) {
                auto const mid = lo + (hi - lo) / 2;
                if ((*this)[mid] <= seq)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            return lo;
        }

    private:
        std::size_t capacity() const noexcept { return buf_ ? mask_ + 1 : 0; }

        // A power of two (an index is a mask, not a division), at most twice `cap`.
        void grow(std::size_t cap)
        {
            auto const n = std::max<std::size_t>(4, std::min(std::bit_ceil(cap), capacity() * 2));
            auto next = std::make_unique_for_overwrite<std::uint64_t[]>(n);
            for (std::size_t i = 0; i < size_; ++i)
                next[i] = (*this)[i];
            buf_ = std::move(next);
            head_ = 0;
            mask_ = n - 1;
        }

        std::unique_ptr<std::uint64_t[]> buf_;
        std::size_t head_ = 0;  // index of the oldest entry
        std::size_t size_ = 0;
        std::size_t mask_ = 0;  // capacity - 1
    };

    struct room
    {
        seq_ring seqs;                    // ascending
        std::uint64_t dropped_up_to = 0;  // newest seq no longer kept
        std::uint64_t last_used = 0;      // seq of the newest message, for eviction
    };


    // False when `id` of `tenant` is already in the window.
    bool remember_id(std::string_view tenant, std::string_view id)
    {
        // Tenant and id joined by a character neither may contain.
        std::string key;
        key.reserve(tenant.size() + 1 + id.size());
        key.append(tenant).push_back('\n');
        key.append(id);
        if (!ids_.insert(key).second)
            return false;
        id_order_.push_back(std::move(key));
        if (id_order_.size() > cfg_.dedup_window) {
            ids_.erase(id_order_.front());
            id_order_.pop_front();
        }
        return true;
    }

    void store(room_entry const& entry) { ring_[entry.seq % ring_.size()] = entry; }

    // The room called `name`, made when new (after dropping the least
    // recently used tenth when at the bound, which changes the generation).
    room& room_of(std::string_view name)
    {
        if (auto it = rooms_.find(name); it != rooms_.end())
            return *it->second;
        if (cfg_.max_rooms > 0 && rooms_.size() >= cfg_.max_rooms)
            evict_oldest();
        return *rooms_.emplace(std::string(name), std::make_unique<room>()).first->second;
    }

    void append(room& r, std::uint64_t seq)
    {
        r.last_used = seq;
        // The log's ring holds (seq_ - size, seq_]: older numbers could never be replayed.
        auto const oldest_kept = seq_ > ring_.size() ? seq_ - ring_.size() + 1 : 0;
        if (auto const dropped = r.seqs.push(seq, std::max<std::size_t>(cfg_.history_per_room, 1), oldest_kept))
            r.dropped_up_to = dropped;
    }

    // Unique across logs, so that a job's handles never pass for another log's.
    static std::uint64_t next_generation() noexcept
    {
        static std::atomic<std::uint64_t> next{1};
        return next.fetch_add(1, std::memory_order_relaxed);
    }

    // Drops the least recently used tenth of the rooms at once: O(rooms) every
    // max_rooms/10 new rooms, so O(1) per new room, and nothing to maintain
    // per message (an exact LRU list costs a splice per message).
    void evict_oldest()
    {
        std::vector<std::pair<std::uint64_t, decltype(rooms_)::iterator>> by_age;
        by_age.reserve(rooms_.size());
        for (auto it = rooms_.begin(); it != rooms_.end(); ++it)
            by_age.emplace_back(it->second->last_used, it);
        auto const n = std::max<std::size_t>(1, by_age.size() / 10);
        std::nth_element(by_age.begin(), by_age.begin() + static_cast<std::ptrdiff_t>(n - 1), by_age.end(),
                         [](auto const& a, auto const& b) { return a.first < b.first; });
        for (std::size_t i = 0; i < n; ++i) {
            evicted_up_to_ = std::max(evicted_up_to_, by_age[i].first);
            rooms_.erase(by_age[i].second);
            ++stats_.rooms_evicted;
        }
        generation_ = next_generation();  // handles to the dropped rooms are void
    }

    config cfg_;
    std::uint64_t seq_ = 0;
    std::uint64_t evicted_up_to_ = 0;  // newest seq of any evicted room
    std::uint64_t lost_up_to_ = 0;     // mark_lost: numbers never held here
    std::vector<room_entry> ring_;  // the newest messages, by seq % size
    // Open addressing (Boost 1.81's flat map): the room lookups per event are
    // the event log's main cost, and chained buckets miss the cache.
    // Rooms live in their own allocation, so the handles jobs keep (job_rooms::handles) stay valid
    // until the generation changes.
    boost::unordered_flat_map<std::string, std::unique_ptr<room>, detail::string_hash, detail::string_equal> rooms_;
    std::uint64_t generation_ = next_generation();
    std::unordered_set<std::string> ids_;
    std::deque<std::string> id_order_;
    stats stats_;
};

}  // namespace jobwatch

#endif
