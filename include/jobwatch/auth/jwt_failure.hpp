#ifndef JOBWATCH_AUTH_JWT_FAILURE_HPP
#define JOBWATCH_AUTH_JWT_FAILURE_HPP

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace jobwatch::auth {

/** @brief Which check a refused token failed: for counting refusals by cause.

    The human sentence is in `jwt_failure::detail`.
*/
enum class jwt_check : std::uint8_t
{
    size,       ///< empty, or longer than `jwt_settings::max_token_bytes`
    format,     ///< not three parts, or a part is not base64url or not a JSON object
    header,     ///< a header parameter that cannot be honoured (`crit`, nested `cty`, `kid` not a
                ///< string)
    algorithm,  ///< `alg` missing, `none`, unknown, or accepted by no configured key
    key,        ///< no configured key has the token's `kid`
    signature,  ///< the signature is empty, of the wrong length, or does not verify
    expired,    ///< `exp` is past (beyond the leeway), or missing when required
    not_yet_valid,     ///< `nbf` is in the future (beyond the leeway)
    issued_in_future,  ///< `iat` is in the future (beyond the leeway)
    issuer,            ///< `iss` missing or not the configured issuer
    audience,  ///< `aud` missing or not holding the configured audience, or present when none is
               ///< configured
    claims,  ///< `sub`, the tenant or user claim, the scopes, or a time claim has the wrong type or
             ///< form
};

/// How many `jwt_check` there are.
inline constexpr std::size_t jwt_check_count = 12;

/// A short name of `c` for counters and logs (`"signature"`).
constexpr std::string_view to_string(jwt_check c) noexcept
{
    constexpr std::array<std::string_view, jwt_check_count> names = {
        "size",    "format",        "header",           "algorithm", "key",      "signature",
        "expired", "not_yet_valid", "issued_in_future", "issuer",    "audience", "claims"};
    return names[static_cast<std::size_t>(c)];
}

/** @brief Why a token was refused.

    `detail` is one short sentence naming the failed check, fit for the
    `detail` of a 401 problem+json: it never holds the token, a secret or a
    key, and text taken from the token (a `kid`, an `iss`) is quoted,
    escaped and shortened.
*/
struct jwt_failure
{
    jwt_check check = jwt_check::format;
    std::string detail;

    friend bool operator==(jwt_failure const&, jwt_failure const&) = default;
};

}  // namespace jobwatch::auth

namespace jobwatch::detail {

/** @brief `s` in double quotes, fit for a message: quotes and backslashes
    escaped, bytes outside printable ASCII written as `\xNN`, and cut after
    `max` bytes with `...`. For text that comes from a token, which an
    attacker chooses. */
inline std::string quote_untrusted(std::string_view s, std::size_t max = 64)
{
    constexpr char hex[] = "0123456789abcdef";
    std::string out = "\"";
    for (std::size_t i = 0; i < s.size() && i < max; ++i) {
        auto const c = static_cast<unsigned char>(s[i]);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20 || c > 0x7e) {
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 0xf];
        } else {
            out += static_cast<char>(c);
        }
    }
    if (s.size() > max)
        out += "...";
    out += '"';
    return out;
}

}  // namespace jobwatch::detail

#endif
