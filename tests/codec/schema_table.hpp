// Every generated schema type, by file stem: jobwatch's own schemas and the
// generator's fixtures, from the lists CMake writes at configure time.
#ifndef JOBWATCH_TESTS_CODEC_SCHEMA_TABLE_HPP
#define JOBWATCH_TESTS_CODEC_SCHEMA_TABLE_HPP

#include <jobwatch/codec.hpp>

#include "schema_includes.inc"

#include <boost/json.hpp>

#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>

namespace jobwatch::test {

/// `big` has everything `small` has (defaults may add members); numbers
/// compare by value: `10` and `10.0` are the same number, and to_json writes
/// a double 10.0 as `10`.
inline bool json_contains(boost::json::value const& big, boost::json::value const& small)
{
    if (small.is_number() && big.is_number())
        return boost::json::value_to<double>(small) == boost::json::value_to<double>(big);
    if (small.is_object() && big.is_object()) {
        for (auto const& kv : small.get_object()) {
            auto const* b = big.get_object().if_contains(kv.key());
            if (!b || !json_contains(*b, kv.value()))
                return false;
        }
        return true;
    }
    if (small.is_array() && big.is_array()) {
        auto const& a = small.get_array();
        auto const& b = big.get_array();
        if (a.size() != b.size())
            return false;
        for (std::size_t i = 0; i < a.size(); ++i)
            if (!json_contains(b[i], a[i]))
                return false;
        return true;
    }
    return big == small;
}

/// JSON equality where numbers compare by value.
inline bool json_equal(boost::json::value const& a, boost::json::value const& b)
{
    return json_contains(a, b) && json_contains(b, a);
}

/// What the codec tests do with one schema, type-erased.
struct schema_ops
{
    /// parse<T>(text) accepts?
    std::function<bool(std::string_view)> accepts;
    /// parse<T>(text) (the fast path, with the DOM path behind it) and the
    /// DOM path alone give the same answer and the same value; "" or what differs.
    std::function<std::string(std::string_view)> paths_agree;
    /// parse -> to_json -> parse gives an equal value, and value_from/value_to
    /// round trip too; returns "" or what went wrong.
    std::function<std::string(std::string_view)> round_trip;
};

template<class T>
schema_ops make_schema_ops()
{
    return {
        [](std::string_view text) { return jobwatch::parse<T>(text).has_value(); },
        [](std::string_view text) -> std::string {
            auto const both = jobwatch::parse<T>(text);
            boost::json::error_code ec;
            auto const jv = jobwatch::detail::parse_json(text, ec, {}, 64);
            bool const dom_ok = !ec && jobwatch::parse_value<T>(jv).has_value();
            if (both.has_value() != dom_ok)
                return std::string("parse<T> ") + (both ? "accepts" : "rejects") + ", the DOM path " +
                       (dom_ok ? "accepts" : "rejects");
            if (dom_ok && !(*jobwatch::parse_value<T>(jv) == *both))
                return "parse<T> and the DOM path read different values";
            return {};
        },
        [](std::string_view text) -> std::string {
            auto first = jobwatch::parse<T>(text);
            if (!first)
                return "rejected at " + first.error().path + ": " + first.error().message;
            auto const written = jobwatch::to_json(*first);
            auto second = jobwatch::parse<T>(written);
            if (!second)
                return "own output rejected at " + second.error().path + ": " +
                       second.error().message + " in " + written;
            if (!(*second == *first))
                return "parse(to_json(x)) != x for " + written;
            auto const jv = boost::json::value_from(*first);
            if (!json_equal(jv, boost::json::parse(written)))
                return "value_from(x) differs from to_json(x): " + boost::json::serialize(jv);
            if (!(boost::json::value_to<T>(jv) == *first))
                return "value_to(value_from(x)) != x";
            return {};
        },
    };
}

inline std::map<std::string, schema_ops> const& schemas()
{
    static std::map<std::string, schema_ops> const table = [] {
        std::map<std::string, schema_ops> t;
#define JOBWATCH_SCHEMA(ns, stem)                                                       \
    if (!t.emplace(#stem, make_schema_ops<ns::codegen_roots::stem>()).second)           \
        throw std::logic_error("two schemas named " #stem);
#include "schema_list.inc"
#undef JOBWATCH_SCHEMA
        return t;
    }();
    return table;
}

}  // namespace jobwatch::test

#endif
