// The demo's simulated workload: live data at once, and a failure burst that
// fires the dead-letter alert and then resolves it.
#include "gateway/gateway_support.hpp"

#include <demo/workload.hpp>

namespace jobwatch::test {
namespace {

TEST(DemoTest, TheWorkloadFiresTheDeadLetterAlertAndResolvesIt)
{
    auto cfg = test_server::default_config();
    app a(cfg, app::options{.log = {}, .drain_timeout = std::chrono::seconds{5}, .handle_signals = false});
    a.add<aggregator>();
    a.add<dlq_monitor>({.threshold = 10, .window = std::chrono::seconds{1}});
    a.add<health>();
    auto& gw = a.add<gateway>({.port = 0});
    a.add<demo::workload>({.jobs_per_second = 20, .tick = std::chrono::milliseconds{50},
                           .burst_every = std::chrono::seconds{2}, .seed = 7});
    std::thread t([&] { a.run(); });
    struct stop_guard
    {
        app& a;
        std::thread& t;
        ~stop_guard()
        {
            a.stop();
            t.join();
        }
    } guard{a, t};

    auto ws = ws_client::open(gw.port());
    ws.subscribe("alerts");
    auto const firing = ws.read_until("alert");
    EXPECT_EQ(firing.at("alert").at("status"), "firing");
    EXPECT_NE(boost::json::serialize(firing).find("payments"), std::string::npos);
    // The burst ages out of the one-second window: resolved.
    for (;;) {
        auto m = ws.read_until("alert");
        if (m.at("alert").at("status") == "resolved") {
            EXPECT_EQ(m.at("alert").at("id"), firing.at("alert").at("id"));
            break;
        }
    }
    // Meanwhile jobs of several tenants and queues progress, complete and fail.
    http_client h(gw.port());
    auto const jobs = h.get("/api/v1/jobs?limit=100").json().as_object();
    EXPECT_GT(jobs.at("total").as_int64(), 20);
    EXPECT_GT(h.get("/api/v1/jobs?status=succeeded").json().at("total").as_int64(), 0);
    EXPECT_GT(h.get("/api/v1/jobs?tenant_id=acme").json().at("total").as_int64(), 0);
    EXPECT_GT(h.get("/api/v1/jobs?tenant_id=globex").json().at("total").as_int64(), 0);
    EXPECT_GE(h.get("/api/v1/queues").json().at("items").as_array().size(), 3u);
}

}  // namespace
}  // namespace jobwatch::test
