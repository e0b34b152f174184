#ifndef JOBWATCH_COMPONENTS_DLQ_MONITOR_HPP
#define JOBWATCH_COMPONENTS_DLQ_MONITOR_HPP

#include <jobwatch/components/wait_cancelled.hpp>
#include <jobwatch/core.hpp>
#include <jobwatch/monitor/dlq_core.hpp>

#include <chrono>
#include <optional>

namespace jobwatch {

/** @brief The dead-letter monitor: the dead-letter list, failure-rate alerts
    per queue (once per breach, then resolved), success-rate alerts per run
    and timeout warnings, all sent to room `alerts`.

    The decisions are `dlq_core`'s; this component feeds it every
    `job_change` and a periodic tick (window expiry, timeouts), and publishes
    the alerts it returns.

    @par Thread Safety
    Only from the core executor.
*/
class dlq_monitor
{
public:
    /// Tuning. Every field has a working default; empty fields take the app's `dlq` settings.
    struct config
    {
        std::optional<std::size_t> threshold{};  ///< failures in `window` that raise an alert
        std::optional<duration> window{};        ///< the sliding window of failures
        duration tick = std::chrono::seconds{1};  ///< how often windows and timeouts are re-checked
    };

    dlq_monitor(core& c, config cfg) : core_(c), cfg_(cfg), dlq_(make_core_config(c, cfg))
    {
        c.on_change([this](job_change const& change) { publish(dlq_.on_change(change, core_.now())); });
        c.tasks().add("dlq.tick", {.interval = cfg_.tick}, [this] { publish(dlq_.tick(core_.now())); });
        c.on_settings([this](jobwatch::config const&) { dlq_.set_config(make_core_config(core_, cfg_)); });
        c.provide(*this);
    }

    /// Lives until cancelled; all work happens on events and ticks.
    asio::awaitable<void> run() { co_await detail::wait_until_cancelled(); }

    dlq_core const& state() const noexcept { return dlq_; }
    /// The dead-letter entries and failure statistics as of now.
    dlq_stats stats() const { return dlq_.stats(core_.now()); }

private:
    static dlq_core::config make_core_config(core& c, config const& cfg)
    {
        auto out = dlq_core::config::from(c.settings().dlq);
        if (cfg.threshold)
            out.threshold = *cfg.threshold;
        if (cfg.window)
            out.window = *cfg.window;
        return out;
    }

    void publish(std::vector<alert> alerts)
    {
        for (auto& a : alerts)
            core_.emit_alert(std::move(a));
    }

    core& core_;
    config cfg_;
    dlq_core dlq_;
};

}  // namespace jobwatch

#endif
