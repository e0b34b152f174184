// `pattern` means an ECMA-262 regular expression: the generated C++ must
// decide as RegExp(pattern, "u").test(s) does, also where Python's re (and so
// the oracle) would not: Unicode \s, ASCII \d and \w, . and line
// terminators, $ before a final newline, \cX, [^], \u{...}. The expectations
// in codegen/tests/ecma/ecma_patterns.cases.json are hand-written and
// confirmed with node by codegen/tests/test_codegen.py.
#include "test_paths.hpp"
#include <codec_ecma/ecma_patterns.hpp>

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <fstream>
#include <iterator>
#include <map>
#include <string>

namespace {

boost::json::value read_json(std::string const& path)
{
    std::ifstream in(path);
    std::string text{std::istreambuf_iterator<char>(in), {}};
    return boost::json::parse(text);
}

TEST(EcmaPatternTest, GeneratedCodeDecidesAsEcma262)
{
    auto const dir = (jobwatch::test::source_dir() / "codegen/tests/ecma/").string();
    auto const schema = read_json(dir + "ecma_patterns.schema.json");
    auto const cases = read_json(dir + "ecma_patterns.cases.json");
    std::map<std::string, std::string> property_of;
    for (auto const& kv : schema.at("properties").as_object())
        property_of[std::string(kv.value().at("pattern").as_string())] = std::string(kv.key());
    std::size_t n = 0;
    for (auto const& c : cases.at("cases").as_array()) {
        auto const pattern = std::string(c.at("pattern").as_string());
        ASSERT_TRUE(property_of.count(pattern)) << pattern;
        boost::json::object doc;
        doc[property_of[pattern]] = c.at("string");
        auto const r = jobwatch::parse<ecma::ecma_patterns>(boost::json::serialize(doc));
        EXPECT_EQ(r.has_value(), c.at("matches").as_bool())
            << "pattern " << pattern << " on " << boost::json::serialize(c.at("string"))
            << (r ? "" : ": " + r.error().message);
        ++n;
    }
    EXPECT_GT(n, 50u);
}

}  // namespace
