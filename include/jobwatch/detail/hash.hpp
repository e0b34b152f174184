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

/** @brief Transparent hash for the string-keyed maps of the hot path (rooms,
    running jobs): inline FNV-1a. Keys there are short ids, where calling
    libstdc++'s out-of-line murmur hash costs more than hashing; the flat
    maps mix the result again, so FNV's weak high bits do not matter. */
struct short_string_hash
{
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return static_cast<std::size_t>(fnv1a(s)); }
};

/// Transparent equality that compares short keys inline instead of calling memcmp.
struct short_string_equal
{
    using is_transparent = void;
    bool operator()(std::string_view a, std::string_view b) const noexcept
    {
        if (a.size() != b.size())
            return false;
        for (std::size_t i = 0; i < a.size(); ++i)
            if (a[i] != b[i])
                return false;
        return true;
    }
};

}  // namespace jobwatch::detail

#endif
