#ifndef JOBWATCH_AUTH_TOKEN_HASH_HPP
#define JOBWATCH_AUTH_TOKEN_HASH_HPP

/** @file
    Static bearer tokens kept as SHA-256 hashes, so a settings file holds
    `"sha256:<64 hex digits>"` instead of the token itself.

    Make an entry with `printf %s "$TOKEN" | sha256sum`, prefixed by `sha256:`.
    A token is long and random (it is not a password), so a plain SHA-256
    suffices: nobody can guess their way back from the hash.
*/

#include <jobwatch/detail/openssl.hpp>

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace jobwatch::auth {

/// A SHA-256 digest.
using sha256_digest = std::array<unsigned char, 32>;

/// The SHA-256 digest of `data`.
inline sha256_digest sha256(std::string_view data)
{
    sha256_digest out{};
    unsigned int len = 0;
    // EVP_Digest with EVP_sha256() cannot fail for in-memory input short of memory exhaustion.
    if (EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr) != 1 ||
        len != out.size())
        ERR_clear_error();
    return out;
}

/// The SHA-256 of `data` in lowercase hex (64 characters), as `sha256sum` prints it.
inline std::string sha256_hex(std::string_view data)
{
    constexpr char hex[] = "0123456789abcdef";
    auto const d = sha256(data);
    std::string out;
    out.reserve(64);
    for (unsigned char c : d) {
        out += hex[c >> 4];
        out += hex[c & 0xf];
    }
    return out;
}

/// The prefix that marks a hashed token entry.
inline constexpr std::string_view token_hash_prefix = "sha256:";

/// True when a settings entry is meant as a hash (starts with `sha256:`), valid or not.
constexpr bool is_token_hash(std::string_view entry) noexcept
{
    return entry.substr(0, token_hash_prefix.size()) == token_hash_prefix;
}

/** @brief Reads a `sha256:<64 hex digits>` entry (hex in either case).

    @return the digest, or a sentence saying what is wrong; the sentence
    never repeats the entry, which might be a real token put there by mistake.
*/
inline std::variant<sha256_digest, std::string> parse_token_hash(std::string_view entry)
{
    if (!is_token_hash(entry))
        return std::string("a hashed token must start with \"sha256:\"");
    auto const hex = entry.substr(token_hash_prefix.size());
    if (hex.size() != 64)
        return "\"sha256:\" must be followed by 64 hex digits, not " + std::to_string(hex.size()) +
               " characters";
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9')
            return c - '0';
        if (c >= 'a' && c <= 'f')
            return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
            return c - 'A' + 10;
        return -1;
    };
    sha256_digest out{};
    for (std::size_t i = 0; i < out.size(); ++i) {
        int const hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return std::string("\"sha256:\" must be followed by 64 hex digits (0-9, a-f)");
        out[i] = static_cast<unsigned char>(hi << 4 | lo);
    }
    return out;
}

/** @brief Compares two digests in constant time (`CRYPTO_memcmp`).

    Hash the presented token once with `sha256`, then compare it with every
    configured digest, all of them, so the time tells neither whether nor
    which one matched.
*/
inline bool digests_equal(sha256_digest const& a, sha256_digest const& b) noexcept
{
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace jobwatch::auth

#endif
