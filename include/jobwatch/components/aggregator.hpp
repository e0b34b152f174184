#ifndef JOBWATCH_COMPONENTS_AGGREGATOR_HPP
#define JOBWATCH_COMPONENTS_AGGREGATOR_HPP

#include <jobwatch/components/wait_cancelled.hpp>
#include <jobwatch/core.hpp>
#include <jobwatch/metrics/aggregates.hpp>

#include <chrono>
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
        /// Time between two ticks; 0 takes the app's `aggregator.interval_ms`.
        duration interval{0};
        std::size_t max_scopes = 100'000;  ///< scopes (rooms) with metrics; more are not created
        duration idle_scope_ttl = std::chrono::hours{1};  ///< idle scopes with no active job are dropped
    };

    aggregator(core& c, config cfg)
        : core_(c)
        , cfg_(cfg)
        , metrics_(aggregates::config{.max_scopes = cfg.max_scopes, .idle_scope_ttl = cfg.idle_scope_ttl})
    {
        bool const from_settings = cfg_.interval <= duration::zero();
        if (from_settings)
            cfg_.interval = duration{c.settings().aggregator.interval_ms};
        c.on_change([this](job_change const& change) { metrics_.on_change(change, core_.now()); });
        tick_task_ = c.tasks().add("aggregator.tick", {.interval = cfg_.interval}, [this] { tick(); });
        if (from_settings)
            c.on_settings([this](jobwatch::config const& s) {
                cfg_.interval = duration{s.aggregator.interval_ms};
                core_.tasks().set_interval(tick_task_, cfg_.interval);
            });
        c.provide(*this);
        c.tasks().add("aggregator.evict", {.interval = std::chrono::minutes{1}},
                      [this] { metrics_.evict_idle(core_.now()); });
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
    core& core_;
    config cfg_;
    aggregates metrics_;
    scheduler::task_id tick_task_{};
};

}  // namespace jobwatch

#endif
