#ifndef JOBWATCH_GATEWAY_SIO_ENDPOINT_HPP
#define JOBWATCH_GATEWAY_SIO_ENDPOINT_HPP

/** @file
    The Socket.IO v4 endpoint at `/socket.io/` (docs/socketio.md): the I/O
    around the sans-I/O `socketio::session`. Written here rather than taken
    from a library because no C++ Socket.IO server exists in Debian, and
    because its frames must be the gateway's: one encoding per room message
    and namespace mapping, shared by every client, through the same send
    queues and rooms as the native protocol.
*/

#include <jobwatch/gateway/server.hpp>
#include <jobwatch/gateway/subscription.hpp>
#include <jobwatch/gateway/ws_protocol.hpp>
#include <jobwatch/gateway/ws_session.hpp>
#include <jobwatch/socketio/session.hpp>

#include <boost/asio/append.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace jobwatch::gw {

namespace eio = ::jobwatch::socketio::eio;
namespace sio = ::jobwatch::socketio::sio;

/** @brief A room message as a mapped namespace's view sees it: the native
    message, and its content typed. */
struct sio_message
{
    std::string_view type;  ///< "event", "summary", "alert" or "health"
    std::string_view room;
    std::uint64_t seq = 0;
    boost::json::object const* native = nullptr;  ///< the whole native message
    job_event const* as_event = nullptr;          ///< type "event"
    summary const* as_summary = nullptr;          ///< type "summary"
    alert const* as_alert = nullptr;              ///< type "alert"
    health_report const* as_health = nullptr;     ///< type "health"
};

/// What a view emits for a message: the event name and its one argument.
struct sio_emit
{
    std::string name;
    boost::json::value payload;
};

/** @brief A payload view: the Socket.IO event for a room message, or none
    (not emitted on this namespace). Called once per room message and
    namespace, on an I/O thread; the frame it makes is shared by every
    client. */
using sio_view = std::function<std::optional<sio_emit>(sio_message const&)>;

/** @brief One mapped namespace (`gateway.socketio.namespaces`, or C++ in
    `gateway::config::socketio_namespaces`): which client events join and
    leave which rooms, and how each jobwatch message is emitted: by `view`
    when set, else by `emits` (message key -> event name, its content as the
    payload). */
struct sio_mapping
{
    std::string name;
    std::map<std::string, std::string, std::less<>> joins;   ///< client event -> room template
    std::map<std::string, std::string, std::less<>> leaves;  ///< client event -> room template
    std::map<std::string, std::string, std::less<>> emits;   ///< message key -> event name
    sio_view view{};                                         ///< payload views as code
};

/** @brief `tmpl` with each `{field}` replaced by that field of `arg` (a
    string, or an integer written in decimal). Empty with `why` set when a
    field is missing or of another type. */
inline std::string expand_room(std::string_view tmpl, boost::json::value const* arg, std::string& why)
{
    std::string out;
    auto const* obj = arg ? arg->if_object() : nullptr;
    for (std::size_t i = 0; i < tmpl.size();) {
        auto const open = tmpl.find('{', i);
        if (open == std::string_view::npos) {
            out.append(tmpl.substr(i));
            break;
        }
        auto const close = tmpl.find('}', open);
        if (close == std::string_view::npos) {
            out.append(tmpl.substr(i));
            break;
        }
        out.append(tmpl.substr(i, open - i));
        auto const field = tmpl.substr(open + 1, close - open - 1);
        auto const* v = obj ? obj->if_contains(field) : nullptr;
        if (v && v->is_string() && !v->get_string().empty())
            out.append(v->get_string());
        else if (v && v->is_int64())
            out.append(std::to_string(v->get_int64()));
        else if (v && v->is_uint64())
            out.append(std::to_string(v->get_uint64()));
        else {
            why = "the event's argument needs a string \"" + std::string(field) + "\"";
            return {};
        }
        i = close + 1;
    }
    return out;
}

/// A room message framed for one namespace: the Engine.IO packet, and the same as a WebSocket frame.
struct sio_frames
{
    sio::frame text;  ///< null: the namespace does not emit this message
    wire_ptr ws;
};

/// A WebSocket text frame of `text` (the Engine.IO packet as one message).
inline wire_ptr sio_ws_frame(std::string_view text)
{
    impl::builder b;
    b.json().append(text);
    return b.finish();
}

class sio_endpoint;

/** @brief One Engine.IO session: the sans-I/O `socketio::session` and what
    it needs around it, on the shard that opened it (its owner). It is a
    subscriber of that shard's room table. Its WebSocket, if any, may live
    on another shard (an upgrade that came in on another connection): frames
    go there by `dispatch`, already framed and shared.

    @par Thread Safety
    Only from its owner shard's executor.
*/
class sio_session final : public subscriber
{
public:
    using answer_fn = std::function<void(unsigned status, std::string body)>;

    sio_session(sio_endpoint& ep, server& srv, shard& sh, socketio::session::config const& cfg, eio::transport t)
        : subscriber(nullptr), ep_(&ep), srv_(&srv), sh_(&sh), s_(cfg, t, socketio::clock::now()), timer_(sh.ex)
    {
    }

    std::string const& sid() const noexcept { return s_.sid(); }
    shard& owner() const noexcept { return *sh_; }

    /// Opens the session; returns its first frames (the `open` packet).
    std::vector<sio::frame> start()
    {
        auto acts = s_.start(socketio::clock::now());
        arm();
        std::vector<sio::frame> out;
        for (auto& a : acts)
            if (auto* f = std::get_if<socketio::send_frames>(&a))
                for (auto& x : f->frames)
                    out.push_back(std::move(x));
        return out;
    }

    /// A polling GET; `answer` is called once, on this shard.
    void poll_get(answer_fn answer)
    {
        if (get_answer_) {
            // The session answers the overlap itself (400 and close); keep the first one's callback.
            auto first = std::move(get_answer_);
            get_answer_ = std::move(answer);
            perform(s_.on_poll_get(socketio::clock::now()));
            if (get_answer_)
                std::exchange(get_answer_, nullptr)(400, "a GET is already pending for this session");
            get_answer_ = std::move(first);
            if (get_answer_ && s_.closed())
                std::exchange(get_answer_, nullptr)(200, eio::encode_packet(eio::packet_type::close));
            return;
        }
        get_answer_ = std::move(answer);
        perform(s_.on_poll_get(socketio::clock::now()));
    }

    /// A polling POST with its body; `answer` is called once, on this shard.
    void poll_post(std::string body, bool binary, answer_fn answer)
    {
        post_answer_ = std::move(answer);
        perform(s_.on_poll_post(body, binary, socketio::clock::now()));
        if (post_answer_)
            std::exchange(post_answer_, nullptr)(200, "ok");
    }

    /// A WebSocket opened for this session on shard `w`: the transport itself, or a probe to upgrade to.
    void attach_ws(std::shared_ptr<subscriber> conn, shard& w, bool upgrade)
    {
        if (!upgrade) {
            ws_ = {std::move(conn), &w};
            return;
        }
        probe_ = {std::move(conn), &w};
        perform(s_.begin_upgrade(socketio::clock::now()));
    }

    void ws_text(subscriber const* conn, std::string const& text)
    {
        if (!is(conn))
            return;
        perform(s_.on_ws_message(text, socketio::clock::now()));
    }
    void ws_binary(subscriber const* conn, std::size_t n)
    {
        if (!is(conn))
            return;
        perform(s_.on_ws_binary(n, socketio::clock::now()));
    }
    void ws_closed(subscriber const* conn)
    {
        if (probe_.conn.get() == conn) {
            probe_ = {};
            perform(s_.on_transport_closed(eio::transport::websocket, socketio::clock::now()));
        } else if (ws_.conn.get() == conn) {
            ws_ = {};
            perform(s_.on_transport_closed(eio::transport::websocket, socketio::clock::now()));
        }
    }

    // subscriber
    void deliver(wire_ptr const& m) override;
    void send(wire_ptr m) override;
    void flush() override {}
    bool finished() const noexcept override { return done_; }
    void close_with(std::uint16_t, std::string_view reason, wire_ptr) override
    {
        perform(s_.close(socketio::close_reason::server_close, std::string(reason), socketio::clock::now()));
    }

    // connection
    void sweep(steady_time now) override
    {
        if (done_)
            return;
        if (expiry.at != steady_time{} && now >= expiry.at) {
            ++sh_->counters[count::auth_expired];
            perform(s_.close(socketio::close_reason::server_close, "token expired at " + expiry.text, now));
            return;
        }
        if (now >= s_.next_deadline())
            perform(s_.on_timer(now));
    }
    void shutdown() override
    {
        perform(s_.close(socketio::close_reason::server_close, "server shutting down", socketio::clock::now()));
    }
    void abort() override { shutdown(); }
    void detach() noexcept override
    {
        ep_ = nullptr;
        done_ = true;
        get_answer_ = post_answer_ = nullptr;
        ws_ = probe_ = {};
    }
    std::string_view kind() const noexcept override { return "socketio"; }

private:
    struct link
    {
        std::shared_ptr<subscriber> conn;
        shard* where = nullptr;
    };

    bool is(subscriber const* conn) const noexcept
    {
        return !done_ && conn && (ws_.conn.get() == conn || probe_.conn.get() == conn);
    }

    // Frames to a WebSocket on its own shard, in order.
    static void write(link const& l, std::vector<wire_ptr> frames)
    {
        asio::dispatch(l.where->ex, [c = l.conn, frames = std::move(frames)] {
            for (auto const& f : frames)
                c->send(f);
        });
    }
    static void close_link(link const& l, std::uint16_t code, std::string reason)
    {
        asio::dispatch(l.where->ex, [c = l.conn, code, reason = std::move(reason)] { c->close_with(code, reason, nullptr); });
    }

    void perform(socketio::actions acts);
    void authenticate(socketio::authenticate const& a);
    void subscribe(std::string const& nsp, std::string room, std::optional<std::uint64_t> since,
                   std::optional<std::uint64_t> ack, bool mapped);
    void unsubscribe(std::string const& nsp, std::string const& room, std::optional<std::uint64_t> ack, bool mapped);
    void client_event(socketio::client_event& e);
    void leave_namespace(std::string const& nsp);
    void finish(socketio::close_session const& c);
    void emit(std::size_t mapping, wire_ptr const& m);
    std::size_t mapping_of(std::string_view nsp) const;
    /** @brief The session's next deadline on its own timer: pings must
        leave on time (a client gives up `pingInterval + pingTimeout` after
        the last one), finer than the shard's quarter-second sweep. */
    void arm()
    {
        auto const at = done_ ? socketio::clock::time_point::max() : s_.next_deadline();
        if (at == armed_)
            return;
        armed_ = at;
        if (at == socketio::clock::time_point::max()) {
            timer_.cancel();
            return;
        }
        timer_.expires_at(at);
        timer_.async_wait([w = weak_from_this(), at](boost::system::error_code ec) {
            auto self = w.lock();
            if (ec || !self)
                return;
            auto& s = static_cast<sio_session&>(*self);
            if (s.armed_ != at)
                return;
            s.armed_ = socketio::clock::time_point::max();
            s.perform(s.s_.on_timer(socketio::clock::now()));
        });
    }
    void ack_json(std::string const& nsp, std::optional<std::uint64_t> ack, boost::json::object const& o)
    {
        if (ack)
            perform(s_.reply(nsp, ack, "ack", boost::json::serialize(o), socketio::clock::now()));
    }

    sio_endpoint* ep_;
    server* srv_;
    shard* sh_;
    socketio::session s_;
    link ws_;     // the session's WebSocket (transport websocket)
    link probe_;  // a WebSocket probing to upgrade a polling session
    answer_fn get_answer_;   // the held GET
    answer_fn post_answer_;  // the POST being handled
    sio_frames room_frames_;  // the room frame being delivered (its WebSocket form is shared)
    // Rooms joined, and by which namespaces (mapping indexes) of this session.
    std::map<std::string, std::vector<std::size_t>, std::less<>> rooms_;
    asio::steady_timer timer_;
    socketio::clock::time_point armed_ = socketio::clock::time_point::max();
    bool done_ = false;
};

/** @brief The WebSocket side on one shard: passes each Socket.IO
    WebSocket's messages to its session, on the session's shard. */
class sio_ws_host final : public ws_host
{
public:
    explicit sio_ws_host(shard& sh) : sh_(sh) {}

    void bind(subscriber& conn, std::shared_ptr<sio_session> s) { links_[&conn] = std::move(s); }

    bool on_ws_message(subscriber& conn, std::string_view text) override
    {
        auto it = links_.find(&conn);
        if (it == links_.end())
            return true;
        auto& s = it->second;
        asio::dispatch(s->owner().ex, [s, c = &conn, keep = conn.shared_from_this(), t = std::string(text)] {
            s->ws_text(c, t);
        });
        return true;
    }
    bool on_ws_binary(subscriber& conn, std::size_t bytes) override
    {
        auto it = links_.find(&conn);
        if (it != links_.end()) {
            auto& s = it->second;
            asio::dispatch(s->owner().ex, [s, c = &conn, keep = conn.shared_from_this(), bytes] { s->ws_binary(c, bytes); });
        }
        return true;
    }
    void on_ws_finished(subscriber& conn) override
    {
        if (auto it = links_.find(&conn); it != links_.end()) {
            auto s = std::move(it->second);
            links_.erase(it);
            asio::dispatch(s->owner().ex, [s, c = &conn, keep = conn.shared_from_this()] { s->ws_closed(c); });
        }
        sh_.remove(conn);
    }

private:
    shard& sh_;
    std::unordered_map<subscriber const*, std::shared_ptr<sio_session>> links_;
};

/** @brief The endpoint: its settings, mappings, the table of sessions by
    sid (any shard may receive a session's requests) and, per shard, the
    WebSocket host and the cache that frames each room message once per
    mapping.

    @par Thread Safety
    The table under its mutex; `hosts`, `cache` and `frame` per shard, on that shard.
*/
class sio_endpoint
{
public:
    /// `extra`: mappings given in C++; one named like a configured one replaces it.
    sio_endpoint(server& srv, socketio_config const& s, std::vector<sio_mapping> extra = {}) : srv_(srv)
    {
        cfg_.ping_interval = s.ping_interval_ms;
        cfg_.ping_timeout = s.ping_timeout_ms;
        cfg_.connect_timeout = s.connect_timeout_ms;
        cfg_.upgrade_timeout = s.upgrade_timeout_ms;
        cfg_.max_payload = s.max_payload_bytes;
        cfg_.max_buffered_frames = s.max_poll_buffer_messages;
        cfg_.namespaces.clear();
        mappings_.push_back(sio_mapping{.name = std::string(sio::main_namespace), .joins = {}, .leaves = {}, .emits = {}});
        native_ = true;
        for (auto const& [name, m] : s.namespaces) {
            sio_mapping out{.name = name, .joins = {}, .leaves = {}, .emits = {}};
            out.joins.insert(m.joins.begin(), m.joins.end());
            out.leaves.insert(m.leaves.begin(), m.leaves.end());
            out.emits.insert(m.emits.begin(), m.emits.end());
            if (name == sio::main_namespace) {
                mappings_.front() = std::move(out);
                native_ = false;
            } else {
                mappings_.push_back(std::move(out));
            }
        }
        for (auto& m : extra) {
            if (m.name == sio::main_namespace)
                native_ = false;
            auto it = std::find_if(mappings_.begin(), mappings_.end(), [&](auto const& x) { return x.name == m.name; });
            if (it != mappings_.end())
                *it = std::move(m);
            else
                mappings_.push_back(std::move(m));
        }
        for (auto const& m : mappings_)
            cfg_.namespaces.push_back(m.name);
        cfg_.native_main = native_;
        for (auto& sh : srv.shards)
            hosts_.push_back(std::make_unique<sio_ws_host>(*sh));
        cache_.resize(srv.shards.size(), std::vector<cached>(mappings_.size()));
    }

    /// Why the settings cannot serve (at start); empty when they can.
    std::string check() const
    {
        if (auto why = socketio::session::check(cfg_); !why.empty())
            return "gateway.socketio: " + why;
        for (auto const& m : mappings_)
            for (auto const* table : {&m.joins, &m.leaves})
                for (auto const& [ev, tmpl] : *table) {
                    if (sio::detail::is_reserved(ev))
                        return "gateway.socketio.namespaces[\"" + m.name + "\"]: \"" + ev + "\" is a reserved event name";
                    if (tmpl.find('{') != std::string::npos && tmpl.find('}', tmpl.find('{')) == std::string::npos)
                        return "gateway.socketio.namespaces[\"" + m.name + "\"]: room template \"" + tmpl + "\" has an unclosed {";
                }
        return {};
    }

    socketio::session::config const& config() const noexcept { return cfg_; }
    sio_mapping const& mapping(std::size_t i) const noexcept { return mappings_[i]; }
    std::size_t mapping_count() const noexcept { return mappings_.size(); }
    bool native_main() const noexcept { return native_; }
    sio_ws_host& host(shard const& sh) noexcept { return *hosts_[sh.index]; }

    void add(std::shared_ptr<sio_session> const& s)
    {
        std::lock_guard lock(mu_);
        table_[s->sid()] = entry{&s->owner(), s};
    }
    void remove(std::string const& sid)
    {
        std::lock_guard lock(mu_);
        table_.erase(sid);
    }
    std::size_t size() const
    {
        std::lock_guard lock(mu_);
        return table_.size();
    }
    /// The live session `sid`, or null.
    std::shared_ptr<sio_session> find(std::string const& sid) const
    {
        std::lock_guard lock(mu_);
        auto it = table_.find(sid);
        return it == table_.end() ? nullptr : it->second.session.lock();
    }

    /** @brief Room message `m` framed for mapping `i` on shard `sh`: built
        the first time a client of the shard needs it, then shared by the
        rest (the room table hands one message to all its subscribers before
        the next). */
    sio_frames const& frame(shard const& sh, std::size_t i, wire_ptr const& m)
    {
        auto& c = cache_[sh.index][i];
        if (c.src != m) {
            c.src = m;
            c.out = build(mappings_[i], i == 0 && native_, *m);
        }
        return c.out;
    }

private:
    static sio_frames build(sio_mapping const& map, bool native, wire_msg const& m)
    {
        sio_frames out;
        if (native) {
            out.text = sio::make_native_frame(map.name, m.json());
        } else {
            boost::system::error_code ec;
            auto const v = boost::json::parse(boost::json::string_view(m.json().data(), m.json().size()), ec);
            auto const* obj = ec ? nullptr : v.if_object();
            auto const* type = obj ? obj->if_contains("type") : nullptr;
            if (!type || !type->is_string())
                return out;
            std::string_view const t = type->get_string();
            static constexpr std::pair<std::string_view, std::string_view> content_of[] = {
                {"event", "event"}, {"summary", "summary"}, {"alert", "alert"}, {"health", "report"}};
            boost::json::value const* content = nullptr;
            for (auto const& [k, field] : content_of)
                if (t == k)
                    content = obj->if_contains(field);
            if (!content)
                return out;
            if (map.view) {
                auto e = view(map, m, t, *obj, *content);
                if (!e)
                    return out;
                out.text = sio::make_event_frame(map.name, e->name, boost::json::serialize(e->payload));
                out.ws = sio_ws_frame(*out.text);
                return out;
            }
            std::string const* name = nullptr;
            if (t == "event") {
                auto const* et = content->is_object() ? content->get_object().if_contains("type") : nullptr;
                if (et && et->is_string())
                    if (auto it = map.emits.find(std::string_view(et->get_string())); it != map.emits.end())
                        name = &it->second;
                if (!name)
                    if (auto it = map.emits.find("job.*"); it != map.emits.end())
                        name = &it->second;
            } else if (auto it = map.emits.find(t); it != map.emits.end()) {
                name = &it->second;
            }
            if (!name)
                return out;
            out.text = sio::make_event_frame(map.name, *name, boost::json::serialize(*content));
        }
        out.ws = sio_ws_frame(*out.text);
        return out;
    }

    // The typed message for a view; a message that does not parse as its type is not emitted.
    static std::optional<sio_emit> view(sio_mapping const& map, wire_msg const& m, std::string_view type,
                                        boost::json::object const& native, boost::json::value const& content)
    {
        sio_message msg{.type = type, .room = m.room, .seq = m.seq, .native = &native};
        if (type == "event") {
            if (m.keep) {
                // A job event's message keeps the logged event: no second parse.
                auto const ev = std::static_pointer_cast<logged_event const>(m.keep);
                msg.as_event = &ev->event;
                return map.view(msg);
            }
            auto ev = parse_value<job_event>(content);
            if (!ev)
                return std::nullopt;
            msg.as_event = &*ev;
            return map.view(msg);
        }
        if (type == "summary") {
            auto v = parse_value<summary>(content);
            if (!v)
                return std::nullopt;
            msg.as_summary = &*v;
            return map.view(msg);
        }
        if (type == "alert") {
            auto v = parse_value<alert>(content);
            if (!v)
                return std::nullopt;
            msg.as_alert = &*v;
            return map.view(msg);
        }
        auto v = parse_value<health_report>(content);
        if (!v)
            return std::nullopt;
        msg.as_health = &*v;
        return map.view(msg);
    }

    struct entry
    {
        shard* owner = nullptr;
        std::weak_ptr<sio_session> session;
    };
    struct cached
    {
        wire_ptr src;
        sio_frames out;
    };

    server& srv_;
    socketio::session::config cfg_;
    std::vector<sio_mapping> mappings_;
    bool native_ = true;  // namespace "/" speaks the native mapping
    std::vector<std::unique_ptr<sio_ws_host>> hosts_;
    std::vector<std::vector<cached>> cache_;
    mutable std::mutex mu_;
    std::unordered_map<std::string, entry> table_;
};

// --- sio_session -------------------------------------------------------------

inline std::size_t sio_session::mapping_of(std::string_view nsp) const
{
    for (std::size_t i = 0; i < ep_->mapping_count(); ++i)
        if (ep_->mapping(i).name == nsp)
            return i;
    return 0;
}

inline void sio_session::deliver(wire_ptr const& m)
{
    if (done_ || !entitled(*m))
        return;
    auto it = rooms_.find(std::string_view(m->room));
    if (it == rooms_.end())
        return;
    for (auto const i : it->second)
        emit(i, m);
}

inline void sio_session::emit(std::size_t i, wire_ptr const& m)
{
    if (!ep_)
        return;
    auto const& f = ep_->frame(*sh_, i, m);
    if (!f.text)
        return;
    room_frames_ = f;
    perform(s_.deliver(f.text, socketio::clock::now()));
    room_frames_ = {};
}

inline void sio_session::send(wire_ptr m)
{
    // A notice of the room table (lagged): the native namespace says so; a resume is the client's.
    if (done_ || !ep_ || !ep_->native_main() || !s_.connected(sio::main_namespace))
        return;
    perform(s_.deliver(sio::make_native_frame(sio::main_namespace, m->json()), socketio::clock::now()));
}

inline void sio_session::perform(socketio::actions acts)
{
    for (auto& a : acts) {
        if (done_ && !std::holds_alternative<socketio::send_frames>(a) && !std::holds_alternative<socketio::respond>(a))
            continue;
        std::visit(
            [&](auto& x) {
                using T = std::decay_t<decltype(x)>;
                if constexpr (std::is_same_v<T, socketio::send_frames>) {
                    if (x.via == eio::transport::polling) {
                        std::vector<std::string_view> texts;
                        for (auto const& f : x.frames)
                            texts.emplace_back(*f);
                        if (get_answer_)
                            std::exchange(get_answer_, nullptr)(200, eio::join_payload(texts));
                        return;
                    }
                    // WebSocket: the session's own, or the probe before the upgrade completes.
                    if (s_.transport() == eio::transport::websocket && probe_.conn) {
                        ws_ = std::move(probe_);
                        probe_ = {};
                    }
                    auto const& to = ws_.conn ? ws_ : probe_;
                    if (!to.conn)
                        return;
                    std::vector<wire_ptr> frames;
                    frames.reserve(x.frames.size());
                    for (auto const& f : x.frames)
                        frames.push_back(f == room_frames_.text ? room_frames_.ws : sio_ws_frame(*f));
                    write(to, std::move(frames));
                } else if constexpr (std::is_same_v<T, socketio::authenticate>) {
                    authenticate(x);
                } else if constexpr (std::is_same_v<T, socketio::subscribe>) {
                    subscribe(x.nsp, std::move(x.room), x.since, x.ack_id, false);
                } else if constexpr (std::is_same_v<T, socketio::unsubscribe>) {
                    unsubscribe(x.nsp, x.room, x.ack_id, false);
                } else if constexpr (std::is_same_v<T, socketio::namespace_left>) {
                    leave_namespace(x.nsp);
                } else if constexpr (std::is_same_v<T, socketio::client_event>) {
                    client_event(x);
                } else if constexpr (std::is_same_v<T, socketio::respond>) {
                    auto& fn = x.request == socketio::poll_request::get ? get_answer_ : post_answer_;
                    if (fn)
                        std::exchange(fn, nullptr)(x.status, std::move(x.body));
                } else if constexpr (std::is_same_v<T, socketio::abort_upgrade>) {
                    if (probe_.conn)
                        close_link(probe_, 1002, x.reason);
                    probe_ = {};
                } else {
                    finish(x);
                }
            },
            a);
    }
    if (!done_ && s_.transport() == eio::transport::websocket && probe_.conn) {
        ws_ = std::move(probe_);
        probe_ = {};
    }
    arm();
}

inline void sio_session::finish(socketio::close_session const& c)
{
    if (done_)
        return;
    done_ = true;
    if (ws_.conn)
        close_link(ws_, socketio::websocket_code(c.reason), std::string(socketio::to_string(c.reason)));
    if (probe_.conn)
        close_link(probe_, socketio::websocket_code(c.reason), std::string(socketio::to_string(c.reason)));
    ws_ = probe_ = {};
    // Polling requests still waiting end now (the session sent what it had).
    if (get_answer_)
        std::exchange(get_answer_, nullptr)(200, eio::encode_packet(eio::packet_type::noop));
    sh_->hub.unsubscribe_all(*this);
    rooms_.clear();
    quota_slot.reset();
    if (ep_)
        ep_->remove(s_.sid());
    sh_->remove(*this);
}

inline void sio_session::authenticate(socketio::authenticate const& a)
{
    auto const now = socketio::clock::now();
    auto result = srv_->auth->authenticate(auth::credentials{.authorization = {}, .query_token = a.token, .remote = remote});
    if (auto const* fail = std::get_if<auth::auth_failure>(&result)) {
        ++sh_->counters[count::auth_refused];
        srv_->note_refusal(remote, fail->reason);
        perform(s_.on_authenticated(a.nsp, fail->reason, now));
        return;
    }
    auto& fresh = std::get<auth::identity>(result);
    if (!auth::has_scope(*fresh.who, auth_scope::read)) {
        perform(s_.on_authenticated(a.nsp, std::string("the read scope is required"), now));
        return;
    }
    if (authenticated()) {
        // One identity per session: its subscriptions are filtered by one principal.
        auto const& cur = who();
        if (fresh.who->subject != cur.subject || fresh.who->tenant_id != cur.tenant_id || fresh.who->user_id != cur.user_id) {
            perform(s_.on_authenticated(
                a.nsp, std::string("every namespace of a connection must use the same identity as its first"), now));
            return;
        }
    } else {
        auto [slot, why] = srv_->take_quota(*sh_, *fresh.who);
        if (!why.empty()) {
            perform(s_.on_authenticated(a.nsp, std::move(why), now));
            return;
        }
        quota_slot = std::move(slot);
        set_who(fresh.who);
        set_expiry(fresh.expires_at, std::chrono::seconds{0});
    }
    perform(s_.on_authenticated(a.nsp, std::nullopt, now));
}

inline void sio_session::subscribe(std::string const& nsp, std::string room, std::optional<std::uint64_t> since,
                                   std::optional<std::uint64_t> ack, bool mapped)
{
    auto const i = mapping_of(nsp);
    auto const in = rooms_.find(std::string_view(room));
    if (rooms_.size() >= ws_protocol::max_rooms_per_connection && in == rooms_.end()) {
        auto const why = "at most " + std::to_string(ws_protocol::max_rooms_per_connection) + " rooms per connection";
        if (mapped)
            ack_json(nsp, ack, {{"ok", false}, {"error", why}});
        else
            perform(s_.reply(nsp, ack, "error",
                             boost::json::serialize(boost::json::object{
                                 {"type", "error"}, {"code", "rate_limited"}, {"message", why}, {"path", "/room"}}),
                             socketio::clock::now()));
        return;
    }
    auto self = std::static_pointer_cast<sio_session>(shared_from_this());
    auto& srv = *srv_;
    auto& sh = *sh_;
    srv.hop<plan_messages>(
        sh,
        [&srv, &sh, who = who_ptr(), room, since](auto done) mutable {
            auto const p = plan_subscription(srv.get_core(), *who, room, since, replay_bound_of(srv.limits.queue));
            if (p)
                srv.fan.grant(room, sh);
            done(messages_of(p, room, std::nullopt));
        },
        [self, nsp, i, ack, mapped](plan_messages m) {
            auto& s = *self;
            auto& sh = *s.sh_;
            if (m.refused) {
                ++sh.counters[count::ws_bad_messages];
                if (mapped) {
                    auto const v = boost::json::parse(m.notices.front()->json());
                    s.ack_json(nsp, ack, {{"ok", false}, {"error", v.at("message")}});
                } else {
                    s.perform(s.s_.reply(nsp, ack, "error", m.notices.front()->json(), socketio::clock::now()));
                }
                return;
            }
            bool const had = sh.hub.find(m.room) && s.find_subscription(sh.hub.find(m.room));
            if (s.done_ || !s.s_.connected(nsp) || had) {
                // Gone, left, or the room is joined already: this grant goes back.
                if (!sh.is_core())
                    asio::post(s.srv_->get_core().get_executor(),
                               [srv = s.srv_, room = m.room, idx = sh.index] { srv->fan.release(room, idx); });
                if (s.done_ || !s.s_.connected(nsp))
                    return;
            } else {
                sh.hub.subscribe(s, m.room);
            }
            auto& nsps = s.rooms_[m.room];
            if (std::find(nsps.begin(), nsps.end(), i) == nsps.end())
                nsps.push_back(i);
            for (auto const& r : m.replay)
                s.emit(i, r);
            auto const& reply = m.notices.back();
            if (m.notices.size() > 1 && !mapped)
                s.perform(s.s_.deliver(sio::make_native_frame(nsp, m.notices.front()->json()), socketio::clock::now()));
            if (mapped) {
                auto const v = boost::json::parse(reply->json());
                s.ack_json(nsp, ack, {{"ok", true}, {"room", m.room}, {"seq", v.at("seq")}});
            } else {
                s.perform(s.s_.reply(nsp, ack, "subscribed", reply->json(), socketio::clock::now()));
            }
        });
}

inline void sio_session::unsubscribe(std::string const& nsp, std::string const& room, std::optional<std::uint64_t> ack,
                                     bool mapped)
{
    auto const i = mapping_of(nsp);
    auto it = rooms_.find(std::string_view(room));
    bool const was = it != rooms_.end() && std::erase(it->second, i) > 0;
    if (was && it->second.empty()) {
        rooms_.erase(it);
        sh_->hub.unsubscribe(*this, room);
    }
    auto const now = socketio::clock::now();
    if (mapped) {
        if (was)
            ack_json(nsp, ack, {{"ok", true}, {"room", room}});
        else
            ack_json(nsp, ack, {{"ok", false}, {"error", "not subscribed to " + room}});
        return;
    }
    if (was)
        perform(s_.reply(nsp, ack, "unsubscribed",
                         boost::json::serialize(boost::json::object{{"type", "unsubscribed"}, {"room", room}}), now));
    else
        perform(s_.reply(nsp, ack, "error",
                         boost::json::serialize(boost::json::object{{"type", "error"},
                                                                    {"code", "not_found"},
                                                                    {"message", "not subscribed to " + room},
                                                                    {"path", "/room"}}),
                         now));
}

inline void sio_session::client_event(socketio::client_event& e)
{
    auto const i = mapping_of(e.nsp);
    auto const& map = ep_->mapping(i);
    auto const* name = e.args.front().if_string();
    std::string_view const n = name ? std::string_view(*name) : std::string_view{};
    boost::json::value const* arg = e.args.size() >= 2 ? &e.args[1] : nullptr;
    auto room_for = [&](std::map<std::string, std::string, std::less<>> const& table) -> std::optional<std::string> {
        auto it = table.find(n);
        if (it == table.end())
            return std::nullopt;
        std::string why;
        auto room = expand_room(it->second, arg, why);
        if (room.empty()) {
            ack_json(e.nsp, e.ack_id, {{"ok", false}, {"error", why}});
            return std::string();
        }
        return room;
    };
    if (auto room = room_for(map.joins)) {
        if (!room->empty())
            subscribe(e.nsp, std::move(*room), std::nullopt, e.ack_id, true);
        return;
    }
    if (auto room = room_for(map.leaves)) {
        if (!room->empty())
            unsubscribe(e.nsp, *room, e.ack_id, true);
        return;
    }
    // An event this namespace does not map: the client learns it by its ack, if it asked for one.
    ack_json(e.nsp, e.ack_id, {{"ok", false}, {"error", "unknown event \"" + std::string(n) + "\""}});
}

inline void sio_session::leave_namespace(std::string const& nsp)
{
    auto const i = mapping_of(nsp);
    for (auto it = rooms_.begin(); it != rooms_.end();) {
        std::erase(it->second, i);
        if (it->second.empty()) {
            sh_->hub.unsubscribe(*this, it->first);
            it = rooms_.erase(it);
        } else {
            ++it;
        }
    }
}

// --- HTTP and WebSocket entry points --------------------------------------------

namespace impl {

/// The Engine.IO error answer (`{"code":N,"message":M}`, status 400) as the reference server sends it.
inline http::response eio_error(http::request const& req, unsigned code, std::string_view message,
                                http::status status = http::status::bad_request)
{
    auto res = http::json_response(
        req, status, boost::json::serialize(boost::json::object{{"code", code}, {"message", message}}));
    return res;
}

inline http::response eio_text(http::request const& req, unsigned status, std::string body)
{
    http::response res{static_cast<http::status>(status), req.version()};
    res.set(boost::beast::http::field::content_type, "text/plain; charset=UTF-8");
    res.set(boost::beast::http::field::cache_control, "no-store");
    res.keep_alive(req.keep_alive());
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
}

/// A check of the query every Engine.IO request carries; the error answer, or none.
inline std::optional<http::response> eio_query_error(http::request const& req, http::target const& t)
{
    auto const v = t.get("EIO");
    if (!v || *v != "4")
        return eio_error(req, 5, "Unsupported protocol version");
    auto const tr = t.get("transport");
    if (!tr || (*tr != "polling" && *tr != "websocket"))
        return eio_error(req, 0, "Transport unknown");
    return std::nullopt;
}

}  // namespace impl

/** @brief A polling request (GET or POST) of the Engine.IO query `t`: the
    answer, once the session has one (a GET may wait for frames). Runs the
    session on its own shard and resumes on `sh`. */
inline asio::awaitable<http::response> sio_poll(server& srv, sio_endpoint& ep, shard& sh, http::request const& req,
                                                http::target const& t, std::string remote)
{
    if (auto err = impl::eio_query_error(req, t))
        co_return std::move(*err);
    if (t.get("transport") != std::optional<std::string_view>("polling"))
        co_return impl::eio_error(req, 3, "Bad request");
    bool const get = req.method() == http::verb::get;
    if (!get && req.method() != http::verb::post)
        co_return impl::eio_error(req, 2, "Bad handshake method");
    auto const sid = t.get("sid");
    std::shared_ptr<sio_session> s;
    bool fresh = false;
    if (!sid) {
        if (!get)
            co_return impl::eio_error(req, 2, "Bad handshake method");
        if (srv.draining)
            co_return http::problem(req, http::status::service_unavailable, "the server is shutting down");
        if (srv.connection_count() >= srv.max_connections)
            co_return impl::eio_error(req, 4, "Forbidden", http::status::service_unavailable);
        s = std::make_shared<sio_session>(ep, srv, sh, ep.config(), eio::transport::polling);
        s->remote = std::move(remote);
        s->conn_id = srv.next_conn_id++;
        sh.add(s);
        ep.add(s);
        fresh = true;
    } else {
        s = ep.find(std::string(*sid));
        if (!s)
            co_return impl::eio_error(req, 1, "Session ID unknown");
    }
    auto const binary = req[boost::beast::http::field::content_type] == "application/octet-stream";
    auto answer = co_await asio::async_initiate<decltype(asio::use_awaitable), void(std::pair<unsigned, std::string>)>(
        [&](auto handler) {
            auto back = sh.ex;
            auto done = [h = std::make_shared<decltype(handler)>(std::move(handler)), back](unsigned st,
                                                                                            std::string body) mutable {
                asio::post(back, [h, st, body = std::move(body)]() mutable { std::move (*h)(std::pair{st, std::move(body)}); });
            };
            asio::dispatch(s->owner().ex, [s, fresh, get, binary, body = req.body(), done = std::move(done)]() mutable {
                if (fresh)
                    s->start();  // the handshake: the open packet waits for this first GET
                if (get)
                    s->poll_get(std::move(done));
                else
                    s->poll_post(std::move(body), binary, std::move(done));
            });
        },
        asio::use_awaitable);
    co_return impl::eio_text(req, answer.first, std::move(answer.second));
}

/** @brief On `sh`: a WebSocket upgrade at `/socket.io/`: a new session on
    WebSocket, or the probe of an existing polling session. Returns the
    refusal to answer, or none when the stream was handed over. */
template<class Stream>
std::optional<http::response> sio_upgrade(server& srv, sio_endpoint& ep, shard& sh, Stream& sock, std::string& preread,
                                          http::request& req, http::target const& t, std::string remote)
{
    if (auto err = impl::eio_query_error(req, t))
        return err;
    if (t.get("transport") != std::optional<std::string_view>("websocket"))
        return impl::eio_error(req, 3, "Bad request");
    std::shared_ptr<sio_session> s;
    auto const sid = t.get("sid");
    if (sid) {
        s = ep.find(std::string(*sid));
        if (!s)
            return impl::eio_error(req, 1, "Session ID unknown");
    } else if (srv.connection_count() >= srv.max_connections) {
        return impl::eio_error(req, 4, "Forbidden", http::status::service_unavailable);
    }
    auto const id = srv.next_conn_id++;
    // The WebSocket is a pipe: it carries the session's frames; it joins no room itself.
    static auto const pipe_principal = std::make_shared<principal const>();
    auto& host = ep.host(sh);
    wire_ptr welcome;
    if (!s) {
        s = std::make_shared<sio_session>(ep, srv, sh, ep.config(), eio::transport::websocket);
        s->remote = remote;
        s->conn_id = id;
        std::string open;
        for (auto const& f : s->start())
            open = *f;
        welcome = sio_ws_frame(open);
    }
    auto conn = std::make_shared<ws_session<Stream>>(sh.hub, sh.limits, sh.counters, host, std::move(sock),
                                                     std::move(preread), pipe_principal, id);
    conn->remote = std::move(remote);
    host.bind(*conn, s);
    sh.add(conn);
    if (!sid) {
        s->attach_ws(conn, sh, false);
        sh.add(s);
        ep.add(s);
    } else {
        asio::dispatch(s->owner().ex, [s, conn, &sh] { s->attach_ws(conn, sh, true); });
    }
    conn->start(std::move(req), std::move(welcome));
    return std::nullopt;
}

}  // namespace jobwatch::gw

#endif
