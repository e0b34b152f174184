#ifndef JOBWATCH_LOGGER_HPP
#define JOBWATCH_LOGGER_HPP

#include <functional>
#include <iostream>
#include <string>
#include <string_view>

namespace jobwatch {

/** @brief Where components write what they have to say: a value passed in.

    Defaults to stderr at `info`. Tests install a capturing `fn` and assert on
    the lines (STYLE.md, item 12).

    @par Thread Safety
    Calls `fn` on the caller's thread; a shared `fn` must be thread safe.
*/
struct logger
{
    /// Severity of a line, lowest first.
    enum class level
    {
        trace,
        debug,
        info,
        warn,
        error,
    };

    level lvl = level::info;  ///< lines below this level are dropped
    std::function<void(level, std::string_view)> fn{};  ///< empty: write to stderr

    static constexpr std::string_view name(level l) noexcept
    {
        switch (l) {
        case level::trace: return "trace";
        case level::debug: return "debug";
        case level::info: return "info";
        case level::warn: return "warn";
        case level::error: return "error";
        }
        return "?";
    }

    bool enabled(level l) const noexcept { return l >= lvl; }

    void log(level l, std::string_view msg) const
    {
        if (!enabled(l))
            return;
        if (fn)
            fn(l, msg);
        else
            std::clog << "jobwatch [" << name(l) << "] " << msg << '\n';
    }

    void debug(std::string_view msg) const { log(level::debug, msg); }
    void info(std::string_view msg) const { log(level::info, msg); }
    void warn(std::string_view msg) const { log(level::warn, msg); }
    void error(std::string_view msg) const { log(level::error, msg); }
};

}  // namespace jobwatch

#endif
