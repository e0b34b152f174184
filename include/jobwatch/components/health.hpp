#ifndef JOBWATCH_COMPONENTS_HEALTH_HPP
#define JOBWATCH_COMPONENTS_HEALTH_HPP

#include <jobwatch/runtime/wait_cancelled.hpp>
#include <jobwatch/core.hpp>
#include <jobwatch/metrics/prometheus.hpp>
#include <jobwatch/monitor/health_core.hpp>

#include <algorithm>
#include <array>
#include <chrono>

namespace jobwatch {

/** @brief Queue health: per-queue counts, processing time, error rate and
    stale jobs, an overall healthy | degraded | unhealthy with its reasons,
    sent to room `health` whenever the report changes.

    @par Thread Safety
    Only from the core executor.
*/
class health
{
public:
    /// Tuning. Every field has a working default.
    struct config
    {
        /// How often the report is re-evaluated (stale jobs age without events);
        /// 0 takes the app's `health.interval_ms`, another value becomes that
        /// setting's initial value (a runtime change replaces it).
        duration interval{0};
    };

    health(core& c, config cfg) : core_(c), cfg_(cfg), health_(adopt(c, cfg))
    {
        cfg_.interval = c.settings().health.interval_ms;
        c.on_change([this](job_change const& change) { health_.on_change(change, core_.now()); });
        // A broker's own counts (the BullMQ source) replace those the events add up to.
        c.on_queue_counts([this](std::string_view queue, queue_counts const& n) { health_.set_counts(queue, n); });
        // The store already knows every running job's last event: staleness is
        // read from it at report time instead of tracked per event.
        health_.use_last_event_source([this](auto const& visit) {
            core_.store().for_each_running(
                [&](std::string_view, std::string_view queue, auto const&, time_point last) { visit(queue, last); });
        });
        tick_task_ = c.tasks().add("health.tick", {.interval = cfg_.interval, .immediate = true}, [this] { tick(); });
        c.on_settings([this](jobwatch::config const& s) {
            health_.set_config(health_core::config::from(s.health));
            cfg_.interval = s.health.interval_ms;
            core_.tasks().set_interval(tick_task_, cfg_.interval);
        });
        c.provide_snapshots(rooms::kind::health, [this](std::string_view) { return std::optional<snapshot>(report()); });
        c.routes().add({{http::verb::get}, "/api/v1/health/queues", http::needs::read,
                        "Queue health with its reasons (not for tenants)", [this](http::call const& h) {
                            if (h.who.tenant_id || h.who.user_id)
                                return http::problem(h.req, http::status::forbidden, "queue health mixes tenants");
                            return http::json_response(h.req, http::status::ok, to_json(report()));
                        }});
        c.add_metrics([this](metrics::prometheus_writer& w) { export_metrics(w); });
    }

    /// Lives until cancelled; all work happens on events and ticks.
    asio::awaitable<void> run() { co_await detail::wait_until_cancelled(); }

    /// Publishes the report when it changed since the last one published.
    void tick()
    {
        if (auto r = health_.tick(core_.now()))
            core_.emit_health(std::move(*r));
    }

    /// The report as of now.
    health_report report() const { return health_.report(core_.now()); }
    /// Marks a queue paused or resumed (events do not carry it).
    bool set_paused(std::string_view queue, bool paused) { return health_.set_paused(queue, paused); }

private:
    // Queues per status, and each queue's status (the worst first, at most metrics.max_queues).
    void export_metrics(metrics::prometheus_writer& w) const
    {
        auto r = report();
        std::array<std::size_t, 3> per_status{};
        for (auto const& q : r.queues)
            ++per_status[static_cast<std::size_t>(q.status)];
        constexpr std::array<health_status, 3> all = {health_status::healthy, health_status::degraded,
                                                      health_status::unhealthy};
        w.family("jobwatch_queues", "gauge", "Queues by health status.");
        for (auto st : all)
            w.sample("jobwatch_queues", {{"status", to_string(st)}}, static_cast<double>(per_status[static_cast<std::size_t>(st)]));
        std::stable_sort(r.queues.begin(), r.queues.end(),
                         [](queue_health const& a, queue_health const& b) { return a.status > b.status; });
        if (r.queues.size() > core_.settings().metrics.max_queues)
            r.queues.resize(core_.settings().metrics.max_queues);
        w.family("jobwatch_queue_health", "gauge", "1 for the queue's health status, 0 for the others.");
        for (auto const& q : r.queues)
            for (auto st : all)
                w.sample("jobwatch_queue_health", {{"queue", q.queue}, {"status", to_string(st)}}, q.status == st ? 1.0 : 0.0);
    }

    // An interval given in code is the setting's initial value (core::initial_setting).
    static health_core::config adopt(core& c, config const& cfg)
    {
        if (cfg.interval > duration::zero())
            c.initial_setting([&](jobwatch::config& s) { s.health.interval_ms = cfg.interval; });
        return health_core::config::from(c.settings().health);
    }

    core& core_;
    config cfg_;
    health_core health_;
    scheduler::task_id tick_task_{};
};

}  // namespace jobwatch

#endif
