// Test that the header is self-contained.
#include <jobwatch/monitor/dlq_core.hpp>

#include "monitor_test_support.hpp"

#include <jobwatch/codec.hpp>

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <algorithm>
#include <string>
#include <vector>

namespace jobwatch {
namespace {

using namespace std::chrono_literals;
using test::t0;

// Every alert the core makes must be a valid `alert` document on the wire.
void expect_valid(std::vector<alert> const& alerts)
{
    for (auto const& a : alerts) {
        auto const text = to_json(a);
        auto const r = parse<alert>(text);
        EXPECT_TRUE(r) << text << "\n" << (r ? "" : r.error().path + ": " + r.error().message);
    }
}

class DlqCoreTest : public ::testing::Test
{
protected:
    // A failure of `job` in `queue` at t0 + offset, retried unless `final`.
    std::vector<alert> fail(dlq_core& core, std::string const& job, duration offset,
                            bool final = false, std::string queue = "emails",
                            std::string error = "boom")
    {
        auto const t = t0 + offset;
        auto out =
            core.on_change(changes_.failed(job, t, !final, {.queue = queue, .error = error}), t);
        expect_valid(out);
        return out;
    }

    test::change_factory changes_;
};

// --- fingerprints --------------------------------------------------------------------

TEST(DlqFingerprintTest, MasksDigitRuns)
{
    EXPECT_EQ(dlq_core::fingerprint("Analysis timeout after 30 minutes"),
              "Analysis timeout after # minutes");
    EXPECT_EQ(dlq_core::fingerprint("took 1.25s on worker-17"), "took #.#s on worker-#");
    EXPECT_EQ(dlq_core::fingerprint("job_123 failed"), "job_# failed");
    EXPECT_EQ(dlq_core::fingerprint("similarity-ABC123"), "similarity-ABC#");
    EXPECT_EQ(dlq_core::fingerprint("Analysis timeout after 30 minutes"),
              dlq_core::fingerprint("Analysis timeout after 45 minutes"));
}

TEST(DlqFingerprintTest, MasksUuidsAndHexIds)
{
    EXPECT_EQ(dlq_core::fingerprint("job 9b2f6d1e-3c4a-4f7e-8a51-0d6c2b7e9f10 not found"),
              "job <id> not found");
    EXPECT_EQ(dlq_core::fingerprint("object 5f3a9c2e7b1d4e6f8a9b0c1d missing"),
              "object <id> missing");
    EXPECT_EQ(dlq_core::fingerprint("segfault at 0x7ffe3a"), "segfault at <id>");
    EXPECT_EQ(dlq_core::fingerprint("commit 3f786850e387550fdab836ed7e6dc881de23001b"),
              "commit <id>");
    // All-letter hex words are words; short mixed tokens only lose their digits.
    EXPECT_EQ(dlq_core::fingerprint("deadbeef cafe"), "deadbeef cafe");
    EXPECT_EQ(dlq_core::fingerprint("code ab12"), "code ab#");
}

TEST(DlqFingerprintTest, KeepsQuotedTextAndBoundsLength)
{
    EXPECT_EQ(dlq_core::fingerprint("Cannot read property 'name' of undefined"),
              "Cannot read property 'name' of undefined");
    EXPECT_EQ(dlq_core::fingerprint(""), "");
    EXPECT_EQ(dlq_core::fingerprint(std::string(5000, 'x')).size(),
              dlq_core::max_fingerprint_bytes);
    // 1 + 600 two-byte characters: the cut at 1024 would split one, so it backs up.
    std::string text = "a";
    for (int i = 0; i < 600; ++i)
        text += "\xC3\xA9";
    auto const fp = dlq_core::fingerprint(text);
    EXPECT_EQ(fp.size(), 1023u);
    EXPECT_EQ(static_cast<unsigned char>(fp.back()), 0xA9);
}

// --- failure windows -----------------------------------------------------------------------

TEST_F(DlqCoreTest, WindowKeepsFailureUntilExactlyWindowOld)
{
    dlq_core core({.threshold = 5, .window = 1min});
    fail(core, "job-1", 0ms);
    EXPECT_EQ(core.failures_in_window("emails", t0), 1u);
    EXPECT_EQ(core.failures_in_window("emails", t0 + 59'999ms), 1u);
    // The window is (now - window, now]: a failure exactly one window old is out.
    EXPECT_EQ(core.failures_in_window("emails", t0 + 60s), 0u);
    core.tick(t0 + 59'999ms);
    EXPECT_EQ(core.stats(t0 + 59'999ms).queues.at(0).failures_in_window, 1u);
    core.tick(t0 + 60s);
    EXPECT_TRUE(core.stats(t0 + 60s).queues.empty());
}

TEST_F(DlqCoreTest, FailureAtWindowStartDoesNotCountTowardThreshold)
{
    dlq_core core({.threshold = 2, .window = 1min});
    fail(core, "job-1", 0ms);
    // Exactly one window later the first failure has left: still one failure.
    EXPECT_TRUE(fail(core, "job-2", 60s).empty());
    // One millisecond less and both are in: the threshold is reached.
    dlq_core core2({.threshold = 2, .window = 1min});
    fail(core2, "job-1", 0ms);
    EXPECT_EQ(fail(core2, "job-2", 59'999ms).size(), 1u);
}

TEST_F(DlqCoreTest, ThresholdReachedFiresExactlyOneAlert)
{
    dlq_core core;  // 10 failures in 5 minutes
    for (int i = 1; i <= 9; ++i)
        EXPECT_TRUE(fail(core, "job-" + std::to_string(i), i * 1s).empty()) << i;
    auto const fired =
        fail(core, "job-10", 10s, false, "emails", "Analysis timeout after 30 minutes");
    ASSERT_EQ(fired.size(), 1u);
    alert const& a = fired[0];
    EXPECT_EQ(a.id, "failure_rate:emails:" + std::to_string((t0 + 10s).time_since_epoch().count()));
    EXPECT_EQ(a.kind, alert_kind::failure_rate);
    EXPECT_EQ(a.status, alert_status::firing);
    EXPECT_EQ(a.severity, severity::high);
    EXPECT_EQ(a.title, "High failure rate detected");
    EXPECT_EQ(a.message, "Queue emails has 10 failures in the last 5 minutes (threshold 10)");
    EXPECT_EQ(a.time, format_time(t0 + 10s));
    EXPECT_EQ(a.context.queue, "emails");
    EXPECT_EQ(a.context.failure_count, 10);
    EXPECT_EQ(a.context.threshold, 10.0);
    EXPECT_EQ(a.context.window_ms, 300'000);
    EXPECT_EQ(a.context.recent_job_id, "job-10");
    EXPECT_EQ(a.context.error, "Analysis timeout after 30 minutes");
    EXPECT_TRUE(core.is_firing("emails"));

    // Further failures and ticks while firing: no new alert.
    for (int i = 11; i <= 30; ++i)
        EXPECT_TRUE(fail(core, "job-" + std::to_string(i), i * 1s).empty()) << i;
    EXPECT_TRUE(core.tick(t0 + 31s).empty());
    EXPECT_TRUE(core.is_firing("emails"));
}

TEST_F(DlqCoreTest, HoveringAtThresholdDoesNotFlap)
{
    dlq_core core({.threshold = 10, .window = 10s});
    // 10 failures one second apart: fires at the 10th.
    int fired = 0;
    for (int i = 0; i < 10; ++i)
        fired += static_cast<int>(fail(core, "a-" + std::to_string(i), i * 1s).size());
    EXPECT_EQ(fired, 1);
    // Then, every second, the oldest expires and a new one arrives: the count
    // moves between 9 and 10 for a long time, with no alert either way.
    for (int i = 10; i < 200; ++i) {
        auto const now = t0 + duration{i * 1000 + 500};
        EXPECT_TRUE(core.tick(now).empty()) << i;
        EXPECT_EQ(core.failures_in_window("emails", now), 9u);
        EXPECT_TRUE(fail(core, "a-" + std::to_string(i), i * 1s + 500ms).empty()) << i;
    }
    EXPECT_TRUE(core.is_firing("emails"));
}

TEST_F(DlqCoreTest, ResolvesOnceFailuresFallToHalfTheThreshold)
{
    dlq_core core({.threshold = 10, .window = 60s});
    std::vector<alert> fired;
    for (int i = 0; i < 10; ++i)
        fired = fail(core, "job-" + std::to_string(i), i * 1s);
    ASSERT_EQ(fired.size(), 1u);
    // Failures at 0..9 s; at 64 s those at 0..4 s have left: 5 remain, the resolve level.
    EXPECT_TRUE(core.tick(t0 + 63s).empty());  // 6 remain
    auto const resolved = core.tick(t0 + 64s);
    expect_valid(resolved);
    ASSERT_EQ(resolved.size(), 1u);
    EXPECT_EQ(resolved[0].id, fired[0].id);
    EXPECT_EQ(resolved[0].status, alert_status::resolved);
    EXPECT_EQ(resolved[0].severity, severity::info);
    EXPECT_EQ(resolved[0].context.failure_count, 5);
    EXPECT_EQ(resolved[0].message,
              "Queue emails has 5 failures in the last 1 minute, at or below 5 (threshold 10)");
    EXPECT_FALSE(core.is_firing("emails"));
    EXPECT_TRUE(core.tick(t0 + 65s).empty());

    // A new breach is a new alert with a new id.
    std::vector<alert> again;
    for (int i = 0; i < 10; ++i) {
        auto out = fail(core, "late-" + std::to_string(i), 70s + i * 1s);
        again.insert(again.end(), out.begin(), out.end());
    }
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].status, alert_status::firing);
    EXPECT_NE(again[0].id, fired[0].id);
}

TEST_F(DlqCoreTest, ResolveRatioIsConfigurable)
{
    dlq_core core({.threshold = 4, .window = 10s, .resolve_ratio = 0.0});
    for (int i = 0; i < 4; ++i)
        fail(core, "job-" + std::to_string(i), i * 1s);
    EXPECT_TRUE(core.tick(t0 + 12s).empty());   // the failure at 3 s is left
    EXPECT_EQ(core.tick(t0 + 13s).size(), 1u);  // none left
}

TEST_F(DlqCoreTest, RetriedFailuresCountButOnlyFinalOnesAreDeadLettered)
{
    dlq_core core({.threshold = 3});
    EXPECT_TRUE(fail(core, "job-1", 0s).empty());         // will retry
    EXPECT_TRUE(fail(core, "job-1", 1s).empty());         // will retry
    EXPECT_EQ(fail(core, "job-1", 2s, true).size(), 1u);  // failed for good: third failure
    auto const dead = core.dead_letters();
    ASSERT_EQ(dead.size(), 1u);
    EXPECT_EQ(dead[0].job_id, "job-1");
    EXPECT_EQ(core.stats(t0 + 2s).total_failures, 3u);
    EXPECT_EQ(core.stats(t0 + 2s).total_dead_lettered, 1u);
}

TEST_F(DlqCoreTest, PerQueueOverridesReplaceDefaults)
{
    dlq_core::config cfg;
    cfg.queues["reports"] = {.threshold = 2, .window = 10s, .timeout = std::nullopt};
    dlq_core core(cfg);
    EXPECT_TRUE(fail(core, "r-1", 0s, false, "reports").empty());
    EXPECT_TRUE(fail(core, "e-1", 0s, false, "emails").empty());
    EXPECT_TRUE(fail(core, "e-2", 1s, false, "emails").empty());  // default threshold 10
    auto const fired = fail(core, "r-2", 1s, false, "reports");
    ASSERT_EQ(fired.size(), 1u);
    EXPECT_EQ(fired[0].context.queue, "reports");
    EXPECT_EQ(fired[0].context.threshold, 2.0);
    EXPECT_EQ(fired[0].context.window_ms, 10'000);
    // The override's window: reports' failures are gone after 10 s, emails' stay.
    EXPECT_EQ(core.failures_in_window("reports", t0 + 11s), 0u);
    EXPECT_EQ(core.failures_in_window("emails", t0 + 11s), 2u);
    auto const resolved = core.tick(t0 + 11s);
    ASSERT_EQ(resolved.size(), 1u);
    EXPECT_EQ(resolved[0].context.queue, "reports");
}

TEST_F(DlqCoreTest, ReplayedOldFailuresDoNotCount)
{
    dlq_core core({.threshold = 2, .window = 1min});
    auto const now = t0 + 1h;
    // Event times an hour old: outside the window, so neither counted nor alerting.
    for (int i = 0; i < 5; ++i)
        EXPECT_TRUE(
            core.on_change(changes_.failed("old-" + std::to_string(i), t0 + i * 1s, false), now)
                .empty());
    EXPECT_EQ(core.failures_in_window("emails", now), 0u);
    EXPECT_EQ(core.stats(now).total_failures, 5u);
}

TEST_F(DlqCoreTest, MergedWindowEntriesKeepTheCount)
{
    dlq_core core({.threshold = 100, .window = 10s, .max_window_entries = 4});
    for (int i = 0; i < 10; ++i)
        fail(core, "job-" + std::to_string(i), i * 100ms);
    EXPECT_EQ(core.failures_in_window("emails", t0 + 1s), 10u);
    // Merged entries expire late, never early.
    EXPECT_GE(core.failures_in_window("emails", t0 + 10s + 50ms), 9u);
    EXPECT_EQ(core.failures_in_window("emails", t0 + 11s), 0u);
}

TEST_F(DlqCoreTest, ThresholdOfOneResolvesThenFiresAgain)
{
    dlq_core core({.threshold = 1, .window = 10s});
    auto const first = fail(core, "job-1", 0s);
    ASSERT_EQ(first.size(), 1u);
    // No tick ran; the next failure first closes the old breach, then opens a new one.
    auto const next = fail(core, "job-2", 20s);
    ASSERT_EQ(next.size(), 2u);
    EXPECT_EQ(next[0].status, alert_status::resolved);
    EXPECT_EQ(next[0].id, first[0].id);
    EXPECT_EQ(next[1].status, alert_status::firing);
    EXPECT_NE(next[1].id, first[0].id);
}

TEST_F(DlqCoreTest, AlertIdsStayValidIdentifiersForLongQueueNames)
{
    dlq_core core({.threshold = 1});
    std::string const queue(200, 'q');
    auto const fired = fail(core, "job-1", 0s, false, queue);  // expect_valid checks the id pattern
    ASSERT_EQ(fired.size(), 1u);
    EXPECT_LE(fired[0].id.size(), 200u);
    EXPECT_EQ(fired[0].context.queue, queue);
    // Stable for the same queue: the resolved alert has the same id.
    auto const resolved = core.tick(t0 + 10min);
    ASSERT_EQ(resolved.size(), 1u);
    EXPECT_EQ(resolved[0].id, fired[0].id);
}

// --- dead-letter list ----------------------------------------------------------------------

TEST_F(DlqCoreTest, DeadLetterListIsBoundedNewestFirst)
{
    dlq_core core({.max_entries = 3});
    for (int i = 1; i <= 5; ++i) {
        auto const t = t0 + i * 1s;
        core.on_change(changes_.failed("job-" + std::to_string(i), t, false,
                                       {.queue = "emails",
                                        .run_id = "run-1",
                                        .attempt = 3,
                                        .error = "timeout after " + std::to_string(i * 10) + " s"}),
                       t);
    }
    auto const all = core.dead_letters();
    ASSERT_EQ(all.size(), 3u);
    EXPECT_EQ(all[0].job_id, "job-5");
    EXPECT_EQ(all[1].job_id, "job-4");
    EXPECT_EQ(all[2].job_id, "job-3");
    EXPECT_EQ(all[0].queue, "emails");
    EXPECT_EQ(all[0].run_id, "run-1");
    EXPECT_EQ(all[0].tenant_id, std::nullopt);
    EXPECT_EQ(all[0].error, "timeout after 50 s");
    EXPECT_EQ(all[0].fingerprint, "timeout after # s");
    EXPECT_EQ(all[0].attempts, 3);
    EXPECT_EQ(all[0].failed_at, format_time(t0 + 5s));
    EXPECT_TRUE(parse<dead_letter_entry>(to_json(all[0])));
    auto const two = core.dead_letters(2);
    ASSERT_EQ(two.size(), 2u);
    EXPECT_EQ(two[1].job_id, "job-4");
    EXPECT_EQ(core.stats(t0 + 5s).total_dead_lettered, 5u);
}

TEST_F(DlqCoreTest, SucceededAndCancelledJobsAreNotDeadLettered)
{
    dlq_core core;
    core.on_change(changes_.completed("job-1", t0), t0);
    core.on_change(changes_.cancelled("job-2", t0), t0);
    EXPECT_TRUE(core.dead_letters().empty());
}

// --- run success rate ----------------------------------------------------------------------

TEST_F(DlqCoreTest, RunSuccessRateAlertWaitsForMinimumJobsThenResolves)
{
    dlq_core core;  // below 80% after 20 jobs
    test::change_options const run{.queue = "emails", .run_id = "nightly-1"};
    int n = 0;
    auto finish = [&](bool ok) {
        auto const t = t0 + (++n) * 1s;
        auto const job = "job-" + std::to_string(n);
        auto out = core.on_change(
            ok ? changes_.completed(job, t, run) : changes_.failed(job, t, false, run), t);
        expect_valid(out);
        std::erase_if(out, [](alert const& a) { return a.kind != alert_kind::success_rate; });
        return out;
    };
    for (int i = 0; i < 15; ++i)
        EXPECT_TRUE(finish(true).empty());
    // Cancelled jobs are left out of the rate and the minimum.
    core.on_change(changes_.cancelled("gone", t0, run), t0);
    for (int i = 0; i < 4; ++i)
        EXPECT_TRUE(finish(false).empty()) << "19 jobs are too few to judge";
    auto const fired = finish(false);  // 15 of 20: 75%
    ASSERT_EQ(fired.size(), 1u);
    EXPECT_EQ(fired[0].kind, alert_kind::success_rate);
    EXPECT_EQ(fired[0].status, alert_status::firing);
    EXPECT_EQ(fired[0].severity, severity::medium);
    EXPECT_EQ(fired[0].context.run_id, "nightly-1");
    EXPECT_DOUBLE_EQ(*fired[0].context.success_rate, 0.75);
    EXPECT_DOUBLE_EQ(*fired[0].context.threshold, 0.8);
    EXPECT_EQ(
        fired[0].message,
        "Run nightly-1: 15 of 20 finished jobs succeeded (75.0%), below the threshold of 80.0%");
    EXPECT_TRUE(finish(false).empty());  // still low: no second alert

    // Recovery needs 85% (threshold + margin) with 6 failures: 34 of 40.
    std::vector<alert> resolved;
    int successes = 15;
    while (resolved.empty() && successes < 100) {
        resolved = finish(true);
        ++successes;
    }
    ASSERT_EQ(resolved.size(), 1u);
    EXPECT_EQ(successes, 34);  // 34 of 40 = 85%
    EXPECT_EQ(resolved[0].id, fired[0].id);
    EXPECT_EQ(resolved[0].status, alert_status::resolved);
    EXPECT_EQ(resolved[0].severity, severity::info);
}

TEST_F(DlqCoreTest, RunsAreBoundedAndForgottenWhenIdle)
{
    dlq_core core({.run_min_jobs = 1, .run_idle_ttl = 1h, .max_tracked_runs = 2});
    // Three runs, each with one failed job: each fires (100% failure), and the
    // first is evicted when the third arrives.
    for (std::string run : {"r1", "r2", "r3"})
        EXPECT_EQ(
            core.on_change(changes_.failed("j-" + run, t0, false, {.run_id = run}), t0).size(), 1u);
    // r1 was forgotten: its next failure is judged afresh and fires again.
    EXPECT_EQ(core.on_change(changes_.failed("j-r1b", t0, false, {.run_id = "r1"}), t0).size(), 1u);
    // After an idle hour every run is forgotten.
    core.tick(t0 + 1h);
    EXPECT_EQ(
        core.on_change(changes_.failed("j-r3b", t0 + 1h, false, {.run_id = "r3"}), t0 + 1h).size(),
        1u);
}

// --- timeouts --------------------------------------------------------------------------------

TEST_F(DlqCoreTest, TimeoutWarnsOncePerAttemptAndResolvesWhenItEnds)
{
    dlq_core core({.job_timeout = 10min});
    core.on_change(changes_.started("job-1", t0), t0);
    EXPECT_TRUE(core.tick(t0 + 10min).empty());  // exactly at the limit: not longer
    auto const fired = core.tick(t0 + 10min + 1ms);
    expect_valid(fired);
    ASSERT_EQ(fired.size(), 1u);
    EXPECT_EQ(fired[0].id, "timeout:emails:job-1:1");
    EXPECT_EQ(fired[0].kind, alert_kind::timeout);
    EXPECT_EQ(fired[0].severity, severity::low);
    EXPECT_EQ(fired[0].context.job_id, "job-1");
    EXPECT_EQ(fired[0].context.queue, "emails");
    EXPECT_EQ(fired[0].context.running_ms, 600'001);
    EXPECT_EQ(fired[0].context.limit_ms, 600'000);
    EXPECT_EQ(fired[0].message, "Job job-1 in queue emails has been running for 10 minutes, longer "
                                "than its limit of 10 minutes (attempt 1)");
    // Progress does not end the attempt, and does not repeat the warning.
    EXPECT_TRUE(core.on_change(changes_.progress("job-1", t0 + 11min), t0 + 11min).empty());
    EXPECT_TRUE(core.tick(t0 + 20min).empty());
    EXPECT_TRUE(core.tick(t0 + 1h).empty());

    // The retry is a new attempt with its own limit and id.
    auto const ended = core.on_change(changes_.failed("job-1", t0 + 61min, true), t0 + 61min);
    expect_valid(ended);
    ASSERT_EQ(ended.size(), 1u);
    EXPECT_EQ(ended[0].id, fired[0].id);
    EXPECT_EQ(ended[0].status, alert_status::resolved);
    EXPECT_EQ(ended[0].context.running_ms, 61 * 60'000);
    EXPECT_EQ(
        ended[0].message,
        "Job job-1 in queue emails failed after 1 hour 1 minute (limit 10 minutes, attempt 1)");
    core.on_change(changes_.started("job-1", t0 + 62min, {.attempt = 2}), t0 + 62min);
    auto const second = core.tick(t0 + 73min);
    ASSERT_EQ(second.size(), 1u);
    EXPECT_EQ(second[0].id, "timeout:emails:job-1:2");
}

TEST_F(DlqCoreTest, TimeoutWatchStartsWithAnImpliedStartAndTakesALateStartTime)
{
    dlq_core core({.job_timeout = 10min});
    // A progress report finds the queued job running: the store implies the start.
    core.on_change(changes_.progress("job-1", t0 + 1min, {.before = job_state::queued}), t0 + 1min);
    // Its job.started, sent at t0, arrives late and moves the start back.
    core.on_change(changes_.started("job-1", t0, {.before = job_state::running}), t0 + 2min);
    auto const fired = core.tick(t0 + 10min + 1ms);
    ASSERT_EQ(fired.size(), 1u);
    EXPECT_EQ(fired[0].context.running_ms, 600'001);
    EXPECT_TRUE(core.tick(t0 + 11min + 1ms).empty());
}

TEST_F(DlqCoreTest, TimeoutIsOffByDefaultAndPerQueue)
{
    dlq_core::config cfg;
    cfg.queues["video"] = {.threshold = std::nullopt, .window = std::nullopt, .timeout = 1min};
    dlq_core core(cfg);
    core.on_change(changes_.started("job-1", t0), t0);
    core.on_change(changes_.started("job-2", t0, {.queue = "video"}), t0);
    auto const out = core.tick(t0 + 1h);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].context.job_id, "job-2");
    // A job that finishes before its limit never warns.
    core.on_change(changes_.started("job-3", t0 + 1h, {.queue = "video"}), t0 + 1h);
    core.on_change(changes_.completed("job-3", t0 + 1h + 30s, {.queue = "video"}), t0 + 1h + 30s);
    EXPECT_TRUE(core.tick(t0 + 2h).empty());
}

TEST_F(DlqCoreTest, TimeoutWatchIsBounded)
{
    dlq_core core({.job_timeout = 1min, .max_tracked_jobs = 1});
    core.on_change(changes_.started("job-1", t0), t0);
    core.on_change(changes_.started("job-2", t0), t0);
    EXPECT_EQ(core.tick(t0 + 2min).size(), 1u);
    EXPECT_EQ(core.stats(t0 + 2min).untracked_attempts, 1u);
}

// --- stats ---------------------------------------------------------------------------------------

TEST_F(DlqCoreTest, StatsGroupFailuresByFingerprint)
{
    dlq_core core({.max_fingerprints = 2, .max_recent_failures = 3});
    fail(core, "job-1", 1s, false, "emails", "timeout after 30 s");
    fail(core, "job-2", 2s, true, "emails", "connection refused");
    fail(core, "job-3", 3s, false, "reports", "timeout after 45 s");
    fail(core, "job-4", 4s, true, "reports", "timeout after 50 s");
    auto s = core.stats(t0 + 5s);
    EXPECT_EQ(s.total_failures, 4u);
    EXPECT_EQ(s.total_dead_lettered, 2u);
    ASSERT_EQ(s.queues.size(), 2u);
    EXPECT_EQ(s.queues[0].queue, "emails");
    EXPECT_EQ(s.queues[0].failures_in_window, 2u);
    EXPECT_EQ(s.queues[1].queue, "reports");
    ASSERT_EQ(s.recent_failures.size(), 3u);
    EXPECT_EQ(s.recent_failures[0].job_id, "job-4");
    EXPECT_FALSE(s.recent_failures[0].will_retry);
    EXPECT_EQ(s.recent_failures[2].job_id, "job-2");
    ASSERT_EQ(s.fingerprints.size(), 2u);
    EXPECT_EQ(s.fingerprints[0].fingerprint, "timeout after # s");
    EXPECT_EQ(s.fingerprints[0].count, 3u);
    EXPECT_EQ(s.fingerprints[0].example_error, "timeout after 50 s");
    EXPECT_EQ(s.fingerprints[0].last_queue, "reports");
    EXPECT_EQ(s.fingerprints[0].last_seen, t0 + 4s);
    EXPECT_EQ(s.fingerprints[1].fingerprint, "connection refused");

    // A third fingerprint evicts the least recently seen group.
    fail(core, "job-5", 5s, false, "emails", "disk full");
    s = core.stats(t0 + 5s);
    ASSERT_EQ(s.fingerprints.size(), 2u);
    EXPECT_EQ(s.fingerprints[1].fingerprint, "disk full");

    auto const jv = boost::json::value_from(s);
    auto const& o = jv.as_object();
    EXPECT_EQ(o.at("total_failures").to_number<std::uint64_t>(), 5u);
    EXPECT_EQ(o.at("queues").as_array().at(0).as_object().at("window_ms").to_number<std::int64_t>(),
              300'000);
    EXPECT_EQ(o.at("fingerprints").as_array().at(0).as_object().at("last_seen").as_string(),
              format_time(t0 + 4s));
    EXPECT_EQ(o.at("recent_failures").as_array().size(), 3u);
}

TEST_F(DlqCoreTest, QueueTableIsBounded)
{
    dlq_core core({.threshold = 1, .max_tracked_queues = 1});
    EXPECT_EQ(fail(core, "a", 0s, false, "emails").size(), 1u);
    EXPECT_TRUE(fail(core, "b", 0s, false, "reports").empty());
    EXPECT_EQ(core.stats(t0).untracked_failures, 1u);
    // Once the first queue's window is empty and resolved, its slot is freed.
    core.tick(t0 + 10min);
    core.tick(t0 + 10min);
    EXPECT_EQ(fail(core, "c", 10min, false, "reports").size(), 1u);
}

// --- config --------------------------------------------------------------------------------------

TEST(DlqConfigTest, FromFileSectionUsesItsSettings)
{
    dlq_config file;
    EXPECT_EQ(file.threshold, 10u);
    file.window_ms = 1min;
    file.job_timeout_ms = 5s;
    file.queues["reports"] =
        queue_override{.threshold = 3, .window_ms = std::nullopt, .timeout_ms = 0ms};
    auto const cfg = dlq_core::config::from(file);
    EXPECT_EQ(cfg.threshold, 10u);
    EXPECT_EQ(cfg.window, 1min);
    EXPECT_EQ(cfg.max_entries, 1000u);
    EXPECT_DOUBLE_EQ(cfg.run_success_rate_threshold, 0.8);
    EXPECT_EQ(cfg.run_min_jobs, 20u);
    EXPECT_EQ(cfg.job_timeout, 5s);
    ASSERT_EQ(cfg.queues.count("reports"), 1u);
    EXPECT_EQ(cfg.queues.at("reports").threshold, 3u);
    EXPECT_EQ(cfg.queues.at("reports").window, std::nullopt);
    EXPECT_EQ(cfg.queues.at("reports").timeout, 0ms);
}

}  // namespace
}  // namespace jobwatch
