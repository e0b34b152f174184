// Test that the header is self-contained.
#include <jobwatch/runtime/scheduler.hpp>

#include "test_support.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace jobwatch {
namespace {

using namespace std::chrono_literals;
using core_t = scheduler_core;
using time_point = scheduler_core::time_point;
using duration = scheduler_core::duration;
using ms = std::chrono::milliseconds;

// The hand-made clock of the core tests: T0 + an offset in milliseconds.
constexpr time_point T0 = time_point{} + 1h;
constexpr time_point at(int offset_ms) { return T0 + ms{offset_ms}; }

// ---------------------------------------------------------------------------
// scheduler_core: named tasks

TEST(SchedulerCoreTest, FirstRunIsDueOneIntervalAfterAdding)
{
    core_t c;
    auto const id = c.add("tick", {.interval = 100ms}, T0);
    EXPECT_EQ(c.next_wakeup(), at(100));
    EXPECT_TRUE(c.due(at(99)).empty());
    EXPECT_EQ(c.due(at(100)), std::vector{id});
    EXPECT_TRUE(c.running(id));
    EXPECT_EQ(c.running_tasks(), 1u);
}

TEST(SchedulerCoreTest, AShorterIntervalBringsTheNextRunForward)
{
    core_t c;
    auto const id = c.add("tick", {.interval = 10s}, T0);
    EXPECT_EQ(c.next_wakeup(), at(10'000));
    // A runtime settings change at +1 s: the next run comes one new interval later.
    EXPECT_TRUE(c.set_interval(id, 500ms, at(1000)));
    EXPECT_EQ(c.next_wakeup(), at(1500));
    EXPECT_EQ(c.due(at(1500)), std::vector{id});
    c.finish(id, at(1500), at(1500));
    EXPECT_EQ(c.next_wakeup(), at(2000)) << "the grid follows the new interval";
    // A longer interval keeps the run already planned.
    EXPECT_TRUE(c.set_interval(id, 1h, at(1600)));
    EXPECT_EQ(c.next_wakeup(), at(2000));
    EXPECT_FALSE(c.set_interval(id, 0ms, at(1600)));
    EXPECT_FALSE(c.set_interval(core_t::task_id{9999}, 1s, at(1600)));
}

TEST(SchedulerCoreTest, ImmediateTaskIsDueWhenAdded)
{
    core_t c;
    auto const id = c.add("tick", {.interval = 100ms, .immediate = true}, T0);
    EXPECT_EQ(c.next_wakeup(), T0);
    EXPECT_EQ(c.due(T0), std::vector{id});
}

TEST(SchedulerCoreTest, NoTasksMeansNoWakeup)
{
    core_t c;
    EXPECT_EQ(c.next_wakeup(), std::nullopt);
    EXPECT_TRUE(c.due(at(1'000'000)).empty());
}

TEST(SchedulerCoreTest, DueNeverHandsOutARunningTask)
{
    core_t c;
    auto const id = c.add("tick", {.interval = 10ms}, T0);
    ASSERT_EQ(c.due(at(10)), std::vector{id});
    // However late it gets, a running task is not due again and does not wake the driver.
    for (int t : {20, 30, 1000, 60'000})
        EXPECT_TRUE(c.due(at(t)).empty()) << t;
    EXPECT_EQ(c.next_wakeup(), std::nullopt);
    EXPECT_TRUE(c.finish(id, at(10), at(60'000)));
    EXPECT_EQ(c.due(at(60'000)), std::vector{id});
}

TEST(SchedulerCoreTest, EarliestTaskComesFirst)
{
    core_t c;
    auto const slow = c.add("slow", {.interval = 300ms}, T0);
    auto const fast = c.add("fast", {.interval = 100ms}, T0);
    auto const mid = c.add("mid", {.interval = 200ms}, T0);
    EXPECT_EQ(c.next_wakeup(), at(100));
    EXPECT_EQ(c.due(at(1000)), (std::vector{fast, mid, slow}));
}

TEST(SchedulerCoreTest, EqualDueTimesKeepTheOrderOfAdding)
{
    core_t c;
    auto const a = c.add("a", {.interval = 100ms}, T0);
    auto const b = c.add("b", {.interval = 100ms}, T0);
    EXPECT_EQ(c.due(at(100)), (std::vector{a, b}));
}

// How finish() schedules the next run of a task with a 100 ms interval whose
// run was due at 100 ms.
struct finish_row
{
    char const* what;
    int started;         // when the run started
    int finished;        // when it ended
    bool overrun;        // counted as an overrun
    int next_due;        // when the next run is due
    int then_next_due;   // and the one after, if that next run is quick
};

TEST(SchedulerCoreTest, FinishSchedulesTheNextRunOnTheGrid)
{
    finish_row const rows[] = {
        {"quick run", 100, 110, false, 200, 300},
        {"started a little late", 130, 140, false, 200, 300},
        {"ends exactly at the next slot", 100, 200, false, 200, 300},
        {"slow run delays the next", 100, 250, true, 250, 350},
        {"very slow run skips slots, no burst", 100, 450, true, 450, 550},
        {"late start while the slot had passed is not an overrun", 250, 260, false, 260, 360},
    };
    for (auto const& row : rows) {
        SCOPED_TRACE(row.what);
        core_t c;
        auto const id = c.add("tick", {.interval = 100ms}, T0);
        ASSERT_EQ(c.due(at(row.started)), std::vector{id});
        EXPECT_EQ(c.finish(id, at(row.started), at(row.finished)), row.overrun);
        EXPECT_EQ(c.next_due(id), at(row.next_due));
        EXPECT_EQ(c.next_wakeup(), at(row.next_due));
        EXPECT_TRUE(c.due(at(row.next_due) - 1ns).empty());
        ASSERT_EQ(c.due(at(row.next_due)), std::vector{id});
        EXPECT_FALSE(c.finish(id, at(row.next_due), at(row.next_due + 1)));
        EXPECT_EQ(c.next_due(id), at(row.then_next_due));
        auto const& m = c.metrics(id);
        EXPECT_EQ(m.runs, 2u);
        EXPECT_EQ(m.overruns, row.overrun ? 1u : 0u);
    }
}

TEST(SchedulerCoreTest, GridDoesNotDriftWithShortRuns)
{
    core_t c;
    auto const id = c.add("tick", {.interval = 100ms}, T0);
    for (int k = 1; k <= 50; ++k) {
        // Each run starts 7 ms late and takes 40 ms: the grid stays on multiples of 100 ms.
        auto const start = at(100 * k + 7);
        ASSERT_EQ(c.due(start), std::vector{id}) << k;
        c.finish(id, start, start + 40ms);
        ASSERT_EQ(c.next_due(id), at(100 * (k + 1))) << k;
    }
    EXPECT_EQ(c.metrics(id).overruns, 0u);
}

TEST(SchedulerCoreTest, MetricsRecordRunsOverrunsFailuresAndDurations)
{
    core_t c;
    auto const id = c.add("tick", {.interval = 100ms}, T0);
    EXPECT_EQ(c.metrics(id).runs, 0u);
    EXPECT_EQ(c.metrics(id).last_started, time_point{});

    c.due(at(100));
    c.finish(id, at(100), at(130));  // 30 ms
    c.due(at(200));
    c.finish(id, at(200), at(450), /*failed=*/true);  // 250 ms, overrun
    c.due(at(450));
    c.finish(id, at(451), at(461));  // 10 ms

    auto const& m = c.metrics(id);
    EXPECT_EQ(m.runs, 3u);
    EXPECT_EQ(m.overruns, 1u);
    EXPECT_EQ(m.failures, 1u);
    EXPECT_EQ(m.last_duration, 10ms);
    EXPECT_EQ(m.max_duration, 250ms);
    EXPECT_EQ(m.last_started, at(451));
}

TEST(SchedulerCoreTest, FinishOfUnknownOrIdleTaskIsIgnored)
{
    core_t c;
    auto const id = c.add("tick", {.interval = 100ms}, T0);
    EXPECT_FALSE(c.finish(id, at(0), at(500)));  // not running
    EXPECT_FALSE(c.finish(core_t::task_id{12345}, at(0), at(500)));
    EXPECT_EQ(c.metrics(id).runs, 0u);
    EXPECT_EQ(c.next_due(id), at(100));
}

TEST(SchedulerCoreTest, JitterStaysWithinItsBoundsAndSpreads)
{
    core_t c;
    auto const id = c.add("tick", {.interval = 100ms, .jitter = 20ms}, T0);
    duration lo = duration::max();
    duration hi = duration::min();
    for (int k = 1; k <= 2000; ++k) {
        auto const nominal = at(100 * k);
        auto const due = c.next_due(id);
        ASSERT_GE(due, nominal) << k;
        ASSERT_LE(due, nominal + 20ms) << k;
        lo = std::min(lo, due - nominal);
        hi = std::max(hi, due - nominal);
        ASSERT_EQ(c.due(due), std::vector{id});
        // A quick run: never an overrun, however the next draw falls.
        ASSERT_FALSE(c.finish(id, due, due + 1ms)) << k;
    }
    EXPECT_LT(lo, 1ms);
    EXPECT_GT(hi, 19ms);
}

TEST(SchedulerCoreTest, JitterIsReproducibleFromTheSeed)
{
    auto schedule = [](std::uint64_t seed, std::string const& name) {
        core_t c{{.seed = seed}};
        auto const id = c.add(name, {.interval = 1s, .jitter = 500ms}, T0);
        std::vector<time_point> dues;
        for (int k = 0; k < 20; ++k) {
            auto const due = c.next_due(id);
            dues.push_back(due);
            c.due(due);
            c.finish(id, due, due);
        }
        return dues;
    };
    EXPECT_EQ(schedule(1, "tick"), schedule(1, "tick"));
    EXPECT_NE(schedule(1, "tick"), schedule(2, "tick"));
    EXPECT_NE(schedule(1, "tick"), schedule(1, "tock"));
}

TEST(SchedulerCoreTest, InvalidOptionsThrow)
{
    core_t c;
    c.add("tick", {.interval = 1s}, T0);
    EXPECT_THROW(c.add("tick", {.interval = 1s}, T0), std::invalid_argument);
    EXPECT_THROW(c.add("zero", {.interval = 0s}, T0), std::invalid_argument);
    EXPECT_THROW(c.add("negative", {.interval = -1s}, T0), std::invalid_argument);
    EXPECT_THROW(c.add("jitter", {.interval = 1s, .jitter = -1ms}, T0), std::invalid_argument);
    c.add_family("run", {});
    EXPECT_THROW(c.add_family("run", {}), std::invalid_argument);
    EXPECT_THROW(c.add_family("zero", {.interval = 0s}), std::invalid_argument);
    EXPECT_THROW(c.add_family("idle", {.idle_timeout = 0s}), std::invalid_argument);
    EXPECT_THROW(c.add_family("jitter", {.jitter = -1ms}), std::invalid_argument);
    EXPECT_THROW(c.touch(core_t::family_id{7}, "k", T0), std::out_of_range);
}

// ---------------------------------------------------------------------------
// scheduler_core: per-key tasks

TEST(SchedulerCoreTest, TouchCreatesAKeyedTaskOnce)
{
    core_t c;
    auto const f = c.add_family("run", {.interval = 100ms, .idle_timeout = 1s});
    EXPECT_EQ(c.touch(f, "r1", T0), core_t::touch_result::created);
    EXPECT_EQ(c.touch(f, "r1", at(10)), core_t::touch_result::refreshed);
    EXPECT_EQ(c.touch(f, "r2", at(20)), core_t::touch_result::created);
    EXPECT_EQ(c.keyed_tasks(), 2u);

    auto const r1 = c.find(f, "r1");
    ASSERT_TRUE(r1);
    EXPECT_EQ(c.name(*r1), "r1");
    EXPECT_EQ(c.family_of(*r1), f);
    EXPECT_EQ(c.family_name(f), "run");
    EXPECT_EQ(c.next_due(*r1), at(100));
    EXPECT_EQ(c.find(f, "r3"), std::nullopt);
    EXPECT_EQ(c.find("r1"), std::nullopt);  // keys are not named tasks
}

TEST(SchedulerCoreTest, ImmediateFamilyRunsANewKeyAtOnce)
{
    core_t c;
    auto const f = c.add_family("run", {.interval = 100ms, .idle_timeout = 1s, .immediate = true});
    c.touch(f, "r1", at(40));
    EXPECT_EQ(c.due(at(40)), std::vector{*c.find(f, "r1")});
}

TEST(SchedulerCoreTest, SameKeyInTwoFamiliesIsTwoTasks)
{
    core_t c;
    auto const a = c.add_family("a", {.interval = 100ms});
    auto const b = c.add_family("b", {.interval = 100ms});
    c.touch(a, "k", T0);
    c.touch(b, "k", T0);
    EXPECT_NE(c.find(a, "k"), c.find(b, "k"));
    EXPECT_EQ(c.keyed_tasks(), 2u);
}

// When a key touched at the given times (ms) with a 1 s idle timeout is removed.
struct idle_row
{
    char const* what;
    std::vector<int> touches;
    int removed_at;
};

TEST(SchedulerCoreTest, IdleKeyIsRemovedAfterItsTimeout)
{
    idle_row const rows[] = {
        {"touched once", {0}, 1000},
        {"touched again", {0, 500}, 1500},
        {"touched often", {0, 100, 200, 900, 1800}, 2800},
        {"touched twice at once", {300, 300}, 1300},
    };
    for (auto const& row : rows) {
        SCOPED_TRACE(row.what);
        core_t c;
        auto const f = c.add_family("run", {.interval = 10s, .idle_timeout = 1s});
        for (int t : row.touches) {
            // The driver expires before it looks at touches that arrived since.
            ASSERT_TRUE(c.expire(at(t)).empty()) << t;
            c.touch(f, "r1", at(t));
        }
        // Wakeups may come early (touched keys), never late; none of them removes it before time.
        for (int guard = 0; guard < 10; ++guard) {
            auto const wake = c.next_wakeup();
            ASSERT_TRUE(wake);
            ASSERT_LE(*wake, at(row.removed_at));
            if (*wake == at(row.removed_at))
                break;
            ASSERT_TRUE(c.expire(*wake).empty());
        }
        EXPECT_TRUE(c.expire(at(row.removed_at) - 1ns).empty());
        auto const removed = c.expire(at(row.removed_at));
        ASSERT_EQ(removed.size(), 1u);
        EXPECT_EQ(removed[0].family, f);
        EXPECT_EQ(removed[0].key, "r1");
        EXPECT_EQ(c.find(f, "r1"), std::nullopt);
        EXPECT_EQ(c.keyed_tasks(), 0u);
        // Nothing left to wake for, and the removed task is never due.
        EXPECT_EQ(c.next_wakeup(), std::nullopt);
        EXPECT_TRUE(c.due(at(100'000)).empty());
    }
}

TEST(SchedulerCoreTest, RunningKeyIsRemovedOnlyAfterItsRunEnds)
{
    core_t c;
    auto const f = c.add_family("run", {.interval = 100ms, .idle_timeout = 150ms});
    c.touch(f, "r1", T0);
    auto const id = *c.find(f, "r1");
    ASSERT_EQ(c.due(at(100)), std::vector{id});
    // Idle at 150 ms, but its run is in flight: the key (and the view of it the run holds) stays.
    EXPECT_TRUE(c.expire(at(150)).empty());
    EXPECT_TRUE(c.contains(id));
    EXPECT_TRUE(c.expire(at(170)).empty());
    c.finish(id, at(100), at(180));
    EXPECT_EQ(c.next_wakeup(), at(180));
    auto const removed = c.expire(at(180));
    ASSERT_EQ(removed.size(), 1u);
    EXPECT_EQ(removed[0].key, "r1");
    EXPECT_FALSE(c.contains(id));
    EXPECT_TRUE(c.due(at(10'000)).empty());
}

TEST(SchedulerCoreTest, KeyTouchedDuringItsRunIsKept)
{
    core_t c;
    auto const f = c.add_family("run", {.interval = 100ms, .idle_timeout = 150ms});
    c.touch(f, "r1", T0);
    auto const id = *c.find(f, "r1");
    c.due(at(100));
    EXPECT_TRUE(c.expire(at(150)).empty());  // idle, but running
    c.touch(f, "r1", at(160));               // active again
    c.finish(id, at(100), at(170));
    EXPECT_TRUE(c.expire(at(170)).empty());
    EXPECT_TRUE(c.expire(at(309)).empty());
    EXPECT_EQ(c.expire(at(310)).size(), 1u);
}

TEST(SchedulerCoreTest, RemovedKeyComesBackAsANewTask)
{
    core_t c;
    auto const f = c.add_family("run", {.interval = 100ms, .idle_timeout = 50ms});
    c.touch(f, "r1", T0);
    auto const old_id = *c.find(f, "r1");
    ASSERT_EQ(c.expire(at(50)).size(), 1u);
    EXPECT_EQ(c.touch(f, "r1", at(60)), core_t::touch_result::created);
    auto const new_id = *c.find(f, "r1");
    EXPECT_NE(old_id, new_id);
    // A stale id is harmless.
    EXPECT_FALSE(c.contains(old_id));
    EXPECT_FALSE(c.running(old_id));
    EXPECT_FALSE(c.finish(old_id, at(60), at(70)));
}

TEST(SchedulerCoreTest, MaxKeyedTasksRefusesAndCounts)
{
    core_t c{{.max_keyed_tasks = 2}};
    auto const a = c.add_family("a", {.interval = 100ms, .idle_timeout = 1s});
    auto const b = c.add_family("b", {.interval = 100ms, .idle_timeout = 2s});
    EXPECT_EQ(c.touch(a, "1", T0), core_t::touch_result::created);
    EXPECT_EQ(c.touch(b, "1", T0), core_t::touch_result::created);
    // The bound is over all families, and known keys are still refreshed.
    EXPECT_EQ(c.touch(a, "2", T0), core_t::touch_result::refused);
    EXPECT_EQ(c.touch(b, "2", T0), core_t::touch_result::refused);
    EXPECT_EQ(c.touch(b, "2", T0), core_t::touch_result::refused);
    EXPECT_EQ(c.touch(a, "1", T0), core_t::touch_result::refreshed);
    EXPECT_EQ(c.find(a, "2"), std::nullopt);
    EXPECT_EQ(c.keyed_tasks(), 2u);

    auto m = c.snapshot();
    EXPECT_EQ(m.refused_keys, 3u);
    EXPECT_EQ(m.families[0].refused, 1u);
    EXPECT_EQ(m.families[1].refused, 2u);

    // Room again once a key went idle.
    ASSERT_EQ(c.expire(at(1000)).size(), 1u);
    EXPECT_EQ(c.touch(a, "2", at(1000)), core_t::touch_result::created);
}

TEST(SchedulerCoreTest, NextWakeupIncludesIdleExpiry)
{
    core_t c;
    auto const f = c.add_family("run", {.interval = 10s, .idle_timeout = 1s});
    c.touch(f, "r1", T0);
    EXPECT_EQ(c.next_wakeup(), at(1000));
}

TEST(SchedulerCoreTest, SnapshotReportsTasksAndFamilies)
{
    core_t c;
    auto const tick = c.add("tick", {.interval = 100ms}, T0);
    c.add("sweep", {.interval = 1s}, T0);
    auto const f = c.add_family("run", {.interval = 100ms, .idle_timeout = 150ms});
    c.touch(f, "r1", T0);
    c.touch(f, "r2", T0);
    auto const ids = c.due(at(100));
    ASSERT_EQ(ids.size(), 3u);  // tick, r1, r2
    for (auto id : ids)
        c.finish(id, at(100), id == tick ? at(120) : at(300));  // the keys overrun
    ASSERT_EQ(c.expire(at(300)).size(), 2u);

    auto const m = c.snapshot();
    ASSERT_EQ(m.tasks.size(), 2u);
    EXPECT_EQ(m.tasks[0].name, "tick");
    EXPECT_EQ(m.tasks[0].interval, 100ms);
    EXPECT_FALSE(m.tasks[0].running);
    EXPECT_EQ(m.tasks[0].next_due, at(200));
    EXPECT_EQ(m.tasks[0].metrics.runs, 1u);
    EXPECT_EQ(m.tasks[0].metrics.last_duration, 20ms);
    EXPECT_EQ(m.tasks[1].name, "sweep");
    EXPECT_EQ(m.tasks[1].metrics.runs, 0u);

    ASSERT_EQ(m.families.size(), 1u);
    auto const& fr = m.families[0];
    EXPECT_EQ(fr.name, "run");
    EXPECT_EQ(fr.keys, 0u);
    EXPECT_EQ(fr.created, 2u);
    EXPECT_EQ(fr.removed, 2u);
    EXPECT_EQ(fr.metrics.runs, 2u);  // kept after the keys went away
    EXPECT_EQ(fr.metrics.overruns, 2u);
    EXPECT_EQ(fr.metrics.max_duration, 200ms);
    EXPECT_EQ(m.keyed_tasks, 0u);
}

// ---------------------------------------------------------------------------
// scheduler: the coroutine, with a real io_context and short real waits

using namespace asio::experimental::awaitable_operators;
using test::log_capture;
using test::run_coroutine_test;
using test::sleep_for;

// Runs the scheduler for `d`, then cancels it (terminal, from `||`) and waits for it.
asio::awaitable<void> run_for(scheduler& s, duration d)
{
    co_await (s.run() || sleep_for(d));
}

TEST(SchedulerTest, SyncTaskRunsPeriodically)
{
    asio::io_context ioc;
    scheduler s{ioc.get_executor(), {}, log_capture{}.get()};
    int runs = 0;
    s.add("tick", {.interval = 10ms}, [&] { ++runs; });
    run_coroutine_test(ioc, run_for(s, 105ms));
    EXPECT_GE(runs, 3);
    EXPECT_LE(runs, 11);
    auto const m = s.metrics();
    ASSERT_EQ(m.tasks.size(), 1u);
    EXPECT_EQ(m.tasks[0].metrics.runs, static_cast<std::uint64_t>(runs));
    EXPECT_EQ(m.tasks[0].metrics.failures, 0u);
}

TEST(SchedulerTest, SlowTaskNeverOverlapsItself)
{
    asio::io_context ioc;
    log_capture logs;
    scheduler s{ioc.get_executor(), {}, logs.get()};
    int active = 0;
    int max_active = 0;
    int entered = 0;
    s.add("slow", {.interval = 20ms, .immediate = true}, [&]() -> asio::awaitable<void> {
        ++entered;
        max_active = std::max(max_active, ++active);
        struct leave
        {
            int& n;
            ~leave() { --n; }
        } guard{active};
        co_await sleep_for(60ms);  // three intervals
    });
    run_coroutine_test(ioc, run_for(s, 250ms));

    EXPECT_EQ(max_active, 1);
    EXPECT_EQ(active, 0);  // the run in flight was awaited before run() returned
    EXPECT_GE(entered, 3);
    auto const m = s.metrics().tasks.at(0).metrics;
    EXPECT_EQ(m.runs, static_cast<std::uint64_t>(entered));
    // Every complete run overran; the last one may have been cut short by the cancellation.
    EXPECT_GE(m.overruns + 1, m.runs);
    EXPECT_GE(m.overruns, 2u);
    EXPECT_GE(m.max_duration, 60ms);
    EXPECT_EQ(m.failures, 0u);
    EXPECT_TRUE(logs.contains("scheduler: task 'slow' overran"));
}

TEST(SchedulerTest, KeyedTaskIsRemovedAfterIdleTimeout)
{
    asio::io_context ioc;
    scheduler s{ioc.get_executor(), {}, log_capture{}.get()};
    std::map<std::string, int> runs;
    std::vector<std::string> removed;
    std::optional<std::chrono::steady_clock::time_point> removed_when;
    std::chrono::steady_clock::time_point last_r1_run{};
    auto const f = s.add_keyed(
        "run", {.interval = 10ms, .idle_timeout = 60ms},
        [&](std::string_view key) -> asio::awaitable<void> {
            ++runs[std::string(key)];
            if (key == "r1")
                last_r1_run = std::chrono::steady_clock::now();
            co_await sleep_for(1ms);
            // The key is still valid after a suspension.
            EXPECT_TRUE(key == "r1" || key == "r2");
        },
        [&](std::string_view key) {
            removed.emplace_back(key);
            removed_when = std::chrono::steady_clock::now();
        });

    run_coroutine_test(ioc, [&]() -> asio::awaitable<void> {
        EXPECT_EQ(s.touch(f, "r1"), scheduler::touch_result::created);
        // r2 stays active: touched every 15 ms (by name this time).
        auto keep_r2 = [&]() -> asio::awaitable<void> {
            for (;;) {
                s.touch("run", "r2");
                co_await sleep_for(15ms);
            }
        };
        co_await (s.run() || keep_r2() || sleep_for(200ms));
    }());

    ASSERT_EQ(removed, std::vector<std::string>{"r1"});
    EXPECT_GE(runs["r1"], 2);
    EXPECT_GE(runs["r2"], 5);
    EXPECT_LT(last_r1_run, *removed_when);  // no run after the clean-up
    EXPECT_EQ(s.core().find(f, "r1"), std::nullopt);
    EXPECT_TRUE(s.core().find(f, "r2"));
    auto const fam = s.metrics().families.at(0);
    EXPECT_EQ(fam.created, 2u);
    EXPECT_EQ(fam.removed, 1u);
    EXPECT_EQ(fam.keys, 1u);
}

TEST(SchedulerTest, CancellationReturnsPromptlyAndWaitsForTheRunningTask)
{
    asio::io_context ioc;
    scheduler s{ioc.get_executor(), {}, log_capture{}.get()};
    int entered = 0;
    int left = 0;
    bool completed = false;
    s.add("long", {.interval = 10ms, .immediate = true}, [&]() -> asio::awaitable<void> {
        ++entered;
        struct leave
        {
            int& n;
            ~leave() { ++n; }
        } guard{left};
        co_await sleep_for(10s);
        completed = true;
    });
    auto const t0 = std::chrono::steady_clock::now();
    run_coroutine_test(ioc, [&]() -> asio::awaitable<void> {
        co_await run_for(s, 30ms);
        // run() has returned: the task's run ended before it did.
        EXPECT_EQ(left, entered);
    }());
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 500ms);
    EXPECT_EQ(entered, 1);
    EXPECT_EQ(left, 1);
    EXPECT_FALSE(completed);
    auto const m = s.metrics().tasks.at(0).metrics;
    EXPECT_EQ(m.runs, 1u);
    EXPECT_EQ(m.failures, 0u);  // cancellation is not a failure
    EXPECT_FALSE(s.metrics().tasks.at(0).running);
}

// Spawns s.run() with a cancellation signal the test controls.
struct controlled_run
{
    asio::cancellation_signal signal;
    bool done = false;
    std::exception_ptr error;

    void start(asio::any_io_executor ex, scheduler& s)
    {
        asio::co_spawn(ex, s.run(),
                       asio::bind_cancellation_slot(signal.slot(), [this](std::exception_ptr e) {
                           done = true;
                           error = std::move(e);
                       }));
    }
    asio::awaitable<void> wait()
    {
        while (!done)
            co_await sleep_for(2ms);
    }
};

TEST(SchedulerTest, TotalCancellationLetsTheRunInFlightFinish)
{
    asio::io_context ioc;
    scheduler s{ioc.get_executor(), {}, log_capture{}.get()};
    int starts = 0;
    bool finished = false;
    s.add("tick", {.interval = 10ms, .immediate = true}, [&]() -> asio::awaitable<void> {
        ++starts;
        co_await sleep_for(60ms);  // a default coroutine ignores total cancellation
        finished = true;
    });
    controlled_run r;
    run_coroutine_test(ioc, [&]() -> asio::awaitable<void> {
        r.start(ioc.get_executor(), s);
        co_await sleep_for(15ms);
        r.signal.emit(asio::cancellation_type::total);
        co_await r.wait();
    }());
    EXPECT_FALSE(r.error);
    EXPECT_TRUE(finished);
    EXPECT_EQ(starts, 1);
}

TEST(SchedulerTest, TerminalAfterTotalAbortsTheRunInFlight)
{
    asio::io_context ioc;
    scheduler s{ioc.get_executor(), {}, log_capture{}.get()};
    bool finished = false;
    s.add("tick", {.interval = 10ms, .immediate = true}, [&]() -> asio::awaitable<void> {
        co_await sleep_for(10s);
        finished = true;
    });
    controlled_run r;
    run_coroutine_test(ioc, [&]() -> asio::awaitable<void> {
        r.start(ioc.get_executor(), s);
        co_await sleep_for(10ms);
        r.signal.emit(asio::cancellation_type::total);
        co_await sleep_for(20ms);
        EXPECT_FALSE(r.done);  // graceful: still waiting for the run
        r.signal.emit(asio::cancellation_type::terminal);
        co_await r.wait();
    }());
    EXPECT_FALSE(r.error);
    EXPECT_FALSE(finished);
    EXPECT_EQ(s.metrics().tasks.at(0).metrics.runs, 1u);
}

TEST(SchedulerTest, FailingTasksAreLoggedCountedAndKeepTheirSchedule)
{
    asio::io_context ioc;
    log_capture logs;
    scheduler s{ioc.get_executor(), {}, logs.get()};
    s.add("sync", {.interval = 10ms}, [] { throw std::runtime_error("boom"); });
    s.add("async", {.interval = 10ms}, []() -> asio::awaitable<void> {
        co_await sleep_for(1ms);
        throw std::runtime_error("bang");
    });
    run_coroutine_test(ioc, run_for(s, 60ms));
    auto const m = s.metrics();
    ASSERT_EQ(m.tasks.size(), 2u);
    EXPECT_GE(m.tasks[0].metrics.runs, 2u);
    EXPECT_EQ(m.tasks[0].metrics.failures, m.tasks[0].metrics.runs);
    // The async run in flight when run() was cancelled was aborted, which is not a failure.
    EXPECT_GE(m.tasks[1].metrics.runs, 2u);
    EXPECT_GE(m.tasks[1].metrics.failures + 1, m.tasks[1].metrics.runs);
    EXPECT_GE(m.tasks[1].metrics.failures, 1u);
    EXPECT_TRUE(logs.contains("scheduler: task 'sync' failed: boom"));
    EXPECT_TRUE(logs.contains("scheduler: task 'async' failed: bang"));
    EXPECT_GE(logs.count(logger::level::error), 4u);
}

TEST(SchedulerTest, AddingATaskWakesTheLoop)
{
    asio::io_context ioc;
    scheduler s{ioc.get_executor(), {}, log_capture{}.get()};
    std::optional<std::chrono::steady_clock::time_point> ran;
    run_coroutine_test(ioc, [&]() -> asio::awaitable<void> {
        auto add_later = [&]() -> asio::awaitable<void> {
            co_await sleep_for(20ms);
            s.add("late", {.interval = 1h, .immediate = true},
                  [&] { ran = std::chrono::steady_clock::now(); });
            auto const added = std::chrono::steady_clock::now();
            co_await sleep_for(30ms);
            EXPECT_TRUE(ran);
            if (ran) {
                EXPECT_LT(*ran - added, 20ms);
            }
        };
        // The scheduler starts with nothing to do: its timer waits forever until woken.
        co_await (s.run() || add_later());
    }());
    EXPECT_TRUE(ran);
}

TEST(SchedulerTest, InjectedClockDecidesWhatIsDue)
{
    asio::io_context ioc;
    auto fake_now = scheduler::clock::now();
    scheduler s{ioc.get_executor(), {.now = [&] { return fake_now; }}, log_capture{}.get()};
    int hourly = 0;
    s.add("hourly", {.interval = 1h}, [&] { ++hourly; });
    run_coroutine_test(ioc, [&]() -> asio::awaitable<void> {
        auto advance = [&]() -> asio::awaitable<void> {
            co_await sleep_for(10ms);
            EXPECT_EQ(hourly, 0);
            fake_now += 1h;
            // Moving the clock does not wake the timer; adding a task (or a key) does.
            s.add("poke", {.interval = 1h}, [] {});
            co_await sleep_for(10ms);
        };
        co_await (s.run() || advance());
    }());
    EXPECT_EQ(hourly, 1);
    EXPECT_EQ(s.metrics().tasks.at(0).metrics.last_duration, duration::zero());
}

TEST(SchedulerTest, RefusedKeysAreCountedAndLogged)
{
    asio::io_context ioc;
    log_capture logs;
    scheduler s{ioc.get_executor(), {.max_keyed_tasks = 1}, logs.get()};
    auto const f = s.add_keyed("run", {.interval = 1s}, [](std::string_view) {});
    EXPECT_EQ(s.touch(f, "r1"), scheduler::touch_result::created);
    EXPECT_EQ(s.touch(f, "r2"), scheduler::touch_result::refused);
    EXPECT_EQ(s.touch(f, "r3"), scheduler::touch_result::refused);
    EXPECT_EQ(s.touch(f, "r4"), scheduler::touch_result::refused);
    EXPECT_EQ(s.metrics().refused_keys, 3u);
    // Rate-limited: the 1st and 2nd refusal are logged, the 3rd is not.
    EXPECT_EQ(logs.count(logger::level::warn), 2u);
    EXPECT_TRUE(logs.contains("refused key 'run/r2': max_keyed_tasks (1) reached"));
    EXPECT_THROW(s.touch("nope", "r1"), std::invalid_argument);
}

TEST(SchedulerTest, InvalidConfigFailsWhenRunStarts)
{
    asio::io_context ioc;
    // The constructor accepts it (STYLE.md item 3); run() names the field.
    scheduler s{ioc.get_executor(), {.max_keyed_tasks = 0}, log_capture{}.get()};
    bool threw = false;
    run_coroutine_test(ioc, [&]() -> asio::awaitable<void> {
        try {
            co_await s.run();
        } catch (std::invalid_argument const& e) {
            threw = std::string(e.what()).find("max_keyed_tasks") != std::string::npos;
        }
    }());
    EXPECT_TRUE(threw);
}

TEST(SchedulerTest, RunCanStartAgainAfterItReturned)
{
    asio::io_context ioc;
    scheduler s{ioc.get_executor(), {}, log_capture{}.get()};
    int runs = 0;
    s.add("tick", {.interval = 5ms}, [&] { ++runs; });
    run_coroutine_test(ioc, run_for(s, 30ms));
    auto const first = runs;
    EXPECT_GE(first, 1);
    run_coroutine_test(ioc, run_for(s, 30ms));
    EXPECT_GT(runs, first);
}

// What the documentation shows (docs/core.md, "Scheduler"): the work a core
// component hands to the scheduler.
struct core_work
{
    int sweeps = 0;
    std::map<std::string, int> summaries;
    std::vector<std::string> forgotten;
    std::function<void(std::string_view)> on_run_event;

    void sweep_stale_jobs() { ++sweeps; }
    asio::awaitable<void> publish_summary(std::string_view run_id)
    {
        ++summaries[std::string(run_id)];
        co_return;
    }
    void forget_run(std::string_view run_id) { forgotten.emplace_back(run_id); }
};

// [snippet:scheduler-usage]
void schedule_core_work(jobwatch::scheduler& sched, core_work& work)
{
    // A named task: synchronous (it runs inside the scheduler's loop), every 5 s ± 0.5 s.
    sched.add("stale-sweep", {.interval = 5s, .jitter = 500ms},
              [&work] { work.sweep_stale_jobs(); });

    // One summary coroutine per active run, removed 30 s after the run's last event.
    auto const runs = sched.add_keyed(
        "run-summary", {.interval = 1s, .idle_timeout = 30s, .immediate = true},
        [&work](std::string_view run_id) -> asio::awaitable<void> {
            co_await work.publish_summary(run_id);
        },
        [&work](std::string_view run_id) { work.forget_run(run_id); });

    // On every event of a run: one hash lookup for a run already known.
    work.on_run_event = [&sched, runs](std::string_view run_id) { sched.touch(runs, run_id); };
}
// [end:scheduler-usage]

TEST(SchedulerTest, DocumentedUsageWorks)
{
    asio::io_context ioc;
    scheduler s{ioc.get_executor(), {}, log_capture{}.get()};
    core_work work;
    schedule_core_work(s, work);
    work.on_run_event("r1");
    work.on_run_event("r1");
    run_coroutine_test(ioc, run_for(s, 20ms));
    EXPECT_EQ(work.summaries, (std::map<std::string, int>{{"r1", 1}}));
    EXPECT_EQ(work.sweeps, 0);
    auto const m = s.metrics();
    EXPECT_EQ(m.tasks.at(0).name, "stale-sweep");
    EXPECT_EQ(m.families.at(0).name, "run-summary");
    EXPECT_EQ(m.families.at(0).keys, 1u);
}

// The helper itself: a coroutine that does not finish in time fails the test,
// is cancelled, and does not hang the suite.
void run_stuck_coroutine()
{
    asio::io_context ioc;
    run_coroutine_test(ioc, sleep_for(10s), 20ms);
}

TEST(SchedulerTest, RunCoroutineTestFailsAtItsDeadline)
{
    auto const t0 = std::chrono::steady_clock::now();
    EXPECT_NONFATAL_FAILURE(run_stuck_coroutine(), "did not finish within 20 ms");
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 500ms);
}

}  // namespace
}  // namespace jobwatch
