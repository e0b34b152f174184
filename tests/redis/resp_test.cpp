// Test that the header is self-contained.
#include <jobwatch/redis/detail/resp.hpp>

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace jobwatch::redis::detail {
namespace {

using namespace std::string_literals;
using namespace std::string_view_literals;

// Every reply type, as bytes on the wire and as the reply the client makes of it.
struct wire_row
{
    std::string bytes;
    reply expected;
};

std::vector<wire_row> const& wire_table()
{
    using arr = reply::array_type;
    static std::vector<wire_row> const rows = {
        {"+OK\r\n", reply{status{"OK"}}},
        {"+\r\n", reply{status{""}}},
        {"-ERR unknown command 'FOO'\r\n", reply{error_reply{"ERR unknown command 'FOO'"}}},
        {"-WRONGTYPE Operation against a key\r\n", reply{error_reply{"WRONGTYPE Operation against a key"}}},
        {":0\r\n", reply{std::int64_t{0}}},
        {":-42\r\n", reply{std::int64_t{-42}}},
        {":9223372036854775807\r\n", reply{std::int64_t{9223372036854775807}}},
        {"$5\r\nhello\r\n", reply{"hello"s}},
        {"$0\r\n\r\n", reply{""s}},
        {"$6\r\na\0\r\nb\r\r\n"s, reply{"a\0\r\nb\r"s}},  // binary safe
        {"$-1\r\n", reply{}},
        {"*-1\r\n", reply{}},
        {"*0\r\n", reply{arr{}}},
        {"*3\r\n$1\r\na\r\n:1\r\n$-1\r\n", reply{arr{reply{"a"s}, reply{std::int64_t{1}}, reply{}}}},
        // XREAD's shape: [[stream, [[id, [field, value]]]]]
        {"*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n",
         reply{arr{reply{arr{reply{"s"s},
                             reply{arr{reply{arr{reply{"1-0"s},
                                                 reply{arr{reply{"f"s}, reply{"v"s}}}}}}}}}}}},
        {"*2\r\n-ERR x\r\n+OK\r\n", reply{arr{reply{error_reply{"ERR x"}}, reply{status{"OK"}}}}},
    };
    return rows;
}

TEST(RedisRespTest, ReadsEveryReplyType)
{
    for (auto const& row : wire_table()) {
        resp_reader r;
        ASSERT_TRUE(r.feed(row.bytes.data(), row.bytes.size()));
        auto got = r.next();
        ASSERT_TRUE(got) << "no reply from " << reply{row.bytes};
        EXPECT_EQ(*got, row.expected) << reply{row.bytes};
        EXPECT_FALSE(r.next()) << "exactly one reply";
        EXPECT_FALSE(r.failed());
    }
}

TEST(RedisRespTest, ReadsRepliesSplitAtEveryByte)
{
    // All the replies back to back, fed one byte at a time: each comes out whole, once.
    std::string all;
    for (auto const& row : wire_table())
        all += row.bytes;
    resp_reader r;
    std::vector<reply> got;
    for (char c : all) {
        ASSERT_TRUE(r.feed(&c, 1));
        while (auto rep = r.next())
            got.push_back(std::move(*rep));
        ASSERT_FALSE(r.failed()) << r.error_text();
    }
    ASSERT_EQ(got.size(), wire_table().size());
    for (std::size_t i = 0; i < got.size(); ++i)
        EXPECT_EQ(got[i], wire_table()[i].expected) << i;
}

TEST(RedisRespTest, ReportsBytesThatAreNotResp)
{
    for (std::string const bytes : {"?what\r\n", "$abc\r\n", ":12x\r\n"}) {
        resp_reader r;
        r.feed(bytes.data(), bytes.size());
        EXPECT_FALSE(r.next()) << bytes;
        EXPECT_TRUE(r.failed()) << bytes;
        EXPECT_FALSE(r.error_text().empty());
    }
}

TEST(RedisRespTest, RefusesNestingDeeperThanHiredisAllows)
{
    // hiredis 0.14 bounds the depth, which bounds the recursion of to_reply.
    std::string deep;
    for (int i = 0; i < 20; ++i)
        deep += "*1\r\n";
    deep += ":1\r\n";
    resp_reader r;
    r.feed(deep.data(), deep.size());
    EXPECT_FALSE(r.next());
    EXPECT_TRUE(r.failed());
}

TEST(RedisRespTest, AppendsCommandsInResp)
{
    std::string out;
    std::vector<char const*> ptrs;
    std::vector<std::size_t> lens;
    std::vector<std::string_view> const set{"SET", "k", "v\r\n\0"sv};
    append_command(out, set, ptrs, lens);
    EXPECT_EQ(out, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\nv\r\n\0\r\n"s);
    std::vector<std::string_view> const empty_arg{"GET", ""};
    append_command(out, empty_arg, ptrs, lens);
    EXPECT_EQ(out, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\nv\r\n\0\r\n*2\r\n$3\r\nGET\r\n$0\r\n\r\n"s)
        << "appends after what is there";
}

}  // namespace
}  // namespace jobwatch::redis::detail
