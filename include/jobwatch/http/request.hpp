#ifndef JOBWATCH_HTTP_REQUEST_HPP
#define JOBWATCH_HTTP_REQUEST_HPP

#include <jobwatch/detail/codec_write.hpp>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace jobwatch::http {

using request = boost::beast::http::request<boost::beast::http::string_body>;
using response = boost::beast::http::response<boost::beast::http::string_body>;
using status = boost::beast::http::status;
using verb = boost::beast::http::verb;

/// A request target split into its decoded path and query parameters.
struct target
{
    std::string path;
    std::vector<std::pair<std::string, std::string>> params;
    bool bad = false;  ///< a malformed percent escape

    /// The first value of parameter `name`.
    std::optional<std::string_view> get(std::string_view name) const
    {
        for (auto const& [k, v] : params)
            if (k == name)
                return std::string_view(v);
        return std::nullopt;
    }

    /// Every value of parameter `name`, in order.
    std::vector<std::string> all(std::string_view name) const
    {
        std::vector<std::string> out;
        for (auto const& [k, v] : params)
            if (k == name)
                out.push_back(v);
        return out;
    }
};

namespace detail {

inline bool percent_decode(std::string_view in, std::string& out, bool plus_is_space)
{
    out.clear();
    out.reserve(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        char const c = in[i];
        if (c == '+' && plus_is_space) {
            out.push_back(' ');
        } else if (c == '%') {
            if (i + 2 >= in.size())
                return false;
            unsigned v = 0;
            auto const r = std::from_chars(in.data() + i + 1, in.data() + i + 3, v, 16);
            if (r.ec != std::errc{} || r.ptr != in.data() + i + 3)
                return false;
            out.push_back(static_cast<char>(v));
            i += 2;
        } else {
            out.push_back(c);
        }
    }
    return true;
}

}  // namespace detail

/// Splits and decodes `raw` ("/api/v1/jobs?status=failed&limit=10").
inline target parse_target(std::string_view raw)
{
    target t;
    auto const q = raw.find('?');
    if (!detail::percent_decode(raw.substr(0, q), t.path, false))
        t.bad = true;
    if (q == std::string_view::npos)
        return t;
    auto query = raw.substr(q + 1);
    while (!query.empty()) {
        auto const amp = query.find('&');
        auto const part = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (part.empty())
            continue;
        auto const eq = part.find('=');
        std::string k, v;
        if (!detail::percent_decode(part.substr(0, eq), k, true) ||
            !detail::percent_decode(eq == std::string_view::npos ? std::string_view{} : part.substr(eq + 1), v, true))
            t.bad = true;
        t.params.emplace_back(std::move(k), std::move(v));
    }
    return t;
}

/// Reads a non-negative integer parameter; nullopt when absent; `bad` when not a number.
inline std::optional<std::uint64_t> to_uint(std::string_view s, bool& bad)
{
    std::uint64_t v = 0;
    auto const r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || r.ec != std::errc{} || r.ptr != s.data() + s.size()) {
        bad = true;
        return std::nullopt;
    }
    return v;
}

/** @brief Parameter `name` as a non-negative integer: `fallback` when absent,
    `bad` set when present but not a number. (A plain value rather than an
    optional: GCC 12 warns falsely about optionals built in a conditional.) */
inline std::uint64_t uint_param(target const& t, std::string_view name, std::uint64_t fallback, bool& bad)
{
    auto const v = t.get(name);
    if (!v)
        return fallback;
    auto const n = to_uint(*v, bad);
    return n ? *n : fallback;
}

/// A JSON response.
inline response json_response(request const& req, status st, std::string body)
{
    response res{st, req.version()};
    res.set(boost::beast::http::field::server, "jobwatch");
    res.set(boost::beast::http::field::content_type, "application/json");
    res.set(boost::beast::http::field::cache_control, "no-store");
    res.keep_alive(req.keep_alive());
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
}

namespace detail {

/** @brief `s` with every byte that is not part of valid UTF-8 replaced by
    U+FFFD: text from a request (a path, a parameter) may be anything, and a
    JSON answer must be valid UTF-8. */
inline std::string valid_utf8(std::string_view s)
{
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        auto const c = static_cast<unsigned char>(s[i]);
        std::size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
        bool ok = len > 0 && i + len <= s.size();
        for (std::size_t k = 1; ok && k < len; ++k)
            ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
        if (ok && len > 1) {
            // No overlong forms, surrogates or code points past U+10FFFF.
            auto const c1 = static_cast<unsigned char>(s[i + 1]);
            ok = !(len == 2 && c < 0xC2) && !(len == 3 && c == 0xE0 && c1 < 0xA0) &&
                 !(len == 3 && c == 0xED && c1 >= 0xA0) && !(len == 4 && c == 0xF0 && c1 < 0x90) &&
                 !(len == 4 && (c > 0xF4 || (c == 0xF4 && c1 >= 0x90)));
        }
        if (!ok) {
            out += "\xEF\xBF\xBD";
            ++i;
            continue;
        }
        out.append(s.substr(i, len));
        i += len;
    }
    return out;
}

}  // namespace detail

/** @brief An RFC 9457 problem document: `type`, `title`, `status`, `detail`,
    plus `extra` members (already JSON text, e.g. `"pointer":"/queue"`). */
inline response problem(request const& req, status st, std::string_view detail, std::string_view extra = {})
{
    std::string body;
    ::jobwatch::detail::json_writer w(body);
    w.raw(R"({"type":"about:blank","title":)");
    w.string(boost::beast::http::obsolete_reason(st));
    w.raw(R"(,"status":)");
    w.integer(static_cast<int>(st));
    w.raw(R"(,"detail":)");
    w.string(::jobwatch::http::detail::valid_utf8(detail));
    if (!extra.empty()) {
        w.raw(',');
        w.raw(extra);
    }
    w.raw('}');
    auto res = json_response(req, st, std::move(body));
    res.set(boost::beast::http::field::content_type, "application/problem+json");
    return res;
}

/// 405 with the `Allow` header listing what the resource takes.
inline response method_not_allowed(request const& req, std::string_view allow)
{
    auto res = problem(req, status::method_not_allowed,
                       std::string(req.method_string()) + " is not allowed here; allowed: " + std::string(allow));
    res.set(boost::beast::http::field::allow, allow);
    return res;
}

/// The media type of a request, without parameters, lower case.
inline std::string media_type(request const& req)
{
    auto ct = std::string(req[boost::beast::http::field::content_type]);
    if (auto semi = ct.find(';'); semi != std::string::npos)
        ct.resize(semi);
    while (!ct.empty() && ct.back() == ' ')
        ct.pop_back();
    for (auto& c : ct)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return ct;
}

}  // namespace jobwatch::http

#endif
