#ifndef JOBWATCH_COMPONENTS_NOTIFIER_HPP
#define JOBWATCH_COMPONENTS_NOTIFIER_HPP

/** @file
    The notifier: job events and alerts that match its rules, delivered to
    webhook targets (docs/operations.md, Notifications).
*/

#include <jobwatch/config.hpp>
#include <jobwatch/core.hpp>
#include <jobwatch/detail/asio.hpp>
#include <jobwatch/notify/delivery.hpp>
#include <jobwatch/notify/notice.hpp>
#include <jobwatch/notify/payload.hpp>
#include <jobwatch/notify/rules.hpp>
#include <jobwatch/runtime/run_until_cancelled.hpp>
#include <jobwatch/runtime/wait_cancelled.hpp>

#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/json.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace jobwatch {

namespace detail {

/// One notification waiting for (or in) delivery to one target.
struct notifier_item
{
    std::string key;    ///< the notice's key
    std::string type;   ///< its type
    std::string rule;   ///< the first rule that chose the target
    severity level = severity::info;
    notify::payload body;
};

/// One finished delivery, for `GET /api/v1/notifications`.
struct notifier_record
{
    std::string id;
    std::string target;
    std::string type;
    std::string rule;
    std::string status;  ///< delivered, failed, dropped
    std::size_t attempts = 0;
    unsigned http_status = 0;  ///< of the last answer; 0: none
    std::string last_error;
    std::string time;  ///< when it finished
};

/// What an attempt came to.
struct notifier_attempt
{
    bool ok = false;
    unsigned http_status = 0;
    std::string error;
    std::optional<std::chrono::milliseconds> retry_after;
};

/// A target's settings, connection and state (core thread only).
struct notifier_target_state
{
    notifier_target_state(asio::any_io_executor const& ex, std::string n, notifier_target s, notify::webhook_url u,
                          std::string key)
        : name(std::move(n)), cfg(std::move(s)), url(std::move(u)), secret(std::move(key)),
          queue(cfg.queue_size), brk(cfg.breaker_failures, cfg.breaker_cooldown_ms), wake(ex), delay(ex)
    {
        wake.expires_at(std::chrono::steady_clock::time_point::max());
    }

    std::string name;
    notifier_target cfg;
    notify::webhook_url url;
    std::string secret;
    notify::drop_queue<notifier_item> queue;
    notify::breaker brk;
    tuple_timer wake;   // cancelled when an item is queued
    tuple_timer delay;  // backoff and breaker waits
    std::optional<asio::ssl::context> tls_ctx;
    std::optional<boost::beast::tcp_stream> plain;
    std::optional<boost::beast::ssl_stream<boost::beast::tcp_stream>> tls;
    boost::beast::flat_buffer buffer;
    bool in_flight = false;
    std::uint64_t enqueued = 0, delivered = 0, failed = 0, retried = 0, dropped = 0, deduplicated = 0, attempts = 0;
    std::uint64_t errors_logged = 0;
};

inline std::string read_secret_file(std::string const& path, std::string const& setting)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw settings_error(setting, "cannot read " + path);
    std::ostringstream ss;
    ss << in.rdbuf();
    auto s = ss.str();
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r'))
        s.pop_back();
    if (s.empty())
        throw settings_error(setting, path + " is empty");
    return s;
}

}  // namespace detail

/** @brief Delivers the job events and alerts that match `notifier.rules` to
    the webhook `notifier.targets` (docs/operations.md, Notifications).

    @li The core hands it every delivered room message; one that matches a
        rule becomes one notification per target (deduplicated by its key:
        one alert is one notification), rendered in the target's preset and
        put in the target's bounded queue. Nothing waits: ingest never
        waits for a target.
    @li One sender per target delivers its queue in order over one
        keep-alive connection (Beast; TLS with OpenSSL for https), signed
        with `X-Jobwatch-Signature` and `X-Jobwatch-Timestamp` when the
        target has a secret, retried with exponential backoff and jitter
        or as `Retry-After` says, behind a circuit breaker.
    @li `GET /api/v1/notifications` (admin): counters per target and the
        recent deliveries.

    @par Thread Safety
    Only from the core executor.
    @par Cancellation
    `run()` ends on the app's `total` cancellation; a delivery in flight is
    abandoned (its notification is lost with the process, as the queue is).
*/
class notifier
{
public:
    /// Given in code; empty fields take the `notifier.*` settings.
    struct config
    {
        std::map<std::string, notifier_target> targets{};  ///< `notifier.targets`
        std::vector<notifier_rule> rules{};                 ///< `notifier.rules`
    };

    notifier(core& c, config cfg)
        : core_(c), settings_(adopt(c, cfg)),
          dedup_(settings_.dedup_window_ms, settings_.dedup_max_keys),
          rng_(std::random_device{}())
    {
        for (auto const& [name, t] : settings_.targets) {
            std::string why;
            auto url = notify::parse_url(t.url, why);  // checked by adopt()
            auto secret = t.secret;
            if (!t.secret_file.empty())
                secret = detail::read_secret_file(t.secret_file, "notifier.targets." + name + ".secret_file");
            auto st = std::make_unique<detail::notifier_target_state>(c.get_executor(), name, t, *url, std::move(secret));
            if (url->tls) {
                st->tls_ctx.emplace(asio::ssl::context::tls_client);
                st->tls_ctx->set_options(asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
                st->tls_ctx->set_verify_mode(asio::ssl::verify_peer);
                boost::system::error_code ec;
                if (t.ca_file.empty())
                    st->tls_ctx->set_default_verify_paths(ec);
                else
                    st->tls_ctx->load_verify_file(t.ca_file, ec);
                if (ec)
                    throw settings_error("notifier.targets." + name + ".ca_file",
                                         "cannot use " + (t.ca_file.empty() ? std::string("the system's CAs") : t.ca_file) +
                                             ": " + ec.message());
            }
            targets_.push_back(std::move(st));
        }
        c.on_room_message([this](room_message const& m) { on_message(m); });
        c.routes().add({{http::verb::get}, "/api/v1/notifications", http::needs::admin,
                        "The notifier: counters and breaker state per target, and the recent deliveries",
                        [this](http::call const& h) {
                            return http::json_response(h.req, http::status::ok, boost::json::serialize(report()));
                        }});
        c.add_metrics([this](metrics::prometheus_writer& w) { export_metrics(w); });
        if (!targets_.empty()) {
            std::string names;
            for (auto const& t : targets_)
                names += (names.empty() ? "" : ", ") + t->name + " (" + t->url.origin() + ")";
            c.log().info("notifier", std::to_string(targets_.size()) + " target(s): " + names + "; " +
                         (settings_.rules.empty() ? std::string("default rule (alerts and job.failed)")
                                                  : std::to_string(settings_.rules.size()) + " rule(s)"));
        }
    }

    /// Delivers until the app's `total` cancellation.
    asio::awaitable<void> run()
    {
        if (targets_.empty())
            co_await detail::wait_until_cancelled();
        else
            co_await detail::run_until_cancelled(work());
    }

    /** @brief The answer of `GET /api/v1/notifications`:
        `{"targets": [...], "deliveries": [...newest first], "counters": {...}}`. */
    boost::json::object report() const
    {
        boost::json::array ts;
        boost::json::object total{{"notifications", notifications_}, {"delivered", 0}, {"failed", 0}, {"retried", 0},
                                  {"dropped", 0}, {"deduplicated", 0}};
        auto add = [&](char const* k, std::uint64_t v) { total[k] = total[k].as_int64() + static_cast<std::int64_t>(v); };
        for (auto const& t : targets_) {
            ts.push_back(boost::json::object{{"name", t->name},
                                             {"endpoint", t->url.origin()},
                                             {"preset", std::string(to_string(t->cfg.preset))},
                                             {"breaker", std::string(notify::to_string(t->brk.current()))},
                                             {"consecutive_failures", t->brk.consecutive_failures()},
                                             {"breaker_opened", t->brk.times_opened()},
                                             {"queue_depth", t->queue.size()},
                                             {"queue_size", t->queue.capacity()},
                                             {"in_flight", t->in_flight},
                                             {"enqueued", t->enqueued},
                                             {"delivered", t->delivered},
                                             {"failed", t->failed},
                                             {"retried", t->retried},
                                             {"dropped", t->dropped},
                                             {"deduplicated", t->deduplicated},
                                             {"attempts", t->attempts}});
            add("delivered", t->delivered);
            add("failed", t->failed);
            add("retried", t->retried);
            add("dropped", t->dropped);
            add("deduplicated", t->deduplicated);
        }
        boost::json::array ds;
        for (auto it = log_.rbegin(); it != log_.rend(); ++it) {
            boost::json::object d{{"id", it->id},         {"target", it->target},     {"type", it->type},
                                  {"status", it->status}, {"attempts", it->attempts}, {"time", it->time}};
            if (!it->rule.empty())
                d["rule"] = it->rule;
            if (it->http_status)
                d["http_status"] = it->http_status;
            if (!it->last_error.empty())
                d["last_error"] = it->last_error;
            ds.push_back(std::move(d));
        }
        boost::json::object out;
        out["targets"] = std::move(ts);
        out["deliveries"] = std::move(ds);
        out["counters"] = std::move(total);
        return out;
    }

private:
    // Per target (targets are named in the settings: bounded): deliveries by outcome, queue, breaker.
    void export_metrics(metrics::prometheus_writer& w) const
    {
        using counter_of = std::uint64_t detail::notifier_target_state::*;
        std::pair<char const*, counter_of> const outcomes[] = {
            {"delivered", &detail::notifier_target_state::delivered},
            {"failed", &detail::notifier_target_state::failed},
            {"dropped", &detail::notifier_target_state::dropped},
            {"deduplicated", &detail::notifier_target_state::deduplicated}};
        w.family("jobwatch_notifications_total", "counter",
                 "Notifications per target by outcome (delivered, failed after every attempt, dropped from a full "
                 "queue, deduplicated).");
        for (auto const& t : targets_)
            for (auto const& [name, field] : outcomes)
                w.sample("jobwatch_notifications_total", {{"target", t->name}, {"outcome", name}},
                         static_cast<double>((*t).*field));
        w.family("jobwatch_notification_attempts_total", "counter", "HTTP attempts per target, retries included.");
        for (auto const& t : targets_)
            w.sample("jobwatch_notification_attempts_total", {{"target", t->name}}, static_cast<double>(t->attempts));
        w.family("jobwatch_notification_retries_total", "counter", "Retries per target.");
        for (auto const& t : targets_)
            w.sample("jobwatch_notification_retries_total", {{"target", t->name}}, static_cast<double>(t->retried));
        w.family("jobwatch_notification_queue_depth", "gauge", "Notifications waiting per target.");
        for (auto const& t : targets_)
            w.sample("jobwatch_notification_queue_depth", {{"target", t->name}}, static_cast<double>(t->queue.size()));
        w.family("jobwatch_notification_breaker", "gauge",
                 "1 for the target's circuit breaker state (closed, open, half_open), 0 for the others.");
        constexpr std::array<notify::breaker::state, 3> states = {
            notify::breaker::state::closed, notify::breaker::state::open, notify::breaker::state::half_open};
        for (auto const& t : targets_)
            for (auto st : states)
                w.sample("jobwatch_notification_breaker", {{"target", t->name}, {"state", notify::to_string(st)}},
                         t->brk.current() == st ? 1.0 : 0.0);
    }

    using item = detail::notifier_item;
    using target = detail::notifier_target_state;

    static notifier_config adopt(core& c, config const& cfg)
    {
        c.initial_setting([&](jobwatch::config& s) {
            if (!cfg.targets.empty())
                s.notifier.targets = cfg.targets;
            if (!cfg.rules.empty())
                s.notifier.rules = cfg.rules;
        });
        if (auto broken = notify::check(c.settings().notifier))
            throw settings_error(detail::setting_name(broken->path), broken->message);
        return c.settings().notifier;
    }

    // On the core's hot path: no waiting, and nothing at all for what no rule wants.
    void on_message(room_message const& m)
    {
        if (auto const* e = std::get_if<event_out>(&m)) {
            auto const& ev = e->event->event;
            if (!notify::wants_type(settings_, ::jobwatch::type_name(ev)))
                return;
            auto const* rec = core_.store().find(tenant_id_of(ev).value_or(""), job_id_of(ev));
            if (!rec)
                return;
            offer(notify::notice_of(e->event, rec->state()));
        } else if (auto const* a = std::get_if<alert_out>(&m)) {
            auto const type = "alert." + std::string(to_string(a->value->status));
            if (!notify::wants_type(settings_, type))
                return;
            offer(notify::notice_of(a->value));
        }
    }

    target* find(std::string const& name)
    {
        for (auto& t : targets_)
            if (t->name == name)
                return t.get();
        return nullptr;
    }

    void offer(notify::notice const& n)
    {
        auto const now = std::chrono::steady_clock::now();
        for (auto const& r : notify::route(settings_, n)) {
            auto* t = find(r.target);
            if (!t)
                continue;
            ++notifications_;
            if (!dedup_.first(n.key + "\n" + t->name, now)) {
                ++t->deduplicated;
                continue;
            }
            ++t->enqueued;
            item it{n.key, n.type, r.rule, n.level, notify::render(t->cfg, t->name, n, r.rule)};
            if (auto dropped = t->queue.push(std::move(it))) {
                ++t->dropped;
                record(*t, *dropped, "dropped", 0, 0, "queue full (queue_size " + std::to_string(t->cfg.queue_size) + ")");
                if ((t->dropped & (t->dropped - 1)) == 0)
                    core_.log().warn("notifier", "target " + t->name + ": " + std::to_string(t->dropped) +
                                     " notification(s) dropped so far (queue full: the target is slow or away)");
            }
            t->wake.cancel();
        }
    }

    void record(target const& t, item const& i, char const* status, std::size_t attempts, unsigned code, std::string error)
    {
        log_.push_back({i.key, t.name, i.type, i.rule, status, attempts, code, std::move(error),
                        format_time(std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now()))});
        while (log_.size() > settings_.log_size)
            log_.pop_front();
    }

    asio::awaitable<void> work()
    {
        auto const ex = core_.get_executor();
        using op_type = decltype(asio::co_spawn(ex, std::declval<asio::awaitable<void>>(), asio::deferred));
        std::vector<op_type> ops;
        for (auto& t : targets_)
            ops.push_back(asio::co_spawn(ex, deliver(*t), asio::deferred));
        auto [order, errors] = co_await asio::experimental::make_parallel_group(std::move(ops))
                                   .async_wait(asio::experimental::wait_for_one_error(), asio::use_awaitable);
        (void)order;
        for (auto const& e : errors)
            if (e)
                std::rethrow_exception(e);
    }

    static asio::awaitable<bool> cancelled()
    {
        auto cs = co_await asio::this_coro::cancellation_state;
        co_return cs.cancelled() != asio::cancellation_type::none;
    }

    // Waits `d` on the target's delay timer; false when cancelled.
    static asio::awaitable<bool> sleep(target& t, std::chrono::steady_clock::duration d)
    {
        t.delay.expires_after(d);
        co_await t.delay.async_wait();
        auto const stop = co_await cancelled();
        co_return !stop;
    }

    // One target's sender: its queue in order, one delivery at a time.
    asio::awaitable<void> deliver(target& t)
    {
        // Cancellation is seen where it is checked (`cancelled()`), not thrown from the next co_await.
        co_await asio::this_coro::throw_if_cancelled(false);
        for (;;) {
            if (co_await cancelled())
                co_return;
            if (t.queue.empty()) {
                t.wake.expires_at(std::chrono::steady_clock::time_point::max());
                co_await t.wake.async_wait();
                continue;
            }
            auto it = t.queue.pop();
            t.in_flight = true;
            std::size_t attempts = 0;
            detail::notifier_attempt last;
            bool const delivered = co_await attempt_all(t, it, attempts, last);
            t.in_flight = false;
            if (co_await cancelled())
                co_return;
            if (delivered) {
                ++t.delivered;
                record(t, it, "delivered", attempts, last.http_status, std::string());
            } else {
                ++t.failed;
                record(t, it, "failed", attempts, last.http_status, last.error);
                core_.log().warn("notifier", "target " + t.name + ": gave up on " + it.key + " after " +
                                 std::to_string(attempts) + " attempt(s): " + last.error);
            }
        }
    }

    // Attempts until delivered, out of attempts, or cancelled.
    asio::awaitable<bool> attempt_all(target& t, item const& it, std::size_t& attempts, detail::notifier_attempt& last)
    {
        std::uniform_real_distribution<double> jitter(-0.2, 0.2);
        for (;;) {
            auto const now = std::chrono::steady_clock::now();
            if (!t.brk.allow(now)) {
                auto const wait = t.brk.ready_at(now) - now;
                if (!co_await sleep(t, wait))
                    co_return false;
                continue;
            }
            ++attempts;
            ++t.attempts;
            last = co_await attempt(t, it);
            if (last.ok) {
                if (t.brk.current() != notify::breaker::state::closed)
                    core_.log().info("notifier", "target " + t.name + ": breaker closed (probe delivered)");
                t.brk.success();
                t.errors_logged = 0;
                co_return true;
            }
            if (co_await cancelled())
                co_return false;
            if (t.brk.failure(std::chrono::steady_clock::now()))
                core_.log().warn("notifier", "target " + t.name + ": breaker open after " +
                                 std::to_string(t.brk.consecutive_failures()) + " consecutive failures (" + last.error +
                                 "); next probe in " + std::to_string(t.cfg.breaker_cooldown_ms.count()) + " ms");
            else if (t.errors_logged++ < 3)
                core_.log().warn("notifier", "target " + t.name + ": attempt " + std::to_string(attempts) + " for " +
                                 it.key + " failed: " + last.error);
            if (attempts >= t.cfg.max_attempts)
                co_return false;
            ++t.retried;
            // An open breaker decides the next attempt (its probe), unless the server asked for more time.
            if (t.brk.current() == notify::breaker::state::open && !last.retry_after)
                continue;
            std::chrono::steady_clock::duration const wait = notify::next_wait(attempts, t.cfg.backoff_initial_ms, t.cfg.backoff_max_ms, jitter(rng_),
                                                last.retry_after, t.cfg.retry_after_max_ms);
            if (!co_await sleep(t, wait))
                co_return false;
        }
    }

    static void close(target& t)
    {
        boost::system::error_code ec;
        if (t.tls)
            boost::beast::get_lowest_layer(*t.tls).socket().close(ec);
        if (t.plain)
            t.plain->socket().close(ec);
        t.tls.reset();
        t.plain.reset();
        t.buffer.clear();
    }

    // One HTTP exchange, on the kept connection or a new one.
    asio::awaitable<detail::notifier_attempt> attempt(target& t, item const& it)
    {
        namespace bh = boost::beast::http;
        detail::notifier_attempt r;
        auto const timeout = std::chrono::steady_clock::duration(t.cfg.timeout_ms);
        if (!t.plain && !t.tls) {
            asio::ip::tcp::resolver resolver(core_.get_executor());
            auto [rec, results] = co_await resolver.async_resolve(t.url.host, t.url.port, ::jobwatch::detail::use_tuple);
            if (rec) {
                r.error = "cannot resolve " + t.url.host + ": " + rec.message();
                co_return r;
            }
            boost::beast::tcp_stream s(core_.get_executor());
            s.expires_after(timeout);
            auto [cec, ep] = co_await s.async_connect(results, ::jobwatch::detail::use_tuple);
            (void)ep;
            if (cec) {
                r.error = "cannot connect: " + (cec == boost::beast::error::timeout ? std::string("timed out") : cec.message());
                co_return r;
            }
            if (t.url.tls) {
                t.tls.emplace(std::move(s), *t.tls_ctx);
                if (!SSL_set_tlsext_host_name(t.tls->native_handle(), t.url.host.c_str())) {
                    close(t);
                    r.error = "TLS: cannot set the server name";
                    co_return r;
                }
                t.tls->set_verify_callback(asio::ssl::host_name_verification(t.url.host));
                boost::beast::get_lowest_layer(*t.tls).expires_after(timeout);
                auto [hec] = co_await t.tls->async_handshake(asio::ssl::stream_base::client, ::jobwatch::detail::use_tuple);
                if (hec) {
                    close(t);
                    r.error = "TLS handshake: " + hec.message();
                    co_return r;
                }
            } else {
                t.plain.emplace(std::move(s));
            }
        }
        auto const method = t.cfg.method == "PUT" ? bh::verb::put : bh::verb::post;
        bh::request<bh::string_body> req(method, t.url.target, 11);
        req.set(bh::field::host, t.url.host);
        req.set(bh::field::user_agent, "jobwatch-notifier");
        req.set(bh::field::content_type, it.body.content_type);
        req.set("X-Jobwatch-Notification-Id", it.key);
        req.set("X-Jobwatch-Event", it.type);
        for (auto const& [k, v] : t.cfg.headers)
            req.set(k, v);
        if (!t.secret.empty()) {
            // Signed at each attempt: the timestamp is the attempt's, so a receiver's replay window holds.
            auto const ts = std::to_string(
                std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
            req.set("X-Jobwatch-Timestamp", ts);
            req.set("X-Jobwatch-Signature", notify::signature(t.secret, ts, it.body.body));
        }
        req.keep_alive(true);
        req.body() = it.body.body;
        req.prepare_payload();
        bh::response_parser<bh::string_body> parser;
        parser.body_limit(64 * 1024);  // the answer is read only for its status: bounded
        boost::system::error_code ec;
        if (t.tls) {
            boost::beast::get_lowest_layer(*t.tls).expires_after(timeout);
            auto [wec, wn] = co_await bh::async_write(*t.tls, req, ::jobwatch::detail::use_tuple);
            (void)wn;
            ec = wec;
            if (!ec) {
                auto [rec, rn] = co_await bh::async_read(*t.tls, t.buffer, parser, ::jobwatch::detail::use_tuple);
                (void)rn;
                ec = rec;
            }
        } else {
            t.plain->expires_after(timeout);
            auto [wec, wn] = co_await bh::async_write(*t.plain, req, ::jobwatch::detail::use_tuple);
            (void)wn;
            ec = wec;
            if (!ec) {
                auto [rec, rn] = co_await bh::async_read(*t.plain, t.buffer, parser, ::jobwatch::detail::use_tuple);
                (void)rn;
                ec = rec;
            }
        }
        if (ec) {
            close(t);
            r.error = ec == boost::beast::error::timeout ? "timed out after " + std::to_string(t.cfg.timeout_ms.count()) + " ms"
                                                          : ec.message();
            co_return r;
        }
        auto const& res = parser.get();
        r.http_status = res.result_int();
        if (!res.keep_alive())
            close(t);
        if (r.http_status >= 200 && r.http_status < 300) {
            r.ok = true;
            co_return r;
        }
        r.error = "HTTP " + std::to_string(r.http_status);
        if (r.http_status == 429 || r.http_status == 503) {
            auto const ra = res.find(bh::field::retry_after);
            if (ra != res.end())
                r.retry_after = notify::parse_retry_after(std::string_view(ra->value().data(), ra->value().size()),
                                                          std::chrono::system_clock::now());
        }
        co_return r;
    }

    core& core_;
    notifier_config settings_;
    notify::dedup dedup_;
    std::mt19937 rng_;
    std::vector<std::unique_ptr<target>> targets_;
    std::deque<detail::notifier_record> log_;
    std::uint64_t notifications_ = 0;
};

}  // namespace jobwatch

#endif
