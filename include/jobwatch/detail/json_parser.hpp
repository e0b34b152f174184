#ifndef JOBWATCH_DETAIL_JSON_PARSER_HPP
#define JOBWATCH_DETAIL_JSON_PARSER_HPP

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/value.hpp>
#include <boost/json/value_stack.hpp>

#include <charconv>
#include <cmath>
#include <string>
#include <string_view>
#include <system_error>

namespace jobwatch::detail {

/** @brief A Boost.JSON handler that builds a `value` with correctly rounded doubles.

    Boost.JSON 1.81's built-in number conversion is not correctly rounded (about
    a third of random doubles written in shortest form parse back one ulp off;
    precise parsing arrived in 1.83). JSON Schema bounds and round trips need the
    exact value, so doubles are re-read from their text with `std::from_chars`,
    which is correctly rounded. Everything else is `boost::json::value_stack`,
    exactly as `boost::json::parser` does it.
*/
struct precise_handler
{
    static constexpr std::size_t max_object_size = boost::json::object::max_size();
    static constexpr std::size_t max_array_size = boost::json::array::max_size();
    static constexpr std::size_t max_key_size = boost::json::string::max_size();
    static constexpr std::size_t max_string_size = boost::json::string::max_size();

    boost::json::value_stack st;
    std::string number_;  // parts of a number split across input buffers

    /// `buffer` holds the value stack's scratch space, so small documents need no heap.
    precise_handler(unsigned char* buffer, std::size_t size) : st({}, buffer, size) {}

    using ec_t = boost::json::error_code;
    using sv_t = boost::json::string_view;

    bool on_document_begin(ec_t&) { return true; }
    bool on_document_end(ec_t&) { return true; }
    bool on_object_begin(ec_t&) { return true; }
    bool on_object_end(std::size_t n, ec_t&)
    {
        st.push_object(n);
        return true;
    }
    bool on_array_begin(ec_t&) { return true; }
    bool on_array_end(std::size_t n, ec_t&)
    {
        st.push_array(n);
        return true;
    }
    bool on_key_part(sv_t s, std::size_t, ec_t&)
    {
        st.push_chars(s);
        return true;
    }
    bool on_key(sv_t s, std::size_t, ec_t&)
    {
        st.push_key(s);
        return true;
    }
    bool on_string_part(sv_t s, std::size_t, ec_t&)
    {
        st.push_chars(s);
        return true;
    }
    bool on_string(sv_t s, std::size_t, ec_t&)
    {
        st.push_string(s);
        return true;
    }
    bool on_number_part(sv_t s, ec_t&)
    {
        number_.append(s.data(), s.size());
        return true;
    }
    bool on_int64(std::int64_t i, sv_t, ec_t&)
    {
        number_.clear();
        st.push_int64(i);
        return true;
    }
    bool on_uint64(std::uint64_t u, sv_t, ec_t&)
    {
        number_.clear();
        st.push_uint64(u);
        return true;
    }
    bool on_double(double d, sv_t s, ec_t& ec)
    {
        std::string_view text{s.data(), s.size()};
        if (!number_.empty()) {
            number_.append(s.data(), s.size());
            text = number_;
        }
        double exact = 0;
        auto const r = std::from_chars(text.data(), text.data() + text.size(), exact);
        number_.clear();
        if (r.ec == std::errc::result_out_of_range && std::isfinite(d) && std::abs(d) < 1) {
            exact = d;  // underflow: the nearest double is (signed) zero
        } else if (r.ec != std::errc{} || !std::isfinite(exact)) {
            // A number a double cannot hold (1e400, a 400-digit integer) is
            // rejected rather than turned into infinity.
            ec = boost::json::error::exponent_overflow;
            return false;
        }
        st.push_double(exact);
        return true;
    }
    bool on_bool(bool b, ec_t&)
    {
        st.push_bool(b);
        return true;
    }
    bool on_null(ec_t&)
    {
        st.push_null();
        return true;
    }
    bool on_comment_part(sv_t, ec_t&) { return true; }
    bool on_comment(sv_t, ec_t&) { return true; }
};

/** @brief Parses one complete JSON text into a value with exact doubles.
    @param storage where the value's memory comes from (a monotonic resource on
    the hot path).
    @param max_depth bound on nesting, so hostile input cannot exhaust the stack.
*/
inline boost::json::value parse_json(std::string_view text, boost::json::error_code& ec,
                                     boost::json::storage_ptr storage, std::size_t max_depth)
{
    boost::json::parse_options opt;
    opt.max_depth = max_depth;
    unsigned char scratch[2048];
    boost::json::basic_parser<precise_handler> p{opt, scratch, sizeof scratch};
    p.handler().st.reset(std::move(storage));
    auto const n = p.write_some(false, text.data(), text.size(), ec);
    if (!ec && n < text.size())
        ec = boost::json::error::extra_data;
    if (ec)
        return nullptr;
    return p.handler().st.release();
}

}  // namespace jobwatch::detail

#endif
