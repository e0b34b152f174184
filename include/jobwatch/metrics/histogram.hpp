#ifndef JOBWATCH_METRICS_HISTOGRAM_HPP
#define JOBWATCH_METRICS_HISTOGRAM_HPP

/** @file
    A mergeable histogram of durations with bounded relative error, after
    DDSketch (Masson, Rim and Lee, "DDSketch: a fast and fully-mergeable
    quantile sketch with relative-error guarantees", VLDB 2019).
*/

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace jobwatch {

namespace detail {

/// ln((1 + a) / (1 - a)) = 2 atanh(a), as a power series that converges fast
/// for small `a`; std::log is not constexpr.
constexpr double ln_ratio(double a) noexcept
{
    double term = a;
    double sum = 0;
    for (int k = 0; k < 12; ++k) {
        sum += term / (2 * k + 1);
        term *= a * a;
    }
    return 2 * sum;
}

}  // namespace detail

/** @brief A log-bucketed histogram of non-negative values (milliseconds) whose
    quantiles are within 1 % relative error, and which merges exactly.

    Bucket `i` holds the values in (γ^(i-1), γ^i] with γ = 1.01 / 0.99, and a
    quantile is answered with the bucket's centre 2γ^i / (γ + 1), which is
    within `relative_accuracy` of every value in the bucket. Every histogram
    uses the same bucket boundaries, so merging adds counts bucket by bucket
    and the result is exactly the histogram of the union.

    Memory is a dense array over the range of buckets seen so far, grown as
    needed: a histogram of durations spanning two orders of magnitude holds
    about 230 buckets, plus up to 32 spare ones at the ends (about 2 KiB).
    The range is capped so that the array never exceeds `max_buckets`:
    @li values below `min_value` (1 µs), zero and negative values (clock skew)
        are counted in a separate zero bucket and reported as 0, clamped to
        the exact minimum;
    @li values above `max_value` (1e14 ms, about 3,000 years) are counted as
        `max_value`;
    @li NaN and infinities are ignored.

    `count`, `min` and `max` are exact; `sum` and `mean` are exact up to
    floating-point rounding (the order of additions differs after a merge).

    @par Thread Safety
    Distinct objects: safe. Shared objects: unsafe.
*/
class log_histogram
{
public:
    /// Bound on the relative error of `quantile` for values of at least `min_value`.
    static constexpr double relative_accuracy = 0.01;
    /// Ratio between the bounds of a bucket.
    static constexpr double gamma = (1 + relative_accuracy) / (1 - relative_accuracy);
    /// Smallest value (ms) with a bucket of its own; smaller values count as zero.
    static constexpr double min_value = 1e-3;
    /// Largest value (ms), about 3,000 years; larger values count as this one.
    static constexpr double max_value = 1e14;
    /// Largest number of buckets one histogram can hold (16 KiB of counts).
    static constexpr std::int32_t max_buckets = 2048;
    /// ln(γ), the width of a bucket on a log scale.
    static constexpr double ln_gamma = detail::ln_ratio(relative_accuracy);
    /// Index of the bucket of `min_value`: ceil(ln(1e-3) / ln(γ)).
    static constexpr std::int32_t min_index =
        -static_cast<std::int32_t>(3 * 2.302585092994045684 / ln_gamma);
    /// Index of the top bucket. The buckets from `min_value` to `max_value`
    /// (about 1,960) fit: a histogram never grows past `max_buckets`.
    static constexpr std::int32_t max_index = min_index + max_buckets - 1;

    /// Upper bound of bucket `index`: γ^index.
    static double upper_bound(std::int32_t index) noexcept
    {
        return std::exp(index * ln_gamma);
    }
    /// Lower bound (exclusive) of bucket `index`: γ^(index-1).
    static double lower_bound(std::int32_t index) noexcept { return upper_bound(index - 1); }
    /// The value a quantile in bucket `index` is reported as: 2γ^index / (γ + 1).
    static double representative(std::int32_t index) noexcept
    {
        return upper_bound(index) * (2 / (gamma + 1));
    }

    /// The bucket of `v`, for `min_value <= v`; clamped to [min_index, max_index].
    static std::int32_t index_of(double v) noexcept
    {
        double const i = std::ceil(std::log(v) / ln_gamma);
        if (!(i >= min_index))  // also catches values just below min_value after rounding
            return min_index;
        if (i > max_index)
            return max_index;
        return static_cast<std::int32_t>(i);
    }

    /** @brief Counts one value, in milliseconds.

        See the class description for values out of range. May allocate when
        `v` falls outside the buckets held so far (at most `max_buckets`).
    */
    void add(double v) { add(prepare(v)); }

    /// A value with its bucket found: adding one value to several histograms
    /// costs one `std::log`.
    struct prepared
    {
        double value = 0;        ///< the value, clamped to [0, max_value]
        std::int32_t index = 0;  ///< its bucket, or `zero_index` for the zero bucket
        bool valid = false;      ///< false for NaN and infinities, which are not counted
    };

    /// Index standing for the zero bucket in `prepared`.
    static constexpr std::int32_t zero_index = min_index - 1;

    /// Clamps `v` and finds its bucket, for `add(prepared)`.
    static prepared prepare(double v) noexcept
    {
        if (!std::isfinite(v))
            return {};
        v = std::clamp(v, 0.0, max_value);
        return {v, v < min_value ? zero_index : index_of(v), true};
    }

    /// Counts a prepared value; the same as `add(v)` for `p = prepare(v)`.
    void add(prepared const& p)
    {
        if (!p.valid)
            return;
        if (p.index == zero_index)
            ++zero_count_;
        else
            add_to_bucket(p.index);
        note(p.value);
    }

    /** @brief Adds every value counted in `other`: afterwards `*this` is the
        histogram of the union, bucket by bucket. */
    void merge(log_histogram const& other)
    {
        if (other.count_ == 0)
            return;
        if (!other.counts_.empty()) {
            reserve_range(other.offset_, other.offset_ + static_cast<std::int32_t>(other.counts_.size()) - 1);
            auto const shift = static_cast<std::size_t>(other.offset_ - offset_);
            for (std::size_t i = 0; i < other.counts_.size(); ++i)
                counts_[shift + i] += other.counts_[i];
        }
        zero_count_ += other.zero_count_;
        sum_ += other.sum_;
        min_ = count_ == 0 ? other.min_ : std::min(min_, other.min_);
        max_ = count_ == 0 ? other.max_ : std::max(max_, other.max_);
        count_ += other.count_;
    }

    /// How many values were added.
    std::uint64_t count() const noexcept { return count_; }
    /// Sum of the values (after clamping); 0 when empty.
    double sum() const noexcept { return sum_; }
    /// Mean of the values; 0 when empty.
    double mean() const noexcept { return count_ == 0 ? 0.0 : sum_ / static_cast<double>(count_); }
    /// Smallest value (after clamping), exact; 0 when empty.
    double min() const noexcept { return min_; }
    /// Largest value (after clamping), exact; 0 when empty.
    double max() const noexcept { return max_; }
    /// Values counted in the zero bucket (below `min_value`).
    std::uint64_t zero_count() const noexcept { return zero_count_; }
    /// Values counted in bucket `index`.
    std::uint64_t bucket_count(std::int32_t index) const noexcept
    {
        if (index < offset_ || index >= offset_ + static_cast<std::int32_t>(counts_.size()))
            return 0;
        return counts_[static_cast<std::size_t>(index - offset_)];
    }
    /// Number of buckets held in memory (a measure of its size), at most `max_buckets`.
    std::size_t bucket_span() const noexcept { return counts_.size(); }

    /** @brief Calls `f(index, count)` for each non-empty bucket, in increasing order. */
    template<class F>
    void for_each_bucket(F&& f) const
    {
        for (std::size_t i = 0; i < counts_.size(); ++i)
            if (counts_[i] != 0)
                f(offset_ + static_cast<std::int32_t>(i), counts_[i]);
    }

    /** @brief The `q`-quantile (q in [0, 1]), within `relative_accuracy` of the
        value of rank floor(q × (count - 1)) in sorted order.

        The first and last ranks are the exact `min()` and `max()`; other
        answers are clamped to [min, max], and values in the zero bucket are
        reported as 0 (so within 1 µs). 0 when empty.
    */
    double quantile(double q) const noexcept
    {
        double out = 0;
        quantiles(std::span<double const>{&q, 1}, std::span<double>{&out, 1});
        return out;
    }

    /** @brief `out[i] = quantile(qs[i])` for every i, in one pass over the
        buckets; `qs` must be in increasing order and `out` as long as `qs`. */
    void quantiles(std::span<double const> qs, std::span<double> out) const noexcept
    {
        std::size_t bucket = 0;
        std::uint64_t seen = zero_count_;  // values in the zero bucket and buckets before `bucket`
        for (std::size_t k = 0; k < qs.size() && k < out.size(); ++k) {
            if (count_ == 0) {
                out[k] = 0;
                continue;
            }
            auto const q = qs[k] >= 0 ? std::min(qs[k], 1.0) : 0.0;  // NaN reads as 0
            auto const rank = static_cast<std::uint64_t>(q * static_cast<double>(count_ - 1));
            // The extremes are known exactly.
            if (rank == 0) {
                out[k] = min_;
                continue;
            }
            if (rank >= count_ - 1) {
                out[k] = max_;
                continue;
            }
            if (rank < zero_count_) {
                out[k] = std::clamp(0.0, min_, max_);
                continue;
            }
            while (bucket < counts_.size() && seen + counts_[bucket] <= rank)
                seen += counts_[bucket++];
            auto const value = bucket < counts_.size() ? representative(offset_ + static_cast<std::int32_t>(bucket)) : max_;
            out[k] = std::clamp(value, min_, max_);
        }
    }

    /** @brief True when both hold the same values bucket for bucket, with the
        same count, minimum and maximum (sums may differ in their last bits
        when the values were added in another order). */
    bool same_buckets(log_histogram const& other) const noexcept
    {
        if (count_ != other.count_ || zero_count_ != other.zero_count_ || min_ != other.min_ ||
            max_ != other.max_)
            return false;
        auto const lo = std::min(offset_, other.offset_);
        auto const hi = std::max(offset_ + static_cast<std::int32_t>(counts_.size()),
                                 other.offset_ + static_cast<std::int32_t>(other.counts_.size()));
        for (auto i = lo; i < hi; ++i)
            if (bucket_count(i) != other.bucket_count(i))
                return false;
        return true;
    }

    /// Forgets every value (keeps the memory).
    void clear() noexcept
    {
        std::fill(counts_.begin(), counts_.end(), std::uint64_t{0});
        count_ = zero_count_ = 0;
        sum_ = min_ = max_ = 0;
    }

private:
    void note(double v) noexcept
    {
        min_ = count_ == 0 ? v : std::min(min_, v);
        max_ = count_ == 0 ? v : std::max(max_, v);
        sum_ += v;
        ++count_;
    }

    void add_to_bucket(std::int32_t index)
    {
        if (index < offset_ || index >= offset_ + static_cast<std::int32_t>(counts_.size()))
            reserve_range(index, index);
        ++counts_[static_cast<std::size_t>(index - offset_)];
    }

    // Makes buckets [lo, hi] addressable, with `growth_slack` spare buckets
    // on the side that grew: at most max_buckets / growth_slack = 128
    // reallocations in a histogram's life, and little memory wasted.
    void reserve_range(std::int32_t lo, std::int32_t hi)
    {
        if (counts_.empty()) {
            offset_ = std::max(min_index, lo - growth_slack / 2);
            counts_.assign(static_cast<std::size_t>(std::min(max_index, hi + growth_slack / 2) - offset_ + 1), 0);
            return;
        }
        auto const old_lo = offset_;
        auto const old_hi = offset_ + static_cast<std::int32_t>(counts_.size()) - 1;
        if (lo >= old_lo && hi <= old_hi)
            return;
        auto const new_lo = lo < old_lo ? std::max(min_index, lo - growth_slack) : old_lo;
        auto const new_hi = hi > old_hi ? std::min(max_index, hi + growth_slack) : old_hi;
        std::vector<std::uint64_t> grown(static_cast<std::size_t>(new_hi - new_lo + 1), 0);
        std::copy(counts_.begin(), counts_.end(), grown.begin() + (old_lo - new_lo));
        counts_ = std::move(grown);
        offset_ = new_lo;
    }

    static constexpr std::int32_t growth_slack = 16;

    std::vector<std::uint64_t> counts_;  // counts_[i] is bucket offset_ + i
    std::int32_t offset_ = 0;
    std::uint64_t count_ = 0;
    std::uint64_t zero_count_ = 0;
    double sum_ = 0;
    double min_ = 0;
    double max_ = 0;
};

}  // namespace jobwatch

#endif  // JOBWATCH_METRICS_HISTOGRAM_HPP
