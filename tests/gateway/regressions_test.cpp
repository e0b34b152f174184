// One test per bug of the isolation issue, end to end: each failed on the
// gateway as it was (the issue's numbers are in the test names' comments).
#include "gateway/gateway_support.hpp"

#include <demo/workload.hpp>

namespace jobwatch::test {
namespace {

config tenants_config()
{
    auto c = test_server::default_config();
    c.auth.mode = auth_mode::static_tokens;
    c.auth.tokens["admin"] = principal{.subject = "ops", .scopes = {auth_scope::read, auth_scope::publish, auth_scope::admin}};
    for (auto t : {"a", "b", "c", "evil"})
        c.auth.tokens[t] = principal{.subject = std::string("app-") + t,
                                     .tenant_id = std::string(t),
                                     .scopes = {auth_scope::read, auth_scope::publish}};
    return c;
}

// 1: a tenant cannot write to another tenant's job, nor reach its rooms.
TEST(RegressionTest, AForgedTenantCancelsNothingAndReachesNoRoom)
{
    test_server srv(tenants_config());
    http_client h(srv.port());
    ASSERT_EQ(h.post("/api/v1/events", event_json("job.queued", "j1", "q", R"("run_id":"r")"), "application/json", "a")
                  .status,
              202u);
    ws_client watcher(srv.port(), "/ws?token=a");
    watcher.read();
    watcher.subscribe("job:a/j1");
    watcher.subscribe("run:a/r");
    auto const forged = h.post("/api/v1/events", event_json("job.cancelled", "j1", "q", R"("tenant_id":"a")"),
                               "application/json", "evil");
    EXPECT_EQ(forged.status, 403u);
    EXPECT_EQ(forged.json().at("pointer"), "/tenant_id");
    // Its own "j1" is another job.
    EXPECT_EQ(h.post("/api/v1/events", event_json("job.cancelled", "j1", "q"), "application/json", "evil").status, 202u);
    EXPECT_EQ(h.get("/api/v1/jobs/j1", "a").json().at("state"), "queued");
    EXPECT_EQ(h.get("/api/v1/jobs/j1", "evil").json().at("state"), "cancelled");
    // a's rooms heard nothing: the next thing they get is a's own event.
    h.post("/api/v1/events", event_json("job.started", "j1", "q", R"("attempt":1)"), "application/json", "a");
    auto const next = watcher.read_until("event");
    EXPECT_EQ(next.at("event").at("type"), "job.started");
    EXPECT_EQ(next.at("event").at("tenant_id"), "a");
}

// 2: events that omit their scope reach the job's run, tenant and user rooms.
TEST(RegressionTest, EventsWithoutScopeFieldsReachTheScopeRooms)
{
    test_server srv;
    http_client h(srv.port());
    auto ws = ws_client::open(srv.port());
    ws.subscribe("run:a/r");
    ws.subscribe("tenant:a");
    h.post("/api/v1/events", event_json("job.queued", "j", "q", R"("run_id":"r","tenant_id":"a","user_id":"u")"));
    h.post("/api/v1/events", event_json("job.started", "j", "q", R"("attempt":1)"));
    h.post("/api/v1/events", event_json("job.progress", "j", "q", R"("percent":50)"));
    h.post("/api/v1/events", event_json("job.cancelled", "j", "q"));
    std::map<std::string, std::vector<std::string>> got;
    for (int i = 0; i < 8; ++i) {
        auto const m = ws.read_until("event");
        got[std::string(m.at("room").as_string())].emplace_back(m.at("event").at("type").as_string());
    }
    std::vector<std::string> const all{"job.queued", "job.started", "job.progress", "job.cancelled"};
    EXPECT_EQ(got["run:a/r"], all);
    EXPECT_EQ(got["tenant:a"], all);
}

// 3: events the store ignored are not broadcast.
TEST(RegressionTest, IgnoredEventsAreNotBroadcast)
{
    test_server srv;
    http_client h(srv.port());
    auto ws = ws_client::open(srv.port());
    ws.subscribe("job:j");
    h.post("/api/v1/events", event_json("job.queued", "j", "q"));
    h.post("/api/v1/events", event_json("job.cancelled", "j", "q"));
    auto const late = h.post("/api/v1/events", event_json("job.started", "j", "q", R"("attempt":2)"));
    EXPECT_EQ(late.status, 200u);
    EXPECT_EQ(late.json().at("status"), "ignored");
    h.post("/api/v1/events", event_json("job.progress", "j", "q", R"("percent":5)"));
    h.post("/api/v1/events", event_json("job.queued", "marker", "q"));
    EXPECT_EQ(ws.read_until("event").at("event").at("type"), "job.queued");
    EXPECT_EQ(ws.read_until("event").at("event").at("type"), "job.cancelled");
    ws.subscribe("job:marker", 0);
    for (auto const& m : ws.skipped) {
        if (m.at("type") == "event") {
            EXPECT_EQ(m.at("event").at("job_id"), "marker") << boost::json::serialize(m);
        }
    }
    EXPECT_EQ(monitor(srv.port()).at("ingest").at("ignored"), 2);
}

// 4 and 12: run and job ids reused across tenants are separate; a job room may be subscribed before the job exists.
TEST(RegressionTest, ReusedIdsAcrossTenantsNeverMix)
{
    test_server srv(tenants_config());
    http_client h(srv.port());
    ws_client b(srv.port(), "/ws?token=b");
    b.read();
    EXPECT_EQ(b.subscribe("job:b/job-565").at("type"), "subscribed") << "before the job exists";
    EXPECT_EQ(b.subscribe("run:b/nightly").at("type"), "subscribed");
    // a uses the ids first; c too.
    h.post("/api/v1/events", event_json("job.queued", "job-565", "q", R"("run_id":"nightly")"), "application/json", "a");
    h.post("/api/v1/events", event_json("job.queued", "job-565", "q", R"("run_id":"nightly")"), "application/json", "c");
    h.post("/api/v1/events", event_json("job.queued", "job-565", "q", R"("run_id":"nightly")"), "application/json", "b");
    auto const first = b.read_until("event");
    EXPECT_EQ(first.at("event").at("tenant_id"), "b");
    EXPECT_EQ(b.read_until("event").at("event").at("tenant_id"), "b");
    // Each tenant's run summary and job are its own.
    EXPECT_EQ(h.get("/api/v1/runs/nightly/summary", "b").status, 200u);
    EXPECT_EQ(h.get("/api/v1/runs/nightly/summary", "b").json().at("counts").at("total"), 1);
    EXPECT_EQ(h.get("/api/v1/jobs/job-565", "c").json().at("tenant_id"), "c");
    // An administrator names the tenant; without it, several tenants have the id: 409.
    EXPECT_EQ(h.get("/api/v1/jobs/job-565?tenant_id=a", "admin").json().at("tenant_id"), "a");
    EXPECT_EQ(h.get("/api/v1/jobs/job-565", "admin").status, 409u);
    // Producer ids are per tenant: a cannot make b's events be dropped.
    EXPECT_EQ(h.post("/api/v1/events", event_json("job.started", "job-565", "q", R"("attempt":1,"id":"e-1")"),
                     "application/json", "a")
                  .status,
              202u);
    EXPECT_EQ(h.post("/api/v1/events", event_json("job.started", "job-565", "q", R"("attempt":1,"id":"e-1")"),
                     "application/json", "b")
                  .status,
              202u);
}

// 5: a lagged client resumes with each missed event once, then the state.
TEST(RegressionTest, ResumeAfterLagIsExact)
{
    auto cfg = test_server::default_config();
    cfg.gateway.max_send_queue_messages = 16;
    cfg.event_log.history_per_room = 10'000;  // every event stays: the resume must not reset
    cfg.gateway.socket_send_buffer_bytes = 32 * 1024;  // the kernel holds little of it
    test_server srv(cfg);
    http_client h(srv.port());
    raw_client slow(srv.port());
    slow.upgrade();
    slow.send_text(R"({"type":"subscribe","room":"queue:lag"})");
    slow.read_for(std::chrono::milliseconds{200});
    // Far more than the queue and the socket buffers hold, while the client reads nothing.
    std::string body;
    for (int i = 0; i < 3000; ++i)
        body += event_json("job.log", "l" + std::to_string(i % 20), "lag",
                           R"("level":"info","message":")" + std::string(200, 'x') + "\"") + "\n";
    auto const r = h.post("/api/v1/events", body, "application/x-ndjson");
    ASSERT_EQ(r.status, 200u);
    EXPECT_EQ(r.json().at("accepted"), 3000);
    auto const m = monitor(srv.port());
    EXPECT_GE(m.at("counters").at("lagged").as_int64(), 1);
    // What the slow client got, as frames; find its lagged notice.
    std::string got = slow.read_for(std::chrono::milliseconds{1500});
    auto const at = got.find(R"("type":"lagged")");
    ASSERT_NE(at, std::string::npos);
    auto const rf = got.find("\"resume_from\":", at);
    auto const resume_from = std::stoll(got.substr(rf + 14));
    EXPECT_GE(resume_from, 0);
    ASSERT_LT(resume_from, 3000 - 8) << "the client lost events";
    // More missed events than a send queue of 16 takes: resuming would only
    // lag again, so the answer is a reset to the current position and the state.
    {
        auto small = ws_client::open(srv.port());
        small.send(boost::json::serialize(
            boost::json::object{{"type", "subscribe"}, {"room", "queue:lag"}, {"since", resume_from}}));
        auto const reset = small.read_until("reset");
        EXPECT_EQ(reset.at("reason"), "too_far_behind");
        EXPECT_EQ(reset.at("seq"), 3000);
        auto const sub = small.read_until("subscribed");
        EXPECT_TRUE(sub.at("snapshot").is_object());
        for (auto const& m : small.skipped)
            EXPECT_NE(m.at("type"), "event") << "no partial replay";
    }
    // With a queue that holds them (a runtime setting), a resume gives the rest, once.
    ASSERT_EQ(h.post("/api/v1/monitor/config",
                     R"({"gateway":{"max_send_queue_messages":10000,"max_send_queue_bytes":16777216}})")
                  .status,
              200u);
    auto ws = ws_client::open(srv.port());
    auto const sub = ws.subscribe("queue:lag", resume_from);
    EXPECT_EQ(sub.at("type"), "subscribed");
    EXPECT_TRUE(sub.at("snapshot").is_object()) << "the state comes after the missed events";
    std::int64_t expect = resume_from + 1;
    for (auto const& e : ws.skipped) {
        ASSERT_EQ(e.at("type"), "event");
        EXPECT_EQ(e.at("seq").as_int64(), expect++);
    }
    EXPECT_EQ(expect - 1, sub.at("seq").as_int64());
    EXPECT_EQ(sub.at("seq"), 3000);
}

// 6: a long-poll of a room evicted from the history moves forward instead of spinning.
TEST(RegressionTest, LongPollOfAnEvictedRoomDoesNotSpin)
{
    auto cfg = test_server::default_config();
    cfg.event_log.max_rooms = 10;
    test_server srv(cfg);
    http_client h(srv.port());
    h.post("/api/v1/events", event_json("job.queued", "quiet", "q0"));
    for (int i = 0; i < 30; ++i)  // new rooms push job:quiet out
        h.post("/api/v1/events", event_json("job.queued", "busy" + std::to_string(i), "q" + std::to_string(i)));
    auto const first = h.get("/api/v1/poll?room=job:quiet&since=0&timeout_ms=200").json();
    auto const& msgs = first.at("messages").as_array();
    ASSERT_FALSE(msgs.empty());
    EXPECT_EQ(msgs.at(0).at("type"), "reset");
    auto const next = first.at("seq").as_int64();
    EXPECT_GT(next, 0) << "the reset moves the client forward";
    auto const t0 = std::chrono::steady_clock::now();
    auto const again = h.get("/api/v1/poll?room=job:quiet&since=" + std::to_string(next) + "&timeout_ms=300").json();
    EXPECT_TRUE(again.at("messages").as_array().empty());
    EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds{250}) << "it waited: no spin";
}

// 7: what a component was given in code is the setting; a runtime change wins.
TEST(RegressionTest, RuntimeSettingsApplyToComponentsConfiguredInCode)
{
    auto cfg = test_server::default_config();
    app a(cfg, app::options{.log = {}, .drain_timeout = std::chrono::seconds{5}, .handle_signals = false});
    a.add<aggregator>();
    a.add<dlq_monitor>({.threshold = 10, .window = std::chrono::seconds{60}});
    a.add<health>();
    auto& gw = a.add<gateway>({.port = 0});
    std::thread t([&] { a.run(); });
    struct guard
    {
        app& a;
        std::thread& t;
        ~guard()
        {
            a.stop();
            t.join();
        }
    } g{a, t};
    http_client h(gw.port());
    auto const shown = h.get("/api/v1/monitor/config").json();
    EXPECT_EQ(shown.at("settings").at("dlq").at("window_ms"), 60000);
    EXPECT_EQ(shown.at("settings").at("dlq").at("threshold"), 10);
    ASSERT_EQ(h.post("/api/v1/monitor/config", R"({"dlq":{"window_ms":300000,"threshold":3}})").status, 200u);
    // The monitor works with the new values: a queue's failure statistics
    // show them, and three failures (not ten) fire the queue's alert.
    for (int i = 0; i < 3; ++i) {
        auto const id = "f" + std::to_string(i);
        ASSERT_EQ(h.post("/api/v1/events", event_json("job.queued", id, "rt")).status, 202u);
        ASSERT_EQ(h.post("/api/v1/events",
                         event_json("job.failed", id, "rt", R"("error":"boom","attempt":1,"will_retry":false)"))
                      .status,
                  202u);
    }
    auto const stats = h.get("/api/v1/jobs/failed/stats").json();
    auto const& queues = stats.at("queues").as_array();
    ASSERT_EQ(queues.size(), 1u) << boost::json::serialize(stats);
    EXPECT_EQ(queues.at(0).at("threshold"), 3) << boost::json::serialize(stats);
    EXPECT_EQ(queues.at(0).at("window_ms"), 300000) << boost::json::serialize(stats);
    EXPECT_EQ(queues.at(0).at("firing"), true) << boost::json::serialize(stats);
}

// 8: the demo's alert fires and resolves, with the demo's own settings.
TEST(RegressionTest, TheDemoAlertFiresAndResolves)
{
    // The demo's workload and dead-letter settings (examples/demo/main.cpp),
    // on a simulated clock: ten minutes, a tick at a time.
    asio::io_context io;
    std::int64_t now_ms = 1'714'564'800'000;
    core c{io.get_executor(), config{}, logger{.lvl = logger::level::error},
           [&] { return time_point{std::chrono::milliseconds{now_ms}}; }};
    demo::workload::config const w;
    demo::workload load{c, w};
    dlq_core dlq{[&] {
        auto d = dlq_core::config::from(config{}.dlq);
        d.threshold = 10;
        d.window = std::chrono::seconds{60};
        return d;
    }()};
    std::map<std::string, std::vector<std::string>> by_queue;  // alert statuses per queue
    auto note = [&](std::vector<alert> const& alerts) {
        for (auto const& a : alerts)
            if (a.kind == alert_kind::failure_rate)
                by_queue[*a.context.queue].emplace_back(to_string(a.status));
    };
    c.on_change([&](job_change const& ch) { note(dlq.on_change(ch, c.now())); });
    for (int i = 0; i < 10 * 60 * 5; ++i) {
        load.step();
        now_ms += w.tick.count();
        note(dlq.tick(c.now()));
    }
    ASSERT_EQ(by_queue.size(), 1u) << "only the burst's queue fires";
    auto const& payments = by_queue["payments"];
    ASSERT_GE(payments.size(), 4u);
    for (std::size_t i = 0; i < payments.size(); ++i)
        EXPECT_EQ(payments[i], i % 2 ? "resolved" : "firing");
}

// 13: a ping flood that reads no pong is closed; the server stays well.
TEST(RegressionTest, APingFloodIsBoundedAndClosed)
{
    auto cfg = test_server::default_config();
    cfg.gateway.max_send_queue_messages = 64;
    test_server srv(cfg);
    raw_client flood(srv.port(), 4096);
    flood.upgrade();
    std::string pings;
    char const mask[4] = {1, 2, 3, 4};
    for (int i = 0; i < 2000; ++i) {
        pings.push_back(static_cast<char>(0x89));
        pings.push_back(static_cast<char>(0x80 | 100));
        pings.append(mask, 4);
        pings.append(std::string(100, 'p'));
    }
    try {
        for (int i = 0; i < 50; ++i)
            flood.write(pings);
    } catch (std::exception const&) {
        // The server closed it.
    }
    auto m = monitor(srv.port());
    EXPECT_GE(m.at("counters").at("overflow_closes").as_int64(), 1);
    EXPECT_LT(m.at("queued_bytes").as_int64(), 1 << 20);
    // The close frame cannot reach a client that reads nothing: the
    // connection goes at the close deadline (5 s), not later.
    auto const deadline = std::chrono::steady_clock::now() + std::chrono::seconds{10};
    while (m.at("websocket") != 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds{100});
        m = monitor(srv.port());
    }
    EXPECT_EQ(m.at("websocket"), 0);
}

// 14: a transfer coding other than chunked is refused and the connection closed.
TEST(RegressionTest, AmbiguousFramingIsRefusedAndClosed)
{
    test_server srv;
    for (auto te : {"gzip", "identity", "chunked, identity"}) {
        raw_client c(srv.port());
        c.write(std::string("POST /api/v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                            "Transfer-Encoding: ") +
                te + "\r\n\r\nGET /api/v1/jobs HTTP/1.1\r\nHost: x\r\n\r\n");
        auto const got = c.read_to_close(std::chrono::seconds{5});
        EXPECT_TRUE(got.starts_with("HTTP/1.1 400")) << te << ": " << got;
        EXPECT_EQ(got.find("HTTP/1.1 200"), std::string::npos) << "the smuggled request was not served";
    }
}

// 15: runtime settings stay sane; bad bytes and numbers get clean answers; refusals are logged.
TEST(RegressionTest, SmallerThingsAnswerCleanly)
{
    auto cfg = tenants_config();
    test_server srv(cfg);
    http_client h(srv.port());
    auto const hb = h.post("/api/v1/monitor/config", R"({"gateway":{"heartbeat_ms":50}})", "application/json", "admin");
    EXPECT_EQ(hb.status, 400u);
    EXPECT_EQ(hb.json().at("pointer"), "/gateway/heartbeat_ms");
    auto const bad = h.get("/api/v1/jobs/%ff%fe", "admin");
    EXPECT_EQ(bad.status, 404u);
    EXPECT_NO_THROW((void)bad.json()) << "valid JSON, whatever the path's bytes";
    EXPECT_EQ(h.get("/api/v1/jobs?offset=18446744073709551615", "admin").status, 400u);
    EXPECT_EQ(h.get("/api/v1/jobs", "not-a-token").status, 401u);
    bool logged = false;
    for (int i = 0; i < 100 && !logged; ++i) {
        for (auto const& line : srv.log_lines()) {
            EXPECT_EQ(line.find("not-a-token"), std::string::npos) << "a token in the log";
            logged = logged || line.find("authentication refused") != std::string::npos;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds{10});
    }
    EXPECT_TRUE(logged);
}

// Passwords in Redis URLs are never echoed by GET /api/v1/monitor/config.
TEST(RegressionTest, SettingsNeverEchoAPasswordInAUrl)
{
    auto cfg = tenants_config();
    cfg.bullmq.redis_url = "redis://:hunter2-bull@127.0.0.1:6379/0";
    cfg.redis.url = "rediss://worker:hunter2-bridge@redis.example:6380/1";
    test_server srv(cfg);
    http_client h(srv.port());
    auto const got = h.get("/api/v1/monitor/config", "admin");
    ASSERT_EQ(got.status, 200u) << got.body;
    EXPECT_EQ(got.body.find("hunter2"), std::string::npos) << got.body;
    auto const settings = got.json().at("settings");
    EXPECT_EQ(settings.at("bullmq").at("redis_url"), "redis://(redacted)@127.0.0.1:6379/0");
    EXPECT_EQ(settings.at("redis").at("url"), "rediss://(redacted)@redis.example:6380/1");
    EXPECT_EQ(settings.at("cluster").at("redis_url"), "redis://127.0.0.1:6379/0") << "no credentials: as set";
}

// log.format json: every line is one JSON object; a refused token is named by no line.
TEST(RegressionTest, JsonLogLinesNeverHoldTheToken)
{
    auto cfg = tenants_config();
    cfg.log.format = log_format::json;
    test_server srv(cfg);
    http_client h(srv.port());
    EXPECT_EQ(h.get("/api/v1/jobs", "sekrit-not-a-token").status, 401u);
    bool logged = false;
    for (int i = 0; i < 200 && !logged; ++i) {
        for (auto const& line : srv.log_lines()) {
            EXPECT_EQ(line.find("sekrit"), std::string::npos) << "a token in the log: " << line;
            auto const v = boost::json::parse(line).as_object();
            EXPECT_TRUE(v.contains("ts") && v.contains("level") && v.contains("component") && v.contains("msg"))
                << line;
            logged = logged || (v.at("component") == "auth" && v.at("level") == "warn" &&
                                v.at("msg").as_string().starts_with("authentication refused"));
        }
        if (!logged)
            std::this_thread::sleep_for(std::chrono::milliseconds{10});
    }
    EXPECT_TRUE(logged);
}

}  // namespace
}  // namespace jobwatch::test
