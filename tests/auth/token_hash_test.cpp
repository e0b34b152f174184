// Test that the header is self-contained.
#include <jobwatch/auth/token_hash.hpp>

#include "auth/auth_test_support.hpp"

#include <gtest/gtest.h>

#include <string>
#include <variant>

namespace {

using namespace jobwatch;

TEST(TokenHashTest, HashesAsSha256sumDoes)
{
    // FIPS 180-2 examples, and sha256sum itself on a token.
    EXPECT_EQ(auth::sha256_hex(""),
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(auth::sha256_hex("abc"),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    std::string const token = "jw_live_3f9a2c1e8b7d4a6f";
    auto const printed =
        test::run_command("printf %s " + test::shell_quote(token) + " | sha256sum");
    EXPECT_EQ(auth::sha256_hex(token), printed.substr(0, 64));
}

TEST(TokenHashTest, ParsesEntriesAndNamesWhatIsWrongWithoutRepeatingThem)
{
    std::string const hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    struct row
    {
        std::string entry;
        std::string error;  ///< empty: parses
    };
    row const rows[] = {
        {"sha256:" + hex, ""},
        {"sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD", ""},
        {"sha256:" + hex.substr(1),
         "\"sha256:\" must be followed by 64 hex digits, not 63 characters"},
        {"sha256:" + hex + "0", "\"sha256:\" must be followed by 64 hex digits, not 65 characters"},
        {"sha256:" + hex.substr(1) + "g",
         "\"sha256:\" must be followed by 64 hex digits (0-9, a-f)"},
        {"sha256:", "\"sha256:\" must be followed by 64 hex digits, not 0 characters"},
        {"SHA256:" + hex, "a hashed token must start with \"sha256:\""},
        {"secret-token-value", "a hashed token must start with \"sha256:\""},
    };
    for (auto const& r : rows) {
        SCOPED_TRACE(r.entry);
        auto const parsed = auth::parse_token_hash(r.entry);
        if (r.error.empty()) {
            ASSERT_TRUE(std::holds_alternative<auth::sha256_digest>(parsed))
                << std::get<std::string>(parsed);
            EXPECT_TRUE(
                auth::digests_equal(std::get<auth::sha256_digest>(parsed), auth::sha256("abc")));
        } else {
            ASSERT_TRUE(std::holds_alternative<std::string>(parsed));
            EXPECT_EQ(std::get<std::string>(parsed), r.error);
        }
    }
    EXPECT_TRUE(auth::is_token_hash("sha256:zz"));
    EXPECT_FALSE(auth::is_token_hash("sha25"));
}

TEST(TokenHashTest, ComparesDigestsWhole)
{
    auto const a = auth::sha256("token-a");
    auto b = a;
    EXPECT_TRUE(auth::digests_equal(a, b));
    // A difference in the last byte counts as much as one in the first.
    b.back() ^= 1;
    EXPECT_FALSE(auth::digests_equal(a, b));
    b = a;
    b.front() ^= 0x80;
    EXPECT_FALSE(auth::digests_equal(a, b));
    EXPECT_FALSE(auth::digests_equal(a, auth::sha256("token-b")));
}

}  // namespace
