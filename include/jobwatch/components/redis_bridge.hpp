#ifndef JOBWATCH_COMPONENTS_REDIS_BRIDGE_HPP
#define JOBWATCH_COMPONENTS_REDIS_BRIDGE_HPP

/** @file
    The Redis pub/sub bridge: `redis_publisher` publishes every job status
    change to channels other services and bots listen on; `redis_subscriber`
    ingests the job events other services publish (docs/bullmq.md).
*/

#include <jobwatch/config.hpp>
#include <jobwatch/core.hpp>
#include <jobwatch/detail/asio.hpp>
#include <jobwatch/redis/connection.hpp>
#include <jobwatch/redis/subscriber.hpp>
#include <jobwatch/runtime/run_until_cancelled.hpp>
#include <jobwatch/runtime/wait_cancelled.hpp>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/json.hpp>

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace jobwatch {

namespace detail {

inline redis::settings bridge_settings(redis_bridge_config const& b, std::string_view name)
{
    redis::settings s;
    std::string why;
    if (redis::parse_url(b.url, s, &why))
        throw settings_error("redis.url", why);
    s.tls_ca_file = b.ca_file;
    s.client_name = std::string(name);
    return s;
}

// Every `{name}` of `pattern` replaced by its value.
inline std::string fill_pattern(std::string_view pattern, std::string_view user, std::string_view tenant)
{
    std::string out;
    for (std::size_t i = 0; i < pattern.size();) {
        if (pattern.substr(i).starts_with("{user_id}")) {
            out += user;
            i += 9;
        } else if (pattern.substr(i).starts_with("{tenant_id}")) {
            out += tenant;
            i += 11;
        } else {
            out += pattern[i++];
        }
    }
    return out;
}

}  // namespace detail

/** @brief Publishes each job status change (a new job, and every change of
    state) to `redis.status_channel` and, when the job has a user, to
    `redis.user_channel_pattern` with `{user_id}` (and `{tenant_id}`) filled in.

    The message is one JSON object (docs/bullmq.md):
    `{"jobId", "queue", "status", "previousStatus", "attempt", "timestamp"
    (ms), "time", "seq", "userId"?, "tenantId"?, "runId"?, "type"?,
    "metadata": {"error"?, "durationMs"?, "progress"}}`.

    Publishing is at most once, as pub/sub is: messages wait in a bounded
    queue (`redis.max_pending`) while Redis is away, and what does not fit is
    dropped and counted (`GET /api/v1/monitor/redis`).

    @par Thread Safety
    Only from the core executor.
*/
class redis_publisher
{
public:
    /// Given in code; empty fields take the `redis.*` settings.
    struct config
    {
        std::string url{};                   ///< `redis.url`
        std::string status_channel{};        ///< `redis.status_channel`
        std::string user_channel_pattern{};  ///< `redis.user_channel_pattern`
    };

    redis_publisher(core& c, config cfg)
        : core_(c), settings_(adopt(c, cfg)), conn_(c.get_executor(), detail::bridge_settings(settings_, "jobwatch-publisher"), c.log()),
          wake_(c.get_executor())
    {
        wake_.expires_at(std::chrono::steady_clock::time_point::max());
        c.on_change([this](job_change const& ch) {
            if (ch.before && *ch.before == ch.after)
                return;  // progress, a log line, a repeat: not a change of status
            enqueue(ch);
        });
        c.routes().add({{http::verb::get}, "/api/v1/monitor/redis/publisher", http::needs::admin,
                        "The Redis status publisher: published, dropped, pending", [this](http::call const& h) {
                            boost::json::object o{{"connected", conn_.health().connected},
                                                   {"status_channel", settings_.status_channel},
                                                   {"user_channel_pattern", settings_.user_channel_pattern},
                                                   {"published", published_},
                                                   {"dropped", dropped_},
                                                   {"failed", failed_},
                                                   {"pending", pending_.size()}};
                            return http::json_response(h.req, http::status::ok, boost::json::serialize(o));
                        }});
    }

    asio::awaitable<void> run()
    {
        using namespace asio::experimental::awaitable_operators;
        co_await detail::run_until_cancelled(work());
    }

    std::uint64_t published() const noexcept { return published_; }
    std::uint64_t dropped() const noexcept { return dropped_; }

private:
    static redis_bridge_config adopt(core& c, config const& cfg)
    {
        c.initial_setting([&](jobwatch::config& s) {
            if (!cfg.url.empty())
                s.redis.url = cfg.url;
            if (!cfg.status_channel.empty())
                s.redis.status_channel = cfg.status_channel;
            if (!cfg.user_channel_pattern.empty())
                s.redis.user_channel_pattern = cfg.user_channel_pattern;
        });
        return c.settings().redis;
    }

    asio::awaitable<void> work()
    {
        using namespace asio::experimental::awaitable_operators;
        co_await (conn_.run() || writer());
    }

    void enqueue(job_change const& ch)
    {
        boost::json::object o;
        o["jobId"] = ch.job_id;
        o["queue"] = ch.queue;
        o["status"] = to_string(ch.after);
        if (ch.before)
            o["previousStatus"] = to_string(*ch.before);
        else
            o["previousStatus"] = nullptr;
        o["attempt"] = ch.attempt;
        o["timestamp"] = ch.cause.time.time_since_epoch().count();
        o["time"] = format_time(ch.cause.time);
        o["seq"] = ch.cause.seq;
        if (!ch.user_id.empty())
            o["userId"] = ch.user_id;
        if (!ch.tenant_id.empty())
            o["tenantId"] = ch.tenant_id;
        if (!ch.run_id.empty())
            o["runId"] = ch.run_id;
        if (!ch.job_type.empty())
            o["type"] = ch.job_type;
        boost::json::object meta;
        if (!ch.error.empty())
            meta["error"] = ch.error;
        if (ch.duration_ms)
            meta["durationMs"] = *ch.duration_ms;
        o["metadata"] = std::move(meta);
        auto text = boost::json::serialize(o);
        std::string user_channel;
        if (!ch.user_id.empty())
            user_channel = detail::fill_pattern(settings_.user_channel_pattern, ch.user_id, ch.tenant_id);
        std::size_t const n = user_channel.empty() ? 1 : 2;
        if (pending_.size() + n > settings_.max_pending) {
            dropped_ += n;
            if ((dropped_ & (dropped_ - 1)) == 0 || dropped_ < 3)
                core_.log().warn("redis publisher", std::to_string(dropped_) +
                                 " status messages dropped so far (redis.max_pending reached: Redis slow or away)");
            return;
        }
        if (!user_channel.empty())
            pending_.emplace_back(std::move(user_channel), text);
        pending_.emplace_back(settings_.status_channel, std::move(text));
        wake_.cancel();
    }

    asio::awaitable<void> writer()
    {
        constexpr std::size_t per_request = 512;
        for (;;) {
            if (co_await redis::detail::is_cancelled())
                co_return;
            if (pending_.empty()) {
                co_await wake_.async_wait();
                continue;
            }
            redis::request req;
            std::size_t const n = std::min(per_request, pending_.size());
            for (std::size_t i = 0; i < n; ++i)
                req.push("PUBLISH", pending_[i].first, pending_[i].second);
            auto [ec, replies] = co_await conn_.exec(req);
            if (ec == asio::error::operation_aborted)
                co_return;
            // Delivered or not, they leave the queue: pub/sub is at most once.
            pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(n));
            if (ec && ec != redis::error::reply_error)
                failed_ += n - std::min(n, replies.size());
            for (auto const& r : replies)
                r.is_error() ? ++failed_ : ++published_;
        }
    }

    core& core_;
    redis_bridge_config settings_;
    redis::connection conn_;
    ::jobwatch::detail::tuple_timer wake_;
    std::deque<std::pair<std::string, std::string>> pending_;  // (channel, message)
    std::uint64_t published_ = 0;
    std::uint64_t dropped_ = 0;
    std::uint64_t failed_ = 0;
};

/** @brief Ingests the job events other services publish on
    `redis.ingest_channels`: each message is one job event (JSON) or an array
    of them, validated as HTTP ingest validates them. A bad message is
    counted and logged with its channel, and nothing else is lost.

    @par Thread Safety
    Only from the core executor.
*/
class redis_subscriber
{
public:
    /// Given in code; empty fields take the `redis.*` settings.
    struct config
    {
        std::string url{};                   ///< `redis.url`
        std::vector<std::string> channels{};  ///< `redis.ingest_channels`
    };

    redis_subscriber(core& c, config cfg)
        : core_(c), settings_(adopt(c, cfg)), sub_(c.get_executor(), detail::bridge_settings(settings_, "jobwatch-subscriber"), c.log())
    {
        for (auto const& ch : settings_.ingest_channels)
            sub_.subscribe(ch);
        c.routes().add({{http::verb::get}, "/api/v1/monitor/redis/subscriber", http::needs::admin,
                        "The Redis ingest subscriber: messages, events accepted, bad messages", [this](http::call const& h) {
                            boost::json::array chans;
                            for (auto const& ch : settings_.ingest_channels)
                                chans.emplace_back(boost::json::string_view(ch));
                            boost::json::object o{{"connected", sub_.health().connected},
                                                  {"channels", std::move(chans)},
                                                  {"messages", messages_},
                                                  {"accepted", accepted_},
                                                  {"duplicates", duplicates_},
                                                  {"ignored", ignored_},
                                                  {"bad_messages", bad_},
                                                  {"refused_events", refused_},
                                                  {"gaps", gaps_}};
                            return http::json_response(h.req, http::status::ok, boost::json::serialize(o));
                        }});
    }

    asio::awaitable<void> run()
    {
        using namespace asio::experimental::awaitable_operators;
        co_await detail::run_until_cancelled(work());
    }

    std::uint64_t accepted() const noexcept { return accepted_; }
    std::uint64_t bad_messages() const noexcept { return bad_; }

private:
    static redis_bridge_config adopt(core& c, config const& cfg)
    {
        c.initial_setting([&](jobwatch::config& s) {
            if (!cfg.url.empty())
                s.redis.url = cfg.url;
            if (!cfg.channels.empty())
                s.redis.ingest_channels = cfg.channels;
        });
        return c.settings().redis;
    }

    asio::awaitable<void> work()
    {
        using namespace asio::experimental::awaitable_operators;
        co_await (sub_.run() || consume());
    }

    void bad(std::string const& channel, std::string const& why)
    {
        ++bad_;
        // Logged with the channel, at most a few times per power of two: a flood of bad input must not flood the log.
        if (bad_ <= 10 || (bad_ & (bad_ - 1)) == 0)
            core_.log().warn("redis subscriber", "channel " + channel + ": bad message (" + why + "); " +
                             std::to_string(bad_) + " so far");
    }

    asio::awaitable<void> consume()
    {
        for (;;) {
            auto [ec, msg] = co_await sub_.receive();
            if (ec)
                co_return;
            ++messages_;
            if (msg.gap_before)
                ++gaps_;
            boost::system::error_code jec;
            auto v = boost::json::parse(msg.payload, jec);
            if (jec) {
                bad(msg.channel, "not JSON: " + jec.message());
                continue;
            }
            std::vector<job_event> evs;
            std::string why;
            auto take = [&](boost::json::value const& one, std::string const& at) {
                auto r = parse_value<job_event>(one);
                if (!r) {
                    why = at + r.error().path + ": " + r.error().message;
                    return false;
                }
                evs.push_back(std::move(*r));
                return true;
            };
            bool ok = true;
            if (v.is_array()) {
                auto const& a = v.as_array();
                if (a.size() > 1000) {
                    bad(msg.channel, "more than 1000 events in one message");
                    continue;
                }
                for (std::size_t i = 0; i < a.size() && ok; ++i)
                    ok = take(a[i], "/" + std::to_string(i));
            } else {
                ok = take(v, "");
            }
            if (!ok) {
                // One bad event refuses its message, as one bad event refuses an HTTP batch.
                bad(msg.channel, why);
                continue;
            }
            auto results = co_await core_.submitted(std::move(evs));
            for (auto const& r : results) {
                switch (r.status) {
                case publish_status::accepted: ++accepted_; break;
                case publish_status::duplicate: ++duplicates_; break;
                case publish_status::ignored: ++ignored_; break;
                default:
                    ++refused_;
                    bad(msg.channel, "refused: " + r.error.message);
                }
            }
        }
    }

    core& core_;
    redis_bridge_config settings_;
    redis::subscriber sub_;
    std::uint64_t messages_ = 0;
    std::uint64_t accepted_ = 0;
    std::uint64_t duplicates_ = 0;
    std::uint64_t ignored_ = 0;
    std::uint64_t bad_ = 0;
    std::uint64_t refused_ = 0;
    std::uint64_t gaps_ = 0;
};

}  // namespace jobwatch

#endif
