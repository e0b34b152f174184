// Test that the header is self-contained.
#include <jobwatch/redis/request.hpp>

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <list>
#include <string>
#include <string_view>
#include <vector>

namespace jobwatch::redis {
namespace {

using namespace std::string_literals;

TEST(RedisRequestTest, EncodesCommandsInResp)
{
    request req;
    EXPECT_TRUE(req.empty());
    std::string const value = "v";
    req.push("SET", "k", value).push("INCRBY", std::string_view{"n"}, -12);
    EXPECT_EQ(req.size(), 2u);
    EXPECT_EQ(req.payload(), "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"
                             "*3\r\n$6\r\nINCRBY\r\n$1\r\nn\r\n$3\r\n-12\r\n");
    req.clear();
    EXPECT_TRUE(req.empty());
    EXPECT_EQ(req.payload(), "");
}

TEST(RedisRequestTest, FormatsEveryIntegerType)
{
    request req;
    req.push("X", std::int64_t{-9223372036854775807 - 1}, std::uint64_t{18446744073709551615u},
             short{3}, 0u);
    EXPECT_EQ(req.payload(), "*5\r\n$1\r\nX\r\n$20\r\n-9223372036854775808\r\n"
                             "$20\r\n18446744073709551615\r\n$1\r\n3\r\n$1\r\n0\r\n");
}

TEST(RedisRequestTest, ArgumentsAreBinarySafe)
{
    request req;
    req.push("SET", "k", "a\0b\r\n"s);
    EXPECT_EQ(req.payload(), "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\na\0b\r\n\r\n"s);
}

TEST(RedisRequestTest, PushRangeAndPushArgvTakeRuntimeArguments)
{
    request a;
    a.push_range("MGET", std::vector<std::string>{"k1", "k2"});
    a.push_range("SADD", std::list<int>{1, 22});
    request b;
    b.push("MGET", "k1", "k2").push("SADD", 1, 22);
    EXPECT_EQ(a.payload(), b.payload());
    EXPECT_EQ(a.size(), 2u);

    std::vector<std::string_view> argv{"XADD", "s", "*"};
    for (auto f : {"f1", "v1", "f2", "v2"})
        argv.push_back(f);
    request c;
    c.push_argv(argv);
    request d;
    d.push("XADD", "s", "*", "f1", "v1", "f2", "v2");
    EXPECT_EQ(c.payload(), d.payload());
    c.push_argv({});
    EXPECT_EQ(c.size(), 1u) << "an empty argv adds nothing";
}

TEST(RedisRequestTest, FlagsCommandsThatBelongToASubscriber)
{
    for (auto const* name : {"SUBSCRIBE", "psubscribe", "SSubscribe", "UNSUBSCRIBE", "punsubscribe",
                             "SUNSUBSCRIBE", "monitor"}) {
        request req;
        req.push("GET", "k").push(name, "ch");
        EXPECT_TRUE(req.has_pubsub()) << name;
        req.clear();
        EXPECT_FALSE(req.has_pubsub());
    }
    for (auto const* name : {"PUBLISH", "SUBSCRIBEX", "SUB", "PUBSUB"}) {
        request req;
        req.push(name, "ch");
        EXPECT_FALSE(req.has_pubsub()) << name;
    }
}

}  // namespace
}  // namespace jobwatch::redis
