// The Socket.IO endpoint over real sockets, in process: polling (each request
// on a connection of its own, so with I/O shards a session's requests land on
// other threads than its own), WebSocket, the upgrade, a C++ payload view,
// authentication and isolation, and bad input closing only its own session.
// The real socket.io-client runs against the demo in tests/node/socketio_e2e.mjs.
#include "gateway_support.hpp"

#include <jobwatch/gateway/sio_endpoint.hpp>

#include <gtest/gtest.h>

namespace jobwatch::test {
namespace {

constexpr std::string_view poll_path = "/socket.io/?EIO=4&transport=polling";

// The sid of an Engine.IO open packet.
std::string sid_of(std::string const& open)
{
    EXPECT_TRUE(open.starts_with("0{")) << open;
    return std::string(boost::json::parse(open.substr(1)).at("sid").as_string());
}

std::string text_of(ws_client& c)
{
    beast::flat_buffer b;
    if (auto ec = c.read(b))
        throw boost::system::system_error(ec);
    return beast::buffers_to_string(b.data());
}

// Reads WebSocket messages (answering pings) until one starts with `prefix`.
std::string ws_until(ws_client& c, std::string_view prefix)
{
    for (int i = 0; i < 200; ++i) {
        auto t = text_of(c);
        if (t == "2") {
            c.send(std::string("3"));
            continue;
        }
        if (t.starts_with(prefix))
            return t;
    }
    ADD_FAILURE() << "no message starting with " << prefix;
    return {};
}

// A polling client: one connection for GETs, one for POSTs (as socket.io-client has).
struct poller
{
    explicit poller(std::uint16_t port) : get(port), post(port)
    {
        auto const r = get.get(std::string(poll_path));
        EXPECT_EQ(r.status, 200u);
        sid = sid_of(r.body);
    }
    std::string target() const { return std::string(poll_path) + "&sid=" + sid; }
    http_reply send(std::string body) { return post.post(target(), std::move(body), "text/plain;charset=UTF-8"); }
    http_reply receive() { return get.get(target()); }
    // GETs until a packet of the body starts with `prefix` (bounded).
    std::string until(std::string_view prefix)
    {
        for (int i = 0; i < 100; ++i) {
            auto const r = receive();
            if (r.status != 200)
                throw std::runtime_error("GET answered " + std::to_string(r.status) + ": " + r.body);
            std::size_t at = 0;
            while (at <= r.body.size()) {
                auto const end = r.body.find('\x1e', at);
                auto const p = r.body.substr(at, end == std::string::npos ? std::string::npos : end - at);
                if (p == "2")
                    send("3");
                if (p.starts_with(prefix))
                    return p;
                if (end == std::string::npos)
                    break;
                at = end + 1;
            }
        }
        ADD_FAILURE() << "no packet starting with " << prefix;
        return {};
    }
    http_client get;
    http_client post;
    std::string sid;
};

TEST(SocketIoTest, PollingJoinsSubscribesAndReceivesEventsAcrossConnections)
{
    test_server srv;
    auto const port = srv.port();
    poller p(port);
    EXPECT_EQ(p.send("40").body, "ok");
    EXPECT_TRUE(p.until("40{").starts_with("40{\"sid\":"));
    EXPECT_EQ(p.send(R"(421["subscribe",{"room":"queue:sq"}])").body, "ok");
    auto const ack = p.until("431[");
    auto const reply = boost::json::parse(ack.substr(3)).as_array().at(0).as_object();
    EXPECT_EQ(reply.at("type"), "subscribed");
    EXPECT_EQ(reply.at("room"), "queue:sq");

    http_client h(port);
    EXPECT_EQ(h.post("/api/v1/events", event_json("job.queued", "p1", "sq")).status, 202u);
    auto const ev = p.until(R"(42["event",)");
    auto const msg = boost::json::parse(ev.substr(2)).as_array();
    EXPECT_EQ(msg.at(1).at("room"), "queue:sq");
    EXPECT_EQ(msg.at(1).at("event").at("job_id"), "p1");

    // The Engine.IO errors, as the reference server words them.
    auto const unknown = h.get(std::string(poll_path) + "&sid=nope");
    EXPECT_EQ(unknown.status, 400u);
    EXPECT_EQ(unknown.json().at("code"), 1);
    auto const old = h.get("/socket.io/?EIO=3&transport=polling");
    EXPECT_EQ(old.status, 400u);
    EXPECT_EQ(old.json().at("message"), "Unsupported protocol version");

    // The client closes: later polls are refused.
    EXPECT_EQ(p.send("1").body, "ok");
    EXPECT_EQ(h.get(p.target()).status, 400u);
}

TEST(SocketIoTest, WebSocketTransportAndUpgradeFromPolling)
{
    test_server srv;
    auto const port = srv.port();
    http_client h(port);

    ws_client direct(port, "/socket.io/?EIO=4&transport=websocket");
    auto const open = text_of(direct);
    EXPECT_NE(open.find(R"("upgrades":[])"), std::string::npos) << open;
    direct.send(std::string("40"));
    EXPECT_TRUE(ws_until(direct, "40{").starts_with("40{\"sid\":"));
    direct.send(std::string(R"(42["subscribe",{"room":"queue:wq"}])"));
    EXPECT_TRUE(ws_until(direct, R"(42["subscribed",{"type":"subscribed","room":"queue:wq")").size() > 0);

    poller p(port);
    p.send("40");
    p.until("40{");
    p.send(R"(42["subscribe",{"room":"queue:wq"}])");
    p.until(R"(42["subscribed")");
    ws_client up(port, "/socket.io/?EIO=4&transport=websocket&sid=" + p.sid);
    up.send(std::string("2probe"));
    EXPECT_EQ(text_of(up), "3probe");
    // The held poll ends with a noop once probed; then the WebSocket takes over.
    EXPECT_EQ(p.receive().body, "6");
    up.send(std::string("5"));

    EXPECT_EQ(h.post("/api/v1/events", event_json("job.queued", "w1", "wq")).status, 202u);
    for (auto* c : {&direct, &up}) {
        auto const ev = ws_until(*c, R"(42["event",)");
        EXPECT_NE(ev.find(R"("job_id":"w1")"), std::string::npos) << ev;
    }
    EXPECT_EQ(p.receive().status, 400u);  // polling is over for the upgraded session
    EXPECT_EQ(monitor(port).at("socketio"), 2);
}

TEST(SocketIoTest, CppPayloadViewsAndMappedJoins)
{
    gateway::config g;
    g.socketio_namespaces.push_back(gw::sio_mapping{
        .name = "/campaigns",
        .joins = {{"join_campaign", "run:{campaignId}"}},
        .leaves = {{"leave_campaign", "run:{campaignId}"}},
        .emits = {},
        .view = [](gw::sio_message const& m) -> std::optional<gw::sio_emit> {
            if (m.as_summary)
                return gw::sio_emit{"campaign:status",
                                    {{"runId", m.room.substr(4)}, {"totalJobs", m.as_summary->counts.total}}};
            if (m.as_event)
                if (auto const* done = std::get_if<job_completed>(m.as_event))
                    return gw::sio_emit{"job-completed",
                                        {{"jobId", done->job_id}, {"result", done->result.value_or(nullptr)}}};
            return std::nullopt;  // other events are not emitted here
        }});
    test_server srv(test_server::default_config(), std::move(g));
    auto const port = srv.port();
    ws_client c(port, "/socket.io/?EIO=4&transport=websocket");
    text_of(c);
    c.send(std::string("40/campaigns,"));
    EXPECT_TRUE(ws_until(c, "40/campaigns,{").size() > 0);
    c.send(std::string(R"(42/campaigns,7["join_campaign",{}])"));
    auto const refused = ws_until(c, "43/campaigns,7[");
    EXPECT_NE(refused.find(R"("ok":false)"), std::string::npos) << refused;
    c.send(std::string(R"(42/campaigns,8["join_campaign",{"campaignId":"c1"}])"));
    auto const joined = ws_until(c, "43/campaigns,8[");
    EXPECT_NE(joined.find(R"("ok":true,"room":"run:c1")"), std::string::npos) << joined;

    http_client h(port);
    h.post("/api/v1/events", event_json("job.queued", "k1", "cq", R"("run_id":"c1")"));
    h.post("/api/v1/events", event_json("job.completed", "k1", "cq", R"("run_id":"c1","result":{"rows":3})"));
    auto const done = ws_until(c, R"(42/campaigns,["job-completed")");
    EXPECT_EQ(done, R"(42/campaigns,["job-completed",{"jobId":"k1","result":{"rows":3}}])");
    auto const status = ws_until(c, R"(42/campaigns,["campaign:status")");
    EXPECT_NE(status.find(R"("runId":"c1")"), std::string::npos) << status;
    // job.queued has no view: it never came before job-completed (checked by ws_until skipping nothing else).
}

TEST(SocketIoTest, ConnectChecksTheTokenAndTenantIsolationHolds)
{
    auto cfg = test_server::default_config();
    cfg.auth.mode = auth_mode::static_tokens;
    cfg.auth.tokens["tok-admin"] =
        principal{.subject = "admin", .scopes = {auth_scope::read, auth_scope::publish, auth_scope::admin}};
    cfg.auth.tokens["tok-a"] = principal{.subject = "a", .tenant_id = "ta", .scopes = {auth_scope::read}};
    test_server srv(cfg);
    auto const port = srv.port();

    ws_client c(port, "/socket.io/?EIO=4&transport=websocket");
    text_of(c);
    c.send(std::string(R"(40{"token":"wrong"})"));
    auto const refused = ws_until(c, "44");
    EXPECT_TRUE(refused.starts_with(R"(44{"message":")")) << refused;
    c.send(std::string("40"));  // no token at all: refused too
    EXPECT_TRUE(ws_until(c, "44").starts_with(R"(44{"message":")"));
    c.send(std::string(R"(40{"token":"tok-a"})"));
    EXPECT_TRUE(ws_until(c, "40{").size() > 0);
    c.send(std::string(R"(421["subscribe",{"room":"tenant:tb"}])"));
    auto const denied = ws_until(c, "431[");
    EXPECT_NE(denied.find(R"("type":"error")"), std::string::npos) << denied;
    c.send(std::string(R"(422["subscribe",{"room":"queue:iq"}])"));  // queues mix tenants
    EXPECT_NE(ws_until(c, "432[").find(R"("type":"error")"), std::string::npos);
    c.send(std::string(R"(423["subscribe",{"room":"tenant:ta"}])"));
    EXPECT_NE(ws_until(c, "433[").find(R"("type":"subscribed")"), std::string::npos);

    http_client h(port);
    h.post("/api/v1/events", event_json("job.queued", "other", "iq", R"("tenant_id":"tb")"), "application/json",
           "tok-admin");
    h.post("/api/v1/events", event_json("job.queued", "mine", "iq", R"("tenant_id":"ta")"), "application/json",
           "tok-admin");
    auto const ev = ws_until(c, R"(42["event",)");
    EXPECT_NE(ev.find(R"("job_id":"mine")"), std::string::npos) << "another tenant's event came first: " << ev;
}

TEST(SocketIoTest, BadInputClosesOnlyItsOwnSession)
{
    auto cfg = test_server::default_config();
    cfg.gateway.socketio.max_payload_bytes = 1024;
    test_server srv(cfg);
    auto const port = srv.port();
    ws_client good(port, "/socket.io/?EIO=4&transport=websocket");
    text_of(good);
    good.send(std::string("40"));
    ws_until(good, "40{");
    good.send(std::string(R"(42["subscribe",{"room":"queue:bq"}])"));
    ws_until(good, R"(42["subscribed")");

    // The close code each bad input ends its own session with.
    std::vector<std::pair<std::string, int>> const bad = {
        {"4not a packet", 1002},                            // malformed Socket.IO packet
        {R"(42["subscribe",{"room":"queue:bq"}])", 1002},  // an event before CONNECT
        {"4" + std::string(2000, 'x'), 1009},               // over max_payload_bytes
        {"9", 1002},                                        // no such Engine.IO packet
    };
    for (auto const& [text, code] : bad) {
        ws_client c(port, "/socket.io/?EIO=4&transport=websocket");
        text_of(c);
        c.send(text);
        beast::flat_buffer b;
        boost::system::error_code ec;
        for (int i = 0; i < 10 && !ec; ++i)
            ec = c.read(b);
        EXPECT_EQ(ec, websocket::error::closed) << text;
    }
    // Unknown namespace: the connect error, the session stays.
    ws_client ns(port, "/socket.io/?EIO=4&transport=websocket");
    text_of(ns);
    ns.send(std::string("40/nope,"));
    EXPECT_EQ(ws_until(ns, "44"), R"(44/nope,{"message":"Invalid namespace"})");

    http_client h(port);
    h.post("/api/v1/events", event_json("job.queued", "b1", "bq"));
    EXPECT_NE(ws_until(good, R"(42["event",)").find(R"("job_id":"b1")"), std::string::npos);
}

TEST(SocketIoTest, AClientThatNeverAnswersPingsIsClosed)
{
    auto cfg = test_server::default_config();
    cfg.gateway.socketio.ping_interval_ms = std::chrono::milliseconds{200};
    cfg.gateway.socketio.ping_timeout_ms = std::chrono::milliseconds{200};
    test_server srv(cfg);
    ws_client c(srv.port(), "/socket.io/?EIO=4&transport=websocket", std::chrono::seconds{5});
    auto const open = text_of(c);
    EXPECT_NE(open.find(R"("pingInterval":200,"pingTimeout":200)"), std::string::npos) << open;
    c.send(std::string("40"));
    auto const t0 = std::chrono::steady_clock::now();
    beast::flat_buffer b;
    boost::system::error_code ec;
    int pings = 0;
    while (!ec) {
        b.clear();
        ec = c.read(b);
        if (!ec && beast::buffers_to_string(b.data()) == "2")
            ++pings;
    }
    auto const took = std::chrono::steady_clock::now() - t0;
    EXPECT_EQ(ec, websocket::error::closed);
    EXPECT_EQ(pings, 1);
    // Interval + timeout, with the sweep's quarter second on each.
    EXPECT_LT(took, std::chrono::milliseconds{3000});
}

}  // namespace
}  // namespace jobwatch::test
