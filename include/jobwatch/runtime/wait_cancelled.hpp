#ifndef JOBWATCH_RUNTIME_WAIT_CANCELLED_HPP
#define JOBWATCH_RUNTIME_WAIT_CANCELLED_HPP

#include <jobwatch/detail/asio.hpp>

#include <chrono>

namespace jobwatch::detail {

/** @brief Suspends until the coroutine is cancelled (any cancellation type).

    For components whose work is all scheduled tasks: their `run()` has
    nothing to do but live as long as the app.
*/
inline asio::awaitable<void> wait_until_cancelled()
{
    co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
    tuple_timer timer(co_await asio::this_coro::executor);
    timer.expires_at(std::chrono::steady_clock::time_point::max());
    co_await timer.async_wait();
}

}  // namespace jobwatch::detail

#endif
