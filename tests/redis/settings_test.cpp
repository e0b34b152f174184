// Test that the header is self-contained.
#include <jobwatch/redis/settings.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace jobwatch::redis {
namespace {

using namespace std::chrono_literals;

struct url_row
{
    std::string url;
    // Expected on success:
    std::string host{};
    std::uint16_t port = 6379;
    std::string username{};
    std::string password{};
    int database = 0;
    bool tls = false;
    // Expected on failure (success when empty):
    boost::system::error_code ec{};
};

TEST(RedisUrlTest, ParsesEveryAcceptedForm)
{
    std::vector<url_row> const rows = {
        {.url = "redis://localhost", .host = "localhost"},
        {.url = "redis://localhost/", .host = "localhost"},
        {.url = "redis://10.0.0.5:6380", .host = "10.0.0.5", .port = 6380},
        {.url = "redis://10.0.0.5:6380/3", .host = "10.0.0.5", .port = 6380, .database = 3},
        {.url = "REDIS://Host:1/0", .host = "Host", .port = 1},
        {.url = "redis://:secret@h:6379/2", .host = "h", .password = "secret", .database = 2},
        {.url = "redis://alice:secret@h:6379/1",
         .host = "h",
         .username = "alice",
         .password = "secret",
         .database = 1},
        // A password holding '@', ':' and '/' is written with %-escapes; the last '@' splits.
        {.url = "redis://:p%40ss%3Aw%2Fd@h", .host = "h", .password = "p@ss:w/d"},
        {.url = "redis://:a@b@h", .host = "h", .password = "a@b"},
        {.url = "redis://:a:b@h", .host = "h", .password = "a:b"},
        {.url = "redis://[::1]:7000/4", .host = "::1", .port = 7000, .database = 4},
        {.url = "redis://[::1]", .host = "::1"},
        {.url = "redis://h:65535", .host = "h", .port = 65535},
        // rediss://: the same, over TLS.
        {.url = "rediss://h:6380", .host = "h", .port = 6380, .tls = true},
        {.url = "REDISS://:secret@h/2", .host = "h", .password = "secret", .database = 2, .tls = true},
    };
    for (auto const& row : rows) {
        settings s{.client_name = "kept", .max_queued_requests = 7};
        std::string reason;
        auto const ec = parse_url(row.url, s, &reason);
        EXPECT_FALSE(ec) << row.url << ": " << reason;
        EXPECT_EQ(s.host, row.host) << row.url;
        EXPECT_EQ(s.port, row.port) << row.url;
        EXPECT_EQ(s.username, row.username) << row.url;
        EXPECT_EQ(s.password, row.password) << row.url;
        EXPECT_EQ(s.database, row.database) << row.url;
        EXPECT_EQ(s.tls, row.tls) << row.url;
        EXPECT_EQ(s.client_name, "kept") << "other fields are left alone";
        EXPECT_EQ(s.max_queued_requests, 7u);
    }
}

TEST(RedisUrlTest, RefusesWhatItCannotServeWithAReason)
{
    std::vector<url_row> const rows = {
        {.url = "rediss:/h", .ec = error::invalid_url},
        {.url = "http://h", .ec = error::invalid_url},
        {.url = "redis:/h", .ec = error::invalid_url},
        {.url = "", .ec = error::invalid_url},
        {.url = "unix:///tmp/redis.sock", .ec = error::invalid_url},
        {.url = "redis://", .ec = error::invalid_url},
        {.url = "redis://:6379", .ec = error::invalid_url},
        {.url = "redis://h:", .ec = error::invalid_url},
        {.url = "redis://h:0", .ec = error::invalid_url},
        {.url = "redis://h:65536", .ec = error::invalid_url},
        {.url = "redis://h:63a9", .ec = error::invalid_url},
        {.url = "redis://h:-1", .ec = error::invalid_url},
        {.url = "redis://h/x", .ec = error::invalid_url},
        {.url = "redis://h/-1", .ec = error::invalid_url},
        {.url = "redis://h/1/2", .ec = error::invalid_url},
        {.url = "redis://h/0?protocol=3", .ec = error::invalid_url},
        {.url = "redis://h#frag", .ec = error::invalid_url},
        {.url = "redis://secret@h", .ec = error::invalid_url},  // user or password?
        {.url = "redis://alice:@h", .ec = error::invalid_url},
        {.url = "redis://:%4@h", .ec = error::invalid_url},
        {.url = "redis://:%zz@h", .ec = error::invalid_url},
        {.url = "redis://[::1", .ec = error::invalid_url},
        {.url = "redis://[::1]x", .ec = error::invalid_url},
        {.url = "redis://[::1]:", .ec = error::invalid_url},
        {.url = "redis://[]:1", .ec = error::invalid_url},
    };
    for (auto const& row : rows) {
        settings s;
        auto const before = s.host;
        std::string reason;
        auto const ec = parse_url(row.url, s, &reason);
        EXPECT_EQ(ec, row.ec) << "'" << row.url << "': " << ec.message();
        EXPECT_FALSE(reason.empty()) << row.url;
        EXPECT_EQ(s.host, before) << "settings are unchanged on failure: " << row.url;
        EXPECT_EQ(reason.find("secret"), std::string::npos) << "a reason never shows a password";
    }
}

TEST(RedisSettingsTest, DefaultsPassTheCheck)
{
    EXPECT_FALSE(check(settings{}));
}

TEST(RedisSettingsTest, CheckNamesTheBadField)
{
    struct row
    {
        std::function<void(settings&)> change;
        std::string field;
    };
    std::vector<row> const rows = {
        {[](settings& s) { s.host.clear(); }, "settings.host"},
        {[](settings& s) { s.port = 0; }, "settings.port"},
        {[](settings& s) { s.database = -1; }, "settings.database"},
        {[](settings& s) { s.username = "alice"; }, "settings.username"},
        {[](settings& s) { s.connect_timeout = 0s; }, "settings.connect_timeout"},
        {[](settings& s) { s.reconnect_base = 0s; }, "settings.reconnect_base"},
        {[](settings& s) { s.reconnect_max = 1ms; }, "settings.reconnect_max"},
        {[](settings& s) { s.health_interval = -1s; }, "settings.health_interval"},
        {[](settings& s) { s.ping_timeout = -1s; }, "settings.ping_timeout"},
        {[](settings& s) { s.max_queued_requests = 0; }, "settings.max_queued_requests"},
        {[](settings& s) { s.max_in_flight_requests = 0; }, "settings.max_in_flight_requests"},
        {[](settings& s) { s.max_pending_messages = 0; }, "settings.max_pending_messages"},
    };
    for (auto const& r : rows) {
        settings s;
        r.change(s);
        std::string reason;
        EXPECT_EQ(check(s, &reason), error::invalid_settings) << r.field;
        EXPECT_NE(reason.find(r.field), std::string::npos) << reason;
    }
    // Zero disables the health PINGs and their timeout: valid.
    EXPECT_FALSE(check(settings{.health_interval = 0s, .ping_timeout = 0s}));
}

}  // namespace
}  // namespace jobwatch::redis
