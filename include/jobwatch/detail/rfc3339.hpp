#ifndef JOBWATCH_DETAIL_RFC3339_HPP
#define JOBWATCH_DETAIL_RFC3339_HPP

#include <string_view>

namespace jobwatch::detail {

/** @brief True when `s` is an RFC 3339 `date-time` (section 5.6).

    Written by hand because neither the standard library nor Boost 1.81 has a
    strict RFC 3339 validator (`std::chrono::parse` is not in libstdc++ 12).
    Accepts `T`/`t` and `Z`/`z`, any number of fraction digits, leap second
    `:60`, offsets `+hh:mm`/`-hh:mm`, and checks days against the month and
    leap years, as JSON Schema's `format: date-time` requires.
*/
constexpr bool is_rfc3339_date_time(std::string_view s) noexcept
{
    auto digits = [&](std::size_t pos, std::size_t n, int& out) {
        if (pos + n > s.size())
            return false;
        out = 0;
        for (std::size_t i = pos; i < pos + n; ++i) {
            if (s[i] < '0' || s[i] > '9')
                return false;
            out = out * 10 + (s[i] - '0');
        }
        return true;
    };
    int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
    if (!digits(0, 4, year) || s.size() < 20 || s[4] != '-' || !digits(5, 2, month) ||
        s[7] != '-' || !digits(8, 2, day) || (s[10] != 'T' && s[10] != 't') ||
        !digits(11, 2, hour) || s[13] != ':' || !digits(14, 2, minute) || s[16] != ':' ||
        !digits(17, 2, second))
        return false;
    if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 60)
        return false;
    bool const leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    constexpr int days_in_month[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int const max_day = month == 2 && leap ? 29 : days_in_month[month - 1];
    if (day > max_day)
        return false;
    std::size_t i = 19;
    if (i < s.size() && s[i] == '.') {
        ++i;
        std::size_t const first = i;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9')
            ++i;
        if (i == first)
            return false;
    }
    if (i >= s.size())
        return false;
    if (s[i] == 'Z' || s[i] == 'z')
        return i + 1 == s.size();
    if (s[i] != '+' && s[i] != '-')
        return false;
    int oh = 0, om = 0;
    return i + 6 == s.size() && digits(i + 1, 2, oh) && s[i + 3] == ':' &&
           digits(i + 4, 2, om) && oh <= 23 && om <= 59;
}

}  // namespace jobwatch::detail

#endif
