#ifndef JOBWATCH_DETAIL_HASH_HPP
#define JOBWATCH_DETAIL_HASH_HPP

#include <cstdint>
#include <string_view>

namespace jobwatch::detail {

/** @brief 64-bit FNV-1a: stable across platforms and standard libraries
    (unlike std::hash), for seeds and shortened ids; never for security. */
constexpr std::uint64_t fnv1a(std::string_view s, std::uint64_t h = 0xcbf29ce484222325ull) noexcept
{
    for (char c : s) {
        h ^= static_cast<unsigned char>(c);
        h *= 0x100000001b3ull;
    }
    return h;
}

}  // namespace jobwatch::detail

#endif
