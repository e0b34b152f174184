#ifndef JOBWATCH_RUNTIME_TOKEN_BUCKET_HPP
#define JOBWATCH_RUNTIME_TOKEN_BUCKET_HPP

/** @file
    Token buckets for rate limits: one, and a bounded set of them by key
    (a principal, a client address).
*/

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace jobwatch {

/** @brief A limit of `rate` per second with bursts of up to `burst`
    (`burst` 0: one second's worth). A rate of 0 is no limit. */
struct rate_limit
{
    std::int64_t rate = 0;
    std::int64_t burst = 0;

    bool off() const noexcept { return rate <= 0; }
    double capacity() const noexcept { return static_cast<double>(burst > 0 ? burst : std::max<std::int64_t>(rate, 1)); }
};

/** @brief A token bucket: starts full, refills at the limit's rate, holds at
    most its burst. The limit is a parameter of each call, so a change of
    settings applies at once to every bucket. Not thread-safe: one owner. */
class token_bucket
{
public:
    using clock = std::chrono::steady_clock;

    /// Takes `n` tokens if there are that many at `now`.
    bool take(rate_limit const& l, clock::time_point now, double n = 1)
    {
        if (l.off())
            return true;
        refill(l, now);
        if (tokens_ + 1e-9 < n)
            return false;
        tokens_ -= n;
        return true;
    }

    /// Whole tokens there are now (after `take` or `refill`).
    double tokens() const noexcept { return tokens_; }

    /// How long until `n` tokens are there (after a refused `take`), rounded up to whole milliseconds.
    std::chrono::milliseconds wait_for(rate_limit const& l, double n = 1) const
    {
        if (l.off() || tokens_ >= n)
            return std::chrono::milliseconds{0};
        return std::chrono::milliseconds{
            static_cast<std::int64_t>(std::ceil((n - tokens_) * 1000.0 / static_cast<double>(l.rate)))};
    }

    /// True when the bucket is full again at `now` (its owner has been idle).
    bool full(rate_limit const& l, clock::time_point now) const
    {
        if (!started_)
            return true;
        auto const since = now > last_ ? std::chrono::duration<double>(now - last_).count() : 0.0;
        return tokens_ + since * static_cast<double>(l.rate) >= l.capacity();
    }

    void refill(rate_limit const& l, clock::time_point now)
    {
        auto const cap = l.capacity();
        if (!started_) {
            started_ = true;
            tokens_ = cap;
        } else if (now > last_) {
            tokens_ += std::chrono::duration<double>(now - last_).count() * static_cast<double>(l.rate);
        }
        tokens_ = std::min(tokens_, cap);
        last_ = std::max(last_, now);
    }

private:
    double tokens_ = 0;
    clock::time_point last_{};
    bool started_ = false;
};

/** @brief Token buckets by key, at most `max_keys` of them: past that, the
    buckets that are full (their owners idle) are dropped, and if that is
    not enough, all of them (everyone starts again with a full bucket: a
    burst allowance, never a wrong refusal). Not thread-safe: one owner. */
class keyed_buckets
{
public:
    explicit keyed_buckets(std::size_t max_keys = 100'000) : max_(max_keys) {}

    /// Takes `n` tokens from `key`'s bucket; false: over the limit (see `wait_for`).
    bool take(std::string_view key, rate_limit const& l, token_bucket::clock::time_point now, double n = 1)
    {
        if (l.off())
            return true;
        return bucket(key, l, now).take(l, now, n);
    }

    /// How long until `key` has `n` tokens.
    std::chrono::milliseconds wait_for(std::string_view key, rate_limit const& l, double n = 1) const
    {
        auto const it = map_.find(std::string(key));
        return it == map_.end() ? std::chrono::milliseconds{0} : it->second.wait_for(l, n);
    }

    std::size_t size() const noexcept { return map_.size(); }

private:
    token_bucket& bucket(std::string_view key, rate_limit const& l, token_bucket::clock::time_point now)
    {
        auto it = map_.find(std::string(key));
        if (it != map_.end())
            return it->second;
        if (map_.size() >= max_) {
            std::erase_if(map_, [&](auto& kv) { return kv.second.full(l, now); });
            if (map_.size() >= max_)
                map_.clear();
        }
        return map_.emplace(std::string(key), token_bucket{}).first->second;
    }

    std::unordered_map<std::string, token_bucket> map_;
    std::size_t max_;
};

}  // namespace jobwatch

#endif
