// Test that the header is self-contained.
#include <jobwatch/metrics/aggregates.hpp>

#include <jobwatch/codec.hpp>
#include <jobwatch/metrics/histogram.hpp>
#include <jobwatch/metrics/rate_window.hpp>
#if __has_include(<jobwatch/store/job_store.hpp>)
#include <jobwatch/store/job_store.hpp>
#endif

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <deque>
#include <map>
#include <numeric>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;
using jobwatch::aggregates;
using jobwatch::job_change;
using jobwatch::job_state;
using jobwatch::log_histogram;
using jobwatch::logged_event;
using jobwatch::rate_window;
using jobwatch::state_counts;
using jobwatch::time_point;

// 2024-05-01T12:00:00Z
time_point const t0{std::chrono::milliseconds{1'714'564'800'000}};

// ---------------------------------------------------------------------------
// log_histogram

/// Checks every quantile from 0 to 1 in steps of 0.001 against the exact
/// value of the same rank in sorted order.
void expect_quantiles_within_one_percent(std::vector<double> values)
{
    log_histogram h;
    for (double v : values)
        h.add(v);
    std::sort(values.begin(), values.end());
    auto const n = values.size();
    ASSERT_EQ(h.count(), n);
    EXPECT_EQ(h.min(), values.front());
    EXPECT_EQ(h.max(), values.back());
    double const exact_mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(n);
    EXPECT_NEAR(h.mean(), exact_mean, 1e-9 * exact_mean);
    double worst = 0;
    for (int i = 0; i <= 1000; ++i) {
        double const q = i / 1000.0;
        double const exact = values[static_cast<std::size_t>(q * static_cast<double>(n - 1))];
        double const estimate = h.quantile(q);
        if (exact >= log_histogram::min_value) {
            double const error = std::abs(estimate - exact) / exact;
            worst = std::max(worst, error);
            EXPECT_LE(error, log_histogram::relative_accuracy * (1 + 1e-9)) << "q=" << q << " exact=" << exact;
        } else {
            EXPECT_LE(std::abs(estimate - exact), log_histogram::min_value) << "q=" << q;
        }
    }
    // The bound is tight: a coarser bucketing would not pass, a finer one would waste memory.
    EXPECT_GT(worst, 0.5 * log_histogram::relative_accuracy);
    EXPECT_LE(h.bucket_span(), static_cast<std::size_t>(log_histogram::max_buckets));
}

template<class Distribution>
std::vector<double> sample(Distribution d, std::uint64_t seed, std::size_t n = 100'000)
{
    std::mt19937_64 rng{seed};
    std::vector<double> out(n);
    for (auto& v : out)
        v = d(rng);
    return out;
}

TEST(LogHistogramTest, UniformQuantilesWithinOnePercent)
{
    expect_quantiles_within_one_percent(sample(std::uniform_real_distribution<double>{0.0, 1000.0}, 1));
}

TEST(LogHistogramTest, ExponentialQuantilesWithinOnePercent)
{
    expect_quantiles_within_one_percent(sample(std::exponential_distribution<double>{1.0 / 250.0}, 2));
}

TEST(LogHistogramTest, LognormalQuantilesWithinOnePercent)
{
    expect_quantiles_within_one_percent(sample(std::lognormal_distribution<double>{std::log(100.0), 2.0}, 3));
}

TEST(LogHistogramTest, MergeEqualsHistogramOfUnion)
{
    // Different ranges, so the two dense arrays start at different offsets.
    auto const a_values = sample(std::uniform_real_distribution<double>{0.0005, 10.0}, 4, 20'000);
    auto const b_values = sample(std::lognormal_distribution<double>{std::log(5000.0), 1.0}, 5, 30'000);
    log_histogram first, second, both;
    for (double v : a_values) {
        first.add(v);
        both.add(v);
    }
    for (double v : b_values) {
        second.add(v);
        both.add(v);
    }
    first.merge(second);
    EXPECT_EQ(first.count(), both.count());
    EXPECT_EQ(first.zero_count(), both.zero_count());
    EXPECT_EQ(first.min(), both.min());
    EXPECT_EQ(first.max(), both.max());
    EXPECT_NEAR(first.sum(), both.sum(), 1e-9 * both.sum());
    for (auto i = log_histogram::min_index; i <= log_histogram::max_index; ++i)
        ASSERT_EQ(first.bucket_count(i), both.bucket_count(i)) << "bucket " << i;
    EXPECT_TRUE(first.same_buckets(both));
    for (double q : {0.0, 0.5, 0.95, 0.99, 1.0})
        EXPECT_EQ(first.quantile(q), both.quantile(q));

    // Merging into an empty histogram copies; merging an empty one changes nothing.
    log_histogram empty, copy;
    copy.merge(both);
    EXPECT_TRUE(copy.same_buckets(both));
    copy.merge(empty);
    EXPECT_TRUE(copy.same_buckets(both));
    EXPECT_FALSE(copy.same_buckets(empty));
}

TEST(LogHistogramTest, QuantilesInOnePassMatchOneByOne)
{
    log_histogram h;
    for (auto v : sample(std::lognormal_distribution<double>{0.0, 3.0}, 8, 10'000))
        h.add(v);
    std::vector<double> qs;
    for (int i = 0; i <= 200; ++i)
        qs.push_back(i / 200.0);
    std::vector<double> all(qs.size());
    h.quantiles(qs, all);
    for (std::size_t i = 0; i < qs.size(); ++i)
        EXPECT_EQ(all[i], h.quantile(qs[i])) << qs[i];
}

TEST(LogHistogramTest, EmptyReadsZero)
{
    log_histogram const h;
    EXPECT_EQ(h.count(), 0u);
    EXPECT_EQ(h.mean(), 0);
    EXPECT_EQ(h.max(), 0);
    EXPECT_EQ(h.quantile(0.5), 0);
    EXPECT_EQ(h.bucket_span(), 0u);
}

TEST(LogHistogramTest, OutOfRangeValues)
{
    log_histogram h;
    h.add(0);
    h.add(0.0004);
    h.add(-3);  // clock skew: counted as zero
    h.add(std::nan(""));
    h.add(std::numeric_limits<double>::infinity());
    EXPECT_EQ(h.count(), 3u);
    EXPECT_EQ(h.zero_count(), 3u);
    EXPECT_EQ(h.quantile(0.0), 0);
    EXPECT_EQ(h.quantile(0.5), 0);       // in the zero bucket
    EXPECT_EQ(h.quantile(1.0), 0.0004);  // the exact maximum
    h.add(1e30);  // counted as max_value
    EXPECT_EQ(h.bucket_count(log_histogram::index_of(log_histogram::max_value)), 1u);
    EXPECT_EQ(h.max(), log_histogram::max_value);
    EXPECT_EQ(h.quantile(1.0), log_histogram::max_value);
    EXPECT_EQ(h.quantile(-1.0), 0);  // q is clamped to [0, 1]
    EXPECT_EQ(h.quantile(2.0), log_histogram::max_value);
    EXPECT_LT(log_histogram::index_of(log_histogram::max_value), log_histogram::max_index);
}

TEST(LogHistogramTest, BucketsAreNeverMoreThanTheCap)
{
    log_histogram h;
    for (double v = log_histogram::min_value; v < 1e16; v *= 1.001)
        h.add(v);
    EXPECT_LE(h.bucket_span(), static_cast<std::size_t>(log_histogram::max_buckets));
    EXPECT_GE(h.bucket_span(), 1950u);
    for (double v = log_histogram::min_value; v <= log_histogram::max_value; v *= 1.001)
        ASSERT_GT(h.bucket_count(log_histogram::index_of(v)), 0u) << v;
}

TEST(LogHistogramTest, TypicalHistogramIsSmall)
{
    log_histogram h;
    for (auto v : sample(std::uniform_real_distribution<double>{100.0, 10'000.0}, 6, 10'000))
        h.add(v);
    // Two orders of magnitude: ln(100) / ln(γ) ≈ 230 buckets, plus growth slack.
    EXPECT_GE(h.bucket_span(), 231u);
    EXPECT_LE(h.bucket_span(), 231u + 32);
}

TEST(LogHistogramTest, BucketBoundsFollowGamma)
{
    EXPECT_NEAR(log_histogram::ln_gamma, std::log(1.01 / 0.99), 1e-15);
    EXPECT_EQ(log_histogram::min_index, static_cast<int>(std::ceil(std::log(1e-3) / std::log(1.01 / 0.99))));
    for (double v : {0.001, 0.5, 1.0, 7.25, 1000.0, 123456.0}) {
        auto const i = log_histogram::index_of(v);
        EXPECT_LT(log_histogram::lower_bound(i), v * (1 + 1e-12));
        EXPECT_LE(v, log_histogram::upper_bound(i) * (1 + 1e-12));
        EXPECT_LE(std::abs(log_histogram::representative(i) - v) / v, 0.01 + 1e-12);
    }
}

// ---------------------------------------------------------------------------
// rate_window

TEST(RateWindowTest, CountsOverOneAndFiveMinutes)
{
    rate_window w;
    EXPECT_TRUE(w.empty(t0));
    for (int i = 0; i < 60; ++i)
        w.add(t0 + std::chrono::seconds{i}, t0 + std::chrono::seconds{i});
    auto const end = t0 + 59s;
    EXPECT_EQ(w.count_1m(end), 60u);
    EXPECT_DOUBLE_EQ(w.per_second_1m(end), 1.0);
    EXPECT_DOUBLE_EQ(w.per_second_5m(end), 60.0 / 300.0);
    // One second later the first one has left the minute, not the five minutes.
    EXPECT_EQ(w.count_1m(end + 1s), 59u);
    EXPECT_EQ(w.count_5m(end + 1s), 60u);
    EXPECT_EQ(w.count_1m(end + 60s), 0u);
    EXPECT_EQ(w.count_5m(end + 60s), 60u);
    EXPECT_FALSE(w.empty(end + 60s));
    // The five-minute window slides in five-second slots: t0's slot leaves at t0 + 300 s.
    EXPECT_EQ(w.count_5m(t0 + 299s), 60u);
    EXPECT_EQ(w.count_5m(t0 + 300s), 55u);
    EXPECT_EQ(w.count_5m(t0 + 359s), 0u);
    EXPECT_TRUE(w.empty(t0 + 359s));
    // Reads do not move the window: an earlier reader still sees everything.
    EXPECT_EQ(w.count_1m(end), 60u);
}

TEST(RateWindowTest, PlacesEventsAtTheirOwnTime)
{
    rate_window w;
    auto const now = t0 + 10min;
    w.add(now - 30s, now);    // in both windows
    w.add(now - 2min, now);   // only in the five minutes
    w.add(now - 10min, now);  // too old: ignored
    w.add(now + 1h, now);     // producer clock ahead: counted at now
    EXPECT_EQ(w.count_1m(now), 2u);
    EXPECT_EQ(w.count_5m(now), 3u);
    EXPECT_EQ(w.count_1m(now + 31s), 1u);
    EXPECT_EQ(w.count_1m(now + 60s), 0u);
    // Adding at a later `now` moves the window.
    w.add(now + 2min, now + 2min);
    EXPECT_EQ(w.count_1m(now + 2min), 1u);
    EXPECT_EQ(w.count_5m(now + 2min), 4u);
    // now - 2 min leaves the five minutes at now + 3 min.
    EXPECT_EQ(w.count_5m(now + 3min), 3u);
}

TEST(RateWindowTest, LongGapEmptiesTheWindows)
{
    rate_window w;
    w.add(t0, t0, 5);
    w.add(t0 + 1h, t0 + 1h);
    EXPECT_EQ(w.count_1m(t0 + 1h), 1u);
    EXPECT_EQ(w.count_5m(t0 + 1h), 1u);
    EXPECT_EQ(w.count_5m(t0 + 2h), 0u);
}

TEST(RateWindowTest, MergeAddsSlotBySlot)
{
    rate_window first, second, both;
    std::mt19937_64 rng{7};
    for (int i = 0; i < 1000; ++i) {
        auto const now = t0 + std::chrono::milliseconds{i * 400};
        auto const at = now - std::chrono::milliseconds{rng() % 20'000};
        (i % 3 == 0 ? first : second).add(at, now);
        both.add(at, now);
    }
    first.merge(second);
    for (auto now = t0 + 400s; now < t0 + 800s; now += 7s) {
        EXPECT_EQ(first.count_1m(now), both.count_1m(now));
        EXPECT_EQ(first.count_5m(now), both.count_5m(now));
    }
}

TEST(RateWindowTest, MergeMovesOnWithAWindowThatCountsNothing)
{
    // `second` saw only an event too old to count, at a later `now`: the
    // union's window has moved past what `first` counted.
    rate_window first, second, both;
    first.add(t0, t0);
    both.add(t0, t0);
    second.add(t0 + 10min, t0 + 20min);
    both.add(t0 + 10min, t0 + 20min);
    ASSERT_EQ(second.count_5m(t0 + 20min), 0u);
    first.merge(second);
    for (auto now : {t0, t0 + 20min, t0 + 30min}) {
        EXPECT_EQ(first.count_1m(now), both.count_1m(now));
        EXPECT_EQ(first.count_5m(now), both.count_5m(now));
    }
}

// ---------------------------------------------------------------------------
// aggregates: hand-written cases

struct job
{
    std::string id;
    std::string queue;
    std::string run;
    std::string tenant;
    std::string user;
};

/// What a change says beyond the two states.
struct extras
{
    bool attempt_started = false;
    bool finished = false;
    std::optional<double> duration_ms{};
    std::optional<double> wait_ms{};
};

logged_event cause_at(time_point t)
{
    logged_event e;
    e.event = jobwatch::job_progress{};
    e.time = t;
    return e;
}

job_change change(logged_event const& cause, job const& j, std::optional<job_state> before, job_state after,
                  extras x = {})
{
    // Owned for the test's life: a change names its job's rooms.
    static std::deque<std::shared_ptr<jobwatch::job_rooms const>> rooms;
    auto const& r = rooms.emplace_back(jobwatch::job_rooms::make(j.tenant, j.id, j.queue, j.run, j.user));
    return job_change{
        .cause = cause,
        .job_id = j.id,
        .queue = j.queue,
        .run_id = j.run,
        .tenant_id = j.tenant,
        .user_id = j.user,
        .job_type = {},
        .before = before,
        .after = after,
        .attempt = 1,
        .attempt_started = x.attempt_started,
        .finished = x.finished,
        .attempt_failed = false,
        .retry_scheduled = false,
        .duration_ms = x.duration_ms,
        .wait_ms = x.wait_ms,
        .error = {},
        .rooms = r.get(),
    };
}

/// Feeds changes at one time, like the store would for events of that time.
struct feeder
{
    aggregates& agg;
    time_point now = t0;

    void operator()(job const& j, std::optional<job_state> before, job_state after, extras x = {})
    {
        auto const cause = cause_at(now);
        agg.on_change(change(cause, j, before, after, x), now);
    }
};

std::set<std::string> scopes_of(job const& j)
{
    std::set<std::string> out{"all", jobwatch::rooms::queue(j.queue)};
    if (!j.run.empty())
        out.insert(jobwatch::rooms::run(j.tenant, j.run));
    if (!j.tenant.empty())
        out.insert(jobwatch::rooms::tenant(j.tenant));
    if (!j.user.empty())
        out.insert(jobwatch::rooms::user(j.tenant, j.user));
    return out;
}

std::set<std::string> take(aggregates& agg, time_point now)
{
    auto const v = agg.take_dirty(now);
    std::set<std::string> out(v.begin(), v.end());
    EXPECT_EQ(out.size(), v.size()) << "a scope was listed twice";
    return out;
}

state_counts counts(std::int64_t total, std::int64_t queued, std::int64_t running, std::int64_t succeeded,
                    std::int64_t failed, std::int64_t cancelled)
{
    return state_counts{total, queued, running, succeeded, failed, cancelled};
}

job const job_a{"a", "emails", "r1", "t1", "u1"};
job const job_b{"b", "emails", "r1", "t1", "u2"};
job const job_c{"c", "thumbs", "r2", "t1", "u1"};

TEST(AggregatesTest, CountsFollowTransitions)
{
    aggregates agg;
    feeder feed{agg};
    feed(job_a, std::nullopt, job_state::queued);
    feed(job_b, std::nullopt, job_state::queued);
    feed(job_c, std::nullopt, job_state::running, {.attempt_started = true});
    EXPECT_EQ(agg.find("all")->counts, counts(3, 2, 1, 0, 0, 0));
    EXPECT_EQ(agg.find("run:t1/r1")->counts, counts(2, 2, 0, 0, 0, 0));
    EXPECT_EQ(agg.find("user:t1/u1")->counts, counts(2, 1, 1, 0, 0, 0));

    feed(job_a, job_state::queued, job_state::running, {.attempt_started = true});
    feed(job_a, job_state::running, job_state::queued);  // failed, will retry
    feed(job_a, job_state::queued, job_state::running, {.attempt_started = true});
    feed(job_a, job_state::running, job_state::succeeded, {.finished = true, .duration_ms = 10});
    feed(job_b, job_state::queued, job_state::cancelled, {.finished = true});
    feed(job_c, job_state::running, job_state::failed, {.finished = true, .duration_ms = 20});

    EXPECT_EQ(agg.find("all")->counts, counts(3, 0, 0, 1, 1, 1));
    EXPECT_EQ(agg.find("all")->executions, 3);
    EXPECT_EQ(agg.find("run:t1/r1")->counts, counts(2, 0, 0, 1, 0, 1));
    EXPECT_EQ(agg.find("run:t1/r1")->executions, 2);
    EXPECT_EQ(agg.find("run:t1/r2")->counts, counts(1, 0, 0, 0, 1, 0));
    EXPECT_EQ(agg.find("queue:emails")->counts, counts(2, 0, 0, 1, 0, 1));
    EXPECT_EQ(agg.find("tenant:t1")->counts, counts(3, 0, 0, 1, 1, 1));
    EXPECT_EQ(agg.find("user:t1/u1")->counts, counts(2, 0, 0, 1, 1, 0));
    EXPECT_EQ(agg.find("user:t1/u2")->counts, counts(1, 0, 0, 0, 0, 1));

    auto const& by_queue = agg.find("all")->by_queue;
    ASSERT_EQ(by_queue.size(), 2u);
    EXPECT_EQ(by_queue.at("emails"), counts(2, 0, 0, 1, 0, 1));
    EXPECT_EQ(by_queue.at("thumbs"), counts(1, 0, 0, 0, 1, 0));
    EXPECT_EQ(agg.find("user:t1/u1")->by_queue.size(), 2u);
    EXPECT_EQ(agg.find("run:t1/r1")->by_queue.size(), 1u);
    EXPECT_EQ(agg.scope_count(), 1u + 2 + 2 + 1 + 2);
}

TEST(AggregatesTest, JobWithoutRunTenantOrUserCountsInAllAndItsQueue)
{
    aggregates agg;
    feeder feed{agg};
    job const lone{"x", "misc", "", "", ""};
    feed(lone, std::nullopt, job_state::queued);
    EXPECT_EQ(take(agg, t0), (std::set<std::string>{"all", "queue:misc"}));
    EXPECT_EQ(agg.scope_count(), 2u);
    EXPECT_EQ(agg.find("run:"), nullptr);
}

TEST(AggregatesTest, SuccessRateEdgeCases)
{
    aggregates agg;
    feeder feed{agg};
    EXPECT_EQ(agg.summary_of("all", t0).success_rate, 0);  // no job at all
    feed(job_a, std::nullopt, job_state::running);
    EXPECT_EQ(agg.summary_of("all", t0).success_rate, 0);  // none finished
    feed(job_a, job_state::running, job_state::failed, {.finished = true});
    EXPECT_EQ(agg.summary_of("all", t0).success_rate, 0);  // only failures
    feed(job_b, std::nullopt, job_state::succeeded, {.finished = true});
    EXPECT_EQ(agg.summary_of("all", t0).success_rate, 0.5);
    feed(job_c, std::nullopt, job_state::cancelled, {.finished = true});
    job const d{"d", "emails", "r1", "", ""};
    feed(d, std::nullopt, job_state::cancelled, {.finished = true});
    EXPECT_EQ(agg.summary_of("all", t0).success_rate, 0.25);  // cancelled counts as not succeeded
    feed(job{"e", "q", "", "", ""}, std::nullopt, job_state::running);
    EXPECT_EQ(agg.summary_of("all", t0).success_rate, 0.25);  // running jobs do not count
    EXPECT_EQ(agg.summary_of("user:t1/u2", t0).success_rate, 1.0);  // only b
    EXPECT_EQ(agg.summary_of("run:t1/r2", t0).success_rate, 0.0);   // only c, cancelled
}

TEST(AggregatesTest, ProgressMarksNothingDirty)
{
    aggregates agg;
    feeder feed{agg};
    feed(job_a, std::nullopt, job_state::running, {.attempt_started = true, .wait_ms = 5});
    EXPECT_EQ(take(agg, t0), scopes_of(job_a));
    // Progress, log lines, duplicates: same state, nothing else.
    for (int i = 0; i < 100; ++i)
        feed(job_a, job_state::running, job_state::running);
    feed(job_a, job_state::running, job_state::running, {.duration_ms = std::nan("")});
    EXPECT_TRUE(take(agg, t0).empty());
    EXPECT_TRUE(take(agg, t0 + 10s).empty());
}

TEST(AggregatesTest, CompletionMarksExactlyTheJobsScopes)
{
    aggregates agg;
    feeder feed{agg};
    feed(job_a, std::nullopt, job_state::running);
    feed(job_b, std::nullopt, job_state::running);
    feed(job_c, std::nullopt, job_state::running);
    EXPECT_EQ(take(agg, t0).size(), 1u + 2 + 2 + 1 + 2);
    feed(job_b, job_state::running, job_state::succeeded, {.finished = true, .duration_ms = 42});
    EXPECT_EQ(take(agg, t0), scopes_of(job_b));
    // take_dirty cleared the set: nothing changed since.
    EXPECT_TRUE(take(agg, t0).empty());
}

TEST(AggregatesTest, AnAttemptOrAWaitAloneMarksDirty)
{
    aggregates agg;
    feeder feed{agg};
    feed(job_a, std::nullopt, job_state::running);
    take(agg, t0);
    feed(job_a, job_state::running, job_state::running, {.attempt_started = true});
    EXPECT_EQ(take(agg, t0), scopes_of(job_a));
    feed(job_a, job_state::running, job_state::running, {.wait_ms = 3});
    EXPECT_EQ(take(agg, t0), scopes_of(job_a));
}

TEST(AggregatesTest, ThroughputReMarksWhileRatesChange)
{
    aggregates agg;
    feeder feed{agg};
    feed(job_a, std::nullopt, job_state::running);
    feed(job_a, job_state::running, job_state::succeeded, {.finished = true});
    EXPECT_EQ(take(agg, t0), scopes_of(job_a));
    auto const rate = agg.summary_of("run:t1/r1", t0).throughput;
    EXPECT_DOUBLE_EQ(rate.per_second_1m, 1.0 / 60);
    EXPECT_DOUBLE_EQ(rate.per_second_5m, 1.0 / 300);
    // Same rates a second later: nothing to publish.
    EXPECT_TRUE(take(agg, t0 + 1s).empty());
    // The minute rate drops to zero: published again, once.
    EXPECT_EQ(take(agg, t0 + 60s), scopes_of(job_a));
    EXPECT_EQ(agg.summary_of("run:t1/r1", t0 + 60s).throughput.per_second_1m, 0);
    EXPECT_TRUE(take(agg, t0 + 61s).empty());
    // The five-minute rate drops to zero: published again, then never.
    EXPECT_EQ(take(agg, t0 + 300s), scopes_of(job_a));
    EXPECT_EQ(agg.summary_of("run:t1/r1", t0 + 300s).throughput, jobwatch::throughput{});
    EXPECT_TRUE(take(agg, t0 + 301s).empty());
    EXPECT_TRUE(take(agg, t0 + 2h).empty());
}

TEST(AggregatesTest, ThroughputCountsJobsAtTheirEventTime)
{
    aggregates agg;
    auto const now = t0 + 1h;
    // Replayed completions from long ago do not show as throughput.
    auto const old = cause_at(t0);
    agg.on_change(change(old, job_a, std::nullopt, job_state::succeeded, {.finished = true}), now);
    EXPECT_EQ(agg.summary_of("all", now).throughput, jobwatch::throughput{});
    EXPECT_EQ(take(agg, now), scopes_of(job_a));  // the counts changed
    auto const recent = cause_at(now - 90s);
    agg.on_change(change(recent, job_b, std::nullopt, job_state::succeeded, {.finished = true}), now);
    EXPECT_EQ(agg.summary_of("all", now).throughput.per_second_1m, 0);
    EXPECT_DOUBLE_EQ(agg.summary_of("all", now).throughput.per_second_5m, 1.0 / 300);
}

TEST(AggregatesTest, SummaryCarriesEveryMetric)
{
    aggregates agg;
    feeder feed{agg};
    for (int i = 1; i <= 100; ++i) {
        job const j{"j" + std::to_string(i), i % 2 ? "odd" : "even", "r", "", ""};
        feed(j, std::nullopt, job_state::queued);
        feed(j, job_state::queued, job_state::running, {.attempt_started = true, .wait_ms = i * 1.0});
        if (i <= 90)
            feed(j, job_state::running, job_state::succeeded, {.finished = true, .duration_ms = i * 10.0});
    }
    auto const now = t0 + 500ms;
    auto const s = agg.summary_of("run:r", now);
    EXPECT_EQ(s.kind, "summary");
    EXPECT_EQ(s.scope, "run:r");
    EXPECT_EQ(s.updated_at, "2024-05-01T12:00:00.500Z");
    EXPECT_EQ(s.counts, counts(100, 0, 10, 90, 0, 0));
    EXPECT_EQ(s.success_rate, 1.0);
    EXPECT_EQ(s.executions, 100);
    EXPECT_EQ(s.by_queue.at("odd"), counts(50, 0, 5, 45, 0, 0));
    EXPECT_EQ(s.by_queue.at("even"), counts(50, 0, 5, 45, 0, 0));
    EXPECT_EQ(s.latency.count, 90);
    EXPECT_DOUBLE_EQ(s.latency.avg_ms, 455.0);
    EXPECT_EQ(s.latency.max_ms, 900.0);
    EXPECT_NEAR(s.latency.p50_ms, 450.0, 4.5);  // rank floor(0.5 × 89) = 44: the 45th value
    EXPECT_NEAR(s.latency.p95_ms, 850.0, 8.5);  // rank 84
    EXPECT_NEAR(s.latency.p99_ms, 890.0, 8.9);  // rank 88
    EXPECT_EQ(s.wait.count, 100);
    EXPECT_DOUBLE_EQ(s.wait.avg_ms, 50.5);
    EXPECT_EQ(s.wait.max_ms, 100.0);
    EXPECT_DOUBLE_EQ(s.throughput.per_second_1m, 90.0 / 60);
    EXPECT_DOUBLE_EQ(s.throughput.per_second_5m, 90.0 / 300);

    // The serialized message satisfies the schema and reads back the same.
    auto const text = jobwatch::to_json(s);
    auto const back = jobwatch::parse<jobwatch::summary>(text);
    ASSERT_TRUE(back) << back.error().path << ": " << back.error().message;
    EXPECT_EQ(*back, s);
}

TEST(AggregatesTest, UnknownScopeHasAnEmptySummary)
{
    aggregates const agg;
    auto const s = agg.summary_of("run:nope", t0);
    EXPECT_EQ(s.scope, "run:nope");
    EXPECT_EQ(s.counts, state_counts{});
    EXPECT_TRUE(s.by_queue.empty());
    EXPECT_EQ(s.latency, jobwatch::latency_stats{});
    EXPECT_TRUE(jobwatch::parse<jobwatch::summary>(jobwatch::to_json(s)));
    EXPECT_EQ(agg.summary_of("all", t0).counts, state_counts{});
}

TEST(AggregatesTest, EvictIdleDropsOnlyIdleFinishedScopes)
{
    aggregates agg{{.idle_scope_ttl = 1h}};
    feeder feed{agg};
    feed(job_a, std::nullopt, job_state::running);
    feed(job_a, job_state::running, job_state::succeeded, {.finished = true});
    feed(job_c, std::nullopt, job_state::running);  // still running at the sweep
    EXPECT_EQ(agg.evict_idle(t0 + 2h), 0u) << "dirty scopes are kept until published";
    take(agg, t0 + 2h);
    EXPECT_EQ(agg.evict_idle(t0 + 30min), 0u) << "not idle long enough";
    // a's run and queue; not its tenant and user, which c (running) shares.
    EXPECT_EQ(agg.evict_idle(t0 + 2h), 2u);
    EXPECT_EQ(agg.find("run:t1/r1"), nullptr);
    EXPECT_EQ(agg.find("queue:emails"), nullptr);
    EXPECT_EQ(agg.find("tenant:t1")->counts.running, 1);
    EXPECT_NE(agg.find("run:t1/r2"), nullptr);
    EXPECT_NE(agg.find("all"), nullptr);
    EXPECT_EQ(agg.find("user:t1/u1")->counts.running, 1);
    EXPECT_EQ(agg.stats().scopes_evicted, 2u);
    // A new job in an evicted room starts it afresh.
    feeder later{agg, t0 + 3h};
    later(job_b, std::nullopt, job_state::queued);
    EXPECT_EQ(agg.find("run:t1/r1")->counts, counts(1, 1, 0, 0, 0, 0));
    EXPECT_EQ(agg.find("all")->counts, counts(3, 1, 1, 1, 0, 0));

}

TEST(AggregatesTest, EvictionCanBeDisabled)
{
    aggregates agg{{.idle_scope_ttl = jobwatch::duration::zero()}};
    feeder feed{agg};
    feed(job_a, std::nullopt, job_state::succeeded, {.finished = true});
    take(agg, t0 + 24h);
    EXPECT_EQ(agg.evict_idle(t0 + 24h), 0u);
    EXPECT_EQ(agg.scope_count(), 5u);
}

TEST(AggregatesTest, MaxScopesRefusesNewScopes)
{
    aggregates agg{{.max_scopes = 3}};
    feeder feed{agg};
    feed(job_a, std::nullopt, job_state::queued);  // all, queue:emails, run:r1; not tenant:t1, user:u1
    EXPECT_EQ(agg.scope_count(), 3u);
    EXPECT_EQ(agg.stats().scopes_refused, 2u);
    EXPECT_EQ(agg.find("tenant:t1"), nullptr);
    EXPECT_EQ(take(agg, t0), (std::set<std::string>{"all", "queue:emails", "run:t1/r1"}));
    feed(job_a, job_state::queued, job_state::running);
    feed(job_a, job_state::running, job_state::succeeded, {.finished = true});
    EXPECT_EQ(agg.find("run:t1/r1")->counts, counts(1, 0, 0, 1, 0, 0));
    // Eviction makes room again.
    take(agg, t0 + 1h);
    EXPECT_EQ(agg.evict_idle(t0 + 2h), 2u);
    feed(job_c, std::nullopt, job_state::queued);
    EXPECT_NE(agg.find("run:t1/r2"), nullptr);
    EXPECT_EQ(agg.find("all")->counts, counts(2, 1, 0, 1, 0, 0));
}

TEST(AggregatesTest, ScopeThatMissedAJobAdoptsIt)
{
    // This instance never saw c queued (its scopes were refused, or evicted
    // and recreated): the transition counts c as new instead of going negative.
    aggregates agg;
    feeder feed{agg};
    feed(job_c, job_state::queued, job_state::running);
    EXPECT_EQ(agg.find("run:t1/r2")->counts, counts(1, 0, 1, 0, 0, 0));
    EXPECT_EQ(agg.find("run:t1/r2")->by_queue.at("thumbs"), counts(1, 0, 1, 0, 0, 0));
    feed(job_c, job_state::running, job_state::succeeded, {.finished = true});
    EXPECT_EQ(agg.find("all")->counts, counts(1, 0, 0, 1, 0, 0));
}

TEST(AggregatesTest, LateRunIdConvergesOnceJobsFinish)
{
    // The job store fixes a job's run by its first event, so this never
    // reaches the aggregates from the store; fed directly, a job that joins
    // a scope late is adopted: counts stay consistent (never negative, total
    // the sum of the states) and are exact once the jobs finish.
    aggregates agg;
    feeder feed{agg};
    job const late{"a", "emails", "", "t1", "u1"};
    job const joined{"a", "emails", "r1", "t1", "u1"};
    job const other{"b", "emails", "r1", "t1", "u1"};
    feed(other, std::nullopt, job_state::queued);
    feed(late, std::nullopt, job_state::queued);
    feed(joined, job_state::queued, job_state::running, {.attempt_started = true});
    EXPECT_EQ(agg.find("run:t1/r1")->counts, counts(1, 0, 1, 0, 0, 0));  // should be (2, 1, 1, ...)
    feed(other, job_state::queued, job_state::running, {.attempt_started = true});
    EXPECT_EQ(agg.find("run:t1/r1")->counts, counts(2, 0, 2, 0, 0, 0));
    feed(joined, job_state::running, job_state::succeeded, {.finished = true});
    feed(other, job_state::running, job_state::failed, {.finished = true});
    EXPECT_EQ(agg.find("run:t1/r1")->counts, counts(2, 0, 0, 1, 1, 0));
    EXPECT_EQ(agg.find("run:t1/r1")->by_queue.at("emails"), counts(2, 0, 0, 1, 1, 0));
    EXPECT_EQ(agg.find("all")->counts, counts(2, 0, 0, 1, 1, 0));
}

TEST(AggregatesTest, MaxQueuesPerScopeBoundsByQueue)
{
    aggregates agg{{.max_queues_per_scope = 2}};
    feeder feed{agg};
    for (int i = 0; i < 5; ++i)
        feed(job{"j" + std::to_string(i), "q" + std::to_string(i), "", "", ""}, std::nullopt, job_state::queued);
    EXPECT_EQ(agg.find("all")->by_queue.size(), 2u);
    EXPECT_EQ(agg.find("all")->counts.total, 5);
    EXPECT_EQ(agg.stats().queues_refused, 3u);
}

// ---------------------------------------------------------------------------
// Property test: random event streams through a reference job state machine.

/// A job as it ended, the input of the from-scratch recomputation.
struct final_job
{
    std::string queue, run, tenant, user;
    job_state state = job_state::queued;
    std::int64_t executions = 0;
    std::optional<double> wait_ms{};
    std::optional<double> duration_ms{};
};

/** @brief A small reference job store: applies job events with the rules of
    docs/core.md (terminal states sticky, duplicates and stale events no-ops,
    retries as new attempts) and produces the `job_change`s the real store
    would. It is not the job store; it is a source of valid changes. */
class reference_store
{
public:
    struct job_state_record
    {
        std::string queue, run, tenant, user;
        job_state state = job_state::queued;
        std::int64_t attempt = 0;
        std::int64_t executions = 0;
        std::optional<time_point> queued_at;
        std::optional<time_point> started_at;
        std::optional<double> wait_ms;      // the first start's
        std::optional<double> duration_ms;  // the finish's
    };

    template<class F>
    void apply(logged_event const& le, F&& emit)
    {
        auto const& ev = le.event;
        auto const key = jobwatch::queue_of(ev) + "/" + jobwatch::job_id_of(ev);
        auto const kind = jobwatch::kind_of(ev);
        auto const t = le.time;
        auto [it, is_new] = jobs_.try_emplace(key);
        auto& j = it->second;
        std::optional<job_state> before;
        extras x;
        if (is_new) {
            j.queue = jobwatch::queue_of(ev);
            j.run = jobwatch::run_id_of(ev).value_or("");
            j.tenant = jobwatch::tenant_id_of(ev).value_or("");
            j.user = jobwatch::user_id_of(ev).value_or("");
        } else {
            before = j.state;
        }
        using jobwatch::event_kind;
        if (!is_new && jobwatch::is_terminal(j.state)) {
            // Sticky: a late event changes nothing.
        } else if (kind == event_kind::queued) {
            if (is_new) {
                j.state = job_state::queued;
                j.queued_at = t;
            }
        } else if (kind == event_kind::started) {
            auto const attempt = std::get<jobwatch::job_started>(ev).attempt;
            if (is_new || attempt > j.attempt) {
                if (j.executions == 0 && j.queued_at)
                    x.wait_ms = std::max(0.0, static_cast<double>((t - *j.queued_at).count()));
                j.state = job_state::running;
                j.attempt = attempt;
                ++j.executions;
                j.started_at = t;
                x.attempt_started = true;
                if (x.wait_ms)
                    j.wait_ms = x.wait_ms;
            }
        } else if (kind == event_kind::progress || kind == event_kind::log) {
            if (is_new)
                j.state = job_state::running;  // its start was lost or is late
        } else if (kind == event_kind::retrying) {
            if (is_new || j.state == job_state::running)
                j.state = job_state::queued;
        } else if (kind == event_kind::failed && std::get<jobwatch::job_failed>(ev).will_retry) {
            auto const attempt = std::get<jobwatch::job_failed>(ev).attempt;
            if (is_new || (j.state == job_state::running && attempt >= j.attempt))
                j.state = job_state::queued;
        } else {
            // completed, failed for good, cancelled
            auto const* failed = std::get_if<jobwatch::job_failed>(&ev);
            if (failed && failed->attempt < j.attempt) {
                // a stale failure of an earlier attempt
            } else {
                if (auto const* done = std::get_if<jobwatch::job_completed>(&ev); done && done->duration_ms)
                    x.duration_ms = *done->duration_ms;
                else if (j.started_at && (is_new || j.state == job_state::running))
                    x.duration_ms = static_cast<double>((t - *j.started_at).count());
                j.state = kind == event_kind::completed ? job_state::succeeded
                          : kind == event_kind::failed  ? job_state::failed
                                                        : job_state::cancelled;
                x.finished = true;
                j.duration_ms = x.duration_ms;
            }
        }
        job const view{jobwatch::job_id_of(ev), j.queue, j.run, j.tenant, j.user};
        emit(change(le, view, before, j.state, x));
    }

    std::vector<final_job> final_jobs() const
    {
        std::vector<final_job> out;
        for (auto const& [key, j] : jobs_)
            out.push_back({j.queue, j.run, j.tenant, j.user, j.state, j.executions, j.wait_ms, j.duration_ms});
        return out;
    }

private:
    std::map<std::string, job_state_record> jobs_;
};

template<class E>
jobwatch::job_event make_event(E e, job const& j, time_point t)
{
    e.job_id = j.id;
    e.queue = j.queue;
    if (!j.run.empty())
        e.run_id = j.run;
    if (!j.tenant.empty())
        e.tenant_id = j.tenant;
    if (!j.user.empty())
        e.user_id = j.user;
    e.time = jobwatch::format_time(t);
    return e;
}

struct timed_event
{
    jobwatch::job_event event;
    time_point time;
};

/// ~200 jobs in 5 queues, 10 runs, 3 tenants and 4 users, with retries,
/// cancellations, unfinished jobs, lost events, duplicates and reordering.
std::vector<timed_event> random_stream(std::uint64_t seed, int jobs = 200)
{
    std::mt19937_64 rng{seed};
    auto chance = [&](double p) { return std::uniform_real_distribution<double>{0, 1}(rng) < p; };
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<std::uint64_t>(n)); };
    std::vector<std::vector<timed_event>> scripts;
    for (int i = 0; i < jobs; ++i) {
        job const j{"job" + std::to_string(i), "q" + std::to_string(pick(5)),
                    chance(0.9) ? "r" + std::to_string(pick(10)) : "",
                    chance(0.8) ? "t" + std::to_string(pick(3)) : "",
                    chance(0.7) ? "u" + std::to_string(pick(4)) : ""};
        std::vector<timed_event> s;
        auto t = t0 + std::chrono::milliseconds{pick(600'000)};
        auto later = [&] { return t += std::chrono::milliseconds{1 + pick(5'000)}; };
        if (chance(0.95))
            s.push_back({make_event(jobwatch::job_queued{}, j, t), t});
        int const attempts = 1 + pick(3);
        for (int a = 1; a <= attempts; ++a) {
            jobwatch::job_started st;
            st.attempt = a;
            s.push_back({make_event(st, j, later()), t});
            for (int p = pick(4); p > 0; --p) {
                jobwatch::job_progress pr;
                pr.percent = 10.0 * p;
                s.push_back({make_event(pr, j, later()), t});
            }
            if (chance(0.3))
                s.push_back({make_event(jobwatch::job_log{}, j, later()), t});
            if (a < attempts) {
                jobwatch::job_failed f;
                f.attempt = a;
                f.will_retry = true;
                s.push_back({make_event(f, j, later()), t});
                if (chance(0.5)) {
                    jobwatch::job_retrying r;
                    r.attempt = a + 1;
                    s.push_back({make_event(r, j, later()), t});
                }
            }
        }
        int const outcome = pick(20);
        if (outcome < 11) {
            jobwatch::job_completed done;
            if (chance(0.5))
                done.duration_ms = 1 + pick(100'000) / 7.0;
            s.push_back({make_event(done, j, later()), t});
        } else if (outcome < 15) {
            jobwatch::job_failed f;
            f.attempt = attempts;
            s.push_back({make_event(f, j, later()), t});
        } else if (outcome < 17) {
            s.push_back({make_event(jobwatch::job_cancelled{}, j, later()), t});
        } else {
            // unfinished: cut the script somewhere
            s.resize(1 + static_cast<std::size_t>(pick(static_cast<int>(s.size()))));
        }
        scripts.push_back(std::move(s));
    }
    // Interleave the jobs, each in its own order.
    std::vector<timed_event> out;
    std::vector<std::size_t> next(scripts.size(), 0);
    std::vector<std::size_t> open(scripts.size());
    std::iota(open.begin(), open.end(), std::size_t{0});
    while (!open.empty()) {
        auto const k = static_cast<std::size_t>(pick(static_cast<int>(open.size())));
        auto const i = open[k];
        out.push_back(scripts[i][next[i]++]);
        if (next[i] == scripts[i].size()) {
            open[k] = open.back();
            open.pop_back();
        }
    }
    // Duplicates, delivered a little later, and neighbours swapped.
    for (std::size_t i = 0; i < out.size(); ++i) {
        if (chance(0.05)) {
            auto const at = std::min(out.size(), i + 1 + static_cast<std::size_t>(pick(20)));
            out.insert(out.begin() + static_cast<std::ptrdiff_t>(at), out[i]);
        }
    }
    for (std::size_t i = 0; i + 1 < out.size(); ++i)
        if (chance(0.05))
            std::swap(out[i], out[i + 1]);
    return out;
}

struct expected_scope
{
    state_counts counts;
    std::map<std::string, state_counts> by_queue;
    std::int64_t executions = 0;
    log_histogram latency;
    log_histogram wait;
};

void count_job(state_counts& c, job_state s)
{
    ++c.total;
    switch (s) {
    case job_state::queued: ++c.queued; break;
    case job_state::running: ++c.running; break;
    case job_state::succeeded: ++c.succeeded; break;
    case job_state::failed: ++c.failed; break;
    case job_state::cancelled: ++c.cancelled; break;
    }
}

/// The metrics of every scope, computed from scratch from the final job states.
std::map<std::string, expected_scope> recompute(std::vector<final_job> const& jobs)
{
    std::map<std::string, expected_scope> out;
    for (auto const& j : jobs) {
        std::vector<std::string> names{"all", jobwatch::rooms::queue(j.queue)};
        if (!j.run.empty())
            names.push_back(jobwatch::rooms::run(j.tenant, j.run));
        if (!j.tenant.empty())
            names.push_back(jobwatch::rooms::tenant(j.tenant));
        if (!j.user.empty())
            names.push_back(jobwatch::rooms::user(j.tenant, j.user));
        for (auto const& name : names) {
            auto& s = out[name];
            count_job(s.counts, j.state);
            count_job(s.by_queue[j.queue], j.state);
            s.executions += j.executions;
            if (j.duration_ms)
                s.latency.add(*j.duration_ms);
            if (j.wait_ms)
                s.wait.add(*j.wait_ms);
        }
    }
    return out;
}

void expect_matches(aggregates const& agg, std::map<std::string, expected_scope> const& expected)
{
    std::set<std::string> names;
    agg.for_each_scope([&](std::string_view name, jobwatch::scope_metrics const& m) {
        names.emplace(name);
        auto const it = expected.find(std::string(name));
        ASSERT_NE(it, expected.end()) << "unexpected scope " << name;
        auto const& e = it->second;
        EXPECT_EQ(m.counts, e.counts) << name;
        std::map<std::string, state_counts> const by_queue(m.by_queue.begin(), m.by_queue.end());
        EXPECT_EQ(by_queue, e.by_queue) << name;
        EXPECT_EQ(m.executions, e.executions) << name;
        EXPECT_TRUE(m.latency.same_buckets(e.latency)) << name;
        EXPECT_NEAR(m.latency.sum(), e.latency.sum(), 1e-9 * e.latency.sum()) << name;
        EXPECT_TRUE(m.wait.same_buckets(e.wait)) << name;
        EXPECT_NEAR(m.wait.sum(), e.wait.sum(), 1e-9 * e.wait.sum()) << name;
    });
    std::set<std::string> expected_names;
    for (auto const& [name, e] : expected)
        expected_names.insert(name);
    EXPECT_EQ(names, expected_names);
}

/// Summaries at `now` of the scopes the change may touch.
std::map<std::string, jobwatch::summary> summaries(aggregates const& agg, job_change const& c, time_point now)
{
    std::map<std::string, jobwatch::summary> out;
    job const j{std::string(c.job_id), std::string(c.queue), std::string(c.run_id), std::string(c.tenant_id),
                std::string(c.user_id)};
    for (auto const& name : scopes_of(j))
        out[name] = agg.summary_of(name, now);
    return out;
}

/** Feeds a random stream through `Store` (which has `apply(logged_event,
    emit)` and `final_jobs()`) into the aggregates, checking after every
    change that exactly the scopes whose summary changed are dirty, and at
    the end that every scope equals a recomputation from the final jobs, and
    that two instances fed half the jobs each merge into the same. */
template<class Store>
void run_property(std::uint64_t seed)
{
    SCOPED_TRACE("seed " + std::to_string(seed));
    auto const stream = random_stream(seed);
    Store store;
    aggregates whole;
    aggregates even, odd;  // the same jobs split over two instances
    time_point now = t0;
    std::size_t changes = 0, quiet = 0;
    for (std::size_t i = 0; i < stream.size(); ++i) {
        logged_event le;
        le.seq = i + 1;
        le.event = stream[i].event;
        le.time = stream[i].time;
        now = std::max(now, le.time);
        whole.take_dirty(now);
        store.apply(le, [&](job_change const& c) {
            ++changes;
            auto const before = summaries(whole, c, now);
            whole.on_change(c, now);
            (std::hash<std::string_view>{}(c.job_id) % 2 ? odd : even).on_change(c, now);
            auto const after = summaries(whole, c, now);
            // Dirty exactly when the summary changed.
            std::set<std::string> changed;
            for (auto const& [name, s] : after)
                if (s != before.at(name))
                    changed.insert(name);
            auto const dirty = whole.take_dirty(now);
            EXPECT_EQ(std::set<std::string>(dirty.begin(), dirty.end()), changed)
                << "event " << i << " " << jobwatch::to_json(le.event);
            quiet += changed.empty();
        });
    }
    EXPECT_GT(changes, 1000u);
    EXPECT_GT(quiet, 100u) << "the stream should exercise no-op changes";
    auto const expected = recompute(store.final_jobs());
    {
        SCOPED_TRACE("incremental");
        expect_matches(whole, expected);
    }
    {
        SCOPED_TRACE("merged");
        even.merge(odd);
        expect_matches(even, expected);
        // Throughput windows merge exactly too.
        for (auto t = now - 5min; t <= now + 5min; t += 13s)
            whole.for_each_scope([&](std::string_view name, jobwatch::scope_metrics const& m) {
                EXPECT_EQ(even.find(name)->rates(t), m.rates(t)) << name;
            });
    }
}

TEST(AggregatesTest, IncrementalEqualsRecomputationSeed1)
{
    run_property<reference_store>(1);
}

TEST(AggregatesTest, IncrementalEqualsRecomputationManySeeds)
{
    for (std::uint64_t seed = 2; seed <= 12; ++seed)
        run_property<reference_store>(seed);
}

#if __has_include(<jobwatch/store/job_store.hpp>)

/// The real job store behind the same interface. Executions are tallied per
/// job from the changes (a job record keeps its attempt number, not how many
/// attempts it started); everything else comes from the final snapshots.
class real_store
{
public:
    template<class F>
    void apply(logged_event const& le, F&& emit)
    {
        ids_.insert(jobwatch::job_id_of(le.event));
        if (auto const c = store_.apply(le)) {
            if (c->attempt_started)
                ++executions_[std::string(c->job_id)];
            emit(*c);
        }
    }

    std::vector<final_job> final_jobs() const
    {
        std::vector<final_job> out;
        for (auto const& id : ids_) {
            auto const* r = store_.find_any(id).job;
            if (!r)
                continue;  // every event of the job was refused
            auto const s = store_.snapshot(*r);
            auto const e = executions_.find(id);
            out.push_back({s.queue, s.run_id.value_or(""), s.tenant_id.value_or(""), s.user_id.value_or(""),
                           s.state, e == executions_.end() ? 0 : e->second, s.wait_ms, s.duration_ms});
        }
        return out;
    }

private:
    jobwatch::job_store store_;
    std::set<std::string> ids_;
    std::map<std::string, std::int64_t> executions_;
};

TEST(AggregatesTest, IncrementalEqualsRecomputationOverTheJobStore)
{
    for (std::uint64_t seed = 1; seed <= 6; ++seed)
        run_property<real_store>(seed);
}

#endif

}  // namespace
