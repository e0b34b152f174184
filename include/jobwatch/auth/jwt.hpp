#ifndef JOBWATCH_AUTH_JWT_HPP
#define JOBWATCH_AUTH_JWT_HPP

#include <jobwatch/auth/jwt_failure.hpp>
#include <jobwatch/auth/key_set.hpp>
#include <jobwatch/messages/config.hpp>
#include <jobwatch/time.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace jobwatch::auth {

/** @brief What a verified token says about its holder. */
struct jwt_claims
{
    std::string subject{};  ///< `sub`: 1 to 200 characters
    std::optional<std::string>
        tenant{};  ///< the tenant claim (`jwt_settings::tenant_claim`), an identifier
    std::optional<std::string>
        user{};  ///< the user claim (`jwt_settings::user_claim`), an identifier
    std::vector<auth_scope>
        scopes{};  ///< `scope` or `scopes`, else the default scopes; sorted, no duplicates
    std::optional<time_point>
        expires_at{};  ///< `exp`, when the gateway must warn and then drop the connection
    jws_alg algorithm = jws_alg::hs256;  ///< the algorithm that verified it, for logs
    std::optional<std::string> kid{};    ///< the key id the header named, for logs

    friend bool operator==(jwt_claims const&, jwt_claims const&) = default;
};

/// A verified token's claims, or why it was refused.
using jwt_result = std::variant<jwt_claims, jwt_failure>;

/** @brief Verifies a JWS compact token and reads its claims (RFC 7515, 7518, 7519, 8725).

    In this order, the first failure ending the check:
    @li size: at most `max_token_bytes`, before anything is decoded;
    @li format: three base64url parts, header and payload JSON objects;
    @li header: `alg` names a supported algorithm (`none` never is), no
        `crit`, no nested token (`cty: JWT`), `kid` a string;
    @li key and algorithm: the `kid` names a configured key, and some key
        accepts `alg` (the keys decide, never the header);
    @li signature: of the key's length, and it verifies (HMAC compared in
        constant time);
    @li time: `exp` (required unless `require_exp` is off), `nbf` and
        `iat`, each with the leeway;
    @li `iss` and `aud` against the settings;
    @li claims: `sub`, the tenant and user claims, the scopes.

    Header parameters that point elsewhere for a key (`jku`, `jwk`, `x5u`,
    `x5c`) are ignored: only configured keys verify.

    @param keys the keys and claim rules
    @param token the token alone, without `Bearer `
    @param now the current time (a parameter, so tests and callers decide)

    @par Thread Safety
    May be called from any number of threads at once on one `key_set`.
*/
jwt_result verify(key_set const& keys, std::string_view token,
                  std::chrono::system_clock::time_point now);

/** @brief The principal a verified token stands for: subject, tenant, user and scopes.

    A token with a user claim restricts its holder to that user's jobs.
    Verification has already checked every member against the principal's
    schema, so the result is always valid.
*/
inline principal to_principal(jwt_claims const& c)
{
    return principal{
        .subject = c.subject, .tenant_id = c.tenant, .user_id = c.user, .scopes = c.scopes};
}

}  // namespace jobwatch::auth

#include <jobwatch/auth/impl/jwt.hpp>

#endif
