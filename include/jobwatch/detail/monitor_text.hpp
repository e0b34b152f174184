#ifndef JOBWATCH_DETAIL_MONITOR_TEXT_HPP
#define JOBWATCH_DETAIL_MONITOR_TEXT_HPP

/** @file
    Small text helpers shared by the dead-letter monitor and the health
    checker: durations and percentages in words, alert ids that always fit
    the `identifier` pattern, and the composite key of a job.
*/

#include <jobwatch/detail/hash.hpp>
#include <jobwatch/events/event.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace jobwatch::detail {

/// Longest identifier the schemas accept (alert ids are identifiers).
inline constexpr std::size_t max_identifier_length = 200;

/** @brief A duration in words: "5 minutes", "1 hour 30 minutes", "250 ms".

    Whole hours, minutes and seconds are listed when they are not zero;
    below one second the milliseconds are given instead. Sub-second parts of
    longer durations are dropped, which is precise enough for a message.
*/
inline std::string describe_duration(duration d)
{
    auto ms = d.count();
    if (ms < 0)
        ms = 0;
    if (ms < 1000)
        return std::to_string(ms) + " ms";
    std::string out;
    auto part = [&out](std::int64_t n, char const* unit) {
        if (n == 0)
            return;
        if (!out.empty())
            out += ' ';
        out += std::to_string(n);
        out += ' ';
        out += unit;
        if (n != 1)
            out += 's';
    };
    part(ms / 3'600'000, "hour");
    part(ms / 60'000 % 60, "minute");
    part(ms / 1000 % 60, "second");
    return out;
}

/// A share from 0 to 1 as a percentage with one decimal: 0.253 -> "25.3%".
inline std::string describe_percent(double share)
{
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f%%", share * 100.0);
    return buf;
}

/// A count with its noun: plural(1, "job", "jobs") -> "1 job".
inline std::string plural(std::uint64_t n, std::string_view one, std::string_view many)
{
    return std::to_string(n) + ' ' + std::string(n == 1 ? one : many);
}


/** @brief `kind:subject:suffix`, shortened so it stays a valid identifier.

    Subjects are identifiers (queue, run, job) of up to 200 characters, so the
    plain form can be too long; then the subject is replaced by a 16-digit
    hash of it, which keeps the id stable for the same subject.
*/
inline std::string make_alert_id(std::string_view kind, std::string_view subject,
                                 std::string_view suffix)
{
    std::string id;
    id.reserve(kind.size() + subject.size() + suffix.size() + 2);
    id.append(kind).append(1, ':').append(subject).append(1, ':').append(suffix);
    if (id.size() <= max_identifier_length)
        return id;
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(fnv1a(subject)));
    id.assign(kind).append(1, ':').append(hex).append(1, ':').append(suffix);
    return id;
}

/// Milliseconds since the epoch of `t`.
inline std::int64_t epoch_ms(time_point t) noexcept
{
    return t.time_since_epoch().count();
}

/// `a - b`, but never below zero (counters rebuilt from transitions must not wrap).
constexpr std::uint64_t saturating_sub(std::uint64_t a, std::uint64_t b) noexcept
{
    return a > b ? a - b : 0;
}

/// Clamps a count into the range of a JSON integer field.
constexpr std::int64_t to_json_count(std::uint64_t n) noexcept
{
    constexpr std::uint64_t max_safe = 9007199254740991ull;  // 2^53 - 1, the schemas' maximum
    return static_cast<std::int64_t>(std::min(n, max_safe));
}

}  // namespace jobwatch::detail

#endif
