#ifndef JOBWATCH_DETAIL_HASH_HPP
#define JOBWATCH_DETAIL_HASH_HPP

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace jobwatch::detail {

/** @brief 64-bit FNV-1a: a digest stable across platforms, standard
    libraries and versions, for identifiers that leave the process (alert
    ids); never for security, and not for tables (`hash_string`). */
constexpr std::uint64_t fnv1a(std::string_view s, std::uint64_t h = 0xcbf29ce484222325ull) noexcept
{
    for (char c : s) {
        h ^= static_cast<unsigned char>(c);
        h *= 0x100000001b3ull;
    }
    return h;
}

/** @brief The one hash of strings for jobwatch's maps: eight bytes at a
    time, multiply-xorshift, then murmur3's finalizer, so that the low bits
    (a bucket) depend on every input bit. Inline: keys are short ids, where
    calling libstdc++'s out-of-line murmur hash costs more than hashing.
    `seed` lets a table pick its own (the job store does, so that ids cannot
    be chosen in advance to collide). Not for security, nor stable across
    versions (use `fnv1a` for a stable digest). */
inline std::uint64_t hash_string(std::string_view s, std::uint64_t seed = 0) noexcept
{
    std::uint64_t h = seed ^ (s.size() * 0x9e3779b97f4a7c15ull);
    auto const* p = s.data();
    auto n = s.size();
    for (; n >= 8; p += 8, n -= 8) {
        std::uint64_t w;
        std::memcpy(&w, p, 8);
        h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
    }
    if (n != 0) {
        std::uint64_t w = 0;
        for (std::size_t i = 0; i < n; ++i)
            w |= std::uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
        h = (h ^ w) * 0x94d049bb133111ebull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

/// Transparent `hash_string` for string-keyed maps: look-ups by `std::string_view` without a copy.
struct string_hash
{
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return static_cast<std::size_t>(hash_string(s)); }
};

/// Transparent equality that compares short keys inline instead of calling memcmp.
struct string_equal
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
