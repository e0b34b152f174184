#ifndef JOBWATCH_GATEWAY_SERVER_HPP
#define JOBWATCH_GATEWAY_SERVER_HPP

/** @file
    What the gateway's parts share: the core, the authenticator, the limits,
    the shards and the fan-out, and the hop from a shard to the core and back.
*/

#include <jobwatch/auth/authenticator.hpp>
#include <jobwatch/gateway/dashboard.hpp>
#include <jobwatch/http/cors.hpp>
#include <jobwatch/core.hpp>
#include <jobwatch/detail/asio.hpp>
#include <jobwatch/gateway/counters.hpp>
#include <jobwatch/gateway/fanout.hpp>
#include <jobwatch/gateway/shard.hpp>
#include <jobwatch/http/request.hpp>

#include <boost/beast/http/field.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace jobwatch::gw {

class sio_endpoint;

/** @brief The gateway's shared state, owned by the `gateway` component.

    @par Thread Safety
    Constructed and destroyed on the core executor. The atomics from any
    thread; `hop` from a shard's executor; everything else from the core's.
*/
class server
{
public:
    server(core& c, std::shared_ptr<auth::authenticator const> authenticator)
        : core_(c)
        , auth(std::move(authenticator))
        , max_connections(c.settings().gateway.max_connections)
        , max_header_bytes(c.settings().gateway.max_header_bytes)
        , max_body_bytes(c.settings().gateway.max_body_bytes)
        , cors(c.settings().gateway.cors)
        , dashboard(c.settings().gateway.dashboard && dashboard_built())
        , fan(c.get_executor(), shards, c.settings().gateway.max_shard_backlog)
    {
        apply_settings(c.settings());
        auto const threads = c.settings().gateway.threads;
        for (std::size_t i = 0; i < std::max<std::size_t>(threads, 1); ++i) {
            auto sh = std::make_unique<shard>(i, c.get_executor(), threads > 0, limits);
            if (!sh->is_core()) {
                // Each subscription that ends on the shard releases the core's grant.
                sh->hub.on_leave = [this, i](std::string const& room) {
                    asio::post(core_.get_executor(), [this, i, room] { fan.release(room, i); });
                };
            }
            shards.push_back(std::move(sh));
        }
    }

    /// The core this gateway serves.
    core& get_core() const noexcept { return core_; }

    /// Takes the runtime settings: limits of every shard's connections.
    void apply_settings(config const& s)
    {
        auto const& g = s.gateway;
        limits.queue.max_bytes = g.max_send_queue_bytes;
        limits.queue.max_messages = g.max_send_queue_messages;
        limits.heartbeat = g.heartbeat_ms;
        limits.idle_timeout = g.idle_timeout_ms;
        limits.read_timeout = g.read_timeout_ms;
        limits.max_message_bytes = g.max_message_bytes;
        limits.auth_timeout = g.auth_timeout_ms;
        limits.refresh_notice = std::chrono::seconds{s.auth.jwt.refresh_notice_s};
        limits.ws_messages = rate_limit{s.rate_limits.ws_messages_per_s, s.rate_limits.ws_burst};
        limits.ws_close_after_refused = s.rate_limits.ws_close_after_refused;
        limits.max_per_subject = static_cast<std::size_t>(s.rate_limits.max_connections_per_subject);
        limits.max_per_tenant = static_cast<std::size_t>(s.rate_limits.max_connections_per_tenant);
        for (auto& p : shards) {
            auto& sh = *p;
            if (sh.is_core())
                sh.limits = limits;
            else
                asio::post(sh.ex, [&sh, l = limits] { sh.limits = l; });
        }
    }

    /// Open connections over every shard, accepted ones not yet served included.
    std::size_t connection_count() const noexcept
    {
        std::size_t n = accepting.load(std::memory_order_relaxed);
        for (auto const& sh : shards)
            n += sh->conns.size();
        return n;
    }

    /// Who a request is (its `Authorization` header or `?token=`).
    auth::auth_result authenticate(http::request const& req, http::target const& t, std::string_view remote) const
    {
        auto const token = t.get("token");
        return auth->authenticate(auth::credentials{.authorization = req[boost::beast::http::field::authorization],
                                                    .query_token = token ? *token : std::string_view{},
                                                    .remote = remote});
    }

    /** @brief Runs `start(done)` on the core, which calls `done(R)` there once;
        then `then(R)` on `sh`'s thread. Directly when `sh` is the core's.

        The answer reaches the shard after the room messages the core queued
        before it: a subscriber sees them before its snapshot (which holds
        them) and every later one after. */
    template<class R, class Start, class Then>
    void hop(shard& sh, Start start, Then then)
    {
        if (sh.is_core()) {
            start([then = std::move(then)](R r) mutable { then(std::move(r)); });
            return;
        }
        ++hops;
        // `ctx`: if the core is stopped by force with this closure pending, the
        // closure (and a session it holds) is destroyed after the gateway; the
        // shard's context its sockets belong to must still exist then.
        asio::post(core_.get_executor(), [this, &sh, ctx = sh.ioc, start = std::move(start),
                                          then = std::move(then)]() mutable {
            start([this, &sh, then = std::move(then)](R r) mutable {
                fan.send_batches();
                asio::post(sh.ex, [this, r = std::move(r), then = std::move(then)]() mutable {
                    then(std::move(r));
                    --hops;
                });
            });
        });
    }

    /// `hop` for a coroutine on `sh`: resumes it with the core's answer.
    template<class R, class Start>
    asio::awaitable<R> on_core(shard& sh, Start start)
    {
        return asio::async_initiate<decltype(asio::use_awaitable), void(R)>(
            [this, &sh](auto handler, Start st) {
                this->template hop<R>(sh, std::move(st),
                                      [h = std::move(handler)](R r) mutable { std::move(h)(std::move(r)); });
            },
            asio::use_awaitable, std::move(start));
    }

    /** @brief Logs a refused authentication, rate-limited (at most ten lines
        per ten seconds, then a count of the rest), never with a token. */
    void note_refusal(std::string_view remote, std::string_view reason)
    {
        asio::post(core_.get_executor(), [this, remote = std::string(remote), reason = std::string(reason)] {
            auto const now = std::chrono::steady_clock::now();
            if (now - refusals_since_ >= std::chrono::seconds{10}) {
                if (refusals_unlogged_ > 0)
                    core_.log().warn("auth", std::to_string(refusals_unlogged_) + " more authentication(s) refused");
                refusals_since_ = now;
                refusals_logged_ = refusals_unlogged_ = 0;
            }
            if (refusals_logged_ < 10) {
                ++refusals_logged_;
                core_.log().warn("auth", "authentication refused for " + (remote.empty() ? "a client" : remote) + ": " + reason);
            } else {
                ++refusals_unlogged_;
            }
        });
    }

private:
    core& core_;
    std::chrono::steady_clock::time_point refusals_since_{};  // core thread
    std::size_t refusals_logged_ = 0;
    std::size_t refusals_unlogged_ = 0;

public:
    std::shared_ptr<auth::authenticator const> auth;
    session_limits limits;  ///< the core's copy; each shard has its own
    std::size_t max_connections;
    std::size_t max_header_bytes;
    std::size_t max_body_bytes;
    http::cors_policy const cors;  ///< gateway.cors (restart-only: read by every I/O thread)
    bool const dashboard;          ///< gateway.dashboard, and the binary carries it
    /// The Socket.IO endpoint (`gateway.socketio.enabled`); set before the shards start, then read-only.
    sio_endpoint* sio = nullptr;
    /// The OpenAPI document of what this server serves; set before the shards start, then read-only.
    std::shared_ptr<std::string const> openapi;
    /// WebSocket and SSE connections per subject and tenant (any thread).
    std::shared_ptr<connection_quota> const quota = std::make_shared<connection_quota>();

    /** @brief On `sh`: a place for a long-lived connection of `who`, or the
        sentence of its refusal (counted). */
    std::pair<std::unique_ptr<connection_quota::slot>, std::string> take_quota(shard& sh, principal const& who)
    {
        auto [slot, why] = quota->acquire(who, sh.limits.max_per_subject, sh.limits.max_per_tenant);
        if (why == connection_quota::refusal::subject) {
            ++sh.counters[count::limited_per_subject];
            return {nullptr, "too many connections for this subject (rate_limits.max_connections_per_subject = " +
                                 std::to_string(sh.limits.max_per_subject) + ")"};
        }
        if (why == connection_quota::refusal::tenant) {
            ++sh.counters[count::limited_per_tenant];
            return {nullptr, "too many connections for this tenant (rate_limits.max_connections_per_tenant = " +
                                 std::to_string(sh.limits.max_per_tenant) + ")"};
        }
        return {std::move(slot), std::string()};
    }
    gateway_counters counters;  ///< accept and refuse, counted on the core
    std::vector<std::unique_ptr<shard>> shards;
    fanout fan;
    std::atomic<std::uint64_t> next_conn_id{1};
    std::atomic<std::size_t> accepting{0};  ///< accepted, not yet registered on their shard
    std::atomic<std::size_t> hops{0};       ///< answers of the core not yet back on their shard
    std::atomic<std::size_t> refusing{0};
    std::atomic<bool> draining{false};
    bool running = false;
};

}  // namespace jobwatch::gw

#endif
