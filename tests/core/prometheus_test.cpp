// Test that the header is self-contained.
#include <jobwatch/metrics/prometheus.hpp>

#include <jobwatch/api/metrics.hpp>

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

namespace jobwatch {
namespace {

using metrics::prometheus_writer;

TEST(PrometheusTest, AFamilyHasHelpAndTypeOnceAndLabelsAreEscaped)
{
    prometheus_writer w;
    EXPECT_TRUE(w.family("jw_x", "gauge", "Line one\nback\\slash"));
    w.sample("jw_x", {{"queue", "a\"b\\c\nd"}}, 3);
    w.sample("jw_x", {}, 0.25);
    EXPECT_FALSE(w.family("jw_x", "gauge", "again")) << "a family is written once";
    EXPECT_EQ(w.text(), "# HELP jw_x Line one\\nback\\\\slash\n"
                        "# TYPE jw_x gauge\n"
                        "jw_x{queue=\"a\\\"b\\\\c\\nd\"} 3\n"
                        "jw_x 0.25\n");
}

TEST(PrometheusTest, HistogramBucketsAreCumulativeAndExactAtTheLogHistogramsBounds)
{
    log_histogram h;
    for (double v : {0.0, 0.5, 2.0, 2.0, 40.0, 900.0, 5000.0})
        h.add(v);
    std::array<double, 3> const bounds = {1, 50, 1000};
    prometheus_writer w;
    w.family("jw_d_seconds", "histogram", "d");
    w.histogram("jw_d_seconds", {}, h, bounds);
    auto const text = w.text();
    // Each bound is the log histogram's own bucket edge at or above it, in seconds.
    std::vector<std::pair<std::string, std::string>> got;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (line.starts_with("jw_d_seconds_bucket")) {
            auto const le = line.substr(line.find("le=\"") + 4);
            got.emplace_back(le.substr(0, le.find('"')), line.substr(line.rfind(' ') + 1));
        }
    }
    ASSERT_EQ(got.size(), 4u) << text;
    EXPECT_EQ(got[0].second, "2");  // 0 and 0.5 ms
    EXPECT_EQ(got[1].second, "5");  // + 2, 2, 40
    EXPECT_EQ(got[2].second, "6");  // + 900
    EXPECT_EQ(got[3], (std::pair<std::string, std::string>{"+Inf", "7"}));
    EXPECT_NEAR(std::stod(got[0].first), 0.001, 0.00002);
    EXPECT_NEAR(std::stod(got[2].first), 1.0, 0.02);
    EXPECT_NE(text.find("jw_d_seconds_count 7\n"), std::string::npos) << text;
    EXPECT_NE(text.find("jw_d_seconds_sum 5.9445\n"), std::string::npos) << text;
}

TEST(PrometheusTest, TopWithOtherKeepsTheLargestAndSumsTheRest)
{
    std::vector<std::pair<std::string, int>> all = {{"a", 1}, {"b", 9}, {"c", 5}, {"d", 2}, {"e", 7}};
    auto const kept = metrics::top_with_other(
        all, 2, [](int v) { return v; }, [](int& a, int b) { a += b; });
    ASSERT_EQ(kept.size(), 3u);
    EXPECT_EQ(kept[0], (std::pair<std::string, int>{"b", 9}));
    EXPECT_EQ(kept[1], (std::pair<std::string, int>{"e", 7}));
    EXPECT_EQ(kept[2], (std::pair<std::string, int>{"_other", 8}));
    auto const few = metrics::top_with_other(
        std::vector<std::pair<std::string, int>>{{"z", 1}, {"y", 2}}, 2, [](int v) { return v; },
        [](int& a, int b) { a += b; });
    ASSERT_EQ(few.size(), 2u);
    EXPECT_EQ(few[0].first, "y");
}

TEST(PrometheusTest, ProcessStatsAreReadFromProc)
{
    auto const p = metrics::process_stats::read();
    ASSERT_TRUE(p.valid);
    EXPECT_GT(p.resident_bytes, 1e6);
    EXPECT_GE(p.virtual_bytes, p.resident_bytes);
    EXPECT_GE(p.open_fds, 3);
    EXPECT_GT(p.max_fds, p.open_fds);
    EXPECT_GT(p.start_time_seconds, 1.7e9);
}

}  // namespace
}  // namespace jobwatch
