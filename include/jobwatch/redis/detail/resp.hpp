#ifndef JOBWATCH_REDIS_DETAIL_RESP_HPP
#define JOBWATCH_REDIS_DETAIL_RESP_HPP

/** @file
    RESP2 encoding and parsing, done by hiredis; nothing else of hiredis is used.

    Why hiredis for the protocol rather than a hand-written codec: it is the
    reference C client of the Redis project, well kept, fuzzed, and packaged
    by Debian (`libhiredis-dev`), so the parser that meets bytes from the
    network is one many others run, and security fixes reach us through the
    distribution. Why not its own connection or async adapters (libevent,
    libuv, the `redisAsyncContext`): they own the socket and call back from
    their own event loop, while jobwatch needs Asio's socket, timers,
    cancellation and coroutines on the component's executor; the reader and
    the formatter are pure functions over bytes and fit any I/O.

    Debian 12 ships hiredis 0.14, which speaks RESP2 only (no RESP3 pushes);
    pub/sub messages therefore arrive as arrays on a connection in subscribed
    mode, which is why `subscriber` is a class of its own.
*/

#include <jobwatch/redis/reply.hpp>

#include <hiredis/hiredis.h>

#include <boost/system/error_code.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace jobwatch::redis::detail {

/** @brief Converts hiredis's reply object into an owning `reply` (recursively).
    hiredis bounds the nesting depth itself (7 levels in 0.14), so the recursion is bounded. */
inline reply to_reply(redisReply const& r)
{
    switch (r.type) {
    case REDIS_REPLY_STRING:
        return reply{std::string(r.str, r.len)};
    case REDIS_REPLY_STATUS:
        return reply{status{std::string(r.str, r.len)}};
    case REDIS_REPLY_ERROR:
        return reply{error_reply{std::string(r.str, r.len)}};
    case REDIS_REPLY_INTEGER:
        return reply{static_cast<std::int64_t>(r.integer)};
    case REDIS_REPLY_ARRAY: {
        reply::array_type elements;
        elements.reserve(r.elements);
        for (std::size_t i = 0; i < r.elements; ++i)
            elements.push_back(to_reply(*r.element[i]));
        return reply{std::move(elements)};
    }
    case REDIS_REPLY_NIL:
    default:
        return reply{};
    }
}

/** @brief Appends one command, `argv[0]` being its name, to `out` in RESP
    (`*<n>\r\n$<len>\r\n<arg>\r\n...`), formatted by `redisFormatCommandArgv`.
    `ptrs` and `lens` are scratch space kept by the caller to spare allocations.
    @throws std::bad_alloc if hiredis cannot allocate. */
inline void append_command(std::string& out, std::span<std::string_view const> argv,
                           std::vector<char const*>& ptrs, std::vector<std::size_t>& lens)
{
    ptrs.clear();
    lens.clear();
    for (auto const a : argv) {
        ptrs.push_back(a.data());
        lens.push_back(a.size());
    }
    char* cmd = nullptr;
    int const n =
        redisFormatCommandArgv(&cmd, static_cast<int>(argv.size()), ptrs.data(), lens.data());
    if (n < 0 || cmd == nullptr)
        throw std::bad_alloc{};
    std::unique_ptr<char, decltype(&redisFreeCommand)> owned{cmd, &redisFreeCommand};
    out.append(cmd, static_cast<std::size_t>(n));
}

/** @brief An incremental RESP2 parser: feed bytes as they arrive, take whole replies.

    @par Thread Safety
    One object per connection, used from one thread at a time.
*/
class resp_reader
{
public:
    resp_reader() : r_(redisReaderCreate())
    {
        if (!r_)
            throw std::bad_alloc{};
        // hiredis frees its buffer when it is empty and bigger than maxbuf (16 KiB by
        // default), then grows it again on the next feed; a pipeline's replies come in
        // bigger reads than that, so keep up to 1 MiB.
        r_->maxbuf = 1024 * 1024;
    }

    /// Parsing failed: the reader is unusable, and the connection must be closed.
    bool failed() const noexcept { return r_->err != 0; }
    /// hiredis's description of the failure.
    std::string_view error_text() const noexcept { return r_->errstr; }

    /// Adds received bytes. False on failure (out of memory), as `failed()`.
    bool feed(char const* data, std::size_t n)
    {
        return redisReaderFeed(r_.get(), data, n) == REDIS_OK;
    }

    /** @brief The next whole reply, or `nullopt` if more bytes are needed or
        parsing failed (then `failed()` is true). */
    std::optional<reply> next()
    {
        void* raw = nullptr;
        if (redisReaderGetReply(r_.get(), &raw) != REDIS_OK || raw == nullptr)
            return std::nullopt;
        std::unique_ptr<redisReply, decltype(&freeReplyObject)> owned{static_cast<redisReply*>(raw),
                                                                      &freeReplyObject};
        return to_reply(*owned);
    }

private:
    struct deleter
    {
        void operator()(redisReader* r) const noexcept { redisReaderFree(r); }
    };
    std::unique_ptr<redisReader, deleter> r_;
};

}  // namespace jobwatch::redis::detail

#endif
