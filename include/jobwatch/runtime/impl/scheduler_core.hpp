#ifndef JOBWATCH_RUNTIME_IMPL_SCHEDULER_CORE_HPP
#define JOBWATCH_RUNTIME_IMPL_SCHEDULER_CORE_HPP

// Included at the bottom of <jobwatch/runtime/scheduler_core.hpp>.

#include <jobwatch/detail/hash.hpp>
#include <algorithm>
#include <stdexcept>

namespace jobwatch {

// FNV-1a: a stable, platform-independent hash for the jitter seeds
// (std::hash may differ between standard libraries).
inline std::uint64_t scheduler_core::hash_name(std::string_view s, std::uint64_t h) noexcept
{
    for (unsigned char c : s) {
        h ^= c;
        h *= 0x100000001b3;
    }
    return h;
}

// splitmix64: tiny, fast, and the same numbers everywhere, which is what
// reproducible tests need (std::uniform_int_distribution is not portable).
inline std::uint64_t scheduler_core::next_random(std::uint64_t& state) noexcept
{
    std::uint64_t z = (state += 0x9e3779b97f4a7c15);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
    z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
    return z ^ (z >> 31);
}

inline scheduler_core::task& scheduler_core::make_task(std::string name, std::uint32_t fam,
                                                       duration interval, duration jitter,
                                                       bool immediate, std::uint64_t seed,
                                                       time_point now)
{
    auto const id = next_id_++;
    auto& t = tasks_[id];
    t.id = id;
    t.name = std::move(name);
    t.family = fam;
    t.interval = interval;
    t.jitter = jitter;
    t.rng = hash_name(t.name, seed);
    t.nominal = immediate ? now : now + interval;
    t.next_due = t.nominal + draw(t);
    due_.emplace(t.next_due, id);
    return t;
}

inline scheduler_core::task_id scheduler_core::add(std::string name, task_options const& opts,
                                                   time_point now)
{
    if (opts.interval <= duration::zero())
        throw std::invalid_argument("scheduler: task '" + name + "': interval must be > 0");
    if (opts.jitter < duration::zero())
        throw std::invalid_argument("scheduler: task '" + name + "': jitter must be >= 0");
    if (find(name))
        throw std::invalid_argument("scheduler: a task named '" + name + "' exists already");
    auto& t = make_task(std::move(name), no_family, opts.interval, opts.jitter, opts.immediate,
                        cfg_.seed, now);
    named_.push_back(t.id);
    return task_id{t.id};
}

inline scheduler_core::family_id scheduler_core::add_family(std::string name,
                                                            keyed_options const& opts)
{
    if (opts.interval <= duration::zero())
        throw std::invalid_argument("scheduler: family '" + name + "': interval must be > 0");
    if (opts.jitter < duration::zero())
        throw std::invalid_argument("scheduler: family '" + name + "': jitter must be >= 0");
    if (opts.idle_timeout <= duration::zero())
        throw std::invalid_argument("scheduler: family '" + name + "': idle_timeout must be > 0");
    if (find_family(name))
        throw std::invalid_argument("scheduler: a family named '" + name + "' exists already");
    auto& f = families_.emplace_back();
    // Keys of different families draw different jitter even when equal.
    f.seed = hash_name(name, cfg_.seed) ^ 0x9e3779b97f4a7c15;
    f.name = std::move(name);
    f.opts = opts;
    return family_id{static_cast<std::uint32_t>(families_.size() - 1)};
}

inline scheduler_core::touch_result scheduler_core::touch(family_id fid, std::string_view key,
                                                          time_point now)
{
    auto& f = families_.at(raw(fid));
    if (auto it = f.keys.find(key); it != f.keys.end()) {
        // The idle_ entry is left as it is: expire() finds the later expiry then.
        it->second->last_touched = now;
        return touch_result::refreshed;
    }
    if (keyed_ >= cfg_.max_keyed_tasks) {
        ++refused_;
        ++f.refused;
        return touch_result::refused;
    }
    auto& t = make_task(std::string(key), raw(fid), f.opts.interval, f.opts.jitter,
                        f.opts.immediate, f.seed, now);
    t.last_touched = now;
    f.keys.emplace(t.name, &t);
    idle_.emplace(now + f.opts.idle_timeout, t.id);
    ++keyed_;
    ++f.created;
    return touch_result::created;
}

inline std::optional<scheduler_core::time_point> scheduler_core::next_wakeup() const
{
    std::optional<time_point> at;
    if (!due_.empty())
        at = due_.begin()->first;
    if (!idle_.empty() && (!at || idle_.begin()->first < *at))
        at = idle_.begin()->first;
    return at;
}

inline std::vector<scheduler_core::task_id> scheduler_core::due(time_point now)
{
    std::vector<task_id> out;
    while (!due_.empty() && due_.begin()->first <= now) {
        auto const id = due_.begin()->second;
        due_.erase(due_.begin());
        auto& t = tasks_.at(id);
        t.running = true;
        t.m.last_started = now;  // provisional: finish() records the real start
        ++running_;
        out.push_back(task_id{id});
    }
    return out;
}

inline bool scheduler_core::set_interval(task_id id, duration interval, time_point now)
{
    auto it = tasks_.find(raw(id));
    if (it == tasks_.end() || interval <= duration::zero())
        return false;
    auto& t = it->second;
    t.interval = interval;
    if (!t.running && now + interval < t.next_due) {
        due_.erase({t.next_due, t.id});
        t.nominal = now + interval;
        t.next_due = t.nominal;
        due_.emplace(t.next_due, t.id);
    }
    return true;
}

inline bool scheduler_core::finish(task_id id, time_point started, time_point now, bool failed)
{
    auto it = tasks_.find(raw(id));
    if (it == tasks_.end() || !it->second.running)
        return false;
    auto& t = it->second;
    t.running = false;
    --running_;

    // The next slot on the grid. The run overran if that slot passed while it
    // was going; a slot that had passed before it even started (the loop was
    // late, not the task) re-anchors the grid too, but is not its overrun.
    t.nominal += t.interval;
    t.next_due = t.nominal + draw(t);
    bool overrun = false;
    if (t.next_due < now) {
        overrun = t.next_due >= started;
        t.nominal = now;
        t.next_due = now;
    }
    due_.emplace(t.next_due, t.id);

    auto const took = std::max(now - started, duration::zero());
    record(t.m, started, took, overrun, failed);
    t.m.last_started = started;  // replaces the provisional start from due()
    if (t.family != no_family)
        record(families_[t.family].m, started, took, overrun, failed);

    if (t.idle_at_finish) {
        // It went idle while running: let the next expire() decide.
        t.idle_at_finish = false;
        idle_.emplace(now, t.id);
    }
    return overrun;
}

inline std::vector<scheduler_core::removed_key> scheduler_core::expire(time_point now)
{
    std::vector<removed_key> out;
    while (!idle_.empty() && idle_.begin()->first <= now) {
        auto const id = idle_.begin()->second;
        idle_.erase(idle_.begin());
        auto it = tasks_.find(id);
        if (it == tasks_.end())
            continue;
        auto& t = it->second;
        auto& f = families_[t.family];
        auto const expiry = t.last_touched + f.opts.idle_timeout;
        if (expiry > now) {
            // Touched since this entry was made.
            idle_.emplace(expiry, id);
            continue;
        }
        if (t.running) {
            t.idle_at_finish = true;
            continue;
        }
        due_.erase({t.next_due, id});
        f.keys.erase(t.name);
        ++f.removed;
        --keyed_;
        out.push_back({family_id{t.family}, std::move(t.name)});
        tasks_.erase(it);
    }
    return out;
}

inline bool scheduler_core::running(task_id id) const
{
    auto it = tasks_.find(raw(id));
    return it != tasks_.end() && it->second.running;
}

inline std::optional<scheduler_core::family_id> scheduler_core::family_of(task_id id) const
{
    auto const& t = tasks_.at(raw(id));
    if (t.family == no_family)
        return std::nullopt;
    return family_id{t.family};
}

inline std::optional<scheduler_core::task_id> scheduler_core::find(std::string_view name) const
{
    for (auto id : named_)
        if (tasks_.at(id).name == name)
            return task_id{id};
    return std::nullopt;
}

inline std::optional<scheduler_core::task_id> scheduler_core::find(family_id fid,
                                                                   std::string_view key) const
{
    auto const& f = families_.at(raw(fid));
    if (auto it = f.keys.find(key); it != f.keys.end())
        return task_id{it->second->id};
    return std::nullopt;
}

inline std::optional<scheduler_core::family_id>
scheduler_core::find_family(std::string_view name) const
{
    for (std::size_t i = 0; i < families_.size(); ++i)
        if (families_[i].name == name)
            return family_id{static_cast<std::uint32_t>(i)};
    return std::nullopt;
}

inline scheduler_metrics scheduler_core::snapshot() const
{
    scheduler_metrics out;
    out.tasks.reserve(named_.size());
    for (auto id : named_) {
        auto const& t = tasks_.at(id);
        out.tasks.push_back({t.name, t.interval, t.running, t.next_due, t.m});
    }
    out.families.reserve(families_.size());
    for (auto const& f : families_)
        out.families.push_back({f.name, f.keys.size(), f.created, f.removed, f.refused, f.m});
    out.keyed_tasks = keyed_;
    out.refused_keys = refused_;
    return out;
}

inline scheduler_core::duration scheduler_core::draw(task& t) noexcept
{
    if (t.jitter <= duration::zero())
        return duration::zero();
    // Uniform over [0, jitter] in clock ticks; the modulo bias of a 64-bit
    // draw over a span of nanoseconds is negligible.
    auto const span = static_cast<std::uint64_t>(t.jitter.count()) + 1;
    return duration{static_cast<duration::rep>(next_random(t.rng) % span)};
}

inline void scheduler_core::record(task_metrics& m, time_point started, duration took,
                                   bool overrun, bool failed)
{
    ++m.runs;
    m.overruns += overrun ? 1 : 0;
    m.failures += failed ? 1 : 0;
    m.last_duration = took;
    m.max_duration = std::max(m.max_duration, took);
    m.last_started = std::max(m.last_started, started);
}

}  // namespace jobwatch

#endif
