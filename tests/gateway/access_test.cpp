// Access: static tokens and JWTs, scopes and tenant isolation on every path.
#include "gateway/jwt_support.hpp"

namespace jobwatch::test {
namespace {

config token_config()
{
    auto c = test_server::default_config();
    c.auth.mode = auth_mode::static_tokens;
    c.auth.tokens["admin-t"] = principal{.subject = "ops", .tenant_id = std::nullopt,
                                         .scopes = {auth_scope::read, auth_scope::publish, auth_scope::admin}};
    c.auth.tokens["acme-t"] = principal{.subject = "acme-app", .tenant_id = "acme",
                                        .scopes = {auth_scope::read, auth_scope::publish}};
    c.auth.tokens["globex-t"] = principal{.subject = "globex-app", .tenant_id = "globex",
                                          .scopes = {auth_scope::read}};
    c.auth.tokens["reader-t"] = principal{.subject = "viewer", .tenant_id = std::nullopt, .scopes = {auth_scope::read}};
    return c;
}

/// Every test below runs with static tokens, and again with JWTs that stand for the same principals.
class AccessTest : public ::testing::TestWithParam<auth_mode>
{
protected:
    config cfg()
    {
        auto c = token_config();
        return GetParam() == auth_mode::jwt ? to_jwt_mode(std::move(c), tokens_) : c;
    }
    /// What the client sends for the static token `name` in this mode.
    std::string tok(std::string const& name) const
    {
        auto const it = tokens_.find(name);
        return it == tokens_.end() ? name : it->second;
    }

private:
    std::map<std::string, std::string> tokens_;
};

INSTANTIATE_TEST_SUITE_P(Modes, AccessTest, ::testing::Values(auth_mode::static_tokens, auth_mode::jwt),
                         [](auto const& info) { return std::string(to_string(info.param)); });

TEST(OpenAccessTest, OpenModeWarnsLoudlyAtStart)
{
    test_server srv;
    http_client h(srv.port());
    ASSERT_EQ(h.get("/readyz").status, 200u);
    bool warned = false;
    for (auto const& l : srv.log_lines())
        warned = warned || l.find("auth mode OPEN") != std::string::npos;
    EXPECT_TRUE(warned);
}

TEST_P(AccessTest, RequestsWithoutAValidTokenAreRefused)
{
    test_server srv(cfg());
    http_client h(srv.port());
    auto none = h.get("/api/v1/jobs");
    EXPECT_EQ(none.status, 401u);
    EXPECT_EQ(none.headers[bhttp::field::www_authenticate], R"(Bearer realm="jobwatch")");
    EXPECT_EQ(h.get("/api/v1/jobs", "wrong").status, 401u);
    EXPECT_EQ(h.get("/api/v1/jobs", tok("admin-t")).status, 200u);
    EXPECT_EQ(h.get("/api/v1/jobs?token=" + tok("admin-t")).status, 200u);
    // A WebSocket upgrade with a wrong token is refused before the upgrade (one with none must auth by message).
    EXPECT_THROW(ws_client(srv.port(), "/ws?token=wrong"), std::exception);
    auto ok = ws_client::open(srv.port(), "/ws?token=" + tok("acme-t"));
    EXPECT_EQ(ok.skipped.size(), 0u);
}

TEST_P(AccessTest, AWebSocketWithoutCredentialsMustAuthenticateByItsFirstMessage)
{
    auto c = cfg();
    c.gateway.auth_timeout_ms = std::chrono::milliseconds{1000};
    test_server srv(c);
    http_client h(srv.port());
    seed_two_tenants(h, tok("admin-t"));

    // Until it authenticates, it can do nothing else (and gets no welcome).
    ws_client ws(srv.port(), "/ws");
    ws.send(R"({"type":"subscribe","room":"tenant:acme","id":"s"})");
    auto refused = ws.read();
    EXPECT_EQ(refused.at("type"), "error");
    EXPECT_EQ(refused.at("code"), "unauthenticated");
    EXPECT_EQ(refused.at("id"), "s");
    ws.send(boost::json::object{{"type", "auth"}, {"token", tok("acme-t")}, {"id", "a"}});
    auto w = ws.read();
    ASSERT_EQ(w.at("type"), "welcome") << boost::json::serialize(w);
    EXPECT_EQ(w.at("subject"), "acme-app");
    EXPECT_EQ(w.at("tenant_id"), "acme");
    EXPECT_EQ(ws.subscribe("tenant:acme").at("type"), "subscribed");
    EXPECT_EQ(ws.subscribe("tenant:globex").at("code"), "not_found");

    // A wrong token: why, then close 4401.
    ws_client bad(srv.port(), "/ws");
    bad.send(R"({"type":"auth","token":"wrong","id":"b"})");
    auto e = bad.read();
    EXPECT_EQ(e.at("type"), "error");
    EXPECT_EQ(e.at("code"), "unauthenticated");
    EXPECT_EQ(e.at("id"), "b");
    beast::flat_buffer b;
    EXPECT_EQ(bad.read(b), websocket::error::closed);
    EXPECT_EQ(bad.stream().reason().code, 4401);

    // Nothing within gateway.auth_timeout_ms: why, then close 4401.
    ws_client idle(srv.port(), "/ws");
    auto const t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(idle.read().at("code"), "unauthenticated");
    EXPECT_EQ(idle.read(b), websocket::error::closed);
    EXPECT_EQ(idle.stream().reason().code, 4401);
    EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds{900});

    // The authenticated one was not disturbed, and the refusals are counted.
    ws.send(R"({"type":"ping","id":"p"})");
    EXPECT_EQ(ws.read_until("pong").at("id"), "p");
    auto const counters = h.get("/api/v1/monitor/connections", tok("admin-t")).json();
    EXPECT_GE(counters.at("counters").at("auth_refused").to_number<int>(), 1) << boost::json::serialize(counters);
    EXPECT_EQ(counters.at("counters").at("auth_timeouts"), 1) << boost::json::serialize(counters);
}

TEST_P(AccessTest, ScopesGateWritesAndSettings)
{
    test_server srv(cfg());
    http_client h(srv.port());
    EXPECT_EQ(h.post("/api/v1/events", event_json("job.queued", "x", "q"), "application/json", tok("reader-t")).status,
              403u);
    EXPECT_EQ(h.get("/api/v1/monitor/config", tok("reader-t")).status, 403u);
    EXPECT_EQ(h.get("/api/v1/monitor/connections", tok("acme-t")).status, 403u);
    EXPECT_EQ(h.get("/api/v1/monitor/config", tok("admin-t")).status, 200u);
    auto ws = ws_client::open(srv.port(), "/ws?token=" + tok("reader-t"));
    ws.send(R"({"type":"publish","id":"p","event":{"type":"job.queued","job_id":"x","queue":"q"}})");
    auto e = ws.read_until("error");
    EXPECT_EQ(e.at("code"), "forbidden");
    EXPECT_EQ(e.at("id"), "p");
}

TEST_P(AccessTest, ATenantSeesOnlyItsOwnJobsOverRest)
{
    test_server srv(cfg());
    http_client h(srv.port());
    seed_two_tenants(h, tok("admin-t"));
    auto mine = h.get("/api/v1/jobs", tok("acme-t")).json().as_object();
    ASSERT_EQ(mine.at("total"), 1);
    EXPECT_EQ(mine.at("items").as_array()[0].at("job_id"), "a1");
    EXPECT_EQ(h.get("/api/v1/jobs?tenant_id=globex", tok("acme-t")).json().at("total"), 0);
    EXPECT_EQ(h.get("/api/v1/jobs/a1", tok("acme-t")).status, 200u);
    // Another tenant's job is answered exactly as an unknown one.
    auto theirs = h.get("/api/v1/jobs/g1", tok("acme-t"));
    auto unknown = h.get("/api/v1/jobs/zz", tok("acme-t"));
    EXPECT_EQ(theirs.status, 404u);
    EXPECT_EQ(unknown.status, 404u);
    EXPECT_EQ(theirs.json().at("title"), unknown.json().at("title"));
    EXPECT_EQ(h.get("/api/v1/jobs/g1/logs", tok("acme-t")).status, 404u);
    EXPECT_EQ(h.get("/api/v1/jobs/g1/events", tok("acme-t")).status, 404u);
    EXPECT_EQ(h.get("/api/v1/runs/rg/summary", tok("acme-t")).status, 404u);
    EXPECT_EQ(h.get("/api/v1/runs/ra/summary", tok("acme-t")).status, 200u);
    EXPECT_EQ(h.get("/api/v1/queues", tok("acme-t")).status, 403u);
    EXPECT_EQ(h.get("/api/v1/health/queues", tok("acme-t")).status, 403u);
    EXPECT_EQ(h.get("/api/v1/jobs/failed/stats", tok("acme-t")).status, 403u);
    // Publishing for another tenant is refused.
    auto other = h.post("/api/v1/events", event_json("job.queued", "a2", "q", R"("tenant_id":"globex")"),
                        "application/json", tok("acme-t"));
    EXPECT_EQ(other.status, 403u);
    EXPECT_EQ(other.json().at("pointer"), "/tenant_id");
    auto batch = h.post("/api/v1/events",
                        event_json("job.queued", "a3", "q", R"("tenant_id":"acme")") + "\n" +
                            event_json("job.queued", "a4", "q", R"("tenant_id":"globex")") + "\n" +
                            event_json("job.queued", "a5", "q") + "\n",
                        "application/x-ndjson", tok("acme-t"));
    // A line naming another tenant is refused; one naming none is the principal's tenant's.
    EXPECT_EQ(batch.json().at("accepted"), 2);
    EXPECT_EQ(batch.json().at("rejected"), 1);
    EXPECT_EQ(batch.json().at("results").at(0).at("status"), "forbidden");
    EXPECT_EQ(h.get("/api/v1/jobs/a5", tok("acme-t")).json().at("tenant_id"), "acme");
}

TEST_P(AccessTest, ATenantSubscribesOnlyToItsOwnRooms)
{
    test_server srv(cfg());
    http_client h(srv.port());
    seed_two_tenants(h, tok("admin-t"));
    auto ws = ws_client::open(srv.port(), "/ws?token=" + tok("acme-t"));
    EXPECT_EQ(ws.subscribe("tenant:acme").at("type"), "subscribed");
    EXPECT_EQ(ws.subscribe("job:acme/a1").at("type"), "subscribed");
    EXPECT_EQ(ws.subscribe("run:acme/ra").at("type"), "subscribed");
    // Another tenant's job is answered as an unknown room of another tenant would be.
    EXPECT_EQ(ws.subscribe("job:globex/g1").at("code"), "not_found");
    EXPECT_EQ(ws.subscribe("job:globex/zz").at("code"), "not_found");
    EXPECT_EQ(ws.subscribe("job:g1").at("code"), "not_found") << "a job of no tenant is not a tenant's";
    // Its own job may be subscribed before the job exists.
    EXPECT_EQ(ws.subscribe("job:acme/zz").at("type"), "subscribed");
    EXPECT_EQ(ws.subscribe("tenant:globex").at("code"), "not_found");
    EXPECT_EQ(ws.subscribe("run:globex/rg").at("code"), "not_found");
    EXPECT_EQ(ws.subscribe("queue:shared").at("code"), "forbidden");
    EXPECT_EQ(ws.subscribe("alerts").at("code"), "forbidden");
    // Only its own tenant's events arrive.
    h.post("/api/v1/events", event_json("job.started", "g1", "shared", R"("tenant_id":"globex","attempt":1)"),
           "application/json", tok("admin-t"));
    h.post("/api/v1/events", event_json("job.started", "a1", "shared", R"("tenant_id":"acme","attempt":1)"),
           "application/json", tok("admin-t"));
    // a1's event reaches tenant:acme, job:acme/a1 and run:acme/ra (its run, though the event names none);
    // g1's reaches none of these.
    for (int i = 0; i < 3; ++i) {
        auto m = ws.read_until("event");
        EXPECT_EQ(m.at("event").at("job_id"), "a1") << boost::json::serialize(m);
    }
    ws.send(R"({"type":"ping","id":"end"})");
    EXPECT_EQ(ws.read_until("pong").at("id"), "end");
    for (auto const& m : ws.skipped) {
        EXPECT_NE(m.at("type"), "event") << boost::json::serialize(m);
    }
}

TEST_P(AccessTest, ATenantIsIsolatedOnSseAndLongPoll)
{
    test_server srv(cfg());
    http_client h(srv.port());
    seed_two_tenants(h, tok("admin-t"));
    EXPECT_EQ(h.get("/api/v1/stream?room=job:globex/g1", tok("acme-t")).status, 404u);
    EXPECT_EQ(h.get("/api/v1/stream?room=tenant:globex", tok("acme-t")).status, 404u);
    EXPECT_EQ(h.get("/api/v1/stream?room=queue:shared", tok("acme-t")).status, 403u);
    EXPECT_EQ(h.get("/api/v1/poll?room=job:globex/g1&since=0&timeout_ms=0", tok("acme-t")).status, 404u);
    EXPECT_EQ(h.get("/api/v1/poll?room=job:acme/a1&room=job:globex/g1&since=0&timeout_ms=0", tok("acme-t")).status, 404u);
    auto own = h.get("/api/v1/poll?room=job:acme/a1&since=0&timeout_ms=0", tok("acme-t"));
    ASSERT_EQ(own.status, 200u);
    // The missed event, then the room's state.
    auto const body = own.json();
    auto const& msgs = body.at("messages").as_array();
    ASSERT_EQ(msgs.size(), 2u);
    EXPECT_EQ(msgs.at(0).at("type"), "event");
    EXPECT_EQ(msgs.at(1).at("type"), "subscribed");
    EXPECT_EQ(h.get("/api/v1/poll?room=job:acme/a1&since=0&timeout_ms=0").status, 401u);
}

TEST(CorsTest, PreflightsAnswerListedOriginsOnlyAndAnswersCarryTheirHeaders)
{
    auto c = token_config();
    c.gateway.cors.allowed_origins = {"https://app.example"};
    test_server srv(c);

    // A preflight needs no token (browsers send none with it).
    for (auto const* path : {"/api/v1/jobs", "/api/v1/events", "/api/v1/stream?room=tenant:acme"}) {
        SCOPED_TRACE(path);
        http_client pre(srv.port());
        pre.extra.set(bhttp::field::origin, "https://app.example");
        pre.extra.set(bhttp::field::access_control_request_method, "GET");
        pre.extra.set(bhttp::field::access_control_request_headers, "authorization");
        auto ok = pre.request(bhttp::verb::options, path);
        EXPECT_EQ(ok.status, 204u) << ok.body;
        EXPECT_EQ(ok.headers[bhttp::field::access_control_allow_origin], "https://app.example");
        EXPECT_NE(ok.headers[bhttp::field::access_control_allow_headers].find("Authorization"), std::string::npos);
        EXPECT_NE(ok.headers[bhttp::field::access_control_allow_methods].find("POST"), std::string::npos);
        EXPECT_EQ(ok.headers[bhttp::field::access_control_max_age], "600");
        EXPECT_EQ(ok.headers[bhttp::field::access_control_allow_credentials], "");
        http_client evil(srv.port());
        evil.extra.set(bhttp::field::origin, "https://evil.example");
        evil.extra.set(bhttp::field::access_control_request_method, "GET");
        auto refused = evil.request(bhttp::verb::options, path);
        EXPECT_EQ(refused.status, 403u);
        EXPECT_EQ(refused.headers[bhttp::field::access_control_allow_origin], "");
    }

    // Answers: the listed origin may read them (a 401 too); another origin's page may not.
    http_client app(srv.port());
    app.extra.set(bhttp::field::origin, "https://app.example");
    auto ok = app.get("/api/v1/jobs", "acme-t");
    EXPECT_EQ(ok.status, 200u);
    EXPECT_EQ(ok.headers[bhttp::field::access_control_allow_origin], "https://app.example");
    EXPECT_EQ(ok.headers[bhttp::field::vary], "Origin");
    EXPECT_EQ(app.get("/api/v1/jobs").headers[bhttp::field::access_control_allow_origin], "https://app.example");
    http_client evil(srv.port());
    evil.extra.set(bhttp::field::origin, "https://evil.example");
    EXPECT_EQ(evil.get("/api/v1/jobs", "acme-t").headers[bhttp::field::access_control_allow_origin], "");
    http_client plain(srv.port());
    EXPECT_EQ(plain.get("/api/v1/jobs", "acme-t").headers[bhttp::field::access_control_allow_origin], "");
    sse_client sse(srv.port(), "/api/v1/stream?room=tenant:acme", {}, "acme-t", "https://app.example");
    EXPECT_NE(sse.head.find("Access-Control-Allow-Origin: https://app.example\r\n"), std::string::npos) << sse.head;

    // WebSocket: another origin's page is refused before the upgrade (cross-site WebSocket hijacking);
    // the listed origin, the gateway's own origin and clients that send no Origin are not.
    EXPECT_THROW(ws_client(srv.port(), "/ws?token=acme-t", std::chrono::seconds{10}, {}, "https://evil.example"),
                 std::exception);
    for (std::string const origin : {"https://app.example", "http://127.0.0.1", ""}) {
        SCOPED_TRACE(origin);
        ws_client ws(srv.port(), "/ws?token=acme-t", std::chrono::seconds{10}, {}, origin);
        EXPECT_EQ(ws.read().at("type"), "welcome");
    }
}

TEST(CorsTest, AStarAllowsEveryOriginWithoutCredentials)
{
    auto c = token_config();
    c.gateway.cors.allowed_origins = {"*"};
    c.gateway.cors.max_age_s = 60;
    test_server srv(c);
    http_client pre(srv.port());
    pre.extra.set(bhttp::field::origin, "https://anywhere.example");
    pre.extra.set(bhttp::field::access_control_request_method, "POST");
    auto ok = pre.request(bhttp::verb::options, "/api/v1/events");
    EXPECT_EQ(ok.status, 204u);
    EXPECT_EQ(ok.headers[bhttp::field::access_control_allow_origin], "*");
    EXPECT_EQ(ok.headers[bhttp::field::access_control_max_age], "60");
    EXPECT_EQ(ok.headers[bhttp::field::access_control_allow_credentials], "");
    ws_client ws(srv.port(), "/ws?token=acme-t", std::chrono::seconds{10}, {}, "https://anywhere.example");
    EXPECT_EQ(ws.read().at("type"), "welcome");
}

TEST(CorsTest, WithoutAListOnlyTheGatewaysOwnOriginIsAllowed)
{
    test_server srv(token_config());
    http_client pre(srv.port());
    pre.extra.set(bhttp::field::origin, "http://localhost:5173");
    pre.extra.set(bhttp::field::access_control_request_method, "GET");
    EXPECT_EQ(pre.request(bhttp::verb::options, "/api/v1/jobs").status, 403u);
    EXPECT_THROW(ws_client(srv.port(), "/ws?token=acme-t", std::chrono::seconds{10}, {}, "http://localhost:5173"),
                 std::exception);
}

}  // namespace
}  // namespace jobwatch::test
