#ifndef JOBWATCH_CORE_HPP
#define JOBWATCH_CORE_HPP

#include <jobwatch/codec.hpp>
#include <jobwatch/detail/asio.hpp>
#include <jobwatch/events/event_log.hpp>
#include <jobwatch/logger.hpp>
#include <jobwatch/metrics/histogram.hpp>
#include <jobwatch/metrics/prometheus.hpp>
#include <jobwatch/messages/alert.hpp>
#include <jobwatch/messages/config.hpp>
#include <jobwatch/messages/health_report.hpp>
#include <jobwatch/messages/server_message.hpp>
#include <jobwatch/http/router.hpp>
#include <jobwatch/messages/summary.hpp>
#include <jobwatch/monitor/queue_counts.hpp>
#include <jobwatch/runtime/scheduler.hpp>
#include <jobwatch/runtime/token_bucket.hpp>
#include <jobwatch/store/history.hpp>
#include <jobwatch/store/job_store.hpp>
#include <jobwatch/messages/config.hpp>

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <array>
#include <utility>
#include <variant>
#include <vector>

namespace jobwatch {

/// What became of one published event.
enum class publish_status
{
    accepted,   ///< applied to its job, given a sequence number and sent to its rooms
    duplicate,  ///< its producer id was seen before (for its tenant): dropped
    ignored,    ///< the job store ignored it (stale, a repeat, after the job finished, store full)
    invalid,    ///< it does not satisfy the schema; `error` says why
    forbidden,  ///< the publisher may not write it (another tenant's or user's job); `error` says why
    conflict,   ///< it names no tenant and several tenants have a job with its id
    unavailable,  ///< the durable journal cannot take it now (disk full, writer far behind): try again
};

/// The outcome of publishing one event.
struct publish_result
{
    publish_status status = publish_status::invalid;
    std::uint64_t seq = 0;  ///< its sequence number when accepted
    parse_error error;      ///< why, when invalid, forbidden or a conflict
    std::string_view reason;  ///< why, when ignored: "duplicate", "stale", "after_terminal", "store_full"
    explicit operator bool() const noexcept { return status == publish_status::accepted; }
};

/// Counters of the core's ingest beyond the event log's and the store's.
struct ingest_stats
{
    std::uint64_t ignored = 0;    ///< events the job store ignored (not delivered)
    std::uint64_t forbidden = 0;  ///< events refused for their tenant or user
    std::uint64_t conflicts = 0;  ///< events refused for naming no tenant where several have the job id
    std::uint64_t rate_limited = 0;  ///< events refused for their principal's rate (rate_limits.ingest_events_per_s)
};

/// Events offered to the core, by type and by what became of them (for `/metrics`).
struct ingest_results
{
    /// Event types, in `job_event`'s order (user-defined types together, as `user`); the last is
    /// `unknown` (text that did not parse).
    static constexpr std::size_t types = std::variant_size_v<job_event> + 1;
    /// What became of an event: `publish_status`'s values, in order.
    static constexpr std::size_t results = 7;
    std::array<std::array<std::uint64_t, results>, types> n{};

    void count(std::size_t type, publish_status st) noexcept
    {
        ++n[std::min(type, types - 1)][static_cast<std::size_t>(st)];
    }
    /// The wire name of type `i` ("job.queued", ...), "unknown" past the last.
    static std::string_view type_name(std::size_t i) noexcept
    {
        return name_at(i, std::make_index_sequence<std::variant_size_v<job_event>>{});
    }
    static_assert(static_cast<std::size_t>(publish_status::unavailable) + 1 == results,
                  "result_names follows publish_status");
    static constexpr std::array<std::string_view, results> result_names = {
        "accepted", "duplicate", "ignored", "invalid", "forbidden", "conflict", "unavailable"};

private:
    template<std::size_t... I>
    static std::string_view name_at(std::size_t i, std::index_sequence<I...>) noexcept
    {
        std::string_view out = "unknown";
        ((i == I ? (out = static_type_name<std::variant_alternative_t<I, job_event>>(), 0) : 0), ...);
        return out;
    }
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

/// A durable journal's counters (`GET /api/v1/monitor/connections`, `storage`).
struct journal_report
{
    std::uint64_t committed = 0;      ///< records written
    std::uint64_t transactions = 0;   ///< commits
    std::uint64_t failures = 0;       ///< failed commits (each retried)
    std::uint64_t deleted = 0;        ///< records removed by retention
    std::uint64_t refused = 0;        ///< events refused while it could not take them
    std::uint64_t pending = 0;        ///< handed to the writer, not yet committed
    std::uint64_t committed_seq = 0;  ///< every message up to this number is in the file
    bool writing = true;              ///< false while commits fail (a full disk)
};

/** @brief What the core asks of a durable journal (`storage/journal.hpp`),
    when there is one. Core thread. */
class journal_gate
{
public:
    virtual ~journal_gate() = default;
    /// Its counters, as of now.
    virtual journal_report report() const = 0;
    /// False while the journal cannot take more events: ingest is refused (`unavailable`).
    virtual bool accepting() const noexcept = 0;
    /// Counts an event refused because it was not accepting.
    virtual void count_refused() noexcept = 0;
    /// `storage.durability` is sync: ingest answers wait for `durable`.
    virtual bool sync() const noexcept = 0;
    /// Resumes with true once every message up to `seq` is committed, false when that failed.
    virtual asio::awaitable<bool> durable(std::uint64_t seq) = 0;
    /// Takes a job event the moment it is numbered: records reach the journal in number order.
    virtual void append(std::shared_ptr<logged_event const> const& ev) = 0;
    /// Takes an alert the moment it is numbered.
    virtual void append(std::uint64_t seq, alert const& a) = 0;
};

/// An event made ready at ingest for the cluster's log (`cluster/node.hpp`).
struct clustered_event
{
    job_event event;  ///< its tenant decided for the principal, its time stamped
    /// The principal's user, if it is bound to one: checked again where the
    /// event is applied, against the job as it is at the event's number.
    std::optional<std::string> bound_user{};
    std::optional<std::string> dedup_key{};  ///< `tenant/id` of its producer id, if it has one
};

/** @brief Where ingest goes with `cluster.mode` redis: the cluster's log,
    which every instance applies in order (`core::apply_numbered`). */
class cluster_gate
{
public:
    virtual ~cluster_gate() = default;
    /// Appends `evs`, in order; calls `done` on the core executor with one
    /// result each: `accepted` with its number, `duplicate`, or `unavailable`.
    virtual void append(std::vector<clustered_event> evs, std::function<void(std::vector<publish_result>)> done) = 0;
    /// An alert this instance raised: the cluster's leader appends it to the log, the others drop it.
    virtual void raise(alert a) = 0;
};

/// One part's say in `/readyz` and `GET /api/v1/health`.
struct health_check
{
    bool ready = true;
    std::string reason{};  ///< why it is not ready
    std::string detail{};  ///< a JSON object of the part's figures; empty: none
};

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
        , log_(event_log::config{.history_per_room = cfg_.event_log.history_per_room,
                                 .history_size = cfg_.event_log.history_size,
                                 .dedup_window = cfg_.event_log.dedup_window,
                                 .max_rooms = cfg_.event_log.max_rooms})
        , store_(job_store::config{.max_finished_jobs = cfg_.store.max_finished_jobs,
                                   .finished_ttl = cfg_.store.finished_ttl_ms,
                                   .max_log_lines_per_job = cfg_.store.max_log_lines_per_job,
                                   .max_jobs = cfg_.store.max_jobs})
        , tasks_(ex_, scheduler::config{}, lgr_)
    {
        // A job leaving memory is kept in durable history, when there is one.
        store_.on_evict([this](job_record const& r) {
            if (history_)
                history_->archive(store_.snapshot(r), r.updated_at().time_since_epoch().count());
        });
        // Retention of finished jobs: bounded memory however long it runs.
        tasks_.add("store.retention", {.interval = std::chrono::seconds{1}}, [this] { store_.evict(now()); });
    }

    asio::any_io_executor get_executor() const noexcept { return ex_; }
    /// The clock; while a journal is replayed, the time the replayed message was journaled.
    time_point now() const { return replay_now_ ? *replay_now_ : clock_(); }
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

    /// Calls `fn` whenever a source reports a queue's counts as its broker has them (`report_queue_counts`).
    void on_queue_counts(std::function<void(std::string_view queue, queue_counts const&)> fn)
    {
        queue_count_listeners_.push_back(std::move(fn));
    }
    /// A source (the BullMQ source) tells queue health what the broker counts for `queue`.
    void report_queue_counts(std::string_view queue, queue_counts const& c)
    {
        for (auto const& fn : queue_count_listeners_)
            fn(queue, c);
    }

    /// Calls `fn` with the new settings whenever `update_settings` changes them.
    void on_settings(std::function<void(config const&)> fn) { settings_listeners_.push_back(std::move(fn)); }

    /// Calls `fn` on the core thread when the app is told to re-read keys and certificates (SIGHUP).
    void on_reload(std::function<void()> fn) { reload_listeners_.push_back(std::move(fn)); }
    /// Tells every component to re-read its keys and certificates (what SIGHUP does). Core thread.
    void reload()
    {
        lgr_.info("app", "reloading keys and certificates");
        for (auto const& fn : reload_listeners_)
            fn();
    }

    /** @brief A setting a component was given in code (`.threshold = 10`):
        it becomes the setting's value from the start, so the settings
        (`GET /api/v1/monitor/config`) show what is in force, and a runtime
        change (`POST`) replaces it until the next restart. Call from a
        component's constructor. */
    void initial_setting(std::function<void(config&)> const& set) { set(cfg_); }

    /** @brief Replaces the settings at runtime and tells every listener (the
        components re-read their intervals and thresholds). The caller has
        validated them and kept the settings that need a restart. */
    void update_settings(config cfg)
    {
        cfg_ = std::move(cfg);
        for (auto const& fn : settings_listeners_)
            fn(cfg_);
    }

    /** @brief The REST API's route table: the core's own routes, and each
        component's, registered when it is constructed. */
    http::router& routes() noexcept { return routes_; }
    http::router const& routes() const noexcept { return routes_; }

    /// What gives the current state of rooms of one kind (a summary, a health report).
    using snapshot_fn = std::function<std::optional<snapshot>(std::string_view room)>;

    /** @brief Registers where the state of rooms of kind `k` comes from (the
        aggregator: run, queue, tenant and user rooms; health: `health`).
        Job rooms' state is the job store's. */
    void provide_snapshots(rooms::kind k, snapshot_fn fn) { snapshots_[static_cast<std::size_t>(k)] = std::move(fn); }

    /** @brief The current state of `room`, as a subscriber gets it: a job's
        snapshot, a summary, a health report; nullopt for `alerts`, for a job
        not seen yet, and for kinds no component provides. */
    std::optional<snapshot> snapshot_of(std::string_view room) const
    {
        auto const n = rooms::parse(room);
        if (!n)
            return std::nullopt;
        if (n->kind == rooms::kind::job) {
            if (auto const* rec = store_.find(n->tenant, n->id))
                return snapshot{store_.snapshot(*rec)};
            return std::nullopt;
        }
        auto const& fn = snapshots_[static_cast<std::size_t>(n->kind)];
        return fn ? fn(room) : std::nullopt;
    }

    /** @brief Validates, resolves, applies, sequences and fans out one event.

        @li The event's tenant: a tenant's principal (`by`) writes only its
            tenant's jobs (an event naming another is `forbidden`; one naming
            none is its tenant's); a principal with a `user_id` only its
            user's. An event that names no tenant is about the job of no
            tenant with its id, else the one job with that id in any tenant
            (it inherits that job's tenant), else a new job of no tenant;
            when several tenants have a job with the id it is a `conflict`.
        @li Producer ids are remembered per tenant (`duplicate`).
        @li The job store applies it; an event that changed nothing is
            `ignored`: counted, not sequenced, not delivered.
        @li Otherwise the event gets the job's scope (tenant, run, user as
            the store keeps them), a sequence number, and goes to the rooms
            of its job.
    */
    publish_result publish(job_event ev, principal const* by = nullptr)
    {
        auto const type = ev.index();
        auto r = publish_here(std::move(ev), by);
        results_.count(type, r.status);
        return r;
    }

    /// One result per event submitted, in order.
    using results_fn = std::function<void(std::vector<publish_result>)>;

    /** @brief Ingest of events from outside (REST, WebSocket, `app::publish`):
        as `publish` each, and `done` with the results, at once; with
        `cluster.mode` redis, each is prepared here (the checks of `publish`
        that depend on the principal, its time stamped) and appended to the
        cluster's log, and `done` is called once the log took them: an
        accepted event is in Redis, and reaches the rooms when this instance
        reads it back. The time until `done` is the ingest latency of `/metrics`. */
    void submit(std::vector<job_event> evs, principal const* by, results_fn done)
    {
        auto const began = std::chrono::steady_clock::now();
        submit_timed(std::move(evs), by, [this, began, done = std::move(done)](std::vector<publish_result> r) {
            std::chrono::duration<double, std::milli> const took = std::chrono::steady_clock::now() - began;
            ingest_latency_.add(took.count());
            done(std::move(r));
        });
    }

    /// Events offered, by type and result (`/metrics`).
    ingest_results const& ingest_results_by_type() const noexcept { return results_; }
    /// Milliseconds from `submit` to its results, per call (`/metrics`).
    log_histogram const& ingest_latency() const noexcept { return ingest_latency_; }

    /** @brief Adds what a component exports on `GET /metrics`: `fn` writes
        its families when scraped, on the core executor. */
    void add_metrics(std::function<void(metrics::prometheus_writer&)> fn) { metrics_.push_back(std::move(fn)); }
    auto const& metrics_collectors() const noexcept { return metrics_; }

private:
    publish_result publish_here(job_event ev, principal const* by)
    {
        if (cluster_) {
            // Numbered by the cluster's stream only: this path would number locally.
            return {publish_status::unavailable, 0,
                    parse_error{"", "with cluster.mode redis, events go through core::submit or app::publish"}, {}};
        }
        if (journal_ && !journal_->accepting()) {
            journal_->count_refused();
            return {publish_status::unavailable, 0, parse_error{"", "storage unavailable"}, {}};
        }
        if (auto refused = resolve(ev, by))
            return *refused;
        auto admitted = log_.admit(std::move(ev), now());
        if (admitted.st != event_log::status::accepted) {
            return {admitted.st == event_log::status::duplicate ? publish_status::duplicate : publish_status::invalid,
                    0, std::move(admitted.error), {}};
        }
        return apply(std::move(admitted.event), true);
    }

    void submit_timed(std::vector<job_event> evs, principal const* by, results_fn done)
    {
        std::vector<publish_result> out(evs.size());
        if (!cluster_) {
            for (std::size_t i = 0; i < evs.size(); ++i)
                out[i] = publish(std::move(evs[i]), by);
            done(std::move(out));
            return;
        }
        std::vector<clustered_event> batch;
        std::vector<std::size_t> at;
        for (std::size_t i = 0; i < evs.size(); ++i) {
            if (auto refused = prepare(evs[i], by)) {
                results_.count(evs[i].index(), refused->status);
                out[i] = std::move(*refused);
                continue;
            }
            auto const& id = event_id_of(evs[i]);
            auto const& tenant = tenant_field(evs[i]);
            std::optional<std::string> key;
            if (id && cfg_.event_log.dedup_window > 0)
                key = tenant.value_or("") + "/" + *id;  // ids cannot hold '/'
            batch.push_back({std::move(evs[i]), by ? by->user_id : std::nullopt, std::move(key)});
            at.push_back(i);
        }
        if (batch.empty()) {
            done(std::move(out));
            return;
        }
        cluster_->append(std::move(batch), [out = std::move(out), at = std::move(at),
                                            done = std::move(done)](std::vector<publish_result> r) mutable {
            for (std::size_t k = 0; k < at.size() && k < r.size(); ++k)
                out[at[k]] = std::move(r[k]);
            done(std::move(out));
        });
    }

public:
    /// `submit`, awaited: resumed by a post once every result is known.
    asio::awaitable<std::vector<publish_result>> submitted(std::vector<job_event> evs, principal const* by = nullptr)
    {
        return asio::async_initiate<decltype(asio::use_awaitable), void(std::vector<publish_result>)>(
            [this, by](auto handler, std::vector<job_event> evs) {
                auto h = std::make_shared<decltype(handler)>(std::move(handler));
                submit(std::move(evs), by, [h](std::vector<publish_result> r) {
                    // Never inside the initiation: the caller resumes from its executor's queue.
                    auto const ex = asio::get_associated_executor(*h);
                    asio::post(ex, [h, r = std::move(r)]() mutable { (*h)(std::move(r)); });
                });
            },
            asio::use_awaitable, std::move(evs));
    }

    /// Ingest goes to the cluster's log (`cluster/node.hpp`); nullptr: this instance numbers events.
    void set_cluster(cluster_gate* g) noexcept { cluster_ = g; }
    cluster_gate* cluster() const noexcept { return cluster_; }

    /** @brief Numbers `first` to `last` will never be applied here (the
        cluster's stream was trimmed past this instance): resumes from before
        `last` get a reset, and every live subscriber is told to resume from
        `first - 1` (`on_gap`). */
    void lost(std::uint64_t first, std::uint64_t last)
    {
        log_.mark_lost(last);
        for (auto const& fn : gap_listeners_)
            fn(first);
    }
    /// Calls `fn(first)` when numbers from `first` on were lost (`lost`).
    void on_gap(std::function<void(std::uint64_t)> fn) { gap_listeners_.push_back(std::move(fn)); }

    /// Adds a part to `/readyz` (ready only when every part is) and `GET /api/v1/health`.
    void add_health_check(std::string name, std::function<health_check()> fn)
    {
        health_checks_.emplace_back(std::move(name), std::move(fn));
    }
    auto const& health_checks() const noexcept { return health_checks_; }

    /** @brief The journal (`storage/journal.hpp`) gates ingest and answers
        `durable`; nullptr: none (storage.mode memory). */
    void set_journal(journal_gate* j) noexcept { journal_ = j; }
    journal_gate* journal() const noexcept { return journal_; }

    /** @brief Durable history, which keeps what memory lets go (evicted jobs,
        dead-letter entries) and answers for it; nullptr: none. Set before a
        journal is replayed, so that what replay evicts is kept too. */
    void set_history(history* h) noexcept { history_ = h; }
    history* past() const noexcept { return history_; }

    /// A job failed for good (the dead-letter monitor's entry, made by event `seq`): kept in history.
    void dead_lettered(std::uint64_t seq, dead_letter_entry const& e)
    {
        if (history_)
            history_->archive(seq, e);
    }

    /** @brief Replays one journaled job event at start-up: number `seq`,
        journaled at `at` (what `now()` is meanwhile, for the listeners), its
        tenant already resolved. Applied and kept in its rooms' histories,
        given to the change listeners, not delivered; alerts the listeners
        raise meanwhile are dropped (the journal holds the ones raised).
        @return false when the job store ignores it now (smaller bounds). */
    bool replay_event(std::uint64_t seq, time_point at, job_event ev)
    {
        // The store's retention ran once a second live: as replayed time passes, so here
        // (a job id used again after its first job was evicted is a new job, as it was).
        if (at - last_replay_evict_ >= std::chrono::seconds{1}) {
            store_.evict(at);
            last_replay_evict_ = at;
        }
        replay_now_ = at;
        struct reset_clock
        {
            std::optional<time_point>& t;
            ~reset_clock() { t.reset(); }
        } reset{replay_now_};
        log_.resume_after(seq - 1);
        auto admitted = log_.admit(std::move(ev), at);
        return admitted.st == event_log::status::accepted && apply(std::move(admitted.event), false);
    }

public:
    /** @brief Applies a job event numbered elsewhere (the cluster's stream,
        `cluster/projection.hpp`): number `seq`, its tenant resolved and its
        time stamped by the instance that appended it. Applied, kept,
        journaled and delivered as a published event is; an event the store
        ignores leaves its number unused. */
    publish_result apply_numbered(std::uint64_t seq, job_event ev, std::optional<std::string> bound_user = {})
    {
        auto const type = ev.index();
        auto r = apply_numbered_here(seq, std::move(ev), std::move(bound_user));
        results_.count(type, r.status);
        return r;
    }

private:
    publish_result apply_numbered_here(std::uint64_t seq, job_event ev, std::optional<std::string> bound_user)
    {
        // The checks that depend on the jobs, as they are at this number on every instance.
        principal bound;
        bound.user_id = std::move(bound_user);
        if (auto refused = resolve(ev, bound.user_id ? &bound : nullptr)) {
            log_.resume_after(seq);
            return *refused;
        }
        log_.resume_after(seq - 1);
        auto admitted = log_.admit(std::move(ev), now());
        if (admitted.st != event_log::status::accepted) {
            return {admitted.st == event_log::status::duplicate ? publish_status::duplicate : publish_status::invalid,
                    0, std::move(admitted.error), {}};
        }
        return apply(std::move(admitted.event), true);
    }

public:
    /// Applies an alert numbered by the cluster's stream: kept, journaled and delivered.
    void apply_alert_numbered(std::uint64_t seq, alert a)
    {
        log_.resume_after(seq - 1);
        auto entry = log_.append_alert(std::move(a));
        if (journal_)
            journal_->append(entry.seq, *entry.alert_msg);
        deliver(alert_out{entry.seq, entry.alert_msg});
    }

    /// Restores one journaled alert at start-up, as number `seq` in room `alerts`; not delivered.
    void replay_alert(std::uint64_t seq, alert a)
    {
        log_.resume_after(seq - 1);
        log_.append_alert(std::move(a));
    }

    /// The same for an event that arrives as JSON text.
    publish_result publish_text(std::string_view text, principal const* by = nullptr)
    {
        auto r = parse<job_event>(text);
        if (!r) {
            log_.count_invalid();
            results_.count(ingest_results::types - 1, publish_status::invalid);
            return {publish_status::invalid, 0, r.error(), {}};
        }
        return publish(std::move(*r), by);
    }

    /// Counters of ingest beyond the event log's and the store's.
    ingest_stats const& ingest_counters() const noexcept { return stats_; }

    /** @brief Takes `n` events of `who`'s ingest allowance
        (`rate_limits.ingest_events_per_s` and `ingest_burst`), one bucket per
        principal (its tenant and subject). Events published in process (no
        principal) are not limited. Core thread.
        @return 0 when admitted; else how long until they would be (and the
        refusal is counted). */
    std::chrono::milliseconds admit_ingest(principal const* who, std::size_t n = 1)
    {
        auto const& r = cfg_.rate_limits;
        rate_limit const l{r.ingest_events_per_s, r.ingest_burst};
        if (!who || l.off())
            return std::chrono::milliseconds{0};
        // Ids cannot hold '/', so tenant/subject names one principal.
        auto const key = who->tenant_id.value_or("") + "/" + who->subject;
        auto const d = static_cast<double>(n);
        if (ingest_buckets_.take(key, l, std::chrono::steady_clock::now(), d))
            return std::chrono::milliseconds{0};
        stats_.rate_limited += n;
        return std::max(std::chrono::milliseconds{1}, ingest_buckets_.wait_for(key, l, d));
    }

    /// Sequences an alert into room `alerts` and hands it to the rooms.
    void emit_alert(alert a)
    {
        if (replay_now_)
            return;  // replaying a journal: its alerts come from the journal
        if (cluster_) {
            cluster_->raise(std::move(a));  // numbered by the stream, once for the cluster
            return;
        }
        auto entry = log_.append_alert(std::move(a));
        if (journal_)
            journal_->append(entry.seq, *entry.alert_msg);
        deliver(alert_out{entry.seq, entry.alert_msg});
    }

    /// Hands a room's new summary to the rooms.
    void emit_summary(std::string room, summary s)
    {
        auto const seq = log_.position(room);
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

    // Cluster ingest: the checks of publish() before the log numbers the event; the refusal, if any.
    std::optional<publish_result> prepare(job_event& ev, principal const* by)
    {
        if (journal_ && !journal_->accepting()) {
            journal_->count_refused();
            return publish_result{publish_status::unavailable, 0, parse_error{"", "storage unavailable"}, {}};
        }
        if (auto refused = resolve(ev, by))
            return refused;
        // Every instance must time it alike: stamped here, once.
        auto& t = time_of(ev);
        if (!t)
            t = format_time(now());
        else if (!parse_time(*t)) {
            log_.count_invalid();
            return publish_result{publish_status::invalid, 0, parse_error{"/time", "must be an RFC 3339 date-time"}, {}};
        }
        return std::nullopt;
    }

    // Decides the event's tenant (and user) for `by`; the refusal, if any.
    std::optional<publish_result> resolve(job_event& ev, principal const* by)
    {
        auto refuse = [&](publish_status st, std::string path, std::string message) {
            ++(st == publish_status::conflict ? stats_.conflicts : stats_.forbidden);
            log_.count_invalid();
            return publish_result{st, 0, parse_error{std::move(path), std::move(message)}, {}};
        };
        auto& tenant = tenant_field(ev);
        auto& user = user_field(ev);
        if (by && by->tenant_id) {
            if (tenant && *tenant != *by->tenant_id)
                return refuse(publish_status::forbidden, "/tenant_id",
                              "tenant_id must be \"" + *by->tenant_id + "\" for this principal");
            tenant = by->tenant_id;
        }
        auto const& id = job_id_of(ev);
        if (!tenant && !store_.find({}, id)) {
            // Named without its tenant: the one job with this id, if exactly one tenant has it.
            auto const any = store_.find_any(id);
            if (any.count > 1)
                return refuse(publish_status::conflict, "/tenant_id",
                              "several tenants have a job \"" + id + "\": name its tenant_id");
            if (any.job)
                tenant = std::string(any.job->tenant_id());
        }
        if (by && by->user_id) {
            if (user && *user != *by->user_id)
                return refuse(publish_status::forbidden, "/user_id",
                              "user_id must be \"" + *by->user_id + "\" for this principal");
            auto const* job = store_.find(tenant ? std::string_view(*tenant) : std::string_view{}, id);
            if (job && job->rooms()->user_key() != rooms::scoped(tenant.value_or(""), *by->user_id))
                return refuse(publish_status::forbidden, "/job_id", "job \"" + id + "\" is another user's");
            user = by->user_id;
        }
        return std::nullopt;
    }

    static std::optional<std::string>& tenant_field(job_event& ev)
    {
        return std::visit([](auto& e) -> std::optional<std::string>& { return e.tenant_id; }, ev);
    }
    static std::optional<std::string>& user_field(job_event& ev)
    {
        return std::visit([](auto& e) -> std::optional<std::string>& { return e.user_id; }, ev);
    }

    // The event names its job's scope as the store keeps it (fixed by the job's first event).
    static void adopt_scope(job_event& ev, job_change const& c)
    {
        auto set = [](std::optional<std::string>& field, std::string_view v) {
            if (v.empty())
                field.reset();
            else if (!field || *field != v)
                field = std::string(v);
        };
        std::visit(
            [&](auto& e) {
                set(e.tenant_id, c.tenant_id);
                set(e.run_id, c.run_id);
                set(e.user_id, c.user_id);
            },
            ev);
    }

    static std::string_view ignored_reason(job_store::stats const& before, job_store::stats const& after) noexcept
    {
        if (after.duplicates != before.duplicates)
            return "duplicate";
        if (after.after_terminal != before.after_terminal)
            return "after_terminal";
        if (after.refused_full != before.refused_full)
            return "store_full";
        return "stale";
    }

    // Applies an admitted event to its job; numbers, keeps and (unless replaying) delivers it.
    publish_result apply(std::shared_ptr<logged_event> ev, bool deliver_it)
    {
        auto& logged = *ev;
        auto const before = store_.counters();
        auto change = store_.apply(logged);
        if (!change) {
            ++stats_.ignored;
            return {publish_status::ignored, 0, {}, ignored_reason(before, store_.counters())};
        }
        adopt_scope(logged.event, *change);
        // History keeps only jobs that are not in memory: a new job replaces an archived one.
        if (history_ && !change->before)
            history_->forget(change->tenant_id, change->job_id);
        logged.rooms = *change->shared_rooms;
        std::shared_ptr<logged_event const> shared = std::move(ev);
        log_.commit(shared);
        // Before the listeners, which may number an alert after it.
        if (journal_ && deliver_it)
            journal_->append(shared);
        for (auto const& fn : change_listeners_)
            fn(*change);
        if (deliver_it)
            deliver(event_out{shared});
        return {publish_status::accepted, shared->seq, {}, {}};
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
    std::vector<std::function<void(std::string_view, queue_counts const&)>> queue_count_listeners_;
    std::vector<std::function<void(room_message const&)>> room_listeners_;
    std::vector<std::function<void(config const&)>> settings_listeners_;
    std::vector<std::function<void()>> reload_listeners_;
    http::router routes_;
    std::array<snapshot_fn, 7> snapshots_{};  // by rooms::kind
    std::shared_ptr<health_report const> latest_health_;
    ingest_stats stats_;
    ingest_results results_;
    log_histogram ingest_latency_;
    std::vector<std::function<void(metrics::prometheus_writer&)>> metrics_;
    keyed_buckets ingest_buckets_;  // rate_limits.ingest_*, by principal
    journal_gate* journal_ = nullptr;
    history* history_ = nullptr;
    cluster_gate* cluster_ = nullptr;
    std::vector<std::function<void(std::uint64_t)>> gap_listeners_;
    std::vector<std::pair<std::string, std::function<health_check()>>> health_checks_;
    std::optional<time_point> replay_now_;  // set while a journaled message is replayed
    time_point last_replay_evict_{};        // the store's retention, in replayed time
};

}  // namespace jobwatch

#endif
