#ifndef JOBWATCH_TIME_HPP
#define JOBWATCH_TIME_HPP

/** @file
    Time as jobwatch keeps it: wall-clock milliseconds (event times, windows,
    retention), and RFC 3339 text in and out. The lowest layer: it includes
    nothing of jobwatch but the RFC 3339 syntax check.
*/

#include <jobwatch/detail/rfc3339.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace jobwatch {

/// Wall-clock time with millisecond resolution, as events carry it.
using time_point = std::chrono::sys_time<std::chrono::milliseconds>;
/// Durations on the wall clock (event times, windows, retention).
using duration = std::chrono::milliseconds;

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

}  // namespace jobwatch

#endif
