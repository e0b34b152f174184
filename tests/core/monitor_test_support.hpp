#ifndef JOBWATCH_TESTS_CORE_MONITOR_TEST_SUPPORT_HPP
#define JOBWATCH_TESTS_CORE_MONITOR_TEST_SUPPORT_HPP

// Builds the job_changes the job store would produce, for the tests of the
// dead-letter monitor and health cores.

#include <jobwatch/events/event.hpp>
#include <jobwatch/store/job_change.hpp>

#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>

namespace jobwatch::test {

/// 2024-05-01T12:00:00Z, the start of every test's clock.
inline time_point const t0 = *parse_time("2024-05-01T12:00:00Z");

/// What a change is about, beyond its kind.
struct change_options
{
    std::string queue = "emails";
    std::string run_id{};
    std::int64_t attempt = 1;
    std::string error = "boom";
    std::optional<double> duration_ms{};
    std::optional<job_state> before{};  ///< overrides the usual state before
};

/** @brief Makes job_changes and owns what they point into (events, strings).

    Each method mirrors one event type with the flags the store sets for it.
*/
class change_factory
{
public:
    job_change queued(std::string const& job, time_point t, change_options o = {})
    {
        return make(job, t, job_queued{.job_id = job, .queue = o.queue}, std::move(o), std::nullopt,
                    job_state::queued, {});
    }

    job_change started(std::string const& job, time_point t, change_options o = {})
    {
        return make(job, t, job_started{.job_id = job, .queue = o.queue, .attempt = o.attempt},
                    std::move(o), job_state::queued, job_state::running, {.attempt_started = true});
    }

    job_change progress(std::string const& job, time_point t, change_options o = {})
    {
        return make(job, t, job_progress{.job_id = job, .queue = o.queue, .percent = 50},
                    std::move(o), job_state::running, job_state::running, {});
    }

    job_change completed(std::string const& job, time_point t, change_options o = {})
    {
        return make(job, t, job_completed{.job_id = job, .queue = o.queue}, std::move(o),
                    job_state::running, job_state::succeeded, {.finished = true});
    }

    /// A failure; `will_retry` puts the job back in the queue for another attempt.
    job_change failed(std::string const& job, time_point t, bool will_retry, change_options o = {})
    {
        job_failed ev{.job_id = job,
                      .queue = o.queue,
                      .error = o.error,
                      .attempt = o.attempt,
                      .will_retry = will_retry};
        if (will_retry)
            return make(job, t, std::move(ev), std::move(o), job_state::running, job_state::queued,
                        {.attempt_failed = true, .retry_scheduled = true});
        return make(job, t, std::move(ev), std::move(o), job_state::running, job_state::failed,
                    {.finished = true, .attempt_failed = true});
    }

    job_change retrying(std::string const& job, time_point t, change_options o = {})
    {
        return make(job, t, job_retrying{.job_id = job, .queue = o.queue, .attempt = o.attempt + 1},
                    std::move(o), job_state::queued, job_state::queued, {.retry_scheduled = true});
    }

    job_change cancelled(std::string const& job, time_point t, change_options o = {})
    {
        return make(job, t, job_cancelled{.job_id = job, .queue = o.queue}, std::move(o),
                    job_state::queued, job_state::cancelled, {.finished = true});
    }

private:
    struct flags
    {
        bool attempt_started = false;
        bool finished = false;
        bool attempt_failed = false;
        bool retry_scheduled = false;
    };

    struct owned
    {
        std::string job_id;
        change_options opts;
        std::shared_ptr<job_rooms const> rooms;
    };

    job_change make(std::string const& job, time_point t, job_event ev, change_options o,
                    std::optional<job_state> before, job_state after, flags f)
    {
        time_of(ev) = format_time(t);
        if (!o.run_id.empty())
            std::visit([&](auto& e) { e.run_id = o.run_id; }, ev);
        std::uint64_t const seq = events_.size() + 1;
        auto const& le = events_.emplace_back(logged_event{seq, std::move(ev), t, {}});
        if (o.before)
            before = o.before;
        auto rooms = job_rooms::make({}, job, o.queue, o.run_id, {});
        auto const& s = owned_.emplace_back(owned{job, std::move(o), std::move(rooms)});
        return job_change{
            .cause = le,
            .job_id = s.job_id,
            .queue = s.opts.queue,
            .run_id = s.opts.run_id,
            .tenant_id = {},
            .user_id = {},
            .job_type = {},
            .before = before,
            .after = after,
            .attempt = s.opts.attempt,
            .attempt_started = f.attempt_started,
            .finished = f.finished,
            .attempt_failed = f.attempt_failed,
            .retry_scheduled = f.retry_scheduled,
            .duration_ms = f.finished ? s.opts.duration_ms : std::nullopt,
            .wait_ms = {},
            .error = f.attempt_failed ? std::string_view(s.opts.error) : std::string_view{},
            .rooms = s.rooms.get(),
        };
    }

    std::deque<logged_event> events_;  // deque: job_change refers to its cause
    std::deque<owned> owned_;
};

}  // namespace jobwatch::test

#endif
