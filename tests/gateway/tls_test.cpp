// https and wss on the gateway's port (gateway.tls): real clients (curl, an
// Asio TLS client, Node's `ws`) against a server whose certificates the test
// makes with openssl in a temporary folder (never committed).
#include "gateway/jwt_support.hpp"

#include <boost/asio/ssl.hpp>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <unistd.h>

#include <filesystem>
#include <string>

namespace jobwatch::test {
namespace {

namespace ssl = boost::asio::ssl;

/// A self-signed certificate for 127.0.0.1 with common name `cn`, and its key, in `dir`.
void make_certificate(std::filesystem::path const& dir, std::string const& cn)
{
    run_command(shell_quote(JOBWATCH_OPENSSL_CLI) +
                " req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=" + cn +
                " -addext subjectAltName=IP:127.0.0.1 -keyout " + shell_quote((dir / "key.pem").string()) +
                " -out " + shell_quote((dir / "cert.pem").string()));
}

class TlsTest : public ::testing::Test
{
protected:
    void SetUp() override
    {
        dir_ = std::filesystem::temp_directory_path() /
               ("jobwatch-tls-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::create_directories(dir_);
        make_certificate(dir_, "jobwatch-test-a");
    }
    void TearDown() override
    {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }

    config tls_config() const
    {
        auto c = test_server::default_config();
        c.gateway.tls.cert_file = path("cert.pem");
        c.gateway.tls.key_file = path("key.pem");
        return c;
    }
    std::string path(char const* name) const { return (dir_ / name).string(); }

    /// curl with the test's CA; what it printed (throws when curl fails).
    std::string curl(std::string const& args, std::string const& ca = {}) const
    {
        return run_command("timeout 20 curl -sS --cacert " + shell_quote(ca.empty() ? path("cert.pem") : ca) + " " +
                           args);
    }

    std::filesystem::path dir_;
};

/// What a TLS handshake with the server settled on.
struct handshake_result
{
    std::string common_name;  ///< of the certificate the server presented
    std::string cipher;       ///< OpenSSL's name of the suite chosen
};

/// A TLS handshake with `port` offering `ciphers` (TLS 1.2 names) between the
/// versions given (0: any); throws when it fails.
handshake_result tls_handshake(std::uint16_t port, int max_version = 0, int min_version = 0,
                               char const* ciphers = "ALL:@SECLEVEL=0")
{
    boost::asio::io_context io;
    ssl::context ctx(ssl::context::tls_client);
    // Old protocols and weak suites must be refused by the server, not by this client: allow everything here.
    ::SSL_CTX_set_security_level(ctx.native_handle(), 0);
    ::SSL_CTX_set_cipher_list(ctx.native_handle(), ciphers);
    ::SSL_CTX_set_min_proto_version(ctx.native_handle(), min_version ? min_version : TLS1_VERSION);
    if (max_version)
        ::SSL_CTX_set_max_proto_version(ctx.native_handle(), max_version);
    ssl::stream<tcp::socket> s(io, ctx);
    s.next_layer().connect({boost::asio::ip::make_address("127.0.0.1"), port});
    bool done = false;
    boost::system::error_code ec;
    s.async_handshake(ssl::stream_base::client, [&](boost::system::error_code e) {
        ec = e;
        done = true;
    });
    run_until(io, done, s.next_layer(), std::chrono::seconds{10}, "TLS handshake");
    if (ec)
        throw boost::system::system_error(ec, "TLS handshake");
    auto* cert = ::SSL_get0_peer_certificate(s.native_handle());
    if (!cert)
        throw std::runtime_error("no peer certificate");
    char cn[256] = {};
    ::X509_NAME_get_text_by_NID(::X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
    return {cn, ::SSL_CIPHER_get_name(::SSL_get_current_cipher(s.native_handle()))};
}

/// The common name of the certificate a TLS handshake with `port` presents; throws when the handshake fails.
std::string peer_common_name(std::uint16_t port, int max_version = 0, int min_version = 0)
{
    return tls_handshake(port, max_version, min_version).common_name;
}

TEST_F(TlsTest, HttpsRestAndSseWithCurl)
{
    test_server srv(tls_config());
    auto const base = "https://127.0.0.1:" + std::to_string(srv.port());
    EXPECT_EQ(curl(shell_quote(base + "/healthz")), R"({"status":"ok"})");
    // TLS 1.2 exactly, and 1.3.
    EXPECT_EQ(curl("--tlsv1.2 --tls-max 1.2 " + shell_quote(base + "/healthz")), R"({"status":"ok"})");
    EXPECT_EQ(curl("--tlsv1.3 " + shell_quote(base + "/healthz")), R"({"status":"ok"})");
    // SSE over https: the stream runs in the background while an event is published.
    auto sse = std::async(std::launch::async, [&] {
        try {
            return curl("-N --max-time 4 " + shell_quote(base + "/api/v1/stream?room=queue:tls"));
        } catch (std::exception const& e) {
            return std::string(e.what());  // curl exits 28 at --max-time: its output is in the message
        }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds{500});
    auto const posted = curl("-X POST -H 'Content-Type: application/json' -d " +
                             shell_quote(event_json("job.queued", "tls-1", "tls")) + " " +
                             shell_quote(base + "/api/v1/events"));
    EXPECT_NE(posted.find(R"("status":"accepted")"), std::string::npos) << posted;
    auto const stream = sse.get();
    EXPECT_NE(stream.find("event: subscribed"), std::string::npos) << stream;
    EXPECT_NE(stream.find(R"("job_id":"tls-1")"), std::string::npos) << stream;
}

TEST_F(TlsTest, PlainHttpOnTheTlsPortIsRefusedClearly)
{
    test_server srv(tls_config());
    http_client plain(srv.port());
    auto const r = plain.get("/healthz");
    EXPECT_EQ(r.status, 400u);
    EXPECT_NE(r.body.find("this port speaks TLS only"), std::string::npos) << r.body;
    auto const report = boost::json::parse(
        curl(shell_quote("https://127.0.0.1:" + std::to_string(srv.port()) + "/api/v1/monitor/connections")));
    EXPECT_EQ(report.at("counters").at("tls_plain_http").to_number<std::uint64_t>(), 1u);
}

TEST_F(TlsTest, ProtocolsBelowTls12AreRefused)
{
    test_server srv(tls_config());
    EXPECT_THROW(peer_common_name(srv.port(), TLS1_1_VERSION), boost::system::system_error);
    EXPECT_THROW(peer_common_name(srv.port(), TLS1_VERSION), boost::system::system_error);
    EXPECT_EQ(peer_common_name(srv.port(), TLS1_2_VERSION, TLS1_2_VERSION), "jobwatch-test-a");
    EXPECT_EQ(peer_common_name(srv.port(), 0, TLS1_3_VERSION), "jobwatch-test-a");
    auto const report = boost::json::parse(
        curl(shell_quote("https://127.0.0.1:" + std::to_string(srv.port()) + "/api/v1/monitor/connections")));
    EXPECT_EQ(report.at("counters").at("tls_handshake_failures").to_number<std::uint64_t>(), 2u);
}

TEST_F(TlsTest, TheServerChoosesForwardSecretAeadSuitesAes128First)
{
    test_server srv(tls_config());
    // A client offering every suite, in its own order (AES-256 first, as OpenSSL's default): the server's order wins.
    EXPECT_EQ(tls_handshake(srv.port(), 0, TLS1_3_VERSION).cipher, "TLS_AES_128_GCM_SHA256");
    EXPECT_EQ(tls_handshake(srv.port(), TLS1_2_VERSION, TLS1_2_VERSION, "DEFAULT").cipher,
              "ECDHE-ECDSA-AES128-GCM-SHA256");
    // TLS 1.2 suites without forward secrecy or without AEAD are refused.
    EXPECT_THROW(tls_handshake(srv.port(), TLS1_2_VERSION, TLS1_2_VERSION, "AES128-GCM-SHA256"),
                 boost::system::system_error);
    EXPECT_THROW(tls_handshake(srv.port(), TLS1_2_VERSION, TLS1_2_VERSION, "ECDHE-ECDSA-AES128-SHA"),
                 boost::system::system_error);
    EXPECT_EQ(tls_handshake(srv.port(), TLS1_2_VERSION, TLS1_2_VERSION, "ECDHE-ECDSA-CHACHA20-POLY1305").cipher,
              "ECDHE-ECDSA-CHACHA20-POLY1305");
}

TEST_F(TlsTest, TheCertificateIsReadAgainOnReloadAndABrokenOneKeepsTheCurrent)
{
    test_server srv(tls_config());
    EXPECT_EQ(peer_common_name(srv.port()), "jobwatch-test-a");
    make_certificate(dir_, "jobwatch-test-b");
    srv.on_core([&] { srv.get_app().get_core().reload(); });
    EXPECT_EQ(peer_common_name(srv.port()), "jobwatch-test-b");
    write_file(dir_ / "cert.pem", "not a certificate");
    srv.on_core([&] { srv.get_app().get_core().reload(); });
    EXPECT_EQ(peer_common_name(srv.port()), "jobwatch-test-b");
    bool logged = false;
    for (auto const& line : srv.log_lines())
        logged = logged || line.find("certificate not reloaded") != std::string::npos;
    EXPECT_TRUE(logged);
}

TEST_F(TlsTest, SettingsThatCannotWorkNameTheSetting)
{
    auto expect_setting = [](config c, std::string const& setting) {
        try {
            test_server srv(std::move(c));
            ADD_FAILURE() << "the server started";
        } catch (settings_error const& e) {
            EXPECT_EQ(e.setting, setting) << e.what();
        }
    };
    auto only_cert = tls_config();
    only_cert.gateway.tls.key_file.clear();
    expect_setting(only_cert, "gateway.tls.key_file");
    auto missing = tls_config();
    missing.gateway.tls.cert_file = path("nope.pem");
    expect_setting(missing, "gateway.tls.cert_file");
    // The key of another certificate.
    std::filesystem::create_directories(dir_ / "other");
    make_certificate(dir_ / "other", "other");
    auto mismatched = tls_config();
    mismatched.gateway.tls.key_file = (dir_ / "other" / "key.pem").string();
    expect_setting(mismatched, "gateway.tls.key_file");
}

TEST_F(TlsTest, WssWithNodeWs)
{
    test_server srv(tls_config());
    auto const dir = source_dir() / "tests" / "node";
    ASSERT_TRUE(std::filesystem::exists(dir / "node_modules" / "ws")) << "run scripts/setup.sh first";
    auto const out = run_command("timeout 60 node " + shell_quote((dir / "wss_e2e.mjs").string()) + " " +
                                 std::to_string(srv.port()) + " " + shell_quote(path("cert.pem")));
    EXPECT_NE(out.find("wss_e2e ok"), std::string::npos) << out;
}

}  // namespace
}  // namespace jobwatch::test
