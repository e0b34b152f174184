#ifndef JOBWATCH_MONITOR_IMPL_HEALTH_CORE_HPP
#define JOBWATCH_MONITOR_IMPL_HEALTH_CORE_HPP

// Included at the end of <jobwatch/monitor/health_core.hpp>.

#include <jobwatch/detail/monitor_text.hpp>

#include <algorithm>
#include <utility>

namespace jobwatch {

namespace detail {

// The error-rate window is kept as this many slices, so its memory is fixed
// per queue and its edge is exact to 1/60 of the window.
inline constexpr std::int64_t health_buckets_per_window = 60;

constexpr std::int64_t floor_div(std::int64_t a, std::int64_t b) noexcept
{
    std::int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

constexpr bool worse(health_status a, health_status b) noexcept
{
    return static_cast<int>(a) > static_cast<int>(b);
}

}  // namespace detail

// --- config ----------------------------------------------------------------------

inline health_core::config health_core::config::from(health_config const& c)
{
    config out;
    out.stale_after = c.stale_after_ms;
    out.degraded_error_rate = c.degraded_error_rate;
    out.unhealthy_error_rate = c.unhealthy_error_rate;
    out.degraded_waiting = c.degraded_waiting;
    out.unhealthy_stale_jobs = c.unhealthy_stale_jobs;
    return out;
}

// --- construction ----------------------------------------------------------------

inline health_core::health_core() : health_core(config{}) {}

inline health_core::health_core(config cfg) : cfg_(std::move(cfg)) {}

// --- changes -----------------------------------------------------------------------

inline duration health_core::bucket_width() const noexcept
{
    auto const window = std::max(cfg_.error_rate_window.count(), std::int64_t{1});
    return duration{std::max<std::int64_t>(window / detail::health_buckets_per_window, 1)};
}

inline health_core::queue_state* health_core::find_or_add_queue(std::string_view queue)
{
    if (auto it = queues_.find(queue); it != queues_.end())
        return &it->second;
    if (queues_.size() >= std::max<std::size_t>(cfg_.max_tracked_queues, 1))
        return nullptr;
    return &queues_.emplace(std::string(queue), queue_state{}).first->second;
}

inline std::uint64_t& health_core::counter(queue_state& q, bucket b)
{
    switch (b) {
    case bucket::waiting:
        return q.waiting;
    case bucket::delayed:
        return q.delayed;
    default:
        return q.active;
    }
}

inline void health_core::on_change(job_change const& c, time_point now)
{
    // Hot path: progress or a log line of a job that keeps running changes no
    // count; it only shows the job is alive.
    if (c.before == job_state::running && c.after == job_state::running && !c.finished &&
        !c.attempt_started) {
        // With an outside source of last-event times (the job store) there is
        // nothing to do at all.
        if (last_events_)
            return;
        key_buf_.assign(c.rooms->of(rooms::kind::job));  // jobs are per tenant: the room names one exactly
        if (auto it = running_.find(key_buf_); it != running_.end()) {
            it->second.last_event = std::max(it->second.last_event, std::min(c.cause.time, now));
            return;
        }
    }
    queue_state* q = find_or_add_queue(c.queue);
    if (!q) {
        ++untracked_changes_;
        return;
    }
    // Event time, but never in our future: a fast producer clock must not
    // keep a job fresh or a failure in the window.
    time_point const t = std::min(c.cause.time, now);
    key_buf_.assign(c.rooms->of(rooms::kind::job));  // jobs are per tenant: the room names one exactly

    // The counts follow the store's before -> after states, so waiting jobs
    // need no memory of their own. Only "queued" is ambiguous (waiting or
    // delayed), which the set of retry-waiting jobs decides.
    bool was_delayed = false;
    if (auto it = delayed_.find(key_buf_); it != delayed_.end()) {
        was_delayed = true;
        delayed_.erase(it);
    }
    auto bucket_of = [](std::optional<job_state> s, bool delayed) {
        if (!s)
            return bucket::none;
        switch (*s) {
        case job_state::queued:
            return delayed ? bucket::delayed : bucket::waiting;
        case job_state::running:
            return bucket::active;
        default:
            return bucket::none;
        }
    };
    bucket const old_bucket = bucket_of(c.before, was_delayed);
    bool delayed_now = false;
    if (c.after == job_state::queued && (c.retry_scheduled || was_delayed)) {
        // A job counted as delayed must be in the set, or its start would be
        // taken off `waiting`; when the set is full it is counted as waiting.
        if (delayed_.size() < std::max<std::size_t>(cfg_.max_tracked_jobs, 1)) {
            delayed_.insert(key_buf_);
            delayed_now = true;
        } else {
            ++untracked_jobs_;
        }
    }
    bucket const new_bucket = bucket_of(c.after, delayed_now);
    if (old_bucket != new_bucket) {
        if (old_bucket != bucket::none) {
            auto& n = counter(*q, old_bucket);
            n = detail::saturating_sub(n, 1);
        }
        if (new_bucket != bucket::none)
            ++counter(*q, new_bucket);
    }

    if (c.after == job_state::running) {
        // Any event of a running job (progress, a log line) shows it is alive.
        if (auto it = running_.find(key_buf_); it != running_.end())
            it->second.last_event = std::max(it->second.last_event, t);
        else if (running_.size() < std::max<std::size_t>(cfg_.max_tracked_jobs, 1))
            running_.emplace(key_buf_, running_job{q, t});
        else if (old_bucket != bucket::active)
            ++untracked_jobs_;
    } else {
        running_.erase(key_buf_);
    }

    if (c.finished)
        add_outcome(*q, c.after, c.duration_ms, t, now);
}

inline void health_core::add_outcome(queue_state& q, job_state after,
                                     std::optional<double> duration_ms, time_point t,
                                     time_point now)
{
    if (!q.last_processed || *q.last_processed < t)
        q.last_processed = t;
    switch (after) {
    case job_state::succeeded:
        ++q.completed;
        break;
    case job_state::failed:
        ++q.failed;
        break;
    case job_state::cancelled:
        ++q.cancelled;
        return;  // neither success nor error
    default:
        return;
    }
    auto const window_start = now - cfg_.error_rate_window;
    if (t <= window_start)
        return;
    auto const width = bucket_width().count();
    while (!q.buckets.empty() &&
           (q.buckets.front().index + 1) * width <= window_start.time_since_epoch().count())
        q.buckets.pop_front();
    auto const index = detail::floor_div(t.time_since_epoch().count(), width);
    auto pos = q.buckets.end();
    while (pos != q.buckets.begin() && std::prev(pos)->index > index)
        --pos;
    if (pos == q.buckets.begin() || std::prev(pos)->index != index)
        pos = std::next(q.buckets.insert(pos, outcome_bucket{index}));
    auto& b = *std::prev(pos);
    if (after == job_state::succeeded)
        ++b.succeeded;
    else
        ++b.failed;
    if (duration_ms && *duration_ms >= 0) {
        b.duration_sum_ms += *duration_ms;
        ++b.durations;
    }
}

inline bool health_core::set_paused(std::string_view queue, bool paused)
{
    queue_state* q = find_or_add_queue(queue);
    if (!q)
        return false;
    q->paused = paused;
    return true;
}

inline bool health_core::set_counts(std::string_view queue, queue_counts const& counts)
{
    queue_state* q = find_or_add_queue(queue);
    if (!q)
        return false;
    q->broker = counts;
    q->paused = counts.paused;
    return true;
}

// --- reports -------------------------------------------------------------------------

inline health_report health_core::report(time_point now) const
{
    std::unordered_map<queue_state const*, std::uint64_t> stale;
    if (last_events_) {
        last_events_([&](std::string_view queue, time_point last_event) {
            if (now - std::min(last_event, now) <= cfg_.stale_after)
                return;
            if (auto it = queues_.find(queue); it != queues_.end())
                ++stale[&it->second];
        });
    } else {
        for (auto const& [key, job] : running_)
            if (now - job.last_event > cfg_.stale_after)
                ++stale[job.queue];
    }

    auto const width = bucket_width().count();
    auto const window_start = (now - cfg_.error_rate_window).time_since_epoch().count();
    std::string const window_text = detail::describe_duration(cfg_.error_rate_window);
    std::string const stale_text = detail::describe_duration(cfg_.stale_after);

    health_report r;
    r.status = health_status::healthy;
    r.timestamp = format_time(now);
    r.queues.reserve(queues_.size());
    for (auto const& [name, q] : queues_) {
        queue_health h;
        h.queue = name;
        h.status = health_status::healthy;
        auto raise = [&h](health_status s, std::string issue) {
            if (detail::worse(s, h.status))
                h.status = s;
            h.issues.push_back(std::move(issue));
        };
        std::string const prefix = "queue " + name + ": ";

        // What the broker counts wins over what the events add up to.
        std::uint64_t const ready = q.broker ? q.broker->waiting : q.waiting;
        // While paused, waiting jobs are held rather than waiting for a worker.
        h.stats.waiting = q.paused ? 0 : detail::to_json_count(ready);
        h.stats.paused = q.paused ? detail::to_json_count(ready) : 0;
        h.stats.active = detail::to_json_count(q.broker ? q.broker->active : q.active);
        h.stats.delayed = detail::to_json_count(q.broker ? q.broker->delayed : q.delayed);
        h.stats.completed = detail::to_json_count(q.broker ? q.broker->completed : q.completed);
        h.stats.failed = detail::to_json_count(q.broker ? q.broker->failed : q.failed);

        std::uint64_t succeeded = 0, failed = 0, durations = 0;
        double duration_sum = 0;
        for (auto const& b : q.buckets) {
            if ((b.index + 1) * width <= window_start)
                continue;
            succeeded += b.succeeded;
            failed += b.failed;
            durations += b.durations;
            duration_sum += b.duration_sum_ms;
        }
        std::uint64_t const judged = succeeded + failed;
        double const error_rate =
            judged ? static_cast<double>(failed) / static_cast<double>(judged) : 0.0;
        auto const stale_it = stale.find(&q);
        std::uint64_t const stale_jobs = stale_it == stale.end() ? 0 : stale_it->second;

        h.details.is_paused = q.paused;
        h.details.avg_processing_ms =
            durations ? duration_sum / static_cast<double>(durations) : 0.0;
        h.details.error_rate = error_rate;
        if (q.last_processed)
            h.details.last_job_processed_at = format_time(*q.last_processed);
        h.details.stale_jobs = detail::to_json_count(stale_jobs);

        if (q.paused && cfg_.paused_status != health_status::healthy)
            raise(cfg_.paused_status,
                  prefix + "paused, " + detail::plural(ready, "job", "jobs") + " held");

        if (judged > 0 && judged >= cfg_.error_rate_min_jobs) {
            auto rate_issue = [&](double limit) {
                return prefix + "error rate " + detail::describe_percent(error_rate) +
                       " over the last " + window_text + ", " + std::to_string(failed) + " of " +
                       detail::plural(judged, "finished job", "finished jobs") + " failed (limit " +
                       detail::describe_percent(limit) + ")";
            };
            if (cfg_.unhealthy_error_rate > 0 && error_rate >= cfg_.unhealthy_error_rate)
                raise(health_status::unhealthy, rate_issue(cfg_.unhealthy_error_rate));
            else if (cfg_.degraded_error_rate > 0 && error_rate >= cfg_.degraded_error_rate)
                raise(health_status::degraded, rate_issue(cfg_.degraded_error_rate));
        }

        auto const waiting = static_cast<std::uint64_t>(h.stats.waiting);
        auto waiting_issue = [&](std::size_t limit) {
            return prefix + detail::plural(waiting, "job", "jobs") + " waiting (limit " +
                   std::to_string(limit) + ")";
        };
        if (cfg_.unhealthy_waiting > 0 && waiting >= cfg_.unhealthy_waiting)
            raise(health_status::unhealthy, waiting_issue(cfg_.unhealthy_waiting));
        else if (cfg_.degraded_waiting > 0 && waiting >= cfg_.degraded_waiting)
            raise(health_status::degraded, waiting_issue(cfg_.degraded_waiting));

        auto stale_issue = [&](std::size_t limit) {
            return prefix + detail::plural(stale_jobs, "stale job", "stale jobs") +
                   ", running with no event for over " + stale_text + " (limit " +
                   std::to_string(limit) + ")";
        };
        if (cfg_.unhealthy_stale_jobs > 0 && stale_jobs >= cfg_.unhealthy_stale_jobs)
            raise(health_status::unhealthy, stale_issue(cfg_.unhealthy_stale_jobs));
        else if (cfg_.degraded_stale_jobs > 0 && stale_jobs >= cfg_.degraded_stale_jobs)
            raise(health_status::degraded, stale_issue(cfg_.degraded_stale_jobs));

        switch (h.status) {
        case health_status::healthy:
            ++r.summary.healthy_queues;
            break;
        case health_status::degraded:
            ++r.summary.degraded_queues;
            break;
        case health_status::unhealthy:
            ++r.summary.unhealthy_queues;
            break;
        }
        r.summary.total_jobs.waiting += h.stats.waiting;
        r.summary.total_jobs.active += h.stats.active;
        r.summary.total_jobs.completed += h.stats.completed;
        r.summary.total_jobs.failed += h.stats.failed;
        if (detail::worse(h.status, r.status))
            r.status = h.status;
        r.issues.insert(r.issues.end(), h.issues.begin(), h.issues.end());
        r.queues.push_back(std::move(h));
    }
    r.summary.total_queues = static_cast<std::int64_t>(r.queues.size());
    return r;
}

inline std::optional<health_report> health_core::tick(time_point now)
{
    health_report r = report(now);
    if (last_published_) {
        // Compare everything but the timestamp, which always differs.
        std::string made_at = std::move(r.timestamp);
        r.timestamp = last_published_->timestamp;
        bool const same = r == *last_published_;
        r.timestamp = std::move(made_at);
        if (same)
            return std::nullopt;
    }
    last_published_ = r;
    return r;
}

}  // namespace jobwatch

#endif
