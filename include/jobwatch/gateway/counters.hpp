#ifndef JOBWATCH_GATEWAY_COUNTERS_HPP
#define JOBWATCH_GATEWAY_COUNTERS_HPP

/** @file
    The gateway's counters: one set per shard, written by the shard's thread,
    read by the monitor report from any thread.
*/

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace jobwatch::gw {

/** @brief A counter with one writer (the thread of the shard that owns it)
    and readers on any thread (the monitor's report). Relaxed load and store,
    no read-modify-write: as cheap as a plain integer on the hot path. */
class counter
{
public:
    counter() = default;
    counter(counter const& o) noexcept : v_(o.load()) {}
    counter& operator=(counter const& o) noexcept
    {
        v_.store(o.load(), std::memory_order_relaxed);
        return *this;
    }
    counter& operator+=(std::uint64_t n) noexcept
    {
        v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
        return *this;
    }
    counter& operator++() noexcept { return *this += 1; }
    void operator++(int) noexcept { *this += 1; }
    std::uint64_t load() const noexcept { return v_.load(std::memory_order_relaxed); }
    operator std::uint64_t() const noexcept { return load(); }

private:
    std::atomic<std::uint64_t> v_{0};
};

/// What the gateway counts, in the order `/api/v1/monitor/connections` lists it.
enum class count : std::uint8_t
{
    accepted,         ///< TCP connections accepted
    refused,          ///< refused at max_connections
    http_requests,    ///< HTTP requests answered
    ws_messages_in,   ///< WebSocket messages received
    ws_bad_messages,  ///< of which refused (bad JSON, schema, unknown type)
    frames_out,       ///< messages queued to clients
    write_calls,      ///< gather writes issued
    coalesced,        ///< queued messages replaced by a newer one under pressure
    lagged,           ///< `lagged` notices sent
    overflow_closes,  ///< connections closed for a send queue overflow
    dead_peers,       ///< connections closed for missed heartbeats
    timeouts,         ///< HTTP connections closed for read or idle timeouts
    bad_requests,     ///< HTTP requests refused before routing (malformed, ambiguous framing)
    auth_refused,     ///< requests and upgrades refused by the authenticator
    filtered,         ///< room messages not delivered to a principal they are not for
    auth_timeouts,    ///< WebSockets closed for sending no auth message within gateway.auth_timeout_ms
    auth_expired,     ///< WebSocket and SSE connections closed when their token expired
    limited_ws_messages,   ///< WebSocket messages refused for rate_limits.ws_messages_per_s
    limited_ws_closes,     ///< WebSockets closed (1008) for rate_limits.ws_close_after_refused
    limited_connections,   ///< new connections refused for rate_limits.new_connections_per_ip_per_s
    limited_per_subject,   ///< WebSocket and SSE connections refused for rate_limits.max_connections_per_subject
    limited_per_tenant,    ///< WebSocket and SSE connections refused for rate_limits.max_connections_per_tenant
    tls_handshake_failures,  ///< TLS handshakes that failed (old protocol, no shared cipher, certificate refused)
    tls_plain_http,          ///< plain HTTP requests on the TLS port (answered 400)
};

/// The names of `count`'s values, as the monitor report spells them.
inline constexpr std::array<std::string_view, 24> count_names = {
    "accepted",            "refused",           "http_requests",       "ws_messages_in",
    "ws_bad_messages",     "frames_out",        "write_calls",         "coalesced",
    "lagged",              "overflow_closes",   "dead_peers",          "timeouts",
    "bad_requests",        "auth_refused",      "filtered",            "auth_timeouts",
    "auth_expired",        "limited_ws_messages", "limited_ws_closes", "limited_connections",
    "limited_per_subject", "limited_per_tenant",  "tls_handshake_failures", "tls_plain_http",
};

/// One set of the gateway's counters (one per shard; the gateway sums them).
class gateway_counters
{
public:
    counter& operator[](count c) noexcept { return v_[static_cast<std::size_t>(c)]; }
    std::uint64_t operator[](count c) const noexcept { return v_[static_cast<std::size_t>(c)].load(); }

    /// Adds `o` counter by counter.
    gateway_counters& operator+=(gateway_counters const& o) noexcept
    {
        for (std::size_t i = 0; i < v_.size(); ++i)
            v_[i] += o.v_[i].load();
        return *this;
    }

    /// Calls `f(name, value)` for every counter, in order.
    template<class F>
    void for_each(F&& f) const
    {
        for (std::size_t i = 0; i < v_.size(); ++i)
            f(count_names[i], v_[i].load());
    }

private:
    std::array<counter, count_names.size()> v_{};
};

}  // namespace jobwatch::gw

#endif
