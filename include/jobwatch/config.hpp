#ifndef JOBWATCH_CONFIG_HPP
#define JOBWATCH_CONFIG_HPP

/** @file
    `jobwatch::load_config(argc, argv)`: the app's settings from a JSON file,
    overridden by `JOBWATCH_*` environment variables, overridden by flags, and
    validated once, as a whole, by the generated config schema.
*/

#include <jobwatch/codec.hpp>
#include <jobwatch/messages/config.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <stdexcept>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace jobwatch {

/** @brief The outcome of reading the settings: a config, help text, or an error. */
struct config_result
{
    std::optional<config> value;  ///< the settings, when valid
    std::string help;             ///< set when `--help` was asked for
    std::string error;            ///< set when a setting is wrong: names it and says why
};

namespace detail {

/// `gateway.port` from `/gateway/port`.
inline std::string setting_name(std::string_view pointer)
{
    std::string out;
    for (char c : pointer.substr(pointer.starts_with('/') ? 1 : 0))
        out.push_back(c == '/' ? '.' : c);
    return out;
}

/// `JOBWATCH_GATEWAY_PORT` from `gateway.port`.
inline std::string env_name(std::string_view setting)
{
    std::string out = "JOBWATCH_";
    for (char c : setting)
        out.push_back(c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    return out;
}

/// One setting: where it lives in the document and what its default looks like.
struct setting
{
    std::string name;              // gateway.port
    std::vector<std::string> path; // {"gateway", "port"}
    boost::json::value def;        // the default, which also gives the kind of value
    std::string_view description;
};

/// Every leaf setting (and every map, such as dlq.queues, as one JSON value).
inline std::vector<setting> settings_of(boost::json::object const& defaults)
{
    std::vector<setting> out;
    std::function<void(boost::json::object const&, std::vector<std::string>&)> walk =
        [&](boost::json::object const& o, std::vector<std::string>& path) {
            for (auto const& kv : o) {
                path.emplace_back(kv.key());
                std::string pointer;
                for (auto const& p : path)
                    pointer += "/" + p;
                std::string_view doc;
                for (auto const& [ptr, text] : codegen_docs::config)
                    if (ptr == pointer)
                        doc = text;
                // A nested section is walked; a map (dynamic keys) is one setting.
                bool const section = kv.value().is_object() && !kv.value().as_object().empty();
                if (section)
                    walk(kv.value().as_object(), path);
                else
                    out.push_back({setting_name(pointer), path, kv.value(), doc});
                path.pop_back();
            }
        };
    std::vector<std::string> path;
    walk(defaults, path);
    return out;
}

/// Converts the text of an environment variable or flag to the setting's kind.
inline std::optional<boost::json::value> setting_value(setting const& s, std::string_view text,
                                                       std::string& why)
{
    auto const& d = s.def;
    if (d.is_string())
        return boost::json::value(boost::json::string_view{text.data(), text.size()});
    if (d.is_bool()) {
        if (text == "true" || text == "1" || text == "yes" || text == "on")
            return boost::json::value(true);
        if (text == "false" || text == "0" || text == "no" || text == "off")
            return boost::json::value(false);
        why = "expected true or false, got \"" + std::string(text) + "\"";
        return std::nullopt;
    }
    // A list of names reads as a comma-separated list too (--bullmq.queues=emails,images).
    if (d.is_array() && !text.starts_with('[')) {
        boost::json::array a;
        for (std::size_t start = 0; start <= text.size() && !text.empty();) {
            auto const end = std::min(text.find(',', start), text.size());
            a.emplace_back(boost::json::string_view{text.data() + start, end - start});
            start = end + 1;
        }
        return boost::json::value(std::move(a));
    }
    // Numbers, arrays and maps are written as JSON.
    boost::json::error_code ec;
    auto v = boost::json::parse(boost::json::string_view{text.data(), text.size()}, ec);
    if (ec) {
        why = "\"" + std::string(text) + "\" is not " +
              (d.is_number() ? std::string("a number") : std::string("valid JSON"));
        return std::nullopt;
    }
    return v;
}

inline void set_path(boost::json::object& root, std::vector<std::string> const& path,
                     boost::json::value v)
{
    boost::json::object* o = &root;
    for (std::size_t i = 0; i + 1 < path.size(); ++i) {
        auto& next = (*o)[path[i]];
        if (!next.is_object())
            next = boost::json::object{};
        o = &next.as_object();
    }
    (*o)[path.back()] = std::move(v);
}

inline std::string help_text(std::string_view program, std::vector<setting> const& all)
{
    std::ostringstream out;
    out << "usage: " << program << " [--config FILE] [--SETTING=VALUE ...]\n\n"
        << "Settings come from the JSON file given with --config, then from environment\n"
        << "variables, then from flags; later sources win. Every setting, its variable and\n"
        << "its default:\n\n";
    for (auto const& s : all) {
        out << "  --" << s.name << "  (" << env_name(s.name) << ")  default "
            << boost::json::serialize(s.def) << "\n";
        if (!s.description.empty())
            out << "      " << s.description << "\n";
    }
    return out.str();
}

// Members of `from` over those of `into`, object by object (a section given in
// part keeps the rest of its members): a program's preset, a file, a settings patch.
inline void merge_into(boost::json::object& into, boost::json::object const& from)
{
    for (auto const& [key, value] : from) {
        auto* mine = into.if_contains(key);
        if (mine && mine->is_object() && value.is_object())
            merge_into(mine->as_object(), value.as_object());
        else
            into[key] = value;
    }
}

}  // namespace detail

/** @brief The rules of the settings that a schema keyword cannot say; the
    first broken one (its JSON Pointer and why), or nullopt. Checked at start
    and on every runtime change, like the schema. */
inline std::optional<parse_error> check_settings(config const& c)
{
    // A heartbeat shorter than a second would drop every client for its first missed pong.
    if (c.gateway.heartbeat_ms.count() != 0 && c.gateway.heartbeat_ms < std::chrono::seconds{1})
        return parse_error{"/gateway/heartbeat_ms", "must be 0 (off) or at least 1000"};
    return std::nullopt;
}

/** @brief Settings that break the schema or a rule of `check_settings`, as
    given to an `app` in code: `setting` names the first broken one as on the
    command line (`gateway.heartbeat_ms`). */
struct settings_error : std::invalid_argument
{
    settings_error(std::string name, std::string const& why)
        : std::invalid_argument("setting " + (name.empty() ? std::string("(document)") : name) + ": " + why)
        , setting(std::move(name))
    {
    }
    std::string setting;
};

/** @brief Checks settings built in code exactly as a settings file is
    checked (the schema's bounds, then `check_settings`).
    @throws settings_error naming the first setting that breaks them. */
inline void validate_settings(config const& c)
{
    auto parsed = parse_value<config>(boost::json::parse(to_json(c)));
    if (parsed)
        if (auto broken = check_settings(*parsed))
            parsed = *broken;
    if (!parsed)
        throw settings_error(detail::setting_name(parsed.error().path), parsed.error().message);
}

/** @brief Reads the settings from arguments, a file they name and the environment.

    @li `--config FILE` (or `-c FILE`) names a JSON file that is a (partial)
        config document;
    @li each setting can be overridden by an environment variable, named by
        `--help` (e.g. `JOBWATCH_GATEWAY_PORT`), and then by a flag
        (`--gateway.port=9000` or `--gateway.port 9000`);
    @li the result is validated by the generated config schema; an error names
        the setting, where its value came from, and the reason.

    @param env looks an environment variable up; tests pass their own.
*/
inline config_result try_load_config(std::vector<std::string> const& args,
                                     std::function<std::optional<std::string>(std::string const&)> env,
                                     boost::json::object const& preset = {})
{
    config_result result;
    auto defaults = boost::json::value_from(config{}).as_object();
    detail::merge_into(defaults, preset);
    auto const all = detail::settings_of(defaults);
    std::string const program = args.empty() ? "jobwatch" : args.front();

    std::optional<std::string> file;
    std::vector<std::pair<std::string, std::string>> flags;  // setting name, text
    for (std::size_t i = 1; i < args.size(); ++i) {
        std::string_view a = args[i];
        if (a == "--help" || a == "-h") {
            result.help = detail::help_text(program, all);
            return result;
        }
        auto take_value = [&](std::string_view name) -> std::optional<std::string> {
            if (i + 1 >= args.size()) {
                result.error = std::string(name) + ": missing value";
                return std::nullopt;
            }
            return args[++i];
        };
        if (a == "--config" || a == "-c") {
            file = take_value(a);
            if (!file)
                return result;
            continue;
        }
        if (a.starts_with("--config=")) {
            file = std::string(a.substr(9));
            continue;
        }
        if (!a.starts_with("--")) {
            result.error = "unexpected argument \"" + std::string(a) + "\" (see --help)";
            return result;
        }
        a.remove_prefix(2);
        auto const eq = a.find('=');
        std::string name(a.substr(0, eq));
        std::string text;
        if (eq != std::string_view::npos) {
            text = std::string(a.substr(eq + 1));
        } else {
            auto v = take_value("--" + name);
            if (!v)
                return result;
            text = *v;
        }
        flags.emplace_back(std::move(name), std::move(text));
    }

    boost::json::object doc = preset;
    std::map<std::string, std::string> source;  // setting name -> where its value came from
    if (file) {
        std::ifstream in(*file, std::ios::binary);
        if (!in) {
            result.error = "config file " + *file + ": cannot be read";
            return result;
        }
        std::ostringstream ss;
        ss << in.rdbuf();
        boost::json::error_code ec;
        auto v = boost::json::parse(ss.str(), ec);
        if (ec || !v.is_object()) {
            result.error = "config file " + *file + ": " +
                           (ec ? ec.message() : std::string("must be a JSON object"));
            return result;
        }
        detail::merge_into(doc, v.as_object());
    }
    auto apply = [&](detail::setting const& s, std::string const& text, std::string const& from) {
        std::string why;
        auto v = detail::setting_value(s, text, why);
        if (!v) {
            result.error = "setting " + s.name + " (from " + from + "): " + why;
            return false;
        }
        detail::set_path(doc, s.path, std::move(*v));
        source[s.name] = from;
        return true;
    };
    for (auto const& s : all) {
        auto const var = detail::env_name(s.name);
        if (auto v = env(var); v && !apply(s, *v, "environment variable " + var))
            return result;
    }
    // No structured binding here: clang 14 cannot capture one in a lambda.
    for (auto const& flag : flags) {
        auto const& name = flag.first;
        auto it = std::find_if(all.begin(), all.end(), [&](auto const& s) { return s.name == name; });
        if (it == all.end()) {
            result.error = "unknown setting --" + name + " (see --help)";
            return result;
        }
        if (!apply(*it, flag.second, "flag --" + name))
            return result;
    }

    auto parsed = parse_value<config>(doc);
    if (parsed)
        if (auto broken = check_settings(*parsed))
            parsed = *broken;
    if (!parsed) {
        auto const name = detail::setting_name(parsed.error().path);
        // Name the longest known setting that contains the offending value.
        std::string from = file ? "config file " + *file : "defaults";
        for (auto const& [setting, where] : source)
            if (name == setting || name.starts_with(setting + "."))
                from = where;
        result.error = "setting " + (name.empty() ? std::string("(document)") : name) + " (from " +
                       from + "): " + parsed.error().message;
        return result;
    }
    result.value = std::move(*parsed);
    return result;
}

/** @brief `try_load_config` for `main()`: prints help or the error and exits.

    Exits with status 0 after `--help`, and 2 with the error on stderr when a
    setting is wrong, so a bad setting fails at start.

    @param preset the program's own defaults where they differ from the
    framework's (`{{"storage", {{"mode", "sqlite"}}}}`): below the file, the
    environment and the flags, and shown by `--help`.
*/
inline config load_config(int argc, char** argv, boost::json::object const& preset = {})
{
    std::vector<std::string> args(argv, argv + argc);
    auto r = try_load_config(
        args,
        [](std::string const& name) -> std::optional<std::string> {
            if (char const* v = std::getenv(name.c_str()))
                return std::string(v);
            return std::nullopt;
        },
        preset);
    if (!r.help.empty()) {
        std::cout << r.help;
        std::exit(0);
    }
    if (!r.value) {
        std::cerr << (args.empty() ? "jobwatch" : args.front()) << ": " << r.error << "\n";
        std::exit(2);
    }
    return std::move(*r.value);
}

}  // namespace jobwatch

#endif
