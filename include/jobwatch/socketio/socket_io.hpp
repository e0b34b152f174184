#ifndef JOBWATCH_SOCKETIO_SOCKET_IO_HPP
#define JOBWATCH_SOCKETIO_SOCKET_IO_HPP

/** @file
    Socket.IO protocol 5 packets (the protocol of Socket.IO v3 and v4),
    without I/O: parsing what a client sends, encoding what the server sends
    (docs/socketio.md, "Protocol").

    Written by hand: Debian ships no Socket.IO server library for C++. Each
    Socket.IO packet travels as an Engine.IO `message` packet, so every
    encoder here returns the complete Engine.IO text (`4`, then the Socket.IO
    packet): the frame a WebSocket sends as it is, and a polling body joins
    with the record separator (`eio::append_to_payload`).
*/

#include <jobwatch/socketio/engine_io.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace jobwatch::socketio::sio {

/// Socket.IO packet types, as their digit on the wire.
enum class packet_type : char
{
    connect = '0',        ///< client: join a namespace (optional auth object); server: joined (`{"sid"}`)
    disconnect = '1',     ///< leave a namespace
    event = '2',          ///< `["name", args...]`, with an optional ack id
    ack = '3',            ///< the answer to an event with an ack id: `[args...]`
    connect_error = '4',  ///< server: the namespace was refused (`{"message"}`)
    binary_event = '5',   ///< refused: jobwatch speaks text only
    binary_ack = '6',     ///< refused: jobwatch speaks text only
};

/// The main namespace, left out on the wire.
inline constexpr std::string_view main_namespace = "/";

/// Longest namespace name accepted (bytes).
inline constexpr std::size_t max_namespace_bytes = 256;

/// Largest ack id: JavaScript clients count them in doubles, exact up to 2^53 - 1.
inline constexpr std::uint64_t max_ack_id = (std::uint64_t{1} << 53) - 1;

/// Event names a client may not send (the client library uses them itself).
inline constexpr std::array<std::string_view, 6> reserved_events = {
    "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"};

/// One decoded Socket.IO packet.
struct packet
{
    packet_type type = packet_type::event;
    std::string nsp = std::string(main_namespace);
    std::optional<std::uint64_t> id;         ///< the ack id, when the sender wants an answer
    std::optional<boost::json::value> data;  ///< the JSON payload, when there is one
};

/// A packet, or why the text is not one.
struct parse_result
{
    std::optional<sio::packet> packet;
    std::string error;  ///< set when `packet` is empty
    std::string nsp;    ///< the namespace read before the error, if any (for logs)

    explicit operator bool() const noexcept { return packet.has_value(); }
};

namespace detail {

inline parse_result refuse(std::string why, std::string nsp = {})
{
    return {std::nullopt, std::move(why), std::move(nsp)};
}

inline bool is_reserved(std::string_view name) noexcept
{
    for (auto r : reserved_events)
        if (r == name)
            return true;
    return false;
}

/// Why `data` does not suit a packet of type `t`; empty when it does.
inline std::string check_payload(packet_type t, std::optional<boost::json::value> const& data)
{
    switch (t) {
    case packet_type::connect:
        return !data || data->is_object() ? "" : "a CONNECT payload must be a JSON object";
    case packet_type::disconnect:
        return !data ? "" : "a DISCONNECT packet has no payload";
    case packet_type::event: {
        auto const* a = data ? data->if_array() : nullptr;
        if (!a || a->empty())
            return "an EVENT payload must be a non-empty JSON array";
        auto const& name = a->front();
        if (name.is_string()) {
            if (is_reserved(std::string_view(name.get_string())))
                return "the event name \"" + std::string(name.get_string()) + "\" is reserved";
            return "";
        }
        return name.is_number() ? "" : "an EVENT's first element (its name) must be a string or a number";
    }
    case packet_type::ack:
        return data && data->is_array() ? "" : "an ACK payload must be a JSON array";
    case packet_type::connect_error:
        return data && (data->is_object() || data->is_string()) ? "" : "a CONNECT_ERROR payload must be an object or a string";
    default:
        return "binary packets are not supported (text only)";
    }
}

/// `/ns,` before the rest of a packet, unless `nsp` is the main namespace.
inline void append_namespace(std::string& out, std::string_view nsp)
{
    if (nsp != main_namespace && !nsp.empty()) {
        out.append(nsp);
        out.push_back(',');
    }
}

/// `4`, the type digit, then the namespace prefix.
inline std::string start(packet_type t, std::string_view nsp, std::size_t more)
{
    std::string out;
    out.reserve(2 + nsp.size() + 1 + more);
    out.push_back(static_cast<char>(eio::packet_type::message));
    out.push_back(static_cast<char>(t));
    append_namespace(out, nsp);
    return out;
}

inline std::string quote(std::string_view s)
{
    return boost::json::serialize(boost::json::string_view(s.data(), s.size()));
}

}  // namespace detail

/** @brief Parses a Socket.IO packet: the text of an Engine.IO `message`
    packet, without its `4`.

    The format is `<type>[/<namespace>,][<ack id>][<JSON>]`. The payload is
    checked as the protocol requires (CONNECT: an object or nothing;
    DISCONNECT: nothing; EVENT: a non-empty array named by a string that is
    not reserved, or by a number; ACK: an array). Binary packets (types 5
    and 6) are refused.
*/
inline parse_result parse_packet(std::string_view text)
{
    if (text.empty())
        return detail::refuse("empty Socket.IO packet");
    char const c = text.front();
    if (c < '0' || c > '6')
        return detail::refuse(std::string("unknown Socket.IO packet type '") + (c >= 0x20 && c < 0x7f ? c : '?') + "'");
    auto const type = static_cast<packet_type>(c);
    if (type == packet_type::binary_event || type == packet_type::binary_ack)
        return detail::refuse("binary packets are not supported (text only)");
    std::string_view rest = text.substr(1);

    packet p;
    p.type = type;
    if (!rest.empty() && rest.front() == '/') {
        // The namespace runs to the first comma, or to the end ("40/admin" is accepted as the client library does).
        auto const comma = rest.find(',');
        auto const nsp = rest.substr(0, comma);
        if (nsp.size() > max_namespace_bytes)
            return detail::refuse("namespace longer than " + std::to_string(max_namespace_bytes) + " bytes");
        p.nsp = std::string(nsp);
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    }

    std::size_t digits = 0;
    while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9')
        ++digits;
    if (digits > 0) {
        std::uint64_t id = 0;
        for (std::size_t i = 0; i < digits; ++i) {
            id = id * 10 + static_cast<std::uint64_t>(rest[i] - '0');
            if (id > max_ack_id)
                return detail::refuse("ack id larger than 2^53 - 1", p.nsp);
        }
        p.id = id;
        rest.remove_prefix(digits);
    }

    if (!rest.empty()) {
        boost::system::error_code ec;
        auto jv = boost::json::parse(boost::json::string_view(rest.data(), rest.size()), ec);
        if (ec)
            return detail::refuse("the payload is not JSON: " + ec.message(), p.nsp);
        p.data = std::move(jv);
    }
    if (auto why = detail::check_payload(type, p.data); !why.empty())
        return detail::refuse(std::move(why), p.nsp);
    if (p.id && type != packet_type::event && type != packet_type::ack)
        return detail::refuse("only EVENT and ACK packets carry an ack id", p.nsp);
    return {std::move(p), {}, {}};
}

/** @brief The Engine.IO text of any packet (the general encoder; the ones
    below build the same text without a JSON value). */
inline std::string encode(packet const& p)
{
    auto out = detail::start(p.type, p.nsp, 16);
    if (p.id)
        out += std::to_string(*p.id);
    if (p.data)
        out += boost::json::serialize(*p.data);
    return out;
}

/** @brief An EVENT with one argument already encoded as JSON:
    `42/ns,["name",<json>]`.

    This is how a room message is framed for Socket.IO: built once from the
    message's encoded JSON and shared by every client of the room, over
    both transports (see `make_event_frame`).
*/
inline std::string encode_event(std::string_view nsp, std::string_view name, std::string_view json)
{
    auto const q = detail::quote(name);
    auto out = detail::start(packet_type::event, nsp, q.size() + json.size() + 3);
    out.push_back('[');
    out.append(q);
    out.push_back(',');
    out.append(json);
    out.push_back(']');
    return out;
}

/// An EVENT with the given payload (`["name", args...]`) and an optional ack id.
inline std::string encode_event(std::string_view nsp, boost::json::array const& data, std::optional<std::uint64_t> id = {})
{
    auto out = detail::start(packet_type::event, nsp, 16);
    if (id)
        out += std::to_string(*id);
    out += boost::json::serialize(data);
    return out;
}

/// An ACK with one argument already encoded as JSON: `43/ns,12[<json>]`.
inline std::string encode_ack(std::string_view nsp, std::uint64_t id, std::string_view json)
{
    auto out = detail::start(packet_type::ack, nsp, json.size() + 22);
    out += std::to_string(id);
    out.push_back('[');
    out.append(json);
    out.push_back(']');
    return out;
}

/// An ACK with the given arguments: `43/ns,12[args...]`.
inline std::string encode_ack(std::string_view nsp, std::uint64_t id, boost::json::array const& args)
{
    auto out = detail::start(packet_type::ack, nsp, 22);
    out += std::to_string(id);
    out += boost::json::serialize(args);
    return out;
}

/// The answer to a CONNECT that was granted: `40/ns,{"sid":"..."}`.
inline std::string encode_connect(std::string_view nsp, std::string_view sid)
{
    auto out = detail::start(packet_type::connect, nsp, sid.size() + 10);
    out += "{\"sid\":";
    out += detail::quote(sid);
    out.push_back('}');
    return out;
}

/** @brief The answer to a CONNECT that was refused: `44/ns,{"message":"..."}`.
    The client library raises it as `connect_error` with an `Error` whose
    `message` is this one. */
inline std::string encode_connect_error(std::string_view nsp, std::string_view message)
{
    auto out = detail::start(packet_type::connect_error, nsp, message.size() + 14);
    out += "{\"message\":";
    out += detail::quote(message);
    out.push_back('}');
    return out;
}

/// The server leaves a namespace: `41/ns,`.
inline std::string encode_disconnect(std::string_view nsp)
{
    return detail::start(packet_type::disconnect, nsp, 0);
}

/// A frame shared by every client it goes to (immutable once built).
using frame = std::shared_ptr<std::string const>;

/** @brief The frame of one server message for every Socket.IO client of its
    room: `42/ns,["<name>",<json>]`, where `json` is the message as the
    native protocol encoded it (once). Over WebSocket the frame is the text
    of one message; over polling it is one record of a body
    (`eio::append_to_payload`). Build it once per room message, never per
    client. */
inline frame make_event_frame(std::string_view nsp, std::string_view name, std::string_view json)
{
    return std::make_shared<std::string const>(encode_event(nsp, name, json));
}

/** @brief The `type` of a native message (`event`, `summary`, `alert`, ...):
    the event name it is emitted under. The gateway writes `type` first, so
    that is read without parsing; any other object is parsed. Empty when
    there is no string `type`. */
inline std::string native_type(std::string_view json)
{
    constexpr std::string_view head = R"({"type":")";
    if (json.substr(0, head.size()) == head) {
        auto const end = json.find_first_of("\"\\", head.size());
        if (end != std::string_view::npos && json[end] == '"')
            return std::string(json.substr(head.size(), end - head.size()));
    }
    boost::system::error_code ec;
    auto const v = boost::json::parse(boost::json::string_view(json.data(), json.size()), ec);
    auto const* obj = ec ? nullptr : v.if_object();
    auto const* t = obj ? obj->if_contains("type") : nullptr;
    return t && t->is_string() ? std::string(t->get_string()) : std::string();
}

/** @brief `make_event_frame` for a native server message, emitted under
    its own `type` (the native mapping of namespace `/`). */
inline frame make_native_frame(std::string_view nsp, std::string_view json)
{
    return make_event_frame(nsp, native_type(json), json);
}

}  // namespace jobwatch::socketio::sio

#endif
