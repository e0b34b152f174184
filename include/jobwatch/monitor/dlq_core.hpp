#ifndef JOBWATCH_MONITOR_DLQ_CORE_HPP
#define JOBWATCH_MONITOR_DLQ_CORE_HPP

/** @file
    The logic of the dead-letter monitor, without I/O: the dead-letter list,
    per-queue sliding failure windows with failure_rate alerts, run
    success_rate alerts, attempt timeout alerts, and failure statistics
    grouped by error fingerprint. The `dlq_monitor` component feeds it job
    changes and clock ticks and publishes what it returns to the `alerts`
    room. docs/core.md, "Dead-letter monitor", has the rules in prose.
*/

#include <jobwatch/events/event.hpp>
#include <jobwatch/messages/alert.hpp>
#include <jobwatch/messages/config.hpp>
#include <jobwatch/messages/dead_letter_entry.hpp>
#include <jobwatch/store/job_change.hpp>

#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <limits>
#include <list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace jobwatch {

/** @brief A snapshot of the dead-letter monitor's statistics.

    Everything in it is bounded by the monitor's config. Convert it with
    `boost::json::value_from(stats)` for GET /api/v1/failed/stats.
*/
struct dlq_stats
{
    /// Failures of one queue within its window.
    struct queue_failures
    {
        std::string queue{};                   ///< queue name
        std::uint64_t failures_in_window = 0;  ///< failed attempts within the window ending now
        std::uint64_t threshold = 0;           ///< the queue's effective threshold
        duration window{};                     ///< the queue's effective window
        bool firing = false;                   ///< a failure_rate alert is firing for the queue
    };

    /// One failed attempt, retried or not.
    struct recent_failure
    {
        std::string job_id{};       ///< the job
        std::string queue{};        ///< its queue
        std::string error{};        ///< the error text
        std::string fingerprint{};  ///< `dlq_core::fingerprint(error)`
        std::int64_t attempt = 0;   ///< the attempt that failed
        bool will_retry = false;    ///< another attempt follows
        time_point time{};          ///< the event time of the failure
    };

    /// Failed attempts whose errors share a fingerprint.
    struct fingerprint_group
    {
        std::string fingerprint{};    ///< the masked error text
        std::uint64_t count = 0;      ///< failed attempts with this fingerprint
        std::string example_error{};  ///< the newest error text with this fingerprint
        std::string last_queue{};     ///< the queue of the newest such failure
        time_point last_seen{};       ///< the event time of the newest such failure
    };

    /// Queues with failures in their window or a firing alert, by name.
    std::vector<queue_failures> queues{};
    std::uint64_t total_failures = 0;       ///< failed attempts seen since start
    std::uint64_t total_dead_lettered = 0;  ///< jobs that failed for good since start
    /// Failures left out of windows because max_tracked_queues was reached.
    std::uint64_t untracked_failures = 0;
    /// Attempts not watched for timeouts because max_tracked_jobs was reached.
    std::uint64_t untracked_attempts = 0;
    std::vector<recent_failure> recent_failures{};  ///< newest first
    std::vector<fingerprint_group> fingerprints{};  ///< most frequent first
};

/** @brief Boost.JSON conversion, so `boost::json::value_from(stats)` works.

    Durations are written in milliseconds (`window_ms`), times as RFC 3339.
*/
void tag_invoke(boost::json::value_from_tag, boost::json::value& jv, dlq_stats const& s);

/** @brief Dead-letter monitor logic: a sans-I/O core fed job changes and ticks.

    @li Every accepted failed attempt (`job_change::attempt_failed`, retried or
        not) counts in its queue's sliding window (now - window, now]. When the
        count reaches the queue's threshold, one failure_rate alert fires; it
        stays firing, with no further alerts, until the count falls to the
        resolve level (`threshold × resolve_ratio`, rounded down), when one
        resolved alert with the same id follows.
    @li A job that finishes failed enters the dead-letter list, newest first.
    @li A run whose success rate (succeeded / (succeeded + failed)) falls below
        `run_success_rate_threshold` after `run_min_jobs` such jobs fires a
        success_rate alert, resolved once the rate is back to the threshold
        plus `run_resolve_margin`.
    @li An attempt running longer than its queue's timeout fires one timeout
        alert, resolved when the attempt ends.

    Failures are placed in windows by their event time (never later than
    `now`), so replayed history does not fire alerts for old failures.
    Time-driven outcomes (windows emptying, timeouts, idle runs) happen in
    `tick`; the one exception is a failure that arrives when its queue's
    window has emptied since the last tick, which first resolves the old
    breach.

    @par Thread Safety
    Not thread-safe; call only from the core executor.
*/
class dlq_core
{
public:
    /// Per-queue replacements of the defaults; an empty field keeps the default.
    struct queue_limits
    {
        /// Failures within the window that fire a failure_rate alert.
        std::optional<std::size_t> threshold{};
        std::optional<duration> window{};  ///< length of the failure window
        /// Attempt time limit; 0 disables timeouts for the queue.
        std::optional<duration> timeout{};
    };

    /// Tuning for the dead-letter monitor. Every field has a working default.
    struct config
    {
        /// Failures of one queue within `window` that fire a failure_rate alert; 0 counts as 1.
        std::size_t threshold = 10;
        /// Length of the sliding failure window; 0 counts as 1 ms.
        duration window = std::chrono::minutes{5};
        /// Per-queue overrides, by queue name.
        std::map<std::string, queue_limits, std::less<>> queues{};
        /// A firing failure_rate alert resolves at floor(threshold × resolve_ratio) failures.
        double resolve_ratio = 0.5;
        /// Dead-letter entries kept (the newest); 0 keeps none.
        std::size_t max_entries = 1000;
        /// A run whose success rate falls below this fires a success_rate alert.
        double run_success_rate_threshold = 0.8;
        /// Succeeded + failed jobs a run needs before its success rate is judged.
        std::size_t run_min_jobs = 20;
        /// A success_rate alert resolves when the rate is back to threshold + margin (at most 1).
        double run_resolve_margin = 0.05;
        /// A run with no finished job for this long is forgotten; 0 keeps it until evicted.
        duration run_idle_ttl = std::chrono::hours{1};
        /// An attempt running longer than this fires a timeout alert; 0 disables.
        duration job_timeout = duration{0};
        /// Queues with a failure window at once; further queues' failures count as untracked.
        std::size_t max_tracked_queues = 10'000;
        /// Runs whose success rate is followed; the least recently active is forgotten first.
        std::size_t max_tracked_runs = 10'000;
        /// Running attempts watched for timeouts; further attempts are not watched.
        std::size_t max_tracked_jobs = 100'000;
        /// Fingerprint groups kept; the least recently seen is dropped first.
        std::size_t max_fingerprints = 1000;
        /// Failed attempts kept for `stats().recent_failures`.
        std::size_t max_recent_failures = 100;
        /// Distinct failure times per queue window; beyond, the two oldest merge (counts err high).
        std::size_t max_window_entries = 1000;

        /// The settings of a config file's `dlq` section, other fields at their defaults.
        static config from(dlq_config const& c);
    };

    /// Longest fingerprint, in bytes; longer error texts are grouped by their start.
    static constexpr std::size_t max_fingerprint_bytes = 1024;

    /// Creates the core with default settings.
    dlq_core();

    /// Creates the core with `cfg`.
    explicit dlq_core(config cfg);

    /** @brief Takes in one applied event's effect on a job.

        Counts a failed attempt, dead-letters a job that failed for good,
        starts or ends the timeout watch of an attempt and updates the job's
        run. Returns the alerts this causes, to be published in order:
        failure_rate resolved (a breach that time ended before a tick saw it)
        and firing, timeout resolved, success_rate firing or resolved.
    */
    std::vector<alert> on_change(job_change const& c, time_point now);

    /** @brief Advances time: expires window entries, fires due timeouts, forgets idle runs.

        Returns failure_rate resolved alerts and timeout firing alerts.
    */
    std::vector<alert> tick(time_point now);

    /// The newest `limit` dead-letter entries, newest first.
    std::vector<dead_letter_entry>
    dead_letters(std::size_t limit = std::numeric_limits<std::size_t>::max()) const;

    /// A dead-letter entry and the number of the event that made it.
    struct numbered_dead_letter
    {
        std::uint64_t seq = 0;
        dead_letter_entry const* entry = nullptr;  ///< valid until the next change
    };
    /** @brief Up to `limit` kept entries made by events numbered below
        `before` that `visible` accepts, newest first. */
    std::vector<numbered_dead_letter>
    dead_letters_before(std::uint64_t before, std::size_t limit,
                        std::function<bool(dead_letter_entry const&)> const& visible) const;
    /// The number of the oldest entry kept (0: none kept): older ones are only in durable history.
    std::uint64_t oldest_kept_seq() const noexcept { return dead_letter_seqs_.empty() ? 0 : dead_letter_seqs_.back(); }

    /** @brief Calls `fn(seq, entry)` for every job that fails for good, with
        the number of the event that made it (durable history keeps them). */
    void on_dead_letter(std::function<void(std::uint64_t, dead_letter_entry const&)> fn)
    {
        on_dead_letter_ = std::move(fn);
    }

    /// Failure statistics as of `now` (window counts end at `now`).
    dlq_stats stats(time_point now) const;

    /// Failed attempts of `queue` within its window ending at `now`.
    std::uint64_t failures_in_window(std::string_view queue, time_point now) const;

    /// True while a failure_rate alert is firing for `queue`.
    bool is_firing(std::string_view queue) const;

    /** @brief The error text with variable parts masked, to group similar failures.

        @li A UUID (8-4-4-4-12 hex digits) becomes `<id>`.
        @li A word that is a hex number with a `0x` prefix, or of at least 8 hex
            digits mixing digits and letters (hashes, object ids), becomes `<id>`.
        @li Any other run of decimal digits becomes `#`.
        Everything else is kept, quoted text included, because it usually names
        what went wrong. The result has at most `max_fingerprint_bytes` bytes,
        cut at a UTF-8 character boundary.
    */
    static std::string fingerprint(std::string_view error);

    /// The settings in use.
    config const& get_config() const noexcept { return cfg_; }

    /** @brief Replaces the settings (a runtime change): thresholds, windows
        and limits apply from the next event or tick; what is tracked stays. */
    void set_config(config cfg) { cfg_ = std::move(cfg); }

private:
    struct effective_limits
    {
        std::uint64_t threshold;
        std::uint64_t resolve_at;
        duration window;
        duration timeout;
    };

    struct window_entry
    {
        time_point time;
        std::uint64_t count;
    };

    struct queue_state
    {
        std::deque<window_entry> window;  // ascending time
        std::uint64_t in_window = 0;      // sum of the counts in `window`
        bool firing = false;
        std::string alert_id;
        std::int64_t last_breach_ms = std::numeric_limits<std::int64_t>::min();
        std::string recent_job_id;
        std::string recent_error;
    };

    struct run_state
    {
        std::string key;        // the run's room: runs are per tenant
        std::string run_id;
        std::string tenant_id;  // empty: none
        std::uint64_t succeeded = 0;
        std::uint64_t failed = 0;
        std::uint64_t cancelled = 0;
        time_point last_activity{};
        bool firing = false;
        std::string alert_id;
        std::int64_t last_breach_ms = std::numeric_limits<std::int64_t>::min();
    };

    struct running_attempt;
    using running_map = std::map<std::string, running_attempt, std::less<>>;
    using deadline_map = std::multimap<time_point, running_map::iterator>;

    struct running_attempt
    {
        std::string queue;
        std::string job_id;
        std::string tenant_id;  // empty: none
        std::int64_t attempt = 0;
        time_point started{};
        duration limit{};
        std::optional<deadline_map::iterator> deadline;  // empty once the timeout alert fired
        bool alerted = false;
    };

    struct fingerprint_entry
    {
        std::string fingerprint;
        std::uint64_t count = 0;
        std::string example_error;
        std::string last_queue;
        time_point last_seen{};
    };

    effective_limits limits_for(std::string_view queue) const;
    static std::uint64_t expired_count(queue_state const& q, time_point now, duration window);
    void prune(queue_state& q, time_point now, duration window);
    queue_state* find_or_add_queue(std::string_view queue);
    void record_failure(job_change const& c, std::string_view error, std::string fp, time_point t,
                        time_point now, std::vector<alert>& out);
    void note_fingerprint(std::string fp, std::string_view error, std::string_view queue,
                          time_point t);
    void dead_letter(job_change const& c, std::string_view error, std::string const& fp);
    void track_attempt(job_change const& c, time_point t, time_point now, std::vector<alert>& out);
    void end_attempt(running_map::iterator it, job_change const& c, time_point t, time_point now,
                     std::vector<alert>& out);
    void update_run(job_change const& c, time_point now, std::vector<alert>& out);
    void resolve_if_low(std::string_view name, queue_state& q, effective_limits const& lim,
                        time_point now, std::vector<alert>& out);

    alert failure_rate_alert(std::string_view queue, queue_state const& q,
                             effective_limits const& lim, time_point now,
                             alert_status status) const;

    config cfg_;
    std::map<std::string, queue_state, std::less<>> queues_;
    std::deque<dead_letter_entry> dead_letters_;    // newest first
    std::deque<std::uint64_t> dead_letter_seqs_;    // their events' numbers, alongside
    std::function<void(std::uint64_t, dead_letter_entry const&)> on_dead_letter_;
    std::deque<dlq_stats::recent_failure> recent_;  // newest first
    // Fingerprint groups, most recently seen first; the index views the
    // strings inside the list nodes, which never move.
    std::list<fingerprint_entry> fingerprints_;
    std::unordered_map<std::string_view, std::list<fingerprint_entry>::iterator> fingerprint_index_;
    // Runs, most recently active first; indexed the same way.
    std::list<run_state> runs_;
    std::unordered_map<std::string_view, std::list<run_state>::iterator> run_index_;
    running_map running_;
    deadline_map deadlines_;
    std::uint64_t total_failures_ = 0;
    std::uint64_t total_dead_lettered_ = 0;
    std::uint64_t untracked_failures_ = 0;
    std::uint64_t untracked_attempts_ = 0;
    std::string key_buf_;  // reused for job keys
};

}  // namespace jobwatch

#include <jobwatch/monitor/impl/dlq_core.hpp>

#endif
