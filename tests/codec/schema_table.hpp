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

/// JSON equality where numbers compare by value: `10` and `10.0` are the
/// same number, and to_json writes a double 10.0 as `10`.
inline bool json_equal(boost::json::value const& a, boost::json::value const& b)
{
    if (a.is_number() && b.is_number())
        return boost::json::value_to<double>(a) == boost::json::value_to<double>(b);
    if (a.is_object() && b.is_object()) {
        auto const& oa = a.get_object();
        auto const& ob = b.get_object();
        if (oa.size() != ob.size())
            return false;
        for (auto const& kv : oa) {
            auto const* other = ob.if_contains(kv.key());
            if (!other || !json_equal(kv.value(), *other))
                return false;
        }
        return true;
    }
    if (a.is_array() && b.is_array()) {
        auto const& xa = a.get_array();
        auto const& xb = b.get_array();
        if (xa.size() != xb.size())
            return false;
        for (std::size_t i = 0; i < xa.size(); ++i)
            if (!json_equal(xa[i], xb[i]))
                return false;
        return true;
    }
    return a == b;
}

/// What the codec tests do with one schema, type-erased.
struct schema_ops
{
    /// parse<T>(text) accepts?
    std::function<bool(std::string_view)> accepts;
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
