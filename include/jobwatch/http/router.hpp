#ifndef JOBWATCH_HTTP_ROUTER_HPP
#define JOBWATCH_HTTP_ROUTER_HPP

/** @file
    The route table of the REST API: each part of the server (the core's
    jobs and ingest, the aggregator's runs and queues, the dead-letter
    monitor's failures, health, the gateway's own monitor) registers what it
    serves, so the HTTP layer knows none of them.
*/

#include <jobwatch/http/request.hpp>
#include <jobwatch/messages/config.hpp>

#include <algorithm>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace jobwatch::http {

/// The `{name}` segments of a matched path, in order.
class path_params
{
public:
    /// The value of `{name}`; empty when the pattern has no such segment.
    std::string_view operator[](std::string_view name) const noexcept
    {
        for (auto const& [k, v] : values_)
            if (k == name)
                return v;
        return {};
    }
    void add(std::string_view name, std::string_view value) { values_.emplace_back(name, value); }

private:
    std::vector<std::pair<std::string_view, std::string_view>> values_;
};

/// Everything a handler is given.
struct call
{
    request const& req;
    target const& t;
    principal const& who;
    path_params const& params;
};

/// Answers one request.
using handler = std::function<response(call const&)>;

/// The scope a route needs; `none` for public ones (`/healthz`).
enum class needs : std::uint8_t
{
    none,
    read,
    publish,
    admin,
};

/// One entry of the table (also what the API document is made from).
struct route
{
    std::vector<verb> methods;  ///< GET also answers HEAD
    std::string pattern;        ///< `/api/v1/jobs/{id}/logs`
    needs scope = needs::read;
    std::string summary;        ///< one line, for the API document
    handler fn;
};

/** @brief Routes requests by method and path pattern.

    A path matches a pattern segment by segment; `{name}` matches any one
    segment. A path that no route has is 404; a path whose routes take
    other methods is 405 with `Allow`; a principal without the route's scope
    is 403 (all as problem+json).

    @par Thread Safety
    Add routes before serving; then `dispatch` from the core executor.
*/
class router
{
public:
    /// Adds a route.
    void add(route r) { routes_.push_back(std::move(r)); }

    /// Every route, in the order added.
    std::vector<route> const& routes() const noexcept { return routes_; }

    /// The answer to `req`.
    response dispatch(request const& req, target const& t, principal const& who) const
    {
        std::string allow;
        for (auto const& r : routes_) {
            path_params params;
            if (!match(r.pattern, t.path, params))
                continue;
            bool const takes = std::any_of(r.methods.begin(), r.methods.end(), [&](verb v) {
                return v == req.method() || (v == verb::get && req.method() == verb::head);
            });
            if (!takes) {
                for (auto v : r.methods) {
                    auto const name = boost::beast::http::to_string(v);
                    if (allow.find(name) == std::string::npos)
                        allow += (allow.empty() ? "" : ", ") + std::string(name);
                    if (v == verb::get && allow.find("HEAD") == std::string::npos)
                        allow += ", HEAD";
                }
                continue;
            }
            if (auto const why = refused(r.scope, who))
                return problem(req, status::forbidden, why);
            return r.fn(call{req, t, who, params});
        }
        if (!allow.empty())
            return method_not_allowed(req, allow);
        return problem(req, status::not_found, "no such resource: " + t.path);
    }

private:
    static bool holds(principal const& who, auth_scope s) noexcept
    {
        return std::find(who.scopes.begin(), who.scopes.end(), s) != who.scopes.end();
    }

    static char const* refused(needs scope, principal const& who) noexcept
    {
        switch (scope) {
        case needs::none: return nullptr;
        case needs::read: return holds(who, auth_scope::read) ? nullptr : "the read scope is required";
        case needs::publish: return holds(who, auth_scope::publish) ? nullptr : "the publish scope is required";
        case needs::admin: return holds(who, auth_scope::admin) ? nullptr : "the admin scope is required";
        }
        return nullptr;
    }

    static bool match(std::string_view pattern, std::string_view path, path_params& params)
    {
        for (;;) {
            if (pattern.empty() || path.empty())
                return pattern.empty() && path.empty();
            if (pattern.front() != '/' || path.front() != '/')
                return false;
            pattern.remove_prefix(1);
            path.remove_prefix(1);
            auto const pe = std::min(pattern.find('/'), pattern.size());
            auto const se = std::min(path.find('/'), path.size());
            auto const p = pattern.substr(0, pe);
            auto const s = path.substr(0, se);
            if (p.size() > 2 && p.front() == '{' && p.back() == '}') {
                if (s.empty())
                    return false;
                params.add(p.substr(1, p.size() - 2), s);
            } else if (p != s) {
                return false;
            }
            pattern.remove_prefix(pe);
            path.remove_prefix(se);
        }
    }

    std::vector<route> routes_;
};

}  // namespace jobwatch::http

#endif
