// The generated parsers of 500 random schemas (tests/oracle/random_schemas.py)
// against python3-jsonschema: every document must be decided as the oracle
// decided it. That the test built at all says every generated header
// compiles with the project's warnings as errors.
#include "test_paths.hpp"
#include "codec/random_oracle.hpp"

#include "codec/corpus.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace {

using jobwatch::test::from_hex;

TEST(RandomSchemaOracleTest, GeneratedParsersDecideAsJsonSchemaDoes)
{
    jobwatch::test::acceptor_table table;
    register_random_part_0(table);
    register_random_part_1(table);
    register_random_part_2(table);
    register_random_part_3(table);
    register_random_part_4(table);
    ASSERT_EQ(table.size(), static_cast<std::size_t>(JOBWATCH_RANDOM_SCHEMA_COUNT));

    auto const corpus = jobwatch::test::binary_dir() / "random_schemas" / "random_corpus.jsonl";
    std::ifstream in(corpus);
    ASSERT_TRUE(in) << "corpus missing: " << corpus;
    std::map<std::string, std::size_t> per_schema;
    std::size_t total = 0, valid = 0;
    std::vector<std::string> mismatches;
    for (std::string line; std::getline(in, line);) {
        if (line.empty())
            continue;
        auto const entry = boost::json::parse(line).as_object();
        auto const stem = std::string(entry.at("schema").as_string());
        auto it = table.find(stem);
        ASSERT_NE(it, table.end()) << "corpus names unknown schema " << stem;
        auto const doc = from_hex(entry.at("doc_hex").as_string());
        bool const expected = entry.at("valid").as_bool();
        ++total;
        ++per_schema[stem];
        valid += expected;
        auto const actual = it->second(doc);
        if (actual == jobwatch::test::decision::paths_disagree && mismatches.size() < 25)
            mismatches.push_back(stem + ": the fast path and the DOM path disagree: " + doc.substr(0, 300));
        else if ((actual == jobwatch::test::decision::accepted) != expected && mismatches.size() < 25)
            mismatches.push_back(stem + " " + std::string(entry.at("mutation").as_string()) + ": oracle " +
                                 (expected ? "accepts" : "rejects") + ": " + doc.substr(0, 300));
    }
    for (auto const& m : mismatches)
        ADD_FAILURE() << m;
    EXPECT_EQ(per_schema.size(), table.size()) << "some schema has no documents";
    for (auto const& [stem, n] : per_schema)
        EXPECT_GE(n, 20u) << stem;
    EXPECT_GT(valid, total / 5);
    EXPECT_LT(valid, total * 4 / 5);
    std::cout << total << " documents over " << per_schema.size() << " schemas, " << valid << " valid\n";
}

}  // namespace
