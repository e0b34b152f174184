#ifndef JOBWATCH_STORE_IMPL_JOB_STORE_HPP
#define JOBWATCH_STORE_IMPL_JOB_STORE_HPP

// Bodies of <jobwatch/store/job_store.hpp>; included at its end.

#include <boost/json/serializer.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <iterator>
#include <type_traits>

namespace jobwatch {
namespace detail {

// ---------------------------------------------------------------------------
// symbol_table

inline std::uint32_t symbol_table::find(std::string_view name) const
{
    auto const it = ids_.find(name);
    return it == ids_.end() ? none : it->second;
}

inline std::uint32_t symbol_table::acquire(std::string_view name)
{
    auto it = ids_.find(name);
    if (it == ids_.end()) {
        // Reserve first, so that release() never allocates and the id is never lost.
        if (free_.empty()) {
            entries_.emplace_back();
            free_.reserve(entries_.capacity());
            free_.push_back(static_cast<std::uint32_t>(entries_.size() - 1));
        }
        it = ids_.emplace(std::string(name), free_.back()).first;
        free_.pop_back();
        entries_[it->second] = entry{&it->first, 0, no_slot, no_slot};
    }
    ++entries_[it->second].refs;
    return it->second;
}

inline void symbol_table::release(std::uint32_t id) noexcept
{
    if (id == none)
        return;
    auto& e = entries_[id];
    if (--e.refs != 0)
        return;
    // Find by a view of the node's own key, then erase by iterator: the key dies with the node.
    ids_.erase(ids_.find(std::string_view{*e.name}));
    e = entry{};
    free_.push_back(id);  // capacity reserved in acquire()
}

inline std::string_view symbol_table::name(std::uint32_t id) const noexcept
{
    if (id == none)
        return {};
    return *entries_[id].name;
}

// ---------------------------------------------------------------------------
// log_ring

inline void log_ring::drop_oldest() noexcept
{
    auto& line = buf_[head_];
    bytes_ -= line.message.size();
    std::string{}.swap(line.message);  // give the memory back: the byte bound is about memory
    head_ = (head_ + 1) % buf_.size();
    --count_;
}

inline std::size_t log_ring::push(std::uint64_t seq, time_point time, log_level level, std::string_view message,
                                  std::size_t max_lines, std::size_t max_bytes)
{
    if (max_lines == 0)
        return 1;
    std::size_t dropped = 0;
    job_log_line* slot = nullptr;
    if (count_ >= max_lines) {
        // Full: the new line takes the oldest one's place (and its string's capacity).
        auto& oldest = buf_[head_];
        bytes_ -= oldest.message.size();
        slot = &oldest;
        head_ = (head_ + 1) % buf_.size();
        --count_;
        ++dropped;
    }
    else if (count_ < buf_.size()) {
        slot = &buf_[(head_ + count_) % buf_.size()];
    }
    else {
        // Grow, but never past max_lines; straighten the ring so the new line goes last.
        std::rotate(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(head_), buf_.end());
        head_ = 0;
        if (buf_.size() == buf_.capacity())
            buf_.reserve(std::min(max_lines, std::max<std::size_t>(4, 2 * buf_.size())));
        slot = &buf_.emplace_back();
    }
    slot->seq = seq;
    slot->time = time;
    slot->level = level;
    slot->message.assign(message);
    ++count_;
    bytes_ += message.size();
    while (bytes_ > max_bytes && count_ > 1) {
        drop_oldest();
        ++dropped;
    }
    return dropped;
}

inline std::vector<job_log_line> log_ring::read(std::uint64_t since_seq, std::size_t limit) const
{
    std::vector<job_log_line> out;
    for (std::size_t i = 0; i < count_ && out.size() < limit; ++i) {
        auto const& line = buf_[(head_ + i) % buf_.size()];
        if (line.seq > since_seq)
            out.push_back(line);
    }
    return out;
}

// ---------------------------------------------------------------------------
// compact_id

inline void compact_id::assign(std::string_view s)
{
    release();
    if (s.size() <= inline_capacity) {
        std::memcpy(buf_, s.data(), s.size());
        buf_[inline_capacity] = static_cast<char>(s.size());
        return;
    }
    char* p = new char[s.size()];
    std::memcpy(p, s.data(), s.size());
    std::size_t const len = s.size();
    std::memcpy(buf_, &p, sizeof p);
    std::memcpy(buf_ + sizeof p, &len, sizeof len);
    buf_[inline_capacity] = static_cast<char>(on_heap);
}

inline void compact_id::release() noexcept
{
    if (static_cast<unsigned char>(buf_[inline_capacity]) == on_heap) {
        char* p = nullptr;
        std::memcpy(&p, buf_, sizeof p);
        delete[] p;
    }
    buf_[inline_capacity] = 0;
}

inline void compact_id::steal(compact_id& other) noexcept
{
    std::memcpy(buf_, other.buf_, sizeof buf_);
    other.buf_[inline_capacity] = 0;
}

/// The counters of a job, flat and in key order.
using counter_list = std::vector<std::pair<std::string, std::int64_t>>;

/// Replaces `to` with `from`. When the keys are the same (the common case of a
/// job updating its counters) only the values are written, so nothing allocates.
inline void assign_counters(counter_list& to, counter_map const& from)
{
    if (to.size() == from.size()) {
        auto it = to.begin();
        bool same = true;
        for (auto const& kv : from) {
            if (it->first != kv.first) {
                same = false;
                break;
            }
            (it++)->second = kv.second;
        }
        if (same)
            return;
    }
    to.clear();
    to.reserve(from.size());
    for (auto const& kv : from)
        to.emplace_back(kv.first, kv.second);
}

/// True when `v` serializes to at most `max_bytes`; stops reading as soon as it is over.
inline bool fits_serialized(boost::json::value const& v, std::size_t max_bytes)
{
    boost::json::serializer sr;
    sr.reset(&v);
    char buf[512];
    std::size_t n = 0;
    while (!sr.done()) {
        n += sr.read(buf, sizeof buf).size();
        if (n > max_bytes)
            return false;
    }
    return true;
}

/// Attempt numbers as the record keeps them (the schema allows 1..1000).
inline std::uint16_t clamp_attempt(std::int64_t n) noexcept
{
    return static_cast<std::uint16_t>(std::clamp<std::int64_t>(n, 0, std::numeric_limits<std::uint16_t>::max()));
}

}  // namespace detail

// ---------------------------------------------------------------------------
// job_store: construction, slots, lists, index

inline job_store::job_store() : job_store(config{}) {}

inline job_store::job_store(config cfg)
    : cfg_(cfg)
    // Unpredictable enough without a system call that could fail: the clock and an address.
    , seed_(static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
            reinterpret_cast<std::uintptr_t>(this))
{
}

inline job_store::list_id job_store::list_of(std::uint8_t state) noexcept
{
    if (state == state_none)
        return list_none;
    switch (static_cast<job_state>(state)) {
    case job_state::queued: return list_queued;
    case job_state::running: return list_running;
    default: return list_finished;
    }
}

inline detail::job_slot job_store::index_find(std::string_view tenant, std::string_view id,
                                              std::uint64_t h) const noexcept
{
    if (index_.empty())
        return detail::no_slot;
    auto const mask = index_.size() - 1;
    auto const tag = static_cast<std::uint32_t>(h);
    // The hash is of the id alone: one id's jobs of several tenants probe together.
    for (auto i = tag & mask;; i = (i + 1) & mask) {
        auto const e = index_[i];
        if (e.ref == 0)
            return detail::no_slot;
        if (e.tag != tag)
            continue;
        auto const& r = rec(e.ref - 1);
        if (r.job_id_.view() == id && tenants_.name(r.tenant_) == tenant)
            return e.ref - 1;
    }
}

inline void job_store::index_insert(detail::job_slot s, std::uint64_t h)
{
    // Keep the load at most 3/4 so that linear probing stays short.
    if ((size_ + 1) * 4 > index_.size() * 3)
        index_grow();
    auto const mask = index_.size() - 1;
    auto const tag = static_cast<std::uint32_t>(h);
    auto i = tag & mask;
    while (index_[i].ref != 0)
        i = (i + 1) & mask;
    index_[i] = index_entry{tag, s + 1};
}

inline void job_store::index_erase(detail::job_slot s, std::uint64_t h) noexcept
{
    auto const mask = index_.size() - 1;
    auto i = static_cast<std::uint32_t>(h) & mask;
    while (index_[i].ref != s + 1)
        i = (i + 1) & mask;
    // Backward-shift deletion: no tombstones, so probes never lengthen over time.
    for (auto j = i;;) {
        j = (j + 1) & mask;
        if (index_[j].ref == 0)
            break;
        auto const home = index_[j].tag & mask;
        bool const stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (!stays) {
            index_[i] = index_[j];
            i = j;
        }
    }
    index_[i] = index_entry{};
}

inline void job_store::index_grow()
{
    std::vector<index_entry> old(std::max<std::size_t>(16, index_.size() * 2));
    old.swap(index_);
    auto const mask = index_.size() - 1;
    for (auto const& e : old) {
        if (e.ref == 0)
            continue;
        auto i = e.tag & mask;
        while (index_[i].ref != 0)
            i = (i + 1) & mask;
        index_[i] = e;
    }
}

inline detail::job_slot job_store::allocate()
{
    if (free_head_ != detail::no_slot) {
        auto const s = free_head_;
        free_head_ = rec(s).next_;
        rec(s).next_ = detail::no_slot;
        return s;
    }
    if (high_water_ == chunks_.size() * chunk_size)
        chunks_.push_back(std::make_unique<job_record[]>(chunk_size));
    assert(high_water_ < detail::no_slot - 1);
    return high_water_++;
}

inline void job_store::link(list& l, detail::job_slot s) noexcept
{
    auto& r = rec(s);
    r.prev_ = l.tail;
    r.next_ = detail::no_slot;
    if (l.tail == detail::no_slot)
        l.head = s;
    else
        rec(l.tail).next_ = s;
    l.tail = s;
    ++l.count;
}

inline void job_store::unlink(list& l, detail::job_slot s) noexcept
{
    auto& r = rec(s);
    if (r.prev_ == detail::no_slot)
        l.head = r.next_;
    else
        rec(r.prev_).next_ = r.next_;
    if (r.next_ == detail::no_slot)
        l.tail = r.prev_;
    else
        rec(r.next_).prev_ = r.prev_;
    r.prev_ = r.next_ = detail::no_slot;
    --l.count;
}

inline void job_store::link_run(detail::job_slot s) noexcept
{
    auto& r = rec(s);
    auto& tail = runs_.tail(r.run_);
    r.run_prev_ = tail;
    r.run_next_ = detail::no_slot;
    if (tail == detail::no_slot)
        runs_.head(r.run_) = s;
    else
        rec(tail).run_next_ = s;
    tail = s;
}

inline void job_store::unlink_run(detail::job_slot s) noexcept
{
    auto& r = rec(s);
    if (r.run_ == detail::symbol_table::none)
        return;
    if (r.run_prev_ == detail::no_slot)
        runs_.head(r.run_) = r.run_next_;
    else
        rec(r.run_prev_).run_next_ = r.run_next_;
    if (r.run_next_ == detail::no_slot)
        runs_.tail(r.run_) = r.run_prev_;
    else
        rec(r.run_next_).run_prev_ = r.run_prev_;
    r.run_prev_ = r.run_next_ = detail::no_slot;
}

inline void job_store::set_state(detail::job_slot s, job_state to) noexcept
{
    auto& r = rec(s);
    auto const from = list_of(r.state_);
    auto const dest = list_of(static_cast<std::uint8_t>(to));
    // Finished jobs join the FIFO in the order their terminal event arrived.
    if (from != dest) {
        if (from != list_none)
            unlink(lists_[from], s);
        link(lists_[dest], s);
    }
    r.state_ = static_cast<std::uint8_t>(to);
}

inline void job_store::remove(detail::job_slot s) noexcept
{
    auto& r = rec(s);
    index_erase(s, hash_of(r.job_id_.view()));
    if (auto const l = list_of(r.state_); l != list_none)
        unlink(lists_[l], s);
    unlink_run(s);
    queues_.release(r.queue_);
    runs_.release(r.run_);
    tenants_.release(r.tenant_);
    users_.release(r.user_);
    types_.release(r.type_);
    r = job_record{};
    r.next_ = free_head_;
    free_head_ = s;
    --size_;
}

// ---------------------------------------------------------------------------
// job_store: per-job details

/// What a transition did, beyond the state: becomes the job_change's flags.
struct job_store::effects
{
    bool attempt_started = false;
    bool finished = false;
    bool attempt_failed = false;
    bool retry_scheduled = false;
    std::optional<double> duration_ms;
    std::optional<double> wait_ms;
    std::string_view error;
};

inline std::string_view job_store::scoped_key(std::string_view tenant, std::string_view id) const
{
    if (tenant.empty())
        return id;
    key_.assign(tenant).push_back('/');
    key_.append(id);
    return key_;
}

namespace detail {
/// A run's or user's id without its tenant (`key` is `tenant/id`, or `id`).
inline std::string_view unscoped(std::string_view tenant, std::string_view key) noexcept
{
    return tenant.empty() || key.empty() ? key : key.substr(tenant.size() + 1);
}
}  // namespace detail

inline detail::job_extras& job_store::extras(job_record& r)
{
    if (!r.extras_)
        r.extras_ = std::make_unique<detail::job_extras>();
    return *r.extras_;
}

inline void job_store::fill_blanks(detail::job_slot s, job_event const& ev, std::int64_t t, bool is_new)
{
    // Metadata is about the job, not an attempt: the first value seen wins, later ones only fill blanks.
    // Run, tenant and user are the job's scopes (rooms, aggregates): they are
    // fixed by its first event, so every listener sees one membership for
    // the job's whole life and no aggregate counts it in a scope it joined late.
    // The tenant is the job's identity, set when the job was created.
    auto& r = rec(s);
    std::visit(
        [&](auto const& e) {
            auto const tenant = tenants_.name(r.tenant_);
            if (is_new && e.run_id && r.run_ == detail::symbol_table::none) {
                r.run_ = runs_.acquire(scoped_key(tenant, *e.run_id));
                link_run(s);
            }
            if (is_new && e.user_id && r.user_ == detail::symbol_table::none)
                r.user_ = users_.acquire(scoped_key(tenant, *e.user_id));
            if (e.job_type && r.type_ == detail::symbol_table::none)
                r.type_ = types_.acquire(*e.job_type);
            if constexpr (std::is_same_v<std::decay_t<decltype(e)>, job_queued>) {
                if (r.queued_ms_ == job_record::unknown)
                    r.queued_ms_ = t;
                if (r.max_attempts_ == 0 && e.max_attempts)
                    r.max_attempts_ = detail::clamp_attempt(*e.max_attempts);
            }
        },
        ev);
}

inline void job_store::apply_progress(job_record& r, job_progress const& p, std::int64_t t)
{
    // Fields the event carries replace the stored ones; absent fields keep their last value.
    r.percent_ = p.percent;
    r.progress_ms_ = t;
    if (p.current)
        r.current_ = *p.current;
    if (p.total)
        r.total_ = *p.total;
    if (p.step) {
        auto& x = extras(r);
        x.step.assign(*p.step);  // reuses the capacity: no allocation unless it grows
        x.has_step = true;
    }
    if (p.counters) {
        auto& x = extras(r);
        detail::assign_counters(x.counters, *p.counters);
        x.has_counters = true;
    }
}

inline void job_store::push_log(job_record& r, logged_event const& ev, job_log const& l)
{
    push_log(r, ev, l.level, l.message);
}

inline void job_store::apply_user_progress(job_record& r, user_event const& u, std::int64_t t)
{
    // The fields of job.progress, where the event has them with the same types and ranges.
    r.progress_ms_ = t;
    auto const& f = u.fields;
    auto number = [&](char const* key) -> std::optional<double> {
        auto const* v = f.if_contains(key);
        if (!v || !v->is_number())
            return std::nullopt;
        return v->to_number<double>();
    };
    if (auto p = number("percent"); p && *p >= 0 && *p <= 100)
        r.percent_ = *p;
    if (auto c = number("current"); c && *c >= 0 && *c <= 9007199254740991.0)
        r.current_ = static_cast<std::int64_t>(*c);
    if (auto n = number("total"); n && *n >= 0 && *n <= 9007199254740991.0)
        r.total_ = static_cast<std::int64_t>(*n);
    if (auto const* step = f.if_contains("step"); step && step->is_string()) {
        auto& x = extras(r);
        x.step.assign(std::string_view(step->get_string()));
        x.has_step = true;
    }
}

inline job_store::verdict job_store::transition_user(detail::job_slot s, logged_event const& ev, user_event const& u)
{
    auto& r = rec(s);
    auto const t = ev.time.time_since_epoch().count();
    bool const fresh = r.state_ == state_none;
    if (u.effect == user_effect::progress) {
        // As job.progress: it implies a start, but not of a job awaiting its retry.
        if (fresh) {
            begin_attempt(r, 1);
            set_state(s, job_state::running);
        }
        else if (r.state() == job_state::queued) {
            if (r.attempt_ != 0)
                return verdict::stale;
            begin_attempt(r, 1);
            set_state(s, job_state::running);
            ++stats_.implied_starts;
        }
        else if (t < r.progress_ms_) {
            return verdict::stale;
        }
        apply_user_progress(r, u, t);
        return verdict::applied;
    }
    // none and log: as job.log, a job first seen through one is running.
    if (fresh) {
        begin_attempt(r, 1);
        set_state(s, job_state::running);
    }
    if (u.effect == user_effect::log) {
        auto level = log_level::info;
        if (auto const* l = u.fields.if_contains("level"); l && l->is_string())
            from_string(std::string_view(l->get_string()), level);
        if (auto const* m = u.fields.if_contains("message"); m && m->is_string())
            push_log(r, ev, level, std::string_view(m->get_string()));
        else
            push_log(r, ev, level, u.type + " " + boost::json::serialize(u.fields));
    }
    return verdict::applied;
}

inline void job_store::push_log(job_record& r, logged_event const& ev, log_level level, std::string_view message)
{
    if (cfg_.max_log_lines_per_job == 0) {
        ++stats_.log_lines_dropped;
        return;
    }
    auto& x = extras(r);
    if (!x.logs)
        x.logs = std::make_unique<detail::log_ring>();
    stats_.log_lines_dropped += x.logs->push(ev.seq, ev.time, level, message, cfg_.max_log_lines_per_job,
                                             cfg_.max_log_bytes_per_job);
}

inline void job_store::keep_result(job_record& r, job_completed const& c)
{
    if (!c.result)
        return;
    if (!detail::fits_serialized(*c.result, cfg_.max_result_bytes)) {
        ++stats_.results_dropped;
        return;
    }
    extras(r).result = std::make_unique<boost::json::value>(*c.result);
}

inline void job_store::begin_attempt(job_record& r, std::int64_t n) noexcept
{
    r.attempt_ = detail::clamp_attempt(n);
    r.flags_ &= static_cast<std::uint8_t>(~(flag_started | flag_failed | flag_retry | flag_timed));
}

inline void job_store::finish(detail::job_slot s, job_state to, std::int64_t t, bool timed, effects& fx) noexcept
{
    auto& r = rec(s);
    r.finished_ms_ = t;
    if (timed && r.started_ms_ != job_record::unknown) {
        r.flags_ |= flag_timed;
        fx.duration_ms = static_cast<double>(std::max<std::int64_t>(0, t - r.started_ms_));
    }
    set_state(s, to);
    fx.finished = true;
}

// ---------------------------------------------------------------------------
// job_store: the state machine
//
// `a` is the job's attempt, `n` the event's. job.retrying(n) announces attempt
// n after the failure of attempt n-1, so it is compared as n-1. "new" is a job
// the store does not hold; * marks a job created out of order (counted).
// Terminal = succeeded, failed or cancelled; every event on it but job.log is
// ignored as after_terminal.
//
// event              new                  queued                          running
// ------------------ -------------------- ------------------------------- ------------------------------------
// job.queued         queued, a=0          duplicate                       stale
// job.started(n)     running a=n *        n>a: running a=n, started,      n>a: new attempt a=n (failure lost)
//                                              wait on first start        n=a: duplicate, or the late start of
//                                         n=a: duplicate (stale if a's         an implied attempt: started
//                                              start was never seen)     n<a: stale
//                                         n<a: stale
// job.progress       running a=1 *        a=0: running a=1 (implied)      progress; stale if older (event time)
//                                         a>0: stale (awaiting a retry)        than the last progress or the start
// job.log            running a=1 *, kept  kept, stays queued              kept          (terminal: kept too)
// job.completed      succeeded a=1 *      succeeded (a>=1), no duration   succeeded, duration if start seen
// job.failed(n)      failed / queued      n<a: stale; n=a and failure seen: duplicate; otherwise a=max(a,n),
//                    (will_retry) a=n *   attempt_failed, then will_retry ? queued + retry_scheduled : failed
// job.retrying(n)    queued a=n-1 *       n-1<a: stale; n-1=a and retry scheduled: duplicate; otherwise
//                                         a=max(a,n-1), queued, retry_scheduled (once per attempt)
// job.cancelled      cancelled a=0 *      cancelled, no duration          cancelled, duration if start seen
// user, progress     as job.progress, with the fields of job.progress the event has
// user, none / log   as job.log: running a=1 * when new; otherwise no state change (log: a line);
//                    kept after terminal
//
// Duration (finished - started_at) needs a seen job.started of the attempt that
// was running when the job finished; wait (started_at - queued_at) is measured
// on the first job.started only, when queued_at is known.

inline job_store::verdict job_store::transition(detail::job_slot s, logged_event const& ev, effects& fx)
{
    auto& r = rec(s);
    auto const t = ev.time.time_since_epoch().count();
    bool const fresh = r.state_ == state_none;
    bool const running = !fresh && r.state() == job_state::running;
    std::int64_t const a = r.attempt_;

    switch (kind_of(ev.event)) {
    case event_kind::queued:
        if (!fresh)
            return r.state() == job_state::queued ? verdict::duplicate : verdict::stale;
        // queued_at and max_attempts were filled in as blanks.
        set_state(s, job_state::queued);
        return verdict::applied;

    case event_kind::started: {
        auto const n = std::max<std::int64_t>(1, detail::clamp_attempt(std::get<job_started>(ev.event).attempt));
        if (running && n == a && !(r.flags_ & flag_started)) {
            // The start of the attempt already running (implied by a progress or log) arrives late.
            r.started_ms_ = t;
            r.flags_ |= flag_started;
        }
        else if (fresh || n > a) {
            begin_attempt(r, n);
            r.flags_ |= flag_started;
            r.started_ms_ = t;
            // A new attempt reports its own progress, on its worker's clock:
            // reports older than its start belong to an earlier attempt.
            r.percent_ = 0;
            r.current_ = r.total_ = -1;
            r.progress_ms_ = t;
            if (r.extras_) {
                r.extras_->step.clear();
                r.extras_->has_step = false;
                r.extras_->counters.clear();
                r.extras_->has_counters = false;
            }
            set_state(s, job_state::running);
        }
        else if (n == a && (r.flags_ & flag_started)) {
            return verdict::duplicate;
        }
        else {
            return verdict::stale;
        }
        fx.attempt_started = true;
        if (!(r.flags_ & flag_ever_started)) {
            r.flags_ |= flag_ever_started;
            if (r.queued_ms_ != job_record::unknown) {
                r.wait_ms_ = std::max<std::int64_t>(0, t - r.queued_ms_);
                fx.wait_ms = static_cast<double>(r.wait_ms_);
            }
        }
        return verdict::applied;
    }

    case event_kind::progress:
        if (fresh) {
            begin_attempt(r, 1);
            set_state(s, job_state::running);
        }
        else if (r.state() == job_state::queued) {
            // Awaiting a retry, it is a late report of the failed attempt, not a start.
            if (a != 0)
                return verdict::stale;
            begin_attempt(r, 1);
            set_state(s, job_state::running);
            ++stats_.implied_starts;
        }
        else if (t < r.progress_ms_) {
            return verdict::stale;
        }
        apply_progress(r, std::get<job_progress>(ev.event), t);
        return verdict::applied;

    case event_kind::log:
        if (fresh) {
            begin_attempt(r, 1);
            set_state(s, job_state::running);
        }
        push_log(r, ev, std::get<job_log>(ev.event));
        return verdict::applied;

    case event_kind::completed: {
        bool const timed = running && (r.flags_ & flag_started);
        // A job that completed ran at least once.
        if (a == 0)
            begin_attempt(r, 1);
        keep_result(r, std::get<job_completed>(ev.event));
        finish(s, job_state::succeeded, t, timed, fx);
        return verdict::applied;
    }

    case event_kind::failed: {
        auto const& f = std::get<job_failed>(ev.event);
        std::int64_t const n = std::max<std::int64_t>(1, detail::clamp_attempt(f.attempt));
        if (!fresh) {
            if (n < a)
                return verdict::stale;
            if (n == a && (r.flags_ & flag_failed))
                return verdict::duplicate;
        }
        bool const timed = running && n == a && (r.flags_ & flag_started);
        // A higher attempt failed: its start (and the end of the one before) were not seen.
        if (fresh || n > a)
            begin_attempt(r, n);
        r.flags_ |= flag_failed;
        fx.attempt_failed = true;
        fx.error = f.error;
        extras(r).last_error.assign(f.error);
        if (f.will_retry) {
            if (!(r.flags_ & flag_retry)) {
                r.flags_ |= flag_retry;
                fx.retry_scheduled = true;
            }
            set_state(s, job_state::queued);
        }
        else {
            finish(s, job_state::failed, t, timed, fx);
        }
        return verdict::applied;
    }

    case event_kind::cancelled: {
        bool const timed = running && (r.flags_ & flag_started);
        finish(s, job_state::cancelled, t, timed, fx);
        return verdict::applied;
    }

    case event_kind::user:
        return transition_user(s, ev, std::get<user_event>(ev.event));

    case event_kind::retrying: {
        auto const& y = std::get<job_retrying>(ev.event);
        std::int64_t const e = detail::clamp_attempt(y.attempt - 1);
        if (!fresh) {
            if (e < a)
                return verdict::stale;
            if (e == a && (r.flags_ & flag_retry))
                return verdict::duplicate;
        }
        if (fresh || e > a)
            begin_attempt(r, e);
        if (y.error && !y.error->empty()) {
            extras(r).last_error.assign(*y.error);
            fx.error = *y.error;
        }
        r.flags_ |= flag_retry;
        fx.retry_scheduled = true;
        set_state(s, job_state::queued);
        return verdict::applied;
    }
    }
    return verdict::stale;  // not reached: every event kind is handled above
}

inline std::optional<job_change> job_store::apply(logged_event const& ev)
{
#ifndef NDEBUG
    assert(iterating_ == 0 && "for_each_running callbacks must not modify the store");
#endif
    auto const& id = job_id_of(ev.event);
    auto const& tenant_opt = tenant_id_of(ev.event);
    auto const tenant = tenant_opt ? std::string_view(*tenant_opt) : std::string_view{};
    auto const kind = kind_of(ev.event);
    auto const t = ev.time.time_since_epoch().count();
    auto const h = hash_of(id);
    auto s = index_find(tenant, id, h);
    std::optional<job_state> before;
    if (s == detail::no_slot) {
        if (size_ >= cfg_.max_jobs) {
            // Full: make room by the oldest finished job, or refuse.
            if (lists_[list_finished].head == detail::no_slot) {
                ++stats_.refused_full;
                return std::nullopt;
            }
            evicted(lists_[list_finished].head);
            remove(lists_[list_finished].head);
            ++stats_.evicted;
        }
        s = allocate();
        auto& r = rec(s);
        r.job_id_.assign(id);
        r.queue_ = queues_.acquire(queue_of(ev.event));
        if (!tenant.empty())
            r.tenant_ = tenants_.acquire(tenant);
        index_insert(s, h);
        ++size_;
    }
    else {
        before = rec(s).state();
        // Terminal states are sticky; a late log line (or a user-defined event
        // that does not report progress) is still kept.
        if (is_terminal(*before) && kind != event_kind::log &&
            !(kind == event_kind::user && std::get<user_event>(ev.event).effect != user_effect::progress)) {
            ++stats_.after_terminal;
            return std::nullopt;
        }
    }
    if (!before || !is_terminal(*before))
        fill_blanks(s, ev.event, t, !before);
    if (!before) {
        auto& r = rec(s);
        r.rooms_ = job_rooms::make(tenant, id, queues_.name(r.queue_),
                                   detail::unscoped(tenant, runs_.name(r.run_)),
                                   detail::unscoped(tenant, users_.name(r.user_)));
    }

    effects fx;
    auto const v = transition(s, ev, fx);
    assert((before || v == verdict::applied) && "every event creates the job it is about");
    switch (v) {
    case verdict::applied: break;
    case verdict::duplicate: ++stats_.duplicates; return std::nullopt;
    case verdict::stale: ++stats_.stale; return std::nullopt;
    case verdict::after_terminal: ++stats_.after_terminal; return std::nullopt;
    }

    auto& r = rec(s);
    if (!before && kind != event_kind::queued)
        ++stats_.created_out_of_order;
    r.seq_ = ev.seq;
    r.updated_ms_ = before ? std::max(r.updated_ms_, t) : t;
    ++stats_.applied;
#if defined(__cpp_aggregate_paren_init)
    // Built in place: a temporary copied into the optional costs store-forwarding stalls on this hot path.
    return std::optional<job_change>(std::in_place, ev, r.job_id_.view(), queues_.name(r.queue_),
                                     detail::unscoped(tenant, runs_.name(r.run_)), tenant,
                                     detail::unscoped(tenant, users_.name(r.user_)), types_.name(r.type_), before,
                                     r.state(), std::int64_t{r.attempt_}, fx.attempt_started, fx.finished,
                                     fx.attempt_failed, fx.retry_scheduled, fx.duration_ms, fx.wait_ms, fx.error,
                                     r.rooms_.get(), &r.rooms_);
#else
    return job_change{
        .cause = ev,
        .job_id = r.job_id_.view(),
        .queue = queues_.name(r.queue_),
        .run_id = detail::unscoped(tenant, runs_.name(r.run_)),
        .tenant_id = tenant,
        .user_id = detail::unscoped(tenant, users_.name(r.user_)),
        .job_type = types_.name(r.type_),
        .before = before,
        .after = r.state(),
        .attempt = r.attempt_,
        .attempt_started = fx.attempt_started,
        .finished = fx.finished,
        .attempt_failed = fx.attempt_failed,
        .retry_scheduled = fx.retry_scheduled,
        .duration_ms = fx.duration_ms,
        .wait_ms = fx.wait_ms,
        .error = fx.error,
        .rooms = r.rooms_.get(),
        .shared_rooms = &r.rooms_,
    };
#endif
}

// ---------------------------------------------------------------------------
// job_store: retention, lookups, queries

inline std::size_t job_store::evict(time_point now)
{
#ifndef NDEBUG
    assert(iterating_ == 0 && "for_each_running callbacks must not modify the store");
#endif
    constexpr auto min = std::numeric_limits<std::int64_t>::min();
    auto const now_ms = now.time_since_epoch().count();
    auto const ttl = std::max<std::int64_t>(0, cfg_.finished_ttl.count());
    // now - ttl, saturated: a huge ttl disables the age limit.
    auto const cutoff = now_ms < min + ttl ? min : now_ms - ttl;
    std::size_t n = 0;
    auto& fifo = lists_[list_finished];
    while (fifo.head != detail::no_slot) {
        if (fifo.count <= cfg_.max_finished_jobs && rec(fifo.head).finished_ms_ >= cutoff)
            break;
        evicted(fifo.head);
        remove(fifo.head);
        ++n;
    }
    stats_.evicted += n;
    return n;
}

inline job_record const* job_store::find(std::string_view tenant, std::string_view job_id) const noexcept
{
    auto const s = index_find(tenant, job_id, hash_of(job_id));
    return s == detail::no_slot ? nullptr : &rec(s);
}

inline job_store::any_match job_store::find_any(std::string_view job_id) const noexcept
{
    any_match out;
    if (index_.empty())
        return out;
    auto const mask = index_.size() - 1;
    auto const tag = static_cast<std::uint32_t>(hash_of(job_id));
    for (auto i = tag & mask;; i = (i + 1) & mask) {
        auto const e = index_[i];
        if (e.ref == 0)
            return out;
        if (e.tag != tag || rec(e.ref - 1).job_id_.view() != job_id)
            continue;
        if (++out.count > 1) {
            out.job = nullptr;
            return out;
        }
        out.job = &rec(e.ref - 1);
    }
}

inline job_snapshot job_store::snapshot(job_record const& r) const
{
    auto const opt = [](std::string_view v) -> std::optional<std::string> {
        if (v.empty())
            return std::nullopt;
        return std::string(v);
    };
    auto const when = [](std::int64_t ms) -> std::optional<std::string> {
        if (ms == job_record::unknown)
            return std::nullopt;
        return format_time(time_point{duration{ms}});
    };
    job_snapshot s;
    s.job_id = std::string(r.job_id_.view());
    s.queue = std::string(queues_.name(r.queue_));
    s.job_type = opt(types_.name(r.type_));
    auto const tenant = tenants_.name(r.tenant_);
    s.run_id = opt(detail::unscoped(tenant, runs_.name(r.run_)));
    s.tenant_id = opt(tenant);
    s.user_id = opt(detail::unscoped(tenant, users_.name(r.user_)));
    s.state = r.state();
    s.attempt = r.attempt_;
    if (r.max_attempts_ != 0)
        s.max_attempts = r.max_attempts_;
    s.progress.percent = r.percent_;
    if (r.current_ >= 0)
        s.progress.current = r.current_;
    if (r.total_ >= 0)
        s.progress.total = r.total_;
    s.queued_at = when(r.queued_ms_);
    s.started_at = when(r.started_ms_);
    s.finished_at = when(r.finished_ms_);
    s.updated_at = format_time(r.updated_at());
    if (r.flags_ & flag_timed)
        s.duration_ms = static_cast<double>(std::max<std::int64_t>(0, r.finished_ms_ - r.started_ms_));
    if (r.wait_ms_ != job_record::unknown)
        s.wait_ms = static_cast<double>(r.wait_ms_);
    if (auto const* x = r.extras_.get()) {
        if (x->has_step)
            s.progress.step = x->step;
        if (x->has_counters)
            s.progress.counters.emplace(x->counters.begin(), x->counters.end());
        if (!x->last_error.empty())
            s.last_error = x->last_error;
        if (x->result)
            s.result = *x->result;
    }
    s.seq = static_cast<std::int64_t>(r.seq_);
    return s;
}

inline std::vector<job_store::log_line> job_store::logs(job_record const& r, std::uint64_t since_seq,
                                                        std::size_t limit) const
{
    if (!r.extras_ || !r.extras_->logs)
        return {};
    return r.extras_->logs->read(since_seq, limit);
}

inline job_store::selection job_store::select(job_query const& q, std::size_t keep) const
{
    selection out;

    // Resolve names to symbols once; a name no job uses matches nothing.
    bool nothing = false;
    auto const symbol = [&](detail::symbol_table const& table, std::optional<std::string> const& name) {
        if (!name)
            return detail::symbol_table::none;
        auto const id = table.find(*name);
        if (id == detail::symbol_table::none)
            nothing = true;
        return id;
    };
    auto const queue = symbol(queues_, q.queue);
    auto const tenant = symbol(tenants_, q.tenant_id);
    // Runs and users are keyed `tenant/id`.
    auto const scoped = [&](std::optional<std::string> const& id) -> std::optional<std::string> {
        if (!id)
            return std::nullopt;
        return std::string(scoped_key(q.tenant_id ? std::string_view(*q.tenant_id) : std::string_view{}, *id));
    };
    auto const run = symbol(runs_, scoped(q.run_id));
    auto const user = symbol(users_, scoped(q.user_id));
    auto const type = symbol(types_, q.job_type);
    if (nothing)
        return out;
    auto const state = q.status ? static_cast<std::uint8_t>(*q.status) : state_none;
    auto const since = q.since ? q.since->time_since_epoch().count() : std::numeric_limits<std::int64_t>::min();
    auto const until = q.until ? q.until->time_since_epoch().count() : std::int64_t{0};
    bool const has_until = q.until.has_value();

    auto const matches = [&](job_record const& r) noexcept {
        return r.state_ != state_none && (state == state_none || r.state_ == state) &&
               (!queue || r.queue_ == queue) && (!run || r.run_ == run) && (!tenant || r.tenant_ == tenant) &&
               (!user || r.user_ == user) && (!type || r.type_ == type) && r.updated_ms_ >= since &&
               (!has_until || r.updated_ms_ < until);
    };

    // Keep the best offset + limit matches in a heap whose front is the worst kept.
    struct hit
    {
        std::int64_t updated;
        std::uint64_t seq;
        detail::job_slot slot;
    };
    auto const better = [](hit const& x, hit const& y) noexcept {
        if (x.updated != y.updated)
            return x.updated > y.updated;
        if (x.seq != y.seq)
            return x.seq > y.seq;
        return x.slot > y.slot;
    };
    std::vector<hit> heap;
    std::size_t total = 0;
    auto const visit = [&](detail::job_slot s) {
        auto const& r = rec(s);
        if (!matches(r))
            return;
        ++total;
        if (keep == 0)
            return;
        hit const h{r.updated_ms_, r.seq_, s};
        if (heap.size() < keep) {
            heap.push_back(h);
            std::push_heap(heap.begin(), heap.end(), better);
        }
        else if (better(h, heap.front())) {
            std::pop_heap(heap.begin(), heap.end(), better);
            heap.back() = h;
            std::push_heap(heap.begin(), heap.end(), better);
        }
    };

    // Walk the shortest source: the run's list, the state's list, or every slot.
    std::size_t const scan_len = size_;
    std::size_t const run_len = run ? runs_.refs(run) : scan_len + 1;
    std::size_t const state_len = state != state_none ? lists_[list_of(state)].count : scan_len + 1;
    if (run && run_len <= state_len && run_len <= scan_len) {
        heap.reserve(std::min(keep, run_len));
        for (auto s = runs_.head(run); s != detail::no_slot; s = rec(s).run_next_)
            visit(s);
    }
    else if (state != state_none && state_len <= scan_len) {
        heap.reserve(std::min(keep, state_len));
        for (auto s = lists_[list_of(state)].head; s != detail::no_slot; s = rec(s).next_)
            visit(s);
    }
    else {
        heap.reserve(std::min(keep, scan_len));
        for (detail::job_slot s = 0; s < high_water_; ++s)
            visit(s);
    }

    out.total = total;
    std::sort_heap(heap.begin(), heap.end(), better);
    out.jobs.reserve(heap.size());
    for (auto const& h : heap)
        out.jobs.push_back(&rec(h.slot));
    return out;
}

inline job_page job_store::query(job_query const& q) const
{
    job_page page;
    page.offset = q.offset;
    page.limit = std::min(q.limit, max_page_size);
    std::size_t const keep = page.limit == 0 ? 0
                             : page.offset > std::numeric_limits<std::size_t>::max() - page.limit
                                 ? std::numeric_limits<std::size_t>::max()
                                 : page.offset + page.limit;
    auto const sel = select(q, keep);
    page.total = sel.total;
    if (page.offset < sel.jobs.size()) {
        auto const last = std::min(sel.jobs.size(), page.offset + page.limit);
        page.items.reserve(last - page.offset);
        for (auto i = page.offset; i < last; ++i)
            page.items.push_back(snapshot(*sel.jobs[i]));
    }
    return page;
}

}  // namespace jobwatch

#endif
