#ifndef JOBWATCH_RUNTIME_RUN_UNTIL_CANCELLED_HPP
#define JOBWATCH_RUNTIME_RUN_UNTIL_CANCELLED_HPP

#include <jobwatch/detail/asio.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>

#include <chrono>
#include <exception>
#include <memory>

namespace jobwatch::detail {

// What run_until_cancelled shares with the work it runs (a namespace-scope
// class: GCC 12 crashes mangling a class declared inside a coroutine).
struct run_until_cancelled_state
{
    explicit run_until_cancelled_state(asio::any_io_executor const& ex) : finished(ex)
    {
        finished.expires_at(std::chrono::steady_clock::time_point::max());
    }
    asio::cancellation_signal stop;
    bool done = false;
    std::exception_ptr error;
    tuple_timer finished;
};

/** @brief Runs `work` until it ends or this coroutine is cancelled (any
    type, `total` included: the app's graceful stop); then stops `work` with
    `terminal` cancellation on a signal of its own and waits for it to end.
    Rethrows what `work` threw.

    For a component whose `run()` is a group of loops and connections
    (`conn.run() || loop()`): the app's `total` reaches the group only
    through a coroutine that lets it in, and a group waits for every member.
*/
inline asio::awaitable<void> run_until_cancelled(asio::awaitable<void> work)
{
    co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
    co_await asio::this_coro::throw_if_cancelled(false);
    auto const ex = co_await asio::this_coro::executor;
    auto st = std::make_shared<run_until_cancelled_state>(ex);
    asio::co_spawn(ex, std::move(work), asio::bind_cancellation_slot(st->stop.slot(), [st](std::exception_ptr e) {
                       st->done = true;
                       st->error = e;
                       st->finished.cancel();
                   }));
    co_await st->finished.async_wait();
    if (!st->done) {
        // Cancelled: stop the work, and wait for it without being cancelled again.
        co_await asio::this_coro::reset_cancellation_state();
        st->stop.emit(asio::cancellation_type::terminal);
        while (!st->done)
            co_await st->finished.async_wait();
    }
    if (st->error)
        std::rethrow_exception(st->error);
}

}  // namespace jobwatch::detail

#endif
