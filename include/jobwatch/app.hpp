#ifndef JOBWATCH_APP_HPP
#define JOBWATCH_APP_HPP

#include <jobwatch/api/jobs.hpp>
#include <jobwatch/api/metrics.hpp>
#include <jobwatch/api/settings.hpp>
#include <jobwatch/cluster/node.hpp>
#include <jobwatch/config.hpp>
#include <jobwatch/core.hpp>
#include <jobwatch/detail/asio.hpp>
#include <jobwatch/storage/journal.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/signal_set.hpp>

#include <csignal>
#include <exception>
#include <functional>
#include <memory>
#include <type_traits>
#include <vector>

namespace jobwatch {

/** @brief The composition root: owns the core `io_context`, the core state and
    the components, and runs them until SIGINT or SIGTERM (SIGHUP re-reads
    keys and certificates).

    @code
    jobwatch::app app{jobwatch::load_config(argc, argv)};
    app.add<jobwatch::aggregator>({.interval = std::chrono::seconds{1}});
    return app.run();
    @endcode

    A component `C` is constructed as `C(core&, C::config)` and has one
    `asio::awaitable<void> run()` that returns when cancelled; the app owns
    the component, so it outlives its `run()`.

    @par Thread Safety
    `add` before `run`, from the thread that constructed the app. `publish`
    from any executor (it hops to the core). `stop` from any thread.
*/
class app
{
public:
    /// Process-level options that are not settings of the config file.
    struct options
    {
        logger log{};  ///< where the app and its components log (level and format: the settings log.level, log.format)
        core::clock_fn clock{};                    ///< wall clock; empty: the system clock
        duration drain_timeout = std::chrono::seconds{10};  ///< graceful shutdown, then forced
        bool handle_signals = true;                ///< stop on SIGINT/SIGTERM
    };

    app() : app(config{}, options{}) {}
    explicit app(config cfg) : app(std::move(cfg), options{}) {}
    /** @throws settings_error when `cfg` breaks the settings' schema;
        storage::storage_error when `storage.mode` is sqlite and the file
        cannot be used (its text names the file and why). */
    app(config cfg, options opts)
        : opts_(with_log_settings(std::move(opts), cfg.log))
        , core_(io_.get_executor(), checked(std::move(cfg)), opts_.log, opts_.clock)
    {
        // The core's own REST routes; components add theirs when added.
        job_routes_.install();
        settings_routes_.install();
        metrics_routes_.install();
        if (core_.settings().storage.mode == storage_mode::sqlite)
            journal_ = std::make_unique<storage::journal>(core_.settings().storage, core_.log());
        if (core_.settings().cluster.mode == cluster_mode::redis)
            node_ = std::make_unique<cluster::node>(core_);
    }

    app(app const&) = delete;
    app& operator=(app const&) = delete;

    /// Adds a component, constructed from the core and its config.
    template<class C>
    C& add(typename C::config cfg = {})
    {
        auto holder = std::make_unique<component<C>>(core_, std::move(cfg));
        auto& ref = holder->value;
        components_.push_back(std::move(holder));
        return ref;
    }

    /** @brief Publishes an event from any executor: validated, sequenced,
        applied, fanned out on the core, then resumes the caller with the
        result.

        Name an event built with braces before the `co_await`
        (`auto ev = job_progress{...}; co_await app.publish(ev);`), or use
        `post`: GCC 12 miscompiles a brace-initialised aggregate temporary
        inside any full expression that contains `co_await` — in the
        caller's coroutine, whatever `publish` takes (by value, by reference
        or as a coroutine parameter: each double-frees the temporary's
        strings there; clang is fine). An event returned by a function, or a
        named one, is safe with every compiler.
    */
    asio::awaitable<publish_result> publish(job_event ev)
    {
        // Not a coroutine itself: the event goes to the heap and only a
        // pointer enters coroutine frames (GCC 12 mis-copies large aggregates
        // that are coroutine parameters or lambda captures).
        return publish_owned(std::make_unique<job_event>(std::move(ev)));
    }

    /** @brief Publishes an event without waiting for it, from any thread:
        the core applies it in order after the events posted before it, and
        calls `done` (if given) there with the result. No `co_await` is
        involved, so an event built in the call itself is safe with every
        compiler (`app.post(jobwatch::job_progress{.job_id = "j", ...});`). */
    void post(job_event ev, std::function<void(publish_result const&)> done = {})
    {
        asio::post(io_, [this, ev = std::make_shared<job_event>(std::move(ev)), done = std::move(done)] {
            std::vector<job_event> one;
            one.push_back(std::move(*ev));
            core_.submit(std::move(one), nullptr, [done](std::vector<publish_result> r) {
                if (done)
                    done(r.at(0));
            });
        });
    }

    /// Publishes a batch in one hop to the core; one result per event, in order.
    asio::awaitable<std::vector<publish_result>> publish(std::vector<job_event> batch)
    {
        return publish_owned(std::make_unique<std::vector<job_event>>(std::move(batch)));
    }

    /** @brief Runs the components until SIGINT, SIGTERM or `stop()`, then
        drains: `total` cancellation, up to `drain_timeout` for the components
        to finish their unit of work, then `terminal` cancellation.
        @return 0 after a clean shutdown, 1 when a component failed.
        @throws settings_error, before anything runs, when a setting a
        component was given in code breaks the settings' schema. */
    int run()
    {
        validate_settings(core_.settings());
        if (journal_ && !journal_started_) {
            // Before anything runs: every component's listeners see the journal's history.
            journal_started_ = true;
            auto const r = journal_->recover(core_);
            core_.log().info("storage", journal_->file() + ": recovered " + std::to_string(r.events) +
                             " events and " + std::to_string(r.alerts) + " alerts in " +
                             std::to_string(r.took.count()) + " ms" +
                             (r.skipped ? " (" + std::to_string(r.skipped) + " unreadable, skipped)" : "") +
                             "; numbering continues after " + std::to_string(r.last_seq));
            journal_->start(core_);
        }
        asio::cancellation_signal cancel;
        bool finished = false;
        std::exception_ptr failure;
        asio::co_spawn(io_, run_all(),
                       asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr e) {
                           finished = true;
                           failure = e;
                           shutdown_timer_.cancel();
                           signals_.cancel();
                           // Work others left on the context (their timers) must not
                           // keep run() from returning once the components are done.
                           io_.stop();
                       }));
        begin_shutdown_ = [this, &cancel, &finished] {
            if (shutting_down_ || finished)
                return;
            shutting_down_ = true;
            core_.log().info("app", "shutting down");
            cancel.emit(asio::cancellation_type::total);
            shutdown_timer_.expires_after(opts_.drain_timeout);
            shutdown_timer_.async_wait([this, &cancel, &finished](boost::system::error_code ec) {
                if (ec || finished)
                    return;
                core_.log().warn("app", "drain timeout: forcing the remaining work to stop");
                cancel.emit(asio::cancellation_type::terminal);
                shutdown_timer_.expires_after(opts_.drain_timeout);
                shutdown_timer_.async_wait([this, &finished](boost::system::error_code ec2) {
                    if (!ec2 && !finished)
                        io_.stop();
                });
            });
        };
        if (opts_.handle_signals) {
            signals_.add(SIGINT);
            signals_.add(SIGTERM);
            signals_.add(SIGHUP);
            wait_for_signal();
        }
        io_.run();
        begin_shutdown_ = nullptr;
        if (journal_)
            journal_->stop();  // what the writer still holds is committed before run() returns
        if (failure) {
            try {
                std::rethrow_exception(failure);
            } catch (std::exception const& e) {
                core_.log().error("app", std::string("a component failed: ") + e.what());
            }
            return 1;
        }
        return 0;
    }

    /// Begins the graceful shutdown, as SIGTERM would.
    void stop()
    {
        asio::post(io_, [this] {
            if (begin_shutdown_)
                begin_shutdown_();
        });
    }

    core& get_core() noexcept { return core_; }
    /// This instance's part in the cluster; nullptr unless `cluster.mode` is redis.
    cluster::node* cluster_node() noexcept { return node_.get(); }
    /// The durable journal; nullptr with `storage.mode` memory.
    storage::journal* journal() noexcept { return journal_.get(); }
    asio::io_context& context() noexcept { return io_; }

private:
    // SIGHUP re-reads keys and certificates and waits again; SIGINT and SIGTERM shut down.
    void wait_for_signal()
    {
        signals_.async_wait([this](boost::system::error_code ec, int sig) {
            if (ec)
                return;
            if (sig != SIGHUP) {
                begin_shutdown_();
                return;
            }
            core_.reload();
            wait_for_signal();
        });
    }

    // The settings log.level and log.format decide what the logger writes, and how;
    // options.log decides where (its fn).
    static options with_log_settings(options o, log_config const& s)
    {
        static_assert(static_cast<int>(server_log_level::trace) == static_cast<int>(logger::level::trace) &&
                      static_cast<int>(server_log_level::error) == static_cast<int>(logger::level::error));
        o.log.lvl = static_cast<logger::level>(static_cast<int>(s.level));
        o.log.fmt = s.format == log_format::json ? logger::format::json : logger::format::text;
        return o;
    }

    static config checked(config cfg)
    {
        validate_settings(cfg);
        return cfg;
    }

    asio::awaitable<publish_result> publish_owned(std::unique_ptr<job_event> ev)
    {
        co_return co_await asio::co_spawn(io_.get_executor(), publish_on_core(ev.get()), asio::use_awaitable);
    }

    asio::awaitable<std::vector<publish_result>> publish_owned(std::unique_ptr<std::vector<job_event>> batch)
    {
        co_return co_await asio::co_spawn(io_.get_executor(), publish_on_core(batch.get()), asio::use_awaitable);
    }

    // Runs on the core executor; the caller's frame owns the event until it resumes.
    asio::awaitable<publish_result> publish_on_core(job_event* ev)
    {
        if (!node_)
            co_return core_.publish(std::move(*ev));
        std::vector<job_event> one;
        one.push_back(std::move(*ev));
        auto r = co_await core_.submitted(std::move(one));
        co_return std::move(r.at(0));
    }

    asio::awaitable<std::vector<publish_result>> publish_on_core(std::vector<job_event>* batch)
    {
        if (node_)
            co_return co_await core_.submitted(std::move(*batch));
        std::vector<publish_result> out;
        out.reserve(batch->size());
        for (auto& ev : *batch)
            out.push_back(core_.publish(std::move(ev)));
        co_return out;
    }

    struct component_base
    {
        virtual ~component_base() = default;
        virtual asio::awaitable<void> run() = 0;
    };
    template<class C>
    struct component final : component_base
    {
        component(core& c, typename C::config cfg) : value(c, std::move(cfg)) {}
        asio::awaitable<void> run() override { return value.run(); }
        C value;
    };

    // Every component's run() in one parallel group: the first failure cancels the rest.
    asio::awaitable<void> run_all()
    {
        // Let the app's `total` cancellation through to the group (a
        // coroutine passes only `terminal` by default).
        co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
        // A stop requested before this coroutine began (stop() right after
        // run(), a signal at start-up) emitted its cancellation before there
        // was anything to receive it: end now rather than wait out the drain.
        if (shutting_down_)
            co_return;
        using op_type = decltype(asio::co_spawn(io_.get_executor(), std::declval<asio::awaitable<void>>(),
                                                asio::deferred));
        std::vector<op_type> ops;
        ops.push_back(asio::co_spawn(io_.get_executor(), core_.tasks().run(), asio::deferred));
        if (node_)
            ops.push_back(asio::co_spawn(io_.get_executor(), node_->run(), asio::deferred));
        for (auto& c : components_)
            ops.push_back(asio::co_spawn(io_.get_executor(), c->run(), asio::deferred));
        auto [order, errors] = co_await asio::experimental::make_parallel_group(std::move(ops))
                                   .async_wait(asio::experimental::wait_for_one_error(),
                                               asio::use_awaitable);
        (void)order;
        for (auto const& e : errors)
            if (e)
                std::rethrow_exception(e);
    }

    options opts_;
    asio::io_context io_{1};
    core core_;
    api::job_routes job_routes_{core_};
    api::settings_routes settings_routes_{core_};
    api::metrics_routes metrics_routes_{core_};
    std::vector<std::unique_ptr<component_base>> components_;
    std::unique_ptr<storage::journal> journal_;  // storage.mode sqlite
    std::unique_ptr<cluster::node> node_;        // cluster.mode redis
    bool journal_started_ = false;
    asio::signal_set signals_{io_};
    asio::steady_timer shutdown_timer_{io_};
    std::function<void()> begin_shutdown_;
    bool shutting_down_ = false;
};

}  // namespace jobwatch

#endif
