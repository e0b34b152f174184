// Test that the header is self-contained.
#include "test_paths.hpp"
#include <jobwatch/messages/server_message.hpp>

#include "codec/schema_table.hpp"

#include <jobwatch/messages/config.hpp>
#include <jobwatch/messages/job_event.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace {

namespace fs = std::filesystem;

std::string read_file(fs::path const& p)
{
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

/// Samples of valid documents, by stem, from both sample folders.
std::map<std::string, boost::json::array> load_samples()
{
    std::map<std::string, boost::json::array> out;
    fs::path const root = jobwatch::test::source_dir();
    for (auto const& dir : {root / "tests/data/samples", root / "codegen/tests/fixtures"}) {
        if (!fs::exists(dir))
            continue;
        for (auto const& entry : fs::directory_iterator(dir)) {
            auto name = entry.path().filename().string();
            std::string stem;
            if (dir.filename() == "samples" && entry.path().extension() == ".json")
                stem = entry.path().stem().string();
            else if (name.ends_with(".samples.json"))
                stem = name.substr(0, name.size() - std::string_view(".samples.json").size());
            else
                continue;
            out[stem] = boost::json::parse(read_file(entry.path())).as_array();
        }
    }
    return out;
}

TEST(MessagesTest, EverySchemaHasSamples)
{
    auto const samples = load_samples();
    for (auto const& [stem, ops] : jobwatch::test::schemas()) {
        auto it = samples.find(stem);
        ASSERT_NE(it, samples.end()) << "no samples for " << stem;
        EXPECT_GE(it->second.size(), 4u) << stem;
    }
}

TEST(MessagesTest, SamplesRoundTripThroughEveryConversion)
{
    auto const samples = load_samples();
    std::size_t checked = 0;
    for (auto const& [stem, docs] : samples) {
        auto it = jobwatch::test::schemas().find(stem);
        ASSERT_NE(it, jobwatch::test::schemas().end()) << "samples for unknown schema " << stem;
        for (std::size_t i = 0; i < docs.size(); ++i) {
            auto const text = boost::json::serialize(docs[i]);
            EXPECT_EQ(it->second.round_trip(text), "") << stem << "[" << i << "]: " << text;
            ++checked;
        }
    }
    EXPECT_GT(checked, 50u);
}

TEST(MessagesTest, WrittenDocumentsKeepEveryMemberOfTheSample)
{
    for (auto const& [stem, docs] : load_samples()) {
        for (auto const& doc : docs) {
            auto const text = boost::json::serialize(doc);
            // Round trip through the generated type, then compare as JSON.
            std::string written;
            bool ok = false;
#define JOBWATCH_SCHEMA(ns, s)                                                 \
    if (stem == #s) {                                                          \
        auto r = jobwatch::parse<ns::codegen_roots::s>(text);                  \
        ok = r.has_value();                                                    \
        if (ok)                                                                \
            written = jobwatch::to_json(*r);                                   \
    }
#include "schema_list.inc"
#undef JOBWATCH_SCHEMA
            ASSERT_TRUE(ok) << stem << ": " << text;
            EXPECT_TRUE(jobwatch::test::json_contains(boost::json::parse(written), doc)) << text << "\n -> " << written;
        }
    }
}

TEST(MessagesTest, ConfigDefaultsFillAnEmptyDocument)
{
    auto r = jobwatch::parse<jobwatch::config>("{}");
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->gateway.port, 8080);
    EXPECT_EQ(r->gateway.host, "127.0.0.1");
    EXPECT_EQ(r->aggregator.interval_ms, std::chrono::milliseconds{1000});
    EXPECT_EQ(r->dlq.threshold, 10);
    EXPECT_EQ(r->dlq.window_ms, std::chrono::milliseconds{300000});
    EXPECT_EQ(*r, jobwatch::config{});

    auto bad = jobwatch::parse<jobwatch::config>(R"({"gateway":{"port":70000}})");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().path, "/gateway/port");
    auto typo = jobwatch::parse<jobwatch::config>(R"({"gateway":{"prot":80}})");
    ASSERT_FALSE(typo);
    EXPECT_EQ(typo.error().path, "/gateway/prot");
}

TEST(MessagesTest, ServerEnvelopeNestsAJobEvent)
{
    jobwatch::event_message msg{.room = "job:j1", .seq = 42,
                                .event = jobwatch::job_progress{.job_id = "j1", .queue = "q",
                                                                .percent = 12.5}};
    auto const text = jobwatch::to_json(jobwatch::server_message{msg});
    EXPECT_EQ(text, R"({"type":"event","room":"job:j1","seq":42,"event":)"
                    R"({"type":"job.progress","job_id":"j1","queue":"q","percent":12.5}})");
    auto back = jobwatch::parse<jobwatch::server_message>(text);
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(std::get<jobwatch::event_message>(*back), msg);

    auto nested_error = jobwatch::parse<jobwatch::server_message>(
        R"({"type":"event","room":"job:j1","seq":42,"event":{"type":"job.progress","job_id":"j1","queue":"q","percent":-1}})");
    ASSERT_FALSE(nested_error);
    EXPECT_EQ(nested_error.error().path, "/event/percent");
}

}  // namespace
