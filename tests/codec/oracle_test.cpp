// The generated parsers against python3-jsonschema: every document of the
// corpus (samples and their mutations, decided by the oracle at build time)
// must be accepted or rejected exactly as the oracle decided.
#include "test_paths.hpp"
#include "codec/schema_table.hpp"

#include "codec/corpus.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <set>

namespace {

using jobwatch::test::from_hex;

TEST(OracleTest, GeneratedParsersDecideAsJsonSchemaDoes)
{
    std::ifstream in(jobwatch::test::binary_dir() / "oracle_corpus.jsonl");
    ASSERT_TRUE(in) << "corpus missing: build the oracle_corpus target";
    std::size_t total = 0, valid = 0, limits = 0;
    std::set<std::string> stems;
    std::vector<std::string> mismatches;
    for (std::string line; std::getline(in, line);) {
        if (line.empty())
            continue;
        auto const entry = boost::json::parse(line).as_object();
        auto const stem = std::string(entry.at("schema").as_string());
        auto it = jobwatch::test::schemas().find(stem);
        ASSERT_NE(it, jobwatch::test::schemas().end()) << "corpus names unknown schema " << stem;
        auto const doc = from_hex(entry.at("doc_hex").as_string());
        bool const expected = entry.at("valid").as_bool();
        bool const actual = it->second.accepts(doc);
        // The fast path of parse<T> must never decide otherwise than the DOM path.
        if (auto const differ = it->second.paths_agree(doc); !differ.empty() && mismatches.size() < 25)
            mismatches.push_back(stem + " " + std::string(entry.at("mutation").as_string()) + ": " + differ +
                                 ": " + doc.substr(0, 300));
        ++total;
        valid += expected;
        limits += entry.contains("limit");
        stems.insert(stem);
        if (actual != expected && mismatches.size() < 25)
            mismatches.push_back(stem + " " + std::string(entry.at("mutation").as_string()) +
                                 ": oracle " + (expected ? "accepts" : "rejects") +
                                 ", jobwatch " + (actual ? "accepts" : "rejects") + ": " +
                                 doc.substr(0, 300));
    }
    for (auto const& m : mismatches)
        ADD_FAILURE() << m;
    EXPECT_GT(total, 2000u);
    // A healthy mix: the corpus is not all one answer.
    EXPECT_GT(valid, total / 10);
    EXPECT_LT(valid, total * 9 / 10);
    EXPECT_GT(limits, 0u);
    EXPECT_EQ(stems.size(), jobwatch::test::schemas().size()) << "some schema has no corpus";
    std::cout << total << " documents, " << valid << " valid, " << limits
              << " at representation limits\n";
}

}  // namespace
