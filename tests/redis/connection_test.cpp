// Test that the header is self-contained.
#include <jobwatch/redis/connection.hpp>

#include "redis/redis_support.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/system/system_error.hpp>

#include <gtest/gtest.h>

#include <exception>
#include <stdexcept>
#include <memory>
#include <string>
#include <vector>

namespace jobwatch::test {
namespace {

using RedisConnectionTest = redis_test;  // a real redis-server and an io_context per test

using namespace std::string_literals;
using redis::error;
using redis::reply;
using redis::request;
using arr = reply::array_type;

// A coroutine started in the background; the test waits on `done` with a deadline.
struct background
{
    bool done = false;
    boost::system::error_code ec;
    std::vector<reply> replies;
};

void start_exec(redis::connection& conn, request const& req, background& out,
                asio::cancellation_signal* cancel = nullptr)
{
    auto op = [&conn, &req, &out]() -> asio::awaitable<void> {
        auto [ec, replies] = co_await conn.exec(req);
        out.ec = ec;
        out.replies = std::move(replies);
        out.done = true;
    };
    if (cancel)
        asio::co_spawn(conn.get_executor(), op,
                       asio::bind_cancellation_slot(cancel->slot(), asio::detached));
    else
        asio::co_spawn(conn.get_executor(), op, asio::detached);
}

// The example of docs/redis.md, compiled and run here.
// [snippet:redis-append]
// Appends events to a Redis Stream in one request: one write, one reply per XADD.
asio::awaitable<boost::system::error_code> append(redis::connection& conn,
                                                  std::vector<std::string> const& events)
{
    redis::request req;
    for (auto const& e : events)
        req.push("XADD", "jobwatch:events", "MAXLEN", "~", 1'000'000, "*", "e", e);
    auto [ec, ids] = co_await conn.exec(req);
    if (ec == redis::error::connection_lost) {
        // Written, then the connection dropped: the first ids.size() XADDs are in
        // the stream, the others may or may not be. Retrying may add them twice.
    }
    co_return ec;
}
// [end:redis-append]

TEST_F(RedisConnectionTest, TheDocsExampleRuns)
{
    auto const url = "redis://127.0.0.1:" + std::to_string(srv.port()) + "/2";
    std::vector<std::string> const events{R"({"type":"job.started"})", R"({"type":"job.completed"})"};
    run_coroutine_test(ioc, [&]() -> asio::awaitable<void> {
        // [snippet:redis-setup]
        redis::settings s{.client_name = "jobwatch-ingest"};
        std::string reason;
        if (auto ec = redis::parse_url(url, s, &reason))
            throw std::invalid_argument("cluster.redis_url: " + reason);
        redis::connection conn{co_await asio::this_coro::executor, s};
        // run() keeps the connection up until cancelled: here, until append() is done.
        auto done = co_await (conn.run() || append(conn, events));
        // [end:redis-setup]
        JW_CO_REQUIRE(done.index() == 1);
        EXPECT_FALSE(std::get<1>(done));
        redis::connection check{co_await asio::this_coro::executor, s};
        co_await while_running(check, [&]() -> asio::awaitable<void> {
            co_await expect_command(check, reply{std::int64_t{2}}, "XLEN", "jobwatch:events");
        }());
    }(), 10s);
}

TEST_F(RedisConnectionTest, EveryReplyTypeComesBack)
{
    redis::connection conn{ioc.get_executor(), test_settings(srv)};
    run_coroutine_test(ioc, while_running(conn, [&]() -> asio::awaitable<void> {
        request req;
        req.push("SET", "bin", "a\0\r\nb"s)         // status
            .push("GET", "bin")                     // bulk string, binary safe
            .push("GET", "missing")                 // nil
            .push("INCRBY", "n", 41)                // integer
            .push("RPUSH", "l", "x", "", "z")       // integer
            .push("LRANGE", "l", 0, -1)             // array, with an empty string
            .push("LRANGE", "missing", 0, -1)       // empty array
            .push("EVAL", "return {1, {'a', {2}}, redis.status_reply('S')}", 0)  // nested
            .push("PING");
        auto [ec, r] = co_await conn.exec(req);
        EXPECT_FALSE(ec) << ec.message();
        JW_CO_REQUIRE(r.size() == req.size());
        EXPECT_EQ(r[0], status_reply("OK"));
        EXPECT_EQ(r[1], reply{"a\0\r\nb"s});
        EXPECT_EQ(r[2], reply{});
        EXPECT_EQ(r[3], reply{std::int64_t{41}});
        EXPECT_EQ(r[4], reply{std::int64_t{3}});
        EXPECT_EQ(r[5], (reply{arr{reply{"x"s}, reply{""s}, reply{"z"s}}}));
        EXPECT_EQ(r[6], reply{arr{}});
        EXPECT_EQ(r[7], (reply{arr{reply{std::int64_t{1}},
                                   reply{arr{reply{"a"s}, reply{arr{reply{std::int64_t{2}}}}}},
                                   status_reply("S")}}));
        EXPECT_EQ(r[8], status_reply("PONG"));
    }()), 10s);
}

TEST_F(RedisConnectionTest, ErrorRepliesMarkTheRequestAndKeepEveryReply)
{
    redis::connection conn{ioc.get_executor(), test_settings(srv)};
    run_coroutine_test(ioc, while_running(conn, [&]() -> asio::awaitable<void> {
        request req;
        req.push("SET", "s", "text").push("INCR", "s").push("NOSUCHCOMMAND").push("GET", "s");
        auto [ec, r] = co_await conn.exec(req);
        EXPECT_EQ(ec, error::reply_error);
        JW_CO_REQUIRE(r.size() == 4u);
        EXPECT_FALSE(r[0].is_error());
        EXPECT_TRUE(r[1].error_message().starts_with("ERR value is not an integer")) << r[1];
        EXPECT_TRUE(r[2].error_message().starts_with("ERR unknown command")) << r[2];
        EXPECT_EQ(r[3], reply{"text"s}) << "the commands after an error still run";
        // The connection is fine afterwards.
        co_await expect_command(conn, status_reply("PONG"), "PING");
    }()), 10s);
}

TEST_F(RedisConnectionTest, PipelinesTenThousandCommandsInOneRequest)
{
    redis::connection conn{ioc.get_executor(), test_settings(srv)};
    run_coroutine_test(ioc, while_running(conn, [&]() -> asio::awaitable<void> {
        constexpr int n = 10'000;
        request req;
        for (int i = 0; i < n; ++i)
            req.push("INCR", "counter");
        auto [ec, r] = co_await conn.exec(req);
        EXPECT_FALSE(ec) << ec.message();
        JW_CO_REQUIRE(r.size() == static_cast<std::size_t>(n));
        for (int i = 0; i < n; ++i)
            if (r[i].to_integer() != i + 1) {
                ADD_FAILURE() << "reply " << i << " is " << r[i];
                break;
            }
    }()), 30s);
}

TEST_F(RedisConnectionTest, ConcurrentExecsArePipelinedAndAnsweredInOrder)
{
    redis::connection conn{ioc.get_executor(), test_settings(srv)};
    constexpr int workers = 200;
    constexpr int per_worker = 50;
    run_coroutine_test(ioc, while_running(conn, [&]() -> asio::awaitable<void> {
        int finished = 0;
        int bad = 0;
        for (int w = 0; w < workers; ++w)
            asio::co_spawn(
                ioc,
                [&, w]() -> asio::awaitable<void> {
                    auto const key = "worker:" + std::to_string(w);
                    for (int i = 1; i <= per_worker; ++i) {
                        request req;
                        req.push("INCR", key).push("INCR", "total");
                        auto [ec, r] = co_await conn.exec(req);
                        // Each caller gets its own replies: its key counts 1, 2, 3...
                        if (ec || r.size() != 2 || r[0].to_integer() != i)
                            ++bad;
                    }
                    ++finished;
                },
                asio::detached);
        co_await eventually([&] { return finished == workers; }, 20s);
        EXPECT_EQ(bad, 0);
        auto const total = co_await command(conn, "GET", "total");
        EXPECT_EQ(total.to_integer(), workers * per_worker);
    }()), 30s);
}

TEST_F(RedisConnectionTest, EmptyAndPubsubRequestsNeverReachTheServer)
{
    redis::connection conn{ioc.get_executor(), test_settings(srv)};
    run_coroutine_test(ioc, while_running(conn, [&]() -> asio::awaitable<void> {
        auto [ec, r] = co_await conn.exec(request{});
        EXPECT_FALSE(ec);
        EXPECT_TRUE(r.empty());
        request sub;
        sub.push("SUBSCRIBE", "ch");
        auto [ec2, r2] = co_await conn.exec(sub);
        EXPECT_EQ(ec2, error::invalid_request);
        co_await expect_command(conn, status_reply("PONG"), "PING");
    }()), 10s);
}

TEST(RedisAuthTest, AuthenticatesWithThePasswordAndNeverLogsIt)
{
    redis_server srv{{.password = "s3cret-pw"}};
    asio::io_context ioc;
    log_capture logs;
    auto s = test_settings(srv);
    s.password = "s3cret-pw";
    redis::connection conn{ioc.get_executor(), s, logs.get()};
    run_coroutine_test(ioc, while_running(conn, [&]() -> asio::awaitable<void> {
        co_await expect_command(conn, status_reply("OK"), "SET", "k", "v");
        EXPECT_TRUE(conn.health().connected);
    }()), 10s);
    EXPECT_TRUE(logs.contains("connected"));
    EXPECT_FALSE(logs.contains("s3cret-pw"));
}

TEST(RedisAuthTest, AWrongOrMissingPasswordIsRefusedAndRetried)
{
    redis_server srv{{.password = "right"}};
    for (std::string const password : {"wrong", ""}) {
        asio::io_context ioc;
        log_capture logs;
        auto s = test_settings(srv);
        s.password = password;
        s.when_disconnected = redis::on_disconnected::fail_fast;
        redis::connection conn{ioc.get_executor(), s, logs.get()};
        run_coroutine_test(ioc, while_running(conn, [&]() -> asio::awaitable<void> {
            // Retried with backoff: several attempts, each refused.
            co_await eventually([&] { return conn.health().failed_attempts >= 3; });
            auto const h = conn.health();
            EXPECT_FALSE(h.connected);
            EXPECT_EQ(h.last_error, error::auth_failed) << h.last_error.message();
            EXPECT_FALSE(h.last_error_text.empty());
            auto [ec, r] = co_await conn.exec(request{}.push("PING"));
            EXPECT_EQ(ec, error::not_connected) << "fail_fast while refused";
        }()), 10s);
        EXPECT_TRUE(logs.contains(password.empty() ? "NOAUTH" : "AUTH refused")) << password;
        if (!password.empty()) {
            EXPECT_FALSE(logs.contains(password));
        }
    }
}

TEST_F(RedisConnectionTest, AuthenticatesAnAclUser)
{
    redis::connection admin{ioc.get_executor(), test_settings(srv)};
    auto s = test_settings(srv);
    s.username = "alice";
    s.password = "alice-pw";
    s.client_name = "jobwatch-test";
    redis::connection alice{ioc.get_executor(), s};
    run_coroutine_test(ioc, while_running(admin, [&]() -> asio::awaitable<void> {
        co_await expect_command(admin, status_reply("OK"), "ACL", "SETUSER", "alice", "on", ">alice-pw", "~*", "+@all");
        co_await while_running(alice, [&]() -> asio::awaitable<void> {
            co_await expect_command(alice, reply{"alice"s}, "ACL", "WHOAMI");
            co_await expect_command(alice, reply{"jobwatch-test"s}, "CLIENT", "GETNAME");
        }());
    }()), 10s);
}

TEST_F(RedisConnectionTest, SelectsTheDatabase)
{
    auto s3 = test_settings(srv);
    s3.database = 3;
    redis::connection db0{ioc.get_executor(), test_settings(srv)};
    redis::connection db3{ioc.get_executor(), s3};
    run_coroutine_test(ioc, while_running(db0, while_running(db3, [&]() -> asio::awaitable<void> {
        co_await expect_command(db3, status_reply("OK"), "SET", "where", "three");
        co_await expect_command(db3, reply{"three"s}, "GET", "where");
        co_await expect_command(db0, reply{}, "GET", "where");  // db 0 does not see it
        co_await expect_command(db0, status_reply("OK"), "SELECT", 3);
        co_await expect_command(db0, reply{"three"s}, "GET", "where");
    }())), 10s);
}

TEST_F(RedisConnectionTest, XreadBlockRunsOnADedicatedConnection)
{
    redis::connection writer{ioc.get_executor(), test_settings(srv)};
    // Its only caller blocks; its PINGs wait behind the block, so their timeout is longer.
    auto reader_settings = test_settings(srv);
    reader_settings.ping_timeout = 30s;
    redis::connection reader{ioc.get_executor(), reader_settings};
    run_coroutine_test(ioc, while_running(writer, while_running(reader, [&]() -> asio::awaitable<void> {
        request xread;
        xread.push("XREAD", "COUNT", 10, "BLOCK", 5000, "STREAMS", "events", "$");
        background got;
        start_exec(reader, xread, got);
        // The reader is blocked in Redis; the writer's connection is not.
        co_await wait_blocked_clients(writer, 1);
        auto const id = co_await command(writer, "XADD", "events", "*", "type", "job.started");
        JW_CO_REQUIRE(id.string().has_value());
        co_await eventually([&] { return got.done; });
        EXPECT_FALSE(got.ec) << got.ec.message();
        JW_CO_REQUIRE(got.replies.size() == 1u);
        auto const expected = reply{arr{reply{arr{
            reply{"events"s},
            reply{arr{reply{arr{reply{std::string(*id.string())},
                                reply{arr{reply{"type"s}, reply{"job.started"s}}}}}}}}}}};
        EXPECT_EQ(got.replies[0], expected);

        // A block that times out answers nil.
        request again;
        again.push("XREAD", "BLOCK", 50, "STREAMS", "events", *id.string());
        auto [ec, r] = co_await reader.exec(again);
        EXPECT_FALSE(ec);
        JW_CO_REQUIRE(r.size() == 1u);
        EXPECT_TRUE(r[0].is_nil()) << r[0];
    }())), 15s);
}

TEST_F(RedisConnectionTest, ReconnectsAfterRedisIsKilledAndRestarted)
{
    log_capture logs;
    redis::connection conn{ioc.get_executor(), test_settings(srv), logs.get()};
    redis::connection admin{ioc.get_executor(), test_settings(srv)};
    run_coroutine_test(ioc, while_running(conn, while_running(admin, [&]() -> asio::awaitable<void> {
        co_await expect_command(conn, status_reply("OK"), "SET", "before", "1");
        // A command in flight when Redis dies: BLPOP blocks until then.
        request blpop;
        blpop.push("BLPOP", "never", 0);
        background in_flight;
        start_exec(conn, blpop, in_flight);
        co_await wait_blocked_clients(admin, 1);
        srv.kill();
        co_await eventually([&] { return in_flight.done; });
        EXPECT_EQ(in_flight.ec, error::connection_lost) << in_flight.ec.message();
        co_await eventually([&] { return !conn.health().connected; });

        // A request made while Redis is down waits (the default policy)...
        request ping;
        ping.push("PING");
        background waiting;
        start_exec(conn, ping, waiting);
        srv.start();
        // ...and completes once the connection is back, by itself.
        co_await eventually([&] { return waiting.done; });
        EXPECT_FALSE(waiting.ec) << waiting.ec.message();
        co_await expect_command(conn, status_reply("OK"), "SET", "after", "1");
        auto const h = conn.health();
        EXPECT_TRUE(h.connected);
        EXPECT_EQ(h.reconnects, 1u);
        EXPECT_EQ(h.failed_attempts, 0u);
        EXPECT_TRUE(h.last_error) << "the cause of the drop is kept";
    }())), 20s);
    EXPECT_TRUE(logs.contains("connection lost"));
}

TEST_F(RedisConnectionTest, QueueBoundHoldsWhileDisconnected)
{
    srv.kill();  // its port is free: nothing answers there
    auto s = test_settings(srv);
    s.max_queued_requests = 3;
    redis::connection conn{ioc.get_executor(), s};
    run_coroutine_test(ioc, while_running(conn, [&]() -> asio::awaitable<void> {
        request ping;
        ping.push("PING");
        background waiting[3];
        for (auto& w : waiting)
            start_exec(conn, ping, w);
        co_await eventually([&] { return conn.health().queued == 3; });
        auto [ec, r] = co_await conn.exec(ping);
        EXPECT_EQ(ec, error::queue_full);
        EXPECT_EQ(conn.health().queued, 3u);
        co_await eventually([&] { return conn.health().failed_attempts >= 1; });
        srv.start();
        co_await eventually([&] {
            return waiting[0].done && waiting[1].done && waiting[2].done;
        });
        for (auto const& w : waiting) {
            EXPECT_FALSE(w.ec) << w.ec.message();
            EXPECT_EQ(w.replies, std::vector<reply>{status_reply("PONG")});
        }
    }()), 20s);
}

TEST_F(RedisConnectionTest, FailFastRefusesWhileDisconnected)
{
    srv.kill();
    auto s = test_settings(srv);
    s.when_disconnected = redis::on_disconnected::fail_fast;
    redis::connection conn{ioc.get_executor(), s};
    run_coroutine_test(ioc, while_running(conn, [&]() -> asio::awaitable<void> {
        request ping;
        ping.push("PING");
        auto [ec, r] = co_await conn.exec(ping);
        EXPECT_EQ(ec, error::not_connected);
        srv.start();
        co_await eventually([&] { return conn.health().connected; });
        auto [ec2, r2] = co_await conn.exec(ping);
        EXPECT_FALSE(ec2) << ec2.message();
    }()), 20s);
}

TEST_F(RedisConnectionTest, CancellingExecKeepsRepliesInStep)
{
    redis::connection conn{ioc.get_executor(), test_settings(srv)};
    redis::connection admin{ioc.get_executor(), test_settings(srv)};
    run_coroutine_test(ioc, while_running(conn, while_running(admin, [&]() -> asio::awaitable<void> {
        co_await expect_command(admin, status_reply("OK"), "SET", "k", "mine");
        // Given up while in flight (blocked in Redis).
        request blpop;
        blpop.push("BLPOP", "list", 0);
        asio::cancellation_signal cancel;
        background given_up;
        start_exec(conn, blpop, given_up, &cancel);
        co_await wait_blocked_clients(admin, 1);
        cancel.emit(asio::cancellation_type::terminal);
        co_await eventually([&] { return given_up.done; });
        EXPECT_EQ(given_up.ec, asio::error::operation_aborted);
        EXPECT_EQ(conn.health().in_flight, 1u) << "its reply is still to come";
        // Its reply comes later, and is dropped: the next request gets its own.
        co_await expect_command(admin, reply{std::int64_t{1}}, "RPUSH", "list", "x");
        co_await expect_command(conn, reply{"mine"s}, "GET", "k");
        EXPECT_EQ(conn.health().in_flight, 0u);

        // Given up while queued (the connection is down): never written.
        srv.kill();
        co_await eventually([&] { return !conn.health().connected; });
        request incr;
        incr.push("INCR", "never-applied");
        background queued;
        start_exec(conn, incr, queued, &cancel);
        co_await eventually([&] { return conn.health().queued == 1; });
        cancel.emit(asio::cancellation_type::terminal);
        co_await eventually([&] { return queued.done; });
        EXPECT_EQ(queued.ec, asio::error::operation_aborted);
        EXPECT_EQ(conn.health().queued, 0u) << "the queue forgot it";
        srv.start();
        co_await expect_command(conn, reply{}, "GET", "never-applied");
    }())), 20s);
}

TEST(RedisRunCancellationTest, CancellingRunEndsEverythingPromptly)
{
    redis_server srv;
    for (auto const type : {asio::cancellation_type::total, asio::cancellation_type::terminal}) {
        asio::io_context ioc;
        auto s = test_settings(srv);
        s.max_in_flight_requests = 1;  // BLPOP in flight, the rest queued behind it
        redis::connection conn{ioc.get_executor(), s};
        redis::connection admin{ioc.get_executor(), test_settings(srv)};
        asio::cancellation_signal stop;
        bool run_ended = false;
        asio::co_spawn(ioc, conn.run(),
                       asio::bind_cancellation_slot(stop.slot(), [&](std::exception_ptr e) {
                           EXPECT_FALSE(e);
                           run_ended = true;
                       }));
        run_coroutine_test(ioc, while_running(admin, [&]() -> asio::awaitable<void> {
            request blpop;
            blpop.push("BLPOP", "never", 0);
            request ping;
            ping.push("PING");
            background in_flight, queued;
            start_exec(conn, blpop, in_flight);
            start_exec(conn, ping, queued);
            co_await wait_blocked_clients(admin, 1);
            EXPECT_EQ(conn.health().queued, 1u);

            auto const t0 = std::chrono::steady_clock::now();
            stop.emit(type);
            co_await eventually([&] { return run_ended; }, 1s);
            EXPECT_LT(std::chrono::steady_clock::now() - t0, 500ms);
            co_await eventually([&] { return in_flight.done && queued.done; }, 1s);
            EXPECT_EQ(in_flight.ec, error::connection_lost);
            EXPECT_EQ(queued.ec, error::not_connected);
            auto [ec, r] = co_await conn.exec(ping);
            EXPECT_EQ(ec, error::not_connected) << "nothing waits for a run() that ended";
            EXPECT_FALSE(conn.health().connected);
        }()), 10s);
        EXPECT_TRUE(run_ended);
    }
}

TEST_F(RedisConnectionTest, CancellingRunWhileRedisIsDownEndsPromptly)
{
    srv.kill();
    auto s = test_settings(srv);
    s.reconnect_base = 5s;  // the run is waiting out a long backoff
    s.reconnect_max = 5s;
    redis::connection conn{ioc.get_executor(), s};
    run_coroutine_test(ioc, while_running(conn, [&]() -> asio::awaitable<void> {
        co_await eventually([&] { return conn.health().failed_attempts >= 1; });
    }()), 2s);
}

TEST_F(RedisConnectionTest, HealthReportsTheRoundTrip)
{
    auto s = test_settings(srv);
    s.health_interval = 20ms;
    redis::connection conn{ioc.get_executor(), s};
    EXPECT_FALSE(conn.health().connected);
    run_coroutine_test(ioc, while_running(conn, [&]() -> asio::awaitable<void> {
        co_await eventually([&] { return conn.health().last_rtt.has_value(); });
        auto const h = conn.health();
        EXPECT_TRUE(h.connected);
        EXPECT_GT(*h.last_rtt, std::chrono::nanoseconds::zero());
        EXPECT_LT(*h.last_rtt, 1s);
        EXPECT_EQ(h.reconnects, 0u);
        EXPECT_FALSE(h.last_error);
    }()), 10s);
}

TEST(RedisFaultTest, AnUnansweredPingClosesAndReconnects)
{
    asio::io_context ioc;
    // Answers the handshake's PING, then never again.
    fake_server silent{ioc.get_executor(), "+PONG\r\n"};
    redis::settings s{.port = silent.port(),
                      .reconnect_base = 5ms,
                      .reconnect_max = 20ms,
                      .seed = 1,
                      .health_interval = 20ms,
                      .ping_timeout = 100ms};
    redis::connection conn{ioc.get_executor(), s};
    run_coroutine_test(ioc, while_running(silent, while_running(conn, [&]() -> asio::awaitable<void> {
        co_await eventually([&] { return conn.health().reconnects >= 1; });
        EXPECT_EQ(conn.health().last_error, error::ping_timeout);
        EXPECT_GE(silent.accepted(), 2u);
    }())), 10s);
}

// Answers every PING with PONG and closes the connection after `pongs` of them
// (the handshake's included), so that a client that writes all the time loses
// its connection mid-write.
asio::awaitable<void> pong_then_close(asio::ip::tcp::socket sock, std::size_t pongs)
{
    static constexpr std::string_view ping = "PING\r\n";
    std::string seen;  // unmatched bytes: a PING may come in two reads
    char buf[4096];
    for (;;) {
        auto [ec, n] = co_await sock.async_read_some(asio::buffer(buf), detail::use_tuple);
        if (ec)
            co_return;
        seen.append(buf, n);
        std::string out;
        for (auto pos = seen.find(ping); pos != std::string::npos; pos = seen.find(ping)) {
            seen.erase(0, pos + ping.size());
            out += "+PONG\r\n";
        }
        if (seen.size() > ping.size())
            seen.erase(0, seen.size() - ping.size());
        auto const k = std::min(pongs, out.size() / 7);
        pongs -= k;
        co_await asio::async_write(sock, asio::buffer(out.data(), k * 7), detail::use_tuple);
        if (pongs == 0) {
            boost::system::error_code ignored;
            sock.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
            sock.close(ignored);
            co_return;
        }
    }
}

// A cancellation that reaches a session part while it is not waiting (its last
// write's completion already queued) must still end the session: the writer once
// went back to sleep on its idle timer, the session never ended, and the
// connection stayed "connected" without reading (a cluster instance stopped
// applying the stream after a Redis restart). Hundreds of closes mid-write, each
// one must be followed by a reconnect.
TEST(RedisFaultTest, EveryCloseMidWriteEndsTheSessionAndReconnects)
{
    asio::io_context ioc;
    // 2 to 9 PONGs per connection, varied so that the close falls at different
    // points of the client's writes.
    fake_server server{ioc.get_executor(), [](asio::ip::tcp::socket sock, std::size_t n) {
                           return pong_then_close(std::move(sock), 2 + n % 8);
                       }};
    redis::settings s{.port = server.port(),
                      .reconnect_base = 1ms,
                      .reconnect_max = 2ms,
                      .seed = 7,
                      .health_interval = 1ms};
    logger quiet{.lvl = logger::level::error};  // a warning per close would flood the output
    redis::connection conn{ioc.get_executor(), s, quiet};
    bool stop = false;
    auto writer = [&]() -> asio::awaitable<void> {
        request ping;
        ping.push("PING");
        while (!stop)
            (void)co_await conn.exec(ping);  // answered, or lost with the connection
    };
    for (int i = 0; i < 8; ++i)
        asio::co_spawn(ioc, writer, asio::detached);
    run_coroutine_test(ioc, while_running(server, while_running(conn, [&]() -> asio::awaitable<void> {
        bool const held = co_await eventually([&] { return server.accepted() >= 5000; }, 60s);
        EXPECT_TRUE(held) << "stuck after " << server.accepted() << " connections; connected "
                          << conn.health().connected;
        stop = true;
    }())), 90s);
    ioc.run_for(100ms);  // the writers see `stop` or the end of run()
}

TEST(RedisFaultTest, ASilentServerTimesTheHandshakeOut)
{
    asio::io_context ioc;
    fake_server silent{ioc.get_executor(), ""};
    redis::settings s{.port = silent.port(),
                      .connect_timeout = 100ms,
                      .reconnect_base = 5ms,
                      .reconnect_max = 20ms,
                      .when_disconnected = redis::on_disconnected::fail_fast};
    redis::connection conn{ioc.get_executor(), s};
    run_coroutine_test(ioc, while_running(silent, while_running(conn, [&]() -> asio::awaitable<void> {
        co_await eventually([&] { return conn.health().failed_attempts >= 2; });
        EXPECT_EQ(conn.health().last_error, error::connect_timeout);
        EXPECT_FALSE(conn.health().connected);
    }())), 10s);
}

TEST(RedisFaultTest, AServerThatIsNotRedisIsAProtocolError)
{
    asio::io_context ioc;
    fake_server http{ioc.get_executor(), "HTTP/1.1 400 Bad Request\r\n\r\n"};
    redis::settings s{.port = http.port(), .reconnect_base = 5ms, .reconnect_max = 20ms};
    redis::connection conn{ioc.get_executor(), s};
    run_coroutine_test(ioc, while_running(http, while_running(conn, [&]() -> asio::awaitable<void> {
        co_await eventually([&] { return conn.health().failed_attempts >= 1; });
        EXPECT_EQ(conn.health().last_error, error::protocol);
        EXPECT_NE(conn.health().last_error_text.find("protocol"), std::string::npos);
    }())), 10s);
}

TEST(RedisFaultTest, RunRefusesInvalidSettingsAndFailsWaitingCallers)
{
    asio::io_context ioc;
    redis::connection conn{ioc.get_executor(), redis::settings{.max_in_flight_requests = 0}};
    run_coroutine_test(ioc, [&]() -> asio::awaitable<void> {
        try {
            co_await conn.run();
            ADD_FAILURE() << "run() should throw";
        } catch (boost::system::system_error const& e) {
            EXPECT_EQ(e.code(), error::invalid_settings);
            EXPECT_NE(std::string(e.what()).find("max_in_flight_requests"), std::string::npos);
        }
        auto [ec, r] = co_await conn.exec(request{}.push("PING"));
        EXPECT_EQ(ec, error::not_connected);
    }());
}

}  // namespace
}  // namespace jobwatch::test
