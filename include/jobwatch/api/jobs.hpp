#ifndef JOBWATCH_API_JOBS_HPP
#define JOBWATCH_API_JOBS_HPP

/** @file
    The core's REST routes: event ingest and the job store's queries
    (`docs/api.md`).
*/

#include <jobwatch/api/common.hpp>
#include <jobwatch/auth/access.hpp>
#include <jobwatch/core.hpp>

#include <string>
#include <string_view>
#include <variant>

namespace jobwatch::api {

using namespace ::jobwatch::http;

/** @brief `POST /api/v1/events`, `GET /api/v1/jobs`, `/jobs/{id}`,
    `/jobs/{id}/logs`, `/jobs/{id}/events`, registered on the core's router.

    A tenant's principal sees and writes only its tenant's jobs (another
    tenant's job is answered as an unknown one); a principal bound to a user
    only its user's.

    @par Thread Safety
    Only from the core executor.
*/
class job_routes
{
public:
    explicit job_routes(core& c) : core_(c) {}

    /// Registers the routes on `c.routes()`; the object must outlive the router's use.
    void install()
    {
        auto& r = core_.routes();
        r.add({{verb::post}, "/api/v1/events", needs::publish, "Ingest one event (JSON) or a batch (NDJSON)", {},
               [this](call const& c) { return ingest(c.req, c.who); }});
        // With durable history, what memory no longer holds is read from the file (off the core thread).
        r.add({{verb::get}, "/api/v1/jobs", needs::read, "Jobs, filtered and paged, newest first", {},
               [this](call const& c) { return list_jobs(c.req, c.t, c.who); }});
        r.add({{verb::get}, "/api/v1/jobs/{id}", needs::read, "One job", {},
               [this](call const& c) { return job(c.req, c.t, c.params["id"], c.who); }});
        r.add({{verb::get}, "/api/v1/jobs/{id}/logs", needs::read, "A job's log lines", {},
               [this](call const& c) { return job_logs(c.req, c.t, c.params["id"], c.who); }});
        r.add({{verb::get}, "/api/v1/jobs/{id}/events", needs::read, "A job's events, as its room keeps them", {},
               [this](call const& c) { return job_events(c.req, c.t, c.params["id"], c.who); }});
    }

private:
    static std::string_view status_name(publish_status st) noexcept
    {
        switch (st) {
        case publish_status::accepted: return "accepted";
        case publish_status::duplicate: return "duplicate";
        case publish_status::ignored: return "ignored";
        case publish_status::invalid: return "rejected";
        case publish_status::forbidden: return "forbidden";
        case publish_status::conflict: return "conflict";
        case publish_status::unavailable: return "unavailable";
        }
        return "rejected";
    }

    asio::awaitable<response> ingest(request const& req, principal const& who)
    {
        auto const type = media_type(req);
        if (type == "application/json") {
            auto answer = co_await ingest_one(req, who);
            co_return co_await when_durable(req, std::move(answer));
        }
        if (type == "application/x-ndjson" || type == "application/ndjson" || type == "application/jsonl") {
            auto answer = co_await ingest_batch(req, who);
            co_return co_await when_durable(req, std::move(answer));
        }
        auto res = problem(req, status::unsupported_media_type,
                           "send application/json (one event) or application/x-ndjson (one event per line)");
        res.set(boost::beast::http::field::accept_post, "application/json, application/x-ndjson");
        co_return res;
    }

    static response storage_unavailable(request const& req)
    {
        return api::storage_unavailable(
            req, "the durable journal cannot write now; nothing of this request was acknowledged, try again");
    }

    /** @brief `storage.durability: sync`: a successful ingest answer waits
        until everything the core numbered so far (this request's events, and
        the originals of its duplicates) is committed; when the commit fails
        the answer is 503 instead. */
    asio::awaitable<response> when_durable(request const& req, response answer)
    {
        auto* j = core_.journal();
        // In a cluster the acknowledgement is Redis's: the journal is this instance's copy.
        if (!j || !j->sync() || answer.result_int() >= 300 || core_.cluster())
            co_return answer;
        if (!co_await j->durable(core_.events().last_seq()))
            co_return storage_unavailable(req);
        co_return answer;
    }

    std::string over_rate() const
    {
        return "over rate_limits.ingest_events_per_s (" +
               std::to_string(core_.settings().rate_limits.ingest_events_per_s) + " events per second)";
    }

    // One event through the cluster's log; the same checks as publish_text.
    asio::awaitable<publish_result> publish_clustered(std::string_view text, principal const& who)
    {
        auto parsed = parse<job_event>(text);
        if (!parsed) {
            core_.events().count_invalid();
            co_return publish_result{publish_status::invalid, 0, parsed.error(), {}};
        }
        std::vector<job_event> one;
        one.push_back(std::move(*parsed));
        auto rs = co_await core_.submitted(std::move(one), &who);
        co_return std::move(rs.at(0));
    }

    response unavailable_answer(request const& req, publish_result const& r) const
    {
        return core_.cluster() ? api::unavailable(req, r.error.message) : storage_unavailable(req);
    }

    asio::awaitable<response> ingest_one(request const& req, principal const& who)
    {
        if (auto const wait = core_.admit_ingest(&who); wait.count() > 0) {
            auto const secs = (wait.count() + 999) / 1000;
            auto res = problem(req, status::too_many_requests,
                               over_rate() + "; retry after " + std::to_string(secs) + " s");
            res.set(boost::beast::http::field::retry_after, std::to_string(secs));
            co_return res;
        }
        publish_result r;
        if (core_.cluster())
            r = co_await publish_clustered(req.body(), who);
        else
            r = core_.publish_text(req.body(), &who);
        switch (r.status) {
        case publish_status::invalid:
            co_return problem(req, status::bad_request, r.error.message, pointer_member(r.error.path));
        case publish_status::forbidden:
            co_return problem(req, status::forbidden, r.error.message, pointer_member(r.error.path));
        case publish_status::conflict:
            co_return problem(req, status::conflict, r.error.message, pointer_member(r.error.path));
        case publish_status::unavailable: co_return unavailable_answer(req, r);
        default: break;
        }
        std::string body;
        json_writer w(body);
        w.raw(R"({"status":)");
        w.string(status_name(r.status));
        if (r.seq) {
            w.raw(R"(,"seq":)");
            w.integer(static_cast<std::int64_t>(r.seq));
        }
        if (!r.reason.empty()) {
            w.raw(R"(,"reason":)");
            w.string(r.reason);
        }
        w.raw('}');
        co_return json_response(req, r ? status::accepted : status::ok, std::move(body));
    }

    /// Lines published before the batch yields to the rest of the core's work.
    static constexpr std::size_t lines_per_chunk = 256;

    /** @brief An NDJSON batch, line by line. Between chunks of lines it
        yields, so the connections that fan-out filled get written meanwhile:
        a batch larger than a client's send queue does not lag a client that
        reads at a normal pace. With `cluster.mode` redis the events of the
        batch go to the cluster's log together (one round trip), and the
        answer comes once Redis has them. */
    asio::awaitable<response> ingest_batch(request const& req, principal const& who)
    {
        struct line_result
        {
            std::size_t line = 0;
            publish_result r{};
            std::chrono::milliseconds rate_wait{0};  // > 0: over the principal's rate
        };
        std::vector<line_result> outcomes;  // every line not plainly accepted, and (cluster) every line
        std::vector<job_event> pending;     // cluster: events to submit, in line order
        std::vector<std::size_t> pending_at;
        std::size_t line_no = 0, in_chunk = 0, accepted = 0;
        bool const clustered = core_.cluster() != nullptr;
        std::string_view text = req.body();
        while (!text.empty()) {
            auto const nl = text.find('\n');
            auto line = text.substr(0, nl);
            text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
            ++line_no;
            if (!line.empty() && line.back() == '\r')
                line.remove_suffix(1);
            if (line.find_first_not_of(" \t") == std::string_view::npos)
                continue;  // blank lines (a trailing newline) are not events
            if (++in_chunk == lines_per_chunk) {
                in_chunk = 0;
                auto const ex = co_await asio::this_coro::executor;
                co_await asio::post(ex, asio::use_awaitable);
            }
            if (auto const wait = core_.admit_ingest(&who); wait.count() > 0) {
                // Over the principal's rate: this line is refused, by number; later ones may pass.
                outcomes.push_back({line_no, {}, wait});
                continue;
            }
            if (clustered) {
                auto parsed = parse<job_event>(line);
                if (!parsed) {
                    core_.events().count_invalid();
                    outcomes.push_back({line_no, {publish_status::invalid, 0, parsed.error(), {}}, {}});
                    continue;
                }
                pending.push_back(std::move(*parsed));
                pending_at.push_back(outcomes.size());
                outcomes.push_back({line_no, {}, {}});
                continue;
            }
            auto res = core_.publish_text(line, &who);
            if (res)
                ++accepted;  // only what is not plainly accepted gets a result line
            else
                outcomes.push_back({line_no, std::move(res), {}});
        }
        if (!pending.empty()) {
            auto rs = co_await core_.submitted(std::move(pending), &who);
            for (std::size_t k = 0; k < pending_at.size() && k < rs.size(); ++k)
                outcomes[pending_at[k]].r = std::move(rs[k]);
        }
        std::size_t duplicates = 0, ignored = 0, rejected = 0;
        std::string results;
        json_writer r(results);
        bool first = true;
        for (auto const& o : outcomes) {
            if (o.rate_wait.count() == 0 && o.r) {
                ++accepted;
                continue;
            }
            r.raw(first ? "" : ",");
            first = false;
            r.raw(R"({"line":)");
            r.integer(static_cast<std::int64_t>(o.line));
            if (o.rate_wait.count() > 0) {
                ++rejected;
                r.raw(R"(,"status":"rate_limited","retry_after_ms":)");
                r.integer(o.rate_wait.count());
                r.raw(R"(,"error":)");
                r.string(over_rate());
                r.raw('}');
                continue;
            }
            auto const& res = o.r;
            r.raw(R"(,"status":)");
            r.string(status_name(res.status));
            if (res.status == publish_status::duplicate) {
                ++duplicates;
            } else if (res.status == publish_status::ignored) {
                ++ignored;
                r.raw(R"(,"reason":)");
                r.string(res.reason);
            } else if (res.status == publish_status::unavailable) {
                // Storage (or the cluster's log) cannot take it now: refused by number, like a rate limit.
                ++rejected;
                r.raw(R"(,"retry_after_ms":1000,"error":)");
                r.string(clustered ? std::string_view(res.error.message) : std::string_view("storage unavailable"));
            } else {
                ++rejected;
                r.raw(R"(,"pointer":)");
                r.string(res.error.path);
                r.raw(R"(,"error":)");
                r.string(res.error.message);
            }
            r.raw('}');
        }
        std::string body;
        json_writer w(body);
        w.raw(R"({"accepted":)");
        w.integer(static_cast<std::int64_t>(accepted));
        w.raw(R"(,"duplicates":)");
        w.integer(static_cast<std::int64_t>(duplicates));
        w.raw(R"(,"ignored":)");
        w.integer(static_cast<std::int64_t>(ignored));
        w.raw(R"(,"rejected":)");
        w.integer(static_cast<std::int64_t>(rejected));
        w.raw(R"(,"results":[)");
        w.raw(results);
        w.raw("]}");
        co_return json_response(req, status::ok, std::move(body));
    }

    /// A parsed `GET /api/v1/jobs`: the query, and whether the principal may see anything of it.
    struct listing
    {
        job_query q;
        bool nothing = false;  ///< it asked for another tenant's or user's jobs
    };

    std::variant<listing, response> parse_listing(request const& req, target const& t, principal const& who) const
    {
        listing l;
        auto& q = l.q;
        bool bad = false;
        std::string bad_param;
        auto time_param = [&](std::string_view name) -> std::optional<time_point> {
            auto v = t.get(name);
            if (!v)
                return std::nullopt;
            if (auto tp = parse_time(*v))
                return tp;
            if (bool b = false; auto ms = to_uint(*v, b))
                return time_point{std::chrono::milliseconds{static_cast<std::int64_t>(*ms)}};
            bad = true;
            bad_param = name;
            return std::nullopt;
        };
        if (auto s = t.get("status")) {
            job_state st{};
            if (!from_string(*s, st))
                return problem(req, status::bad_request,
                               "status must be one of queued, running, succeeded, failed, cancelled",
                               R"("parameter":"status")");
            q.status = st;
        }
        for (auto [name, field] : {std::pair{"queue", &job_query::queue}, std::pair{"run_id", &job_query::run_id},
                                   std::pair{"tenant_id", &job_query::tenant_id},
                                   std::pair{"user_id", &job_query::user_id}, std::pair{"type", &job_query::job_type}})
            if (auto v = t.get(name))
                q.*field = std::string(*v);
        q.since = time_param("since");
        q.until = time_param("until");
        if (bad)
            return problem(req, status::bad_request, bad_param + " must be an RFC 3339 time or epoch milliseconds",
                           parameter_member(bad_param));
        bool bad_num = false;
        auto const limit = uint_param(t, "limit", 50, bad_num);
        auto const offset = uint_param(t, "offset", 0, bad_num);
        // Offsets are JSON numbers in the answer: no more than 2^53 - 1.
        if (bad_num || limit < 1 || limit > 100 || offset > 9'007'199'254'740'991)
            return problem(req, status::bad_request,
                           "limit must be 1..100 and offset an integer from 0 to 9007199254740991");
        q.limit = static_cast<std::size_t>(limit);
        q.offset = static_cast<std::size_t>(offset);
        // A principal's tenant and user bound its queries; asking for another's gets nothing, not an error.
        l.nothing = (who.tenant_id && q.tenant_id && *q.tenant_id != *who.tenant_id) ||
                    (who.user_id && q.user_id && *q.user_id != *who.user_id);
        if (who.tenant_id)
            q.tenant_id = *who.tenant_id;
        if (who.user_id)
            q.user_id = *who.user_id;
        return l;
    }

    static response jobs_page(request const& req, std::vector<std::string> const& items, std::uint64_t total,
                              job_query const& q)
    {
        std::string body;
        json_writer w(body);
        w.raw(R"({"items":[)");
        for (std::size_t i = 0; i < items.size(); ++i) {
            if (i)
                w.raw(',');
            w.raw(items[i]);
        }
        w.raw(R"(],"total":)");
        w.integer(static_cast<std::int64_t>(total));
        w.raw(R"(,"limit":)");
        w.integer(static_cast<std::int64_t>(q.limit));
        w.raw(R"(,"offset":)");
        w.integer(static_cast<std::int64_t>(q.offset));
        w.raw('}');
        return json_response(req, status::ok, std::move(body));
    }

    /** Memory's jobs, and with durable history the jobs that left memory,
        merged in the store's order (updated_at, then seq, descending). A job
        in memory hides an archived job of the same tenant and id. */
    asio::awaitable<response> list_jobs(request const& req, target const& t, principal const& who)
    {
        auto parsed = parse_listing(req, t, who);
        if (auto* res = std::get_if<response>(&parsed))
            co_return std::move(*res);
        auto const l = std::get<listing>(std::move(parsed));
        auto const& q = l.q;
        std::vector<std::string> items;
        if (l.nothing)
            co_return jobs_page(req, items, 0, q);
        std::size_t const keep = q.offset + q.limit;  // both bounded above (2^53 + 100)
        archived_jobs past;
        if (auto* h = core_.past()) {
            co_await h->flushed();  // every job evicted so far is in the file
            // Arguments bound before the co_await (GCC 12 mis-destroys temporaries inside one).
            auto read = h->jobs(q, keep);
            past = co_await std::move(read);
            if (!past.error.empty())
                co_return history_unavailable(req, core_.log(), past.error);
        }
        auto const& store = core_.store();
        auto const now = store.select(q, keep);
        std::uint64_t shadowed = 0;
        std::size_t i = 0, j = 0;
        for (std::size_t rank = 0; rank < keep && (i < now.jobs.size() || j < past.jobs.size());) {
            if (j < past.jobs.size() && store.find(past.jobs[j].tenant_id, past.jobs[j].job_id)) {
                ++j;
                ++shadowed;
                continue;
            }
            bool mine = j == past.jobs.size();
            if (!mine && i < now.jobs.size()) {
                auto const& m = *now.jobs[i];
                auto const m_ms = m.updated_at().time_since_epoch().count();
                mine = m_ms != past.jobs[j].updated_ms ? m_ms > past.jobs[j].updated_ms : m.seq() > past.jobs[j].seq;
            }
            if (rank++ >= q.offset)
                items.push_back(mine ? to_json(store.snapshot(*now.jobs[i])) : std::move(past.jobs[j].body));
            (mine ? i : j)++;
        }
        co_return jobs_page(req, items, now.total + past.total - shadowed, q);
    }

    /// A job as found: in memory, or in durable history.
    using found_job = std::variant<job_record const*, archived_job, response>;

    static bool may_see(principal const& who, archived_job const& a)
    {
        if (who.tenant_id && a.tenant_id != *who.tenant_id)
            return false;
        return !who.user_id || (a.user_id == *who.user_id && a.tenant_id == who.tenant_id.value_or(""));
    }

    /** @brief The job `id` as `who` names it, or the answer instead.

        A tenant's principal names its tenant's jobs; a principal without a
        tenant names a tenant's job with `?tenant_id=`, or leaves it out for
        a job of no tenant or the one job with that id in any tenant (409
        when several tenants have one). Another tenant's or user's job is
        answered as an unknown one (404). Memory first; then, with durable
        history, the jobs that left it. */
    asio::awaitable<found_job> find_job(request const& req, target const& t, std::string_view id,
                                        principal const& who) const
    {
        auto const& store = core_.store();
        auto const asked = t.get("tenant_id");
        job_record const* rec = nullptr;
        // The tenant to look in; nullopt: the job of no tenant, else the one of any tenant.
        std::optional<std::string> tenant;
        bool any = false;
        if (who.tenant_id) {
            if (asked && *asked != *who.tenant_id)
                co_return not_found(req, id);
            tenant = *who.tenant_id;
        } else if (asked) {
            tenant = std::string(*asked);
        } else {
            any = true;
        }
        if (tenant) {
            rec = store.find(*tenant, id);
        } else if (!(rec = store.find({}, id))) {
            auto const match = store.find_any(id);
            if (match.count > 1)
                co_return conflict(req, id);
            rec = match.job;
        }
        if (rec)
            co_return auth::may_see_job(who, *rec) ? found_job{rec} : found_job{not_found(req, id)};
        auto* h = core_.past();
        if (!h)
            co_return not_found(req, id);
        co_await h->flushed();
        // Arguments bound before each co_await (GCC 12 mis-destroys temporaries inside one).
        auto read = h->job(any ? std::optional<std::string>{""} : tenant, std::string(id));
        auto matches = co_await std::move(read);
        if (any && matches.error.empty() && matches.jobs.empty()) {
            auto read_any = h->job(std::nullopt, std::string(id));
            matches = co_await std::move(read_any);
        }
        if (!matches.error.empty())
            co_return history_unavailable(req, core_.log(), matches.error);
        if (matches.jobs.size() > 1)
            co_return conflict(req, id);
        if (matches.jobs.empty() || !may_see(who, matches.jobs.front()))
            co_return not_found(req, id);
        co_return std::move(matches.jobs.front());
    }

    static response not_found(request const& req, std::string_view id)
    {
        return problem(req, status::not_found, "no job " + std::string(id));
    }
    static response conflict(request const& req, std::string_view id)
    {
        return problem(req, status::conflict, "several tenants have a job " + std::string(id) + ": add ?tenant_id=");
    }

    asio::awaitable<response> job(request const& req, target const& t, std::string_view id, principal const& who)
    {
        auto found = co_await find_job(req, t, id, who);
        if (auto* res = std::get_if<response>(&found))
            co_return std::move(*res);
        if (auto* a = std::get_if<archived_job>(&found))
            co_return json_response(req, status::ok, std::move(a->body));
        co_return json_response(req, status::ok,
                                to_json(core_.store().snapshot(*std::get<job_record const*>(found))));
    }

    static void log_item(json_writer& w, bool first, std::uint64_t seq, time_point time, log_level level,
                         std::string_view message)
    {
        w.raw(first ? R"({"seq":)" : R"(,{"seq":)");
        w.integer(static_cast<std::int64_t>(seq));
        w.raw(R"(,"time":)");
        w.string(format_time(time));
        w.raw(R"(,"level":)");
        w.string(to_string(level));
        w.raw(R"(,"message":)");
        w.string(message);
        w.raw('}');
    }

    asio::awaitable<response> job_logs(request const& req, target const& t, std::string_view id,
                                       principal const& who)
    {
        bool bad = false;
        auto const since = uint_param(t, "since", 0, bad);
        auto const limit = uint_param(t, "limit", 100, bad);
        if (bad || limit < 1 || limit > 1000)
            co_return problem(req, status::bad_request, "since must be a sequence number and limit 1..1000");
        auto found = co_await find_job(req, t, id, who);
        if (auto* res = std::get_if<response>(&found))
            co_return std::move(*res);
        std::string body;
        json_writer w(body);
        w.raw(R"({"job_id":)");
        w.string(id);
        w.raw(R"(,"items":[)");
        if (auto* a = std::get_if<archived_job>(&found)) {
            // A job that left memory: its job.log events from the file.
            auto read = core_.past()->events_of(a->tenant_id, a->job_id, since, static_cast<std::size_t>(limit), true);
            auto lines = co_await std::move(read);
            if (!lines.error.empty())
                co_return history_unavailable(req, core_.log(), lines.error);
            bool first = true;
            for (auto const& e : lines.events) {
                auto ev = parse<job_event>(e.body);
                auto const* line = ev ? std::get_if<job_log>(&*ev) : nullptr;
                if (!line || !line->time)
                    continue;
                auto const time = parse_time(*line->time);
                if (!time)
                    continue;
                log_item(w, first, e.seq, *time, line->level, line->message);
                first = false;
            }
        } else {
            auto const lines = core_.store().logs(*std::get<job_record const*>(found), since,
                                                  static_cast<std::size_t>(limit));
            for (std::size_t i = 0; i < lines.size(); ++i)
                log_item(w, i == 0, lines[i].seq, lines[i].time, lines[i].level, lines[i].message);
        }
        w.raw("]}");
        co_return json_response(req, status::ok, std::move(body));
    }

    /// Events of a job that left memory read from the file: at most this many.
    static constexpr std::size_t max_archived_events = 10'000;

    asio::awaitable<response> job_events(request const& req, target const& t, std::string_view id,
                                         principal const& who)
    {
        auto found = co_await find_job(req, t, id, who);
        if (auto* res = std::get_if<response>(&found))
            co_return std::move(*res);
        std::string body;
        json_writer w(body);
        w.raw(R"({"job_id":)");
        w.string(id);
        auto item = [&w, first = true](std::uint64_t seq, std::string_view event) mutable {
            w.raw(first ? R"({"seq":)" : R"(,{"seq":)");
            first = false;
            w.integer(static_cast<std::int64_t>(seq));
            w.raw(R"(,"event":)");
            w.raw(event);
            w.raw('}');
        };
        if (auto* a = std::get_if<archived_job>(&found)) {
            auto read = core_.past()->events_of(a->tenant_id, a->job_id, 0, max_archived_events, false);
            auto events = co_await std::move(read);
            if (!events.error.empty())
                co_return history_unavailable(req, core_.log(), events.error);
            w.raw(R"(,"complete":)");
            w.boolean(events.complete && events.events.size() < max_archived_events);
            w.raw(R"(,"items":[)");
            for (auto const& e : events.events)
                item(e.seq, e.body);
        } else {
            auto const& job = *std::get<job_record const*>(found);
            auto const replay = core_.events().replay(job.rooms()->of(rooms::kind::job), 0);
            w.raw(R"(,"complete":)");
            w.boolean(!replay.reset);
            w.raw(R"(,"items":[)");
            for (auto const& e : replay.entries)
                if (e.event)
                    item(e.seq, e.event->json());
        }
        w.raw("]}");
        co_return json_response(req, status::ok, std::move(body));
    }

    core& core_;
};

}  // namespace jobwatch::api

#endif
