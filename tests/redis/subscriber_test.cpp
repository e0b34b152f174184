// Test that the header is self-contained.
#include <jobwatch/redis/subscriber.hpp>

#include "redis/redis_support.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace jobwatch::test {
namespace {

using RedisSubscriberTest = redis_test;  // a real redis-server and an io_context per test

using namespace std::string_literals;
using redis::error;
using redis::message;
using redis::reply;
using arr = reply::array_type;
using push = redis::detail::push;

TEST(RedisPushTest, ClassifiesEveryReplyOfASubscribedConnection)
{
    struct row
    {
        reply r;
        push::kind what;
        message msg{};
        std::int64_t count = 0;
    };
    std::vector<row> const rows = {
        {reply{arr{reply{"message"s}, reply{"ch"s}, reply{"payload"s}}}, push::kind::message,
         {.channel = "ch", .payload = "payload"}},
        {reply{arr{reply{"pmessage"s}, reply{"c*"s}, reply{"ch"s}, reply{""s}}},
         push::kind::message,
         {.channel = "ch", .payload = "", .pattern = "c*"}},
        {reply{arr{reply{"subscribe"s}, reply{"ch"s}, reply{std::int64_t{1}}}},
         push::kind::subscribed, {}, 1},
        {reply{arr{reply{"psubscribe"s}, reply{"c*"s}, reply{std::int64_t{2}}}},
         push::kind::subscribed, {}, 2},
        {reply{arr{reply{"unsubscribe"s}, reply{"ch"s}, reply{std::int64_t{0}}}},
         push::kind::subscribed, {}, 0},
        {reply{arr{reply{"punsubscribe"s}, reply{"c*"s}, reply{std::int64_t{1}}}},
         push::kind::subscribed, {}, 1},
        {reply{arr{reply{"pong"s}, reply{""s}}}, push::kind::pong},
        {status_reply("PONG"), push::kind::pong},
        {reply{redis::error_reply{"ERR only SUBSCRIBE allowed"}}, push::kind::server_error},
        // Anything else means the connection is out of step.
        {status_reply("OK"), push::kind::unexpected},
        {reply{std::int64_t{1}}, push::kind::unexpected},
        {reply{}, push::kind::unexpected},
        {reply{"message"s}, push::kind::unexpected},
        {reply{arr{}}, push::kind::unexpected},
        {reply{arr{reply{"message"s}, reply{"ch"s}}}, push::kind::unexpected},
        {reply{arr{reply{"message"s}, reply{"ch"s}, reply{std::int64_t{1}}}}, push::kind::unexpected},
        {reply{arr{reply{"subscribe"s}, reply{"ch"s}, reply{"1"s}}}, push::kind::unexpected},
        {reply{arr{reply{"smessage"s}, reply{"ch"s}, reply{"p"s}}}, push::kind::unexpected},
        {reply{arr{reply{std::int64_t{1}}, reply{"ch"s}, reply{"p"s}}}, push::kind::unexpected},
    };
    for (auto const& r : rows) {
        auto p = redis::detail::classify_push(reply{r.r});
        EXPECT_EQ(p.what, r.what) << r.r;
        EXPECT_EQ(p.msg, r.msg) << r.r;
        EXPECT_EQ(p.count, r.count) << r.r;
        if (r.what == push::kind::server_error) {
            EXPECT_EQ(p.text, "ERR only SUBSCRIBE allowed");
        }
    }
}

// Publishes until the server reports `n` receivers (the subscription is in place).
asio::awaitable<bool> wait_for_subscribers(
    redis::connection& pub, std::string channel, int n,
    boost::source_location where = BOOST_CURRENT_LOCATION)
{
    co_return co_await eventually_async(
        [&]() -> asio::awaitable<bool> {
            auto const r = co_await command(pub, "PUBSUB", "NUMSUB", channel);
            auto const* count = r.at(1);
            co_return count && count->to_integer() == n;
        },
        5s, where);
}

asio::awaitable<bool> wait_for_patterns(redis::connection& pub, int n,
                                        boost::source_location where =
                                            BOOST_CURRENT_LOCATION)
{
    co_return co_await eventually_async(
        [&]() -> asio::awaitable<bool> {
            auto const r = co_await command(pub, "PUBSUB", "NUMPAT");
            co_return r.to_integer() == n;
        },
        5s, where);
}

TEST_F(RedisSubscriberTest, ReceivesChannelAndPatternMessagesAndResubscribesAfterARestart)
{
    redis::connection pub{ioc.get_executor(), test_settings(srv)};
    redis::subscriber sub{ioc.get_executor(), test_settings(srv)};
    sub.subscribe("job-status:global");
    sub.psubscribe("job-status:user:*");
    run_coroutine_test(ioc, while_running(pub, while_running(sub, [&]() -> asio::awaitable<void> {
        co_await wait_for_subscribers(pub, "job-status:global", 1);
        co_await wait_for_patterns(pub, 1);
        EXPECT_EQ(sub.subscriptions(), 2u);
        co_await expect_command(pub, reply{std::int64_t{1}}, "PUBLISH", "job-status:global", "g1");
        co_await expect_command(pub, reply{std::int64_t{1}}, "PUBLISH", "job-status:user:42", "u1");
        co_await expect_command(pub, reply{std::int64_t{0}}, "PUBLISH", "elsewhere", "x");
        auto [ec1, m1] = co_await sub.receive();
        EXPECT_FALSE(ec1);
        EXPECT_EQ(m1, (message{.channel = "job-status:global", .payload = "g1"}));
        auto [ec2, m2] = co_await sub.receive();
        EXPECT_FALSE(ec2);
        EXPECT_EQ(m2, (message{.channel = "job-status:user:42", .payload = "u1",
                               .pattern = "job-status:user:*"}));
        EXPECT_FALSE(sub.try_receive()) << "nothing from a channel not subscribed";

        // Redis dies and comes back on the same port: the subscriptions are renewed.
        srv.kill();
        co_await eventually([&] { return !sub.health().connected; });
        srv.start();
        co_await wait_for_subscribers(pub, "job-status:global", 1);
        co_await wait_for_patterns(pub, 1);
        co_await expect_command(pub, reply{std::int64_t{1}}, "PUBLISH", "job-status:user:7", "u2");
        auto [ec3, m3] = co_await sub.receive();
        EXPECT_FALSE(ec3);
        EXPECT_EQ(m3.payload, "u2");
        EXPECT_TRUE(m3.gap_before) << "messages published while away are lost: said so";
        EXPECT_EQ(sub.health().reconnects, 1u);
        co_await expect_command(pub, reply{std::int64_t{1}}, "PUBLISH", "job-status:global", "g2");
        auto [ec4, m4] = co_await sub.receive();
        EXPECT_EQ(m4.payload, "g2");
        EXPECT_FALSE(m4.gap_before);
    }())), 20s);
}

// The example of docs/redis.md, compiled and run here.
// [snippet:redis-subscribe]
// Hands every status message to `handle` until the subscriber stops.
asio::awaitable<void> follow(redis::subscriber& sub,
                             std::function<void(std::string_view, std::string_view)> handle)
{
    for (;;) {
        auto [ec, msg] = co_await sub.receive();
        if (ec)
            co_return;  // run() ended, or this coroutine was cancelled
        if (msg.gap_before) {
            // Messages were lost before this one (queue full, or a reconnect).
        }
        handle(msg.channel, msg.payload);
    }
}
// [end:redis-subscribe]

TEST_F(RedisSubscriberTest, TheDocsExampleRuns)
{
    redis::connection pub{ioc.get_executor(), test_settings(srv)};
    // [snippet:redis-subscriber-setup]
    redis::subscriber sub{ioc.get_executor(), test_settings(srv)};
    sub.subscribe("job-status:global");
    sub.psubscribe("job-status:user:*");  // sent again after every reconnect
    // [end:redis-subscriber-setup]
    std::vector<std::string> got;
    run_coroutine_test(ioc, while_running(pub, while_running(sub, [&]() -> asio::awaitable<void> {
        co_await wait_for_subscribers(pub, "job-status:global", 1);
        co_await wait_for_patterns(pub, 1);
        co_await command(pub, "PUBLISH", "job-status:user:9", "done");
        co_await (follow(sub, [&](std::string_view ch, std::string_view payload) {
                      got.push_back(std::string(ch) + "=" + std::string(payload));
                  }) ||
                  eventually([&] { return !got.empty(); }));
    }())), 10s);
    EXPECT_EQ(got, std::vector<std::string>{"job-status:user:9=done"});
}

TEST_F(RedisSubscriberTest, SubscribingWhileConnectedAndUnsubscribing)
{
    redis::connection pub{ioc.get_executor(), test_settings(srv)};
    redis::subscriber sub{ioc.get_executor(), test_settings(srv)};
    run_coroutine_test(ioc, while_running(pub, while_running(sub, [&]() -> asio::awaitable<void> {
        co_await eventually([&] { return sub.health().connected; });
        sub.subscribe("a");
        sub.subscribe("a");  // once is enough
        sub.subscribe("b");
        co_await wait_for_subscribers(pub, "b", 1);
        co_await eventually([&] { return sub.subscriptions() == 2u; });
        sub.unsubscribe("a");
        sub.unsubscribe("not-subscribed");
        co_await wait_for_subscribers(pub, "a", 0);
        co_await expect_command(pub, reply{std::int64_t{0}}, "PUBLISH", "a", "lost");
        co_await expect_command(pub, reply{std::int64_t{1}}, "PUBLISH", "b", "kept");
        auto [ec, m] = co_await sub.receive();
        EXPECT_FALSE(ec);
        EXPECT_EQ(m.channel, "b");
        EXPECT_EQ(m.payload, "kept");
        // Health PINGs are answered in subscribed mode, and with no subscription left.
        sub.unsubscribe("b");
        co_await wait_for_subscribers(pub, "b", 0);
        auto const before = sub.health().last_rtt;
        co_await eventually([&] {
            return sub.health().last_rtt.has_value() && sub.health().last_rtt != before;
        });
        EXPECT_TRUE(sub.health().connected);
        EXPECT_EQ(sub.health().reconnects, 0u) << "no PING went unanswered";
    }())), 20s);
}

TEST_F(RedisSubscriberTest, AFullQueueDropsCountsAndMarksTheGap)
{
    log_capture logs;
    auto s = test_settings(srv);
    s.max_pending_messages = 2;
    redis::connection pub{ioc.get_executor(), test_settings(srv)};
    redis::subscriber sub{ioc.get_executor(), s, logs.get()};
    sub.subscribe("ch");
    run_coroutine_test(ioc, while_running(pub, while_running(sub, [&]() -> asio::awaitable<void> {
        co_await wait_for_subscribers(pub, "ch", 1);
        for (auto const* p : {"1", "2", "3", "4", "5"})
            co_await command(pub, "PUBLISH", "ch", p);
        co_await eventually([&] { return sub.dropped() == 3u; });
        EXPECT_EQ(sub.health().queued, 2u);
        auto [e1, m1] = co_await sub.receive();
        auto [e2, m2] = co_await sub.receive();
        EXPECT_EQ(m1.payload, "1");
        EXPECT_EQ(m2.payload, "2");
        EXPECT_FALSE(m1.gap_before);
        co_await command(pub, "PUBLISH", "ch", "6");
        auto [e3, m3] = co_await sub.receive();
        EXPECT_EQ(m3.payload, "6");
        EXPECT_TRUE(m3.gap_before) << "3, 4 and 5 were dropped before it";
    }())), 20s);
    EXPECT_TRUE(logs.contains("message queue full"));
}

TEST_F(RedisSubscriberTest, ReceiveEndsWhenRunEnds)
{
    redis::connection pub{ioc.get_executor(), test_settings(srv)};
    redis::subscriber sub{ioc.get_executor(), test_settings(srv)};
    sub.subscribe("ch");
    bool receiving_ended = false;
    boost::system::error_code receive_ec;
    run_coroutine_test(ioc, while_running(pub, [&]() -> asio::awaitable<void> {
        // A receiver that waits across the end of run().
        asio::co_spawn(ioc, [&]() -> asio::awaitable<void> {
            for (;;) {
                auto [ec, m] = co_await sub.receive();
                if (ec) {
                    receive_ec = ec;
                    break;
                }
            }
            receiving_ended = true;
        }, asio::detached);
        co_await while_running(sub, [&]() -> asio::awaitable<void> {
            co_await wait_for_subscribers(pub, "ch", 1);
            co_await command(pub, "PUBLISH", "ch", "x");
            co_await eventually([&] { return sub.health().queued == 0u; });
        }());
        co_await eventually([&] { return receiving_ended; });
        EXPECT_EQ(receive_ec, error::not_connected);
        co_await wait_for_subscribers(pub, "ch", 0);  // the connection is closed
    }()), 20s);
}

}  // namespace
}  // namespace jobwatch::test
