// Test that the header is self-contained.
#include <jobwatch/redis/detail/pipeline.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace jobwatch::redis::detail {
namespace {

using namespace std::string_literals;

// A request of `n` commands whose bytes are `bytes`.
std::shared_ptr<pending> make(std::string const& bytes, std::size_t n = 1, bool internal = false)
{
    return std::make_shared<pending>(bytes, n, internal);
}

struct recorder
{
    std::vector<pending*> done;
    void operator()(pending& p) { done.push_back(&p); }
};

TEST(RedisPipelineTest, WritesInOrderAndMatchesRepliesInOrder)
{
    pipeline pl({.max_queued = 10, .max_in_flight = 10});
    std::string const ab = "AB", c = "C";
    auto a = make(ab, 2);
    auto b = make(c, 1);
    ASSERT_FALSE(pl.push(a));
    ASSERT_FALSE(pl.push(b));
    EXPECT_EQ(pl.queued(), 2u);
    EXPECT_TRUE(pl.writable());

    std::string out;
    EXPECT_EQ(pl.take(out), 2u);
    EXPECT_EQ(out, "ABC") << "both requests in one write";
    EXPECT_EQ(pl.queued(), 0u);
    EXPECT_EQ(pl.in_flight(), 2u);
    EXPECT_FALSE(pl.writable());
    EXPECT_EQ(a->at, pending::stage::in_flight);

    recorder rec;
    EXPECT_FALSE(pl.on_reply(reply{"1"s}, rec));
    EXPECT_TRUE(rec.done.empty()) << "a needs two replies";
    EXPECT_FALSE(pl.on_reply(reply{error_reply{"ERR x"}}, rec));
    ASSERT_EQ(rec.done.size(), 1u);
    EXPECT_EQ(rec.done[0], a.get());
    EXPECT_EQ(a->ec, error::reply_error) << "an error reply marks the request";
    EXPECT_EQ(a->replies, (std::vector<reply>{reply{"1"s}, reply{error_reply{"ERR x"}}}));
    EXPECT_FALSE(pl.on_reply(reply{status{"OK"}}, rec));
    ASSERT_EQ(rec.done.size(), 2u);
    EXPECT_EQ(rec.done[1], b.get());
    EXPECT_FALSE(b->ec);
    EXPECT_EQ(b->at, pending::stage::done);

    EXPECT_EQ(pl.on_reply(reply{}, rec), error::protocol) << "a reply nobody asked for";
}

TEST(RedisPipelineTest, QueueBoundRefusesCallersButNotPings)
{
    pipeline pl({.max_queued = 2, .max_in_flight = 10});
    std::string const x = "x";
    EXPECT_FALSE(pl.push(make(x)));
    EXPECT_FALSE(pl.push(make(x)));
    EXPECT_EQ(pl.push(make(x)), error::queue_full);
    EXPECT_FALSE(pl.push(make(x, 1, true))) << "a health PING is never refused";
    EXPECT_EQ(pl.queued(), 2u) << "and not counted";
    std::string out;
    pl.take(out);
    EXPECT_FALSE(pl.push(make(x))) << "room again once written";
}

TEST(RedisPipelineTest, InFlightBoundHoldsTheWriterBack)
{
    pipeline pl({.max_queued = 10, .max_in_flight = 2});
    std::string const x = "x";
    for (int i = 0; i < 5; ++i)
        ASSERT_FALSE(pl.push(make(x)));
    std::string out;
    EXPECT_EQ(pl.take(out), 2u);
    EXPECT_FALSE(pl.writable());
    EXPECT_EQ(pl.take(out), 0u);
    recorder rec;
    EXPECT_FALSE(pl.on_reply(reply{}, rec));
    EXPECT_TRUE(pl.writable());
    EXPECT_EQ(pl.take(out), 1u);
    EXPECT_EQ(out, "xxx");
    EXPECT_EQ(pl.queued(), 2u);
}

TEST(RedisPipelineTest, AbandonedRequestsAreNotWrittenOrKeepTheirPlace)
{
    pipeline pl({.max_queued = 10, .max_in_flight = 10});
    std::string const a_bytes = "A", b_bytes = "B", c_bytes = "C";
    auto a = make(a_bytes), b = make(b_bytes), c = make(c_bytes);
    pl.push(a);
    pl.push(b);
    pl.abandon(*b);
    EXPECT_EQ(pl.queued(), 1u);
    std::string out;
    EXPECT_EQ(pl.take(out), 1u);
    EXPECT_EQ(out, "A") << "a queued request given up is never written";

    // Given up while in flight: its reply is read and dropped, the next gets its own.
    pl.push(c);
    pl.take(out);
    pl.abandon(*a);
    recorder rec;
    EXPECT_FALSE(pl.on_reply(reply{"for a"s}, rec));
    EXPECT_FALSE(pl.on_reply(reply{"for c"s}, rec));
    ASSERT_EQ(rec.done.size(), 2u);
    EXPECT_TRUE(a->replies.empty());
    EXPECT_EQ(c->replies, std::vector<reply>{reply{"for c"s}});
    pl.abandon(*c);  // done: nothing to do
    EXPECT_FALSE(c->abandoned);
}

TEST(RedisPipelineTest, ManyAbandonedWhileDisconnectedDoNotGrowTheQueue)
{
    pipeline pl({.max_queued = 10, .max_in_flight = 10});
    std::string const x = "x";
    // Callers that time out again and again while nothing is written.
    for (int i = 0; i < 10'000; ++i) {
        auto p = make(x);
        ASSERT_FALSE(pl.push(p)) << i;
        pl.abandon(*p);
    }
    EXPECT_EQ(pl.queued(), 0u);
    EXPECT_FALSE(pl.writable());
    std::string out;
    EXPECT_EQ(pl.take(out), 0u);
    EXPECT_EQ(out, "");
}

TEST(RedisPipelineTest, ADropFailsWhatIsInFlightAndKeepsOrCancelsTheQueue)
{
    pipeline pl({.max_queued = 10, .max_in_flight = 1});
    std::string const x = "x";
    auto a = make(x, 2), b = make(x), ping = make(x, 1, true);
    pl.push(a);
    pl.push(b);
    pl.push(ping);
    std::string out;
    pl.take(out);  // a in flight; b and ping queued
    recorder rec;
    pl.on_reply(reply{"first"s}, rec);

    pl.fail_in_flight(error::connection_lost, rec);
    ASSERT_EQ(rec.done.size(), 1u);
    EXPECT_EQ(a->ec, error::connection_lost);
    EXPECT_EQ(a->replies, std::vector<reply>{reply{"first"s}}) << "what arrived is kept";
    EXPECT_EQ(pl.in_flight(), 0u);

    pl.drop_queued_pings();
    EXPECT_EQ(pl.queued(), 1u) << "b waits for the next connection";
    pl.take(out);
    EXPECT_EQ(pl.in_flight(), 1u) << "the stale PING is gone, b is written";
    pl.fail_in_flight(error::connection_lost, rec);

    auto c = make(x);
    pl.push(c);
    pl.fail_queued(error::not_connected, rec);
    EXPECT_EQ(c->ec, error::not_connected);
    EXPECT_EQ(pl.queued(), 0u);
    EXPECT_EQ(rec.done.back(), c.get());
}

// Every (stage, event) pair: where a request goes and what its caller sees.
TEST(RedisPipelineTest, EveryStageAndEvent)
{
    enum class event
    {
        take,
        reply,
        drop,
        cancel_queue,
        abandon
    };
    struct row
    {
        pending::stage from;
        event ev;
        pending::stage to;
        bool completed;  // done(p) called
    };
    using s = pending::stage;
    std::vector<row> const rows = {
        {s::queued, event::take, s::in_flight, false},
        {s::queued, event::reply, s::queued, false},  // protocol error, nothing changes
        {s::queued, event::drop, s::queued, false},
        {s::queued, event::cancel_queue, s::done, true},
        {s::queued, event::abandon, s::queued, false},
        {s::in_flight, event::take, s::in_flight, false},
        {s::in_flight, event::reply, s::done, true},
        {s::in_flight, event::drop, s::done, true},
        {s::in_flight, event::cancel_queue, s::in_flight, false},
        {s::in_flight, event::abandon, s::in_flight, false},
    };
    std::size_t covered = 0;
    for (auto const& r : rows) {
        pipeline pl({.max_queued = 4, .max_in_flight = 4});
        std::string const x = "x";
        auto p = make(x);
        pl.push(p);
        std::string out;
        if (r.from == s::in_flight)
            pl.take(out);
        ASSERT_EQ(p->at, r.from);
        recorder rec;
        switch (r.ev) {
        case event::take: pl.take(out); break;
        case event::reply: (void)pl.on_reply(reply{}, rec); break;
        case event::drop: pl.fail_in_flight(error::connection_lost, rec); break;
        case event::cancel_queue: pl.fail_queued(error::not_connected, rec); break;
        case event::abandon: pl.abandon(*p); break;
        }
        EXPECT_EQ(p->at, r.to) << static_cast<int>(r.from) << "/" << static_cast<int>(r.ev);
        EXPECT_EQ(rec.done.size(), r.completed ? 1u : 0u)
            << static_cast<int>(r.from) << "/" << static_cast<int>(r.ev);
        ++covered;
    }
    EXPECT_EQ(covered, 2u * 5u) << "two live stages times five events";
}

}  // namespace
}  // namespace jobwatch::redis::detail
