// Test that the header is self-contained.
#include <jobwatch/logger.hpp>

#include <jobwatch/app.hpp>

#include <boost/json/parse.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <mutex>
#include <regex>
#include <string>
#include <vector>

namespace jobwatch {
namespace {

struct captured
{
    std::mutex mutex;
    std::vector<std::string> lines;
};

logger capturing(std::shared_ptr<captured> const& c, logger::format fmt, logger::level lvl = logger::level::trace)
{
    return logger{.lvl = lvl, .fmt = fmt, .fn = [c](logger::level, std::string_view line) {
                      std::lock_guard lock(c->mutex);
                      c->lines.emplace_back(line);
                  }};
}

TEST(LoggerTest, JsonLinesCarryTimeLevelComponentMessageAndFields)
{
    auto c = std::make_shared<captured>();
    auto const log = capturing(c, logger::format::json);
    log.warn("bullmq", "queue \"emails\":\nstream gone", {{"queue", "emails"}, {"msg", "not a field"}});
    log.info("started");
    ASSERT_EQ(c->lines.size(), 2u);
    for (auto const& line : c->lines)
        EXPECT_EQ(line.find('\n'), std::string::npos) << "one line per entry: " << line;
    auto const first = boost::json::parse(c->lines[0]).as_object();
    EXPECT_EQ(first.at("level"), "warn");
    EXPECT_EQ(first.at("component"), "bullmq");
    EXPECT_EQ(first.at("msg"), "queue \"emails\":\nstream gone");
    EXPECT_EQ(first.at("queue"), "emails");
    EXPECT_EQ(first.size(), 5u) << "a field never replaces one of the four keys: " << c->lines[0];
    EXPECT_TRUE(std::regex_match(std::string(first.at("ts").as_string()),
                                 std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
        << first.at("ts");
    auto const second = boost::json::parse(c->lines[1]).as_object();
    EXPECT_EQ(second.at("component"), "app");
    EXPECT_EQ(second.at("msg"), "started");
}

TEST(LoggerTest, TextLinesNameTheComponentAndQuoteFieldsThatNeedIt)
{
    auto c = std::make_shared<captured>();
    auto const log = capturing(c, logger::format::text);
    log.info("storage", "writing again", {{"file", "a b.db"}, {"events", "12"}});
    log.error("plain");
    ASSERT_EQ(c->lines.size(), 2u);
    EXPECT_EQ(c->lines[0], R"(storage: writing again file="a b.db" events=12)");
    EXPECT_EQ(c->lines[1], "plain");
}

TEST(LoggerTest, LinesBelowTheLevelAreDropped)
{
    auto c = std::make_shared<captured>();
    auto const log = capturing(c, logger::format::json, logger::level::warn);
    log.info("x", "dropped");
    log.debug("x", "dropped");
    log.error("x", "kept");
    ASSERT_EQ(c->lines.size(), 1u);
    EXPECT_EQ(boost::json::parse(c->lines[0]).at("msg"), "kept");
}

// The settings log.level and log.format reach the app's logger.
TEST(LoggerTest, TheAppWritesAsTheSettingsSay)
{
    auto c = std::make_shared<captured>();
    config cfg;
    cfg.log.format = log_format::json;
    cfg.log.level = server_log_level::info;
    app a(cfg, {.log = {.fn = [c](logger::level, std::string_view line) {
                    std::lock_guard lock(c->mutex);
                    c->lines.emplace_back(line);
                }},
                .handle_signals = false});
    a.get_core().log().debug("test", "below info: dropped");
    a.stop();
    EXPECT_EQ(a.run(), 0);
    ASSERT_FALSE(c->lines.empty());
    bool saw_shutdown = false;
    for (auto const& line : c->lines) {
        auto const v = boost::json::parse(line).as_object();  // throws on a non-JSON line
        EXPECT_NE(v.at("msg"), "below info: dropped");
        saw_shutdown = saw_shutdown || (v.at("component") == "app" && v.at("msg") == "shutting down");
    }
    EXPECT_TRUE(saw_shutdown);

    c->lines.clear();
    config quiet;
    quiet.log.level = server_log_level::error;
    app b(quiet, {.log = {.fn = [c](logger::level, std::string_view line) { c->lines.emplace_back(line); }},
                  .handle_signals = false});
    b.stop();
    EXPECT_EQ(b.run(), 0);
    EXPECT_TRUE(c->lines.empty()) << c->lines.front();
}

}  // namespace
}  // namespace jobwatch
