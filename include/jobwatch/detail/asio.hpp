#ifndef JOBWATCH_DETAIL_ASIO_HPP
#define JOBWATCH_DETAIL_ASIO_HPP

/** @file
    The project's Asio spellings for Boost 1.81 (Asio 1.26), where `deferred`
    is not yet the default completion token and `cancel_after` does not exist:
    coroutine-friendly I/O objects whose operations default to
    `as_tuple(use_awaitable)`, so expected outcomes (cancelled, timed out)
    come back as error codes instead of exceptions (STYLE.md items 8 and 22).
*/

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace jobwatch {

namespace asio = boost::asio;

namespace detail {

/// Completion token: resume the coroutine with (error_code, results...).
inline constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

/// A steady timer whose `async_wait()` returns `std::tuple<error_code>` in a coroutine.
using tuple_timer = asio::as_tuple_t<asio::use_awaitable_t<>>::as_default_on_t<asio::steady_timer>;

}  // namespace detail
}  // namespace jobwatch

#endif
