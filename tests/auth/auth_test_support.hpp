#ifndef JOBWATCH_TESTS_AUTH_AUTH_TEST_SUPPORT_HPP
#define JOBWATCH_TESTS_AUTH_AUTH_TEST_SUPPORT_HPP

// Shared helpers of the auth tests: keys made by the openssl command line in
// a temporary folder (never committed), tokens minted by PyJWT (mint.py), and
// key sets loaded from them.

#include "test_paths.hpp"
#include <jobwatch/auth/key_set.hpp>

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace jobwatch::test {

/// The "now" of the tables: 2027-01-15T08:00:00Z, in seconds since 1970.
inline constexpr std::int64_t t0 = 1'800'000'000;

/// `s` as one single-quoted shell word.
inline std::string shell_quote(std::string_view s)
{
    std::string out = "'";
    for (char c : s)
        out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

/// Runs `command` in a shell and returns what it printed; throws with that output if it fails.
inline std::string run_command(std::string const& command)
{
    std::FILE* p = ::popen((command + " 2>&1").c_str(), "r");
    if (!p)
        throw std::runtime_error("cannot run: " + command);
    std::string out;
    char buf[4096];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0)
        out.append(buf, n);
    int const status = ::pclose(p);
    if (status != 0)
        throw std::runtime_error("command failed (" + std::to_string(status) + "): " + command +
                                 "\n" + out);
    return out;
}

inline void write_file(std::filesystem::path const& path, std::string_view text)
{
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(text.data(), static_cast<std::streamsize>(text.size()));
    if (!f)
        throw std::runtime_error("cannot write " + path.string());
}

inline std::string read_file(std::filesystem::path const& path)
{
    std::ifstream f(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), {});
}

/// What mint.py is asked to make: one token.
struct mint_spec
{
    std::string alg{};  ///< `alg` of the header
    std::string key{};  ///< file in the key folder: a private key, or `secret.txt`
    std::string claims =
        "{}";  ///< JSON merged over `standard_claims()`; a `null` member removes that claim
    std::string header = "{}";   ///< JSON of extra header parameters (`kid`, ...)
    std::string mode = "pyjwt";  ///< or `unsigned`, `hmac_raw` (see mint.py)
};

/// The claims of a token valid at `t0`: alice of tenant acme, issued a minute ago, for an hour.
inline boost::json::object standard_claims()
{
    return {{"sub", "alice"},
            {"tenant_id", "acme"},
            {"iat", t0 - 60},
            {"nbf", t0 - 60},
            {"exp", t0 + 3600}};
}

/** @brief The keys of a test process, made once on first use in a temporary
    folder that is removed at exit.

    @li `secret.txt`: 32 random bytes as 64 hex characters and a newline;
    @li `rsa`, `rsa2` (2048 bits), `rsa1024`, `ec256`, `ec384`, `ec521`,
        `ed25519`, `ed448`: `<name>.pem` private, `<name>.pub.pem` public;
    @li `public.pem`: the public keys of rsa, ec256, ec384, ec521, ed25519, ed448;
    @li `jwks.json`: kids `rsa` (no alg), `rsa-ps` (rsa2, alg PS256), `ec256`
        (alg ES256), `ec384`, `ec521`, `ed25519` (alg EdDSA), `ed448`, `hs`
        (the secret as an `oct` key) and `enc` (ec256, use `enc`).
*/
class key_material
{
public:
    static key_material const& get()
    {
        static key_material const m;
        return m;
    }

    key_material(key_material const&) = delete;
    key_material& operator=(key_material const&) = delete;

    ~key_material()
    {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }

    /// The full path of `name` in the key folder.
    std::string path(std::string_view name) const { return (dir_ / name).string(); }

    /// The folder itself.
    std::filesystem::path const& dir() const { return dir_; }

    /// Runs the openssl command line with `args` (already quoted where needed).
    static std::string openssl(std::string const& args)
    {
        return run_command(shell_quote(JOBWATCH_OPENSSL_CLI) + " " + args);
    }

    /// Runs mint.py on `request`, in the key folder; returns its JSON answer.
    boost::json::value run_mint(boost::json::object const& request) const
    {
        auto const file = dir_ / ("request-" + std::to_string(++requests_) + ".json");
        write_file(file, boost::json::serialize(request));
        auto const out = run_command("cd " + shell_quote(dir_.string()) + " && " +
                                     shell_quote(JOBWATCH_AUTH_PYTHON) + " " +
                                     shell_quote((source_dir() / "tests/auth/mint.py").string()) + " " +
                                     shell_quote(file.string()));
        return boost::json::parse(out);
    }

    /// Mints one token per spec, in order, with one run of python.
    std::vector<std::string> mint(std::vector<mint_spec> const& specs) const
    {
        boost::json::array tokens;
        for (auto const& s : specs) {
            auto claims = standard_claims();
            auto const changes = boost::json::parse(s.claims);
            for (auto const& [k, v] : changes.as_object()) {
                if (v.is_null())
                    claims.erase(k);
                else
                    claims[k] = v;
            }
            tokens.push_back(boost::json::object{{"alg", s.alg},
                                                 {"key", s.key},
                                                 {"claims", std::move(claims)},
                                                 {"header", boost::json::parse(s.header)},
                                                 {"mode", s.mode}});
        }
        auto const answer = run_mint({{"tokens", std::move(tokens)}});
        std::vector<std::string> out;
        for (auto const& t : answer.at("tokens").as_array())
            out.emplace_back(t.as_string());
        return out;
    }

    /// Loads a key set, failing the test (by exception) when it does not load.
    static std::shared_ptr<auth::key_set const> load(auth::jwt_settings s)
    {
        auto r = auth::key_set::load(std::move(s));
        if (auto const* err = std::get_if<std::string>(&r))
            throw std::runtime_error("key set does not load: " + *err);
        return std::get<0>(std::move(r));
    }

private:
    key_material()
    {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "jobwatch-auth-XXXXXX").string();
        if (!::mkdtemp(pattern.data()))
            throw std::runtime_error("mkdtemp failed");
        dir_ = pattern;
        try {
            make_keys();
        } catch (...) {
            std::error_code ec;
            std::filesystem::remove_all(dir_, ec);
            throw;
        }
    }

    void make_keys()
    {
        auto const q = [&](std::string_view name) { return shell_quote(path(name)); };
        openssl("rand -hex -out " + q("secret.txt") + " 32");
        struct spec
        {
            char const* name;
            char const* genpkey_args;
        };
        spec const specs[] = {
            {"rsa", "-algorithm RSA -pkeyopt rsa_keygen_bits:2048"},
            {"rsa2", "-algorithm RSA -pkeyopt rsa_keygen_bits:2048"},
            {"rsa1024", "-algorithm RSA -pkeyopt rsa_keygen_bits:1024"},
            {"ec256",
             "-algorithm EC -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:named_curve"},
            {"ec384",
             "-algorithm EC -pkeyopt ec_paramgen_curve:P-384 -pkeyopt ec_param_enc:named_curve"},
            {"ec521",
             "-algorithm EC -pkeyopt ec_paramgen_curve:P-521 -pkeyopt ec_param_enc:named_curve"},
            {"ed25519", "-algorithm ED25519"},
            {"ed448", "-algorithm ED448"},
        };
        for (auto const& s : specs) {
            std::string const name = s.name;
            openssl("genpkey " + std::string(s.genpkey_args) + " -out " + q(name + ".pem"));
            openssl("pkey -in " + q(name + ".pem") + " -pubout -out " + q(name + ".pub.pem"));
        }
        std::string bundle;
        for (auto const* name : {"rsa", "ec256", "ec384", "ec521", "ed25519", "ed448"})
            bundle += read_file(path(std::string(name) + ".pub.pem"));
        write_file(path("public.pem"), bundle);

        auto key = [](char const* file, char const* kid, char const* alg = nullptr) {
            boost::json::object o{{"file", file}, {"kid", kid}};
            if (alg)
                o["alg"] = alg;
            return o;
        };
        boost::json::array keys{key("rsa.pub.pem", "rsa"),
                                key("rsa2.pub.pem", "rsa-ps", "PS256"),
                                key("ec256.pub.pem", "ec256", "ES256"),
                                key("ec384.pub.pem", "ec384"),
                                key("ec521.pub.pem", "ec521"),
                                key("ed25519.pub.pem", "ed25519", "EdDSA"),
                                key("ed448.pub.pem", "ed448")};
        keys.push_back({{"file", "secret.txt"}, {"kid", "hs"}, {"secret", true}});
        keys.push_back({{"file", "ec256.pub.pem"}, {"kid", "enc"}, {"use", "enc"}});
        run_mint({{"jwks", boost::json::array{{{"out", "jwks.json"}, {"keys", std::move(keys)}}}}});
    }

    std::filesystem::path dir_;
    mutable int requests_ = 0;
};

}  // namespace jobwatch::test

#endif
