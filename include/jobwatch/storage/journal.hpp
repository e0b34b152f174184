#ifndef JOBWATCH_STORAGE_JOURNAL_HPP
#define JOBWATCH_STORAGE_JOURNAL_HPP

/** @file
    Durable history (`storage.mode: sqlite`): every message the event log
    numbers (accepted job events and alerts) is appended to one SQLite file
    by a writer thread of its own, in group-committed transactions; at start
    the file is replayed into the core, so the job store, the aggregates, the
    dead-letter and health monitors, the producer-id window and the room
    histories are what they were, and the sequence continues where it stopped.
    What memory lets go (evicted jobs, old dead-letter entries) is kept in
    the same file and read back for the REST API on a reader thread.
*/

#include <jobwatch/core.hpp>
#include <jobwatch/storage/sqlite.hpp>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sys/file.h>
#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace jobwatch::storage {

/// The journal's file format version (`PRAGMA user_version`).
inline constexpr std::int64_t schema_version = 2;

/** @brief The journal: the SQLite file, its writer thread, and recovery.

    Life: constructed from the settings (opens and checks the file, takes
    its lock), `recover` replays the file into the core before anything
    runs, `start` begins journaling what the core numbers, `stop` commits
    what is pending and ends the writer.

    @par Thread Safety
    `recover`, `start`, `accepting`, `durable` and `append` run on the
    core thread (`stop` too, or after the core has stopped); the writer thread only takes records from the queue and
    posts the outcome of each commit back to the core.
*/
class journal final : public journal_gate, public history
{
public:
    /// What start-up recovered.
    struct recovery
    {
        std::uint64_t events = 0;    ///< job events replayed
        std::uint64_t alerts = 0;    ///< alerts restored
        std::uint64_t skipped = 0;   ///< records that could not be read back (logged)
        std::uint64_t last_seq = 0;  ///< where the sequence continues
        std::chrono::milliseconds took{};
    };


    /// @throws storage_error naming the file: cannot create, open, lock or read it, or a newer schema.
    journal(storage_config cfg, logger lgr) : cfg_(std::move(cfg)), lgr_(std::move(lgr)), db_(open(cfg_))
    {
        try {
            lock_file();
            migrate();
            apply_durability();
        } catch (...) {
            release();
            throw;
        }
    }

    journal(journal const&) = delete;
    journal& operator=(journal const&) = delete;
    ~journal() override
    {
        stop();
        release();
    }

    /** @brief Replays the file into `c`, oldest first. Core thread, before
        the core runs (no client is connected, nothing is delivered). */
    recovery recover(core& c)
    {
        auto const t0 = std::chrono::steady_clock::now();
        recovery r;
        // What replay evicts (or dead-letters) is written again, in one transaction.
        c.set_history(this);
        owner_ = &c;
        db_->exec("BEGIN IMMEDIATE");
        try {
            {
                auto st = db_->prepare("SELECT tenant, job_id FROM jobs");
                while (st.step())
                    archived_.add(job_key(st.text(0), st.text(1)));
            }
            replay(c, r);
            for (auto const& [key, job] : recovery_forgets_)
                keep(forget_record(job.first, job.second));
            recovery_forgets_.clear();
            recovery_statements_.reset();
            db_->exec("COMMIT");
        } catch (...) {
            recovery_statements_.reset();
            rollback();
            throw;
        }
        r.took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
        return r;
    }

    /// Journals every numbered message of `c` from now on, and gates its ingest. Core thread.
    void start(core& c)
    {
        core_ = &c;
        owner_ = &c;
        c.set_history(this);
        ex_ = c.get_executor();
        c.set_journal(this);
        writer_ = std::thread([this] { write_loop(); });
    }

    /// Commits what is queued (a failing disk: one more try) and ends the writer. Any thread, once.
    void stop()
    {
        if (auto* c = std::exchange(owner_, nullptr)) {
            c->set_journal(nullptr);  // the core no longer hands anything over (it is not running)
            c->set_history(nullptr);
        }
        {
            std::lock_guard lk(m_);
            stopping_ = true;
        }
        cv_.notify_all();
        if (writer_.joinable())
            writer_.join();
        reader_.join();
    }

private:
    void replay(core& c, recovery& r)
    {
        auto st = db_->prepare("SELECT seq, at_ms, kind, body FROM journal ORDER BY seq");
        std::uint64_t highest = 0;
        while (st.step()) {
            auto const seq = static_cast<std::uint64_t>(st.int64(0));
            highest = seq;
            time_point const at{std::chrono::milliseconds{st.int64(1)}};
            auto const kind = st.int64(2);
            auto const body = st.text(3);
            bool ok = false;
            if (kind == kind_event || kind == kind_event_stamped) {
                if (auto ev = parse<job_event>(body)) {
                    first_seq_.try_emplace(job_key(*ev), seq);
                    if (kind == kind_event_stamped)
                        std::visit([](auto& e) { e.time.reset(); }, *ev);  // given again from `at`, as at ingest
                    ok = c.replay_event(seq, at, std::move(*ev));
                }
                r.events += ok;
            } else if (kind == kind_alert) {
                if (auto a = parse<alert>(body)) {
                    c.replay_alert(seq, std::move(*a));
                    ok = true;
                }
                r.alerts += ok;
            }
            if (!ok && ++r.skipped <= 5)
                lgr_.warn("storage", "record " + std::to_string(seq) + " of " + db_->file() +
                          " could not be replayed; skipped");
        }
        // Never give out a number the file holds (a record skipped above) or held (deleted by retention).
        c.events().resume_after(std::max(highest, static_cast<std::uint64_t>(meta("seq_floor"))));
        r.last_seq = c.events().last_seq();
        committed_seq_ = r.last_seq;
    }

public:
    // journal_gate
    bool accepting() const noexcept override
    {
        return !failed_.load(std::memory_order_relaxed) &&
               pending_.load(std::memory_order_relaxed) < cfg_.max_pending_events;
    }
    bool sync() const noexcept override { return cfg_.durability == storage_durability::sync; }
    void count_refused() noexcept override { ++refused_; }

    asio::awaitable<bool> durable(std::uint64_t seq) override
    {
        if (seq <= committed_seq_)
            co_return true;
        co_return co_await wait_in(waiters_, seq);
    }

    // history: the reads.
    asio::awaitable<void> flushed() override
    {
        if (pushed_pos_ > committed_pos_)
            co_await wait_in(flush_waiters_, pushed_pos_);
    }

    asio::awaitable<archived_jobs> jobs(job_query q, std::size_t keep) override
    {
        return read<archived_jobs>([q = std::move(q), keep](database& db) {
            // The same filters as the job store's query; runs and users are a tenant's ('' none).
            std::string where = " WHERE 1";
            std::vector<std::string> args;
            auto add = [&](char const* column, std::string v) {
                args.push_back(std::move(v));
                where += std::string(" AND ") + column + " = ?" + std::to_string(args.size());
            };
            if (q.status)
                add("state", std::string(to_string(*q.status)));
            if (q.queue)
                add("queue", *q.queue);
            if (q.tenant_id || q.run_id || q.user_id)
                add("tenant", q.tenant_id.value_or(""));
            if (q.run_id)
                add("run_id", *q.run_id);
            if (q.user_id)
                add("user_id", *q.user_id);
            if (q.job_type)
                add("job_type", *q.job_type);
            if (q.since)
                where += " AND updated_ms >= " + std::to_string(q.since->time_since_epoch().count());
            if (q.until)
                where += " AND updated_ms < " + std::to_string(q.until->time_since_epoch().count());
            auto bind_all = [&](statement& st) {
                for (std::size_t i = 0; i < args.size(); ++i)
                    st.bind(static_cast<int>(i + 1), std::string_view(args[i]));
            };
            archived_jobs out;
            auto count = db.prepare("SELECT count(*) FROM jobs" + where);
            bind_all(count);
            if (count.step()) {
                out.total = static_cast<std::uint64_t>(count.int64(0));
                count.reset();
            }
            if (keep == 0 || out.total == 0)
                return out;
            auto page = db.prepare("SELECT updated_ms, seq, tenant, job_id, user_id, body FROM jobs" + where +
                                   " ORDER BY updated_ms DESC, seq DESC LIMIT " +
                                   std::to_string(std::min<std::uint64_t>(keep, out.total)));
            bind_all(page);
            while (page.step())
                out.jobs.push_back(archived_row(page));
            return out;
        });
    }

    asio::awaitable<archived_job_matches> job(std::optional<std::string> tenant, std::string job_id) override
    {
        return read<archived_job_matches>([tenant = std::move(tenant), job_id = std::move(job_id)](database& db) {
            auto st = db.prepare(tenant ? "SELECT updated_ms, seq, tenant, job_id, user_id, body FROM jobs"
                                          " WHERE job_id = ?1 AND tenant = ?2"
                                        : "SELECT updated_ms, seq, tenant, job_id, user_id, body FROM jobs"
                                          " WHERE job_id = ?1 LIMIT 2");
            st.bind(1, std::string_view(job_id));
            if (tenant)
                st.bind(2, std::string_view(*tenant));
            archived_job_matches out;
            while (st.step())
                out.jobs.push_back(archived_row(st));
            return out;
        });
    }

    asio::awaitable<journaled_events> events_of(std::string tenant, std::string job_id, std::uint64_t after,
                                                std::size_t limit, bool logs_only) override
    {
        return read<journaled_events>([=](database& db) {
            journaled_events out;
            // The job's numbers, from its archived row: its events lie between them.
            auto range = db.prepare("SELECT first_seq, seq FROM jobs WHERE tenant = ?1 AND job_id = ?2");
            range.bind(1, std::string_view(tenant)).bind(2, std::string_view(job_id));
            if (!range.step())
                return out;
            auto const first = range.int64(0), last = range.int64(1);
            range.reset();
            auto const from = std::max<std::int64_t>(
                first, static_cast<std::int64_t>(std::min<std::uint64_t>(after, std::numeric_limits<std::int64_t>::max() - 1)) + 1);
            auto st = db.prepare("SELECT seq, body FROM journal WHERE seq BETWEEN ?1 AND ?2 AND job = ?3 ORDER BY seq");
            st.bind(1, from).bind(2, last).bind(3, job_key(tenant, job_id));
            bool first_queued = false, first_row = true;
            while (out.events.size() < limit && st.step()) {
                auto ev = parse<job_event>(st.text(1));
                // Another job with the same key (a digest collision), or a row that cannot be read.
                if (!ev || job_id_of(*ev) != job_id || tenant_of(*ev).value_or("") != tenant)
                    continue;
                if (first_row)
                    first_queued = std::holds_alternative<job_queued>(*ev);
                first_row = false;
                if (logs_only && !std::holds_alternative<job_log>(*ev))
                    continue;
                out.events.push_back({static_cast<std::uint64_t>(st.int64(0)), std::string(st.text(1))});
            }
            st.reset();
            // Retention deletes the oldest records: a job whose first event is
            // not its job.queued may have lost older ones, unless none was ever deleted.
            out.complete = after > 0 || first_queued || floor_of(db) == 0;
            return out;
        });
    }

    asio::awaitable<archived_dead_letters> dead_letters(std::uint64_t before, std::optional<std::string> tenant,
                                                        std::optional<std::string> user, std::size_t limit) override
    {
        return read<archived_dead_letters>([=, tenant = std::move(tenant), user = std::move(user)](database& db) {
            auto st = db.prepare(std::string("SELECT seq, body FROM dead_letters WHERE seq < ?1") +
                                 (tenant ? " AND tenant = ?2" : "") + (user ? " AND user_id = ?3" : "") +
                                 " ORDER BY seq DESC LIMIT ?4");
            st.bind(1, static_cast<std::int64_t>(std::min<std::uint64_t>(before, std::numeric_limits<std::int64_t>::max())));
            if (tenant)
                st.bind(2, std::string_view(*tenant));
            if (user)
                st.bind(3, std::string_view(*user));
            st.bind(4, static_cast<std::int64_t>(limit));
            archived_dead_letters out;
            while (st.step())
                out.entries.push_back({static_cast<std::uint64_t>(st.int64(0)), std::string(st.text(1))});
            return out;
        });
    }

    journal_report report() const override
    {
        journal_report s;
        s.committed = committed_.load(std::memory_order_relaxed);
        s.transactions = transactions_.load(std::memory_order_relaxed);
        s.failures = failures_.load(std::memory_order_relaxed);
        s.deleted = deleted_.load(std::memory_order_relaxed);
        s.refused = refused_;
        s.pending = pending_.load(std::memory_order_relaxed);
        s.committed_seq = committed_seq_;
        s.writing = !failed_.load(std::memory_order_relaxed);
        return s;
    }
    std::string const& file() const noexcept { return db_->file(); }
    /// Every message up to this number is committed, as far as the core has heard (core thread).
    std::uint64_t committed_seq() const noexcept { return committed_seq_; }

private:
    // A record's kind. An event that came without a time was given the time of
    // its ingest, which its JSON carries (last): at replay it is given that
    // time the same way, so that it is the same event, byte for byte.
    static constexpr std::int64_t kind_event = 0;          // with the producer's time
    static constexpr std::int64_t kind_alert = 1;
    static constexpr std::int64_t kind_event_stamped = 2;  // timed at ingest; at_ms is that time
    // Not journal rows: a job that left memory (table jobs), a dead-letter entry (dead_letters).
    static constexpr std::int64_t kind_archived_job = 100;
    static constexpr std::int64_t kind_dead_letter = 101;
    static constexpr std::int64_t kind_forget_job = 102;  // a job in memory again: not archived

    struct record
    {
        std::uint64_t seq = 0;  // 0 for an archived job
        std::uint64_t pos = 0;  // place in the queue (flushed())
        std::int64_t at_ms = 0;  // an archived job's: its updated_at
        std::int64_t kind = kind_event;
        std::shared_ptr<logged_event const> event;  // its json() made on the core thread
        std::string text;                           // an alert's, job's or entry's JSON
        // An archived job's or dead-letter entry's columns (not made for events: they pass by the million).
        struct columns
        {
            std::int64_t kept_ms = 0;  // when the job left memory (retention)
            std::optional<job_snapshot> job;  // made into JSON by the writer, not the core
            std::string tenant, job_id, state, queue;
            std::optional<std::string> run_id, user_id, job_type;
        };
        std::unique_ptr<columns> x;
        std::string_view body() const { return event ? std::string_view(event->json_) : std::string_view(text); }
    };

    struct waiter
    {
        explicit waiter(asio::any_io_executor ex) : timer(std::move(ex)) {}
        asio::steady_timer timer;
        bool ok = false;
    };

    static std::unique_ptr<database> open(storage_config const& cfg)
    {
        std::filesystem::path const p(cfg.path);
        if (p.has_parent_path()) {
            std::error_code ec;
            std::filesystem::create_directories(p.parent_path(), ec);
            if (ec)
                throw storage_error(cfg.path + ": cannot create its folder: " + ec.message(), 0);
        }
        return std::make_unique<database>(cfg.path);
    }

    // Closes the file, then the lock's descriptor (after SQLite's own: see lock_file).
    void release() noexcept
    {
        reader_db_.reset();
        db_.reset();
        if (lock_fd_ >= 0)
            ::close(lock_fd_);
        lock_fd_ = -1;
    }

    // One jobwatch per file: an advisory lock of its own (flock), which does
    // not touch SQLite's POSIX locks; the descriptor stays open until SQLite
    // has closed the file, since closing any descriptor of a file drops the
    // process's POSIX locks on it.
    void lock_file()
    {
        lock_fd_ = ::open(db_->file().c_str(), O_RDONLY | O_CLOEXEC);
        if (lock_fd_ < 0)
            throw storage_error(db_->file() + ": cannot open: " + std::strerror(errno), 0);
        if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0)
            throw storage_error(db_->file() + ": locked by another process (another jobwatch uses this file)",
                                SQLITE_BUSY);
        // A transaction another program holds open (sqlite3 in a shell) is found here too.
        db_->exec("PRAGMA busy_timeout = 2000");
        db_->exec("BEGIN IMMEDIATE; COMMIT;");
    }

    // Reads the format version: creates a new file, migrates an older one forward, refuses a newer one.
    void migrate()
    {
        // Also the first read of the file: a file that is not a database fails here.
        auto const version = db_->scalar("PRAGMA user_version");
        if (version > schema_version)
            throw storage_error(db_->file() + ": written by a newer jobwatch (format version " +
                                    std::to_string(version) + "; this one reads up to " +
                                    std::to_string(schema_version) + ")",
                                0);
        if (version == 0) {
            // New file: incremental vacuum must be chosen before the first table.
            db_->exec("PRAGMA auto_vacuum = INCREMENTAL");
        }
        db_->exec("PRAGMA journal_mode = WAL");
        // Forward migrations, one step per version: migrations[v] takes version v to v + 1.
        static constexpr char const* migrations[] = {
            "CREATE TABLE journal(seq INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, kind INTEGER NOT NULL,"
            " body TEXT NOT NULL);"
            "CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);",
            // 2: history beyond memory. Each event row names its job by one integer
            // (job_key), not indexed: a job's events are read between its first
            // and last number, which its archived row keeps. (An index on the job
            // takes random-order inserts, which cost the writer half its rate.)
            // Jobs that left memory and dead-letter entries get tables of their own.
            "ALTER TABLE journal ADD COLUMN job INTEGER;"
            "UPDATE journal SET job = jobwatch_job_key(coalesce(json_extract(body, '$.tenant_id'), ''),"
            " json_extract(body, '$.job_id')) WHERE kind IN (0, 2) AND json_valid(body);"
            "CREATE TABLE jobs(tenant TEXT NOT NULL, job_id TEXT NOT NULL, updated_ms INTEGER NOT NULL,"
            " seq INTEGER NOT NULL, state TEXT NOT NULL, queue TEXT NOT NULL, run_id TEXT, user_id TEXT,"
            " job_type TEXT, body TEXT NOT NULL, archived_ms INTEGER NOT NULL, first_seq INTEGER NOT NULL,"
            " PRIMARY KEY(tenant, job_id));"
            "CREATE INDEX jobs_updated ON jobs(updated_ms DESC, seq DESC);"
            "CREATE INDEX jobs_archived ON jobs(archived_ms);"
            "CREATE INDEX jobs_id ON jobs(job_id);"
            "CREATE TABLE dead_letters(seq INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, tenant TEXT NOT NULL,"
            " user_id TEXT, body TEXT NOT NULL);",
        };
        static_assert(std::size(migrations) == schema_version);
        // For the migration to version 2: job_key in SQL.
        if (::sqlite3_create_function(
                db_->handle(), "jobwatch_job_key", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, nullptr,
                [](sqlite3_context* ctx, int, sqlite3_value** v) {
                    auto text = [](sqlite3_value* x) {
                        auto const* p = reinterpret_cast<char const*>(::sqlite3_value_text(x));
                        return p ? std::string_view(p, static_cast<std::size_t>(::sqlite3_value_bytes(x)))
                                 : std::string_view{};
                    };
                    ::sqlite3_result_int64(ctx, job_key(text(v[0]), text(v[1])));
                },
                nullptr, nullptr) != SQLITE_OK)
            throw storage_error(db_->file() + ": cannot register jobwatch_job_key", 0);
        for (auto v = version; v < schema_version; ++v) {
            db_->exec("BEGIN IMMEDIATE");
            try {
                db_->exec(migrations[v]);
                db_->exec("PRAGMA user_version = " + std::to_string(v + 1));
                db_->exec("COMMIT");
            } catch (...) {
                rollback();
                throw;
            }
        }
        // A full check is O(file); the quick one finds a damaged file's pages at start.
        auto st = db_->prepare("PRAGMA quick_check");
        if (st.step() && st.text(0) != "ok") {
            std::string const why(st.text(0));
            st.reset();
            throw storage_error(db_->file() + ": damaged: " + why, SQLITE_CORRUPT);
        }
    }

    void apply_durability()
    {

        switch (cfg_.durability) {
        case storage_durability::sync: db_->exec("PRAGMA synchronous = FULL"); break;
        case storage_durability::batch: db_->exec("PRAGMA synchronous = NORMAL"); break;
        case storage_durability::none: db_->exec("PRAGMA synchronous = OFF"); break;
        }
    }

    std::int64_t meta(std::string_view key)
    {
        auto st = db_->prepare("SELECT value FROM meta WHERE key = ?1");
        st.bind(1, key);
        std::int64_t v = 0;
        if (st.step()) {
            v = st.int64(0);
            st.reset();
        }
        return v;
    }

    // Core thread, as each message is numbered: the queue is in number order, so
    // a commit's last number covers every number before it. (Summaries and
    // health reports are state, made again from the events.)
    void append(std::shared_ptr<logged_event const> const& ev) override
    {
        record rec;
        (void)ev->json();  // made here, read by the writer: never written there
        rec.seq = ev->seq;
        rec.event = ev;
        if (!time_of(ev->event)) {
            rec.kind = kind_event_stamped;
            rec.at_ms = ev->time.time_since_epoch().count();
        } else {
            rec.at_ms = core_->now().time_since_epoch().count();
        }
        push(std::move(rec));
    }
    void append(std::uint64_t seq, alert const& a) override
    {
        record rec;
        rec.seq = seq;
        rec.kind = kind_alert;
        rec.text = to_json(a);
        rec.at_ms = core_->now().time_since_epoch().count();
        push(std::move(rec));
    }

public:
    // history: what memory lets go (core thread). While recovering (no writer
    // yet) it is written at once, inside recovery's transaction.
    void archive(job_snapshot job, std::int64_t updated_ms) override
    {
        record rec;
        rec.kind = kind_archived_job;
        rec.at_ms = updated_ms;
        rec.seq = static_cast<std::uint64_t>(job.seq);
        rec.x = std::make_unique<record::columns>();
        rec.x->kept_ms = owner_ ? owner_->now().time_since_epoch().count() : updated_ms;
        rec.x->tenant = job.tenant_id.value_or("");
        rec.x->job_id = job.job_id;
        rec.x->state = std::string(to_string(job.state));
        rec.x->queue = job.queue;
        rec.x->run_id = job.run_id;
        rec.x->user_id = job.user_id;
        rec.x->job_type = job.job_type;
        rec.x->job = std::move(job);
        auto const key = job_key(rec.x->tenant, rec.x->job_id);
        recovery_forgets_.erase(key);
        if (!core_ && archived_.may_hold(key) && already_archived(*rec.x, rec.seq)) {
            first_seq_.erase(key);
            return;  // replay evicts what it evicted before: the file has it
        }
        archived_.add(key);
        keep(std::move(rec));
    }
    void forget(std::string_view tenant, std::string_view job_id) override
    {
        // Most new jobs were never archived: only those that may have been cost a record.
        auto const key = job_key(tenant, job_id);
        if (!archived_.may_hold(key))
            return;
        if (!core_) {
            // Recovering: replay re-creates and evicts again most archived jobs; only
            // those still in memory at its end are dropped from the file (recover()).
            recovery_forgets_.try_emplace(key, std::string(tenant), std::string(job_id));
            return;
        }
        keep(forget_record(tenant, job_id));
    }
    void archive(std::uint64_t seq, dead_letter_entry const& entry) override
    {
        record rec;
        rec.kind = kind_dead_letter;
        rec.seq = seq;
        rec.at_ms = owner_ ? owner_->now().time_since_epoch().count() : 0;
        rec.x = std::make_unique<record::columns>();
        rec.x->tenant = entry.tenant_id.value_or("");
        rec.x->user_id = entry.user_id;
        rec.text = to_json(entry);
        keep(std::move(rec));
    }

private:
    static record forget_record(std::string_view tenant, std::string_view job_id)
    {
        record rec;
        rec.kind = kind_forget_job;
        rec.x = std::make_unique<record::columns>();
        rec.x->tenant = tenant;
        rec.x->job_id = job_id;
        return rec;
    }

    // Recovering: the file holds this job as archived, up to the same event.
    bool already_archived(record::columns const& job, std::uint64_t seq)
    {
        if (!recovery_statements_)
            recovery_statements_ = std::make_unique<statements>(*db_);
        auto& st = recovery_statements_->lookup;
        st.bind(1, std::string_view(job.tenant)).bind(2, std::string_view(job.job_id));
        bool same = false;
        if (st.step()) {
            same = static_cast<std::uint64_t>(st.int64(0)) == seq;
            st.reset();
        }
        return same;
    }

    void keep(record rec)
    {
        if (core_) {
            push(std::move(rec));
            return;
        }
        if (!recovery_statements_)
            recovery_statements_ = std::make_unique<statements>(*db_);
        write_record(*recovery_statements_, rec);
    }

    void push(record rec)
    {
        rec.pos = ++pushed_pos_;
        pending_.fetch_add(1, std::memory_order_relaxed);
        {
            std::lock_guard lk(m_);
            queue_.push_back(std::move(rec));
        }
        cv_.notify_one();
    }

    // Core thread: a commit up to `seq` and queue place `pos` succeeded (or, with ok false, a commit failed).
    void on_commit(std::uint64_t seq, std::uint64_t pos, bool ok)
    {
        if (ok) {
            committed_seq_ = std::max(committed_seq_, seq);
            committed_pos_ = std::max(committed_pos_, pos);
        }
        auto wake = [ok](auto& waiters, std::uint64_t upto) {
            auto const end = ok ? waiters.upper_bound(upto) : waiters.end();
            for (auto it = waiters.begin(); it != end; it = waiters.erase(it)) {
                it->second->ok = ok;
                it->second->timer.cancel();
            }
        };
        wake(waiters_, committed_seq_);
        wake(flush_waiters_, committed_pos_);
    }

    // Waits (core thread) until `key` is committed in `waiters`' terms; false when a commit failed.
    asio::awaitable<bool> wait_in(std::multimap<std::uint64_t, std::shared_ptr<waiter>>& waiters, std::uint64_t key)
    {
        if (failed_.load(std::memory_order_relaxed))
            co_return false;
        auto w = std::make_shared<waiter>(ex_);
        waiters.emplace(key, w);
        boost::system::error_code ec;
        // A deadline, so that an answer is never held forever by a stuck disk.
        w->timer.expires_after(std::chrono::seconds{30});
        co_await w->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        co_return w->ok;
    }

    /** Runs `f(connection)` on the reader thread and resumes the caller on its
        own executor with the result; an error reading becomes the result's
        `error`. The reader has a connection of its own: in WAL mode it reads a
        committed snapshot while the writer writes. */
    template<class R, class F>
    asio::awaitable<R> read(F f)
    {
        return asio::async_initiate<decltype(asio::use_awaitable), void(R)>(
            [this](auto handler, F f) {
                // Tracked: the caller's context does not run out of work while the reader reads.
                auto ex = asio::prefer(asio::get_associated_executor(handler, ex_),
                                       asio::execution::outstanding_work.tracked);
                asio::post(reader_, [this, f = std::move(f), handler = std::move(handler), ex]() mutable {
                    R r;
                    try {
                        if (!reader_db_) {
                            reader_db_ = std::make_unique<database>(db_file_, false);
                            reader_db_->exec("PRAGMA query_only = 1; PRAGMA busy_timeout = 2000");
                        }
                        r = f(*reader_db_);
                    } catch (std::exception const& e) {
                        r = R{};
                        r.error = e.what();
                    }
                    asio::post(ex, [handler = std::move(handler), r = std::move(r)]() mutable {
                        std::move(handler)(std::move(r));
                    });
                });
            },
            asio::use_awaitable, std::move(f));
    }

    static archived_job archived_row(statement const& st)
    {
        return archived_job{st.int64(0), static_cast<std::uint64_t>(st.int64(1)), std::string(st.text(2)),
                            std::string(st.text(3)), std::string(st.text(4)), std::string(st.text(5))};
    }

    static std::int64_t floor_of(database& db)
    {
        return db.scalar("SELECT coalesce((SELECT value FROM meta WHERE key = 'seq_floor'), 0)");
    }

    /** The journal's key of a job: FNV-1a of its tenant ('' for none), a
        NUL, and its id, as a signed 64-bit integer. Stable across versions
        (it is in the file); readers compare the event's own tenant and id,
        so that a collision costs a row read, never a wrong answer. */
    static std::int64_t job_key(std::string_view tenant, std::string_view job_id) noexcept
    {
        auto h = ::jobwatch::detail::fnv1a(tenant);
        h = ::jobwatch::detail::fnv1a(std::string_view("\0", 1), h);
        return static_cast<std::int64_t>(::jobwatch::detail::fnv1a(job_id, h));
    }
    static std::int64_t job_key(job_event const& ev) noexcept
    {
        auto const& tenant = tenant_of(ev);
        return job_key(tenant ? std::string_view(*tenant) : std::string_view{}, job_id_of(ev));
    }

    // Prepared statements of the writer's connection.
    struct statements
    {
        explicit statements(database& db)
            : event(db.prepare("INSERT INTO journal(seq, at_ms, kind, body, job) VALUES (?1, ?2, ?3, ?4, ?5)"))
            , job(db.prepare("INSERT OR REPLACE INTO jobs(tenant, job_id, updated_ms, seq, state, queue, run_id,"
                             " user_id, job_type, body, archived_ms, first_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7,"
                             " ?8, ?9, ?10, ?11, ?12)"))
            , dead_letter(db.prepare("INSERT OR REPLACE INTO dead_letters(seq, at_ms, tenant, user_id, body)"
                                     " VALUES (?1, ?2, ?3, ?4, ?5)"))
            , forget(db.prepare("DELETE FROM jobs WHERE tenant = ?1 AND job_id = ?2"))
            , lookup(db.prepare("SELECT seq FROM jobs WHERE tenant = ?1 AND job_id = ?2"))
        {
        }
        statement event, job, dead_letter, forget, lookup;
        void reset()
        {
            for (auto* st : {&event, &job, &dead_letter, &forget, &lookup})
                st->reset();
        }
    };

    static void bind_optional(statement& st, int i, std::optional<std::string> const& v)
    {
        if (v)
            st.bind(i, std::string_view(*v));
        else
            st.bind_null(i);
    }

    // Writer thread (or the core's, recovering): one record into its table.
    void write_record(statements& st, record const& r)
    {
        switch (r.kind) {
        case kind_archived_job: {
            // Its events lie between its first number and its last.
            auto const key = job_key(r.x->tenant, r.x->job_id);
            auto const first = first_seq_.find(key);
            st.job.bind(12, first == first_seq_.end() ? std::int64_t{0} : static_cast<std::int64_t>(first->second));
            if (first != first_seq_.end())
                first_seq_.erase(first);
            st.job.bind(1, std::string_view(r.x->tenant)).bind(2, std::string_view(r.x->job_id)).bind(3, r.at_ms);
            st.job.bind(4, static_cast<std::int64_t>(r.seq)).bind(5, std::string_view(r.x->state));
            st.job.bind(6, std::string_view(r.x->queue));
            bind_optional(st.job, 7, r.x->run_id);
            bind_optional(st.job, 8, r.x->user_id);
            bind_optional(st.job, 9, r.x->job_type);
            auto const body = to_json(*r.x->job);
            st.job.bind(10, std::string_view(body)).bind(11, r.x->kept_ms);
            st.job.step();
            return;
        }
        case kind_forget_job:
            st.forget.bind(1, std::string_view(r.x->tenant)).bind(2, std::string_view(r.x->job_id));
            st.forget.step();
            return;
        case kind_dead_letter:
            st.dead_letter.bind(1, static_cast<std::int64_t>(r.seq)).bind(2, r.at_ms);
            st.dead_letter.bind(3, std::string_view(r.x->tenant));
            bind_optional(st.dead_letter, 4, r.x->user_id);
            st.dead_letter.bind(5, r.body());
            st.dead_letter.step();
            return;
        default: break;
        }
        st.event.bind(1, static_cast<std::int64_t>(r.seq)).bind(2, r.at_ms).bind(3, r.kind).bind(4, r.body());
        if (r.event) {
            auto const key = job_key(r.event->event);
            first_seq_.try_emplace(key, r.seq);
            st.event.bind(5, key);
        } else {
            st.event.bind_null(5);
        }
        st.event.step();
    }

    void write_loop()
    {
        statements insert(*db_);
        std::vector<record> batch;
        auto next_retention = std::chrono::steady_clock::now();
        bool stopping = false;
        while (true) {
            {
                std::unique_lock lk(m_);
                cv_.wait_for(lk, std::chrono::seconds{1}, [&] { return stopping_ || !queue_.empty(); });
                if (!queue_.empty() && !stopping_ && !sync() && queue_.size() < cfg_.batch_events) {
                    // Group commit: more events within batch_ms join this transaction.
                    cv_.wait_for(lk, cfg_.batch_ms,
                                 [&] { return stopping_ || queue_.size() >= cfg_.batch_events; });
                }
                stopping = stopping_;
                auto const n = std::min(queue_.size(), cfg_.batch_events);
                for (std::size_t i = 0; i < n; ++i) {
                    batch.push_back(std::move(queue_.front()));
                    queue_.pop_front();
                }
            }
            if (!batch.empty())
                write_batch(insert, batch, stopping);
            if (stopping) {
                std::lock_guard lk(m_);
                if (queue_.empty())
                    break;
                continue;
            }
            if (auto const now = std::chrono::steady_clock::now(); now >= next_retention) {
                next_retention = now + std::chrono::seconds{1};
                retain();
            }
        }
    }

    // Commits one batch; on failure rolls back, tells the core, and tries again (until stopping).
    void write_batch(statements& insert, std::vector<record>& batch, bool stopping)
    {
        for (int attempt = 0;; ++attempt) {
            try {
                db_->exec("BEGIN IMMEDIATE");
                for (auto const& r : batch)
                    write_record(insert, r);
                db_->exec("COMMIT");
                break;
            } catch (storage_error const& e) {
                insert.reset();
                rollback();
                failures_.fetch_add(1, std::memory_order_relaxed);
                if (!failed_.exchange(true))
                    lgr_.error("storage", std::string("cannot write, ingest refused until it can: ") + e.what());
                post_commit(0, 0, false);
                if (stopping && attempt > 0) {
                    lgr_.error("storage", "stopping with " + std::to_string(batch.size()) + " events not written");
                    pending_.fetch_sub(batch.size(), std::memory_order_relaxed);
                    batch.clear();
                    return;
                }
                std::unique_lock lk(m_);
                cv_.wait_for(lk, std::chrono::milliseconds{500}, [&] { return stopping_; });
                stopping = stopping_;
            }
        }
        if (failed_.exchange(false))
            lgr_.info("storage", "writing again");
        committed_.fetch_add(batch.size(), std::memory_order_relaxed);
        transactions_.fetch_add(1, std::memory_order_relaxed);
        pending_.fetch_sub(batch.size(), std::memory_order_relaxed);
        // Records are queued in number order: the highest number committed covers every lower one.
        std::uint64_t seq = 0;
        for (auto const& r : batch)
            if (r.kind != kind_archived_job && r.kind != kind_forget_job)
                seq = std::max(seq, r.seq);
        post_commit(seq, batch.back().pos, true);
        batch.clear();
    }

    void post_commit(std::uint64_t seq, std::uint64_t pos, bool ok)
    {
        if (core_)
            asio::post(ex_, [this, seq, pos, ok] { on_commit(seq, pos, ok); });
    }

    // Writer thread: deletes what is past retention_ms or beyond max_bytes, a
    // small batch at a time (the oldest first), then returns free pages.
    void retain()
    {
        try {
            std::int64_t removed = 0;
            if (cfg_.retention_ms.count() > 0) {
                auto const cutoff = (std::chrono::time_point_cast<std::chrono::milliseconds>(
                                         std::chrono::system_clock::now()) -
                                     cfg_.retention_ms)
                                        .time_since_epoch()
                                        .count();
                removed += delete_oldest("WHERE at_ms < " + std::to_string(cutoff));
            }
            if (cfg_.max_bytes > 0) {
                auto const bytes = db_->scalar("PRAGMA page_count") * db_->scalar("PRAGMA page_size") -
                                   db_->scalar("PRAGMA freelist_count") * db_->scalar("PRAGMA page_size");
                if (bytes > static_cast<std::int64_t>(cfg_.max_bytes))
                    removed += delete_oldest("");
            }
            // Jobs and dead-letter entries go with the events they came from.
            removed += delete_archived();
            if (removed > 0) {
                deleted_.fetch_add(static_cast<std::uint64_t>(removed), std::memory_order_relaxed);
                db_->exec("PRAGMA incremental_vacuum(256)");
            }
        } catch (storage_error const& e) {
            lgr_.warn("storage", std::string("retention: ") + e.what());
        }
    }

    // Deletes the oldest records, up to 1,000, as far as they satisfy `where`
    // (which looks at those 1,000 only: a record's at_ms grows with its number,
    // so this never reads the whole table); remembers the highest number deleted.
    std::int64_t delete_oldest(std::string const& where)
    {
        auto const top = db_->scalar("SELECT max(seq) FROM (SELECT seq, at_ms FROM journal ORDER BY seq LIMIT 1000) " +
                                     where);
        if (top <= 0)
            return 0;
        db_->exec("BEGIN IMMEDIATE");
        try {
            std::int64_t n = 0;
            if (top > 0) {
                db_->exec("DELETE FROM journal WHERE seq <= " + std::to_string(top));
                n = ::sqlite3_changes(db_->handle());
                db_->exec("INSERT INTO meta(key, value) VALUES ('seq_floor', " + std::to_string(top) +
                          ") ON CONFLICT(key) DO UPDATE SET value = max(value, excluded.value)");
            }
            db_->exec("COMMIT");
            return n;
        } catch (...) {
            rollback();
            throw;
        }
    }

    // Deletes up to 1,000 archived jobs and dead-letter entries kept before
    // the oldest journal record (all of them when the journal is empty).
    std::int64_t delete_archived()
    {
        auto const oldest_ms = db_->scalar("SELECT coalesce((SELECT at_ms FROM journal ORDER BY seq LIMIT 1), " +
                                           std::to_string(std::numeric_limits<std::int64_t>::max()) + ")");
        auto const oldest_seq = db_->scalar("SELECT coalesce((SELECT seq FROM journal ORDER BY seq LIMIT 1), " +
                                            std::to_string(std::numeric_limits<std::int64_t>::max()) + ")");
        if (db_->scalar("SELECT EXISTS (SELECT 1 FROM jobs WHERE archived_ms < " + std::to_string(oldest_ms) +
                        ") OR EXISTS (SELECT 1 FROM dead_letters WHERE seq < " + std::to_string(oldest_seq) + ")") == 0)
            return 0;
        db_->exec("BEGIN IMMEDIATE");
        try {
            db_->exec("DELETE FROM jobs WHERE rowid IN (SELECT rowid FROM jobs WHERE archived_ms < " +
                      std::to_string(oldest_ms) + " ORDER BY archived_ms LIMIT 1000)");
            std::int64_t n = ::sqlite3_changes(db_->handle());
            db_->exec("DELETE FROM dead_letters WHERE seq IN (SELECT seq FROM dead_letters WHERE seq < " +
                      std::to_string(oldest_seq) + " ORDER BY seq LIMIT 1000)");
            n += ::sqlite3_changes(db_->handle());
            db_->exec("COMMIT");
            return n;
        } catch (...) {
            rollback();
            throw;
        }
    }

    // Ends a failed transaction, if SQLite has not ended it already (a full disk, an I/O error).
    void rollback() noexcept
    {
        if (db_ && !::sqlite3_get_autocommit(db_->handle()))
            ::sqlite3_exec(db_->handle(), "ROLLBACK", nullptr, nullptr, nullptr);
    }

    storage_config cfg_;
    logger lgr_;
    std::unique_ptr<database> db_;
    int lock_fd_ = -1;
    core* core_ = nullptr;
    asio::any_io_executor ex_;

    // Queue from the core to the writer.
    std::mutex m_;
    std::condition_variable cv_;
    std::deque<record> queue_;
    bool stopping_ = false;
    std::atomic<std::size_t> pending_{0};
    std::atomic<bool> failed_{false};
    std::thread writer_;

    // Core thread.
    std::unique_ptr<statements> recovery_statements_;  // while recovering: what replay archives
    // While recovering: archived jobs replay re-created and has not archived again (tenant, id).
    std::unordered_map<std::int64_t, std::pair<std::string, std::string>> recovery_forgets_;

    /// Which jobs may be in the jobs table (a Bloom filter of their job_key, 1 MiB,
    /// two probes): a new job that cannot be there costs nothing to forget. It
    /// only grows (deleted rows stay set: a false positive costs one DELETE).
    class key_filter
    {
    public:
        void add(std::int64_t key) noexcept
        {
            for (auto b : probes(key))
                bits_[b >> 6] |= std::uint64_t{1} << (b & 63);
        }
        bool may_hold(std::int64_t key) const noexcept
        {
            for (auto b : probes(key))
                if (!(bits_[b >> 6] & (std::uint64_t{1} << (b & 63))))
                    return false;
            return true;
        }

    private:
        static constexpr std::uint64_t mask = (std::uint64_t{1} << 23) - 1;  // 8 Mi bits
        static std::array<std::uint64_t, 2> probes(std::int64_t key) noexcept
        {
            auto const h = static_cast<std::uint64_t>(key);
            return {h & mask, (h >> 32) & mask};
        }
        std::vector<std::uint64_t> bits_ = std::vector<std::uint64_t>((mask + 1) / 64);
    };
    key_filter archived_;  // core thread
    // The first number of each job journaled and not archived, by job_key: what an
    // archived job's row keeps. The core's while recovering, then the writer's.
    std::unordered_map<std::int64_t, std::uint64_t> first_seq_;
    core* owner_ = nullptr;  // the core this journal keeps history for (from recover on)
    std::uint64_t committed_seq_ = 0;
    std::uint64_t pushed_pos_ = 0, committed_pos_ = 0;
    std::multimap<std::uint64_t, std::shared_ptr<waiter>> waiters_;
    std::multimap<std::uint64_t, std::shared_ptr<waiter>> flush_waiters_;
    std::uint64_t refused_ = 0;

    std::atomic<std::uint64_t> committed_{0}, transactions_{0}, failures_{0}, deleted_{0};

    // The reader thread and its connection (history's queries).
    std::string db_file_ = db_ ? db_->file() : std::string{};
    std::unique_ptr<database> reader_db_;
    asio::thread_pool reader_{1};
};

}  // namespace jobwatch::storage

#endif
