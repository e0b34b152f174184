#ifndef JOBWATCH_SOCKETIO_SESSION_HPP
#define JOBWATCH_SOCKETIO_SESSION_HPP

/** @file
    One Engine.IO client of the Socket.IO endpoint, without I/O: the
    handshake, the transport (polling, then WebSocket after an upgrade), the
    heartbeat, the namespaces joined, and the native mapping of namespace `/`
    (docs/socketio.md). The I/O layer feeds it what the client sent and the
    time, and performs the actions it returns.
*/

#include <jobwatch/detail/base64url.hpp>
#include <jobwatch/socketio/engine_io.hpp>
#include <jobwatch/socketio/socket_io.hpp>

#include <boost/json/object.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace jobwatch::socketio {

using sio::frame;

/// The clock of sessions: deadlines only, never shown.
using clock = std::chrono::steady_clock;

/// Why a session ends.
enum class close_reason : std::uint8_t
{
    client_close,     ///< the client sent an Engine.IO `close` packet
    transport_close,  ///< the I/O layer lost the transport (socket closed, poll request gone)
    transport_error,  ///< the client broke the transport's rules (overlapping polls, a ping from the client)
    ping_timeout,     ///< no pong within `ping_timeout` of a ping
    connect_timeout,  ///< no namespace joined within `connect_timeout`
    parse_error,      ///< a malformed Engine.IO or Socket.IO packet
    invalid_state,    ///< a packet for a namespace not joined (an event before CONNECT), a second CONNECT
    too_large,        ///< a message or POST body over `max_payload`
    binary,           ///< binary data: jobwatch speaks text only
    queue_overflow,   ///< more frames waiting for a poll than `max_buffered_frames` or `max_buffered_bytes`
    server_close,     ///< the server closed it (shutdown, revoked credentials)
};

/// The short text of `r` (a WebSocket close reason, a log word).
inline std::string_view to_string(close_reason r) noexcept
{
    switch (r) {
    case close_reason::client_close: return "client close";
    case close_reason::transport_close: return "transport close";
    case close_reason::transport_error: return "transport error";
    case close_reason::ping_timeout: return "ping timeout";
    case close_reason::connect_timeout: return "connect timeout";
    case close_reason::parse_error: return "parse error";
    case close_reason::invalid_state: return "invalid state";
    case close_reason::too_large: return "payload too large";
    case close_reason::binary: return "binary not supported";
    case close_reason::queue_overflow: return "send queue overflow";
    case close_reason::server_close: return "server close";
    }
    return "close";
}

/// The WebSocket close code for `r` (RFC 6455 section 7.4.1).
inline std::uint16_t websocket_code(close_reason r) noexcept
{
    switch (r) {
    case close_reason::client_close: return 1000;
    case close_reason::server_close: return 1001;
    case close_reason::parse_error:
    case close_reason::invalid_state:
    case close_reason::transport_error: return 1002;
    case close_reason::binary: return 1003;
    case close_reason::too_large: return 1009;
    default: return 1008;
    }
}

/// Which request of a polling client an answer is for.
enum class poll_request : std::uint8_t
{
    get,   ///< the long-running GET that receives
    post,  ///< the POST that sends
};

/** @brief Write `frames` on `via`, in order. WebSocket: one text message
    each. Polling: the body of the held GET, joined by the record separator
    (`eio::join_payload`); the GET is answered by it. */
struct send_frames
{
    eio::transport via = eio::transport::websocket;
    std::vector<frame> frames;
};

/** @brief Check `token` with the gateway's authenticator (the same one, JWT
    included, as the native protocol), then call `session::on_authenticated`
    for `nsp`. `token` is `auth.token` of the CONNECT packet, empty when
    there is none. */
struct authenticate
{
    std::string nsp;
    std::string token;
};

/** @brief Subscribe the client to `room`, resuming after `since`, as the
    native `subscribe` does; answer with `session::reply` (the native
    `subscribed` or `error` message), passing `ack_id`. */
struct subscribe
{
    std::string nsp;
    std::string room;
    std::optional<std::uint64_t> since;
    std::optional<std::uint64_t> ack_id;
};

/// Unsubscribe the client from `room`; answer with `session::reply` (`unsubscribed` or `error`).
struct unsubscribe
{
    std::string nsp;
    std::string room;
    std::optional<std::uint64_t> ack_id;
};

/// The client left `nsp`: drop the subscriptions it made there.
struct namespace_left
{
    std::string nsp;
};

/** @brief An event on a namespace without the native mapping (one the
    configuration added): for the I/O layer's own mapping to handle. */
struct client_event
{
    std::string nsp;
    boost::json::array args;  ///< the name first
    std::optional<std::uint64_t> ack_id;
};

/// Answer a polling request with `status` and `body` (text/plain).
struct respond
{
    poll_request request = poll_request::post;
    unsigned status = 200;
    std::string body;
};

/** @brief Close the WebSocket that was probing for an upgrade; the session
    goes on over polling. */
struct abort_upgrade
{
    std::string reason;
};

/** @brief The session is over: close its WebSocket with
    `websocket_code(reason)` and `to_string(reason)`, drop every
    subscription, and forget the sid (later polls get 400). */
struct close_session
{
    close_reason reason = close_reason::server_close;
    std::string detail;  ///< what exactly, for the log
};

/// What the I/O layer must do, in order.
using action = std::variant<send_frames, authenticate, subscribe, unsubscribe, namespace_left, client_event, respond,
                            abort_upgrade, close_session>;
using actions = std::vector<action>;

/// Makes ids that cannot be guessed (sids, namespace socket ids).
using id_source = std::function<std::string()>;

/** @brief 20 characters of base64url from 15 random bytes, like the ids of
    the reference server. A polling sid is the session's only credential, so
    the bytes come from `std::random_device`, which libstdc++ draws from the
    CPU's RDSEED/RDRAND or the kernel's getrandom, never from a seeded PRNG. */
inline std::string random_id()
{
    thread_local std::random_device rd;
    std::string bytes(15, '\0');
    for (std::size_t i = 0; i < bytes.size(); i += 3) {
        auto const v = rd();
        bytes[i] = static_cast<char>(v & 0xff);
        bytes[i + 1] = static_cast<char>((v >> 8) & 0xff);
        bytes[i + 2] = static_cast<char>((v >> 16) & 0xff);
    }
    return jobwatch::detail::base64url_encode(bytes);
}

/** @brief One Engine.IO session and the Socket.IO namespaces joined over it.

    The I/O layer drives it:
    @li `start` once, then, polling: `on_poll_get` for each GET (the first
        one is the handshake request) and `on_poll_post` for each POST body;
        WebSocket: `on_ws_message` for each text message and
        `on_ws_binary` for each binary one;
    @li `begin_upgrade` when a WebSocket opens with this sid, then its
        messages go to `on_ws_message` (`2probe`, `5`);
    @li `on_timer` at `next_deadline()`; `on_transport_closed` when a
        socket or a held poll goes away;
    @li `on_authenticated` with the authenticator's answer, `reply` with
        the native answer to a subscribe or unsubscribe, `deliver` with
        room frames (`sio::make_event_frame`, built once per room message);
    @li every call returns the actions to perform, in order; after a
        `close_session` the session does nothing more.

    Polling frames wait in a bounded buffer until a GET takes them; a
    WebSocket gets them at once (its connection's send queue bounds them).

    @par Thread Safety
    Not thread safe: its connection's executor owns it.
*/
class session
{
public:
    /// Settings of the endpoint. Every field has a working default (those of the reference server).
    struct config
    {
        std::chrono::milliseconds ping_interval{25'000};    ///< a ping this long after the last pong
        std::chrono::milliseconds ping_timeout{20'000};     ///< the pong is due this long after the ping
        std::chrono::milliseconds connect_timeout{45'000};  ///< no namespace joined by then: close; 0 disables
        std::chrono::milliseconds upgrade_timeout{10'000};  ///< a probing WebSocket must send `5` by then
        std::size_t max_payload = 1'000'000;                ///< bytes of a WebSocket message or POST body
        std::size_t max_packets_per_post = 1000;            ///< records of one POST body
        std::size_t max_buffered_frames = 1024;             ///< polling: frames waiting for a GET
        std::size_t max_buffered_bytes = 4 << 20;           ///< polling: their bytes
        std::vector<std::string> namespaces{std::string(sio::main_namespace)};  ///< those a client may join
        /// Namespace `/` speaks the native mapping; false: its events go out as `client_event` like any other's.
        bool native_main = true;
    };

    /** @brief Why `c` cannot serve, naming the field; empty when it can.
        Check it once, when the endpoint starts: sessions trust it. */
    static std::string check(config const& c)
    {
        if (c.ping_interval.count() <= 0)
            return "ping_interval must be positive";
        if (c.ping_timeout.count() <= 0)
            return "ping_timeout must be positive";
        if (c.connect_timeout.count() < 0)
            return "connect_timeout must not be negative (0 disables it)";
        if (c.upgrade_timeout.count() <= 0)
            return "upgrade_timeout must be positive";
        if (c.max_payload == 0 || c.max_packets_per_post == 0 || c.max_buffered_frames == 0 ||
            c.max_buffered_bytes == 0)
            return "max_payload, max_packets_per_post, max_buffered_frames and max_buffered_bytes must be positive";
        if (c.namespaces.empty())
            return "namespaces must name at least one namespace";
        for (auto const& n : c.namespaces)
            if (n.empty() || n.front() != '/' || n.find(',') != std::string::npos || n.size() > sio::max_namespace_bytes)
                return "namespace \"" + n + "\" must start with '/', hold no ',' and be at most " +
                       std::to_string(sio::max_namespace_bytes) + " bytes";
        return {};
    }

    /// A session on `t`, opened at `now`; its sid comes from `ids`.
    session(config cfg, eio::transport t, clock::time_point now, id_source ids = random_id)
        : cfg_(std::move(cfg)), ids_(std::move(ids)), transport_(t), opened_(now)
    {
        sid_ = ids_();
    }

    /// The Engine.IO session id (the `sid` query parameter).
    std::string const& sid() const noexcept { return sid_; }
    /// The transport frames go out on.
    eio::transport transport() const noexcept { return transport_; }
    /// Whether a WebSocket is probing for an upgrade.
    bool upgrading() const noexcept { return upgrade_ != upgrade_step::none; }
    /// Whether the session is over.
    bool closed() const noexcept { return closed_; }
    /// Whether `nsp` is joined.
    bool connected(std::string_view nsp) const { return connected_.find(nsp) != connected_.end(); }
    /// Polling frames waiting for a GET.
    std::size_t buffered_frames() const noexcept { return buffer_.size(); }
    /// Whether a GET is held, waiting for frames.
    bool get_held() const noexcept { return get_held_; }

    /// When `on_timer` must run next (`clock::time_point::max()`: never).
    clock::time_point next_deadline() const noexcept
    {
        if (closed_)
            return clock::time_point::max();
        auto t = std::min(next_ping_, pong_due_);
        if (connected_.empty() && cfg_.connect_timeout.count() > 0)
            t = std::min(t, opened_ + cfg_.connect_timeout);
        if (upgrading())
            t = std::min(t, upgrade_due_);
        return t;
    }

    /// The handshake: the `open` packet (for polling, the first GET takes it), and the first ping's deadline.
    actions start(clock::time_point now)
    {
        actions out;
        next_ping_ = now + cfg_.ping_interval;
        push(out, std::make_shared<std::string const>(eio::encode_open(
                      {.sid = sid_,
                       .can_upgrade = transport_ == eio::transport::polling,
                       .ping_interval = cfg_.ping_interval,
                       .ping_timeout = cfg_.ping_timeout,
                       .max_payload = cfg_.max_payload})));
        return out;
    }

    /// A text message on the session's WebSocket (or on the one probing for an upgrade).
    actions on_ws_message(std::string_view text, clock::time_point now)
    {
        actions out;
        if (closed_)
            return out;
        if (text.size() > cfg_.max_payload) {
            close_with(out, close_reason::too_large,
                       "a message of " + std::to_string(text.size()) + " bytes, over maxPayload " +
                           std::to_string(cfg_.max_payload));
            return out;
        }
        if (transport_ == eio::transport::polling) {
            on_upgrade_packet(out, text);
            return out;
        }
        on_packet(out, text, now);
        return out;
    }

    /// A binary message on the WebSocket: refused, the session ends.
    actions on_ws_binary(std::size_t bytes, clock::time_point)
    {
        actions out;
        if (closed_)
            return out;
        if (transport_ == eio::transport::polling) {
            stop_upgrade(out, "binary messages are not supported (text only)");
            return out;
        }
        close_with(out, close_reason::binary,
                   "a binary message of " + std::to_string(bytes) + " bytes; jobwatch speaks text only");
        return out;
    }

    /** @brief A polling GET: answered now (`send_frames` or `respond`) or
        held until there are frames (`get_held()`). */
    actions on_poll_get(clock::time_point)
    {
        actions out;
        if (closed_) {
            out.push_back(respond{poll_request::get, 400, "the session is closed"});
            return out;
        }
        if (transport_ != eio::transport::polling) {
            out.push_back(respond{poll_request::get, 400, "the session was upgraded to WebSocket"});
            return out;
        }
        if (get_held_) {
            out.push_back(respond{poll_request::get, 400, "a GET is already pending for this session"});
            close_with(out, close_reason::transport_error, "overlapping GET requests");
            return out;
        }
        get_held_ = true;
        if (upgrade_ == upgrade_step::probed)
            answer_get_with(out, noop_frame());
        else
            flush(out);
        return out;
    }

    /** @brief A polling POST with its whole body (`binary`: its
        `Content-Type` is `application/octet-stream`). Always answered by a
        `respond` for the POST, after the actions its packets caused. */
    actions on_poll_post(std::string_view body, bool binary, clock::time_point now)
    {
        actions out;
        if (closed_) {
            out.push_back(respond{poll_request::post, 400, "the session is closed"});
            return out;
        }
        if (transport_ != eio::transport::polling) {
            out.push_back(respond{poll_request::post, 400, "the session was upgraded to WebSocket"});
            return out;
        }
        if (binary) {
            out.push_back(respond{poll_request::post, 400, "binary bodies are not supported (text only)"});
            close_with(out, close_reason::binary, "a POST with Content-Type application/octet-stream");
            return out;
        }
        if (body.size() > cfg_.max_payload) {
            auto why = "a POST body of " + std::to_string(body.size()) + " bytes, over maxPayload " +
                       std::to_string(cfg_.max_payload);
            out.push_back(respond{poll_request::post, 413, why});
            close_with(out, close_reason::too_large, std::move(why));
            return out;
        }
        auto const records = eio::split_payload(body, cfg_.max_packets_per_post);
        if (!records) {
            auto why = "more than " + std::to_string(cfg_.max_packets_per_post) + " packets in one POST";
            out.push_back(respond{poll_request::post, 413, why});
            close_with(out, close_reason::too_large, std::move(why));
            return out;
        }
        for (auto const r : *records) {
            on_packet(out, r, now);
            if (closed_)
                break;
        }
        // A body that ended the session with an error says why; a client's close packet is a success.
        if (closed_ && close_reason_ != close_reason::client_close)
            out.push_back(respond{poll_request::post, 400, std::string(to_string(close_reason_)) + ": " + close_detail_});
        else
            out.push_back(respond{poll_request::post, 200, "ok"});
        return out;
    }

    /** @brief A transport went away: the session's own ends it; the
        WebSocket probing for an upgrade only ends the upgrade. */
    actions on_transport_closed(eio::transport t, clock::time_point)
    {
        actions out;
        if (closed_)
            return out;
        if (t == eio::transport::websocket && transport_ == eio::transport::polling) {
            upgrade_ = upgrade_step::none;  // the probe went away: polling goes on
            return out;
        }
        if (t != transport_)
            return out;  // the polling transport after the upgrade: discarded already
        if (t == eio::transport::polling)
            get_held_ = false;  // the held GET is the one that went away
        close_with(out, close_reason::transport_close, "the client went away");
        return out;
    }

    /** @brief A WebSocket opened with this session's sid. Refused (an
        `abort_upgrade` for it, the session unchanged) unless the session
        is on polling with no upgrade under way. */
    actions begin_upgrade(clock::time_point now)
    {
        actions out;
        if (closed_)
            out.push_back(abort_upgrade{"the session is closed"});
        else if (transport_ != eio::transport::polling)
            out.push_back(abort_upgrade{"the session is already on WebSocket"});
        else if (upgrading())
            out.push_back(abort_upgrade{"an upgrade is already under way"});
        else {
            upgrade_ = upgrade_step::awaiting_probe;
            upgrade_due_ = now + cfg_.upgrade_timeout;
        }
        return out;
    }

    /// Time passed: pings, and the deadlines of pong, CONNECT and upgrade.
    actions on_timer(clock::time_point now)
    {
        actions out;
        if (closed_)
            return out;
        if (now >= pong_due_) {
            close_with(out, close_reason::ping_timeout,
                       "no pong within " + std::to_string(cfg_.ping_timeout.count()) + " ms");
            return out;
        }
        if (connected_.empty() && cfg_.connect_timeout.count() > 0 && now >= opened_ + cfg_.connect_timeout) {
            close_with(out, close_reason::connect_timeout,
                       "no namespace joined within " + std::to_string(cfg_.connect_timeout.count()) + " ms");
            return out;
        }
        if (upgrading() && now >= upgrade_due_)
            stop_upgrade(out, "the upgrade did not complete within " +
                                  std::to_string(cfg_.upgrade_timeout.count()) + " ms");
        if (now >= next_ping_) {
            next_ping_ = clock::time_point::max();  // the next one is due a ping interval after the pong
            pong_due_ = now + cfg_.ping_timeout;
            push(out, ping_frame());
        }
        return out;
    }

    /** @brief The authenticator's answer for the CONNECT of `nsp`: joined
        (`40/ns,{"sid"}`) or refused (`44/ns,{"message": refusal}`, the
        client's `connect_error`). Ignored when the client left meanwhile. */
    actions on_authenticated(std::string const& nsp, std::optional<std::string> refusal, clock::time_point)
    {
        actions out;
        if (closed_ || pending_.erase(nsp) == 0)
            return out;
        if (refusal) {
            push(out, make(sio::encode_connect_error(nsp, *refusal)));
            return out;
        }
        connected_.insert(nsp);
        push(out, make(sio::encode_connect(nsp, ids_())));
        return out;
    }

    /** @brief The native answer `json` (of type `type`: `subscribed`,
        `unsubscribed`, `error`) to a `subscribe` or `unsubscribe`: the
        ack's argument when the client asked for one, else an event named
        `type`. Ignored when the client left `nsp` meanwhile. */
    actions reply(std::string const& nsp, std::optional<std::uint64_t> ack_id, std::string_view type,
                  std::string_view json, clock::time_point)
    {
        actions out;
        if (closed_ || !connected(nsp))
            return out;
        push(out, make(ack_id ? sio::encode_ack(nsp, *ack_id, json) : sio::encode_event(nsp, type, json)));
        return out;
    }

    /// A room message's shared frame (`sio::make_event_frame`).
    actions deliver(frame f, clock::time_point)
    {
        actions out;
        if (!closed_)
            push(out, std::move(f));
        return out;
    }

    /// The server ends the session (shutdown, revoked credentials): frames buffered for a poll go first.
    actions close(close_reason r, std::string detail, clock::time_point)
    {
        actions out;
        close_with(out, r, std::move(detail));
        return out;
    }

private:
    enum class upgrade_step : std::uint8_t
    {
        none,
        awaiting_probe,  ///< the WebSocket is open; `2probe` comes next
        probed,          ///< `3probe` sent; `5` comes next
    };

    static frame make(std::string s) { return std::make_shared<std::string const>(std::move(s)); }

    // Control frames are the same bytes for every session: shared, never rebuilt.
    static frame const& ping_frame()
    {
        static frame const f = make(eio::encode_packet(eio::packet_type::ping));
        return f;
    }
    static frame const& noop_frame()
    {
        static frame const f = make(eio::encode_packet(eio::packet_type::noop));
        return f;
    }
    static frame const& close_frame()
    {
        static frame const f = make(eio::encode_packet(eio::packet_type::close));
        return f;
    }
    static frame const& probe_pong_frame()
    {
        static frame const f = make(eio::encode_packet(eio::packet_type::pong, eio::probe));
        return f;
    }

    static void send_on(actions& out, eio::transport via, frame f)
    {
        // Frames of one call go out in one action, so the writer can gather them.
        if (!out.empty())
            if (auto* last = std::get_if<send_frames>(&out.back()); last && last->via == via) {
                last->frames.push_back(std::move(f));
                return;
            }
        out.push_back(send_frames{via, {std::move(f)}});
    }

    // A frame for the client: at once on WebSocket; on polling into the bounded buffer, then to a held GET.
    void push(actions& out, frame f)
    {
        if (transport_ == eio::transport::websocket) {
            send_on(out, eio::transport::websocket, std::move(f));
            return;
        }
        buffered_bytes_ += f->size();
        buffer_.push_back(std::move(f));
        if (buffer_.size() > cfg_.max_buffered_frames || buffered_bytes_ > cfg_.max_buffered_bytes) {
            auto why = std::to_string(buffer_.size()) + " frames (" + std::to_string(buffered_bytes_) +
                       " bytes) wait for a poll, over the bounds of " + std::to_string(cfg_.max_buffered_frames) +
                       " frames and " + std::to_string(cfg_.max_buffered_bytes) + " bytes";
            // The client is not reading: what waits for it is dropped, not delivered late.
            buffer_.clear();
            buffered_bytes_ = 0;
            close_with(out, close_reason::queue_overflow, std::move(why));
            return;
        }
        // Once probed, frames wait for the WebSocket: the client has paused polling.
        if (upgrade_ != upgrade_step::probed)
            flush(out);
    }

    // The buffered frames to the held GET, if there are both.
    void flush(actions& out)
    {
        if (!get_held_ || buffer_.empty())
            return;
        send_frames s{eio::transport::polling, {}};
        s.frames.assign(std::make_move_iterator(buffer_.begin()), std::make_move_iterator(buffer_.end()));
        buffer_.clear();
        buffered_bytes_ = 0;
        get_held_ = false;
        out.push_back(std::move(s));
    }

    void answer_get_with(actions& out, frame f)
    {
        get_held_ = false;
        out.push_back(send_frames{eio::transport::polling, {std::move(f)}});
    }

    void stop_upgrade(actions& out, std::string why)
    {
        upgrade_ = upgrade_step::none;
        out.push_back(abort_upgrade{std::move(why)});
        flush(out);  // frames held back for the WebSocket go to polling again
    }

    void close_with(actions& out, close_reason r, std::string detail)
    {
        if (closed_)
            return;
        // Polling: the held GET ends with what was buffered, then `close`
        // (a client's own close ends it with a `noop`, as the reference server does).
        if (transport_ == eio::transport::polling && get_held_) {
            get_held_ = false;
            send_frames s{eio::transport::polling, {}};
            for (auto& f : buffer_)
                s.frames.push_back(std::move(f));
            s.frames.push_back(r == close_reason::client_close ? noop_frame() : close_frame());
            out.push_back(std::move(s));
        }
        buffer_.clear();
        buffered_bytes_ = 0;
        closed_ = true;
        close_reason_ = r;
        close_detail_ = detail;
        upgrade_ = upgrade_step::none;
        out.push_back(close_session{r, std::move(detail)});
    }

    // A message on the WebSocket probing for an upgrade: `2probe`, then `5`.
    void on_upgrade_packet(actions& out, std::string_view text)
    {
        if (upgrade_ == upgrade_step::awaiting_probe && text == "2probe") {
            upgrade_ = upgrade_step::probed;
            send_on(out, eio::transport::websocket, probe_pong_frame());
            // The client pauses polling before it sends `5`: end the held GET now.
            if (get_held_)
                answer_get_with(out, noop_frame());
            return;
        }
        if (upgrade_ == upgrade_step::probed && text == "5") {
            upgrade_ = upgrade_step::none;
            transport_ = eio::transport::websocket;
            if (get_held_)
                answer_get_with(out, noop_frame());
            // What waited for a poll goes out on the WebSocket, in order.
            for (auto& f : buffer_)
                send_on(out, eio::transport::websocket, std::move(f));
            buffer_.clear();
            buffered_bytes_ = 0;
            return;
        }
        stop_upgrade(out, upgrading() ? "unexpected packet during the upgrade" : "no upgrade under way");
    }

    // One Engine.IO packet from the client on the session's transport.
    void on_packet(actions& out, std::string_view text, clock::time_point now)
    {
        auto const p = eio::decode_packet(text);
        if (!p) {
            bool const bin = !text.empty() && text.front() == 'b';
            close_with(out, bin ? close_reason::binary : close_reason::parse_error, p.error);
            return;
        }
        switch (p.packet->type) {
        case eio::packet_type::close:
            close_with(out, close_reason::client_close, "the client closed the session");
            return;
        case eio::packet_type::ping:
            // Protocol 4: the server pings; `2probe` belongs on a probing WebSocket only.
            close_with(out, close_reason::transport_error, "invalid heartbeat direction: the server sends pings");
            return;
        case eio::packet_type::pong:
            if (pong_due_ != clock::time_point::max()) {
                pong_due_ = clock::time_point::max();
                next_ping_ = now + cfg_.ping_interval;
            }
            return;
        case eio::packet_type::message:
            on_message(out, p.packet->data);
            return;
        default:
            return;  // open, upgrade and noop from a client mean nothing here (the reference server ignores them)
        }
    }

    // One Socket.IO packet.
    void on_message(actions& out, std::string_view text)
    {
        auto r = sio::parse_packet(text);
        if (!r) {
            bool const bin = !text.empty() && (text.front() == '5' || text.front() == '6');
            close_with(out, bin ? close_reason::binary : close_reason::parse_error, r.error);
            return;
        }
        auto& p = *r.packet;
        bool const joined = connected_.count(p.nsp) != 0;
        switch (p.type) {
        case sio::packet_type::connect: {
            if (std::find(cfg_.namespaces.begin(), cfg_.namespaces.end(), p.nsp) == cfg_.namespaces.end()) {
                // The reference server's words, which clients may match on.
                push(out, make(sio::encode_connect_error(p.nsp, "Invalid namespace")));
                return;
            }
            if (joined || pending_.count(p.nsp) != 0) {
                close_with(out, close_reason::invalid_state, "a second CONNECT to namespace " + p.nsp);
                return;
            }
            std::string token;
            if (p.data)
                if (auto const* t = p.data->get_object().if_contains("token")) {
                    if (!t->is_string()) {
                        push(out, make(sio::encode_connect_error(p.nsp, "auth.token must be a string")));
                        return;
                    }
                    token = std::string(t->get_string());
                }
            pending_.insert(p.nsp);
            out.push_back(authenticate{p.nsp, std::move(token)});
            return;
        }
        case sio::packet_type::disconnect:
            if (pending_.erase(p.nsp) != 0)
                return;  // left before the authenticator answered
            if (!joined) {
                close_with(out, close_reason::invalid_state, "DISCONNECT from namespace " + p.nsp + ", never joined");
                return;
            }
            connected_.erase(p.nsp);
            out.push_back(namespace_left{p.nsp});
            return;
        case sio::packet_type::event:
            if (!joined) {
                close_with(out, close_reason::invalid_state, "EVENT for namespace " + p.nsp + " before its CONNECT");
                return;
            }
            if (cfg_.native_main && p.nsp == sio::main_namespace)
                on_native_event(out, p);
            else
                out.push_back(client_event{p.nsp, std::move(p.data->get_array()), p.id});
            return;
        case sio::packet_type::ack:
            if (!joined)
                close_with(out, close_reason::invalid_state, "ACK for namespace " + p.nsp + " before its CONNECT");
            return;  // the server asks for no acks: nothing waits for one
        default:
            close_with(out, close_reason::invalid_state, "a client does not send CONNECT_ERROR");
            return;
        }
    }

    // The native error message as the answer to an event of namespace `/`.
    void native_error(actions& out, std::optional<std::uint64_t> ack_id, std::string_view code, std::string_view message,
                      std::string_view path)
    {
        boost::json::object e;
        e["type"] = "error";
        e["code"] = code;
        e["message"] = message;
        e["path"] = path;
        auto const json = boost::json::serialize(e);
        std::string const nsp(sio::main_namespace);
        push(out, make(ack_id ? sio::encode_ack(nsp, *ack_id, json) : sio::encode_event(nsp, "error", json)));
    }

    // Namespace `/`: `subscribe` and `unsubscribe` with `{room, since?}`, as the native messages.
    void on_native_event(actions& out, sio::packet& p)
    {
        auto const& args = p.data->get_array();
        auto const* name = args.front().if_string();
        std::string_view const n = name ? std::string_view(*name) : std::string_view{};
        if (n != "subscribe" && n != "unsubscribe")
            return native_error(out, p.id, "unknown_type",
                                "unknown event" + (name ? " \"" + std::string(n) + "\"" : std::string()) +
                                    "; expected subscribe or unsubscribe",
                                "");
        auto const* body = args.size() >= 2 ? args[1].if_object() : nullptr;
        if (!body)
            return native_error(out, p.id, "invalid_message", std::string(n) + " takes an object {room, since?}", "");
        auto const* room = body->if_contains("room");
        if (!room || !room->is_string() || room->get_string().empty())
            return native_error(out, p.id, "invalid_message", "\"room\" must be a non-empty string", "/room");
        std::optional<std::uint64_t> since;
        if (n == "subscribe")
            if (auto const* s = body->if_contains("since"); s && !s->is_null()) {
                if (s->is_uint64())
                    since = s->get_uint64();
                else if (s->is_int64() && s->get_int64() >= 0)
                    since = static_cast<std::uint64_t>(s->get_int64());
                else
                    return native_error(out, p.id, "invalid_message", "\"since\" must be a non-negative integer",
                                        "/since");
            }
        std::string r(room->get_string());
        if (n == "subscribe")
            out.push_back(subscribe{p.nsp, std::move(r), since, p.id});
        else
            out.push_back(unsubscribe{p.nsp, std::move(r), p.id});
    }

    config cfg_;
    id_source ids_;
    std::string sid_;
    eio::transport transport_;
    clock::time_point opened_;
    clock::time_point next_ping_ = clock::time_point::max();
    clock::time_point pong_due_ = clock::time_point::max();
    clock::time_point upgrade_due_ = clock::time_point::max();
    upgrade_step upgrade_ = upgrade_step::none;
    bool get_held_ = false;
    bool closed_ = false;
    close_reason close_reason_ = close_reason::server_close;
    std::string close_detail_;
    std::deque<frame> buffer_;  // polling: frames waiting for a GET (bounded by the config)
    std::size_t buffered_bytes_ = 0;
    std::set<std::string, std::less<>> connected_;  // joined namespaces (bounded: only configured ones)
    std::set<std::string, std::less<>> pending_;    // CONNECTs waiting for the authenticator
};

}  // namespace jobwatch::socketio

#endif
