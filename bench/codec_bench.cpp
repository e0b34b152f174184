// Generated codec against hand-written Boost.JSON baselines, in one run:
//  - validating jobwatch::parse<job_event> vs a bare boost::json::parse of the
//    same text (target: at most 1.2x);
//  - jobwatch::to_json of an event envelope vs serialize(value_from(x))
//    (target: at least 2x faster).
#include <jobwatch/messages/job_event.hpp>
#include <jobwatch/messages/server_message.hpp>

#include <benchmark/benchmark.h>
#include <boost/json.hpp>

namespace {

// A typical progress report of a worker: ids, a step, counts and counters.
constexpr std::string_view progress_text =
    R"({"type":"job.progress","job_id":"similarity-8f3a2c1e","queue":"similarity-operations",)"
    R"("run_id":"run-2024-05-01-001","tenant_id":"acme","user_id":"u-1842",)"
    R"("time":"2024-05-01T12:30:00.250Z","percent":42.5,"step":"Comparing batch 3 of 7",)"
    R"("current":4250,"total":10000,"counters":{"rows_read":4250,"rows_skipped":3}})";

jobwatch::server_message envelope()
{
    auto ev = jobwatch::parse<jobwatch::job_event>(progress_text);
    if (!ev)
        throw std::runtime_error(ev.error().message);
    return jobwatch::event_message{.room = "run:run-2024-05-01-001", .seq = 1234567, .event = *ev};
}

void bm_boost_json_parse(benchmark::State& state)
{
    for (auto _ : state) {
        auto jv = boost::json::parse(progress_text);
        benchmark::DoNotOptimize(jv);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * progress_text.size()));
}
BENCHMARK(bm_boost_json_parse);

void bm_jobwatch_parse_job_event(benchmark::State& state)
{
    for (auto _ : state) {
        auto r = jobwatch::parse<jobwatch::job_event>(progress_text);
        benchmark::DoNotOptimize(r);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * progress_text.size()));
}
BENCHMARK(bm_jobwatch_parse_job_event);

// The DOM step of parse<T>'s DOM path: exact doubles, values in `mr`.
boost::json::value dom_of(std::string_view text, boost::json::monotonic_resource& mr)
{
    boost::json::error_code ec;
    return jobwatch::detail::parse_json(text, ec, &mr, 64);
}

// The DOM path alone (what parse<T> falls back to when its fast path is not
// sure, e.g. for a document it rejects): parse_json, then the generated reader.
void bm_jobwatch_dom_path_job_event(benchmark::State& state)
{
    for (auto _ : state) {
        unsigned char buffer[4096];
        boost::json::monotonic_resource mr(buffer, sizeof buffer);
        auto r = jobwatch::parse_value<jobwatch::job_event>(dom_of(progress_text, mr));
        benchmark::DoNotOptimize(r);
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * progress_text.size()));
}
BENCHMARK(bm_jobwatch_dom_path_job_event);

// The DOM step of the DOM path alone (exact doubles, stack scratch), to show where time goes.
void bm_jobwatch_dom_only(benchmark::State& state)
{
    for (auto _ : state) {
        unsigned char buffer[4096];
        boost::json::monotonic_resource mr(buffer, sizeof buffer);
        auto jv = dom_of(progress_text, mr);
        benchmark::DoNotOptimize(jv);
    }
}
BENCHMARK(bm_jobwatch_dom_only);

void bm_value_from_serialize(benchmark::State& state)
{
    auto const msg = envelope();
    for (auto _ : state) {
        auto text = boost::json::serialize(boost::json::value_from(msg));
        benchmark::DoNotOptimize(text);
    }
}
BENCHMARK(bm_value_from_serialize);

void bm_jobwatch_to_json(benchmark::State& state)
{
    auto const msg = envelope();
    for (auto _ : state) {
        auto text = jobwatch::to_json(msg);
        benchmark::DoNotOptimize(text);
    }
}
BENCHMARK(bm_jobwatch_to_json);

}  // namespace

BENCHMARK_MAIN();
