#ifndef JOBWATCH_CODEC_HPP
#define JOBWATCH_CODEC_HPP

/** @file
    The runtime half of the generated types: `jobwatch::parse<T>` (validating
    parse with JSON Pointer errors) and `jobwatch::to_json` (direct
    serialization). Generated headers include this one and provide, for each
    type `T` in its namespace, `jobwatch_read` and `jobwatch_write`, found by
    argument-dependent lookup.
*/

#include <jobwatch/detail/codec_read.hpp>
#include <jobwatch/detail/codec_write.hpp>
#include <jobwatch/detail/json_parser.hpp>
#include <jobwatch/detail/json_pull.hpp>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/system_error.hpp>
#include <boost/json/value_from.hpp>
#include <boost/json/value_to.hpp>
#include <boost/system/system_error.hpp>

#include <chrono>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>
#include <type_traits>
#include <utility>
#include <variant>

namespace jobwatch {

/// Version of the contract between jobwatch-codegen output and this header.
inline constexpr int codegen_abi = 2;

/** @brief Why a document was rejected. */
struct parse_error
{
    std::string path;     ///< JSON Pointer (RFC 6901) of the offending value; "" is the root
    std::string message;  ///< what was wrong, in words
};

/** @brief The outcome of `parse<T>`: a `T`, or a `parse_error`.

    @code
    auto r = jobwatch::parse<jobwatch::job_event>(text);
    if (!r) log(r.error().path, r.error().message);
    @endcode
*/
template<class T>
class parse_result
{
public:
    parse_result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
    parse_result(parse_error error) : v_(std::in_place_index<1>, std::move(error)) {}

    explicit operator bool() const noexcept { return v_.index() == 0; }
    bool has_value() const noexcept { return v_.index() == 0; }

    T& operator*() & { return std::get<0>(v_); }
    T const& operator*() const& { return std::get<0>(v_); }
    T&& operator*() && { return std::get<0>(std::move(v_)); }
    T* operator->() { return &std::get<0>(v_); }
    T const* operator->() const { return &std::get<0>(v_); }

    /// Precondition: `!*this`.
    parse_error const& error() const { return std::get<1>(v_); }

private:
    std::variant<T, parse_error> v_;
};

/** @brief Limits applied while parsing text. */
struct parse_options
{
    /// Deepest nesting accepted; deeper input is rejected before any schema check.
    std::size_t max_depth = 64;
};

/** @brief Validates an already parsed JSON value against `T`'s schema. */
template<class T>
parse_result<T> parse_value(boost::json::value const& jv)
{
    // Read straight into the result's storage: no move of a large T afterwards.
    parse_result<T> result{T{}};
    detail::read_context ctx;
    if (!jobwatch_read(ctx, jv, *result))
        result = parse_error{ctx.pointer(), ctx.message()};
    return result;
}

/** @brief Parses and validates JSON text as a `T`.

    Decides exactly as JSON Schema 2020-12 does for the schema `T` was
    generated from, with the documented representation limits: nesting deeper
    than `opt.max_depth`, numbers outside double's range, integers outside
    int64's, and escaped lone surrogates (`"\ud800"`, which no UTF-8 string
    can hold) are rejected. Duplicate keys keep the last value, as most JSON
    parsers (and JSON Schema validators built on them) do.
*/
template<class T>
parse_result<T> parse(std::string_view text, parse_options const& opt = {})
{
    // The fast path reads straight from the text; when it is not sure (a
    // violation, or anything unusual) the DOM path below decides and words
    // the error (see detail::pull_reader).
    if constexpr (requires(detail::pull_reader& r, T& v) { jobwatch_pull(r, v); }) {
        parse_result<T> fast{T{}};
        detail::pull_reader r{text, opt.max_depth};
        if (jobwatch_pull(r, *fast) && r.finish())
            return fast;
    }
    // Small documents parse without touching the heap for the DOM.
    unsigned char buffer[4096];
    boost::json::monotonic_resource mr(buffer, sizeof buffer);
    boost::json::error_code ec;
    auto const jv = detail::parse_json(text, ec, &mr, opt.max_depth);
    if (ec == boost::json::error::exponent_overflow)
        return parse_error{"", "invalid JSON: a number is out of the range of a double"};
    if (ec)
        return parse_error{"", "invalid JSON: " + ec.message()};
    return parse_value<T>(jv);
}

/** @brief Appends `v`'s JSON text to `out`. */
template<class T>
void to_json(std::string& out, T const& v)
{
    detail::json_writer w{out};
    jobwatch_write(w, v);
}

/** @brief The JSON text of `v`. */
template<class T>
std::string to_json(T const& v)
{
    std::string out;
    // Most messages fit: one allocation instead of a doubling series.
    out.reserve(256);
    to_json(out, v);
    return out;
}

/** @brief Error codes of the generated Boost.JSON conversions. */
enum class codec_error
{
    /// The value does not satisfy the schema (see the exception's message).
    schema_violation = 1,
};

/// The category of `codec_error`.
inline boost::system::error_category const& codec_category() noexcept
{
    struct category final : boost::system::error_category
    {
        char const* name() const noexcept override { return "jobwatch.codec"; }
        std::string message(int) const override { return "value does not satisfy the schema"; }
    };
    static category const c;
    return c;
}

inline boost::system::error_code make_error_code(codec_error e) noexcept
{
    return {static_cast<int>(e), codec_category()};
}

namespace detail {

template<class T>
struct is_vector : std::false_type
{};
template<class T, class A>
struct is_vector<std::vector<T, A>> : std::true_type
{};
template<class T>
struct is_map : std::false_type
{};
template<class T, class C, class A>
struct is_map<std::map<std::string, T, C, A>> : std::true_type
{};
template<class T>
struct is_optional : std::false_type
{};
template<class T>
struct is_optional<std::optional<T>> : std::true_type
{};
template<class T>
struct is_variant : std::false_type
{};
template<class... T>
struct is_variant<std::variant<T...>> : std::true_type
{};

/** @brief Builds a `json::value` from a generated type or one of its members.

    Generated types provide `jobwatch_to_value` (found by ADL) and enums
    `to_string`; the standard containers are spelled out here.
*/
template<class T>
boost::json::value to_value(T const& v, boost::json::storage_ptr const& sp)
{
    if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, std::string_view>)
        return boost::json::value(boost::json::string_view{v.data(), v.size()}, sp);
    else if constexpr (std::is_same_v<T, bool>)
        return boost::json::value(v, sp);
    else if constexpr (std::is_same_v<T, std::int64_t>)
        return boost::json::value(v, sp);
    else if constexpr (std::is_same_v<T, std::size_t>)
        return boost::json::value(static_cast<std::int64_t>(v), sp);
    else if constexpr (std::is_same_v<T, std::chrono::milliseconds>)
        return boost::json::value(static_cast<std::int64_t>(v.count()), sp);
    else if constexpr (std::is_same_v<T, std::nullptr_t>)
        return boost::json::value(nullptr, sp);
    else if constexpr (std::is_same_v<T, double>)
        return std::isfinite(v) ? boost::json::value(v, sp) : boost::json::value(nullptr, sp);
    else if constexpr (std::is_same_v<T, boost::json::value> ||
                       std::is_same_v<T, boost::json::object>)
        return boost::json::value(v, sp);
    else if constexpr (std::is_enum_v<T>) {
        auto const s = to_string(v);
        return boost::json::value(boost::json::string_view{s.data(), s.size()}, sp);
    } else if constexpr (is_optional<T>::value)
        return v ? to_value(*v, sp) : boost::json::value(nullptr, sp);
    else if constexpr (is_variant<T>::value)
        return std::visit([&sp](auto const& alt) { return to_value(alt, sp); }, v);
    else if constexpr (is_vector<T>::value) {
        boost::json::array a(sp);
        a.reserve(v.size());
        for (auto const& e : v)
            a.push_back(to_value(e, sp));
        return a;
    } else if constexpr (is_map<T>::value) {
        boost::json::object o(sp);
        o.reserve(v.size());
        for (auto const& [k, e] : v)
            o.emplace(k, to_value(e, sp));
        return o;
    } else
        return jobwatch_to_value(v, sp);
}

/// Shared body of the generated `value_to` conversions.
template<class T>
T value_to_or_throw(boost::json::value const& jv)
{
    auto r = parse_value<T>(jv);
    if (!r)
        throw boost::system::system_error(make_error_code(codec_error::schema_violation),
                                          r.error().path + ": " + r.error().message);
    return std::move(*r);
}

/// Shared body of the generated `try_value_to` conversions.
template<class T>
boost::system::result<T> try_value_to(boost::json::value const& jv)
{
    auto r = parse_value<T>(jv);
    if (!r)
        return make_error_code(codec_error::schema_violation);
    return std::move(*r);
}

}  // namespace detail

/** @brief Boost.JSON conversions of every generated type, written once.

    Each generated header says `using ::jobwatch::codegen_hooks::tag_invoke;`
    in its namespace, so argument-dependent lookup finds these templates for
    the types declared there, and only for types that have a generated
    `jobwatch_read` (containers of them fall through to Boost.JSON's own
    conversions). `value_to` throws `system_error` with
    `codec_error::schema_violation` and the JSON Pointer in its message;
    `try_value_to` returns the error code.
*/
namespace codegen_hooks {

template<class T>
concept generated = requires(detail::read_context& ctx, boost::json::value const& jv, T& out) {
    { jobwatch_read(ctx, jv, out) } -> std::same_as<bool>;
};

template<generated T>
void tag_invoke(boost::json::value_from_tag, boost::json::value& jv, T const& v)
{
    jv = detail::to_value(v, jv.storage());
}

template<generated T>
T tag_invoke(boost::json::value_to_tag<T>, boost::json::value const& jv)
{
    return detail::value_to_or_throw<T>(jv);
}

template<generated T>
boost::system::result<T> tag_invoke(boost::json::try_value_to_tag<T>, boost::json::value const& jv)
{
    return detail::try_value_to<T>(jv);
}

}  // namespace codegen_hooks
}  // namespace jobwatch

template<>
struct boost::system::is_error_code_enum<jobwatch::codec_error> : std::true_type
{};

#endif
