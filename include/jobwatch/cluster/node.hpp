#ifndef JOBWATCH_CLUSTER_NODE_HPP
#define JOBWATCH_CLUSTER_NODE_HPP

/** @file
    One instance of a cluster (`cluster.mode: "redis"`): ingest appends to
    the cluster's stream and answers once Redis has it; the projection reads
    the stream back into this instance's core; a heartbeat says the instance
    is alive, how far it has applied, and keeps the lease of the one
    instance (the leader) whose alerts are appended, so an alert fires once
    per cluster. The app makes one when the settings ask for it.
*/

#include <jobwatch/api/common.hpp>
#include <jobwatch/cluster/projection.hpp>
#include <jobwatch/cluster/stream_log.hpp>
#include <jobwatch/config.hpp>
#include <jobwatch/core.hpp>
#include <jobwatch/detail/codec_write.hpp>
#include <jobwatch/redis/connection.hpp>
#include <jobwatch/redis/settings.hpp>
#include <jobwatch/runtime/wait_cancelled.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>

#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace jobwatch::cluster {

using ::jobwatch::detail::json_writer;

/** @brief This instance's part in a cluster: the core's `cluster_gate`.

    @par Thread Safety
    Only from the core's executor.
*/
class node final : public cluster_gate
{
public:
    /// How long a heartbeat key and the leader's lease live without renewal.
    static constexpr std::chrono::milliseconds lease{5000};
    /// How often they are renewed.
    static constexpr std::chrono::milliseconds beat{1000};

    /** @throws settings_error when `cluster.redis_url` cannot be used (the
        reason never contains the password). */
    explicit node(core& c)
        : core_(c)
        , cfg_(c.settings().cluster)
        , id_(cfg_.instance_id.empty() ? default_id() : cfg_.instance_id)
        , redis_(redis_settings(cfg_, id_))
        , log_({.stream = cfg_.stream, .max_len = cfg_.stream_max_len})
        , conn_(c.get_executor(), append_settings(redis_, cfg_), c.log())
        , projection_(c, reader_settings(redis_), log_.settings())
    {
        core_.set_cluster(this);
        core_.add_health_check("cluster", [this] { return check(); });
        core_.routes().add({{http::verb::get}, "/api/v1/monitor/cluster", http::needs::admin,
                            "The cluster's instances, each one's applied number and lag, the stream's length",
                            {},
                            [this](http::call const& c) { return monitor(c.req); }});
    }

    node(node const&) = delete;
    node& operator=(node const&) = delete;
    ~node() override { core_.set_cluster(nullptr); }

    /** @brief Runs the connections, the projection and the heartbeat until
        cancelled; then, while the gateway drains, until every append in
        flight has its answer (at most `drain_limit`), and stops them. */
    asio::awaitable<void> run()
    {
        using namespace asio::experimental::awaitable_operators;
        auto const ex = core_.get_executor();
        struct state
        {
            explicit state(asio::any_io_executor const& e) : finished(e) {}
            asio::cancellation_signal stop;
            bool done = false;
            detail::tuple_timer finished;
        };
        auto st = std::make_shared<state>(ex);
        st->finished.expires_at(std::chrono::steady_clock::time_point::max());
        // On a signal of its own: the app's cancellation ends the wait below, not the work.
        asio::co_spawn(ex, work(), asio::bind_cancellation_slot(st->stop.slot(), [st](std::exception_ptr) {
                           st->done = true;
                           st->finished.cancel();
                       }));
        co_await detail::wait_until_cancelled();
        co_await asio::this_coro::throw_if_cancelled(false);
        co_await asio::this_coro::reset_cancellation_state(asio::enable_terminal_cancellation());
        detail::tuple_timer t(ex);
        for (auto const end = std::chrono::steady_clock::now() + drain_limit; held_ > 0 && !st->done &&
                                                                        std::chrono::steady_clock::now() < end;) {
            t.expires_after(std::chrono::milliseconds{10});
            co_await t.async_wait();
        }
        st->stop.emit(asio::cancellation_type::terminal);
        if (!st->done)
            co_await st->finished.async_wait();
    }

    /// How long a stopping instance waits for the answers of its appends in flight.
    static constexpr std::chrono::seconds drain_limit{5};

    std::string const& id() const noexcept { return id_; }
    bool leader() const noexcept { return leader_; }
    cluster::projection const& projection() const noexcept { return projection_; }

    // cluster_gate
    void append(std::vector<clustered_event> evs, std::function<void(std::vector<publish_result>)> done) override
    {
        auto const n = evs.size();
        // 0: refused at once while Redis is away; else up to buffer_events wait for it.
        bool const up = conn_.health().connected;
        if ((!up && cfg_.buffer_events == 0) || (!up && held_ + n > cfg_.buffer_events)) {
            refused_ += n;
            done(unavailable(n, "the cluster's log (Redis) cannot be reached; nothing was appended"));
            return;
        }
        held_ += n;
        asio::co_spawn(core_.get_executor(), append_now(std::move(evs), std::move(done)), asio::detached);
    }

    void raise(alert a) override
    {
        // Catching up, the monitors raise again what the stream already holds.
        if (!leader_ || !projection_.caught_up()) {
            ++alerts_left_;  // the leader appends its own, which every instance applies
            return;
        }
        std::vector<append_item> items(1);
        items[0].json = to_json(a);
        items[0].alert = true;
        asio::co_spawn(core_.get_executor(), append_alert(std::move(items)), asio::detached);
    }

private:
    asio::awaitable<void> work()
    {
        using namespace asio::experimental::awaitable_operators;
        co_await (conn_.run() || projection_.run() || heartbeat());
    }

    static std::string default_id()
    {
        std::array<char, 256> host{};
        if (::gethostname(host.data(), host.size() - 1) != 0)
            host[0] = '\0';
        return std::string(host.data()) + "-" + std::to_string(::getpid());
    }

    static redis::settings redis_settings(cluster_config const& c, std::string const& id)
    {
        redis::settings s;
        std::string why;
        if (redis::parse_url(c.redis_url, s, &why))
            throw settings_error("cluster.redis_url", why);
        s.tls_ca_file = c.redis_ca_file;
        s.client_name = "jobwatch-" + id;
        for (auto& ch : s.client_name)
            if (ch == ' ')
                ch = '-';  // CLIENT SETNAME takes no spaces
        return s;
    }

    static redis::settings append_settings(redis::settings s, cluster_config const& c)
    {
        s.when_disconnected = c.buffer_events ? redis::on_disconnected::wait : redis::on_disconnected::fail_fast;
        return s;
    }

    static redis::settings reader_settings(redis::settings s)
    {
        s.client_name += "-reader";
        return s;
    }

    static std::vector<publish_result> unavailable(std::size_t n, std::string const& why)
    {
        return std::vector<publish_result>(n, publish_result{publish_status::unavailable, 0, parse_error{"", why}, {}});
    }

    asio::awaitable<void> append_now(std::vector<clustered_event> evs, std::function<void(std::vector<publish_result>)> done)
    {
        std::vector<append_item> items(evs.size());
        for (std::size_t i = 0; i < evs.size(); ++i) {
            items[i].json = to_json(evs[i].event);
            items[i].dedup_key = std::move(evs[i].dedup_key);
            items[i].user = evs[i].bound_user.value_or("");
        }
        auto [ec, out] = co_await log_.append(conn_, items);
        held_ -= evs.size();
        if (ec) {
            // Written and then lost, the batch may be in the stream: a retry
            // is safe for events with a producer id (dropped as repeats).
            refused_ += evs.size();
            done(unavailable(evs.size(), "the cluster's log (Redis) failed: " + ec.message() +
                                             "; not acknowledged, a retry with the same event ids is safe"));
            co_return;
        }
        std::vector<publish_result> r(out.size());
        for (std::size_t i = 0; i < out.size(); ++i) {
            r[i].status = out[i].duplicate ? publish_status::duplicate : publish_status::accepted;
            r[i].seq = out[i].seq;
        }
        appended_ += evs.size();
        done(std::move(r));
    }

    asio::awaitable<void> append_alert(std::vector<append_item> items)
    {
        auto [ec, out] = co_await log_.append(conn_, items);
        if (ec)
            core_.log().warn("cluster", "an alert could not be appended: " + ec.message());
        (void)out;
    }

    // Every `beat`: the leader's lease, this instance's heartbeat key, the stream's head.
    asio::awaitable<void> heartbeat()
    {
        asio::steady_timer t(core_.get_executor());
        auto const lease_ms = std::to_string(lease.count());
        for (;;) {
            std::string hb;
            {
                json_writer w(hb);
                w.raw(R"({"id":)");
                w.string(id_);
                w.raw(R"(,"applied":)");
                w.integer(static_cast<std::int64_t>(projection_.applied()));
                w.raw(R"(,"ready":)");
                w.raw(check().ready ? "true" : "false");
                w.raw(R"(,"trimmed":)");
                w.integer(static_cast<std::int64_t>(projection_.trimmed()));
                w.raw(R"(,"at_ms":)");
                w.integer(core_.now().time_since_epoch().count());
                w.raw('}');
            }
            redis::request req;
            req.push("EVAL", leader_script, "1", cfg_.stream + ":leader", id_, lease_ms);
            req.push("SET", cfg_.stream + ":instance:" + id_, hb, "PX", lease_ms);
            req.push("GET", cfg_.stream + ":seq");
            auto [ec, replies] = co_await conn_.exec(req);
            if (!ec && replies.size() == 3) {
                bool const was = leader_;
                leader_ = replies[0].to_integer().value_or(0) == 1;
                if (leader_ != was)
                    core_.log().info("cluster", id_ + (leader_ ? " leads" : " no longer leads") +
                                     " (its alerts are the cluster's)");
                head_ = static_cast<std::uint64_t>(
                    std::max<std::int64_t>(0, replies[2].to_integer().value_or(0)));
            } else {
                leader_ = false;  // a lease it cannot renew is not one it holds
            }
            boost::system::error_code wait_ec;
            // Not connected yet (or again): try again soon, a leader is wanted.
            t.expires_after(ec ? std::chrono::milliseconds{100} : beat);
            co_await t.async_wait(asio::redirect_error(asio::use_awaitable, wait_ec));
            if (wait_ec)
                co_return;
        }
    }

    health_check check() const
    {
        health_check h;
        auto const ch = conn_.health();
        auto const rh = projection_.health();
        if (!ch.connected || !rh.connected) {
            h.ready = false;
            h.reason = "Redis (cluster.redis_url) cannot be reached";
        } else if (!head_) {
            // Ready once the leader's lease was tried: alerts raised then have an instance to append them.
            h.ready = false;
            h.reason = "joining the cluster";
        } else if (projection_.behind()) {
            // INCR started again below what this instance applied: Redis lost its data.
            h.ready = false;
            h.reason = "the stream's numbering is behind this instance (" + std::to_string(projection_.applied()) +
                       "): Redis lost its data; run it with appendonly yes (docs/scale.md)";
        } else if (!projection_.caught_up()) {
            h.ready = false;
            h.reason = "catching up with the cluster's stream";
        }
        std::string d;
        json_writer w(d);
        w.raw(R"({"mode":"redis","instance":)");
        w.string(id_);
        w.raw(R"(,"redis":)");
        w.string(std::string(redis_.tls ? "rediss://" : "redis://") + redis_.host + ":" + std::to_string(redis_.port) + "/" +
                 std::to_string(redis_.database));
        w.raw(R"(,"connected":)");
        w.raw(ch.connected && rh.connected ? "true" : "false");
        if (ch.last_rtt) {
            w.raw(R"(,"rtt_ms":)");
            w.number(std::chrono::duration<double, std::milli>(*ch.last_rtt).count());
        }
        w.raw(R"(,"reconnects":)");
        w.integer(static_cast<std::int64_t>(ch.reconnects + rh.reconnects));
        if (ch.last_error) {
            w.raw(R"(,"last_error":)");
            w.string(ch.last_error.message());
        }
        w.raw(R"(,"applied":)");
        w.integer(static_cast<std::int64_t>(projection_.applied()));
        w.raw(R"(,"stream_head":)");
        auto const head = head_.value_or(0);
        w.integer(static_cast<std::int64_t>(head));
        w.raw(R"(,"lag":)");
        w.integer(static_cast<std::int64_t>(head > projection_.applied() ? head - projection_.applied() : 0));
        w.raw(R"(,"leader":)");
        w.raw(leader_ ? "true" : "false");
        w.raw(R"(,"buffered":)");
        w.integer(static_cast<std::int64_t>(held_));
        w.raw(R"(,"appended":)");
        w.integer(static_cast<std::int64_t>(appended_));
        w.raw(R"(,"refused":)");
        w.integer(static_cast<std::int64_t>(refused_));
        w.raw(R"(,"trimmed":)");
        w.integer(static_cast<std::int64_t>(projection_.trimmed()));
        w.raw('}');
        h.detail = std::move(d);
        return h;
    }

    // GET /api/v1/monitor/cluster: every instance's heartbeat key, the stream's length and head.
    asio::awaitable<http::response> monitor(http::request const& req)
    {
        std::vector<std::string> keys;
        std::string cursor = "0";
        auto const pattern = cfg_.stream + ":instance:*";
        for (int round = 0; round < 1000; ++round) {  // bounded: a handful of keys per instance
            redis::request scan;
            scan.push("SCAN", cursor, "MATCH", pattern, "COUNT", "1000");
            auto [ec, replies] = co_await conn_.exec(scan);
            auto const* parts = ec ? nullptr : std::get_if<redis::reply::array_type>(&replies.at(0).value());
            if (!parts || parts->size() != 2)
                co_return api::unavailable(req, "the cluster's Redis cannot be read now; try again");
            cursor = std::string((*parts)[0].string().value_or("0"));
            if (auto const* found = std::get_if<redis::reply::array_type>(&(*parts)[1].value()))
                for (auto const& k : *found)
                    keys.emplace_back(k.string().value_or(""));
            if (cursor == "0")
                break;
        }
        redis::request q;
        q.push("XLEN", cfg_.stream);
        q.push("GET", cfg_.stream + ":seq");
        q.push("GET", cfg_.stream + ":leader");
        for (auto const& k : keys)
            q.push("GET", k);
        auto [ec, replies] = co_await conn_.exec(q);
        if ((ec && ec != redis::error::reply_error) || replies.size() != 3 + keys.size())
            co_return api::unavailable(req, "the cluster's Redis cannot be read now; try again");
        auto const head = replies[1].to_integer().value_or(0);
        std::string body;
        json_writer w(body);
        w.raw(R"({"stream":)");
        w.string(cfg_.stream);
        w.raw(R"(,"length":)");
        w.integer(replies[0].to_integer().value_or(0));
        w.raw(R"(,"last_seq":)");
        w.integer(head);
        w.raw(R"(,"leader":)");
        if (auto l = replies[2].string())
            w.string(*l);
        else
            w.raw("null");
        w.raw(R"(,"self":)");
        w.string(id_);
        w.raw(R"(,"instances":[)");
        auto const now_ms = core_.now().time_since_epoch().count();
        bool first = true;
        for (std::size_t i = 0; i < keys.size(); ++i) {
            auto const text = replies[3 + i].string();
            if (!text)
                continue;  // expired between the scan and the read
            auto const v = boost::json::parse(*text, boost::json::storage_ptr{}, {});
            auto const* o = v.if_object();
            if (!o)
                continue;
            auto num = [&](char const* k) -> std::int64_t {
                auto const* p = o->if_contains(k);
                return p && p->is_int64() ? p->as_int64() : 0;
            };
            auto const applied = num("applied");
            w.raw(first ? "" : ",");
            first = false;
            w.raw(R"({"id":)");
            auto const* idv = o->if_contains("id");
            w.string(idv && idv->is_string() ? std::string_view(idv->as_string()) : std::string_view{});
            w.raw(R"(,"applied":)");
            w.integer(applied);
            w.raw(R"(,"lag":)");
            w.integer(head > applied ? head - applied : 0);
            w.raw(R"(,"ready":)");
            auto const* rv = o->if_contains("ready");
            w.raw(rv && rv->is_bool() && rv->as_bool() ? "true" : "false");
            w.raw(R"(,"trimmed":)");
            w.integer(num("trimmed"));
            w.raw(R"(,"seen_ms_ago":)");
            w.integer(std::max<std::int64_t>(0, now_ms - num("at_ms")));
            w.raw('}');
        }
        w.raw("]}");
        co_return http::json_response(req, http::status::ok, std::move(body));
    }

    // Takes the lease when nobody holds it, renews it when this instance does.
    static constexpr std::string_view leader_script = R"lua(
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not cur then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
)lua";

    core& core_;
    cluster_config cfg_;
    std::string id_;
    redis::settings redis_;
    stream_log log_;
    redis::connection conn_;  // appends, heartbeat, monitor (pipelined)
    cluster::projection projection_;  // reads, on a connection of its own
    bool leader_ = false;
    std::optional<std::uint64_t> head_;  // the stream's last number, as of the last heartbeat
    std::size_t held_ = 0;       // events appended and not yet answered
    std::uint64_t appended_ = 0;
    std::uint64_t refused_ = 0;
    std::uint64_t alerts_left_ = 0;  // alerts raised here and left to the leader
};

}  // namespace jobwatch::cluster

#endif
