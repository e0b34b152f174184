#ifndef JOBWATCH_TESTS_CORE_TEST_SUPPORT_HPP
#define JOBWATCH_TESTS_CORE_TEST_SUPPORT_HPP

// Shared helpers of the core tests (STYLE.md item 14): run a coroutine under
// a deadline, capture what a component logs, sleep in a coroutine.

#include <jobwatch/detail/asio.hpp>
#include <jobwatch/logger.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace jobwatch::test {

/** @brief Runs `op` on `ioc` and fails the test unless it finishes within
    `timeout`. An exception that escapes `op` is rethrown here (GoogleTest
    reports it).

    On timeout it adds a failure, emits `terminal` cancellation to `op` and
    gives it 200 ms more to unwind (what it throws then is not reported),
    then stops `ioc`, so a stuck test ends instead of hanging the suite.
    Either way `ioc` is left restarted and reusable.
*/
inline void run_coroutine_test(asio::io_context& ioc, asio::awaitable<void> op,
                               std::chrono::milliseconds timeout = std::chrono::seconds{2})
{
    // Shared, so a completion that comes after a timeout touches no dead frame.
    struct state
    {
        bool done = false;
        std::exception_ptr error;
        asio::cancellation_signal cancel;
    };
    auto s = std::make_shared<state>();
    asio::co_spawn(ioc, std::move(op),
                   asio::bind_cancellation_slot(s->cancel.slot(), [s](std::exception_ptr e) {
                       s->done = true;
                       s->error = std::move(e);
                   }));

    auto run_until = [&](std::chrono::steady_clock::time_point deadline) {
        while (!s->done && std::chrono::steady_clock::now() < deadline)
            if (ioc.run_one_until(deadline) == 0 && ioc.stopped())
                break;  // out of work: nothing will ever complete it
    };
    run_until(std::chrono::steady_clock::now() + timeout);
    bool const timed_out = !s->done;
    if (timed_out) {
        ADD_FAILURE() << "the coroutine did not finish within " << timeout.count() << " ms";
        ioc.restart();
        s->cancel.emit(asio::cancellation_type::terminal);
        run_until(std::chrono::steady_clock::now() + std::chrono::milliseconds{200});
        if (!s->done)
            ioc.stop();
    }
    ioc.restart();
    if (s->error && !timed_out)
        std::rethrow_exception(s->error);
}

/// Waits `d` in a coroutine (a real timer wait; keep it to tens of milliseconds).
inline asio::awaitable<void> sleep_for(std::chrono::steady_clock::duration d)
{
    detail::tuple_timer t{co_await asio::this_coro::executor, d};
    auto [ec] = co_await t.async_wait();
    if (ec)
        throw boost::system::system_error(ec);  // cancelled: unwind like any Asio operation
}

/** @brief A logger that keeps every line, for tests to assert on.

    Copies share the lines: hand `get()` to a component, then look at
    `lines()` or `contains("...")`.
*/
class log_capture
{
public:
    /// One captured line.
    struct line
    {
        logger::level lvl;
        std::string text;
    };

    /// A logger that appends to this capture; lines below `lvl` are dropped.
    logger get(logger::level lvl = logger::level::trace) const
    {
        return logger{.lvl = lvl, .fn = [lines = lines_](logger::level l, std::string_view text) {
                          lines->push_back({l, std::string(text)});
                      }};
    }

    std::vector<line> const& lines() const noexcept { return *lines_; }

    /// Whether some line contains `needle`.
    bool contains(std::string_view needle) const
    {
        return std::any_of(lines_->begin(), lines_->end(), [&](line const& l) {
            return l.text.find(needle) != std::string::npos;
        });
    }

    /// How many lines were logged at `lvl`.
    std::size_t count(logger::level lvl) const
    {
        return static_cast<std::size_t>(std::count_if(
            lines_->begin(), lines_->end(), [&](line const& l) { return l.lvl == lvl; }));
    }

    void clear() { lines_->clear(); }

private:
    std::shared_ptr<std::vector<line>> lines_ = std::make_shared<std::vector<line>>();
};

}  // namespace jobwatch::test

#endif
