// Test that the header is self-contained.
#include <jobwatch/components/gateway.hpp>

#include "gateway/gateway_support.hpp"

#include <atomic>
#include <future>
#include <thread>

namespace jobwatch::test {
namespace {

TEST(GatewayTest, ServesHealthzAndReadyz)
{
    test_server srv;
    http_client c(srv.port());
    auto r = c.get("/healthz");
    EXPECT_EQ(r.status, 200u);
    EXPECT_EQ(r.json().at("status"), "ok");
    auto ready = c.get("/readyz");
    EXPECT_EQ(ready.status, 200u);
}

TEST(GatewayTest, WelcomesAndDeliversEventsOfASubscribedRoom)
{
    test_server srv;
    auto ws = ws_client::open(srv.port());
    auto sub = ws.subscribe("queue:emails");
    ASSERT_EQ(sub.at("type"), "subscribed") << boost::json::serialize(sub);
    EXPECT_EQ(sub.at("id"), "s-queue:emails");
    http_client c(srv.port());
    auto r = c.post("/api/v1/events", event_json("job.queued", "j1", "emails"));
    ASSERT_EQ(r.status, 202u) << r.body;
    auto ev = ws.read_until("event");
    EXPECT_EQ(ev.at("room"), "queue:emails");
    EXPECT_EQ(ev.at("event").at("job_id"), "j1");
    EXPECT_EQ(ev.at("seq"), r.json().at("seq"));
}

// The core grants a subscription before it takes the snapshot and posts its
// answer after every room message queued before it, so a client that
// subscribes while events stream in gets each later event exactly once,
// with or without I/O shards (the suite runs both ways).
TEST(GatewayTest, SubscribingMidStreamGetsEveryLaterEventExactlyOnce)
{
    test_server srv;
    constexpr int events = 300;
    std::atomic<std::int64_t> last_seq{0};
    std::thread publisher([&] {
        http_client c(srv.port());
        for (int i = 0; i < events; ++i) {
            auto r = c.post("/api/v1/events", event_json("job.queued", "mid-" + std::to_string(i), "emails"));
            if (r.status != 202u)
                return;
            last_seq = r.json().at("seq").as_int64();
        }
    });
    std::vector<ws_client> clients;
    std::vector<std::int64_t> from;
    for (int i = 0; i < 6; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds{15});
        clients.push_back(ws_client::open(srv.port()));
        auto sub = clients.back().subscribe("queue:emails");
        ASSERT_EQ(sub.at("type"), "subscribed") << boost::json::serialize(sub);
        from.push_back(sub.at("seq").as_int64());
    }
    publisher.join();
    auto const last = last_seq.load();
    ASSERT_GT(last, 0);
    for (std::size_t i = 0; i < clients.size(); ++i) {
        // Every event goes to queue:emails, so the room's seqs are consecutive.
        auto expect = from[i] + 1;
        while (expect <= last) {
            auto ev = clients[i].read_until("event");
            ASSERT_EQ(ev.at("seq").as_int64(), expect) << "client " << i << " subscribed at " << from[i];
            ++expect;
        }
    }
}

// gateway.threads = 2: connections are spread over two I/O threads, the
// monitor reports them per shard, and fan-out reaches clients on both.
TEST(GatewayTest, ShardsShareTheConnections)
{
    auto cfg = test_server::default_config();
    cfg.gateway.threads = 2;
    test_server srv(cfg);
    EXPECT_EQ(srv.gw().shard_count(), 2u);
    std::vector<ws_client> clients;
    for (int i = 0; i < 6; ++i) {
        clients.push_back(ws_client::open(srv.port()));
        ASSERT_EQ(clients.back().subscribe("queue:emails").at("type"), "subscribed");
    }
    http_client c(srv.port());
    auto mon = c.get("/api/v1/monitor/connections").json().as_object();
    EXPECT_EQ(mon.at("threads"), 2);
    EXPECT_EQ(mon.at("websocket"), 6);
    auto const& shards = mon.at("shards").as_array();
    ASSERT_EQ(shards.size(), 2u);
    for (auto const& sh : shards)
        EXPECT_GE(sh.at("connections").to_number<std::uint64_t>(), 3u) << boost::json::serialize(mon);
    auto const& top = mon.at("top_rooms").as_array();
    ASSERT_FALSE(top.empty());
    EXPECT_EQ(top[0].at("room"), "queue:emails");
    EXPECT_EQ(top[0].at("subscribers"), 6);

    auto r = c.post("/api/v1/events", event_json("job.queued", "sh1", "emails"));
    ASSERT_EQ(r.status, 202u) << r.body;
    for (auto& ws : clients)
        EXPECT_EQ(ws.read_until("event").at("seq"), r.json().at("seq"));
    EXPECT_EQ(srv.gw().counters()[gw::count::accepted], 7u);
    bool logged = false;
    for (auto const& line : srv.log_lines())
        logged = logged || line.find("with 2 I/O threads") != std::string::npos;
    EXPECT_TRUE(logged);
}

// What the core hands to an I/O thread is bounded too: past
// gateway.max_shard_backlog room messages not yet fanned out, the shard's
// subscribers of a room that loses messages get `lagged` after the last one
// that arrived, and resume from the event log with no gap.
TEST(GatewayTest, AShardFarBehindTheCoreLagsItsSubscribersInsteadOfQueueing)
{
    auto cfg = test_server::default_config();
    cfg.gateway.threads = 1;
    cfg.gateway.max_shard_backlog = 40;
    test_server srv(cfg);
    auto ws = ws_client::open(srv.port());
    auto sub = ws.subscribe("job:bk");
    ASSERT_EQ(sub.at("type"), "subscribed") << boost::json::serialize(sub);
    http_client h(srv.port());
    ASSERT_EQ(h.post("/api/v1/events", event_json("job.queued", "bk", "bq")).status, 202u);
    auto const first = ws.read_until("event").at("seq").as_int64();
    // One request, one core handler: 100 messages for the shard at once.
    std::string body;
    for (int i = 0; i < 100; ++i)
        body += event_json("job.log", "bk", "bq", R"("level":"info","message":"line )" + std::to_string(i) + "\"") +
                "\n";
    auto r = h.post("/api/v1/events", body, "application/x-ndjson");
    ASSERT_EQ(r.status, 200u) << r.body;
    ASSERT_EQ(r.json().at("accepted"), 100);
    std::int64_t expect = first + 1;
    for (int i = 0; i < 40; ++i, ++expect)
        ASSERT_EQ(ws.read_until("event").at("seq").as_int64(), expect);
    auto lag = ws.read();
    ASSERT_EQ(lag.at("type"), "lagged") << boost::json::serialize(lag);
    EXPECT_EQ(lag.at("room"), "job:bk");
    EXPECT_EQ(lag.at("resume_from").as_int64(), first + 40);
    // Unsubscribed: the next event of the room does not come; the resume brings all that was
    // missed (before its `subscribed`), each once.
    ws.skipped.clear();
    auto again = ws.subscribe("job:bk", lag.at("resume_from").as_int64());
    ASSERT_EQ(again.at("type"), "subscribed") << boost::json::serialize(again);
    EXPECT_EQ(again.at("seq").as_int64(), first + 100);
    for (auto const& m : ws.skipped) {
        ASSERT_EQ(m.at("type"), "event") << boost::json::serialize(m);
        EXPECT_EQ(m.at("seq").as_int64(), expect++);
    }
    EXPECT_EQ(expect, first + 101);
    auto const mon = h.get("/api/v1/monitor/connections").json().as_object();
    EXPECT_EQ(mon.at("counters").at("lagged"), 1) << boost::json::serialize(mon);
    EXPECT_EQ(mon.at("shards").as_array().at(0).at("backlog"), 0);
}

}  // namespace
}  // namespace jobwatch::test
