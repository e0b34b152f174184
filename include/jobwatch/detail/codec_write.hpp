#ifndef JOBWATCH_DETAIL_CODEC_WRITE_HPP
#define JOBWATCH_DETAIL_CODEC_WRITE_HPP

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

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

}  // namespace jobwatch::detail

#endif
