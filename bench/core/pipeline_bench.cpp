// The core's event path on one core: event log -> job store -> aggregator
// (and the dead-letter monitor and health listeners an app normally has),
// for job.progress events applied to existing running jobs:
//  - already parsed (typed events): target >= 1,000,000 events/s;
//  - from JSON text, validated by the generated parser: target >= 300,000/s.
#include <jobwatch/components/aggregator.hpp>
#include <jobwatch/components/dlq_monitor.hpp>
#include <jobwatch/components/health.hpp>
#include <jobwatch/core.hpp>

#include <benchmark/benchmark.h>

#include <string>
#include <vector>

namespace {

constexpr int jobs = 10'000;

std::string job_id(int i) { return "job-" + std::to_string(i); }

/// A core with every listener an app has, and `jobs` running jobs in 100 runs.
struct pipeline
{
    jobwatch::asio::io_context ioc;
    jobwatch::core core{ioc.get_executor(), jobwatch::config{}, jobwatch::logger{.lvl = jobwatch::logger::level::error},
                        [] { return jobwatch::time_point{std::chrono::milliseconds{1'714'564'800'000}}; }};
    jobwatch::aggregator agg{core, {}};
    jobwatch::dlq_monitor dlq{core, {}};
    jobwatch::health health{core, {}};

    pipeline()
    {
        for (int i = 0; i < jobs; ++i) {
            jobwatch::job_queued q{.job_id = job_id(i), .queue = "queue-" + std::to_string(i % 5)};
            q.run_id = "run-" + std::to_string(i % 100);
            q.tenant_id = "tenant-" + std::to_string(i % 10);
            core.publish(q);
            core.publish(jobwatch::job_started{.job_id = job_id(i), .queue = "queue-" + std::to_string(i % 5),
                                               .attempt = 1});
        }
        agg.tick();
    }
};

std::vector<jobwatch::job_event> progress_events(std::size_t n)
{
    std::vector<jobwatch::job_event> out;
    out.reserve(n);
    for (std::size_t k = 0; k < n; ++k) {
        int const i = static_cast<int>(k % jobs);
        jobwatch::job_progress p{.job_id = job_id(i), .queue = "queue-" + std::to_string(i % 5),
                                 .percent = static_cast<double>(k % 100)};
        p.run_id = "run-" + std::to_string(i % 100);
        p.tenant_id = "tenant-" + std::to_string(i % 10);
        p.current = static_cast<std::int64_t>(k % 1000);
        p.total = 1000;
        out.push_back(std::move(p));
    }
    return out;
}

void bm_pipeline_progress_typed(benchmark::State& state)
{
    pipeline p;
    // One event per job, copied per publish as a producer would build it
    // (short ids: the copy allocates nothing).
    auto const events = progress_events(jobs);
    std::size_t k = 0;
    for (auto _ : state) {
        auto r = p.core.publish(events[k++ % events.size()]);
        benchmark::DoNotOptimize(r);
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(k));
}
BENCHMARK(bm_pipeline_progress_typed)->MinTime(2.0);

void bm_pipeline_progress_json(benchmark::State& state)
{
    pipeline p;
    auto const events = progress_events(jobs);
    std::vector<std::string> texts;
    texts.reserve(events.size());
    for (auto const& e : events)
        texts.push_back(jobwatch::to_json(e));
    std::size_t k = 0;
    for (auto _ : state) {
        auto r = p.core.publish_text(texts[k++ % texts.size()]);
        benchmark::DoNotOptimize(r);
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(k));
}
BENCHMARK(bm_pipeline_progress_json)->MinTime(2.0);

}  // namespace
