#ifndef JOBWATCH_HTTP_CORS_HPP
#define JOBWATCH_HTTP_CORS_HPP

/** @file
    Cross-origin access from browsers: CORS preflights and response headers,
    and the `Origin` check of WebSocket handshakes (`gateway.cors`).
*/

#include <jobwatch/http/request.hpp>
#include <jobwatch/messages/config.hpp>

#include <boost/beast/http/field.hpp>

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace jobwatch::http {

/** @brief Which web origins may use the gateway from a browser.

    A request without `Origin` (curl, a service, a worker) is not a browser's
    cross-origin request and is not concerned. A page of the gateway's own
    origin (`Origin` equal to `http://` or `https://` and the `Host`) is
    always allowed. Others must be listed in `allowed_origins` exactly, or
    the list holds `*`. Credentials mode is never offered
    (`Access-Control-Allow-Credentials` is not sent): tokens travel in the
    `Authorization` header or `?token=`, never in cookies, so a page of
    another origin learns nothing its own token does not grant.

    @par Thread Safety
    Immutable after construction: read from every I/O thread.
*/
class cors_policy
{
public:
    explicit cors_policy(cors_config const& c = {}) : max_age_(c.max_age_s)
    {
        for (auto const& o : c.allowed_origins) {
            if (o == "*")
                any_ = true;
            else
                origins_.push_back(o);
        }
    }

    /// True when a browser page of `origin` may call a server reached as `host`.
    bool allows(std::string_view origin, std::string_view host) const
    {
        if (origin.empty() || any_ || same_origin(origin, host))
            return true;
        return std::find(origins_.begin(), origins_.end(), origin) != origins_.end();
    }

    /// True for a CORS preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`).
    static bool is_preflight(request const& req)
    {
        return req.method() == verb::options && !req[boost::beast::http::field::origin].empty() &&
               !req[boost::beast::http::field::access_control_request_method].empty();
    }

    /// The answer to a preflight: 204 with what is allowed, or 403 naming the setting.
    response preflight(request const& req) const
    {
        namespace f = boost::beast::http;
        std::string_view const origin = req[f::field::origin];
        if (!allows(origin, req[f::field::host])) {
            auto res = problem(req, status::forbidden,
                               "origin " + std::string(origin.substr(0, 256)) +
                                   " is not in gateway.cors.allowed_origins");
            res.set(f::field::vary, "Origin");
            return res;
        }
        response res{status::no_content, req.version()};
        res.set(f::field::server, "jobwatch");
        res.set(f::field::access_control_allow_origin, any_ ? std::string_view("*") : origin);
        res.set(f::field::access_control_allow_methods, "GET, POST, OPTIONS");
        res.set(f::field::access_control_allow_headers, "Authorization, Content-Type, Last-Event-ID");
        res.set(f::field::access_control_max_age, std::to_string(max_age_.count()));
        res.set(f::field::vary, "Origin");
        res.keep_alive(req.keep_alive());
        return res;
    }

    /** @brief The CORS headers of an answer to `req` (for SSE, whose head is
        written by hand): empty when `req` has no `Origin` or it is not allowed,
        so the browser keeps the answer from the page. Each line ends in CRLF. */
    std::string headers_for(request const& req) const
    {
        namespace f = boost::beast::http;
        std::string_view const origin = req[f::field::origin];
        if (origin.empty() || !allows(origin, req[f::field::host]))
            return {};
        return "Access-Control-Allow-Origin: " + std::string(any_ ? std::string_view("*") : origin) +
               "\r\nAccess-Control-Expose-Headers: Retry-After, Location\r\nVary: Origin\r\n";
    }

    /// Adds the CORS headers of `req`'s answer to `res`.
    void decorate(request const& req, response& res) const
    {
        namespace f = boost::beast::http;
        std::string_view const origin = req[f::field::origin];
        if (origin.empty() || !allows(origin, req[f::field::host]))
            return;
        res.set(f::field::access_control_allow_origin, any_ ? std::string_view("*") : origin);
        res.set(f::field::access_control_expose_headers, "Retry-After, Location");
        res.set(f::field::vary, "Origin");
    }

private:
    static bool same_origin(std::string_view origin, std::string_view host)
    {
        if (host.empty())
            return false;
        for (std::string_view scheme : {"http://", "https://"})
            if (origin.size() == scheme.size() + host.size() && origin.substr(0, scheme.size()) == scheme &&
                origin.substr(scheme.size()) == host)
                return true;
        return false;
    }

    std::vector<std::string> origins_;
    bool any_ = false;
    std::chrono::seconds max_age_;
};

}  // namespace jobwatch::http

#endif
