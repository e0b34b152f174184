#ifndef JOBWATCH_AUTH_AUTHENTICATOR_HPP
#define JOBWATCH_AUTH_AUTHENTICATOR_HPP

/** @file
    Who a request or connection is: the pluggable authenticator and the
    built-in modes (open, static tokens; JWT in `jwt_authenticator.hpp`).
*/

#include <jobwatch/auth/token_hash.hpp>
#include <jobwatch/config.hpp>
#include <jobwatch/messages/config.hpp>
#include <jobwatch/time.hpp>

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace jobwatch::auth {

/// What a request offers to prove who it is (the parts an authenticator may read).
struct credentials
{
    std::string_view authorization;  ///< the `Authorization` header, if any
    std::string_view query_token;    ///< the `token` query parameter (browsers' WebSocket), if any
    std::string_view remote;         ///< the peer address, for logs
};

/// Why an authenticator refused: `status` is 401 (who are you?) or 403.
struct auth_failure
{
    unsigned status = 401;
    std::string reason;
};

/// Who a credential stands for (shared: a connection holds a pointer, not a copy), and until when.
struct identity
{
    std::shared_ptr<principal const> who;
    /// When the credential stops being valid (a JWT's `exp`); none: it does not expire.
    std::optional<time_point> expires_at{};
};

/// An identity, or why there is none.
using auth_result = std::variant<identity, auth_failure>;

/** @brief The bearer token of `c`: the `Authorization: Bearer` header, else `?token=`.
    @return the token, or the refusal when the header is malformed or there is no token. */
inline std::variant<std::string_view, auth_failure> bearer_token(credentials const& c)
{
    std::string_view token = c.query_token;
    if (!c.authorization.empty()) {
        constexpr std::string_view bearer = "Bearer ";
        if (c.authorization.size() <= bearer.size() ||
            !std::equal(bearer.begin(), bearer.end(), c.authorization.begin(),
                        [](char a, char b) { return std::tolower(a) == std::tolower(b); }))
            return auth_failure{401, "the Authorization header must be \"Bearer <token>\""};
        token = c.authorization.substr(bearer.size());
    }
    if (token.empty())
        return auth_failure{401, "a bearer token is required (Authorization header, ?token= or an auth message)"};
    return token;
}

/** @brief Decides who a connection or request is. Pluggable: implement it
    (JWT, mTLS subject, a session cookie) and pass it in `gateway::config::auth`.

    Called once per HTTP request and once per WebSocket upgrade, before any
    data is read or sent.

    @par Thread Safety
    Called from the gateway's I/O threads at once when `gateway.threads > 0`:
    `authenticate` must be safe to call concurrently (it is `const`).
*/
class authenticator
{
public:
    virtual ~authenticator() = default;
    virtual auth_result authenticate(credentials const& c) const = 0;
    /// One line for the start-up log.
    virtual std::string describe() const = 0;
    /** @brief Takes new keys or secrets from where they came from (on SIGHUP).
        Safe while other threads authenticate; on failure the current ones stay.
        @return why it failed, or nothing. */
    virtual std::optional<std::string> reload() const { return std::nullopt; }
    /// True when credentials are required (any mode but open): WebSocket may then authenticate by message.
    virtual bool requires_credentials() const { return true; }
};

/// Everyone is `anonymous` with every scope and no tenant. For local development.
class open_authenticator final : public authenticator
{
public:
    auth_result authenticate(credentials const&) const override { return identity{anonymous_}; }
    bool requires_credentials() const override { return false; }
    std::string describe() const override
    {
        return "auth mode OPEN: anyone who can reach this port may read everything, publish events "
               "and change settings; use auth.mode=static_tokens outside local development";
    }

private:
    std::shared_ptr<principal const> anonymous_ = std::make_shared<principal const>(
        principal{.subject = "anonymous",
                  .tenant_id = std::nullopt,
                  .scopes = {auth_scope::read, auth_scope::publish, auth_scope::admin}});
};

/** @brief Bearer tokens from the config, each standing for a principal.

    The token comes as `Authorization: Bearer <token>`, or as `?token=<token>`
    (browsers cannot set headers on a WebSocket). A configured entry is the
    token itself or `sha256:<hex>`, its SHA-256 (`token_hash.hpp`). The
    presented token is hashed once and compared with every entry's digest in
    constant time, all of them, so timing tells neither whether nor which
    one matched.
*/
class static_token_authenticator final : public authenticator
{
public:
    /// @throws settings_error (`auth.tokens`) when a `sha256:` entry is not 64 hex digits.
    explicit static_token_authenticator(std::map<std::string, principal> const& tokens)
    {
        for (auto const& [t, p] : tokens) {
            sha256_digest d{};
            if (is_token_hash(t)) {
                auto parsed = parse_token_hash(t);
                if (auto const* why = std::get_if<std::string>(&parsed))
                    throw settings_error("auth.tokens", *why);  // never repeats the entry
                d = std::get<sha256_digest>(parsed);
            } else {
                d = sha256(t);
            }
            tokens_.push_back({d, std::make_shared<principal const>(p)});
        }
    }

    auth_result authenticate(credentials const& c) const override
    {
        auto token = bearer_token(c);
        if (auto const* fail = std::get_if<auth_failure>(&token))
            return *fail;
        auto const d = sha256(std::get<std::string_view>(token));
        std::shared_ptr<principal const> found;
        for (auto const& [digest, p] : tokens_)
            if (digests_equal(digest, d))
                found = p;
        if (!found)
            return auth_failure{401, "unknown token"};
        return identity{found};
    }

    std::string describe() const override
    {
        return "auth mode static_tokens: " + std::to_string(tokens_.size()) + " token(s)";
    }

private:
    std::vector<std::pair<sha256_digest, std::shared_ptr<principal const>>> tokens_;
};

/** @brief The authenticator the `auth` section of the config asks for.
    @throws settings_error when its keys or tokens cannot be used (the message names the setting). */
std::shared_ptr<authenticator const> make_authenticator(auth_config const& cfg);

}  // namespace jobwatch::auth

#include <jobwatch/auth/jwt_authenticator.hpp>

#endif
