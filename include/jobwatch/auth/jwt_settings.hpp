#ifndef JOBWATCH_AUTH_JWT_SETTINGS_HPP
#define JOBWATCH_AUTH_JWT_SETTINGS_HPP

#include <jobwatch/messages/config.hpp>

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace jobwatch::auth {

/** @brief How JSON Web Tokens are verified: where the keys are and which claims say what.

    Every field has a working default except the keys: at least one of
    `secret_file`, `public_key_file` and `jwks_file` must be set, and all the
    keys of the files set are used together. `key_set::load` checks the
    whole and names the first thing wrong.
*/
struct jwt_settings
{
    /// File holding the HMAC secret (HS256/384/512), at least 32 bytes; trailing CR/LF are not part
    /// of it. Empty: none.
    std::string secret_file{};
    /// File holding PEM public keys (`PUBLIC KEY` or `CERTIFICATE` blocks; RSA, EC or
    /// Ed25519/Ed448). Empty: none.
    std::string public_key_file{};
    /// File holding a JWKS document (RFC 7517); a token's `kid` chooses among its keys. Empty:
    /// none.
    std::string jwks_file{};
    /// Claim naming the principal's tenant; a string when present. Must not be empty.
    std::string tenant_claim = "tenant_id";
    /// Claim naming the end user the token acts for; a string when present. Empty: not read.
    std::string user_claim = "user_id";
    /// Scopes of a token that has neither `scope` nor `scopes`.
    std::vector<auth_scope> default_scopes = {auth_scope::read};
    /// Clock skew tolerated on `exp`, `nbf` and `iat`; 0 tolerates none, negative is an error.
    std::chrono::seconds leeway{30};
    /// Required value of `iss`. Empty: `iss` is not checked.
    std::string issuer{};
    /// Value `aud` must hold. Empty: a token with an `aud` claim is refused (RFC 7519
    /// section 4.1.3).
    std::string audience{};
    /// Algorithms accepted (`"RS256"`, ...). Empty: every algorithm the configured keys allow.
    std::vector<std::string> algorithms{};
    /// Refuse tokens without `exp` (a token that never expires cannot be withdrawn).
    bool require_exp = true;
    /// Tokens longer than this are refused before anything is decoded.
    std::size_t max_token_bytes = 8192;
};

}  // namespace jobwatch::auth

#endif
