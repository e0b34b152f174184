// Test that the header is self-contained.
#include <jobwatch/auth/jwt.hpp>

#include "auth/auth_test_support.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <openssl/hmac.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <variant>
#include <vector>

namespace {

using namespace jobwatch;
using namespace std::chrono_literals;
using auth::jwt_check;
using auth::jwt_failure;
using test::key_material;
using test::mint_spec;
using test::t0;

// --- what a row expects -----------------------------------------------------

/// A token that verifies, and the claims it must give.
struct expect_ok
{
    std::string subject = "alice";
    std::optional<std::string> tenant = "acme";
    std::vector<auth_scope> scopes = {auth_scope::read};
    std::optional<std::string> user = std::nullopt;
    std::optional<std::int64_t> exp = t0 + 3600;
};

using expectation = std::variant<expect_ok, jwt_failure>;

jwt_failure fails(jwt_check check, std::string detail)
{
    return jwt_failure{check, std::move(detail)};
}

/// One row: a token (minted, then maybe altered), the key set and time it is verified with, the
/// outcome.
struct jwt_case
{
    std::string name{};
    std::string set{};  ///< a key set of `key_sets()`
    mint_spec token{};
    std::function<std::string(std::string const&)> alter = {};
    std::chrono::milliseconds at{0};  ///< now = t0 + at
    expectation expected = expect_ok{};
};

// --- the key sets the rows name -------------------------------------------------

std::map<std::string, std::shared_ptr<auth::key_set const>> key_sets()
{
    auto const& m = key_material::get();
    auth::jwt_settings pem{.secret_file = m.path("secret.txt"),
                           .public_key_file = m.path("public.pem")};
    auto with = [&](auto change) {
        auto s = pem;
        change(s);
        return key_material::load(s);
    };
    return {
        {"pem", key_material::load(pem)},
        {"jwks", key_material::load({.jwks_file = m.path("jwks.json")})},
        {"rsa", key_material::load({.public_key_file = m.path("rsa.pub.pem")})},
        {"secret", key_material::load({.secret_file = m.path("secret.txt")})},
        {"strict", with([](auth::jwt_settings& s) {
             s.issuer = "https://issuer.example";
             s.audience = "jobwatch";
         })},
        {"no-leeway", with([](auth::jwt_settings& s) { s.leeway = 0s; })},
        {"custom", with([](auth::jwt_settings& s) {
             s.tenant_claim = "org";
             s.user_claim = "uid";
             s.default_scopes = {auth_scope::read, auth_scope::publish};
         })},
        {"rs256-only", with([](auth::jwt_settings& s) { s.algorithms = {"RS256"}; })},
        {"exp-optional", with([](auth::jwt_settings& s) { s.require_exp = false; })},
    };
}

// --- alterations of a minted token ---------------------------------------------

/// The three parts of a compact token.
struct parts
{
    std::string header, payload, signature;

    static parts of(std::string const& token)
    {
        auto const a = token.find('.');
        auto const b = token.find('.', a + 1);
        return {token.substr(0, a), token.substr(a + 1, b - a - 1), token.substr(b + 1)};
    }
    std::string join() const { return header + "." + payload + "." + signature; }
};

/// Decodes a part as JSON, lets `change` edit it, encodes it again.
std::string edit_json(std::string const& part,
                      std::function<void(boost::json::object&)> const& change)
{
    auto doc = boost::json::parse(*detail::base64url_decode(part)).as_object();
    change(doc);
    return detail::base64url_encode(boost::json::serialize(doc));
}

auto tamper_payload(std::function<void(boost::json::object&)> change)
{
    return [change](std::string const& t) {
        auto p = parts::of(t);
        p.payload = edit_json(p.payload, change);
        return p.join();
    };
}

auto tamper_header(std::function<void(boost::json::object&)> change)
{
    return [change](std::string const& t) {
        auto p = parts::of(t);
        p.header = edit_json(p.header, change);
        return p.join();
    };
}

/// Drops the last `n` characters of the signature's text.
auto truncate_signature_text(std::size_t n)
{
    return [n](std::string const& t) { return t.substr(0, t.size() - n); };
}

/// Drops the last `n` bytes of the signature (and encodes the rest canonically).
auto truncate_signature_bytes(std::size_t n)
{
    return [n](std::string const& t) {
        auto p = parts::of(t);
        auto const bytes = *detail::base64url_decode(p.signature);
        p.signature = detail::base64url_encode(bytes.substr(0, bytes.size() - n));
        return p.join();
    };
}

auto replace_signature(std::string signature)
{
    return [signature](std::string const& t) {
        auto p = parts::of(t);
        p.signature = signature;
        return p.join();
    };
}

/// Replaces the first character of the header, payload or signature with `c`.
auto corrupt(std::string parts::*part, char c)
{
    return [part, c](std::string const& t) {
        auto p = parts::of(t);
        (p.*part)[0] = c;
        return p.join();
    };
}

/// Sets the unused low bit of the signature's last character: same bytes, another spelling.
std::string non_canonical_signature(std::string const& t)
{
    constexpr std::string_view alphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    auto out = t;
    out.back() = alphabet[alphabet.find(out.back()) | 1];
    return out;
}

/** @brief Replaces the payload of an HS256 token by `edit(payload)` and signs
    it again with the real secret, so that only the checks after the
    signature can fail (for payloads mint.py cannot express). */
auto resign_hs256(std::function<std::string(std::string const&)> edit)
{
    return [edit](std::string const& t) {
        auto p = parts::of(t);
        p.payload = detail::base64url_encode(edit(*detail::base64url_decode(p.payload)));
        auto const secret = test::read_file(key_material::get().path("secret.txt")).substr(0, 64);
        auto const input = p.header + "." + p.payload;
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned len = 0;
        HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
             reinterpret_cast<unsigned char const*>(input.data()), input.size(), mac, &len);
        p.signature = detail::base64url_encode(std::string(reinterpret_cast<char*>(mac), len));
        return p.join();
    };
}

// --- the tables -----------------------------------------------------------------

/// The private key file, JWKS kid and expected signature length of each algorithm.
struct alg_key
{
    char const* alg;
    char const* key;
    char const* kid;
};
constexpr alg_key every_alg[] = {
    {"HS256", "secret.txt", "hs"},   {"HS384", "secret.txt", "hs"},
    {"HS512", "secret.txt", "hs"},   {"RS256", "rsa.pem", "rsa"},
    {"RS384", "rsa.pem", "rsa"},     {"RS512", "rsa.pem", "rsa"},
    {"PS256", "rsa.pem", "rsa"},     {"PS384", "rsa.pem", "rsa"},
    {"PS512", "rsa.pem", "rsa"},     {"PS256", "rsa2.pem", "rsa-ps"},
    {"ES256", "ec256.pem", "ec256"}, {"ES384", "ec384.pem", "ec384"},
    {"ES512", "ec521.pem", "ec521"}, {"EdDSA", "ed25519.pem", "ed25519"},
    {"EdDSA", "ed448.pem", "ed448"},
};

std::string kid_header(char const* kid)
{
    return boost::json::serialize(boost::json::object{{"kid", kid}});
}

/// A valid token of every algorithm, verified by PEM keys (no kid) and by the JWKS (kid).
std::vector<jwt_case> valid_tokens()
{
    std::vector<jwt_case> rows;
    for (auto const& a : every_alg) {
        std::string const key = a.key;
        // rsa2 is only in the JWKS (as "rsa-ps").
        if (key != "rsa2.pem")
            rows.push_back({.name = std::string(a.alg) + " " + key + " by PEM",
                            .set = "pem",
                            .token = {.alg = a.alg, .key = key}});
        rows.push_back({.name = std::string(a.alg) + " " + key + " by JWKS kid " + a.kid,
                        .set = "jwks",
                        .token = {.alg = a.alg, .key = key, .header = kid_header(a.kid)}});
    }
    // Without a kid, every key that accepts the algorithm is tried: rsa and rsa-ps both accept
    // PS256.
    rows.push_back({.name = "PS256 of rsa-ps without kid",
                    .set = "jwks",
                    .token = {.alg = "PS256", .key = "rsa2.pem"}});
    return rows;
}

/// The attacks of RFC 8725 and malformed tokens: each refused, naming the check.
std::vector<jwt_case> attacks()
{
    auto const signature_fails = fails(jwt_check::signature, "signature does not verify");
    auto const huge = [](std::string const&) { return std::string(100 * 1024, 'a'); };
    return {
        {.name = "alg none",
         .set = "pem",
         .token = {.alg = "none", .mode = "unsigned"},
         .expected = fails(jwt_check::algorithm, "alg none is not accepted")},
        {.name = "alg None, other case",
         .set = "pem",
         .token = {.alg = "None", .mode = "unsigned"},
         .expected = fails(jwt_check::algorithm, "alg none is not accepted")},
        {.name = "alg none with a signature of a real key",
         .set = "jwks",
         .token = {.alg = "RS256", .key = "rsa.pem", .header = kid_header("rsa")},
         .alter = tamper_header([](auto& h) { h["alg"] = "none"; }),
         .expected = fails(jwt_check::algorithm, "alg none is not accepted")},
        {.name = "HS256 keyed with the RSA public key's PEM, only RSA configured",
         .set = "rsa",
         .token = {.alg = "HS256", .key = "rsa.pub.pem", .mode = "hmac_raw"},
         .expected = fails(jwt_check::algorithm, "no configured key accepts alg HS256")},
        {.name = "HS256 keyed with the RSA public key's PEM, a secret configured too",
         .set = "pem",
         .token = {.alg = "HS256", .key = "rsa.pub.pem", .mode = "hmac_raw"},
         .expected = signature_fails},
        {.name = "HS256 keyed with the RSA public key's PEM, naming the RSA kid",
         .set = "jwks",
         .token = {.alg = "HS256",
                   .key = "rsa.pub.pem",
                   .header = kid_header("rsa"),
                   .mode = "hmac_raw"},
         .expected = fails(jwt_check::algorithm, "key \"rsa\" does not accept alg HS256")},
        {.name = "RS256 against an HMAC secret alone",
         .set = "secret",
         .token = {.alg = "RS256", .key = "rsa.pem"},
         .expected = fails(jwt_check::algorithm, "no configured key accepts alg RS256")},
        {.name = "RS256 naming the HMAC kid",
         .set = "jwks",
         .token = {.alg = "RS256", .key = "rsa.pem", .header = kid_header("hs")},
         .expected = fails(jwt_check::algorithm, "key \"hs\" does not accept alg RS256")},
        {.name = "RS256 naming a PS256-only JWK",
         .set = "jwks",
         .token = {.alg = "RS256", .key = "rsa2.pem", .header = kid_header("rsa-ps")},
         .expected = fails(jwt_check::algorithm, "key \"rsa-ps\" does not accept alg RS256")},
        {.name = "alg outside auth.jwt.algorithms",
         .set = "rs256-only",
         .token = {.alg = "PS256", .key = "rsa.pem"},
         .expected = fails(jwt_check::algorithm, "no configured key accepts alg PS256")},
        {.name = "unknown alg",
         .set = "pem",
         .token = {.alg = "HS256", .key = "secret.txt"},
         .alter = tamper_header([](auto& h) { h["alg"] = "HS1"; }),
         .expected = fails(jwt_check::algorithm, "alg \"HS1\" is not supported")},
        {.name = "no alg",
         .set = "pem",
         .token = {.alg = "HS256", .key = "secret.txt"},
         .alter = tamper_header([](auto& h) { h.erase("alg"); }),
         .expected = fails(jwt_check::algorithm, "header has no \"alg\"")},
        {.name = "unknown kid",
         .set = "jwks",
         .token = {.alg = "RS256", .key = "rsa.pem", .header = kid_header("nope")},
         .expected = fails(jwt_check::key, "unknown kid \"nope\"")},
        {.name = "kid of a key skipped for use enc",
         .set = "jwks",
         .token = {.alg = "ES256", .key = "ec256.pem", .header = kid_header("enc")},
         .expected = fails(jwt_check::key, "unknown kid \"enc\"")},
        {.name = "kid with quotes and control characters is escaped",
         .set = "jwks",
         .token = {.alg = "ES256", .key = "ec256.pem", .header = R"({"kid": "a\"b\n"})"},
         .expected = fails(jwt_check::key, R"(unknown kid "a\"b\x0a")")},
        {.name = "kid not a string",
         .set = "jwks",
         .token = {.alg = "ES256", .key = "ec256.pem"},
         .alter = tamper_header([](auto& h) { h["kid"] = 7; }),
         .expected = fails(jwt_check::header, "header \"kid\" must be a string")},
        {.name = "crit header",
         .set = "pem",
         .token = {.alg = "HS256", .key = "secret.txt", .header = R"({"crit": ["exp"], "exp": 1})"},
         .expected = fails(jwt_check::header,
                           "header lists critical extensions (\"crit\") that are not supported")},
        {.name = "nested token",
         .set = "pem",
         .token = {.alg = "HS256", .key = "secret.txt", .header = R"({"cty": "JWT"})"},
         .expected = fails(jwt_check::header, "nested tokens (cty \"JWT\") are not accepted")},
        {.name = "signed by another RSA key",
         .set = "pem",
         .token = {.alg = "RS256", .key = "rsa2.pem"},
         .expected = signature_fails},
        {.name = "PS256 without kid, no key verifies",
         .set = "jwks",
         .token = {.alg = "PS256", .key = "rsa1024.pem"},
         .expected = fails(jwt_check::signature,
                           "signature does not verify with any of the 2 keys that accept PS256")},
        {.name = "tampered payload HS256",
         .set = "pem",
         .token = {.alg = "HS256", .key = "secret.txt"},
         .alter = tamper_payload([](auto& c) { c["sub"] = "mallory"; }),
         .expected = signature_fails},
        {.name = "tampered payload RS256",
         .set = "pem",
         .token = {.alg = "RS256", .key = "rsa.pem"},
         .alter = tamper_payload([](auto& c) { c["tenant_id"] = "other"; }),
         .expected = signature_fails},
        {.name = "tampered payload ES256",
         .set = "pem",
         .token = {.alg = "ES256", .key = "ec256.pem"},
         .alter = tamper_payload([](auto& c) { c["exp"] = t0 + 999999; }),
         .expected = signature_fails},
        {.name = "tampered payload EdDSA",
         .set = "pem",
         .token = {.alg = "EdDSA", .key = "ed25519.pem"},
         .alter = tamper_payload([](auto& c) { c["scope"] = "admin"; }),
         // The PEM file holds an Ed25519 and an Ed448 key: without a kid both are tried.
         .expected = fails(jwt_check::signature,
                           "signature does not verify with any of the 2 keys that accept EdDSA")},
        {.name = "tampered payload EdDSA with kid",
         .set = "jwks",
         .token = {.alg = "EdDSA", .key = "ed25519.pem", .header = kid_header("ed25519")},
         .alter = tamper_payload([](auto& c) { c["scope"] = "admin"; }),
         .expected = signature_fails},
        {.name = "tampered header HS256",
         .set = "pem",
         .token = {.alg = "HS256", .key = "secret.txt"},
         .alter = tamper_header([](auto& h) { h["typ"] = "at+jwt"; }),
         .expected = signature_fails},
        {.name = "tampered header RS256 to PS256",
         .set = "pem",
         .token = {.alg = "RS256", .key = "rsa.pem"},
         .alter = tamper_header([](auto& h) { h["alg"] = "PS256"; }),
         .expected = signature_fails},
        {.name = "tampered header HS256 to HS384",
         .set = "pem",
         .token = {.alg = "HS256", .key = "secret.txt"},
         .alter = tamper_header([](auto& h) { h["alg"] = "HS384"; }),
         .expected =
             fails(jwt_check::signature, "signature has 32 bytes; HS384 with this key needs 48")},
        {.name = "truncated signature HS256",
         .set = "pem",
         .token = {.alg = "HS256", .key = "secret.txt"},
         .alter = truncate_signature_bytes(3),
         .expected =
             fails(jwt_check::signature, "signature has 29 bytes; HS256 with this key needs 32")},
        {.name = "truncated signature RS256",
         .set = "pem",
         .token = {.alg = "RS256", .key = "rsa.pem"},
         .alter = truncate_signature_bytes(3),
         .expected =
             fails(jwt_check::signature, "signature has 253 bytes; RS256 with this key needs 256")},
        {.name = "truncated signature ES256",
         .set = "pem",
         .token = {.alg = "ES256", .key = "ec256.pem"},
         .alter = truncate_signature_bytes(3),
         .expected =
             fails(jwt_check::signature, "signature has 61 bytes; ES256 with this key needs 64")},
        {.name = "truncated signature EdDSA by one character",
         .set = "pem",
         .token = {.alg = "EdDSA", .key = "ed25519.pem"},
         .alter = truncate_signature_text(1),
         .expected = fails(jwt_check::format, "malformed base64url in the signature")},
        {.name = "empty signature RS256",
         .set = "pem",
         .token = {.alg = "RS256", .key = "rsa.pem"},
         .alter = replace_signature(""),
         .expected = fails(jwt_check::signature, "signature is empty")},
        {.name = "empty signature HS256",
         .set = "pem",
         .token = {.alg = "HS256", .key = "secret.txt"},
         .alter = replace_signature(""),
         .expected = fails(jwt_check::signature, "signature is empty")},
        {.name = "ES256 signature of zeros",
         .set = "pem",
         .token = {.alg = "ES256", .key = "ec256.pem"},
         .alter = replace_signature(detail::base64url_encode(std::string(64, '\0'))),
         .expected = signature_fails},
        {.name = "ES256 signature in DER instead of r||s",
         .set = "pem",
         .token = {.alg = "ES256", .key = "ec256.pem"},
         // r and s of 32 bytes with the high bit clear: 70 bytes of DER.
         .alter = replace_signature(
             detail::base64url_encode(detail::ecdsa_raw_to_der(std::string(64, '\x01')))),
         .expected =
             fails(jwt_check::signature, "signature has 70 bytes; ES256 with this key needs 64")},
        {.name = "bad base64url in the payload",
         .set = "pem",
         .token = {.alg = "HS256", .key = "secret.txt"},
         .alter = corrupt(&parts::payload, '*'),
         .expected = fails(jwt_check::format, "malformed base64url in the payload")},
        {.name = "bad base64url in the header",
         .set = "pem",
         .token = {.alg = "HS256", .key = "secret.txt"},
         .alter = corrupt(&parts::header, '+'),
         .expected = fails(jwt_check::format, "malformed base64url in the header")},
        {.name = "bad base64url in the signature",
         .set = "pem",
         .token = {.alg = "HS256", .key = "secret.txt"},
         .alter = corrupt(&parts::signature, '/'),
         .expected = fails(jwt_check::format, "malformed base64url in the signature")},
        {.name = "padded signature",
         .set = "pem",
         .token = {.alg = "HS256", .key = "secret.txt"},
         .alter = [](std::string const& t) { return t + "="; },
         .expected = fails(jwt_check::format, "malformed base64url in the signature")},
        {.name = "non-canonical base64url in the signature",
         .set = "pem",
         .token = {.alg = "HS256", .key = "secret.txt"},
         .alter = non_canonical_signature,
         .expected = fails(jwt_check::format, "malformed base64url in the signature")},
        {.name = "header not JSON",
         .set = "pem",
         .token = {.alg = "HS256", .key = "secret.txt"},
         .alter =
             [](std::string const& t) {
                 auto p = parts::of(t);
                 p.header = detail::base64url_encode("{\"alg\":");
                 return p.join();
             },
         .expected = fails(jwt_check::format, "header is not a JSON object")},
        {.name = "payload a JSON array, correctly signed",
         .set = "pem",
         .token = {.alg = "HS256", .key = "secret.txt"},
         .alter = resign_hs256([](std::string const&) { return std::string("[1]"); }),
         .expected = fails(jwt_check::format, "payload is not a JSON object")},
        {.name = "two parts",
         .set = "pem",
         .token = {.alg = "HS256", .key = "secret.txt"},
         .alter = [](std::string const& t) { return t.substr(0, t.rfind('.')); },
         .expected = fails(jwt_check::format,
                           "token is not three base64url parts separated by dots (JWS compact)")},
        {.name = "five parts (JWE)",
         .set = "pem",
         .token = {.alg = "HS256", .key = "secret.txt"},
         .alter = [](std::string const& t) { return t + ".a.b"; },
         .expected = fails(jwt_check::format, "encrypted tokens (JWE) are not accepted")},
        {.name = "100 KiB token",
         .set = "pem",
         .token = {.alg = "HS256", .key = "secret.txt"},
         .alter = huge,
         .expected = fails(jwt_check::size, "token larger than 8192 bytes")},
        {.name = "a validly signed token over 8 KiB",
         .set = "pem",
         .token = {.alg = "HS256",
                   .key = "secret.txt",
                   .claims = R"({"pad": ")" + std::string(8192, 'x') + "\"}"},
         .expected = fails(jwt_check::size, "token larger than 8192 bytes")},
        {.name = "empty token",
         .set = "pem",
         .token = {.alg = "HS256", .key = "secret.txt"},
         .alter = [](std::string const&) { return std::string(); },
         .expected = fails(jwt_check::size, "token is empty")},
    };
}

/// exp, nbf and iat at the edges of the leeway (30 s unless the set says otherwise).
std::vector<jwt_case> time_claims()
{
    auto const at_t0 = [](char const* claim) {
        return mint_spec{.alg = "HS256",
                         .key = "secret.txt",
                         .claims = boost::json::serialize(boost::json::object{{claim, t0}})};
    };
    auto const ok_exp_t0 = expect_ok{.exp = t0};
    auto const expired =
        fails(jwt_check::expired, "token expired at 2027-01-15T08:00:00.000Z (leeway 30 s)");
    auto const early = fails(jwt_check::not_yet_valid,
                             "token not valid before 2027-01-15T08:00:00.000Z (leeway 30 s)");
    auto const future =
        fails(jwt_check::issued_in_future,
              "token issued in the future, at 2027-01-15T08:00:00.000Z (leeway 30 s)");
    return {
        {.name = "exp 30 s ago less 1 ms",
         .set = "pem",
         .token = at_t0("exp"),
         .at = 29'999ms,
         .expected = ok_exp_t0},
        {.name = "exp 30 s ago",
         .set = "pem",
         .token = at_t0("exp"),
         .at = 30s,
         .expected = expired},
        {.name = "exp an hour ago",
         .set = "pem",
         .token = {.alg = "ES256",
                   .key = "ec256.pem",
                   .claims = R"({"exp": 1799996400, "iat": 1799990000, "nbf": null})"},
         .expected =
             fails(jwt_check::expired, "token expired at 2027-01-15T07:00:00.000Z (leeway 30 s)")},
        {.name = "exp without leeway, 1 ms before",
         .set = "no-leeway",
         .token = at_t0("exp"),
         .at = -1ms,
         .expected = ok_exp_t0},
        {.name = "exp without leeway, at exp",
         .set = "no-leeway",
         .token = at_t0("exp"),
         .expected = fails(jwt_check::expired, "token expired at 2027-01-15T08:00:00.000Z")},
        {.name = "exp with a fraction",
         .set = "no-leeway",
         .token = {.alg = "HS256", .key = "secret.txt", .claims = R"({"exp": 1800000000.5})"},
         .at = 499ms,
         .expected = expect_ok{.exp = std::nullopt}},
        {.name = "exp with a fraction, past",
         .set = "no-leeway",
         .token = {.alg = "HS256", .key = "secret.txt", .claims = R"({"exp": 1800000000.5})"},
         .at = 500ms,
         .expected = fails(jwt_check::expired, "token expired at 2027-01-15T08:00:00.500Z")},
        {.name = "nbf in 30 s", .set = "pem", .token = at_t0("nbf"), .at = -30s},
        {.name = "nbf in 30 s and 1 ms",
         .set = "pem",
         .token = at_t0("nbf"),
         .at = -30'001ms,
         .expected = early},
        {.name = "nbf an hour ahead",
         .set = "pem",
         .token = {.alg = "RS256",
                   .key = "rsa.pem",
                   .claims = R"({"nbf": 1800003600, "exp": 1800007200})"},
         .expected = fails(jwt_check::not_yet_valid,
                           "token not valid before 2027-01-15T09:00:00.000Z (leeway 30 s)")},
        {.name = "iat in 30 s", .set = "pem", .token = at_t0("iat"), .at = -30s},
        {.name = "iat in 30 s and 1 ms",
         .set = "pem",
         .token = at_t0("iat"),
         .at = -30'001ms,
         .expected = future},
        {.name = "no exp",
         .set = "pem",
         .token = {.alg = "HS256", .key = "secret.txt", .claims = R"({"exp": null})"},
         .expected = fails(jwt_check::expired, "token has no \"exp\" claim")},
        {.name = "no exp where exp is optional",
         .set = "exp-optional",
         .token = {.alg = "HS256", .key = "secret.txt", .claims = R"({"exp": null})"},
         .expected = expect_ok{.exp = std::nullopt}},
        {.name = "exp a string",
         .set = "pem",
         .token = {.alg = "HS256", .key = "secret.txt", .claims = R"({"exp": "1800003600"})"},
         .expected =
             fails(jwt_check::claims, "claim \"exp\" must be a number (seconds since 1970)")},
        {.name = "exp negative",
         .set = "pem",
         .token = {.alg = "HS256", .key = "secret.txt", .claims = R"({"exp": -1})"},
         .expected = fails(jwt_check::claims, "claim \"exp\" is out of range")},
        {.name = "nbf past year 9999",
         .set = "pem",
         .token = {.alg = "HS256", .key = "secret.txt", .claims = R"({"nbf": 1e300})"},
         .expected = fails(jwt_check::claims, "claim \"nbf\" is out of range")},
    };
}

/// Issuer, audience, subject, tenant, user and scopes.
std::vector<jwt_case> claims()
{
    auto const hs = [](std::string claims) {
        return mint_spec{.alg = "HS256", .key = "secret.txt", .claims = std::move(claims)};
    };
    auto const good = R"("iss": "https://issuer.example", "aud": "jobwatch")";
    using enum auth_scope;
    return {
        {.name = "iss and aud as configured",
         .set = "strict",
         .token = hs(std::string("{") + good + "}")},
        {.name = "aud an array holding ours",
         .set = "strict",
         .token = hs(R"({"iss": "https://issuer.example", "aud": ["other", "jobwatch"]})")},
        {.name = "wrong iss",
         .set = "strict",
         .token = hs(R"({"iss": "https://evil.example", "aud": "jobwatch"})"),
         .expected = fails(jwt_check::issuer, "issuer \"https://evil.example\" is not accepted")},
        {.name = "no iss",
         .set = "strict",
         .token = hs(R"({"aud": "jobwatch"})"),
         .expected = fails(jwt_check::issuer, "token has no \"iss\" claim")},
        {.name = "iss not a string",
         .set = "strict",
         .token = hs(R"({"iss": 1, "aud": "jobwatch"})"),
         .expected = fails(jwt_check::issuer, "claim \"iss\" must be a string")},
        {.name = "wrong aud",
         .set = "strict",
         .token = hs(R"({"iss": "https://issuer.example", "aud": "billing"})"),
         .expected = fails(jwt_check::audience, "audience \"billing\" is not accepted")},
        {.name = "aud an array without ours",
         .set = "strict",
         .token = hs(R"({"iss": "https://issuer.example", "aud": ["billing", "mail"]})"),
         .expected = fails(jwt_check::audience,
                           "audiences \"billing\", \"mail\" do not include an accepted one")},
        {.name = "aud an empty array",
         .set = "strict",
         .token = hs(R"({"iss": "https://issuer.example", "aud": []})"),
         .expected = fails(jwt_check::audience, "claim \"aud\" is an empty array")},
        {.name = "aud a number",
         .set = "strict",
         .token = hs(R"({"iss": "https://issuer.example", "aud": 3})"),
         .expected =
             fails(jwt_check::audience, "claim \"aud\" must be a string or an array of strings")},
        {.name = "no aud",
         .set = "strict",
         .token = hs(R"({"iss": "https://issuer.example"})"),
         .expected = fails(jwt_check::audience, "token has no \"aud\" claim")},
        {.name = "aud where none is configured",
         .set = "pem",
         .token = hs(R"({"aud": "jobwatch"})"),
         .expected = fails(jwt_check::audience,
                           "token names an audience (\"aud\") but this server expects none")},
        {.name = "iss where none is configured is not checked",
         .set = "pem",
         .token = hs(R"({"iss": "anyone"})")},
        {.name = "no sub",
         .set = "pem",
         .token = hs(R"({"sub": null})"),
         .expected = fails(jwt_check::claims, "token has no \"sub\" claim")},
        {.name = "sub a number",
         .set = "pem",
         .token = hs(R"({"sub": 12})"),
         .expected = fails(jwt_check::claims, "claim \"sub\" must be a string")},
        {.name = "sub empty",
         .set = "pem",
         .token = hs(R"({"sub": ""})"),
         .expected = fails(jwt_check::claims, "claim \"sub\" must be at least 1 characters")},
        {.name = "tenant a number",
         .set = "pem",
         .token = hs(R"({"tenant_id": 42})"),
         .expected = fails(jwt_check::claims, "tenant claim \"tenant_id\" must be a string")},
        {.name = "tenant an array",
         .set = "pem",
         .token = hs(R"({"tenant_id": ["acme"]})"),
         .expected = fails(jwt_check::claims, "tenant claim \"tenant_id\" must be a string")},
        {.name = "tenant null",
         .set = "pem",
         .token = hs("{}"),
         .alter = resign_hs256([](std::string const& payload) {
             auto c = boost::json::parse(payload).as_object();
             c["tenant_id"] = nullptr;
             return boost::json::serialize(c);
         }),
         .expected = fails(jwt_check::claims, "tenant claim \"tenant_id\" must be a string")},
        {.name = "tenant not an id",
         .set = "pem",
         .token = hs(R"({"tenant_id": "acme corp"})"),
         .expected =
             fails(jwt_check::claims,
                   "tenant claim \"tenant_id\" must match pattern ^[A-Za-z0-9._:@-]+$(?!\\n)")},
        {.name = "no tenant: all tenants",
         .set = "pem",
         .token = hs(R"({"tenant_id": null})"),
         .expected = expect_ok{.tenant = std::nullopt}},
        {.name = "tenant from another claim",
         .set = "custom",
         .token = hs(R"({"org": "globex", "uid": "u-7"})"),
         .expected = expect_ok{.tenant = "globex", .scopes = {read, publish}, .user = "u-7"}},
        {.name = "user",
         .set = "pem",
         .token = hs(R"({"user_id": "bob@example.com"})"),
         .expected = expect_ok{.user = "bob@example.com"}},
        {.name = "user a number",
         .set = "pem",
         .token = hs(R"({"user_id": 5})"),
         .expected = fails(jwt_check::claims, "user claim \"user_id\" must be a string")},
        {.name = "user not an id",
         .set = "pem",
         .token = hs(R"({"user_id": "bob smith"})"),
         .expected = fails(jwt_check::claims,
                           "user claim \"user_id\" must match pattern ^[A-Za-z0-9._:@-]+$(?!\\n)")},
        {.name = "scope string",
         .set = "pem",
         .token = hs(R"({"scope": "publish read"})"),
         .expected = expect_ok{.scopes = {read, publish}}},
        {.name = "scope string with unknown words",
         .set = "pem",
         .token = hs(R"({"scope": "openid  admin profile"})"),
         .expected = expect_ok{.scopes = {admin}}},
        {.name = "scope string of unknown words only: no scopes",
         .set = "pem",
         .token = hs(R"({"scope": "openid profile"})"),
         .expected = expect_ok{.scopes = {}}},
        {.name = "scopes array",
         .set = "pem",
         .token = hs(R"({"scopes": ["admin", "read", "admin"]})"),
         .expected = expect_ok{.scopes = {read, admin}}},
        {.name = "scopes array item of two words counts for none",
         .set = "pem",
         .token = hs(R"({"scopes": ["read publish"]})"),
         .expected = expect_ok{.scopes = {}}},
        {.name = "scope and scopes together",
         .set = "pem",
         .token = hs(R"({"scope": "publish", "scopes": ["admin"]})"),
         .expected = expect_ok{.scopes = {publish, admin}}},
        {.name = "no scopes: the default",
         .set = "pem",
         .token = hs("{}"),
         .expected = expect_ok{.scopes = {read}}},
        {.name = "no scopes: a configured default",
         .set = "custom",
         .token = hs(R"({"org": "acme"})"),
         .expected = expect_ok{.scopes = {read, publish}}},
        {.name = "scope an array",
         .set = "pem",
         .token = hs(R"({"scope": ["read"]})"),
         .expected = fails(jwt_check::claims,
                           "claim \"scope\" must be a string of space-separated scopes")},
        {.name = "scopes a string",
         .set = "pem",
         .token = hs(R"({"scopes": "read"})"),
         .expected = fails(jwt_check::claims, "claim \"scopes\" must be an array of strings")},
        {.name = "scopes with a number",
         .set = "pem",
         .token = hs(R"({"scopes": ["read", 1]})"),
         .expected = fails(jwt_check::claims, "claim \"scopes\" must be an array of strings")},
    };
}

// --- running a table ------------------------------------------------------------

std::chrono::system_clock::time_point at(std::chrono::milliseconds offset)
{
    return std::chrono::system_clock::time_point{std::chrono::seconds{t0}} + offset;
}

void run_table(std::vector<jwt_case> const& rows)
{
    auto const sets = key_sets();
    std::vector<mint_spec> specs;
    for (auto const& r : rows)
        specs.push_back(r.token);
    auto const tokens = key_material::get().mint(specs);
    ASSERT_EQ(tokens.size(), rows.size());
    for (std::size_t i = 0; i < rows.size(); ++i) {
        auto const& row = rows[i];
        SCOPED_TRACE("row \"" + row.name + "\"");
        auto const token = row.alter ? row.alter(tokens[i]) : tokens[i];
        auto const result = auth::verify(*sets.at(row.set), token, at(row.at));
        if (auto const* want = std::get_if<jwt_failure>(&row.expected)) {
            auto const* got = std::get_if<jwt_failure>(&result);
            ASSERT_NE(got, nullptr) << "the token was accepted";
            EXPECT_EQ(got->detail, want->detail);
            EXPECT_EQ(to_string(got->check), to_string(want->check));
            // Never the token, nor its signature, in a message.
            auto const signature = parts::of(token).signature;
            if (signature.size() > 8) {
                EXPECT_EQ(got->detail.find(signature), std::string::npos);
            }
            continue;
        }
        auto const& want = std::get<expect_ok>(row.expected);
        auto const* got = std::get_if<auth::jwt_claims>(&result);
        ASSERT_NE(got, nullptr) << "refused: " << std::get<jwt_failure>(result).detail;
        EXPECT_EQ(got->subject, want.subject);
        EXPECT_EQ(got->tenant, want.tenant);
        EXPECT_EQ(got->user, want.user);
        EXPECT_EQ(got->scopes, want.scopes);
        EXPECT_EQ(auth::to_principal(*got), (principal{.subject = want.subject,
                                                       .tenant_id = want.tenant,
                                                       .user_id = want.user,
                                                       .scopes = want.scopes}));
        if (want.exp) {
            EXPECT_EQ(got->expires_at, time_point{std::chrono::seconds{*want.exp}});
        }
        EXPECT_EQ(to_string(got->algorithm), row.token.alg);
    }
}

TEST(JwtTest, AcceptsAValidTokenOfEveryAlgorithmFromPemAndJwks)
{
    run_table(valid_tokens());
}

TEST(JwtTest, RefusesEachAttackNamingTheFailedCheck)
{
    run_table(attacks());
}

TEST(JwtTest, HonoursExpNbfAndIatWithTheLeeway)
{
    run_table(time_claims());
}

TEST(JwtTest, ReadsIssuerAudienceSubjectTenantUserAndScopes)
{
    run_table(claims());
}

TEST(JwtTest, TablesCoverEveryCheck)
{
    std::set<std::string_view> seen;
    for (auto const& table : {valid_tokens(), attacks(), time_claims(), claims()})
        for (auto const& row : table)
            if (auto const* f = std::get_if<jwt_failure>(&row.expected))
                seen.insert(to_string(f->check));
    for (std::size_t i = 0; i < auth::jwt_check_count; ++i)
        EXPECT_TRUE(seen.contains(to_string(static_cast<jwt_check>(i))))
            << "no row fails check " << to_string(static_cast<jwt_check>(i));
}

TEST(JwtTest, KeepsTheKidAndGivesThePrincipal)
{
    auto const& m = key_material::get();
    auto const keys = key_material::load({.jwks_file = m.path("jwks.json")});
    auto const tokens = m.mint({{.alg = "ES384",
                                 .key = "ec384.pem",
                                 .claims = R"({"scope": "read publish"})",
                                 .header = kid_header("ec384")}});
    auto const result = auth::verify(*keys, tokens[0], at(0ms));
    auto const* c = std::get_if<auth::jwt_claims>(&result);
    ASSERT_NE(c, nullptr) << std::get<jwt_failure>(result).detail;
    EXPECT_EQ(c->kid, "ec384");
    EXPECT_EQ(c->algorithm, auth::jws_alg::es384);
    EXPECT_EQ(auth::to_principal(*c),
              (principal{.subject = "alice",
                         .tenant_id = "acme",
                         .scopes = {auth_scope::read, auth_scope::publish}}));
}

TEST(JwtTest, VerifiesFromManyThreadsAtOnceAndLeavesNoOpensslErrors)
{
    auto const& m = key_material::get();
    auto const keys = key_sets().at("pem");
    auto const good = m.mint({{.alg = "HS256", .key = "secret.txt"},
                              {.alg = "RS256", .key = "rsa.pem"},
                              {.alg = "ES256", .key = "ec256.pem"},
                              {.alg = "PS256", .key = "rsa.pem"}});
    // Refused deep inside OpenSSL: a well-formed signature of another key.
    auto const bad = m.mint({{.alg = "ES256", .key = "ec256.pem", .claims = R"({"sub": "x"})"}})[0];
    auto const forged = parts::of(good[2]).header + "." + parts::of(good[2]).payload + "." +
                        parts::of(bad).signature;
    constexpr int threads = 4, rounds = 25;
    std::atomic<int> accepted{0}, refused{0}, leftover_errors{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
        pool.emplace_back([&] {
            for (int i = 0; i < rounds; ++i) {
                for (auto const& token : good)
                    accepted += std::holds_alternative<auth::jwt_claims>(
                        auth::verify(*keys, token, at(0ms)));
                refused +=
                    std::holds_alternative<jwt_failure>(auth::verify(*keys, forged, at(0ms)));
                leftover_errors += ERR_peek_error() != 0;
            }
        });
    for (auto& t : pool)
        t.join();
    EXPECT_EQ(accepted, threads * rounds * static_cast<int>(good.size()));
    EXPECT_EQ(refused, threads * rounds);
    EXPECT_EQ(leftover_errors, 0);
}

// --- the use shown in docs/security.md ---------------------------------------------

// [snippet:jwt-load]
std::shared_ptr<auth::key_set const> load_keys(std::string const& jwks_file)
{
    auto loaded = auth::key_set::load(
        {.jwks_file = jwks_file, .issuer = "https://issuer.example", .audience = "jobwatch"});
    if (auto const* error = std::get_if<std::string>(&loaded))
        throw std::runtime_error(*error);  // names the setting, the file and what is wrong
    return std::get<0>(std::move(loaded));
}
// [end:jwt-load]

// [snippet:jwt-verify]
/// Who a bearer token stands for, or the detail of a 401 problem.
std::variant<principal, std::string> authenticate(auth::key_set const& keys, std::string_view token)
{
    auto const result = auth::verify(keys, token, std::chrono::system_clock::now());
    if (auto const* failure = std::get_if<auth::jwt_failure>(&result))
        return failure->detail;  // count the refusal under to_string(failure->check)
    return auth::to_principal(std::get<auth::jwt_claims>(result));
}
// [end:jwt-verify]

// [snippet:jwt-reload]
/// Takes the keys as the files are now (on SIGHUP); on error keeps the current ones and says why.
std::optional<std::string> reload(std::atomic<std::shared_ptr<auth::key_set const>>& keys)
{
    auto loaded = auth::key_set::load(keys.load()->settings());
    if (auto const* error = std::get_if<std::string>(&loaded))
        return *error;
    keys.store(std::get<0>(std::move(loaded)));
    return std::nullopt;
}
// [end:jwt-reload]

TEST(JwtTest, LoadsVerifiesAndReloadsAsTheDocsShow)
{
    auto const& m = key_material::get();
    auto const jwks_file = m.path("rotating.json");
    auto const rsa = boost::json::parse(test::read_file(m.path("jwks.json"))).at("keys").at(0);
    auto const ec = boost::json::parse(test::read_file(m.path("jwks.json"))).at("keys").at(2);
    test::write_file(
        jwks_file, boost::json::serialize(boost::json::object{{"keys", boost::json::array{rsa}}}));

    // Tokens valid now, since authenticate() asks the clock.
    auto const now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    auto const claims =
        boost::json::serialize(boost::json::object{{"iss", "https://issuer.example"},
                                                   {"aud", "jobwatch"},
                                                   {"iat", now},
                                                   {"nbf", now},
                                                   {"exp", now + 600}});
    auto const tokens = m.mint(
        {{.alg = "RS256", .key = "rsa.pem", .claims = claims, .header = kid_header("rsa")},
         {.alg = "ES256", .key = "ec256.pem", .claims = claims, .header = kid_header("ec256")}});

    std::atomic<std::shared_ptr<auth::key_set const>> keys{load_keys(jwks_file)};
    auto const alice =
        principal{.subject = "alice", .tenant_id = "acme", .scopes = {auth_scope::read}};
    EXPECT_EQ(authenticate(*keys.load(), tokens[0]), (std::variant<principal, std::string>{alice}));
    EXPECT_EQ(authenticate(*keys.load(), tokens[1]),
              (std::variant<principal, std::string>{"unknown kid \"ec256\""}));

    // Rotation: the file now holds the EC key only.
    auto const before = keys.load();
    test::write_file(jwks_file,
                     boost::json::serialize(boost::json::object{{"keys", boost::json::array{ec}}}));
    EXPECT_EQ(reload(keys), std::nullopt);
    EXPECT_EQ(authenticate(*keys.load(), tokens[0]),
              (std::variant<principal, std::string>{"unknown kid \"rsa\""}));
    EXPECT_EQ(authenticate(*keys.load(), tokens[1]), (std::variant<principal, std::string>{alice}));
    // A verification that took the old set before the swap still finishes with it.
    EXPECT_EQ(authenticate(*before, tokens[0]), (std::variant<principal, std::string>{alice}));

    // A broken file: the error, and the keys stay as they were.
    test::write_file(jwks_file, "{");
    auto const error = reload(keys);
    ASSERT_TRUE(error.has_value());
    EXPECT_EQ(error->substr(0, 20), "auth.jwt.jwks_file \"");
    EXPECT_EQ(authenticate(*keys.load(), tokens[1]), (std::variant<principal, std::string>{alice}));
}

TEST(JwtTest, QuotesUntrustedTextShortAndEscaped)
{
    EXPECT_EQ(detail::quote_untrusted("abc"), "\"abc\"");
    EXPECT_EQ(detail::quote_untrusted("a\"b\\c"), R"("a\"b\\c")");
    EXPECT_EQ(detail::quote_untrusted("\x01\xff"), R"("\x01\xff")");
    EXPECT_EQ(detail::quote_untrusted(std::string(100, 'k')),
              "\"" + std::string(64, 'k') + "...\"");
}

}  // namespace
