#ifndef JOBWATCH_REDIS_DETAIL_BACKOFF_HPP
#define JOBWATCH_REDIS_DETAIL_BACKOFF_HPP

/** @file
    Reconnect backoff, sans I/O: exponential with full jitter, bounded.
*/

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>

namespace jobwatch::redis::detail {

using backoff_duration = std::chrono::steady_clock::duration;

/// The bound of the wait after `attempt` consecutive failures (0-based):
/// min(cap, base * 2^attempt), computed without overflow.
constexpr backoff_duration backoff_ceiling(backoff_duration base, backoff_duration cap,
                                           unsigned attempt) noexcept
{
    auto d = base;
    for (unsigned i = 0; i < attempt && d < cap; ++i)
        d = d > cap / 2 ? cap : d * 2;
    return std::min(d, cap);
}

/// Full jitter ("Exponential Backoff And Jitter", AWS architecture blog): a
/// uniformly random wait in [0, ceiling], given `u` drawn from [0, 1].
constexpr backoff_duration backoff_delay(backoff_duration base, backoff_duration cap,
                                         unsigned attempt, double u) noexcept
{
    u = std::clamp(u, 0.0, 1.0);
    auto const ceiling = backoff_ceiling(base, cap, attempt);
    return backoff_duration{
        static_cast<backoff_duration::rep>(static_cast<double>(ceiling.count()) * u)};
}

/** @brief The reconnect schedule of one connection: `next()` after every
    failed attempt, `reset()` once connected. */
class backoff
{
public:
    backoff(backoff_duration base, backoff_duration cap, std::uint64_t seed)
        : base_(base), cap_(cap), rng_(seed != 0 ? seed : std::random_device{}())
    {
    }

    /// The wait before the next attempt; counts one more failure.
    backoff_duration next()
    {
        auto const u = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
        auto const d = backoff_delay(base_, cap_, attempt_, u);
        if (attempt_ < 64)
            ++attempt_;
        return d;
    }

    /// Connected: the next failure starts the schedule again.
    void reset() noexcept { attempt_ = 0; }

    /// Consecutive failures so far.
    unsigned failures() const noexcept { return attempt_; }

private:
    backoff_duration base_;
    backoff_duration cap_;
    unsigned attempt_ = 0;
    std::mt19937_64 rng_;
};

}  // namespace jobwatch::redis::detail

#endif
