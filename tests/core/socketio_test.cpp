// Test that the header is self-contained.
#include <jobwatch/socketio/session.hpp>

#include <jobwatch/socketio/engine_io.hpp>
#include <jobwatch/socketio/socket_io.hpp>

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <array>
#include <cctype>
#include <set>
#include <utility>
#include <string>
#include <string_view>
#include <vector>

// The byte strings below come from the examples of the Engine.IO protocol 4
// and Socket.IO protocol 5 specifications, and from their test suites.

namespace {

using namespace jobwatch::socketio;
using namespace std::chrono_literals;
using namespace std::string_literals;

// ---------------------------------------------------------------- Engine.IO

TEST(SocketIoEngineTest, DecodesEveryPacketType)
{
    struct row
    {
        std::string_view text;
        eio::packet_type type;
        std::string_view data;
    };
    std::array<row, 10> const rows{{
        {R"(0{"sid":"lv_VI97HAXpY6yYWAAAC"})", eio::packet_type::open, R"({"sid":"lv_VI97HAXpY6yYWAAAC"})"},
        {"1", eio::packet_type::close, ""},
        {"2", eio::packet_type::ping, ""},
        {"3", eio::packet_type::pong, ""},
        {"4hello", eio::packet_type::message, "hello"},
        {"5", eio::packet_type::upgrade, ""},
        {"6", eio::packet_type::noop, ""},
        {"2probe", eio::packet_type::ping, "probe"},
        {"3probe", eio::packet_type::pong, "probe"},
        {"4€", eio::packet_type::message, "€"},
    }};
    for (auto const& r : rows) {
        auto const p = eio::decode_packet(r.text);
        ASSERT_TRUE(p) << r.text << ": " << p.error;
        EXPECT_EQ(p.packet->type, r.type) << r.text;
        EXPECT_EQ(p.packet->data, r.data) << r.text;
        // And back: the encoder writes the same bytes.
        EXPECT_EQ(eio::encode_packet(r.type, r.data), r.text);
    }
}

TEST(SocketIoEngineTest, RefusesEmptyUnknownAndBinaryPackets)
{
    EXPECT_EQ(eio::decode_packet("").error, "empty Engine.IO packet");
    EXPECT_EQ(eio::decode_packet("7").error, "unknown Engine.IO packet type '7'");
    EXPECT_EQ(eio::decode_packet("x1").error, "unknown Engine.IO packet type 'x'");
    EXPECT_EQ(eio::decode_packet("\x01").error, "unknown Engine.IO packet type '?'");
    // The spec's binary example: <01 02 03 04> as base64.
    auto const bin = eio::decode_packet("bAQIDBA==");
    EXPECT_FALSE(bin);
    EXPECT_NE(bin.error.find("binary"), std::string::npos) << bin.error;
}

TEST(SocketIoEngineTest, SplitsPayloadOnRecordSeparator)
{
    auto const r = eio::split_payload("4hello\x1e"
                                      "2\x1e"
                                      "4world",
                                      10);
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, (std::vector<std::string_view>{"4hello", "2", "4world"}));
    // The sample session's POST: two events in one body.
    auto const two = eio::split_payload("42[\"hello\"]\x1e"
                                        "42[\"world\"]",
                                        10);
    ASSERT_TRUE(two);
    EXPECT_EQ(*two, (std::vector<std::string_view>{R"(42["hello"])", R"(42["world"])"}));
    // Records are not decoded here: empty ones are kept for the decoder to refuse.
    EXPECT_EQ(*eio::split_payload("4a\x1e", 10), (std::vector<std::string_view>{"4a", ""}));
    EXPECT_EQ(*eio::split_payload("", 10), (std::vector<std::string_view>{""}));
    // Bounded: no more records than asked for.
    EXPECT_TRUE(eio::split_payload("2\x1e"
                                   "2\x1e"
                                   "2",
                                   3));
    EXPECT_FALSE(eio::split_payload("2\x1e"
                                    "2\x1e"
                                    "2\x1e"
                                    "2",
                                    3));
    EXPECT_FALSE(eio::split_payload(std::string(100'000, '\x1e'), 1000));
}

TEST(SocketIoEngineTest, JoinsPayloadWithRecordSeparator)
{
    std::vector<std::string> const packets{"4hello", "2", "4world"};
    EXPECT_EQ(eio::join_payload(packets), "4hello\x1e"
                                          "2\x1e"
                                          "4world");
    EXPECT_EQ(eio::join_payload(std::vector<std::string>{"6"}), "6");
    EXPECT_EQ(eio::join_payload(std::vector<std::string>{}), "");
    std::string body;
    eio::append_to_payload(body, "4hello");
    EXPECT_EQ(body, "4hello");
    eio::append_to_payload(body, "2");
    EXPECT_EQ(body, "4hello\x1e"
                    "2");
}

TEST(SocketIoEngineTest, EncodesTheOpenPacket)
{
    // The sample session's first response, byte for byte.
    EXPECT_EQ(eio::encode_open({.sid = "lv_VI97HAXpY6yYWAAAC",
                                .can_upgrade = true,
                                .ping_interval = 25'000ms,
                                .ping_timeout = 5'000ms,
                                .max_payload = 1'000'000}),
              R"(0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":5000,"maxPayload":1000000})");
    // A WebSocket session has nothing to upgrade to.
    auto const ws = eio::encode_open({.sid = "a\"b", .can_upgrade = false});
    auto const v = boost::json::parse(std::string_view(ws).substr(1));
    EXPECT_EQ(v.at("sid").as_string(), "a\"b");
    EXPECT_TRUE(v.at("upgrades").as_array().empty());
    EXPECT_EQ(v.at("pingInterval").as_int64(), 25'000);
    EXPECT_EQ(v.at("pingTimeout").as_int64(), 20'000);
    EXPECT_EQ(v.at("maxPayload").as_int64(), 1'000'000);
}

// ---------------------------------------------------------------- Socket.IO packets

TEST(SocketIoParserTest, ParsesTheSpecExamples)
{
    struct row
    {
        std::string_view text;  // without the Engine.IO `4`
        sio::packet_type type;
        std::string_view nsp;
        std::optional<std::uint64_t> id;
        std::string_view data;  // serialized; empty: none
    };
    std::vector<row> const rows{
        {"0", sio::packet_type::connect, "/", {}, ""},
        {R"(0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"})", sio::packet_type::connect, "/admin", {},
         R"({"sid":"oSO0OpakMV_3jnilAAAA"})"},
        {R"(0{"token":"123"})", sio::packet_type::connect, "/", {}, R"({"token":"123"})"},
        {"0/custom,", sio::packet_type::connect, "/custom", {}, ""},
        {"0/random", sio::packet_type::connect, "/random", {}, ""},  // no comma: the namespace runs to the end
        {R"(0/custom,{"token":"abc"})", sio::packet_type::connect, "/custom", {}, R"({"token":"abc"})"},
        {"1", sio::packet_type::disconnect, "/", {}, ""},
        {"1/admin,", sio::packet_type::disconnect, "/admin", {}, ""},
        {R"(2["foo"])", sio::packet_type::event, "/", {}, R"(["foo"])"},
        {R"(2/admin,["bar"])", sio::packet_type::event, "/admin", {}, R"(["bar"])"},
        {R"(212["foo"])", sio::packet_type::event, "/", 12, R"(["foo"])"},
        {R"(2456["message-with-ack",1,"2",{"3":[false]}])", sio::packet_type::event, "/", 456,
         R"(["message-with-ack",1,"2",{"3":[false]}])"},
        {R"(2/admin,1["tellme"])", sio::packet_type::event, "/admin", 1, R"(["tellme"])"},
        {R"(2[42,"numbered"])", sio::packet_type::event, "/", {}, R"([42,"numbered"])"},
        {R"(3/admin,13["bar"])", sio::packet_type::ack, "/admin", 13, R"(["bar"])"},
        {"312[]", sio::packet_type::ack, "/", 12, "[]"},
        {R"(4{"message":"Not authorized"})", sio::packet_type::connect_error, "/", {}, R"({"message":"Not authorized"})"},
    };
    for (auto const& r : rows) {
        auto const p = sio::parse_packet(r.text);
        ASSERT_TRUE(p) << r.text << ": " << p.error;
        EXPECT_EQ(p.packet->type, r.type) << r.text;
        EXPECT_EQ(p.packet->nsp, r.nsp) << r.text;
        EXPECT_EQ(p.packet->id, r.id) << r.text;
        if (r.data.empty())
            EXPECT_FALSE(p.packet->data) << r.text;
        else {
            ASSERT_TRUE(p.packet->data) << r.text;
            EXPECT_EQ(*p.packet->data, boost::json::parse(r.data)) << r.text;
        }
    }
}

TEST(SocketIoParserTest, RefusesMalformedAndBinaryPackets)
{
    struct row
    {
        std::string text;
        std::string_view error_contains;
    };
    std::vector<row> const rows{
        {"", "empty"},
        {"abc", "unknown Socket.IO packet type 'a'"},  // the test suite's "4abc"
        {"7", "unknown Socket.IO packet type '7'"},
        {"2{}", "non-empty JSON array"},  // "42{}"
        {R"(2abc["message-with-ack",1,"2",{"3":[false]}])", "not JSON"},  // invalid ack id
        {"2[]", "non-empty JSON array"},
        {"2", "non-empty JSON array"},
        {R"(2["connect"])", "reserved"},
        {R"(2["disconnect",1])", "reserved"},
        {"2[true]", "must be a string or a number"},
        {R"(2["a"]x)", "not JSON"},
        {"3{}", "ACK payload must be a JSON array"},
        {"3", "ACK payload must be a JSON array"},
        {"1{}", "DISCONNECT packet has no payload"},
        {"0[1]", "CONNECT payload must be a JSON object"},
        {R"(0"x")", "CONNECT payload must be a JSON object"},
        {"4[1]", "CONNECT_ERROR payload must be an object or a string"},
        {R"(012{})", "only EVENT and ACK packets carry an ack id"},
        {R"(29007199254740992["a"])", "ack id larger than 2^53 - 1"},
        {R"(51-["baz",{"_placeholder":true,"num":0}])", "binary packets are not supported"},
        {R"(52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])", "binary packets are not supported"},
        {R"(61-15["bar",{"_placeholder":true,"num":0}])", "binary packets are not supported"},
        {"0/" + std::string(300, 'n') + ",", "namespace longer than 256 bytes"},
    };
    for (auto const& r : rows) {
        auto const p = sio::parse_packet(r.text);
        EXPECT_FALSE(p) << r.text;
        EXPECT_NE(p.error.find(r.error_contains), std::string::npos) << r.text << " -> " << p.error;
    }
    // The largest ack id a JavaScript client can count to is fine.
    auto const big = sio::parse_packet(R"(29007199254740991["a"])");
    ASSERT_TRUE(big) << big.error;
    EXPECT_EQ(big.packet->id, sio::max_ack_id);
}

TEST(SocketIoParserTest, EncodesEveryServerPacket)
{
    // The sample session: `socket.emit('hey', 'Jude')`.
    EXPECT_EQ(sio::encode_event("/", "hey", R"("Jude")"), R"(42["hey","Jude"])");
    EXPECT_EQ(sio::encode_event("/admin", "bar", "{}"), R"(42/admin,["bar",{}])");
    EXPECT_EQ(sio::encode_event("/", boost::json::array{"foo"}, 12), R"(4212["foo"])");
    EXPECT_EQ(sio::encode_event("/admin", boost::json::array{"foo"}, 13), R"(42/admin,13["foo"])");
    // Names are JSON strings: escaped.
    EXPECT_EQ(sio::encode_event("/", "a\"b", "1"), R"(42["a\"b",1])");
    // The test suite's ack: `43456[1,"2",{"3":[false]}]`.
    EXPECT_EQ(sio::encode_ack("/", 456, boost::json::parse(R"([1,"2",{"3":[false]}])").as_array()),
              R"(43456[1,"2",{"3":[false]}])");
    EXPECT_EQ(sio::encode_ack("/admin", 13, R"("bar")"), R"(43/admin,13["bar"])");
    EXPECT_EQ(sio::encode_ack("/", 12, boost::json::array{}), "4312[]");
    EXPECT_EQ(sio::encode_connect("/", "wZX3oN0bSVIhsaknAAAI"), R"(40{"sid":"wZX3oN0bSVIhsaknAAAI"})");
    EXPECT_EQ(sio::encode_connect("/admin", "-G5j-67EZFp-q59rADQM"), R"(40/admin,{"sid":"-G5j-67EZFp-q59rADQM"})");
    EXPECT_EQ(sio::encode_connect_error("/", "Not authorized"), R"(44{"message":"Not authorized"})");
    EXPECT_EQ(sio::encode_connect_error("/random", "Invalid namespace"), R"(44/random,{"message":"Invalid namespace"})");
    EXPECT_EQ(sio::encode_disconnect("/"), "41");
    EXPECT_EQ(sio::encode_disconnect("/admin"), "41/admin,");
}

TEST(SocketIoParserTest, EncodeAndParseAgreeOnEveryTextType)
{
    std::vector<sio::packet> packets;
    packets.push_back({.type = sio::packet_type::connect, .nsp = "/", .id = {}, .data = {}});
    packets.push_back({.type = sio::packet_type::connect, .nsp = "/admin", .id = {},
                       .data = boost::json::value(boost::json::object{{"token", "123"}})});
    packets.push_back({.type = sio::packet_type::disconnect, .nsp = "/admin", .id = {}, .data = {}});
    packets.push_back({.type = sio::packet_type::event, .nsp = "/", .id = 7,
                       .data = boost::json::value(boost::json::array{"subscribe", boost::json::object{{"room", "job:1"}}})});
    packets.push_back({.type = sio::packet_type::ack, .nsp = "/x", .id = 0, .data = boost::json::value(boost::json::array{})});
    packets.push_back({.type = sio::packet_type::connect_error, .nsp = "/", .id = {},
                       .data = boost::json::value(boost::json::object{{"message", "no"}})});
    for (auto const& p : packets) {
        auto const text = sio::encode(p);
        ASSERT_EQ(text.front(), '4') << text;
        auto const back = sio::parse_packet(std::string_view(text).substr(1));
        ASSERT_TRUE(back) << text << ": " << back.error;
        EXPECT_EQ(back.packet->type, p.type) << text;
        EXPECT_EQ(back.packet->nsp, p.nsp) << text;
        EXPECT_EQ(back.packet->id, p.id) << text;
        EXPECT_EQ(back.packet->data, p.data) << text;
    }
}

TEST(SocketIoParserTest, OneFrameServesBothTransports)
{
    std::string const native = R"({"type":"event","room":"job:1","seq":3,"event":{"type":"job.started"}})";
    auto const f = sio::make_event_frame("/", "event", native);
    // WebSocket: the frame is the message text.
    EXPECT_EQ(*f, R"(42["event",)" + native + "]");
    // Polling: records of one body, joined by the separator.
    std::vector<std::string_view> const two{*f, *f};
    EXPECT_EQ(eio::join_payload(two), *f + "\x1e" + *f);
    // The client reads back the native message under its type.
    auto const p = sio::parse_packet(std::string_view(*f).substr(1));
    ASSERT_TRUE(p) << p.error;
    EXPECT_EQ(p.packet->data->as_array().at(0).as_string(), "event");
    EXPECT_EQ(p.packet->data->as_array().at(1), boost::json::parse(native));
}

TEST(SocketIoParserTest, NativeMessagesAreEmittedUnderTheirType)
{
    // As the gateway writes them: `type` first.
    std::string const ev = R"({"type":"event","room":"job:1","seq":3,"event":{"type":"job.started"}})";
    EXPECT_EQ(sio::native_type(ev), "event");
    EXPECT_EQ(*sio::make_native_frame("/", ev), R"(42["event",)" + ev + "]");
    EXPECT_EQ(sio::native_type(R"({"type":"summary","room":"run:1"})"), "summary");
    // Anywhere else in the object, or escaped, it is still found.
    EXPECT_EQ(sio::native_type(R"({"room":"alerts","type":"alert"})"), "alert");
    EXPECT_EQ(sio::native_type(R"({ "type" : "reset" })"), "reset");
    EXPECT_EQ(sio::native_type(R"({"type":"a\"b"})"), "a\"b");
    // No string type: no name.
    EXPECT_EQ(sio::native_type(R"({"type":1})"), "");
    EXPECT_EQ(sio::native_type("[]"), "");
    EXPECT_EQ(sio::native_type("not json"), "");
}

// ---------------------------------------------------------------- session

using jobwatch::socketio::session;

clock::time_point const t0 = clock::time_point{} + 1h;

session::config test_config()
{
    session::config c;
    // The test suite's settings (pingInterval 300, pingTimeout 200, connectTimeout 1000).
    c.ping_interval = 300ms;
    c.ping_timeout = 200ms;
    c.connect_timeout = 1000ms;
    c.upgrade_timeout = 500ms;
    c.namespaces = {"/", "/custom"};
    return c;
}

/// Ids "id1", "id2", ... in order: the sid first.
id_source counting_ids()
{
    return [n = 0]() mutable { return "id" + std::to_string(++n); };
}

/// The text of every frame sent on `via`, in order.
std::vector<std::string> sent(actions const& as, eio::transport via)
{
    std::vector<std::string> out;
    for (auto const& a : as)
        if (auto const* s = std::get_if<send_frames>(&a); s && s->via == via)
            for (auto const& f : s->frames)
                out.push_back(*f);
    return out;
}
std::vector<std::string> ws(actions const& as) { return sent(as, eio::transport::websocket); }
std::vector<std::string> polled(actions const& as) { return sent(as, eio::transport::polling); }

template<class T>
std::vector<T> all(actions const& as)
{
    std::vector<T> out;
    for (auto const& a : as)
        if (auto const* x = std::get_if<T>(&a))
            out.push_back(*x);
    return out;
}

template<class T>
T only(actions const& as)
{
    auto const v = all<T>(as);
    EXPECT_EQ(v.size(), 1u);
    return v.empty() ? T{} : v.front();
}

/// A WebSocket session joined to `/` (sid "id1", socket id "id2").
session joined_ws(session::config c = test_config())
{
    session s(std::move(c), eio::transport::websocket, t0, counting_ids());
    s.start(t0);
    auto const a = s.on_ws_message("40", t0);
    EXPECT_EQ(only<authenticate>(a).nsp, "/");
    EXPECT_EQ(ws(s.on_authenticated("/", std::nullopt, t0)), (std::vector<std::string>{R"(40{"sid":"id2"})"}));
    return s;
}

/// A polling session whose handshake GET was answered and that joined `/`.
session joined_polling(session::config c = test_config())
{
    session s(std::move(c), eio::transport::polling, t0, counting_ids());
    EXPECT_TRUE(s.start(t0).empty());  // the open packet waits for the handshake GET
    EXPECT_EQ(polled(s.on_poll_get(t0)).size(), 1u);
    s.on_poll_post("40", false, t0);
    s.on_authenticated("/", std::nullopt, t0);
    EXPECT_EQ(polled(s.on_poll_get(t0)), (std::vector<std::string>{R"(40{"sid":"id2"})"}));
    return s;
}

TEST(SocketIoSessionTest, WebSocketHandshakeSendsTheOpenPacket)
{
    session s(test_config(), eio::transport::websocket, t0, counting_ids());
    EXPECT_EQ(s.sid(), "id1");
    EXPECT_EQ(ws(s.start(t0)),
              (std::vector<std::string>{
                  R"(0{"sid":"id1","upgrades":[],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000})"}));
}

TEST(SocketIoSessionTest, PollingSampleSession)
{
    session s(test_config(), eio::transport::polling, t0, counting_ids());
    EXPECT_TRUE(s.start(t0).empty());
    EXPECT_EQ(s.buffered_frames(), 1u);
    // Request 1: the handshake.
    EXPECT_EQ(polled(s.on_poll_get(t0)),
              (std::vector<std::string>{
                  R"(0{"sid":"id1","upgrades":["websocket"],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000})"}));
    // Request 2: the namespace connection request, answered "ok".
    auto const post = s.on_poll_post("40", false, t0);
    EXPECT_EQ(only<authenticate>(post).token, "");
    auto const ok = only<respond>(post);
    EXPECT_EQ(ok.request, poll_request::post);
    EXPECT_EQ(ok.status, 200u);
    EXPECT_EQ(ok.body, "ok");
    // Request 3: a GET is held until the authenticator answers, then takes the approval.
    EXPECT_TRUE(s.on_poll_get(t0).empty());
    EXPECT_TRUE(s.get_held());
    EXPECT_EQ(polled(s.on_authenticated("/", std::nullopt, t0)), (std::vector<std::string>{R"(40{"sid":"id2"})"}));
    EXPECT_FALSE(s.get_held());
    // Request 4: a server event waits for the next GET.
    auto const f = sio::make_event_frame("/", "hey", R"("Jude")");
    EXPECT_TRUE(s.deliver(f, t0).empty());
    auto const got = s.on_poll_get(t0);
    ASSERT_EQ(all<send_frames>(got).size(), 1u);
    EXPECT_EQ(all<send_frames>(got)[0].frames.at(0).get(), f.get());  // the shared frame, not a copy
    EXPECT_EQ(polled(got), (std::vector<std::string>{R"(42["hey","Jude"])"}));
    // Request 5: two packets in one POST, joined by the record separator.
    auto const two = s.on_poll_post("42[\"subscribe\",{\"room\":\"job:1\"}]\x1e"
                                    "421[\"subscribe\",{\"room\":\"run:2\",\"since\":5}]",
                                    false, t0);
    auto const subs = all<subscribe>(two);
    ASSERT_EQ(subs.size(), 2u);
    EXPECT_EQ(subs[0].room, "job:1");
    EXPECT_EQ(subs[0].since, std::nullopt);
    EXPECT_EQ(subs[0].ack_id, std::nullopt);
    EXPECT_EQ(subs[1].room, "run:2");
    EXPECT_EQ(subs[1].since, 5u);
    EXPECT_EQ(subs[1].ack_id, 1u);
    EXPECT_EQ(only<respond>(two).body, "ok");
}

TEST(SocketIoSessionTest, PollingAnswerJoinsEverythingBuffered)
{
    auto s = joined_polling();
    auto const a = sio::make_event_frame("/", "event", "1");
    auto const b = sio::make_event_frame("/", "summary", "2");
    s.deliver(a, t0);
    s.deliver(b, t0);
    auto const got = all<send_frames>(s.on_poll_get(t0));
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(eio::join_payload(std::vector<std::string_view>{*got[0].frames.at(0), *got[0].frames.at(1)}),
              "42[\"event\",1]\x1e"
              "42[\"summary\",2]");
    EXPECT_EQ(s.buffered_frames(), 0u);
}

TEST(SocketIoSessionTest, SharesOneFrameAcrossSessionsAndTransports)
{
    auto a = joined_ws();
    auto b = joined_polling();
    auto const f = sio::make_event_frame("/", "alert", R"({"type":"alert"})");
    auto const to_ws = all<send_frames>(a.deliver(f, t0));
    b.deliver(f, t0);
    auto const to_poll = all<send_frames>(b.on_poll_get(t0));
    ASSERT_EQ(to_ws.size(), 1u);
    ASSERT_EQ(to_poll.size(), 1u);
    EXPECT_EQ(to_ws[0].frames.at(0).get(), f.get());
    EXPECT_EQ(to_poll[0].frames.at(0).get(), f.get());
    EXPECT_EQ(f.use_count(), 3);  // ours and the two in the actions above
}

TEST(SocketIoSessionTest, AuthTokenFromConnectIsCheckedAndRefusalsAreConnectErrors)
{
    session s(test_config(), eio::transport::websocket, t0, counting_ids());
    s.start(t0);
    auto const a = only<authenticate>(s.on_ws_message(R"(40{"token":"abc"})", t0));
    EXPECT_EQ(a.nsp, "/");
    EXPECT_EQ(a.token, "abc");
    // Refused: the client's connect_error with the authenticator's reason; the session goes on.
    EXPECT_EQ(ws(s.on_authenticated("/", "token expired", t0)),
              (std::vector<std::string>{R"(44{"message":"token expired"})"}));
    EXPECT_FALSE(s.closed());
    EXPECT_FALSE(s.connected("/"));
    // The client may try again with a fresh token.
    EXPECT_EQ(only<authenticate>(s.on_ws_message(R"(40{"token":"fresh"})", t0)).token, "fresh");
    EXPECT_EQ(ws(s.on_authenticated("/", std::nullopt, t0)), (std::vector<std::string>{R"(40{"sid":"id2"})"}));
    EXPECT_TRUE(s.connected("/"));
    // A token that is not a string is refused before the authenticator.
    auto const bad = s.on_ws_message(R"(40/custom,{"token":42})", t0);
    EXPECT_TRUE(all<authenticate>(bad).empty());
    EXPECT_EQ(ws(bad), (std::vector<std::string>{R"(44/custom,{"message":"auth.token must be a string"})"}));
}

TEST(SocketIoSessionTest, CustomNamespaceJoinsWithItsOwnSocketId)
{
    auto s = joined_ws();
    auto const a = only<authenticate>(s.on_ws_message(R"(40/custom,{"token":"t"})", t0));
    EXPECT_EQ(a.nsp, "/custom");
    EXPECT_EQ(ws(s.on_authenticated("/custom", std::nullopt, t0)),
              (std::vector<std::string>{R"(40/custom,{"sid":"id3"})"}));
    // Events there have no native mapping: they go to the I/O layer as they are.
    auto const e = only<client_event>(s.on_ws_message(R"(42/custom,7["hello",1])", t0));
    EXPECT_EQ(e.nsp, "/custom");
    EXPECT_EQ(e.ack_id, 7u);
    EXPECT_EQ(e.args, (boost::json::array{"hello", 1}));
    // Leaving it leaves `/` joined.
    EXPECT_EQ(only<namespace_left>(s.on_ws_message("41/custom,", t0)).nsp, "/custom");
    EXPECT_FALSE(s.connected("/custom"));
    EXPECT_TRUE(s.connected("/"));
}

TEST(SocketIoSessionTest, UnknownNamespaceIsAConnectErrorAndLosesNothingElse)
{
    auto s = joined_ws();
    // The reference server's exact answer (its test suite).
    auto const a = s.on_ws_message("40/random", t0);
    EXPECT_EQ(ws(a), (std::vector<std::string>{R"(44/random,{"message":"Invalid namespace"})"}));
    EXPECT_TRUE(all<close_session>(a).empty());
    EXPECT_TRUE(all<authenticate>(a).empty());
    EXPECT_FALSE(s.closed());
    EXPECT_TRUE(s.connected("/"));
    EXPECT_EQ(all<subscribe>(s.on_ws_message(R"(42["subscribe",{"room":"job:1"}])", t0)).size(), 1u);
}

/// The close of `as`: exactly one, or a failure.
close_session closed_by(actions const& as) { return only<close_session>(as); }

TEST(SocketIoSessionTest, ProtocolViolationsCloseTheSessionAsTheReferenceServerDoes)
{
    struct row
    {
        std::string text;
        bool join_first;
        close_reason reason;
    };
    std::vector<row> const rows{
        // Before CONNECT: "If the server does not receive a CONNECT packet first, then it MUST close the connection."
        {R"(42["subscribe",{"room":"job:1"}])", false, close_reason::invalid_state},
        {R"(431[])", false, close_reason::invalid_state},
        {"41", false, close_reason::invalid_state},
        {R"(42/custom,["x"])", true, close_reason::invalid_state},  // `/custom` not joined
        {"40", true, close_reason::invalid_state},                  // a second CONNECT
        {R"(44{"message":"x"})", true, close_reason::invalid_state},
        // Malformed (the test suite's cases, and more).
        {"4abc", true, close_reason::parse_error},
        {"42{}", true, close_reason::parse_error},
        {R"(42abc["message-with-ack",1,"2",{"3":[false]}])", true, close_reason::parse_error},
        {"4", true, close_reason::parse_error},
        {"", true, close_reason::parse_error},
        {"9", true, close_reason::parse_error},
        {"40/custom,[1]", true, close_reason::parse_error},
        // The client does not ping in protocol 4.
        {"2", true, close_reason::transport_error},
        {"2probe", true, close_reason::transport_error},
        // Binary.
        {R"(451-["baz",{"_placeholder":true,"num":0}])", true, close_reason::binary},
        {"bAQIDBA==", true, close_reason::binary},
        // The client's own close.
        {"1", true, close_reason::client_close},
    };
    for (auto const& r : rows) {
        auto s = r.join_first ? joined_ws() : [] {
            session s(test_config(), eio::transport::websocket, t0, counting_ids());
            s.start(t0);
            return s;
        }();
        auto const a = s.on_ws_message(r.text, t0);
        EXPECT_EQ(closed_by(a).reason, r.reason) << r.text << ": " << closed_by(a).detail;
        EXPECT_TRUE(s.closed()) << r.text;
        EXPECT_TRUE(all<subscribe>(a).empty()) << r.text;
        // Nothing more happens after the close.
        EXPECT_TRUE(s.on_ws_message(R"(42["subscribe",{"room":"job:1"}])", t0).empty()) << r.text;
        EXPECT_TRUE(s.on_timer(t0 + 1h).empty()) << r.text;
        EXPECT_EQ(s.next_deadline(), clock::time_point::max()) << r.text;
    }
}

// What one packet did to a session, for the tables below.
enum class outcome
{
    nothing,
    authenticate,
    left,
    subscribe,
    client_close,
    transport_error,
    invalid_state,
    binary,
};

outcome outcome_of(actions const& as)
{
    if (auto const c = all<close_session>(as); !c.empty()) {
        switch (c.front().reason) {
        case close_reason::client_close: return outcome::client_close;
        case close_reason::transport_error: return outcome::transport_error;
        case close_reason::invalid_state: return outcome::invalid_state;
        case close_reason::binary: return outcome::binary;
        default: ADD_FAILURE() << "closed: " << to_string(c.front().reason); return outcome::nothing;
        }
    }
    if (!all<authenticate>(as).empty())
        return outcome::authenticate;
    if (!all<namespace_left>(as).empty())
        return outcome::left;
    if (!all<subscribe>(as).empty())
        return outcome::subscribe;
    EXPECT_TRUE(as.empty());
    return outcome::nothing;
}

/// Where a session stands with namespace `/`.
enum class nsp_state
{
    not_joined,
    pending,  ///< CONNECT sent, the authenticator has not answered
    joined,
};

session in_state(nsp_state st)
{
    if (st == nsp_state::joined)
        return joined_ws();
    session s(test_config(), eio::transport::websocket, t0, counting_ids());
    s.start(t0);
    if (st == nsp_state::pending)
        s.on_ws_message("40", t0);
    return s;
}

TEST(SocketIoSessionTest, EverySocketIoPacketTypeInEveryNamespaceState)
{
    // One packet of each type, on namespace `/`, as the Engine.IO message that carries it.
    std::array<std::string, 7> const sample{
        "40",
        "41",
        R"(42["subscribe",{"room":"a"}])",
        "431[]",
        R"(44{"message":"x"})",
        R"(451-["a",{"_placeholder":true,"num":0}])",
        R"(461-1[{"_placeholder":true,"num":0}])",
    };
    struct row
    {
        sio::packet_type type;
        nsp_state state;
        outcome expected;
    };
    using T = sio::packet_type;
    using S = nsp_state;
    using O = outcome;
    std::vector<row> const table{
        {T::connect, S::not_joined, O::authenticate},
        {T::connect, S::pending, O::invalid_state},
        {T::connect, S::joined, O::invalid_state},
        {T::disconnect, S::not_joined, O::invalid_state},
        {T::disconnect, S::pending, O::nothing},  // left before the answer: it is dropped
        {T::disconnect, S::joined, O::left},
        {T::event, S::not_joined, O::invalid_state},
        {T::event, S::pending, O::invalid_state},
        {T::event, S::joined, O::subscribe},
        {T::ack, S::not_joined, O::invalid_state},
        {T::ack, S::pending, O::invalid_state},
        {T::ack, S::joined, O::nothing},
        {T::connect_error, S::not_joined, O::invalid_state},
        {T::connect_error, S::pending, O::invalid_state},
        {T::connect_error, S::joined, O::invalid_state},
        {T::binary_event, S::not_joined, O::binary},
        {T::binary_event, S::pending, O::binary},
        {T::binary_event, S::joined, O::binary},
        {T::binary_ack, S::not_joined, O::binary},
        {T::binary_ack, S::pending, O::binary},
        {T::binary_ack, S::joined, O::binary},
    };
    // The table covers every (type, state) pair once.
    std::set<std::pair<int, int>> seen;
    for (auto const& r : table)
        EXPECT_TRUE(seen.insert({static_cast<int>(r.type), static_cast<int>(r.state)}).second);
    EXPECT_EQ(seen.size(), 7u * 3u);

    for (auto const& r : table) {
        auto const i = static_cast<std::size_t>(static_cast<char>(r.type) - '0');
        auto s = in_state(r.state);
        auto const a = s.on_ws_message(sample.at(i), t0);
        EXPECT_EQ(outcome_of(a), r.expected) << sample.at(i) << " in state " << static_cast<int>(r.state);
    }
}

TEST(SocketIoSessionTest, EveryEngineIoPacketTypeFromAClient)
{
    struct row
    {
        std::string text;
        outcome expected;
    };
    std::vector<row> const table{
        {R"(0{"sid":"x"})", outcome::nothing},  // the reference server ignores it
        {"1", outcome::client_close},
        {"2", outcome::transport_error},  // protocol 4: only the server pings
        {"3", outcome::nothing},          // an unasked pong changes nothing
        {R"(42["subscribe",{"room":"a"}])", outcome::subscribe},
        {"5", outcome::nothing},  // no upgrade on a WebSocket session
        {"6", outcome::nothing},
    };
    ASSERT_EQ(table.size(), 7u);
    for (std::size_t i = 0; i < table.size(); ++i) {
        ASSERT_EQ(table[i].text.front(), static_cast<char>('0' + i));  // every type, in order
        auto s = joined_ws();
        EXPECT_EQ(outcome_of(s.on_ws_message(table[i].text, t0)), table[i].expected) << table[i].text;
    }
}

TEST(SocketIoSessionTest, CloseReasonsMapToWebSocketCodes)
{
    EXPECT_EQ(websocket_code(close_reason::client_close), 1000);
    EXPECT_EQ(websocket_code(close_reason::parse_error), 1002);
    EXPECT_EQ(websocket_code(close_reason::invalid_state), 1002);
    EXPECT_EQ(websocket_code(close_reason::binary), 1003);
    EXPECT_EQ(websocket_code(close_reason::too_large), 1009);
    EXPECT_EQ(websocket_code(close_reason::queue_overflow), 1008);
    EXPECT_EQ(websocket_code(close_reason::ping_timeout), 1008);
    EXPECT_EQ(to_string(close_reason::ping_timeout), "ping timeout");
    EXPECT_EQ(to_string(close_reason::parse_error), "parse error");
    // Every reason fits a WebSocket close frame (123 bytes).
    for (int r = 0; r <= static_cast<int>(close_reason::server_close); ++r)
        EXPECT_LE(to_string(static_cast<close_reason>(r)).size(), 123u);
}

TEST(SocketIoSessionTest, ClosesOnPayloadsOverMaxPayload)
{
    auto c = test_config();
    c.max_payload = 64;
    {
        auto s = joined_ws(c);
        std::string const head = R"(42["subscribe",{"room":")";
        std::string const tail = R"("}])";
        std::string const exact = head + std::string(64 - head.size() - tail.size(), 'r') + tail;
        ASSERT_EQ(exact.size(), 64u);
        EXPECT_EQ(all<subscribe>(s.on_ws_message(exact, t0)).size(), 1u);
        auto const a = s.on_ws_message(exact + " ", t0);
        EXPECT_EQ(closed_by(a).reason, close_reason::too_large);
        EXPECT_EQ(websocket_code(closed_by(a).reason), 1009);
        EXPECT_TRUE(all<subscribe>(a).empty());
    }
    {
        auto s = joined_polling(c);
        auto const a = s.on_poll_post(std::string(65, '3'), false, t0);
        auto const r = only<respond>(a);
        EXPECT_EQ(r.request, poll_request::post);
        EXPECT_EQ(r.status, 413u);
        EXPECT_EQ(closed_by(a).reason, close_reason::too_large);
    }
    {
        // A body of many tiny packets is bounded by count as well.
        c.max_payload = 1'000'000;
        c.max_packets_per_post = 10;
        auto s = joined_polling(c);
        std::string body = "3";
        for (int i = 0; i < 10; ++i)
            body += "\x1e"
                    "3";
        auto const a = s.on_poll_post(body, false, t0);
        EXPECT_EQ(only<respond>(a).status, 413u);
        EXPECT_EQ(closed_by(a).reason, close_reason::too_large);
    }
}

TEST(SocketIoSessionTest, RefusesBinaryClearly)
{
    {
        auto s = joined_ws();
        auto const a = s.on_ws_binary(4, t0);
        EXPECT_EQ(closed_by(a).reason, close_reason::binary);
        EXPECT_EQ(websocket_code(close_reason::binary), 1003);
        EXPECT_NE(closed_by(a).detail.find("text only"), std::string::npos);
    }
    {
        auto s = joined_polling();
        auto const a = s.on_poll_post("\x01\x02", true, t0);
        EXPECT_EQ(only<respond>(a).status, 400u);
        EXPECT_EQ(closed_by(a).reason, close_reason::binary);
    }
    {
        auto s = joined_polling();
        auto const a = s.on_poll_post("3\x1e"
                                      "bAQIDBA==",
                                      false, t0);
        auto const r = only<respond>(a);
        EXPECT_EQ(r.status, 400u);
        EXPECT_NE(r.body.find("binary"), std::string::npos) << r.body;
        EXPECT_EQ(closed_by(a).reason, close_reason::binary);
    }
}

TEST(SocketIoSessionTest, NativeMappingOnTheMainNamespace)
{
    auto s = joined_ws();
    auto const sub = only<subscribe>(s.on_ws_message(R"(4212["subscribe",{"room":"job:1","since":40}])", t0));
    EXPECT_EQ(sub.nsp, "/");
    EXPECT_EQ(sub.room, "job:1");
    EXPECT_EQ(sub.since, 40u);
    EXPECT_EQ(sub.ack_id, 12u);
    // The native answer comes back as the ack's argument...
    std::string const subscribed = R"({"type":"subscribed","room":"job:1","seq":41})";
    EXPECT_EQ(ws(s.reply("/", 12, "subscribed", subscribed, t0)), (std::vector<std::string>{"4312[" + subscribed + "]"}));
    // ... or, without an ack id, as an event under its type.
    EXPECT_EQ(ws(s.reply("/", std::nullopt, "subscribed", subscribed, t0)),
              (std::vector<std::string>{R"(42["subscribed",)" + subscribed + "]"}));

    auto const un = only<unsubscribe>(s.on_ws_message(R"(423["unsubscribe",{"room":"job:1"}])", t0));
    EXPECT_EQ(un.room, "job:1");
    EXPECT_EQ(un.ack_id, 3u);
    // `since: null` is no since.
    EXPECT_EQ(only<subscribe>(s.on_ws_message(R"(42["subscribe",{"room":"a","since":null}])", t0)).since, std::nullopt);
}

TEST(SocketIoSessionTest, NativeMappingAnswersBadEventsWithTheNativeError)
{
    struct row
    {
        std::string text;
        std::string code;
        std::string path;
    };
    std::vector<row> const rows{
        {R"(425["publish",{}])", "unknown_type", ""},
        {R"(425[3,{}])", "unknown_type", ""},
        {R"(425["subscribe"])", "invalid_message", ""},
        {R"(425["subscribe","job:1"])", "invalid_message", ""},
        {R"(425["subscribe",{}])", "invalid_message", "/room"},
        {R"(425["subscribe",{"room":""}])", "invalid_message", "/room"},
        {R"(425["unsubscribe",{"room":7}])", "invalid_message", "/room"},
        {R"(425["subscribe",{"room":"a","since":-1}])", "invalid_message", "/since"},
        {R"(425["subscribe",{"room":"a","since":"3"}])", "invalid_message", "/since"},
        {R"(425["subscribe",{"room":"a","since":1.5}])", "invalid_message", "/since"},
    };
    for (auto const& r : rows) {
        auto s = joined_ws();
        auto const a = s.on_ws_message(r.text, t0);
        EXPECT_TRUE(all<subscribe>(a).empty()) << r.text;
        EXPECT_TRUE(all<close_session>(a).empty()) << r.text;  // bad input loses nothing else
        auto const out = ws(a);
        ASSERT_EQ(out.size(), 1u) << r.text;
        ASSERT_EQ(out[0].substr(0, 4), "435[") << out[0];
        auto const e = boost::json::parse(std::string_view(out[0]).substr(3)).as_array().at(0).as_object();
        EXPECT_EQ(e.at("type").as_string(), "error") << out[0];
        EXPECT_EQ(e.at("code").as_string(), r.code) << out[0];
        EXPECT_EQ(e.at("path").as_string(), r.path) << out[0];
        EXPECT_FALSE(e.at("message").as_string().empty());
    }
    // Without an ack id the error is emitted as the native `error` message.
    auto s = joined_ws();
    auto const out = ws(s.on_ws_message(R"(42["nope"])", t0));
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].substr(0, 11), R"(42["error",)");
}

TEST(SocketIoSessionTest, DisconnectLeavesTheNamespace)
{
    auto s = joined_ws();
    EXPECT_EQ(only<namespace_left>(s.on_ws_message("41", t0)).nsp, "/");
    EXPECT_FALSE(s.connected("/"));
    // Answers that come late for a namespace left are dropped.
    EXPECT_TRUE(s.reply("/", 1, "subscribed", "{}", t0).empty());
    // An event there now is an event before CONNECT.
    EXPECT_EQ(closed_by(s.on_ws_message(R"(42["subscribe",{"room":"a"}])", t0)).reason, close_reason::invalid_state);
}

TEST(SocketIoSessionTest, DisconnectWhileAuthenticatingDropsTheAnswer)
{
    session s(test_config(), eio::transport::websocket, t0, counting_ids());
    s.start(t0);
    EXPECT_EQ(all<authenticate>(s.on_ws_message("40", t0)).size(), 1u);
    EXPECT_TRUE(s.on_ws_message("41", t0).empty());
    EXPECT_TRUE(s.on_authenticated("/", std::nullopt, t0).empty());
    EXPECT_FALSE(s.connected("/"));
    // An answer for a namespace never asked for is dropped too.
    EXPECT_TRUE(s.on_authenticated("/custom", std::nullopt, t0).empty());
}

TEST(SocketIoSessionTest, PingsEveryIntervalAndClosesWithoutPong)
{
    auto s = joined_ws();  // joined at t0: the connect timeout is out of the way
    EXPECT_EQ(s.next_deadline(), t0 + 300ms);
    EXPECT_TRUE(s.on_timer(t0 + 299ms).empty());
    // The server pings at pingInterval...
    EXPECT_EQ(ws(s.on_timer(t0 + 300ms)), (std::vector<std::string>{"2"}));
    EXPECT_EQ(s.next_deadline(), t0 + 500ms);  // ...and the pong is due pingTimeout later
    EXPECT_TRUE(s.on_timer(t0 + 400ms).empty());  // no second ping while one waits
    EXPECT_TRUE(s.on_ws_message("3", t0 + 450ms).empty());
    // The next ping is a ping interval after the pong.
    EXPECT_EQ(s.next_deadline(), t0 + 750ms);
    EXPECT_TRUE(s.on_timer(t0 + 749ms).empty());
    EXPECT_EQ(ws(s.on_timer(t0 + 750ms)), (std::vector<std::string>{"2"}));
    // No pong this time.
    EXPECT_TRUE(s.on_timer(t0 + 949ms).empty());
    auto const a = s.on_timer(t0 + 950ms);
    EXPECT_EQ(closed_by(a).reason, close_reason::ping_timeout);
    EXPECT_TRUE(s.closed());
}

TEST(SocketIoSessionTest, PollingPingWaitsForTheGetAndPongComesByPost)
{
    auto s = joined_polling();
    EXPECT_TRUE(s.on_timer(t0 + 300ms).empty());  // buffered: no GET held
    EXPECT_EQ(polled(s.on_poll_get(t0 + 310ms)), (std::vector<std::string>{"2"}));
    EXPECT_EQ(only<respond>(s.on_poll_post("3", false, t0 + 320ms)).body, "ok");
    EXPECT_EQ(s.next_deadline(), t0 + 620ms);
    // A GET held when the ping is due takes it at once.
    EXPECT_TRUE(s.on_poll_get(t0 + 330ms).empty());
    EXPECT_EQ(polled(s.on_timer(t0 + 620ms)), (std::vector<std::string>{"2"}));
    EXPECT_EQ(closed_by(s.on_timer(t0 + 820ms)).reason, close_reason::ping_timeout);
}

TEST(SocketIoSessionTest, ClosesWithoutAConnectInTime)
{
    session s(test_config(), eio::transport::websocket, t0, counting_ids());
    s.start(t0);
    // Pongs keep the transport alive, not the session: a namespace must be joined.
    EXPECT_EQ(ws(s.on_timer(t0 + 300ms)), (std::vector<std::string>{"2"}));
    s.on_ws_message("3", t0 + 310ms);
    EXPECT_EQ(s.next_deadline(), t0 + 610ms);
    EXPECT_EQ(ws(s.on_timer(t0 + 610ms)), (std::vector<std::string>{"2"}));
    s.on_ws_message("3", t0 + 620ms);
    EXPECT_EQ(s.next_deadline(), t0 + 920ms);
    s.on_ws_message("3", t0 + 630ms);  // an unasked pong changes nothing
    EXPECT_EQ(s.next_deadline(), t0 + 920ms);
    EXPECT_EQ(ws(s.on_timer(t0 + 920ms)), (std::vector<std::string>{"2"}));
    s.on_ws_message("3", t0 + 930ms);
    EXPECT_EQ(s.next_deadline(), t0 + 1000ms);
    EXPECT_EQ(closed_by(s.on_timer(t0 + 1000ms)).reason, close_reason::connect_timeout);
}

TEST(SocketIoSessionTest, ClientCloseEndsTheHeldPollWithANoop)
{
    auto s = joined_polling();
    EXPECT_TRUE(s.on_poll_get(t0).empty());
    auto const a = s.on_poll_post("1", false, t0);
    // The test suite: the pending GET gets "6", the POST "ok", later polls 400.
    EXPECT_EQ(polled(a), (std::vector<std::string>{"6"}));
    EXPECT_EQ(closed_by(a).reason, close_reason::client_close);
    EXPECT_EQ(only<respond>(a).status, 200u);
    auto const later = only<respond>(s.on_poll_get(t0));
    EXPECT_EQ(later.request, poll_request::get);
    EXPECT_EQ(later.status, 400u);
    EXPECT_EQ(only<respond>(s.on_poll_post("3", false, t0)).status, 400u);
}

TEST(SocketIoSessionTest, ServerCloseSendsWhatWasBufferedThenClose)
{
    auto s = joined_polling();
    EXPECT_TRUE(s.on_poll_get(t0).empty());
    auto const a = s.close(close_reason::server_close, "shutting down", t0);
    EXPECT_EQ(polled(a), (std::vector<std::string>{"1"}));
    EXPECT_EQ(closed_by(a).reason, close_reason::server_close);
    EXPECT_TRUE(s.close(close_reason::server_close, "again", t0).empty());
}

TEST(SocketIoSessionTest, OverlappingGetsCloseTheSession)
{
    auto s = joined_polling();
    EXPECT_TRUE(s.on_poll_get(t0).empty());
    auto const a = s.on_poll_get(t0);
    auto const r = only<respond>(a);
    EXPECT_EQ(r.request, poll_request::get);
    EXPECT_EQ(r.status, 400u);
    EXPECT_EQ(polled(a), (std::vector<std::string>{"1"}));  // the first GET ends with `close`
    EXPECT_EQ(closed_by(a).reason, close_reason::transport_error);
}

TEST(SocketIoSessionTest, PollingBufferIsBounded)
{
    auto c = test_config();
    c.max_buffered_frames = 3;
    auto s = joined_polling(c);
    auto const f = sio::make_event_frame("/", "event", "{}");
    for (int i = 0; i < 3; ++i)
        EXPECT_TRUE(s.deliver(f, t0).empty());
    EXPECT_EQ(s.buffered_frames(), 3u);
    auto const a = s.deliver(f, t0);
    EXPECT_EQ(closed_by(a).reason, close_reason::queue_overflow);
    EXPECT_EQ(s.buffered_frames(), 0u);
    EXPECT_TRUE(s.deliver(f, t0).empty());

    c.max_buffered_frames = 1000;
    c.max_buffered_bytes = 100;
    auto b = joined_polling(c);
    auto const big = sio::make_event_frame("/", "event", std::string(60, '1'));
    EXPECT_TRUE(b.deliver(big, t0).empty());
    EXPECT_EQ(closed_by(b.deliver(big, t0)).reason, close_reason::queue_overflow);
}

TEST(SocketIoSessionTest, TransportLossEndsTheSession)
{
    auto s = joined_ws();
    EXPECT_EQ(closed_by(s.on_transport_closed(eio::transport::websocket, t0)).reason, close_reason::transport_close);
    auto p = joined_polling();
    EXPECT_TRUE(p.on_poll_get(t0).empty());
    auto const a = p.on_transport_closed(eio::transport::polling, t0);
    EXPECT_TRUE(polled(a).empty());  // the held GET is the one that went away
    EXPECT_EQ(closed_by(a).reason, close_reason::transport_close);
}

TEST(SocketIoSessionTest, UpgradeFromPollingToWebSocket)
{
    auto s = joined_polling();
    EXPECT_TRUE(s.on_poll_get(t0).empty());  // a GET is held when the WebSocket opens
    EXPECT_TRUE(s.begin_upgrade(t0).empty());
    EXPECT_TRUE(s.upgrading());
    EXPECT_EQ(s.next_deadline(), t0 + 300ms);  // the ping comes before the upgrade timeout
    // `2probe` → `3probe` on the WebSocket, and `6` ends the held GET.
    auto const probe = s.on_ws_message("2probe", t0);
    EXPECT_EQ(ws(probe), (std::vector<std::string>{"3probe"}));
    EXPECT_EQ(polled(probe), (std::vector<std::string>{"6"}));
    // While the client switches, frames wait; a GET that comes gets `6` at once.
    auto const f = sio::make_event_frame("/", "event", "1");
    EXPECT_TRUE(s.deliver(f, t0).empty());
    EXPECT_EQ(polled(s.on_poll_get(t0)), (std::vector<std::string>{"6"}));
    // `5`: the WebSocket takes over, with what waited, in order.
    auto const up = s.on_ws_message("5", t0);
    EXPECT_EQ(ws(up), (std::vector<std::string>{R"(42["event",1])"}));
    EXPECT_TRUE(polled(up).empty());
    EXPECT_EQ(s.transport(), eio::transport::websocket);
    EXPECT_FALSE(s.upgrading());
    // Polls with the same sid are refused; the session goes on.
    EXPECT_EQ(only<respond>(s.on_poll_get(t0)).status, 400u);
    EXPECT_EQ(only<respond>(s.on_poll_post("3", false, t0)).status, 400u);
    EXPECT_FALSE(s.closed());
    // A second WebSocket with the same sid is refused.
    EXPECT_EQ(all<abort_upgrade>(s.begin_upgrade(t0)).size(), 1u);
    // Everything now goes on the WebSocket: events, pings.
    EXPECT_EQ(ws(s.deliver(f, t0)), (std::vector<std::string>{R"(42["event",1])"}));
    EXPECT_EQ(all<subscribe>(s.on_ws_message(R"(42["subscribe",{"room":"a"}])", t0)).size(), 1u);
    EXPECT_EQ(ws(s.on_timer(t0 + 300ms)), (std::vector<std::string>{"2"}));
    s.on_ws_message("3", t0 + 310ms);
    EXPECT_FALSE(s.closed());
    // The polling transport's loss after the upgrade is nothing.
    EXPECT_TRUE(s.on_transport_closed(eio::transport::polling, t0).empty());
}

TEST(SocketIoSessionTest, FailedUpgradesLeaveTheSessionOnPolling)
{
    {
        // An unexpected packet on the probing WebSocket ends the upgrade, and frames held back go to polling.
        auto s = joined_polling();
        s.begin_upgrade(t0);
        s.on_ws_message("2probe", t0);
        auto const a = s.on_ws_message(R"(42["x"])", t0);
        EXPECT_EQ(all<abort_upgrade>(a).size(), 1u);
        EXPECT_FALSE(s.upgrading());
        EXPECT_FALSE(s.closed());
        EXPECT_EQ(s.transport(), eio::transport::polling);
    }
    {
        // A probe that is not `2probe`.
        auto s = joined_polling();
        s.begin_upgrade(t0);
        EXPECT_EQ(all<abort_upgrade>(s.on_ws_message("2", t0)).size(), 1u);
        EXPECT_FALSE(s.closed());
    }
    {
        // `5` before the probe.
        auto s = joined_polling();
        s.begin_upgrade(t0);
        EXPECT_EQ(all<abort_upgrade>(s.on_ws_message("5", t0)).size(), 1u);
        EXPECT_EQ(s.transport(), eio::transport::polling);
    }
    {
        // The upgrade timeout.
        auto c = test_config();
        c.upgrade_timeout = 100ms;
        auto s = joined_polling(c);
        s.begin_upgrade(t0);
        EXPECT_EQ(all<abort_upgrade>(s.begin_upgrade(t0)).size(), 1u);  // one upgrade at a time
        EXPECT_EQ(s.next_deadline(), t0 + 100ms);
        EXPECT_TRUE(s.on_timer(t0 + 99ms).empty());
        EXPECT_EQ(all<abort_upgrade>(s.on_timer(t0 + 100ms)).size(), 1u);
        EXPECT_FALSE(s.upgrading());
    }
    {
        // The probing WebSocket goes away.
        auto s = joined_polling();
        s.begin_upgrade(t0);
        s.on_ws_message("2probe", t0);
        EXPECT_TRUE(s.on_transport_closed(eio::transport::websocket, t0).empty());
        EXPECT_FALSE(s.upgrading());
        EXPECT_FALSE(s.closed());
        auto const f = sio::make_event_frame("/", "event", "2");
        s.deliver(f, t0);
        EXPECT_EQ(polled(s.on_poll_get(t0)), (std::vector<std::string>{R"(42["event",2])"}));
    }
    {
        // A WebSocket session has nothing to upgrade.
        auto s = joined_ws();
        EXPECT_EQ(all<abort_upgrade>(s.begin_upgrade(t0)).size(), 1u);
    }
}

TEST(SocketIoSessionTest, PollingGoesOnUntilTheProbe)
{
    auto s = joined_polling();
    EXPECT_TRUE(s.begin_upgrade(t0).empty());
    // The WebSocket is open but has not probed: the client still polls.
    EXPECT_TRUE(s.on_poll_get(t0).empty());
    auto const f = sio::make_event_frame("/", "event", "1");
    EXPECT_EQ(polled(s.deliver(f, t0)), (std::vector<std::string>{R"(42["event",1])"}));
    EXPECT_EQ(all<subscribe>(s.on_poll_post(R"(42["subscribe",{"room":"a"}])", false, t0)).size(), 1u);
    // Probed: now frames wait for the WebSocket.
    s.on_ws_message("2probe", t0);
    EXPECT_TRUE(s.deliver(f, t0).empty());
    EXPECT_EQ(ws(s.on_ws_message("5", t0)), (std::vector<std::string>{R"(42["event",1])"}));
}

TEST(SocketIoSessionTest, FramesHeldBackByAFailedUpgradeGoToTheNextPoll)
{
    auto s = joined_polling();
    s.begin_upgrade(t0);
    s.on_ws_message("2probe", t0);
    auto const f = sio::make_event_frame("/", "event", "1");
    EXPECT_TRUE(s.deliver(f, t0).empty());
    EXPECT_EQ(s.buffered_frames(), 1u);
    EXPECT_EQ(all<abort_upgrade>(s.on_ws_message("4x", t0)).size(), 1u);
    EXPECT_EQ(polled(s.on_poll_get(t0)), (std::vector<std::string>{R"(42["event",1])"}));
}

TEST(SocketIoSessionTest, ConfigCheckNamesTheField)
{
    EXPECT_EQ(session::check(session::config{}), "");
    EXPECT_EQ(session::check(test_config()), "");
    auto with = [](auto change) {
        auto c = test_config();
        change(c);
        return session::check(c);
    };
    EXPECT_NE(with([](auto& c) { c.ping_interval = 0ms; }).find("ping_interval"), std::string::npos);
    EXPECT_NE(with([](auto& c) { c.ping_timeout = -1ms; }).find("ping_timeout"), std::string::npos);
    EXPECT_NE(with([](auto& c) { c.connect_timeout = -1ms; }).find("connect_timeout"), std::string::npos);
    EXPECT_EQ(with([](auto& c) { c.connect_timeout = 0ms; }), "");  // 0 disables it
    EXPECT_NE(with([](auto& c) { c.upgrade_timeout = 0ms; }).find("upgrade_timeout"), std::string::npos);
    EXPECT_NE(with([](auto& c) { c.max_buffered_frames = 0; }).find("max_buffered_frames"), std::string::npos);
    EXPECT_NE(with([](auto& c) { c.namespaces.clear(); }).find("namespaces"), std::string::npos);
    EXPECT_NE(with([](auto& c) { c.namespaces.push_back("admin"); }).find("\"admin\""), std::string::npos);
    EXPECT_NE(with([](auto& c) { c.namespaces.push_back("/a,b"); }).find("\"/a,b\""), std::string::npos);
}

TEST(SocketIoSessionTest, ConnectTimeoutIsOffAtZero)
{
    auto c = test_config();
    c.connect_timeout = 0ms;
    session s(c, eio::transport::websocket, t0, counting_ids());
    s.start(t0);
    EXPECT_EQ(s.next_deadline(), t0 + 300ms);  // the ping only
    for (auto t = t0 + 300ms; t < t0 + 5s; t += 300ms) {
        EXPECT_EQ(ws(s.on_timer(t)), (std::vector<std::string>{"2"}));
        s.on_ws_message("3", t);
    }
    EXPECT_FALSE(s.closed());
}

TEST(SocketIoSessionTest, RandomIdsAreDistinctBase64Url)
{
    auto const a = random_id();
    auto const b = random_id();
    EXPECT_EQ(a.size(), 20u);
    EXPECT_NE(a, b);
    for (char c : a)
        EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') << a;
}

}  // namespace
