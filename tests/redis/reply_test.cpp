// Test that the header is self-contained.
#include <jobwatch/redis/reply.hpp>

#include <gtest/gtest.h>

#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace jobwatch::redis {
namespace {

using namespace std::string_literals;

TEST(RedisReplyTest, EachKindAnswersItsHelpers)
{
    struct row
    {
        reply r;
        reply::kind kind;
        std::optional<std::string> text;  // string()
        std::optional<std::int64_t> number;  // to_integer()
        std::string error;                  // error_message()
        std::size_t elements;
        std::string shown;  // to_string()
    };
    std::vector<row> const rows = {
        {reply{}, reply::kind::nil, std::nullopt, std::nullopt, "", 0, "(nil)"},
        {reply{status{"OK"}}, reply::kind::status, "OK", std::nullopt, "", 0, "OK"},
        {reply{status{"42"}}, reply::kind::status, "42", 42, "", 0, "42"},
        {reply{error_reply{"ERR bad"}}, reply::kind::error, std::nullopt, std::nullopt,
         "ERR bad", 0, "(error) ERR bad"},
        {reply{std::int64_t{-7}}, reply::kind::integer, std::nullopt, -7, "", 0, "(integer) -7"},
        {reply{"abc"s}, reply::kind::string, "abc", std::nullopt, "", 0, "\"abc\""},
        {reply{"1712"s}, reply::kind::string, "1712", 1712, "", 0, "\"1712\""},
        {reply{""s}, reply::kind::string, "", std::nullopt, "", 0, "\"\""},
        {reply{"a\0\r\n\"\\"s}, reply::kind::string, "a\0\r\n\"\\"s, std::nullopt, "", 0,
         "\"a\\x00\\x0d\\x0a\\\"\\\\\""},
        {reply{reply::array_type{}}, reply::kind::array, std::nullopt, std::nullopt, "", 0, "[]"},
        {reply{reply::array_type{reply{"k"s}, reply{reply::array_type{reply{std::int64_t{1}}, reply{}}}}},
         reply::kind::array, std::nullopt, std::nullopt, "", 2, "[\"k\", [(integer) 1, (nil)]]"},
    };
    for (auto const& row : rows) {
        auto const& r = row.r;
        EXPECT_EQ(r.type(), row.kind) << row.shown;
        EXPECT_EQ(r.string(), row.text) << row.shown;
        EXPECT_EQ(r.to_integer(), row.number) << row.shown;
        EXPECT_EQ(r.error_message(), row.error) << row.shown;
        EXPECT_EQ(r.elements().size(), row.elements) << row.shown;
        EXPECT_EQ(to_string(r), row.shown);
        EXPECT_EQ(r.is_nil(), row.kind == reply::kind::nil);
        EXPECT_EQ(r.is_error(), row.kind == reply::kind::error);
        EXPECT_EQ(r.is_array(), row.kind == reply::kind::array);
    }
}

TEST(RedisReplyTest, ToIntegerTakesOnlyWholeDecimalNumbers)
{
    struct row
    {
        std::string text;
        std::optional<std::int64_t> expected;
    };
    std::vector<row> const rows = {
        {"0", 0},
        {"-1", -1},
        {"9223372036854775807", std::numeric_limits<std::int64_t>::max()},
        {"-9223372036854775808", std::numeric_limits<std::int64_t>::min()},
        {"9223372036854775808", std::nullopt},  // overflow
        {"+1", std::nullopt},
        {" 1", std::nullopt},
        {"1 ", std::nullopt},
        {"1.5", std::nullopt},
        {"0x10", std::nullopt},
        {"", std::nullopt},
        {"1712000000000-0", std::nullopt},  // a stream id is not a number
    };
    for (auto const& row : rows)
        EXPECT_EQ(reply{row.text}.to_integer(), row.expected) << "'" << row.text << "'";
}

TEST(RedisReplyTest, AtReachesElementsSafely)
{
    reply const r{reply::array_type{reply{"a"s}, reply{std::int64_t{2}}}};
    ASSERT_NE(r.at(1), nullptr);
    EXPECT_EQ(r.at(1)->to_integer(), 2);
    EXPECT_EQ(r.at(2), nullptr);
    EXPECT_EQ(reply{"x"s}.at(0), nullptr);
}

TEST(RedisReplyTest, EqualityComparesKindAndContents)
{
    EXPECT_EQ(reply{"OK"s}, reply{"OK"s});
    EXPECT_NE(reply{"OK"s}, reply{status{"OK"}}) << "a bulk string is not a status";
    EXPECT_NE(reply{error_reply{"OK"}}, reply{status{"OK"}});
    EXPECT_NE(reply{}, reply{reply::array_type{}}) << "nil is not an empty array";
    EXPECT_EQ(reply{reply::array_type{reply{}}}, reply{reply::array_type{reply{nil{}}}});
}

}  // namespace
}  // namespace jobwatch::redis
