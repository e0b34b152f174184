#ifndef JOBWATCH_EVENTS_EVENT_HPP
#define JOBWATCH_EVENTS_EVENT_HPP

/** @file
    Vocabulary shared by the core components: time, the common fields of a
    job event, the rooms an event belongs to, and an event as the event log
    accepted it.
*/

#include <jobwatch/codec.hpp>
#include <jobwatch/events/rooms.hpp>
#include <jobwatch/time.hpp>
#include <jobwatch/messages/job_event.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <memory>
#include <vector>

namespace jobwatch {

/// The job event types, in the order of the `job_event` variant.
enum class event_kind : std::uint8_t
{
    queued,
    started,
    progress,
    log,
    completed,
    failed,
    cancelled,
    retrying,
    user,  ///< a user-defined type (`user_event`)
};

/// Which kind of event `ev` is.
inline event_kind kind_of(job_event const& ev) noexcept
{
    return static_cast<event_kind>(ev.index());
}

/// The wire name of an alternative of `job_event`; "user" for `user_event` (a kind, not a type).
template<class T>
constexpr std::string_view static_type_name() noexcept
{
    if constexpr (std::is_same_v<T, user_event>)
        return "user";
    else
        return T::type;
}

/// The event's `type` as it is written ("job.queued", or a user-defined type's name).
inline std::string_view type_name(job_event const& ev) noexcept
{
    return std::visit(
        [](auto const& e) -> std::string_view {
            if constexpr (std::is_same_v<std::decay_t<decltype(e)>, user_event>)
                return e.type;
            else
                return std::decay_t<decltype(e)>::type;
        },
        ev);
}

/// The job the event is about.
inline std::string const& job_id_of(job_event const& ev) noexcept
{
    return std::visit([](auto const& e) -> std::string const& { return e.job_id; }, ev);
}
/// The tenant the event names, if any.
inline std::optional<std::string> const& tenant_of(job_event const& ev) noexcept
{
    return std::visit([](auto const& e) -> std::optional<std::string> const& { return e.tenant_id; }, ev);
}
/// The queue of the job.
inline std::string const& queue_of(job_event const& ev) noexcept
{
    return std::visit([](auto const& e) -> std::string const& { return e.queue; }, ev);
}
/// The run, if the producer said.
inline std::optional<std::string> const& run_id_of(job_event const& ev) noexcept
{
    return std::visit([](auto const& e) -> std::optional<std::string> const& { return e.run_id; }, ev);
}
/// The tenant, if the producer said.
inline std::optional<std::string> const& tenant_id_of(job_event const& ev) noexcept
{
    return std::visit([](auto const& e) -> std::optional<std::string> const& { return e.tenant_id; }, ev);
}
/// The user, if the producer said.
inline std::optional<std::string> const& user_id_of(job_event const& ev) noexcept
{
    return std::visit([](auto const& e) -> std::optional<std::string> const& { return e.user_id; }, ev);
}
/// The job's category, if the producer said.
inline std::optional<std::string> const& job_type_of(job_event const& ev) noexcept
{
    return std::visit([](auto const& e) -> std::optional<std::string> const& { return e.job_type; }, ev);
}
/// The producer's idempotency id, if any.
inline std::optional<std::string> const& event_id_of(job_event const& ev) noexcept
{
    return std::visit([](auto const& e) -> std::optional<std::string> const& { return e.id; }, ev);
}
/// The event's RFC 3339 time, if set.
inline std::optional<std::string>& time_of(job_event& ev) noexcept
{
    return std::visit([](auto& e) -> std::optional<std::string>& { return e.time; }, ev);
}
inline std::optional<std::string> const& time_of(job_event const& ev) noexcept
{
    return std::visit([](auto const& e) -> std::optional<std::string> const& { return e.time; }, ev);
}

/** @brief An event as the core applied it: immutable once logged, shared by
    every room history and every consumer.

    `event` names the job's scope as the job store keeps it (the tenant, run
    and user fixed by the job's first event): fields the producer left out
    are filled in, so every consumer sees the same membership. `rooms` are the
    job's rooms, computed once per job (`job_rooms`).

    `time` is authoritative. When the producer gave no time, `event` has none
    either (formatting one per event would cost an allocation on the hot path);
    `json()` writes it in.
*/
struct logged_event
{
    std::uint64_t seq = 0;  ///< position in the event log, from 1
    job_event event;        ///< validated, with the job's scope
    time_point time{};      ///< the event's time: the producer's, or the time of ingest
    std::shared_ptr<job_rooms const> rooms{};  ///< the rooms of its job, once applied

    /// The event as JSON, with its time, serialized once on first use and
    /// shared by every room message after that.
    std::string const& json() const
    {
        if (json_.empty()) {
            json_ = to_json(event);
            if (!time_of(event)) {
                // Insert the ingest time before the closing brace of the object.
                json_.pop_back();
                json_ += ",\"time\":\"" + format_time(time) + "\"}";
            }
        }
        return json_;
    }

    // Public only so that logged_event stays an aggregate (designated
    // initializers); not part of the interface. The core thread fills it once.
    mutable std::string json_{};
};

}  // namespace jobwatch

#endif
