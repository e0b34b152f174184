#ifndef JOBWATCH_AUTH_IMPL_JWT_HPP
#define JOBWATCH_AUTH_IMPL_JWT_HPP

#include <jobwatch/codec.hpp>
#include <jobwatch/detail/base64url.hpp>
#include <jobwatch/detail/json_parser.hpp>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/object.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>

namespace jobwatch::detail {

/// The latest NumericDate accepted: 9999-12-31T23:59:59Z.
inline constexpr double max_numeric_date = 253402300799.0;

/// Case-insensitive ASCII equality, for header values such as `none` and `JWT`.
inline bool iequals_ascii(std::string_view a, std::string_view b) noexcept
{
    if (a.size() != b.size())
        return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        auto lower = [](char c) {
            return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
        };
        if (lower(a[i]) != lower(b[i]))
            return false;
    }
    return true;
}

/** @brief Reads the NumericDate claim `name` (RFC 7519 section 2) into `out`
    (left empty when absent); on a value that is not a number of seconds
    between 1970 and 9999, the failure. */
inline std::optional<auth::jwt_failure> read_numeric_date(boost::json::object const& claims,
                                                          char const* name,
                                                          std::optional<time_point>& out)
{
    auto const* v = claims.if_contains(name);
    if (!v)
        return std::nullopt;
    double seconds = 0;
    if (v->is_int64())
        seconds = static_cast<double>(v->get_int64());
    else if (v->is_uint64())
        seconds = static_cast<double>(v->get_uint64());
    else if (v->is_double())
        seconds = v->get_double();
    else
        return auth::jwt_failure{auth::jwt_check::claims,
                                 std::string("claim \"") + name +
                                     "\" must be a number (seconds since 1970)"};
    // Written so that NaN fails too.
    if (!(seconds >= 0 && seconds <= max_numeric_date))
        return auth::jwt_failure{auth::jwt_check::claims,
                                 std::string("claim \"") + name + "\" is out of range"};
    out = time_point{duration{static_cast<std::int64_t>(std::floor(seconds * 1000))}};
    return std::nullopt;
}

/// ` (leeway 30 s)`, or nothing when there is no leeway.
inline std::string leeway_note(std::chrono::seconds leeway)
{
    return leeway.count() == 0 ? std::string()
                               : " (leeway " + std::to_string(leeway.count()) + " s)";
}

/// Sets `out` to the string claim `name` when present; false when it is present but not a string.
inline bool read_string_claim(boost::json::object const& claims, std::string_view name,
                              std::optional<std::string>& out)
{
    auto const* v = claims.if_contains(name);
    if (!v)
        return true;
    if (!v->is_string())
        return false;
    out.emplace(v->get_string());
    return true;
}

/** @brief Marks in `seen` the known scope words of `words` (space-separated);
    unknown words are ignored, so an issuer may grant scopes of other services. */
inline void mark_scopes(std::string_view words, std::array<bool, 3>& seen)
{
    while (!words.empty()) {
        auto const space = words.find(' ');
        auto const word = words.substr(0, space);
        words = space == std::string_view::npos ? std::string_view{} : words.substr(space + 1);
        for (auto s : {auth_scope::read, auth_scope::publish, auth_scope::admin})
            if (word == to_string(s))
                seen[static_cast<std::size_t>(s)] = true;
    }
}

/// The scopes of `claims` (`scope` and `scopes` together), `defaults` when it has neither, or the
/// failure.
inline std::optional<auth::jwt_failure> read_scopes(boost::json::object const& claims,
                                                    std::vector<auth_scope> const& defaults,
                                                    std::vector<auth_scope>& out)
{
    auto const* scope = claims.if_contains("scope");
    auto const* scopes = claims.if_contains("scopes");
    std::array<bool, 3> seen{};
    if (!scope && !scopes)
        for (auto s : defaults)
            seen[static_cast<std::size_t>(s)] = true;
    if (scope) {
        if (!scope->is_string())
            return auth::jwt_failure{auth::jwt_check::claims,
                                     "claim \"scope\" must be a string of space-separated scopes"};
        mark_scopes(scope->get_string(), seen);
    }
    if (scopes) {
        auto const* arr = scopes->if_array();
        if (!arr)
            return auth::jwt_failure{auth::jwt_check::claims,
                                     "claim \"scopes\" must be an array of strings"};
        for (auto const& s : *arr) {
            if (!s.is_string())
                return auth::jwt_failure{auth::jwt_check::claims,
                                         "claim \"scopes\" must be an array of strings"};
            // One word per item: "read publish" as one item is not two scopes.
            std::string_view const word = s.get_string();
            if (word.find(' ') == std::string_view::npos)
                mark_scopes(word, seen);
        }
    }
    out.clear();
    for (auto s : {auth_scope::read, auth_scope::publish, auth_scope::admin})
        if (seen[static_cast<std::size_t>(s)])
            out.push_back(s);
    return std::nullopt;
}

/** @brief Why `subject`, `tenant` and `user` cannot make a principal (the
    JSON Pointer of the member at fault and the reason), or nothing when they
    can. The generated parser decides, so the schema stays the one
    definition of a subject and an id. */
inline std::optional<parse_error> principal_error(std::string_view subject,
                                                  std::optional<std::string> const& tenant,
                                                  std::optional<std::string> const& user)
{
    // A small object: its memory stays on the stack.
    unsigned char buffer[1024];
    boost::json::monotonic_resource mr(buffer, sizeof buffer);
    boost::json::object o(&mr);
    o["subject"] = subject;
    if (tenant)
        o["tenant_id"] = *tenant;
    if (user)
        o["user_id"] = *user;
    auto r = parse_value<principal>(boost::json::value(std::move(o)));
    if (r)
        return std::nullopt;
    return r.error();
}

/// The `aud` check (RFC 7519 section 4.1.3): the configured audience must be one of the token's.
inline std::optional<auth::jwt_failure> check_audience(boost::json::object const& claims,
                                                       std::string const& expected)
{
    auto const* aud = claims.if_contains("aud");
    auto fail = [](std::string d) {
        return auth::jwt_failure{auth::jwt_check::audience, std::move(d)};
    };
    if (expected.empty()) {
        if (aud)
            return fail("token names an audience (\"aud\") but this server expects none");
        return std::nullopt;
    }
    if (!aud)
        return fail("token has no \"aud\" claim");
    if (aud->is_string()) {
        if (aud->get_string() == expected)
            return std::nullopt;
        return fail("audience " + quote_untrusted(aud->get_string()) + " is not accepted");
    }
    auto const* arr = aud->if_array();
    if (!arr)
        return fail("claim \"aud\" must be a string or an array of strings");
    std::string listed;
    for (auto const& a : *arr) {
        if (!a.is_string())
            return fail("claim \"aud\" must be a string or an array of strings");
        if (a.get_string() == expected)
            return std::nullopt;
        if (listed.size() < 200)
            listed += (listed.empty() ? "" : ", ") + quote_untrusted(a.get_string());
    }
    return fail(arr->empty() ? std::string("claim \"aud\" is an empty array")
                             : "audiences " + listed + " do not include an accepted one");
}

}  // namespace jobwatch::detail

namespace jobwatch::auth {

inline jwt_result verify(key_set const& keys, std::string_view token,
                         std::chrono::system_clock::time_point now_in)
{
    auto const& settings = keys.settings();
    auto fail = [](jwt_check c, std::string d) { return jwt_result{jwt_failure{c, std::move(d)}}; };

    // 1. Size, before any decoding (RFC 8725 section 3.2 invites bounding the work per token).
    if (token.size() > settings.max_token_bytes)
        return fail(jwt_check::size,
                    "token larger than " + std::to_string(settings.max_token_bytes) + " bytes");
    if (token.empty())
        return fail(jwt_check::size, "token is empty");

    // 2. Three base64url parts: header, payload, signature.
    auto const dots = std::count(token.begin(), token.end(), '.');
    if (dots == 4)
        return fail(jwt_check::format, "encrypted tokens (JWE) are not accepted");
    if (dots != 2)
        return fail(jwt_check::format,
                    "token is not three base64url parts separated by dots (JWS compact)");
    auto const dot1 = token.find('.');
    auto const dot2 = token.find('.', dot1 + 1);
    auto const header_text = detail::base64url_decode(token.substr(0, dot1));
    if (!header_text)
        return fail(jwt_check::format, "malformed base64url in the header");
    auto const payload_text = detail::base64url_decode(token.substr(dot1 + 1, dot2 - dot1 - 1));
    if (!payload_text)
        return fail(jwt_check::format, "malformed base64url in the payload");
    auto const signature = detail::base64url_decode(token.substr(dot2 + 1));
    if (!signature)
        return fail(jwt_check::format, "malformed base64url in the signature");

    // The header and payload are small: their DOM lives on the stack.
    unsigned char buffer[4096];
    boost::json::monotonic_resource mr(buffer, sizeof buffer);
    boost::json::error_code ec;
    auto const header_value = detail::parse_json(*header_text, ec, &mr, 16);
    auto const* header = ec ? nullptr : header_value.if_object();
    if (!header)
        return fail(jwt_check::format, "header is not a JSON object");

    // 3. The header: only what can be honoured.
    auto const* alg_value = header->if_contains("alg");
    if (!alg_value)
        return fail(jwt_check::algorithm, "header has no \"alg\"");
    if (!alg_value->is_string())
        return fail(jwt_check::algorithm, "header \"alg\" must be a string");
    std::string_view const alg_name = alg_value->get_string();
    if (detail::iequals_ascii(alg_name, "none"))
        return fail(jwt_check::algorithm, "alg none is not accepted");
    auto const alg = jws_alg_from_string(alg_name);
    if (!alg)
        return fail(jwt_check::algorithm,
                    "alg " + detail::quote_untrusted(alg_name) + " is not supported");
    // RFC 7515 section 4.1.11: extensions listed in "crit" must be understood; none are.
    if (header->contains("crit"))
        return fail(jwt_check::header,
                    "header lists critical extensions (\"crit\") that are not supported");
    if (auto const* cty = header->if_contains("cty");
        cty && cty->is_string() && detail::iequals_ascii(cty->get_string(), "JWT"))
        return fail(jwt_check::header, "nested tokens (cty \"JWT\") are not accepted");
    std::optional<std::string_view> kid;
    if (auto const* k = header->if_contains("kid")) {
        if (!k->is_string())
            return fail(jwt_check::header, "header \"kid\" must be a string");
        kid = std::string_view(k->get_string());
    }

    // 4 and 5. Key, algorithm and signature, decided by the configured keys.
    if (auto f = keys.check_signature(*alg, kid, token.substr(0, dot2), *signature))
        return jwt_result{std::move(*f)};

    auto const payload_value = detail::parse_json(*payload_text, ec, &mr, 32);
    auto const* claims = ec ? nullptr : payload_value.if_object();
    if (!claims)
        return fail(jwt_check::format, "payload is not a JSON object");

    // 6. Time, with the leeway (RFC 7519 sections 4.1.4 to 4.1.6).
    auto const now = std::chrono::floor<duration>(now_in);
    std::optional<time_point> exp, nbf, iat;
    for (auto [name, out] :
         {std::pair{"exp", &exp}, std::pair{"nbf", &nbf}, std::pair{"iat", &iat}})
        if (auto f = detail::read_numeric_date(*claims, name, *out))
            return jwt_result{std::move(*f)};
    auto const leeway = std::chrono::duration_cast<duration>(settings.leeway);
    if (!exp && settings.require_exp)
        return fail(jwt_check::expired, "token has no \"exp\" claim");
    if (exp && now >= *exp + leeway)
        return fail(jwt_check::expired,
                    "token expired at " + format_time(*exp) + detail::leeway_note(settings.leeway));
    if (nbf && now < *nbf - leeway)
        return fail(jwt_check::not_yet_valid, "token not valid before " + format_time(*nbf) +
                                                  detail::leeway_note(settings.leeway));
    if (iat && *iat > now + leeway)
        return fail(jwt_check::issued_in_future, "token issued in the future, at " +
                                                     format_time(*iat) +
                                                     detail::leeway_note(settings.leeway));

    // 7. Issuer and audience.
    if (!settings.issuer.empty()) {
        auto const* iss = claims->if_contains("iss");
        if (!iss)
            return fail(jwt_check::issuer, "token has no \"iss\" claim");
        if (!iss->is_string())
            return fail(jwt_check::issuer, "claim \"iss\" must be a string");
        if (iss->get_string() != settings.issuer)
            return fail(jwt_check::issuer, "issuer " + detail::quote_untrusted(iss->get_string()) +
                                               " is not accepted");
    }
    if (auto f = detail::check_audience(*claims, settings.audience))
        return jwt_result{std::move(*f)};

    // 8. Who: subject, tenant, user, scopes.
    jwt_claims out;
    out.algorithm = *alg;
    if (kid)
        out.kid.emplace(*kid);
    out.expires_at = exp;
    std::optional<std::string> sub;
    auto const tenant_what = [&] {
        return "tenant claim " + detail::quote_untrusted(settings.tenant_claim);
    };
    auto const user_what = [&] {
        return "user claim " + detail::quote_untrusted(settings.user_claim);
    };
    if (!detail::read_string_claim(*claims, "sub", sub))
        return fail(jwt_check::claims, "claim \"sub\" must be a string");
    if (!sub)
        return fail(jwt_check::claims, "token has no \"sub\" claim");
    if (!detail::read_string_claim(*claims, settings.tenant_claim, out.tenant))
        return fail(jwt_check::claims, tenant_what() + " must be a string");
    if (!settings.user_claim.empty() &&
        !detail::read_string_claim(*claims, settings.user_claim, out.user))
        return fail(jwt_check::claims, user_what() + " must be a string");
    if (auto f = detail::read_scopes(*claims, settings.default_scopes, out.scopes))
        return jwt_result{std::move(*f)};
    // The principal's schema decides what a subject and an id may be, as everywhere else.
    if (auto e = detail::principal_error(*sub, out.tenant, out.user)) {
        auto const what = e->path == "/subject"     ? std::string("claim \"sub\"")
                          : e->path == "/tenant_id" ? tenant_what()
                                                    : user_what();
        return fail(jwt_check::claims, what + " " + e->message);
    }
    out.subject = std::move(*sub);
    return jwt_result{std::move(out)};
}

}  // namespace jobwatch::auth

#endif
