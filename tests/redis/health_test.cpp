// Test that the header is self-contained.
#include <jobwatch/redis/health.hpp>

#include <gtest/gtest.h>

namespace jobwatch::redis {
namespace {

TEST(RedisHealthTest, StartsDisconnectedWithNothingMeasured)
{
    health_info const h;
    EXPECT_FALSE(h.connected);
    EXPECT_FALSE(h.last_rtt);
    EXPECT_EQ(h.reconnects, 0u);
    EXPECT_EQ(h.failed_attempts, 0u);
    EXPECT_FALSE(h.last_error);
    EXPECT_EQ(h.queued, 0u);
    EXPECT_EQ(h.in_flight, 0u);
}

}  // namespace
}  // namespace jobwatch::redis
