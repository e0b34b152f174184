// The BullMQ source: how BullMQ's values map to job event fields (sans-I/O),
// and, on a real redis-server holding BullMQ's key layout, the resync of a
// queue with history at start, live events, a trimmed stream's gap and the
// counts for queue health. (Real BullMQ workers: tests/node/bullmq_e2e.mjs.)
#include <jobwatch/components/bullmq_source.hpp>

#include "redis/redis_support.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace jobwatch::test {
namespace {

using bullmq::stream_id;

TEST(BullmqMapping, StreamIdsParseAndOrderAsRedisOrdersThem)
{
    auto a = stream_id::parse("1795431121208-1");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->ms, 1795431121208u);
    EXPECT_EQ(a->seq, 1u);
    EXPECT_LT(*stream_id::parse("1795431121208-1"), *stream_id::parse("1795431121208-10"));
    EXPECT_LT(*stream_id::parse("9-99"), *stream_id::parse("10-0"));
    EXPECT_EQ(stream_id::parse("5")->seq, 0u);
    EXPECT_FALSE(stream_id::parse(""));
    EXPECT_FALSE(stream_id::parse("12-x"));
    EXPECT_FALSE(stream_id::parse("-3"));
    EXPECT_EQ(a->text(), "1795431121208-1");
}

TEST(BullmqMapping, JobIdsAreQualifiedByTheirQueueAndRefusedWhenTheyCannotNameARoom)
{
    EXPECT_EQ(bullmq::job_id("emails", "17"), "emails:17");
    EXPECT_EQ(bullmq::job_id("q", "repeat:every-300:1795431232287"), "q:repeat:every-300:1795431232287");
    EXPECT_EQ(bullmq::job_id("q", "b8bb4da7-b956-4a17-b09d-cc3bbb299bb6"), "q:b8bb4da7-b956-4a17-b09d-cc3bbb299bb6");
    EXPECT_FALSE(bullmq::job_id("q", "has space"));
    EXPECT_FALSE(bullmq::job_id("q", "slash/id"));
    EXPECT_FALSE(bullmq::job_id("q", std::string(200, 'a')));
    EXPECT_EQ(bullmq::job_type("send email!"), "send_email_");
    EXPECT_FALSE(bullmq::job_type(""));
}

TEST(BullmqMapping, NumericProgressIsAPercentAndObjectsGiveStepCountersAndAPercent)
{
    auto p = bullmq::progress_of("42.5", 0);
    ASSERT_TRUE(p);
    EXPECT_DOUBLE_EQ(p->percent, 42.5);
    EXPECT_DOUBLE_EQ(bullmq::progress_of("250", 0)->percent, 100);
    EXPECT_DOUBLE_EQ(bullmq::progress_of("-3", 0)->percent, 0);

    p = bullmq::progress_of(R"({"step":"resize","current":3,"total":4,"bytes":1024})", 10);
    ASSERT_TRUE(p);
    EXPECT_DOUBLE_EQ(p->percent, 75);
    EXPECT_EQ(p->step, "resize");
    EXPECT_EQ(p->current, 3);
    EXPECT_EQ(p->total, 4);
    ASSERT_TRUE(p->counters);
    EXPECT_EQ(p->counters->at("bytes"), 1024);

    // BullMQ's own example shape: {step, of, msg}.
    p = bullmq::progress_of(R"({"step":1,"of":4,"msg":"step 1"})", 0);
    ASSERT_TRUE(p);
    EXPECT_DOUBLE_EQ(p->percent, 25);
    EXPECT_EQ(p->step, "step 1");
    EXPECT_DOUBLE_EQ(bullmq::progress_of(R"({"percent":60,"phase":"x"})", 0)->percent, 60);
    // No percent in it: the job keeps the last one.
    EXPECT_DOUBLE_EQ(bullmq::progress_of(R"({"rows":12})", 33)->percent, 33);
    EXPECT_FALSE(bullmq::progress_of(R"("halfway")", 0));
    EXPECT_FALSE(bullmq::progress_of("not json", 0));
}

TEST(BullmqMapping, TheErrorClassComesFromTheLatestStackTracesFirstLine)
{
    EXPECT_EQ(bullmq::error_class(R"(["Error: transient\n    at a.js:1", "UnrecoverableError: bad input\n    at b.js:2"])"),
              "UnrecoverableError");
    EXPECT_EQ(bullmq::error_class(R"(["TypeError: x is undefined"])"), "TypeError");
    EXPECT_FALSE(bullmq::error_class("[]"));
    EXPECT_FALSE(bullmq::error_class("not json"));
    EXPECT_EQ(bullmq::data_field(R"({"userId":"u-7","n":1})", "userId"), "u-7");
    EXPECT_EQ(bullmq::data_field(R"({"userId":42})", "userId"), "42");
    EXPECT_FALSE(bullmq::data_field(R"({"userId":"has space"})", "userId"));
    EXPECT_FALSE(bullmq::data_field(R"({"userId":"u"})", ""));
}

using BullmqSourceTest = redis_test;

// Writes what BullMQ writes for one job: its hash, its container, and (optionally) its events.
// `hash` is "field|value|field|value..." (a string, not a braced list: GCC 12 cannot copy a
// braced list's array into a coroutine frame).
asio::awaitable<void> put_job(redis::connection& w, std::string_view id, std::string_view container,
                              std::string_view hash)
{
    std::vector<std::string> args;
    args.push_back("bull:q:" + std::string(id));
    for (std::size_t from = 0; from <= hash.size();) {
        auto const to = std::min(hash.find('|', from), hash.size());
        args.push_back(std::string(hash.substr(from, to - from)));
        from = to + 1;
    }
    co_await command(w, "DEL", args[0]);
    redis::request req;
    req.push_range("HSET", args);
    if (container == "active" || container == "wait")
        req.push("LPUSH", "bull:q:" + std::string(container), id);
    else
        req.push("ZADD", "bull:q:" + std::string(container), 1, id);
    auto [ec, r] = co_await w.exec(req);
    EXPECT_FALSE(ec) << ec.message();
}

TEST_F(BullmqSourceTest, ResyncsAQueueWithHistoryFollowsItsEventsAndResyncsAfterATrimmedGap)
{
    config cfg;
    cfg.bullmq.redis_url = "redis://127.0.0.1:" + std::to_string(srv.port()) + "/0";
    cfg.bullmq.queues = {"q"};
    cfg.bullmq.log_poll_ms = std::chrono::milliseconds{50};
    cfg.bullmq.counts_interval_ms = std::chrono::milliseconds{100};
    core c(ioc.get_executor(), cfg, logger{.lvl = logger::level::error}, {});
    std::vector<std::pair<std::string, queue_counts>> counts;
    c.on_queue_counts([&](std::string_view q, queue_counts const& n) { counts.emplace_back(std::string(q), n); });
    redis::connection w{ioc.get_executor(), test_settings(srv)};
    std::unique_ptr<bullmq_source> src;
    auto state = [&](std::string const& id) -> std::string {
        auto const* r = c.store().find("", "q:" + id);
        return r ? std::string(to_string(r->state())) + "/" + std::to_string(r->attempt()) : "none";
    };
    run_coroutine_test(ioc, [&]() -> asio::awaitable<void> {
        co_await (w.run() || [&]() -> asio::awaitable<void> {
            // History before the source starts: one job in each state, and an events stream.
            co_await put_job(w, "1", "completed", R"x(name|ok|opts|{"attempts":0}|timestamp|1000|processedOn|2000|finishedOn|2750|ats|1|atm|1|returnvalue|{"n":1})x");
            co_await put_job(w, "2", "active", R"x(name|slow|opts|{}|timestamp|1000|processedOn|3000|ats|2|atm|1|failedReason|first try failed)x");
            co_await put_job(w, "3", "wait", R"x(name|later|opts|{"attempts":3}|timestamp|1000)x");
            co_await put_job(w, "4", "failed", R"x(name|bad|opts|{"attempts":2}|timestamp|1000|processedOn|3000|finishedOn|3100|ats|2|atm|2|failedReason|permanent failure|stacktrace|["Error: permanent failure\n    at x"])x");
            co_await command(w, "XADD", "bull:q:events", "*", "event", "added", "jobId", "1", "name", "ok");
            co_await command(w, "HSET", "bull:q:meta", "opts.maxLenEvents", "10000");

            src = std::make_unique<bullmq_source>(c, bullmq_source::config{});
            co_await (src->run() || [&]() -> asio::awaitable<void> {
                co_await eventually([&] { return src->figures().at(0).resyncs == 1; }, 10s);
                EXPECT_EQ(state("1"), "succeeded/1");
                EXPECT_EQ(state("2"), "running/2");
                EXPECT_EQ(state("3"), "queued/0");
                EXPECT_EQ(state("4"), "failed/2");
                if (auto const* four = c.store().find("", "q:4")) {
                    EXPECT_EQ(c.store().snapshot(*four).last_error, "permanent failure");
                }
                EXPECT_EQ(c.store().snapshot(*c.store().find("", "q:1")).duration_ms, 750);

                // Live: job 3 starts, logs, progresses and completes, as BullMQ writes it.
                co_await command(w, "HSET", "bull:q:3", "processedOn", "5000", "ats", "1");
                co_await command(w, "XADD", "bull:q:events", "*", "event", "active", "jobId", "3", "prev", "waiting");
                co_await command(w, "RPUSH", "bull:q:3:logs", "line one");
                co_await command(w, "XADD", "bull:q:events", "*", "event", "progress", "jobId", "3", "data",
                                 R"({"step":"two","current":2,"total":4})");
                co_await eventually([&] { return state("3") == "running/1"; }, 5s);
                co_await eventually([&] { return c.store().find("", "q:3")->percent() == 50; }, 5s);
                co_await command(w, "RPUSH", "bull:q:3:logs", "line two");
                co_await command(w, "HSET", "bull:q:3", "finishedOn", "5400", "atm", "1");
                co_await command(w, "XADD", "bull:q:events", "*", "event", "completed", "jobId", "3", "returnvalue",
                                 "42", "prev", "active");
                co_await eventually([&] { return state("3") == "succeeded/1"; }, 5s);
                auto const logs = c.events().replay("job:q:3", 0).entries;
                // (No braced list here: GCC 12 cannot copy its array into a coroutine frame.)
                std::string lines;
                for (auto const& e : logs)
                    if (auto const* l = e.event ? std::get_if<job_log>(&e.event->event) : nullptr)
                        lines += l->message + "|";
                EXPECT_EQ(lines, "line one|line two|");
                EXPECT_EQ(c.store().snapshot(*c.store().find("", "q:3")).duration_ms, 400);

                // A gap: 60 entries and a trim in one transaction, so the source cannot read them.
                co_await put_job(w, "5", "completed", R"x(name|ok|opts|{}|timestamp|6000|processedOn|6100|finishedOn|6300|ats|1|atm|1)x");
                redis::request tx;
                tx.push("MULTI");
                for (int i = 0; i < 60; ++i)
                    tx.push("XADD", "bull:q:events", "*", "event", "progress", "jobId", "5", "data", "1");
                tx.push("XTRIM", "bull:q:events", "MAXLEN", 0);
                tx.push("XADD", "bull:q:events", "*", "event", "drained");
                tx.push("EXEC");
                auto [ec, r] = co_await w.exec(tx);
                EXPECT_FALSE(ec) << ec.message();
                co_await eventually([&] { return src->figures().at(0).resyncs == 2; }, 10s);
                EXPECT_EQ(src->figures().at(0).gaps, 1u);
                EXPECT_EQ(state("5"), "succeeded/1");

                // Counts as BullMQ's getJobCounts reads them, and for queue health.
                co_await eventually([&] { return src->figures().at(0).counts.has_value(); }, 5s);
                counts.clear();
                co_await eventually([&] { return !counts.empty(); }, 5s);
                auto const fig = src->figures().at(0);
                EXPECT_EQ(fig.counts->at("active"), 1u);
                EXPECT_EQ(fig.counts->at("waiting"), 1u);  // job 3 was never taken off `wait` here
                EXPECT_EQ(fig.counts->at("completed"), 2u);
                EXPECT_EQ(fig.counts->at("failed"), 1u);
                EXPECT_EQ(counts.back().first, "q");
                EXPECT_EQ(counts.back().second.active, 1u);
                EXPECT_EQ(counts.back().second.completed, 2u);
                EXPECT_FALSE(counts.back().second.paused);
                co_await command(w, "HSET", "bull:q:meta", "paused", "1");
                co_await eventually([&] { return !counts.empty() && counts.back().second.paused; }, 5s);
            }());
        }());
    }(), 40s);
}

}  // namespace
}  // namespace jobwatch::test
