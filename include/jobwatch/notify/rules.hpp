#ifndef JOBWATCH_NOTIFY_RULES_HPP
#define JOBWATCH_NOTIFY_RULES_HPP

/** @file
    The notifier's rules (which notices go to which targets), its target
    URLs, and the checks of its settings made once at start.
*/

#include <jobwatch/codec.hpp>
#include <jobwatch/messages/config.hpp>
#include <jobwatch/notify/notice.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jobwatch::notify {

/// The notice types a rule may name.
inline constexpr std::array<std::string_view, 10> known_types = {
    "job.queued", "job.started",  "job.progress", "job.log",      "job.completed",
    "job.failed", "job.cancelled", "job.retrying", "alert.firing", "alert.resolved"};

/// What a rule with no `types` matches: alerts fired and resolved, and job failures.
inline constexpr std::array<std::string_view, 3> default_types = {"alert.firing", "alert.resolved", "job.failed"};

namespace detail {
template <class List, class T> bool allows(List const& list, T const& v)
{
    return list.empty() || std::find(list.begin(), list.end(), v) != list.end();
}
}  // namespace detail

/** @brief True when `n` satisfies `r`: each non-empty list of the rule holds
    the notice's value. Alert lists (`alert_kinds`, `severities`) exclude job
    events, and `states` excludes alerts, when they are not empty. */
inline bool matches(notifier_rule const& r, notice const& n)
{
    if (r.types.empty()) {
        if (std::find(default_types.begin(), default_types.end(), n.type) == default_types.end())
            return false;
    } else if (std::find(r.types.begin(), r.types.end(), n.type) == r.types.end()) {
        return false;
    }
    if (!detail::allows(r.queues, n.queue) || !detail::allows(r.tenants, n.tenant_id))
        return false;
    if (!r.alert_kinds.empty() && (!n.alert_msg || !detail::allows(r.alert_kinds, n.alert_msg->kind)))
        return false;
    if (!r.severities.empty() && (!n.alert_msg || !detail::allows(r.severities, n.alert_msg->severity)))
        return false;
    if (!r.states.empty() && (!n.state || !detail::allows(r.states, *n.state)))
        return false;
    return true;
}

/// A target chosen for a notice, and the first matching rule that chose it.
struct routed
{
    std::string target;
    std::string rule;
};

/** @brief The targets `n` goes to: the union over the rules it matches (in
    target-name order, each once); with no rules, the default rule (every
    target, default types). */
inline std::vector<routed> route(notifier_config const& c, notice const& n)
{
    std::vector<routed> out;
    auto add = [&](std::string const& target, std::string const& rule) {
        for (auto const& o : out)
            if (o.target == target)
                return;
        out.push_back({target, rule});
    };
    if (c.rules.empty()) {
        if (matches(notifier_rule{}, n))
            for (auto const& t : c.targets)
                add(t.first, "");
        return out;
    }
    for (auto const& r : c.rules) {
        if (!matches(r, n))
            continue;
        if (r.targets.empty())
            for (auto const& t : c.targets)
                add(t.first, r.name);
        else
            for (auto const& t : r.targets)
                add(t, r.name);
    }
    std::sort(out.begin(), out.end(), [](routed const& a, routed const& b) { return a.target < b.target; });
    return out;
}

/** @brief Whether any rule could match a notice of `type` (a cheap test on
    the core's hot path, before a notice is made). */
inline bool wants_type(notifier_config const& c, std::string_view type)
{
    if (c.targets.empty())
        return false;
    if (c.rules.empty())
        return std::find(default_types.begin(), default_types.end(), type) != default_types.end();
    for (auto const& r : c.rules) {
        if (r.types.empty() ? std::find(default_types.begin(), default_types.end(), type) != default_types.end()
                            : std::find(r.types.begin(), r.types.end(), type) != r.types.end())
            return true;
    }
    return false;
}

/// A target's URL, taken apart.
struct webhook_url
{
    bool tls = false;
    std::string host;   ///< without brackets for IPv6
    std::string port;   ///< always set: 80 or 443 when the URL names none
    std::string target; ///< path and query, `/` when empty
    /// `http://host:port`: what logs and answers show (the path may hold a secret, as Slack's does).
    std::string origin() const
    {
        bool const v6 = host.find(':') != std::string::npos;
        return std::string(tls ? "https://" : "http://") + (v6 ? "[" + host + "]" : host) + ":" + port;
    }
};

/** @brief Parses `http[s]://host[:port][/path][?query]`; nullopt with `why`
    when it is not one (user info and fragments are refused: a secret goes
    in `secret` or `headers`, where it is never shown). */
inline std::optional<webhook_url> parse_url(std::string_view url, std::string& why)
{
    webhook_url u;
    auto lower = std::string(url.substr(0, std::min<std::size_t>(url.size(), 8)));
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    if (lower.starts_with("https://")) {
        u.tls = true;
        url.remove_prefix(8);
    } else if (lower.starts_with("http://")) {
        url.remove_prefix(7);
    } else {
        why = "must start with http:// or https://";
        return std::nullopt;
    }
    auto const slash = std::min(url.find('/'), url.find('?'));
    auto authority = url.substr(0, slash);
    u.target = slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
    if (!u.target.starts_with('/'))
        u.target.insert(0, "/");
    if (authority.find('@') != std::string_view::npos) {
        why = "must not hold a user or password (put credentials in headers)";
        return std::nullopt;
    }
    if (u.target.find('#') != std::string::npos || u.target.find_first_of(" \r\n\t") != std::string::npos) {
        why = "must not hold a fragment or white space";
        return std::nullopt;
    }
    std::string_view port;
    if (authority.starts_with('[')) {
        auto const close = authority.find(']');
        if (close == std::string_view::npos) {
            why = "has an unclosed [ in its host";
            return std::nullopt;
        }
        u.host = std::string(authority.substr(1, close - 1));
        auto rest = authority.substr(close + 1);
        if (!rest.empty()) {
            if (!rest.starts_with(':')) {
                why = "has text after its host";
                return std::nullopt;
            }
            port = rest.substr(1);
        }
    } else {
        auto const colon = authority.rfind(':');
        u.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos)
            port = authority.substr(colon + 1);
    }
    if (u.host.empty()) {
        why = "has no host";
        return std::nullopt;
    }
    if (port.empty()) {
        u.port = u.tls ? "443" : "80";
    } else {
        unsigned p = 0;
        auto const [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
        if (ec != std::errc{} || end != port.data() + port.size() || p == 0 || p > 65535) {
            why = "has a bad port \"" + std::string(port) + "\"";
            return std::nullopt;
        }
        u.port = std::string(port);
    }
    return u;
}

/** @brief The notifier's rules that the schema cannot say: target names,
    URLs, notice types, rules' targets, templates, header names. The first
    broken one as a JSON Pointer under `/notifier`, or nullopt. */
inline std::optional<parse_error> check(notifier_config const& c)
{
    for (auto const& [name, t] : c.targets) {
        auto const at = "/notifier/targets/" + name;
        bool const good_name = !name.empty() && name.size() <= 64 &&
                               std::all_of(name.begin(), name.end(), [](unsigned char ch) {
                                   return std::isalnum(ch) || ch == '_' || ch == '-';
                               });
        if (!good_name)
            return parse_error{"/notifier/targets", "target name \"" + name + "\" must be 1 to 64 letters, digits, _ or -"};
        std::string why;
        if (!parse_url(t.url, why))
            return parse_error{at + "/url", "the URL " + why};
        if (t.preset == notifier_preset::custom && t.body_template.empty())
            return parse_error{at + "/body_template", "preset custom needs a body_template"};
        if (t.backoff_max_ms < t.backoff_initial_ms)
            return parse_error{at + "/backoff_max_ms", "must be at least backoff_initial_ms"};
        for (auto const& [h, v] : t.headers) {
            bool const token = !h.empty() && std::all_of(h.begin(), h.end(), [](unsigned char ch) {
                return std::isalnum(ch) || std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(ch)) != std::string_view::npos;
            });
            if (!token)
                return parse_error{at + "/headers", "\"" + h + "\" is not a header name"};
            if (v.find_first_of("\r\n") != std::string::npos)
                return parse_error{at + "/headers/" + h, "a header value must not hold a line break"};
        }
        if (!t.secret.empty() && !t.secret_file.empty())
            return parse_error{at + "/secret_file", "give secret or secret_file, not both"};
    }
    for (std::size_t i = 0; i < c.rules.size(); ++i) {
        auto const at = "/notifier/rules/" + std::to_string(i);
        auto const& r = c.rules[i];
        for (std::size_t k = 0; k < r.types.size(); ++k)
            if (std::find(known_types.begin(), known_types.end(), r.types[k]) == known_types.end())
                return parse_error{at + "/types/" + std::to_string(k),
                                   "unknown type \"" + r.types[k] + "\" (job.queued ... job.retrying, alert.firing, alert.resolved)"};
        for (std::size_t k = 0; k < r.targets.size(); ++k)
            if (!c.targets.contains(r.targets[k]))
                return parse_error{at + "/targets/" + std::to_string(k), "no target is named \"" + r.targets[k] + "\""};
    }
    return std::nullopt;
}

}  // namespace jobwatch::notify

#endif
