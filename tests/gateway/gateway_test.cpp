// Test that the header is self-contained.
#include <jobwatch/components/gateway.hpp>

#include "gateway/gateway_support.hpp"

#include <future>

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

}  // namespace
}  // namespace jobwatch::test
