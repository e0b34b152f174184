#ifndef JOBWATCH_LOGGER_HPP
#define JOBWATCH_LOGGER_HPP

#include <jobwatch/time.hpp>

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include <chrono>
#include <functional>
#include <initializer_list>
#include <iostream>
#include <string>
#include <string_view>
#include <utility>

namespace jobwatch {

/** @brief Where components write what they have to say: a value passed in.

    An entry has a level, the component that writes it (`"bullmq"`,
    `"gateway"`, ...), a message and optional fields. It is rendered as text
    (`component: msg key=value`) or, with `format::json`, as one JSON object
    per line (`ts`, `level`, `component`, `msg`, then the fields). Defaults
    to text on stderr at `info`; the app applies the settings `log.level` and
    `log.format`. Tests install a capturing `fn` and assert on the rendered
    lines (STYLE.md, item 12).

    No caller passes a secret (a token, a password, a signing key): URLs
    are logged without their credentials, tokens never.

    Fields are an `initializer_list`: inside a coroutine, name the list
    first or log without fields (GCC 12 mis-handles braced lists there).

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

    /// How a line is written.
    enum class format
    {
        text,
        json,
    };

    /// One field of an entry: a name and its value, as text.
    using field = std::pair<std::string_view, std::string_view>;

    level lvl = level::info;    ///< lines below this level are dropped
    format fmt = format::text;  ///< text or one JSON object per line
    std::function<void(level, std::string_view)> fn{};  ///< gets each rendered line; empty: stderr

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

    /// Writes one entry of `component` (empty: the app itself).
    void log(level l, std::string_view component, std::string_view msg,
             std::initializer_list<field> fields = {}) const
    {
        if (!enabled(l))
            return;
        auto const line = render(l, component, msg, fields);
        if (fn)
            fn(l, line);
        else if (fmt == format::json)
            std::clog << line << '\n';
        else
            std::clog << "jobwatch [" << name(l) << "] " << line << '\n';
    }

    /// An entry of the app itself (no component).
    void log(level l, std::string_view msg) const { log(l, {}, msg); }

    void debug(std::string_view msg) const { log(level::debug, msg); }
    void info(std::string_view msg) const { log(level::info, msg); }
    void warn(std::string_view msg) const { log(level::warn, msg); }
    void error(std::string_view msg) const { log(level::error, msg); }

    void debug(std::string_view component, std::string_view msg, std::initializer_list<field> f = {}) const
    {
        log(level::debug, component, msg, f);
    }
    void info(std::string_view component, std::string_view msg, std::initializer_list<field> f = {}) const
    {
        log(level::info, component, msg, f);
    }
    void warn(std::string_view component, std::string_view msg, std::initializer_list<field> f = {}) const
    {
        log(level::warn, component, msg, f);
    }
    void error(std::string_view component, std::string_view msg, std::initializer_list<field> f = {}) const
    {
        log(level::error, component, msg, f);
    }

    /// The line an entry is written as, without the text format's `jobwatch [level]` prefix.
    std::string render(level l, std::string_view component, std::string_view msg,
                       std::initializer_list<field> fields) const
    {
        std::string out;
        if (fmt == format::json) {
            out.reserve(64 + msg.size());
            out += "{\"ts\":\"";
            out += now_rfc3339();
            out += "\",\"level\":\"";
            out += name(l);
            out += "\",\"component\":";
            out += quoted(component.empty() ? std::string_view("app") : component);
            out += ",\"msg\":";
            out += quoted(msg);
            for (auto const& [k, v] : fields) {
                // The four keys of every line are not overwritten by a field.
                if (k == "ts" || k == "level" || k == "component" || k == "msg")
                    continue;
                out += ',';
                out += quoted(k);
                out += ':';
                out += quoted(v);
            }
            out += '}';
            return out;
        }
        if (!component.empty()) {
            out += component;
            out += ": ";
        }
        out += msg;
        for (auto const& [k, v] : fields) {
            out += ' ';
            out += k;
            out += '=';
            // A value with a space or a quote is quoted, so a line splits back into its fields.
            if (v.empty() || v.find_first_of(" \"=") != std::string_view::npos)
                out += quoted(v);
            else
                out += v;
        }
        return out;
    }

private:
    // JSON string escaping (control characters, quotes, invalid UTF-8) as Boost.JSON writes it.
    static std::string quoted(std::string_view s) { return boost::json::serialize(boost::json::string(s)); }

    // UTC with milliseconds, e.g. 2026-12-07T19:04:05.123Z.
    static std::string now_rfc3339()
    {
        return format_time(std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now()));
    }
};

}  // namespace jobwatch

#endif
