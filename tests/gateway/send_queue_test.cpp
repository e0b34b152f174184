// Test that the header is self-contained.
#include <jobwatch/gateway/send_queue.hpp>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

// The overflow ladder as a table: no sockets, no sleeps. Each row pushes
// messages into a queue with small bounds and checks the status of every
// push and what is left to write.

namespace {

using namespace jobwatch;
using namespace jobwatch::gw;

/// A room message of `kind` for `room` carrying `seq`; progress messages of one job share `key`.
wire_ptr room_msg(wire_kind kind, std::string room, std::uint64_t seq, std::uint64_t key = 0)
{
    auto m = std::make_shared<wire_msg>(*encode_raw("{\"seq\":" + std::to_string(seq) + "}"));
    m->kind = kind;
    m->room = std::move(room);
    m->seq = seq;
    m->coalesce_key = key;
    m->sse_head = "event: x\ndata: ";
    return m;
}

wire_ptr reply(std::string text = "{}") { return encode_raw(std::move(text)); }

struct step
{
    char what;          // 'p' progress, 'e' event, 's' state, 'r' reply
    std::string room;
    std::uint64_t seq;
    std::uint64_t key;
    send_status want;
};

struct ladder_case
{
    std::string name;
    send_limits limits;
    std::vector<step> steps;
    std::size_t messages_left;            // queued after the last step
    std::vector<lagged_room> lagged;      // of the last lagged push
};

TEST(SendQueueTest, TheLadderAsATable)
{
    using st = send_status;
    std::vector<ladder_case> const table = {
        {"within bounds", {4, 1 << 20},
         {{'e', "job:a", 1, 0, st::queued}, {'p', "job:a", 2, 7, st::queued}, {'r', "", 0, 0, st::queued}},
         3, {}},
        {"progress of one job coalesces to the newest", {3, 1 << 20},
         {{'p', "job:a", 1, 7, st::queued}, {'p', "job:a", 2, 7, st::queued}, {'p', "job:a", 3, 7, st::queued},
          {'p', "job:a", 4, 7, st::coalesced}},
         1, {}},
        {"progress of two jobs coalesces per job", {3, 1 << 20},
         {{'p', "job:a", 1, 7, st::queued}, {'p', "job:a", 2, 8, st::queued}, {'p', "job:a", 3, 7, st::queued},
          {'p', "job:a", 4, 8, st::coalesced}},
         2, {}},
        {"state coalesces per room", {2, 1 << 20},
         {{'s', "run:r", 5, 0, st::queued}, {'s', "run:r", 6, 0, st::queued}, {'s', "run:r", 7, 0, st::coalesced}},
         1, {}},
        {"terminal events are never coalesced: the room lags before the first lost event", {2, 1 << 20},
         {{'e', "job:a", 10, 0, st::queued}, {'e', "job:a", 11, 0, st::queued}, {'e', "job:a", 12, 0, st::lagged}},
         1, {{"job:a", 9}}},
        {"progress coalesced away, then lost in a lag, is resumed from too", {3, 1 << 20},
         {{'p', "queue:q", 10, 7, st::queued}, {'e', "queue:q", 11, 0, st::queued}, {'p', "queue:q", 12, 7, st::queued},
          {'e', "queue:q", 13, 0, st::coalesced}, {'e', "queue:q", 14, 0, st::lagged}},
         1, {{"queue:q", 9}}},
        {"a room that lost only state resumes at that state's position", {2, 1 << 20},
         {{'r', "", 0, 0, st::queued}, {'r', "", 0, 0, st::queued}, {'s', "health", 40, 0, st::lagged}},
         3, {{"health", 40}}},
        {"seq 0 never gives a negative resume point", {1, 1 << 20},
         {{'r', "", 0, 0, st::queued}, {'s', "run:r", 0, 0, st::lagged}},
         2, {{"run:r", 0}}},
        {"lagging again before the notice went out closes", {2, 1 << 20},
         {{'e', "job:a", 1, 0, st::queued}, {'e', "job:a", 2, 0, st::queued}, {'e', "job:a", 3, 0, st::lagged},
          {'e', "job:b", 4, 0, st::queued}, {'e', "job:b", 5, 0, st::closed}},
         0, {}},
        {"replies alone past the bound close (a ping flood)", {2, 1 << 20},
         {{'r', "", 0, 0, st::queued}, {'r', "", 0, 0, st::queued}, {'r', "", 0, 0, st::closed}},
         0, {}},
        {"the byte bound counts too", {100, 15},
         {{'e', "job:a", 1, 0, st::queued}, {'e', "job:a", 2, 0, st::lagged}},
         1, {{"job:a", 0}}},
    };
    for (auto const& c : table) {
        SCOPED_TRACE(c.name);
        send_queue q(framing::websocket);
        send_queue::push_result last;
        for (auto const& s : c.steps) {
            wire_ptr m;
            switch (s.what) {
            case 'p': m = room_msg(wire_kind::progress, s.room, s.seq, s.key); break;
            case 'e': m = room_msg(wire_kind::event, s.room, s.seq); break;
            case 's': m = room_msg(wire_kind::state, s.room, s.seq); break;
            default: m = reply(); break;
            }
            last = q.push(m, c.limits);
            EXPECT_EQ(last.status, s.want) << s.room << "@" << s.seq;
            if (last.status == st::closed) {
                q.close();
                break;
            }
        }
        if (last.status == st::lagged) {
            ASSERT_EQ(q.lagged_rooms().size(), c.lagged.size());
            for (std::size_t i = 0; i < c.lagged.size(); ++i) {
                EXPECT_EQ(q.lagged_rooms()[i].room, c.lagged[i].room);
                EXPECT_EQ(q.lagged_rooms()[i].resume_from, c.lagged[i].resume_from);
            }
        }
        if (last.status != st::closed) {
            EXPECT_EQ(q.messages(), c.messages_left);
        }
    }
}

/// Everything `q` would write, as one string, written `chunk` bytes at a time.
std::string drain(send_queue& q, std::size_t chunk)
{
    std::string out;
    while (!q.empty()) {
        auto const& b = q.next_buffers();
        std::size_t n = 0;
        for (auto const& buf : b) {
            auto const take = std::min(buf.size(), chunk - n);
            out.append(static_cast<char const*>(buf.data()), take);
            n += take;
            if (n == chunk)
                break;
        }
        q.consumed(n);
    }
    return out;
}

TEST(SendQueueTest, PartialWritesResumeWhereTheyStopped)
{
    for (std::size_t chunk : {1u, 3u, 7u, 64u, 100000u}) {
        send_queue q(framing::websocket);
        std::string want;
        for (int i = 0; i < 20; ++i) {
            auto m = room_msg(wire_kind::event, "job:a", static_cast<std::uint64_t>(i + 1));
            want += m->head;
            q.push(m, {});
        }
        EXPECT_EQ(drain(q, chunk), want) << chunk;
        EXPECT_EQ(q.bytes(), 0u);
        EXPECT_EQ(q.messages(), 0u);
    }
}

TEST(SendQueueTest, APartlyWrittenMessageSurvivesTheLadderAndTheClose)
{
    send_queue q(framing::websocket);
    auto first = room_msg(wire_kind::event, "job:a", 1);
    q.push(first, {});
    q.next_buffers();
    q.consumed(3);  // part of the first message went out
    q.push(room_msg(wire_kind::event, "job:a", 2), {});
    q.close(encode_close_frame(1008, "x"));
    EXPECT_EQ(q.messages(), 2u);  // the rest of the first, then the close
    EXPECT_EQ(q.push(room_msg(wire_kind::event, "job:a", 3), {}).status, send_status::dropped);
    auto const rest = drain(q, 1000);
    EXPECT_EQ(rest.substr(0, first->head.size() - 3), first->head.substr(3));
}

TEST(SendQueueTest, AnEventFrameIsOneBufferSharedByWebSocketAndSse)
{
    auto ev = std::make_shared<logged_event>();
    ev->seq = 5;
    ev->event = job_progress{.job_id = "j", .queue = "q", .percent = 50};
    ev->time = time_point{std::chrono::milliseconds{0}};
    ev->rooms = job_rooms::make("t", "j", "q", "", "");
    auto const m = encode_event("job:t/j", ev);
    auto const payload = boost::json::parse(m->payload());
    EXPECT_EQ(payload.at("room"), "job:t/j");
    EXPECT_EQ(payload.at("seq"), 5);
    EXPECT_EQ(payload.at("event"), boost::json::parse(ev->json()));

    // WebSocket: the frame is one buffer; SSE: its head, the same JSON bytes, the record's end.
    std::array<asio::const_buffer, max_pieces> b;
    ASSERT_EQ(pieces(*m, framing::websocket, b.data()), 1u);
    EXPECT_EQ(b[0].data(), m->head.data());
    EXPECT_EQ(b[0].size(), m->frame_size());
    ASSERT_EQ(pieces(*m, framing::sse, b.data()), 3u);
    EXPECT_EQ(b[1].data(), m->json().data()) << "the frame's JSON, not a copy";
    EXPECT_EQ(framed_size(*m, framing::sse), b[0].size() + b[1].size() + b[2].size());

    send_queue ws(framing::websocket), sse(framing::sse);
    ws.push(m, {});
    sse.push(m, {});
    auto const frame = drain(ws, 1 << 20);
    EXPECT_EQ(frame.size(), m->frame_size());
    EXPECT_EQ(frame.substr(m->header_len), m->payload());
    EXPECT_EQ(drain(sse, 1 << 20), "id: 5\nevent: event\ndata: " + m->payload() + "\n\n");
}

}  // namespace
