#ifndef JOBWATCH_STORE_JOB_CHANGE_HPP
#define JOBWATCH_STORE_JOB_CHANGE_HPP

#include <jobwatch/events/event.hpp>
#include <jobwatch/events/rooms.hpp>
#include <jobwatch/messages/job_snapshot.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

namespace jobwatch {

/** @brief What one applied event did to one job.

    The job store produces it; the aggregator, the dead-letter monitor and
    health consume it, so none of them needs to look into the store or to
    re-derive a transition. String views point into the store's own storage
    and the event, and are valid only during the call that receives the
    change.
*/
struct job_change
{
    logged_event const& cause;       ///< the event that was applied
    std::string_view job_id;         ///< the job
    std::string_view queue;          ///< its queue
    std::string_view run_id;         ///< its run (of its tenant); empty when none
    std::string_view tenant_id;      ///< its tenant; empty when none
    std::string_view user_id;        ///< its user (of its tenant); empty when none
    std::string_view job_type;       ///< its category; empty when none
    std::optional<job_state> before; ///< state before; nullopt when the job is new
    job_state after;                 ///< state after the event
    std::int64_t attempt = 0;        ///< current attempt number after the event
    bool attempt_started = false;    ///< a job.started opened a new attempt (an execution)
    bool finished = false;           ///< the job entered a terminal state with this event
    bool attempt_failed = false;     ///< a job.failed was accepted (retry or not)
    bool retry_scheduled = false;    ///< the failure will be retried (job.failed will_retry, job.retrying)
    std::optional<double> duration_ms;  ///< set when finished: start of the last attempt to the end
    std::optional<double> wait_ms;      ///< set on the first start: queued to started
    std::string_view error;          ///< the error text of a failure; empty otherwise
    job_rooms const* rooms = nullptr;  ///< its rooms: scopes of aggregates are named after them
    /// The same rooms as the store shares them, to keep beyond the call (the event log does).
    std::shared_ptr<job_rooms const> const* shared_rooms = nullptr;
};

/// True for succeeded, failed and cancelled.
constexpr bool is_terminal(job_state s) noexcept
{
    return s == job_state::succeeded || s == job_state::failed || s == job_state::cancelled;
}

}  // namespace jobwatch

#endif
