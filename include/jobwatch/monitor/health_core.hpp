#ifndef JOBWATCH_MONITOR_HEALTH_CORE_HPP
#define JOBWATCH_MONITOR_HEALTH_CORE_HPP

/** @file
    The logic of the health checker, without I/O: per-queue job counts by
    state, processing time, error rate, stale running jobs, and a status per
    queue and overall with the reasons for it. The `health` component feeds it
    job changes and ticks, and publishes the report to the `health` room when
    it changes. docs/core.md, "Health", has the rules in prose.
*/

#include <jobwatch/events/event.hpp>
#include <jobwatch/messages/config.hpp>
#include <jobwatch/messages/health_report.hpp>
#include <jobwatch/monitor/queue_counts.hpp>
#include <jobwatch/store/job_change.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <jobwatch/detail/hash.hpp>

#include <boost/unordered/unordered_flat_map.hpp>
#include <boost/unordered/unordered_flat_set.hpp>

#include <unordered_map>
#include <unordered_set>

namespace jobwatch {

/** @brief Health checker logic: a sans-I/O core fed job changes, queried for reports.

    Per queue it keeps, incrementally (O(1) per change, no memory per waiting
    job):
    @li `waiting`: queued jobs not waiting for a retry; `delayed`: jobs
        waiting for a retry (`retry_scheduled`) until their next start;
        `active`: running jobs; `completed` and `failed`: jobs that finished
        so since this core started. While the queue is paused (`set_paused`),
        its waiting jobs are reported as `paused` instead.
    @li the error rate (failed / (succeeded + failed)) and the mean
        processing time (`duration_ms`) of the jobs that finished within
        `error_rate_window`, and when a job last finished;
    @li per running job, the time of its newest event, so a job with no event
        for longer than `stale_after` counts as stale.

    Each queue gets a status from the rules in `config` (the worst rule that
    applies wins, and each rule that applies adds one issue sentence); the
    overall status is the worst queue status.

    @par Thread Safety
    Not thread-safe; call only from the core executor.
*/
class health_core
{
public:
    /** @brief Tuning for the health checker. Every field has a working default; a limit
        (count or rate) of 0 turns its rule off. */
    struct config
    {
        /// A running job with no event for longer than this is stale.
        duration stale_after = std::chrono::minutes{5};
        /// A queue whose error rate reaches this is degraded.
        double degraded_error_rate = 0.05;
        /// A queue whose error rate reaches this is unhealthy.
        double unhealthy_error_rate = 0.25;
        /// The error rate and mean processing time cover jobs finished this recently.
        duration error_rate_window = std::chrono::minutes{5};
        /// Finished jobs in the window needed before the error rate is judged.
        std::size_t error_rate_min_jobs = 10;
        /// A queue with this many waiting jobs is degraded.
        std::size_t degraded_waiting = 1000;
        /// A queue with this many waiting jobs is unhealthy.
        std::size_t unhealthy_waiting = 0;
        /// A queue with this many stale jobs is degraded.
        std::size_t degraded_stale_jobs = 1;
        /// A queue with this many stale jobs is unhealthy.
        std::size_t unhealthy_stale_jobs = 10;
        /// Status of a paused queue (healthy ignores pausing).
        health_status paused_status = health_status::degraded;
        /// Queues known at once; changes of further queues are ignored and counted.
        std::size_t max_tracked_queues = 10'000;
        /// Running and retry-waiting jobs remembered one by one; beyond, they are only counted.
        std::size_t max_tracked_jobs = 100'000;

        /// The settings of a config file's `health` section, other fields at their defaults.
        static config from(health_config const& c);
    };

    /// Creates the core with default settings.
    health_core();

    /// Creates the core with `cfg`.
    explicit health_core(config cfg);

    /// Takes in one applied event's effect on a job.
    void on_change(job_change const& c, time_point now);

    /** @brief Marks `queue` paused or resumed (events do not carry it).

        Returns false when the queue is unknown and no more queues can be tracked.
    */
    bool set_paused(std::string_view queue, bool paused);

    /** @brief Reports `queue` with the counts its broker has (`queue_counts`)
        from now on, instead of those derived from events; its pause flag too.

        Returns false when the queue is unknown and no more queues can be tracked.
    */
    bool set_counts(std::string_view queue, queue_counts const& counts);

    /// The health of every known queue and overall, as of `now`.
    health_report report(time_point now) const;

    /// Calls its argument with (queue, last event time) for every running job.
    using last_event_source =
        std::function<void(std::function<void(std::string_view queue, time_point last_event)> const&)>;

    /** @brief Takes running jobs' last event times from `src` (the job store)
        when reporting, instead of tracking them per event: progress and log
        lines of running jobs then cost nothing here. */
    void use_last_event_source(last_event_source src) { last_events_ = std::move(src); }

    /** @brief The report as of `now` if it differs from the last one returned here.

        The timestamp is ignored when comparing, so a report goes out only
        when something in it changed (a count, a status, an issue, a stale
        job). The first call always returns a report.
    */
    std::optional<health_report> tick(time_point now);

    /** @brief Replaces the thresholds (a runtime change); they apply from the
        next report. The error-rate window keeps its length (its buckets are
        sized by it). */
    void set_config(config cfg)
    {
        cfg.error_rate_window = cfg_.error_rate_window;
        cfg_ = std::move(cfg);
    }

    /// Changes ignored because max_tracked_queues was reached.
    std::uint64_t untracked_changes() const noexcept { return untracked_changes_; }

    /// Jobs not remembered one by one because max_tracked_jobs was reached.
    std::uint64_t untracked_jobs() const noexcept { return untracked_jobs_; }

    /// The settings in use.
    config const& get_config() const noexcept { return cfg_; }

private:
    // Jobs that finished within one slice of the error-rate window.
    struct outcome_bucket
    {
        std::int64_t index = 0;  // time / bucket width
        std::uint64_t succeeded = 0;
        std::uint64_t failed = 0;
        double duration_sum_ms = 0;
        std::uint64_t durations = 0;
    };

    struct queue_state
    {
        std::uint64_t waiting = 0;
        std::uint64_t delayed = 0;
        std::uint64_t active = 0;
        std::uint64_t completed = 0;
        std::uint64_t failed = 0;
        std::uint64_t cancelled = 0;
        bool paused = false;
        std::optional<queue_counts> broker;  // what the broker counts, when a source reports it
        std::optional<time_point> last_processed;
        std::deque<outcome_bucket> buckets;  // ascending index, within the window
    };

    enum class bucket : std::uint8_t
    {
        none,
        waiting,
        delayed,
        active
    };

    struct running_job
    {
        queue_state* queue;
        time_point last_event;
    };

    duration bucket_width() const noexcept;
    queue_state* find_or_add_queue(std::string_view queue);
    void add_outcome(queue_state& q, job_state after, std::optional<double> duration_ms,
                     time_point t, time_point now);
    static std::uint64_t& counter(queue_state& q, bucket b);

    config cfg_;
    std::map<std::string, queue_state, std::less<>> queues_;  // sorted: reports list queues by name
    // Open addressing: looked up for every event of a running job.
    boost::unordered_flat_map<std::string, running_job, detail::string_hash, detail::string_equal>
        running_;  // by job key
    boost::unordered_flat_set<std::string, detail::string_hash, detail::string_equal>
        delayed_;  // job keys counted in `delayed`
    std::optional<health_report> last_published_;
    last_event_source last_events_;
    std::uint64_t untracked_changes_ = 0;
    std::uint64_t untracked_jobs_ = 0;
    std::string key_buf_;  // reused for job keys
};

}  // namespace jobwatch

#include <jobwatch/monitor/impl/health_core.hpp>

#endif
