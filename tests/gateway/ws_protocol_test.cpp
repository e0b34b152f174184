// The WebSocket protocol end to end: real Beast clients on 127.0.0.1.
#include "gateway/gateway_support.hpp"

#include <map>
#include <set>

namespace jobwatch::test {
namespace {

std::int64_t seq_of(boost::json::object const& m) { return m.at("seq").as_int64(); }

TEST(WsProtocolTest, WelcomeDescribesTheConnection)
{
    test_server srv;
    ws_client c(srv.port());
    auto w = c.read();
    EXPECT_EQ(w.at("type"), "welcome");
    EXPECT_EQ(w.at("protocol"), 1);
    EXPECT_EQ(w.at("server_version").as_string(), jobwatch::version);
    EXPECT_EQ(w.at("max_message_bytes"), 65536);
    EXPECT_EQ(w.at("subject"), "anonymous");
    EXPECT_FALSE(w.at("connection_id").as_string().empty());
}

TEST(WsProtocolTest, RepliesEchoTheRequestId)
{
    test_server srv;
    auto c = ws_client::open(srv.port());
    c.send(R"({"type":"ping","id":"p1"})");
    auto pong = c.read();
    EXPECT_EQ(pong.at("type"), "pong");
    EXPECT_EQ(pong.at("id"), "p1");
    c.send(R"({"type":"subscribe","room":"queue:a","id":"x"})");
    EXPECT_EQ(c.read().at("id"), "x");
    c.send(R"({"type":"subscribe","room":"alerts"})");
    auto sub = c.read();
    EXPECT_EQ(sub.at("type"), "subscribed");
    EXPECT_FALSE(sub.contains("id"));
    EXPECT_FALSE(sub.contains("snapshot")) << "the alerts room has no state";
    c.send(R"({"type":"subscriptions","id":"l"})");
    auto list = c.read();
    ASSERT_EQ(list.at("type"), "subscriptions");
    EXPECT_EQ(list.at("id"), "l");
    ASSERT_EQ(list.at("rooms").as_array().size(), 2u);
    EXPECT_EQ(list.at("rooms").as_array()[0].at("room"), "alerts");
    EXPECT_EQ(list.at("rooms").as_array()[1].at("room"), "queue:a");
    c.send(R"({"type":"unsubscribe","room":"queue:a","id":"u"})");
    auto un = c.read();
    EXPECT_EQ(un.at("type"), "unsubscribed");
    EXPECT_EQ(un.at("id"), "u");
    c.send(R"({"type":"unsubscribe","room":"queue:a","id":"u2"})");
    auto again = c.read();
    EXPECT_EQ(again.at("type"), "error");
    EXPECT_EQ(again.at("code"), "not_found");
    EXPECT_EQ(again.at("id"), "u2");
}

TEST(WsProtocolTest, BadMessagesGetAnErrorWithAPathAndTheConnectionStaysOpen)
{
    test_server srv;
    auto c = ws_client::open(srv.port());
    struct bad
    {
        std::string text, code, path;
    };
    std::vector<bad> cases = {
        {"this is not json", "bad_json", ""},
        {"[1,2,3]", "invalid_message", ""},
        {R"({"room":"queue:a"})", "invalid_message", "/type"},
        {R"({"type":"dance","id":"d"})", "unknown_type", "/type"},
        {R"({"type":"subscribe","room":"nowhere:x"})", "invalid_message", "/room"},
        {R"({"type":"subscribe","room":"queue:a","since":-4})", "invalid_message", "/since"},
        {R"({"type":"subscribe","room":"queue:a","extra":1})", "invalid_message", "/extra"},
        {R"({"type":"publish","event":{"type":"job.queued","job_id":"j"}})", "invalid_message", "/event"},
    };
    for (auto const& b : cases) {
        c.send(b.text);
        auto e = c.read();
        EXPECT_EQ(e.at("type"), "error") << b.text;
        EXPECT_EQ(e.at("code").as_string(), b.code) << b.text;
        EXPECT_TRUE(e.at("path").as_string().starts_with(b.path)) << b.text << " -> " << e.at("path");
        EXPECT_FALSE(e.at("message").as_string().empty());
    }
    auto const d = std::find_if(cases.begin(), cases.end(), [](auto const& b) { return b.code == "unknown_type"; });
    ASSERT_NE(d, cases.end());
    // Still open, still answering.
    c.send(R"({"type":"ping","id":"alive"})");
    EXPECT_EQ(c.read().at("id"), "alive");
    c.send(R"({"type":"dance","id":"d2"})");
    EXPECT_EQ(c.read().at("id"), "d2") << "an unknown type still echoes the id";
}

TEST(WsProtocolTest, BinaryFramesAreRefusedAndTheConnectionStaysOpen)
{
    test_server srv;
    auto c = ws_client::open(srv.port());
    c.stream().binary(true);
    c.send(R"({"type":"ping"})");
    auto e = c.read();
    EXPECT_EQ(e.at("type"), "error");
    EXPECT_EQ(e.at("code"), "invalid_message");
    c.stream().text(true);
    c.send(R"({"type":"ping","id":"t"})");
    EXPECT_EQ(c.read().at("type"), "pong");
}

TEST(WsProtocolTest, AMessageOverTheLimitClosesWith1009)
{
    auto cfg = test_server::default_config();
    cfg.gateway.max_message_bytes = 1024;
    test_server srv(cfg);
    auto c = ws_client::open(srv.port());
    c.send(std::string(R"({"type":"ping","id":")") + std::string(2000, 'x') + "\"}");
    beast::flat_buffer b;
    auto ec = c.read(b);
    EXPECT_EQ(ec, websocket::error::closed) << ec.message();
    EXPECT_EQ(c.stream().reason().code, websocket::close_code::too_big);
}

TEST(WsProtocolTest, AnUnmaskedClientFrameIsAProtocolError)
{
    test_server srv;
    ws_client c(srv.port());
    (void)c.read();  // welcome
    // A text frame without the mask bit, written under the client's back.
    unsigned char const frame[] = {0x81, 0x02, '{', '}'};
    boost::asio::write(c.stream().next_layer(), boost::asio::buffer(frame));
    beast::flat_buffer b;
    auto ec = c.read(b);
    EXPECT_TRUE(ec) << "the server must not accept an unmasked frame";
    EXPECT_EQ(c.stream().reason().code, websocket::close_code::protocol_error);
}

TEST(WsProtocolTest, SubscribedCarriesTheSnapshotOfTheRoom)
{
    test_server srv;
    http_client h(srv.port());
    ASSERT_EQ(h.post("/api/v1/events", event_json("job.queued", "j1", "q", R"("run_id":"r1")")).status, 202u);
    ASSERT_EQ(h.post("/api/v1/events", event_json("job.started", "j1", "q", R"("run_id":"r1","attempt":1)")).status,
              202u);
    auto c = ws_client::open(srv.port());
    auto job = c.subscribe("job:j1");
    ASSERT_EQ(job.at("type"), "subscribed");
    EXPECT_EQ(job.at("snapshot").at("kind"), "job_snapshot");
    EXPECT_EQ(job.at("snapshot").at("state"), "running");
    EXPECT_EQ(job.at("seq"), 2);
    auto run = c.subscribe("run:r1");
    EXPECT_EQ(run.at("snapshot").at("kind"), "summary");
    EXPECT_EQ(run.at("snapshot").at("counts").at("running"), 1);
    auto health = c.subscribe("health");
    EXPECT_EQ(health.at("snapshot").at("kind"), "health_report");
    auto unknown = c.subscribe("job:nope");
    EXPECT_EQ(unknown.at("type"), "subscribed");
    EXPECT_FALSE(unknown.contains("snapshot"));
}

TEST(WsProtocolTest, ManyClientsEachGetExactlyTheirRoomsInOrderWithoutGaps)
{
    test_server srv;
    constexpr int clients = 24;
    std::vector<std::string> queues = {"a", "b", "c", "d"};
    std::vector<ws_client> cs;
    std::vector<std::set<std::string>> rooms(clients);
    for (int i = 0; i < clients; ++i) {
        cs.push_back(ws_client::open(srv.port()));
        // Each client watches one or two queues.
        rooms[i].insert("queue:" + queues[static_cast<std::size_t>(i) % 4]);
        if (i % 3 == 0)
            rooms[i].insert("queue:" + queues[static_cast<std::size_t>(i + 1) % 4]);
        for (auto const& r : rooms[i])
            ASSERT_EQ(cs.back().subscribe(r).at("type"), "subscribed");
    }
    // 400 events in batches, spread over the queues.
    std::map<std::string, std::vector<std::int64_t>> published;  // room -> seqs
    http_client h(srv.port());
    int n = 0;
    for (int batch = 0; batch < 20; ++batch) {
        std::string body;
        for (int k = 0; k < 20; ++k, ++n)
            // A job's events go to the job's queue: each job id here stays in one queue.
            body += event_json("job.progress", queues[static_cast<std::size_t>(n * 7 % 4)] + std::to_string(n % 37),
                               queues[static_cast<std::size_t>(n * 7 % 4)],
                               R"("percent":)" + std::to_string(n % 100)) +
                    "\n";
        auto r = h.post("/api/v1/events", body, "application/x-ndjson");
        ASSERT_EQ(r.status, 200u) << r.body;
        ASSERT_EQ(r.json().at("accepted"), 20);
    }
    // Every accepted event has a seq; rebuild each room's expected seqs from a job's events list.
    for (int i = 0; i < n; ++i)
        published["queue:" + queues[static_cast<std::size_t>(i * 7 % 4)]].push_back(i + 1);
    for (int i = 0; i < clients; ++i) {
        std::map<std::string, std::vector<std::int64_t>> got;
        std::size_t want = 0;
        for (auto const& r : rooms[i])
            want += published[r].size();
        for (std::size_t k = 0; k < want; ++k) {
            auto m = cs[static_cast<std::size_t>(i)].read_until("event");
            auto const room = std::string(m.at("room").as_string());
            ASSERT_TRUE(rooms[i].contains(room)) << "client " << i << " got an event of " << room;
            EXPECT_EQ(m.at("event").at("queue").as_string(), room.substr(6));
            got[room].push_back(seq_of(m));
        }
        for (auto const& r : rooms[i])
            EXPECT_EQ(got[r], published[r]) << "client " << i << " room " << r;
    }
}

TEST(WsProtocolTest, ResubscribingWithSinceReplaysWhatWasMissed)
{
    test_server srv;
    http_client h(srv.port());
    std::int64_t last_seen = 0;
    {
        auto c = ws_client::open(srv.port());
        c.subscribe("queue:r");
        ASSERT_EQ(h.post("/api/v1/events", event_json("job.queued", "r1", "r")).status, 202u);
        last_seen = seq_of(c.read_until("event"));
    }
    // While disconnected: three events in the room, one elsewhere.
    h.post("/api/v1/events", event_json("job.queued", "r2", "r"));
    h.post("/api/v1/events", event_json("job.queued", "x1", "other"));
    h.post("/api/v1/events", event_json("job.started", "r2", "r", R"("attempt":1)"));
    h.post("/api/v1/events", event_json("job.completed", "r2", "r"));
    auto c = ws_client::open(srv.port());
    auto sub = c.subscribe("queue:r", last_seen);
    ASSERT_EQ(sub.at("type"), "subscribed");
    // The missed events come first, each once, then the room's current state.
    EXPECT_TRUE(sub.contains("snapshot")) << "the state after the missed events";
    std::vector<std::string> types;
    std::vector<std::int64_t> seqs;
    for (auto const& m : c.skipped) {
        ASSERT_EQ(m.at("type"), "event");
        types.emplace_back(m.at("event").at("type").as_string());
        seqs.push_back(seq_of(m));
    }
    EXPECT_EQ(types, (std::vector<std::string>{"job.queued", "job.started", "job.completed"}));
    EXPECT_EQ(seqs, (std::vector<std::int64_t>{last_seen + 1, last_seen + 3, last_seen + 4}));
    EXPECT_EQ(sub.at("seq"), last_seen + 4);
    // Live events continue after the replay.
    h.post("/api/v1/events", event_json("job.queued", "r3", "r"));
    EXPECT_EQ(seq_of(c.read_until("event")), last_seen + 5);
}

TEST(WsProtocolTest, SinceOlderThanTheHistoryGetsAResetThenASnapshot)
{
    auto cfg = test_server::default_config();
    cfg.event_log.history_per_room = 5;
    test_server srv(cfg);
    http_client h(srv.port());
    std::string body;
    for (int i = 0; i < 12; ++i)
        body += event_json("job.queued", "h" + std::to_string(i), "hist") + "\n";
    ASSERT_EQ(h.post("/api/v1/events", body, "application/x-ndjson").status, 200u);
    auto c = ws_client::open(srv.port());
    c.send(R"({"type":"subscribe","room":"queue:hist","since":2,"id":"old"})");
    auto reset = c.read();
    ASSERT_EQ(reset.at("type"), "reset");
    EXPECT_EQ(reset.at("room"), "queue:hist");
    EXPECT_EQ(reset.at("seq"), 12);
    auto sub = c.read();
    ASSERT_EQ(sub.at("type"), "subscribed");
    EXPECT_EQ(sub.at("id"), "old");
    EXPECT_EQ(sub.at("snapshot").at("counts").at("queued"), 12);
    // Within the history: a plain replay.
    auto c2 = ws_client::open(srv.port());
    auto sub2 = c2.subscribe("queue:hist", 9);
    EXPECT_EQ(sub2.at("type"), "subscribed");
    ASSERT_EQ(c2.skipped.size(), 3u);
    EXPECT_EQ(seq_of(c2.skipped.front()), 10);
    EXPECT_EQ(seq_of(c2.skipped.back()), 12);
}

TEST(WsProtocolTest, PublishNeedsThePublishScopeAndAnswersWithTheSeq)
{
    test_server srv;
    auto c = ws_client::open(srv.port());
    c.subscribe("queue:p");
    c.send(R"({"type":"publish","id":"pub1","event":{"type":"job.queued","job_id":"p1","queue":"p"}})");
    auto ev = c.read_until("published");
    EXPECT_EQ(ev.at("id"), "pub1");
    EXPECT_EQ(ev.at("seq"), 1);
    bool saw_event = false;
    for (auto const& m : c.skipped)
        saw_event = saw_event || m.at("type") == "event";
    if (!saw_event) {
        EXPECT_EQ(c.read_until("event").at("seq"), 1);
    }
    c.send(R"({"type":"publish","id":"pub2","event":{"type":"job.started","job_id":"p1","queue":"p","attempt":0}})");
    auto bad = c.read_until("error");
    EXPECT_EQ(bad.at("code"), "invalid_message");
    EXPECT_EQ(bad.at("path"), "/event/attempt");
}

TEST(WsProtocolTest, ShutdownClosesWebSocketsWith1001)
{
    test_server srv;
    auto c = ws_client::open(srv.port());
    c.subscribe("queue:z");
    std::thread stopper([&] { srv.stop(); });
    beast::flat_buffer b;
    beast::error_code ec;
    for (int i = 0; i < 10 && !ec; ++i)
        ec = c.read(b);
    stopper.join();
    EXPECT_EQ(ec, websocket::error::closed) << ec.message();
    EXPECT_EQ(c.stream().reason().code, websocket::close_code::going_away);
    EXPECT_EQ(srv.exit_code(), 0);
}

}  // namespace
}  // namespace jobwatch::test
