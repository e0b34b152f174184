#ifndef JOBWATCH_REDIS_REQUEST_HPP
#define JOBWATCH_REDIS_REQUEST_HPP

/** @file
    A Redis request: one or more commands, encoded in RESP as they are
    pushed, written to the server in one write and answered in order.
*/

#include <jobwatch/redis/detail/resp.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <concepts>
#include <cstddef>
#include <ranges>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace jobwatch::redis {

namespace detail {

/// An argument of `request::push`: anything that converts to a string view,
/// or an integer (formatted in decimal).
template <class T>
concept command_arg = std::convertible_to<T const&, std::string_view> ||
    (std::integral<T> && !std::same_as<T, bool> && !std::same_as<T, char>);

// One argument made into text; integers are formatted into `buf`.
struct arg_text
{
    char buf[24];
    std::string_view view;

    template <command_arg T> explicit arg_text(T const& v)
    {
        if constexpr (std::convertible_to<T const&, std::string_view>) {
            view = std::string_view(v);
        } else {
            auto const r = std::to_chars(buf, buf + sizeof buf, v);
            view = std::string_view(buf, static_cast<std::size_t>(r.ptr - buf));
        }
    }
    arg_text(arg_text const&) = delete;
    arg_text& operator=(arg_text const&) = delete;
};

// Commands whose replies do not come one per command: they belong to `subscriber`.
inline bool is_pubsub_command(std::string_view name) noexcept
{
    constexpr std::string_view names[] = {"SUBSCRIBE",   "PSUBSCRIBE",   "SSUBSCRIBE",
                                          "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE",
                                          "MONITOR"};
    return std::any_of(std::begin(names), std::end(names), [name](std::string_view n) {
        return n.size() == name.size() &&
               std::equal(n.begin(), n.end(), name.begin(), [](char a, char b) {
                   return a == (b >= 'a' && b <= 'z' ? static_cast<char>(b - 'a' + 'A') : b);
               });
    });
}

}  // namespace detail

/** @brief One or more Redis commands, sent together and answered in order.

    @code
    jobwatch::redis::request req;
    req.push("XADD", "jobwatch:events", "MAXLEN", "~", 1'000'000, "*", "e", json);
    req.push("INCR", "counter");
    auto [ec, replies] = co_await conn.exec(req);   // replies.size() == req.size()
    @endcode

    Arguments are binary safe. Commands are encoded as they are pushed, so
    a request can be built once and executed many times.

    @par Thread Safety
    A value type: distinct objects may be used concurrently.
*/
class request
{
public:
    /// Appends a command: `command` then `args`, each a string-like value or an integer.
    template <detail::command_arg... Args>
    request& push(std::string_view command, Args const&... args)
    {
        // Each argument's text lives in this array until the command is encoded.
        detail::arg_text const texts[] = {detail::arg_text(command), detail::arg_text(args)...};
        std::array<std::string_view, 1 + sizeof...(Args)> argv;
        for (std::size_t i = 0; i < argv.size(); ++i)
            argv[i] = texts[i].view;
        return push_argv(argv);
    }

    /** @brief Appends a command whose arguments are `command` then the
        elements of `args` (the keys of an `MGET`, the members of an `SADD`). For
        a fixed head and a variable tail (`XADD key * f1 v1 f2 v2 ...`), build the
        argument vector and use `push_argv`. */
    template <std::ranges::input_range R>
    requires detail::command_arg<std::ranges::range_value_t<R>> request&
    push_range(std::string_view command, R const& args)
    {
        using T = std::ranges::range_value_t<R>;
        std::vector<std::string_view> argv{command};
        if constexpr (std::convertible_to<T const&, std::string_view>) {
            for (auto const& a : args)
                argv.emplace_back(a);
            return push_argv(argv);
        } else {
            std::vector<std::string> texts;
            for (auto const& a : args)
                texts.emplace_back(detail::arg_text(a).view);
            for (auto const& t : texts)
                argv.emplace_back(t);
            return push_argv(argv);
        }
    }

    /// Appends a command given as its full argument vector (`argv[0]` is its name).
    request& push_argv(std::span<std::string_view const> argv)
    {
        if (argv.empty())
            return *this;
        if (detail::is_pubsub_command(argv[0]))
            pubsub_ = true;
        detail::append_command(payload_, argv, ptrs_, lens_);
        ++commands_;
        return *this;
    }

    /// The number of commands, which is the number of replies `exec` returns.
    std::size_t size() const noexcept { return commands_; }
    bool empty() const noexcept { return commands_ == 0; }

    /// Whether a SUBSCRIBE-family or MONITOR command was pushed (`exec` refuses those).
    bool has_pubsub() const noexcept { return pubsub_; }

    /// The commands as RESP, exactly as they will be written.
    std::string_view payload() const noexcept { return payload_; }

    /// Reserves room for `bytes` of encoded commands.
    void reserve(std::size_t bytes) { payload_.reserve(bytes); }

    /// Removes every command, keeping the memory.
    void clear() noexcept
    {
        payload_.clear();
        commands_ = 0;
        pubsub_ = false;
    }

private:
    std::string payload_;
    std::size_t commands_ = 0;
    bool pubsub_ = false;
    // Scratch for hiredis's argv form, kept to spare allocations.
    std::vector<char const*> ptrs_;
    std::vector<std::size_t> lens_;
};

}  // namespace jobwatch::redis

#endif
