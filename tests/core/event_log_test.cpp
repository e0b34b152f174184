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

/// What the core does with an event the job store applied: admit, name its
/// job's rooms (here: from the event's own fields), commit.
event_log::admit_result append(event_log& log, jobwatch::job_event ev, jobwatch::time_point now)
{
    auto r = log.admit(std::move(ev), now);
    if (r.st == event_log::status::accepted) {
        auto const& e = r.event->event;
        auto const opt = [](std::optional<std::string> const& v) { return v ? std::string_view(*v) : std::string_view{}; };
        r.event->rooms = jobwatch::job_rooms::make(opt(jobwatch::tenant_id_of(e)), jobwatch::job_id_of(e),
                                                   jobwatch::queue_of(e), opt(jobwatch::run_id_of(e)),
                                                   opt(jobwatch::user_id_of(e)));
        log.commit(r.event);
    }
    return r;
}

TEST(EventLogTest, AcceptedEventsGetConsecutiveSequenceNumbers)
{
    event_log log;
    for (std::uint64_t i = 1; i <= 5; ++i) {
        auto r = append(log, progress("j1", 10.0 * static_cast<double>(i)), at(1000));
        ASSERT_EQ(r.st, event_log::status::accepted);
        EXPECT_EQ(r.event->seq, i);
    }
    EXPECT_EQ(log.last_seq(), 5u);
    EXPECT_EQ(log.counters().accepted, 5u);
}

TEST(EventLogTest, FillsInTheTimeWhenAbsentAndKeepsItWhenGiven)
{
    event_log log;
    auto filled = append(log, progress("j1", 1), at(1'714'566'600'250));
    EXPECT_EQ(filled.event->time, at(1'714'566'600'250));
    auto const json = boost::json::parse(filled.event->json());
    EXPECT_EQ(json.at("time"), "2024-05-01T12:30:00.250Z");
    // What subscribers see is a valid event.
    EXPECT_TRUE(jobwatch::parse<jobwatch::job_event>(filled.event->json()));

    auto ev = progress("j1", 2);
    jobwatch::time_of(ev) = "2024-05-01T14:30:00+02:00";
    auto kept = append(log, ev, at(0));
    EXPECT_EQ(boost::json::parse(kept.event->json()).at("time"), "2024-05-01T14:30:00+02:00");
    EXPECT_EQ(kept.event->time, at(1'714'566'600'000));

    auto bad = progress("j1", 3);
    jobwatch::time_of(bad) = "yesterday";
    auto r = append(log, bad, at(0));
    EXPECT_EQ(r.st, event_log::status::invalid);
    EXPECT_EQ(r.error.path, "/time");
    EXPECT_EQ(log.last_seq(), 2u);
}

TEST(EventLogTest, AnEventThatIsNotCommittedTakesNoSequenceNumber)
{
    // The job store ignored it: the next event gets the number it would have had.
    event_log log;
    auto ignored = log.admit(progress("j", 1), at(0));
    ASSERT_EQ(ignored.st, event_log::status::accepted);
    EXPECT_EQ(ignored.event->seq, 1u);
    EXPECT_EQ(log.last_seq(), 0u);
    auto next = append(log, progress("j", 2), at(0));
    EXPECT_EQ(next.event->seq, 1u);
    EXPECT_EQ(log.last_seq(), 1u);
    EXPECT_EQ(log.counters().accepted, 1u);
}

TEST(EventLogTest, DropsRepeatedProducerIdsWithinTheWindow)
{
    event_log log{{.history_per_room = 10, .history_size = 100, .dedup_window = 2, .max_rooms = 100}};
    auto with_id = [](std::string id) {
        auto ev = progress("j", 1);
        std::get<jobwatch::job_progress>(ev).id = std::move(id);
        return ev;
    };
    EXPECT_EQ(append(log, with_id("a"), at(0)).st, event_log::status::accepted);
    EXPECT_EQ(append(log, with_id("a"), at(0)).st, event_log::status::duplicate);
    EXPECT_EQ(append(log, with_id("b"), at(0)).st, event_log::status::accepted);
    EXPECT_EQ(append(log, with_id("c"), at(0)).st, event_log::status::accepted);
    // "a" has left the window of two ids.
    EXPECT_EQ(append(log, with_id("a"), at(0)).st, event_log::status::accepted);
    EXPECT_EQ(log.counters().duplicates, 1u);
    EXPECT_EQ(log.last_seq(), 4u);
}

TEST(EventLogTest, ProducerIdsAreRememberedPerTenant)
{
    event_log log;
    auto with = [](std::optional<std::string> tenant) {
        auto ev = progress("j", 1);
        auto& p = std::get<jobwatch::job_progress>(ev);
        p.id = "same";
        p.tenant_id = std::move(tenant);
        return ev;
    };
    EXPECT_EQ(append(log, with("a"), at(0)).st, event_log::status::accepted);
    EXPECT_EQ(append(log, with("b"), at(0)).st, event_log::status::accepted);
    EXPECT_EQ(append(log, with(std::nullopt), at(0)).st, event_log::status::accepted);
    EXPECT_EQ(append(log, with("a"), at(0)).st, event_log::status::duplicate);
    EXPECT_EQ(append(log, with("b"), at(0)).st, event_log::status::duplicate);
    EXPECT_EQ(append(log, with(std::nullopt), at(0)).st, event_log::status::duplicate);
}

TEST(EventLogTest, KeepsEachEventInTheHistoryOfEveryRoomOfItsJob)
{
    event_log log;
    jobwatch::job_completed c{.job_id = "j1", .queue = "mail"};
    c.run_id = "r1";
    c.tenant_id = "acme";
    c.user_id = "u7";
    append(log, c, at(0));
    for (auto room : {"job:acme/j1", "queue:mail", "run:acme/r1", "tenant:acme", "user:acme/u7"}) {
        EXPECT_EQ(log.position(room), 1u) << room;
        EXPECT_EQ(log.replay(room, 0).entries.size(), 1u) << room;
    }
    EXPECT_EQ(log.room_count(), 5u);
}

TEST(EventLogTest, ARoomWithoutHistoryStandsAtTheLastSequenceNumber)
{
    event_log log;
    append(log, progress("a", 1, "r1"), at(0));  // 1
    append(log, progress("b", 1, "r2"), at(0));  // 2
    EXPECT_EQ(log.position("run:r1"), 1u);
    EXPECT_EQ(log.position("run:never"), 2u);
    EXPECT_EQ(log.position(jobwatch::rooms::health), 2u);
    auto const r = log.replay("run:never", 2);
    EXPECT_FALSE(r.reset);
    EXPECT_EQ(r.seq, 2u);
}

TEST(EventLogTest, ReplayGivesExactlyWhatWasMissedInOrder)
{
    event_log log;
    append(log, progress("a", 1, "r1"), at(0));  // 1
    append(log, progress("b", 1, "r2"), at(0));  // 2
    append(log, progress("a", 2, "r1"), at(0));  // 3
    append(log, progress("a", 3, "r1"), at(0));  // 4
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
        append(log, progress("a", i), at(0));  // seqs 1..5; the room keeps 3..5
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
    append(log, p, at(0));  // job:a, queue:q (seq 1)
    p.job_id = "b";
    append(log, p, at(0));  // job:b, queue:q (seq 2)
    p.job_id = "c";
    append(log, p, at(0));  // job:c evicts job:a, the least recently used (seq 3)
    EXPECT_EQ(log.counters().rooms_evicted, 1u);
    EXPECT_EQ(log.position("queue:q"), 3u);
    auto const reset = log.replay("job:a", 0);
    EXPECT_TRUE(reset.reset);
    // The reset moves a client forward: to where the log stands, never back.
    EXPECT_EQ(reset.seq, 3u);
    EXPECT_FALSE(log.replay("job:a", 1).reset);  // nothing after 1 can have been lost
    EXPECT_FALSE(log.replay("job:never", 1).reset);
    // health keeps no history: nothing of it can be lost.
    EXPECT_FALSE(log.replay(jobwatch::rooms::health, 0).reset);
}

TEST(EventLogTest, MessagesThatLeftTheGlobalRingAreAReset)
{
    event_log log{{.history_per_room = 10, .history_size = 4, .dedup_window = 0, .max_rooms = 100}};
    append(log, progress("quiet", 1, "r-quiet"), at(0));  // seq 1
    for (int i = 0; i < 3; ++i)
        append(log, progress("busy", i, "r-busy"), at(0));  // seqs 2..4: the ring still holds 1
    EXPECT_EQ(log.replay("run:r-quiet", 0).entries.size(), 1u);
    append(log, progress("busy", 9, "r-busy"), at(0));  // seq 5 overwrites seq 1
    EXPECT_TRUE(log.replay("run:r-quiet", 0).reset);
    EXPECT_FALSE(log.replay("run:r-quiet", 1).reset);
    EXPECT_EQ(log.replay("run:r-busy", 1).entries.size(), 4u);
    // A new message drops what left the ring from the room's own history: the same answers.
    append(log, progress("quiet", 2, "r-quiet"), at(0));  // seq 6
    EXPECT_TRUE(log.replay("run:r-quiet", 0).reset);
    auto const r = log.replay("run:r-quiet", 1);
    EXPECT_FALSE(r.reset);
    ASSERT_EQ(r.entries.size(), 1u);
    EXPECT_EQ(r.entries[0].seq, 6u);
}

/// The core's way: one job_rooms per job, shared by all its events (the log
/// keeps where each room lives in it).
std::uint64_t append_to(event_log& log, std::shared_ptr<jobwatch::job_rooms const> const& rooms, double pct)
{
    auto r = log.admit(jobwatch::job_progress{.job_id = std::string(rooms->of(jobwatch::rooms::kind::job).substr(4)),
                                              .queue = "q", .percent = pct},
                       at(0));
    EXPECT_EQ(r.st, event_log::status::accepted);
    r.event->rooms = rooms;
    log.commit(r.event);
    return r.event->seq;
}

TEST(EventLogTest, AJobsRoomsAreFoundAgainAfterRoomsWereDropped)
{
    event_log log{{.history_per_room = 10, .history_size = 100, .dedup_window = 0, .max_rooms = 4}};
    auto const a = jobwatch::job_rooms::make("", "a", "q", "", "");
    EXPECT_EQ(append_to(log, a, 1), 1u);
    EXPECT_EQ(append_to(log, a, 2), 2u);
    for (auto const* id : {"b", "c", "d"})
        append_to(log, jobwatch::job_rooms::make("", id, "q", "", ""), 1);  // job:d drops job:a
    EXPECT_GE(log.counters().rooms_evicted, 1u);
    EXPECT_EQ(log.position("job:a"), 5u);  // gone: where the log stands
    // The same job_rooms again: its room is made anew, not written where the dropped one was.
    EXPECT_EQ(append_to(log, a, 3), 6u);
    EXPECT_EQ(log.position("job:a"), 6u);
    auto const r = log.replay("job:a", 5);
    ASSERT_EQ(r.entries.size(), 1u);
    EXPECT_EQ(r.entries[0].seq, 6u);
    EXPECT_EQ(log.replay("queue:q", 0).entries.size(), 6u);
}

TEST(EventLogTest, ABoundBelowAJobsRoomCountStillKeepsEveryEvent)
{
    // Four rooms per event, two kept: making them drops others on every event.
    event_log log{{.history_per_room = 10, .history_size = 100, .dedup_window = 0, .max_rooms = 2}};
    auto const t = jobwatch::job_rooms::make("t", "a", "q", "r", "u");
    for (int i = 1; i <= 5; ++i) {
        EXPECT_EQ(append_to(log, t, i), static_cast<std::uint64_t>(i));
        EXPECT_LE(log.room_count(), 3u);
        EXPECT_EQ(log.position("user:t/u"), static_cast<std::uint64_t>(i));
    }
}

TEST(EventLogTest, AlertsShareTheSequenceAndLiveInTheAlertsRoom)
{
    event_log log;
    append(log, progress("a", 1), at(0));
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
