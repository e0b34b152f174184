#ifndef JOBWATCH_COMPONENTS_DLQ_MONITOR_HPP
#define JOBWATCH_COMPONENTS_DLQ_MONITOR_HPP

#include <jobwatch/runtime/wait_cancelled.hpp>
#include <jobwatch/auth/access.hpp>
#include <jobwatch/core.hpp>
#include <jobwatch/detail/codec_write.hpp>

#include <boost/json/serialize.hpp>
#include <boost/json/value_from.hpp>
#include <jobwatch/monitor/dlq_core.hpp>

#include <chrono>
#include <limits>
#include <optional>
#include <string>

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
    /// A field given here is the setting's initial value; a runtime change replaces it.
    struct config
    {
        std::optional<std::size_t> threshold{};  ///< failures in `window` that raise an alert
        std::optional<duration> window{};        ///< the sliding window of failures
        duration tick = std::chrono::seconds{1};  ///< how often windows and timeouts are re-checked
    };

    dlq_monitor(core& c, config cfg) : core_(c), cfg_(cfg), dlq_(adopt(c, cfg))
    {
        c.on_change([this](job_change const& change) { publish(dlq_.on_change(change, core_.now())); });
        c.tasks().add("dlq.tick", {.interval = cfg_.tick}, [this] { publish(dlq_.tick(core_.now())); });
        c.on_settings([this](jobwatch::config const& s) { dlq_.set_config(dlq_core::config::from(s.dlq)); });
        install_routes();
    }

    /// Lives until cancelled; all work happens on events and ticks.
    asio::awaitable<void> run() { co_await detail::wait_until_cancelled(); }

    dlq_core const& state() const noexcept { return dlq_; }
    /// The dead-letter entries and failure statistics as of now.
    dlq_stats stats() const { return dlq_.stats(core_.now()); }

private:
    // What the code gave is the settings' initial value (core::initial_setting).
    static dlq_core::config adopt(core& c, config const& cfg)
    {
        c.initial_setting([&](jobwatch::config& s) {
            if (cfg.threshold)
                s.dlq.threshold = *cfg.threshold;
            if (cfg.window)
                s.dlq.window_ms = *cfg.window;
        });
        return dlq_core::config::from(c.settings().dlq);
    }

    // GET /api/v1/jobs/failed/stats and /recent.
    void install_routes()
    {
        using namespace http;
        core_.routes().add({{verb::get}, "/api/v1/jobs/failed/stats", needs::read,
                            "Failure statistics per queue and error (not for tenants)",
                            [this](call const& c) { return failed_stats(c); }});
        core_.routes().add({{verb::get}, "/api/v1/jobs/failed/recent", needs::read,
                            "The dead-letter list, newest first", [this](call const& c) { return failed_recent(c); }});
    }

    http::response failed_stats(http::call const& c) const
    {
        using namespace http;
        if (c.who.tenant_id || c.who.user_id)
            return problem(c.req, status::forbidden, "failure statistics mix tenants and users");
        return json_response(c.req, status::ok, boost::json::serialize(boost::json::value_from(stats())));
    }

    http::response failed_recent(http::call const& c) const
    {
        using namespace http;
        bool bad = false;
        auto const limit = uint_param(c.t, "limit", 20, bad);
        if (bad || limit < 1 || limit > 1000)
            return problem(c.req, status::bad_request, "limit must be 1..1000");
        auto const want = static_cast<std::size_t>(limit);
        auto const& who = c.who;
        // A principal bound to a tenant or user sees its own entries: read more, keep its own.
        bool const restricted = who.tenant_id || who.user_id;
        auto const entries = dlq_.dead_letters(restricted ? std::numeric_limits<std::size_t>::max() : want);
        std::string body;
        ::jobwatch::detail::json_writer w(body);
        w.raw(R"({"items":[)");
        std::size_t n = 0;
        for (auto const& e : entries) {
            if (n == want)
                break;
            if (!auth::may_see_tenant(who, e.tenant_id) || (who.user_id && e.user_id != who.user_id))
                continue;
            if (n++)
                w.raw(',');
            to_json(body, e);
        }
        w.raw("]}");
        return json_response(c.req, status::ok, std::move(body));
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
