#ifndef JOBWATCH_VERSION_HPP
#define JOBWATCH_VERSION_HPP

#include <string_view>

namespace jobwatch {

/// The jobwatch release (kept equal to the CMake project version).
inline constexpr std::string_view version = "0.1.0";
/// The WebSocket protocol version spoken (sent in `welcome`).
inline constexpr int protocol_version = 1;

}  // namespace jobwatch

#endif
