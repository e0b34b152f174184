#ifndef JOBWATCH_TESTS_GATEWAY_JWT_SUPPORT_HPP
#define JOBWATCH_TESTS_GATEWAY_JWT_SUPPORT_HPP

// The gateway tests in JWT mode: the same principals as a static-token
// config, each as a token minted by PyJWT (HS256 with the test process's
// secret, valid for an hour from now), and the config switched to jwt.

#include "auth/auth_test_support.hpp"
#include "gateway/gateway_support.hpp"

#include <chrono>
#include <map>
#include <string>

namespace jobwatch::test {

/// Seconds since 1970, now.
inline std::int64_t unix_now()
{
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

/// Claims valid now for an hour, as mint_spec::claims (over standard_claims()).
inline boost::json::object claims_now(std::string const& sub, std::optional<std::string> const& tenant = {},
                                      std::optional<std::string> const& user = {},
                                      std::vector<auth_scope> const& scopes = {auth_scope::read})
{
    auto const now = unix_now();
    std::string scope;
    for (auto s : scopes)
        scope += (scope.empty() ? "" : " ") + std::string(to_string(s));
    return {{"sub", sub},
            {"tenant_id", tenant ? boost::json::value(*tenant) : boost::json::value(nullptr)},
            {"user_id", user ? boost::json::value(*user) : boost::json::value(nullptr)},
            {"scope", scope},
            {"iat", now - 5},
            {"nbf", nullptr},
            {"exp", now + 3600}};
}

/** @brief Turns a static-token config into JWT mode: `tokens` maps each
    static token to a minted JWT for the same principal (one python run). */
inline config to_jwt_mode(config c, std::map<std::string, std::string>& tokens)
{
    auto const& m = key_material::get();
    std::vector<std::string> names;
    std::vector<mint_spec> specs;
    for (auto const& [token, p] : c.auth.tokens) {
        names.push_back(token);
        specs.push_back({.alg = "HS256",
                         .key = "secret.txt",
                         .claims = boost::json::serialize(claims_now(p.subject, p.tenant_id, p.user_id, p.scopes))});
    }
    auto const minted = m.mint(specs);
    for (std::size_t i = 0; i < names.size(); ++i)
        tokens[names[i]] = minted[i];
    c.auth.tokens.clear();
    c.auth.mode = auth_mode::jwt;
    c.auth.jwt.secret_file = m.path("secret.txt");
    return c;
}

/// Two jobs, a1 of tenant acme (run ra) and g1 of tenant globex (run rg), in queue "shared", published by `admin`.
inline void seed_two_tenants(http_client& h, std::string const& admin)
{
    std::string body = event_json("job.queued", "a1", "shared", R"("tenant_id":"acme","run_id":"ra")") + "\n" +
                       event_json("job.queued", "g1", "shared", R"("tenant_id":"globex","run_id":"rg")") + "\n";
    auto r = h.post("/api/v1/events", body, "application/x-ndjson", admin);
    ASSERT_EQ(r.status, 200u) << r.body;
    ASSERT_EQ(r.json().at("accepted"), 2);
}

}  // namespace jobwatch::test

#endif
