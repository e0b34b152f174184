#ifndef JOBWATCH_GATEWAY_WS_PROTOCOL_HPP
#define JOBWATCH_GATEWAY_WS_PROTOCOL_HPP

/** @file
    The native WebSocket protocol (docs/protocol.md): what the gateway does
    with each client message.
*/

#include <jobwatch/gateway/server.hpp>
#include <jobwatch/gateway/subscription.hpp>
#include <jobwatch/gateway/ws_session.hpp>
#include <jobwatch/messages/client_message.hpp>
#include <jobwatch/version.hpp>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace jobwatch::gw {

/** @brief What a subscriber gets for one plan, in order (the transports
    differ only in how they frame it): room messages to `deliver` (the
    replay), then replies and notices to `send`. */
struct plan_messages
{
    std::string room;
    std::vector<wire_ptr> replay;
    std::vector<wire_ptr> notices;  ///< reset (if any), then subscribed
    bool refused = false;
};

/// The messages of `p` for a client; `id` echoes its request.
inline plan_messages messages_of(subscription_plan const& p, std::string_view room, std::optional<std::string> id)
{
    plan_messages out;
    out.room = std::string(room);
    if (!p) {
        out.refused = true;
        bool const nf = p.access == auth::room_access::not_found;
        out.notices.push_back(encode_message(error_message{
            .id = std::move(id),
            .code = p.invalid ? protocol_error::invalid_message : nf ? protocol_error::not_found : protocol_error::forbidden,
            .message = p.refusal,
            .path = "/room"}));
        return out;
    }
    out.replay = p.replay;
    if (p.reset)
        out.notices.push_back(reset_notice(room, *p.reset, p.reset_reason));
    out.notices.push_back(subscribed_reply(p, room, std::move(id)));
    return out;
}

/// On `sh`: subscribes `s` to what was granted and queues the plan's messages.
inline void apply_plan(server& srv, shard& sh, subscriber& s, plan_messages& m)
{
    if (m.refused) {
        ++sh.counters[count::ws_bad_messages];
        for (auto& n : m.notices)
            s.send(std::move(n));
        return;
    }
    // A repeated subscribe starts over (the client resumes or resyncs).
    sh.hub.unsubscribe(s, m.room);
    if (s.finished()) {
        // Gone while the core answered: its grant goes back.
        if (!sh.is_core())
            asio::post(srv.get_core().get_executor(), [&srv, room = m.room, i = sh.index] { srv.fan.release(room, i); });
        return;
    }
    sh.hub.subscribe(s, m.room);
    for (auto const& r : m.replay)
        s.deliver(r);
    for (auto& n : m.notices)
        s.send(std::move(n));
}

/// The first message of connection `id` of `who` on `sh`.
inline welcome_message welcome_of(shard const& sh, std::uint64_t id, principal const& who)
{
    return welcome_message{.connection_id = "c" + std::to_string(id),
                           .server_version = std::string(version),
                           .protocol = protocol_version,
                           .heartbeat_ms = sh.limits.heartbeat.count(),
                           .max_message_bytes = static_cast<std::int64_t>(sh.limits.max_message_bytes),
                           .subject = who.subject.empty() ? std::nullopt : std::optional<std::string>(who.subject),
                           .tenant_id = who.tenant_id,
                           .user_id = who.user_id};
}

/** @brief The WebSocket protocol on one shard: the `ws_host` of its sessions.

    Subscribe (access, grant, replay or reset, snapshot), `subscriptions`
    and `publish` need the core's state: on a shard of its own the request
    hops to the core and the answer comes back in order; the client's next
    message waits for it.

    @par Thread Safety
    Only from its shard's executor.
*/
class ws_protocol final : public ws_host
{
public:
    /// Most rooms one connection may join.
    static constexpr std::size_t max_rooms_per_connection = 1000;

    ws_protocol(server& srv, shard& sh) : srv_(srv), sh_(sh) {}

    bool on_ws_message(subscriber& s, std::string_view text) override
    {
        unsigned char scratch[4096];
        boost::json::monotonic_resource mr(scratch, sizeof scratch);
        boost::system::error_code ec;
        auto const jv = boost::json::parse(text, ec, &mr);
        if (ec)
            return reply_error(s, std::nullopt, protocol_error::bad_json, "not JSON: " + ec.message(), "");
        auto const* obj = jv.if_object();
        if (!obj)
            return reply_error(s, std::nullopt, protocol_error::invalid_message, "a message is a JSON object", "");
        std::optional<std::string> id;
        if (auto const* idv = obj->if_contains("id"); idv && idv->is_string())
            id = std::string(idv->get_string());
        auto const* type = obj->if_contains("type");
        if (!type || !type->is_string())
            return reply_error(s, id, protocol_error::invalid_message, "a message needs a string \"type\"", "/type");
        auto const t = std::string_view(type->get_string());
        if (!s.authenticated() && t != "auth")
            return reply_error(s, id, protocol_error::unauthenticated,
                               "authenticate first: send {\"type\":\"auth\",\"token\":\"...\"}", "/type");
        if (t != "subscribe" && t != "unsubscribe" && t != "subscriptions" && t != "ping" && t != "publish" &&
            t != "auth")
            return reply_error(s, id, protocol_error::unknown_type,
                               "unknown message type \"" + std::string(t) +
                                   "\"; expected subscribe, unsubscribe, subscriptions, ping, publish or auth",
                               "/type");
        auto msg = parse_value<client_message>(jv);
        if (!msg) {
            // A room that is not a room name: say what one is, not the schema's pattern.
            if (msg.error().path == "/room")
                return reply_error(s, id, protocol_error::invalid_message, std::string(rooms::syntax), "/room");
            return reply_error(s, id, protocol_error::invalid_message, msg.error().message, msg.error().path);
        }
        return std::visit([&](auto& m) -> bool { return handle(s, m); }, *msg);
    }

    void on_ws_finished(subscriber& s) override { sh_.remove(s); }

private:
    // The core answered a held message: read the client's next one. On the
    // core's own shard the answer came at once and the message was not held.
    void answered(subscriber& s)
    {
        if (!sh_.is_core())
            s.resume_reading();
    }

    bool reply_error(subscriber& s, std::optional<std::string> id, protocol_error code, std::string message,
                     std::string path)
    {
        ++sh_.counters[count::ws_bad_messages];
        s.send(encode_message(
            error_message{.id = std::move(id), .code = code, .message = std::move(message), .path = std::move(path)}));
        return true;
    }

    bool handle(subscriber& s, subscribe_request& r)
    {
        if (s.subscriptions().size() >= max_rooms_per_connection && !s.find_subscription(sh_.hub.find(r.room)))
            return reply_error(s, r.id, protocol_error::rate_limited,
                               "at most " + std::to_string(max_rooms_per_connection) + " rooms per connection",
                               "/room");
        auto self = s.shared_from_this();
        std::optional<std::uint64_t> since;
        if (r.since)
            since = static_cast<std::uint64_t>(std::max<std::int64_t>(*r.since, 0));
        srv_.hop<plan_messages>(
            sh_,
            [this, who = s.who_ptr(), room = r.room, since, id = r.id](auto done) mutable {
                auto const p = plan_subscription(srv_.get_core(), *who, room, since, replay_bound_of(srv_.limits.queue));
                // Granted before the snapshot is taken: every later room message reaches the shard.
                if (p)
                    srv_.fan.grant(room, sh_);
                done(messages_of(p, room, std::move(id)));
            },
            [this, self](plan_messages m) {
                apply_plan(srv_, sh_, *self, m);
                answered(*self);
            });
        return sh_.is_core();
    }

    bool handle(subscriber& s, unsubscribe_request& r)
    {
        if (sh_.hub.unsubscribe(s, r.room))
            s.send(encode_message(unsubscribed_message{.id = r.id, .room = r.room}));
        else
            reply_error(s, r.id, protocol_error::not_found, "not subscribed to " + r.room, "/room");
        return true;
    }

    bool handle(subscriber& s, subscriptions_request& r)
    {
        std::vector<std::string> rooms;
        for (auto const& sub : s.subscriptions())
            rooms.push_back(sub.room->name);
        auto self = s.shared_from_this();
        srv_.hop<wire_ptr>(
            sh_,
            [this, id = r.id, rooms = std::move(rooms)](auto done) mutable {
                subscriptions_message out{.id = std::move(id), .rooms = {}};
                for (auto& room : rooms) {
                    auto const seq = static_cast<std::int64_t>(srv_.get_core().events().position(room));
                    out.rooms.push_back({.room = std::move(room), .seq = seq});
                }
                std::sort(out.rooms.begin(), out.rooms.end(), [](auto const& a, auto const& b) { return a.room < b.room; });
                done(encode_message(out));
            },
            [this, self](wire_ptr reply) {
                self->send(std::move(reply));
                answered(*self);
            });
        return sh_.is_core();
    }

    /** @brief `auth`: the first message of a WebSocket opened without
        credentials (answered by `welcome`), or a fresh token for the same
        subject, tenant and user (answered by `authenticated`). A refused
        first token closes the connection (4401); a refused refresh leaves
        the current token in force until it expires. */
    bool handle(subscriber& s, auth_request& r)
    {
        auto result =
            srv_.auth->authenticate(auth::credentials{.authorization = {}, .query_token = r.token, .remote = s.remote});
        if (auto const* fail = std::get_if<auth::auth_failure>(&result)) {
            ++sh_.counters[count::auth_refused];
            srv_.note_refusal(s.remote, fail->reason);
            if (s.authenticated())
                return reply_error(s, r.id, protocol_error::unauthenticated,
                                   "token refused, the current one stays in force until it expires: " + fail->reason,
                                   "/token");
            s.close_with(4401, "authentication failed",
                         encode_message(error_message{.id = r.id,
                                                      .code = protocol_error::unauthenticated,
                                                      .message = fail->reason,
                                                      .path = "/token"}));
            return true;
        }
        auto& fresh = std::get<auth::identity>(result);
        if (!s.authenticated()) {
            if (!auth::has_scope(*fresh.who, auth_scope::read)) {
                s.close_with(4403, "the read scope is required",
                             encode_message(error_message{.id = r.id,
                                                          .code = protocol_error::forbidden,
                                                          .message = "the read scope is required",
                                                          .path = "/token"}));
                return true;
            }
            auto [slot, why] = srv_.take_quota(sh_, *fresh.who);
            if (!why.empty()) {
                s.close_with(1008, "too many connections",
                             encode_message(error_message{
                                 .id = r.id, .code = protocol_error::rate_limited, .message = why, .path = ""}));
                return true;
            }
            s.quota_slot = std::move(slot);
            s.set_who(fresh.who);
            s.set_expiry(fresh.expires_at, sh_.limits.refresh_notice);
            s.send(encode_message(welcome_of(sh_, s.conn_id, *fresh.who)));
            return true;
        }
        auto const& now = s.who();
        if (fresh.who->subject != now.subject || fresh.who->tenant_id != now.tenant_id ||
            fresh.who->user_id != now.user_id)
            return reply_error(s, r.id, protocol_error::forbidden,
                               "a fresh token must name the same subject, tenant and user as the current one",
                               "/token");
        if (!auth::has_scope(*fresh.who, auth_scope::read))
            return reply_error(s, r.id, protocol_error::forbidden,
                               "a fresh token must hold the read scope; the current one stays in force until it expires",
                               "/token");
        s.set_who(fresh.who);
        s.set_expiry(fresh.expires_at, sh_.limits.refresh_notice);
        s.send(encode_message(authenticated_message{
            .id = r.id,
            .expires_at = fresh.expires_at ? std::optional<std::string>(format_time(*fresh.expires_at)) : std::nullopt}));
        return true;
    }

    bool handle(subscriber& s, ping_request& r)
    {
        s.send(encode_message(pong_message{.id = r.id}));
        return true;
    }

    // The answer to a publish: the message, and whether it counts as a bad one.
    static std::pair<wire_ptr, bool> publish_reply(std::optional<std::string> id, publish_result const& res)
    {
        if (res.status == publish_status::invalid || res.status == publish_status::forbidden ||
            res.status == publish_status::conflict || res.status == publish_status::unavailable) {
            return {encode_message(error_message{.id = std::move(id),
                                                 .code = res.status == publish_status::invalid ? protocol_error::invalid_message
                                                         : res.status == publish_status::unavailable
                                                             ? protocol_error::unavailable
                                                             : protocol_error::forbidden,
                                                 .message = res.error.message,
                                                 .path = "/event" + res.error.path}),
                    res.status != publish_status::unavailable};
        }
        return {encode_message(published_message{.id = std::move(id), .seq = static_cast<std::int64_t>(res.seq)}), false};
    }

    bool handle(subscriber& s, publish_request& r)
    {
        if (!auth::has_scope(s.who(), auth_scope::publish))
            return reply_error(s, r.id, protocol_error::forbidden, "the publish scope is required", "");
        auto self = s.shared_from_this();
        // With the cluster's log the core answers later even on its own thread:
        // the client's next message waits for this answer either way.
        bool const waits = !sh_.is_core() || srv_.get_core().cluster() != nullptr;
        srv_.hop<std::pair<wire_ptr, bool>>(
            sh_,
            [this, r = std::move(r), who = s.who_ptr()](auto done) mutable {
                auto id = r.id;
                if (auto const wait = srv_.get_core().admit_ingest(who.get()); wait.count() > 0) {
                    done(std::pair{encode_message(error_message{
                                       .id = std::move(id),
                                       .code = protocol_error::rate_limited,
                                       .message = "over rate_limits.ingest_events_per_s; retry in " +
                                                  std::to_string(wait.count()) + " ms",
                                       .path = ""}),
                                   true});
                    return;
                }
                std::vector<job_event> one;
                one.push_back(std::move(r.event));
                srv_.get_core().submit(std::move(one), who.get(),
                                       [id = std::move(id), done = std::move(done)](std::vector<publish_result> rs) mutable {
                                           done(publish_reply(std::move(id), rs.at(0)));
                                       });
            },
            [this, self, waits](std::pair<wire_ptr, bool> reply) {
                if (reply.second)
                    ++sh_.counters[count::ws_bad_messages];
                self->send(std::move(reply.first));
                if (waits)
                    self->resume_reading();
            });
        return !waits;
    }

    server& srv_;
    shard& sh_;
};

/** @brief On `sh`: answers the upgrade `req` on `s` and starts a WebSocket
    session served by `host` (`preread`: bytes that came behind the request).
    `who.who` null: the client has sent no credentials and must send an
    `auth` message within `gateway.auth_timeout_ms`; its welcome waits for it. */
template<class Stream>
void start_ws(server& srv, shard& sh, ws_host& host, Stream s, std::string preread,
              boost::beast::http::request<boost::beast::http::string_body> req, auth::identity who,
              std::unique_ptr<connection_quota::slot> slot, std::string remote)
{
    auto const id = srv.next_conn_id++;
    wire_ptr welcome = who.who ? encode_message(welcome_of(sh, id, *who.who)) : nullptr;
    auto session = std::make_shared<ws_session<Stream>>(sh.hub, sh.limits, sh.counters, host, std::move(s),
                                                        std::move(preread), std::move(who.who), id);
    session->quota_slot = std::move(slot);
    session->remote = std::move(remote);
    if (session->authenticated())
        session->set_expiry(who.expires_at, sh.limits.refresh_notice);
    else
        session->auth_deadline = std::chrono::steady_clock::now() + sh.limits.auth_timeout;
    sh.add(session);
    session->start(std::move(req), std::move(welcome));
}

}  // namespace jobwatch::gw

#endif
