// Token verifications per second: HS256, RS256 (2048-bit key) and ES256 (P-256).
//  - bm_verify_*: jobwatch::auth::verify of a typical token (the whole
//    check: split, base64url, header, signature, claims);
//  - bm_signature_*: key_set::check_signature alone, the cryptographic part,
//    so the difference is what the parsing and claim checks cost.
// Keys are made here with OpenSSL and written to a temporary folder; tokens
// are signed here too, so the benchmark needs nothing but OpenSSL.
#include <jobwatch/auth/jwt.hpp>

#include <benchmark/benchmark.h>

#include <openssl/rand.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <unistd.h>

namespace {

namespace auth = jobwatch::auth;
namespace detail = jobwatch::detail;

constexpr std::int64_t t0 = 1'800'000'000;

std::string pem_public(EVP_PKEY* pkey)
{
    detail::bio_ptr bio{BIO_new(BIO_s_mem())};
    if (PEM_write_bio_PUBKEY(bio.get(), pkey) != 1)
        throw std::runtime_error("PEM_write_bio_PUBKEY");
    char* data = nullptr;
    auto const len = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(len));
}

/// A JWS signature of `input`: HMAC with `secret`, or a signature by `pkey` (raw r||s for ECDSA).
std::string sign(std::string const& input, EVP_PKEY* pkey, std::string const& secret)
{
    auto const* in = reinterpret_cast<unsigned char const*>(input.data());
    if (!pkey) {
        unsigned char mac[EVP_MAX_MD_SIZE];
        std::size_t len = 0;
        if (!EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, secret.data(), secret.size(),
                       in, input.size(), mac, sizeof mac, &len))
            throw std::runtime_error("EVP_Q_mac");
        return std::string(reinterpret_cast<char*>(mac), len);
    }
    detail::evp_md_ctx_ptr ctx{EVP_MD_CTX_new()};
    std::size_t len = 0;
    if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &len, in, input.size()) != 1)
        throw std::runtime_error("EVP_DigestSign");
    std::string sig(len, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, in,
                       input.size()) != 1)
        throw std::runtime_error("EVP_DigestSign");
    sig.resize(len);
    if (!EVP_PKEY_is_a(pkey, "EC"))
        return sig;
    // DER to the JWS form: r and s, 32 bytes each.
    auto const* p = reinterpret_cast<unsigned char const*>(sig.data());
    detail::ecdsa_sig_ptr der{d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()))};
    std::string raw(64, '\0');
    auto* out = reinterpret_cast<unsigned char*>(raw.data());
    BN_bn2binpad(ECDSA_SIG_get0_r(der.get()), out, 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(der.get()), out + 32, 32);
    return raw;
}

/// A key set holding one key, and a token it accepts.
struct fixture
{
    std::shared_ptr<auth::key_set const> keys;
    std::string token;
    std::string signing_input, signature;  // for check_signature alone
    auth::jws_alg alg = auth::jws_alg::hs256;
};

fixture make(std::string const& alg)
{
    std::string dir =
        (std::filesystem::temp_directory_path() / "jobwatch-auth-bench-XXXXXX").string();
    if (!::mkdtemp(dir.data()))
        throw std::runtime_error("mkdtemp");
    auto const file = std::filesystem::path(dir) / "key";
    auth::jwt_settings settings;
    detail::evp_pkey_ptr pkey;
    std::string secret;
    if (alg == "HS256") {
        unsigned char bytes[32];
        RAND_bytes(bytes, sizeof bytes);
        secret.assign(reinterpret_cast<char*>(bytes), sizeof bytes);
        settings.secret_file = file.string();
        std::ofstream(file, std::ios::binary) << secret;
    } else {
        pkey.reset(alg == "RS256" ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{2048})
                                  : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
        settings.public_key_file = file.string();
        std::ofstream(file, std::ios::binary) << pem_public(pkey.get());
    }
    auto loaded = auth::key_set::load(settings);
    std::filesystem::remove_all(dir);
    if (auto const* err = std::get_if<std::string>(&loaded))
        throw std::runtime_error(*err);

    fixture f;
    f.keys = std::get<0>(loaded);
    f.alg = *auth::jws_alg_from_string(alg);
    auto const header = R"({"alg":")" + alg + R"(","typ":"JWT"})";
    auto const claims = R"({"sub":"alice@example.com","tenant_id":"acme","user_id":"u-1842",)"
                        R"("scope":"read publish","iss":"https://issuer.example","iat":)" +
                        std::to_string(t0 - 60) + R"(,"exp":)" + std::to_string(t0 + 3600) + "}";
    f.signing_input = detail::base64url_encode(header) + "." + detail::base64url_encode(claims);
    f.signature = sign(f.signing_input, pkey.get(), secret);
    f.token = f.signing_input + "." + detail::base64url_encode(f.signature);
    return f;
}

void bm_verify(benchmark::State& state, std::string const& alg)
{
    auto const f = make(alg);
    auto const now = std::chrono::system_clock::time_point{std::chrono::seconds{t0}};
    if (!std::holds_alternative<auth::jwt_claims>(auth::verify(*f.keys, f.token, now)))
        state.SkipWithError("the token does not verify");
    for (auto _ : state) {
        auto r = auth::verify(*f.keys, f.token, now);
        benchmark::DoNotOptimize(r);
    }
    state.counters["verifications/s"] =
        benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void bm_signature(benchmark::State& state, std::string const& alg)
{
    auto const f = make(alg);
    if (f.keys->check_signature(f.alg, std::nullopt, f.signing_input, f.signature))
        state.SkipWithError("the signature does not verify");
    for (auto _ : state) {
        auto r = f.keys->check_signature(f.alg, std::nullopt, f.signing_input, f.signature);
        benchmark::DoNotOptimize(r);
    }
    state.counters["verifications/s"] =
        benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

BENCHMARK_CAPTURE(bm_verify, hs256, std::string("HS256"));
BENCHMARK_CAPTURE(bm_verify, rs256, std::string("RS256"));
BENCHMARK_CAPTURE(bm_verify, es256, std::string("ES256"));
BENCHMARK_CAPTURE(bm_signature, hs256, std::string("HS256"));
BENCHMARK_CAPTURE(bm_signature, rs256, std::string("RS256"));
BENCHMARK_CAPTURE(bm_signature, es256, std::string("ES256"));

}  // namespace

BENCHMARK_MAIN();
