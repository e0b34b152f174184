// Test that the header is self-contained.
#include <jobwatch/events/rooms.hpp>

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace {

namespace rooms = jobwatch::rooms;
using jobwatch::job_rooms;

TEST(RoomsTest, NamesOfATenantsIdsCarryTheTenant)
{
    EXPECT_EQ(rooms::job("acme", "42"), "job:acme/42");
    EXPECT_EQ(rooms::job("", "42"), "job:42");
    EXPECT_EQ(rooms::run("acme", "r1"), "run:acme/r1");
    EXPECT_EQ(rooms::user("acme", "alice"), "user:acme/alice");
    EXPECT_EQ(rooms::tenant("acme"), "tenant:acme");
    EXPECT_EQ(rooms::queue("emails"), "queue:emails");
}

TEST(RoomsTest, ParseTakesEveryValidNameApartAndRefusesTheRest)
{
    struct row
    {
        std::string room;
        std::optional<rooms::kind> kind;  // nullopt: not a room
        std::string tenant;
        std::string id;
    };
    std::vector<row> const table = {
        {"job:42", rooms::kind::job, "", "42"},
        {"job:acme/42", rooms::kind::job, "acme", "42"},
        {"run:acme/nightly-1", rooms::kind::run, "acme", "nightly-1"},
        {"user:a.b@c.d", rooms::kind::user, "", "a.b@c.d"},
        {"user:acme/alice", rooms::kind::user, "acme", "alice"},
        {"queue:emails", rooms::kind::queue, "", "emails"},
        {"tenant:acme", rooms::kind::tenant, "acme", "acme"},
        {"alerts", rooms::kind::alerts, "", ""},
        {"health", rooms::kind::health, "", ""},
        {"job:", std::nullopt, "", ""},
        {"job:a/", std::nullopt, "", ""},
        {"job:/a", std::nullopt, "", ""},
        {"job:a/b/c", std::nullopt, "", ""},
        {"queue:a/b", std::nullopt, "", ""},  // queues gather every tenant
        {"tenant:a/b", std::nullopt, "", ""},
        {"job:a b", std::nullopt, "", ""},
        {"jobs:a", std::nullopt, "", ""},
        {"alerts:x", std::nullopt, "", ""},
        {"job:" + std::string(201, 'x'), std::nullopt, "", ""},
        {"job:" + std::string(200, 'x'), rooms::kind::job, "", std::string(200, 'x')},
        {"job:a\n", std::nullopt, "", ""},
    };
    for (auto const& r : table) {
        auto const n = rooms::parse(r.room);
        ASSERT_EQ(n.has_value(), r.kind.has_value()) << r.room;
        if (!n)
            continue;
        EXPECT_EQ(n->kind, *r.kind) << r.room;
        EXPECT_EQ(n->tenant, r.tenant) << r.room;
        EXPECT_EQ(n->id, r.id) << r.room;
    }
}

TEST(RoomsTest, AJobsRoomsAreItsJobQueueRunTenantAndUser)
{
    auto const all = job_rooms::make("acme", "j1", "mail", "r1", "u7");
    std::vector<std::string> names;
    for (std::size_t i = 0; i < all->size(); ++i)
        names.emplace_back((*all)[i]);
    EXPECT_EQ(names, (std::vector<std::string>{"job:acme/j1", "queue:mail", "run:acme/r1", "tenant:acme",
                                               "user:acme/u7"}));
    EXPECT_EQ(all->tenant_id(), "acme");
    EXPECT_EQ(all->user_key(), "acme/u7");
    EXPECT_EQ(all->of(rooms::kind::run), "run:acme/r1");

    auto const bare = job_rooms::make("", "j2", "mail", "", "");
    ASSERT_EQ(bare->size(), 2u);
    EXPECT_EQ((*bare)[0], "job:j2");
    EXPECT_EQ((*bare)[1], "queue:mail");
    EXPECT_EQ(bare->of(rooms::kind::run), "");
    EXPECT_EQ(bare->tenant_id(), "");
    EXPECT_EQ(bare->user_key(), "");

    // Every name it makes is one parse() takes back to the same parts.
    for (std::size_t i = 0; i < all->size(); ++i)
        EXPECT_TRUE(rooms::parse((*all)[i])) << (*all)[i];
}

}  // namespace
