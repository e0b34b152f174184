#ifndef JOBWATCH_TESTS_REDIS_REDIS_SUPPORT_HPP
#define JOBWATCH_TESTS_REDIS_REDIS_SUPPORT_HPP

// Helpers of the Redis client tests that talk to a real redis-server.

#include "core/test_support.hpp"
#include "redis/redis_server.hpp"

#include <jobwatch/redis/connection.hpp>
#include <jobwatch/redis/subscriber.hpp>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/assert/source_location.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <string>

// ASSERT_* returns, which a coroutine cannot: this one co_returns.
#define JW_CO_REQUIRE(cond)                                                                        \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            ADD_FAILURE() << "required: " #cond;                                                   \
            co_return;                                                                             \
        }                                                                                          \
    } while (0)

namespace jobwatch::test {

using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;

/// Settings for a test server: fast reconnects, a fixed jitter seed.
inline redis::settings test_settings(redis_server const& srv)
{
    return redis::settings{
        .host = "127.0.0.1",
        .port = srv.port(),
        .connect_timeout = 2s,
        .reconnect_base = 5ms,
        .reconnect_max = 100ms,
        .seed = 1,
        .health_interval = 100ms,
        .ping_timeout = 5s,
    };
}

// GCC 12 frees an aggregate temporary (`redis::status{"OK"}`) that lives in
// a full-expression holding a co_await from a wrong address (a bad free;
// clang is fine). So a co_await expression in these tests never holds one:
// status replies are made by `status_reply()`, and GoogleTest assertions,
// whose macros hide such temporaries, take values awaited beforehand. The
// helpers below assert themselves.

/// A status reply (`+OK`), made outside any co_await expression.
inline redis::reply status_reply(std::string text)
{
    return redis::reply{redis::status{std::move(text)}};
}

/// Awaits `pred` (a coroutine, which may talk to Redis) every 5 ms until it
/// holds; fails the test at the caller's line if `timeout` passes first.
/// Returns whether it held.
inline asio::awaitable<bool> eventually_async(std::function<asio::awaitable<bool>()> pred,
                                              std::chrono::milliseconds timeout = 5s,
                                              boost::source_location where = BOOST_CURRENT_LOCATION)
{
    auto const deadline = std::chrono::steady_clock::now() + timeout;
    detail::tuple_timer t{co_await asio::this_coro::executor};
    for (;;) {
        bool const held = co_await pred();
        if (held)
            co_return true;
        if (std::chrono::steady_clock::now() >= deadline) {
            ADD_FAILURE_AT(where.file_name(), static_cast<int>(where.line()))
                << "the condition did not hold within " << timeout.count() << " ms";
            co_return false;
        }
        t.expires_after(5ms);
        co_await t.async_wait();
    }
}

/// Polls `pred` every 5 ms until it holds; fails the test at the caller's
/// line if `timeout` passes first. Returns whether it held.
inline asio::awaitable<bool> eventually(std::function<bool()> pred,
                                        std::chrono::milliseconds timeout = 5s,
                                        boost::source_location where = BOOST_CURRENT_LOCATION)
{
    co_return co_await eventually_async([&pred]() -> asio::awaitable<bool> { co_return pred(); },
                                        timeout, where);
}

/// Runs one command and returns its reply; a transport error fails the test
/// and comes back as an error reply naming it.
template <class... Args>
asio::awaitable<redis::reply> command(redis::connection& conn, std::string_view name,
                                      Args const&... args)
{
    redis::request req;
    req.push(name, args...);
    auto [ec, replies] = co_await conn.exec(req);
    if (ec && ec != redis::error::reply_error) {
        ADD_FAILURE() << name << ": " << ec.message();
        co_return redis::reply{redis::error_reply{"test: " + ec.message()}};
    }
    co_return std::move(replies.at(0));
}

/// Runs one command and expects `expected` as its reply (failing at the caller's line).
template <class... Args>
asio::awaitable<redis::reply> expect_command(redis::connection& conn, redis::reply expected,
                                             std::string_view name, Args const&... args)
{
    auto got = co_await command(conn, name, args...);
    EXPECT_EQ(got, expected) << name;
    co_return got;
}

/// An integer field of INFO (`blocked_clients`, `connected_clients`), or -1.
inline asio::awaitable<std::int64_t> info_field(redis::connection& conn, std::string_view field)
{
    auto const r = co_await command(conn, "INFO", "clients");
    auto const text = r.string().value_or("");
    auto const key = std::string(field) + ":";
    auto pos = text.find(key);
    if (pos == std::string_view::npos)
        co_return -1;
    pos += key.size();
    auto const end = text.find('\r', pos);
    co_return redis::reply{std::string(text.substr(pos, end - pos))}.to_integer().value_or(-1);
}

/// A fixture: a real redis-server and an io_context for one test.
class redis_test : public ::testing::Test
{
protected:
    redis_server srv;
    asio::io_context ioc;
};

/// Runs `body` while `client.run()` runs; when `body` ends, `run()` is cancelled and awaited.
template <class Client>
asio::awaitable<void> while_running(Client& client, asio::awaitable<void> body)
{
    co_await (std::move(body) || client.run());
}

/** @brief A TCP server on 127.0.0.1 that is not Redis: it accepts every
    connection and serves each in a coroutine of its own. By default it
    answers the first read with `answer` (nothing if empty), then reads and
    discards forever: for timeouts and protocol errors. */
class fake_server
{
public:
    /// Serves one accepted connection; `n` counts the connections, from 1.
    using serve_fn = std::function<asio::awaitable<void>(asio::ip::tcp::socket sock, std::size_t n)>;

    fake_server(asio::any_io_executor ex, std::string answer)
        : fake_server(std::move(ex), [answer = std::move(answer)](asio::ip::tcp::socket sock, std::size_t) {
              return answer_then_discard(std::move(sock), answer);
          })
    {
    }

    fake_server(asio::any_io_executor ex, serve_fn serve)
        : acceptor_(ex, {asio::ip::make_address("127.0.0.1"), 0}), serve_(std::move(serve))
    {
    }

    std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
    std::size_t accepted() const noexcept { return accepted_; }

    /// Accepts until cancelled; the connections live in their own coroutines.
    asio::awaitable<void> run()
    {
        for (;;) {
            auto [ec, sock] = co_await acceptor_.async_accept(detail::use_tuple);
            if (ec)
                co_return;
            ++accepted_;
            asio::co_spawn(acceptor_.get_executor(), serve_(std::move(sock), accepted_), asio::detached);
        }
    }

private:
    static asio::awaitable<void> answer_then_discard(asio::ip::tcp::socket sock, std::string answer)
    {
        char buf[4096];
        bool answered = answer.empty();
        for (;;) {
            auto [ec, n] = co_await sock.async_read_some(asio::buffer(buf), detail::use_tuple);
            if (ec)
                co_return;
            if (!answered) {
                answered = true;
                co_await asio::async_write(sock, asio::buffer(answer), detail::use_tuple);
            }
        }
    }

    asio::ip::tcp::acceptor acceptor_;
    serve_fn serve_;
    std::size_t accepted_ = 0;
};

/// Waits until Redis counts `n` clients blocked (in BLPOP, XREAD BLOCK...).
inline asio::awaitable<bool>
wait_blocked_clients(redis::connection& admin, std::int64_t n,
                     boost::source_location where = BOOST_CURRENT_LOCATION)
{
    co_return co_await eventually_async(
        [&]() -> asio::awaitable<bool> {
            auto const blocked = co_await info_field(admin, "blocked_clients");
            co_return blocked == n;
        },
        5s, where);
}

}  // namespace jobwatch::test

#endif
