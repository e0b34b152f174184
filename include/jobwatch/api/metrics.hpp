#ifndef JOBWATCH_API_METRICS_HPP
#define JOBWATCH_API_METRICS_HPP

/** @file
    `GET /metrics`: the Prometheus text format (0.0.4). The core writes its
    own families (ingest, the event log, storage, the process); each
    component adds its own with `core::add_metrics`.
*/

#include <jobwatch/api/common.hpp>
#include <jobwatch/core.hpp>
#include <jobwatch/metrics/prometheus.hpp>

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace jobwatch {

namespace metrics {

/** @brief Keeps the `max` entries with the largest weight and sums the rest
    into one entry named `_other`: labels of bounded cardinality whatever
    the number of queues or tenants. `add(a, b)` adds b into a. */
template<class T, class Weight, class Add>
std::vector<std::pair<std::string, T>> top_with_other(std::vector<std::pair<std::string, T>> all, std::size_t max,
                                                      Weight weight, Add add)
{
    if (all.size() <= max) {
        std::sort(all.begin(), all.end(), [](auto const& a, auto const& b) { return a.first < b.first; });
        return all;
    }
    std::stable_sort(all.begin(), all.end(), [&](auto const& a, auto const& b) { return weight(a.second) > weight(b.second); });
    std::pair<std::string, T> other{"_other", all[max].second};
    for (std::size_t i = max + 1; i < all.size(); ++i)
        add(other.second, all[i].second);
    all.resize(max);
    std::sort(all.begin(), all.end(), [](auto const& a, auto const& b) { return a.first < b.first; });
    all.push_back(std::move(other));
    return all;
}

/// Bucket bounds (ms) of the duration histograms: 1 ms to 1 h.
inline constexpr std::array<double, 16> duration_bounds_ms = {
    1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 3600000};
/// Bucket bounds (ms) of the ingest latency: 10 µs to 5 s.
inline constexpr std::array<double, 14> latency_bounds_ms = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                                             2.5,  5,     10,   25,  100,  1000, 5000};

}  // namespace metrics

namespace api {

using namespace ::jobwatch::http;

/** @brief The `/metrics` route, on the core's router. Scope `read`, from a
    principal that is not confined to a tenant or a user (the metrics are
    of every tenant); `metrics.public: true` serves it to anyone.

    @par Thread Safety
    Only from the core executor.
*/
class metrics_routes
{
public:
    explicit metrics_routes(core& c) : core_(c) {}

    void install()
    {
        auto const scope = core_.settings().metrics.public_ ? needs::none : needs::read;
        core_.routes().add({{verb::get}, "/metrics", scope, "Prometheus metrics (text format 0.0.4)",
                            [this](call const& c) { return scrape(c); }});
    }

    /// The whole exposition, as a scrape gets it.
    std::string text() const
    {
        metrics::prometheus_writer w;
        write_core(w);
        for (auto const& fn : core_.metrics_collectors())
            fn(w);
        return std::move(w).text();
    }

private:
    response scrape(call const& c) const
    {
        if (!core_.settings().metrics.public_ && (c.who.tenant_id || c.who.user_id))
            return problem(c.req, status::forbidden,
                           "the metrics are of every tenant: a token confined to a tenant or a user may not read them");
        response res{status::ok, c.req.version()};
        res.set(boost::beast::http::field::server, "jobwatch");
        res.set(boost::beast::http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
        res.set(boost::beast::http::field::cache_control, "no-store");
        res.keep_alive(c.req.keep_alive());
        res.body() = text();
        res.prepare_payload();
        return res;
    }

    void write_core(metrics::prometheus_writer& w) const
    {
        auto const& r = core_.ingest_results_by_type();
        w.family("jobwatch_events_total", "counter",
                 "Job events offered to the core, by type and by what became of them.");
        for (std::size_t t = 0; t < ingest_results::types; ++t)
            for (std::size_t s = 0; s < ingest_results::results; ++s)
                if (r.n[t][s] != 0 || s == 0)
                    w.sample("jobwatch_events_total",
                             {{"type", ingest_results::type_name(t)}, {"result", ingest_results::result_names[s]}},
                             static_cast<double>(r.n[t][s]));
        auto const& in = core_.ingest_counters();
        w.single("jobwatch_events_rate_limited_total", "counter",
                 "Events refused for their principal's rate (rate_limits.ingest_events_per_s).",
                 static_cast<double>(in.rate_limited));
        w.family("jobwatch_ingest_latency_seconds", "histogram",
                 "Time from a batch of events reaching the core to its results (in cluster mode, Redis's answer).");
        w.histogram("jobwatch_ingest_latency_seconds", {}, core_.ingest_latency(), metrics::latency_bounds_ms);
        auto const& log = core_.events().counters();
        w.single("jobwatch_last_sequence", "gauge", "The newest sequence number of the event log.",
                 static_cast<double>(core_.events().last_seq()));
        w.single("jobwatch_sequenced_total", "counter",
                 "Messages sequenced by the event log (events and alerts).",
                 static_cast<double>(log.accepted));
        w.single("jobwatch_rooms_evicted_total", "counter",
                 "Room histories dropped to stay within event_log.max_rooms.",
                 static_cast<double>(log.rooms_evicted));
        if (auto const* j = core_.journal()) {
            auto const jr = j->report();
            w.single("jobwatch_storage_committed_total", "counter",
                     "Records committed to the durable journal.",
                     static_cast<double>(jr.committed));
            w.single("jobwatch_storage_failures_total", "counter",
                     "Journal transactions that failed.", static_cast<double>(jr.failures));
            w.single("jobwatch_storage_refused_total", "counter",
                     "Events refused while the journal could not take them.",
                     static_cast<double>(jr.refused));
            w.single("jobwatch_storage_pending", "gauge", "Records waiting to be committed.",
                     static_cast<double>(jr.pending));
        }
        auto const p = metrics::process_stats::read();
        if (!p.valid)
            return;
        w.single("process_cpu_seconds_total", "counter",
                 "Total user and system CPU time spent in seconds.", p.cpu_seconds);
        w.single("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
                 p.resident_bytes);
        w.single("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
                 p.virtual_bytes);
        w.single("process_open_fds", "gauge", "Number of open file descriptors.", p.open_fds);
        w.single("process_max_fds", "gauge", "Maximum number of open file descriptors.", p.max_fds);
        w.single("process_start_time_seconds", "gauge",
                 "Start time of the process since unix epoch in seconds.", p.start_time_seconds);
    }

    core& core_;
};

}  // namespace api
}  // namespace jobwatch

#endif
