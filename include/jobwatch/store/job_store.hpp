#ifndef JOBWATCH_STORE_JOB_STORE_HPP
#define JOBWATCH_STORE_JOB_STORE_HPP

/** @file
    The job store: every job's state machine, progress, log lines and
    timestamps, queries with pagination, and bounded retention. A plain class
    with no I/O: the event log feeds it, the scheduler calls `evict(now)`.

    The state machine is described in docs/core.md, "Job state machine", and
    in the table above `job_store::transition` in impl/job_store.hpp.
*/

#include <jobwatch/detail/hash.hpp>
#include <jobwatch/events/event.hpp>
#include <jobwatch/events/rooms.hpp>
#include <jobwatch/messages/job_event.hpp>
#include <jobwatch/messages/job_snapshot.hpp>
#include <jobwatch/store/job_change.hpp>

#include <boost/json/value.hpp>

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace jobwatch {

/** @brief One line of a job's log, as the job store keeps it. */
struct job_log_line
{
    std::uint64_t seq = 0;              ///< sequence number of the job.log event
    time_point time{};                  ///< the event's time
    log_level level = log_level::info;  ///< severity
    std::string message{};              ///< the text
};

/** @brief Filters and page of a job query (`GET /api/v1/jobs`).

    Unset filters match every job; set filters must all match. A name the
    store has never seen (queue, run, ...) matches no job. Runs and users
    belong to a tenant: `run_id` and `user_id` name the run or user of
    `tenant_id` (of no tenant when `tenant_id` is unset). Results are ordered
    newest-updated first: `updated_at` descending, then the sequence number of
    the job's last applied event descending, so the order is total and
    deterministic.
*/
struct job_query
{
    std::optional<job_state> status{};       ///< only jobs in this state
    std::optional<std::string> queue{};      ///< only jobs of this queue
    std::optional<std::string> run_id{};     ///< only jobs of this run of `tenant_id` (indexed)
    std::optional<std::string> tenant_id{};  ///< only jobs of this tenant
    std::optional<std::string> user_id{};    ///< only jobs of this user of `tenant_id`
    std::optional<std::string> job_type{};   ///< only jobs of this category
    std::optional<time_point> since{};       ///< only jobs updated at or after this time (inclusive)
    std::optional<time_point> until{};       ///< only jobs updated before this time (exclusive)
    std::size_t offset = 0;                  ///< matching jobs to skip
    std::size_t limit = 50;                  ///< page size; capped at `job_store::max_page_size`
};

/** @brief One page of a job query. */
struct job_page
{
    std::vector<job_snapshot> items{};  ///< the page, newest-updated first
    std::size_t total = 0;              ///< how many jobs matched in all, before paging
    std::size_t offset = 0;             ///< the offset applied
    std::size_t limit = 0;              ///< the limit applied, after capping
};

class job_store;

namespace detail {

/// Slot number of a record, or of nothing.
using job_slot = std::uint32_t;
/// No slot: end of a list, or not found.
inline constexpr job_slot no_slot = std::numeric_limits<job_slot>::max();

/** @brief Interned strings with reference counts.

    Queues, runs, tenants, users and job types repeat across many jobs, so a
    job keeps a 4-byte id per field. A name is freed when its last job goes,
    so however many runs come and go, the table holds only live names. Id 0
    is "none". Each entry also carries the head and tail of an intrusive list
    of its jobs, used for the run index.
*/
class symbol_table
{
public:
    /// The "no value" id.
    static constexpr std::uint32_t none = 0;

    /// The id of `name`, or `none` when no job uses it.
    std::uint32_t find(std::string_view name) const;
    /// Interns `name` (if new) and adds a reference.
    std::uint32_t acquire(std::string_view name);
    /// Drops a reference; the name is freed with its last one. `none` is ignored.
    void release(std::uint32_t id) noexcept;
    /// The text of `id`; empty for `none`.
    std::string_view name(std::uint32_t id) const noexcept;
    /// How many jobs use `id`.
    std::uint32_t refs(std::uint32_t id) const noexcept { return entries_[id].refs; }
    /// How many distinct names are live.
    std::size_t size() const noexcept { return ids_.size(); }
    /// First job of the list of `id`'s jobs.
    job_slot& head(std::uint32_t id) noexcept { return entries_[id].head; }
    job_slot head(std::uint32_t id) const noexcept { return entries_[id].head; }
    /// Last job of the list of `id`'s jobs.
    job_slot& tail(std::uint32_t id) noexcept { return entries_[id].tail; }

private:
    struct entry
    {
        std::string const* name = nullptr;  // the key of its node in ids_ (stable)
        std::uint32_t refs = 0;
        job_slot head = no_slot;
        job_slot tail = no_slot;
    };
    std::unordered_map<std::string, std::uint32_t, string_hash, std::equal_to<>> ids_;
    std::vector<entry> entries_ = std::vector<entry>(1);  // [0] is `none`
    std::vector<std::uint32_t> free_;
};

/** @brief A bounded ring of log lines: oldest dropped first, by count and by bytes. */
class log_ring
{
public:
    /// Appends a line; returns how many old lines were dropped to make room.
    std::size_t push(std::uint64_t seq, time_point time, log_level level, std::string_view message,
                     std::size_t max_lines, std::size_t max_bytes);
    /// Lines with `seq > since_seq`, oldest first, at most `limit`.
    std::vector<job_log_line> read(std::uint64_t since_seq, std::size_t limit) const;
    /// Lines held.
    std::size_t size() const noexcept { return count_; }

private:
    void drop_oldest() noexcept;

    std::vector<job_log_line> buf_;  // grows to at most max_lines
    std::size_t head_ = 0;           // oldest line
    std::size_t count_ = 0;
    std::size_t bytes_ = 0;          // sum of the held messages' sizes
};

/** @brief A job id kept inside its record when it is short (39 bytes or
    less, UUIDs included), so that a lookup compares it without another cache
    miss; longer ids go to the heap. 40 bytes. */
class compact_id
{
public:
    /// The longest id kept inline.
    static constexpr std::size_t inline_capacity = 39;

    compact_id() noexcept = default;
    compact_id(compact_id const&) = delete;
    compact_id& operator=(compact_id const&) = delete;
    compact_id(compact_id&& other) noexcept { steal(other); }
    compact_id& operator=(compact_id&& other) noexcept
    {
        if (this != &other) {
            release();
            steal(other);
        }
        return *this;
    }
    ~compact_id() { release(); }

    /// The id.
    std::string_view view() const noexcept
    {
        auto const n = static_cast<unsigned char>(buf_[inline_capacity]);
        if (n != on_heap)
            return {buf_, n};
        char const* p = nullptr;
        std::size_t len = 0;
        std::memcpy(&p, buf_, sizeof p);
        std::memcpy(&len, buf_ + sizeof p, sizeof len);
        return {p, len};
    }
    /// Replaces the id.
    void assign(std::string_view s);

private:
    static constexpr unsigned char on_heap = 0xff;
    void release() noexcept;
    void steal(compact_id& other) noexcept;

    // Inline: the characters, and their count in the last byte. On the heap:
    // pointer and length at the front, `on_heap` in the last byte.
    alignas(8) char buf_[inline_capacity + 1] = {};
};


/// What some jobs have, kept out of the record: progress words and counters,
/// the last error, the result and the log. Small (about 120 bytes), since
/// every failed job has one for its error.
struct job_extras
{
    std::string step;                           // when has_step
    std::string last_error;                     // empty: none
    // Flat, in key order: one block to touch per progress, not a node per key.
    std::vector<std::pair<std::string, std::int64_t>> counters;  // when has_counters
    std::unique_ptr<boost::json::value> result;
    std::unique_ptr<log_ring> logs;
    bool has_step = false;
    bool has_counters = false;
};

}  // namespace detail

/** @brief One job as the store keeps it: a compact record, read through
    accessors or turned into a `job_snapshot` by `job_store::snapshot`.

    A job is identified by its tenant and its id: two tenants may use the
    same job id for two different jobs.

    Timestamps are event times (`logged_event::time`).

    @par Thread Safety
    Like the store that owns it.
*/
class alignas(64) job_record
{
public:
    /// Records live in the store's chunks; only the store fills them.
    job_record() = default;

    /// The job's id (unique within its tenant).
    std::string_view job_id() const noexcept { return job_id_.view(); }
    /// The job's rooms (job, queue, run, tenant, user), fixed by its first event.
    std::shared_ptr<job_rooms const> const& rooms() const noexcept { return rooms_; }
    /// The job's tenant; empty when it has none.
    std::string_view tenant_id() const noexcept { return rooms_->tenant_id(); }
    /// Where the job is in its life cycle.
    job_state state() const noexcept { return static_cast<job_state>(state_); }
    /// The current or last attempt number; 0 while the job has not started.
    std::int64_t attempt() const noexcept { return attempt_; }
    /// Sequence number of the last event applied to the job.
    std::uint64_t seq() const noexcept { return seq_; }
    /// The latest event time among the events applied to the job.
    time_point updated_at() const noexcept { return time_point{duration{updated_ms_}}; }
    /// When the job was queued, if a job.queued was seen.
    std::optional<time_point> queued_at() const noexcept { return to_time(queued_ms_); }
    /// When the current or last attempt started, if its job.started was seen.
    std::optional<time_point> started_at() const noexcept { return to_time(started_ms_); }
    /// When the job reached its terminal state.
    std::optional<time_point> finished_at() const noexcept { return to_time(finished_ms_); }
    /// The latest reported completion in percent (0 until reported).
    double percent() const noexcept { return percent_; }

private:
    friend class job_store;

    static constexpr std::int64_t unknown = std::numeric_limits<std::int64_t>::min();
    static std::optional<time_point> to_time(std::int64_t ms) noexcept
    {
        if (ms == unknown)
            return std::nullopt;
        return time_point{duration{ms}};
    }

    // Laid out in cache lines. Line 0, read by every lookup and query scan:
    // the id, state and symbols. Line 1, written by every progress: times,
    // seq and progress. Line 2, touched on transitions: lists and timestamps.
    detail::compact_id job_id_;  // 40 bytes
    std::uint8_t state_ = 0xff;  // a job_state, or job_store::state_none (0xff) while free
    std::uint8_t flags_ = 0;     // job_store::flag_*
    std::uint16_t attempt_ = 0;
    std::uint16_t max_attempts_ = 0;  // 0: unknown
    std::uint32_t queue_ = 0;         // symbols; 0: none
    std::uint32_t run_ = 0;
    std::uint32_t tenant_ = 0;
    std::uint32_t user_ = 0;

    std::uint32_t type_ = 0;
    std::int64_t updated_ms_ = unknown;
    std::uint64_t seq_ = 0;
    std::int64_t progress_ms_ = unknown;  // time of the last progress applied
    double percent_ = 0;
    std::int64_t current_ = -1;  // -1: not reported
    std::int64_t total_ = -1;
    std::unique_ptr<detail::job_extras> extras_;  // only when one of its fields is set

    // Intrusive lists: the state list (queued, running or finished FIFO; the
    // free list while unused) and the run list.
    detail::job_slot prev_ = detail::no_slot;
    detail::job_slot next_ = detail::no_slot;
    detail::job_slot run_prev_ = detail::no_slot;
    detail::job_slot run_next_ = detail::no_slot;
    // Milliseconds since the epoch, `unknown` when not seen.
    std::int64_t queued_ms_ = unknown;
    std::int64_t started_ms_ = unknown;
    std::int64_t finished_ms_ = unknown;
    std::int64_t wait_ms_ = unknown;
    std::shared_ptr<job_rooms const> rooms_;  // shared with every event of the job
};

/** @brief Every job's state, progress, logs and timestamps, with queries and
    bounded retention.

    `apply` runs the state machine queued → running → succeeded | failed |
    cancelled with attempts and retries (docs/core.md, "Job state machine").
    Terminal states are sticky; duplicate, late and out-of-order events never
    corrupt a job nor double-count, and each one is counted in `counters()`.
    Memory is bounded: `max_jobs` caps all jobs, `evict(now)` caps finished
    jobs by count and age, and each job's log is a bounded ring.

    A progress event for an existing job costs one hash lookup and a few field
    writes; it allocates only when its step text outgrows the previous one or
    its counters change keys.

    @par Thread Safety
    Not thread-safe: call only from the core executor.
*/
class job_store
{
public:
    /// A log line of a job.
    using log_line = job_log_line;

    /// Limits of the store. Every field has a working default.
    struct config
    {
        /// Finished jobs kept; `evict` drops the oldest beyond it (0 keeps none).
        std::size_t max_finished_jobs = 100'000;
        /// Finished jobs older than this (by finish time) are dropped by `evict`.
        duration finished_ttl = std::chrono::hours{1};
        /// Log lines kept per job; older lines are dropped (0 keeps no log).
        std::size_t max_log_lines_per_job = 200;
        /// Log bytes (message text) kept per job; older lines are dropped, the newest is always kept.
        std::size_t max_log_bytes_per_job = 64 * 1024;
        /// A job.completed result larger than this, serialized, is dropped and counted.
        std::size_t max_result_bytes = 4096;
        /// Hard bound on all jobs: when full, the oldest finished job is evicted, and if there
        /// is none a new job is refused and counted (0 refuses every job).
        std::size_t max_jobs = 1'000'000;
    };

    /// What the store did with the events it was given. Every `apply` bumps
    /// exactly one of `applied`, `duplicates`, `stale`, `after_terminal` and
    /// `refused_full`; the others count details.
    struct stats
    {
        std::uint64_t applied = 0;               ///< events that changed a job (a change was returned)
        std::uint64_t duplicates = 0;            ///< ignored: repeats what the job already knows
        std::uint64_t stale = 0;                 ///< ignored: about an older attempt or phase, or an older progress
        std::uint64_t after_terminal = 0;        ///< ignored: the job had finished (logs excepted)
        std::uint64_t created_out_of_order = 0;  ///< jobs first seen through an event other than job.queued
        std::uint64_t implied_starts = 0;        ///< queued jobs moved to running by a job.progress
        std::uint64_t refused_full = 0;          ///< new jobs refused: `max_jobs` reached and nothing to evict
        std::uint64_t evicted = 0;               ///< finished jobs removed (by `evict` or to make room)
        std::uint64_t results_dropped = 0;       ///< job.completed results over `max_result_bytes`
        std::uint64_t log_lines_dropped = 0;     ///< log lines dropped by a full ring (or a disabled log)
    };

    /// The largest page `query` returns.
    static constexpr std::size_t max_page_size = 100;

    /// A store with the default limits.
    job_store();
    /// A store with the given limits.
    explicit job_store(config cfg);

    /** @brief Applies one event to its job.

        Returns what changed, or nullopt when the event changed nothing (it is
        then counted as a duplicate, stale, after a terminal state, or refused
        because the store is full). job.progress and job.log to a running job
        return a change with `before == after`. The change's views are valid
        until the next call that modifies the store.
    */
    std::optional<job_change> apply(logged_event const& ev);

    /** @brief Removes finished jobs older than `now - finished_ttl`, and the
        oldest finished jobs beyond `max_finished_jobs`.

        Finished jobs are kept in the order their terminal event arrived and
        removed from the front, so the cost is O(jobs removed); a job that
        finished with an older time than the one in front waits behind it.
        Returns how many jobs were removed.
    */
    std::size_t evict(time_point now);

    /// The job `job_id` of `tenant` (empty: of no tenant), or nullptr. Valid
    /// until the next call that modifies the store.
    job_record const* find(std::string_view tenant, std::string_view job_id) const noexcept;

    /// A job looked up by id alone (`find_any`).
    struct any_match
    {
        job_record const* job = nullptr;  ///< the one job with the id, when exactly one
        std::size_t count = 0;            ///< jobs with that id, over all tenants (0, 1, or 2 for "several")
    };
    /** @brief The job with id `job_id` in whatever tenant, when exactly one
        tenant has such a job. Used where an event or an administrator names a
        job without its tenant. */
    any_match find_any(std::string_view job_id) const noexcept;

    /// The job as the generated `job_snapshot` (wire and REST form).
    job_snapshot snapshot(job_record const& job) const;

    /// Log lines of a job with `seq > since_seq`, oldest first, at most `limit`.
    std::vector<log_line> logs(job_record const& job, std::uint64_t since_seq, std::size_t limit) const;

    /** @brief Jobs matching `q`, newest-updated first, one page of them, with the total.

        A `run_id` filter walks that run's jobs only, a `status` filter that
        state's list, whichever is shorter; other filters scan all jobs.
    */
    job_page query(job_query const& q) const;

    /// The best `keep` matches of a query, newest-updated first, and how many matched in all.
    struct selection
    {
        std::vector<job_record const*> jobs{};  ///< valid until the next call that modifies the store
        std::size_t total = 0;
    };
    /** @brief What `query` pages from (its filters; `offset` and `limit`
        ignored): the first `keep` matching jobs in its order, and the count. */
    selection select(job_query const& q, std::size_t keep) const;

    /** @brief Calls `fn` with each finished job just before the store drops it
        (retention, or room for a new job): durable history keeps it. */
    void on_evict(std::function<void(job_record const&)> fn) { on_evict_ = std::move(fn); }

    /// Jobs held, finished or not.
    std::size_t size() const noexcept { return size_; }
    /// Jobs in state running.
    std::size_t running_count() const noexcept { return lists_[list_running].count; }
    /// Jobs in state queued (new, or waiting for a retry).
    std::size_t queued_count() const noexcept { return lists_[list_queued].count; }
    /// Jobs in a terminal state.
    std::size_t finished_count() const noexcept { return lists_[list_finished].count; }

    /** @brief Calls `f(job_id, queue, started_at, last_event_time)` for each
        running job, in the order they started running.

        `job_id` and `queue` are `std::string_view`, `started_at` a
        `std::optional<time_point>` (nullopt when the start was implied by a
        progress or log), `last_event_time` a `time_point` (`updated_at`).
        `f` must not modify the store.
    */
    template<class F>
    void for_each_running(F&& f) const;

    /// What the store did with the events so far.
    stats const& counters() const noexcept { return stats_; }
    /// The limits in use.
    config const& get_config() const noexcept { return cfg_; }

private:
    // job_record::state_ of a free slot, and of a new job before its first transition.
    static constexpr std::uint8_t state_none = 0xff;
    // job_record::flags_
    static constexpr std::uint8_t flag_started = 1;       // a job.started was seen for `attempt`
    static constexpr std::uint8_t flag_failed = 2;        // a job.failed was accepted for `attempt`
    static constexpr std::uint8_t flag_retry = 4;         // a retry of `attempt` is scheduled
    static constexpr std::uint8_t flag_ever_started = 8;  // some job.started was seen (wait is measured once)
    static constexpr std::uint8_t flag_timed = 16;        // finished from a seen start: duration is known

    enum list_id : std::uint8_t { list_queued, list_running, list_finished, list_none };
    struct list
    {
        detail::job_slot head = detail::no_slot;
        detail::job_slot tail = detail::no_slot;
        std::size_t count = 0;
    };
    struct index_entry
    {
        std::uint32_t tag = 0;  // low 32 bits of the id's hash: home bucket and quick check
        std::uint32_t ref = 0;  // slot + 1; 0 is empty
    };
    enum class verdict { applied, duplicate, stale, after_terminal };
    struct effects;

    static constexpr std::size_t chunk_bits = 10;
    static constexpr std::size_t chunk_size = std::size_t{1} << chunk_bits;

    job_record& rec(detail::job_slot s) noexcept { return chunks_[s >> chunk_bits][s & (chunk_size - 1)]; }
    job_record const& rec(detail::job_slot s) const noexcept
    {
        return chunks_[s >> chunk_bits][s & (chunk_size - 1)];
    }
    std::uint64_t hash_of(std::string_view id) const noexcept { return detail::hash_string(id, seed_); }
    static list_id list_of(std::uint8_t state) noexcept;

    detail::job_slot index_find(std::string_view tenant, std::string_view id, std::uint64_t h) const noexcept;
    void index_insert(detail::job_slot s, std::uint64_t h);
    void index_erase(detail::job_slot s, std::uint64_t h) noexcept;
    void index_grow();

    detail::job_slot allocate();
    void remove(detail::job_slot s) noexcept;
    void link(list& l, detail::job_slot s) noexcept;
    void unlink(list& l, detail::job_slot s) noexcept;
    void link_run(detail::job_slot s) noexcept;
    void unlink_run(detail::job_slot s) noexcept;
    void set_state(detail::job_slot s, job_state to) noexcept;

    detail::job_extras& extras(job_record& r);
    void fill_blanks(detail::job_slot s, job_event const& ev, std::int64_t t, bool is_new);
    /// A run's or user's symbol key: `tenant/id`, or `id` without a tenant.
    std::string_view scoped_key(std::string_view tenant, std::string_view id) const;
    void apply_progress(job_record& r, job_progress const& p, std::int64_t t);
    void push_log(job_record& r, logged_event const& ev, job_log const& l);
    void push_log(job_record& r, logged_event const& ev, log_level level, std::string_view message);
    void apply_user_progress(job_record& r, user_event const& u, std::int64_t t);
    verdict transition_user(detail::job_slot s, logged_event const& ev, user_event const& u);
    void keep_result(job_record& r, job_completed const& c);
    void begin_attempt(job_record& r, std::int64_t n) noexcept;
    void finish(detail::job_slot s, job_state to, std::int64_t t, bool timed, effects& fx) noexcept;
    verdict transition(detail::job_slot s, logged_event const& ev, effects& fx);

    void evicted(detail::job_slot s) const
    {
        if (on_evict_)
            on_evict_(rec(s));
    }

    config cfg_;
    stats stats_;
    std::function<void(job_record const&)> on_evict_;
    std::uint64_t seed_;  // of hash_of
    std::vector<std::unique_ptr<job_record[]>> chunks_;  // records never move: find() pointers stay valid
    detail::job_slot high_water_ = 0;                    // slots ever handed out
    detail::job_slot free_head_ = detail::no_slot;       // free slots, linked through next_
    std::size_t size_ = 0;
    std::vector<index_entry> index_;  // open addressing, linear probing, power-of-two size
    list lists_[3];
    detail::symbol_table queues_, runs_, tenants_, users_, types_;  // runs_ and users_ keyed `tenant/id`
    mutable std::string key_;  // scratch for scoped_key
#ifndef NDEBUG
    mutable int iterating_ = 0;  // for_each_running callbacks must not modify the store
#endif
};

template<class F>
void job_store::for_each_running(F&& f) const
{
#ifndef NDEBUG
    ++iterating_;
#endif
    for (auto s = lists_[list_running].head; s != detail::no_slot;) {
        auto const& r = rec(s);
        s = r.next_;
        f(r.job_id_.view(), queues_.name(r.queue_), r.started_at(), r.updated_at());
    }
#ifndef NDEBUG
    --iterating_;
#endif
}

}  // namespace jobwatch

#include <jobwatch/store/impl/job_store.hpp>

#endif
