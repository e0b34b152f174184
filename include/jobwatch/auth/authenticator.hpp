#ifndef JOBWATCH_AUTH_AUTHENTICATOR_HPP
#define JOBWATCH_AUTH_AUTHENTICATOR_HPP

/** @file
    Who a request or connection is: the pluggable authenticator and the
    built-in modes (open, static tokens).
*/

#include <jobwatch/messages/config.hpp>

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

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

/// A principal (shared: a connection holds a pointer, not a copy), or why there is none.
using auth_result = std::variant<std::shared_ptr<principal const>, auth_failure>;

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
};

/// Everyone is `anonymous` with every scope and no tenant. For local development.
class open_authenticator final : public authenticator
{
public:
    auth_result authenticate(credentials const&) const override { return anonymous_; }
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
    (browsers cannot set headers on a WebSocket). Comparison takes the same
    time whatever the token's content, so timing tells nothing about it.
*/
class static_token_authenticator final : public authenticator
{
public:
    explicit static_token_authenticator(std::map<std::string, principal> const& tokens)
    {
        for (auto const& [t, p] : tokens)
            tokens_.emplace(t, std::make_shared<principal const>(p));
    }

    auth_result authenticate(credentials const& c) const override
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
            return auth_failure{401, "a bearer token is required (Authorization header or ?token=)"};
        std::shared_ptr<principal const> found;
        for (auto const& [t, p] : tokens_)
            if (equal_constant_time(t, token))
                found = p;
        if (!found)
            return auth_failure{401, "unknown token"};
        return found;
    }

    std::string describe() const override
    {
        return "auth mode static_tokens: " + std::to_string(tokens_.size()) + " token(s)";
    }

private:
    static bool equal_constant_time(std::string_view a, std::string_view b) noexcept
    {
        unsigned diff = a.size() == b.size() ? 0u : 1u;
        for (std::size_t i = 0; i < b.size(); ++i)
            diff |= static_cast<unsigned>(static_cast<unsigned char>(a[i % std::max<std::size_t>(a.size(), 1)]) ^
                                          static_cast<unsigned char>(b[i]));
        return diff == 0 && !a.empty();
    }

    std::map<std::string, std::shared_ptr<principal const>> tokens_;
};

/// The authenticator the `auth` section of the config asks for.
inline std::shared_ptr<authenticator const> make_authenticator(auth_config const& cfg)
{
    if (cfg.mode == auth_mode::static_tokens)
        return std::make_shared<static_token_authenticator>(
            std::map<std::string, principal>(cfg.tokens.begin(), cfg.tokens.end()));
    return std::make_shared<open_authenticator>();
}

}  // namespace jobwatch::auth

#endif
