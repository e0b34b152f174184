#ifndef JOBWATCH_DETAIL_UTF8_HPP
#define JOBWATCH_DETAIL_UTF8_HPP

#include <cstddef>
#include <string>
#include <string_view>

namespace jobwatch::detail {

/** @brief Number of Unicode code points in valid UTF-8 text.

    JSON Schema counts string length in code points, not bytes. The parser has
    already rejected invalid UTF-8, so counting the bytes that do not start
    with `10xxxxxx` is exact.
*/
inline std::size_t utf8_length(std::string_view s) noexcept
{
    std::size_t n = 0;
    for (unsigned char c : s)
        n += (c & 0xC0) != 0x80;
    return n;
}

/** @brief Decodes valid UTF-8 into UTF-32 code points in a `std::wstring`.

    `wchar_t` is 32 bits on the platforms we build for, which lets the
    standard ECMAScript regex grammar match code points rather than bytes.
*/
inline std::wstring utf8_to_wide(std::string_view s)
{
    static_assert(sizeof(wchar_t) == 4, "code point matching needs a 32-bit wchar_t");
    std::wstring out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        auto const c = static_cast<unsigned char>(s[i]);
        char32_t cp = 0;
        std::size_t len = 1;
        if (c < 0x80) {
            cp = c;
        } else if ((c & 0xE0) == 0xC0) {
            cp = c & 0x1F;
            len = 2;
        } else if ((c & 0xF0) == 0xE0) {
            cp = c & 0x0F;
            len = 3;
        } else {
            cp = c & 0x07;
            len = 4;
        }
        for (std::size_t k = 1; k < len && i + k < s.size(); ++k)
            cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
        out.push_back(static_cast<wchar_t>(cp));
        i += len;
    }
    return out;
}

}  // namespace jobwatch::detail

#endif
