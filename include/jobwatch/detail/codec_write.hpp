#ifndef JOBWATCH_DETAIL_CODEC_WRITE_HPP
#define JOBWATCH_DETAIL_CODEC_WRITE_HPP

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

namespace jobwatch::detail {

/** @brief Appends JSON text to a string, with no intermediate `json::value`.

    Generated `jobwatch_write` functions emit object keys as precomputed
    literals (`,"job_id":`) and only escape the values, which is what makes
    `to_json` several times faster than `serialize(value_from(x))`.
*/
class json_writer
{
public:
    explicit json_writer(std::string& out) noexcept : out_(out) {}

    void raw(std::string_view s) { out_.append(s); }
    void raw(char c) { out_.push_back(c); }

    void string(std::string_view s)
    {
        out_.reserve(out_.size() + s.size() + 2);
        out_.push_back('"');
        std::size_t clean = 0;
        for (std::size_t i = 0; i < s.size(); ++i) {
            auto const c = static_cast<unsigned char>(s[i]);
            if (c >= 0x20 && c != '"' && c != '\\')
                continue;
            out_.append(s.data() + clean, i - clean);
            clean = i + 1;
            escape(c);
        }
        out_.append(s.data() + clean, s.size() - clean);
        out_.push_back('"');
    }

    void integer(std::int64_t v)
    {
        char buf[24];
        auto const r = std::to_chars(buf, buf + sizeof buf, v);
        out_.append(buf, r.ptr);
    }

    /// Shortest text that reads back to the same double; non-finite as null.
    void number(double v)
    {
        if (!std::isfinite(v)) {
            out_.append("null");
            return;
        }
        char buf[32];
        auto const r = std::to_chars(buf, buf + sizeof buf, v);
        out_.append(buf, r.ptr);
    }

    void boolean(bool v) { out_.append(v ? "true" : "false"); }
    void null() { out_.append("null"); }

    void any(boost::json::value const& v) { out_.append(boost::json::serialize(v)); }

private:
    void escape(unsigned char c)
    {
        switch (c) {
        case '"': out_.append("\\\""); return;
        case '\\': out_.append("\\\\"); return;
        case '\n': out_.append("\\n"); return;
        case '\r': out_.append("\\r"); return;
        case '\t': out_.append("\\t"); return;
        case '\b': out_.append("\\b"); return;
        case '\f': out_.append("\\f"); return;
        default: {
            static constexpr char hex[] = "0123456789abcdef";
            char const u[] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
            out_.append(u, sizeof u);
        }
        }
    }

    std::string& out_;
};

/** @brief Writes any member of a generated type.

    The standard types are spelled out here; generated types and enums
    provide `jobwatch_write`, found by argument-dependent lookup.
*/
template<class T>
void write_value(json_writer& w, T const& v)
{
    if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, std::string_view>)
        w.string(v);
    else if constexpr (std::is_same_v<T, bool>)
        w.boolean(v);
    else if constexpr (std::is_same_v<T, std::int64_t>)
        w.integer(v);
    else if constexpr (std::is_same_v<T, std::size_t>)
        w.integer(static_cast<std::int64_t>(v));
    else if constexpr (std::is_same_v<T, std::chrono::milliseconds>)
        w.integer(static_cast<std::int64_t>(v.count()));
    else if constexpr (std::is_same_v<T, double>)
        w.number(v);
    else if constexpr (std::is_same_v<T, std::nullptr_t>)
        w.null();
    else if constexpr (std::is_same_v<T, boost::json::value>)
        w.any(v);
    else if constexpr (std::is_same_v<T, boost::json::object>)
        w.any(boost::json::value(v));
    else if constexpr (requires { v.has_value(); *v; }) {
        if (v)
            write_value(w, *v);
        else
            w.null();
    } else if constexpr (requires { v.index(); v.valueless_by_exception(); })
        std::visit([&w](auto const& alt) { write_value(w, alt); }, v);
    else if constexpr (requires { v.begin()->first; v.begin()->second; }) {
        w.raw('{');
        bool first = true;
        for (auto const& [key, value] : v) {
            if (!first)
                w.raw(',');
            first = false;
            w.string(key);
            w.raw(':');
            write_value(w, value);
        }
        w.raw('}');
    } else if constexpr (requires { v.begin(); v.size(); }) {
        w.raw('[');
        bool first = true;
        for (auto const& e : v) {
            if (!first)
                w.raw(',');
            first = false;
            write_value(w, e);
        }
        w.raw(']');
    } else
        jobwatch_write(w, v);
}

}  // namespace jobwatch::detail

#endif
