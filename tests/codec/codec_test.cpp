// Test that the header is self-contained.
#include <jobwatch/codec.hpp>

#include <jobwatch/messages/config.hpp>
#include <jobwatch/messages/job_event.hpp>

#include <codec_fixtures/events.hpp>

#include <gtest/gtest.h>

#include <string>

namespace {

using jobwatch::detail::is_rfc3339_date_time;
using jobwatch::detail::utf8_length;

TEST(Rfc3339Test, AcceptsWhatSection56Allows)
{
    for (auto s : {"2024-05-01T12:30:00Z", "2024-05-01t12:30:00z", "2024-02-29T00:00:00+00:00",
                   "2000-02-29T23:59:59.123456789-05:30", "1998-12-31T23:59:60Z",
                   "2024-12-31T23:59:59.5+23:59"})
        EXPECT_TRUE(is_rfc3339_date_time(s)) << s;
}

TEST(Rfc3339Test, RejectsEverythingElse)
{
    for (auto s : {"", "2024-05-01", "2024-05-01 12:30:00Z", "2024-05-01T12:30:00",
                   "2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2024-04-31T00:00:00Z",
                   "2024-13-01T00:00:00Z", "2024-00-01T00:00:00Z", "2024-05-01T24:00:00Z",
                   "2024-05-01T12:60:00Z", "2024-05-01T12:30:61Z", "2024-05-01T12:30:00.Z",
                   "2024-05-01T12:30:00+24:00", "2024-05-01T12:30:00+0100", "2024-05-01T12:30:00Zx",
                   "24-05-01T12:30:00Z", "2024-05-01T12:30:00+01:60"})
        EXPECT_FALSE(is_rfc3339_date_time(s)) << s;
}

TEST(Utf8Test, CountsCodePointsNotBytes)
{
    EXPECT_EQ(utf8_length(""), 0u);
    EXPECT_EQ(utf8_length("abc"), 3u);
    EXPECT_EQ(utf8_length("\xc3\xa9t\xc3\xa9"), 3u);     // été
    EXPECT_EQ(utf8_length("\xf0\x9f\x98\x80!"), 2u);     // U+1F600 then '!'
    EXPECT_EQ(jobwatch::detail::utf8_to_wide("\xf0\x9f\x98\x80"), std::wstring(1, L'\U0001F600'));
}

TEST(ParseTest, ReportsInvalidJsonAtTheRoot)
{
    auto r = jobwatch::parse<jobwatch::job_event>("{\"type\":");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().path, "");
    EXPECT_NE(r.error().message.find("invalid JSON"), std::string::npos);
    EXPECT_FALSE(jobwatch::parse<jobwatch::job_event>("{} x"));
    EXPECT_FALSE(jobwatch::parse<jobwatch::job_event>(""));
}

TEST(ParseTest, ErrorPathIsAJsonPointerToTheOffendingValue)
{
    auto r = jobwatch::parse<jobwatch::job_event>(
        R"({"type":"job.progress","job_id":"j","queue":"q","percent":50,"counters":{"a/b~c":-1}})");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().path, "/counters/a~1b~0c");
    EXPECT_NE(r.error().message.find(">= 0"), std::string::npos) << r.error().message;
}

TEST(ParseTest, MissingRequiredIsReportedAtTheObject)
{
    auto r = jobwatch::parse<jobwatch::job_event>(R"({"type":"job.progress","job_id":"j","queue":"q"})");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().path, "");
    EXPECT_EQ(r.error().message, "missing required property \"percent\"");
}

TEST(ParseTest, UnknownPropertyIsReportedAtItsKey)
{
    auto r = jobwatch::parse<jobwatch::job_event>(
        R"({"type":"job.cancelled","job_id":"j","queue":"q","reasn":"typo"})");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().path, "/reasn");
    EXPECT_EQ(r.error().message, "unknown property");
}

TEST(ParseTest, UnionDiscriminatorErrors)
{
    auto missing = jobwatch::parse<jobwatch::job_event>(R"({"job_id":"j","queue":"q"})");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().path, "");
    auto unknown = jobwatch::parse<jobwatch::job_event>(R"({"type":"job.exploded","job_id":"j","queue":"q"})");
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().path, "/type");
    EXPECT_NE(unknown.error().message.find("job.progress"), std::string::npos);
    auto not_string = jobwatch::parse<jobwatch::job_event>(R"({"type":7,"job_id":"j","queue":"q"})");
    ASSERT_FALSE(not_string);
    EXPECT_EQ(not_string.error().path, "/type");
}

TEST(ParseTest, IntegersFollowJsonSchemaNotTheLexicalForm)
{
    auto const doc = [](std::string attempt) {
        return R"({"type":"job.started","job_id":"j","queue":"q","attempt":)" + attempt + "}";
    };
    auto one = jobwatch::parse<jobwatch::job_event>(doc("1.0"));
    ASSERT_TRUE(one) << one.error().message;
    EXPECT_EQ(std::get<jobwatch::job_started>(*one).attempt, 1);
    EXPECT_TRUE(jobwatch::parse<jobwatch::job_event>(doc("1e2")));
    EXPECT_FALSE(jobwatch::parse<jobwatch::job_event>(doc("1.5")));
    EXPECT_FALSE(jobwatch::parse<jobwatch::job_event>(doc("0")));
    EXPECT_FALSE(jobwatch::parse<jobwatch::job_event>(doc("1e400")));
    EXPECT_FALSE(jobwatch::parse<jobwatch::job_event>(doc("123456789012345678901234567890")));
    EXPECT_FALSE(jobwatch::parse<jobwatch::job_event>(doc("\"1\"")));
}

TEST(ParseTest, StringLengthsCountCodePoints)
{
    auto const doc = [](std::string const& s) {
        return R"({"type":"job.cancelled","queue":"q","job_id":")" + s + "\"}";
    };
    // `reason` is at most 1000 characters: 1000 two-byte characters are 2000 bytes.
    std::string reason;
    for (int i = 0; i < 1000; ++i)
        reason += "\xc3\xa9";
    auto const with_reason = [](std::string const& s) {
        return R"({"type":"job.cancelled","queue":"q","job_id":"j","reason":")" + s + "\"}";
    };
    EXPECT_TRUE(jobwatch::parse<jobwatch::job_event>(with_reason(reason)));
    EXPECT_FALSE(jobwatch::parse<jobwatch::job_event>(with_reason(reason + "x")));
    EXPECT_FALSE(jobwatch::parse<jobwatch::job_event>(doc("")));
}

TEST(ParseTest, PatternsAreUnanchoredEcmaScriptOverCodePoints)
{
    auto const doc = [](std::string const& id) {
        return R"({"type":"job.cancelled","queue":"q","job_id":")" + id + "\"}";
    };
    EXPECT_TRUE(jobwatch::parse<jobwatch::job_event>(doc("job-1.a_b:c@d")));
    EXPECT_FALSE(jobwatch::parse<jobwatch::job_event>(doc("job 1")));
    EXPECT_FALSE(jobwatch::parse<jobwatch::job_event>(doc("job/1")));
    EXPECT_FALSE(jobwatch::parse<jobwatch::job_event>(doc("job\\n")));
}

TEST(ParseTest, DuplicateKeysKeepTheLastValue)
{
    auto r = jobwatch::parse<jobwatch::job_event>(
        R"({"type":"job.progress","job_id":"j","queue":"q","percent":500,"percent":5})");
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(std::get<jobwatch::job_progress>(*r).percent, 5);
    EXPECT_FALSE(jobwatch::parse<jobwatch::job_event>(
        R"({"type":"job.progress","job_id":"j","queue":"q","percent":5,"percent":500})"));
}

TEST(ParseTest, ADuplicateObjectReplacesTheEarlierOneWhole)
{
    // The fast path reads members in place: a later duplicate must not keep
    // members of the earlier object (here "owner"), in a struct member and in a map.
    auto r = jobwatch::parse<fixtures::event>(
        R"({"type":"job.started","job":{"id":"a","state":"job.queued","owner":"Zo\u00eb"},)"
        R"("job":{"id":"b","state":"job.queued"}})");
    ASSERT_TRUE(r) << r.error().message;
    auto const& job = std::get<fixtures::started>(*r).job;
    EXPECT_EQ(job.id, "b");
    EXPECT_FALSE(job.owner.has_value());
    auto m = jobwatch::parse<jobwatch::config>(
        R"({"dlq":{"queues":{"q":{"threshold":3,"window_ms":1000},"q":{"threshold":4}}}})");
    ASSERT_TRUE(m) << m.error().message;
    auto const& q = m->dlq.queues.at("q");
    EXPECT_EQ(q.threshold, 4);
    EXPECT_FALSE(q.window_ms.has_value());
}

TEST(ParseTest, RejectsInvalidUtf8)
{
    EXPECT_FALSE(jobwatch::parse<jobwatch::job_event>(
        "{\"type\":\"job.cancelled\",\"job_id\":\"j\",\"queue\":\"q\",\"reason\":\"\xff\"}"));
    EXPECT_FALSE(jobwatch::parse<jobwatch::job_event>(
        "{\"type\":\"job.cancelled\",\"job_id\":\"j\",\"queue\":\"q\",\"reason\":\"\xc0\xaf\"}"));
}

TEST(ParseTest, NestingDepthIsBounded)
{
    auto const nested = [](int depth) {
        return R"({"type":"job.completed","job_id":"j","queue":"q","result":)" +
               std::string(depth, '[') + std::string(depth, ']') + "}";
    };
    EXPECT_TRUE(jobwatch::parse<jobwatch::job_event>(nested(40)));
    EXPECT_FALSE(jobwatch::parse<jobwatch::job_event>(nested(70)));
    EXPECT_TRUE(jobwatch::parse<jobwatch::job_event>(nested(70), {.max_depth = 100}));
}

TEST(ParseTest, DoublesAreCorrectlyRounded)
{
    // Boost.JSON 1.81 alone reads this one ulp off; jobwatch must not.
    auto r = jobwatch::parse<jobwatch::job_event>(
        R"({"type":"job.completed","job_id":"j","queue":"q","duration_ms":5.409760742964738e+124})");
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(*std::get<jobwatch::job_completed>(*r).duration_ms, 5.409760742964738e+124);
}

TEST(ToJsonTest, EscapesStringsAndWritesShortestNumbers)
{
    jobwatch::job_log ev{.job_id = "j", .queue = "q", .level = jobwatch::log_level::warn,
                         .message = "quote \" backslash \\ newline \n tab \t bell \x07 \xc3\xa9"};
    ev.time = "2024-05-01T12:30:00Z";
    EXPECT_EQ(jobwatch::to_json(ev),
              R"({"type":"job.log","job_id":"j","queue":"q","time":"2024-05-01T12:30:00Z",)"
              R"("level":"warn","message":"quote \" backslash \\ newline \n tab \t bell \u0007 )"
              "\xc3\xa9\"}");
    jobwatch::job_progress p{.job_id = "j", .queue = "q", .percent = 0.1};
    EXPECT_EQ(jobwatch::to_json(p), R"({"type":"job.progress","job_id":"j","queue":"q","percent":0.1})");
}

TEST(ToJsonTest, RoundTripsRandomDoublesExactly)
{
    std::uint64_t state = 0x9E3779B97F4A7C15ull;
    int checked = 0;
    for (int i = 0; i < 20000; ++i) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        double d;
        std::memcpy(&d, &state, sizeof d);
        if (!std::isfinite(d) || d < 0)
            continue;
        jobwatch::job_completed ev{.job_id = "j", .queue = "q"};
        ev.duration_ms = d;
        auto back = jobwatch::parse<jobwatch::job_event>(jobwatch::to_json(ev));
        ASSERT_TRUE(back) << back.error().message;
        ASSERT_EQ(std::get<jobwatch::job_completed>(*back), ev) << jobwatch::to_json(ev);
        ++checked;
    }
    EXPECT_GT(checked, 5000);
}

TEST(BoostJsonTest, ValueFromAndValueToUseTheGeneratedConversions)
{
    jobwatch::job_event ev = jobwatch::job_failed{.job_id = "j", .queue = "q", .error = "boom",
                                                  .attempt = 2, .will_retry = false};
    auto const jv = boost::json::value_from(ev);
    EXPECT_EQ(jv.at("type"), "job.failed");
    EXPECT_EQ(jv.at("attempt"), 2);
    EXPECT_EQ(boost::json::value_to<jobwatch::job_event>(jv), ev);
    EXPECT_EQ(boost::json::parse(jobwatch::to_json(ev)), jv);

    boost::json::value bad = jv;
    bad.as_object()["attempt"] = 0;
    EXPECT_THROW(boost::json::value_to<jobwatch::job_event>(bad), boost::system::system_error);
    auto r = boost::json::try_value_to<jobwatch::job_event>(bad);
    ASSERT_TRUE(r.has_error());
    EXPECT_EQ(r.error(), jobwatch::codec_error::schema_violation);
}

}  // namespace
