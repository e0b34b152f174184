// The cluster's ordered log on a real redis-server: numbers are contiguous
// and shared by every appender, repeats of a producer id are dropped within
// the window, a reader gets entries in number order (waiting for them when
// asked) and is told when the stream was trimmed past its position.
#include <jobwatch/cluster/stream_log.hpp>

#include "redis/redis_support.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace jobwatch::test {
namespace {

using StreamLogTest = redis_test;
using cluster::append_item;
using cluster::stream_log;

std::vector<append_item> events(std::string const& who, int from, int n)
{
    std::vector<append_item> out;
    for (int i = from; i < from + n; ++i)
        out.push_back({R"({"who":")" + who + R"(","i":)" + std::to_string(i) + "}", std::nullopt});
    return out;
}

TEST_F(StreamLogTest, TwoAppendersShareOneContiguousNumbering)
{
    stream_log const log({});
    redis::connection a{ioc.get_executor(), test_settings(srv)};
    redis::connection b{ioc.get_executor(), test_settings(srv)};
    redis::connection reader{ioc.get_executor(), test_settings(srv)};
    std::map<std::uint64_t, std::string> appended;  // number -> JSON, as the appenders were told
    auto appender = [&](redis::connection& conn, std::string who) -> asio::awaitable<void> {
        for (int batch = 0; batch < 20; ++batch) {
            auto const items = events(who, batch * 50, 50);
            auto [ec, out] = co_await log.append(conn, items);
            EXPECT_FALSE(ec) << ec.message();
            if (out.size() != items.size()) {
                ADD_FAILURE() << "one outcome per event";
                co_return;
            }
            for (std::size_t i = 0; i < out.size(); ++i) {
                EXPECT_FALSE(out[i].duplicate);
                EXPECT_TRUE(appended.emplace(out[i].seq, items[i].json).second) << "number given twice: " << out[i].seq;
            }
        }
    };
    run_coroutine_test(ioc, [&]() -> asio::awaitable<void> {
        co_await (a.run() || b.run() || reader.run() ||
                  [&]() -> asio::awaitable<void> {
                      co_await (appender(a, "a") && appender(b, "b"));
                      // 2,000 events: numbers 1..2000, none missing, none twice.
                      EXPECT_EQ(appended.size(), 2000u);
                      EXPECT_EQ(appended.begin()->first, 1u);
                      EXPECT_EQ(appended.rbegin()->first, 2000u);
                      // Read back in number order, each with its own JSON.
                      std::uint64_t at = 0;
                      while (at < 2000) {
                          auto [ec, got] = co_await log.read_after(reader, at, 300, std::chrono::milliseconds{0});
                          EXPECT_FALSE(ec) << ec.message();
                          EXPECT_FALSE(got.gap);
                          if (got.entries.empty()) {
                              ADD_FAILURE() << "nothing after " << at;
                              co_return;
                          }
                          for (auto const& e : got.entries) {
                              EXPECT_EQ(e.seq, at + 1);
                              EXPECT_EQ(e.json, appended[e.seq]);
                              at = e.seq;
                          }
                      }
                  }());
    }(), 20s);
}

TEST_F(StreamLogTest, AProducersRepeatIsDroppedWithinTheWindowAndPerTenant)
{
    stream_log const log({.dedup_window = std::chrono::milliseconds{300}});
    redis::connection conn{ioc.get_executor(), test_settings(srv)};
    run_coroutine_test(ioc, while_running(conn, [&]() -> asio::awaitable<void> {
        std::vector<append_item> const items{{R"({"n":1})", "acme/e1"},
                                             {R"({"n":2})", "acme/e1"},   // a repeat in the same batch
                                             {R"({"n":3})", "globex/e1"}, // another tenant's id
                                             {R"({"n":4})", std::nullopt}};
        auto [ec, out] = co_await log.append(conn, items);
        EXPECT_FALSE(ec) << ec.message();
        JW_CO_REQUIRE(out.size() == 4u);
        EXPECT_EQ(out[0].seq, 1u);
        EXPECT_TRUE(out[1].duplicate);
        EXPECT_EQ(out[1].seq, 0u);
        EXPECT_EQ(out[2].seq, 2u);
        EXPECT_EQ(out[3].seq, 3u);
        // A later batch: still a repeat within the window. (Arguments named before
        // each co_await: GCC 12 mis-destroys temporaries inside one.)
        std::vector<append_item> const repeat{{R"({"n":5})", "acme/e1"}};
        auto [ec2, again] = co_await log.append(conn, repeat);
        EXPECT_FALSE(ec2);
        JW_CO_REQUIRE(again.size() == 1u);
        EXPECT_TRUE(again[0].duplicate);
        // After the window it is a new event.
        detail::tuple_timer t{co_await asio::this_coro::executor};
        t.expires_after(std::chrono::milliseconds{400});
        co_await t.async_wait();
        std::vector<append_item> const expired{{R"({"n":6})", "acme/e1"}};
        auto [ec3, later] = co_await log.append(conn, expired);
        EXPECT_FALSE(ec3);
        JW_CO_REQUIRE(later.size() == 1u);
        EXPECT_EQ(later[0].seq, 4u);
    }()), 10s);
}

TEST_F(StreamLogTest, AReaderWaitsForTheNextEntryAndIsToldOfATrim)
{
    stream_log const log({.stream = "trimmed", .max_len = 10});
    redis::connection writer{ioc.get_executor(), test_settings(srv)};
    redis::connection reader{ioc.get_executor(), test_settings(srv)};
    run_coroutine_test(ioc, [&]() -> asio::awaitable<void> {
        co_await (writer.run() || reader.run() || [&]() -> asio::awaitable<void> {
            // A blocked read is answered by the next append.
            auto wait = [&]() -> asio::awaitable<cluster::log_read> {
                auto [ec, r] = co_await log.read_after(reader, 0, 10, std::chrono::milliseconds{5000});
                EXPECT_FALSE(ec) << ec.message();
                co_return r;
            };
            auto write = [&]() -> asio::awaitable<void> {
                detail::tuple_timer t{co_await asio::this_coro::executor};
                t.expires_after(std::chrono::milliseconds{100});
                co_await t.async_wait();
                auto const one = events("w", 0, 1);
                auto [ec, out] = co_await log.append(writer, one);
                EXPECT_FALSE(ec);
            };
            auto const first = co_await (wait() && write());
            JW_CO_REQUIRE(first.entries.size() == 1u);
            EXPECT_EQ(first.entries[0].seq, 1u);
            EXPECT_FALSE(first.gap);
            // Many more: MAXLEN ~ 10 trims whole nodes of the stream, the oldest first.
            for (int i = 0; i < 10; ++i) {
                auto const more = events("w", 1 + i * 100, 100);
                auto [ec, out] = co_await log.append(writer, more);
                EXPECT_FALSE(ec);
            }
            auto [ec, late] = co_await log.read_after(reader, 1, 10, std::chrono::milliseconds{0});
            EXPECT_FALSE(ec);
            JW_CO_REQUIRE(!late.entries.empty());
            EXPECT_TRUE(late.gap) << "entry 2 was trimmed; the reader gets " << late.entries.front().seq;
            EXPECT_GT(late.entries.front().seq, 2u);
            // A reader at the end is not told of a gap.
            auto [ec2, tail] = co_await log.read_after(reader, 999, 10, std::chrono::milliseconds{0});
            EXPECT_FALSE(ec2);
            JW_CO_REQUIRE(tail.entries.size() == 2u);
            EXPECT_FALSE(tail.gap);
            EXPECT_EQ(tail.entries.back().seq, 1001u);
        }());
    }(), 20s);
}

}  // namespace
}  // namespace jobwatch::test
