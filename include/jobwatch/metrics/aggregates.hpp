#ifndef JOBWATCH_METRICS_AGGREGATES_HPP
#define JOBWATCH_METRICS_AGGREGATES_HPP

/** @file
    The aggregator's logic without I/O: metrics per run, queue, tenant, user
    and overall, kept up to date one job change at a time, and the set of
    scopes whose summary changed since the last tick.
*/

#include <jobwatch/detail/hash.hpp>
#include <jobwatch/events/event.hpp>
#include <jobwatch/messages/summary.hpp>
#include <jobwatch/metrics/histogram.hpp>
#include <jobwatch/metrics/rate_window.hpp>
#include <jobwatch/store/job_change.hpp>

#include <algorithm>
#include <array>
#include <cassert>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace jobwatch {

namespace detail::metrics {

/// The counter of state `s` in `c`.
inline std::int64_t& slot(state_counts& c, job_state s) noexcept
{
    switch (s) {
    case job_state::queued: return c.queued;
    case job_state::running: return c.running;
    case job_state::succeeded: return c.succeeded;
    case job_state::failed: return c.failed;
    case job_state::cancelled: return c.cancelled;
    }
    return c.queued;  // unreachable: job_state has no other value
}

/** @brief Moves one job from `before` (nullopt: a new job) to `after`.

    A job the counts never saw (its scope was created after the job began,
    see `aggregates`) is adopted: when nothing is left to decrement, the job
    is counted as new instead, so counts stay non-negative and `total` stays
    the sum of the states.
*/
inline void move_job(state_counts& c, std::optional<job_state> before, job_state after) noexcept
{
    if (before && slot(c, *before) > 0)
        --slot(c, *before);
    else
        ++c.total;
    ++slot(c, after);
}

/// Adds `from` to `to`, state by state.
inline void add_counts(state_counts& to, state_counts const& from) noexcept
{
    to.total += from.total;
    to.queued += from.queued;
    to.running += from.running;
    to.succeeded += from.succeeded;
    to.failed += from.failed;
    to.cancelled += from.cancelled;
}

/// True when `v` is set and a histogram would count it.
inline bool measurable(std::optional<double> const& v) noexcept
{
    return v && std::isfinite(*v);
}

/// Count, mean, p50/p95/p99 and max of `h`, as the summary shows them.
inline latency_stats stats_of(log_histogram const& h)
{
    static constexpr std::array<double, 3> qs{0.50, 0.95, 0.99};
    std::array<double, 3> p{};
    h.quantiles(qs, p);
    return latency_stats{
        .count = static_cast<std::int64_t>(h.count()),
        .avg_ms = h.mean(),
        .p50_ms = p[0],
        .p95_ms = p[1],
        .p99_ms = p[2],
        .max_ms = h.max(),
    };
}

}  // namespace detail::metrics

/** @brief The metrics of one scope (a run, a queue, a tenant, a user, or all
    jobs): everything its summary shows, and nothing per job.

    @par Thread Safety
    Distinct objects: safe. Shared objects: unsafe.
*/
struct scope_metrics
{
    /// Jobs by state, per queue name.
    using queue_map = std::unordered_map<std::string, state_counts, detail::string_hash, std::equal_to<>>;

    state_counts counts;      ///< jobs by state; `total` is every job seen
    queue_map by_queue;       ///< `counts`, broken down by queue
    std::int64_t executions = 0;  ///< attempts started, retries included
    log_histogram latency;    ///< run time of finished jobs (`job_change::duration_ms`)
    log_histogram wait;       ///< time from queued to first start (`job_change::wait_ms`)
    rate_window finished;     ///< jobs finished, for the throughput

    /// succeeded / (succeeded + failed + cancelled); 0 while no job has finished.
    double success_rate() const noexcept
    {
        auto const done = counts.succeeded + counts.failed + counts.cancelled;
        return done == 0 ? 0.0 : static_cast<double>(counts.succeeded) / static_cast<double>(done);
    }

    /// Jobs finished per second over the minute and the five minutes ending at `now`.
    throughput rates(time_point now) const noexcept
    {
        return throughput{.per_second_1m = finished.per_second_1m(now),
                          .per_second_5m = finished.per_second_5m(now)};
    }

    /// True while some job of the scope is queued or running.
    bool has_active_jobs() const noexcept { return counts.queued + counts.running > 0; }

    /** @brief Adds `other`'s metrics: counts, executions, histograms (bucket by
        bucket) and throughput windows (slot by slot) are exactly those of
        the union of both scopes' jobs, provided no job was in both. */
    void merge(scope_metrics const& other)
    {
        detail::metrics::add_counts(counts, other.counts);
        for (auto const& [queue, c] : other.by_queue)
            detail::metrics::add_counts(by_queue[queue], c);
        executions += other.executions;
        latency.merge(other.latency);
        wait.merge(other.wait);
        finished.merge(other.finished);
    }
};

/** @brief Incremental metrics per run, queue, tenant, user and overall, and
    which of their summaries changed since the last tick.

    A scope is named after its room (`run:r1`, `queue:emails`, `tenant:t1`,
    `user:u1`, built with `jobwatch::rooms`), or `all` for every job. Each
    `job_change` from the job store updates the scopes of its job in O(1):
    the overall scope, its queue's, and its run's, tenant's and user's when
    set. Nothing is ever recomputed from the jobs, and no job is stored here.

    What marks a scope dirty is exactly what changes its summary: a new job or
    a state transition (counts, `by_queue`, success rate), an attempt started
    (executions), a run time or a wait (histograms), a job finished
    (throughput). A `job.progress` or `job.log` on a running job, and any
    duplicate or late event the store applied as a no-op, change nothing a
    summary shows and return after a few comparisons, touching no scope.

    Throughput changes with time alone. Every scope that had a job finish in
    the last five minutes is kept in a list; `take_dirty` re-checks only
    those and marks the ones whose rates at `now` differ from the rates last
    handed out, so a tick costs O(scopes changed + scopes with a recent
    completion), never O(scopes) or O(jobs).

    Bounds: at most `config::max_scopes` scopes (new ones beyond are refused
    and counted in `stats()`), at most `config::max_queues_per_scope` entries
    in one `by_queue`, and per scope two histograms of at most
    `log_histogram::max_buckets` buckets and one 480-byte `rate_window`.
    `evict_idle` frees the scopes that saw no change for
    `config::idle_scope_ttl` and have no queued or running job; if such a
    room gets a job again, its metrics start from zero.

    Contract with the job store: a job's queue is that of its first event,
    but its run, tenant and user may be filled in by a later event, and a
    `job_change` does not say so. A scope that missed a job's beginning (its
    creation was refused, it was evicted, or the job joined it late) adopts
    the job on its next transition: when the `before` count is already zero
    the job counts as new. Counts never go negative and `total` stays the
    sum of the states; after a late join they are exact again once the jobs
    involved have finished (docs/core.md, "Aggregation").

    @par Thread Safety
    Call only from the core executor; no member is thread-safe.
*/
class aggregates
{
public:
    /// Bounds and retention. Every field has a working default.
    struct config
    {
        /// Most scopes held, `all` included; a new scope beyond it is not created.
        std::size_t max_scopes = 100'000;
        /// `evict_idle` drops a scope unchanged this long with no queued or running
        /// job; zero or negative disables eviction.
        duration idle_scope_ttl = std::chrono::hours{1};
        /// Most queues in one scope's `by_queue`; jobs of further queues still count
        /// in the scope's `counts`, but get no `by_queue` entry.
        std::size_t max_queues_per_scope = 1'000;
    };

    /// What was refused or dropped to stay within the bounds.
    struct statistics
    {
        std::uint64_t scopes_refused = 0;  ///< scopes not created: `max_scopes` reached
        std::uint64_t queues_refused = 0;  ///< `by_queue` entries not created: `max_queues_per_scope` reached
        std::uint64_t scopes_evicted = 0;  ///< scopes removed by `evict_idle`
    };

    /// Name of the scope of every job.
    static constexpr std::string_view overall = "all";

    /** @brief Starts with the `all` scope only, with the default bounds. */
    aggregates() : aggregates(config{}) {}

    /** @brief Starts with the `all` scope only. */
    explicit aggregates(config cfg)
        : cfg_(cfg)
    {
        auto const it = scopes_.try_emplace(std::string(overall)).first;
        it->second.name = it->first;
        all_ = &it->second;
    }

    // Scopes are referred to by address (dirty list, throughput list).
    aggregates(aggregates const&) = delete;
    aggregates& operator=(aggregates const&) = delete;

    /** @brief Applies what one event did to one job, seen at `now`, to every
        scope of the job, and marks the scopes whose summary changed.

        O(1): at most five scope look-ups, none when nothing a summary shows
        changed. Throughput counts the job at the event's time
        (`c.cause.time`), clamped to `now`.
    */
    void on_change(job_change const& c, time_point now);

    /** @brief Calls `f(std::string_view scope)` for every scope whose summary
        changed since the last call, and forgets them.

        First re-checks the throughput of the scopes with a recent completion
        (see the class description). O(scopes changed + scopes with a recent
        completion). `f` may call `summary_of` and `find`; it must not call
        `on_change`, `merge` or `evict_idle`.
    */
    template<class F>
    void take_dirty(time_point now, F&& f);

    /** @brief The names of the scopes whose summary changed since the last
        call; see the callback form. */
    std::vector<std::string> take_dirty(time_point now)
    {
        std::vector<std::string> out;
        out.reserve(dirty_.size());
        take_dirty(now, [&](std::string_view scope) { out.emplace_back(scope); });
        return out;
    }

    /** @brief The summary of `scope` at `now`: the message published to its
        room and the snapshot sent on subscribe. A scope with no job yet (or
        evicted) gets a summary of zeros. O(queues in the scope + histogram
        buckets). */
    summary summary_of(std::string_view scope, time_point now) const;

    /// The metrics of `scope`; null when no job of it was seen (or it was evicted).
    scope_metrics const* find(std::string_view scope) const noexcept
    {
        auto const it = scopes_.find(scope);
        return it == scopes_.end() ? nullptr : &it->second.metrics;
    }

    /// Calls `f(std::string_view scope, scope_metrics const&)` for every scope, in no order.
    template<class F>
    void for_each_scope(F&& f) const
    {
        for (auto const& [name, e] : scopes_)
            f(std::string_view{name}, e.metrics);
    }

    /** @brief Adds another instance's metrics, scope by scope (see
        `scope_metrics::merge`), and marks every merged scope dirty. Exact
        when the two instances saw disjoint sets of jobs. */
    void merge(aggregates const& other);

    /** @brief Removes the scopes that saw no change for
        `config::idle_scope_ttl` before `now` and have no queued or running
        job, are not waiting to be published and had no completion in the
        throughput windows; `all` is never removed. O(scopes): run it from a
        periodic task, not per event. Returns how many were removed. */
    std::size_t evict_idle(time_point now);

    /// Number of scopes held, `all` included.
    std::size_t scope_count() const noexcept { return scopes_.size(); }

    /// What the bounds refused or dropped so far.
    statistics const& stats() const noexcept { return stats_; }

    /// The configuration in use.
    config const& get_config() const noexcept { return cfg_; }

private:
    struct entry
    {
        scope_metrics metrics;
        std::string_view name;      // the map's key; nodes never move
        time_point last_change{};   // for evict_idle
        throughput published{};     // rates handed out by the last take_dirty
        bool dirty = false;         // in dirty_
        bool rate_active = false;   // in rate_active_
    };
    using scope_map = std::unordered_map<std::string, entry, detail::string_hash, std::equal_to<>>;

    /// What one change does to each of its scopes, worked out once.
    struct delta
    {
        job_change const& change;
        bool moved;                       // a new job or a new state
        log_histogram::prepared latency;  // not `valid` when none
        log_histogram::prepared wait;
    };

    void update(entry& e, delta const& d, time_point now);
    entry* find_or_create(std::string_view name);
    void fill(summary& s, scope_metrics const& m, time_point now) const;

    void mark_dirty(entry& e)
    {
        if (!e.dirty) {
            e.dirty = true;
            dirty_.push_back(&e);
        }
    }
    void mark_rate_active(entry& e)
    {
        if (!e.rate_active) {
            e.rate_active = true;
            rate_active_.push_back(&e);
        }
    }
    void refresh_rates(time_point now);

    config cfg_;
    scope_map scopes_;
    entry* all_ = nullptr;
    std::vector<entry*> dirty_;        // each scope once (entry::dirty)
    std::vector<entry*> rate_active_;  // each scope once (entry::rate_active)
    statistics stats_;
};

// ---------------------------------------------------------------------------
// Implementation

inline void aggregates::on_change(job_change const& c, time_point now)
{
    bool const moved = !c.before || *c.before != c.after;
    // The hot path (progress and log lines of running jobs, duplicates):
    // nothing a summary shows changes, so no scope is even looked up.
    if (!moved && !c.attempt_started && !c.finished && !detail::metrics::measurable(c.duration_ms) &&
        !detail::metrics::measurable(c.wait_ms))
        return;
    // One std::log per value, not one per scope.
    delta const d{
        .change = c,
        .moved = moved,
        .latency = c.duration_ms ? log_histogram::prepare(*c.duration_ms) : log_histogram::prepared{},
        .wait = c.wait_ms ? log_histogram::prepare(*c.wait_ms) : log_histogram::prepared{},
    };
    update(*all_, d, now);
    // The job's rooms but its own: queue, run, tenant, user (one place decides them: job_rooms).
    assert(c.rooms && "a job_change names its job's rooms");
    auto const& rooms = *c.rooms;
    for (std::size_t i = 1; i < rooms.size(); ++i)
        if (auto* e = find_or_create(rooms[i]))
            update(*e, d, now);
}

inline aggregates::entry* aggregates::find_or_create(std::string_view name)
{
    if (auto const it = scopes_.find(name); it != scopes_.end())
        return &it->second;
    if (scopes_.size() >= cfg_.max_scopes) {
        ++stats_.scopes_refused;
        return nullptr;
    }
    auto const it = scopes_.try_emplace(std::string(name)).first;
    it->second.name = it->first;
    return &it->second;
}

inline void aggregates::update(entry& e, delta const& d, time_point now)
{
    auto const& c = d.change;
    auto& m = e.metrics;
    if (d.moved) {
        detail::metrics::move_job(m.counts, c.before, c.after);
        auto q = m.by_queue.find(c.queue);
        if (q == m.by_queue.end()) {
            if (m.by_queue.size() < cfg_.max_queues_per_scope)
                q = m.by_queue.try_emplace(std::string(c.queue)).first;
            else
                ++stats_.queues_refused;
        }
        if (q != m.by_queue.end())
            detail::metrics::move_job(q->second, c.before, c.after);
    }
    if (c.attempt_started)
        ++m.executions;
    m.latency.add(d.latency);
    m.wait.add(d.wait);
    if (c.finished) {
        m.finished.add(c.cause.time, now);
        mark_rate_active(e);
    }
    e.last_change = now;
    mark_dirty(e);
}

inline void aggregates::refresh_rates(time_point now)
{
    for (std::size_t i = 0; i < rate_active_.size();) {
        entry& e = *rate_active_[i];
        if (e.metrics.rates(now) != e.published)
            mark_dirty(e);
        // Both windows empty: the rates stay zero until the next completion.
        if (e.metrics.finished.empty(now)) {
            e.rate_active = false;
            rate_active_[i] = rate_active_.back();
            rate_active_.pop_back();
        } else {
            ++i;
        }
    }
}

template<class F>
void aggregates::take_dirty(time_point now, F&& f)
{
    refresh_rates(now);
    std::vector<entry*> batch;
    batch.swap(dirty_);
    // Flags first: a scope changed again later is listed again.
    for (entry* e : batch) {
        e->dirty = false;
        e->published = e->metrics.rates(now);
    }
    for (entry* e : batch)
        f(e->name);
    batch.clear();
    if (dirty_.empty())
        dirty_.swap(batch);  // keep the capacity for the next tick
}

inline void aggregates::fill(summary& s, scope_metrics const& m, time_point now) const
{
    s.counts = m.counts;
    s.success_rate = m.success_rate();
    for (auto const& [queue, c] : m.by_queue)
        s.by_queue.emplace(queue, c);
    s.executions = m.executions;
    s.latency = detail::metrics::stats_of(m.latency);
    s.wait = detail::metrics::stats_of(m.wait);
    s.throughput = m.rates(now);
}

inline summary aggregates::summary_of(std::string_view scope, time_point now) const
{
    summary s;
    s.scope = std::string(scope);
    s.updated_at = format_time(now);
    if (auto const* m = find(scope))
        fill(s, *m, now);
    return s;
}

inline void aggregates::merge(aggregates const& other)
{
    assert(&other != this && "merging an instance into itself counts every job twice");
    for (auto const& [name, theirs] : other.scopes_) {
        auto* e = find_or_create(name);
        if (!e)
            continue;
        e->metrics.merge(theirs.metrics);
        e->last_change = std::max(e->last_change, theirs.last_change);
        mark_dirty(*e);
        // The next tick drops it from the list if its windows are empty.
        mark_rate_active(*e);
    }
}

inline std::size_t aggregates::evict_idle(time_point now)
{
    if (cfg_.idle_scope_ttl <= duration::zero())
        return 0;
    std::size_t removed = 0;
    for (auto it = scopes_.begin(); it != scopes_.end();) {
        auto const& e = it->second;
        if (&e != all_ && !e.dirty && !e.rate_active && !e.metrics.has_active_jobs() &&
            now - e.last_change >= cfg_.idle_scope_ttl) {
            it = scopes_.erase(it);
            ++removed;
        } else {
            ++it;
        }
    }
    stats_.scopes_evicted += removed;
    return removed;
}

}  // namespace jobwatch

#endif  // JOBWATCH_METRICS_AGGREGATES_HPP
