#ifndef JOBWATCH_COMPONENTS_DLQ_MONITOR_HPP
#define JOBWATCH_COMPONENTS_DLQ_MONITOR_HPP

#include <jobwatch/api/common.hpp>
#include <jobwatch/runtime/wait_cancelled.hpp>
#include <jobwatch/auth/access.hpp>
#include <jobwatch/core.hpp>
#include <jobwatch/metrics/prometheus.hpp>
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
        dlq_.on_dead_letter([this](std::uint64_t seq, dead_letter_entry const& e) { core_.dead_lettered(seq, e); });
        c.tasks().add("dlq.tick", {.interval = cfg_.tick}, [this] { publish(dlq_.tick(core_.now())); });
        c.on_settings([this](jobwatch::config const& s) { dlq_.set_config(dlq_core::config::from(s.dlq)); });
        install_routes();
        c.add_metrics([this](metrics::prometheus_writer& w) { export_metrics(w); });
    }

    /// Lives until cancelled; all work happens on events and ticks.
    asio::awaitable<void> run() { co_await detail::wait_until_cancelled(); }

    dlq_core const& state() const noexcept { return dlq_; }
    /// The dead-letter entries and failure statistics as of now.
    dlq_stats stats() const { return dlq_.stats(core_.now()); }

private:
    // Failures, dead letters, and the failure_rate alerts firing (per queue, at most metrics.max_queues).
    void export_metrics(metrics::prometheus_writer& w) const
    {
        auto const s = stats();
        w.single("jobwatch_job_failures_total", "counter", "Failed attempts seen, retried or not.",
                 static_cast<double>(s.total_failures));
        w.single("jobwatch_dead_lettered_total", "counter",
                 "Jobs that failed for good (entered the dead-letter list).",
                 static_cast<double>(s.total_dead_lettered));
        std::size_t firing = 0;
        for (auto const& q : s.queues)
            firing += q.firing ? 1 : 0;
        w.single("jobwatch_dead_letter_alerts_firing", "gauge",
                 "Queues whose failure_rate alert is firing.", static_cast<double>(firing));
        w.family("jobwatch_queue_failures_in_window", "gauge",
                 "Failed attempts within the queue's dlq window, and whether its alert fires (firing=\"true\").");
        std::size_t shown = 0;
        for (auto const& q : s.queues) {
            if (shown++ >= core_.settings().metrics.max_queues)
                break;
            w.sample("jobwatch_queue_failures_in_window", {{"queue", q.queue}, {"firing", q.firing ? "true" : "false"}},
                     static_cast<double>(q.failures_in_window));
        }
    }

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
                            "The dead-letter list, newest first", {},
                            [this](call const& c) { return failed_recent(c); }});
    }

    http::response failed_stats(http::call const& c) const
    {
        using namespace http;
        if (c.who.tenant_id || c.who.user_id)
            return problem(c.req, status::forbidden, "failure statistics mix tenants and users");
        return json_response(c.req, status::ok, boost::json::serialize(boost::json::value_from(stats())));
    }

    /** Newest first from the dead-letter list; with durable history, older
        entries than the list keeps come from the file. `before=` pages back:
        entries made by events numbered below it; a full page names the
        cursor of the next one (`next_before`). */
    asio::awaitable<http::response> failed_recent(http::call const& c) const
    {
        using namespace http;
        bool bad = false;
        auto const limit = uint_param(c.t, "limit", 20, bad);
        auto const before = uint_param(c.t, "before", std::numeric_limits<std::uint64_t>::max(), bad);
        if (bad || limit < 1 || limit > 1000)
            co_return problem(c.req, status::bad_request, "limit must be 1..1000 and before a sequence number");
        auto const want = static_cast<std::size_t>(limit);
        auto const& who = c.who;
        // A principal bound to a tenant or user sees its own entries.
        auto const visible = [&who](dead_letter_entry const& e) {
            return auth::may_see_tenant(who, e.tenant_id) && (!who.user_id || e.user_id == who.user_id);
        };
        std::vector<std::pair<std::uint64_t, std::string>> items;
        for (auto const& [seq, entry] : dlq_.dead_letters_before(before, want, visible))
            items.emplace_back(seq, to_json(*entry));
        auto* h = core_.past();
        if (items.size() < want && h) {
            // The list holds every entry from its oldest on: older ones are only in the file.
            auto const oldest = dlq_.oldest_kept_seq();
            auto const below = oldest == 0 ? before : std::min(before, oldest);
            co_await h->flushed();
            // Arguments bound before the co_await (GCC 12 mis-destroys temporaries inside one).
            auto read = h->dead_letters(below, who.tenant_id, who.user_id, want - items.size());
            auto past = co_await std::move(read);
            if (!past.error.empty())
                co_return api::history_unavailable(c.req, core_.log(), past.error);
            for (auto& e : past.entries)
                items.emplace_back(e.seq, std::move(e.body));
        }
        std::string body;
        ::jobwatch::detail::json_writer w(body);
        w.raw(R"({"items":[)");
        for (std::size_t i = 0; i < items.size(); ++i) {
            if (i)
                w.raw(',');
            w.raw(items[i].second);
        }
        w.raw(']');
        if (items.size() == want) {
            w.raw(R"(,"next_before":)");
            w.integer(static_cast<std::int64_t>(items.back().first));
        }
        w.raw('}');
        co_return json_response(c.req, status::ok, std::move(body));
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
