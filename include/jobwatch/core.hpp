#ifndef JOBWATCH_CORE_HPP
#define JOBWATCH_CORE_HPP

#include <jobwatch/codec.hpp>
#include <jobwatch/detail/asio.hpp>
#include <jobwatch/events/event_log.hpp>
#include <jobwatch/logger.hpp>
#include <jobwatch/messages/alert.hpp>
#include <jobwatch/messages/config.hpp>
#include <jobwatch/messages/health_report.hpp>
#include <jobwatch/messages/summary.hpp>
#include <jobwatch/components/scheduler.hpp>
#include <jobwatch/store/job_store.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <typeindex>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

namespace jobwatch {

/// The outcome of publishing one event.
struct publish_result
{
    event_log::status status = event_log::status::invalid;  ///< accepted, duplicate or invalid
    std::uint64_t seq = 0;                                  ///< its sequence number when accepted
    parse_error error;                                      ///< why, when invalid
    explicit operator bool() const noexcept { return status == event_log::status::accepted; }
};

/// A job event, for the rooms it belongs to.
struct event_out
{
    std::shared_ptr<logged_event const> event;
};
/// A room's new summary (state, not history: it carries the room's current seq).
struct summary_out
{
    std::string room;
    std::uint64_t seq = 0;
    std::shared_ptr<summary const> value;
};
/// An alert for room `alerts` (kept in its history).
struct alert_out
{
    std::uint64_t seq = 0;
    std::shared_ptr<alert const> value;
};
/// A new health report for room `health` (state: carries the current seq).
struct health_out
{
    std::uint64_t seq = 0;
    std::shared_ptr<health_report const> value;
};
/// Everything the core hands to the rooms (the gateway's hub consumes it).
using room_message = std::variant<event_out, summary_out, alert_out, health_out>;

/** @brief The single-threaded state the components share: event log, job
    store, clock and logger, and the fan-out of what happens to them.

    Publishing an event: validate and sequence it (event log), apply it (job
    store), hand the resulting `job_change` to every change listener
    (aggregator, dead-letter monitor, health) and the event to every room
    listener (the gateway).

    @par Thread Safety
    Only from the core executor (`get_executor()`); other threads go through
    `app::publish`, which posts here.
*/
class core
{
public:
    /// The clock events are timed with when they carry no time of their own.
    using clock_fn = std::function<time_point()>;

    core(asio::any_io_executor ex, config cfg, logger lgr, clock_fn clock)
        : ex_(std::move(ex))
        , cfg_(std::move(cfg))
        , lgr_(std::move(lgr))
        , clock_(clock ? std::move(clock) : clock_fn(system_now))
        , log_(event_log::config{.history_per_room = static_cast<std::size_t>(cfg_.event_log.history_per_room),
                                 .history_size = 100'000,
                                 .dedup_window = static_cast<std::size_t>(cfg_.event_log.dedup_window),
                                 .max_rooms = 100'000})
        , store_(job_store::config{
              .max_finished_jobs = static_cast<std::size_t>(cfg_.store.max_finished_jobs),
              .finished_ttl = duration{cfg_.store.finished_ttl_ms},
              .max_log_lines_per_job = static_cast<std::size_t>(cfg_.store.max_log_lines_per_job),
              .max_jobs = 1'000'000})
        , tasks_(ex_, scheduler::config{}, lgr_)
    {
        // Retention of finished jobs: bounded memory however long it runs.
        tasks_.add("store.retention", {.interval = std::chrono::seconds{1}}, [this] { store_.evict(now()); });
    }

    asio::any_io_executor get_executor() const noexcept { return ex_; }
    time_point now() const { return clock_(); }
    config const& settings() const noexcept { return cfg_; }
    logger const& log() const noexcept { return lgr_; }
    event_log& events() noexcept { return log_; }
    event_log const& events() const noexcept { return log_; }
    job_store& store() noexcept { return store_; }
    job_store const& store() const noexcept { return store_; }
    /// Drives every periodic task of the core and the components; the app runs it.
    scheduler& tasks() noexcept { return tasks_; }

    /// Calls `fn` for every change an applied event makes to a job.
    void on_change(std::function<void(job_change const&)> fn) { change_listeners_.push_back(std::move(fn)); }
    /// Calls `fn` for every message to rooms (events, summaries, alerts, health).
    void on_room_message(std::function<void(room_message const&)> fn) { room_listeners_.push_back(std::move(fn)); }

    /// Calls `fn` with the new settings whenever `update_settings` changes them.
    void on_settings(std::function<void(config const&)> fn) { settings_listeners_.push_back(std::move(fn)); }

    /** @brief Replaces the settings at runtime and tells every listener (the
        components re-read their intervals and thresholds). The caller has
        validated them and kept the settings that need a restart. */
    void update_settings(config cfg)
    {
        cfg_ = std::move(cfg);
        for (auto const& fn : settings_listeners_)
            fn(cfg_);
    }

    /** @brief Registers a component so that others (the gateway's REST API)
        can find it by type; the component must outlive the core's users. */
    template<class T>
    void provide(T& component)
    {
        services_[std::type_index(typeid(T))] = &component;
    }

    /// The registered component of type `T`, or nullptr.
    template<class T>
    T* find() const
    {
        auto it = services_.find(std::type_index(typeid(T)));
        return it == services_.end() ? nullptr : static_cast<T*>(it->second);
    }

    /// Validates, sequences, applies and fans out one event.
    publish_result publish(job_event ev)
    {
        auto r = log_.append(std::move(ev), now());
        return finish(std::move(r));
    }

    /// The same for an event that arrives as JSON text.
    publish_result publish_text(std::string_view text)
    {
        auto r = log_.append_text(text, now());
        return finish(std::move(r));
    }

    /// Sequences an alert into room `alerts` and hands it to the rooms.
    void emit_alert(alert a)
    {
        auto entry = log_.append_alert(std::move(a));
        deliver(alert_out{entry.seq, entry.alert_msg});
    }

    /// Hands a room's new summary to the rooms.
    void emit_summary(std::string room, summary s)
    {
        auto const seq = log_.room_seq(room);
        deliver(summary_out{std::move(room), seq, std::make_shared<summary const>(std::move(s))});
    }

    /// Hands a new health report to room `health`.
    void emit_health(health_report r)
    {
        latest_health_ = std::make_shared<health_report const>(std::move(r));
        deliver(health_out{log_.last_seq(), latest_health_});
    }

    /// The last health report emitted, if any.
    std::shared_ptr<health_report const> latest_health() const noexcept { return latest_health_; }

private:
    static time_point system_now()
    {
        return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
    }

    publish_result finish(event_log::append_result r)
    {
        publish_result out{r.st, r.event ? r.event->seq : 0, std::move(r.error)};
        if (r.st != event_log::status::accepted)
            return out;
        if (auto change = store_.apply(*r.event)) {
            for (auto const& fn : change_listeners_)
                fn(*change);
        }
        deliver(event_out{std::move(r.event)});
        return out;
    }

    void deliver(room_message const& m)
    {
        for (auto const& fn : room_listeners_)
            fn(m);
    }

    asio::any_io_executor ex_;
    config cfg_;
    logger lgr_;
    clock_fn clock_;
    event_log log_;
    job_store store_;
    scheduler tasks_;
    std::vector<std::function<void(job_change const&)>> change_listeners_;
    std::vector<std::function<void(room_message const&)>> room_listeners_;
    std::vector<std::function<void(config const&)>> settings_listeners_;
    std::unordered_map<std::type_index, void*> services_;
    std::shared_ptr<health_report const> latest_health_;
};

}  // namespace jobwatch

#endif
