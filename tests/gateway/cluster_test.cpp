// cluster.mode redis, in process: two servers on one real redis-server
// (started on a free port by the test). Ingest answers once Redis has the
// event and every instance applies it with the same number; producer ids are
// dropped cluster-wide; an alert is appended once for the cluster; without
// Redis ingest is refused (or held, with cluster.buffer_events) and readiness
// turns false, and both recover when Redis is back. The scale-out behaviour
// with processes, 1,000 clients, SIGKILL and a Redis outage is
// tests/node/cluster_e2e.mjs.
#include "gateway_support.hpp"
#include "../redis/redis_server.hpp"

#include <jobwatch/redis/connection.hpp>

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <thread>

namespace jobwatch::test {
namespace {

config clustered_config(redis_server const& srv, std::string const& id, std::size_t buffer = 0)
{
    auto c = test_server::default_config();
    c.cluster.mode = cluster_mode::redis;
    c.cluster.redis_url = "redis://127.0.0.1:" + std::to_string(srv.port()) + "/0";
    c.cluster.instance_id = id;
    c.cluster.buffer_events = buffer;
    c.dlq.threshold = 5;
    return c;
}

// Polls `f` every 20 ms until it holds or 10 s pass.
template<class F>
bool cluster_eventually(F f, std::chrono::milliseconds limit = std::chrono::seconds{10})
{
    auto const end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        if (f())
            return true;
        std::this_thread::sleep_for(std::chrono::milliseconds{20});
    }
    return f();
}

// The next message of `type`: one the client skipped while subscribing (a replay), else the next to come.
boost::json::object next_of(ws_client& ws, std::string_view type)
{
    for (auto it = ws.skipped.begin(); it != ws.skipped.end(); ++it)
        if (it->at("type").as_string() == type) {
            auto m = std::move(*it);
            ws.skipped.erase(it);
            return m;
        }
    return ws.read_until(type);
}

bool cluster_ready(test_server& s)
{
    return http_client(s.port()).get("/readyz").status == 200;
}

// The number of entries of kind `field` ("e": events, "a": alerts) in the stream.
std::size_t stream_entries(redis_server const& srv, std::string const& field)
{
    asio::io_context io;
    redis::settings s;
    s.port = srv.port();
    redis::connection conn(io.get_executor(), s);
    std::size_t n = 0;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            using namespace asio::experimental::awaitable_operators;
            auto read = [&]() -> asio::awaitable<void> {
                redis::request req;
                req.push("XRANGE", "jobwatch:events", "-", "+");
                auto [ec, replies] = co_await conn.exec(req);
                if (ec)
                    co_return;
                for (auto const& e : std::get<redis::reply::array_type>(replies.at(0).value())) {
                    auto const& fields = std::get<redis::reply::array_type>(std::get<redis::reply::array_type>(e.value())[1].value());
                    if (fields.at(0).string() == field)
                        ++n;
                }
            };
            co_await (conn.run() || read());
        },
        asio::detached);
    io.run_for(std::chrono::seconds{5});
    return n;
}

struct ClusterTest : ::testing::Test
{
    redis_server srv{redis_server::options{.password = {}, .extra = {"--appendonly", "yes"}}};
    void SetUp() override { srv.start(); }
};

TEST_F(ClusterTest, IngestIsAnsweredOnceInRedisAndEveryInstanceAppliesItWithTheSameNumber)
{
    test_server a(clustered_config(srv, "a"));
    test_server b(clustered_config(srv, "b"));
    ASSERT_TRUE(cluster_eventually([&] { return cluster_ready(a) && cluster_ready(b); }));

    http_client ha(a.port()), hb(b.port());
    auto const first = ha.post("/api/v1/events", R"({"type":"job.queued","job_id":"j1","queue":"q","id":"e1"})");
    ASSERT_EQ(first.status, 202u) << first.body;
    EXPECT_EQ(first.json().at("seq").as_int64(), 1);
    // The same producer id through the other instance: a repeat, cluster-wide.
    auto const repeat = hb.post("/api/v1/events", R"({"type":"job.queued","job_id":"j1","queue":"q","id":"e1"})");
    EXPECT_EQ(repeat.status, 200u);
    EXPECT_EQ(repeat.json().at("status").as_string(), "duplicate");
    // A batch through b; an invalid line is refused by number, the rest appended in order.
    auto const batch = hb.post("/api/v1/events",
                               "{\"type\":\"job.started\",\"job_id\":\"j1\",\"queue\":\"q\",\"attempt\":1,\"id\":\"e2\"}\n"
                               "not json\n"
                               "{\"type\":\"job.progress\",\"job_id\":\"j1\",\"queue\":\"q\",\"percent\":40,\"id\":\"e3\"}\n",
                               "application/x-ndjson");
    ASSERT_EQ(batch.status, 200u) << batch.body;
    EXPECT_EQ(batch.json().at("accepted").as_int64(), 2);
    EXPECT_EQ(batch.json().at("rejected").as_int64(), 1);

    // Both instances hold the job as of number 3, with the same events and numbers.
    for (auto* s : {&a, &b}) {
        http_client h(s->port());
        ASSERT_TRUE(cluster_eventually([&] {
            auto const r = h.get("/api/v1/jobs/j1");
            return r.status == 200 && r.json().at("seq").as_int64() == 3;
        })) << s->port();
        auto const job = h.get("/api/v1/jobs/j1").json().as_object();
        EXPECT_EQ(job.at("state").as_string(), "running");
        EXPECT_EQ(job.at("progress").at("percent").to_number<double>(), 40.0);
    }
    EXPECT_EQ(ha.get("/api/v1/jobs/j1/events").body, hb.get("/api/v1/jobs/j1/events").body);

    // A WebSocket client of a resumes on b from the number it has.
    auto wa = ws_client::open(a.port());
    wa.subscribe("job:j1", 1);
    EXPECT_EQ(next_of(wa, "event").at("seq").as_int64(), 2);
    auto wb = ws_client::open(b.port());
    wb.subscribe("job:j1", 2);
    EXPECT_EQ(next_of(wb, "event").at("seq").as_int64(), 3);

    // Publishing over the WebSocket goes through the stream too.
    wb.send(R"({"type":"publish","id":"p1","event":{"type":"job.completed","job_id":"j1","queue":"q"}})");
    auto const published = next_of(wb, "published");
    EXPECT_EQ(published.at("seq").as_int64(), 4);
    std::int64_t seen = 0;
    for (int i = 0; i < 3 && seen < 4; ++i)
        seen = next_of(wa, "event").at("seq").as_int64();
    EXPECT_EQ(seen, 4);

    auto const mon = ha.get("/api/v1/monitor/cluster");
    ASSERT_EQ(mon.status, 200u);
    auto const m = mon.json().as_object();
    EXPECT_EQ(m.at("last_seq").as_int64(), 4);
    EXPECT_EQ(m.at("length").as_int64(), 4);
    EXPECT_TRUE(cluster_eventually([&] {
        auto const inst = ha.get("/api/v1/monitor/cluster").json().at("instances").as_array();
        return inst.size() == 2 && inst[0].at("lag").as_int64() == 0 && inst[1].at("lag").as_int64() == 0;
    }));
    EXPECT_EQ(stream_entries(srv, "e"), 4u);
}

TEST_F(ClusterTest, AnAlertIsAppendedOnceForTheClusterAndEveryInstanceDeliversIt)
{
    test_server a(clustered_config(srv, "a"));
    test_server b(clustered_config(srv, "b"));
    ASSERT_TRUE(cluster_eventually([&] { return cluster_ready(a) && cluster_ready(b); }));
    // Six jobs fail for good in queue q (threshold 5): each instance's monitor raises the alert.
    std::string batch;
    for (int i = 0; i < 6; ++i)
        batch += R"({"type":"job.failed","job_id":"f)" + std::to_string(i) +
                 R"(","queue":"q","attempt":1,"will_retry":false,"error":"boom"})" + "\n";
    ASSERT_EQ(http_client(a.port()).post("/api/v1/events", batch, "application/x-ndjson").status, 200u);

    std::int64_t seq_a = 0, seq_b = 0;
    auto wa = ws_client::open(a.port());
    auto wb = ws_client::open(b.port());
    ASSERT_TRUE(cluster_eventually([&] { return stream_entries(srv, "a") >= 1; }, std::chrono::seconds{15}));
    wa.subscribe("alerts", 0);
    wb.subscribe("alerts", 0);
    seq_a = next_of(wa, "alert").at("seq").as_int64();
    seq_b = next_of(wb, "alert").at("seq").as_int64();
    EXPECT_EQ(seq_a, seq_b);
    EXPECT_GT(seq_a, 6);
    // A second later (each monitor ticks every second) there is still one.
    std::this_thread::sleep_for(std::chrono::milliseconds{1500});
    EXPECT_EQ(stream_entries(srv, "a"), 1u);
}

TEST_F(ClusterTest, WithoutRedisIngestIsRefusedAndReadinessTurnsFalseThenBothRecover)
{
    test_server a(clustered_config(srv, "a"));
    ASSERT_TRUE(cluster_eventually([&] { return cluster_ready(a); }));
    http_client h(a.port());
    ASSERT_EQ(h.post("/api/v1/events", R"({"type":"job.queued","job_id":"j1","queue":"q"})").status, 202u);
    srv.stop();
    ASSERT_TRUE(cluster_eventually([&] { return !cluster_ready(a); }));
    auto const refused = h.post("/api/v1/events", R"({"type":"job.queued","job_id":"j2","queue":"q"})");
    EXPECT_EQ(refused.status, 503u) << refused.body;
    EXPECT_EQ(refused.headers[bhttp::field::retry_after], "1");
    auto const health = h.get("/api/v1/health").json().as_object();
    EXPECT_EQ(health.at("status").as_string(), "unavailable");
    EXPECT_FALSE(health.at("checks").at("cluster").at("connected").as_bool());
    // The WebSocket stays open meanwhile.
    auto ws = ws_client::open(a.port());
    ws.subscribe("job:j1");

    srv.start();  // appendonly: the stream and its numbering are back
    ASSERT_TRUE(cluster_eventually([&] { return cluster_ready(a); }, std::chrono::seconds{20}));
    auto const again = h.post("/api/v1/events", R"({"type":"job.started","job_id":"j1","queue":"q","attempt":1})");
    ASSERT_EQ(again.status, 202u) << again.body;
    EXPECT_EQ(again.json().at("seq").as_int64(), 2);
    EXPECT_EQ(next_of(ws, "event").at("seq").as_int64(), 2);
}

TEST_F(ClusterTest, WithBufferEventsIngestWaitsForRedisAndIsAnsweredOnceInIt)
{
    test_server a(clustered_config(srv, "a", 100));
    ASSERT_TRUE(cluster_eventually([&] { return cluster_ready(a); }));
    srv.stop();
    ASSERT_TRUE(cluster_eventually([&] { return !cluster_ready(a); }));
    // More than cluster.buffer_events at once is refused...
    std::string big;
    for (int i = 0; i < 101; ++i)
        big += R"({"type":"job.queued","job_id":"b)" + std::to_string(i) + R"(","queue":"q"})" + "\n";
    auto const over = http_client(a.port()).post("/api/v1/events", big, "application/x-ndjson");
    ASSERT_EQ(over.status, 200u);
    EXPECT_EQ(over.json().at("rejected").as_int64(), 101);
    // ...one event waits, and is answered 202 once Redis has it.
    auto held = std::async(std::launch::async, [&] {
        return http_client(a.port(), std::chrono::seconds{30})
            .post("/api/v1/events", R"({"type":"job.queued","job_id":"held","queue":"q"})");
    });
    EXPECT_EQ(held.wait_for(std::chrono::milliseconds{500}), std::future_status::timeout);
    srv.start();
    ASSERT_EQ(held.wait_for(std::chrono::seconds{25}), std::future_status::ready);
    auto const r = held.get();
    EXPECT_EQ(r.status, 202u) << r.body;
    EXPECT_EQ(r.json().at("seq").as_int64(), 1);
    http_client h(a.port());
    EXPECT_TRUE(cluster_eventually([&] { return h.get("/api/v1/jobs/held").status == 200; }));
}

TEST(ClusterLostDataTest, ARedisThatLostItsDataIsReportedNotFollowedSilently)
{
    redis_server srv;  // appendonly no: a restart forgets the stream and its numbering
    srv.start();
    test_server a(clustered_config(srv, "a"));
    ASSERT_TRUE(cluster_eventually([&] { return cluster_ready(a); }));
    http_client h(a.port());
    for (int i = 0; i < 3; ++i)
        ASSERT_EQ(h.post("/api/v1/events", R"({"type":"job.queued","job_id":"j)" + std::to_string(i) + R"(","queue":"q"})")
                      .status,
                  202u);
    srv.stop();
    srv.start();
    // Readiness says why, once the reader sees the numbering below what it applied.
    ASSERT_TRUE(cluster_eventually(
        [&] {
            auto const r = h.get("/readyz");
            return r.status == 503 && r.body.find("Redis lost its data") != std::string::npos;
        },
        std::chrono::seconds{20}));
    EXPECT_FALSE(h.get("/api/v1/health").json().at("ready").as_bool());
}

}  // namespace
}  // namespace jobwatch::test
