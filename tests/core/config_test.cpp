// Test that the header is self-contained.
#include <jobwatch/config.hpp>

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace {

using env_map = std::map<std::string, std::string>;

jobwatch::config_result load(std::vector<std::string> args, env_map env = {})
{
    args.insert(args.begin(), "monitor");
    return jobwatch::try_load_config(args, [env](std::string const& name) -> std::optional<std::string> {
        auto it = env.find(name);
        return it == env.end() ? std::nullopt : std::optional<std::string>(it->second);
    });
}

/// A config file in the test's temporary folder, removed at the end.
struct temp_file
{
    std::filesystem::path path;
    explicit temp_file(std::string const& text)
        : path(std::filesystem::temp_directory_path() /
               ("jobwatch-config-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
                "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".json"))
    {
        std::ofstream(path) << text;
    }
    ~temp_file() { std::filesystem::remove(path); }
};

TEST(ConfigTest, DefaultsWhenNothingIsGiven)
{
    auto r = load({});
    ASSERT_TRUE(r.value) << r.error;
    EXPECT_EQ(*r.value, jobwatch::config{});
    EXPECT_EQ(r.value->aggregator.interval_ms, std::chrono::milliseconds{1000});
}

TEST(ConfigTest, FileThenEnvironmentThenFlags)
{
    temp_file f(R"({"gateway":{"port":7000,"host":"0.0.0.0"},"aggregator":{"interval_ms":500}})");
    auto file_only = load({"--config", f.path.string()});
    ASSERT_TRUE(file_only.value) << file_only.error;
    EXPECT_EQ(file_only.value->gateway.port, 7000);
    EXPECT_EQ(file_only.value->gateway.host, "0.0.0.0");
    EXPECT_EQ(file_only.value->aggregator.interval_ms, std::chrono::milliseconds{500});

    auto env = load({"--config=" + f.path.string()}, {{"JOBWATCH_GATEWAY_PORT", "7100"},
                                                       {"JOBWATCH_AGGREGATOR_INTERVAL_MS", "250"}});
    ASSERT_TRUE(env.value) << env.error;
    EXPECT_EQ(env.value->gateway.port, 7100);
    EXPECT_EQ(env.value->aggregator.interval_ms, std::chrono::milliseconds{250});
    EXPECT_EQ(env.value->gateway.host, "0.0.0.0");

    auto flags = load({"-c", f.path.string(), "--gateway.port=7200", "--aggregator.interval_ms", "100"},
                      {{"JOBWATCH_GATEWAY_PORT", "7100"}});
    ASSERT_TRUE(flags.value) << flags.error;
    EXPECT_EQ(flags.value->gateway.port, 7200);
    EXPECT_EQ(flags.value->aggregator.interval_ms, std::chrono::milliseconds{100});
}

TEST(ConfigTest, EveryKindOfSettingCanBeOverridden)
{
    auto r = load({"--log.level=debug", "--auth.mode", "static_tokens",
                   R"(--auth.tokens={"s3cret":{"subject":"ops","scopes":["read","admin"]}})",
                   R"(--dlq.queues={"emails":{"threshold":3}})", "--dlq.run_success_rate_threshold=0.5"});
    ASSERT_TRUE(r.value) << r.error;
    EXPECT_EQ(r.value->log.level, jobwatch::server_log_level::debug);
    EXPECT_EQ(r.value->auth.mode, jobwatch::auth_mode::static_tokens);
    EXPECT_EQ(r.value->auth.tokens.at("s3cret").subject, "ops");
    EXPECT_EQ(r.value->dlq.queues.at("emails").threshold, 3);
    EXPECT_EQ(r.value->dlq.run_success_rate_threshold, 0.5);
}

TEST(ConfigTest, AListOfNamesIsJsonOrCommaSeparated)
{
    auto r = load({"--bullmq.queues=emails,images", "--redis.ingest_channels=[\"a\",\"b,c\"]"},
                  {{"JOBWATCH_BULLMQ_PREFIX", "{bull}"}, {"JOBWATCH_REDIS_PUBLISH", "true"}});
    ASSERT_TRUE(r.value) << r.error;
    EXPECT_EQ(r.value->bullmq.queues, (std::vector<std::string>{"emails", "images"}));
    EXPECT_EQ(r.value->redis.ingest_channels, (std::vector<std::string>{"a", "b,c"}));
    EXPECT_EQ(r.value->bullmq.prefix, "{bull}");
    EXPECT_TRUE(r.value->redis.publish);
    // Each name is still checked: a queue name BullMQ could not have is refused.
    auto bad = load({"--bullmq.queues=emails,has space"});
    EXPECT_FALSE(bad.value);
    EXPECT_NE(bad.error.find("bullmq.queues"), std::string::npos) << bad.error;
}

TEST(ConfigTest, ABadSettingNamesItselfItsSourceAndTheReason)
{
    auto range = load({"--gateway.port=70000"});
    ASSERT_FALSE(range.value);
    EXPECT_EQ(range.error, "setting gateway.port (from flag --gateway.port): must be <= 65535");

    auto env = load({}, {{"JOBWATCH_AGGREGATOR_INTERVAL_MS", "soon"}});
    ASSERT_FALSE(env.value);
    EXPECT_NE(env.error.find("setting aggregator.interval_ms (from environment variable "
                             "JOBWATCH_AGGREGATOR_INTERVAL_MS)"), std::string::npos) << env.error;

    temp_file f(R"({"gateway":{"prot":80}})");
    auto typo = load({"--config", f.path.string()});
    ASSERT_FALSE(typo.value);
    EXPECT_NE(typo.error.find("setting gateway.prot (from config file"), std::string::npos) << typo.error;
    EXPECT_NE(typo.error.find("unknown property"), std::string::npos);

    auto unknown = load({"--gateway.prot=80"});
    EXPECT_EQ(unknown.error, "unknown setting --gateway.prot (see --help)");
    auto missing = load({"--config"});
    EXPECT_EQ(missing.error, "--config: missing value");
    auto unreadable = load({"--config", "/nonexistent/jobwatch.json"});
    EXPECT_NE(unreadable.error.find("cannot be read"), std::string::npos);
    auto boolean = load({"--dlq.threshold=true"});
    EXPECT_FALSE(boolean.value);
}

TEST(ConfigTest, HelpListsEverySettingWithItsDefault)
{
    auto r = load({"--help"});
    ASSERT_FALSE(r.help.empty());
    auto const defaults = boost::json::value_from(jobwatch::config{}).as_object();
    for (auto const& s : jobwatch::detail::settings_of(defaults)) {
        auto const line = "--" + s.name + "  (" + jobwatch::detail::env_name(s.name) + ")  default " +
                          boost::json::serialize(s.def);
        EXPECT_NE(r.help.find(line), std::string::npos) << line;
    }
    EXPECT_NE(r.help.find("--gateway.port  (JOBWATCH_GATEWAY_PORT)  default 8080"), std::string::npos);
    EXPECT_NE(r.help.find("--aggregator.interval_ms  (JOBWATCH_AGGREGATOR_INTERVAL_MS)  default 1000"),
              std::string::npos);
}

}  // namespace
