#ifndef JOBWATCH_GATEWAY_DASHBOARD_HPP
#define JOBWATCH_GATEWAY_DASHBOARD_HPP

/** @file
    The browser dashboard's files, served at `/` and `/assets/...` when
    `gateway.dashboard` is on. They are built from `dashboard/` and embedded
    into the binary at build time (target `jobwatch::dashboard`): nothing to
    install beside it, no CDN.
*/

#include <jobwatch/http/request.hpp>

#if __has_include(<jobwatch/dashboard_assets.hpp>)
#include <jobwatch/dashboard_assets.hpp>
#define JOBWATCH_DASHBOARD_BUILT 1
#endif

#include <optional>
#include <string_view>

namespace jobwatch::gw {

/// Whether this binary carries the dashboard (it was built with `jobwatch::dashboard`).
constexpr bool dashboard_built() noexcept
{
#ifdef JOBWATCH_DASHBOARD_BUILT
    return true;
#else
    return false;
#endif
}

// Whether the request takes a gzip body (`Accept-Encoding: gzip`, not refused with q=0).
// (Not in a nested `detail`: that would hide jobwatch::detail from the gateway's code.)
inline bool accepts_gzip(std::string_view accept) noexcept
{
    for (std::size_t at = 0; at < accept.size();) {
        auto const end = std::min(accept.find(',', at), accept.size());
        auto item = accept.substr(at, end - at);
        at = end + 1;
        while (!item.empty() && item.front() == ' ')
            item.remove_prefix(1);
        auto const semi = item.find(';');
        auto name = item.substr(0, semi);
        while (!name.empty() && name.back() == ' ')
            name.remove_suffix(1);
        if (name != "gzip" && name != "*")
            continue;
        auto const params = semi == std::string_view::npos ? std::string_view{} : item.substr(semi);
        return params.find("q=0") == std::string_view::npos || params.find("q=0.") != std::string_view::npos;
    }
    return false;
}

/** @brief The dashboard's answer to `req` for `path` (`/` is `/index.html`),
    or nullopt when the path is not one of its files (or it is not built).
    GET and HEAD only; gzip when the client takes it. Public: the files hold
    no data (the page asks the API, with the user's token). */
inline std::optional<http::response> dashboard_answer(http::request const& req, std::string_view path)
{
#ifdef JOBWATCH_DASHBOARD_BUILT
    namespace bhttp = boost::beast::http;
    bool const head = req.method() == bhttp::verb::head;
    if (req.method() != bhttp::verb::get && !head)
        return std::nullopt;
    std::string_view const p = path == "/" ? std::string_view("/index.html") : path;
    for (auto const& f : dashboard_assets::files) {
        if (f.path != p)
            continue;
        bool const gz = accepts_gzip(req[bhttp::field::accept_encoding]);
        std::string_view const body = gz ? f.gzip : f.body;
        http::response res{http::status::ok, req.version()};
        res.set(bhttp::field::server, "jobwatch");
        res.set(bhttp::field::content_type, f.content_type);
        // The names carry no hash: check again each time (cheap: the files are in memory).
        res.set(bhttp::field::cache_control, "no-cache");
        res.set(bhttp::field::vary, "Accept-Encoding");
        res.set("X-Content-Type-Options", "nosniff");
        res.set("Content-Security-Policy",
                "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                "frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
        if (gz)
            res.set(bhttp::field::content_encoding, "gzip");
        res.keep_alive(req.keep_alive());
        if (head) {
            res.content_length(body.size());
        } else {
            res.body().assign(body.data(), body.size());
            res.prepare_payload();
        }
        return res;
    }
#else
    (void)req;
    (void)path;
#endif
    return std::nullopt;
}

}  // namespace jobwatch::gw

#endif
