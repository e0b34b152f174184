#ifndef JOBWATCH_EVENTS_EVENT_HPP
#define JOBWATCH_EVENTS_EVENT_HPP

/** @file
    Vocabulary shared by the core components: time, the common fields of a
    job event, the rooms an event belongs to, and an event as the event log
    accepted it.
*/

#include <jobwatch/codec.hpp>
#include <jobwatch/detail/rfc3339.hpp>
#include <jobwatch/messages/job_event.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace jobwatch {

/// Wall-clock time with millisecond resolution, as events carry it.
using time_point = std::chrono::sys_time<std::chrono::milliseconds>;
/// Durations on the wall clock (event times, windows, retention).
using duration = std::chrono::milliseconds;

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
};

/// Which kind of event `ev` is.
inline event_kind kind_of(job_event const& ev) noexcept
{
    return static_cast<event_kind>(ev.index());
}

/// The job the event is about.
inline std::string const& job_id_of(job_event const& ev) noexcept
{
    return std::visit([](auto const& e) -> std::string const& { return e.job_id; }, ev);
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

/** @brief Parses an RFC 3339 date-time into a time point (milliseconds, UTC).

    Returns nullopt when `s` is not a valid date-time. Fractions beyond
    milliseconds are truncated; a leap second `:60` counts as `:59.999`.
*/
inline std::optional<time_point> parse_time(std::string_view s) noexcept
{
    if (!detail::is_rfc3339_date_time(s))
        return std::nullopt;
    auto num = [&](std::size_t pos, std::size_t n) {
        int v = 0;
        for (std::size_t i = pos; i < pos + n; ++i)
            v = v * 10 + (s[i] - '0');
        return v;
    };
    using namespace std::chrono;
    auto const ymd = year{num(0, 4)} / month{static_cast<unsigned>(num(5, 2))} /
                     day{static_cast<unsigned>(num(8, 2))};
    int second = num(17, 2);
    std::int64_t millis = 0;
    std::size_t i = 19;
    if (s[i] == '.') {
        int digits = 0;
        for (++i; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, ++digits)
            if (digits < 3)
                millis = millis * 10 + (s[i] - '0');
        for (; digits < 3; ++digits)
            millis *= 10;
    }
    if (second == 60) {
        second = 59;
        millis = 999;
    }
    std::int64_t offset_min = 0;
    if (s[i] == '+' || s[i] == '-') {
        offset_min = num(i + 1, 2) * 60 + num(i + 4, 2);
        if (s[i] == '-')
            offset_min = -offset_min;
    }
    auto const t = sys_days{ymd} + hours{num(11, 2)} + minutes{num(14, 2)} + seconds{second} +
                   milliseconds{millis} - minutes{offset_min};
    return time_point{duration_cast<milliseconds>(t.time_since_epoch())};
}

/// Formats a time point as RFC 3339 in UTC with milliseconds: `2024-05-01T12:30:00.250Z`.
inline std::string format_time(time_point t)
{
    using namespace std::chrono;
    auto const days = floor<std::chrono::days>(t);
    year_month_day const ymd{days};
    hh_mm_ss<milliseconds> const hms{t - days};
    char buf[32];
    auto two = [](char* p, unsigned v) {
        p[0] = static_cast<char>('0' + v / 10);
        p[1] = static_cast<char>('0' + v % 10);
    };
    int const y = static_cast<int>(ymd.year());
    buf[0] = static_cast<char>('0' + (y / 1000) % 10);
    buf[1] = static_cast<char>('0' + (y / 100) % 10);
    buf[2] = static_cast<char>('0' + (y / 10) % 10);
    buf[3] = static_cast<char>('0' + y % 10);
    buf[4] = '-';
    two(buf + 5, static_cast<unsigned>(ymd.month()));
    buf[7] = '-';
    two(buf + 8, static_cast<unsigned>(ymd.day()));
    buf[10] = 'T';
    two(buf + 11, static_cast<unsigned>(hms.hours().count()));
    buf[13] = ':';
    two(buf + 14, static_cast<unsigned>(hms.minutes().count()));
    buf[16] = ':';
    two(buf + 17, static_cast<unsigned>(hms.seconds().count()));
    buf[19] = '.';
    auto const ms = static_cast<unsigned>(hms.subseconds().count());
    buf[20] = static_cast<char>('0' + ms / 100);
    buf[21] = static_cast<char>('0' + (ms / 10) % 10);
    buf[22] = static_cast<char>('0' + ms % 10);
    buf[23] = 'Z';
    return std::string(buf, 24);
}

/// Room names (DESIGN.md "Events, rooms, sequence numbers").
namespace rooms {
inline std::string job(std::string_view id) { return "job:" + std::string(id); }
inline std::string run(std::string_view id) { return "run:" + std::string(id); }
inline std::string queue(std::string_view name) { return "queue:" + std::string(name); }
inline std::string tenant(std::string_view id) { return "tenant:" + std::string(id); }
inline std::string user(std::string_view id) { return "user:" + std::string(id); }
inline constexpr std::string_view alerts = "alerts";
inline constexpr std::string_view health = "health";
}  // namespace rooms

/** @brief Calls `f(prefix, id)` for every room a job event is published to:
    its job and queue, and its run, tenant and user when set. The one place
    that decides an event's rooms; the room's name is `prefix + id`. */
template<class F>
void for_each_room(job_event const& ev, F&& f)
{
    f(std::string_view{"job:"}, std::string_view{job_id_of(ev)});
    f(std::string_view{"queue:"}, std::string_view{queue_of(ev)});
    if (auto const& r = run_id_of(ev))
        f(std::string_view{"run:"}, std::string_view{*r});
    if (auto const& t = tenant_id_of(ev))
        f(std::string_view{"tenant:"}, std::string_view{*t});
    if (auto const& u = user_id_of(ev))
        f(std::string_view{"user:"}, std::string_view{*u});
}

/// Every room a job event is published to, by name.
inline std::vector<std::string> rooms_of(job_event const& ev)
{
    std::vector<std::string> out;
    out.reserve(5);
    for_each_room(ev, [&](std::string_view prefix, std::string_view id) {
        out.push_back(std::string(prefix).append(id));
    });
    return out;
}

/** @brief An event as the event log accepted it: immutable, shared by every
    room history and every consumer.

    `time` is authoritative. When the producer gave no time, `event` has none
    either (formatting one per event would cost an allocation on the hot path);
    `json()` writes it in.
*/
struct logged_event
{
    std::uint64_t seq = 0;  ///< position in the event log, from 1
    job_event event;        ///< validated as sent
    time_point time{};      ///< the event's time: the producer's, or the time of ingest

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
