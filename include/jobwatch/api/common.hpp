#ifndef JOBWATCH_API_COMMON_HPP
#define JOBWATCH_API_COMMON_HPP

/** @file
    What the REST routes share: the route table's types and JSON helpers.
*/

#include <jobwatch/codec.hpp>
#include <jobwatch/detail/codec_write.hpp>
#include <jobwatch/http/request.hpp>
#include <jobwatch/http/router.hpp>
#include <jobwatch/logger.hpp>

#include <string>
#include <string_view>

namespace jobwatch::api {

using ::jobwatch::detail::json_writer;

/// `"pointer":"<p>"`, a problem document's member naming the offending value.
inline std::string pointer_member(std::string_view pointer)
{
    std::string out;
    json_writer w(out);
    w.raw(R"("pointer":)");
    w.string(pointer);
    return out;
}

/// 503 with `Retry-After: 1`: something the answer needs cannot be reached now.
inline http::response unavailable(http::request const& req, std::string_view detail)
{
    auto res = http::problem(req, http::status::service_unavailable, detail);
    res.set(boost::beast::http::field::retry_after, "1");
    return res;
}

/** @brief 503 `storage unavailable: <detail>` with `Retry-After: 1`: the
    durable journal cannot write, or its file cannot be read, now. */
inline http::response storage_unavailable(http::request const& req, std::string_view detail)
{
    return unavailable(req, "storage unavailable: " + std::string(detail));
}

/// The answer when durable history cannot be read: the reason is logged, not answered.
inline http::response history_unavailable(http::request const& req, logger const& log, std::string const& error)
{
    log.error("storage", "reading history: " + error);
    return storage_unavailable(req, "history cannot be read now");
}

/// `"parameter":"<name>"`, naming the offending query parameter.
inline std::string parameter_member(std::string_view name)
{
    std::string out;
    json_writer w(out);
    w.raw(R"("parameter":)");
    w.string(name);
    return out;
}

}  // namespace jobwatch::api

#endif
