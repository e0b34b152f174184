#ifndef JOBWATCH_AUTH_KEY_SET_HPP
#define JOBWATCH_AUTH_KEY_SET_HPP

#include <jobwatch/auth/jws_alg.hpp>
#include <jobwatch/auth/jwt_failure.hpp>
#include <jobwatch/auth/jwt_settings.hpp>
#include <jobwatch/detail/openssl.hpp>

#include <boost/json/object.hpp>

#include <array>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace jobwatch::auth {

class key_set;

/// A loaded key set, or why the settings or a key file cannot be used (naming the setting and the
/// file).
using key_set_result = std::variant<std::shared_ptr<key_set const>, std::string>;

}  // namespace jobwatch::auth

namespace jobwatch::detail {

/// One verification key and the algorithms it may verify.
struct verification_key
{
    std::optional<std::string> kid;
    std::string origin;  ///< where it came from, for `describe()`: `jwks_file key 2 (kid "a")`
    std::string kind;    ///< `HMAC secret of 64 bytes`, `RSA 2048`, `EC P-256`, `Ed25519`
    auth::jws_alg_set
        algs;  ///< what it may verify: its kind, narrowed by a JWK `alg` and the settings
    std::size_t signature_bytes =
        0;              ///< the one length of its signatures; 0 for HMAC (depends on the algorithm)
    evp_pkey_ptr pkey;  ///< asymmetric keys
    /// HMAC keys: an initialised MAC context per HS algorithm allowed, copied for each use.
    std::array<evp_mac_ctx_ptr, 3> hmac;
};

}  // namespace jobwatch::detail

namespace jobwatch::auth {

/** @brief The keys tokens are verified with, and the claim rules of the settings they came from.

    Immutable once loaded, and held by `std::shared_ptr<key_set const>`: to
    take new keys (on SIGHUP), load a new set and swap the pointer
    atomically; verifications under way finish with the set they hold.
    Because the set carries its settings too, one swap changes keys and
    claim rules together.

    Accepted algorithms come from the keys, never from a token: an HMAC
    secret verifies HS256/384/512 only (those whose hash is no longer than
    the secret), an RSA key RS* and PS*, an EC key the ES algorithm of its
    curve, an Ed25519 or Ed448 key EdDSA. A JWK's `alg` narrows its key to
    that one algorithm, and `jwt_settings::algorithms` narrows all of them.

    @par Thread Safety
    Every member is `const` and may be called from any number of threads
    at once: OpenSSL 3 shares public keys between threads for verification,
    and each call makes its own contexts.
*/
class key_set
{
public:
    /** @brief Reads the files named in `settings` and checks the settings.

        @li `secret_file`: the bytes of the file, less trailing CR and LF; at
            least 32 bytes (RFC 7518 section 3.2).
        @li `public_key_file`: every `PUBLIC KEY` and `CERTIFICATE` block of
            the PEM file; a private key is refused.
        @li `jwks_file`: every key of the JWKS whose `use` is `sig` or absent
            and whose `key_ops`, if present, has `verify`; others are skipped
            with a warning. A key holding private members (`d`) is refused.

        RSA keys need at least 2048 bits (RFC 7518 section 3.3).

        @return the set, or one sentence naming the setting, the file and
        what is wrong (never the secret).
    */
    static key_set_result load(jwt_settings settings);

    /// The settings the set was loaded with (the claim rules `verify` applies).
    jwt_settings const& settings() const noexcept { return settings_; }

    /// How many keys it holds.
    std::size_t size() const noexcept { return keys_.size(); }

    /// Keys skipped while loading, one sentence each, for the start-up log.
    std::vector<std::string> const& warnings() const noexcept { return warnings_; }

    /// One line for the start-up log: each key, its `kid` and its algorithms.
    std::string describe() const;

    /** @brief Checks a JWS signature with the key `kid` names, or, without a
        `kid`, with each key that accepts `alg` until one verifies.

        @param alg the token's algorithm (already known to be supported)
        @param kid the token header's `kid`, if any
        @param signing_input `BASE64URL(header) || '.' || BASE64URL(payload)`
        @param signature the decoded signature (raw `r || s` for ECDSA)
        @return nothing when it verifies; else the failure (`key`,
        `algorithm` or `signature`).
    */
    std::optional<jwt_failure> check_signature(jws_alg alg, std::optional<std::string_view> kid,
                                               std::string_view signing_input,
                                               std::string_view signature) const;

private:
    key_set() = default;

    std::optional<std::string> add_secret(std::string_view text, std::string const& origin);
    std::optional<std::string> add_pem(std::string_view text, std::string const& origin);
    std::optional<std::string> add_jwks(std::string_view text, std::string const& origin);
    std::optional<std::string> add_jwk(boost::json::object const& jwk, std::string const& origin);
    std::optional<std::string> add_public_key(detail::evp_pkey_ptr pkey,
                                              std::optional<std::string> kid,
                                              std::optional<jws_alg> only, std::string origin);
    std::optional<std::string> add_hmac(std::string_view secret, std::optional<std::string> kid,
                                        std::optional<jws_alg> only, std::string origin);
    std::optional<jwt_failure> verify_with(detail::verification_key const& key, jws_alg alg,
                                           std::string_view signing_input,
                                           std::string_view signature) const;

    jwt_settings settings_;
    jws_alg_set allowed_;  // jwt_settings::algorithms, or all
    std::vector<detail::verification_key> keys_;
    std::vector<std::string> warnings_;
    detail::evp_mac_ptr hmac_;
    std::array<detail::evp_md_ptr, 3> digests_;  // SHA-256, SHA-384, SHA-512
};

}  // namespace jobwatch::auth

#include <jobwatch/auth/impl/key_set.hpp>

#endif
