// The randomized isolation test: five tenants and their users, job and run
// ids reused across tenants, forged events, every kind of principal, clients
// on WebSocket, SSE, long-poll and REST, subscribing before and after jobs
// exist, lagging and resuming. Seeded and reproducible.
//
// It checks that no client ever receives an event or a state it is not
// entitled to, that every client receives every event it is entitled to
// exactly once and in sequence order, and that the store equals the model.
#include "gateway/jwt_support.hpp"

#include <algorithm>
#include <atomic>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>

namespace jobwatch::test {
namespace {

struct who
{
    std::string token;
    std::optional<std::string> tenant;  // none: every tenant (an administrator)
    std::optional<std::string> user;
};

struct model_job
{
    std::string tenant, id, queue, run, user;
    std::string state = "queued";
    bool finished = false;
};

/// The rooms of a job as the server names them.
std::vector<std::string> rooms_of(model_job const& j)
{
    auto scoped = [&](std::string const& id) { return j.tenant.empty() ? id : j.tenant + "/" + id; };
    std::vector<std::string> out{"job:" + scoped(j.id), "queue:" + j.queue};
    if (!j.run.empty())
        out.push_back("run:" + scoped(j.run));
    if (!j.tenant.empty())
        out.push_back("tenant:" + j.tenant);
    if (!j.user.empty())
        out.push_back("user:" + scoped(j.user));
    return out;
}

/// May `w` receive the events of job `j`?
bool entitled(who const& w, model_job const& j)
{
    if (w.tenant && j.tenant != *w.tenant)
        return false;
    return !w.user || j.user == *w.user;
}

struct accepted
{
    std::uint64_t seq;
    std::size_t job;  // index into the model's jobs
    bool progress = false;
};

/// What one client received of one room.
struct room_log
{
    std::uint64_t start = 0;  // the position of its first `subscribed`
    bool subscribed = false;
    std::vector<std::uint64_t> seqs;
    std::vector<std::uint64_t> resumes;  // the `resume_from` of each `lagged`
};

/// What one client received, and what it should not have.
struct client_log
{
    who w;
    std::map<std::string, room_log> rooms;
    std::vector<std::string> violations;
    int lags = 0;

    /// Checks a job event's scope against the principal and records it.
    void event(std::string const& room, std::uint64_t seq, boost::json::object const& ev)
    {
        auto& r = rooms[room];
        if (!r.seqs.empty() && seq <= r.seqs.back())
            violations.push_back(room + ": seq " + std::to_string(seq) + " after " + std::to_string(r.seqs.back()));
        r.seqs.push_back(seq);
        auto const tenant = ev.contains("tenant_id") ? std::string(ev.at("tenant_id").as_string()) : std::string();
        auto const user = ev.contains("user_id") ? std::string(ev.at("user_id").as_string()) : std::string();
        if (w.tenant && tenant != *w.tenant)
            violations.push_back(room + ": an event of tenant \"" + tenant + "\"");
        if (w.user && user != *w.user)
            violations.push_back(room + ": an event of user \"" + user + "\"");
    }

    /// Checks a state (snapshot or summary) that arrived for `room`.
    void state(std::string const& room, boost::json::value const& snapshot)
    {
        if (snapshot.is_null())
            return;
        auto const& o = snapshot.as_object();
        if (o.at("kind") == "job_snapshot") {
            auto const tenant = o.contains("tenant_id") ? std::string(o.at("tenant_id").as_string()) : std::string();
            auto const user = o.contains("user_id") ? std::string(o.at("user_id").as_string()) : std::string();
            if ((w.tenant && tenant != *w.tenant) || (w.user && user != *w.user))
                violations.push_back(room + ": the snapshot of another's job");
        } else if (o.at("kind") == "summary" && o.at("scope").as_string() != room) {
            violations.push_back(room + ": a summary of " + std::string(o.at("scope").as_string()));
        }
    }
};

/// The model and the published stream.
struct scenario
{
    std::vector<model_job> jobs;
    std::vector<accepted> events;  // what the server accepted, with its seq
    std::map<std::string, std::size_t> by_key;  // tenant/id -> job

    /// The seqs `w` should receive in `room` after `start`.
    std::vector<std::uint64_t> expected(who const& w, std::string const& room, std::uint64_t start) const
    {
        std::vector<std::uint64_t> out;
        for (auto const& e : events) {
            auto const& j = jobs[e.job];
            if (e.seq <= start || !entitled(w, j))
                continue;
            auto const rs = rooms_of(j);
            if (std::find(rs.begin(), rs.end(), room) != rs.end())
                out.push_back(e.seq);
        }
        return out;
    }

    /** Of `want` (a room's expected seqs), those a client that received `got`
        misses without cause. The send queue's ladder may coalesce a
        `job.progress` into a newer one of the same job in the same room
        (documented): such an event is accounted for when that newer one
        arrived. Nothing else may be missing. */
    std::vector<std::uint64_t> unaccounted(std::vector<std::uint64_t> const& want,
                                           std::vector<std::uint64_t> const& got) const
    {
        std::set<std::uint64_t> const have(got.begin(), got.end());
        auto const at = [&](std::uint64_t seq) -> accepted const& {
            return *std::lower_bound(events.begin(), events.end(), seq,
                                     [](accepted const& e, std::uint64_t v) { return e.seq < v; });
        };
        std::vector<std::uint64_t> out;
        for (std::size_t i = 0; i < want.size(); ++i) {
            if (have.count(want[i]))
                continue;
            auto const& e = at(want[i]);
            bool superseded = false;
            for (std::size_t k = i + 1; e.progress && k < want.size() && !superseded; ++k) {
                auto const& later = at(want[k]);
                superseded = later.job == e.job && later.progress && have.count(want[k]);
            }
            if (!superseded)
                out.push_back(want[i]);
        }
        return out;
    }
};

/// Feeds one WebSocket message to `log`; resubscribes after `lagged`. Returns the room it was about.
void follow(ws_client& ws, client_log& log, boost::json::object const& m)
{
    auto const type = m.at("type").as_string();
    if (type == "event") {
        log.event(std::string(m.at("room").as_string()), static_cast<std::uint64_t>(m.at("seq").as_int64()),
                  m.at("event").as_object());
    } else if (type == "subscribed") {
        auto& r = log.rooms[std::string(m.at("room").as_string())];
        if (!r.subscribed) {
            r.subscribed = true;
            r.start = static_cast<std::uint64_t>(m.at("seq").as_int64());
        }
        log.state(std::string(m.at("room").as_string()), m.contains("snapshot") ? m.at("snapshot") : nullptr);
    } else if (type == "summary") {
        auto const room = std::string(m.at("room").as_string());
        if (!log.rooms.count(room))
            log.violations.push_back("a summary of " + room + ", not subscribed");
        log.state(room, m.at("summary"));
    } else if (type == "lagged") {
        ++log.lags;
        log.rooms[std::string(m.at("room").as_string())].resumes.push_back(
            static_cast<std::uint64_t>(m.at("resume_from").as_int64()));
        ws.send(boost::json::object{{"type", "subscribe"}, {"room", m.at("room")}, {"since", m.at("resume_from")}});
    } else if (type == "reset" || type == "error") {
        log.violations.push_back("unexpected " + boost::json::serialize(m));
    }
}

/// The randomized scenario; `jwt`: every principal presents a JWT (auth.mode jwt) instead of a static token.
void randomized_isolation(bool jwt)
{
    std::mt19937 rng{20261204};
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };

    std::vector<who> tenants;
    for (int t = 0; t < 5; ++t)
        tenants.push_back({"tok-t" + std::to_string(t), "t" + std::to_string(t), std::nullopt});
    who admin{"tok-admin", std::nullopt, std::nullopt};
    who alice{"tok-t0-u0", "t0", "u0"};
    who bob{"tok-t0-u1", "t0", "u1"};

    auto cfg = test_server::default_config();
    cfg.auth.mode = auth_mode::static_tokens;
    cfg.auth.tokens["tok-admin"] = principal{.subject = "admin", .scopes = {auth_scope::read, auth_scope::publish,
                                                                            auth_scope::admin}};
    for (auto const& t : tenants)
        cfg.auth.tokens[t.token] =
            principal{.subject = t.token, .tenant_id = t.tenant, .scopes = {auth_scope::read, auth_scope::publish}};
    for (auto const* u : {&alice, &bob})
        cfg.auth.tokens[u->token] = principal{
            .subject = u->token, .tenant_id = u->tenant, .user_id = u->user, .scopes = {auth_scope::read, auth_scope::publish}};
    cfg.event_log.history_per_room = 50'000;  // resumes never reset here: every event stays
    cfg.gateway.max_send_queue_messages = 64;  // clients that do not read lag, and resume
    // And soon: the kernel holds little for them. (Not a tiny client receive buffer: below the
    // loopback MSS the kernel drops segments and backs off its probes for tens of seconds.)
    cfg.gateway.socket_send_buffer_bytes = 32 * 1024;
    if (jwt) {
        std::map<std::string, std::string> minted;
        cfg = to_jwt_mode(std::move(cfg), minted);
        for (auto* w : {&admin, &alice, &bob})
            w->token = minted.at(w->token);
        for (auto& t : tenants)
            t.token = minted.at(t.token);
    }
    test_server srv(cfg);
    auto const port = srv.port();

    // --- the stream: 5 tenants x 340 jobs (ids reused across tenants) and 100 jobs of no tenant
    constexpr int jobs_per_tenant = 340;
    scenario sc;
    struct planned
    {
        std::size_t job;
        std::string type;
        bool omit_scope;
    };
    std::vector<std::vector<planned>> per_job;
    auto add_job = [&](std::string tenant, int i) {
        model_job j{tenant, "job-" + std::to_string(i), "q" + std::to_string(pick(3)),
                    pick(4) ? "run-" + std::to_string(pick(5)) : "", pick(3) ? "u" + std::to_string(pick(3)) : ""};
        sc.by_key[tenant + "/" + j.id] = sc.jobs.size();
        sc.jobs.push_back(j);
        std::vector<planned> evs{{sc.jobs.size() - 1, "job.queued", false},
                                 {sc.jobs.size() - 1, "job.started", pick(2) == 0}};
        for (int k = pick(8); k > 0; --k)
            evs.push_back({sc.jobs.size() - 1, pick(4) ? "job.progress" : "job.log", pick(2) == 0});
        static constexpr char const* ends[] = {"job.completed", "job.failed", "job.cancelled"};
        evs.push_back({sc.jobs.size() - 1, ends[pick(3)], pick(2) == 0});
        if (pick(4) == 0)
            evs.push_back({sc.jobs.size() - 1, "job.progress", true});  // after the end: ignored
        per_job.push_back(std::move(evs));
    };
    for (auto const& t : tenants)
        for (int i = 0; i < jobs_per_tenant; ++i)
            add_job(*t.tenant, i);
    for (int i = 0; i < 100; ++i)
        add_job("", 1000 + i);

    // --- clients that follow from the start (WebSocket, read only after the stream: they lag)
    struct ws_follower
    {
        std::unique_ptr<ws_client> ws;
        client_log log;
        int reconnects = 0;
    };
    std::vector<ws_follower> followers;
    // Subscribes `w` to `rooms`, resuming after `since` when given (replayed events come before `subscribed`).
    auto follower = [&](who const& w, std::vector<std::string> const& rooms, std::optional<std::uint64_t> since = {}) {
        ws_follower f{std::make_unique<ws_client>(port, "/ws?token=" + w.token),
                      client_log{w, {}, {}, 0}};
        f.ws->read();  // welcome
        for (auto const& room : rooms) {
            if (since) {
                f.log.rooms[room].subscribed = true;
                f.log.rooms[room].start = *since;
            }
            auto const m = f.ws->subscribe(room, since ? std::optional<std::int64_t>(*since) : std::nullopt);
            EXPECT_EQ(m.at("type"), "subscribed") << w.token << " " << room << " " << boost::json::serialize(m);
            for (auto const& early : f.ws->skipped)
                follow(*f.ws, f.log, early);
            f.ws->skipped.clear();
            follow(*f.ws, f.log, m);
        }
        followers.push_back(std::move(f));
    };
    for (auto const& t : tenants)
        follower(t, {"tenant:" + *t.tenant, "run:" + *t.tenant + "/run-1", "job:" + *t.tenant + "/job-7"});
    follower(admin, {"queue:q0", "run:run-2", "job:job-1003", "tenant:t2"});
    // Users: their own user room, and job rooms before the jobs exist (theirs or not).
    std::vector<std::string> alice_rooms{"user:t0/u0"}, bob_rooms{"user:t0/u1"};
    for (int i = 0; i < 40; ++i) {
        alice_rooms.push_back("job:t0/job-" + std::to_string(i));
        bob_rooms.push_back("job:t0/job-" + std::to_string(i));
    }
    follower(alice, alice_rooms);
    follower(bob, bob_rooms);

    // A tenant cannot even name another tenant's rooms.
    {
        ws_client probe(port, "/ws?token=" + tenants[1].token);
        probe.read();
        for (auto room : {"tenant:t0", "job:t0/job-7", "run:t0/run-1", "queue:q0", "alerts", "health", "user:t0/u0"})
            EXPECT_EQ(probe.subscribe(room).at("type"), "error") << room;
        ws_client user_probe(port, "/ws?token=" + alice.token);
        user_probe.read();
        for (auto room : {"user:t0/u1", "tenant:t0", "run:t0/run-1"})
            EXPECT_EQ(user_probe.subscribe(room).at("type"), "error") << room;
    }

    // --- clients that read as the stream flows: SSE (tenant t3) and long-poll (tenant t2, run run-1)
    std::mutex mu;
    std::atomic<bool> stop{false};
    client_log sse_log{tenants[3], {}, {}, 0};
    std::thread sse_thread([&] {
        std::string last_id;
        while (!stop) {
            try {
                // One room per stream: its Last-Event-ID is exact for that room (docs/protocol.md).
                sse_client sse(port, "/api/v1/stream?room=tenant:t3", last_id, tenants[3].token);
                sse.timeout = std::chrono::seconds{30};
                for (;;) {
                    auto r = sse.next();
                    std::lock_guard lock(mu);
                    if (r.event == "event") {
                        sse_log.event(std::string(r.data.at("room").as_string()),
                                      static_cast<std::uint64_t>(r.data.at("seq").as_int64()),
                                      r.data.at("event").as_object());
                        last_id = r.id;
                    } else if (r.event == "subscribed") {
                        auto& rl = sse_log.rooms[std::string(r.data.at("room").as_string())];
                        if (!rl.subscribed) {
                            rl.subscribed = true;
                            rl.start = static_cast<std::uint64_t>(r.data.at("seq").as_int64());
                        }
                        sse_log.state(std::string(r.data.at("room").as_string()),
                                      r.data.contains("snapshot") ? r.data.at("snapshot") : nullptr);
                    } else if (r.event == "lagged") {
                        ++sse_log.lags;
                        last_id = std::to_string(r.data.at("resume_from").as_int64());
                        break;  // reconnect from there
                    } else if (r.event == "summary") {
                        sse_log.state(std::string(r.data.at("room").as_string()), r.data.at("summary"));
                    } else if (r.event == "reset" || r.event == "error") {
                        sse_log.violations.push_back("unexpected SSE " + r.event);
                    }
                }
            } catch (std::exception const&) {
                // The server stopped, or a reconnect: loop until told to stop.
            }
        }
    });
    client_log poll_log{tenants[2], {}, {}, 0};
    std::thread poll_thread([&] {
        try {
            http_client h(port, std::chrono::seconds{30});
            std::optional<std::uint64_t> since;
            while (!stop) {
                std::string target = "/api/v1/poll?room=tenant:t2&room=run:t2/run-1&timeout_ms=300";
                if (since)
                    target += "&since=" + std::to_string(*since);
                auto const r = h.get(target, tenants[2].token);
                if (r.status != 200) {
                    std::lock_guard lock(mu);
                    poll_log.violations.push_back("poll " + std::to_string(r.status));
                    return;
                }
                auto const body = r.json().as_object();
                std::lock_guard lock(mu);
                for (auto const& mv : body.at("messages").as_array()) {
                    auto const& m = mv.as_object();
                    auto const type = m.at("type").as_string();
                    auto const room = std::string(m.at("room").as_string());
                    if (type == "event") {
                        poll_log.event(room, static_cast<std::uint64_t>(m.at("seq").as_int64()), m.at("event").as_object());
                    } else if (type == "subscribed") {
                        auto& rl = poll_log.rooms[room];
                        if (!rl.subscribed) {
                            rl.subscribed = true;
                            rl.start = static_cast<std::uint64_t>(m.at("seq").as_int64());
                        }
                        poll_log.state(room, m.contains("snapshot") ? m.at("snapshot") : nullptr);
                    } else {
                        poll_log.violations.push_back("unexpected poll message " + boost::json::serialize(m));
                    }
                }
                auto const next = static_cast<std::uint64_t>(body.at("seq").as_int64());
                if (since && next < *since)
                    poll_log.violations.push_back("the poll moved back");
                since = next;
            }
        } catch (std::exception const& e) {
            std::lock_guard lock(mu);
            if (!stop)
                poll_log.violations.push_back(std::string("poll failed: ") + e.what());
        }
    });
    // The threads stop and join whatever happens to the test.
    struct joiner
    {
        std::atomic<bool>& stop;
        std::thread& a;
        std::thread& b;
        test_server& srv;
        ~joiner()
        {
            stop = true;
            srv.stop();
            if (a.joinable())
                a.join();
            if (b.joinable())
                b.join();
        }
    } join_threads{stop, sse_thread, poll_thread, srv};

    // The long-poll client's first answer fixes its start; wait for it.
    for (int i = 0; i < 200; ++i) {
        {
            std::lock_guard lock(mu);
            if (poll_log.rooms.size() == 2 && sse_log.rooms.size() == 1)
                break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds{10});
    }

    // --- publish, interleaving the jobs; forged events on the way
    http_client pub(port, std::chrono::seconds{30});
    std::vector<std::size_t> next(per_job.size(), 0);
    std::size_t left = 0;
    for (auto const& evs : per_job)
        left += evs.size();
    std::size_t forged = 0, ignored = 0;
    while (left > 0) {
        auto const k = static_cast<std::size_t>(pick(static_cast<int>(per_job.size())));
        if (next[k] == per_job[k].size())
            continue;
        auto const& p = per_job[k][next[k]++];
        --left;
        auto& j = sc.jobs[p.job];
        // Who publishes: the tenant's principal, a job's own user sometimes, the administrator for no tenant.
        who const* by = &admin;
        if (!j.tenant.empty())
            by = &tenants[static_cast<std::size_t>(j.tenant[1] - '0')];
        if (j.tenant == "t0" && j.user == "u0" && pick(2))
            by = &alice;
        std::string extra;
        if (!p.omit_scope || p.type == "job.queued") {
            if (!j.tenant.empty())
                extra += R"("tenant_id":")" + j.tenant + "\",";
            if (!j.run.empty())
                extra += R"("run_id":")" + j.run + "\",";
            if (!j.user.empty())
                extra += R"("user_id":")" + j.user + "\",";
        }
        if (p.type == "job.started")
            extra += R"("attempt":1,)";
        else if (p.type == "job.progress")
            extra += R"("percent":)" + std::to_string(pick(100)) + ",";
        else if (p.type == "job.log")
            // Long lines (4 KiB): the followers' sockets fill up, and they lag.
            extra += R"("level":"info","message":")" + std::string(4096, 'l') + "\",";
        else if (p.type == "job.failed")
            extra += R"("attempt":1,"error":"boom","will_retry":false,)";
        if (!extra.empty())
            extra.pop_back();
        auto const r = pub.post("/api/v1/events", event_json(p.type, j.id, j.queue, extra), "application/json",
                                by->token);
        auto const body = r.json();
        if (r.status == 202) {
            sc.events.push_back({static_cast<std::uint64_t>(body.at("seq").as_int64()), p.job, p.type == "job.progress"});
            if (p.type != "job.started" && p.type != "job.progress" && p.type != "job.log" && p.type != "job.queued") {
                j.finished = true;
                j.state = p.type == "job.completed" ? "succeeded" : p.type == "job.failed" ? "failed" : "cancelled";
            } else if (p.type != "job.queued") {
                j.state = "running";
            }
        } else {
            ASSERT_EQ(r.status, 200u) << boost::json::serialize(body);
            ASSERT_EQ(body.at("status"), "ignored") << boost::json::serialize(body);
            EXPECT_TRUE(j.finished);
            ++ignored;
        }
        // Now and then a forgery: another tenant's principal names this job's tenant, or a user another's job.
        if (pick(20) == 0 && !j.tenant.empty()) {
            auto const& other = tenants[(static_cast<std::size_t>(j.tenant[1] - '0') + 1) % tenants.size()];
            auto const f = pub.post("/api/v1/events",
                                    event_json("job.cancelled", j.id, j.queue, R"("tenant_id":")" + j.tenant + "\""),
                                    "application/json", other.token);
            EXPECT_EQ(f.status, 403u);
            ++forged;
        }
        if (pick(20) == 0 && j.tenant == "t0" && !j.user.empty() && j.user != "u1" && !j.finished) {
            auto const f = pub.post("/api/v1/events", event_json("job.cancelled", j.id, j.queue), "application/json",
                                    bob.token);
            EXPECT_EQ(f.status, 403u) << j.id << " of " << j.user;
            ++forged;
        }
    }
    EXPECT_GE(sc.events.size(), 10'000u);
    EXPECT_GT(forged, 50u);
    EXPECT_GT(ignored, 50u);

    // --- resumes from here on replay more than a queue of 64 takes at once,
    // which would be answered `reset` ("too_far_behind"): give the queues
    // room, at runtime, as an operator would.
    {
        http_client h(port);
        ASSERT_EQ(h.post("/api/v1/monitor/config",
                         R"({"gateway":{"max_send_queue_messages":100000,"max_send_queue_bytes":268435456}})",
                         "application/json", admin.token)
                      .status,
                  200u);
    }
    // --- clients that join after the jobs exist: resume from 0, and from the middle
    follower(tenants[4], {"job:t4/job-3", "job:t4/job-100", "tenant:t4"}, 0);
    follower(tenants[0], {"run:t0/run-3", "tenant:t0"}, sc.events[sc.events.size() / 2].seq);
    // A user resumes its own jobs; another user's job of its tenant is not found.
    std::vector<std::string> alice_late{"user:t0/u0"};
    std::string not_hers;
    for (auto const& j : sc.jobs) {
        if (j.tenant != "t0")
            continue;
        if (j.user == "u0" && alice_late.size() < 4)
            alice_late.push_back("job:t0/" + j.id);
        else if (j.user != "u0" && not_hers.empty())
            not_hers = "job:t0/" + j.id;
    }
    ASSERT_EQ(alice_late.size(), 4u);
    ASSERT_FALSE(not_hers.empty());
    follower(alice, alice_late, 0);
    {
        ws_client probe(port, "/ws?token=" + alice.token);
        probe.read();
        auto const refused = probe.subscribe(not_hers, 0);
        EXPECT_EQ(refused.at("type"), "error") << not_hers;
        EXPECT_TRUE(probe.skipped.empty()) << "nothing of " << not_hers << " is replayed to another user";
    }

    // --- the WebSocket followers read everything now (most of them lagged on the way)
    // How many events each client's room should get, and its last (computed once: the model is large).
    std::map<std::pair<std::string, std::string>, std::pair<std::size_t, std::uint64_t>> want_last;
    auto want_of = [&](client_log const& log, std::string const& room, std::uint64_t start) {
        auto const key = std::make_pair(log.w.token + "@" + std::to_string(start), room);
        auto it = want_last.find(key);
        if (it == want_last.end()) {
            auto const w = sc.expected(log.w, room, start);
            it = want_last.emplace(key, std::make_pair(w.size(), w.empty() ? 0 : w.back())).first;
        }
        return it->second;
    };
    // Done with a room once it has every event, or the last one (coalesced progress may be missing).
    auto done = [&](client_log const& log) {
        for (auto const& [room, r] : log.rooms) {
            auto const [count, last] = want_of(log, room, r.start);
            if (r.seqs.size() < count && (r.seqs.empty() || r.seqs.back() < last))
                return false;
        }
        return true;
    };
    // The ladder closes (1008) a client that lags again before it has read its last
    // notice (docs/protocol.md): it reconnects, as a client should, and resumes each
    // room after the last event it got. That, too, must lose and repeat nothing.
    auto reconnect = [&](ws_follower& f) {
        f.ws = std::make_unique<ws_client>(port, "/ws?token=" + f.log.w.token);
        f.ws->read();  // welcome
        for (auto& [room, r] : f.log.rooms) {
            auto const since = r.seqs.empty() ? r.start : std::max(r.start, r.seqs.back());
            auto const m = f.ws->subscribe(room, static_cast<std::int64_t>(since));
            EXPECT_EQ(m.at("type"), "subscribed") << f.log.w.token << " " << room << " " << boost::json::serialize(m);
            for (auto const& early : f.ws->skipped)
                follow(*f.ws, f.log, early);
            f.ws->skipped.clear();
            follow(*f.ws, f.log, m);
        }
    };
    for (auto& f : followers) {
        try {
            for (int guard = 0; !done(f.log) && guard < 1'000'000; ++guard) {
                boost::json::object m;
                try {
                    m = f.ws->read();
                } catch (boost::system::system_error const& e) {
                    if (e.code() != websocket::error::closed ||
                        f.ws->stream().reason().code != websocket::close_code::policy_error || ++f.reconnects > 3)
                        throw;
                    reconnect(f);
                    continue;
                }
                follow(*f.ws, f.log, m);
            }
        } catch (std::exception const& e) {
            for (auto const& [room, r] : f.log.rooms) {
                // Say where the stream broke off: what is missing, what came last, where it resumed.
                auto const want = sc.expected(f.log.w, room, r.start);
                std::string missing, resumes;
                auto const gone = sc.unaccounted(want, r.seqs);
                for (std::size_t i = 0; i < gone.size() && i < 5; ++i)
                    missing += " " + std::to_string(gone[i]);
                for (auto x : r.resumes)
                    resumes += " " + std::to_string(x);
                ADD_FAILURE() << f.log.w.token << " " << room << ": got " << r.seqs.size() << " of " << want.size()
                              << " (" << e.what() << "); first missing:" << missing
                              << "; last got: " << (r.seqs.empty() ? 0 : r.seqs.back()) << "; resumed from:" << resumes;
            }
        }
    }
    for (int i = 0; i < 3000; ++i) {
        {
            std::lock_guard lock(mu);
            if (done(sse_log) && done(poll_log))
                break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds{10});
    }
    stop = true;

    // --- what every client received is exactly what it was entitled to
    int lags = 0;
    auto check = [&](client_log const& log, std::string const& name) {
        for (auto const& v : log.violations)
            ADD_FAILURE() << name << ": " << v;
        for (auto const& [room, r] : log.rooms) {
            EXPECT_TRUE(r.subscribed) << name << " " << room;
            // Nothing it was not entitled to (in this room), nothing missing without cause.
            auto const want = sc.expected(log.w, room, r.start);
            std::vector<std::uint64_t> extra;
            std::set_difference(r.seqs.begin(), r.seqs.end(), want.begin(), want.end(), std::back_inserter(extra));
            EXPECT_EQ(extra, std::vector<std::uint64_t>{}) << name << " " << room;
            EXPECT_EQ(sc.unaccounted(want, r.seqs), std::vector<std::uint64_t>{}) << name << " " << room;
        }
        lags += log.lags;
    };
    for (auto const& f : followers)
        check(f.log, f.log.w.token);
    {
        std::lock_guard lock(mu);
        check(sse_log, "sse");
        check(poll_log, "long-poll");
    }
    EXPECT_GT(lags, 0) << "some client should have lagged and resumed";
    // A user's job room of another user's job delivered nothing.
    for (auto const& f : followers) {
        if (f.log.w.user != "u1")
            continue;
        for (auto const& [room, r] : f.log.rooms) {
            if (!room.starts_with("job:"))
                continue;
            for (auto s : r.seqs)
                for (auto const& e : sc.events) {
                    if (e.seq == s) {
                        EXPECT_EQ(sc.jobs[e.job].user, "u1") << room;
                    }
                }
        }
    }

    // --- REST: each principal sees its own jobs only; the store equals the model
    http_client rest(port, std::chrono::seconds{30});
    for (auto const& t : tenants) {
        std::size_t seen = 0;
        for (std::size_t offset = 0;; offset += 100) {
            auto const resp = rest.get("/api/v1/jobs?limit=100&offset=" + std::to_string(offset), t.token);
            ASSERT_EQ(resp.status, 200u) << resp.body;
            auto const page = resp.json().as_object();
            for (auto const& item : page.at("items").as_array()) {
                EXPECT_EQ(item.at("tenant_id").as_string(), *t.tenant);
                ++seen;
            }
            if (page.at("items").as_array().size() < 100)
                break;
        }
        EXPECT_EQ(seen, static_cast<std::size_t>(jobs_per_tenant)) << *t.tenant;
        // The same id names the principal's own job, whoever else has one.
        auto const mine = rest.get("/api/v1/jobs/job-7", t.token);
        ASSERT_EQ(mine.status, 200u);
        EXPECT_EQ(mine.json().at("tenant_id").as_string(), *t.tenant);
    }
    auto const alice_jobs = rest.get("/api/v1/jobs?limit=100", alice.token);
    ASSERT_EQ(alice_jobs.status, 200u) << alice_jobs.body;
    auto const alice_page = alice_jobs.json();
    for (auto const& item : alice_page.at("items").as_array())
        EXPECT_EQ(item.at("user_id"), "u0");
    for (auto const& j : sc.jobs) {
        auto const target = "/api/v1/jobs/" + j.id + (j.tenant.empty() ? "" : "?tenant_id=" + j.tenant);
        auto const r = rest.get(target, admin.token);
        ASSERT_EQ(r.status, 200u) << target;
        EXPECT_EQ(r.json().at("state").as_string(), j.state) << target;
    }
}

TEST(IsolationTest, RandomizedTenantsUsersTransportsLagAndResume)
{
    randomized_isolation(false);
}

TEST(IsolationTest, RandomizedTenantsUsersTransportsLagAndResumeInJwtMode)
{
    randomized_isolation(true);
}

}  // namespace
}  // namespace jobwatch::test
