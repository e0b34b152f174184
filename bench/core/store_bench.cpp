// Benchmarks of the job store (include/jobwatch/store/job_store.hpp).
//
//   cmake --preset release && cmake --build build/release --target core_bench -j1
//   build/release/bench/core_bench --benchmark_filter=store
//       --benchmark_repetitions=5 --benchmark_report_aggregates_only=true   (one line)
//
// - store_apply_progress: job.progress applied to existing running jobs, from
//   pre-built events spread at random over the jobs (items/s); with or
//   without a step text and two counters (same keys each time).
// - store_memory: heap bytes per retained finished job (queued + started +
//   completed, or + failed with an error text), at 1,000,000 jobs, no logs.
//   Method: glibc mallinfo2(), `uordblks + hblkhd` (small chunks in use plus
//   mmapped large blocks, malloc headers included), read before the store is
//   filled and after, with the reusable events allocated before the first
//   reading; divided by the number of jobs.
// - store_query: one page (limit 50) of a query over 1,000,000 jobs, by run
//   (walks the run index: 10,000 matches) and by tenant (scans every record).

#include <jobwatch/store/job_store.hpp>

#include <benchmark/benchmark.h>

#include <malloc.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace {

using namespace jobwatch;

constexpr std::int64_t base_ms = 1'714'566'600'000;  // 2024-05-01T12:30:00Z

time_point at(std::int64_t offset_ms) { return time_point{duration{base_ms + offset_ms}}; }

/// Heap in use, in bytes: small chunks plus mmapped blocks.
std::size_t heap_bytes()
{
    auto const mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

/// A realistic job id of 20 characters.
std::string job_id(std::size_t i)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "job-2024050%09zu", i);
    return buf;
}

logged_event logged(job_event ev, std::uint64_t seq, time_point t)
{
    time_of(ev) = format_time(t);
    logged_event out;
    out.seq = seq;
    out.time = t;
    out.event = std::move(ev);
    return out;
}

/// Fills a store with finished jobs through three reusable events per job:
/// 5 queues, 100 runs, 10 tenants.
struct filler
{
    std::vector<std::string> queues, runs, tenants;
    logged_event q, s, end;
    bool fail;

    explicit filler(bool fail_jobs) : fail(fail_jobs)
    {
        for (int i = 0; i < 5; ++i)
            queues.push_back("queue-" + std::to_string(i));
        for (int i = 0; i < 100; ++i)
            runs.push_back("nightly-2024-05-01-" + std::to_string(i));
        for (int i = 0; i < 10; ++i)
            tenants.push_back("tenant-" + std::to_string(i));
        // Sized once, so that reusing them allocates nothing while measuring.
        q = logged(job_queued{.job_id = job_id(0), .queue = queues[0], .run_id = runs[0], .tenant_id = tenants[0]},
                   0, at(0));
        s = logged(job_started{.job_id = job_id(0), .queue = queues[0], .attempt = 1}, 0, at(0));
        if (fail)
            end = logged(job_failed{.job_id = job_id(0),
                                    .queue = queues[0],
                                    .error = "connection reset by peer while uploading part 3 of 7",
                                    .attempt = 1,
                                    .will_retry = false},
                         0, at(0));
        else
            end = logged(job_completed{.job_id = job_id(0), .queue = queues[0]}, 0, at(0));
    }

    void fill(job_store& store, std::size_t n)
    {
        std::uint64_t seq = 0;
        char id[32];
        for (std::size_t i = 0; i < n; ++i) {
            std::snprintf(id, sizeof id, "job-2024050%09zu", i);
            auto& qe = std::get<job_queued>(q.event);
            qe.job_id.assign(id);
            qe.queue.assign(queues[i % queues.size()]);
            qe.run_id->assign(runs[i % runs.size()]);
            qe.tenant_id->assign(tenants[i % tenants.size()]);
            std::get<job_started>(s.event).job_id.assign(id);
            std::visit([&](auto& e) { e.job_id.assign(id); }, end.event);
            auto const t = static_cast<std::int64_t>(i) * 10;
            q.seq = ++seq;
            q.time = at(t);
            s.seq = ++seq;
            s.time = at(t + 3);
            end.seq = ++seq;
            end.time = at(t + 9);
            store.apply(q);
            store.apply(s);
            store.apply(end);
        }
    }
};

void BM_store_apply_progress(benchmark::State& state)
{
    auto const jobs = static_cast<std::size_t>(state.range(0));
    bool const details = state.range(1) != 0;
    job_store store{job_store::config{.max_jobs = jobs + 1}};
    std::uint64_t seq = 0;
    for (std::size_t i = 0; i < jobs; ++i) {
        auto const ev = logged(job_started{.job_id = job_id(i), .queue = "emails", .run_id = "nightly", .attempt = 1},
                               ++seq, at(0));
        store.apply(ev);
    }
    // Pre-built events, small enough to stay in cache as a freshly parsed
    // event would be. Between passes (untimed) they are pointed at other
    // jobs, so over the run the events reach every job in a random order.
    std::vector<logged_event> events;
    std::size_t const n_events = 1 << 12;
    events.reserve(n_events);
    std::uint64_t x = 88172645463325252ull;
    auto const next_job = [&] {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        return x % jobs;
    };
    for (std::size_t i = 0; i < n_events; ++i) {
        job_progress p{.job_id = job_id(next_job()),
                       .queue = "emails",
                       .run_id = "nightly",
                       .percent = static_cast<double>(i % 100),
                       .current = static_cast<std::int64_t>(i)};
        if (details) {
            p.step = "processing batch " + std::to_string(i % 10);
            p.total = 1'000'000;
            p.counters = counter_map{{"rows_read", static_cast<std::int64_t>(i)}, {"rows_skipped", 3}};
        }
        events.push_back(logged(std::move(p), ++seq, at(1 + static_cast<std::int64_t>(i))));
    }
    std::size_t i = 0;
    char id[32];
    for (auto _ : state) {
        benchmark::DoNotOptimize(store.apply(events[i]));
        if (++i == events.size()) {
            state.PauseTiming();
            i = 0;
            for (auto& e : events) {
                std::snprintf(id, sizeof id, "job-2024050%09zu", static_cast<std::size_t>(next_job()));
                std::get<job_progress>(e.event).job_id.assign(id);
                // Later than the pass before: older progress would be (rightly) ignored as stale.
                e.time += duration{static_cast<std::int64_t>(n_events)};
            }
            state.ResumeTiming();
        }
    }
    if (store.counters().applied != jobs + state.iterations())
        state.SkipWithError("some progress events were not applied");
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_store_apply_progress)
    ->ArgNames({"jobs", "step_counters"})
    ->Args({1'000, 0})
    ->Args({100'000, 0})
    ->Args({1'000'000, 0})
    ->Args({1'000, 1})
    ->Args({100'000, 1});

void BM_store_memory(benchmark::State& state)
{
    std::size_t const n = 1'000'000;
    bool const fail = state.range(0) != 0;
    filler f{fail};
    for (auto _ : state) {
        auto const before = heap_bytes();
        job_store store{job_store::config{.max_finished_jobs = n, .max_jobs = n}};
        f.fill(store, n);
        auto const after = heap_bytes();
        if (store.finished_count() != n)
            state.SkipWithError("not every job finished");
        state.counters["bytes_per_job"] = static_cast<double>(after - before) / static_cast<double>(n);
        state.PauseTiming();  // not the destruction
        {
            job_store gone = std::move(store);
        }
        state.ResumeTiming();
    }
    state.counters["record_bytes"] = static_cast<double>(sizeof(job_record));
    state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(3 * n));
}
BENCHMARK(BM_store_memory)->ArgName("failed")->Arg(0)->Arg(1)->Iterations(1)->Unit(benchmark::kMillisecond);

/// One million finished jobs, built once for the query benchmarks.
job_store const& million()
{
    static job_store const store = [] {
        job_store s{job_store::config{.max_finished_jobs = 1'000'000, .max_jobs = 1'000'000}};
        filler f{false};
        f.fill(s, 1'000'000);
        return s;
    }();
    return store;
}

void BM_store_query(benchmark::State& state)
{
    auto const& store = million();
    job_query q;
    if (state.range(0) == 0)
        q.run_id = "nightly-2024-05-01-42";
    else
        q.tenant_id = "tenant-7";
    std::size_t total = 0;
    for (auto _ : state) {
        auto page = store.query(q);
        total = page.total;
        benchmark::DoNotOptimize(page);
    }
    state.counters["total"] = static_cast<double>(total);
}
BENCHMARK(BM_store_query)->ArgName("by_tenant_scan")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

}  // namespace
