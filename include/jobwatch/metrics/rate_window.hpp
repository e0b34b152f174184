#ifndef JOBWATCH_METRICS_RATE_WINDOW_HPP
#define JOBWATCH_METRICS_RATE_WINDOW_HPP

/** @file
    Throughput over sliding one-minute and five-minute windows.
*/

#include <jobwatch/events/event.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace jobwatch {

namespace detail {

/** @brief A ring of `N` counters, one per slot of `SlotMs` milliseconds of
    wall-clock time, keeping the running total of the ring.

    Slot numbers are absolute (time since the epoch / `SlotMs`), so two rings
    line up without any conversion and merge slot by slot. The newest slot
    (`head_`) moves forward with `now`; counters falling out are cleared,
    at most `N` of them per move, so every operation is O(1) (bounded by `N`).
*/
template<std::size_t N, std::int64_t SlotMs>
class slot_ring
{
public:
    /// The slot holding time `t`.
    static std::int64_t slot_of(time_point t) noexcept
    {
        auto const ms = t.time_since_epoch().count();
        // Floor division: slots stay contiguous across the epoch.
        return ms >= 0 ? ms / SlotMs : -((-ms + SlotMs - 1) / SlotMs);
    }

    /// Counts `n` in `slot`, having moved the window to `now_slot`. Slots ahead
    /// of the window count in its newest slot; slots behind it are ignored.
    void add(std::int64_t slot, std::int64_t now_slot, std::uint32_t n) noexcept
    {
        advance(now_slot);
        slot = std::min(slot, head_);
        if (slot <= head_ - static_cast<std::int64_t>(N))
            return;
        counts_[index(slot)] += n;
        total_ += n;
    }

    /// Sum over the `N` slots ending at `now_slot`, without moving the window.
    std::uint64_t count(std::int64_t now_slot) const noexcept
    {
        if (total_ == 0 || now_slot <= head_)
            return total_;
        auto const gap = now_slot - head_;
        if (gap >= static_cast<std::int64_t>(N))
            return 0;
        // Slots head_-N+1 .. head_-N+gap have left the window by now_slot.
        std::uint64_t gone = 0;
        for (std::int64_t s = head_ - static_cast<std::int64_t>(N) + 1; s <= now_slot - static_cast<std::int64_t>(N); ++s)
            gone += counts_[index(s)];
        return total_ - gone;
    }

    /// Adds `other`'s counters slot by slot.
    void merge(slot_ring const& other) noexcept
    {
        // The other window moved on even if it counts nothing: what has
        // left it has left the union too.
        advance(std::max(head_, other.head_));
        if (other.total_ == 0)
            return;
        auto const first = std::max(other.head_, head_) - static_cast<std::int64_t>(N) + 1;
        for (std::int64_t s = std::max(first, other.head_ - static_cast<std::int64_t>(N) + 1); s <= other.head_; ++s) {
            auto const c = other.counts_[index(s)];
            counts_[index(s)] += c;
            total_ += c;
        }
    }

private:
    static std::size_t index(std::int64_t slot) noexcept
    {
        auto const m = slot % static_cast<std::int64_t>(N);
        return static_cast<std::size_t>(m < 0 ? m + static_cast<std::int64_t>(N) : m);
    }

    void advance(std::int64_t now_slot) noexcept
    {
        if (now_slot <= head_)
            return;
        if (total_ == 0) {
            // Nothing to clear: every counter is already zero.
        } else if (now_slot - head_ >= static_cast<std::int64_t>(N)) {
            counts_.fill(0);
            total_ = 0;
        } else {
            for (auto s = head_ + 1; s <= now_slot; ++s) {
                total_ -= counts_[index(s)];
                counts_[index(s)] = 0;
            }
        }
        head_ = now_slot;
    }

    std::array<std::uint32_t, N> counts_{};
    std::uint64_t total_ = 0;  // sum of counts_
    // A fresh ring is all zeros, so any starting slot is correct.
    std::int64_t head_ = 0;
};

}  // namespace detail

/** @brief Rate of events (jobs finished) per second over the last minute and
    the last five minutes.

    The minute is 60 one-second slots; the five minutes are 60 five-second
    slots, so that window slides in steps of five seconds and covers 295 to
    300 seconds (the rate divides by 300). 480 bytes, no allocation; `add`
    and the reads are O(1).

    Events are placed at their own time `at`, not at arrival: a replay of old
    events does not look like a burst. An event ahead of `now` (a producer's
    clock running fast) counts at `now`; one older than the window is ignored.
    Reads never move the window, so they are `const` and several readers at
    different `now`s agree with each other.

    @par Thread Safety
    Distinct objects: safe. Shared objects: unsafe.
*/
class rate_window
{
public:
    /// Length of the short window.
    static constexpr duration short_window = std::chrono::minutes{1};
    /// Length of the long window.
    static constexpr duration long_window = std::chrono::minutes{5};

    /// Counts `n` events that happened at `at`, seen at `now`.
    void add(time_point at, time_point now, std::uint32_t n = 1) noexcept
    {
        at = std::min(at, now);
        short_.add(short_ring::slot_of(at), short_ring::slot_of(now), n);
        long_.add(long_ring::slot_of(at), long_ring::slot_of(now), n);
    }

    /// Events in the minute ending at `now`.
    std::uint64_t count_1m(time_point now) const noexcept { return short_.count(short_ring::slot_of(now)); }
    /// Events in the five minutes ending at `now`.
    std::uint64_t count_5m(time_point now) const noexcept { return long_.count(long_ring::slot_of(now)); }
    /// Events per second over the minute ending at `now`.
    double per_second_1m(time_point now) const noexcept
    {
        return static_cast<double>(count_1m(now)) / 60.0;
    }
    /// Events per second over the five minutes ending at `now`.
    double per_second_5m(time_point now) const noexcept
    {
        return static_cast<double>(count_5m(now)) / 300.0;
    }
    /// True when both windows are empty at `now` (and stay so until the next `add`).
    bool empty(time_point now) const noexcept { return count_5m(now) == 0 && count_1m(now) == 0; }

    /// Adds `other`'s events, slot by slot.
    void merge(rate_window const& other) noexcept
    {
        short_.merge(other.short_);
        long_.merge(other.long_);
    }

private:
    using short_ring = detail::slot_ring<60, 1000>;
    using long_ring = detail::slot_ring<60, 5000>;
    short_ring short_;
    long_ring long_;
};

}  // namespace jobwatch

#endif  // JOBWATCH_METRICS_RATE_WINDOW_HPP
