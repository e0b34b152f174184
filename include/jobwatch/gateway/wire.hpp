#ifndef JOBWATCH_GATEWAY_WIRE_HPP
#define JOBWATCH_GATEWAY_WIRE_HPP

/** @file
    Server messages as the gateway sends them: encoded once per room message
    and shared by every subscriber, as a WebSocket frame, an SSE record or a
    JSON text, without a copy per protocol or per client.
*/

#include <jobwatch/codec.hpp>
#include <jobwatch/detail/codec_write.hpp>
#include <jobwatch/detail/hash.hpp>
#include <jobwatch/events/event.hpp>
#include <jobwatch/events/event_log.hpp>
#include <jobwatch/messages/server_message.hpp>

#include <boost/asio/buffer.hpp>

#include <array>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

namespace jobwatch::gw {

/// What a queued message is, for the overflow ladder of a send queue.
enum class wire_kind : std::uint8_t
{
    control,   ///< replies, notices, WebSocket control frames: never dropped by the ladder
    progress,  ///< a job.progress event: only the newest per job and room is kept under pressure
    event,     ///< any other room message kept in history (terminal events, logs, alerts): never coalesced
    state,     ///< a summary or health report: state, only the newest per room is kept under pressure
};

/** @brief One server message, encoded once and shared by every subscriber.

    `head` is the WebSocket frame (server frames are never masked, so one
    frame serves every subscriber): the frame header, then the JSON text.
    `sse_head` is the SSE record's `id:`/`event:`/`data:` lines, also built
    once. A room message copies the event's JSON into its frame once per
    room: a frame in one piece costs each subscriber one buffer of a gather
    write, where head, shared body and tail cost three (measured: about a
    tenth of the server's time per message at 1,000 subscribers).

    @par Thread Safety
    Immutable once built: share it across threads by `shared_ptr<const>`.
*/
struct wire_msg
{
    std::string head;                ///< the WebSocket frame: header, then the JSON text
    std::shared_ptr<void const> keep;  ///< owner of `user_key` (the logged event)
    std::string sse_head;            ///< SSE: `id: N\nevent: T\ndata: `; empty: raw text (heartbeat, head)
    std::string room;                ///< room messages: the room
    std::uint64_t seq = 0;           ///< room messages: the room position the message carries
    std::uint64_t coalesce_key = 0;  ///< progress: hash of the job's room; state: 0
    std::string_view user_key;       ///< job events: the job's user key (`tenant/user`), for user-bound principals
    std::uint32_t header_len = 0;    ///< bytes of the WebSocket frame header at the start of `head`
    wire_kind kind = wire_kind::control;

    /// The JSON text.
    std::string_view json() const noexcept { return std::string_view(head).substr(header_len); }
    /// Bytes of the JSON text.
    std::size_t payload_size() const noexcept { return head.size() - header_len; }
    /// Bytes of the WebSocket frame.
    std::size_t frame_size() const noexcept { return head.size(); }
    /// The JSON text, copied (long-poll answers, tests).
    std::string payload() const { return std::string(json()); }
};

using wire_ptr = std::shared_ptr<wire_msg const>;

/// How a connection frames the messages it sends.
enum class framing : std::uint8_t
{
    websocket,  ///< the frame: header, JSON
    sse,        ///< an SSE record: `id:`, `event:`, `data:` lines around the JSON
};

/// What ends an SSE record.
inline constexpr std::string_view sse_record_end = "\n\n";

/** @brief The pieces of `m` as `f` frames it, in order: at most `max_pieces`
    buffers, empty ones left out. Returns how many were written to `out`. */
inline constexpr std::size_t max_pieces = 3;
inline std::size_t pieces(wire_msg const& m, framing f, asio::const_buffer* out) noexcept
{
    if (f == framing::websocket) {
        out[0] = asio::buffer(m.head.data(), m.head.size());
        return m.head.empty() ? 0 : 1;
    }
    std::size_t n = 0;
    auto add = [&](std::string_view s) {
        if (!s.empty())
            out[n++] = asio::buffer(s.data(), s.size());
    };
    if (m.sse_head.empty()) {  // raw text: the response head, a heartbeat comment
        add(m.json());
        return n;
    }
    add(m.sse_head);
    add(m.json());
    add(sse_record_end);
    return n;
}

/// Bytes of `m` as `f` frames it.
inline std::size_t framed_size(wire_msg const& m, framing f) noexcept
{
    if (f == framing::websocket)
        return m.head.size();
    return m.sse_head.empty() ? m.payload_size() : m.sse_head.size() + m.payload_size() + sse_record_end.size();
}

namespace impl {

/// Largest WebSocket frame header of a server frame (2 + 8 bytes, no mask).
inline constexpr std::size_t max_frame_header = 10;

/// Writes the header of a final, unmasked frame of `opcode` with `len` payload bytes.
inline std::size_t frame_header(unsigned char* out, unsigned opcode, std::uint64_t len) noexcept
{
    out[0] = static_cast<unsigned char>(0x80 | opcode);
    if (len < 126) {
        out[1] = static_cast<unsigned char>(len);
        return 2;
    }
    if (len <= 0xFFFF) {
        out[1] = 126;
        out[2] = static_cast<unsigned char>(len >> 8);
        out[3] = static_cast<unsigned char>(len);
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; ++i)
        out[2 + i] = static_cast<unsigned char>(len >> (56 - 8 * i));
    return 10;
}

/** @brief Builds a message: the JSON is written after room for the largest
    frame header, which is then moved next to it once the whole length is
    known (one allocation, no second copy of the JSON). */
class builder
{
public:
    builder() { out_.assign(max_frame_header, '\0'); }
    std::string& json() noexcept { return out_; }

    std::shared_ptr<wire_msg> finish()
    {
        auto const len = out_.size() - max_frame_header;
        unsigned char hdr[max_frame_header];
        auto const n = frame_header(hdr, 0x1, len);
        auto const skip = max_frame_header - n;
        std::memcpy(out_.data() + skip, hdr, n);
        out_.erase(0, skip);
        auto msg = std::make_shared<wire_msg>();
        msg->head = std::move(out_);
        msg->header_len = static_cast<std::uint32_t>(n);
        return msg;
    }

private:
    std::string out_;
};

/// `id: N\nevent: T\ndata: ` (no id line when `seq` is 0).
inline std::string sse_head(std::string_view event, std::uint64_t seq)
{
    std::string out;
    if (seq != 0) {
        out = "id: ";
        out += std::to_string(seq);
        out += '\n';
    }
    out += "event: ";
    out += event;
    out += "\ndata: ";
    return out;
}

}  // namespace impl

/// A reply or notice from a generated server message type.
template<class T>
wire_ptr encode_message(T const& m)
{
    impl::builder b;
    to_json(b.json(), m);
    auto msg = b.finish();
    msg->sse_head = impl::sse_head(T::type, 0);
    return msg;
}

/// Raw text for SSE (the response head, a heartbeat comment).
inline wire_ptr encode_raw(std::string text)
{
    auto msg = std::make_shared<wire_msg>();
    msg->head = std::move(text);
    return msg;
}

/// A raw control frame (ping, pong, close) with `payload`.
inline wire_ptr encode_control_frame(unsigned opcode, std::string_view payload)
{
    auto msg = std::make_shared<wire_msg>();
    unsigned char hdr[impl::max_frame_header];
    auto const n = impl::frame_header(hdr, opcode, payload.size());
    msg->head.assign(reinterpret_cast<char const*>(hdr), n);
    msg->head.append(payload);
    msg->header_len = static_cast<std::uint32_t>(n);
    return msg;
}

/// A close frame with `code` and a short reason.
inline wire_ptr encode_close_frame(std::uint16_t code, std::string_view reason)
{
    std::string p;
    p.push_back(static_cast<char>(code >> 8));
    p.push_back(static_cast<char>(code & 0xFF));
    p.append(reason.substr(0, 120));
    return encode_control_frame(0x8, p);
}

/// `{"type":"event","room":R,"seq":N,"event":E}` for one room of a logged
/// event; `E` is the event's own JSON (see `wire_msg` on why it is copied).
inline wire_ptr encode_event(std::string_view room, std::shared_ptr<logged_event const> const& ev)
{
    impl::builder b;
    ::jobwatch::detail::json_writer w(b.json());
    w.raw(R"({"type":"event","room":)");
    w.string(room);
    w.raw(R"(,"seq":)");
    w.integer(static_cast<std::int64_t>(ev->seq));
    w.raw(R"(,"event":)");
    w.raw(ev->json());
    w.raw('}');
    auto msg = b.finish();
    msg->keep = ev;
    msg->kind = kind_of(ev->event) == event_kind::progress ? wire_kind::progress : wire_kind::event;
    msg->seq = ev->seq;
    msg->room = std::string(room);
    auto const& rooms = *ev->rooms;
    if (msg->kind == wire_kind::progress)
        msg->coalesce_key = ::jobwatch::detail::hash_string(rooms.of(rooms::kind::job));
    msg->user_key = rooms.user_key();
    msg->sse_head = impl::sse_head("event", ev->seq);
    return msg;
}

/// `{"type":"summary","room":R,"seq":N,"summary":S}`: a room's new summary, as of its position N.
inline wire_ptr encode_summary(std::string_view room, std::uint64_t seq, summary const& s)
{
    impl::builder b;
    ::jobwatch::detail::json_writer w(b.json());
    w.raw(R"({"type":"summary","room":)");
    w.string(room);
    w.raw(R"(,"seq":)");
    w.integer(static_cast<std::int64_t>(seq));
    w.raw(R"(,"summary":)");
    to_json(b.json(), s);
    w.raw('}');
    auto msg = b.finish();
    msg->kind = wire_kind::state;
    msg->seq = seq;
    msg->room = std::string(room);
    msg->sse_head = impl::sse_head("summary", seq);
    return msg;
}

/// `{"type":"alert","room":"alerts","seq":N,"alert":A}`.
inline wire_ptr encode_alert(std::uint64_t seq, alert const& a)
{
    impl::builder b;
    ::jobwatch::detail::json_writer w(b.json());
    w.raw(R"({"type":"alert","room":"alerts","seq":)");
    w.integer(static_cast<std::int64_t>(seq));
    w.raw(R"(,"alert":)");
    to_json(b.json(), a);
    w.raw('}');
    auto msg = b.finish();
    msg->kind = wire_kind::event;
    msg->seq = seq;
    msg->room = std::string(rooms::alerts);
    msg->sse_head = impl::sse_head("alert", seq);
    return msg;
}

/// `{"type":"health","room":"health","seq":N,"report":R}`.
inline wire_ptr encode_health(std::uint64_t seq, health_report const& r)
{
    impl::builder b;
    ::jobwatch::detail::json_writer w(b.json());
    w.raw(R"({"type":"health","room":"health","seq":)");
    w.integer(static_cast<std::int64_t>(seq));
    w.raw(R"(,"report":)");
    to_json(b.json(), r);
    w.raw('}');
    auto msg = b.finish();
    msg->kind = wire_kind::state;
    msg->seq = seq;
    msg->room = std::string(rooms::health);
    msg->sse_head = impl::sse_head("health", seq);
    return msg;
}

/// The message for one entry of a room's history (a job event or an alert).
inline wire_ptr encode_entry(std::string_view room, room_entry const& e)
{
    if (e.event)
        return encode_event(room, e.event);
    return encode_alert(e.seq, *e.alert_msg);
}

}  // namespace jobwatch::gw

#endif
