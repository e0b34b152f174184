#ifndef JOBWATCH_RUNTIME_IMPL_SCHEDULER_HPP
#define JOBWATCH_RUNTIME_IMPL_SCHEDULER_HPP

// Included at the bottom of <jobwatch/runtime/scheduler.hpp>.

#include <boost/asio/error.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>
#include <stdexcept>

namespace jobwatch {

// "12.345 ms": durations in log lines.
inline std::string scheduler::format_ms(duration d)
{
    auto const us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
    auto frac = std::to_string(us % 1000);
    return std::to_string(us / 1000) + '.' + std::string(3 - frac.size(), '0') + frac + " ms";
}

template<class F>
    requires detail::scheduler_sync_fn<F> || detail::scheduler_async_fn<F>
scheduler::task_id scheduler::add(std::string name, task_options opts, F fn)
{
    auto const id = core_.add(std::move(name), opts, now());
    if constexpr (detail::scheduler_async_fn<F>)
        bodies_.try_emplace(id, std::in_place_index<1>, std::move(fn));
    else
        bodies_.try_emplace(id, std::in_place_index<0>, std::move(fn));
    // Its first run may be due before the timer's current deadline.
    wake();
    return id;
}

template<class F>
    requires detail::scheduler_sync_keyed_fn<F> || detail::scheduler_async_keyed_fn<F>
scheduler::family_id scheduler::add_keyed(std::string family, keyed_options opts, F fn,
                                          std::function<void(std::string_view key)> on_removed)
{
    auto const id = core_.add_family(std::move(family), opts);
    auto& entry = families_.emplace_back();
    if constexpr (detail::scheduler_async_keyed_fn<F>)
        entry.fn.template emplace<1>(std::move(fn));
    else
        entry.fn.template emplace<0>(std::move(fn));
    entry.on_removed = std::move(on_removed);
    return id;
}

inline scheduler::touch_result scheduler::touch(family_id f, std::string_view key)
{
    auto const r = core_.touch(f, key, now());
    if (r == touch_result::created) {
        if (lgr_.enabled(logger::level::debug))
            lgr_.log(logger::level::debug, "scheduler",
                     "key '" + std::string(core_.family_name(f)) + "/" +
                         std::string(key) + "' is active: its task starts");
        wake();
    } else if (r == touch_result::refused) {
        note_refused(f, key);
    }
    return r;
}

inline scheduler::touch_result scheduler::touch(std::string_view family, std::string_view key)
{
    auto const f = core_.find_family(family);
    if (!f)
        throw std::invalid_argument("scheduler::touch: no family named '" + std::string(family) +
                                    "'");
    return touch(*f, key);
}

inline std::string scheduler::describe(task_id id) const
{
    if (auto const f = core_.family_of(id))
        return std::string(core_.family_name(*f)) + "/" + std::string(core_.name(id));
    return std::string(core_.name(id));
}

inline void scheduler::note_refused(family_id f, std::string_view key)
{
    ++refused_;
    // Rate-limited: the 1st, 2nd, 4th, 8th... refusal.
    if ((refused_ & (refused_ - 1)) == 0)
        lgr_.log(logger::level::warn, "scheduler",
                 "refused key '" + std::string(core_.family_name(f)) + "/" +
                     std::string(key) + "': max_keyed_tasks (" +
                     std::to_string(cfg_.max_keyed_tasks) + ") reached; " +
                     std::to_string(refused_) + " refused so far");
}

inline void scheduler::start(task_id id)
{
    if (auto const fam = core_.family_of(id)) {
        auto& entry = families_[static_cast<std::size_t>(*fam)];
        // Valid until the run ends: the core keeps a key while its run is in flight.
        auto const key = core_.name(id);
        if (auto* body = std::get_if<1>(&entry.fn))
            spawn(id, [body, key] { return (*body)(key); });
        else
            run_sync(id, [&entry, key] { std::get<0>(entry.fn)(key); });
    } else {
        auto& body = bodies_.at(id);
        if (auto* coro = std::get_if<1>(&body))
            spawn(id, [coro] { return (*coro)(); });
        else
            run_sync(id, [&body] { std::get<0>(body)(); });
    }
}

template<class Body>
void scheduler::run_sync(task_id id, Body&& body)
{
    auto const started = now();
    bool failed = false;
    try {
        body();
    } catch (std::exception const& e) {
        failed = true;
        lgr_.log(logger::level::error, "scheduler",
                 "task '" + describe(id) + "' failed: " + e.what());
    } catch (...) {
        failed = true;
        lgr_.log(logger::level::error, "scheduler",
                 "task '" + describe(id) + "' failed with an unknown exception");
    }
    finish(id, started, failed);
}

template<class MakeAwaitable>
void scheduler::spawn(task_id id, MakeAwaitable&& make)
{
    auto const started = now();
    // The previous run's entry was reaped before the task could be due again.
    auto& c = children_[id];
    try {
        asio::co_spawn(ex_, make(),
                       asio::bind_cancellation_slot(
                           c.signal.slot(), [this, id, started](std::exception_ptr e) {
                               on_child_done(id, started, std::move(e));
                           }));
    } catch (std::exception const& e) {
        // The body threw before it became a coroutine (or co_spawn could not allocate).
        children_.erase(id);
        lgr_.log(logger::level::error, "scheduler",
                 "task '" + describe(id) + "' failed to start: " + e.what());
        finish(id, started, true);
    }
}

inline void scheduler::on_child_done(task_id id, time_point started, std::exception_ptr e)
{
    bool failed = false;
    if (e) {
        try {
            std::rethrow_exception(e);
        } catch (boost::system::system_error const& se) {
            // A run that ended because it was cancelled did not fail (STYLE.md item 8).
            if (se.code() != asio::error::operation_aborted) {
                failed = true;
                lgr_.log(logger::level::error, "scheduler",
                         "task '" + describe(id) + "' failed: " + se.what());
            }
        } catch (std::exception const& ex) {
            failed = true;
            lgr_.log(logger::level::error, "scheduler",
                     "task '" + describe(id) + "' failed: " + ex.what());
        } catch (...) {
            failed = true;
            lgr_.log(logger::level::error, "scheduler",
                     "task '" + describe(id) + "' failed with an unknown exception");
        }
    }
    finish(id, started, failed);
    // Erased by the loop, not here: this runs inside the child's co_spawn
    // machinery, which still holds the slot of the signal.
    if (auto it = children_.find(id); it != children_.end())
        it->second.done = true;
    wake();
}

inline void scheduler::finish(task_id id, time_point started, bool failed)
{
    auto const t = now();
    if (core_.finish(id, started, t, failed) && lgr_.enabled(logger::level::debug))
        lgr_.log(logger::level::debug, "scheduler", "task '" + describe(id) + "' overran: took " +
                                           format_ms(t - started) +
                                           "; its next run starts late");
}

inline void scheduler::removed(scheduler_core::removed_key const& r)
{
    auto& entry = families_[static_cast<std::size_t>(r.family)];
    if (lgr_.enabled(logger::level::debug))
        lgr_.log(logger::level::debug, "scheduler", "key '" +
                                           std::string(core_.family_name(r.family)) + "/" +
                                           r.key + "' is idle: its task is removed");
    if (!entry.on_removed)
        return;
    try {
        entry.on_removed(r.key);
    } catch (std::exception const& e) {
        lgr_.log(logger::level::error, "scheduler", "on_removed of '" +
                                           std::string(core_.family_name(r.family)) + "/" +
                                           r.key + "' failed: " + e.what());
    }
}

inline void scheduler::cancel_children(asio::cancellation_type_t type)
{
    for (auto& [id, c] : children_)
        if (!c.done)
            c.signal.emit(type);
}

inline void scheduler::reap()
{
    std::erase_if(children_, [](auto const& kv) { return kv.second.done; });
}

inline asio::awaitable<void> scheduler::run()
{
    if (cfg_.max_keyed_tasks == 0)
        throw std::invalid_argument(
            "scheduler: config.max_keyed_tasks is 0; it must be at least 1");
    if (running_)
        throw std::logic_error("scheduler::run: another run() is in progress");
    running_ = true;

    // An Asio coroutine accepts only terminal cancellation by default; the
    // app's graceful shutdown is total. Take cancellation as a state to look
    // at rather than as an exception, so that the runs in flight are awaited.
    // A cancellation that came before this first resumption is kept: the
    // reset forgets it.
    auto stop = (co_await asio::this_coro::cancellation_state).cancelled();
    co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
    co_await asio::this_coro::throw_if_cancelled(false);

    auto const counts = core_.snapshot();
    lgr_.log(logger::level::info, "scheduler", "started with " +
                                      std::to_string(counts.tasks.size()) + " tasks and " +
                                      std::to_string(counts.families.size()) + " families");

    for (;;) {
        stop = stop | (co_await asio::this_coro::cancellation_state).cancelled();
        if (stop != asio::cancellation_type::none)
            break;
        reap();
        // Idle keys first, so that a key that went idle does not run once more.
        for (auto const& r : core_.expire(now()))
            removed(r);
        for (auto const id : core_.due(now()))
            start(id);

        // One timer for everything: the next due time, or a wake() when a
        // task is added, a key created or a run ends (timer_.cancel()).
        if (auto const next = core_.next_wakeup())
            timer_.expires_after(std::max(*next - now(), duration::zero()));
        else
            timer_.expires_at(clock::time_point::max());
        co_await timer_.async_wait();
    }

    // Start nothing more; pass the cancellation on and wait for every run in flight.
    if (auto const n = core_.running_tasks(); n > 0)
        lgr_.log(logger::level::info, "scheduler", "stopping; waiting for " + std::to_string(n) +
                                          " runs in flight");
    cancel_children(stop);
    for (;;) {
        reap();
        if (children_.empty())
            break;
        // Re-armed, so that a later, stronger cancellation (terminal after a
        // drain timeout) reaches this coroutine and is passed on too.
        co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
        timer_.expires_at(clock::time_point::max());
        co_await timer_.async_wait();
        if (auto const again = (co_await asio::this_coro::cancellation_state).cancelled();
            again != asio::cancellation_type::none)
            cancel_children(again);
    }
    running_ = false;
    lgr_.log(logger::level::info, "scheduler", "stopped");
}

}  // namespace jobwatch

#endif
