#ifndef JOBWATCH_NOTIFY_DELIVERY_HPP
#define JOBWATCH_NOTIFY_DELIVERY_HPP

/** @file
    The sans-I/O parts of webhook delivery: backoff with jitter and
    Retry-After, the circuit breaker, the bounded queue with its drop
    policy, and deduplication. Each takes `now` as a parameter.
*/

#include <jobwatch/messages/alert.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <deque>
#include <iomanip>
#include <locale>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace jobwatch::notify {

using std::chrono::milliseconds;

/** @brief The wait before retry number `retry` (1 for the first retry):
    `initial * 2^(retry-1)`, at most `max`, scaled by `1 + jitter` where
    `jitter` is in [-0.2, 0.2] (the caller draws it, so tests can fix it). */
inline milliseconds backoff(std::size_t retry, milliseconds initial, milliseconds max, double jitter) noexcept
{
    double d = static_cast<double>(initial.count());
    for (std::size_t i = 1; i < retry && d < static_cast<double>(max.count()); ++i)
        d *= 2;
    d = std::min(d, static_cast<double>(max.count()));
    d *= 1.0 + std::clamp(jitter, -0.2, 0.2);
    return milliseconds{static_cast<std::int64_t>(std::max(d, 0.0))};
}

/** @brief A `Retry-After` value (RFC 9110 10.2.3): delay-seconds, or an
    HTTP-date, as a wait from `now`; nullopt when it is neither. A date in
    the past is a wait of 0. */
inline std::optional<milliseconds> parse_retry_after(std::string_view v, std::chrono::system_clock::time_point now)
{
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t'))
        v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t'))
        v.remove_suffix(1);
    if (v.empty())
        return std::nullopt;
    if (std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        std::uint64_t s = 0;
        auto const [end, ec] = std::from_chars(v.data(), v.data() + v.size(), s);
        if (ec != std::errc{} || s > 1'000'000'000)
            return std::nullopt;
        return milliseconds{static_cast<std::int64_t>(s) * 1000};
    }
    // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
    std::tm tm{};
    std::istringstream in{std::string(v)};
    in.imbue(std::locale::classic());
    in >> std::get_time(&tm, "%a, %d %b %Y %H:%M:%S GMT");
    if (in.fail())
        return std::nullopt;
    auto const at = std::chrono::system_clock::from_time_t(timegm(&tm));
    if (at <= now)
        return milliseconds{0};
    return std::chrono::duration_cast<milliseconds>(at - now);
}

/** @brief The wait before the next attempt: the server's `Retry-After`
    when it gave one (at most `retry_after_max`), else the backoff. */
inline milliseconds next_wait(std::size_t retry, milliseconds initial, milliseconds max, double jitter,
                              std::optional<milliseconds> retry_after, milliseconds retry_after_max) noexcept
{
    if (retry_after)
        return std::min(*retry_after, retry_after_max);
    return backoff(retry, initial, max, jitter);
}

/** @brief A circuit breaker per target: `closed` until `failures`
    consecutive attempts fail, then `open` for `cooldown`; then one probe
    (`half_open`): its success closes it, its failure opens it again. */
class breaker
{
public:
    enum class state
    {
        closed,
        open,
        half_open,
    };

    breaker(std::size_t failures, std::chrono::steady_clock::duration cooldown) noexcept
        : limit_(std::max<std::size_t>(failures, 1)), cooldown_(cooldown)
    {
    }

    /** @brief May an attempt start at `now`? Open: not before the cool-down
        has passed, and then one probe only (the state turns half-open). */
    bool allow(std::chrono::steady_clock::time_point now) noexcept
    {
        switch (st_) {
        case state::closed: return true;
        case state::half_open: return !probing_ && (probing_ = true);
        case state::open:
            if (now < opened_at_ + cooldown_)
                return false;
            st_ = state::half_open;
            probing_ = true;
            return true;
        }
        return false;
    }

    /// When an open breaker lets a probe through; `now` when it is not open.
    std::chrono::steady_clock::time_point ready_at(std::chrono::steady_clock::time_point now) const noexcept
    {
        return st_ == state::open ? std::max(now, opened_at_ + cooldown_) : now;
    }

    void success() noexcept
    {
        st_ = state::closed;
        probing_ = false;
        consecutive_ = 0;
    }

    /// @return true when this failure opened the breaker.
    bool failure(std::chrono::steady_clock::time_point now) noexcept
    {
        ++consecutive_;
        probing_ = false;
        if (st_ == state::half_open || (st_ == state::closed && consecutive_ >= limit_)) {
            st_ = state::open;
            opened_at_ = now;
            ++opened_;
            return true;
        }
        return false;
    }

    state current() const noexcept { return st_; }
    std::size_t consecutive_failures() const noexcept { return consecutive_; }
    std::uint64_t times_opened() const noexcept { return opened_; }

private:
    std::size_t limit_;
    std::chrono::steady_clock::duration cooldown_;
    state st_ = state::closed;
    bool probing_ = false;
    std::size_t consecutive_ = 0;
    std::uint64_t opened_ = 0;
    std::chrono::steady_clock::time_point opened_at_{};
};

inline std::string_view to_string(breaker::state s) noexcept
{
    switch (s) {
    case breaker::state::closed: return "closed";
    case breaker::state::open: return "open";
    case breaker::state::half_open: return "half_open";
    }
    return "closed";
}

/** @brief A bounded FIFO whose overflow drops the oldest item of the lowest
    severity: when full, an item less severe than everything queued is
    itself dropped; otherwise the oldest queued item of the lowest severity
    makes room. `T` has a `severity level` member. */
template <class T> class drop_queue
{
public:
    explicit drop_queue(std::size_t capacity) : cap_(std::max<std::size_t>(capacity, 1)) {}

    /// @return the item dropped to keep the bound, if any (it may be `item` itself).
    std::optional<T> push(T item)
    {
        if (q_.size() < cap_) {
            q_.push_back(std::move(item));
            return std::nullopt;
        }
        auto lowest = q_.begin();
        for (auto it = q_.begin(); it != q_.end(); ++it)
            if (it->level < lowest->level)
                lowest = it;
        if (item.level < lowest->level)
            return item;
        std::optional<T> dropped{std::move(*lowest)};
        q_.erase(lowest);
        q_.push_back(std::move(item));
        return dropped;
    }

    bool empty() const noexcept { return q_.empty(); }
    std::size_t size() const noexcept { return q_.size(); }
    std::size_t capacity() const noexcept { return cap_; }
    T& front() { return q_.front(); }
    T pop()
    {
        T t = std::move(q_.front());
        q_.pop_front();
        return t;
    }

private:
    std::size_t cap_;
    std::deque<T> q_;
};

/** @brief Remembers keys for `window`, at most `max_keys` of them (the
    oldest forgotten first): `first(key, now)` is true once per key. */
class dedup
{
public:
    dedup(std::chrono::steady_clock::duration window, std::size_t max_keys)
        : window_(window), max_(std::max<std::size_t>(max_keys, 1))
    {
    }

    /// True when `key` was not seen within the window (it is remembered from now).
    bool first(std::string const& key, std::chrono::steady_clock::time_point now)
    {
        expire(now);
        if (seen_.contains(key))
            return false;
        while (order_.size() >= max_) {
            seen_.erase(order_.front().first);
            order_.pop_front();
        }
        seen_.emplace(key, now);
        order_.emplace_back(key, now);
        return true;
    }

    std::size_t size() const noexcept { return seen_.size(); }

private:
    void expire(std::chrono::steady_clock::time_point now)
    {
        while (!order_.empty() && now - order_.front().second >= window_) {
            seen_.erase(order_.front().first);
            order_.pop_front();
        }
    }

    std::chrono::steady_clock::duration window_;
    std::size_t max_;
    std::unordered_map<std::string, std::chrono::steady_clock::time_point> seen_;
    std::deque<std::pair<std::string, std::chrono::steady_clock::time_point>> order_;
};

}  // namespace jobwatch::notify

#endif
