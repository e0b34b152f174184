#ifndef JOBWATCH_GATEWAY_SHARD_HPP
#define JOBWATCH_GATEWAY_SHARD_HPP

/** @file
    One share-nothing I/O shard of the gateway: its thread and context, its
    connections, room table, limits, counters and sweep.
*/

#include <jobwatch/detail/asio.hpp>
#include <jobwatch/gateway/connection.hpp>
#include <jobwatch/gateway/counters.hpp>
#include <jobwatch/gateway/hub.hpp>

#include <boost/asio/executor_work_guard.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace jobwatch::gw {

/** @brief The connections of one shard: registered while they live, shut
    down and awaited together on stop (a task group, as Beast's
    flex-awaitable example has one, for connections that are callbacks and
    coroutines alike).

    @par Thread Safety
    Only from its shard's executor; `size()` from any thread.
*/
class connection_group
{
public:
    explicit connection_group(asio::any_io_executor ex) : empty_(std::move(ex)) {}

    void add(std::shared_ptr<connection> c)
    {
        c->registry_index = conns_.size();
        conns_.push_back(std::move(c));
        size_.store(conns_.size(), std::memory_order_relaxed);
    }

    /// Removes `c` (once; later calls do nothing). Its last reference goes after this call returns.
    void remove(connection& c, asio::any_io_executor const& ex)
    {
        auto const i = c.registry_index;
        if (i >= conns_.size() || conns_[i].get() != &c)
            return;
        auto keep = std::move(conns_[i]);
        if (i + 1 != conns_.size()) {
            conns_[i] = std::move(conns_.back());
            conns_[i]->registry_index = i;
        }
        conns_.pop_back();
        c.registry_index = static_cast<std::size_t>(-1);
        size_.store(conns_.size(), std::memory_order_relaxed);
        asio::post(ex, [keep = std::move(keep)] {});
        if (conns_.empty())
            empty_.cancel();  // wakes `wait_empty`
    }

    /// Calls `f(connection&)` on a snapshot of the members (f may remove them).
    template<class F>
    void for_each(F&& f)
    {
        auto const all = conns_;
        for (auto const& c : all)
            f(*c);
    }

    /// Sweeps every member; a sweep may remove members (swap-remove keeps the rest in place).
    void sweep(steady_time now)
    {
        for (std::size_t i = 0; i < conns_.size();) {
            auto* c = conns_[i].get();
            c->sweep(now);
            if (i < conns_.size() && conns_[i].get() == c)
                ++i;
        }
    }

    std::size_t size() const noexcept { return size_.load(std::memory_order_relaxed); }
    std::vector<std::shared_ptr<connection>> const& members() const noexcept { return conns_; }

    /// Resumes once the group is empty or `deadline` passed; true when empty.
    asio::awaitable<bool> wait_empty(steady_time deadline)
    {
        while (!conns_.empty() && std::chrono::steady_clock::now() < deadline) {
            empty_.expires_at(deadline);
            co_await empty_.async_wait();
        }
        co_return conns_.empty();
    }

private:
    std::vector<std::shared_ptr<connection>> conns_;
    std::atomic<std::size_t> size_{0};
    detail::tuple_timer empty_;  // a condition variable: cancelled when the group empties
};

/** @brief One share-nothing I/O shard: its connections, room table, limits,
    counters and sweep, on its own thread and `io_context` — or, with
    `gateway.threads` = 0, the single shard on the core's executor.

    @par Thread Safety
    Its members from its own executor; the atomics and `counters` (relaxed
    reads) from any thread.
*/
class shard
{
public:
    shard(std::size_t i, asio::any_io_executor core_ex, bool own_thread, session_limits limits)
        : index(i)
        , ioc(own_thread ? std::make_shared<asio::io_context>(1) : nullptr)
        , ex(ioc ? asio::any_io_executor(ioc->get_executor()) : std::move(core_ex))
        , limits(limits)
        , hub(ex)
        , conns(ex)
        , sweep_timer_(ex)
    {
    }

    ~shard() { stop(); }

    /// The core's own shard (`gateway.threads` = 0): no hop, no thread.
    bool is_core() const noexcept { return !ioc; }

    /// Starts the shard's thread (and its sweep); `on_error` reports a handler's exception.
    void start(std::function<void(std::string)> on_error)
    {
        arm_sweep();
        if (is_core() || thread_.joinable())
            return;
        work_.emplace(ioc->get_executor());
        thread_ = std::thread([this, on_error = std::move(on_error)] {
            for (;;) {
                try {
                    ioc->run();
                    return;
                } catch (std::exception const& e) {
                    // One failed handler must not take the shard's other connections down.
                    on_error(e.what());
                }
            }
        });
    }

    /// Stops the sweep and joins the thread; what is left in the shard's queue is destroyed on this thread.
    void stop()
    {
        if (is_core()) {
            sweep_timer_.cancel();
            return;
        }
        if (!thread_.joinable())
            return;
        work_.reset();
        ioc->stop();
        thread_.join();
    }

    /// Registers a connection of this shard.
    void add(std::shared_ptr<connection> c)
    {
        auto const kind = c->kind();
        if (kind == "ws")
            ++ws;
        else if (kind == "sse")
            ++sse;
        else if (kind == "socketio")
            ++socketio;
        conns.add(std::move(c));
    }

    /// Unregisters a connection of this shard (once).
    void remove(connection& c)
    {
        if (c.registry_index >= conns.members().size() || conns.members()[c.registry_index].get() != &c)
            return;
        auto const kind = c.kind();
        if (kind == "ws")
            --ws;
        else if (kind == "sse")
            --sse;
        else if (kind == "socketio")
            --socketio;
        conns.remove(c, ex);
    }

    /// The queue and room figures of the monitor report, on the shard's thread.
    void refresh_stats()
    {
        std::size_t msgs = 0, bytes = 0;
        for (auto const& c : conns.members()) {
            msgs += c->queued_messages();
            bytes += c->queued_bytes();
        }
        queued_messages = msgs;
        queued_bytes = bytes;
        rooms = hub.room_count();
    }

    std::size_t const index;
    /// First member: outlives the sockets and timers below. Shared: a hop's
    /// closure left on a force-stopped core keeps it alive until destroyed.
    std::shared_ptr<asio::io_context> ioc;
    asio::any_io_executor ex;
    session_limits limits;
    gateway_counters counters;
    gw::hub hub;
    connection_group conns;
    // Read by the core (the monitor report).
    std::atomic<std::size_t> ws{0};
    std::atomic<std::size_t> sse{0};
    std::atomic<std::size_t> socketio{0};  ///< Socket.IO sessions (their WebSockets count as ws too)
    std::atomic<std::size_t> queued_messages{0};  ///< as of the last sweep
    std::atomic<std::size_t> queued_bytes{0};     ///< as of the last sweep
    std::atomic<std::size_t> rooms{0};            ///< as of the last sweep
    /// Room messages the core has handed over and the shard not yet fanned out.
    std::atomic<std::size_t> backlog{0};

private:
    // One timer drives every connection's timers (heartbeats, deadlines).
    void arm_sweep()
    {
        sweep_timer_.expires_after(std::chrono::milliseconds{250});
        sweep_timer_.async_wait([this](boost::system::error_code ec) {
            if (ec)
                return;
            conns.sweep(std::chrono::steady_clock::now());
            refresh_stats();
            arm_sweep();
        });
    }

    asio::steady_timer sweep_timer_;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
    std::thread thread_;
};

}  // namespace jobwatch::gw

#endif
