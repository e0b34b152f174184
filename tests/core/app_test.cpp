// Test that the header is self-contained.
#include <jobwatch/app.hpp>

#include <jobwatch/components/aggregator.hpp>
#include <jobwatch/components/bullmq_source.hpp>
#include <jobwatch/components/dlq_monitor.hpp>
#include <jobwatch/components/health.hpp>

#include "test_support.hpp"

// User-defined event types, generated from tests/data/custom_events.schema.json.
#include <jwtest_custom_events/custom_events.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <thread>

namespace {

using namespace std::chrono_literals;

jobwatch::time_point at(std::int64_t ms)
{
    return jobwatch::time_point{std::chrono::milliseconds{ms}};
}

/// An app for tests: no signal handling unless asked, a settable clock.
struct test_app
{
    std::int64_t now_ms = 1'714'564'800'000;  // 2024-05-01T12:00:00Z
    jobwatch::app app;
    std::vector<jobwatch::room_message> messages;

    explicit test_app(jobwatch::config cfg = {}, bool signals = false, jobwatch::duration drain = 2s)
        : app(quiet(std::move(cfg)), {.log = {},
                               .clock = [this] { return at(now_ms); },
                               .drain_timeout = drain,
                               .handle_signals = signals})
    {
        app.get_core().on_room_message([this](jobwatch::room_message const& m) { messages.push_back(m); });
    }

    static jobwatch::config quiet(jobwatch::config cfg)
    {
        if (cfg.log.level == jobwatch::server_log_level::info)
            cfg.log.level = jobwatch::server_log_level::warn;
        return cfg;
    }

    /// Runs the app with `body` as a test coroutine; stops the app when it
    /// returns, and fails if the whole thing takes longer than `deadline`.
    int run(std::function<jobwatch::asio::awaitable<void>()> body, std::chrono::seconds deadline = 10s)
    {
        auto& ioc = app.context();
        jobwatch::asio::steady_timer watchdog(ioc, deadline);
        bool fired = false;
        watchdog.async_wait([&](boost::system::error_code ec) {
            if (!ec) {
                fired = true;
                ioc.stop();
            }
        });
        jobwatch::asio::co_spawn(ioc, body(), [&](std::exception_ptr e) {
            if (e)
                ADD_FAILURE() << "the test coroutine threw";
            app.stop();
        });
        int const rc = app.run();
        watchdog.cancel();
        EXPECT_FALSE(fired) << "the app did not stop within the deadline";
        return rc;
    }

    template<class T>
    std::vector<T> of() const
    {
        std::vector<T> out;
        for (auto const& m : messages)
            if (auto const* x = std::get_if<T>(&m))
                out.push_back(*x);
        return out;
    }
};

jobwatch::job_event queued(std::string job, std::string run = "r1", std::string queue = "emails")
{
    jobwatch::job_queued q{.job_id = std::move(job), .queue = std::move(queue)};
    q.run_id = std::move(run);
    return q;
}

TEST(AppTest, ABullmqSourceGivenInCodeSetsItsSettings)
{
    // [snippet:bullmq-in-code]
    jobwatch::app app;
    app.add<jobwatch::health>();
    app.add<jobwatch::bullmq_source>({.redis_url = "redis://127.0.0.1:6379/0",
                                      .prefix = "bull",
                                      .queues = {"emails", "images"}});
    // [end:bullmq-in-code]
    auto const& s = app.get_core().settings().bullmq;
    EXPECT_EQ(s.queues, (std::vector<std::string>{"emails", "images"}));
    EXPECT_EQ(s.prefix, "bull");
    EXPECT_EQ(s.log_poll_ms, std::chrono::milliseconds{1000});  // not given: the setting's default
}

TEST(AppTest, AnEventBuiltInTheCallIsSafe)
{
    // ids longer than a string's inline buffer, and shorter ones. With
    // `post` there is no co_await in the expression (GCC 12 safe); an event
    // returned by a function may be awaited directly.
    test_app t;
    auto make = [](int i) {
        return jobwatch::job_progress{.job_id = "a-job-id-well-beyond-the-inline-buffer-" + std::to_string(i),
                                      .queue = "q",
                                      .run_id = "run-with-a-long-name-" + std::to_string(i),
                                      .percent = 1.0 * i};
    };
    int posted = 0;
    int const rc = t.run([&]() -> jobwatch::asio::awaitable<void> {
        for (int i = 0; i < 50; ++i) {
            t.app.post(jobwatch::job_progress{.job_id = "posted-with-a-long-id-beyond-the-buffer-" + std::to_string(i),
                                              .queue = "q",
                                              .percent = 2.0},
                       [&](jobwatch::publish_result const& r) { posted += bool(r); });
            auto const r = co_await t.app.publish(make(i));
            EXPECT_TRUE(r);
        }
#if defined(__clang__)
        // The brace form inside co_await, as clang compiles it correctly.
        auto const q = co_await t.app.publish(jobwatch::job_queued{.job_id = "braced-with-a-long-id-0123456789", .queue = "q"});
        EXPECT_TRUE(q);
#endif
    });
    EXPECT_EQ(rc, 0);
    EXPECT_EQ(posted, 50);
    auto const* job = t.app.get_core().store().find({}, "a-job-id-well-beyond-the-inline-buffer-7");
    ASSERT_NE(job, nullptr);
    EXPECT_EQ(t.app.get_core().store().snapshot(*job).run_id, "run-with-a-long-name-7");
    EXPECT_NE(t.app.get_core().store().find({}, "posted-with-a-long-id-beyond-the-buffer-49"), nullptr);
}

TEST(AppTest, AnEventOfAUserDefinedTypeIsPublishedInProcess)
{
    // The types of a schema given to jobwatch_generate(), registered from the generated header.
    auto const e = jobwatch::event_types::add(jwtest::events::codegen_schemas::custom_events, "custom_events");
    ASSERT_FALSE(e) << *e;
    test_app t;
    jobwatch::publish_result ok, bad;
    int const rc = t.run([&]() -> jobwatch::asio::awaitable<void> {
        auto ev = jwtest::events::pos_fetched{.job_id = "exec-7", .queue = "imports", .shop_id = "s1", .count = 12};
        ev.percent = 25.0;
        ok = co_await t.app.publish(ev);
        // Its schema's rules hold in process too.
        auto wrong = jwtest::events::pos_fetched{.job_id = "exec-7", .queue = "imports", .shop_id = "s1", .count = -1};
        bad = co_await t.app.publish(wrong);
    });
    EXPECT_EQ(rc, 0);
    EXPECT_TRUE(ok) << ok.error.path << ": " << ok.error.message;
    EXPECT_EQ(bad.status, jobwatch::publish_status::invalid);
    EXPECT_EQ(bad.error.path, "/count");
    auto const events = t.of<jobwatch::event_out>();
    ASSERT_EQ(events.size(), 1u);
    auto const& got = std::get<jobwatch::user_event>(events[0].event->event);
    EXPECT_EQ(got.type, "execution:pos_fetched");
    EXPECT_EQ(got.fields.at("count"), 12);
    auto const* job = t.app.get_core().store().find({}, "exec-7");
    ASSERT_NE(job, nullptr);
    EXPECT_EQ(job->percent(), 25.0);
}

TEST(AppTest, PublishGoesThroughLogStoreListenersAndRooms)
{
    test_app t;
    auto& agg = t.app.add<jobwatch::aggregator>({.interval = 1h});
    int const rc = t.run([&]() -> jobwatch::asio::awaitable<void> {
        // Events are named before co_await (see app::publish: a GCC 12 bug).
        auto q = queued("j1");
        auto r1 = co_await t.app.publish(q);
        EXPECT_TRUE(r1);
        EXPECT_EQ(r1.seq, 1u);
        jobwatch::job_event started = jobwatch::job_started{.job_id = "j1", .queue = "emails", .attempt = 1};
        auto r2 = co_await t.app.publish(started);
        EXPECT_EQ(r2.seq, 2u);
        t.now_ms += 1500;
        jobwatch::job_event completed = jobwatch::job_completed{.job_id = "j1", .queue = "emails"};
        co_await t.app.publish(completed);
        agg.tick();
    });
    EXPECT_EQ(rc, 0);
    auto const& store = t.app.get_core().store();
    auto const* job = store.find({}, "j1");
    ASSERT_NE(job, nullptr);
    EXPECT_EQ(store.snapshot(*job).state, jobwatch::job_state::succeeded);
    EXPECT_EQ(t.of<jobwatch::event_out>().size(), 3u);
    // One summary per changed room: all, queue:emails, run:r1.
    std::set<std::string> rooms;
    for (auto const& s : t.of<jobwatch::summary_out>())
        rooms.insert(s.room);
    EXPECT_EQ(rooms, (std::set<std::string>{"all", "queue:emails", "run:r1"}));
    auto s = agg.summary_of("run:r1");
    ASSERT_TRUE(s);
    EXPECT_EQ(s->counts.succeeded, 1);
    EXPECT_EQ(s->executions, 1);
    EXPECT_NEAR(s->latency.max_ms, 1500, 15);
}

TEST(AppTest, BatchPublishReportsEveryEventAndLosesNoGoodOne)
{
    test_app t;
    t.run([&]() -> jobwatch::asio::awaitable<void> {
        auto bad = queued("j2");
        jobwatch::time_of(bad) = "not a time";
        auto dup1 = queued("j3");
        std::get<jobwatch::job_queued>(dup1).id = "once";
        auto dup2 = dup1;
        // Built before the co_await: GCC 12 miscompiles an initializer list
        // inside a co_await expression ("array used as initializer").
        std::vector<jobwatch::job_event> batch;
        for (auto* ev : {&bad, &dup1, &dup2})
            batch.push_back(*ev);
        batch.insert(batch.begin(), queued("j1"));
        auto results = co_await t.app.publish(std::move(batch));
        EXPECT_EQ(results.size(), 4u);
        EXPECT_EQ(results[0].status, jobwatch::publish_status::accepted);
        EXPECT_EQ(results[1].status, jobwatch::publish_status::invalid);
        EXPECT_EQ(results[1].error.path, "/time");
        EXPECT_EQ(results[2].status, jobwatch::publish_status::accepted);
        EXPECT_EQ(results[3].status, jobwatch::publish_status::duplicate);
    });
    EXPECT_NE(t.app.get_core().store().find({}, "j1"), nullptr);
    EXPECT_NE(t.app.get_core().store().find({}, "j3"), nullptr);
    EXPECT_EQ(t.app.get_core().store().find({}, "j2"), nullptr);
}

TEST(AppTest, PublishFromAnotherThreadHopsToTheCore)
{
    test_app t;
    std::atomic<bool> core_thread_saw_it{false};
    auto const core_thread = std::make_shared<std::thread::id>();
    t.app.get_core().on_change([&](jobwatch::job_change const&) {
        core_thread_saw_it = std::this_thread::get_id() == *core_thread;
    });
    t.run([&]() -> jobwatch::asio::awaitable<void> {
        *core_thread = std::this_thread::get_id();
        jobwatch::asio::io_context producer;
        // Written on the producer thread, read here only after `done` (release/acquire).
        std::optional<jobwatch::publish_result> result;
        std::atomic<bool> done{false};
        jobwatch::asio::co_spawn(producer, t.app.publish(queued("remote")),
                                 [&](std::exception_ptr, jobwatch::publish_result r) {
                                     result = r;
                                     done.store(true, std::memory_order_release);
                                 });
        std::thread th([&] { producer.run(); });
        // Let the core run while the producer thread waits for its answer.
        for (int i = 0; i < 200 && !done.load(std::memory_order_acquire); ++i)
            co_await jobwatch::test::sleep_for(5ms);
        th.join();
        EXPECT_TRUE(result && *result);
    });
    EXPECT_TRUE(core_thread_saw_it);
    EXPECT_NE(t.app.get_core().store().find({}, "remote"), nullptr);
}

TEST(AppTest, DeadLetterAlertsReachTheAlertsRoom)
{
    jobwatch::config cfg;
    cfg.dlq.threshold = 3;
    test_app t(cfg);
    t.app.add<jobwatch::dlq_monitor>({});
    t.run([&]() -> jobwatch::asio::awaitable<void> {
        for (int i = 0; i < 3; ++i) {
            auto id = "f" + std::to_string(i);
            jobwatch::job_event started = jobwatch::job_started{.job_id = id, .queue = "emails", .attempt = 1};
            co_await t.app.publish(started);
            jobwatch::job_event failed = jobwatch::job_failed{.job_id = id, .queue = "emails", .error = "SMTP 451",
                                                              .attempt = 1, .will_retry = false};
            co_await t.app.publish(failed);
        }
    });
    auto alerts = t.of<jobwatch::alert_out>();
    ASSERT_EQ(alerts.size(), 1u);
    EXPECT_EQ(alerts[0].value->kind, jobwatch::alert_kind::failure_rate);
    EXPECT_EQ(alerts[0].value->status, jobwatch::alert_status::firing);
    EXPECT_EQ(alerts[0].value->context.queue, "emails");
    EXPECT_EQ(t.app.get_core().events().replay(jobwatch::rooms::alerts, 0).entries.size(), 1u);
}

TEST(AppTest, HealthReportIsPublishedWhenItChanges)
{
    test_app t;
    auto& h = t.app.add<jobwatch::health>({.interval = 1h});
    t.run([&]() -> jobwatch::asio::awaitable<void> {
        auto q = queued("j1");
        co_await t.app.publish(q);
        h.tick();
        h.tick();  // unchanged: not published again
        co_return;
    });
    auto reports = t.of<jobwatch::health_out>();
    ASSERT_GE(reports.size(), 1u);
    EXPECT_EQ(reports.back().value->queues.size(), 1u);
    EXPECT_EQ(reports.back().value->queues[0].stats.waiting, 1);
}

TEST(AppTest, HealthReadsStaleJobsFromTheStore)
{
    jobwatch::config cfg;
    cfg.health.stale_after_ms = std::chrono::seconds{1};
    test_app t(cfg);
    auto& h = t.app.add<jobwatch::health>({.interval = 1h});
    t.run([&]() -> jobwatch::asio::awaitable<void> {
        for (auto id : {"quiet", "busy"}) {
            auto q = queued(id);
            co_await t.app.publish(q);
            jobwatch::job_event started = jobwatch::job_started{.job_id = id, .queue = "emails", .attempt = 1};
            co_await t.app.publish(started);
        }
        t.now_ms += 1500;
        // Progress keeps "busy" fresh; "quiet" has had no event for 1.5 s.
        jobwatch::job_event p = jobwatch::job_progress{.job_id = "busy", .queue = "emails", .percent = 50};
        co_await t.app.publish(p);
    });
    auto const r = h.report();
    ASSERT_EQ(r.queues.size(), 1u);
    EXPECT_EQ(r.queues[0].details.stale_jobs, 1);
    EXPECT_EQ(r.queues[0].stats.active, 2);
}

TEST(AppTest, SettingsBuiltInCodeAreCheckedLikeAFile)
{
    jobwatch::config cfg;
    cfg.gateway.max_connections = 0;  // the schema's minimum is 1
    try {
        test_app t{cfg};
        ADD_FAILURE() << "an app with gateway.max_connections = 0 was built";
    } catch (jobwatch::settings_error const& e) {
        EXPECT_EQ(e.setting, "gateway.max_connections");
        EXPECT_NE(std::string(e.what()).find("gateway.max_connections"), std::string::npos) << e.what();
    }

    jobwatch::config heartbeat;
    heartbeat.gateway.heartbeat_ms = 500ms;  // check_settings: 0 or at least a second
    EXPECT_THROW(test_app{heartbeat}, jobwatch::settings_error);
    heartbeat.gateway.heartbeat_ms = 0ms;
    EXPECT_NO_THROW(test_app{heartbeat});
}

TEST(AppTest, RunChecksWhatComponentsWereGivenInCode)
{
    test_app t;
    // A window of one millisecond is below the schema's minimum (1000 ms):
    // it becomes the setting's initial value, and run() refuses it before
    // anything runs.
    t.app.add<jobwatch::dlq_monitor>({.threshold = 5, .window = 1ms});
    try {
        t.app.run();
        ADD_FAILURE() << "run() accepted dlq.window_ms = 1";
    } catch (jobwatch::settings_error const& e) {
        EXPECT_EQ(e.setting, "dlq.window_ms");
    }
}

TEST(AppTest, StopDrainsAndReturnsZero)
{
    test_app t;
    t.app.add<jobwatch::aggregator>({});
    t.app.add<jobwatch::dlq_monitor>({});
    t.app.add<jobwatch::health>({});
    auto const start = std::chrono::steady_clock::now();
    EXPECT_EQ(t.run([]() -> jobwatch::asio::awaitable<void> { co_return; }), 0);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

/// A component that ignores `total` cancellation, to exercise the forced stop.
struct stubborn
{
    struct config
    {
    };
    stubborn(jobwatch::core&, config) {}
    jobwatch::asio::awaitable<void> run()
    {
        // Default state: only terminal cancellation gets through.
        jobwatch::detail::tuple_timer timer(co_await jobwatch::asio::this_coro::executor, 1h);
        co_await timer.async_wait();
    }
};

TEST(AppTest, DrainTimeoutForcesStubbornWorkToStop)
{
    test_app t({}, false, 100ms);
    t.app.add<stubborn>({});
    auto const start = std::chrono::steady_clock::now();
    EXPECT_EQ(t.run([]() -> jobwatch::asio::awaitable<void> { co_return; }), 0);
    auto const took = std::chrono::steady_clock::now() - start;
    EXPECT_GE(took, 100ms);
    EXPECT_LT(took, 3s);
}

TEST(AppTest, SigtermStopsTheApp)
{
    test_app t({}, true);
    t.app.add<jobwatch::aggregator>({});
    jobwatch::asio::post(t.app.context(), [] { std::raise(SIGTERM); });
    auto& ioc = t.app.context();
    jobwatch::asio::steady_timer watchdog(ioc, 10s);
    watchdog.async_wait([&](boost::system::error_code ec) {
        if (!ec) {
            ADD_FAILURE() << "SIGTERM did not stop the app";
            ioc.stop();
        }
    });
    EXPECT_EQ(t.app.run(), 0);
    watchdog.cancel();
}

}  // namespace
