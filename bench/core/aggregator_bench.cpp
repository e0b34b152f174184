// Aggregator logic: the cost of one job change, and of one summary tick.
//
// build/release/bench/core_bench --benchmark_filter='aggregat|tick'

#include <jobwatch/codec.hpp>
#include <jobwatch/metrics/aggregates.hpp>

#include <benchmark/benchmark.h>

#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace std::chrono_literals;
using jobwatch::aggregates;
using jobwatch::job_change;
using jobwatch::job_state;
using jobwatch::time_point;

time_point const t0{std::chrono::milliseconds{1'714'564'800'000}};

/** A population of jobs in runs of `jobs_per_run`. Each run has one queue,
    tenant and user (a run is one submission), so a change to a job touches
    five scopes: all, its queue, run, tenant and user. */
struct population
{
    std::vector<std::string> job_ids;
    std::vector<std::string> runs;
    std::vector<std::string> queues{"emails", "thumbnails", "reports", "etl"};
    std::vector<std::string> tenants{"t0", "t1", "t2", "t3", "t4"};
    std::vector<std::string> users;
    std::size_t jobs_per_run;
    jobwatch::logged_event cause;

    population(std::size_t jobs, std::size_t per_run) : jobs_per_run(per_run)
    {
        job_ids.reserve(jobs);
        for (std::size_t j = 0; j < jobs; ++j)
            job_ids.push_back("job-" + std::to_string(j));
        for (std::size_t r = 0; r < (jobs + per_run - 1) / per_run; ++r)
            runs.push_back("run-" + std::to_string(r));
        for (int u = 0; u < 20; ++u)
            users.push_back("user-" + std::to_string(u));
        cause.event = jobwatch::job_progress{};
        cause.time = t0;
    }

    std::size_t run_of(std::size_t j) const { return j / jobs_per_run; }

    job_change change(std::size_t j, std::optional<job_state> before, job_state after, bool attempt_started = false,
                      bool finished = false, std::optional<double> duration_ms = std::nullopt,
                      std::optional<double> wait_ms = std::nullopt) const
    {
        auto const r = run_of(j);
        return job_change{
            .cause = cause,
            .job_id = job_ids[j],
            .queue = queues[r % queues.size()],
            .run_id = runs[r],
            .tenant_id = tenants[r % tenants.size()],
            .user_id = users[r % users.size()],
            .job_type = {},
            .before = before,
            .after = after,
            .attempt = 1,
            .attempt_started = attempt_started,
            .finished = finished,
            .attempt_failed = false,
            .retry_scheduled = false,
            .duration_ms = duration_ms,
            .wait_ms = wait_ms,
            .error = {},
        };
    }

    /// Every job queued then started; `done_share` of them also finished.
    void start_all(aggregates& agg, double done_share = 0) const
    {
        std::mt19937_64 rng{42};
        std::lognormal_distribution<double> ms{std::log(200.0), 1.0};
        std::uniform_real_distribution<double> unit{0, 1};
        for (std::size_t j = 0; j < job_ids.size(); ++j) {
            agg.on_change(change(j, std::nullopt, job_state::queued), t0);
            agg.on_change(change(j, job_state::queued, job_state::running, true, false, std::nullopt, ms(rng)), t0);
            if (unit(rng) < done_share)
                agg.on_change(change(j, job_state::running, job_state::succeeded, false, true, ms(rng) * 10), t0);
        }
    }
};

// job.progress of a running job: the store hands over a change with the same
// state before and after, and the aggregator must leave every scope alone.
void bm_aggregates_progress(benchmark::State& state)
{
    population const pop(10'000, 100);
    aggregates agg;
    pop.start_all(agg);
    std::vector<job_change> progress;
    progress.reserve(pop.job_ids.size());
    for (std::size_t j = 0; j < pop.job_ids.size(); ++j)
        progress.push_back(pop.change(j, job_state::running, job_state::running));
    agg.take_dirty(t0);
    std::size_t i = 0;
    for (auto _ : state) {
        agg.on_change(progress[i], t0);
        if (++i == progress.size())
            i = 0;
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
    if (!agg.take_dirty(t0).empty())
        state.SkipWithError("a progress event marked a scope dirty");
}
BENCHMARK(bm_aggregates_progress);

// job.completed of a running job: five scopes, each with counts, by_queue, a
// latency histogram and a throughput window. Jobs are completed again when
// the pool wraps; the scopes then adopt them (the same work).
void bm_aggregates_completion(benchmark::State& state)
{
    population const pop(100'000, 100);
    aggregates agg;
    pop.start_all(agg);
    std::vector<job_change> done;
    done.reserve(pop.job_ids.size());
    std::mt19937_64 rng{7};
    std::lognormal_distribution<double> ms{std::log(2000.0), 1.0};
    for (std::size_t j = 0; j < pop.job_ids.size(); ++j)
        done.push_back(pop.change(j, job_state::running, job_state::succeeded, false, true, ms(rng)));
    agg.take_dirty(t0);
    std::size_t i = 0;
    for (auto _ : state) {
        agg.on_change(done[i], t0);
        if (++i == done.size())
            i = 0;
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(bm_aggregates_completion);

// One summary tick after 100 runs changed (a new attempt in each), with
// state.range(0) jobs tracked in runs of state.range(1) jobs: take_dirty,
// then summary_of and to_json for every dirty scope (the 100 runs plus the
// queues, tenants, users and `all` they share). Only the tick is timed.
void bm_aggregates_tick(benchmark::State& state)
{
    auto const jobs = static_cast<std::size_t>(state.range(0));
    population const pop(jobs, static_cast<std::size_t>(state.range(1)));
    aggregates agg;
    pop.start_all(agg, 0.3);
    auto const now = t0 + 1h;  // the setup's completions have left the throughput windows
    agg.take_dirty(now);
    std::size_t next_run = 0;
    std::size_t scopes = 0;
    std::size_t bytes = 0;
    for (auto _ : state) {
        state.PauseTiming();
        for (int k = 0; k < 100; ++k) {
            auto const job = (next_run % pop.runs.size()) * pop.jobs_per_run;
            agg.on_change(pop.change(job, job_state::running, job_state::running, true), now);
            ++next_run;
        }
        state.ResumeTiming();
        agg.take_dirty(now, [&](std::string_view scope) {
            auto const text = jobwatch::to_json(agg.summary_of(scope, now));
            bytes += text.size();
            ++scopes;
        });
    }
    state.counters["scopes_per_tick"] =
        benchmark::Counter(static_cast<double>(scopes) / static_cast<double>(state.iterations()));
    state.counters["bytes_per_tick"] =
        benchmark::Counter(static_cast<double>(bytes) / static_cast<double>(state.iterations()));
    state.counters["scopes_tracked"] = benchmark::Counter(static_cast<double>(agg.scope_count()));
}
// 10,000 jobs in 100 runs; 1,000,000 jobs in 10,000 runs (each tick's 100
// runs are cold in the cache); 1,000,000 jobs in 100 runs (the same scopes
// as the first, 100 times the jobs).
BENCHMARK(bm_aggregates_tick)
    ->Args({10'000, 100})
    ->Args({1'000'000, 100})
    ->Args({1'000'000, 10'000})
    ->ArgNames({"jobs", "per_run"})
    ->Unit(benchmark::kMicrosecond);

}  // namespace
