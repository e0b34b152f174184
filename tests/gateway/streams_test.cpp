// SSE and long-poll: the same rooms and messages as WebSocket, with resume.
#include "gateway/gateway_support.hpp"

namespace jobwatch::test {
namespace {

TEST(StreamsTest, SseStreamsSnapshotsThenEventsWithTheirSeqAsId)
{
    test_server srv;
    http_client h(srv.port());
    h.post("/api/v1/events", event_json("job.queued", "s1", "sq"));
    sse_client sse(srv.port(), "/api/v1/stream?room=queue:sq&room=job:s1");
    EXPECT_EQ(sse.status_line, "HTTP/1.1 200 OK");
    auto a = sse.next();
    auto b = sse.next();
    EXPECT_EQ(a.event, "subscribed");
    EXPECT_EQ(a.data.at("room"), "queue:sq");
    EXPECT_EQ(b.data.at("room"), "job:s1");
    EXPECT_EQ(b.data.at("snapshot").at("state"), "queued");
    h.post("/api/v1/events", event_json("job.started", "s1", "sq", R"("attempt":1)"));
    auto e1 = sse.next_event();
    auto e2 = sse.next_event();
    EXPECT_EQ(e1.id, "2");
    EXPECT_EQ(e2.id, "2");
    EXPECT_EQ(e1.data.at("seq"), 2);
    EXPECT_NE(e1.data.at("room"), e2.data.at("room"));
}

TEST(StreamsTest, SseResumesFromLastEventId)
{
    test_server srv;
    http_client h(srv.port());
    for (int i = 0; i < 5; ++i)
        h.post("/api/v1/events", event_json("job.queued", "r" + std::to_string(i), "rq"));
    sse_client sse(srv.port(), "/api/v1/stream?room=queue:rq", "3");
    auto a = sse.next();
    auto b = sse.next();
    EXPECT_EQ(a.id, "4");
    EXPECT_EQ(b.id, "5");
    EXPECT_EQ(b.data.at("event").at("job_id"), "r4");
    // After the missed records, the room's current state.
    auto state = sse.next();
    EXPECT_EQ(state.data.at("type"), "subscribed");
    EXPECT_EQ(state.data.at("seq"), 5);
    h.post("/api/v1/events", event_json("job.queued", "r5", "rq"));
    // The room's summary (its id is the room's position, 5) may come first: the aggregator ticks.
    EXPECT_EQ(sse.next_event().id, "6");
}

TEST(StreamsTest, SseRefusesBadRequests)
{
    test_server srv;
    http_client h(srv.port());
    EXPECT_EQ(h.get("/api/v1/stream").status, 400u);
    EXPECT_EQ(h.get("/api/v1/stream?room=bogus").status, 400u);
    auto r = h.request(bhttp::verb::post, "/api/v1/stream?room=alerts", "x");
    EXPECT_EQ(r.status, 405u);
    EXPECT_EQ(r.headers[bhttp::field::allow], "GET");
}

TEST(StreamsTest, LongPollWithoutSinceGivesSnapshotsAndTheSeqToPollFrom)
{
    test_server srv;
    http_client h(srv.port());
    h.post("/api/v1/events", event_json("job.queued", "p1", "pq"));
    auto r = h.get("/api/v1/poll?room=job:p1");
    ASSERT_EQ(r.status, 200u);
    auto j = r.json().as_object();
    ASSERT_EQ(j.at("messages").as_array().size(), 1u);
    EXPECT_EQ(j.at("messages").as_array()[0].at("type"), "subscribed");
    EXPECT_EQ(j.at("seq"), 1);
}

TEST(StreamsTest, LongPollReturnsAtOnceWhenThereIsSomethingAfterSince)
{
    test_server srv;
    http_client h(srv.port());
    h.post("/api/v1/events", event_json("job.queued", "p1", "pq"));
    h.post("/api/v1/events", event_json("job.queued", "x", "other"));
    h.post("/api/v1/events", event_json("job.queued", "p2", "pq"));
    auto const t0 = std::chrono::steady_clock::now();
    auto j = h.get("/api/v1/poll?room=queue:pq&since=1&timeout_ms=20000").json().as_object();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds{5});
    // The event after `since`, then the room's state.
    ASSERT_EQ(j.at("messages").as_array().size(), 2u);
    EXPECT_EQ(j.at("messages").as_array()[0].at("event").at("job_id"), "p2");
    EXPECT_EQ(j.at("messages").as_array()[1].at("type"), "subscribed");
    EXPECT_EQ(j.at("seq"), 3);
}

TEST(StreamsTest, LongPollWaitsForTheNextMessage)
{
    test_server srv;
    http_client h(srv.port());
    h.post("/api/v1/events", event_json("job.queued", "w0", "wq"));
    std::thread later([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds{200});
        http_client h2(srv.port());
        h2.post("/api/v1/events", event_json("job.queued", "w1", "wq"));
    });
    auto j = h.get("/api/v1/poll?room=queue:wq&since=1&timeout_ms=10000").json().as_object();
    later.join();
    ASSERT_EQ(j.at("messages").as_array().size(), 2u);
    EXPECT_EQ(j.at("messages").as_array()[0].at("event").at("job_id"), "w1");
    EXPECT_EQ(j.at("messages").as_array()[1].at("type"), "subscribed");
    EXPECT_EQ(j.at("seq"), 2);
}

TEST(StreamsTest, LongPollIsEmptyAtTheTimeout)
{
    test_server srv;
    http_client h(srv.port());
    auto const t0 = std::chrono::steady_clock::now();
    auto j = h.get("/api/v1/poll?room=queue:quiet&since=0&timeout_ms=150").json().as_object();
    auto const took = std::chrono::steady_clock::now() - t0;
    EXPECT_GE(took, std::chrono::milliseconds{140});
    EXPECT_TRUE(j.at("messages").as_array().empty());
    EXPECT_EQ(j.at("seq"), 0);
    // The connection is reusable afterwards.
    EXPECT_EQ(h.get("/healthz").status, 200u);
}

TEST(StreamsTest, LongPollTooOldGetsAReset)
{
    auto cfg = test_server::default_config();
    cfg.event_log.history_per_room = 2;
    test_server srv(cfg);
    http_client h(srv.port());
    for (int i = 0; i < 5; ++i)
        h.post("/api/v1/events", event_json("job.queued", "o" + std::to_string(i), "oq"));
    auto j = h.get("/api/v1/poll?room=queue:oq&since=1&timeout_ms=0").json().as_object();
    auto const& m = j.at("messages").as_array();
    ASSERT_EQ(m.size(), 2u);
    EXPECT_EQ(m[0].at("type"), "reset");
    EXPECT_EQ(m[1].at("type"), "subscribed");
    EXPECT_EQ(j.at("seq"), 5);
}

TEST(StreamsTest, ShutdownEndsParkedLongPolls)
{
    test_server srv;
    http_client h(srv.port());
    std::thread stopper([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds{200});
        srv.stop();
    });
    auto r = h.get("/api/v1/poll?room=queue:z&since=0&timeout_ms=30000");
    stopper.join();
    EXPECT_EQ(r.status, 200u) << "a request in flight finishes";
    EXPECT_EQ(r.headers[bhttp::field::connection], "close");
}

}  // namespace
}  // namespace jobwatch::test
