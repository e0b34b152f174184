// The WebSocket protocol over Beast's test stream: the same session code as
// on a socket (sessions are templated on their stream), no network, no
// threads, every step run to completion on one io_context.
#include <jobwatch/api/jobs.hpp>
#include <jobwatch/components/aggregator.hpp>
#include <jobwatch/gateway/http_connection.hpp>

#include <boost/beast/_experimental/test/stream.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace {

using namespace jobwatch;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
using test_stream = beast::test::stream;

/// A core, the gateway's parts on the core's thread, and one client over a test stream.
struct harness
{
    asio::io_context io;
    core c{io.get_executor(), settings(), logger{.lvl = logger::level::error},
           [] { return time_point{std::chrono::milliseconds{1'714'564'800'000}}; }};
    aggregator agg{c, {}};
    gw::server srv{c, std::make_shared<auth::open_authenticator>()};
    gw::ws_protocol host{srv, *srv.shards.front()};
    websocket::stream<test_stream> client{io};

    static config settings()
    {
        config cfg;
        cfg.gateway.heartbeat_ms = std::chrono::milliseconds{0};
        return cfg;
    }

    harness()
    {
        c.on_room_message([this](room_message const& m) { srv.fan.on_room_message(m); });
        test_stream server_side{io};
        client.next_layer().connect(server_side);
        auto& sh = *srv.shards.front();
        ++srv.accepting;
        asio::co_spawn(io, gw::serve_http(srv, sh, host, std::move(server_side)), asio::detached);
        bool done = false;
        client.async_handshake("test", "/ws", [&](beast::error_code ec) {
            EXPECT_FALSE(ec) << ec.message();
            done = true;
        });
        run_until([&] { return done; });
        EXPECT_EQ(read().at("type"), "welcome");
    }

    template<class Pred>
    void run_until(Pred pred)
    {
        for (int i = 0; i < 10'000 && !pred(); ++i) {
            io.restart();
            if (io.poll() == 0 && !pred())
                break;
        }
        ASSERT_TRUE(pred()) << "the exchange did not complete";
    }

    void send(std::string text, bool binary = false)
    {
        client.binary(binary);
        bool done = false;
        client.async_write(asio::buffer(text), [&](beast::error_code ec, std::size_t) {
            EXPECT_FALSE(ec) << ec.message();
            done = true;
        });
        run_until([&] { return done; });
    }

    /// The next message; an empty object once the connection is closed.
    boost::json::object read()
    {
        beast::flat_buffer b;
        bool done = false;
        beast::error_code err;
        client.async_read(b, [&](beast::error_code ec, std::size_t) {
            err = ec;
            done = true;
        });
        run_until([&] { return done; });
        if (err) {
            last_error = err;
            return {};
        }
        return boost::json::parse(beast::buffers_to_string(b.data())).as_object();
    }

    beast::error_code last_error;
};

TEST(TestStreamProtocolTest, SubscribeThenLiveEventsThenUnsubscribe)
{
    harness h;
    h.send(R"({"type":"subscribe","room":"queue:q","id":"1"})");
    auto const sub = h.read();
    EXPECT_EQ(sub.at("type"), "subscribed");
    EXPECT_EQ(sub.at("id"), "1");
    ASSERT_TRUE(h.c.publish_text(R"({"type":"job.queued","job_id":"j","queue":"q"})"));
    auto const ev = h.read();
    EXPECT_EQ(ev.at("type"), "event");
    EXPECT_EQ(ev.at("room"), "queue:q");
    EXPECT_EQ(ev.at("seq"), 1);
    EXPECT_EQ(ev.at("event").at("job_id"), "j");
    h.send(R"({"type":"unsubscribe","room":"queue:q","id":"2"})");
    EXPECT_EQ(h.read().at("type"), "unsubscribed");
}

TEST(TestStreamProtocolTest, BadInputGetsAnErrorAndTheConnectionStays)
{
    harness h;
    struct row
    {
        std::string text;
        bool binary;
        std::string code;
        std::string path;
    };
    std::vector<row> const table = {
        {"not json", false, "bad_json", ""},
        {"[1,2]", false, "invalid_message", ""},
        {R"({"id":"x"})", false, "invalid_message", "/type"},
        {R"({"type":"dance"})", false, "unknown_type", "/type"},
        {R"({"type":"subscribe","room":"job:a b"})", false, "invalid_message", "/room"},
        {R"({"type":"subscribe"})", false, "invalid_message", ""},
        {R"({"type":"ping"})", true, "invalid_message", ""},
    };
    for (auto const& r : table) {
        h.send(r.text, r.binary);
        auto const m = h.read();
        EXPECT_EQ(m.at("type"), "error") << r.text;
        EXPECT_EQ(m.at("code").as_string(), r.code) << r.text;
        if (!r.path.empty()) {
            EXPECT_EQ(m.at("path").as_string(), r.path) << r.text;
        }
    }
    // The room syntax, not the schema's pattern, explains a bad room name.
    h.send(R"({"type":"subscribe","room":"job:a b"})");
    auto const m = h.read();
    EXPECT_NE(std::string(m.at("message").as_string()).find("job:[tenant/]id"), std::string::npos);
    EXPECT_EQ(std::string(m.at("message").as_string()).find("(?!"), std::string::npos);
    h.send(R"({"type":"ping","id":"p"})");
    EXPECT_EQ(h.read().at("type"), "pong");
}

TEST(TestStreamProtocolTest, ResumeReplaysEachMissedEventOnceThenTheSnapshot)
{
    harness h;
    for (int i = 0; i < 5; ++i)
        ASSERT_TRUE(h.c.publish_text(R"({"type":"job.progress","job_id":"j","queue":"q","percent":)" +
                                     std::to_string(i * 10) + "}"));
    h.send(R"({"type":"subscribe","room":"job:j","since":2,"id":"r"})");
    std::vector<std::int64_t> seqs;
    boost::json::object last;
    for (;;) {
        last = h.read();
        if (last.at("type") != "event")
            break;
        seqs.push_back(last.at("seq").as_int64());
    }
    EXPECT_EQ(seqs, (std::vector<std::int64_t>{3, 4, 5}));
    EXPECT_EQ(last.at("type"), "subscribed");
    EXPECT_EQ(last.at("seq"), 5);
    EXPECT_EQ(last.at("snapshot").at("progress").at("percent"), 40);
}

TEST(TestStreamProtocolTest, PublishAndSubscriptions)
{
    harness h;
    h.send(R"({"type":"subscribe","room":"tenant:acme"})");
    EXPECT_EQ(h.read().at("type"), "subscribed");
    h.send(R"({"type":"publish","id":"p1","event":{"type":"job.queued","job_id":"x","queue":"q","tenant_id":"acme"}})");
    // The event reaches the room; the reply says its seq.
    std::vector<std::string> types;
    for (int i = 0; i < 2; ++i)
        types.emplace_back(h.read().at("type").as_string());
    std::sort(types.begin(), types.end());
    EXPECT_EQ(types, (std::vector<std::string>{"event", "published"}));
    h.send(R"({"type":"subscriptions","id":"s"})");
    auto const subs = h.read();
    EXPECT_EQ(subs.at("type"), "subscriptions");
    EXPECT_EQ(subs.at("rooms").as_array().size(), 1u);
    EXPECT_EQ(subs.at("rooms").at(0).at("room"), "tenant:acme");
}

TEST(TestStreamProtocolTest, AMessageOverTheLimitClosesWith1009)
{
    harness h;
    h.send(R"({"type":"ping","pad":")" + std::string(70'000, 'x') + "\"}");
    auto const m = h.read();
    EXPECT_TRUE(m.empty());
    EXPECT_EQ(h.client.reason().code, websocket::close_code::too_big);
}

}  // namespace
