#ifndef JOBWATCH_MONITOR_QUEUE_COUNTS_HPP
#define JOBWATCH_MONITOR_QUEUE_COUNTS_HPP

#include <cstdint>

namespace jobwatch {

/** @brief A queue's job counts as its own broker reports them (BullMQ's
    containers in Redis), which queue health then reports instead of the
    counts it derives from events: a broker knows jobs jobwatch never saw,
    and forgets jobs it removed. */
struct queue_counts
{
    std::uint64_t waiting = 0;    ///< ready to run (held instead while `paused`)
    std::uint64_t active = 0;     ///< being processed
    std::uint64_t delayed = 0;    ///< waiting for a delay or a retry back-off
    std::uint64_t completed = 0;  ///< finished and retained by the broker
    std::uint64_t failed = 0;     ///< failed for good and retained by the broker
    bool paused = false;          ///< the queue is paused
    friend bool operator==(queue_counts const&, queue_counts const&) = default;
};

}  // namespace jobwatch

#endif
