// Test that the header is self-contained.
#include <jobwatch/store/job_store.hpp>

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace {

using namespace jobwatch;
using namespace std::chrono_literals;

// 2024-05-01T12:30:00.000Z
constexpr std::int64_t base_ms = 1'714'566'600'000;

time_point at(std::int64_t offset_ms) { return time_point{duration{base_ms + offset_ms}}; }

/// A logged_event as the event log would make it: seq, parsed time, and the
/// event's own `time` field set to the same instant.
logged_event make_logged(job_event ev, std::uint64_t seq, time_point t)
{
    time_of(ev) = format_time(t);
    logged_event out;
    out.seq = seq;
    out.time = t;
    out.event = std::move(ev);
    return out;
}

// Event builders; the queue is "emails" unless said otherwise.
job_event queued(std::string id, std::string queue = "emails")
{
    return job_queued{.job_id = std::move(id), .queue = std::move(queue)};
}
job_event started(std::string id, std::int64_t attempt)
{
    return job_started{.job_id = std::move(id), .queue = "emails", .attempt = attempt};
}
job_event progress(std::string id, double percent)
{
    return job_progress{.job_id = std::move(id), .queue = "emails", .percent = percent};
}
job_event log_event(std::string id, std::string message, log_level level = log_level::info)
{
    return job_log{.job_id = std::move(id), .queue = "emails", .level = level, .message = std::move(message)};
}
job_event completed(std::string id)
{
    return job_completed{.job_id = std::move(id), .queue = "emails"};
}
job_event failed(std::string id, std::int64_t attempt, bool will_retry, std::string error = "boom")
{
    return job_failed{.job_id = std::move(id), .queue = "emails", .error = std::move(error), .attempt = attempt,
                      .will_retry = will_retry};
}
job_event cancelled(std::string id)
{
    return job_cancelled{.job_id = std::move(id), .queue = "emails"};
}
job_event retrying(std::string id, std::int64_t attempt)
{
    return job_retrying{.job_id = std::move(id), .queue = "emails", .attempt = attempt};
}

/// A store plus the events given to it, kept alive so that changes' views
/// stay valid; each event gets the next seq and, unless told, a time one
/// second after the previous one.
struct fixture
{
    job_store store;
    std::deque<logged_event> events;
    std::uint64_t seq = 0;
    std::int64_t clock_ms = 0;

    fixture() = default;
    explicit fixture(job_store::config cfg) : store(cfg) {}

    std::optional<job_change> apply(job_event ev)
    {
        clock_ms += 1000;
        return apply_at(std::move(ev), clock_ms);
    }
    std::optional<job_change> apply_at(job_event ev, std::int64_t offset_ms)
    {
        // As the core does: an event naming no tenant is about the one job
        // with its id (the store itself takes the event's tenant as given).
        auto& tenant = std::visit([](auto& e) -> std::optional<std::string>& { return e.tenant_id; }, ev);
        if (!tenant && !store.find({}, job_id_of(ev)))
            if (auto const* only = store.find_any(job_id_of(ev)).job)
                tenant = std::string(only->tenant_id());
        events.push_back(make_logged(std::move(ev), ++seq, at(offset_ms)));
        return store.apply(events.back());
    }
    /// The job `id` of no tenant, else the one job with that id.
    job_record const* find(std::string_view id) const
    {
        auto const* r = store.find({}, id);
        return r ? r : store.find_any(id).job;
    }
    job_record const& job(std::string_view id) const
    {
        auto const* r = find(id);
        EXPECT_NE(r, nullptr) << id;
        return *r;
    }
    /// The log of job `id`; none when the job is unknown.
    std::vector<job_log_line> logs(std::string_view id, std::uint64_t since, std::size_t limit) const
    {
        auto const* r = find(id);
        return r ? store.logs(*r, since, limit) : std::vector<job_log_line>{};
    }
};

std::uint64_t outcomes(job_store::stats const& s)
{
    return s.applied + s.duplicates + s.stale + s.after_terminal + s.refused_full;
}

// ---------------------------------------------------------------------------
// The exhaustive state-machine table.

enum class start_state { none, queued, running, succeeded, failed, cancelled };
enum class ev { queued, started, progress, log, completed, failed_final, failed_retry, cancelled, retrying };
enum class rel { none, lower, same, higher };  // event attempt vs the job's (2); none: the event has none
enum class outcome { applied, duplicate, stale, after_terminal };
enum class extra { none, out_of_order, implied_start };

struct row
{
    start_state from;
    ev event;
    rel relation;
    outcome out;
    job_state after;
    std::int64_t attempt;
    bool attempt_started = false;
    bool finished = false;
    bool attempt_failed = false;
    bool retry_scheduled = false;
    extra counted = extra::none;
};

bool has_attempt(ev e) { return e == ev::started || e == ev::failed_final || e == ev::failed_retry || e == ev::retrying; }

/// Brings job "j" to `s`, at attempt 2 (except `none`: no job).
void prepare(fixture& f, start_state s)
{
    if (s == start_state::none)
        return;
    f.apply(queued("j"));
    f.apply(started("j", 1));
    f.apply(failed("j", 1, true));
    f.apply(started("j", 2));
    switch (s) {
    case start_state::queued: f.apply(failed("j", 2, true)); break;
    case start_state::succeeded: f.apply(completed("j")); break;
    case start_state::failed: f.apply(failed("j", 2, false)); break;
    case start_state::cancelled: f.apply(cancelled("j")); break;
    default: break;
    }
}

job_event make(ev e, rel r)
{
    // Attempt numbers around the job's 2; job.retrying(n) names the next attempt, so n-1 is compared.
    std::int64_t const n = r == rel::lower ? 1 : r == rel::same ? 2 : 3;
    switch (e) {
    case ev::queued: return queued("j");
    case ev::started: return started("j", n);
    case ev::progress: return progress("j", 50);
    case ev::log: return log_event("j", "a line");
    case ev::completed: return completed("j");
    case ev::failed_final: return failed("j", n, false);
    case ev::failed_retry: return failed("j", n, true);
    case ev::cancelled: return cancelled("j");
    case ev::retrying: return retrying("j", n + 1);
    }
    return queued("j");
}

std::string describe(row const& r)
{
    static constexpr std::array from{"none", "queued", "running", "succeeded", "failed", "cancelled"};
    static constexpr std::array evs{"queued",       "started",      "progress",  "log",     "completed",
                                    "failed_final", "failed_retry", "cancelled", "retrying"};
    static constexpr std::array rels{"-", "lower", "same", "higher"};
    return std::string(from[static_cast<int>(r.from)]) + " + " + evs[static_cast<int>(r.event)] + " (" +
           rels[static_cast<int>(r.relation)] + ")";
}

constexpr job_state qd = job_state::queued;
constexpr job_state rn = job_state::running;
constexpr job_state ok = job_state::succeeded;
constexpr job_state ko = job_state::failed;
constexpr job_state cx = job_state::cancelled;
constexpr auto A = outcome::applied;
constexpr auto D = outcome::duplicate;
constexpr auto S = outcome::stale;
constexpr auto T = outcome::after_terminal;
constexpr auto ooo = extra::out_of_order;

// {from, event, relation, outcome, after, attempt, attempt_started, finished, attempt_failed, retry_scheduled, extra}
std::vector<row> const table_rows = [] {
    using enum start_state;
    std::vector<row> rows{
        // A job the store does not hold yet.
        {none, ev::queued, rel::none, A, qd, 0},
        {none, ev::progress, rel::none, A, rn, 1, false, false, false, false, ooo},
        {none, ev::log, rel::none, A, rn, 1, false, false, false, false, ooo},
        {none, ev::completed, rel::none, A, ok, 1, false, true, false, false, ooo},
        {none, ev::cancelled, rel::none, A, cx, 0, false, true, false, false, ooo},
        {none, ev::started, rel::lower, A, rn, 1, true, false, false, false, ooo},
        {none, ev::started, rel::same, A, rn, 2, true, false, false, false, ooo},
        {none, ev::started, rel::higher, A, rn, 3, true, false, false, false, ooo},
        {none, ev::failed_final, rel::lower, A, ko, 1, false, true, true, false, ooo},
        {none, ev::failed_final, rel::same, A, ko, 2, false, true, true, false, ooo},
        {none, ev::failed_final, rel::higher, A, ko, 3, false, true, true, false, ooo},
        {none, ev::failed_retry, rel::lower, A, qd, 1, false, false, true, true, ooo},
        {none, ev::failed_retry, rel::same, A, qd, 2, false, false, true, true, ooo},
        {none, ev::failed_retry, rel::higher, A, qd, 3, false, false, true, true, ooo},
        {none, ev::retrying, rel::lower, A, qd, 1, false, false, false, true, ooo},
        {none, ev::retrying, rel::same, A, qd, 2, false, false, false, true, ooo},
        {none, ev::retrying, rel::higher, A, qd, 3, false, false, false, true, ooo},

        // Queued, waiting for the retry of attempt 2 (its start and failure were seen).
        {queued, ev::queued, rel::none, D, qd, 2},
        {queued, ev::progress, rel::none, S, qd, 2},
        {queued, ev::log, rel::none, A, qd, 2},
        {queued, ev::completed, rel::none, A, ok, 2, false, true},
        {queued, ev::cancelled, rel::none, A, cx, 2, false, true},
        {queued, ev::started, rel::lower, S, qd, 2},
        {queued, ev::started, rel::same, D, qd, 2},
        {queued, ev::started, rel::higher, A, rn, 3, true},
        {queued, ev::failed_final, rel::lower, S, qd, 2},
        {queued, ev::failed_final, rel::same, D, qd, 2},
        {queued, ev::failed_final, rel::higher, A, ko, 3, false, true, true},
        {queued, ev::failed_retry, rel::lower, S, qd, 2},
        {queued, ev::failed_retry, rel::same, D, qd, 2},
        {queued, ev::failed_retry, rel::higher, A, qd, 3, false, false, true, true},
        {queued, ev::retrying, rel::lower, S, qd, 2},
        {queued, ev::retrying, rel::same, D, qd, 2},
        {queued, ev::retrying, rel::higher, A, qd, 3, false, false, false, true},

        // Running attempt 2 (its start was seen).
        {running, ev::queued, rel::none, S, rn, 2},
        {running, ev::progress, rel::none, A, rn, 2},
        {running, ev::log, rel::none, A, rn, 2},
        {running, ev::completed, rel::none, A, ok, 2, false, true},
        {running, ev::cancelled, rel::none, A, cx, 2, false, true},
        {running, ev::started, rel::lower, S, rn, 2},
        {running, ev::started, rel::same, D, rn, 2},
        {running, ev::started, rel::higher, A, rn, 3, true},
        {running, ev::failed_final, rel::lower, S, rn, 2},
        {running, ev::failed_final, rel::same, A, ko, 2, false, true, true},
        {running, ev::failed_final, rel::higher, A, ko, 3, false, true, true},
        {running, ev::failed_retry, rel::lower, S, rn, 2},
        {running, ev::failed_retry, rel::same, A, qd, 2, false, false, true, true},
        {running, ev::failed_retry, rel::higher, A, qd, 3, false, false, true, true},
        {running, ev::retrying, rel::lower, S, rn, 2},
        {running, ev::retrying, rel::same, A, qd, 2, false, false, false, true},
        {running, ev::retrying, rel::higher, A, qd, 3, false, false, false, true},
    };
    // Terminal states are sticky: everything is ignored, but a log line is kept.
    for (auto const& [from, state] : {std::pair{succeeded, ok}, std::pair{failed, ko}, std::pair{cancelled, cx}}) {
        for (auto e : {ev::queued, ev::progress, ev::log, ev::completed, ev::cancelled})
            rows.push_back({from, e, rel::none, e == ev::log ? A : T, state, 2});
        for (auto e : {ev::started, ev::failed_final, ev::failed_retry, ev::retrying})
            for (auto r : {rel::lower, rel::same, rel::higher})
                rows.push_back({from, e, r, T, state, 2});
    }
    return rows;
}();

TEST(JobStoreTest, StateMachineTableIsExhaustive)
{
    std::set<std::tuple<start_state, ev, rel>> seen;
    for (auto const& r : table_rows) {
        EXPECT_EQ(has_attempt(r.event), r.relation != rel::none) << describe(r);
        EXPECT_TRUE(seen.emplace(r.from, r.event, r.relation).second) << "twice: " << describe(r);
    }
    // 6 starting points x (5 events without an attempt + 4 with one x 3 relations).
    EXPECT_EQ(seen.size(), 6u * (5 + 4 * 3));
}

TEST(JobStoreTest, StateMachineTable)
{
    for (auto const& r : table_rows) {
        SCOPED_TRACE(describe(r));
        fixture f;
        prepare(f, r.from);
        auto const before_stats = f.store.counters();
        std::optional<job_state> before;
        if (auto const* j = f.find("j"))
            before = j->state();

        auto const change = f.apply(make(r.event, r.relation));
        auto const& st = f.store.counters();

        // Exactly one outcome counter moved, the expected one.
        EXPECT_EQ(outcomes(st), outcomes(before_stats) + 1);
        EXPECT_EQ(st.applied - before_stats.applied, r.out == A ? 1u : 0u);
        EXPECT_EQ(st.duplicates - before_stats.duplicates, r.out == D ? 1u : 0u);
        EXPECT_EQ(st.stale - before_stats.stale, r.out == S ? 1u : 0u);
        EXPECT_EQ(st.after_terminal - before_stats.after_terminal, r.out == T ? 1u : 0u);
        EXPECT_EQ(st.created_out_of_order - before_stats.created_out_of_order, r.counted == ooo ? 1u : 0u);
        EXPECT_EQ(st.implied_starts - before_stats.implied_starts, r.counted == extra::implied_start ? 1u : 0u);

        auto const& job = f.job("j");
        EXPECT_EQ(job.state(), r.after);
        EXPECT_EQ(job.attempt(), r.attempt);
        ASSERT_EQ(change.has_value(), r.out == A);
        if (!change) {
            EXPECT_EQ(job.seq(), f.seq - 1) << "an ignored event is not the job's last applied event";
            continue;
        }
        EXPECT_EQ(change->before, before);
        EXPECT_EQ(change->after, r.after);
        EXPECT_EQ(change->attempt, r.attempt);
        EXPECT_EQ(change->attempt_started, r.attempt_started);
        EXPECT_EQ(change->finished, r.finished);
        EXPECT_EQ(change->attempt_failed, r.attempt_failed);
        EXPECT_EQ(change->retry_scheduled, r.retry_scheduled);
        EXPECT_EQ(&change->cause, &f.events.back());
        EXPECT_EQ(change->job_id, "j");
        EXPECT_EQ(change->queue, "emails");
        EXPECT_EQ(job.seq(), f.seq);
        EXPECT_EQ(change->error, r.attempt_failed ? "boom" : "");
    }
}

// ---------------------------------------------------------------------------
// Duplicates, late and out-of-order events.

TEST(JobStoreTest, TerminalStatesAreSticky)
{
    fixture f;
    f.apply(queued("j"));
    f.apply(started("j", 1));
    ASSERT_TRUE(f.apply(completed("j")));
    EXPECT_FALSE(f.apply(completed("j")));
    EXPECT_FALSE(f.apply(failed("j", 1, false)));
    EXPECT_FALSE(f.apply(cancelled("j")));
    EXPECT_FALSE(f.apply(started("j", 2)));
    EXPECT_FALSE(f.apply(progress("j", 10)));
    EXPECT_EQ(f.job("j").state(), job_state::succeeded);
    EXPECT_EQ(f.job("j").attempt(), 1);
    EXPECT_EQ(f.store.counters().after_terminal, 5u);
    EXPECT_EQ(f.store.finished_count(), 1u);
}

TEST(JobStoreTest, StartedTwiceCountsOneExecution)
{
    fixture f;
    f.apply(queued("j"));
    auto const first = f.apply(started("j", 1));
    ASSERT_TRUE(first);
    EXPECT_TRUE(first->attempt_started);
    EXPECT_FALSE(f.apply(started("j", 1)));
    EXPECT_EQ(f.store.counters().duplicates, 1u);
}

TEST(JobStoreTest, FailureThenRetryingSchedulesOneRetry)
{
    fixture f;
    f.apply(started("j", 1));
    auto const fail = f.apply(failed("j", 1, true, "timeout"));
    ASSERT_TRUE(fail);
    EXPECT_TRUE(fail->attempt_failed);
    EXPECT_TRUE(fail->retry_scheduled);
    EXPECT_EQ(fail->error, "timeout");
    EXPECT_FALSE(f.apply(retrying("j", 2)));
    EXPECT_EQ(f.store.counters().duplicates, 1u);
    EXPECT_EQ(f.job("j").state(), job_state::queued);
}

TEST(JobStoreTest, RetryingThenLateFailureCountsTheFailureNotAnotherRetry)
{
    fixture f;
    f.apply(started("j", 1));
    auto const retry = f.apply(retrying("j", 2));
    ASSERT_TRUE(retry);
    EXPECT_TRUE(retry->retry_scheduled);
    EXPECT_FALSE(retry->attempt_failed);
    auto const fail = f.apply(failed("j", 1, true));
    ASSERT_TRUE(fail);
    EXPECT_TRUE(fail->attempt_failed);
    EXPECT_FALSE(fail->retry_scheduled);
    EXPECT_EQ(fail->before, job_state::queued);
    EXPECT_EQ(fail->after, job_state::queued);
    EXPECT_FALSE(f.apply(failed("j", 1, true)));
}

TEST(JobStoreTest, LostFailureStartsANewAttempt)
{
    fixture f;
    f.apply(started("j", 1));
    auto const second = f.apply(started("j", 2));
    ASSERT_TRUE(second);
    EXPECT_TRUE(second->attempt_started);
    EXPECT_FALSE(second->attempt_failed);
    EXPECT_EQ(second->before, job_state::running);
    EXPECT_EQ(second->attempt, 2);
    EXPECT_FALSE(f.apply(started("j", 1)));
    EXPECT_EQ(f.store.counters().stale, 1u);
}

TEST(JobStoreTest, ProgressBeforeAnythingCreatesARunningJob)
{
    fixture f;
    auto const c = f.apply(progress("j", 30));
    ASSERT_TRUE(c);
    EXPECT_EQ(c->before, std::nullopt);
    EXPECT_EQ(c->after, job_state::running);
    EXPECT_EQ(c->attempt, 1);
    EXPECT_FALSE(c->attempt_started);
    EXPECT_EQ(f.store.counters().created_out_of_order, 1u);
    EXPECT_EQ(f.job("j").percent(), 30);
    EXPECT_EQ(f.job("j").started_at(), std::nullopt);
}

TEST(JobStoreTest, ProgressOnQueuedIsAnImpliedStart)
{
    fixture f;
    f.apply(queued("j"));
    auto const c = f.apply(progress("j", 5));
    ASSERT_TRUE(c);
    EXPECT_EQ(c->before, job_state::queued);
    EXPECT_EQ(c->after, job_state::running);
    EXPECT_EQ(c->attempt, 1);
    EXPECT_FALSE(c->attempt_started);
    EXPECT_EQ(f.store.counters().implied_starts, 1u);
    EXPECT_EQ(f.store.running_count(), 1u);
}

TEST(JobStoreTest, LateStartOfAnImpliedAttemptCountsOnce)
{
    fixture f;
    f.apply_at(queued("j"), 0);
    f.apply_at(progress("j", 5), 3000);
    auto const c = f.apply_at(started("j", 1), 2000);
    ASSERT_TRUE(c);
    EXPECT_TRUE(c->attempt_started);
    EXPECT_EQ(c->before, job_state::running);
    EXPECT_EQ(c->after, job_state::running);
    EXPECT_EQ(c->wait_ms, 2000.0);
    EXPECT_EQ(f.job("j").started_at(), at(2000));
    EXPECT_EQ(f.job("j").percent(), 5) << "the late start keeps the progress";
    EXPECT_FALSE(f.apply(started("j", 1)));
    EXPECT_EQ(f.store.counters().duplicates, 1u);
}

TEST(JobStoreTest, OlderProgressIsStale)
{
    fixture f;
    f.apply_at(started("j", 1), 0);
    ASSERT_TRUE(f.apply_at(progress("j", 60), 5000));
    EXPECT_FALSE(f.apply_at(progress("j", 40), 4000));
    EXPECT_TRUE(f.apply_at(progress("j", 61), 5000)) << "the same millisecond is not older";
    EXPECT_EQ(f.job("j").percent(), 61);
    EXPECT_EQ(f.store.counters().stale, 1u);
}

TEST(JobStoreTest, LateProgressOfAPreviousAttemptIsStale)
{
    fixture f;
    f.apply_at(started("j", 1), 0);
    f.apply_at(started("j", 2), 5000);  // the failure of attempt 1 was lost
    EXPECT_FALSE(f.apply_at(progress("j", 90), 4000)) << "reported by attempt 1";
    EXPECT_EQ(f.job("j").percent(), 0);
    EXPECT_TRUE(f.apply_at(progress("j", 10), 6000));
    EXPECT_EQ(f.store.counters().stale, 1u);
}

TEST(JobStoreTest, ProgressOnAJobAwaitingARetryIsStale)
{
    fixture f;
    f.apply(started("j", 1));
    f.apply(failed("j", 1, true));
    EXPECT_FALSE(f.apply(progress("j", 90)));
    EXPECT_EQ(f.store.counters().stale, 1u);
    EXPECT_EQ(f.job("j").state(), job_state::queued);
}

TEST(JobStoreTest, NewAttemptResetsProgress)
{
    fixture f;
    f.apply(started("j", 1));
    job_progress p{.job_id = "j", .queue = "emails", .percent = 70, .step = "copy", .current = 7, .total = 10};
    f.apply(p);
    f.apply(failed("j", 1, true));
    f.apply(started("j", 2));
    auto const s = f.store.snapshot(f.job("j"));
    EXPECT_EQ(s.progress, progress_info{});
}

TEST(JobStoreTest, DuplicateQueuedFillsBlanksOnly)
{
    fixture f;
    job_queued first{.job_id = "j", .queue = "emails", .run_id = "r1"};
    f.apply(first);
    job_queued again{.job_id = "j",
                     .queue = "emails",
                     .run_id = "r2",
                     .user_id = "alice",
                     .job_type = "thumbnail",
                     .max_attempts = 3};
    EXPECT_FALSE(f.apply(again));
    EXPECT_EQ(f.store.counters().duplicates, 1u);
    auto const s = f.store.snapshot(f.job("j"));
    EXPECT_EQ(s.run_id, "r1") << "the first value wins";
    // Run and user (the job's scopes) are fixed by its first event.
    EXPECT_EQ(s.user_id, std::nullopt);
    EXPECT_EQ(s.job_type, "thumbnail");
    EXPECT_EQ(s.max_attempts, 3);
    EXPECT_EQ(s.queued_at, format_time(at(1000))) << "the first queue time stays";
}

TEST(JobStoreTest, LateQueuedFillsQueueTimeButNoWait)
{
    fixture f;
    f.apply_at(started("j", 1), 5000);
    EXPECT_FALSE(f.apply_at(queued("j"), 1000));
    EXPECT_EQ(f.store.counters().stale, 1u);
    auto const s = f.store.snapshot(f.job("j"));
    EXPECT_EQ(s.queued_at, format_time(at(1000)));
    EXPECT_EQ(s.wait_ms, std::nullopt);
}

TEST(JobStoreTest, TheSameIdInTwoTenantsIsTwoJobs)
{
    // The store takes an event's tenant as its job's identity (the core
    // decides the tenant); two tenants never touch each other's job.
    job_store store;
    std::uint64_t seq = 0;
    auto apply = [&](job_event ev) { return store.apply(make_logged(std::move(ev), ++seq, at(1000))); };
    job_queued a{.job_id = "j", .queue = "q", .run_id = "r", .tenant_id = "a", .user_id = "u"};
    job_queued b{.job_id = "j", .queue = "q", .run_id = "r", .tenant_id = "b"};
    job_queued none{.job_id = "j", .queue = "q"};
    ASSERT_TRUE(apply(a));
    ASSERT_TRUE(apply(b));
    ASSERT_TRUE(apply(none));
    EXPECT_EQ(store.size(), 3u);
    job_cancelled cancel_a{.job_id = "j", .queue = "q", .tenant_id = "a"};
    ASSERT_TRUE(apply(cancel_a));
    EXPECT_EQ(store.find("a", "j")->state(), job_state::cancelled);
    EXPECT_EQ(store.find("b", "j")->state(), job_state::queued);
    EXPECT_EQ(store.find({}, "j")->state(), job_state::queued);
    EXPECT_EQ(store.find("c", "j"), nullptr);
    // Looked up without a tenant: several tenants have it.
    EXPECT_EQ(store.find_any("j").count, 2u);
    EXPECT_EQ(store.find_any("j").job, nullptr);
    EXPECT_EQ(store.find_any("nope").count, 0u);
    // Runs are the tenant's: a's run and b's run of the same name are two runs.
    EXPECT_EQ(store.query({.run_id = "r", .tenant_id = "a"}).total, 1u);
    EXPECT_EQ(store.query({.run_id = "r", .tenant_id = "b"}).total, 1u);
    EXPECT_EQ(store.snapshot(*store.find("a", "j")).run_id, "r");
    EXPECT_EQ(store.find("a", "j")->rooms()->of(jobwatch::rooms::kind::run), "run:a/r");
    EXPECT_EQ(store.find("a", "j")->rooms()->of(jobwatch::rooms::kind::user), "user:a/u");
}

TEST(JobStoreTest, FindAnyFindsTheOneJobOfAnId)
{
    job_store store;
    store.apply(make_logged(job_queued{.job_id = "j", .queue = "q", .tenant_id = "a"}, 1, at(0)));
    auto const m = store.find_any("j");
    ASSERT_EQ(m.count, 1u);
    ASSERT_NE(m.job, nullptr);
    EXPECT_EQ(m.job->tenant_id(), "a");
}

TEST(JobStoreTest, ChangeCarriesTheJobsMetadata)
{
    fixture f;
    job_queued e{.job_id = "j",
                 .queue = "emails",
                 .run_id = "nightly",
                 .tenant_id = "acme",
                 .user_id = "alice",
                 .job_type = "thumbnail"};
    f.apply(e);
    auto const c = f.apply(progress("j", 10));  // carries none of them (the tenant is found by the fixture)
    ASSERT_TRUE(c);
    EXPECT_EQ(c->rooms->size(), 5u);
    EXPECT_EQ(c->run_id, "nightly");
    EXPECT_EQ(c->tenant_id, "acme");
    EXPECT_EQ(c->user_id, "alice");
    EXPECT_EQ(c->job_type, "thumbnail");
    EXPECT_EQ(c->error, "");
    EXPECT_EQ(c->duration_ms, std::nullopt);
    EXPECT_EQ(c->wait_ms, std::nullopt);
}

// ---------------------------------------------------------------------------
// Timestamps, durations, results.

TEST(JobStoreTest, WaitIsMeasuredOnTheFirstStartOnly)
{
    fixture f;
    f.apply_at(queued("j"), 0);
    auto const first = f.apply_at(started("j", 1), 1500);
    ASSERT_TRUE(first);
    EXPECT_EQ(first->wait_ms, 1500.0);
    f.apply_at(failed("j", 1, true), 2000);
    auto const second = f.apply_at(started("j", 2), 9000);
    ASSERT_TRUE(second);
    EXPECT_EQ(second->wait_ms, std::nullopt);
    EXPECT_EQ(f.store.snapshot(f.job("j")).wait_ms, 1500.0);
}

TEST(JobStoreTest, NoWaitWithoutQueueTime)
{
    fixture f;
    auto const c = f.apply(started("j", 1));
    ASSERT_TRUE(c);
    EXPECT_EQ(c->wait_ms, std::nullopt);
}

TEST(JobStoreTest, DurationIsFromTheLastAttemptsStart)
{
    fixture f;
    f.apply_at(queued("j"), 0);
    f.apply_at(started("j", 1), 1000);
    f.apply_at(failed("j", 1, true), 2000);
    f.apply_at(started("j", 2), 5000);
    auto const done = f.apply_at(completed("j"), 12'000);
    ASSERT_TRUE(done);
    EXPECT_TRUE(done->finished);
    EXPECT_EQ(done->duration_ms, 7000.0);
    auto const s = f.store.snapshot(f.job("j"));
    EXPECT_EQ(s.duration_ms, 7000.0);
    EXPECT_EQ(s.started_at, format_time(at(5000)));
    EXPECT_EQ(s.finished_at, format_time(at(12'000)));
}

TEST(JobStoreTest, NoDurationWithoutASeenStart)
{
    fixture f;
    f.apply(queued("j"));
    auto const done = f.apply(completed("j"));
    ASSERT_TRUE(done);
    EXPECT_EQ(done->duration_ms, std::nullopt);

    // Awaiting a retry, the start of the attempt that completes was not seen.
    f.apply(started("k", 1));
    f.apply(failed("k", 1, true));
    auto const k = f.apply(completed("k"));
    ASSERT_TRUE(k);
    EXPECT_EQ(k->duration_ms, std::nullopt);
    EXPECT_EQ(f.store.snapshot(f.job("k")).duration_ms, std::nullopt);

    // A start implied by progress gives no duration either.
    f.apply(progress("p", 10));
    auto const p = f.apply(cancelled("p"));
    ASSERT_TRUE(p);
    EXPECT_EQ(p->duration_ms, std::nullopt);
}

TEST(JobStoreTest, FailureDurationAndError)
{
    fixture f;
    f.apply_at(started("j", 1), 0);
    auto const c = f.apply_at(failed("j", 1, false, "disk full"), 2500);
    ASSERT_TRUE(c);
    EXPECT_TRUE(c->finished);
    EXPECT_TRUE(c->attempt_failed);
    EXPECT_FALSE(c->retry_scheduled);
    EXPECT_EQ(c->duration_ms, 2500.0);
    EXPECT_EQ(c->error, "disk full");
    EXPECT_EQ(f.store.snapshot(f.job("j")).last_error, "disk full");
}

TEST(JobStoreTest, SmallResultIsKept)
{
    fixture f;
    f.apply(started("j", 1));
    job_completed c{.job_id = "j", .queue = "emails", .result = boost::json::parse(R"({"rows":42})")};
    f.apply(c);
    EXPECT_EQ(f.store.snapshot(f.job("j")).result, boost::json::parse(R"({"rows":42})"));
    EXPECT_EQ(f.store.counters().results_dropped, 0u);
}

TEST(JobStoreTest, LargeResultIsDroppedAndCounted)
{
    fixture f;
    f.apply(started("j", 1));
    job_completed c{.job_id = "j", .queue = "emails", .result = boost::json::value(std::string(5000, 'x'))};
    ASSERT_TRUE(f.apply(c));
    EXPECT_EQ(f.store.snapshot(f.job("j")).result, std::nullopt);
    EXPECT_EQ(f.store.counters().results_dropped, 1u);
    EXPECT_EQ(f.job("j").state(), job_state::succeeded);
}

TEST(JobStoreTest, ResultOfExactlyTheLimitIsKept)
{
    fixture f{job_store::config{.max_result_bytes = 12}};
    job_completed c{.job_id = "j", .queue = "emails", .result = boost::json::value("0123456789")};  // 12 bytes
    f.apply(c);
    EXPECT_TRUE(f.store.snapshot(f.job("j")).result.has_value());
}

TEST(JobStoreTest, SnapshotHasEveryField)
{
    fixture f;
    job_queued q{.job_id = "job-1",
                 .queue = "emails",
                 .run_id = "nightly",
                 .tenant_id = "acme",
                 .user_id = "alice",
                 .job_type = "thumbnail",
                 .max_attempts = 3};
    f.apply_at(q, 0);
    f.apply_at(started("job-1", 1), 250);
    job_progress p{.job_id = "job-1",
                   .queue = "emails",
                   .percent = 42.5,
                   .step = "resizing",
                   .current = 17,
                   .total = 40,
                   .counters = counter_map{{"read", 17}, {"skipped", 1}}};
    f.apply_at(p, 1000);
    f.apply_at(failed("job-1", 1, false, "oops"), 2000);

    job_snapshot want;
    want.job_id = "job-1";
    want.queue = "emails";
    want.job_type = "thumbnail";
    want.run_id = "nightly";
    want.tenant_id = "acme";
    want.user_id = "alice";
    want.state = job_state::failed;
    want.attempt = 1;
    want.max_attempts = 3;
    want.progress = progress_info{42.5, "resizing", 17, 40, counter_map{{"read", 17}, {"skipped", 1}}};
    want.queued_at = "2024-05-01T12:30:00.000Z";
    want.started_at = "2024-05-01T12:30:00.250Z";
    want.finished_at = "2024-05-01T12:30:02.000Z";
    want.updated_at = "2024-05-01T12:30:02.000Z";
    want.duration_ms = 1750;
    want.wait_ms = 250;
    want.last_error = "oops";
    want.seq = 4;
    EXPECT_EQ(f.store.snapshot(f.job("job-1")), want);
}

TEST(JobStoreTest, AbsentProgressFieldsKeepTheirLastValue)
{
    fixture f;
    f.apply(started("j", 1));
    job_progress p{.job_id = "j",
                   .queue = "emails",
                   .percent = 10,
                   .step = "one",
                   .current = 1,
                   .total = 10,
                   .counters = counter_map{{"a", 1}}};
    f.apply(p);
    f.apply(progress("j", 20));
    auto s = f.store.snapshot(f.job("j"));
    EXPECT_EQ(s.progress, (progress_info{20, "one", 1, 10, counter_map{{"a", 1}}}));

    // Counters replace the previous ones, with the same keys or not.
    job_progress same_keys{.job_id = "j", .queue = "emails", .percent = 30, .counters = counter_map{{"a", 5}}};
    f.apply(same_keys);
    job_progress new_keys{.job_id = "j", .queue = "emails", .percent = 40, .counters = counter_map{{"b", 2}}};
    f.apply(new_keys);
    s = f.store.snapshot(f.job("j"));
    EXPECT_EQ(s.progress.counters, (counter_map{{"b", 2}}));
    EXPECT_EQ(s.progress.percent, 40);
    job_progress more_keys{.job_id = "j",
                           .queue = "emails",
                           .percent = 50,
                           .counters = counter_map{{"a", 1}, {"b", 3}, {"c", 4}}};
    f.apply(more_keys);
    EXPECT_EQ(f.store.snapshot(f.job("j")).progress.counters, (counter_map{{"a", 1}, {"b", 3}, {"c", 4}}));
    job_progress fewer_keys{.job_id = "j", .queue = "emails", .percent = 60, .counters = counter_map{}};
    f.apply(fewer_keys);
    EXPECT_EQ(f.store.snapshot(f.job("j")).progress.counters, counter_map{});
}

TEST(JobStoreTest, UpdatedAtIsTheLatestEventTime)
{
    fixture f;
    f.apply_at(started("j", 1), 5000);
    f.apply_at(log_event("j", "late line"), 1000);
    EXPECT_EQ(f.job("j").updated_at(), at(5000));
    EXPECT_EQ(f.job("j").seq(), 2u);
}

// ---------------------------------------------------------------------------
// Logs.

TEST(JobStoreTest, LogRingKeepsTheNewestLines)
{
    fixture f{job_store::config{.max_log_lines_per_job = 3}};
    f.apply(started("j", 1));
    for (int i = 0; i < 5; ++i)
        ASSERT_TRUE(f.apply(log_event("j", "line " + std::to_string(i))));
    auto const lines = f.logs("j", 0, 100);
    ASSERT_EQ(lines.size(), 3u);
    EXPECT_EQ(lines[0].message, "line 2");
    EXPECT_EQ(lines[2].message, "line 4");
    EXPECT_EQ(lines[2].seq, 6u);
    EXPECT_EQ(lines[2].time, at(6000));
    EXPECT_EQ(lines[2].level, log_level::info);
    EXPECT_EQ(f.store.counters().log_lines_dropped, 2u);

    auto const since = f.logs("j", 4, 100);
    ASSERT_EQ(since.size(), 2u);
    EXPECT_EQ(since[0].seq, 5u);
    auto const limited = f.logs("j", 0, 1);
    ASSERT_EQ(limited.size(), 1u);
    EXPECT_EQ(limited[0].message, "line 2");
    EXPECT_TRUE(f.logs("nope", 0, 100).empty());
}

TEST(JobStoreTest, LogRingIsBoundedByBytes)
{
    fixture f{job_store::config{.max_log_lines_per_job = 100, .max_log_bytes_per_job = 25}};
    f.apply(started("j", 1));
    for (int i = 0; i < 4; ++i)
        f.apply(log_event("j", std::string(10, static_cast<char>('a' + i))));
    auto const lines = f.logs("j", 0, 100);
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[0].message, std::string(10, 'c'));
    EXPECT_EQ(f.store.counters().log_lines_dropped, 2u);

    // One line over the budget is still kept: the newest line always is.
    f.apply(log_event("j", std::string(40, 'z')));
    ASSERT_EQ(f.logs("j", 0, 100).size(), 1u);
}

TEST(JobStoreTest, LogRingWrapsManyTimes)
{
    fixture f{job_store::config{.max_log_lines_per_job = 7}};
    for (int i = 0; i < 100; ++i)
        f.apply(log_event("j", std::to_string(i)));
    auto const lines = f.logs("j", 0, 100);
    ASSERT_EQ(lines.size(), 7u);
    for (std::size_t i = 0; i < lines.size(); ++i)
        EXPECT_EQ(lines[i].message, std::to_string(93 + i));
}

TEST(JobStoreTest, LogsAreKeptAfterTerminal)
{
    fixture f;
    f.apply(started("j", 1));
    f.apply(completed("j"));
    auto const c = f.apply(log_event("j", "flushed late", log_level::warn));
    ASSERT_TRUE(c);
    EXPECT_EQ(c->before, job_state::succeeded);
    EXPECT_EQ(c->after, job_state::succeeded);
    EXPECT_FALSE(c->finished);
    EXPECT_EQ(f.logs("j", 0, 10).size(), 1u);
    EXPECT_EQ(f.store.counters().after_terminal, 0u);
}

TEST(JobStoreTest, LogOnQueuedKeepsItQueued)
{
    fixture f;
    f.apply(queued("j"));
    auto const c = f.apply(log_event("j", "waiting for a slot"));
    ASSERT_TRUE(c);
    EXPECT_EQ(c->after, job_state::queued);
    EXPECT_EQ(f.store.counters().implied_starts, 0u);
}

TEST(JobStoreTest, ZeroLogLinesKeepsNoLog)
{
    fixture f{job_store::config{.max_log_lines_per_job = 0}};
    EXPECT_TRUE(f.apply(log_event("j", "x")));
    EXPECT_TRUE(f.logs("j", 0, 10).empty());
    EXPECT_EQ(f.store.counters().log_lines_dropped, 1u);
}

// ---------------------------------------------------------------------------
// Queries.

/// Twelve jobs over two queues, three runs, two tenants, two users, two
/// types, in every state; job i's last event is at i seconds.
fixture populated()
{
    fixture f;
    for (int i = 0; i < 12; ++i) {
        auto const id = "job-" + std::to_string(i);
        job_queued e{.job_id = id,
                     .queue = i % 2 ? "odd" : "even",
                     .run_id = "run-" + std::to_string(i % 3),
                     .tenant_id = i < 6 ? "acme" : "globex",
                     .user_id = i % 4 == 0 ? "alice" : "bob",
                     .job_type = i % 5 == 0 ? "video" : "image"};
        f.apply_at(e, i * 1000 - 500);
        switch (i % 4) {
        case 1: f.apply_at(started(id, 1), i * 1000); break;
        case 2:
            f.apply_at(started(id, 1), i * 1000 - 100);
            f.apply_at(completed(id), i * 1000);
            break;
        case 3:
            f.apply_at(started(id, 1), i * 1000 - 100);
            f.apply_at(failed(id, 1, false), i * 1000);
            break;
        default: f.apply_at(queued(id), i * 1000 - 500); break;  // stays queued (duplicate)
        }
    }
    return f;
}

std::vector<std::string> ids(job_page const& p)
{
    std::vector<std::string> out;
    for (auto const& s : p.items)
        out.push_back(s.job_id);
    return out;
}

TEST(JobStoreTest, QueryWithoutFiltersIsNewestUpdatedFirst)
{
    auto f = populated();
    auto const p = f.store.query({});
    EXPECT_EQ(p.total, 12u);
    EXPECT_EQ(p.limit, 50u);
    ASSERT_EQ(p.items.size(), 12u);
    EXPECT_EQ(p.items.front().job_id, "job-11");
    EXPECT_EQ(p.items.back().job_id, "job-0");
}

TEST(JobStoreTest, QueryFiltersByEachField)
{
    auto f = populated();
    using v = std::vector<std::string>;
    EXPECT_EQ(ids(f.store.query({.status = job_state::running})), (v{"job-9", "job-5", "job-1"}));
    EXPECT_EQ(ids(f.store.query({.status = job_state::queued})), (v{"job-8", "job-4", "job-0"}));
    EXPECT_EQ(ids(f.store.query({.status = job_state::succeeded})), (v{"job-10", "job-6", "job-2"}));
    EXPECT_EQ(ids(f.store.query({.status = job_state::failed})), (v{"job-11", "job-7", "job-3"}));
    EXPECT_EQ(f.store.query({.status = job_state::cancelled}).total, 0u);
    EXPECT_EQ(ids(f.store.query({.queue = "odd", .tenant_id = "acme"})), (v{"job-5", "job-3", "job-1"}));
    // Runs and users are the tenant's: the same names in two tenants are two runs.
    EXPECT_EQ(ids(f.store.query({.run_id = "run-1", .tenant_id = "globex"})), (v{"job-10", "job-7"}));
    EXPECT_EQ(ids(f.store.query({.run_id = "run-1", .tenant_id = "acme"})), (v{"job-4", "job-1"}));
    EXPECT_EQ(f.store.query({.run_id = "run-1"}).total, 0u) << "no run-1 of no tenant";
    EXPECT_EQ(ids(f.store.query({.status = job_state::succeeded, .run_id = "run-1", .tenant_id = "globex"})),
              (v{"job-10"}));
    EXPECT_EQ(ids(f.store.query({.tenant_id = "acme", .user_id = "alice"})), (v{"job-4", "job-0"}));
    EXPECT_EQ(ids(f.store.query({.job_type = "video"})), (v{"job-10", "job-5", "job-0"}));
    EXPECT_EQ(ids(f.store.query({.since = at(9000)})), (v{"job-11", "job-10", "job-9"}));
    EXPECT_EQ(ids(f.store.query({.until = at(1000)})), (v{"job-0"})) << "until is exclusive";
    EXPECT_EQ(ids(f.store.query({.since = at(3000), .until = at(5000)})), (v{"job-4", "job-3"}));
}

TEST(JobStoreTest, QueryUnknownNameMatchesNothing)
{
    auto f = populated();
    EXPECT_EQ(f.store.query({.queue = "nope"}).total, 0u);
    EXPECT_EQ(f.store.query({.run_id = "nope"}).total, 0u);
    EXPECT_EQ(f.store.query({.tenant_id = "nope"}).total, 0u);
}

TEST(JobStoreTest, QueryPaginatesWithTotal)
{
    auto f = populated();
    std::vector<std::string> all;
    for (std::size_t offset = 0; offset < 12; offset += 5) {
        auto const p = f.store.query({.offset = offset, .limit = 5});
        EXPECT_EQ(p.total, 12u);
        EXPECT_EQ(p.offset, offset);
        EXPECT_EQ(p.limit, 5u);
        EXPECT_EQ(p.items.size(), std::min<std::size_t>(5, 12 - offset));
        for (auto const& s : p.items)
            all.push_back(s.job_id);
    }
    EXPECT_EQ(all, ids(f.store.query({})));
    auto const past = f.store.query({.offset = 50});
    EXPECT_EQ(past.total, 12u);
    EXPECT_TRUE(past.items.empty());
    auto const count_only = f.store.query({.queue = "odd", .limit = 0});
    EXPECT_EQ(count_only.total, 6u);
    EXPECT_TRUE(count_only.items.empty());
}

TEST(JobStoreTest, QueryCapsTheLimit)
{
    fixture f;
    for (int i = 0; i < 150; ++i)
        f.apply(queued("j" + std::to_string(i)));
    auto const p = f.store.query({.limit = 1000});
    EXPECT_EQ(p.limit, job_store::max_page_size);
    EXPECT_EQ(p.items.size(), 100u);
    EXPECT_EQ(p.total, 150u);
}

TEST(JobStoreTest, QueryTiesAreBrokenBySeq)
{
    fixture f;
    f.apply_at(queued("a"), 0);
    f.apply_at(queued("b"), 0);
    f.apply_at(queued("c"), 0);
    EXPECT_EQ(ids(f.store.query({})), (std::vector<std::string>{"c", "b", "a"}));
}

// ---------------------------------------------------------------------------
// Retention and bounds.

void finish_job(fixture& f, std::string const& id, std::int64_t at_ms)
{
    f.apply_at(started(id, 1), at_ms - 10);
    f.apply_at(completed(id), at_ms);
}

TEST(JobStoreTest, EvictByCountDropsTheOldestFinished)
{
    fixture f{job_store::config{.max_finished_jobs = 2}};
    for (int i = 0; i < 5; ++i)
        finish_job(f, "j" + std::to_string(i), i * 1000);
    f.apply(started("live", 1));
    EXPECT_EQ(f.store.evict(at(5000)), 3u);
    EXPECT_EQ(f.store.size(), 3u);
    EXPECT_EQ(f.find("j2"), nullptr);
    EXPECT_NE(f.find("j3"), nullptr);
    EXPECT_NE(f.find("live"), nullptr);
    EXPECT_EQ(f.store.counters().evicted, 3u);
    EXPECT_EQ(f.store.evict(at(5000)), 0u);
}

TEST(JobStoreTest, EvictByAge)
{
    fixture f{job_store::config{.finished_ttl = std::chrono::seconds{10}}};
    finish_job(f, "old", 0);
    finish_job(f, "edge", 5000);
    finish_job(f, "new", 9000);
    EXPECT_EQ(f.store.evict(at(15'000)), 1u) << "finished exactly ttl ago is kept";
    EXPECT_EQ(f.find("old"), nullptr);
    EXPECT_NE(f.find("edge"), nullptr);
    EXPECT_EQ(f.store.evict(at(15'001)), 1u);
    EXPECT_EQ(f.store.evict(at(100'000)), 1u);
    EXPECT_EQ(f.store.size(), 0u);
}

TEST(JobStoreTest, EvictFollowsFinishArrivalOrder)
{
    fixture f{job_store::config{.finished_ttl = std::chrono::seconds{10}}};
    finish_job(f, "late-arrival-new", 8000);
    finish_job(f, "old", 0);  // finished earlier but arrived later: waits behind
    EXPECT_EQ(f.store.evict(at(15'000)), 0u);
    EXPECT_EQ(f.store.evict(at(18'001)), 2u);
}

TEST(JobStoreTest, EvictionFreesNamesAndIndexes)
{
    fixture f{job_store::config{.max_finished_jobs = 0}};
    job_queued e{.job_id = "j", .queue = "emails", .run_id = "r"};
    f.apply(e);
    f.apply(completed("j"));
    EXPECT_EQ(f.store.query({.run_id = "r"}).total, 1u);
    EXPECT_EQ(f.store.evict(at(0)), 1u);
    EXPECT_EQ(f.store.query({.run_id = "r"}).total, 0u);
    EXPECT_EQ(f.store.query({.queue = "emails"}).total, 0u);
    EXPECT_EQ(f.store.finished_count(), 0u);
    // The id may come back as a new job.
    auto const c = f.apply(queued("j"));
    ASSERT_TRUE(c);
    EXPECT_EQ(c->before, std::nullopt);
}

TEST(JobStoreTest, MaxJobsEvictsTheOldestFinished)
{
    fixture f{job_store::config{.max_jobs = 3}};
    finish_job(f, "done-1", 1000);
    finish_job(f, "done-2", 2000);
    f.apply(started("live", 1));
    ASSERT_TRUE(f.apply(queued("new")));
    EXPECT_EQ(f.store.size(), 3u);
    EXPECT_EQ(f.find("done-1"), nullptr);
    EXPECT_EQ(f.store.counters().evicted, 1u);
}

TEST(JobStoreTest, MaxJobsRefusesWhenNothingFinished)
{
    fixture f{job_store::config{.max_jobs = 2}};
    f.apply(queued("a"));
    f.apply(started("b", 1));
    EXPECT_FALSE(f.apply(queued("c")));
    EXPECT_EQ(f.find("c"), nullptr);
    EXPECT_EQ(f.store.counters().refused_full, 1u);
    EXPECT_TRUE(f.apply(progress("b", 10))) << "existing jobs still take events";
    EXPECT_EQ(f.store.size(), 2u);
}

TEST(JobStoreTest, ForEachRunningVisitsRunningJobs)
{
    fixture f;
    f.apply_at(started("a", 1), 1000);
    f.apply_at(queued("b"), 1500);
    f.apply_at(progress("c", 1), 2000);
    f.apply_at(started("d", 1), 2500);
    f.apply_at(completed("d"), 3000);
    f.apply_at(progress("a", 50), 4000);
    std::vector<std::tuple<std::string, std::string, std::optional<time_point>, time_point>> seen;
    f.store.for_each_running([&](std::string_view id, std::string_view queue, std::optional<time_point> started_at,
                                 time_point last) { seen.emplace_back(id, queue, started_at, last); });
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[0], std::make_tuple("a", "emails", std::optional{at(1000)}, at(4000)));
    EXPECT_EQ(seen[1], std::make_tuple("c", "emails", std::optional<time_point>{}, at(2000)));
    EXPECT_EQ(f.store.running_count(), 2u);
    EXPECT_EQ(f.store.queued_count(), 1u);
    EXPECT_EQ(f.store.finished_count(), 1u);
}

TEST(JobStoreTest, IdsOfEveryLengthAreKept)
{
    // Ids up to 39 bytes live in the record, longer ones on the heap.
    static_assert(sizeof(job_record) <= 192, "three cache lines: the memory budget counts on it");
    fixture f{job_store::config{.max_finished_jobs = 0}};
    std::vector<std::string> ids;
    for (std::size_t n : {1, 20, 36, 38, 39, 40, 41, 200})
        ids.push_back(std::string(n - 1, 'x') + static_cast<char>('a' + ids.size()));
    for (auto const& id : ids)
        ASSERT_TRUE(f.apply(started(id, 1)));
    for (auto const& id : ids) {
        auto const* r = f.find(id);
        ASSERT_NE(r, nullptr) << id.size();
        EXPECT_EQ(r->job_id(), id);
        EXPECT_EQ(f.store.snapshot(*r).job_id, id);
        EXPECT_EQ(f.apply(progress(id, 1))->job_id, id);
    }
    EXPECT_EQ(f.find(std::string(39, 'x')), nullptr);
    // Finished and evicted, their slots are reused by other ids.
    for (auto const& id : ids)
        f.apply(completed(id));
    EXPECT_EQ(f.store.evict(at(f.clock_ms)), ids.size());
    for (auto const& id : ids)
        ASSERT_TRUE(f.apply(started(id + "-again", 1)));
    for (auto const& id : ids) {
        EXPECT_EQ(f.find(id), nullptr);
        ASSERT_NE(f.find(id + "-again"), nullptr);
        EXPECT_EQ(f.find(id + "-again")->job_id(), id + "-again");
    }
}

// ---------------------------------------------------------------------------
// Properties over random event streams.

TEST(JobStoreTest, RandomStreamsKeepEveryInvariant)
{
    std::mt19937 rng(20240501);
    fixture f{job_store::config{.max_finished_jobs = 40, .finished_ttl = std::chrono::seconds{30}, .max_jobs = 120}};
    std::map<std::string, job_state> terminal;  // jobs seen finishing, while retained
    std::uint64_t events = 0;
    for (int step = 0; step < 20'000; ++step) {
        auto const id = "job-" + std::to_string(rng() % 200);
        std::int64_t const n = 1 + static_cast<std::int64_t>(rng() % 4);
        job_event e = queued(id);
        switch (rng() % 9) {
        case 0: e = queued(id); break;
        case 1: e = started(id, n); break;
        case 2: e = progress(id, static_cast<double>(rng() % 101)); break;
        case 3: e = log_event(id, "x"); break;
        case 4: e = completed(id); break;
        case 5: e = failed(id, n, false); break;
        case 6: e = failed(id, n, true); break;
        case 7: e = cancelled(id); break;
        case 8: e = retrying(id, n + 1); break;
        }
        // Times mostly move forward, sometimes jump back a little.
        auto const t = f.clock_ms + static_cast<std::int64_t>(rng() % 1000) - 200;
        f.clock_ms = std::max(f.clock_ms, t);
        auto const change = f.apply_at(std::move(e), t);
        ++events;
        if (change && change->finished)
            terminal[std::string(change->job_id)] = change->after;
        if (change && change->before && is_terminal(*change->before)) {
            EXPECT_EQ(change->after, *change->before) << "terminal states are sticky";
        }
        if (step % 500 == 0)
            f.store.evict(at(f.clock_ms));
        for (auto it = terminal.begin(); it != terminal.end();) {
            auto const* r = f.find(it->first);
            if (!r) {
                it = terminal.erase(it);
                continue;
            }
            ASSERT_EQ(r->state(), it->second) << it->first;
            ++it;
        }
        ASSERT_LE(f.store.size(), 120u);
    }
    auto const& st = f.store.counters();
    EXPECT_EQ(outcomes(st), events);
    EXPECT_GT(st.duplicates, 0u);
    EXPECT_GT(st.stale, 0u);
    EXPECT_GT(st.after_terminal, 0u);
    EXPECT_GT(st.evicted, 0u);
    // The lists agree with a full scan.
    EXPECT_EQ(f.store.query({.status = job_state::running, .limit = 0}).total, f.store.running_count());
    EXPECT_EQ(f.store.query({.status = job_state::queued, .limit = 0}).total, f.store.queued_count());
    EXPECT_EQ(f.store.query({.limit = 0}).total, f.store.size());
    std::size_t finished = 0;
    for (auto s : {job_state::succeeded, job_state::failed, job_state::cancelled})
        finished += f.store.query({.status = s, .limit = 0}).total;
    EXPECT_EQ(finished, f.store.finished_count());
    EXPECT_EQ(f.store.running_count() + f.store.queued_count() + finished, f.store.size());
}

TEST(JobStoreTest, IndexSurvivesChurn)
{
    fixture f{job_store::config{.max_finished_jobs = 1000, .finished_ttl = std::chrono::hours{24 * 365}}};
    for (int round = 0; round < 5; ++round) {
        for (int i = 0; i < 5000; ++i) {
            auto const id = "r" + std::to_string(round) + "-" + std::to_string(i);
            f.apply(started(id, 1));
            if (i % 3 != 0)
                f.apply(completed(id));
        }
        f.store.evict(at(f.clock_ms));
        EXPECT_EQ(f.store.finished_count(), 1000u);
    }
    // Every job still held is found; every running one is.
    std::size_t running = 0;
    for (int round = 0; round < 5; ++round)
        for (int i = 0; i < 5000; i += 3) {
            auto const* r = f.find("r" + std::to_string(round) + "-" + std::to_string(i));
            ASSERT_NE(r, nullptr);
            EXPECT_EQ(r->state(), job_state::running);
            ++running;
        }
    EXPECT_EQ(running, f.store.running_count());
    EXPECT_EQ(f.store.size(), running + 1000);
    EXPECT_EQ(f.store.query({.limit = 0}).total, f.store.size());
}

}  // namespace
