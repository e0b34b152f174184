// Test that the header is self-contained.
#include <jobwatch/auth/key_set.hpp>

#include "auth/auth_test_support.hpp"

#include <jobwatch/auth/jwt.hpp>

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <functional>
#include <string>
#include <vector>

namespace {

using namespace jobwatch;
using namespace std::chrono_literals;
using test::key_material;

/// `{file}` in `pattern` replaced by `origin`.
std::string with_origin(std::string pattern, std::string const& origin)
{
    auto const at = pattern.find("{file}");
    if (at != std::string::npos)
        pattern.replace(at, 6, origin);
    return pattern;
}

/// The JWK of `kid` in the generated jwks.json, to alter.
boost::json::object jwk(std::string_view kid)
{
    auto const doc = boost::json::parse(test::read_file(key_material::get().path("jwks.json")));
    for (auto const& k : doc.at("keys").as_array())
        if (k.at("kid").as_string() == kid)
            return k.as_object();
    throw std::runtime_error("no kid " + std::string(kid));
}

/// A JWK Set holding `keys`.
std::string jwks(std::vector<boost::json::value> const& keys)
{
    boost::json::object doc;
    doc["keys"] = boost::json::array(keys.begin(), keys.end());
    return boost::json::serialize(doc);
}

/// A JWK altered by `change`.
boost::json::object altered(std::string_view kid,
                            std::function<void(boost::json::object&)> const& change)
{
    auto k = jwk(kid);
    change(k);
    return k;
}

std::string b64(std::string const& bytes)
{
    return detail::base64url_encode(bytes);
}

/// The openssl command line's public key of a new key made with `genpkey_args`.
std::string new_public_key(std::string const& genpkey_args)
{
    auto const& m = key_material::get();
    auto const priv = test::shell_quote(m.path("extra.pem"));
    key_material::openssl("genpkey " + genpkey_args + " -out " + priv);
    return key_material::openssl("pkey -in " + priv + " -pubout");
}

// --- files that do not load ---------------------------------------------------

enum class file_kind
{
    secret,
    pem,
    jwks
};

/// A key file with `content` that must be refused with `expected` (`{file}`: the setting and path).
struct bad_file
{
    std::string name;
    file_kind kind = file_kind::jwks;
    std::function<std::string()> content;
    std::string expected;
    bool prefix_only = false;  ///< the rest is OpenSSL's own text
};

std::vector<bad_file> bad_files()
{
    auto const& m = key_material::get();
    auto text = [](std::string s) { return [s] { return s; }; };
    auto file = [&m](char const* name) {
        return [&m, name] { return test::read_file(m.path(name)); };
    };
    auto set_of = [](std::function<boost::json::object()> key) {
        return [key] { return jwks({key()}); };
    };
    using enum file_kind;
    return {
        {"short secret", secret, text("0123456789\n"),
         "{file}: an HMAC secret of 10 bytes; at least 32 are required (RFC 7518 section 3.2)"},
        {"RSA of 1024 bits", pem, file("rsa1024.pub.pem"),
         "{file} block 1: an RSA key of 1024 bits; at least 2048 are required (RFC 7518 section "
         "3.3)"},
        {"second block of 1024 bits", pem,
         [&m] {
             return test::read_file(m.path("rsa.pub.pem")) +
                    test::read_file(m.path("rsa1024.pub.pem"));
         },
         "{file} block 2: an RSA key of 1024 bits; at least 2048 are required (RFC 7518 section "
         "3.3)"},
        {"private key", pem, file("rsa.pem"),
         "{file} block 1 is a private key; give the public key instead (openssl pkey -in "
         "private.pem -pubout)"},
        {"no PEM", pem, text("hello\n"), "{file}: no PEM block (-----BEGIN PUBLIC KEY-----)"},
        {"PEM without END", pem, text("-----BEGIN PUBLIC KEY-----\nAAAA\n"),
         "{file} block 1 (PUBLIC KEY): no END line"},
        {"PEM of garbage", pem,
         text("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"),
         "{file} block 1 (PUBLIC KEY) cannot be read: ", true},
        {"PEM of another kind", pem,
         text("-----BEGIN DH PARAMETERS-----\nAAAA\n-----END DH PARAMETERS-----\n"),
         "{file} block 1 is \"DH PARAMETERS\"; expected PUBLIC KEY or CERTIFICATE"},
        {"X25519 key", pem, [] { return new_public_key("-algorithm X25519"); },
         "{file} block 1: a key of type X25519; RSA, EC, Ed25519 and Ed448 keys are supported"},
        {"EC key on secp256k1", pem,
         [] { return new_public_key("-algorithm EC -pkeyopt ec_paramgen_curve:secp256k1"); },
         "{file} block 1: an EC key on curve secp256k1; ES256/384/512 need P-256, P-384 or P-521"},
        {"not JSON", jwks, text("{keys"), "{file}: not JSON (", true},
        {"an array", jwks, text("[]"), "{file}: not a JWK Set (a JSON object with \"keys\")"},
        {"keys not an array", jwks, text(R"({"keys": 1})"),
         "{file}: not a JWK Set (\"keys\" must be an array)"},
        {"key not an object", jwks, text(R"({"keys": [1]})"), "{file} key 1 is not a JSON object"},
        {"no kty", jwks, text(R"({"keys": [{"kid": "a"}]})"),
         "{file} key 1 (kid \"a\"): no \"kty\""},
        {"kid a number", jwks, text(R"({"keys": [{"kid": 1, "kty": "oct"}]})"),
         "{file} key 1: \"kid\" must be a string"},
        {"key_ops not an array", jwks,
         set_of([] { return altered("rsa", [](auto& k) { k["key_ops"] = "verify"; }); }),
         "{file} key 1 (kid \"rsa\"): \"key_ops\" must be an array"},
        {"private RSA member d", jwks,
         set_of([] { return altered("rsa", [](auto& k) { k["d"] = "AQAB"; }); }),
         "{file} key 1 (kid \"rsa\"): holds a private key (\"d\"); a JWK Set for verification "
         "holds public keys only"},
        {"alg none", jwks,
         set_of([] { return altered("rsa", [](auto& k) { k["alg"] = "none"; }); }),
         "{file} key 1 (kid \"rsa\"): alg \"none\" is never accepted"},
        {"ES alg on an RSA key", jwks,
         set_of([] { return altered("rsa", [](auto& k) { k["alg"] = "ES256"; }); }),
         "{file} key 1 (kid \"rsa\"): alg ES256 does not fit an RSA 2048 key"},
        {"HS alg on an RSA key", jwks,
         set_of([] { return altered("rsa", [](auto& k) { k["alg"] = "HS256"; }); }),
         "{file} key 1 (kid \"rsa\"): alg HS256 does not fit an RSA 2048 key"},
        {"RS alg on an EC key", jwks,
         set_of([] { return altered("ec256", [](auto& k) { k["alg"] = "RS256"; }); }),
         "{file} key 1 (kid \"ec256\"): alg RS256 does not fit an EC P-256 key"},
        {"ES384 on a P-256 key", jwks,
         set_of([] { return altered("ec256", [](auto& k) { k["alg"] = "ES384"; }); }),
         "{file} key 1 (kid \"ec256\"): alg ES384 does not fit an EC P-256 key"},
        {"RS alg on an HMAC secret", jwks,
         set_of([] { return altered("hs", [](auto& k) { k["alg"] = "RS256"; }); }),
         "{file} key 1 (kid \"hs\"): alg RS256 does not fit an HMAC secret"},
        {"EC point off the curve", jwks, set_of([] {
             return altered("ec256", [](auto& k) {
                 auto y = *detail::base64url_decode(k["y"].as_string());
                 y.back() = static_cast<char>(y.back() ^ 1);
                 k["y"] = b64(y);
             });
         }),
         "{file} key 1 (kid \"ec256\"): not a valid ", true},
        {"EC coordinate too long", jwks, set_of([] {
             return altered("ec256", [](auto& k) { k["x"] = b64(std::string(33, '\x01')); });
         }),
         "{file} key 1 (kid \"ec256\"): \"x\" and \"y\" of a P-256 key have 32 bytes each"},
        {"EC curve P-192", jwks,
         set_of([] { return altered("ec256", [](auto& k) { k["crv"] = "P-192"; }); }),
         "{file} key 1 (kid \"ec256\"): EC curve \"P-192\" is not supported (P-256, P-384, P-521)"},
        {"Ed25519 x too short", jwks, set_of([] {
             return altered("ed25519", [](auto& k) { k["x"] = b64(std::string(31, '\x01')); });
         }),
         "{file} key 1 (kid \"ed25519\"): \"x\" of an Ed25519 key has 32 bytes"},
        {"OKP curve unknown", jwks,
         set_of([] { return altered("ed25519", [](auto& k) { k["crv"] = "Ed1"; }); }),
         "{file} key 1 (kid \"ed25519\"): OKP curve \"Ed1\" is not supported (Ed25519, Ed448)"},
        {"oct key too short", jwks,
         set_of([] { return altered("hs", [](auto& k) { k["k"] = b64(std::string(16, 'k')); }); }),
         "{file} key 1 (kid \"hs\"): an HMAC secret of 16 bytes; at least 32 are required (RFC "
         "7518 section 3.2)"},
        {"oct key too short for its alg", jwks, set_of([] {
             return altered("hs", [](auto& k) {
                 k["k"] = b64(std::string(40, 'k'));
                 k["alg"] = "HS384";
             });
         }),
         "{file} key 1 (kid \"hs\"): alg HS384 needs a secret of at least 48 bytes; this one has "
         "40"},
        {"RSA n not base64url", jwks,
         set_of([] { return altered("rsa", [](auto& k) { k["n"] = "!!"; }); }),
         "{file} key 1 (kid \"rsa\"): \"n\" is not base64url"},
        {"RSA without e", jwks,
         set_of([] { return altered("rsa", [](auto& k) { k.erase("e"); }); }),
         "{file} key 1 (kid \"rsa\"): no \"e\""},
        {"RSA modulus of 1024 bits", jwks, set_of([] {
             return altered("rsa", [](auto& k) {
                 auto n = *detail::base64url_decode(k["n"].as_string());
                 k["n"] = b64(n.substr(0, 128));
             });
         }),
         "{file} key 1 (kid \"rsa\"): an RSA key of 1024 bits; at least 2048 are required (RFC "
         "7518 section 3.3)"},
        {"only an unknown kty", jwks, text(R"({"keys": [{"kid": "q", "kty": "XYZ"}]})"),
         "auth.jwt: no usable key in the configured files; {file} key 1 (kid \"q\") skipped: kty "
         "\"XYZ\" is not supported"},
    };
}

TEST(KeySetTest, RefusesEachBadKeyFileNamingItAndTheProblem)
{
    auto const& m = key_material::get();
    for (auto const& row : bad_files()) {
        SCOPED_TRACE("row \"" + row.name + "\"");
        auto const path = m.path("bad-key");
        test::write_file(path, row.content());
        auth::jwt_settings s;
        std::string setting;
        switch (row.kind) {
        case file_kind::secret:
            s.secret_file = path;
            setting = "secret_file";
            break;
        case file_kind::pem:
            s.public_key_file = path;
            setting = "public_key_file";
            break;
        case file_kind::jwks:
            s.jwks_file = path;
            setting = "jwks_file";
            break;
        }
        auto const r = auth::key_set::load(s);
        auto const* err = std::get_if<std::string>(&r);
        ASSERT_NE(err, nullptr) << "the file loaded";
        auto const expected =
            with_origin(row.expected, "auth.jwt." + setting + " \"" + path + "\"");
        if (row.prefix_only) {
            EXPECT_EQ(err->substr(0, expected.size()), expected);
            EXPECT_GT(err->size(), expected.size());
        } else {
            EXPECT_EQ(*err, expected);
        }
    }
}

TEST(KeySetTest, RefusesSettingsThatCannotWork)
{
    auto const& m = key_material::get();
    auto const secret = m.path("secret.txt");
    auto const missing = m.path("missing");
    struct row
    {
        std::string name;
        auth::jwt_settings settings;
        std::string expected;
    };
    row const rows[] = {
        {"no key files", {}, "auth.jwt: no keys; set secret_file, public_key_file or jwks_file"},
        {"no tenant claim",
         {.secret_file = secret, .tenant_claim = ""},
         "auth.jwt.tenant_claim must not be empty"},
        {"negative leeway",
         {.secret_file = secret, .leeway = -1s},
         "auth.jwt.leeway_s must not be negative"},
        {"alg none allowed",
         {.secret_file = secret, .algorithms = {"RS256", "none"}},
         "auth.jwt.algorithms: \"none\" is never accepted"},
        {"unknown alg allowed",
         {.secret_file = secret, .algorithms = {"HS1"}},
         "auth.jwt.algorithms: \"HS1\" is not a supported algorithm"},
        {"missing file",
         {.secret_file = missing},
         "cannot read auth.jwt.secret_file \"" + missing + "\": No such file or directory"},
        {"no key left by the algorithms",
         {.secret_file = secret, .algorithms = {"ES256"}},
         "auth.jwt: no usable key in the configured files; auth.jwt.secret_file \"" + secret +
             "\" skipped: none of its algorithms is in auth.jwt.algorithms"},
        {"no tokens fit",
         {.secret_file = secret, .max_token_bytes = 0},
         "auth.jwt.max_token_bytes must be positive"},
    };
    for (auto const& r : rows) {
        SCOPED_TRACE("row \"" + r.name + "\"");
        auto const result = auth::key_set::load(r.settings);
        auto const* err = std::get_if<std::string>(&result);
        ASSERT_NE(err, nullptr) << "the settings loaded";
        EXPECT_EQ(*err, r.expected);
    }
}

// --- what loads, and what each key may verify -------------------------------------

TEST(KeySetTest, LoadsEveryKeyOfAPemFileWithTheAlgorithmsOfItsKind)
{
    auto const& m = key_material::get();
    auto const keys = key_material::load({.public_key_file = m.path("public.pem")});
    auto const origin = "auth.jwt.public_key_file \"" + m.path("public.pem") + "\"";
    EXPECT_EQ(keys->size(), 6u);
    EXPECT_TRUE(keys->warnings().empty());
    EXPECT_EQ(keys->describe(), "auth mode jwt: 6 keys; " + origin +
                                    " block 1: RSA 2048 for RS256/RS384/RS512/PS256/PS384/PS512; " +
                                    origin + " block 2: EC P-256 for ES256; " + origin +
                                    " block 3: EC P-384 for ES384; " + origin +
                                    " block 4: EC P-521 for ES512; " + origin +
                                    " block 5: Ed25519 for EdDSA; " + origin +
                                    " block 6: Ed448 for EdDSA; leeway 30 s");
}

TEST(KeySetTest, LoadsAJwksSkippingKeysNotForSignatures)
{
    auto const& m = key_material::get();
    auto const keys =
        key_material::load({.jwks_file = m.path("jwks.json"), .issuer = "i", .audience = "a"});
    auto const origin = "auth.jwt.jwks_file \"" + m.path("jwks.json") + "\"";
    EXPECT_EQ(keys->size(), 8u);
    EXPECT_EQ(keys->warnings(),
              std::vector<std::string>{
                  origin + " key 9 (kid \"enc\") skipped: its use is \"enc\", not \"sig\""});
    EXPECT_EQ(keys->describe(),
              "auth mode jwt: 8 keys; " + origin +
                  " key 1 (kid \"rsa\"): RSA 2048 for RS256/RS384/RS512/PS256/PS384/PS512; " +
                  origin + " key 2 (kid \"rsa-ps\"): RSA 2048 for PS256; " + origin +
                  " key 3 (kid \"ec256\"): EC P-256 for ES256; " + origin +
                  " key 4 (kid \"ec384\"): EC P-384 for ES384; " + origin +
                  " key 5 (kid \"ec521\"): EC P-521 for ES512; " + origin +
                  " key 6 (kid \"ed25519\"): Ed25519 for EdDSA; " + origin +
                  " key 7 (kid \"ed448\"): Ed448 for EdDSA; " + origin +
                  " key 8 (kid \"hs\"): HMAC secret of 64 bytes for HS256/HS384/HS512; issuer "
                  "\"i\"; audience \"a\"; "
                  "leeway 30 s");
}

TEST(KeySetTest, SkipsJwksKeysItMustNotOrCannotUse)
{
    auto const& m = key_material::get();
    auto const path = m.path("skips.json");
    test::write_file(
        path, jwks({altered("rsa", [](auto& k) { k["key_ops"] = boost::json::array{"sign"}; }),
                    altered("ec256", [](auto& k) { k["alg"] = "ES256K"; }),
                    boost::json::object{
                        {"kty", "OKP"}, {"crv", "X25519"}, {"x", b64(std::string(32, 'x'))}},
                    boost::json::object{{"kty", "EC-HSM"}}, altered("ed25519", [](auto& k) {
                        k["key_ops"] = boost::json::array{"sign", "verify"};
                    })}));
    auto const keys = key_material::load({.jwks_file = path});
    auto const origin = "auth.jwt.jwks_file \"" + path + "\"";
    EXPECT_EQ(keys->size(), 1u);
    EXPECT_EQ(keys->warnings(),
              (std::vector<std::string>{
                  origin + " key 1 (kid \"rsa\") skipped: its key_ops do not include \"verify\"",
                  origin + " key 2 (kid \"ec256\") skipped: alg \"ES256K\" is not a supported "
                           "signature algorithm",
                  origin + " key 3 skipped: curve X25519 is for key agreement",
                  origin + " key 4 skipped: kty \"EC-HSM\" is not supported",
              }));
}

TEST(KeySetTest, ReadsASingleJwkAsASetOfOne)
{
    auto const& m = key_material::get();
    auto const path = m.path("single.json");
    test::write_file(path, boost::json::serialize(jwk("ec384")));
    auto const keys = key_material::load({.jwks_file = path});
    EXPECT_EQ(keys->size(), 1u);
    EXPECT_NE(keys->describe().find("key 1 (kid \"ec384\"): EC P-384 for ES384"),
              std::string::npos);
}

TEST(KeySetTest, GivesASecretTheHmacAlgorithmsItIsLongEnoughFor)
{
    auto const& m = key_material::get();
    struct row
    {
        std::string content;
        std::string kind;
    };
    row const rows[] = {
        {std::string(32, 's'), "HMAC secret of 32 bytes for HS256"},
        {std::string(40, 's') + "\r\n", "HMAC secret of 40 bytes for HS256"},
        {std::string(48, 's') + "\n", "HMAC secret of 48 bytes for HS256/HS384"},
        {std::string(64, 's'), "HMAC secret of 64 bytes for HS256/HS384/HS512"},
    };
    for (auto const& r : rows) {
        SCOPED_TRACE(r.kind);
        auto const path = m.path("secret-row");
        test::write_file(path, r.content);
        auto const keys = key_material::load({.secret_file = path});
        EXPECT_EQ(keys->describe(), "auth mode jwt: 1 key; auth.jwt.secret_file \"" + path +
                                        "\": " + r.kind + "; leeway 30 s");
    }
}

TEST(KeySetTest, NarrowsEveryKeyToTheConfiguredAlgorithms)
{
    auto const& m = key_material::get();
    auto const keys = key_material::load(
        {.public_key_file = m.path("public.pem"), .algorithms = {"ES256", "EdDSA"}});
    EXPECT_EQ(keys->size(), 3u);
    EXPECT_EQ(keys->warnings().size(), 3u);
}

TEST(KeySetTest, TakesThePublicKeyOfACertificate)
{
    auto const& m = key_material::get();
    auto const cert = m.path("cert.pem");
    key_material::openssl("req -x509 -new -key " + test::shell_quote(m.path("ec256.pem")) +
                          " -subj /CN=jobwatch-test -days 1 -out " + test::shell_quote(cert));
    auto const keys = key_material::load({.public_key_file = cert});
    EXPECT_NE(keys->describe().find("block 1: EC P-256 for ES256"), std::string::npos)
        << keys->describe();
    auto const token = m.mint({{.alg = "ES256", .key = "ec256.pem"}});
    auto const r = auth::verify(
        *keys, token[0], std::chrono::system_clock::time_point{std::chrono::seconds{test::t0}});
    EXPECT_TRUE(std::holds_alternative<auth::jwt_claims>(r))
        << std::get<auth::jwt_failure>(r).detail;
}

TEST(KeySetTest, AcceptsEcCoordinatesWithoutTheirLeadingZeros)
{
    // Some JWK writers (PyJWT before 2.8) drop leading zero bytes of x and y;
    // the key is the same, so it loads and verifies. A P-521 coordinate has
    // 521 bits in 66 bytes, so its first byte is zero about half the time:
    // make keys until one has such a coordinate.
    auto const& m = key_material::get();
    auto const q = [&](char const* name) { return test::shell_quote(m.path(name)); };
    boost::json::object key;
    bool shortened = false;
    for (int attempt = 0; attempt < 40 && !shortened; ++attempt) {
        key_material::openssl("genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-521 -out " +
                              q("p521.pem"));
        key_material::openssl("pkey -in " + q("p521.pem") + " -pubout -out " + q("p521.pub.pem"));
        m.run_mint(
            {{"jwks", boost::json::array{{{"out", "p521.json"},
                                          {"keys", boost::json::array{{{"file", "p521.pub.pem"},
                                                                       {"kid", "p521"}}}}}}}});
        key = boost::json::parse(test::read_file(m.path("p521.json"))).at("keys").at(0).as_object();
        for (auto const* c : {"x", "y"}) {
            auto bytes = *detail::base64url_decode(key[c].as_string());
            auto const first = bytes.find_first_not_of('\0');
            shortened = shortened || bytes.size() - first < 66;
            key[c] = b64(bytes.substr(first));
        }
    }
    ASSERT_TRUE(shortened) << "40 keys without a leading zero byte";
    auto const path = m.path("short-coordinates.json");
    test::write_file(path, jwks({key}));
    auto const keys = key_material::load({.jwks_file = path});
    auto const token =
        m.mint({{.alg = "ES512", .key = "p521.pem", .header = R"({"kid": "p521"})"}});
    auto const r = auth::verify(
        *keys, token[0], std::chrono::system_clock::time_point{std::chrono::seconds{test::t0}});
    EXPECT_TRUE(std::holds_alternative<auth::jwt_claims>(r))
        << std::get<auth::jwt_failure>(r).detail;
}

}  // namespace
