#ifndef JOBWATCH_RUNTIME_SCHEDULER_HPP
#define JOBWATCH_RUNTIME_SCHEDULER_HPP

/** @file
    The scheduler component: drives every periodic task of the core (summary
    ticks, stale-job sweeps, window expiry, clean-up of inactive runs) without
    ever overlapping two runs of one task. The decisions live in
    `scheduler_core`; this is the thin coroutine around it.
*/

#include <jobwatch/runtime/scheduler_core.hpp>
#include <jobwatch/detail/asio.hpp>
#include <jobwatch/logger.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/cancellation_state.hpp>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <variant>
#include <vector>

namespace jobwatch {
namespace detail {

template<class F>
concept scheduler_sync_fn = std::invocable<F&> && std::is_void_v<std::invoke_result_t<F&>>;
template<class F>
concept scheduler_async_fn =
    std::invocable<F&> && std::same_as<std::invoke_result_t<F&>, asio::awaitable<void>>;
template<class F>
concept scheduler_sync_keyed_fn = std::invocable<F&, std::string_view> &&
                                  std::is_void_v<std::invoke_result_t<F&, std::string_view>>;
template<class F>
concept scheduler_async_keyed_fn =
    std::invocable<F&, std::string_view> &&
    std::same_as<std::invoke_result_t<F&, std::string_view>, asio::awaitable<void>>;

}  // namespace detail

/** @brief Runs named periodic tasks and per-key tasks on the core executor,
    never two runs of one task at once.

    @code
    jobwatch::scheduler sched{ex, {}, lgr};
    sched.add("stale-sweep", {.interval = 5s, .jitter = 500ms}, [&] { store.sweep(); });
    auto runs = sched.add_keyed(
        "run", {.interval = 1s, .idle_timeout = 30s},
        [&](std::string_view run_id) -> asio::awaitable<void> { co_await publish_summary(run_id); },
        [&](std::string_view run_id) { aggregates.forget(run_id); });
    sched.touch(runs, "r1");     // for every event of run r1
    co_await sched.run();        // until cancelled
    @endcode

    A task body is either synchronous (`void()`; it runs inside the
    scheduler's loop, so it must be short) or a coroutine
    (`asio::awaitable<void>()`; each run is a child coroutine that the
    scheduler awaits before the task can be due again). Per-key bodies take
    the key; the `std::string_view` stays valid until the run ends, because a
    key is never removed while its run is in flight.

    Exceptions thrown by a body are logged at `error` and counted as
    failures; the task keeps its schedule. Registration mistakes (a taken
    name, a non-positive interval) throw `std::invalid_argument`.

    @par Thread Safety
    Only from the core executor (`get_executor()`): every member, and every
    task body runs there too.
*/
class scheduler
{
public:
    using clock = scheduler_core::clock;
    using time_point = scheduler_core::time_point;
    using duration = scheduler_core::duration;
    using task_id = scheduler_core::task_id;
    using family_id = scheduler_core::family_id;
    using task_options = scheduler_core::task_options;
    using keyed_options = scheduler_core::keyed_options;
    using touch_result = scheduler_core::touch_result;
    using executor_type = asio::any_io_executor;

    /// Tuning for the scheduler. Every field has a working default.
    struct config
    {
        /// Bound on per-key tasks over all families; touches of new keys beyond it are
        /// refused, counted and logged. 0 is an error (run() throws).
        std::size_t max_keyed_tasks = 10'000;
        /// Seeds the jitter draws: the same seed and task names give the same schedule.
        std::uint64_t seed = scheduler_core::config{}.seed;
        /// The time source; empty means `std::chrono::steady_clock::now`. Tests inject one.
        /// Waits are still real timer waits of (next due - now()).
        std::function<time_point()> now{};
    };

    /// A scheduler with the default config.
    explicit scheduler(executor_type ex) : scheduler(std::move(ex), config{}) {}

    /** @brief A scheduler with no tasks yet; nothing runs before `run()`.
        Does not throw on a bad config: `run()` checks it. */
    // (Not `config cfg = {}`: a default argument inside the class may not use
    // the default member initializers of a nested class before the enclosing
    // class is complete, CWG 1397; GCC and Clang reject it. A constructor
    // body may, hence the one-argument overload above.)
    scheduler(executor_type ex, config cfg, logger lgr = {})
        : ex_(ex)
        , cfg_(std::move(cfg))
        , lgr_(std::move(lgr))
        , core_({.max_keyed_tasks = cfg_.max_keyed_tasks, .seed = cfg_.seed})
        , timer_(ex)
    {
    }

    // Runs in flight point at it.
    scheduler(scheduler const&) = delete;
    scheduler& operator=(scheduler const&) = delete;

    executor_type get_executor() const noexcept { return ex_; }

    /** @brief Adds a named task: `fn` is `void()` or `asio::awaitable<void>()`.
        Its first run is due one interval (with `immediate`, no time) plus
        jitter from now. May be called before or during `run()`.
        @throws std::invalid_argument if the name is taken or the options are invalid. */
    template<class F>
        requires detail::scheduler_sync_fn<F> || detail::scheduler_async_fn<F>
    task_id add(std::string name, task_options opts, F fn);

    /** @brief Adds a family of per-key tasks: `fn` is `void(std::string_view key)`
        or `asio::awaitable<void>(std::string_view key)`; `on_removed(key)` is
        called (in the scheduler's loop) when a key has been idle for
        `opts.idle_timeout` and its last run has ended.
        @throws std::invalid_argument if the name is taken or the options are invalid. */
    template<class F>
        requires detail::scheduler_sync_keyed_fn<F> || detail::scheduler_async_keyed_fn<F>
    family_id add_keyed(std::string family, keyed_options opts, F fn,
                        std::function<void(std::string_view key)> on_removed = {});

    /** @brief Marks `key` active, creating its task on first sight (up to
        `max_keyed_tasks`). Cheap enough to call for every event.
        @throws std::out_of_range if `f` is not one of this scheduler's families. */
    touch_result touch(family_id f, std::string_view key);

    /** @brief The same, with the family named.
        @throws std::invalid_argument if there is no such family. */
    touch_result touch(std::string_view family, std::string_view key);

    /** @brief Changes a task's interval (a runtime setting changed); its next
        run comes no later than one new interval from now.
        @return false for an unknown task or an interval <= 0. */
    bool set_interval(task_id id, duration interval)
    {
        bool const ok = core_.set_interval(id, interval, now());
        if (ok)
            wake();
        return ok;
    }

    /// Runs, overruns, failures and durations of every task and family.
    scheduler_metrics metrics() const { return core_.snapshot(); }

    /// The decisions, for inspection (which keys are alive, a task's next due time).
    scheduler_core const& core() const noexcept { return core_; }

    /** @brief Runs the tasks until cancelled.

        @li Each turn removes the keys that went idle (calling `on_removed`),
            starts every due task, and sleeps on one timer until the next due
            time or until a task is added, a key created, or a run ends.
        @li A run of a coroutine task is a child coroutine on `get_executor()`;
            the task is not due again until the child has completed.

        @par Thread Safety
        Call on the core executor; one `run()` at a time. The scheduler must
        outlive it (the app owns both).

        @par Cancellation
        `terminal`, `partial` and `total`. It starts nothing more, passes the
        cancellation on to the runs in flight, waits for all of them, and
        returns; a later, stronger cancellation is passed on too. A coroutine
        body sees `total` only if it enables it (by default an Asio coroutine
        accepts only `terminal`), so with the app's "total, then terminal"
        shutdown a tick in flight finishes its work first. Keys and counters
        are kept; `on_removed` is not called for the keys still alive.

        @code
        asio::awaitable<void> run();   // returns normally when cancelled
        @endcode
        @throws std::invalid_argument if the config is invalid (`max_keyed_tasks == 0`).
        @throws std::logic_error if another `run()` is in progress.
    */
    asio::awaitable<void> run();

private:
    using periodic_body =
        std::variant<std::function<void()>, std::function<asio::awaitable<void>()>>;
    using keyed_body = std::variant<std::function<void(std::string_view)>,
                                    std::function<asio::awaitable<void>(std::string_view)>>;

    struct family_entry
    {
        keyed_body fn;
        std::function<void(std::string_view)> on_removed;
    };

    // A run in flight of a coroutine task.
    struct child
    {
        asio::cancellation_signal signal;  // must outlive the co_spawn it is bound to
        bool done = false;                 // completed; the loop erases it (not the completion)
    };

    static std::string format_ms(duration d);
    time_point now() const { return cfg_.now ? cfg_.now() : clock::now(); }
    void wake() { timer_.cancel(); }
    std::string describe(task_id id) const;
    void start(task_id id);
    template<class Body>
    void run_sync(task_id id, Body&& body);
    template<class MakeAwaitable>
    void spawn(task_id id, MakeAwaitable&& make);
    void on_child_done(task_id id, time_point started, std::exception_ptr e);
    void finish(task_id id, time_point started, bool failed);
    void removed(scheduler_core::removed_key const& r);
    void cancel_children(asio::cancellation_type_t type);
    void reap();
    void note_refused(family_id f, std::string_view key);

    executor_type ex_;
    config cfg_;
    logger lgr_;
    scheduler_core core_;
    detail::tuple_timer timer_;
    // Both keep their elements in place: a coroutine body's frame points into
    // its lambda, which must not move while a run is in flight.
    std::unordered_map<task_id, periodic_body> bodies_;
    std::deque<family_entry> families_;  // indexed by family_id
    // Node-based, so a child's signal keeps its address while others come and go.
    std::unordered_map<task_id, child> children_;
    std::uint64_t refused_ = 0;
    bool running_ = false;
};

}  // namespace jobwatch

#include <jobwatch/runtime/impl/scheduler.hpp>

#endif
