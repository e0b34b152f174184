// Projections of one cluster stream on a real redis-server: instances that
// follow it live and one that starts late and catches up hold the same
// jobs, the same summaries and the same room histories, with the same numbers.
#include <jobwatch/cluster/projection.hpp>
#include <jobwatch/components/aggregator.hpp>

#include "redis/redis_support.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace jobwatch::test {
namespace {

using ProjectionTest = redis_test;

/// One instance: a core with an aggregator, and its projection of the stream.
struct instance
{
    instance(asio::io_context& ioc, redis::settings const& s)
        : c(ioc.get_executor(), config{}, logger{.lvl = logger::level::error}, {}), agg(c, {}), proj(c, s, {})
    {
    }
    core c;
    aggregator agg;
    cluster::projection proj;

    /// Everything a client could ask about, as text.
    std::string state() const
    {
        std::string out = std::to_string(c.events().last_seq()) + "\n";
        for (std::size_t offset = 0;; offset += 100) {
            job_query q;
            q.limit = 100;
            q.offset = offset;
            auto const page = c.store().query(q);
            for (auto const& j : page.items)
                out += to_json(j) + "\n";
            if (page.items.empty())
                break;
        }
        for (auto const* room : {"job:acme/j7", "job:j8", "tenant:acme", "queue:q1"}) {
            out += room;
            for (auto const& e : c.events().replay(room, 0).entries)
                out += " " + std::to_string(e.seq);
            out += "\n";
        }
        return out;
    }
};

std::vector<cluster::append_item> stream_of_jobs(int jobs)
{
    std::vector<cluster::append_item> out;
    for (int k = 0; k < jobs; ++k) {
        auto const id = "j" + std::to_string(k);
        std::string const scope = std::string(k % 2 ? R"("tenant_id":"acme",)" : "") + R"("time":"2026-12-07T00:00:)" +
                                  (k % 60 < 10 ? "0" : "") + std::to_string(k % 60) + R"(.000Z")";
        auto add = [&](std::string type, std::string extra) {
            out.push_back({R"({"type":")" + type + R"(","job_id":")" + id + R"(","queue":"q)" + std::to_string(k % 3) +
                               "\"," + scope + extra + "}",
                           std::nullopt});
        };
        add("job.queued", "");
        add("job.started", R"(,"attempt":1)");
        add("job.progress", R"(,"percent":40)");
        if (k % 4 == 0)
            add("job.failed", R"(,"attempt":1,"error":"boom","will_retry":false)");
        else
            add("job.completed", "");
    }
    return out;
}

TEST_F(ProjectionTest, InstancesFollowingOneStreamHoldTheSameStateWithTheSameNumbers)
{
    auto const s = test_settings(srv);
    instance a(ioc, s), b(ioc, s);
    std::unique_ptr<instance> late;
    redis::connection writer{ioc.get_executor(), s};
    cluster::stream_log const log({});
    auto const items = stream_of_jobs(500);
    run_coroutine_test(ioc, [&]() -> asio::awaitable<void> {
        co_await (a.proj.run() || b.proj.run() || writer.run() || [&]() -> asio::awaitable<void> {
            for (std::size_t i = 0; i < items.size(); i += 250) {
                std::vector<cluster::append_item> const batch(items.begin() + static_cast<std::ptrdiff_t>(i),
                                                              items.begin() + static_cast<std::ptrdiff_t>(i + 250));
                auto [ec, out] = co_await log.append(writer, batch);
                EXPECT_FALSE(ec) << ec.message();
            }
            co_await eventually([&] { return a.proj.applied() == 2000 && b.proj.applied() == 2000; }, 10s);
            // One more instance, started now: it catches up from the stream's start.
            late = std::make_unique<instance>(ioc, s);
            co_await (late->proj.run() || eventually([&] { return late->proj.applied() == 2000; }, 10s));
        }());
    }(), 30s);
    auto const expected = a.state();
    EXPECT_NE(expected.find("\"job_id\":\"j499\""), std::string::npos);
    EXPECT_EQ(a.c.events().last_seq(), 2000u);
    EXPECT_EQ(b.state(), expected);
    ASSERT_TRUE(late);
    EXPECT_EQ(late->state(), expected);
}

}  // namespace
}  // namespace jobwatch::test
