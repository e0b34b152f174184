// Pipelined XADD throughput of jobwatch::redis::connection against a local
// redis-server that this program starts (on a free port, nothing persisted)
// and stops. The target of cluster ingest is >= 100,000 events/s.
//
//   redis_bench [--events N] [--repetitions R]
//
// Each row writes N events of ~330 bytes (a typical job.progress event) with
// `XADD jobwatch:bench MAXLEN ~ 1000000 * e <json>`, in one of two shapes:
//  - batch B, callers C: C coroutines, each exec()s requests of B XADDs in turn
//    (an ingest handler that XADDs an NDJSON batch in one request);
//  - batch 1, callers C: C coroutines exec() one XADD each, and the connection's
//    writer pipelines them (many HTTP requests of one event each).
// The figure is the median events/s over R repetitions; the stream is
// deleted between runs.

#include <jobwatch/redis/connection.hpp>

#include "redis/redis_server.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace asio = jobwatch::asio;
namespace redis = jobwatch::redis;

constexpr std::string_view event_json =
    R"({"type":"job.progress","event_id":"0f8e3c1a-6b1e-4d8e-9a51-3c2b7d9e4f10",)"
    R"("job_id":"job-000123","run_id":"run-2024-05-01","queue":"emails",)"
    R"("producer_id":"worker-7","time":"2024-05-01T12:00:00.123Z","attempt":1,)"
    R"("progress":{"current":420,"total":1000,"step":"render",)"
    R"("counters":{"sent":418,"bounced":2}},"tags":{"tenant":"acme"}})";

struct row
{
    std::size_t batch;
    std::size_t callers;
};

// Runs `fn` on `ioc` until it returns; rethrows what it throws.
void run_on(asio::io_context& ioc, asio::awaitable<void> fn)
{
    std::exception_ptr error;
    bool done = false;
    asio::co_spawn(ioc, std::move(fn), [&](std::exception_ptr e) {
        error = e;
        done = true;
    });
    while (!done && ioc.run_one() > 0) {
    }
    ioc.restart();
    if (error)
        std::rethrow_exception(error);
}

// One measurement: events/s.
double measure(redis::connection& conn, asio::io_context& ioc, row r, std::size_t events)
{
    std::size_t const per_caller = events / r.callers;
    std::size_t failed = 0;
    auto const t0 = std::chrono::steady_clock::now();
    run_on(ioc, [&]() -> asio::awaitable<void> {
        std::size_t finished = 0;
        jobwatch::detail::tuple_timer all_done{ioc};
        all_done.expires_at(std::chrono::steady_clock::time_point::max());
        for (std::size_t c = 0; c < r.callers; ++c)
            asio::co_spawn(
                ioc,
                [&]() -> asio::awaitable<void> {
                    for (std::size_t sent = 0; sent < per_caller;) {
                        std::size_t const n = std::min(r.batch, per_caller - sent);
                        redis::request req;
                        req.reserve(n * (event_json.size() + 80));
                        for (std::size_t i = 0; i < n; ++i)
                            req.push("XADD", "jobwatch:bench", "MAXLEN", "~", 1'000'000, "*", "e",
                                     event_json);
                        auto [ec, replies] = co_await conn.exec(req);
                        if (ec)
                            ++failed;
                        sent += n;
                    }
                    if (++finished == r.callers)
                        all_done.cancel();
                },
                asio::detached);
        co_await all_done.async_wait();
    }());
    auto const secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (failed)
        throw std::runtime_error(std::to_string(failed) + " requests failed");
    return static_cast<double>(per_caller * r.callers) / secs;
}

// The same XADDs from redis-benchmark (Debian's redis-tools), one connection
// with `pipeline` commands in flight: what the server takes from a C client
// in this sitting. Returns 0 if redis-benchmark is missing or fails.
double redis_benchmark(std::uint16_t port, std::size_t pipeline, std::size_t events)
{
    auto const cmd = "redis-benchmark -p " + std::to_string(port) + " -c 1 -P " +
                     std::to_string(pipeline) + " -n " + std::to_string(events) +
                     " --csv XADD jobwatch:bench MAXLEN '~' 1000000 '*' e '" +
                     std::string(event_json) + "' 2>/dev/null";
    FILE* f = ::popen(cmd.c_str(), "r");
    if (!f)
        return 0;
    std::string out;
    char buf[4096];
    while (auto n = std::fread(buf, 1, sizeof buf, f))
        out.append(buf, n);
    ::pclose(f);
    // CSV: a header line, then "<test>","rps","avg",min,p50,p95,p99,max (all quoted);
    // the test name holds the JSON and its quotes, so count fields from the end.
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r'))
        out.pop_back();
    auto pos = out.size();
    for (int field = 0; field < 7; ++field) {
        pos = out.rfind("\",\"", pos - 1);
        if (pos == std::string::npos || pos == 0)
            return 0;
    }
    return std::strtod(out.c_str() + pos + 3, nullptr);
}

}  // namespace

int main(int argc, char** argv)
{
    std::size_t events = 200'000;
    int repetitions = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string_view const a = argv[i];
        if (a == "--events")
            events = std::strtoull(argv[i + 1], nullptr, 10);
        else if (a == "--repetitions")
            repetitions = std::atoi(argv[i + 1]);
    }
    try {
        jobwatch::test::redis_server srv;
        asio::io_context ioc{1};
        redis::connection conn{ioc.get_executor(),
                               redis::settings{.port = srv.port(),
                                               .max_queued_requests = 100'000,
                                               .max_in_flight_requests = 10'000},
                               jobwatch::logger{.lvl = jobwatch::logger::level::warn}};
        asio::co_spawn(ioc, conn.run(), asio::detached);

        std::vector<row> const rows = {
            {1, 1}, {1, 64}, {1, 1024}, {10, 1}, {100, 1}, {1000, 1}, {100, 16}, {1000, 4},
        };
        redis::request del;
        del.push("DEL", "jobwatch:bench");
        std::printf("| batch (XADDs per request) | concurrent callers | events/s (median of %d) "
                    "| min | max |\n|---|---|---|---|---|\n",
                    repetitions);
        for (auto const r : rows) {
            std::vector<double> rates;
            for (int k = 0; k < repetitions; ++k) {
                run_on(ioc, [&]() -> asio::awaitable<void> { co_await conn.exec(del); }());
                // Fewer events when each costs a round trip, so a row stays short.
                auto const n = r.batch == 1 && r.callers == 1 ? events / 20 : events;
                rates.push_back(measure(conn, ioc, r, n));
            }
            std::sort(rates.begin(), rates.end());
            std::printf("| %zu | %zu | %.0f | %.0f | %.0f |\n", r.batch, r.callers,
                        rates[rates.size() / 2], rates.front(), rates.back());
            std::fflush(stdout);
        }
        // Baseline, same server, same sitting.
        for (std::size_t const pipeline : {1, 100, 1000}) {
            std::vector<double> rates;
            for (int k = 0; k < repetitions; ++k) {
                run_on(ioc, [&]() -> asio::awaitable<void> { co_await conn.exec(del); }());
                rates.push_back(
                    redis_benchmark(srv.port(), pipeline, pipeline == 1 ? events / 20 : events));
            }
            std::sort(rates.begin(), rates.end());
            if (rates.back() == 0)
                break;
            std::printf("| redis-benchmark -P %zu | 1 connection | %.0f | %.0f | %.0f |\n",
                        pipeline, rates[rates.size() / 2], rates.front(), rates.back());
            std::fflush(stdout);
        }
    } catch (std::exception const& e) {
        std::fprintf(stderr, "redis_bench: %s\n", e.what());
        return 1;
    }
    return 0;
}
