#ifndef JOBWATCH_MONITOR_IMPL_DLQ_CORE_HPP
#define JOBWATCH_MONITOR_IMPL_DLQ_CORE_HPP

// Included at the end of <jobwatch/monitor/dlq_core.hpp>.

#include <jobwatch/detail/monitor_text.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <utility>

namespace jobwatch {

namespace detail {

constexpr bool is_ascii_digit(char c) noexcept
{
    return c >= '0' && c <= '9';
}
constexpr bool is_ascii_hex(char c) noexcept
{
    return is_ascii_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
constexpr bool is_ascii_alnum(char c) noexcept
{
    return is_ascii_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// 8-4-4-4-12 hex digits at `i`, not followed by a letter or digit.
constexpr bool is_uuid_at(std::string_view s, std::size_t i) noexcept
{
    if (s.size() - i < 36)
        return false;
    for (std::size_t k = 0; k < 36; ++k) {
        char const c = s[i + k];
        bool const dash = k == 8 || k == 13 || k == 18 || k == 23;
        if (dash ? c != '-' : !is_ascii_hex(c))
            return false;
    }
    return i + 36 == s.size() || !is_ascii_alnum(s[i + 36]);
}

// A word that reads as an id rather than as text: 0x-prefixed hex, or a long
// hex string mixing digits and letters (hashes, object ids). All-letter words
// such as "deadbeef" or "cafe" stay, since they can be real words.
constexpr bool is_hex_id(std::string_view w) noexcept
{
    if (w.size() > 2 && w[0] == '0' && (w[1] == 'x' || w[1] == 'X'))
        return std::all_of(w.begin() + 2, w.end(), is_ascii_hex);
    if (w.size() < 8 || !std::all_of(w.begin(), w.end(), is_ascii_hex))
        return false;
    bool const digit = std::any_of(w.begin(), w.end(), is_ascii_digit);
    bool const letter = std::any_of(w.begin(), w.end(), [](char c) { return !is_ascii_digit(c); });
    return digit && letter;
}

// The text used when a failure carries no error message (the schemas require
// a non-empty error in a dead-letter entry).
inline constexpr std::string_view no_error_text = "(no error message)";

}  // namespace detail

// --- dlq_stats -----------------------------------------------------------------

inline void tag_invoke(boost::json::value_from_tag, boost::json::value& jv, dlq_stats const& s)
{
    boost::json::object o(jv.storage());
    boost::json::array queues(jv.storage());
    for (auto const& q : s.queues) {
        queues.push_back(boost::json::object{
            {"queue", q.queue},
            {"failures_in_window", q.failures_in_window},
            {"threshold", q.threshold},
            {"window_ms", q.window.count()},
            {"firing", q.firing},
        });
    }
    boost::json::array recent(jv.storage());
    for (auto const& f : s.recent_failures) {
        recent.push_back(boost::json::object{
            {"job_id", f.job_id},
            {"queue", f.queue},
            {"error", f.error},
            {"fingerprint", f.fingerprint},
            {"attempt", f.attempt},
            {"will_retry", f.will_retry},
            {"time", format_time(f.time)},
        });
    }
    boost::json::array groups(jv.storage());
    for (auto const& g : s.fingerprints) {
        groups.push_back(boost::json::object{
            {"fingerprint", g.fingerprint},
            {"count", g.count},
            {"example_error", g.example_error},
            {"last_queue", g.last_queue},
            {"last_seen", format_time(g.last_seen)},
        });
    }
    o["queues"] = std::move(queues);
    o["total_failures"] = s.total_failures;
    o["total_dead_lettered"] = s.total_dead_lettered;
    o["untracked_failures"] = s.untracked_failures;
    o["untracked_attempts"] = s.untracked_attempts;
    o["recent_failures"] = std::move(recent);
    o["fingerprints"] = std::move(groups);
    jv = std::move(o);
}

// --- config ----------------------------------------------------------------------

inline dlq_core::config dlq_core::config::from(dlq_config const& c)
{
    config out;
    out.threshold = c.threshold;
    out.window = c.window_ms;
    out.max_entries = c.max_entries;
    out.run_success_rate_threshold = c.run_success_rate_threshold;
    out.run_min_jobs = c.run_min_jobs;
    out.job_timeout = c.job_timeout_ms;
    for (auto const& [name, o] : c.queues)
        out.queues.emplace(name, queue_limits{.threshold = o.threshold, .window = o.window_ms, .timeout = o.timeout_ms});
    return out;
}

// --- construction ----------------------------------------------------------------

inline dlq_core::dlq_core() : dlq_core(config{}) {}

inline dlq_core::dlq_core(config cfg) : cfg_(std::move(cfg)) {}

// --- fingerprint -------------------------------------------------------------------

inline std::string dlq_core::fingerprint(std::string_view error)
{
    std::string out;
    out.reserve(std::min(error.size(), max_fingerprint_bytes));
    std::size_t i = 0;
    std::size_t const n = error.size();
    // Go past the limit by at least one byte, so the cut below can see
    // whether it would split a character.
    while (i < n && out.size() <= max_fingerprint_bytes) {
        char const c = error[i];
        bool const word_start =
            detail::is_ascii_alnum(c) && (i == 0 || !detail::is_ascii_alnum(error[i - 1]));
        if (word_start) {
            if (detail::is_uuid_at(error, i)) {
                out += "<id>";
                i += 36;
                continue;
            }
            std::size_t j = i;
            while (j < n && detail::is_ascii_alnum(error[j]))
                ++j;
            if (detail::is_hex_id(error.substr(i, j - i))) {
                out += "<id>";
                i = j;
                continue;
            }
        }
        if (detail::is_ascii_digit(c)) {
            while (i < n && detail::is_ascii_digit(error[i]))
                ++i;
            out += '#';
            continue;
        }
        out += c;
        ++i;
    }
    if (out.size() > max_fingerprint_bytes) {
        std::size_t cut = max_fingerprint_bytes;
        // Never split a UTF-8 sequence: back up over continuation bytes.
        while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80)
            --cut;
        out.resize(cut);
    }
    return out;
}

// --- limits and windows ------------------------------------------------------------

inline dlq_core::effective_limits dlq_core::limits_for(std::string_view queue) const
{
    std::size_t threshold = cfg_.threshold;
    duration window = cfg_.window;
    duration timeout = cfg_.job_timeout;
    if (auto it = cfg_.queues.find(queue); it != cfg_.queues.end()) {
        threshold = it->second.threshold.value_or(threshold);
        window = it->second.window.value_or(window);
        timeout = it->second.timeout.value_or(timeout);
    }
    effective_limits lim{};
    lim.threshold = std::max<std::uint64_t>(threshold, 1);
    lim.window = std::max(window, duration{1});
    lim.timeout = std::max(timeout, duration{0});
    double const ratio = std::clamp(cfg_.resolve_ratio, 0.0, 1.0);
    auto const resolve_at =
        static_cast<std::uint64_t>(std::floor(static_cast<double>(lim.threshold) * ratio));
    // Resolving must need fewer failures than firing, or one alert would flap.
    lim.resolve_at = std::min(resolve_at, lim.threshold - 1);
    return lim;
}

inline std::uint64_t dlq_core::expired_count(queue_state const& q, time_point now, duration window)
{
    // The window is (now - window, now]: a failure exactly `window` old is out.
    std::uint64_t n = 0;
    for (auto const& e : q.window) {
        if (e.time > now - window)
            break;
        n += e.count;
    }
    return n;
}

inline void dlq_core::prune(queue_state& q, time_point now, duration window)
{
    while (!q.window.empty() && q.window.front().time <= now - window) {
        q.in_window -= q.window.front().count;
        q.window.pop_front();
    }
}

inline dlq_core::queue_state* dlq_core::find_or_add_queue(std::string_view queue)
{
    if (auto it = queues_.find(queue); it != queues_.end())
        return &it->second;
    if (queues_.size() >= std::max<std::size_t>(cfg_.max_tracked_queues, 1))
        return nullptr;
    return &queues_.emplace(std::string(queue), queue_state{}).first->second;
}

inline void dlq_core::resolve_if_low(std::string_view name, queue_state& q,
                                     effective_limits const& lim, time_point now,
                                     std::vector<alert>& out)
{
    if (!q.firing || q.in_window > lim.resolve_at)
        return;
    q.firing = false;
    out.push_back(failure_rate_alert(name, q, lim, now, alert_status::resolved));
}

inline alert dlq_core::failure_rate_alert(std::string_view queue, queue_state const& q,
                                          effective_limits const& lim, time_point now,
                                          alert_status status) const
{
    alert a;
    a.id = q.alert_id;
    a.kind = alert_kind::failure_rate;
    a.status = status;
    a.time = format_time(now);
    a.context.queue = std::string(queue);
    a.context.failure_count = detail::to_json_count(q.in_window);
    a.context.threshold = static_cast<double>(lim.threshold);
    a.context.window_ms = lim.window.count();
    std::string const counted = "Queue " + std::string(queue) + " has " +
                                detail::plural(q.in_window, "failure", "failures") +
                                " in the last " + detail::describe_duration(lim.window);
    if (status == alert_status::firing) {
        a.severity = severity::high;
        a.title = "High failure rate detected";
        a.message = counted + " (threshold " + std::to_string(lim.threshold) + ")";
        if (!q.recent_job_id.empty())
            a.context.recent_job_id = q.recent_job_id;
        a.context.error = q.recent_error;
    } else {
        a.severity = severity::info;
        a.title = "Failure rate back to normal";
        a.message = counted + ", at or below " + std::to_string(lim.resolve_at) + " (threshold " +
                    std::to_string(lim.threshold) + ")";
    }
    return a;
}

// --- changes -----------------------------------------------------------------------

inline std::vector<alert> dlq_core::on_change(job_change const& c, time_point now)
{
    std::vector<alert> out;
    // Hot path: the same attempt goes on (progress, a log line): nothing to
    // count, nothing begins or ends (see track_attempt).
    if (c.before == job_state::running && c.after == job_state::running && !c.attempt_started &&
        !c.attempt_failed && !c.finished)
        return out;
    // Event time places the failure; a clock ahead of ours must not keep a
    // failure in the window for longer than the window.
    time_point const t = std::min(c.cause.time, now);
    std::string_view const error = c.error.empty() ? detail::no_error_text : c.error;
    bool const dead = c.finished && c.after == job_state::failed;
    std::string fp = c.attempt_failed || dead ? fingerprint(error) : std::string();
    if (dead)
        dead_letter(c, error, fp);
    if (c.attempt_failed)
        record_failure(c, error, std::move(fp), t, now, out);
    track_attempt(c, t, now, out);
    if (c.finished && !c.run_id.empty())
        update_run(c, now, out);
    return out;
}

inline void dlq_core::record_failure(job_change const& c, std::string_view error, std::string fp,
                                     time_point t, time_point now, std::vector<alert>& out)
{
    ++total_failures_;
    if (cfg_.max_recent_failures > 0) {
        recent_.push_front(dlq_stats::recent_failure{
            .job_id = std::string(c.job_id),
            .queue = std::string(c.queue),
            .error = std::string(error),
            .fingerprint = fp,
            .attempt = c.attempt,
            .will_retry = c.retry_scheduled,
            .time = t,
        });
        if (recent_.size() > cfg_.max_recent_failures)
            recent_.pop_back();
    }
    note_fingerprint(std::move(fp), error, c.queue, t);

    auto const lim = limits_for(c.queue);
    // Already outside the window (replayed history): nothing to count.
    if (t <= now - lim.window)
        return;
    queue_state* q = find_or_add_queue(c.queue);
    if (!q) {
        ++untracked_failures_;
        return;
    }
    prune(*q, now, lim.window);
    // An old breach may have cleared while no tick ran; close it before this
    // failure possibly opens a new one (possible only with a threshold of 1).
    resolve_if_low(c.queue, *q, lim, now, out);

    // Sorted insert; late events are rare, so search from the back.
    auto pos = q->window.end();
    while (pos != q->window.begin() && std::prev(pos)->time > t)
        --pos;
    if (pos != q->window.begin() && std::prev(pos)->time == t)
        ++std::prev(pos)->count;
    else
        q->window.insert(pos, window_entry{t, 1});
    ++q->in_window;
    if (q->window.size() > std::max<std::size_t>(cfg_.max_window_entries, 2)) {
        // Merging the two oldest keeps the count and lets those failures
        // expire a little late: counts err high, never low.
        q->window[1].count += q->window[0].count;
        q->window.pop_front();
    }
    q->recent_job_id.assign(c.job_id);
    q->recent_error.assign(error);

    if (!q->firing && q->in_window >= lim.threshold) {
        // Ids must differ between breaches even if the clock stands still.
        q->last_breach_ms = std::max(detail::epoch_ms(now), q->last_breach_ms + 1);
        q->alert_id =
            detail::make_alert_id("failure_rate", c.queue, std::to_string(q->last_breach_ms));
        q->firing = true;
        out.push_back(failure_rate_alert(c.queue, *q, lim, now, alert_status::firing));
    }
}

inline void dlq_core::note_fingerprint(std::string fp, std::string_view error,
                                       std::string_view queue, time_point t)
{
    if (cfg_.max_fingerprints == 0)
        return;
    if (auto it = fingerprint_index_.find(fp); it != fingerprint_index_.end()) {
        auto e = it->second;
        ++e->count;
        e->example_error.assign(error);
        e->last_queue.assign(queue);
        e->last_seen = std::max(e->last_seen, t);
        fingerprints_.splice(fingerprints_.begin(), fingerprints_, e);
        return;
    }
    if (fingerprints_.size() >= cfg_.max_fingerprints) {
        fingerprint_index_.erase(fingerprints_.back().fingerprint);
        fingerprints_.pop_back();
    }
    fingerprints_.push_front(
        fingerprint_entry{std::move(fp), 1, std::string(error), std::string(queue), t});
    fingerprint_index_.emplace(fingerprints_.front().fingerprint, fingerprints_.begin());
}

inline void dlq_core::dead_letter(job_change const& c, std::string_view error,
                                  std::string const& fp)
{
    ++total_dead_lettered_;
    if (cfg_.max_entries == 0 && !on_dead_letter_)
        return;
    dead_letter_entry e;
    e.job_id = std::string(c.job_id);
    e.queue = std::string(c.queue);
    auto opt = [](std::string_view s) {
        return s.empty() ? std::nullopt : std::optional<std::string>(s);
    };
    e.job_type = opt(c.job_type);
    e.run_id = opt(c.run_id);
    e.tenant_id = opt(c.tenant_id);
    e.user_id = opt(c.user_id);
    e.error = std::string(error);
    e.fingerprint = fp;
    // The schema bounds attempts to 1..1000.
    e.attempts = std::clamp<std::int64_t>(c.attempt, 1, 1000);
    e.failed_at = format_time(c.cause.time);
    if (on_dead_letter_)
        on_dead_letter_(c.cause.seq, e);
    if (cfg_.max_entries == 0)
        return;
    dead_letters_.push_front(std::move(e));
    dead_letter_seqs_.push_front(c.cause.seq);
    if (dead_letters_.size() > cfg_.max_entries) {
        dead_letters_.pop_back();
        dead_letter_seqs_.pop_back();
    }
}

inline void dlq_core::track_attempt(job_change const& c, time_point t, time_point now,
                                    std::vector<alert>& out)
{
    // Jobs are per tenant: their room names them exactly.
    key_buf_.assign(c.rooms->of(rooms::kind::job));
    auto it = running_.find(key_buf_);
    bool const runs = c.after == job_state::running && !c.finished && !c.attempt_failed;
    if (it != running_.end()) {
        auto& a = it->second;
        if (runs && a.attempt == c.attempt) {
            // The same attempt goes on. A job.started arriving after the
            // progress that implied the start gives the true start time.
            if (c.attempt_started && t < a.started) {
                a.started = t;
                if (a.deadline) {
                    deadlines_.erase(*a.deadline);
                    a.deadline = deadlines_.emplace(t + a.limit, it);
                }
            }
            return;
        }
        // A failure (retried or not), a terminal state, or another attempt.
        end_attempt(it, c, t, now, out);
    }
    // An attempt begins with its job.started, or with the first event that
    // finds the job running (the store implies a start from a progress or log
    // line). A job already running when we first hear of it has no known start.
    bool const begins = runs && (c.attempt_started || c.before != job_state::running);
    if (!begins)
        return;
    auto const limit = limits_for(c.queue).timeout;
    if (limit.count() <= 0)
        return;
    if (running_.size() >= std::max<std::size_t>(cfg_.max_tracked_jobs, 1)) {
        ++untracked_attempts_;
        return;
    }
    running_attempt a;
    a.queue = std::string(c.queue);
    a.job_id = std::string(c.job_id);
    a.tenant_id = std::string(c.tenant_id);
    a.attempt = c.attempt;
    a.started = t;
    a.limit = limit;
    auto const ins = running_.emplace(key_buf_, std::move(a)).first;
    ins->second.deadline = deadlines_.emplace(t + limit, ins);
}

inline void dlq_core::end_attempt(running_map::iterator it, job_change const& c, time_point t,
                                  time_point now, std::vector<alert>& out)
{
    auto& a = it->second;
    if (a.deadline)
        deadlines_.erase(*a.deadline);
    if (a.alerted) {
        auto const ran = std::max(t - a.started, duration{0});
        std::string how = "stopped running";
        if (c.after == job_state::succeeded)
            how = "completed";
        else if (c.after == job_state::failed || c.attempt_failed)
            how = "failed";
        else if (c.after == job_state::cancelled)
            how = "was cancelled";
        alert r;
        r.id =
            detail::make_alert_id("timeout", a.queue + ":" + a.job_id + (a.tenant_id.empty() ? "" : "@" + a.tenant_id), std::to_string(a.attempt));
        r.kind = alert_kind::timeout;
        r.status = alert_status::resolved;
        r.severity = severity::info;
        r.title = "Long-running job ended";
        r.message = "Job " + a.job_id + " in queue " + a.queue + " " + how + " after " +
                    detail::describe_duration(ran) + " (limit " +
                    detail::describe_duration(a.limit) + ", attempt " + std::to_string(a.attempt) +
                    ")";
        r.time = format_time(now);
        r.context.queue = a.queue;
        r.context.job_id = a.job_id;
        if (!a.tenant_id.empty())
            r.context.tenant_id = a.tenant_id;
        r.context.running_ms = ran.count();
        r.context.limit_ms = a.limit.count();
        out.push_back(std::move(r));
    }
    running_.erase(it);
}

inline void dlq_core::update_run(job_change const& c, time_point now, std::vector<alert>& out)
{
    std::list<run_state>::iterator r;
    auto const key = c.rooms->of(rooms::kind::run);
    if (auto it = run_index_.find(key); it != run_index_.end()) {
        r = it->second;
        runs_.splice(runs_.begin(), runs_, r);
    } else {
        if (runs_.size() >= std::max<std::size_t>(cfg_.max_tracked_runs, 1)) {
            run_index_.erase(runs_.back().key);
            runs_.pop_back();
        }
        run_state fresh;
        fresh.key = std::string(key);
        fresh.run_id = std::string(c.run_id);
        fresh.tenant_id = std::string(c.tenant_id);
        runs_.push_front(std::move(fresh));
        r = runs_.begin();
        run_index_.emplace(r->key, r);
    }
    switch (c.after) {
    case job_state::succeeded:
        ++r->succeeded;
        break;
    case job_state::failed:
        ++r->failed;
        break;
    case job_state::cancelled:
        ++r->cancelled;
        break;
    default:
        break;
    }
    r->last_activity = now;

    // Cancelled jobs neither succeeded nor failed; they are left out of the rate.
    std::uint64_t const judged = r->succeeded + r->failed;
    if (judged < std::max<std::size_t>(cfg_.run_min_jobs, 1))
        return;
    double const rate = static_cast<double>(r->succeeded) / static_cast<double>(judged);
    double const threshold = cfg_.run_success_rate_threshold;
    double const resolve_at = std::min(1.0, threshold + std::max(cfg_.run_resolve_margin, 0.0));
    // A little slack on the way back, so that 34 of 40 counts as reaching
    // 0.8 + 0.05 although that sum rounds to just above 0.85 in binary.
    constexpr double slack = 1e-9;
    bool const fire = !r->firing && rate < threshold;
    bool const resolve = r->firing && rate + slack >= resolve_at;
    if (!fire && !resolve)
        return;
    if (fire) {
        r->last_breach_ms = std::max(detail::epoch_ms(now), r->last_breach_ms + 1);
        r->alert_id =
            detail::make_alert_id("success_rate", r->run_id + (r->tenant_id.empty() ? "" : "@" + r->tenant_id),
                                  std::to_string(r->last_breach_ms));
    }
    r->firing = fire;
    alert a;
    a.id = r->alert_id;
    a.kind = alert_kind::success_rate;
    a.status = fire ? alert_status::firing : alert_status::resolved;
    a.severity = fire ? severity::medium : severity::info;
    a.time = format_time(now);
    std::string const counted = "Run " + r->run_id + (r->tenant_id.empty() ? "" : " of tenant " + r->tenant_id) + ": " + std::to_string(r->succeeded) + " of " +
                                detail::plural(judged, "finished job", "finished jobs") +
                                " succeeded (" + detail::describe_percent(rate) + ")";
    if (fire) {
        a.title = "Low run success rate";
        a.message = counted + ", below the threshold of " + detail::describe_percent(threshold);
    } else {
        a.title = "Run success rate recovered";
        a.message = counted + ", back to at least " + detail::describe_percent(resolve_at) +
                    " (threshold " + detail::describe_percent(threshold) + ")";
    }
    a.context.run_id = r->run_id;
    if (!r->tenant_id.empty())
        a.context.tenant_id = r->tenant_id;
    a.context.success_rate = rate;
    a.context.threshold = threshold;
    out.push_back(std::move(a));
}

// --- time ----------------------------------------------------------------------------

inline std::vector<alert> dlq_core::tick(time_point now)
{
    std::vector<alert> out;
    for (auto it = queues_.begin(); it != queues_.end();) {
        auto const lim = limits_for(it->first);
        prune(it->second, now, lim.window);
        resolve_if_low(it->first, it->second, lim, now, out);
        // An empty, quiet window holds nothing worth keeping; free the slot.
        if (!it->second.firing && it->second.in_window == 0)
            it = queues_.erase(it);
        else
            ++it;
    }

    // Running longer than the limit means now - started > limit, i.e. the
    // deadline (started + limit) lies strictly before now.
    while (!deadlines_.empty() && deadlines_.begin()->first < now) {
        auto const job = deadlines_.begin()->second;
        deadlines_.erase(deadlines_.begin());
        auto& a = job->second;
        a.deadline.reset();
        a.alerted = true;
        auto const ran = now - a.started;
        alert t;
        t.id =
            detail::make_alert_id("timeout", a.queue + ":" + a.job_id + (a.tenant_id.empty() ? "" : "@" + a.tenant_id), std::to_string(a.attempt));
        t.kind = alert_kind::timeout;
        t.status = alert_status::firing;
        t.severity = severity::low;
        t.title = "Job running longer than its time limit";
        t.message = "Job " + a.job_id + " in queue " + a.queue + " has been running for " +
                    detail::describe_duration(ran) + ", longer than its limit of " +
                    detail::describe_duration(a.limit) + " (attempt " + std::to_string(a.attempt) +
                    ")";
        t.time = format_time(now);
        t.context.queue = a.queue;
        if (!a.tenant_id.empty())
            t.context.tenant_id = a.tenant_id;
        t.context.job_id = a.job_id;
        t.context.running_ms = ran.count();
        t.context.limit_ms = a.limit.count();
        out.push_back(std::move(t));
    }

    if (cfg_.run_idle_ttl.count() > 0) {
        while (!runs_.empty() && now - runs_.back().last_activity >= cfg_.run_idle_ttl) {
            run_index_.erase(runs_.back().key);
            runs_.pop_back();
        }
    }
    return out;
}

// --- queries ---------------------------------------------------------------------------

inline std::vector<dead_letter_entry> dlq_core::dead_letters(std::size_t limit) const
{
    auto const n = std::min(limit, dead_letters_.size());
    return std::vector<dead_letter_entry>(dead_letters_.begin(),
                                          dead_letters_.begin() + static_cast<std::ptrdiff_t>(n));
}

inline std::vector<dlq_core::numbered_dead_letter>
dlq_core::dead_letters_before(std::uint64_t before, std::size_t limit,
                              std::function<bool(dead_letter_entry const&)> const& visible) const
{
    std::vector<numbered_dead_letter> out;
    for (std::size_t i = 0; i < dead_letters_.size() && out.size() < limit; ++i)
        if (dead_letter_seqs_[i] < before && visible(dead_letters_[i]))
            out.push_back({dead_letter_seqs_[i], &dead_letters_[i]});
    return out;
}

inline std::uint64_t dlq_core::failures_in_window(std::string_view queue, time_point now) const
{
    auto it = queues_.find(queue);
    if (it == queues_.end())
        return 0;
    return it->second.in_window - expired_count(it->second, now, limits_for(queue).window);
}

inline bool dlq_core::is_firing(std::string_view queue) const
{
    auto it = queues_.find(queue);
    return it != queues_.end() && it->second.firing;
}

inline dlq_stats dlq_core::stats(time_point now) const
{
    dlq_stats s;
    for (auto const& [name, q] : queues_) {
        auto const lim = limits_for(name);
        auto const n = q.in_window - expired_count(q, now, lim.window);
        if (n == 0 && !q.firing)
            continue;
        s.queues.push_back({name, n, lim.threshold, lim.window, q.firing});
    }
    s.total_failures = total_failures_;
    s.total_dead_lettered = total_dead_lettered_;
    s.untracked_failures = untracked_failures_;
    s.untracked_attempts = untracked_attempts_;
    s.recent_failures.assign(recent_.begin(), recent_.end());
    s.fingerprints.reserve(fingerprints_.size());
    for (auto const& f : fingerprints_)
        s.fingerprints.push_back(
            {f.fingerprint, f.count, f.example_error, f.last_queue, f.last_seen});
    std::stable_sort(s.fingerprints.begin(), s.fingerprints.end(),
                     [](auto const& a, auto const& b) {
                         return a.count != b.count ? a.count > b.count : a.last_seen > b.last_seen;
                     });
    return s;
}

}  // namespace jobwatch

#endif
