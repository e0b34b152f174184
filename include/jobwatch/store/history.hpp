#ifndef JOBWATCH_STORE_HISTORY_HPP
#define JOBWATCH_STORE_HISTORY_HPP

/** @file
    What the REST API asks of durable history (`storage.mode: sqlite`) about
    what memory no longer holds: jobs the store evicted, their events and log
    lines, and dead-letter entries older than the dead-letter list keeps.
    The journal (`storage/journal.hpp`) answers from its file, on a reader
    thread of its own; the core thread only waits.
*/

#include <jobwatch/messages/dead_letter_entry.hpp>
#include <jobwatch/messages/job_snapshot.hpp>
#include <jobwatch/store/job_store.hpp>

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace jobwatch {

/// A job kept in the file when it left memory: its last snapshot, as JSON.
struct archived_job
{
    std::int64_t updated_ms = 0;  ///< its `updated_at`, epoch milliseconds (the list's order)
    std::uint64_t seq = 0;        ///< its last event's number (ties)
    std::string tenant_id{};      ///< empty: no tenant
    std::string job_id{};
    std::string user_id{};        ///< empty: none
    std::string body{};           ///< the `job_snapshot`, as the API answers it
};

/// A page of archived jobs (`GET /api/v1/jobs` beyond memory).
struct archived_jobs
{
    std::vector<archived_job> jobs{};  ///< the first `keep` matches, newest-updated first
    std::uint64_t total = 0;           ///< every match
    std::string error{};               ///< non-empty: the file could not be read
};

/// Archived jobs with one id.
struct archived_job_matches
{
    std::vector<archived_job> jobs{};  ///< at most two (two: several tenants have it)
    std::string error{};
};

/// A journaled job event.
struct journaled_event
{
    std::uint64_t seq = 0;
    std::string body{};  ///< the event as it was delivered
};

/// A job's journaled events.
struct journaled_events
{
    std::vector<journaled_event> events{};  ///< oldest first
    bool complete = true;                   ///< false: retention may have deleted older ones
    std::string error{};
};

/// Dead-letter entries from the file, newest first.
struct archived_dead_letters
{
    std::vector<journaled_event> entries{};  ///< seq: the number of the event that made it; body: the entry
    std::string error{};
};

/** @brief Durable history, as the core and the REST API see it.

    `archive` runs on the core thread and only queues; the queries run on the
    history's own reader thread and resume the caller on its executor.
*/
class history
{
public:
    virtual ~history() = default;

    /// Keeps a job that is leaving memory (core thread).
    virtual void archive(job_snapshot job, std::int64_t updated_ms) = 0;
    /// A job of that tenant and id is in memory again (new): the file's earlier one is dropped (core thread).
    virtual void forget(std::string_view tenant, std::string_view job_id) = 0;
    /// Keeps a dead-letter entry made by event `seq` (core thread).
    virtual void archive(std::uint64_t seq, dead_letter_entry const& entry) = 0;

    /// Resumes once everything handed over so far is committed (or a commit failed).
    virtual asio::awaitable<void> flushed() = 0;
    /// The first `keep` archived jobs matching `q` (its filters), and how many match.
    virtual asio::awaitable<archived_jobs> jobs(job_query q, std::size_t keep) = 0;
    /// The archived jobs `job_id` of `tenant` (nullopt: of any tenant).
    virtual asio::awaitable<archived_job_matches> job(std::optional<std::string> tenant, std::string job_id) = 0;
    /// The journaled events of a job numbered above `after`, at most `limit`; `logs_only`: its job.log lines.
    virtual asio::awaitable<journaled_events> events_of(std::string tenant, std::string job_id, std::uint64_t after,
                                                        std::size_t limit, bool logs_only) = 0;
    /// Dead-letter entries made by events numbered below `before`, of `tenant` and `user` when set.
    virtual asio::awaitable<archived_dead_letters> dead_letters(std::uint64_t before, std::optional<std::string> tenant,
                                                                std::optional<std::string> user,
                                                                std::size_t limit) = 0;
};

}  // namespace jobwatch

#endif
