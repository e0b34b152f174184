#ifndef JOBWATCH_SOCKETIO_ENGINE_IO_HPP
#define JOBWATCH_SOCKETIO_ENGINE_IO_HPP

/** @file
    Engine.IO protocol 4 packets, without I/O: the transport layer under
    Socket.IO (docs/socketio.md, "Protocol").

    Written by hand: Debian ships no Engine.IO or Socket.IO server library
    for C++, and the format is small (one type digit, then text).
*/

#include <boost/json/serialize.hpp>
#include <boost/json/string_view.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jobwatch::socketio::eio {

/// Engine.IO packet types, as their digit on the wire.
enum class packet_type : char
{
    open = '0',     ///< server → client: the handshake (JSON)
    close = '1',    ///< either way: the transport is closed
    ping = '2',     ///< server → client heartbeat (and the client's `2probe` during an upgrade)
    pong = '3',     ///< client → server heartbeat answer (and the server's `3probe`)
    message = '4',  ///< a payload: here always a Socket.IO packet
    upgrade = '5',  ///< client → server: the upgrade to WebSocket is complete
    noop = '6',     ///< server → client: ends a pending poll during an upgrade
};

/// What separates packets in an HTTP long-polling body (ASCII record separator).
inline constexpr char record_separator = '\x1e';

/// The payload of the probe exchange (`2probe`, `3probe`).
inline constexpr std::string_view probe = "probe";

/// One decoded packet; `data` views the decoded text.
struct packet
{
    packet_type type = packet_type::noop;
    std::string_view data;
};

/// A packet, or why the text is not one.
struct decode_result
{
    std::optional<eio::packet> packet;
    std::string error;  ///< set when `packet` is empty

    explicit operator bool() const noexcept { return packet.has_value(); }
};

/** @brief Decodes one text packet (a WebSocket text message, or one record
    of a polling body).

    Refuses the empty text, a type that is not `0`..`6`, and base64 binary
    (`b` prefix): jobwatch sends and accepts text only, and says so.
*/
inline decode_result decode_packet(std::string_view text)
{
    if (text.empty())
        return {std::nullopt, "empty Engine.IO packet"};
    char const c = text.front();
    if (c == 'b')
        return {std::nullopt, "binary Engine.IO packets are not supported (text only)"};
    if (c < '0' || c > '6')
        return {std::nullopt, std::string("unknown Engine.IO packet type '") + (c >= 0x20 && c < 0x7f ? c : '?') + "'"};
    return {eio::packet{static_cast<packet_type>(c), text.substr(1)}, {}};
}

/// The text of a packet: its type digit, then `data`.
inline std::string encode_packet(packet_type t, std::string_view data = {})
{
    std::string out;
    out.reserve(1 + data.size());
    out.push_back(static_cast<char>(t));
    out.append(data);
    return out;
}

/** @brief The records of a polling body, in order, with at most
    `max_packets` of them (a body of separators alone must not make a vector
    of a million views). Records are not decoded: an empty one is left for
    `decode_packet` to refuse. Returns nothing when there are more records.
*/
inline std::optional<std::vector<std::string_view>> split_payload(std::string_view body, std::size_t max_packets)
{
    std::vector<std::string_view> out;
    for (;;) {
        if (out.size() == max_packets)
            return std::nullopt;
        auto const at = body.find(record_separator);
        out.push_back(body.substr(0, at));
        if (at == std::string_view::npos)
            return out;
        body.remove_prefix(at + 1);
    }
}

/** @brief Appends `packet` to the polling body `body`, with a separator
    before it unless it is the first.

    The packets themselves are shared frames: a gather write of frame,
    separator, frame... avoids even this copy; this is the simple form.
*/
inline void append_to_payload(std::string& body, std::string_view packet)
{
    if (!body.empty())
        body.push_back(record_separator);
    body.append(packet);
}

/// The polling body of `packets`: joined with the record separator.
template<class Range>
std::string join_payload(Range const& packets)
{
    std::size_t n = 0;
    for (auto const& p : packets)
        n += std::string_view(p).size() + 1;
    std::string body;
    body.reserve(n);
    bool first = true;
    for (auto const& p : packets) {
        if (!first)
            body.push_back(record_separator);
        first = false;
        body.append(std::string_view(p));
    }
    return body;
}

/// The transports of an Engine.IO session.
enum class transport : std::uint8_t
{
    polling,    ///< HTTP long-polling: GET to receive, POST to send
    websocket,  ///< one WebSocket text message per packet
};

/// The JSON of the `open` packet.
struct handshake
{
    std::string sid;
    bool can_upgrade = false;  ///< `upgrades: ["websocket"]` (a polling session), else `[]`
    std::chrono::milliseconds ping_interval{25'000};
    std::chrono::milliseconds ping_timeout{20'000};
    std::size_t max_payload = 1'000'000;
};

/// The `open` packet: `0{"sid":...,"upgrades":[...],"pingInterval":...,"pingTimeout":...,"maxPayload":...}`.
inline std::string encode_open(handshake const& h)
{
    std::string out = "0{\"sid\":";
    out += boost::json::serialize(boost::json::string_view(h.sid.data(), h.sid.size()));
    out += h.can_upgrade ? ",\"upgrades\":[\"websocket\"]" : ",\"upgrades\":[]";
    out += ",\"pingInterval\":" + std::to_string(h.ping_interval.count());
    out += ",\"pingTimeout\":" + std::to_string(h.ping_timeout.count());
    out += ",\"maxPayload\":" + std::to_string(h.max_payload);
    out += '}';
    return out;
}

}  // namespace jobwatch::socketio::eio

#endif
