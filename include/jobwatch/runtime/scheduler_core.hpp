#ifndef JOBWATCH_RUNTIME_SCHEDULER_CORE_HPP
#define JOBWATCH_RUNTIME_SCHEDULER_CORE_HPP

/** @file
    The scheduler's decisions without I/O: which periodic task is due, that a
    task never overlaps its own previous run, overrun accounting, jitter, and
    per-key tasks that appear with the key they serve (a run becoming active)
    and disappear when the key has been idle long enough. The `scheduler`
    component drives it with a timer; tests drive it with a hand-made clock.
    docs/core.md, "Scheduler", has the rules in prose.
*/

#include <jobwatch/detail/hash.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace jobwatch {

/// What the scheduler counts about one task, or, summed, about a family of per-key tasks.
struct task_metrics
{
    std::uint64_t runs = 0;      ///< runs finished, failed and cancelled ones included
    std::uint64_t overruns = 0;  ///< runs still going when the next run was due (it started late)
    std::uint64_t failures = 0;  ///< runs that ended with an error (cancellation is not one)
    std::chrono::steady_clock::duration last_duration{};   ///< of the latest finished run
    std::chrono::steady_clock::duration max_duration{};    ///< of the longest finished run
    std::chrono::steady_clock::time_point last_started{};  ///< of the latest run; epoch if none
};

/// One named task, as `scheduler_metrics` reports it.
struct task_report
{
    std::string name;                                  ///< as given to `add`
    std::chrono::steady_clock::duration interval{};    ///< nominal time between two starts
    bool running = false;                              ///< a run is in flight
    std::chrono::steady_clock::time_point next_due{};  ///< next run due (if not running)
    task_metrics metrics;                              ///< its counters
};

/// One family of per-key tasks, as `scheduler_metrics` reports it.
struct family_report
{
    std::string name;           ///< as given to `add_family`
    std::size_t keys = 0;       ///< per-key tasks alive now
    std::uint64_t created = 0;  ///< per-key tasks created so far
    std::uint64_t removed = 0;  ///< per-key tasks removed after being idle
    std::uint64_t refused = 0;  ///< touches of new keys refused: `max_keyed_tasks` was reached
    task_metrics metrics;       ///< summed over its tasks, removed ones included
};

/// A snapshot of everything the scheduler counts.
struct scheduler_metrics
{
    std::vector<task_report> tasks;        ///< named tasks, in the order they were added
    std::vector<family_report> families;   ///< families, in the order they were added
    std::size_t keyed_tasks = 0;           ///< per-key tasks alive now, over all families
    std::uint64_t refused_keys = 0;        ///< touches refused: `max_keyed_tasks` was reached
};

/** @brief The scheduler without I/O: next due, no overlap, overruns, jitter,
    per-key tasks and their idle removal. Time is a parameter of every call.

    A task is due at `nominal + jitter draw`, where the nominal times form a
    grid `interval` apart; jitter never accumulates. `due(now)` hands out due
    tasks and marks them running; a running task is never handed out again
    until `finish` is called for it. `finish` moves the task to its next grid
    slot. If that slot (with its jitter) has already passed while the run was
    going, the run is counted as an overrun and the next run is due at once,
    on a grid re-anchored at `now`: missed slots are skipped, never made up in
    a burst.

    Per-key tasks belong to a family (`add_family`): `touch(family, key, now)`
    creates the key's task on first sight, up to `config::max_keyed_tasks`
    over all families (beyond that the touch is refused and counted), and
    otherwise records that the key is still active. A key not touched for the
    family's `idle_timeout` is removed by `expire(now)`, which returns it so
    the owner can clean up; a key whose run is in flight is removed only
    after `finish`, so the owner never cleans up under a running run.

    The driver's loop is: `expire(now)`, then `due(now)` and start what it
    returned, `finish` each run when it ends, and sleep until `next_wakeup()`.

    @par Thread Safety
    None: one thread (the core executor) owns it.
*/
class scheduler_core
{
public:
    using clock = std::chrono::steady_clock;  ///< the scheduler's time is monotonic
    using time_point = clock::time_point;
    using duration = clock::duration;

    /// Identifies a task, named or per-key. Never reused, so a stale id is harmless.
    enum class task_id : std::uint64_t
    {
    };
    /// Identifies a family of per-key tasks.
    enum class family_id : std::uint32_t
    {
    };

    /// Limits and reproducibility.
    struct config
    {
        /// Bound on per-key tasks over all families; touches of new keys beyond it
        /// are refused and counted.
        std::size_t max_keyed_tasks = 10'000;
        /// Seeds every task's jitter draws (mixed with its name): the same seed and
        /// names give the same schedule.
        std::uint64_t seed = 0x6a6f627761746368;  // "jobwatch"
    };

    /// How a named task repeats.
    struct task_options
    {
        /// Nominal time between two starts; must be > 0.
        duration interval = std::chrono::seconds{1};
        /// Each due time is delayed by a uniform draw from [0, jitter]; 0 disables.
        duration jitter{};
        /// The first run is due when added (plus jitter); otherwise one interval later.
        bool immediate = false;
    };

    /// How the per-key tasks of a family repeat and when they go away.
    struct keyed_options
    {
        /// Nominal time between two starts of one key's task; must be > 0.
        duration interval = std::chrono::seconds{1};
        /// Each due time is delayed by a uniform draw from [0, jitter]; 0 disables.
        duration jitter{};
        /// A key not touched for this long is removed (once its run in flight ends); must be > 0.
        duration idle_timeout = std::chrono::minutes{1};
        /// A new key's first run is due at once (plus jitter); otherwise one interval later.
        bool immediate = false;
    };

    /// What `touch` did.
    enum class touch_result
    {
        created,    ///< the key was new: its task exists now
        refreshed,  ///< the key was known: its idle time starts again
        refused,    ///< the key was new, but `max_keyed_tasks` was reached: nothing was created
    };

    /// A key that `expire` removed.
    struct removed_key
    {
        family_id family;  ///< its family
        std::string key;   ///< the key as it was touched
    };

    /// A core with the default config.
    scheduler_core() = default;
    explicit scheduler_core(config cfg) : cfg_(cfg) {}

    /** @brief Adds a named task; its first run is due one interval (or, with
        `immediate`, no time) plus a jitter draw after `now`.
        @throws std::invalid_argument if the name is taken, `interval <= 0` or `jitter < 0`
        (these are programming errors). */
    task_id add(std::string name, task_options const& opts, time_point now);

    /** @brief Adds a family of per-key tasks; keys are created by `touch`.
        @throws std::invalid_argument if the name is taken, `interval <= 0`, `jitter < 0`
        or `idle_timeout <= 0`. */
    family_id add_family(std::string name, keyed_options const& opts);

    /** @brief Marks `key` of family `f` active at `now`, creating its task if
        it is new and `max_keyed_tasks` allows. O(1): one hash lookup for a
        known key, so it may be called for every event.
        @throws std::out_of_range if `f` is not a family of this core. */
    touch_result touch(family_id f, std::string_view key, time_point now);

    /** @brief The earliest time at which `due` or `expire` may have work:
        nullopt when there are no tasks (or all of them are running, and no
        key can expire). It may be early (a key touched since is not removed
        then), never late. */
    std::optional<time_point> next_wakeup() const;

    /** @brief Tasks due at `now`, earliest first, now marked running. Every
        one must be `finish`ed before it can be due again. Call `expire(now)`
        first, so that a key that went idle does not run once more. */
    std::vector<task_id> due(time_point now);

    /** @brief Records the end of a run started at `started`, and schedules
        the next.
        @param failed the run ended with an error (cancellation is not one)
        @return true if the run was an overrun (the next run was already due).
        Unknown ids, and tasks not running, are ignored (returns false). */
    bool finish(task_id id, time_point started, time_point now, bool failed = false);

    /** @brief Changes a task's interval from now on: its next run is due at
        the earlier of the one already planned and `now + interval`.
        @return false for an unknown id or `interval <= 0`. */
    bool set_interval(task_id id, duration interval, time_point now);

    /** @brief Removes the keys idle for at least their family's
        `idle_timeout` at `now` and returns them, in expiry order. A key whose
        run is in flight is removed by the first `expire` after its `finish`. */
    std::vector<removed_key> expire(time_point now);

    /// Whether `id` names a task that still exists.
    bool contains(task_id id) const { return tasks_.contains(raw(id)); }
    /// Whether `id` names a task whose run is in flight.
    bool running(task_id id) const;
    /// The task's name (a per-key task's key). Precondition: `contains(id)`.
    std::string_view name(task_id id) const { return tasks_.at(raw(id)).name; }
    /// The family of a per-key task; nullopt for a named task. Precondition: `contains(id)`.
    std::optional<family_id> family_of(task_id id) const;
    /// The task's counters. Precondition: `contains(id)`.
    task_metrics const& metrics(task_id id) const { return tasks_.at(raw(id)).m; }
    /// When the task's next run is due (meaningless while it runs). Precondition: `contains(id)`.
    time_point next_due(task_id id) const { return tasks_.at(raw(id)).next_due; }
    /// The named task called `name`, if any.
    std::optional<task_id> find(std::string_view name) const;
    /// The task of `key` in family `f`, if the key is alive.
    std::optional<task_id> find(family_id f, std::string_view key) const;
    /// The family called `name`, if any.
    std::optional<family_id> find_family(std::string_view name) const;
    /// The family's name. Precondition: `f` is a family of this core.
    std::string_view family_name(family_id f) const { return families_.at(raw(f)).name; }
    /// Per-key tasks alive now, over all families.
    std::size_t keyed_tasks() const noexcept { return keyed_; }
    /// Tasks in flight.
    std::size_t running_tasks() const noexcept { return running_; }
    /// A snapshot of every counter.
    scheduler_metrics snapshot() const;
    /// The configuration it was built with.
    config const& get_config() const noexcept { return cfg_; }

private:
    static constexpr std::uint32_t no_family = 0xffff'ffff;

    struct task
    {
        std::uint64_t id = 0;
        std::string name;  // a per-key task's key
        std::uint32_t family = no_family;
        duration interval{};
        duration jitter{};
        time_point nominal{};       // the grid slot of the next run
        time_point next_due{};      // nominal plus its jitter draw
        time_point last_touched{};  // per-key tasks only
        std::uint64_t rng = 0;      // splitmix64 state for the jitter draws
        bool running = false;
        bool idle_at_finish = false;  // expired while running: check again at finish
        task_metrics m;
    };


    struct family
    {
        std::string name;
        keyed_options opts;
        std::uint64_t seed = 0;
        std::unordered_map<std::string, task*, detail::string_hash, std::equal_to<>> keys;
        std::uint64_t created = 0;
        std::uint64_t removed = 0;
        std::uint64_t refused = 0;
        task_metrics m;
    };

    // (time, task id): ordered by time, ties by id (the order tasks were added).
    using slot = std::pair<time_point, std::uint64_t>;

    static std::uint64_t raw(task_id id) noexcept { return static_cast<std::uint64_t>(id); }
    static std::uint32_t raw(family_id f) noexcept { return static_cast<std::uint32_t>(f); }

    task& make_task(std::string name, std::uint32_t fam, duration interval, duration jitter,
                    bool immediate, std::uint64_t seed, time_point now);
    static std::uint64_t hash_name(std::string_view s, std::uint64_t h) noexcept;
    static std::uint64_t next_random(std::uint64_t& state) noexcept;
    static duration draw(task& t) noexcept;
    static void record(task_metrics& m, time_point started, duration took, bool overrun,
                       bool failed);

    config cfg_;
    std::uint64_t next_id_ = 1;
    // Node-based: `family::keys` points into it, and the key of a running
    // per-key task is lent to the run as a string_view.
    std::unordered_map<std::uint64_t, task> tasks_;
    std::vector<std::uint64_t> named_;  // named tasks in the order they were added
    std::vector<family> families_;
    std::set<slot> due_;   // exactly one entry per task that is not running
    std::set<slot> idle_;  // one entry per per-key task (none while idle_at_finish);
                           // its time is at or before the key's real expiry
    std::size_t keyed_ = 0;
    std::size_t running_ = 0;
    std::uint64_t refused_ = 0;
};

}  // namespace jobwatch

#include <jobwatch/runtime/impl/scheduler_core.hpp>

#endif
