#ifndef JOBWATCH_HTTP_WIRE_HPP
#define JOBWATCH_HTTP_WIRE_HPP

#include <jobwatch/codec.hpp>
#include <jobwatch/detail/codec_write.hpp>
#include <jobwatch/detail/hash.hpp>
#include <jobwatch/events/event.hpp>
#include <jobwatch/events/event_log.hpp>
#include <jobwatch/messages/server_message.hpp>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

namespace jobwatch::http {

/// What a queued message is, for the overflow ladder of a send queue.
enum class wire_kind : std::uint8_t
{
    control,   ///< replies, notices, WebSocket control frames: never dropped
    progress,  ///< a job.progress event: only the newest per job and room is kept under pressure
    event,     ///< any other room message kept in history (terminal events, logs, alerts): never coalesced
    state,     ///< a summary or health report: state, only the newest per room is kept under pressure
};

/** @brief One server message, encoded once and shared by every subscriber.

    `bytes` holds a complete, unmasked WebSocket text frame (server frames are
    never masked, so the same bytes, header included, serve every
    subscriber); `payload()` is the JSON text inside, which SSE and long-poll
    send as it is.

    @par Thread Safety
    Immutable once built: share it across threads by `shared_ptr<const>`.
*/
struct wire_msg
{
    std::string bytes;             ///< frame header + JSON payload
    std::uint32_t header_len = 0;  ///< bytes of the frame header
    wire_kind kind = wire_kind::control;
    std::uint64_t seq = 0;         ///< room messages: the sequence number
    std::uint64_t coalesce_key = 0;  ///< progress: hash of the job id; state: 0
    std::string room;              ///< room messages: the room
    std::string_view sse_event;    ///< SSE `event:` name (the message type)

    std::string_view payload() const noexcept
    {
        return std::string_view(bytes).substr(header_len);
    }
};

using wire_ptr = std::shared_ptr<wire_msg const>;

namespace detail {

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

/** @brief Builds a text frame by writing the payload after room for the
    largest header, then moving the header next to it: one allocation and no
    copy of the payload (the frame starts at `skip`). */
class frame_builder
{
public:
    frame_builder() { out_.assign(max_frame_header, '\0'); }
    std::string& payload() noexcept { return out_; }

    wire_ptr finish(wire_kind kind, std::uint64_t seq, std::string room, std::string_view sse_event,
                    std::uint64_t coalesce_key = 0)
    {
        auto const len = out_.size() - max_frame_header;
        unsigned char hdr[max_frame_header];
        auto const n = frame_header(hdr, 0x1, len);
        // Shift the header to sit right before the payload, then drop the slack.
        auto const skip = max_frame_header - n;
        std::memcpy(out_.data() + skip, hdr, n);
        out_.erase(0, skip);
        auto msg = std::make_shared<wire_msg>();
        msg->bytes = std::move(out_);
        msg->header_len = static_cast<std::uint32_t>(n);
        msg->kind = kind;
        msg->seq = seq;
        msg->coalesce_key = coalesce_key;
        msg->room = std::move(room);
        msg->sse_event = sse_event;
        return msg;
    }

private:
    std::string out_;
};

}  // namespace detail

/// A control message (a reply or notice) from a generated server message type.
template<class T>
wire_ptr encode_message(T const& m)
{
    detail::frame_builder b;
    to_json(b.payload(), m);
    return b.finish(wire_kind::control, 0, {}, T::type);
}

/// A raw control frame (ping, close) with `payload`.
inline wire_ptr encode_control_frame(unsigned opcode, std::string_view payload)
{
    auto msg = std::make_shared<wire_msg>();
    unsigned char hdr[detail::max_frame_header];
    auto const n = detail::frame_header(hdr, opcode, payload.size());
    msg->bytes.assign(reinterpret_cast<char const*>(hdr), n);
    msg->bytes.append(payload);
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

/// `{"type":"event","room":R,"seq":N,"event":E}` for one room of a logged event.
inline wire_ptr encode_event(std::string_view room, logged_event const& ev)
{
    detail::frame_builder b;
    auto& out = b.payload();
    auto const& body = ev.json();
    out.reserve(out.size() + body.size() + room.size() + 64);
    ::jobwatch::detail::json_writer w(out);
    w.raw(R"({"type":"event","room":)");
    w.string(room);
    w.raw(R"(,"seq":)");
    w.integer(static_cast<std::int64_t>(ev.seq));
    w.raw(R"(,"event":)");
    w.raw(body);
    w.raw('}');
    auto const kind = kind_of(ev.event) == event_kind::progress ? wire_kind::progress : wire_kind::event;
    auto const key = kind == wire_kind::progress ? ::jobwatch::detail::fnv1a(job_id_of(ev.event)) : 0;
    return b.finish(kind, ev.seq, std::string(room), "event", key);
}

/// `{"type":"summary",...}` for a room's new summary.
inline wire_ptr encode_summary(std::string_view room, std::uint64_t seq, summary const& s)
{
    detail::frame_builder b;
    ::jobwatch::detail::json_writer w(b.payload());
    w.raw(R"({"type":"summary","room":)");
    w.string(room);
    w.raw(R"(,"seq":)");
    w.integer(static_cast<std::int64_t>(seq));
    w.raw(R"(,"summary":)");
    to_json(b.payload(), s);
    w.raw('}');
    return b.finish(wire_kind::state, seq, std::string(room), "summary");
}

/// `{"type":"alert","room":"alerts",...}`.
inline wire_ptr encode_alert(std::uint64_t seq, alert const& a)
{
    detail::frame_builder b;
    ::jobwatch::detail::json_writer w(b.payload());
    w.raw(R"({"type":"alert","room":"alerts","seq":)");
    w.integer(static_cast<std::int64_t>(seq));
    w.raw(R"(,"alert":)");
    to_json(b.payload(), a);
    w.raw('}');
    return b.finish(wire_kind::event, seq, std::string(rooms::alerts), "alert");
}

/// `{"type":"health","room":"health",...}`.
inline wire_ptr encode_health(std::uint64_t seq, health_report const& r)
{
    detail::frame_builder b;
    ::jobwatch::detail::json_writer w(b.payload());
    w.raw(R"({"type":"health","room":"health","seq":)");
    w.integer(static_cast<std::int64_t>(seq));
    w.raw(R"(,"report":)");
    to_json(b.payload(), r);
    w.raw('}');
    return b.finish(wire_kind::state, seq, std::string(rooms::health), "health");
}

/// The message for one entry of a room's history (a job event or an alert).
inline wire_ptr encode_entry(std::string_view room, room_entry const& e)
{
    if (e.event)
        return encode_event(room, *e.event);
    return encode_alert(e.seq, *e.alert_msg);
}

}  // namespace jobwatch::http

#endif
