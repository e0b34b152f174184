#ifndef JOBWATCH_COMPONENTS_AGGREGATOR_HPP
#define JOBWATCH_COMPONENTS_AGGREGATOR_HPP

#include <jobwatch/runtime/wait_cancelled.hpp>
#include <jobwatch/auth/access.hpp>
#include <jobwatch/api/metrics.hpp>
#include <jobwatch/core.hpp>
#include <jobwatch/detail/codec_write.hpp>
#include <jobwatch/metrics/aggregates.hpp>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>
#include <optional>
#include <string_view>

namespace jobwatch {

/** @brief Incremental metrics per run, queue, tenant, user and overall, and
    a `summary` to each room whose summary changed, once per tick.

    Every `job_change` updates the aggregates in O(1) per scope; the tick
    (a scheduler task, default every second) publishes only the scopes that
    changed, so its cost follows the rooms that changed, not the jobs tracked.

    @par Thread Safety
    Only from the core executor.
*/
class aggregator
{
public:
    /// Tuning for the aggregator. Every field has a working default.
    struct config
    {
        /// Time between two ticks; 0 takes the app's `aggregator.interval_ms`, another
        /// value becomes that setting's initial value (a runtime change replaces it).
        duration interval{0};
        std::size_t max_scopes = 100'000;  ///< scopes (rooms) with metrics; more are not created
        duration idle_scope_ttl = std::chrono::hours{1};  ///< idle scopes with no active job are dropped
    };

    aggregator(core& c, config cfg)
        : core_(c)
        , cfg_(cfg)
        , metrics_(aggregates::config{.max_scopes = cfg.max_scopes, .idle_scope_ttl = cfg.idle_scope_ttl})
    {
        // An interval given in code is the setting's initial value (core::initial_setting).
        if (cfg_.interval > duration::zero())
            c.initial_setting([&](jobwatch::config& s) { s.aggregator.interval_ms = cfg_.interval; });
        cfg_.interval = c.settings().aggregator.interval_ms;
        c.on_change([this](job_change const& change) { metrics_.on_change(change, core_.now()); });
        tick_task_ = c.tasks().add("aggregator.tick", {.interval = cfg_.interval}, [this] { tick(); });
        c.on_settings([this](jobwatch::config const& s) {
            cfg_.interval = s.aggregator.interval_ms;
            core_.tasks().set_interval(tick_task_, cfg_.interval);
        });
        c.provide_snapshots(rooms::kind::run, [this](std::string_view room) { return state_of(room); });
        c.provide_snapshots(rooms::kind::queue, [this](std::string_view room) { return state_of(room); });
        c.provide_snapshots(rooms::kind::tenant, [this](std::string_view room) { return state_of(room); });
        c.provide_snapshots(rooms::kind::user, [this](std::string_view room) { return state_of(room); });
        install_routes();
        c.tasks().add("aggregator.evict", {.interval = std::chrono::minutes{1}},
                      [this] { metrics_.evict_idle(core_.now()); });
        c.add_metrics([this](metrics::prometheus_writer& w) { export_metrics(w); });
    }

    /// Lives until cancelled, then publishes what changed since the last tick.
    asio::awaitable<void> run()
    {
        co_await detail::wait_until_cancelled();
        tick();
    }

    /// Publishes a summary to every room whose summary changed since the last tick.
    void tick()
    {
        auto const now = core_.now();
        metrics_.take_dirty(now, [&](std::string_view scope) {
            core_.emit_summary(std::string(scope), metrics_.summary_of(scope, now));
        });
    }

    /// The summary of a scope ("all", "run:r1", ...), when it has metrics.
    std::optional<summary> summary_of(std::string_view scope) const
    {
        if (!metrics_.find(scope))
            return std::nullopt;
        return metrics_.summary_of(scope, core_.now());
    }

    aggregates const& metrics() const noexcept { return metrics_; }
    duration interval() const noexcept { return cfg_.interval; }

private:
    // A room's summary as a subscriber's snapshot; a scope with no job yet
    // gets a summary of zeros, as a tick would send it.
    std::optional<snapshot> state_of(std::string_view room) const
    {
        return snapshot{metrics_.summary_of(room, core_.now())};
    }

    // GET /api/v1/runs/{id}/summary and /api/v1/queues.
    // Jobs by state per queue and per tenant, and the run and wait time
    // histograms per queue: at most metrics.max_queues queues and
    // metrics.max_tenants tenants, the rest summed under "_other".
    void export_metrics(metrics::prometheus_writer& w) const
    {
        auto const& caps = core_.settings().metrics;
        std::vector<std::pair<std::string, scope_metrics const*>> queues, tenants;
        metrics_.for_each_scope([&](std::string_view name, scope_metrics const& m) {
            if (name.starts_with("queue:"))
                queues.emplace_back(std::string(name.substr(6)), &m);
            else if (name.starts_with("tenant:"))
                tenants.emplace_back(std::string(name.substr(7)), &m);
        });
        // Owned copies, so "_other" can merge several scopes.
        auto owned = [](auto const& v) {
            std::vector<std::pair<std::string, scope_metrics>> out;
            out.reserve(v.size());
            for (auto const& [n, m] : v)
                out.emplace_back(n, *m);
            return out;
        };
        auto weight = [](scope_metrics const& m) { return m.counts.total; };
        auto add = [](scope_metrics& a, scope_metrics const& b) { a.merge(b); };
        auto const q = metrics::top_with_other(owned(queues), caps.max_queues, weight, add);
        auto const tn = metrics::top_with_other(owned(tenants), caps.max_tenants, weight, add);

        auto states = [&](std::string_view family, std::string_view label, auto const& scopes) {
            for (auto const& [name, m] : scopes) {
                auto const& c = m.counts;
                std::pair<std::string_view, std::int64_t> const by_state[] = {
                    {"queued", c.queued}, {"running", c.running}, {"succeeded", c.succeeded},
                    {"failed", c.failed}, {"cancelled", c.cancelled}};
                for (auto const& [state, n] : by_state)
                    w.sample(family, {{label, name}, {"state", state}}, static_cast<double>(n));
            }
        };
        w.family("jobwatch_jobs", "gauge",
                 "Jobs seen by this instance, by queue and by the state they are in (terminal states count every "
                 "job that ended so, until it is forgotten).");
        states("jobwatch_jobs", "queue", q);
        w.family("jobwatch_tenant_jobs", "gauge", "Jobs by tenant and state (as jobwatch_jobs).");
        states("jobwatch_tenant_jobs", "tenant", tn);
        w.family("jobwatch_job_executions_total", "counter", "Attempts started, retries included, by queue.");
        for (auto const& [name, m] : q)
            w.sample("jobwatch_job_executions_total", {{"queue", name}}, static_cast<double>(m.executions));
        w.family("jobwatch_job_duration_seconds", "histogram", "Run time of finished jobs, by queue.");
        for (auto const& [name, m] : q) {
            metrics::prometheus_writer::label const l[] = {{"queue", name}};
            w.histogram("jobwatch_job_duration_seconds", l, m.latency, metrics::duration_bounds_ms);
        }
        w.family("jobwatch_job_wait_seconds", "histogram", "Time from queued to first start, by queue.");
        for (auto const& [name, m] : q) {
            metrics::prometheus_writer::label const l[] = {{"queue", name}};
            w.histogram("jobwatch_job_wait_seconds", l, m.wait, metrics::duration_bounds_ms);
        }
        w.single("jobwatch_metric_scopes", "gauge",
                 "Scopes (runs, queues, tenants, users) the aggregator holds.",
                 static_cast<double>(metrics_.scope_count()));
    }

    void install_routes()
    {
        using namespace http;
        core_.routes().add({{verb::get}, "/api/v1/runs/{id}/summary", needs::read, "A run's summary",
                            [this](call const& c) { return run_summary(c); }});
        core_.routes().add({{verb::get}, "/api/v1/queues", needs::read, "Every queue's summary (not for tenants)",
                            [this](call const& c) { return queues(c); }});
    }

    http::response run_summary(http::call const& c) const
    {
        using namespace http;
        // Runs are per tenant: the principal's, else ?tenant_id=, else no tenant.
        auto const asked = c.t.get("tenant_id");
        auto const id = c.params["id"];
        auto const room = rooms::run(c.who.tenant_id ? std::string_view(*c.who.tenant_id)
                                     : asked        ? *asked
                                                    : std::string_view{},
                                     id);
        auto const s = auth::check_room(c.who, room, core_.store()) == auth::room_access::allowed
                           ? summary_of(room)
                           : std::nullopt;
        if (!s)
            return problem(c.req, status::not_found, "no run " + std::string(id));
        return json_response(c.req, status::ok, to_json(*s));
    }

    http::response queues(http::call const& c) const
    {
        using namespace http;
        if (c.who.tenant_id || c.who.user_id)
            return problem(c.req, status::forbidden, "queues mix tenants and users");
        std::vector<std::string> names;
        metrics_.for_each_scope([&](std::string_view scope, auto const&) {
            if (scope.starts_with("queue:"))
                names.emplace_back(scope);
        });
        std::sort(names.begin(), names.end());
        std::string body;
        ::jobwatch::detail::json_writer w(body);
        w.raw(R"({"items":[)");
        for (std::size_t i = 0; i < names.size(); ++i) {
            if (i)
                w.raw(',');
            w.raw(R"({"queue":)");
            w.string(std::string_view(names[i]).substr(6));
            w.raw(R"(,"summary":)");
            to_json(body, metrics_.summary_of(names[i], core_.now()));
            w.raw('}');
        }
        w.raw("]}");
        return json_response(c.req, status::ok, std::move(body));
    }

    core& core_;
    config cfg_;
    aggregates metrics_;
    scheduler::task_id tick_task_{};
};

}  // namespace jobwatch

#endif
