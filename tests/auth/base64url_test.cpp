// Test that the header is self-contained.
#include <jobwatch/detail/base64url.hpp>

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace {

using jobwatch::detail::base64url_decode;
using jobwatch::detail::base64url_encode;

TEST(Base64urlTest, DecodesCanonicalTextAndRefusesEveryOtherSpelling)
{
    struct row
    {
        std::string text;
        std::optional<std::string> bytes;  ///< nothing: refused
    };
    row const rows[] = {
        // RFC 4648 section 10 test vectors, unpadded.
        {"", ""},
        {"Zg", "f"},
        {"Zm8", "fo"},
        {"Zm9v", "foo"},
        {"Zm9vYg", "foob"},
        {"Zm9vYmE", "fooba"},
        {"Zm9vYmFy", "foobar"},
        // The URL-safe alphabet: 0xfb 0xff -> "-_8".
        {"-_8", "\xfb\xff"},
        {"+/8", std::nullopt},
        {"Zg==", std::nullopt},
        {"Zm9v YmFy", std::nullopt},
        {"Zm9vY", std::nullopt},  // 4k+1 characters
        {"Zh", std::nullopt},     // unused low bits set: "Zg" spelled otherwise
        {"Zm9", std::nullopt},    // likewise for "Zm8"
        {"Zm8.", std::nullopt},
        {std::string("Zm\0v", 4), std::nullopt},
    };
    for (auto const& r : rows) {
        SCOPED_TRACE(r.text);
        EXPECT_EQ(base64url_decode(r.text), r.bytes);
        if (r.bytes) {
            EXPECT_EQ(base64url_encode(*r.bytes), r.text);
        }
    }
}

TEST(Base64urlTest, RoundTripsEveryByteValueAndLength)
{
    std::string bytes;
    for (int i = 0; i < 256; ++i) {
        bytes.push_back(static_cast<char>(i));
        auto const text = base64url_encode(bytes);
        ASSERT_EQ(base64url_decode(text), bytes) << "length " << bytes.size();
    }
}

}  // namespace
