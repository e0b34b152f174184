// Durable history (storage.mode sqlite) on the core's event path, against
// memory in the same run:
//  - sustained ingest of NDJSON batches of 1,000 new jobs' events through
//    core::publish_text, until the journal has committed the last one:
//    memory, sqlite batch (target >= 200,000 events/s), sqlite sync
//    (>= 50,000 events/s, each batch waits for its commit, as the REST answer does);
//  - how long the core spends on one batch (its p50 and max): with storage on it
//    must not grow, since the core hands events to the writer thread and never
//    waits on the disk itself (except where sync answers wait, off the core);
//  - the tick latency under that ingest: a 1 ms timer on the core's context,
//    run between batches as a server's loop runs it between requests, and how
//    late it fires (p50, p99, max);
//  - recovery of 1,000,000 journaled events into a fresh core (target <= 10 s),
//    and the file's bytes per event.
#include <jobwatch/components/aggregator.hpp>
#include <jobwatch/components/dlq_monitor.hpp>
#include <jobwatch/components/health.hpp>
#include <jobwatch/storage/journal.hpp>

#include <benchmark/benchmark.h>

#include <unistd.h>

#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

constexpr std::size_t batch_lines = 1000;

/// A core with every listener an app has, and optionally a journal on `file`.
struct storage_pipeline
{
    explicit storage_pipeline(std::string const& file, jobwatch::storage_durability d)
    {
        if (file.empty())
            return;
        jobwatch::storage_config s;
        s.mode = jobwatch::storage_mode::sqlite;
        s.path = file;
        s.durability = d;
        s.max_pending_events = 10'000'000;
        journal = std::make_unique<jobwatch::storage::journal>(s, jobwatch::logger{.lvl = jobwatch::logger::level::error});
        recovered = journal->recover(core);
        journal->start(core);
    }

    jobwatch::asio::io_context ioc;
    jobwatch::core core{ioc.get_executor(), jobwatch::config{}, jobwatch::logger{.lvl = jobwatch::logger::level::error},
                        {}};
    jobwatch::aggregator agg{core, {}};
    jobwatch::dlq_monitor dlq{core, {}};
    jobwatch::health health{core, {}};
    std::unique_ptr<jobwatch::storage::journal> journal;
    jobwatch::storage::journal::recovery recovered;

    /// Runs the core's posted work (the journal's commit notices) until `seq` is committed.
    void wait_committed(std::uint64_t seq)
    {
        while (journal && journal->committed_seq() < seq) {
            ioc.restart();
            ioc.run_one_for(std::chrono::milliseconds{50});
        }
    }
};

/// ~200-byte events of new jobs: queued, started, progress, completed, in batches of 1,000 lines.
std::vector<std::string> storage_batches(std::size_t events, std::size_t first_job)
{
    std::vector<std::string> out;
    std::string b;
    std::size_t n = 0;
    for (std::size_t j = first_job; n < events; ++j) {
        auto const id = "job-" + std::to_string(j);
        auto const q = "queue-" + std::to_string(j % 5);
        auto const common = R"("job_id":")" + id + R"(","queue":")" + q + R"(","run_id":"run-)" +
                            std::to_string(j % 100) + R"(","tenant_id":"tenant-)" + std::to_string(j % 10) + "\"";
        for (auto const& line : {R"({"type":"job.queued",)" + common + "}",
                                 R"({"type":"job.started",)" + common + R"(,"attempt":1})",
                                 R"({"type":"job.progress",)" + common + R"(,"percent":50,"step":"halfway there"})",
                                 R"({"type":"job.completed",)" + common + R"(,"duration_ms":1200})"}) {
            b += line;
            b += '\n';
            if (++n % batch_lines == 0) {
                out.push_back(std::move(b));
                b.clear();
            }
        }
    }
    if (!b.empty())
        out.push_back(std::move(b));
    return out;
}

fs::path bench_dir()
{
    auto d = fs::temp_directory_path() / ("jobwatch-storage-bench-" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
}

// Arg 0: memory; 1: sqlite batch; 2: sqlite sync.
void bm_storage_ingest(benchmark::State& state)
{
    auto const mode = state.range(0);
    constexpr std::size_t events = 400'000;
    auto const batches = storage_batches(events, 0);
    std::vector<double> batch_us;
    std::vector<double> late_us;
    std::uint64_t bytes = 0;
    for (auto _ : state) {
        state.PauseTiming();
        auto const dir = bench_dir();
        auto const file = mode == 0 ? std::string() : (dir / "bench.db").string();
        {
            storage_pipeline p(file, mode == 2 ? jobwatch::storage_durability::sync
                                               : jobwatch::storage_durability::batch);
            batch_us.clear();
            late_us.clear();
            // The tick: every 1 ms, and how late it runs.
            jobwatch::asio::steady_timer tick(p.ioc);
            bool ticking = true;
            std::function<void()> arm = [&] {
                tick.expires_after(std::chrono::milliseconds{1});
                tick.async_wait([&](boost::system::error_code ec) {
                    if (ec || !ticking)
                        return;
                    late_us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() -
                                                                                tick.expiry())
                                          .count());
                    arm();
                });
            };
            arm();
            state.ResumeTiming();
            for (auto const& b : batches) {
                auto const t0 = std::chrono::steady_clock::now();
                std::string_view text = b;
                while (!text.empty()) {
                    auto const nl = text.find('\n');
                    benchmark::DoNotOptimize(p.core.publish_text(text.substr(0, nl)));
                    text.remove_prefix(nl + 1);
                }
                batch_us.push_back(
                    std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
                if (mode == 2)
                    p.wait_committed(p.core.events().last_seq());  // the answer waits for its commit
                p.ioc.restart();
                p.ioc.poll();  // the loop between two requests: due timers run
            }
            ticking = false;
            tick.cancel();
            p.wait_committed(p.core.events().last_seq());  // sustained: everything is on disk
            state.PauseTiming();
            if (p.journal)
                p.journal->stop();
        }
        bytes = 0;
        for (auto const& f : fs::directory_iterator(dir))
            bytes += f.file_size();
        fs::remove_all(dir);
        state.ResumeTiming();
    }
    std::sort(batch_us.begin(), batch_us.end());
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * events));
    state.counters["batch_us_p50"] = batch_us[batch_us.size() / 2];
    state.counters["batch_us_max"] = batch_us.back();
    std::sort(late_us.begin(), late_us.end());
    if (!late_us.empty()) {
        state.counters["tick_late_us_p50"] = late_us[late_us.size() / 2];
        state.counters["tick_late_us_p99"] = late_us[late_us.size() * 99 / 100];
        state.counters["tick_late_us_max"] = late_us.back();
    }
    if (mode != 0)
        state.counters["file_bytes_per_event"] = static_cast<double>(bytes) / events;
}
BENCHMARK(bm_storage_ingest)->Arg(0)->Arg(1)->Arg(2)->Iterations(1)->Repetitions(3)->Unit(benchmark::kMillisecond)
    ->UseRealTime()->ReportAggregatesOnly(false);

void bm_storage_recovery(benchmark::State& state)
{
    constexpr std::size_t events = 1'000'000;
    auto const dir = bench_dir();
    auto const file = (dir / "recovery.db").string();
    {
        storage_pipeline p(file, jobwatch::storage_durability::none);
        for (auto const& b : storage_batches(events, 0)) {
            std::string_view text = b;
            while (!text.empty()) {
                auto const nl = text.find('\n');
                p.core.publish_text(text.substr(0, nl));
                text.remove_prefix(nl + 1);
            }
            p.wait_committed(p.core.events().last_seq() > 200'000 ? p.core.events().last_seq() - 200'000 : 0);
        }
        p.wait_committed(p.core.events().last_seq());
        p.journal->stop();
    }
    auto const bytes = fs::file_size(file);
    std::uint64_t recovered = 0;
    for (auto _ : state) {
        // A fresh core and journal on the file, as at start-up; the store holds every job.
        storage_pipeline p(file, jobwatch::storage_durability::batch);
        recovered = p.recovered.events;
        state.PauseTiming();
        p.journal->stop();
        state.ResumeTiming();
    }
    fs::remove_all(dir);
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * recovered));
    state.counters["events"] = static_cast<double>(recovered);
    state.counters["file_bytes_per_event"] = static_cast<double>(bytes) / static_cast<double>(recovered);
}
BENCHMARK(bm_storage_recovery)->Iterations(1)->Repetitions(3)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
