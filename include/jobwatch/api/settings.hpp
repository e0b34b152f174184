#ifndef JOBWATCH_API_SETTINGS_HPP
#define JOBWATCH_API_SETTINGS_HPP

/** @file
    `GET` and `POST /api/v1/monitor/config`: the settings, and their changes
    at runtime.
*/

#include <jobwatch/api/common.hpp>
#include <jobwatch/config.hpp>
#include <jobwatch/core.hpp>
#include <jobwatch/notify/rules.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <array>
#include <string>
#include <string_view>

namespace jobwatch::api {

using namespace ::jobwatch::http;

/** @brief The settings routes (admin scope), on the core's router.

    @par Thread Safety
    Only from the core executor.
*/
class settings_routes
{
public:
    explicit settings_routes(core& c) : core_(c) {}

    void install()
    {
        core_.routes().add({{verb::get, verb::post}, "/api/v1/monitor/config", needs::admin,
                            "The settings; POST changes those that take effect at runtime",
                            [this](call const& c) { return c.req.method() == verb::post ? post_config(c.req) : get_config(c.req); }});
    }

    /// Settings that take effect without a restart (JSON Pointers into the config).
    static constexpr std::array<std::string_view, 4> tunable_sections = {"/aggregator", "/dlq", "/health",
                                                                          "/rate_limits"};
    static constexpr std::array<std::string_view, 4> tunable_gateway = {"heartbeat_ms", "idle_timeout_ms",
                                                                        "max_send_queue_bytes",
                                                                        "max_send_queue_messages"};

private:
    static boost::json::value settings_json(jobwatch::config const& c)
    {
        auto v = boost::json::parse(to_json(c));
        // Tokens are secrets: never echoed.
        v.as_object().erase("auth");
        redact_notifier(v.as_object());
        redact_credentials(v);
        return v;
    }

    /** A password in a URL (`redis://user:password@host`, `cluster.redis_url`,
        `bullmq.redis_url`, `redis.url`) is never echoed: any string holding
        `scheme://userinfo@` shows its userinfo as "(redacted)". */
    static void redact_credentials(boost::json::value& v)
    {
        if (auto* o = v.if_object()) {
            for (auto& [k, sub] : *o)
                redact_credentials(sub);
        } else if (auto* a = v.if_array()) {
            for (auto& sub : *a)
                redact_credentials(sub);
        } else if (auto* s = v.if_string()) {
            std::string_view const text(s->data(), s->size());
            auto const scheme = text.find("://");
            if (scheme == std::string_view::npos)
                return;
            auto const authority = text.substr(scheme + 3, text.find_first_of("/?#", scheme + 3) - (scheme + 3));
            auto const at = authority.rfind('@');
            if (at == std::string_view::npos)
                return;
            *s = std::string(text.substr(0, scheme + 3)) + "(redacted)" + std::string(text.substr(scheme + 3 + at));
        }
    }

    /** The notifier's secrets, header values (Authorization) and URL paths
        and queries (a Slack webhook's path is its secret) are never echoed:
        each is shown as "(redacted)" when set. */
    static void redact_notifier(boost::json::object& settings)
    {
        auto* n = settings.if_contains("notifier");
        auto* targets = n && n->is_object() ? n->as_object().if_contains("targets") : nullptr;
        if (!targets || !targets->is_object())
            return;
        for (auto& [name, t] : targets->as_object()) {
            if (!t.is_object())
                continue;
            auto& o = t.as_object();
            if (auto* s = o.if_contains("secret"); s && s->is_string() && !s->as_string().empty())
                *s = "(redacted)";
            if (auto* h = o.if_contains("headers"); h && h->is_object())
                for (auto& [k, value] : h->as_object())
                    value = "(redacted)";
            if (auto* u = o.if_contains("url"); u && u->is_string()) {
                std::string why;
                auto const url = notify::parse_url(std::string_view(u->as_string().data(), u->as_string().size()), why);
                if (url && url->target != "/")
                    *u = url->origin() + "/(redacted)";
                else if (url)
                    *u = url->origin() + "/";
            }
        }
    }

    response get_config(request const& req)
    {
        boost::json::object out;
        out["settings"] = settings_json(core_.settings());
        boost::json::array tunable;
        for (auto s : tunable_sections)
            tunable.emplace_back(s);
        for (auto g : tunable_gateway)
            tunable.emplace_back("/gateway/" + std::string(g));
        out["tunable"] = std::move(tunable);
        return json_response(req, status::ok, boost::json::serialize(out));
    }

    response post_config(request const& req)
    {
        if (media_type(req) != "application/json")
            return problem(req, status::unsupported_media_type, "send the changed settings as application/json");
        boost::system::error_code ec;
        auto patch = boost::json::parse(req.body(), ec);
        if (ec || !patch.is_object())
            return problem(req, status::bad_request, "the body must be a JSON object of settings to change",
                           pointer_member(""));
        // The patch must not touch what needs a restart.
        for (auto const& [section, value] : patch.as_object()) {
            auto const sec = "/" + std::string(section);
            bool const whole = std::find(tunable_sections.begin(), tunable_sections.end(), sec) != tunable_sections.end();
            if (whole)
                continue;
            if (section == "gateway" && value.is_object()) {
                for (auto const& [k, ignored] : value.as_object())
                    if (std::find(tunable_gateway.begin(), tunable_gateway.end(), std::string_view(k)) ==
                        tunable_gateway.end())
                        return problem(req, status::unprocessable_entity,
                                       "gateway." + std::string(k) + " cannot change at runtime; restart with it",
                                       pointer_member("/gateway/" + std::string(k)));
                continue;
            }
            return problem(req, status::unprocessable_entity,
                           std::string(section) + " cannot change at runtime; restart with it", pointer_member(sec));
        }
        auto merged = boost::json::parse(to_json(core_.settings()));
        jobwatch::detail::merge_into(merged.as_object(), patch.as_object());
        auto next = parse_value<jobwatch::config>(merged);
        if (next)
            if (auto broken = check_settings(*next))
                next = *broken;
        if (!next)
            return problem(req, status::bad_request, next.error().message, pointer_member(next.error().path));
        core_.update_settings(std::move(*next));
        core_.log().info("settings", "changed at runtime: " + boost::json::serialize(patch));
        boost::json::object out;
        out["settings"] = settings_json(core_.settings());
        return json_response(req, status::ok, boost::json::serialize(out));
    }

    core& core_;
};

}  // namespace jobwatch::api

#endif
