// The REST API end to end: status codes, problem documents, filters and paging.
#include "gateway/gateway_support.hpp"

namespace jobwatch::test {
namespace {

void seed(http_client& h)
{
    std::string body;
    for (int i = 0; i < 30; ++i) {
        auto const id = "job" + std::to_string(i);
        auto const q = i % 2 ? "odd" : "even";
        auto const run = R"("run_id":"run)" + std::to_string(i % 3) + R"(","tenant_id":"t)" + std::to_string(i % 2) +
                         R"(","user_id":"u)" + std::to_string(i % 5) + R"(","job_type":"kind)" + std::to_string(i % 4) +
                         "\"";
        body += event_json("job.queued", id, q, run) + "\n";
        if (i % 3 == 0) {
            body += event_json("job.started", id, q, run + R"(,"attempt":1)") + "\n";
            body += event_json("job.log", id, q, run + R"(,"level":"info","message":"line one")") + "\n";
            body += event_json("job.log", id, q, run + R"(,"level":"warn","message":"line two")") + "\n";
            body += event_json("job.failed", id, q,
                               run + R"(,"attempt":1,"will_retry":false,"error":"boom )" + std::to_string(i) + "\"") +
                    "\n";
        }
    }
    auto r = h.post("/api/v1/events", body, "application/x-ndjson");
    ASSERT_EQ(r.status, 200u) << r.body;
    ASSERT_EQ(r.json().at("rejected"), 0) << r.body;
}

TEST(RestTest, NdjsonIngestRejectsBadLinesAndKeepsTheGoodOnes)
{
    test_server srv;
    http_client h(srv.port());
    std::string body = event_json("job.queued", "a", "q") + "\n" + "{not json\n" + "\n" +
                       R"({"type":"job.queued","job_id":"b"})" + "\n" + event_json("job.queued", "c", "q") + "\r\n" +
                       R"({"type":"job.queued","job_id":"d","queue":"q","id":"dup"})" + "\n" +
                       R"({"type":"job.queued","job_id":"d","queue":"q","id":"dup"})" + "\n";
    auto r = h.post("/api/v1/events", body, "application/x-ndjson");
    ASSERT_EQ(r.status, 200u) << r.body;
    auto j = r.json().as_object();
    EXPECT_EQ(j.at("accepted"), 3);
    EXPECT_EQ(j.at("rejected"), 2);
    EXPECT_EQ(j.at("duplicates"), 1);
    auto const& results = j.at("results").as_array();
    ASSERT_EQ(results.size(), 3u);
    EXPECT_EQ(results[0].at("line"), 2);
    EXPECT_EQ(results[0].at("pointer"), "");
    EXPECT_EQ(results[1].at("line"), 4);
    EXPECT_NE(results[1].at("error").as_string().find("queue"), std::string::npos) << results[1];
    EXPECT_EQ(results[2].at("line"), 7);
    EXPECT_EQ(results[2].at("status"), "duplicate");
    EXPECT_EQ(h.get("/api/v1/jobs/c").status, 200u);
    EXPECT_EQ(h.get("/api/v1/jobs/b").status, 404u);
}

TEST(RestTest, SingleEventIngestAnswersWithItsSeqOrAProblem)
{
    test_server srv;
    http_client h(srv.port());
    auto ok = h.post("/api/v1/events", event_json("job.queued", "a", "q"));
    EXPECT_EQ(ok.status, 202u);
    EXPECT_EQ(ok.json().at("seq"), 1);
    auto bad = h.post("/api/v1/events", R"({"type":"job.started","job_id":"a","queue":"q","attempt":"one"})");
    EXPECT_EQ(bad.status, 400u);
    EXPECT_EQ(bad.headers[bhttp::field::content_type], "application/problem+json");
    EXPECT_EQ(bad.json().at("pointer"), "/attempt");
    EXPECT_EQ(bad.json().at("status"), 400);
    auto wrong_type = h.post("/api/v1/events", "type=job.queued", "application/x-www-form-urlencoded");
    EXPECT_EQ(wrong_type.status, 415u);
    auto get = h.get("/api/v1/events");
    EXPECT_EQ(get.status, 405u);
    EXPECT_EQ(get.headers[bhttp::field::allow], "POST");
}

TEST(RestTest, JobsAreFilteredAndPaged)
{
    test_server srv;
    http_client h(srv.port());
    seed(h);
    auto all = h.get("/api/v1/jobs").json().as_object();
    EXPECT_EQ(all.at("total"), 30);
    EXPECT_EQ(all.at("limit"), 50);
    EXPECT_EQ(all.at("items").as_array().size(), 30u);
    auto page = h.get("/api/v1/jobs?limit=7&offset=28").json().as_object();
    EXPECT_EQ(page.at("items").as_array().size(), 2u);
    EXPECT_EQ(page.at("offset"), 28);
    auto failed = h.get("/api/v1/jobs?status=failed").json().as_object();
    EXPECT_EQ(failed.at("total"), 10);
    for (auto const& it : failed.at("items").as_array())
        EXPECT_EQ(it.at("state"), "failed");
    EXPECT_EQ(h.get("/api/v1/jobs?queue=odd").json().at("total"), 15);
    // A run and a user belong to a tenant: run1 of t0 and run1 of t1 are two runs.
    EXPECT_EQ(h.get("/api/v1/jobs?tenant_id=t0&run_id=run1").json().at("total"), 5);
    EXPECT_EQ(h.get("/api/v1/jobs?tenant_id=t1&run_id=run1").json().at("total"), 5);
    EXPECT_EQ(h.get("/api/v1/jobs?run_id=run1").json().at("total"), 0) << "run1 of no tenant";
    EXPECT_EQ(h.get("/api/v1/jobs?tenant_id=t1&status=failed").json().at("total"), 5);
    EXPECT_EQ(h.get("/api/v1/jobs?tenant_id=t0&user_id=u0").json().at("total"), 3);
    EXPECT_EQ(h.get("/api/v1/jobs?type=kind3").json().at("total"), 7);
    EXPECT_EQ(h.get("/api/v1/jobs?since=2100-01-01T00:00:00Z").json().at("total"), 0);
    EXPECT_EQ(h.get("/api/v1/jobs?until=2100-01-01T00:00:00Z").json().at("total"), 30);
    for (auto const* bad : {"/api/v1/jobs?limit=0", "/api/v1/jobs?limit=101", "/api/v1/jobs?status=lost",
                            "/api/v1/jobs?offset=-1", "/api/v1/jobs?since=yesterday"}) {
        auto r = h.get(bad);
        EXPECT_EQ(r.status, 400u) << bad;
        EXPECT_EQ(r.headers[bhttp::field::content_type], "application/problem+json") << bad;
    }
}

TEST(RestTest, OneJobItsLogsAndItsEvents)
{
    test_server srv;
    http_client h(srv.port());
    seed(h);
    auto job = h.get("/api/v1/jobs/job3");
    ASSERT_EQ(job.status, 200u);
    EXPECT_EQ(job.json().at("state"), "failed");
    EXPECT_EQ(job.json().at("last_error"), "boom 3");
    EXPECT_EQ(h.get("/api/v1/jobs/nope").status, 404u);
    auto logs = h.get("/api/v1/jobs/job3/logs").json().as_object();
    ASSERT_EQ(logs.at("items").as_array().size(), 2u);
    EXPECT_EQ(logs.at("items").as_array()[1].at("message"), "line two");
    auto const first_seq = logs.at("items").as_array()[0].at("seq").as_int64();
    auto later = h.get("/api/v1/jobs/job3/logs?since=" + std::to_string(first_seq)).json().as_object();
    ASSERT_EQ(later.at("items").as_array().size(), 1u);
    EXPECT_EQ(h.get("/api/v1/jobs/job3/logs?limit=1").json().at("items").as_array().size(), 1u);
    auto events = h.get("/api/v1/jobs/job3/events").json().as_object();
    EXPECT_EQ(events.at("complete"), true);
    auto const& items = events.at("items").as_array();
    ASSERT_EQ(items.size(), 5u);
    EXPECT_EQ(items[0].at("event").at("type"), "job.queued");
    EXPECT_EQ(items[4].at("event").at("type"), "job.failed");
    EXPECT_EQ(h.get("/api/v1/jobs/nope/events").status, 404u);
    EXPECT_EQ(h.get("/api/v1/jobs/nope/logs").status, 404u);
}

TEST(RestTest, RunsQueuesFailuresAndHealth)
{
    test_server srv;
    http_client h(srv.port());
    seed(h);
    auto run = h.get("/api/v1/runs/run0/summary?tenant_id=t1");
    ASSERT_EQ(run.status, 200u) << run.body;
    EXPECT_EQ(run.json().at("scope"), "run:t1/run0");
    EXPECT_EQ(run.json().at("counts").at("total"), 5);
    EXPECT_EQ(h.get("/api/v1/runs/run0/summary").status, 404u) << "run0 of no tenant";
    EXPECT_EQ(h.get("/api/v1/runs/none/summary?tenant_id=t1").status, 404u);
    auto queues = h.get("/api/v1/queues").json().as_object();
    ASSERT_EQ(queues.at("items").as_array().size(), 2u);
    EXPECT_EQ(queues.at("items").as_array()[0].at("queue"), "even");
    auto health = h.get("/api/v1/health/queues");
    ASSERT_EQ(health.status, 200u);
    EXPECT_EQ(health.json().at("kind"), "health_report");
    auto stats = h.get("/api/v1/jobs/failed/stats");
    ASSERT_EQ(stats.status, 200u);
    EXPECT_EQ(stats.json().at("total_failures"), 10);
    auto recent = h.get("/api/v1/jobs/failed/recent?limit=3").json().as_object();
    ASSERT_EQ(recent.at("items").as_array().size(), 3u);
    EXPECT_EQ(recent.at("items").as_array()[0].at("job_id"), "job27") << "newest first";
    EXPECT_EQ(h.get("/api/v1/jobs/failed/recent").json().at("items").as_array().size(), 10u);
}

TEST(RestTest, UnknownPathsMethodsAndMalformedRequests)
{
    test_server srv;
    http_client h(srv.port());
    auto r = h.get("/api/v1/nothing");
    EXPECT_EQ(r.status, 404u);
    EXPECT_EQ(r.json().at("type"), "about:blank");
    EXPECT_EQ(r.json().at("status"), 404);
    auto del = h.request(bhttp::verb::delete_, "/api/v1/jobs");
    EXPECT_EQ(del.status, 405u);
    EXPECT_EQ(del.headers[bhttp::field::allow], "GET, HEAD");
    EXPECT_EQ(h.get("/api/v1/jobs?queue=%zz").status, 400u);
    auto ws = h.get("/ws");
    EXPECT_EQ(ws.status, 426u);
    // Keep-alive: the same connection still serves.
    EXPECT_EQ(h.get("/healthz").status, 200u);
}

TEST(RestTest, RuntimeSettingsAreValidatedAndApplied)
{
    test_server srv;
    http_client h(srv.port());
    auto cfg = h.get("/api/v1/monitor/config");
    ASSERT_EQ(cfg.status, 200u);
    EXPECT_FALSE(cfg.json().at("settings").as_object().contains("auth")) << "tokens are never echoed";
    EXPECT_EQ(cfg.json().at("settings").at("dlq").at("threshold"), 10);
    auto changed = h.post("/api/v1/monitor/config", R"({"dlq":{"threshold":2},"gateway":{"heartbeat_ms":5000}})");
    ASSERT_EQ(changed.status, 200u) << changed.body;
    EXPECT_EQ(changed.json().at("settings").at("dlq").at("threshold"), 2);
    EXPECT_EQ(changed.json().at("settings").at("dlq").at("window_ms"), 300000) << "other settings are kept";
    // The monitor uses it at once: two failures now fire an alert.
    auto ws = ws_client::open(srv.port());
    ws.subscribe("alerts");
    h.post("/api/v1/events", event_json("job.failed", "f1", "pay", R"("attempt":1,"will_retry":false,"error":"x")"));
    h.post("/api/v1/events", event_json("job.failed", "f2", "pay", R"("attempt":1,"will_retry":false,"error":"x")"));
    auto alert = ws.read_until("alert");
    EXPECT_EQ(alert.at("alert").at("status"), "firing");
    EXPECT_NE(boost::json::serialize(alert.at("alert")).find("pay"), std::string::npos);
}

TEST(RestTest, RuntimeSettingsRefuseWhatNeedsARestartAndInvalidValues)
{
    test_server srv;
    http_client h(srv.port());
    auto port = h.post("/api/v1/monitor/config", R"({"gateway":{"port":9}})");
    EXPECT_EQ(port.status, 422u);
    EXPECT_EQ(port.json().at("pointer"), "/gateway/port");
    auto store = h.post("/api/v1/monitor/config", R"({"store":{"max_finished_jobs":5}})");
    EXPECT_EQ(store.status, 422u);
    auto bad = h.post("/api/v1/monitor/config", R"({"dlq":{"threshold":-1}})");
    EXPECT_EQ(bad.status, 400u);
    EXPECT_EQ(bad.json().at("pointer"), "/dlq/threshold");
    EXPECT_EQ(h.post("/api/v1/monitor/config", "[1]").status, 400u);
    EXPECT_EQ(h.get("/api/v1/monitor/config").json().at("settings").at("dlq").at("threshold"), 10)
        << "a refused change changes nothing";
}

TEST(RestTest, ConnectionsAreListed)
{
    test_server srv;
    auto a = ws_client::open(srv.port());
    a.subscribe("queue:x");
    auto b = ws_client::open(srv.port());
    b.subscribe("queue:x");
    http_client h(srv.port());
    auto r = h.get("/api/v1/monitor/connections").json().as_object();
    EXPECT_EQ(r.at("websocket"), 2);
    EXPECT_EQ(r.at("http"), 1);
    EXPECT_EQ(r.at("top_rooms").as_array()[0].at("room"), "queue:x");
    EXPECT_EQ(r.at("top_rooms").as_array()[0].at("subscribers"), 2);
}

}  // namespace
}  // namespace jobwatch::test
