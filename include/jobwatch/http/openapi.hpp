#ifndef JOBWATCH_HTTP_OPENAPI_HPP
#define JOBWATCH_HTTP_OPENAPI_HPP

/** @file
    The OpenAPI 3.1 document of the HTTP API. It is generated at build time
    from `schemas/api/operations.json` and the message schemas
    (`codegen/openapi.py`) and embedded here; a server serves the part of it
    that describes the operations it actually has (`docs/operations.md`).

    @par Thread Safety
    Every function here is pure: call it from any thread.
*/

#include <jobwatch/http/router.hpp>
#include <jobwatch/openapi_document.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>
#include <vector>

namespace jobwatch::http {

/// One HTTP operation: what the API document describes and what a server serves.
struct api_operation
{
    std::string method;  ///< lower case, as OpenAPI spells it: `get`, `post`
    std::string path;    ///< `/api/v1/jobs/{id}`
    std::string scope;   ///< `public` (no credentials), `none` (any credentials), `read`, `publish`, `admin`

    friend bool operator==(api_operation const&, api_operation const&) = default;
    friend auto operator<=>(api_operation const&, api_operation const&) = default;
};

/// The document's name of a route's scope.
constexpr std::string_view scope_name(needs s) noexcept
{
    switch (s) {
    case needs::none: return "none";
    case needs::read: return "read";
    case needs::publish: return "publish";
    case needs::admin: return "admin";
    }
    return "none";
}

/// The operations of a route table (GET, not the HEAD that GET also answers).
inline std::vector<api_operation> operations_of(std::vector<route> const& routes)
{
    std::vector<api_operation> out;
    for (auto const& r : routes)
        for (auto v : r.methods) {
            std::string m(boost::beast::http::to_string(v));
            std::transform(m.begin(), m.end(), m.begin(), [](unsigned char c) { return char(std::tolower(c)); });
            out.push_back({std::move(m), r.pattern, std::string(scope_name(r.scope))});
        }
    return out;
}

namespace detail {

// An operation's scope from its `security`: [] is public; else the roles of its first requirement.
inline std::string scope_of(boost::json::object const& op)
{
    auto const* sec = op.if_contains("security");
    if (!sec || !sec->is_array() || sec->as_array().empty())
        return "public";
    auto const& first = sec->as_array().front().as_object();
    if (first.empty())
        return "public";
    auto const& roles = first.begin()->value().as_array();
    return roles.empty() ? "none" : std::string(roles.front().as_string());
}

inline bool is_method(std::string_view k) noexcept
{
    for (std::string_view m : {"get", "put", "post", "delete", "options", "head", "patch", "trace"})
        if (k == m)
            return true;
    return false;
}

}  // namespace detail

/// Every operation the embedded document describes, in its order.
inline std::vector<api_operation> documented_operations()
{
    auto const doc = boost::json::parse(openapi::document);
    std::vector<api_operation> out;
    for (auto const& [path, item] : doc.at("paths").as_object())
        for (auto const& [method, op] : item.as_object())
            if (detail::is_method(method))
                out.push_back({std::string(method), std::string(path), detail::scope_of(op.as_object())});
    return out;
}

/** @brief The embedded document with only the operations in `served`
    (matched by method and path); a path left with none is dropped. The
    components stay whole: they are shared, and unused ones harm no tool. */
inline std::string openapi_document(std::vector<api_operation> const& served)
{
    auto doc = boost::json::parse(openapi::document);
    boost::json::object kept;
    for (auto const& [path, item] : doc.at("paths").as_object()) {
        boost::json::object ops;
        bool any = false;
        for (auto const& [key, op] : item.as_object()) {
            bool const is_op = detail::is_method(key);
            if (is_op && std::none_of(served.begin(), served.end(), [&, &key = key, &path = path](api_operation const& s) {
                    return s.method == key && s.path == path;
                }))
                continue;
            any = any || is_op;
            ops.emplace(key, op);
        }
        if (any)
            kept.emplace(path, std::move(ops));
    }
    doc.as_object()["paths"] = std::move(kept);
    return boost::json::serialize(doc);
}

}  // namespace jobwatch::http

#endif
