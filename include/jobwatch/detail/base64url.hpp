#ifndef JOBWATCH_DETAIL_BASE64URL_HPP
#define JOBWATCH_DETAIL_BASE64URL_HPP

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace jobwatch::detail {

/** @brief Decodes unpadded base64url (RFC 4648 section 5), as JWS uses it (RFC 7515 section 2).

    Strict, so that one value has exactly one spelling: no `=` padding, no
    whitespace, no `+` or `/`, no length of the form 4k+1, and the unused low
    bits of the last character must be zero. A signature that could be
    written two ways would let a token be altered without breaking it.

    @return the bytes, or nothing when `in` is not canonical base64url.
*/
inline std::optional<std::string> base64url_decode(std::string_view in)
{
    auto value = [](char c) -> int {
        if (c >= 'A' && c <= 'Z')
            return c - 'A';
        if (c >= 'a' && c <= 'z')
            return c - 'a' + 26;
        if (c >= '0' && c <= '9')
            return c - '0' + 52;
        if (c == '-')
            return 62;
        if (c == '_')
            return 63;
        return -1;
    };
    if (in.size() % 4 == 1)
        return std::nullopt;
    std::string out;
    out.reserve(in.size() / 4 * 3 + 2);
    std::uint32_t acc = 0;
    int bits = 0;
    for (char c : in) {
        int const v = value(c);
        if (v < 0)
            return std::nullopt;
        acc = (acc << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((acc >> bits) & 0xffu));
        }
    }
    // 2 or 4 bits are left over after a partial group: they must be zero.
    if (bits > 0 && (acc & ((1u << bits) - 1u)) != 0)
        return std::nullopt;
    return out;
}

/// Encodes bytes as unpadded base64url (RFC 7515 section 2).
inline std::string base64url_encode(std::string_view in)
{
    constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    out.reserve((in.size() * 4 + 2) / 3);
    std::uint32_t acc = 0;
    int bits = 0;
    for (char c : in) {
        acc = (acc << 8) | static_cast<unsigned char>(c);
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out.push_back(alphabet[(acc >> bits) & 0x3fu]);
        }
    }
    if (bits > 0)
        out.push_back(alphabet[(acc << (6 - bits)) & 0x3fu]);
    return out;
}

}  // namespace jobwatch::detail

#endif
