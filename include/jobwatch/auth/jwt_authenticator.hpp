#ifndef JOBWATCH_AUTH_JWT_AUTHENTICATOR_HPP
#define JOBWATCH_AUTH_JWT_AUTHENTICATOR_HPP

/** @file
    `auth.mode: "jwt"`: the gateway's authenticator over the JWT library
    (`jwt.hpp`), and `make_authenticator`, which picks the mode.
*/

#include <jobwatch/auth/authenticator.hpp>
#include <jobwatch/auth/jwt.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace jobwatch::auth {

/// The library's settings from the `auth.jwt` section.
inline jwt_settings to_jwt_settings(jwt_config const& c)
{
    return jwt_settings{.secret_file = c.secret_file,
                   .public_key_file = c.public_key_file,
                   .jwks_file = c.jwks_file,
                   .tenant_claim = c.tenant_claim,
                   .user_claim = c.user_claim,
                   .default_scopes = c.default_scopes,
                   .leeway = std::chrono::seconds{c.leeway_s},
                   .issuer = c.issuer,
                   .audience = c.audience,
                   .algorithms = c.algorithms,  // names checked by key_set::load
                   .require_exp = c.require_exp,
                   .max_token_bytes = c.max_token_bytes};
}

/** @brief Bearer JSON Web Tokens, verified with configured keys (`auth.jwt`).

    The token comes as `Authorization: Bearer`, `?token=`, or (WebSocket) an
    `auth` message. A refusal's reason is the failed check's name and its
    one-sentence detail (`expired: token expired at ...`), for the 401
    problem; it never holds the token or a key.

    @par Thread Safety
    `authenticate` runs on every I/O thread at once; `reload` (SIGHUP) swaps
    the key set under a mutex, and a verification under way finishes with
    the set it took.
*/
class jwt_authenticator final : public authenticator
{
public:
    explicit jwt_authenticator(std::shared_ptr<key_set const> keys) : keys_(std::move(keys)) {}

    /// Loads the keys the settings name. @throws settings_error naming the setting and the file.
    static std::shared_ptr<jwt_authenticator> load(jwt_config const& c)
    {
        auto loaded = key_set::load(to_jwt_settings(c));
        if (auto const* why = std::get_if<std::string>(&loaded)) {
            auto const name = setting_of(*why);
            auto const rest = why->rfind(name, 0) == 0 ? why->substr(name.size()) : *why;
            throw settings_error(name, rest.substr(std::min(rest.find_first_not_of(" :"), rest.size())));
        }
        return std::make_shared<jwt_authenticator>(std::get<0>(std::move(loaded)));
    }

    auth_result authenticate(credentials const& c) const override
    {
        auto token = bearer_token(c);
        if (auto const* fail = std::get_if<auth_failure>(&token))
            return *fail;
        auto const result = verify(*keys(), std::get<std::string_view>(token), std::chrono::system_clock::now());
        if (auto const* failure = std::get_if<jwt_failure>(&result))
            return auth_failure{401, "invalid token (" + std::string(to_string(failure->check)) + "): " +
                                         failure->detail};
        auto const& claims = std::get<jwt_claims>(result);
        return identity{std::make_shared<principal const>(to_principal(claims)), claims.expires_at};
    }

    std::string describe() const override
    {
        auto const k = keys();
        std::string out = k->describe();
        for (auto const& w : k->warnings())
            out += "; " + w;
        return out;
    }

    std::optional<std::string> reload() const override
    {
        auto loaded = key_set::load(keys()->settings());
        if (auto const* why = std::get_if<std::string>(&loaded))
            return *why;
        std::lock_guard lock(mutex_);
        keys_ = std::get<0>(std::move(loaded));
        return std::nullopt;
    }

    /// The keys in use now.
    std::shared_ptr<key_set const> keys() const
    {
        std::lock_guard lock(mutex_);
        return keys_;
    }

private:
    // key_set's errors name the setting ("cannot read auth.jwt.jwks_file \"f\": ..."); find it.
    static std::string setting_of(std::string const& why)
    {
        auto const at = why.find("auth.jwt.");
        if (at == std::string::npos)
            return "auth.jwt";
        return why.substr(at, why.find_first_of(" :\"", at) - at);
    }

    mutable std::mutex mutex_;
    mutable std::shared_ptr<key_set const> keys_;
};

inline std::shared_ptr<authenticator const> make_authenticator(auth_config const& cfg)
{
    switch (cfg.mode) {
    case auth_mode::static_tokens:
        return std::make_shared<static_token_authenticator>(
            std::map<std::string, principal>(cfg.tokens.begin(), cfg.tokens.end()));
    case auth_mode::jwt: return jwt_authenticator::load(cfg.jwt);
    case auth_mode::open: break;
    }
    return std::make_shared<open_authenticator>();
}

}  // namespace jobwatch::auth

#endif
