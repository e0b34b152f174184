#ifndef JOBWATCH_AUTH_JWS_ALG_HPP
#define JOBWATCH_AUTH_JWS_ALG_HPP

#include <array>
#include <bitset>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace jobwatch::detail {
inline constexpr std::array<std::string_view, 13> jws_alg_names = {
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256",
    "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"};
}  // namespace jobwatch::detail

namespace jobwatch::auth {

/** @brief The JWS signature algorithms jobwatch verifies (RFC 7518 section 3, RFC 8037).

    `none` is deliberately absent: it cannot be named, so it cannot be accepted.
*/
enum class jws_alg : std::uint8_t
{
    hs256,  ///< HMAC with SHA-256
    hs384,  ///< HMAC with SHA-384
    hs512,  ///< HMAC with SHA-512
    rs256,  ///< RSASSA-PKCS1-v1_5 with SHA-256
    rs384,  ///< RSASSA-PKCS1-v1_5 with SHA-384
    rs512,  ///< RSASSA-PKCS1-v1_5 with SHA-512
    ps256,  ///< RSASSA-PSS with SHA-256 and MGF1 with SHA-256
    ps384,  ///< RSASSA-PSS with SHA-384 and MGF1 with SHA-384
    ps512,  ///< RSASSA-PSS with SHA-512 and MGF1 with SHA-512
    es256,  ///< ECDSA on P-256 with SHA-256
    es384,  ///< ECDSA on P-384 with SHA-384
    es512,  ///< ECDSA on P-521 with SHA-512
    eddsa,  ///< EdDSA (Ed25519 or Ed448)
};

/// How many `jws_alg` there are.
inline constexpr std::size_t jws_alg_count = 13;

/// A set of algorithms, indexed by `jws_alg`.
using jws_alg_set = std::bitset<jws_alg_count>;

static_assert(detail::jws_alg_names.size() == jws_alg_count);

/// The `alg` header value of `a` (`"RS256"`).
constexpr std::string_view to_string(jws_alg a) noexcept
{
    return detail::jws_alg_names[static_cast<std::size_t>(a)];
}

/// The algorithm an `alg` header value names (case-sensitive, RFC 7515 section 4.1.1), or nothing.
constexpr std::optional<jws_alg> jws_alg_from_string(std::string_view s) noexcept
{
    for (std::size_t i = 0; i < jws_alg_count; ++i)
        if (detail::jws_alg_names[i] == s)
            return static_cast<jws_alg>(i);
    return std::nullopt;
}

/// The kind of key an algorithm needs.
enum class jws_family : std::uint8_t
{
    hmac,       ///< a shared secret (HS*)
    rsa_pkcs1,  ///< an RSA public key, PKCS #1 v1.5 padding (RS*)
    rsa_pss,    ///< an RSA public key, PSS padding (PS*)
    ecdsa,      ///< an EC public key on the algorithm's curve (ES*)
    eddsa,      ///< an Ed25519 or Ed448 public key
};

/// The family of `a`.
constexpr jws_family family_of(jws_alg a) noexcept
{
    auto const i = static_cast<std::size_t>(a);
    if (i <= 2)
        return jws_family::hmac;
    if (i <= 5)
        return jws_family::rsa_pkcs1;
    if (i <= 8)
        return jws_family::rsa_pss;
    if (i <= 11)
        return jws_family::ecdsa;
    return jws_family::eddsa;
}

/// The size of `a`'s hash in bytes (32, 48 or 64); 0 for EdDSA, which hashes internally.
constexpr std::size_t digest_bytes_of(jws_alg a) noexcept
{
    if (a == jws_alg::eddsa)
        return 0;
    constexpr std::size_t sizes[] = {32, 48, 64};
    return sizes[static_cast<std::size_t>(a) % 3];
}

/// Every algorithm of `f`.
constexpr jws_alg_set algs_of(jws_family f) noexcept
{
    jws_alg_set s;
    for (std::size_t i = 0; i < jws_alg_count; ++i)
        if (family_of(static_cast<jws_alg>(i)) == f)
            s.set(i);
    return s;
}

}  // namespace jobwatch::auth

#endif
