// Test that the header is self-contained.
#include <jobwatch/notify/rules.hpp>

#include <jobwatch/codec.hpp>
#include <jobwatch/config.hpp>
#include <jobwatch/messages/notification.hpp>
#include <jobwatch/notify/delivery.hpp>
#include <jobwatch/notify/payload.hpp>

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace jobwatch {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

std::shared_ptr<logged_event const> failed_event(std::uint64_t seq, bool will_retry, std::string queue = "payments",
                                                 std::optional<std::string> tenant = "acme")
{
    job_failed f;
    f.job_id = "pay-7";
    f.queue = std::move(queue);
    f.tenant_id = std::move(tenant);
    f.error = "card \"declined\"";
    f.attempt = 3;
    f.will_retry = will_retry;
    f.time = "2024-05-01T12:01:59.250Z";
    auto ev = std::make_shared<logged_event>();
    ev->seq = seq;
    ev->event = f;
    return ev;
}

std::shared_ptr<alert const> an_alert(alert_status st = alert_status::firing, severity sev = severity::high,
                                      alert_kind kind = alert_kind::failure_rate)
{
    alert a;
    a.id = "failure_rate:payments:1714564920000";
    a.kind = kind;
    a.status = st;
    a.severity = sev;
    a.title = "Queue payments: 12 failures in 1 minute";
    a.message = "12 jobs of queue payments failed within 1 minute (threshold 10).";
    a.time = "2024-05-01T12:02:00Z";
    a.context.queue = "payments";
    return std::make_shared<alert const>(std::move(a));
}

notifier_config two_targets()
{
    notifier_config c;
    c.targets["ops"].url = "http://127.0.0.1:9000/hook";
    c.targets["slack"].url = "https://hooks.example.com/services/T/B/X";
    return c;
}

// --- notices -----------------------------------------------------------------

TEST(NotifyNoticeTest, KeysTypesAndSeverities)
{
    auto const final_failure = notify::notice_of(failed_event(42, false), job_state::failed);
    EXPECT_EQ(final_failure.key, "event:42");
    EXPECT_EQ(final_failure.type, "job.failed");
    EXPECT_EQ(final_failure.level, severity::medium);
    EXPECT_EQ(final_failure.queue, "payments");
    EXPECT_EQ(final_failure.tenant_id, "acme");
    EXPECT_EQ(notify::notice_of(failed_event(43, true), job_state::queued).level, severity::low);

    auto const firing = notify::notice_of(an_alert());
    EXPECT_EQ(firing.key, "alert:failure_rate:payments:1714564920000:firing");
    EXPECT_EQ(firing.type, "alert.firing");
    EXPECT_EQ(firing.level, severity::high);
    // Resolved is a notice of its own: one firing and one resolved message per alert.
    EXPECT_EQ(notify::notice_of(an_alert(alert_status::resolved)).key, "alert:failure_rate:payments:1714564920000:resolved");
}

// --- rules -------------------------------------------------------------------

TEST(NotifyRulesTest, EmptyRuleMatchesAlertsAndFailuresOnly)
{
    notifier_rule const any;
    EXPECT_TRUE(notify::matches(any, notify::notice_of(an_alert())));
    EXPECT_TRUE(notify::matches(any, notify::notice_of(an_alert(alert_status::resolved))));
    EXPECT_TRUE(notify::matches(any, notify::notice_of(failed_event(1, true), job_state::queued)));
    auto done = notify::notice_of(failed_event(2, false), job_state::succeeded);
    done.type = "job.completed";
    EXPECT_FALSE(notify::matches(any, done));
}

TEST(NotifyRulesTest, EachListFilters)
{
    auto const alert_n = notify::notice_of(an_alert(alert_status::firing, severity::high));
    auto const job_n = notify::notice_of(failed_event(1, false), job_state::failed);
    struct row
    {
        notifier_rule rule;
        bool alert_matches;
        bool job_matches;
    };
    std::vector<row> rows;
    auto add = [&](auto set, bool a, bool j) {
        notifier_rule r;
        set(r);
        rows.push_back({r, a, j});
    };
    add([](notifier_rule& r) { r.types = {"alert.firing"}; }, true, false);
    add([](notifier_rule& r) { r.types = {"job.failed"}; }, false, true);
    add([](notifier_rule& r) { r.types = {"job.completed"}; }, false, false);
    add([](notifier_rule& r) { r.queues = {"payments"}; }, true, true);
    add([](notifier_rule& r) { r.queues = {"emails"}; }, false, false);
    add([](notifier_rule& r) { r.tenants = {"acme"}; }, false, true);  // the alert names no tenant
    add([](notifier_rule& r) { r.alert_kinds = {alert_kind::failure_rate}; }, true, false);
    add([](notifier_rule& r) { r.alert_kinds = {alert_kind::timeout}; }, false, false);
    add([](notifier_rule& r) { r.severities = {severity::high, severity::critical}; }, true, false);
    add([](notifier_rule& r) { r.severities = {severity::low}; }, false, false);
    add([](notifier_rule& r) { r.states = {job_state::failed}; }, false, true);
    add([](notifier_rule& r) { r.states = {job_state::queued}; }, false, false);
    for (std::size_t i = 0; i < rows.size(); ++i) {
        EXPECT_EQ(notify::matches(rows[i].rule, alert_n), rows[i].alert_matches) << "row " << i;
        EXPECT_EQ(notify::matches(rows[i].rule, job_n), rows[i].job_matches) << "row " << i;
    }
}

TEST(NotifyRulesTest, RouteIsTheUnionOfMatchingRulesEachTargetOnce)
{
    auto c = two_targets();
    auto const n = notify::notice_of(an_alert());
    // No rules: every target.
    auto r = notify::route(c, n);
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(r[0].target, "ops");
    EXPECT_EQ(r[1].target, "slack");

    notifier_rule a;
    a.name = "alerts-to-slack";
    a.types = {"alert.firing"};
    a.targets = {"slack"};
    notifier_rule b;
    b.name = "everything-high";
    b.severities = {severity::high};
    c.rules = {a, b};
    r = notify::route(c, n);
    ASSERT_EQ(r.size(), 2u);
    EXPECT_EQ(r[0].target, "ops");
    EXPECT_EQ(r[0].rule, "everything-high");
    EXPECT_EQ(r[1].target, "slack");
    EXPECT_EQ(r[1].rule, "alerts-to-slack");  // the first rule that chose it
    EXPECT_TRUE(notify::route(c, notify::notice_of(failed_event(1, false), job_state::failed)).empty());

    EXPECT_TRUE(notify::wants_type(c, "alert.firing"));
    EXPECT_FALSE(notify::wants_type(c, "job.progress"));
    EXPECT_FALSE(notify::wants_type(notifier_config{}, "alert.firing"));  // no targets: nothing
}

TEST(NotifyRulesTest, ParsesWebhookUrls)
{
    std::string why;
    auto u = notify::parse_url("https://Hooks.example.com/services/T/B/X?x=1", why);
    ASSERT_TRUE(u);
    EXPECT_TRUE(u->tls);
    EXPECT_EQ(u->host, "Hooks.example.com");
    EXPECT_EQ(u->port, "443");
    EXPECT_EQ(u->target, "/services/T/B/X?x=1");
    EXPECT_EQ(u->origin(), "https://Hooks.example.com:443");
    u = notify::parse_url("HTTP://[::1]:9000", why);
    ASSERT_TRUE(u);
    EXPECT_EQ(u->host, "::1");
    EXPECT_EQ(u->port, "9000");
    EXPECT_EQ(u->target, "/");
    EXPECT_EQ(u->origin(), "http://[::1]:9000");
    for (auto bad : {"ftp://x/", "http://", "http://:80/", "http://h:0/", "http://h:99999/", "http://h:8x/",
                     "http://user:pw@h/", "http://h/a#frag", "http://h/a b"}) {
        why.clear();
        EXPECT_FALSE(notify::parse_url(bad, why)) << bad;
        EXPECT_FALSE(why.empty()) << bad;
    }
}

TEST(NotifyRulesTest, CheckNamesTheBrokenSetting)
{
    EXPECT_FALSE(notify::check(two_targets()));
    auto expect_broken = [](notifier_config const& c, std::string const& path) {
        auto const e = notify::check(c);
        ASSERT_TRUE(e) << path;
        EXPECT_EQ(e->path, path) << e->message;
    };
    auto c = two_targets();
    c.targets["ops"].url = "ftp://127.0.0.1/";
    expect_broken(c, "/notifier/targets/ops/url");
    c = two_targets();
    c.targets["bad name"].url = "http://h/";
    expect_broken(c, "/notifier/targets");
    c = two_targets();
    c.targets["ops"].preset = notifier_preset::custom;
    expect_broken(c, "/notifier/targets/ops/body_template");
    c = two_targets();
    c.targets["ops"].headers["Bad Header"] = "x";
    expect_broken(c, "/notifier/targets/ops/headers");
    c = two_targets();
    c.targets["ops"].backoff_max_ms = 10ms;
    expect_broken(c, "/notifier/targets/ops/backoff_max_ms");
    c = two_targets();
    c.rules.resize(1);
    c.rules[0].types = {"job.failed", "job.exploded"};
    expect_broken(c, "/notifier/rules/0/types/1");
    c = two_targets();
    c.rules.resize(1);
    c.rules[0].targets = {"nowhere"};
    expect_broken(c, "/notifier/rules/0/targets/0");
}

// --- payloads and signature --------------------------------------------------

TEST(NotifyPayloadTest, GenericBodyIsANotificationDocument)
{
    notifier_target t;
    t.url = "http://h/";
    for (auto const& n : {notify::notice_of(an_alert()), notify::notice_of(failed_event(42, false), job_state::failed)}) {
        auto const p = notify::render(t, "ops", n, "r1");
        EXPECT_EQ(p.content_type, "application/json");
        auto const doc = parse<notification>(p.body);
        ASSERT_TRUE(doc) << p.body << "\n" << doc.error().path << ": " << doc.error().message;
        EXPECT_EQ(doc->id, n.key);
        EXPECT_EQ(doc->type, n.type);
        EXPECT_EQ(doc->target, "ops");
        EXPECT_EQ(doc->rule, "r1");
        EXPECT_EQ(doc->alert.has_value(), n.alert_msg != nullptr);
        EXPECT_EQ(doc->job.has_value(), n.event != nullptr);
        if (doc->job) {
            EXPECT_EQ(doc->job->state, job_state::failed);
            EXPECT_EQ(doc->job->seq, 42);
        }
    }
}

TEST(NotifyPayloadTest, SlackBodyHasTextAndBlocks)
{
    notifier_target t;
    t.preset = notifier_preset::slack;
    auto const p = notify::render(t, "slack", notify::notice_of(an_alert()), "");
    auto const v = boost::json::parse(p.body).as_object();
    EXPECT_EQ(v.at("text").as_string(), "[high] Queue payments: 12 failures in 1 minute");
    ASSERT_EQ(v.at("blocks").as_array().size(), 2u);
    EXPECT_EQ(v.at("blocks").as_array()[0].at("type").as_string(), "section");
}

TEST(NotifyPayloadTest, TemplateFillsFieldsAndEscapesForJson)
{
    notifier_target t;
    t.preset = notifier_preset::custom;
    t.body_template = "{type} {job_id}@{queue} [{state}] {error} #{attempt} {unknown} {not a field}";
    auto const n = notify::notice_of(failed_event(42, false), job_state::failed);
    auto p = notify::render(t, "mail", n, "");
    EXPECT_EQ(p.content_type, "text/plain; charset=utf-8");
    EXPECT_EQ(p.body, "job.failed pay-7@payments [failed] card \"declined\" #3  {not a field}");
    // An email relay that takes JSON: the values are escaped, the JSON stays valid.
    t.body_template = R"({"to":"ops@example.com","subject":"{summary}","text":"{error}"})";
    t.content_type = "application/json";
    p = notify::render(t, "mail", n, "");
    EXPECT_EQ(p.content_type, "application/json");
    auto const v = boost::json::parse(p.body);
    EXPECT_EQ(v.at("text").as_string(), "card \"declined\"");
}

TEST(NotifyPayloadTest, SignatureIsHmacSha256OfTimestampDotBody)
{
    // python3 -c "import hmac,hashlib;print(hmac.new(b'topsecret',b'1700000000.{\"a\":1}',hashlib.sha256).hexdigest())"
    EXPECT_EQ(notify::signature("topsecret", "1700000000", R"({"a":1})"),
              "sha256=6a939b0c71853d606167625a15168ee9188c6a511c773ef4f42d307f3849e50f");
    EXPECT_NE(notify::signature("topsecret", "1700000001", R"({"a":1})"),
              notify::signature("topsecret", "1700000000", R"({"a":1})"));
}

// --- backoff and Retry-After -------------------------------------------------

TEST(NotifyBackoffTest, DoublesUpToTheMaximumWithBoundedJitter)
{
    struct row
    {
        std::size_t retry;
        double jitter;
        std::int64_t ms;
    };
    row const rows[] = {{1, 0, 500},    {2, 0, 1000},   {3, 0, 2000},  {4, 0, 4000}, {5, 0, 5000},
                        {50, 0, 5000},  {1, 0.2, 600},  {1, -0.2, 400}, {1, 0.9, 600}, {3, -0.5, 1600}};
    for (auto const& r : rows)
        EXPECT_EQ(notify::backoff(r.retry, 500ms, 5000ms, r.jitter).count(), r.ms) << r.retry << " " << r.jitter;
}

TEST(NotifyBackoffTest, RetryAfterSecondsOrDateWins)
{
    auto const now = std::chrono::system_clock::from_time_t(784111777);  // Sun, 06 Nov 1994 08:49:37 GMT
    EXPECT_EQ(notify::parse_retry_after("2", now), milliseconds{2000});
    EXPECT_EQ(notify::parse_retry_after(" 0 ", now), milliseconds{0});
    EXPECT_EQ(notify::parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now), milliseconds{10000});
    EXPECT_EQ(notify::parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now), milliseconds{0});
    EXPECT_FALSE(notify::parse_retry_after("", now));
    EXPECT_FALSE(notify::parse_retry_after("-1", now));
    EXPECT_FALSE(notify::parse_retry_after("soon", now));
    EXPECT_EQ(notify::next_wait(1, 500ms, 5000ms, 0, milliseconds{2000}, 300000ms), milliseconds{2000});
    EXPECT_EQ(notify::next_wait(1, 500ms, 5000ms, 0, milliseconds{900000}, 300000ms), milliseconds{300000});
    EXPECT_EQ(notify::next_wait(2, 500ms, 5000ms, 0, std::nullopt, 300000ms), milliseconds{1000});
}

// --- breaker -----------------------------------------------------------------

TEST(NotifyBreakerTest, OpensAfterNFailuresProbesAfterCooldownAndCloses)
{
    auto const t = std::chrono::steady_clock::time_point{} + 1h;
    notify::breaker b(3, 10s);
    EXPECT_TRUE(b.allow(t));
    EXPECT_FALSE(b.failure(t));
    EXPECT_FALSE(b.failure(t));
    b.success();  // consecutive only
    EXPECT_FALSE(b.failure(t));
    EXPECT_FALSE(b.failure(t));
    EXPECT_TRUE(b.failure(t));
    EXPECT_EQ(b.current(), notify::breaker::state::open);
    EXPECT_FALSE(b.allow(t + 9s));
    EXPECT_EQ(b.ready_at(t + 9s), t + 10s);
    EXPECT_TRUE(b.allow(t + 10s));  // the probe
    EXPECT_EQ(b.current(), notify::breaker::state::half_open);
    EXPECT_FALSE(b.allow(t + 10s));  // one probe at a time
    EXPECT_TRUE(b.failure(t + 11s));  // a failed probe opens it again, for a whole cool-down
    EXPECT_FALSE(b.allow(t + 20s));
    EXPECT_TRUE(b.allow(t + 21s));
    b.success();
    EXPECT_EQ(b.current(), notify::breaker::state::closed);
    EXPECT_EQ(b.consecutive_failures(), 0u);
    EXPECT_EQ(b.times_opened(), 2u);
    EXPECT_EQ(notify::to_string(b.current()), "closed");
}

// --- drop queue --------------------------------------------------------------

struct queued
{
    int id;
    severity level;
};

TEST(NotifyDropQueueTest, BoundHoldsAndTheOldestOfTheLowestSeverityGoesFirst)
{
    notify::drop_queue<queued> q(3);
    EXPECT_FALSE(q.push({1, severity::high}));
    EXPECT_FALSE(q.push({2, severity::low}));
    EXPECT_FALSE(q.push({3, severity::low}));
    auto d = q.push({4, severity::medium});
    ASSERT_TRUE(d);
    EXPECT_EQ(d->id, 2);  // the oldest low
    d = q.push({5, severity::info});  // less severe than anything queued: itself
    ASSERT_TRUE(d);
    EXPECT_EQ(d->id, 5);
    d = q.push({6, severity::low});  // as low as the lowest queued: the older one goes
    ASSERT_TRUE(d);
    EXPECT_EQ(d->id, 3);
    EXPECT_EQ(q.size(), 3u);
    EXPECT_EQ(q.pop().id, 1);
    EXPECT_EQ(q.pop().id, 4);
    EXPECT_EQ(q.pop().id, 6);
    EXPECT_TRUE(q.empty());
    for (int i = 0; i < 1000; ++i) {
        q.push({i, severity::critical});
        EXPECT_LE(q.size(), q.capacity());
    }
}

// --- dedup -------------------------------------------------------------------

TEST(NotifyDedupTest, OncePerKeyWithinTheWindowAndBounded)
{
    auto const t = std::chrono::steady_clock::time_point{} + 1h;
    notify::dedup d(60s, 2);
    EXPECT_TRUE(d.first("a", t));
    EXPECT_FALSE(d.first("a", t + 1s));
    EXPECT_TRUE(d.first("b", t + 2s));
    EXPECT_TRUE(d.first("a", t + 60s));  // the window passed
    EXPECT_TRUE(d.first("c", t + 61s));  // bounded: "b" is forgotten first
    EXPECT_LE(d.size(), 2u);
    EXPECT_TRUE(d.first("b", t + 61s));
}

}  // namespace
}  // namespace jobwatch

namespace jobwatch {
namespace {

// --- settings as a user gives them (flags, environment) ------------------------------

std::optional<std::string> no_env(std::string const&) { return std::nullopt; }

TEST(NotifySettingsTest, TargetsAndRulesComeFromFlagsAndEnvironmentAsJson)
{
    std::vector<std::string> const args = {
        "monitor", R"(--notifier.targets={"ops":{"url":"http://127.0.0.1:9000/hook","secret":"S","queue_size":5}})",
        "--notifier.dedup_window_ms=5000"};
    auto r = try_load_config(args, [](std::string const& name) -> std::optional<std::string> {
        if (name == "JOBWATCH_NOTIFIER_RULES")
            return R"([{"name":"pay","queues":["payments"],"severities":["high"],"targets":["ops"]}])";
        return std::nullopt;
    });
    ASSERT_TRUE(r.value) << r.error;
    auto const& n = r.value->notifier;
    ASSERT_EQ(n.targets.size(), 1u);
    auto const& t = n.targets.at("ops");
    EXPECT_EQ(t.url, "http://127.0.0.1:9000/hook");
    EXPECT_EQ(t.secret, "S");
    EXPECT_EQ(t.queue_size, 5u);
    EXPECT_EQ(t.max_attempts, 5u);  // a default
    EXPECT_EQ(t.preset, notifier_preset::generic);
    ASSERT_EQ(n.rules.size(), 1u);
    EXPECT_EQ(n.rules[0].queues, std::vector<std::string>{"payments"});
    EXPECT_EQ(n.rules[0].severities, std::vector<severity>{severity::high});
    EXPECT_EQ(n.dedup_window_ms, std::chrono::milliseconds{5000});
    EXPECT_FALSE(notify::check(n));

    // The schema's bounds: a target without a URL, a queue of 0.
    auto bad = try_load_config({"monitor", R"(--notifier.targets={"ops":{"queue_size":5}})"}, no_env);
    EXPECT_FALSE(bad.value);
    EXPECT_NE(bad.error.find("notifier.targets"), std::string::npos) << bad.error;
    bad = try_load_config({"monitor", R"(--notifier.targets={"ops":{"url":"http://h/","queue_size":0}})"}, no_env);
    EXPECT_FALSE(bad.value);
    EXPECT_NE(bad.error.find("notifier.targets.ops.queue_size"), std::string::npos) << bad.error;
}

}  // namespace
}  // namespace jobwatch
