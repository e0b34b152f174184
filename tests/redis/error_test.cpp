// Test that the header is self-contained.
#include <jobwatch/redis/error.hpp>

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace jobwatch::redis {
namespace {

TEST(RedisErrorTest, EveryEnumeratorHasItsOwnMessage)
{
    std::set<std::string> seen;
    for (int e = static_cast<int>(error::not_connected);
         e <= static_cast<int>(error::invalid_settings); ++e) {
        boost::system::error_code const ec = static_cast<error>(e);
        EXPECT_TRUE(ec.failed());
        EXPECT_EQ(ec.category().name(), std::string("jobwatch.redis"));
        EXPECT_NE(ec.message(), "unknown jobwatch.redis error") << e;
        EXPECT_TRUE(seen.insert(ec.message()).second) << "duplicate message for " << e;
    }
    EXPECT_EQ(seen.size(), 13u);
}

TEST(RedisErrorTest, ComparesWithTheEnum)
{
    boost::system::error_code ec = error::queue_full;
    EXPECT_EQ(ec, error::queue_full);
    EXPECT_NE(ec, error::not_connected);
    EXPECT_NE(ec, boost::system::errc::make_error_code(boost::system::errc::timed_out));
}

}  // namespace
}  // namespace jobwatch::redis
