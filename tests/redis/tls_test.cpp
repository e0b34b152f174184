// rediss://: the client over TLS against a real redis-server with a TLS port
// (a self-signed certificate for 127.0.0.1 made by the openssl command). The
// server's certificate is verified: a client that trusts another CA does not
// connect, and says why.
#include "redis_support.hpp"

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace jobwatch::test {
namespace {

std::uint16_t unused_port()
{
    int const fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

// A key and a self-signed certificate for 127.0.0.1 in `dir`, named `name`.
void make_certificate(std::filesystem::path const& dir, std::string const& name)
{
    auto const cmd = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=127.0.0.1"
                     " -addext subjectAltName=IP:127.0.0.1 -keyout " +
                     (dir / (name + ".key")).string() + " -out " + (dir / (name + ".crt")).string() +
                     " > /dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

struct RedisTlsTest : ::testing::Test
{
    std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                ("jobwatch-redis-tls-" + std::to_string(::getpid()));
    std::uint16_t tls_port = unused_port();
    std::optional<redis_server> srv;
    asio::io_context ioc;

    void SetUp() override
    {
        std::filesystem::create_directories(dir);
        make_certificate(dir, "server");
        make_certificate(dir, "other");
        srv.emplace(redis_server::options{
            .password = {},
            .extra = {"--tls-port", std::to_string(tls_port), "--tls-cert-file", (dir / "server.crt").string(),
                      "--tls-key-file", (dir / "server.key").string(), "--tls-auth-clients", "no"}});
        srv->start();
    }
    void TearDown() override
    {
        srv.reset();
        std::filesystem::remove_all(dir);
    }

    redis::settings tls_settings(std::string const& ca)
    {
        auto s = test_settings(*srv);
        std::string reason;
        EXPECT_FALSE(redis::parse_url("rediss://127.0.0.1:" + std::to_string(tls_port), s, &reason)) << reason;
        s.tls_ca_file = (dir / ca).string();
        return s;
    }
};

TEST_F(RedisTlsTest, ARedissUrlTalksTlsToAServerItTrusts)
{
    redis::connection conn{ioc.get_executor(), tls_settings("server.crt")};
    run_coroutine_test(ioc, while_running(conn, [&]() -> asio::awaitable<void> {
        co_await expect_command(conn, status_reply("OK"), "SET", "k", "over tls");
        co_await expect_command(conn, redis::reply{std::string("over tls")}, "GET", "k");
        // Pipelined: many requests in one write, their replies in order.
        redis::request req;
        for (int i = 0; i < 100; ++i)
            req.push("INCR", "n");
        auto [ec, replies] = co_await conn.exec(req);
        EXPECT_FALSE(ec) << ec.message();
        JW_CO_REQUIRE(replies.size() == 100u);
        EXPECT_EQ(replies.back(), redis::reply{std::int64_t{100}});
    }()), 10s);
}

TEST_F(RedisTlsTest, AServerWhoseCertificateItDoesNotTrustIsRefusedWithTheReason)
{
    auto s = tls_settings("other.crt");
    s.when_disconnected = redis::on_disconnected::fail_fast;
    redis::connection conn{ioc.get_executor(), s};
    run_coroutine_test(ioc, while_running(conn, [&]() -> asio::awaitable<void> {
        co_await eventually([&] { return conn.health().last_error == redis::error::tls_failed; });
        EXPECT_FALSE(conn.health().connected);
        EXPECT_NE(conn.health().last_error_text.find("TLS handshake"), std::string::npos)
            << conn.health().last_error_text;
        redis::request req;
        req.push("PING");
        auto [ec, replies] = co_await conn.exec(req);
        EXPECT_EQ(ec, redis::error::not_connected);
    }()), 10s);
}

TEST_F(RedisTlsTest, APlainClientOnTheTlsPortDoesNotConnect)
{
    auto s = tls_settings("server.crt");
    s.tls = false;
    s.connect_timeout = 500ms;
    redis::connection conn{ioc.get_executor(), s};
    run_coroutine_test(ioc, while_running(conn, [&]() -> asio::awaitable<void> {
        co_await eventually([&] { return conn.health().failed_attempts >= 1; });
        EXPECT_FALSE(conn.health().connected);
    }()), 10s);
}

}  // namespace
}  // namespace jobwatch::test
