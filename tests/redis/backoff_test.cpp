// Test that the header is self-contained.
#include <jobwatch/redis/detail/backoff.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <vector>

namespace jobwatch::redis::detail {
namespace {

using namespace std::chrono_literals;
using ms = std::chrono::milliseconds;

TEST(RedisBackoffTest, CeilingDoublesUpToTheCap)
{
    struct row
    {
        unsigned attempt;
        ms ceiling;
    };
    std::vector<row> const rows = {
        {0, 100ms}, {1, 200ms},   {2, 400ms},   {3, 800ms},   {4, 1600ms},
        {5, 3200ms}, {6, 6400ms}, {7, 10000ms}, {8, 10000ms}, {63, 10000ms},
        {64, 10000ms}, {1000, 10000ms},  // no overflow however long the outage
    };
    for (auto const& r : rows)
        EXPECT_EQ(backoff_ceiling(100ms, 10s, r.attempt), r.ceiling) << r.attempt;
    // A cap below the base bounds the first wait too.
    EXPECT_EQ(backoff_ceiling(100ms, 50ms, 0), 50ms);
    // A huge base does not overflow when doubled.
    auto const huge = backoff_duration::max() / 3 * 2;
    EXPECT_EQ(backoff_ceiling(huge, backoff_duration::max(), 5), backoff_duration::max());
}

TEST(RedisBackoffTest, FullJitterSpansZeroToTheCeiling)
{
    struct row
    {
        unsigned attempt;
        double u;
        ms delay;
    };
    std::vector<row> const rows = {
        {0, 0.0, 0ms},    {0, 0.5, 50ms},  {0, 1.0, 100ms}, {3, 0.25, 200ms},
        {9, 0.5, 5000ms}, {9, 1.0, 10s},   {2, -1.0, 0ms},  {2, 2.0, 400ms},  // u is clamped
    };
    for (auto const& r : rows)
        EXPECT_EQ(std::chrono::duration_cast<ms>(backoff_delay(100ms, 10s, r.attempt, r.u)),
                  r.delay)
            << r.attempt << " " << r.u;
}

TEST(RedisBackoffTest, ScheduleStaysBoundedAndRestartsAfterReset)
{
    backoff b{100ms, 1s, 42};
    for (unsigned i = 0; i < 200; ++i) {
        auto const d = b.next();
        EXPECT_GE(d, backoff_duration::zero());
        EXPECT_LE(d, backoff_ceiling(100ms, 1s, i)) << i;
    }
    EXPECT_EQ(b.failures(), 64u) << "the count stops growing";
    b.reset();
    EXPECT_EQ(b.failures(), 0u);
    EXPECT_LE(b.next(), 100ms);
}

TEST(RedisBackoffTest, SameSeedSameSchedule)
{
    backoff a{10ms, 1s, 7};
    backoff b{10ms, 1s, 7};
    for (int i = 0; i < 20; ++i)
        EXPECT_EQ(a.next(), b.next()) << i;
}

}  // namespace
}  // namespace jobwatch::redis::detail
