#ifndef JOBWATCH_REDIS_HEALTH_HPP
#define JOBWATCH_REDIS_HEALTH_HPP

/** @file
    What a Redis connection says about itself, for `/api/v1/health` and
    `readyz`.
*/

#include <boost/system/error_code.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace jobwatch::redis {

/// A snapshot of a `connection`'s or `subscriber`'s state.
struct health_info
{
    using clock = std::chrono::steady_clock;

    /// Connected and past the handshake: requests are being written.
    bool connected = false;
    /// When `connected` last changed (construction time before the first attempt).
    clock::time_point since{};
    /// Round trip of the last answered health PING, through the client's queue
    /// (`nullopt` before the first, or with `health_interval` 0).
    std::optional<clock::duration> last_rtt{};
    /// Connections made after one was lost (the first connection is not counted).
    std::uint64_t reconnects = 0;
    /// Consecutive failed connection attempts (0 while connected).
    std::uint64_t failed_attempts = 0;
    /// Why the last connection ended or the last attempt failed; kept after recovery.
    boost::system::error_code last_error{};
    /// Details of `last_error`: the server's refusal, the resolver's message.
    std::string last_error_text{};
    /// Requests waiting to be written (a `connection`'s; 0 for a subscriber).
    std::size_t queued = 0;
    /// Requests written and waiting for their replies (a `connection`'s; 0 for a subscriber).
    std::size_t in_flight = 0;
};

}  // namespace jobwatch::redis

#endif
