// Test that the header is self-contained.
#include <jobwatch/core.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

// The core's ingest: who may write which job, where an event goes, what is
// delivered. One test per bug of the isolation issue, written against the
// core directly (the gateway's tests drive the same over the network).

namespace {

using namespace jobwatch;

principal tenant_principal(std::string tenant, std::optional<std::string> user = std::nullopt)
{
    return principal{.subject = "s-" + tenant,
                     .tenant_id = std::move(tenant),
                     .user_id = std::move(user),
                     .scopes = {auth_scope::read, auth_scope::publish}};
}

struct fixture
{
    asio::io_context io;
    core c{io.get_executor(), config{}, logger{.lvl = logger::level::error},
           [] { return time_point{std::chrono::milliseconds{1'714'564'800'000}}; }};
    /// Job events delivered, per room: (seq, event JSON).
    std::map<std::string, std::vector<std::pair<std::uint64_t, std::string>>> rooms;
    std::size_t delivered = 0;

    fixture()
    {
        c.on_room_message([this](room_message const& m) {
            auto const* e = std::get_if<event_out>(&m);
            if (!e)
                return;
            ++delivered;
            auto const& r = *e->event->rooms;
            for (std::size_t i = 0; i < r.size(); ++i)
                rooms[std::string(r[i])].emplace_back(e->event->seq, e->event->json());
        });
    }

    publish_result text(std::string json, principal const* by = nullptr) { return c.publish_text(json, by); }
};

TEST(CoreTest, ATenantCannotWriteAnotherTenantsJob)
{
    fixture f;
    auto const a = tenant_principal("a");
    auto const evil = tenant_principal("evil");
    ASSERT_TRUE(f.text(R"({"type":"job.queued","job_id":"j","queue":"q","run_id":"r"})", &a));
    // Naming the victim's tenant is refused.
    auto const forged = f.text(R"({"type":"job.cancelled","job_id":"j","queue":"q","tenant_id":"a"})", &evil);
    EXPECT_EQ(forged.status, publish_status::forbidden);
    EXPECT_EQ(forged.error.path, "/tenant_id");
    // Its own tenant's "j" is another job; a's stays queued and hears nothing.
    auto const own = f.text(R"({"type":"job.cancelled","job_id":"j","queue":"q","tenant_id":"evil"})", &evil);
    EXPECT_TRUE(own);
    EXPECT_EQ(f.c.store().find("a", "j")->state(), job_state::queued);
    EXPECT_EQ(f.c.store().find("evil", "j")->state(), job_state::cancelled);
    EXPECT_EQ(f.rooms["job:a/j"].size(), 1u);
    EXPECT_EQ(f.rooms["run:a/r"].size(), 1u);
    EXPECT_EQ(f.rooms.count("tenant:a"), 1u);
    EXPECT_EQ(f.rooms["tenant:a"].size(), 1u);
    EXPECT_EQ(f.rooms["job:evil/j"].size(), 1u);
    EXPECT_EQ(f.c.ingest_counters().forbidden, 1u);
}

TEST(CoreTest, EventsThatOmitTheirScopeReachTheJobsScopeRooms)
{
    fixture f;
    ASSERT_TRUE(f.text(R"({"type":"job.queued","job_id":"j","queue":"q","run_id":"r","tenant_id":"a","user_id":"u"})"));
    ASSERT_TRUE(f.text(R"({"type":"job.started","job_id":"j","queue":"q","attempt":1})"));
    ASSERT_TRUE(f.text(R"({"type":"job.progress","job_id":"j","queue":"q","percent":50})"));
    ASSERT_TRUE(f.text(R"({"type":"job.cancelled","job_id":"j","queue":"q"})"));
    for (auto room : {"job:a/j", "queue:q", "run:a/r", "tenant:a", "user:a/u"})
        EXPECT_EQ(f.rooms[room].size(), 4u) << room;
    // Each event names the job's scope as the store keeps it.
    for (auto const& [seq, json] : f.rooms["run:a/r"]) {
        auto const v = boost::json::parse(json);
        EXPECT_EQ(v.at("tenant_id"), "a") << json;
        EXPECT_EQ(v.at("run_id"), "r") << json;
        EXPECT_EQ(v.at("user_id"), "u") << json;
    }
    // A later event naming another run does not move the job (its first event fixed it).
    ASSERT_TRUE(f.text(R"({"type":"job.queued","job_id":"k","queue":"q","tenant_id":"a","run_id":"r"})"));
    ASSERT_TRUE(f.text(R"({"type":"job.started","job_id":"k","queue":"q","attempt":1,"run_id":"other"})"));
    EXPECT_EQ(f.rooms.count("run:a/other"), 0u);
    EXPECT_EQ(boost::json::parse(f.rooms["run:a/r"].back().second).at("run_id"), "r");
}

TEST(CoreTest, EventsTheStoreIgnoredAreCountedNotDelivered)
{
    fixture f;
    ASSERT_TRUE(f.text(R"({"type":"job.queued","job_id":"j","queue":"q"})"));
    ASSERT_TRUE(f.text(R"({"type":"job.cancelled","job_id":"j","queue":"q"})"));
    auto const before = f.delivered;
    auto const seq = f.c.events().last_seq();
    auto const late = f.text(R"({"type":"job.started","job_id":"j","queue":"q","attempt":2})");
    EXPECT_EQ(late.status, publish_status::ignored);
    EXPECT_EQ(late.reason, "after_terminal");
    EXPECT_EQ(f.text(R"({"type":"job.progress","job_id":"j","queue":"q","percent":10})").status,
              publish_status::ignored);
    EXPECT_EQ(f.delivered, before);
    EXPECT_EQ(f.c.events().last_seq(), seq) << "an ignored event takes no sequence number";
    EXPECT_EQ(f.c.ingest_counters().ignored, 2u);
    EXPECT_EQ(f.c.store().find({}, "j")->state(), job_state::cancelled);
    // The next applied event has the next number: no gap.
    auto const next = f.text(R"({"type":"job.queued","job_id":"k","queue":"q"})");
    EXPECT_EQ(next.seq, seq + 1);
}

TEST(CoreTest, AnEventWithoutTenantInheritsTheOneJobsTenantOrIsAConflict)
{
    fixture f;
    ASSERT_TRUE(f.text(R"({"type":"job.queued","job_id":"j","queue":"q","tenant_id":"a"})"));
    auto const inherited = f.text(R"({"type":"job.started","job_id":"j","queue":"q","attempt":1})");
    ASSERT_TRUE(inherited);
    EXPECT_EQ(f.c.store().find("a", "j")->state(), job_state::running);
    EXPECT_EQ(f.c.store().size(), 1u);
    ASSERT_TRUE(f.text(R"({"type":"job.queued","job_id":"j","queue":"q","tenant_id":"b"})"));
    auto const ambiguous = f.text(R"({"type":"job.completed","job_id":"j","queue":"q"})");
    EXPECT_EQ(ambiguous.status, publish_status::conflict);
    EXPECT_EQ(f.c.ingest_counters().conflicts, 1u);
    // A job of no tenant with the id takes such events.
    ASSERT_TRUE(f.text(R"({"type":"job.queued","job_id":"n","queue":"q"})"));
    ASSERT_TRUE(f.text(R"({"type":"job.queued","job_id":"n","queue":"q","tenant_id":"a"})"));
    ASSERT_TRUE(f.text(R"({"type":"job.started","job_id":"n","queue":"q","attempt":1})"));
    EXPECT_EQ(f.c.store().find({}, "n")->state(), job_state::running);
    EXPECT_EQ(f.c.store().find("a", "n")->state(), job_state::queued);
    // A tenant's principal always names its own tenant.
    auto const b = tenant_principal("b");
    ASSERT_TRUE(f.text(R"({"type":"job.started","job_id":"j","queue":"q","attempt":1})", &b));
    EXPECT_EQ(f.c.store().find("b", "j")->state(), job_state::running);
}

TEST(CoreTest, ProducerIdsAreATenantsOwn)
{
    fixture f;
    auto const a = tenant_principal("a");
    auto const b = tenant_principal("b");
    ASSERT_TRUE(f.text(R"({"type":"job.queued","job_id":"j","queue":"q","id":"e1"})", &a));
    // b cannot probe a's ids, nor make a's events be dropped.
    EXPECT_TRUE(f.text(R"({"type":"job.queued","job_id":"j","queue":"q","id":"e1"})", &b));
    EXPECT_EQ(f.text(R"({"type":"job.queued","job_id":"j2","queue":"q","id":"e1"})", &a).status,
              publish_status::duplicate);
}

TEST(CoreTest, AUsersPrincipalWritesOnlyItsOwnJobs)
{
    fixture f;
    auto const alice = tenant_principal("a", "alice");
    auto const bob = tenant_principal("a", "bob");
    ASSERT_TRUE(f.text(R"({"type":"job.queued","job_id":"j","queue":"q"})", &alice));
    EXPECT_EQ(f.c.store().find("a", "j")->rooms()->user_key(), "a/alice");
    auto const other = f.text(R"({"type":"job.cancelled","job_id":"j","queue":"q"})", &bob);
    EXPECT_EQ(other.status, publish_status::forbidden);
    EXPECT_EQ(f.text(R"({"type":"job.queued","job_id":"k","queue":"q","user_id":"alice"})", &bob).status,
              publish_status::forbidden);
    EXPECT_EQ(f.c.store().find("a", "j")->state(), job_state::queued);
}

}  // namespace
