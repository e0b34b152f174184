#ifndef JOBWATCH_CLUSTER_PROJECTION_HPP
#define JOBWATCH_CLUSTER_PROJECTION_HPP

/** @file
    One instance's projection of the cluster's log: reads the stream in
    order, from where this instance stands, and applies each event to the
    core with the number the stream gave it (`core::apply_numbered`), so
    every instance's store, aggregates, monitors and rooms are the same and
    a client resumes with `since` on any of them.
*/

#include <jobwatch/cluster/stream_log.hpp>
#include <jobwatch/core.hpp>
#include <jobwatch/redis/connection.hpp>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>

namespace jobwatch::cluster {

/// How a projection reads.
struct projection_config
{
    std::size_t batch = 1000;               ///< entries per read
    std::chrono::milliseconds block{1000};  ///< how long a read waits for news (below the ping timeout)
};

/** @brief Reads the cluster's stream into one core.

    The reader blocks on the stream (`XREAD BLOCK`), so it owns a Redis
    connection of its own. It runs on the core's executor: each batch it
    reads is applied there, in order.

    @par Thread Safety
    Only from the core's executor.
*/
class projection
{
public:
    using config = projection_config;

    projection(core& c, redis::settings s, stream_log::config log, config cfg = {})
        : core_(c), conn_(c.get_executor(), std::move(s), c.log()), log_(std::move(log)), cfg_(cfg)
    {
    }

    /// Reads and applies until cancelled; a lost connection is retried by the connection.
    asio::awaitable<void> run()
    {
        using namespace asio::experimental::awaitable_operators;
        co_await (conn_.run() || follow());
    }

    /// The last number read and applied (or skipped: an event the store ignored).
    std::uint64_t applied() const noexcept { return applied_; }
    /// Entries the stream no longer held when this instance came to read them.
    std::uint64_t trimmed() const noexcept { return trimmed_; }
    /// The last read reached the stream's end (false until then, and after a failed read).
    bool caught_up() const noexcept { return caught_up_; }
    /** @brief The stream's numbering is below what this instance applied:
        Redis lost its data (it ran without appendonly and restarted). New
        events get numbers this instance takes for old ones. */
    bool behind() const noexcept { return behind_; }
    /// The reading connection's state.
    redis::health_info health() const { return conn_.health(); }

private:
    asio::awaitable<void> follow()
    {
        applied_ = core_.events().last_seq();  // after a durable journal's recovery, where it stopped
        asio::steady_timer pause(core_.get_executor());
        for (;;) {
            // Blocks only once caught up: a starting instance reads as fast as it applies.
            auto [ec, r] = co_await log_.read_after(conn_, applied_, cfg_.batch,
                                                    caught_up_ ? cfg_.block : std::chrono::milliseconds{0});
            if (ec) {
                caught_up_ = false;
                // The connection reconnects by itself; do not spin meanwhile.
                boost::system::error_code wait_ec;
                pause.expires_after(std::chrono::milliseconds{100});
                co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, wait_ec));
                continue;
            }
            if (r.gap) {
                // Trimmed past this instance: what it never read is lost to it, said once per gap,
                // and its clients are told to resume (they get a reset).
                auto const missing = r.entries.front().seq - applied_ - 1;
                trimmed_ += missing;
                core_.log().warn("cluster", "the stream " + log_.settings().stream + " no longer holds " +
                                 std::to_string(missing) + " entries after " + std::to_string(applied_) +
                                 " (trimmed, cluster.stream_max_len): continuing at " +
                                 std::to_string(r.entries.front().seq));
                core_.lost(applied_ + 1, r.entries.front().seq - 1);
            }
            for (auto& e : r.entries) {
                if (e.alert) {
                    if (auto a = parse<alert>(e.json))
                        core_.apply_alert_numbered(e.seq, std::move(*a));
                    else
                        core_.log().warn("cluster", "entry " + std::to_string(e.seq) + " is not an alert; skipped");
                } else if (auto ev = parse<job_event>(e.json)) {
                    core_.apply_numbered(e.seq, std::move(*ev), std::move(e.user));
                } else {
                    core_.log().warn("cluster", "entry " + std::to_string(e.seq) + " is not a job event; skipped");
                }
                applied_ = e.seq;
            }
            // A read that did not fill its batch reached the stream's end.
            caught_up_ = r.entries.size() < cfg_.batch;
            if (r.entries.empty() && caught_up_) {
                // Nothing new: the numbering must not be below what was applied
                // (read on this connection after the read, so no newer number can race it).
                redis::request req;
                req.push("GET", log_.settings().stream + ":seq");
                auto [gec, head] = co_await conn_.exec(req);
                if (!gec)
                    behind_ = static_cast<std::uint64_t>(std::max<std::int64_t>(0, head.at(0).to_integer().value_or(0))) < applied_;
            }
        }
    }

    core& core_;
    redis::connection conn_;
    stream_log log_;
    config cfg_;
    std::uint64_t applied_ = 0;
    std::uint64_t trimmed_ = 0;
    bool caught_up_ = false;
    bool behind_ = false;
};

}  // namespace jobwatch::cluster

#endif
