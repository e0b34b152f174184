#ifndef JOBWATCH_HTTP_REST_HPP
#define JOBWATCH_HTTP_REST_HPP

#include <jobwatch/codec.hpp>
#include <jobwatch/components/aggregator.hpp>
#include <jobwatch/components/dlq_monitor.hpp>
#include <jobwatch/components/health.hpp>
#include <jobwatch/core.hpp>
#include <jobwatch/detail/codec_write.hpp>
#include <jobwatch/http/auth.hpp>
#include <jobwatch/http/request.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value_from.hpp>

#include <algorithm>
#include <array>
#include <functional>
#include <string>
#include <string_view>

namespace jobwatch::http {

/** @brief The REST API under `/api/v1/` (docs/api.md): queries of the job
    store, the aggregates, the dead-letter monitor and health, event ingest,
    and the runtime settings.

    Every handler checks the principal: reads need `read`, ingest `publish`,
    settings and connections `admin`. A tenant's principal sees only its
    tenant's jobs and runs (another tenant's job is "not found", as an
    unknown one), and is refused what mixes tenants (queues, failure stats,
    health).

    @par Thread Safety
    Only from the core executor.
*/
class rest_api
{
public:
    /// What the API asks of the gateway around it.
    struct hooks
    {
        std::function<std::string()> connections_json;  ///< body of GET /monitor/connections
        std::function<bool()> ready;                    ///< readiness (listening and not draining)
    };

    rest_api(core& c, hooks h) : core_(c), hooks_(std::move(h)) {}

    /// True when `path` is one of this API's (so the gateway answers 404 otherwise).
    response handle(request const& req, target const& t, principal const& who)
    {
        auto const& path = t.path;
        if (path == "/healthz")
            return only(req, {verb::get, verb::head}) ? json_response(req, status::ok, R"({"status":"ok"})")
                                                      : not_allowed(req, "GET, HEAD");
        if (path == "/readyz") {
            if (!only(req, {verb::get, verb::head}))
                return not_allowed(req, "GET, HEAD");
            bool const ok = !hooks_.ready || hooks_.ready();
            return ok ? json_response(req, status::ok, R"({"status":"ready"})")
                      : problem(req, status::service_unavailable, "not accepting work (starting or draining)");
        }
        constexpr std::string_view prefix = "/api/v1/";
        if (path.size() <= prefix.size() || path.compare(0, prefix.size(), prefix) != 0)
            return problem(req, status::not_found, "no such resource: " + path);
        auto const rest = std::string_view(path).substr(prefix.size());
        auto seg = split(rest);

        if (seg.size() == 1 && seg[0] == "events") {
            if (req.method() != verb::post)
                return not_allowed(req, "POST");
            return ingest(req, who);
        }
        if (!seg.empty() && seg[0] == "monitor") {
            if (seg.size() == 2 && seg[1] == "connections") {
                if (req.method() != verb::get)
                    return not_allowed(req, "GET");
                if (!has_scope(who, auth_scope::admin))
                    return problem(req, status::forbidden, "the admin scope is required");
                return json_response(req, status::ok, hooks_.connections_json ? hooks_.connections_json() : "{}");
            }
            if (seg.size() == 2 && seg[1] == "config") {
                if (req.method() != verb::get && req.method() != verb::post)
                    return not_allowed(req, "GET, POST");
                if (!has_scope(who, auth_scope::admin))
                    return problem(req, status::forbidden, "the admin scope is required");
                return req.method() == verb::get ? get_config(req) : post_config(req);
            }
            return problem(req, status::not_found, "no such resource: " + path);
        }
        // Everything below reads.
        if (!has_scope(who, auth_scope::read))
            return problem(req, status::forbidden, "the read scope is required");
        bool const get = req.method() == verb::get || req.method() == verb::head;
        if (seg.size() == 1 && seg[0] == "jobs")
            return get ? list_jobs(req, t, who) : not_allowed(req, "GET");
        if (seg.size() == 3 && seg[0] == "jobs" && seg[1] == "failed" && (seg[2] == "stats" || seg[2] == "recent")) {
            if (!get)
                return not_allowed(req, "GET");
            return seg[2] == "stats" ? failed_stats(req, who) : failed_recent(req, t, who);
        }
        if (seg.size() >= 2 && seg.size() <= 3 && seg[0] == "jobs") {
            if (!get)
                return not_allowed(req, "GET");
            if (seg.size() == 2)
                return job(req, t, seg[1], who);
            if (seg[2] == "logs")
                return job_logs(req, t, seg[1], who);
            if (seg[2] == "events")
                return job_events(req, t, seg[1], who);
        }
        if (seg.size() == 3 && seg[0] == "runs" && seg[2] == "summary")
            return get ? run_summary(req, t, seg[1], who) : not_allowed(req, "GET");
        if (seg.size() == 1 && seg[0] == "queues")
            return get ? queues(req, who) : not_allowed(req, "GET");
        if (seg.size() == 2 && seg[0] == "health" && seg[1] == "queues")
            return get ? health_queues(req, who) : not_allowed(req, "GET");
        return problem(req, status::not_found, "no such resource: " + path);
    }

    /// Settings that take effect without a restart (JSON Pointers into the config).
    static constexpr std::array<std::string_view, 3> tunable_sections = {"/aggregator", "/dlq", "/health"};
    static constexpr std::array<std::string_view, 4> tunable_gateway = {"heartbeat_ms", "idle_timeout_ms",
                                                                        "max_send_queue_bytes",
                                                                        "max_send_queue_messages"};

private:
    static std::vector<std::string_view> split(std::string_view s)
    {
        std::vector<std::string_view> out;
        while (!s.empty()) {
            auto const slash = s.find('/');
            out.push_back(s.substr(0, slash));
            if (slash == std::string_view::npos)
                break;
            s.remove_prefix(slash + 1);
        }
        return out;
    }

    static bool only(request const& req, std::initializer_list<verb> verbs)
    {
        return std::find(verbs.begin(), verbs.end(), req.method()) != verbs.end();
    }

    static response not_allowed(request const& req, std::string_view allow) { return method_not_allowed(req, allow); }

    static std::string pointer_member(std::string_view pointer)
    {
        std::string out;
        ::jobwatch::detail::json_writer w(out);
        w.raw(R"("pointer":)");
        w.string(pointer);
        return out;
    }

    // --- ingest ---------------------------------------------------------------

    static std::string_view status_name(publish_status st) noexcept
    {
        switch (st) {
        case publish_status::accepted: return "accepted";
        case publish_status::duplicate: return "duplicate";
        case publish_status::ignored: return "ignored";
        case publish_status::invalid: return "rejected";
        case publish_status::forbidden: return "forbidden";
        case publish_status::conflict: return "conflict";
        }
        return "rejected";
    }

    response ingest(request const& req, principal const& who)
    {
        if (!has_scope(who, auth_scope::publish))
            return problem(req, status::forbidden, "the publish scope is required");
        auto const type = media_type(req);
        if (type == "application/json")
            return ingest_one(req, who);
        if (type == "application/x-ndjson" || type == "application/ndjson" || type == "application/jsonl")
            return ingest_batch(req, who);
        auto res = problem(req, status::unsupported_media_type,
                           "send application/json (one event) or application/x-ndjson (one event per line)");
        res.set(boost::beast::http::field::accept_post, "application/json, application/x-ndjson");
        return res;
    }

    response ingest_one(request const& req, principal const& who)
    {
        auto const r = core_.publish_text(req.body(), &who);
        switch (r.status) {
        case publish_status::invalid:
            return problem(req, status::bad_request, r.error.message, pointer_member(r.error.path));
        case publish_status::forbidden:
            return problem(req, status::forbidden, r.error.message, pointer_member(r.error.path));
        case publish_status::conflict:
            return problem(req, status::conflict, r.error.message, pointer_member(r.error.path));
        default: break;
        }
        std::string body;
        ::jobwatch::detail::json_writer w(body);
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
        return json_response(req, r ? status::accepted : status::ok, std::move(body));
    }

    response ingest_batch(request const& req, principal const& who)
    {
        std::string body;
        ::jobwatch::detail::json_writer w(body);
        std::size_t accepted = 0, duplicates = 0, ignored = 0, rejected = 0, line_no = 0;
        std::string results;
        ::jobwatch::detail::json_writer r(results);
        std::string_view text = req.body();
        bool first = true;
        while (!text.empty()) {
            auto const nl = text.find('\n');
            auto line = text.substr(0, nl);
            text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
            ++line_no;
            if (!line.empty() && line.back() == '\r')
                line.remove_suffix(1);
            if (line.find_first_not_of(" \t") == std::string_view::npos)
                continue;  // blank lines (a trailing newline) are not events
            auto const res = core_.publish_text(line, &who);
            if (res) {
                ++accepted;
                continue;
            }
            // Only what is not plainly accepted gets a result line: a large
            // batch answers with a small body.
            r.raw(first ? "" : ",");
            first = false;
            r.raw(R"({"line":)");
            r.integer(static_cast<std::int64_t>(line_no));
            r.raw(R"(,"status":)");
            r.string(status_name(res.status));
            if (res.status == publish_status::duplicate) {
                ++duplicates;
            } else if (res.status == publish_status::ignored) {
                ++ignored;
                r.raw(R"(,"reason":)");
                r.string(res.reason);
            } else {
                ++rejected;
                r.raw(R"(,"pointer":)");
                r.string(res.error.path);
                r.raw(R"(,"error":)");
                r.string(res.error.message);
            }
            r.raw('}');
        }
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
        return json_response(req, status::ok, std::move(body));
    }

    // --- jobs -----------------------------------------------------------------

    response list_jobs(request const& req, target const& t, principal const& who)
    {
        job_query q;
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
                           R"("parameter":")" + bad_param + "\"");
        bool bad_num = false;
        auto const limit = uint_param(t, "limit", 50, bad_num);
        auto const offset = uint_param(t, "offset", 0, bad_num);
        if (bad_num || limit < 1 || limit > 100)
            return problem(req, status::bad_request, "limit must be 1..100 and offset a non-negative integer");
        q.limit = static_cast<std::size_t>(limit);
        q.offset = static_cast<std::size_t>(offset);
        job_page page;
        page.limit = q.limit;
        page.offset = q.offset;
        // A tenant's principal asking for another tenant gets nothing, not an error.
        // A principal's tenant and user bound its queries; asking for another's gets nothing, not an error.
        bool const other_tenant = (who.tenant_id && q.tenant_id && *q.tenant_id != *who.tenant_id) ||
                                  (who.user_id && q.user_id && *q.user_id != *who.user_id);
        if (who.tenant_id)
            q.tenant_id = *who.tenant_id;
        if (who.user_id)
            q.user_id = *who.user_id;
        if (!other_tenant)
            page = core_.store().query(q);
        std::string body;
        ::jobwatch::detail::json_writer w(body);
        w.raw(R"({"items":[)");
        for (std::size_t i = 0; i < page.items.size(); ++i) {
            if (i)
                w.raw(',');
            to_json(body, page.items[i]);
        }
        w.raw(R"(],"total":)");
        w.integer(static_cast<std::int64_t>(page.total));
        w.raw(R"(,"limit":)");
        w.integer(static_cast<std::int64_t>(page.limit));
        w.raw(R"(,"offset":)");
        w.integer(static_cast<std::int64_t>(page.offset));
        w.raw('}');
        return json_response(req, status::ok, std::move(body));
    }

    /** @brief The job `id` as `who` names it, or the answer instead.

        A tenant's principal names its tenant's jobs; a principal without a
        tenant names a tenant's job with `?tenant_id=`, or leaves it out for
        a job of no tenant or the one job with that id in any tenant (409
        when several tenants have one). Another tenant's or user's job is
        answered as an unknown one (404). */
    std::variant<job_record const*, response> find_job(request const& req, target const& t, std::string_view id,
                                                       principal const& who) const
    {
        auto const& store = core_.store();
        auto const asked = t.get("tenant_id");
        job_record const* rec = nullptr;
        if (who.tenant_id) {
            if (!asked || *asked == *who.tenant_id)
                rec = store.find(*who.tenant_id, id);
        } else if (asked) {
            rec = store.find(*asked, id);
        } else if (!(rec = store.find({}, id))) {
            auto const any = store.find_any(id);
            if (any.count > 1)
                return problem(req, status::conflict,
                               "several tenants have a job " + std::string(id) + ": add ?tenant_id=");
            rec = any.job;
        }
        if (!rec || !may_see_job(who, *rec))
            return problem(req, status::not_found, "no job " + std::string(id));
        return rec;
    }

    response job(request const& req, target const& t, std::string_view id, principal const& who)
    {
        auto found = find_job(req, t, id, who);
        if (auto* res = std::get_if<response>(&found))
            return std::move(*res);
        return json_response(req, status::ok, to_json(core_.store().snapshot(*std::get<job_record const*>(found))));
    }

    response job_logs(request const& req, target const& t, std::string_view id, principal const& who)
    {
        auto found = find_job(req, t, id, who);
        if (auto* res = std::get_if<response>(&found))
            return std::move(*res);
        auto const& job = *std::get<job_record const*>(found);
        bool bad = false;
        auto const since = uint_param(t, "since", 0, bad);
        auto const limit = uint_param(t, "limit", 100, bad);
        if (bad || limit < 1 || limit > 1000)
            return problem(req, status::bad_request, "since must be a sequence number and limit 1..1000");
        auto const lines = core_.store().logs(job, since, static_cast<std::size_t>(limit));
        std::string body;
        ::jobwatch::detail::json_writer w(body);
        w.raw(R"({"job_id":)");
        w.string(id);
        w.raw(R"(,"items":[)");
        for (std::size_t i = 0; i < lines.size(); ++i) {
            w.raw(i ? R"(,{"seq":)" : R"({"seq":)");
            w.integer(static_cast<std::int64_t>(lines[i].seq));
            w.raw(R"(,"time":)");
            w.string(format_time(lines[i].time));
            w.raw(R"(,"level":)");
            w.string(to_string(lines[i].level));
            w.raw(R"(,"message":)");
            w.string(lines[i].message);
            w.raw('}');
        }
        w.raw("]}");
        return json_response(req, status::ok, std::move(body));
    }

    response job_events(request const& req, target const& t, std::string_view id, principal const& who)
    {
        auto found = find_job(req, t, id, who);
        if (auto* res = std::get_if<response>(&found))
            return std::move(*res);
        auto const& job = *std::get<job_record const*>(found);
        auto const replay = core_.events().replay(job.rooms()->of(rooms::kind::job), 0);
        std::string body;
        ::jobwatch::detail::json_writer w(body);
        w.raw(R"({"job_id":)");
        w.string(id);
        w.raw(R"(,"complete":)");
        w.boolean(!replay.reset);
        w.raw(R"(,"items":[)");
        bool first = true;
        for (auto const& e : replay.entries) {
            if (!e.event)
                continue;
            w.raw(first ? R"({"seq":)" : R"(,{"seq":)");
            first = false;
            w.integer(static_cast<std::int64_t>(e.seq));
            w.raw(R"(,"event":)");
            w.raw(e.event->json());
            w.raw('}');
        }
        w.raw("]}");
        return json_response(req, status::ok, std::move(body));
    }

    response run_summary(request const& req, target const& t, std::string_view id, principal const& who)
    {
        // Runs are per tenant: the principal's, else ?tenant_id=, else no tenant.
        auto const asked = t.get("tenant_id");
        auto const room = rooms::run(who.tenant_id ? std::string_view(*who.tenant_id)
                                     : asked      ? *asked
                                                  : std::string_view{},
                                     id);
        auto* agg = core_.find<aggregator>();
        if (check_room(who, room, core_.store()) != room_access::allowed || !agg)
            return problem(req, status::not_found, "no run " + std::string(id));
        auto s = agg->summary_of(room);
        if (!s)
            return problem(req, status::not_found, "no run " + std::string(id));
        return json_response(req, status::ok, to_json(*s));
    }

    response queues(request const& req, principal const& who)
    {
        if (who.tenant_id)
            return problem(req, status::forbidden, "queues mix tenants; ask for tenant:" + *who.tenant_id);
        auto* agg = core_.find<aggregator>();
        std::vector<std::string> names;
        if (agg)
            agg->metrics().for_each_scope([&](std::string_view scope, auto const&) {
                if (scope.starts_with("queue:"))
                    names.emplace_back(scope);
            });
        std::sort(names.begin(), names.end());
        std::string body;
        ::jobwatch::detail::json_writer w(body);
        w.raw(R"({"items":[)");
        for (std::size_t i = 0; i < names.size(); ++i) {
            if (i)
                w.raw(',');
            w.raw(R"({"queue":)");
            w.string(std::string_view(names[i]).substr(6));
            w.raw(R"(,"summary":)");
            to_json(body, *agg->summary_of(names[i]));
            w.raw('}');
        }
        w.raw("]}");
        return json_response(req, status::ok, std::move(body));
    }

    response health_queues(request const& req, principal const& who)
    {
        if (who.tenant_id)
            return problem(req, status::forbidden, "queue health mixes tenants");
        if (auto* h = core_.find<health>())
            return json_response(req, status::ok, to_json(h->report()));
        if (auto r = core_.latest_health())
            return json_response(req, status::ok, to_json(*r));
        return problem(req, status::not_found, "no health component in this server");
    }

    response failed_stats(request const& req, principal const& who)
    {
        if (who.tenant_id)
            return problem(req, status::forbidden, "failure statistics mix tenants");
        auto* d = core_.find<dlq_monitor>();
        if (!d)
            return problem(req, status::not_found, "no dead-letter monitor in this server");
        return json_response(req, status::ok, boost::json::serialize(boost::json::value_from(d->stats())));
    }

    response failed_recent(request const& req, target const& t, principal const& who)
    {
        auto* d = core_.find<dlq_monitor>();
        if (!d)
            return problem(req, status::not_found, "no dead-letter monitor in this server");
        bool bad = false;
        auto const limit = uint_param(t, "limit", 20, bad);
        if (bad || limit < 1 || limit > 1000)
            return problem(req, status::bad_request, "limit must be 1..1000");
        auto const want = static_cast<std::size_t>(limit);
        // A tenant's principal sees its own entries: read more, keep its own.
        bool const restricted = who.tenant_id || who.user_id;
        auto const entries = d->state().dead_letters(restricted ? std::numeric_limits<std::size_t>::max() : want);
        std::string body;
        ::jobwatch::detail::json_writer w(body);
        w.raw(R"({"items":[)");
        std::size_t n = 0;
        for (auto const& e : entries) {
            if (n == want)
                break;
            if (!may_see_tenant(who, e.tenant_id) || (who.user_id && e.user_id != who.user_id))
                continue;
            if (n++)
                w.raw(',');
            to_json(body, e);
        }
        w.raw("]}");
        return json_response(req, status::ok, std::move(body));
    }

    // --- settings -------------------------------------------------------------

    static boost::json::value settings_json(jobwatch::config const& c)
    {
        auto v = boost::json::parse(to_json(c));
        // Tokens are secrets: never echoed.
        v.as_object().erase("auth");
        return v;
    }

    response get_config(request const& req)
    {
        boost::json::object out;
        out["settings"] = settings_json(core_.settings());
        boost::json::array tunable;
        for (auto s : tunable_sections)
            tunable.emplace_back(s);
        for (auto g : tunable_gateway)
            tunable.emplace_back("/gateway/" + std::string(g));
        out["tunable"] = std::move(tunable);
        return json_response(req, status::ok, boost::json::serialize(out));
    }

    static void merge(boost::json::object& into, boost::json::object const& patch)
    {
        for (auto const& [k, v] : patch) {
            auto* existing = into.if_contains(k);
            if (existing && existing->is_object() && v.is_object())
                merge(existing->as_object(), v.as_object());
            else
                into[k] = v;
        }
    }

    response post_config(request const& req)
    {
        if (media_type(req) != "application/json")
            return problem(req, status::unsupported_media_type, "send the changed settings as application/json");
        boost::system::error_code ec;
        auto patch = boost::json::parse(req.body(), ec);
        if (ec || !patch.is_object())
            return problem(req, status::bad_request, "the body must be a JSON object of settings to change",
                           pointer_member(""));
        // The patch must not touch what needs a restart.
        for (auto const& [section, value] : patch.as_object()) {
            auto const sec = "/" + std::string(section);
            bool const whole = std::find(tunable_sections.begin(), tunable_sections.end(), sec) != tunable_sections.end();
            if (whole)
                continue;
            if (section == "gateway" && value.is_object()) {
                for (auto const& [k, ignored] : value.as_object())
                    if (std::find(tunable_gateway.begin(), tunable_gateway.end(), std::string_view(k)) ==
                        tunable_gateway.end())
                        return problem(req, status::unprocessable_entity,
                                       "gateway." + std::string(k) + " cannot change at runtime; restart with it",
                                       pointer_member("/gateway/" + std::string(k)));
                continue;
            }
            return problem(req, status::unprocessable_entity,
                           std::string(section) + " cannot change at runtime; restart with it", pointer_member(sec));
        }
        auto merged = boost::json::parse(to_json(core_.settings()));
        merge(merged.as_object(), patch.as_object());
        auto next = parse_value<jobwatch::config>(merged);
        if (!next)
            return problem(req, status::bad_request, next.error().message, pointer_member(next.error().path));
        core_.update_settings(std::move(*next));
        core_.log().info("settings changed at runtime: " + boost::json::serialize(patch));
        boost::json::object out;
        out["settings"] = settings_json(core_.settings());
        return json_response(req, status::ok, boost::json::serialize(out));
    }

    core& core_;
    hooks hooks_;
};

}  // namespace jobwatch::http

#endif
