// Test that the header is self-contained.
#include <jobwatch/monitor/health_core.hpp>

#include "monitor_test_support.hpp"

#include <jobwatch/codec.hpp>

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace jobwatch {
namespace {

using namespace std::chrono_literals;
using test::t0;

class HealthCoreTest : public ::testing::Test
{
protected:
    // The report as of `now`, checked against the schema on the way.
    health_report report(health_core const& core, time_point now)
    {
        auto r = core.report(now);
        auto const text = to_json(r);
        auto const parsed = parse<health_report>(text);
        EXPECT_TRUE(parsed) << text << "\n"
                            << (parsed ? "" : parsed.error().path + ": " + parsed.error().message);
        return r;
    }

    static queue_health const& queue(health_report const& r, std::string const& name)
    {
        for (auto const& q : r.queues)
            if (q.queue == name)
                return q;
        throw std::runtime_error("no queue " + name);
    }

    // `n` jobs finish in `queue` at `t`, `failed` of them failed for good.
    void finish(health_core& core, int n, int failed, time_point t,
                std::string const& queue = "emails")
    {
        for (int i = 0; i < n; ++i) {
            auto const job = queue + "-done-" + std::to_string(next_++);
            test::change_options const o{.queue = queue, .duration_ms = 100.0 * (i + 1)};
            core.on_change(changes_.queued(job, t, o), t);
            core.on_change(changes_.started(job, t, o), t);
            core.on_change(
                i < failed ? changes_.failed(job, t, false, o) : changes_.completed(job, t, o), t);
        }
    }

    test::change_factory changes_;
    int next_ = 0;
};

TEST_F(HealthCoreTest, CountsJobsByState)
{
    health_core core;
    for (auto job : {"a", "b", "c", "d", "e"})
        core.on_change(changes_.queued(job, t0), t0);
    core.on_change(changes_.started("a", t0 + 1s), t0 + 1s);
    core.on_change(changes_.started("b", t0 + 1s), t0 + 1s);
    core.on_change(changes_.started("c", t0 + 1s), t0 + 1s);
    core.on_change(changes_.completed("a", t0 + 2s, {.duration_ms = 1000.0}), t0 + 2s);
    // b fails and will retry: delayed, also after the job.retrying that follows.
    core.on_change(changes_.failed("b", t0 + 3s, true), t0 + 3s);
    core.on_change(changes_.retrying("b", t0 + 3s), t0 + 3s);
    core.on_change(changes_.failed("c", t0 + 4s, false, {.duration_ms = 3000.0}), t0 + 4s);

    auto r = report(core, t0 + 5s);
    ASSERT_EQ(r.queues.size(), 1u);
    auto const& q = r.queues[0];
    EXPECT_EQ(q.queue, "emails");
    EXPECT_EQ(q.stats.waiting, 2);  // d, e
    EXPECT_EQ(q.stats.active, 0);
    EXPECT_EQ(q.stats.delayed, 1);  // b
    EXPECT_EQ(q.stats.completed, 1);
    EXPECT_EQ(q.stats.failed, 1);
    EXPECT_EQ(q.stats.paused, 0);
    EXPECT_DOUBLE_EQ(q.details.avg_processing_ms, 2000.0);
    EXPECT_DOUBLE_EQ(q.details.error_rate, 0.5);
    EXPECT_EQ(q.details.last_job_processed_at, format_time(t0 + 4s));
    EXPECT_EQ(q.details.stale_jobs, 0);
    // Two finished jobs are too few to judge the error rate.
    EXPECT_EQ(q.status, health_status::healthy);
    EXPECT_TRUE(q.issues.empty());

    // The retry starts: b leaves delayed for active.
    core.on_change(changes_.started("b", t0 + 6s, {.attempt = 2}), t0 + 6s);
    r = report(core, t0 + 6s);
    EXPECT_EQ(r.queues[0].stats.delayed, 0);
    EXPECT_EQ(r.queues[0].stats.active, 1);
    EXPECT_EQ(r.queues[0].stats.waiting, 2);
    // A cancelled waiting job leaves waiting.
    core.on_change(changes_.cancelled("d", t0 + 7s), t0 + 7s);
    r = report(core, t0 + 7s);
    EXPECT_EQ(r.queues[0].stats.waiting, 1);
    EXPECT_EQ(r.summary.total_jobs.waiting, 1);
    EXPECT_EQ(r.summary.total_jobs.active, 1);
    EXPECT_EQ(r.summary.total_jobs.completed, 1);
    EXPECT_EQ(r.summary.total_jobs.failed, 1);
}

TEST_F(HealthCoreTest, WaitingJobsDegradeThenMakeUnhealthy)
{
    health_core core({.degraded_waiting = 3, .unhealthy_waiting = 5});
    auto add = [&, n = 0]() mutable {
        core.on_change(changes_.queued("w-" + std::to_string(n++), t0), t0);
    };
    add();
    add();
    EXPECT_EQ(report(core, t0).status, health_status::healthy);
    add();
    auto r = report(core, t0);
    EXPECT_EQ(r.status, health_status::degraded);
    EXPECT_EQ(r.queues[0].status, health_status::degraded);
    ASSERT_EQ(r.issues.size(), 1u);
    EXPECT_EQ(r.issues[0], "queue emails: 3 jobs waiting (limit 3)");
    EXPECT_EQ(r.queues[0].issues, r.issues);
    add();
    add();
    r = report(core, t0);
    EXPECT_EQ(r.status, health_status::unhealthy);
    ASSERT_EQ(r.issues.size(), 1u);
    EXPECT_EQ(r.issues[0], "queue emails: 5 jobs waiting (limit 5)");
}

TEST_F(HealthCoreTest, DefaultWaitingLimitIsOneThousand)
{
    health_core core;
    for (int i = 0; i < 1500; ++i)
        core.on_change(changes_.queued("w-" + std::to_string(i), t0), t0);
    auto const r = report(core, t0);
    EXPECT_EQ(r.status, health_status::degraded);
    ASSERT_EQ(r.issues.size(), 1u);
    EXPECT_EQ(r.issues[0], "queue emails: 1500 jobs waiting (limit 1000)");
}

TEST_F(HealthCoreTest, ErrorRateDegradesThenMakesUnhealthy)
{
    health_core core;  // degraded at 5%, unhealthy at 25%, judged from 10 jobs in 5 minutes
    finish(core, 9, 9, t0);
    EXPECT_EQ(report(core, t0).status, health_status::healthy) << "9 jobs are too few to judge";

    health_core degraded;
    finish(degraded, 20, 1, t0);  // 5.0%
    auto r = report(degraded, t0 + 1s);
    EXPECT_EQ(r.status, health_status::degraded);
    ASSERT_EQ(r.issues.size(), 1u);
    EXPECT_EQ(r.issues[0], "queue emails: error rate 5.0% over the last 5 minutes, 1 of 20 "
                           "finished jobs failed (limit 5.0%)");

    health_core just_below;
    finish(just_below, 21, 1, t0);  // 4.8%
    EXPECT_EQ(report(just_below, t0).status, health_status::healthy);

    health_core unhealthy;
    finish(unhealthy, 8, 2, t0);  // 25%, but 8 jobs: not judged yet
    EXPECT_EQ(report(unhealthy, t0).status, health_status::healthy);
    finish(unhealthy, 4, 1, t0);  // 3 of 12
    r = report(unhealthy, t0);
    EXPECT_EQ(r.status, health_status::unhealthy);
    ASSERT_EQ(r.issues.size(), 1u);
    EXPECT_EQ(r.issues[0], "queue emails: error rate 25.0% over the last 5 minutes, 3 of 12 "
                           "finished jobs failed (limit 25.0%)");
    EXPECT_DOUBLE_EQ(r.queues[0].details.error_rate, 0.25);

    // Five minutes later those jobs have left the window: healthy again, with
    // the totals kept.
    r = report(unhealthy, t0 + 5min + 5s);
    EXPECT_EQ(r.status, health_status::healthy);
    EXPECT_DOUBLE_EQ(r.queues[0].details.error_rate, 0.0);
    EXPECT_DOUBLE_EQ(r.queues[0].details.avg_processing_ms, 0.0);
    EXPECT_EQ(r.queues[0].stats.failed, 3);
    EXPECT_EQ(r.queues[0].stats.completed, 9);
    EXPECT_EQ(r.queues[0].details.last_job_processed_at, format_time(t0));
}

TEST_F(HealthCoreTest, StaleJobsAreDetectedFromEventTimes)
{
    health_core core;  // stale after 5 minutes; degraded from 1, unhealthy from 10
    core.on_change(changes_.started("job-1", t0), t0);
    EXPECT_EQ(report(core, t0 + 5min).queues[0].details.stale_jobs, 0)
        << "exactly 5 minutes is not longer";
    auto r = report(core, t0 + 5min + 1ms);
    EXPECT_EQ(r.queues[0].details.stale_jobs, 1);
    EXPECT_EQ(r.status, health_status::degraded);
    ASSERT_EQ(r.issues.size(), 1u);
    EXPECT_EQ(r.issues[0],
              "queue emails: 1 stale job, running with no event for over 5 minutes (limit 1)");

    // A progress event (or a log line) shows the job is alive.
    core.on_change(changes_.progress("job-1", t0 + 4min), t0 + 6min);
    EXPECT_EQ(report(core, t0 + 6min).status, health_status::healthy);
    EXPECT_EQ(report(core, t0 + 9min + 1ms).status, health_status::degraded);
    // A late event older than the newest one does not make the job look older.
    core.on_change(changes_.progress("job-1", t0 + 3min), t0 + 9min);
    EXPECT_EQ(report(core, t0 + 9min).status, health_status::healthy);

    for (int i = 2; i <= 10; ++i)
        core.on_change(changes_.started("job-" + std::to_string(i), t0 + 10min), t0 + 10min);
    r = report(core, t0 + 15min + 1ms);
    EXPECT_EQ(r.queues[0].details.stale_jobs, 10);
    EXPECT_EQ(r.status, health_status::unhealthy);
    ASSERT_EQ(r.issues.size(), 1u);
    EXPECT_EQ(r.issues[0],
              "queue emails: 10 stale jobs, running with no event for over 5 minutes (limit 10)");

    // Finished jobs are not stale.
    core.on_change(changes_.completed("job-2", t0 + 16min), t0 + 16min);
    EXPECT_EQ(report(core, t0 + 16min).queues[0].details.stale_jobs, 9);
}

TEST_F(HealthCoreTest, PausedQueueHoldsItsWaitingJobs)
{
    health_core core;
    core.on_change(changes_.queued("a", t0), t0);
    core.on_change(changes_.queued("b", t0), t0);
    EXPECT_TRUE(core.set_paused("emails", true));
    auto r = report(core, t0);
    auto const& q = queue(r, "emails");
    EXPECT_TRUE(q.details.is_paused);
    EXPECT_EQ(q.stats.waiting, 0);
    EXPECT_EQ(q.stats.paused, 2);
    EXPECT_EQ(q.status, health_status::degraded);
    ASSERT_EQ(q.issues.size(), 1u);
    EXPECT_EQ(q.issues[0], "queue emails: paused, 2 jobs held");

    // A queue can be paused before any event of it arrives.
    EXPECT_TRUE(core.set_paused("reports", true));
    r = report(core, t0);
    EXPECT_EQ(queue(r, "reports").issues.at(0), "queue reports: paused, 0 jobs held");

    core.set_paused("emails", false);
    core.set_paused("reports", false);
    r = report(core, t0);
    EXPECT_EQ(r.status, health_status::healthy);
    EXPECT_EQ(queue(r, "emails").stats.waiting, 2);

    // The BullMQ seed counts a paused queue as unhealthy; that is a setting.
    health_core strict({.paused_status = health_status::unhealthy});
    strict.set_paused("emails", true);
    EXPECT_EQ(report(strict, t0).status, health_status::unhealthy);
}

TEST_F(HealthCoreTest, ABrokersCountsReplaceThoseTheEventsAddUpTo)
{
    health_core core;
    core.on_change(changes_.queued("a", t0), t0);
    finish(core, 4, 1, t0);
    // BullMQ holds more than jobwatch saw (jobs added before it started, jobs it removed).
    EXPECT_TRUE(core.set_counts("emails", {.waiting = 1200, .active = 4, .delayed = 3, .completed = 40, .failed = 12}));
    auto r = report(core, t0);
    auto const& q = queue(r, "emails");
    EXPECT_EQ(q.stats.waiting, 1200);
    EXPECT_EQ(q.stats.active, 4);
    EXPECT_EQ(q.stats.delayed, 3);
    EXPECT_EQ(q.stats.completed, 40);
    EXPECT_EQ(q.stats.failed, 12);
    EXPECT_EQ(q.stats.paused, 0);
    // The waiting rule judges the broker's number; the error rate still comes from the events.
    EXPECT_EQ(q.status, health_status::degraded);  // 1200 waiting >= degraded_waiting (1000)
    EXPECT_NEAR(q.details.error_rate, 0.25, 1e-9);
    // Later events do not move the broker's counts; the next report of them does.
    core.on_change(changes_.queued("b", t0), t0);
    EXPECT_EQ(queue(report(core, t0), "emails").stats.waiting, 1200);
    EXPECT_TRUE(core.set_counts("emails", {.waiting = 7, .paused = true}));
    r = report(core, t0);
    EXPECT_EQ(queue(r, "emails").stats.waiting, 0);
    EXPECT_EQ(queue(r, "emails").stats.paused, 7);
    EXPECT_TRUE(queue(r, "emails").details.is_paused);
    EXPECT_EQ(queue(r, "emails").issues.at(0), "queue emails: paused, 7 jobs held");
}

TEST_F(HealthCoreTest, OverallStatusIsTheWorstQueue)
{
    health_core core({.degraded_waiting = 2});
    for (auto job : {"a", "b"})
        core.on_change(changes_.queued(job, t0, {.queue = "emails"}), t0);
    core.on_change(changes_.queued("c", t0, {.queue = "reports"}), t0);
    core.on_change(changes_.started("s", t0, {.queue = "video"}), t0);
    auto r = report(core, t0 + 6min);
    ASSERT_EQ(r.queues.size(), 3u);
    EXPECT_EQ(r.queues[0].queue, "emails");  // by name
    EXPECT_EQ(r.queues[0].status, health_status::degraded);
    EXPECT_EQ(r.queues[1].status, health_status::healthy);
    EXPECT_EQ(r.queues[2].status, health_status::degraded);  // one stale job
    EXPECT_EQ(r.status, health_status::degraded);
    EXPECT_EQ(r.summary.total_queues, 3);
    EXPECT_EQ(r.summary.healthy_queues, 1);
    EXPECT_EQ(r.summary.degraded_queues, 2);
    EXPECT_EQ(r.summary.unhealthy_queues, 0);
    ASSERT_EQ(r.issues.size(), 2u);
    EXPECT_EQ(r.issues[0], "queue emails: 2 jobs waiting (limit 2)");
    EXPECT_EQ(r.issues[1],
              "queue video: 1 stale job, running with no event for over 5 minutes (limit 1)");
    EXPECT_EQ(r.timestamp, format_time(t0 + 6min));
}

TEST_F(HealthCoreTest, TickReturnsReportOnlyWhenItChanges)
{
    health_core core;
    auto first = core.tick(t0);
    ASSERT_TRUE(first);
    EXPECT_TRUE(first->queues.empty());
    EXPECT_EQ(first->status, health_status::healthy);
    EXPECT_FALSE(core.tick(t0 + 5s)) << "nothing changed but the time";

    core.on_change(changes_.started("job-1", t0 + 10s), t0 + 10s);
    auto second = core.tick(t0 + 10s);
    ASSERT_TRUE(second);
    EXPECT_EQ(second->queues.at(0).stats.active, 1);
    EXPECT_EQ(second->timestamp, format_time(t0 + 10s));
    EXPECT_FALSE(core.tick(t0 + 1min));
    // Time alone makes the job stale: a change.
    auto third = core.tick(t0 + 5min + 11s);
    ASSERT_TRUE(third);
    EXPECT_EQ(third->status, health_status::degraded);
    EXPECT_FALSE(core.tick(t0 + 6min));
    // A pause is a change too.
    core.set_paused("emails", true);
    EXPECT_TRUE(core.tick(t0 + 6min));
    EXPECT_FALSE(core.tick(t0 + 7min));
}

TEST_F(HealthCoreTest, TablesAreBounded)
{
    health_core core({.max_tracked_queues = 1, .max_tracked_jobs = 1});
    core.on_change(changes_.started("a", t0), t0);
    core.on_change(changes_.started("b", t0), t0);  // counted active, not watched for staleness
    core.on_change(changes_.queued("c", t0, {.queue = "reports"}), t0);
    EXPECT_FALSE(core.set_paused("video", true));
    auto const r = report(core, t0 + 10min);
    ASSERT_EQ(r.queues.size(), 1u);
    EXPECT_EQ(r.queues[0].stats.active, 2);
    EXPECT_EQ(r.queues[0].details.stale_jobs, 1);
    EXPECT_EQ(core.untracked_changes(), 1u);
    EXPECT_EQ(core.untracked_jobs(), 1u);
}

TEST(HealthConfigTest, FromFileSectionUsesItsSettings)
{
    health_config file;
    file.stale_after_ms = 1min;
    file.degraded_waiting = 50;
    auto const cfg = health_core::config::from(file);
    EXPECT_EQ(cfg.stale_after, 1min);
    EXPECT_DOUBLE_EQ(cfg.degraded_error_rate, 0.05);
    EXPECT_DOUBLE_EQ(cfg.unhealthy_error_rate, 0.25);
    EXPECT_EQ(cfg.degraded_waiting, 50u);
    EXPECT_EQ(cfg.unhealthy_stale_jobs, 10u);
}

}  // namespace
}  // namespace jobwatch
