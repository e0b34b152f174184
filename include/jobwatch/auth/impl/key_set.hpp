#ifndef JOBWATCH_AUTH_IMPL_KEY_SET_HPP
#define JOBWATCH_AUTH_IMPL_KEY_SET_HPP

#include <jobwatch/detail/base64url.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

namespace jobwatch::detail {

/// Key files larger than this are refused (a JWKS of a hundred RSA keys is ~50 KiB).
inline constexpr std::size_t max_key_file_bytes = std::size_t{1} << 20;

/// `setting "path"`, how messages name a file.
inline std::string file_origin(std::string_view setting, std::string const& path)
{
    return "auth.jwt." + std::string(setting) + " \"" + path + "\"";
}

/// Reads the whole of `path` into `out`; on failure, why.
inline std::optional<std::string> read_key_file(std::string const& path, std::string const& origin,
                                                std::string& out)
{
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
    if (!f)
        return "cannot read " + origin + ": " + std::strerror(errno);
    char buf[4096];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, f.get())) > 0) {
        out.append(buf, n);
        if (out.size() > max_key_file_bytes) {
            OPENSSL_cleanse(out.data(), out.size());
            return origin + " is larger than " + std::to_string(max_key_file_bytes) + " bytes";
        }
    }
    OPENSSL_cleanse(buf, sizeof buf);
    if (std::ferror(f.get()))
        return "cannot read " + origin + ": " + std::strerror(errno);
    return std::nullopt;
}

/// A string wiped before it is freed: secrets read from files.
struct wiped_string
{
    std::string s;
    ~wiped_string() { OPENSSL_cleanse(s.data(), s.size()); }
};

/// What a public key is and what it may verify.
struct key_kind
{
    auth::jws_alg_set algs;
    std::size_t signature_bytes = 0;
    std::string name;
};

/// The algorithms, signature length and name of `pkey`, or why it cannot be used.
inline std::variant<key_kind, std::string> classify(EVP_PKEY* pkey)
{
    if (EVP_PKEY_is_a(pkey, "RSA")) {
        int const bits = EVP_PKEY_get_bits(pkey);
        if (bits < 2048)
            return "an RSA key of " + std::to_string(bits) +
                   " bits; at least 2048 are required (RFC 7518 section 3.3)";
        auth::jws_alg_set algs =
            auth::algs_of(auth::jws_family::rsa_pkcs1) | auth::algs_of(auth::jws_family::rsa_pss);
        return key_kind{algs, static_cast<std::size_t>(EVP_PKEY_get_size(pkey)),
                        "RSA " + std::to_string(bits)};
    }
    if (EVP_PKEY_is_a(pkey, "EC")) {
        char group[64] = {};
        std::size_t len = 0;
        if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                           &len) != 1) {
            ERR_clear_error();
            return std::string("an EC key without a named curve");
        }
        struct curve
        {
            std::string_view openssl_name, nist_name;
            auth::jws_alg alg;
            std::size_t field_bytes;
        };
        constexpr curve curves[] = {{"prime256v1", "P-256", auth::jws_alg::es256, 32},
                                    {"secp384r1", "P-384", auth::jws_alg::es384, 48},
                                    {"secp521r1", "P-521", auth::jws_alg::es512, 66}};
        for (auto const& c : curves)
            if (group == c.openssl_name || group == c.nist_name)
                return key_kind{auth::jws_alg_set{}.set(static_cast<std::size_t>(c.alg)),
                                2 * c.field_bytes, "EC " + std::string(c.nist_name)};
        return "an EC key on curve " + std::string(group) +
               "; ES256/384/512 need P-256, P-384 or P-521";
    }
    auth::jws_alg_set const eddsa =
        auth::jws_alg_set{}.set(static_cast<std::size_t>(auth::jws_alg::eddsa));
    if (EVP_PKEY_is_a(pkey, "ED25519"))
        return key_kind{eddsa, 64, "Ed25519"};
    if (EVP_PKEY_is_a(pkey, "ED448"))
        return key_kind{eddsa, 114, "Ed448"};
    char const* type = EVP_PKEY_get0_type_name(pkey);
    return "a key of type " + std::string(type ? type : "unknown") +
           "; RSA, EC, Ed25519 and Ed448 keys are supported";
}

/// `alg1/alg2/...` for messages.
inline std::string alg_list(auth::jws_alg_set algs)
{
    std::string out;
    for (std::size_t i = 0; i < auth::jws_alg_count; ++i)
        if (algs[i]) {
            if (!out.empty())
                out += '/';
            out += auth::to_string(static_cast<auth::jws_alg>(i));
        }
    return out;
}

/// Builds a public key from OpenSSL parameters (`RSA` n and e, `EC` group and point).
inline detail::evp_pkey_ptr pkey_from_params(char const* type, OSSL_PARAM_BLD* bld)
{
    detail::ossl_param_ptr params{OSSL_PARAM_BLD_to_param(bld)};
    detail::evp_pkey_ctx_ptr ctx{EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr)};
    EVP_PKEY* pkey = nullptr;
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
        EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params.get()) != 1)
        return nullptr;
    return detail::evp_pkey_ptr{pkey};
}

/// An ECDSA signature as JWS writes it (`r || s`, RFC 7518 section 3.4) in the DER form OpenSSL
/// reads.
inline std::string ecdsa_raw_to_der(std::string_view raw)
{
    auto const half = static_cast<int>(raw.size() / 2);
    auto const* p = reinterpret_cast<unsigned char const*>(raw.data());
    detail::ecdsa_sig_ptr sig{ECDSA_SIG_new()};
    detail::bignum_ptr r{BN_bin2bn(p, half, nullptr)};
    detail::bignum_ptr s{BN_bin2bn(p + half, half, nullptr)};
    if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1)
        return {};
    // ECDSA_SIG_set0 took r and s.
    (void)r.release();
    (void)s.release();
    int const len = i2d_ECDSA_SIG(sig.get(), nullptr);
    if (len <= 0)
        return {};
    std::string der(static_cast<std::size_t>(len), '\0');
    auto* out = reinterpret_cast<unsigned char*>(der.data());
    i2d_ECDSA_SIG(sig.get(), &out);
    return der;
}

/// Index 0, 1, 2 of SHA-256, -384, -512 for `alg` (not EdDSA).
constexpr std::size_t digest_index(auth::jws_alg alg) noexcept
{
    return static_cast<std::size_t>(alg) % 3;
}

}  // namespace jobwatch::detail

namespace jobwatch::auth {

inline key_set_result key_set::load(jwt_settings settings)
{
    using namespace std::chrono_literals;
    if (settings.secret_file.empty() && settings.public_key_file.empty() &&
        settings.jwks_file.empty())
        return std::string("auth.jwt: no keys; set secret_file, public_key_file or jwks_file");
    if (settings.tenant_claim.empty())
        return std::string("auth.jwt.tenant_claim must not be empty");
    if (settings.leeway < 0s)
        return std::string("auth.jwt.leeway_s must not be negative");
    if (settings.max_token_bytes == 0)
        return std::string("auth.jwt.max_token_bytes must be positive");

    std::shared_ptr<key_set> set(new key_set);
    if (settings.algorithms.empty())
        set->allowed_.set();
    for (auto const& name : settings.algorithms) {
        auto const alg = jws_alg_from_string(name);
        if (!alg)
            return "auth.jwt.algorithms: " + detail::quote_untrusted(name) +
                   (name == "none" ? " is never accepted" : " is not a supported algorithm");
        set->allowed_.set(static_cast<std::size_t>(*alg));
    }

    set->hmac_.reset(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
    char const* digest_names[] = {"SHA2-256", "SHA2-384", "SHA2-512"};
    for (std::size_t i = 0; i < 3; ++i)
        set->digests_[i].reset(EVP_MD_fetch(nullptr, digest_names[i], nullptr));
    if (!set->hmac_ || !set->digests_[0] || !set->digests_[1] || !set->digests_[2])
        return "auth.jwt: OpenSSL lacks HMAC or SHA-2: " + detail::take_openssl_error();

    // Each key file: read it whole, then hand it to the reader of its format.
    using reader = std::optional<std::string> (key_set::*)(std::string_view, std::string const&);
    struct source
    {
        char const* setting;
        std::string const& path;
        reader read;
    };
    source const sources[] = {{"secret_file", settings.secret_file, &key_set::add_secret},
                              {"public_key_file", settings.public_key_file, &key_set::add_pem},
                              {"jwks_file", settings.jwks_file, &key_set::add_jwks}};
    for (auto const& src : sources) {
        if (src.path.empty())
            continue;
        auto const origin = detail::file_origin(src.setting, src.path);
        detail::wiped_string text;
        if (auto err = detail::read_key_file(src.path, origin, text.s))
            return *err;
        if (auto err = ((*set).*src.read)(text.s, origin))
            return *err;
    }
    if (set->keys_.empty()) {
        std::string msg = "auth.jwt: no usable key in the configured files";
        for (auto const& w : set->warnings_)
            msg += "; " + w;
        return msg;
    }
    set->settings_ = std::move(settings);
    return std::shared_ptr<key_set const>(std::move(set));
}

inline std::optional<std::string> key_set::add_secret(std::string_view text,
                                                      std::string const& origin)
{
    // `echo secret > file` adds a newline that is not meant as part of the secret.
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
        text.remove_suffix(1);
    return add_hmac(text, std::nullopt, std::nullopt, origin);
}

inline std::optional<std::string> key_set::add_hmac(std::string_view secret,
                                                    std::optional<std::string> kid,
                                                    std::optional<jws_alg> only, std::string origin)
{
    if (secret.size() < 32)
        return origin + ": an HMAC secret of " + std::to_string(secret.size()) +
               " bytes; at least 32 are required (RFC 7518 section 3.2)";
    jws_alg_set algs;
    for (auto alg : {jws_alg::hs256, jws_alg::hs384, jws_alg::hs512})
        if (secret.size() >= digest_bytes_of(alg))
            algs.set(static_cast<std::size_t>(alg));
    if (only) {
        if (family_of(*only) != jws_family::hmac)
            return origin + ": alg " + std::string(to_string(*only)) +
                   " does not fit an HMAC secret";
        if (!algs[static_cast<std::size_t>(*only)])
            return origin + ": alg " + std::string(to_string(*only)) +
                   " needs a secret of at least " + std::to_string(digest_bytes_of(*only)) +
                   " bytes; this one has " + std::to_string(secret.size());
        algs = jws_alg_set{}.set(static_cast<std::size_t>(*only));
    }
    algs &= allowed_;
    if (algs.none()) {
        warnings_.push_back(origin + " skipped: none of its algorithms is in auth.jwt.algorithms");
        return std::nullopt;
    }
    detail::verification_key key;
    key.kid = std::move(kid);
    key.origin = std::move(origin);
    key.kind = "HMAC secret of " + std::to_string(secret.size()) + " bytes";
    key.algs = algs;
    char const* digest_names[] = {"SHA256", "SHA384", "SHA512"};
    for (std::size_t i = 0; i < 3; ++i) {
        if (!algs[i])
            continue;
        OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(
                                   OSSL_MAC_PARAM_DIGEST, const_cast<char*>(digest_names[i]), 0),
                               OSSL_PARAM_construct_end()};
        key.hmac[i].reset(EVP_MAC_CTX_new(hmac_.get()));
        if (!key.hmac[i] ||
            EVP_MAC_init(key.hmac[i].get(), reinterpret_cast<unsigned char const*>(secret.data()),
                         secret.size(), params) != 1)
            return key.origin + ": OpenSSL cannot key HMAC: " + detail::take_openssl_error();
    }
    keys_.push_back(std::move(key));
    return std::nullopt;
}

inline std::optional<std::string> key_set::add_public_key(detail::evp_pkey_ptr pkey,
                                                          std::optional<std::string> kid,
                                                          std::optional<jws_alg> only,
                                                          std::string origin)
{
    auto kind = detail::classify(pkey.get());
    if (auto const* err = std::get_if<std::string>(&kind))
        return origin + ": " + *err;
    auto& k = std::get<detail::key_kind>(kind);
    // Refuse a point off its curve or a malformed RSA modulus now rather than at the first token.
    detail::evp_pkey_ctx_ptr check{EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr)};
    if (!check || EVP_PKEY_public_check(check.get()) != 1)
        return origin + ": not a valid " + k.name + " public key (" + detail::take_openssl_error() +
               ")";
    if (only) {
        if (!k.algs[static_cast<std::size_t>(*only)])
            return origin + ": alg " + std::string(to_string(*only)) + " does not fit an " +
                   k.name + " key";
        k.algs = jws_alg_set{}.set(static_cast<std::size_t>(*only));
    }
    k.algs &= allowed_;
    if (k.algs.none()) {
        warnings_.push_back(origin + " skipped: none of its algorithms is in auth.jwt.algorithms");
        return std::nullopt;
    }
    detail::verification_key key;
    key.kid = std::move(kid);
    key.origin = std::move(origin);
    key.kind = std::move(k.name);
    key.algs = k.algs;
    key.signature_bytes = k.signature_bytes;
    key.pkey = std::move(pkey);
    keys_.push_back(std::move(key));
    return std::nullopt;
}

inline std::optional<std::string> key_set::add_pem(std::string_view text, std::string const& origin)
{
    constexpr std::string_view begin = "-----BEGIN ", dashes = "-----";
    std::size_t pos = 0;
    int block = 0;
    while ((pos = text.find(begin, pos)) != std::string_view::npos) {
        ++block;
        auto const where = origin + " block " + std::to_string(block);
        auto const label_end = text.find(dashes, pos + begin.size());
        if (label_end == std::string_view::npos)
            return where + ": a BEGIN line without its closing dashes";
        auto const label = text.substr(pos + begin.size(), label_end - pos - begin.size());
        auto const end_line = "-----END " + std::string(label) + "-----";
        auto const end = text.find(end_line, label_end);
        if (end == std::string_view::npos)
            return where + " (" + std::string(label) + "): no END line";
        auto const pem = text.substr(pos, end + end_line.size() - pos);
        pos = end + end_line.size();
        if (label.find("PRIVATE KEY") != std::string_view::npos)
            return where + " is a private key; give the public key instead "
                           "(openssl pkey -in private.pem -pubout)";
        detail::bio_ptr bio{BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()))};
        detail::evp_pkey_ptr pkey;
        if (label == "PUBLIC KEY") {
            pkey.reset(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
        } else if (label == "CERTIFICATE") {
            detail::x509_ptr cert{PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)};
            if (cert)
                pkey.reset(X509_get_pubkey(cert.get()));
        } else {
            return where + " is \"" + std::string(label) + "\"; expected PUBLIC KEY or CERTIFICATE";
        }
        if (!pkey)
            return where + " (" + std::string(label) +
                   ") cannot be read: " + detail::take_openssl_error();
        if (auto err = add_public_key(std::move(pkey), std::nullopt, std::nullopt, where))
            return err;
    }
    if (block == 0)
        return origin + ": no PEM block (-----BEGIN PUBLIC KEY-----)";
    return std::nullopt;
}

inline std::optional<std::string> key_set::add_jwks(std::string_view text,
                                                    std::string const& origin)
{
    boost::json::error_code ec;
    auto const doc = boost::json::parse(text, ec);
    if (ec)
        return origin + ": not JSON (" + ec.message() + ")";
    auto const* obj = doc.if_object();
    if (!obj)
        return origin + ": not a JWK Set (a JSON object with \"keys\")";
    // A single JWK is accepted as a set of one.
    if (!obj->contains("keys") && obj->contains("kty"))
        return add_jwk(*obj, origin + " key 1");
    auto const* keys = obj->contains("keys") ? obj->at("keys").if_array() : nullptr;
    if (!keys)
        return origin + ": not a JWK Set (\"keys\" must be an array)";
    for (std::size_t i = 0; i < keys->size(); ++i) {
        auto const where = origin + " key " + std::to_string(i + 1);
        auto const* jwk = (*keys)[i].if_object();
        if (!jwk)
            return where + " is not a JSON object";
        if (auto err = add_jwk(*jwk, where))
            return err;
    }
    return std::nullopt;
}

inline std::optional<std::string> key_set::add_jwk(boost::json::object const& jwk,
                                                   std::string const& where)
{
    // A member that must be a string when present: nothing when absent, an error when not a string.
    std::string error;
    auto member = [&](char const* name) -> std::optional<std::string_view> {
        auto const* v = jwk.if_contains(name);
        if (!v)
            return std::nullopt;
        if (!v->is_string()) {
            error = std::string("\"") + name + "\" must be a string";
            return std::nullopt;
        }
        return std::string_view(v->get_string());
    };
    auto const kid = member("kid");
    auto const origin = kid ? where + " (kid " + detail::quote_untrusted(*kid) + ")" : where;
    auto const kty = member("kty");
    auto const use = member("use");
    auto const alg_name = member("alg");
    if (!error.empty())
        return origin + ": " + error;
    if (!kty)
        return origin + ": no \"kty\"";
    std::optional<std::string> const kid_value =
        kid ? std::optional<std::string>(std::string(*kid)) : std::nullopt;

    // Keys for encryption, or for operations other than verifying, are not ours to use.
    if (use && *use != "sig") {
        warnings_.push_back(origin + " skipped: its use is " + detail::quote_untrusted(*use) +
                            ", not \"sig\"");
        return std::nullopt;
    }
    if (auto const* ops = jwk.if_contains("key_ops")) {
        auto const* arr = ops->if_array();
        if (!arr)
            return origin + ": \"key_ops\" must be an array";
        bool verify = false;
        for (auto const& op : *arr)
            verify = verify || (op.is_string() && op.get_string() == "verify");
        if (!verify) {
            warnings_.push_back(origin + " skipped: its key_ops do not include \"verify\"");
            return std::nullopt;
        }
    }
    std::optional<jws_alg> only;
    if (alg_name) {
        only = jws_alg_from_string(*alg_name);
        if (!only) {
            if (*alg_name == "none")
                return origin + ": alg \"none\" is never accepted";
            warnings_.push_back(origin + " skipped: alg " + detail::quote_untrusted(*alg_name) +
                                " is not a supported signature algorithm");
            return std::nullopt;
        }
    }
    if (*kty != "oct" && jwk.contains("d"))
        return origin +
               ": holds a private key (\"d\"); a JWK Set for verification holds public keys only";

    // Decodes the base64url member `name` into `out`, or says why not.
    auto bytes = [&](char const* name, detail::wiped_string& out) -> std::optional<std::string> {
        auto const text = member(name);
        if (!error.empty())
            return origin + ": " + error;
        if (!text)
            return origin + ": no \"" + std::string(name) + "\"";
        auto decoded = detail::base64url_decode(*text);
        if (!decoded || decoded->empty())
            return origin + ": \"" + std::string(name) + "\" is not base64url";
        out.s = std::move(*decoded);
        return std::nullopt;
    };
    auto u = [](detail::wiped_string const& w) {
        return reinterpret_cast<unsigned char const*>(w.s.data());
    };

    if (*kty == "oct") {
        detail::wiped_string k;
        if (auto err = bytes("k", k))
            return err;
        return add_hmac(k.s, kid_value, only, origin);
    }
    if (*kty == "RSA") {
        detail::wiped_string n, e;
        if (auto err = bytes("n", n))
            return err;
        if (auto err = bytes("e", e))
            return err;
        detail::bignum_ptr bn_n{BN_bin2bn(u(n), static_cast<int>(n.s.size()), nullptr)};
        detail::bignum_ptr bn_e{BN_bin2bn(u(e), static_cast<int>(e.s.size()), nullptr)};
        detail::ossl_param_bld_ptr bld{OSSL_PARAM_BLD_new()};
        if (!bn_n || !bn_e || !bld ||
            OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
            OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1)
            return origin + ": cannot build the RSA key: " + detail::take_openssl_error();
        auto pkey = detail::pkey_from_params("RSA", bld.get());
        if (!pkey)
            return origin + ": not a valid RSA public key: " + detail::take_openssl_error();
        return add_public_key(std::move(pkey), kid_value, only, origin);
    }
    if (*kty == "EC") {
        auto const crv = member("crv");
        if (!error.empty())
            return origin + ": " + error;
        std::size_t field = 0;
        if (crv == "P-256")
            field = 32;
        else if (crv == "P-384")
            field = 48;
        else if (crv == "P-521")
            field = 66;
        else
            return origin + ": EC curve " +
                   (crv ? detail::quote_untrusted(*crv) : std::string("(none)")) +
                   " is not supported (P-256, P-384, P-521)";
        detail::wiped_string x, y;
        if (auto err = bytes("x", x))
            return err;
        if (auto err = bytes("y", y))
            return err;
        if (x.s.size() > field || y.s.size() > field)
            return origin + ": \"x\" and \"y\" of a " + std::string(*crv) + " key have " +
                   std::to_string(field) + " bytes each";
        // RFC 7518 section 6.2.1.2 wants full-length coordinates, but some
        // generators (PyJWT before 2.8) drop leading zero bytes: the number is
        // the same, so pad it back.
        x.s.insert(0, field - x.s.size(), '\0');
        y.s.insert(0, field - y.s.size(), '\0');
        // The uncompressed point: 0x04 || x || y (SEC 1 section 2.3.3).
        std::string point = "\x04" + x.s + y.s;
        detail::ossl_param_bld_ptr bld{OSSL_PARAM_BLD_new()};
        std::string const group(*crv);
        if (!bld ||
            OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group.c_str(),
                                            0) != 1 ||
            OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                             point.size()) != 1)
            return origin + ": cannot build the EC key: " + detail::take_openssl_error();
        auto pkey = detail::pkey_from_params("EC", bld.get());
        if (!pkey)
            return origin + ": not a valid " + group +
                   " public key: " + detail::take_openssl_error();
        return add_public_key(std::move(pkey), kid_value, only, origin);
    }
    if (*kty == "OKP") {
        auto const crv = member("crv");
        if (!error.empty())
            return origin + ": " + error;
        if (crv == "X25519" || crv == "X448") {
            warnings_.push_back(origin + " skipped: curve " + std::string(*crv) +
                                " is for key agreement");
            return std::nullopt;
        }
        if (crv != "Ed25519" && crv != "Ed448")
            return origin + ": OKP curve " +
                   (crv ? detail::quote_untrusted(*crv) : std::string("(none)")) +
                   " is not supported (Ed25519, Ed448)";
        detail::wiped_string x;
        if (auto err = bytes("x", x))
            return err;
        std::size_t const size = crv == "Ed25519" ? 32 : 57;
        if (x.s.size() != size)
            return origin + ": \"x\" of an " + std::string(*crv) + " key has " +
                   std::to_string(size) + " bytes";
        detail::evp_pkey_ptr pkey{EVP_PKEY_new_raw_public_key_ex(
            nullptr, crv == "Ed25519" ? "ED25519" : "ED448", nullptr, u(x), x.s.size())};
        if (!pkey)
            return origin + ": not a valid " + std::string(*crv) +
                   " public key: " + detail::take_openssl_error();
        return add_public_key(std::move(pkey), kid_value, only, origin);
    }
    warnings_.push_back(origin + " skipped: kty " + detail::quote_untrusted(*kty) +
                        " is not supported");
    return std::nullopt;
}

inline std::string key_set::describe() const
{
    std::string out =
        "auth mode jwt: " + std::to_string(keys_.size()) + (keys_.size() == 1 ? " key" : " keys");
    for (auto const& k : keys_)
        out += "; " + k.origin + ": " + k.kind + " for " + detail::alg_list(k.algs);
    if (!settings_.issuer.empty())
        out += "; issuer \"" + settings_.issuer + "\"";
    if (!settings_.audience.empty())
        out += "; audience \"" + settings_.audience + "\"";
    out += "; leeway " + std::to_string(settings_.leeway.count()) + " s";
    return out;
}

inline std::optional<jwt_failure> key_set::check_signature(jws_alg alg,
                                                           std::optional<std::string_view> kid,
                                                           std::string_view signing_input,
                                                           std::string_view signature) const
{
    auto const bit = static_cast<std::size_t>(alg);
    std::vector<detail::verification_key const*> candidates;
    bool kid_known = false;
    for (auto const& k : keys_) {
        if (kid && k.kid != *kid)
            continue;
        kid_known = true;
        if (k.algs[bit])
            candidates.push_back(&k);
    }
    if (kid && !kid_known)
        return jwt_failure{jwt_check::key, "unknown kid " + detail::quote_untrusted(*kid)};
    if (candidates.empty())
        return jwt_failure{jwt_check::algorithm,
                           kid ? "key " + detail::quote_untrusted(*kid) + " does not accept alg " +
                                     std::string(to_string(alg))
                               : "no configured key accepts alg " + std::string(to_string(alg))};
    if (signature.empty())
        return jwt_failure{jwt_check::signature, "signature is empty"};
    std::optional<jwt_failure> failure;
    for (auto const* k : candidates) {
        failure = verify_with(*k, alg, signing_input, signature);
        if (!failure)
            return std::nullopt;
    }
    if (candidates.size() > 1)
        return jwt_failure{jwt_check::signature, "signature does not verify with any of the " +
                                                     std::to_string(candidates.size()) +
                                                     " keys that accept " +
                                                     std::string(to_string(alg))};
    return failure;
}

inline std::optional<jwt_failure> key_set::verify_with(detail::verification_key const& key,
                                                       jws_alg alg, std::string_view signing_input,
                                                       std::string_view signature) const
{
    auto const* input = reinterpret_cast<unsigned char const*>(signing_input.data());
    auto const* sig = reinterpret_cast<unsigned char const*>(signature.data());
    std::size_t const expected =
        family_of(alg) == jws_family::hmac ? digest_bytes_of(alg) : key.signature_bytes;
    if (signature.size() != expected)
        return jwt_failure{jwt_check::signature,
                           "signature has " + std::to_string(signature.size()) + " bytes; " +
                               std::string(to_string(alg)) + " with this key needs " +
                               std::to_string(expected)};
    jwt_failure const does_not_verify{jwt_check::signature, "signature does not verify"};

    if (family_of(alg) == jws_family::hmac) {
        // Copy the keyed context: the template stays untouched, so threads can share it.
        detail::evp_mac_ctx_ptr ctx{EVP_MAC_CTX_dup(key.hmac[detail::digest_index(alg)].get())};
        unsigned char mac[EVP_MAX_MD_SIZE];
        std::size_t len = 0;
        if (!ctx || EVP_MAC_update(ctx.get(), input, signing_input.size()) != 1 ||
            EVP_MAC_final(ctx.get(), mac, &len, sizeof mac) != 1 || len != expected) {
            ERR_clear_error();
            return does_not_verify;
        }
        // Constant time: how much of a forged MAC matches must not show in the timing.
        if (CRYPTO_memcmp(mac, sig, len) != 0)
            return does_not_verify;
        return std::nullopt;
    }

    std::string der;
    if (family_of(alg) == jws_family::ecdsa) {
        der = detail::ecdsa_raw_to_der(signature);
        if (der.empty()) {
            ERR_clear_error();
            return does_not_verify;
        }
        sig = reinterpret_cast<unsigned char const*>(der.data());
    }
    std::size_t const sig_len = der.empty() ? signature.size() : der.size();
    EVP_MD const* md =
        family_of(alg) == jws_family::eddsa ? nullptr : digests_[detail::digest_index(alg)].get();
    detail::evp_md_ctx_ptr ctx{EVP_MD_CTX_new()};
    EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
    bool ok = ctx && EVP_DigestVerifyInit(ctx.get(), &pctx, md, nullptr, key.pkey.get()) == 1;
    if (ok && family_of(alg) == jws_family::rsa_pss)
        // RFC 7518 section 3.5: MGF1 with the same hash, and a salt as long as the hash.
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) == 1 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1;
    ok = ok && EVP_DigestVerify(ctx.get(), sig, sig_len, input, signing_input.size()) == 1;
    if (!ok) {
        ERR_clear_error();
        return does_not_verify;
    }
    return std::nullopt;
}

}  // namespace jobwatch::auth

#endif
