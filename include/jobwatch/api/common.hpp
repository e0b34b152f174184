#ifndef JOBWATCH_API_COMMON_HPP
#define JOBWATCH_API_COMMON_HPP

/** @file
    What the REST routes share: the route table's types and JSON helpers.
*/

#include <jobwatch/codec.hpp>
#include <jobwatch/detail/codec_write.hpp>
#include <jobwatch/http/request.hpp>
#include <jobwatch/http/router.hpp>

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
