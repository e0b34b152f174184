#ifndef JOBWATCH_CLUSTER_STREAM_LOG_HPP
#define JOBWATCH_CLUSTER_STREAM_LOG_HPP

/** @file
    The cluster's ordered log (`cluster.mode: "redis"`): one Redis Stream
    whose entry ids are the sequence numbers themselves (`<seq>-0`). A Lua
    script numbers each event (`INCR` of a counter), drops a producer's
    repeat (`SET NX PX` of its id for the dedup window) and appends it
    (`XADD`), atomically, so every instance that reads the stream gives the
    same event the same number, and a client can resume with `since` on any
    instance. A reader detects a stream trimmed past its position (the next
    entry's number is not the one it expects): it is told, never silently
    skipped.
*/

#include <jobwatch/redis/connection.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace jobwatch::cluster {

/// One entry to append: an event's JSON and its producer id (scoped by its tenant) if it has one, or an alert's.
struct append_item
{
    std::string json;
    std::optional<std::string> dedup_key{};  ///< `tenant/id`; nullopt: never a duplicate
    std::string user{};                      ///< the ingesting principal's user, if bound to one
    bool alert = false;                      ///< an alert (field `a`), not an event (`e`)
};

/// What the log did with one appended event.
struct append_outcome
{
    std::uint64_t seq = 0;   ///< its number; 0 when it was a duplicate
    bool duplicate = false;  ///< its producer id was seen within the dedup window
};

/// One entry read back.
struct log_entry
{
    std::uint64_t seq = 0;
    std::string json;
    std::optional<std::string> user{};  ///< the ingesting principal's user, if bound to one
    bool alert = false;
};

/// What one read found.
struct log_read
{
    std::vector<log_entry> entries{};  ///< in number order
    /// The stream no longer holds every number after the one asked for
    /// (trimmed, `cluster.stream_max_len`): the first entry is not the next number.
    bool gap = false;
};

/** @brief The cluster's ordered log on a Redis Stream.

    @par Thread Safety
    As its connection: only from the connection's executor. A reader that
    blocks (`read_after` with a block time) uses a connection of its own.
*/
class stream_log
{
public:
    struct config
    {
        std::string stream = "jobwatch:events";         ///< the stream's key (the counter and dedup keys derive from it)
        std::uint64_t max_len = 10'000'000;             ///< `XADD MAXLEN ~`: entries kept, about
        std::chrono::milliseconds dedup_window{300'000};  ///< how long a producer id is remembered
    };

    explicit stream_log(config cfg) : cfg_(std::move(cfg)) {}

    config const& settings() const noexcept { return cfg_; }

    /** @brief Numbers and appends `items`, in order, in one script call:
        one round trip for the batch, atomic against other instances.
        @return the error of the request (nothing was appended when the
        request was never written; a lost connection after writing leaves it
        unknown), and one outcome per item. */
    asio::awaitable<std::pair<boost::system::error_code, std::vector<append_outcome>>>
    append(redis::connection& conn, std::vector<append_item> const& items) const
    {
        std::vector<append_outcome> out;
        if (items.empty())
            co_return std::pair{boost::system::error_code{}, std::move(out)};
        // One script call per chunk, all in one request: Redis runs a script
        // to its end before anything else, so a chunk bounds that pause.
        redis::request req;
        auto const head = script_head();
        std::vector<std::string_view> argv;
        for (std::size_t from = 0; from < items.size(); from += per_script) {
            auto const to = std::min(items.size(), from + per_script);
            argv.assign(head.begin(), head.end());
            for (std::size_t i = from; i < to; ++i) {
                auto const& it = items[i];
                argv.emplace_back(it.dedup_key ? std::string_view(*it.dedup_key) : std::string_view{});
                argv.emplace_back(it.alert ? "a" : "e");
                argv.emplace_back(it.json);
                argv.emplace_back(it.user);
            }
            req.push_argv(argv);
        }
        auto [ec, replies] = co_await conn.exec(req);
        if (ec)
            co_return std::pair{ec, std::move(out)};
        out.reserve(items.size());
        for (auto const& rep : replies) {
            auto const* numbers = std::get_if<redis::reply::array_type>(&rep.value());
            if (!numbers)
                break;
            for (auto const& n : *numbers) {
                auto const v = n.to_integer().value_or(0);
                out.push_back({static_cast<std::uint64_t>(v > 0 ? v : 0), v <= 0});
            }
        }
        if (out.size() != items.size())
            co_return std::pair{boost::system::error_code(redis::error::reply_error), std::vector<append_outcome>{}};
        co_return std::pair{boost::system::error_code{}, std::move(out)};
    }

    /** @brief Up to `count` entries numbered after `after`, waiting up to
        `block` for the first (zero: not at all). */
    asio::awaitable<std::pair<boost::system::error_code, log_read>>
    read_after(redis::connection& conn, std::uint64_t after, std::size_t count,
               std::chrono::milliseconds block) const
    {
        redis::request req;
        auto const from = std::to_string(after) + "-0";
        if (block.count() > 0)
            req.push("XREAD", "COUNT", static_cast<std::int64_t>(count), "BLOCK",
                     static_cast<std::int64_t>(block.count()), "STREAMS", cfg_.stream, from);
        else
            req.push("XREAD", "COUNT", static_cast<std::int64_t>(count), "STREAMS", cfg_.stream, from);
        auto [ec, replies] = co_await conn.exec(req);
        log_read r;
        if (ec)
            co_return std::pair{ec, std::move(r)};
        // [[stream, [[id, [field, value, ...]], ...]]], or nil when nothing came.
        // The values are moved out of the reply, not copied.
        auto* streams = std::get_if<redis::reply::array_type>(&replies.at(0).value());
        if (!streams || streams->empty())
            co_return std::pair{boost::system::error_code{}, std::move(r)};
        auto* stream = std::get_if<redis::reply::array_type>(&(*streams)[0].value());
        auto* entries = stream && stream->size() == 2 ? std::get_if<redis::reply::array_type>(&(*stream)[1].value())
                                                      : nullptr;
        if (!entries)
            co_return std::pair{boost::system::error_code(redis::error::reply_error), std::move(r)};
        r.entries.reserve(entries->size());
        for (auto& e : *entries) {
            auto* pair = std::get_if<redis::reply::array_type>(&e.value());
            if (!pair || pair->size() != 2)
                continue;
            auto const seq = seq_of((*pair)[0].string().value_or(""));
            auto* fields = std::get_if<redis::reply::array_type>(&(*pair)[1].value());
            if (!seq || !fields)
                continue;
            log_entry le{.seq = *seq, .json = {}};
            bool body = false;
            for (std::size_t i = 0; i + 1 < fields->size(); i += 2) {
                auto const name = (*fields)[i].string().value_or("");
                auto* value = std::get_if<std::string>(&(*fields)[i + 1].value());
                if (!value)
                    continue;
                if (name == "e" || name == "a") {
                    le.json = std::move(*value);
                    le.alert = name == "a";
                    body = true;
                } else if (name == "u") {
                    le.user = std::move(*value);
                }
            }
            if (body)
                r.entries.push_back(std::move(le));
        }
        r.gap = !r.entries.empty() && r.entries.front().seq != after + 1;
        co_return std::pair{boost::system::error_code{}, std::move(r)};
    }

    /// The number in an entry id (`<seq>-0`), if it is one.
    static std::optional<std::uint64_t> seq_of(std::string_view id) noexcept
    {
        std::uint64_t v = 0;
        auto const [p, ec] = std::from_chars(id.data(), id.data() + id.size(), v);
        if (ec != std::errc{} || p == id.data() || std::string_view(p, static_cast<std::size_t>(id.data() + id.size() - p)) != "-0")
            return std::nullopt;
        return v;
    }

    /// Entries per script call.
    static constexpr std::size_t per_script = 500;

private:
    // KEYS: the stream, its counter, the prefix of dedup keys (one key per
    // producer id: not for Redis Cluster, where one stream lives on one node
    // anyway). ARGV: max_len, window ms, then per entry its dedup key ('' for
    // none), its field (e: an event, a: an alert), its JSON and the bound user
    // ('' for none). Returns one number per entry, 0 for a duplicate.
    static constexpr std::string_view script = R"lua(
local out = {}
local i = 3
while i + 3 <= #ARGV do
  local key = ARGV[i]
  if key ~= '' and not redis.call('SET', KEYS[3] .. key, '1', 'NX', 'PX', ARGV[2]) then
    out[#out + 1] = 0
  else
    local s = redis.call('INCR', KEYS[2])
    if ARGV[i + 3] ~= '' then
      redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], s .. '-0', ARGV[i + 1], ARGV[i + 2], 'u', ARGV[i + 3])
    else
      redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], s .. '-0', ARGV[i + 1], ARGV[i + 2])
    end
    out[#out + 1] = s
  end
  i = i + 4
end
return out
)lua";

    // EVAL, the script, its keys and its two settings; the events follow.
    std::vector<std::string> script_head() const
    {
        return {"EVAL",
                std::string(script),
                "3",
                cfg_.stream,
                cfg_.stream + ":seq",
                cfg_.stream + ":dedup:",
                std::to_string(cfg_.max_len),
                std::to_string(cfg_.dedup_window.count())};
    }

    config cfg_;
};

}  // namespace jobwatch::cluster

#endif
