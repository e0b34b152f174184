// Test that the header is self-contained.
#include <jobwatch/events/event_log.hpp>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

namespace {

using jobwatch::event_log;
using namespace std::chrono_literals;

jobwatch::time_point at(std::int64_t ms)
{
    return jobwatch::time_point{std::chrono::milliseconds{ms}};
}

jobwatch::job_event progress(std::string job, double pct, std::string run = "r1")
{
    jobwatch::job_progress p{.job_id = std::move(job), .queue = "q", .percent = pct};
    p.run_id = std::move(run);
    return p;
}

TEST(EventLogTest, AcceptedEventsGetConsecutiveSequenceNumbers)
{
    event_log log;
    for (std::uint64_t i = 1; i <= 5; ++i) {
        auto r = log.append(progress("j1", 10.0 * static_cast<double>(i)), at(1000));
        ASSERT_EQ(r.st, event_log::status::accepted);
        EXPECT_EQ(r.event->seq, i);
    }
    EXPECT_EQ(log.last_seq(), 5u);
    EXPECT_EQ(log.counters().accepted, 5u);
}

TEST(EventLogTest, FillsInTheTimeWhenAbsentAndKeepsItWhenGiven)
{
    event_log log;
    auto filled = log.append(progress("j1", 1), at(1'714'566'600'250));
    EXPECT_EQ(filled.event->time, at(1'714'566'600'250));
    auto const json = boost::json::parse(filled.event->json());
    EXPECT_EQ(json.at("time"), "2024-05-01T12:30:00.250Z");
    // What subscribers see is a valid event.
    EXPECT_TRUE(jobwatch::parse<jobwatch::job_event>(filled.event->json()));

    auto ev = progress("j1", 2);
    jobwatch::time_of(ev) = "2024-05-01T14:30:00+02:00";
    auto kept = log.append(ev, at(0));
    EXPECT_EQ(boost::json::parse(kept.event->json()).at("time"), "2024-05-01T14:30:00+02:00");
    EXPECT_EQ(kept.event->time, at(1'714'566'600'000));

    auto bad = progress("j1", 3);
    jobwatch::time_of(bad) = "yesterday";
    auto r = log.append(bad, at(0));
    EXPECT_EQ(r.st, event_log::status::invalid);
    EXPECT_EQ(r.error.path, "/time");
    EXPECT_EQ(log.last_seq(), 2u);
}

TEST(EventLogTest, TextIsValidatedAndBadInputLosesNothingElse)
{
    event_log log;
    auto bad = log.append_text(R"({"type":"job.progress","job_id":"j","queue":"q","percent":101})", at(0));
    EXPECT_EQ(bad.st, event_log::status::invalid);
    EXPECT_EQ(bad.error.path, "/percent");
    auto good = log.append_text(R"({"type":"job.progress","job_id":"j","queue":"q","percent":100})", at(0));
    EXPECT_EQ(good.st, event_log::status::accepted);
    EXPECT_EQ(good.event->seq, 1u);
    EXPECT_EQ(log.counters().invalid, 1u);
}

TEST(EventLogTest, DropsRepeatedProducerIdsWithinTheWindow)
{
    event_log log{{.history_per_room = 10, .history_size = 100, .dedup_window = 2, .max_rooms = 100}};
    auto with_id = [](std::string id) {
        auto ev = progress("j", 1);
        std::get<jobwatch::job_progress>(ev).id = std::move(id);
        return ev;
    };
    EXPECT_EQ(log.append(with_id("a"), at(0)).st, event_log::status::accepted);
    EXPECT_EQ(log.append(with_id("a"), at(0)).st, event_log::status::duplicate);
    EXPECT_EQ(log.append(with_id("b"), at(0)).st, event_log::status::accepted);
    EXPECT_EQ(log.append(with_id("c"), at(0)).st, event_log::status::accepted);
    // "a" has left the window of two ids.
    EXPECT_EQ(log.append(with_id("a"), at(0)).st, event_log::status::accepted);
    EXPECT_EQ(log.counters().duplicates, 1u);
    EXPECT_EQ(log.last_seq(), 4u);
}

TEST(EventLogTest, RoutesEachEventToEveryRoomItBelongsTo)
{
    event_log log;
    jobwatch::job_completed c{.job_id = "j1", .queue = "mail"};
    c.run_id = "r1";
    c.tenant_id = "acme";
    c.user_id = "u7";
    log.append(c, at(0));
    EXPECT_EQ(jobwatch::rooms_of(c),
              (std::vector<std::string>{"job:j1", "queue:mail", "run:r1", "tenant:acme", "user:u7"}));
    for (auto const& room : jobwatch::rooms_of(c))
        EXPECT_EQ(log.room_seq(room), 1u) << room;
    EXPECT_EQ(log.room_seq("run:r2"), 0u);
    EXPECT_EQ(log.room_count(), 5u);
}

TEST(EventLogTest, ReplayGivesExactlyWhatWasMissedInOrder)
{
    event_log log;
    log.append(progress("a", 1, "r1"), at(0));  // 1
    log.append(progress("b", 1, "r2"), at(0));  // 2
    log.append(progress("a", 2, "r1"), at(0));  // 3
    log.append(progress("a", 3, "r1"), at(0));  // 4
    auto r = log.replay("run:r1", 1);
    EXPECT_FALSE(r.reset);
    EXPECT_EQ(r.seq, 4u);
    ASSERT_EQ(r.entries.size(), 2u);
    EXPECT_EQ(r.entries[0].seq, 3u);
    EXPECT_EQ(r.entries[1].seq, 4u);
    EXPECT_TRUE(log.replay("run:r1", 4).entries.empty());
    EXPECT_EQ(log.replay("run:r1", 0).entries.size(), 3u);
}

TEST(EventLogTest, ReplayOlderThanTheHistoryIsAReset)
{
    event_log log{{.history_per_room = 3, .history_size = 100, .dedup_window = 0, .max_rooms = 100}};
    for (int i = 0; i < 5; ++i)
        log.append(progress("a", i), at(0));  // seqs 1..5; the room keeps 3..5
    EXPECT_TRUE(log.replay("job:a", 0).reset);
    EXPECT_TRUE(log.replay("job:a", 1).reset);
    // Seen up to 2: everything after it (3..5) is still kept.
    auto r = log.replay("job:a", 2);
    EXPECT_FALSE(r.reset);
    EXPECT_EQ(r.entries.size(), 3u);
}

TEST(EventLogTest, EvictedRoomsResetInsteadOfSkipping)
{
    event_log log{{.history_per_room = 10, .history_size = 100, .dedup_window = 0, .max_rooms = 3}};
    jobwatch::job_progress p{.job_id = "a", .queue = "q", .percent = 1};
    log.append(p, at(0));  // job:a, queue:q (seq 1)
    p.job_id = "b";
    log.append(p, at(0));  // job:b, queue:q (seq 2)
    p.job_id = "c";
    log.append(p, at(0));  // job:c evicts job:a, the least recently used (seq 3)
    EXPECT_EQ(log.counters().rooms_evicted, 1u);
    EXPECT_EQ(log.room_seq("queue:q"), 3u);
    EXPECT_TRUE(log.replay("job:a", 0).reset);
    EXPECT_FALSE(log.replay("job:a", 1).reset);  // nothing after 1 can have been lost
    EXPECT_FALSE(log.replay("job:never", 1).reset);
}

TEST(EventLogTest, MessagesThatLeftTheGlobalRingAreAReset)
{
    event_log log{{.history_per_room = 10, .history_size = 4, .dedup_window = 0, .max_rooms = 100}};
    log.append(progress("quiet", 1, "r-quiet"), at(0));  // seq 1
    for (int i = 0; i < 3; ++i)
        log.append(progress("busy", i, "r-busy"), at(0));  // seqs 2..4: the ring still holds 1
    EXPECT_EQ(log.replay("run:r-quiet", 0).entries.size(), 1u);
    log.append(progress("busy", 9, "r-busy"), at(0));  // seq 5 overwrites seq 1
    EXPECT_TRUE(log.replay("run:r-quiet", 0).reset);
    EXPECT_FALSE(log.replay("run:r-quiet", 1).reset);
    EXPECT_EQ(log.replay("run:r-busy", 1).entries.size(), 4u);
}

TEST(EventLogTest, AlertsShareTheSequenceAndLiveInTheAlertsRoom)
{
    event_log log;
    log.append(progress("a", 1), at(0));
    auto e = log.append_alert(jobwatch::alert{.id = "x", .title = "t", .message = "m",
                                              .time = "2024-05-01T12:00:00Z"});
    EXPECT_EQ(e.seq, 2u);
    auto r = log.replay(jobwatch::rooms::alerts, 0);
    ASSERT_EQ(r.entries.size(), 1u);
    EXPECT_EQ(r.entries[0].alert_msg->id, "x");
}

TEST(EventTimeTest, ParsesAndFormatsRfc3339)
{
    EXPECT_EQ(jobwatch::parse_time("1970-01-01T00:00:00Z"), at(0));
    EXPECT_EQ(jobwatch::parse_time("1970-01-01T01:00:00.5+01:00"), at(500));
    EXPECT_EQ(jobwatch::parse_time("2024-02-29T23:59:60Z"), jobwatch::parse_time("2024-02-29T23:59:59.999Z"));
    EXPECT_FALSE(jobwatch::parse_time("2023-02-29T00:00:00Z"));
    EXPECT_EQ(jobwatch::format_time(at(1'714'566'600'250)), "2024-05-01T12:30:00.250Z");
    for (std::int64_t ms : {0ll, 1ll, 951'782'400'000ll, 4'102'444'799'999ll})
        EXPECT_EQ(jobwatch::parse_time(jobwatch::format_time(at(ms))), at(ms)) << ms;
}

}  // namespace
