#ifndef JOBWATCH_COMPONENTS_BULLMQ_SOURCE_HPP
#define JOBWATCH_COMPONENTS_BULLMQ_SOURCE_HPP

/** @file
    Follows BullMQ queues in Redis and turns their events into job events:
    read-only, without touching the workers (docs/bullmq.md).
*/

#include <jobwatch/bullmq/mapping.hpp>
#include <jobwatch/config.hpp>
#include <jobwatch/core.hpp>
#include <jobwatch/detail/asio.hpp>
#include <jobwatch/monitor/queue_counts.hpp>
#include <jobwatch/redis/connection.hpp>
#include <jobwatch/runtime/run_until_cancelled.hpp>
#include <jobwatch/runtime/wait_cancelled.hpp>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

namespace jobwatch {

/** @brief Watches BullMQ queues: follows each queue's events stream
    (`<prefix>:<queue>:events`), reads what an event does not carry from the
    job's hash, polls the logs of active jobs, and reads each queue's counts
    for queue health. A job `<id>` of queue `<q>` is job `<q>:<id>`.

    @code
    app.add<jobwatch::bullmq_source>({.redis_url = "redis://127.0.0.1:6379/0",
                                      .prefix = "bull", .queues = {"emails", "images"}});
    @endcode

    Everything is read with pipelined requests: one `XREAD` for every queue,
    then one request with the hash reads of the whole batch. A gap (the stream
    trimmed past the last entry read) or a start on a queue with history
    resyncs the queue from its containers: only the jobs whose state differs
    from jobwatch's get an event, stating where they are now.

    @par Thread Safety
    Only from the core executor.
*/
class bullmq_source
{
public:
    /// What is given in code; an empty or zero field takes the `bullmq.*` setting.
    struct config
    {
        std::string redis_url{};           ///< `bullmq.redis_url`
        std::string prefix{};              ///< `bullmq.prefix`
        std::vector<std::string> queues{};  ///< `bullmq.queues`
        duration log_poll{0};              ///< `bullmq.log_poll_ms`
        duration counts_interval{0};       ///< `bullmq.counts_interval_ms`
    };

    /// One followed queue's figures (`GET /api/v1/monitor/bullmq`).
    struct queue_figures
    {
        std::string queue;
        std::string last_id = "0-0";        ///< the last stream entry applied
        std::uint64_t events_read = 0;      ///< stream entries read
        std::uint64_t events_published = 0; ///< job events made of them (and of resyncs and logs) that were accepted
        std::uint64_t events_ignored = 0;   ///< entries that make no job event (drained, cleaned, ...)
        std::uint64_t unmappable = 0;       ///< entries of jobs whose id cannot name a jobwatch job
        std::uint64_t resyncs = 0;          ///< resyncs from the containers (start, gaps)
        std::uint64_t gaps = 0;             ///< times the stream no longer held what follows the last entry read
        std::uint64_t log_lines = 0;        ///< job.log lines read
        std::int64_t lag_ms = 0;            ///< newest entry's time minus the last applied one's, at the last read
        bool is_paused = false;
        std::optional<std::map<std::string, std::uint64_t>> counts;  ///< as BullMQ's getJobCounts, plus `paused`
    };

    bullmq_source(core& c, config cfg)
        : core_(c),
          settings_(adopt(c, cfg)),
          stream_conn_(c.get_executor(), redis_settings(settings_, "-stream"), c.log()),
          conn_(c.get_executor(), redis_settings(settings_, ""), c.log())
    {
        for (auto const& q : settings_.queues) {
            queue_state s;
            s.fig.queue = q;
            s.key = settings_.prefix + ":" + q + ":";
            s.events_key = s.key + "events";
            queues_.push_back(std::move(s));
        }
        core_.add_health_check("bullmq", [this] {
            health_check h;
            h.ready = conn_.health().connected && stream_conn_.health().connected && started_;
            if (!h.ready)
                h.reason = started_ ? "bullmq: Redis unreachable" : "bullmq: first resync not done";
            return h;
        });
        core_.routes().add({{http::verb::get}, "/api/v1/monitor/bullmq", http::needs::admin,
                            "The BullMQ queues followed: stream position, lag, resyncs, counts",
                            [this](http::call const& h) {
                                return http::json_response(h.req, http::status::ok, monitor_json());
                            }});
    }

    bullmq_source(bullmq_source const&) = delete;
    bullmq_source& operator=(bullmq_source const&) = delete;

    /// Follows the queues until cancelled.
    asio::awaitable<void> run()
    {
        using namespace asio::experimental::awaitable_operators;
        if (queues_.empty()) {
            co_await detail::wait_until_cancelled();
            co_return;
        }
        core_.log().info("bullmq", "following " + std::to_string(queues_.size()) + " queue(s) with prefix " +
                         settings_.prefix + " on " + redis_target());
        co_await detail::run_until_cancelled(work());
    }

    /// Each queue's figures, in the order of `bullmq.queues`.
    std::vector<queue_figures> figures() const
    {
        std::vector<queue_figures> out;
        for (auto const& q : queues_)
            out.push_back(q.fig);
        return out;
    }

    /// Job ids of BullMQ jobs whose id cannot name a jobwatch job, and other bad entries.
    std::uint64_t bad_entries() const noexcept { return bad_entries_; }

private:
    struct queue_state
    {
        queue_figures fig;
        std::string key;         // "<prefix>:<queue>:"
        std::string events_key;  // "<prefix>:<queue>:events"
        bullmq::stream_id last{};
        std::uint64_t ordinal = 0;   // entries-added count of `last` (Redis 7), to find gaps
        bool have_ordinal = false;
        bool need_resync = true;
    };

    // What is remembered of a job between events (bounded: `max_tracked`).
    struct track
    {
        std::int64_t started = 0;   // attempts started, as seen
        std::uint64_t start_ms = 0; // when the current attempt started (processedOn)
        std::size_t log_seen = 0;   // lines of its log list read
        bool active = false;
        bool added = false;
        std::uint32_t queue = 0;
        std::string bull_id;
    };

    struct entry
    {
        bullmq::stream_id id;
        std::string event;
        std::vector<std::pair<std::string, std::string>> fields;
        std::string_view get(std::string_view name) const
        {
            for (auto const& [k, v] : fields)
                if (k == name)
                    return v;
            return {};
        }
        bool has(std::string_view name) const
        {
            for (auto const& [k, v] : fields)
                if (k == name)
                    return true;
            return false;
        }
    };

    // The fields read from a job's hash (HMGET), in this order.
    static constexpr std::string_view hash_fields[] = {"name", "opts", "timestamp", "processedOn", "finishedOn",
                                                       "atm", "ats", "failedReason", "returnvalue"};
    enum field : std::size_t
    {
        f_name,
        f_opts,
        f_timestamp,
        f_processed,
        f_finished,
        f_atm,
        f_ats,
        f_reason,
        f_returnvalue,
        f_count
    };
    struct job_hash
    {
        bool exists = false;
        std::optional<std::string> f[f_count];
        std::optional<std::string> data;        // only with user_field / run_field
        std::optional<std::int64_t> data_bytes;
        std::optional<std::string> stacktrace;  // only for a final failure
        std::vector<std::string> new_logs;      // LRANGE logs log_seen -1, when asked
    };

    static constexpr std::size_t max_tracked = 200'000;
    static constexpr std::size_t max_result_bytes = 65'536;

    // --- settings -----------------------------------------------------------------------

    static bullmq_config adopt(core& c, config const& cfg)
    {
        c.initial_setting([&](jobwatch::config& s) {
            if (!cfg.redis_url.empty())
                s.bullmq.redis_url = cfg.redis_url;
            if (!cfg.prefix.empty())
                s.bullmq.prefix = cfg.prefix;
            if (!cfg.queues.empty())
                s.bullmq.queues = cfg.queues;
            if (cfg.log_poll.count() > 0)
                s.bullmq.log_poll_ms = cfg.log_poll;
            if (cfg.counts_interval.count() > 0)
                s.bullmq.counts_interval_ms = cfg.counts_interval;
        });
        return c.settings().bullmq;
    }

    static redis::settings redis_settings(bullmq_config const& b, std::string_view suffix)
    {
        redis::settings s;
        std::string why;
        if (redis::parse_url(b.redis_url, s, &why))
            throw settings_error("bullmq.redis_url", why);
        s.tls_ca_file = b.redis_ca_file;
        s.client_name = "jobwatch-bullmq" + std::string(suffix);
        // The stream reader blocks up to a second; its health PING waits behind it.
        s.ping_timeout = std::chrono::seconds{10};
        return s;
    }

    std::string redis_target() const
    {
        auto const& s = conn_.config();
        return (s.tls ? "rediss://" : "redis://") + s.host + ":" + std::to_string(s.port) + "/" +
               std::to_string(s.database);
    }

    asio::awaitable<void> work()
    {
        using namespace asio::experimental::awaitable_operators;
        co_await (stream_conn_.run() || conn_.run() || follow() || count_loop());
    }

    // --- the stream -----------------------------------------------------------------------

    asio::awaitable<void> pause_for(duration d)
    {
        asio::steady_timer t(core_.get_executor());
        t.expires_after(d);
        boost::system::error_code ec;
        co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }

    asio::awaitable<void> follow()
    {
        auto next_log_poll = std::chrono::steady_clock::now();
        for (;;) {
            if (auto cs = co_await asio::this_coro::cancellation_state; cs.cancelled() != asio::cancellation_type::none)
                co_return;
            bool resynced = true;
            for (auto& q : queues_) {
                if (!q.need_resync)
                    continue;
                bool const ok = co_await resync(q);
                resynced = resynced && ok;
            }
            if (!resynced) {
                co_await pause_for(std::chrono::milliseconds{200});
                continue;
            }
            started_ = true;
            auto const now = std::chrono::steady_clock::now();
            if (now >= next_log_poll) {
                co_await poll_logs();
                next_log_poll = std::chrono::steady_clock::now() + settings_.log_poll_ms;
            }
            auto const until_poll =
                std::chrono::duration_cast<duration>(next_log_poll - std::chrono::steady_clock::now());
            auto const block = std::clamp<std::int64_t>(until_poll.count(), 1, 1000);

            // XINFO first, in the same pipeline: what the stream held just before the read.
            redis::request req;
            for (auto const& q : queues_)
                req.push("XINFO", "STREAM", q.events_key);
            std::vector<std::string> args{"COUNT", std::to_string(settings_.read_count), "BLOCK",
                                          std::to_string(block), "STREAMS"};
            for (auto const& q : queues_)
                args.push_back(q.events_key);
            for (auto const& q : queues_)
                args.push_back(q.last.text());
            req.push_range("XREAD", args);
            auto [ec, replies] = co_await stream_conn_.exec(req);
            if (ec && ec != redis::error::reply_error) {
                co_await pause_for(std::chrono::milliseconds{100});
                continue;
            }
            if (replies.size() != queues_.size() + 1) {
                co_await pause_for(std::chrono::milliseconds{100});
                continue;
            }
            if (replies.back().is_error()) {
                core_.log().warn("bullmq", "XREAD failed: " + std::string(replies.back().error_message()));
                co_await pause_for(std::chrono::seconds{1});
                continue;
            }
            for (std::size_t i = 0; i < queues_.size(); ++i)
                check_gap(queues_[i], replies[i]);
            auto batches = parse_xread(std::move(replies.back()));
            for (std::size_t i = 0; i < queues_.size(); ++i) {
                auto& q = queues_[i];
                if (q.need_resync || batches[i].empty())
                    continue;  // a queue to resync skips what it read: the resync restarts after it
                co_await apply_batch(static_cast<std::uint32_t>(i), batches[i]);
            }
        }
    }

    // The stream no longer holds what follows the last entry read: resync the queue.
    void check_gap(queue_state& q, redis::reply const& info)
    {
        if (info.is_error()) {
            // No stream (yet, or obliterated): a queue that had one lost its history.
            if (q.last != bullmq::stream_id{} || q.ordinal > 0) {
                note_gap(q, "its events stream is gone");
                q.last = {};
                q.ordinal = 0;
            }
            return;
        }
        auto const e = info.elements();
        std::optional<std::uint64_t> added, length;
        std::optional<bullmq::stream_id> first, last_generated;
        for (std::size_t k = 0; k + 1 < e.size(); k += 2) {
            auto const name = e[k].string().value_or("");
            if (name == "entries-added")
                added = static_cast<std::uint64_t>(e[k + 1].to_integer().value_or(0));
            else if (name == "length")
                length = static_cast<std::uint64_t>(e[k + 1].to_integer().value_or(0));
            else if (name == "last-generated-id")
                last_generated = bullmq::stream_id::parse(e[k + 1].string().value_or(""));
            else if (name == "first-entry")
                if (auto const* id = e[k + 1].at(0))
                    first = bullmq::stream_id::parse(id->string().value_or(""));
        }
        if (last_generated)
            q.fig.lag_ms = static_cast<std::int64_t>(last_generated->ms) - static_cast<std::int64_t>(q.last.ms);
        if (last_generated && *last_generated < q.last) {
            note_gap(q, "its events stream was recreated");
            return;
        }
        if (added && length && q.have_ordinal) {
            // Redis 7: the first entry held is number added - length + 1; the next to read is ordinal + 1.
            if (*added < q.ordinal)
                note_gap(q, "its events stream was recreated");
            else if (*added - *length > q.ordinal)
                note_gap(q, "its events stream was trimmed past the last entry read");
            return;
        }
        // Redis 6: the last entry read is gone (trimmed), so what followed it may be too.
        if (first && q.last != bullmq::stream_id{} && *first > q.last)
            note_gap(q, "its events stream was trimmed past the last entry read");
    }

    void note_gap(queue_state& q, std::string_view why)
    {
        ++q.fig.gaps;
        q.need_resync = true;
        core_.log().warn("bullmq", "queue " + q.fig.queue + ": " + std::string(why) + " (after " + q.last.text() +
                         "): resyncing from its job containers");
    }

    // XREAD's reply: [[key, [[id, [field, value, ...]], ...]], ...], or nil. Entries per queue.
    std::vector<std::vector<entry>> parse_xread(redis::reply r)
    {
        std::vector<std::vector<entry>> out(queues_.size());
        auto* streams = std::get_if<redis::reply::array_type>(&r.value());
        if (!streams)
            return out;
        for (auto& s : *streams) {
            auto* pair = std::get_if<redis::reply::array_type>(&s.value());
            if (!pair || pair->size() != 2)
                continue;
            auto const key = (*pair)[0].string().value_or("");
            std::size_t qi = 0;
            while (qi < queues_.size() && queues_[qi].events_key != key)
                ++qi;
            auto* entries = std::get_if<redis::reply::array_type>(&(*pair)[1].value());
            if (qi == queues_.size() || !entries)
                continue;
            for (auto& raw : *entries) {
                auto* idf = std::get_if<redis::reply::array_type>(&raw.value());
                if (!idf || idf->size() != 2)
                    continue;
                auto id = bullmq::stream_id::parse((*idf)[0].string().value_or(""));
                auto* fields = std::get_if<redis::reply::array_type>(&(*idf)[1].value());
                if (!id)
                    continue;
                entry en;
                en.id = *id;
                if (fields) {
                    for (std::size_t k = 0; k + 1 < fields->size(); k += 2) {
                        auto* name = std::get_if<std::string>(&(*fields)[k].value());
                        auto* value = std::get_if<std::string>(&(*fields)[k + 1].value());
                        if (!name || !value)
                            continue;
                        if (*name == "event")
                            en.event = std::move(*value);
                        else
                            en.fields.emplace_back(std::move(*name), std::move(*value));
                    }
                }
                out[qi].push_back(std::move(en));
            }
        }
        return out;
    }

    // --- one batch ------------------------------------------------------------------------

    track* tracked(std::string const& jid) noexcept
    {
        auto it = jobs_.find(jid);
        return it == jobs_.end() ? nullptr : &it->second;
    }

    track* track_job(std::string const& jid, std::uint32_t qi, std::string_view bull_id)
    {
        if (auto* t = tracked(jid))
            return t;
        if (jobs_.size() >= max_tracked)
            return nullptr;  // beyond the bound the hash answers instead (attempts from `ats`)
        auto& t = jobs_[jid];
        t.queue = qi;
        t.bull_id = std::string(bull_id);
        return &t;
    }

    void forget(std::string const& jid)
    {
        jobs_.erase(jid);
        running_.erase(jid);
    }

    // Which hash reads an event needs.
    struct needs
    {
        bool hash = false;
        bool data = false;
        bool stack = false;
        bool logs = false;
    };

    needs needs_of(entry const& e, std::string const& jid) const
    {
        needs n;
        auto const* t = jobs_.count(jid) ? &jobs_.at(jid) : nullptr;
        auto const& ev = e.event;
        if (ev == "added") {
            n.hash = true;
            n.data = true;
        } else if (ev == "waiting") {
            n.hash = !t || e.get("prev") == "active";
            n.data = !t;
        } else if (ev == "active") {
            n.hash = true;  // processedOn: the attempt's start on the worker's clock
        } else if (ev == "delayed") {
            n.hash = true;
        } else if (ev == "completed" || ev == "failed") {
            n.hash = true;
            n.stack = ev == "failed";
            n.logs = true;
        } else if (ev == "progress" || ev == "stalled" || ev == "removed") {
            n.hash = !t && ev == "progress";
        }
        return n;
    }

    void push_reads(redis::request& req, queue_state const& q, std::string_view bull_id, needs const& n,
                    std::size_t log_from)
    {
        std::string const key = q.key + std::string(bull_id);
        std::vector<std::string_view> argv{"HMGET", key};
        for (auto f : hash_fields)
            argv.push_back(f);
        req.push_argv(argv);
        req.push("HSTRLEN", key, "data");
        if (n.data && want_data())
            req.push("HGET", key, "data");
        if (n.stack)
            req.push("HGET", key, "stacktrace");
        if (n.logs)
            req.push("LRANGE", key + ":logs", static_cast<std::int64_t>(log_from), -1);
    }

    bool want_data() const noexcept { return !settings_.user_field.empty() || !settings_.run_field.empty(); }

    // The replies of push_reads' HMGET and HSTRLEN; the caller takes the optional ones after them.
    static void take_reads(std::vector<redis::reply> const& replies, std::size_t& at, job_hash& h)
    {
        auto const fields = replies.at(at++).elements();
        for (std::size_t i = 0; i < f_count && i < fields.size(); ++i) {
            if (auto s = fields[i].string()) {
                h.f[i] = std::string(*s);
                h.exists = true;
            }
        }
        if (auto len = replies.at(at++).to_integer(); len && *len > 0)
            h.data_bytes = *len;
    }

    asio::awaitable<void> apply_batch(std::uint32_t qi, std::vector<entry>& batch)
    {
        auto& q = queues_[qi];
        // One request for every job of the batch: what its events need, once per job.
        struct job_reads
        {
            needs n;
            std::size_t log_from = 0;
            std::size_t at = 0;  // index of its first reply
        };
        std::unordered_map<std::string, job_reads> reads;
        std::vector<std::string> order;
        for (auto const& e : batch) {
            auto const bull_id = e.get("jobId");
            if (bull_id.empty())
                continue;
            auto jid = bullmq::job_id(q.fig.queue, bull_id);
            if (!jid)
                continue;
            auto const n = needs_of(e, *jid);
            if (!n.hash && !n.logs)
                continue;
            auto [it, fresh] = reads.try_emplace(*jid);
            if (fresh)
                order.push_back(*jid);
            auto& r = it->second;
            r.n.hash = r.n.hash || n.hash || n.logs;
            r.n.data = r.n.data || n.data;
            r.n.stack = r.n.stack || n.stack;
            r.n.logs = r.n.logs || n.logs;
        }
        redis::request req;
        for (auto const& jid : order) {
            auto& r = reads[jid];
            auto const* t = tracked(jid);
            r.log_from = t ? t->log_seen : 0;
            r.at = req.size();
            push_reads(req, q, std::string_view(jid).substr(q.fig.queue.size() + 1), r.n, r.log_from);
        }
        std::unordered_map<std::string, job_hash> hashes;
        if (req.size() > 0) {
            auto [ec, replies] = co_await conn_.exec(req);
            if (ec && ec != redis::error::reply_error) {
                // Not applied: read again from the same place once Redis answers.
                co_await pause_for(std::chrono::milliseconds{100});
                co_return;
            }
            for (auto const& jid : order) {
                auto const& r = reads[jid];
                auto& h = hashes[jid];
                std::size_t at = r.at;
                take_reads(replies, at, h);
                if (r.n.data && want_data())
                    if (auto s = replies.at(at++).string())
                        h.data = std::string(*s);
                if (r.n.stack)
                    if (auto s = replies.at(at++).string())
                        h.stacktrace = std::string(*s);
                if (r.n.logs)
                    for (auto const& l : replies.at(at++).elements())
                        if (auto s = l.string())
                            h.new_logs.emplace_back(*s);
            }
        }

        std::vector<job_event> out;
        out.reserve(batch.size() + 8);
        for (std::size_t i = 0; i < batch.size(); ++i) {
            auto const& e = batch[i];
            bool const stall_follows = i + 1 < batch.size() && batch[i + 1].event == "stalled" &&
                                       batch[i + 1].get("jobId") == e.get("jobId");
            map_entry(qi, e, hashes, stall_follows, out);
        }
        if (!co_await submit(q, std::move(out)))
            co_return;
        q.fig.events_read += batch.size();
        q.last = batch.back().id;
        q.fig.last_id = q.last.text();
        q.ordinal += batch.size();
    }

    job_hash const* hash_of(std::unordered_map<std::string, job_hash> const& hashes, std::string const& jid) const
    {
        auto it = hashes.find(jid);
        return it == hashes.end() ? nullptr : &it->second;
    }

    template<class Ev>
    Ev base(queue_state const& q, std::string const& jid, std::string id, std::uint64_t ms) const
    {
        Ev ev;
        ev.job_id = jid;
        ev.queue = q.fig.queue;
        if (!settings_.tenant_id.empty())
            ev.tenant_id = settings_.tenant_id;
        if (!id.empty() && id.size() <= 200)
            ev.id = std::move(id);
        ev.time = format_time(time_point{duration{static_cast<std::int64_t>(ms)}});
        return ev;
    }

    std::string event_id(queue_state const& q, bullmq::stream_id const& id) const
    {
        return "bullmq:" + q.fig.queue + ":" + id.text();
    }

    job_queued queued_event(queue_state const& q, std::string const& jid, std::string_view bull_id,
                            std::string name, job_hash const* h, std::string id, std::uint64_t ms) const
    {
        auto ev = base<job_queued>(q, jid, std::move(id), ms);
        if (name.empty() && h && h->f[f_name])
            name = *h->f[f_name];
        ev.job_type = bullmq::job_type(name);
        boost::json::object info;
        info["id"] = bull_id;
        info["name"] = name;
        if (h && h->data_bytes)
            info["data_bytes"] = *h->data_bytes;
        if (h && h->f[f_opts]) {
            boost::system::error_code ec;
            auto opts = boost::json::parse(*h->f[f_opts], ec);
            if (!ec && opts.is_object()) {
                auto const& o = opts.as_object();
                if (auto const* a = o.if_contains("attempts"); a && a->is_int64() && a->get_int64() >= 1)
                    ev.max_attempts = std::min<std::int64_t>(a->get_int64(), 1000);
                if (auto const* p = o.if_contains("priority"); p && p->is_int64() && p->get_int64() > 0)
                    ev.priority = std::min<std::int64_t>(p->get_int64(), 1000);
                if (auto const* d = o.if_contains("delay"); d && d->is_int64() && d->get_int64() > 0)
                    info["delay_ms"] = d->get_int64();
            }
        }
        if (h && h->data) {
            ev.user_id = bullmq::data_field(*h->data, settings_.user_field);
            ev.run_id = bullmq::data_field(*h->data, settings_.run_field);
        }
        ev.payload = boost::json::object{{"bullmq", std::move(info)}};
        return ev;
    }

    void map_entry(std::uint32_t qi, entry const& e, std::unordered_map<std::string, job_hash> const& hashes,
                   bool stall_follows, std::vector<job_event>& out)
    {
        auto& q = queues_[qi];
        auto const& ev = e.event;
        if (ev == "paused" || ev == "resumed") {
            q.fig.is_paused = ev == "paused";
            queue_counts c = broker_counts(q);
            c.paused = q.fig.is_paused;
            core_.report_queue_counts(q.fig.queue, c);
            return;
        }
        auto const bull_id = e.get("jobId");
        if (bull_id.empty() || ev == "retries-exhausted" || ev == "duplicated" || ev == "deduplicated" ||
            ev == "debounced") {
            // Queue-wide (drained, cleaned), folded into job.failed (retries-exhausted), or no job's change.
            ++q.fig.events_ignored;
            return;
        }
        auto jid_opt = bullmq::job_id(q.fig.queue, bull_id);
        if (!jid_opt) {
            ++q.fig.unmappable;
            ++bad_entries_;
            if (q.fig.unmappable <= 10)
                core_.log().warn("bullmq", "queue " + q.fig.queue + ": job id \"" + bullmq::clip(bull_id, 100) +
                                 "\" cannot name a jobwatch job (A-Z a-z 0-9 . _ : @ - only); its events are skipped");
            return;
        }
        auto const& jid = *jid_opt;
        auto const* h = hash_of(hashes, jid);
        auto id = event_id(q, e.id);
        auto const ms = e.id.ms;
        auto* t = tracked(jid);

        if (ev == "added") {
            t = track_job(jid, qi, bull_id);
            if (t)
                t->added = true;
            out.emplace_back(queued_event(q, jid, bull_id, std::string(e.get("name")), h, std::move(id), ms));
        } else if (ev == "waiting") {
            auto const prev = e.get("prev");
            if (prev == "active") {
                // A retry without back-off, or a stalled job put back (the stalled entry follows).
                std::int64_t const next = (t ? t->started : started_from(h)) + 1;
                auto r = base<job_retrying>(q, jid, std::move(id), ms);
                r.attempt = std::clamp<std::int64_t>(next, 2, 1000);
                if (stall_follows)
                    r.error = "stalled: the worker lost the job's lock; BullMQ moved it back to wait";
                else if (h && h->f[f_reason])
                    r.error = bullmq::clip(*h->f[f_reason], 8192);
                if (t)
                    t->active = false;
                running_.erase(jid);
                out.emplace_back(std::move(r));
            } else if (prev.empty() && !(t && t->added)) {
                track_job(jid, qi, bull_id);
                out.emplace_back(queued_event(q, jid, bull_id, {}, h, std::move(id), ms));
            } else {
                ++q.fig.events_ignored;  // delayed or waiting-children -> waiting: still queued
            }
        } else if (ev == "delayed") {
            bool const after_attempt = t ? t->active : (h && bullmq::to_int(h->f[f_atm]).value_or(0) > 0);
            if (!after_attempt) {
                if (!t || !t->added) {
                    track_job(jid, qi, bull_id);
                    out.emplace_back(queued_event(q, jid, bull_id, {}, h, std::move(id), ms));
                } else {
                    ++q.fig.events_ignored;
                }
                return;
            }
            auto r = base<job_retrying>(q, jid, std::move(id), ms);
            r.attempt = std::clamp<std::int64_t>((t ? t->started : started_from(h)) + 1, 2, 1000);
            if (auto due = bullmq::to_int(std::string(e.get("delay"))))
                r.delay_ms = std::max<std::int64_t>(0, *due - static_cast<std::int64_t>(ms));
            if (h && h->f[f_reason])
                r.error = bullmq::clip(*h->f[f_reason], 8192);
            if (t)
                t->active = false;
            running_.erase(jid);
            out.emplace_back(std::move(r));
        } else if (ev == "active") {
            if (!t)
                t = track_job(jid, qi, bull_id);
            std::int64_t attempt = 0;
            if (t && (t->added || t->started > 0)) {
                attempt = ++t->started;
            } else {
                attempt = std::max<std::int64_t>(1, started_from(h));
                if (t)
                    t->started = attempt;
            }
            // Timed by processedOn when the hash still holds this attempt: then the
            // duration is BullMQ's own (finishedOn - processedOn, the worker's clock).
            auto start_ms = ms;
            if (h && started_from(h) == attempt)
                if (auto p = bullmq::to_int(h->f[f_processed]); p && *p > 0)
                    start_ms = static_cast<std::uint64_t>(*p);
            if (t) {
                t->active = true;
                t->start_ms = start_ms;
                running_.insert(jid);  // bounded with jobs_: only tracked jobs have their logs polled
            }
            auto s = base<job_started>(q, jid, std::move(id), start_ms);
            s.attempt = std::clamp<std::int64_t>(attempt, 1, 1000);
            out.emplace_back(std::move(s));
        } else if (ev == "progress") {
            double last = 0;
            if (auto const* rec = core_.store().find(settings_.tenant_id, jid))
                last = rec->percent();
            auto p = bullmq::progress_of(e.get("data"), last);
            if (!p) {
                ++q.fig.events_ignored;
                return;
            }
            // Never before its attempt's start, whatever the two clocks say (an older progress is stale).
            auto pe = base<job_progress>(q, jid, std::move(id), std::max<std::uint64_t>(ms, t ? t->start_ms : 0));
            pe.percent = p->percent;
            pe.step = std::move(p->step);
            pe.current = p->current;
            pe.total = p->total;
            pe.counters = std::move(p->counters);
            out.emplace_back(std::move(pe));
        } else if (ev == "completed" || ev == "failed") {
            emit_logs(q, jid, h, t, ms, out);
            // Timed by finishedOn, on the clock the start was timed with.
            std::uint64_t end_ms = ms;
            if (h)
                if (auto f = bullmq::to_int(h->f[f_finished]); f && *f > 0)
                    end_ms = static_cast<std::uint64_t>(*f);
            end_ms = std::max<std::uint64_t>(end_ms, t ? t->start_ms : 0);
            if (ev == "completed") {
                auto c = base<job_completed>(q, jid, std::move(id), end_ms);
                if (h) {
                    auto const p = bullmq::to_int(h->f[f_processed]);
                    auto const f = bullmq::to_int(h->f[f_finished]);
                    if (p && f && *f >= *p)
                        c.duration_ms = static_cast<double>(*f - *p);
                }
                auto const rv = e.get("returnvalue");
                if (!rv.empty() && rv.size() <= max_result_bytes) {
                    boost::system::error_code ec;
                    auto v = boost::json::parse(rv, ec);
                    if (!ec)
                        c.result = std::move(v);
                }
                out.emplace_back(std::move(c));
            } else {
                auto f = base<job_failed>(q, jid, std::move(id), end_ms);
                auto reason = e.get("failedReason");
                f.error = bullmq::clip(!reason.empty() ? reason
                                                       : (h && h->f[f_reason] ? std::string_view(*h->f[f_reason])
                                                                              : std::string_view("failed")),
                                       8192);
                if (f.error.empty())
                    f.error = "failed";
                std::int64_t attempt = h ? bullmq::to_int(h->f[f_atm]).value_or(0) : 0;
                if (attempt <= 0)
                    attempt = t ? t->started : 1;
                f.attempt = std::clamp<std::int64_t>(attempt, 1, 1000);
                f.will_retry = false;
                if (h && h->stacktrace)
                    f.error_code = bullmq::error_class(*h->stacktrace);
                out.emplace_back(std::move(f));
            }
            forget(jid);
        } else if (ev == "stalled") {
            auto l = base<job_log>(q, jid, std::move(id), ms);
            l.level = log_level::warn;
            l.message = "stalled: the worker lost the job's lock (it died or blocked its event loop); "
                        "BullMQ moved the job back to wait";
            out.emplace_back(std::move(l));
        } else if (ev == "removed") {
            auto const prev = e.get("prev");
            if (prev != "completed" && prev != "failed" && prev != "unknown") {
                auto c = base<job_cancelled>(q, jid, std::move(id), ms);
                c.reason = "removed from BullMQ (it was " + bullmq::clip(prev, 50) + ")";
                out.emplace_back(std::move(c));
            } else {
                ++q.fig.events_ignored;
            }
            forget(jid);
        } else if (ev == "waiting-children") {
            if (!t || !t->added) {
                track_job(jid, qi, bull_id);
                out.emplace_back(queued_event(q, jid, bull_id, {}, h, std::move(id), ms));
            } else {
                ++q.fig.events_ignored;
            }
        } else {
            ++q.fig.events_ignored;  // a custom event (QueueEventsProducer) or one of a newer BullMQ
        }
    }

    static std::int64_t started_from(job_hash const* h)
    {
        if (!h)
            return 0;
        if (auto ats = bullmq::to_int(h->f[f_ats]))
            return *ats;
        return bullmq::to_int(h->f[f_atm]).value_or(0);
    }

    // The lines of a job's log list not read yet, as job.log events numbered by their place in the list.
    void emit_logs(queue_state& q, std::string const& jid, job_hash const* h, track* t, std::uint64_t ms,
                   std::vector<job_event>& out)
    {
        if (!h)
            return;
        std::size_t at = t ? t->log_seen : 0;
        for (auto const& line : h->new_logs) {
            auto l = base<job_log>(q, jid, "bullmq:" + jid + ":log:" + std::to_string(at), ms);
            l.level = log_level::info;
            l.message = bullmq::clip(line, 8192);
            out.emplace_back(std::move(l));
            ++at;
            ++q.fig.log_lines;
        }
        if (t)
            t->log_seen = at;
    }

    // The logs of the jobs running now, one pipelined request for all of them.
    asio::awaitable<void> poll_logs()
    {
        if (running_.empty())
            co_return;
        std::vector<std::string> jids(running_.begin(), running_.end());
        redis::request req;
        std::vector<std::string> polled;
        for (auto const& jid : jids) {
            auto* t = tracked(jid);
            if (!t)
                continue;
            auto const& q = queues_[t->queue];
            req.push("LRANGE", q.key + t->bull_id + ":logs", static_cast<std::int64_t>(t->log_seen), -1);
            polled.push_back(jid);
        }
        if (polled.empty())
            co_return;
        auto [ec, replies] = co_await conn_.exec(req);
        if (ec && ec != redis::error::reply_error)
            co_return;
        std::vector<std::vector<job_event>> per_queue(queues_.size());
        auto const now_ms = static_cast<std::uint64_t>(core_.now().time_since_epoch().count());
        for (std::size_t i = 0; i < polled.size() && i < replies.size(); ++i) {
            auto* t = tracked(polled[i]);
            if (!t || !running_.count(polled[i]))
                continue;  // finished meanwhile: its last read took the lines
            job_hash h;
            for (auto const& l : replies[i].elements())
                if (auto s = l.string())
                    h.new_logs.emplace_back(*s);
            if (!h.new_logs.empty())
                emit_logs(queues_[t->queue], polled[i], &h, t, now_ms, per_queue[t->queue]);
        }
        for (std::size_t qi = 0; qi < queues_.size(); ++qi)
            if (!per_queue[qi].empty())
                if (!co_await submit(queues_[qi], std::move(per_queue[qi])))
                    co_return;
    }

    /** Publishes `evs` in order; those refused for now (`unavailable`: the cluster's
        Redis or the journal cannot take them) are offered again until they are taken, so
        the stream is not read on meanwhile and nothing read is lost. False when
        cancelled first. */
    asio::awaitable<bool> submit(queue_state& q, std::vector<job_event> evs)
    {
        while (!evs.empty()) {
            std::vector<job_event> copy = evs;
            auto results = co_await core_.submitted(std::move(copy));
            std::vector<job_event> again;
            for (std::size_t i = 0; i < results.size() && i < evs.size(); ++i) {
                auto const& r = results[i];
                if (r.status == publish_status::unavailable) {
                    again.push_back(std::move(evs[i]));
                } else if (r.status == publish_status::accepted) {
                    ++q.fig.events_published;
                } else if (r.status == publish_status::invalid || r.status == publish_status::forbidden ||
                           r.status == publish_status::conflict) {
                    ++bad_entries_;
                    if (bad_entries_ <= 10)
                        core_.log().warn("bullmq", "queue " + q.fig.queue + ": an event was refused: " +
                                         r.error.message);
                }
            }
            evs = std::move(again);
            if (evs.empty())
                break;
            if (co_await redis::detail::is_cancelled())
                co_return false;
            co_await pause_for(std::chrono::milliseconds{200});
        }
        co_return true;
    }

    // --- resync ----------------------------------------------------------------------------

    /** Reads the queue's containers and its stream's last id in one MULTI, so
        the state read is the state at that id; then sends an event for each
        job jobwatch has in another state. */
    asio::awaitable<bool> resync(queue_state& q)
    {
        auto const n = static_cast<std::int64_t>(settings_.resync_recent);
        redis::request req;
        req.push("MULTI");
        req.push("LRANGE", q.key + "active", 0, n - 1);
        req.push("LRANGE", q.key + "wait", 0, n - 1);
        req.push("LRANGE", q.key + "paused", 0, n - 1);
        req.push("ZRANGE", q.key + "prioritized", 0, n - 1);
        req.push("ZRANGE", q.key + "delayed", 0, n - 1);
        req.push("ZRANGE", q.key + "waiting-children", 0, n - 1);
        req.push("ZREVRANGE", q.key + "completed", 0, n - 1);
        req.push("ZREVRANGE", q.key + "failed", 0, n - 1);
        req.push("XREVRANGE", q.events_key, "+", "-", "COUNT", 1);
        req.push("EXISTS", q.events_key);
        req.push("HEXISTS", q.key + "meta", "paused");
        req.push("EXEC");
        auto [ec, replies] = co_await conn_.exec(req);
        if (ec || replies.empty() || !replies.back().is_array()) {
            if (ec && ec != redis::error::not_connected && ec != redis::error::connection_lost)
                core_.log().warn("bullmq", "queue " + q.fig.queue + ": resync read failed: " + ec.message());
            co_return false;
        }
        auto const res = replies.back().elements();
        if (res.size() != 11)
            co_return false;
        // Entries added so far (Redis 7), read on its own: XINFO fails on a missing stream.
        std::optional<std::uint64_t> added;
        if (res[9].to_integer().value_or(0) > 0) {
            redis::request info;
            info.push("XINFO", "STREAM", q.events_key);
            auto [iec, ir] = co_await conn_.exec(info);
            auto const e = ir.empty() ? std::span<redis::reply const>{} : ir[0].elements();
            for (std::size_t k = 0; k + 1 < e.size(); k += 2)
                if (e[k].string().value_or("") == "entries-added")
                    added = static_cast<std::uint64_t>(e[k + 1].to_integer().value_or(0));
        } else {
            added = 0;
        }

        enum where : std::uint8_t { active, waiting, completed, failed };
        std::vector<std::pair<std::string, where>> jobs;
        auto take = [&](redis::reply const& r, where w) {
            for (auto const& x : r.elements())
                if (auto s = x.string())
                    jobs.emplace_back(std::string(*s), w);
        };
        take(res[0], active);
        for (std::size_t i = 1; i <= 5; ++i)
            take(res[i], waiting);
        take(res[6], completed);
        take(res[7], failed);
        bullmq::stream_id last{};
        if (auto const* first = res[8].at(0))
            if (auto const* id = first->at(0))
                last = bullmq::stream_id::parse(id->string().value_or("")).value_or(bullmq::stream_id{});
        bool const paused = res[10].to_integer().value_or(0) == 1;

        // The hashes, pipelined in chunks.
        std::uint32_t const qi = static_cast<std::uint32_t>(&q - queues_.data());
        std::vector<job_event> out;
        constexpr std::size_t chunk = 500;
        for (std::size_t from = 0; from < jobs.size(); from += chunk) {
            auto const to = std::min(jobs.size(), from + chunk);
            redis::request hr;
            needs n{.hash = true, .data = true, .stack = false, .logs = false};
            for (std::size_t i = from; i < to; ++i) {
                n.stack = jobs[i].second == failed;
                push_reads(hr, q, jobs[i].first, n, 0);
            }
            auto [hec, hrep] = co_await conn_.exec(hr);
            if (hec && hec != redis::error::reply_error)
                co_return false;
            std::size_t at = 0;
            for (std::size_t i = from; i < to; ++i) {
                job_hash h;
                n.stack = jobs[i].second == failed;
                take_reads(hrep, at, h);
                if (want_data())
                    if (auto s = hrep.at(at++).string())
                        h.data = std::string(*s);
                if (n.stack)
                    if (auto s = hrep.at(at++).string())
                        h.stacktrace = std::string(*s);
                if (h.exists)
                    resync_job(q, qi, jobs[i].first, jobs[i].second == active      ? job_state::running
                                                     : jobs[i].second == waiting   ? job_state::queued
                                                     : jobs[i].second == completed ? job_state::succeeded
                                                                                   : job_state::failed,
                               h, out);
            }
        }
        q.last = last;
        q.fig.last_id = last.text();
        q.ordinal = added.value_or(0);
        q.have_ordinal = added.has_value();
        q.need_resync = false;
        q.fig.is_paused = paused;
        ++q.fig.resyncs;
        auto const corrected = out.size();
        if (!co_await submit(q, std::move(out))) {
            q.need_resync = true;  // again, once ingest takes events
            --q.fig.resyncs;
            co_return false;
        }
        core_.log().info("bullmq", "queue " + q.fig.queue + ": resynced " + std::to_string(jobs.size()) +
                         " jobs from its containers (" + std::to_string(corrected) +
                         " corrected); following its events after " + last.text());
        co_return true;
    }

    // One job as its container has it; an event only where jobwatch has it otherwise.
    void resync_job(queue_state& q, std::uint32_t qi, std::string const& bull_id, job_state want, job_hash const& h,
                    std::vector<job_event>& out)
    {
        auto jid_opt = bullmq::job_id(q.fig.queue, bull_id);
        if (!jid_opt) {
            ++q.fig.unmappable;
            return;
        }
        auto const& jid = *jid_opt;
        auto const* rec = core_.store().find(settings_.tenant_id, jid);
        std::optional<job_state> have;
        std::int64_t have_attempt = 0;
        if (rec) {
            have = rec->state();
            have_attempt = rec->attempt();
        }
        if (have && is_terminal(*have))
            return;  // terminal states are final in jobwatch
        std::int64_t const ats = started_from(&h);
        auto ms_of = [&](field f) {
            auto v = bullmq::to_int(h.f[f]);
            return static_cast<std::uint64_t>(v && *v > 0 ? *v : core_.now().time_since_epoch().count());
        };
        std::string const rid = "bullmq:" + jid + ":resync:";
        if (want == job_state::queued) {
            if (!have) {
                track_job(jid, qi, bull_id);
                if (auto* t = tracked(jid)) {
                    t->added = true;
                    t->started = ats;
                }
                out.emplace_back(queued_event(q, jid, bull_id, {}, &h, rid + "queued", ms_of(f_timestamp)));
            } else if (*have == job_state::running && ats >= have_attempt) {
                auto r = base<job_retrying>(q, jid, rid + "retry:" + std::to_string(ats + 1), ms_of(f_processed));
                r.attempt = std::clamp<std::int64_t>(ats + 1, 2, 1000);
                if (h.f[f_reason])
                    r.error = bullmq::clip(*h.f[f_reason], 8192);
                if (auto* t = tracked(jid)) {
                    t->active = false;
                    t->started = ats;
                }
                running_.erase(jid);
                out.emplace_back(std::move(r));
            }
        } else {
            // Running or finished: what jobwatch lacks of it, as the hash records it — the job
            // was queued (timestamp) and its latest attempt started (processedOn) — then where it is.
            auto* t = track_job(jid, qi, bull_id);
            if (!have)
                out.emplace_back(queued_event(q, jid, bull_id, {}, &h, rid + "queued", ms_of(f_timestamp)));
            bool const started_known = bullmq::to_int(h.f[f_processed]).has_value() && ats > 0;
            if (started_known && (!have || *have == job_state::queued || have_attempt < ats)) {
                auto s = base<job_started>(q, jid, rid + "started:" + std::to_string(ats), ms_of(f_processed));
                s.attempt = std::clamp<std::int64_t>(ats, 1, 1000);
                out.emplace_back(std::move(s));
            }
            if (want == job_state::running) {
                if (t) {
                    t->added = true;
                    t->started = std::max<std::int64_t>(1, ats);
                    t->start_ms = ms_of(f_processed);
                    t->active = true;
                    running_.insert(jid);
                }
            } else if (want == job_state::succeeded) {
                auto c = base<job_completed>(q, jid, rid + "completed", std::max(ms_of(f_finished), ms_of(f_processed)));
                auto const p = bullmq::to_int(h.f[f_processed]);
                auto const f = bullmq::to_int(h.f[f_finished]);
                if (p && f && *f >= *p)
                    c.duration_ms = static_cast<double>(*f - *p);
                if (h.f[f_returnvalue] && h.f[f_returnvalue]->size() <= max_result_bytes) {
                    boost::system::error_code ec;
                    auto v = boost::json::parse(*h.f[f_returnvalue], ec);
                    if (!ec)
                        c.result = std::move(v);
                }
                out.emplace_back(std::move(c));
                forget(jid);
            } else {
                auto f = base<job_failed>(q, jid, rid + "failed", std::max(ms_of(f_finished), ms_of(f_processed)));
                f.error = bullmq::clip(h.f[f_reason] ? std::string_view(*h.f[f_reason]) : std::string_view("failed"), 8192);
                if (f.error.empty())
                    f.error = "failed";
                f.attempt = std::clamp<std::int64_t>(bullmq::to_int(h.f[f_atm]).value_or(std::max<std::int64_t>(1, ats)), 1, 1000);
                f.will_retry = false;
                if (h.stacktrace)
                    f.error_code = bullmq::error_class(*h.stacktrace);
                out.emplace_back(std::move(f));
                forget(jid);
            }
        }
    }

    // --- counts ----------------------------------------------------------------------------

    static queue_counts broker_counts(queue_state const& q)
    {
        queue_counts c;
        if (!q.fig.counts)
            return c;
        auto const& m = *q.fig.counts;
        auto get = [&m](char const* k) {
            auto it = m.find(k);
            return it == m.end() ? std::uint64_t{0} : it->second;
        };
        c.waiting = get("waiting") + get("paused") + get("prioritized");
        c.active = get("active");
        c.delayed = get("delayed");
        c.completed = get("completed");
        c.failed = get("failed");
        c.paused = q.fig.is_paused;
        return c;
    }

    // Every counts_interval_ms: each queue's containers counted in one MULTI, as getJobCounts does.
    asio::awaitable<void> count_loop()
    {
        static constexpr char const* names[] = {"active",  "completed",   "delayed", "failed",
                                                "prioritized", "waiting", "waiting-children", "paused"};
        for (;;) {
            if (auto cs = co_await asio::this_coro::cancellation_state; cs.cancelled() != asio::cancellation_type::none)
                co_return;
            redis::request req;
            for (auto const& q : queues_) {
                req.push("MULTI");
                req.push("LLEN", q.key + "active");
                req.push("ZCARD", q.key + "completed");
                req.push("ZCARD", q.key + "delayed");
                req.push("ZCARD", q.key + "failed");
                req.push("ZCARD", q.key + "prioritized");
                req.push("LLEN", q.key + "wait");
                req.push("ZCARD", q.key + "waiting-children");
                req.push("LLEN", q.key + "paused");
                req.push("HEXISTS", q.key + "meta", "paused");
                req.push("EXEC");
            }
            auto [ec, replies] = co_await conn_.exec(req);
            if (!ec && replies.size() == queues_.size() * 11) {
                for (std::size_t i = 0; i < queues_.size(); ++i) {
                    auto const res = replies[i * 11 + 10].elements();
                    if (res.size() != 9)
                        continue;
                    auto& q = queues_[i];
                    std::map<std::string, std::uint64_t> counts;
                    for (std::size_t k = 0; k < 8; ++k)
                        counts[names[k]] = static_cast<std::uint64_t>(std::max<std::int64_t>(0, res[k].to_integer().value_or(0)));
                    q.fig.counts = std::move(counts);
                    q.fig.is_paused = res[8].to_integer().value_or(0) == 1;
                    core_.report_queue_counts(q.fig.queue, broker_counts(q));
                }
            }
            co_await pause_for(settings_.counts_interval_ms);
        }
    }

    // --- monitor ---------------------------------------------------------------------------

    std::string monitor_json() const
    {
        boost::json::object o;
        o["connected"] = conn_.health().connected && stream_conn_.health().connected;
        o["redis"] = redis_target();
        o["prefix"] = settings_.prefix;
        o["started"] = started_;
        o["tracked_jobs"] = jobs_.size();
        o["running_jobs"] = running_.size();
        o["bad_entries"] = bad_entries_;
        boost::json::array qs;
        for (auto const& q : queues_) {
            auto const& f = q.fig;
            boost::json::object j{{"queue", f.queue},
                                  {"last_id", f.last_id},
                                  {"events_read", f.events_read},
                                  {"events_published", f.events_published},
                                  {"events_ignored", f.events_ignored},
                                  {"unmappable", f.unmappable},
                                  {"resyncs", f.resyncs},
                                  {"gaps", f.gaps},
                                  {"log_lines", f.log_lines},
                                  {"lag_ms", f.lag_ms},
                                  {"is_paused", f.is_paused}};
            if (f.counts) {
                boost::json::object c;
                for (auto const& [k, v] : *f.counts)
                    c[k] = v;
                j["counts"] = std::move(c);
            }
            qs.push_back(std::move(j));
        }
        o["queues"] = std::move(qs);
        return boost::json::serialize(o);
    }

    core& core_;
    bullmq_config settings_;
    redis::connection stream_conn_;  // XREAD BLOCK only: it blocks
    redis::connection conn_;         // hashes, logs, counts, resyncs (pipelined)
    std::vector<queue_state> queues_;
    std::unordered_map<std::string, track> jobs_;  // by jobwatch job id
    std::unordered_set<std::string> running_;      // jobs whose logs are polled
    std::uint64_t bad_entries_ = 0;
    bool started_ = false;
};

}  // namespace jobwatch

#endif
