#ifndef JOBWATCH_NOTIFY_NOTICE_HPP
#define JOBWATCH_NOTIFY_NOTICE_HPP

/** @file
    `notify::notice`: one job event or alert as the notifier sees it, with
    the fields its rules match on and its payloads are made of.
*/

#include <jobwatch/events/event.hpp>
#include <jobwatch/messages/alert.hpp>
#include <jobwatch/messages/job_snapshot.hpp>
#include <jobwatch/time.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

namespace jobwatch::notify {

/** @brief One thing that may be notified: a job event the store applied, or
    an alert (firing or resolved). */
struct notice
{
    std::string key;        ///< deduplication key, the same on every retry: `event:{seq}` or `alert:{id}:{status}`
    std::string type;       ///< `job.failed`, ..., `alert.firing`, `alert.resolved`
    severity level = severity::info;  ///< for the queue's drop policy (lowest first)
    std::string queue;      ///< the job's queue, or the alert's context.queue; empty: none
    std::string tenant_id;  ///< the job's tenant, or the alert's context.tenant_id; empty: none
    std::string time;       ///< RFC 3339
    std::optional<job_state> state{};  ///< job events: the job's state after the event
    std::shared_ptr<logged_event const> event{};  ///< job events
    std::shared_ptr<alert const> alert_msg{};     ///< alerts
};

/** @brief The notice of an applied job event; `state` is its job's state after it.

    Severity orders what a full queue drops first: a final failure is
    `medium`, a failure that will be retried `low`, anything else `info`.
*/
inline notice notice_of(std::shared_ptr<logged_event const> ev, job_state state)
{
    notice n;
    n.key = "event:" + std::to_string(ev->seq);
    n.type = std::string(::jobwatch::type_name(ev->event));
    if (auto const* f = std::get_if<job_failed>(&ev->event))
        n.level = f->will_retry ? severity::low : severity::medium;
    n.queue = queue_of(ev->event);
    n.tenant_id = tenant_id_of(ev->event).value_or("");
    n.time = time_of(ev->event).value_or(format_time(ev->time));
    n.state = state;
    n.event = std::move(ev);
    return n;
}

/// The notice of an alert.
inline notice notice_of(std::shared_ptr<alert const> a)
{
    notice n;
    n.key = "alert:" + a->id + ":" + std::string(to_string(a->status));
    n.type = "alert." + std::string(to_string(a->status));
    n.level = a->severity;
    n.queue = a->context.queue.value_or("");
    n.tenant_id = a->context.tenant_id.value_or("");
    n.time = a->time;
    n.alert_msg = std::move(a);
    return n;
}

}  // namespace jobwatch::notify

#endif
