// Test that the header is self-contained.
#include <jobwatch/http/openapi.hpp>

// The OpenAPI document and the route table are one source of truth: every
// route of an app with every component the demo can run is documented, with
// its scope, and every documented operation is a route. The document a
// server serves lists what that server has, and needs no credentials.
#include "gateway/gateway_support.hpp"

#include <demo/workload.hpp>

#include <algorithm>
#include <set>

namespace jobwatch::test {
namespace {

using openapi_ops = std::set<http::api_operation>;

std::string describe_ops(openapi_ops const& s)
{
    std::string out;
    for (auto const& op : s)
        out += "  " + op.method + " " + op.path + " (" + op.scope + ")\n";
    return out.empty() ? "  (none)\n" : out;
}

// Operations on one side only while the parallel work that brings them is not
// merged. Each entry says why; remove it once the route and its documentation
// are both here. Nothing else may differ.
openapi_ops const pending_openapi = {
    // None now: every route is documented and every documented route served.
};

// What `served` has that the document lacks, and the other way round, but for `pending_openapi`.
std::pair<openapi_ops, openapi_ops> openapi_difference(std::vector<http::api_operation> const& served_list)
{
    openapi_ops const served(served_list.begin(), served_list.end());
    auto const documented_list = http::documented_operations();
    openapi_ops const documented(documented_list.begin(), documented_list.end());
    openapi_ops undocumented, unserved;
    std::set_difference(served.begin(), served.end(), documented.begin(), documented.end(),
                        std::inserter(undocumented, undocumented.end()));
    std::set_difference(documented.begin(), documented.end(), served.begin(), served.end(),
                        std::inserter(unserved, unserved.end()));
    for (auto const& p : pending_openapi) {
        undocumented.erase(p);
        unserved.erase(p);
    }
    return {undocumented, unserved};
}

TEST(OpenApiTest, EveryRouteOfEveryComponentIsDocumentedAndEveryDocumentedOperationIsARoute)
{
    // Every component the demo runs, the optional ones switched on by their settings:
    // BullMQ, the Redis bridge both ways, and the cluster (the app adds its node).
    // Nothing runs: routes are registered when components are added.
    auto cfg = test_server::default_config();
    cfg.cluster.mode = cluster_mode::redis;
    cfg.bullmq.queues = {"emails"};
    cfg.redis.publish = true;
    cfg.redis.ingest_channels = {"jobwatch:events"};
    app a(cfg, app::options{.log = {}, .drain_timeout = std::chrono::seconds{5}, .handle_signals = false});
    a.add<aggregator>();
    a.add<dlq_monitor>();
    a.add<health>();
    auto& gw = a.add<gateway>({.port = 0});
    a.add<bullmq_source>();
    a.add<redis_publisher>();
    a.add<redis_subscriber>();
    a.add<notifier>();
    a.add<demo::workload>();

    auto const served_list = gw.served_operations();
    openapi_ops const served(served_list.begin(), served_list.end());
    ASSERT_EQ(served.size(), served_list.size()) << "a route is registered twice";
    auto const documented_list = http::documented_operations();
    openapi_ops const documented(documented_list.begin(), documented_list.end());
    ASSERT_EQ(documented.size(), documented_list.size());

    auto const [undocumented, unserved] = openapi_difference(served_list);
    EXPECT_TRUE(undocumented.empty()) << "routes missing from schemas/api/operations.json (or with another scope):\n"
                                      << describe_ops(undocumented);
    EXPECT_TRUE(unserved.empty()) << "operations in schemas/api/operations.json that no route serves:\n"
                                  << describe_ops(unserved);
    // The list of exceptions is not a place to forget things in: each is still on one side only.
    for (auto const& p : pending_openapi)
        EXPECT_NE(served.count(p), documented.count(p)) << p.method << " " << p.path
                                                        << " is now on both sides: remove it from `pending_openapi`";
    // The comparison has something to compare: the core's, the components' and the gateway's own.
    EXPECT_GE(served.size(), 24u);
    EXPECT_TRUE(served.count({"get", "/api/v1/monitor/bullmq", "admin"}));
    EXPECT_TRUE(served.count({"get", "/api/v1/monitor/cluster", "admin"}));
    EXPECT_TRUE(served.count({"get", "/ws", "read"}));
}

TEST(OpenApiTest, TheServedDocumentListsWhatThisServerServesWithoutCredentials)
{
    auto c = test_server::default_config();
    c.auth.mode = auth_mode::static_tokens;
    c.auth.tokens["reader"] = principal{.subject = "r", .tenant_id = std::nullopt, .scopes = {auth_scope::read}};
    test_server srv(c);
    http_client h(srv.port());
    // Public: no token, in an auth mode where everything else wants one.
    EXPECT_EQ(h.get("/api/v1/jobs").status, 401u);
    auto const res = h.get("/api/v1/openapi.json");
    ASSERT_EQ(res.status, 200u) << res.body;
    EXPECT_EQ(res.headers[bhttp::field::content_type], "application/json");
    auto const doc = res.json().as_object();
    EXPECT_EQ(doc.at("openapi"), "3.1.0");
    EXPECT_EQ(doc.at("jsonSchemaDialect"), "https://json-schema.org/draft/2020-12/schema");

    openapi_ops listed;
    for (auto const& [path, item] : doc.at("paths").as_object())
        for (auto const& [method, op] : item.as_object())
            listed.insert({std::string(method), std::string(path), ""});
    openapi_ops expected;
    for (auto const& op : srv.gw().served_operations())
        expected.insert({op.method, op.path, ""});
    EXPECT_EQ(listed, expected) << "served:\n" << describe_ops(listed) << "expected:\n" << describe_ops(expected);
    // This server has no BullMQ source and no cluster: their operations are left out, their shapes kept.
    EXPECT_FALSE(doc.at("paths").as_object().contains("/api/v1/monitor/bullmq"));
    EXPECT_TRUE(doc.at("paths").as_object().contains("/api/v1/jobs/{id}"));
    EXPECT_TRUE(doc.at("components").at("schemas").as_object().contains("job_snapshot"));
    // Its scopes are the routes': a reader may list jobs, and monitor/config needs admin.
    auto const& jobs = doc.at("paths").at("/api/v1/jobs").at("get");
    EXPECT_EQ(boost::json::serialize(jobs.at("security")), R"([{"bearer":["read"]},{"token_query":["read"]}])");
    EXPECT_TRUE(jobs.at("responses").as_object().contains("401"));
    EXPECT_EQ(h.get("/api/v1/monitor/config", "reader").status, 403u);
    EXPECT_TRUE(doc.at("paths").at("/api/v1/monitor/config").at("get").at("responses").as_object().contains("403"));
    // GET only (and HEAD).
    EXPECT_EQ(h.post("/api/v1/openapi.json", "{}").status, 405u);
}

TEST(OpenApiTest, TheComparisonFindsARouteWithoutDocumentationAndDocumentationWithoutARoute)
{
    // No health component (its /api/v1/health/queues is documented), and a route nobody documented.
    app a(test_server::default_config(),
          app::options{.log = {}, .drain_timeout = std::chrono::seconds{5}, .handle_signals = false});
    a.add<aggregator>();
    a.add<dlq_monitor>();
    auto& gw = a.add<gateway>({.port = 0});
    a.get_core().routes().add({{http::verb::get, http::verb::post}, "/api/v1/undocumented", http::needs::publish,
                               "not in operations.json", [](http::call const& c) {
                                   return http::json_response(c.req, http::status::ok, "{}");
                               }});
    auto const [undocumented, unserved] = openapi_difference(gw.served_operations());
    EXPECT_EQ(undocumented, (openapi_ops{{"get", "/api/v1/undocumented", "publish"},
                                         {"post", "/api/v1/undocumented", "publish"}}));
    EXPECT_TRUE(unserved.count({"get", "/api/v1/health/queues", "read"}));
    EXPECT_TRUE(unserved.count({"get", "/api/v1/monitor/bullmq", "admin"}));
    EXPECT_FALSE(unserved.count({"get", "/api/v1/jobs", "read"}));
}

}  // namespace
}  // namespace jobwatch::test
