#ifndef JOBWATCH_BULLMQ_MAPPING_HPP
#define JOBWATCH_BULLMQ_MAPPING_HPP

/** @file
    The sans-I/O part of the BullMQ source: stream ids, job ids, and how
    BullMQ's values (progress, stack traces, names) become job event fields.
    Formats as BullMQ 5 and 6 write them (docs/bullmq.md).
*/

#include <jobwatch/messages/job_event.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace jobwatch::bullmq {

/// A Redis stream entry id `<ms>-<seq>`, ordered as Redis orders them.
struct stream_id
{
    std::uint64_t ms = 0;
    std::uint64_t seq = 0;

    static std::optional<stream_id> parse(std::string_view s) noexcept
    {
        auto const dash = s.find('-');
        stream_id id;
        auto const* end = s.data() + (dash == std::string_view::npos ? s.size() : dash);
        auto const [p, ec] = std::from_chars(s.data(), end, id.ms);
        if (ec != std::errc{} || p != end || s.empty())
            return std::nullopt;
        if (dash != std::string_view::npos) {
            auto const* last = s.data() + s.size();
            auto const [q, ec2] = std::from_chars(s.data() + dash + 1, last, id.seq);
            if (ec2 != std::errc{} || q != last)
                return std::nullopt;
        }
        return id;
    }
    std::string text() const { return std::to_string(ms) + "-" + std::to_string(seq); }
    friend auto operator<=>(stream_id const&, stream_id const&) = default;
};

/// True when `s` can name a jobwatch identifier (a room name): 1 to 200 of A-Z a-z 0-9 . _ : @ -.
inline bool is_identifier(std::string_view s) noexcept
{
    return !s.empty() && s.size() <= 200 && std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
               c == '_' || c == ':' || c == '@' || c == '-';
    });
}

/** @brief The jobwatch job id of BullMQ job `id` of `queue`: `<queue>:<id>`.
    BullMQ numbers jobs per queue, jobwatch ids are unique across queues; a
    queue name holds no `:`, so the id reads back unambiguously. nullopt when
    the BullMQ id holds a character an identifier may not (a custom id). */
inline std::optional<std::string> job_id(std::string_view queue, std::string_view id)
{
    std::string out;
    out.reserve(queue.size() + 1 + id.size());
    out.append(queue).append(1, ':').append(id);
    if (!is_identifier(out))
        return std::nullopt;
    return out;
}

/// A job name made into a job_type: characters an identifier may not hold become `_`; empty: nullopt.
inline std::optional<std::string> job_type(std::string_view name)
{
    if (name.empty())
        return std::nullopt;
    std::string out(name.substr(0, 200));
    for (auto& c : out)
        if (!is_identifier(std::string_view(&c, 1)))
            c = '_';
    return out;
}

/// A decimal integer field (`atm`, `processedOn`); nullopt when absent or not one.
inline std::optional<std::int64_t> to_int(std::optional<std::string> const& s) noexcept
{
    if (!s || s->empty())
        return std::nullopt;
    std::int64_t v = 0;
    auto const [p, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
    if (ec != std::errc{} || p != s->data() + s->size())
        return std::nullopt;
    return v;
}

/// Text cut to at most `max` bytes, on a UTF-8 character boundary.
inline std::string clip(std::string_view s, std::size_t max)
{
    if (s.size() <= max)
        return std::string(s);
    std::size_t n = max;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80)
        --n;
    return std::string(s.substr(0, n));
}

/** @brief The exception class of a BullMQ stack trace (`stacktrace` holds a
    JSON array, one entry per failed attempt, the latest last): the part of the
    latest entry's first line before `:` — "Error", "UnrecoverableError",
    "TypeError". nullopt when there is none or it is not an identifier. */
inline std::optional<std::string> error_class(std::string_view stacktrace_json)
{
    boost::system::error_code ec;
    auto v = boost::json::parse(stacktrace_json, ec);
    if (ec || !v.is_array() || v.as_array().empty() || !v.as_array().back().is_string())
        return std::nullopt;
    std::string_view const s = v.as_array().back().as_string();
    auto const line = s.substr(0, s.find('\n'));
    auto const colon = line.find(':');
    auto const cls = line.substr(0, colon == std::string_view::npos ? line.size() : colon);
    if (cls.empty() || cls.size() > 100 || !is_identifier(cls))
        return std::nullopt;
    return std::string(cls);
}

/** @brief The fields of a job.progress from BullMQ's progress value (the
    JSON of `job.updateProgress(v)`).

    @li a number: `percent` (clamped to 0..100);
    @li an object: `percent` from its `percent` or `progress` number, else
        100 * `current` / `total` (or `step` / `of` when both are numbers),
        else `last_percent`; its non-negative integer fields become
        `counters`, `current` and `total` are kept as such, and a string
        `step`, `msg` or `message` becomes `step`;
    @li anything else: nullopt (not a progress jobwatch can show).
*/
inline std::optional<job_progress> progress_of(std::string_view json, double last_percent)
{
    boost::system::error_code ec;
    auto v = boost::json::parse(json, ec);
    if (ec)
        return std::nullopt;
    auto clamp = [](double p) { return std::isfinite(p) ? std::clamp(p, 0.0, 100.0) : 0.0; };
    job_progress p;
    if (v.is_number()) {
        p.percent = clamp(v.to_number<double>());
        return p;
    }
    if (!v.is_object())
        return std::nullopt;
    auto const& o = v.as_object();
    auto number = [&o](std::string_view k) -> std::optional<double> {
        if (auto const* x = o.if_contains(k); x && x->is_number())
            return x->to_number<double>();
        return std::nullopt;
    };
    auto count = [&o](std::string_view k) -> std::optional<std::int64_t> {
        auto const* x = o.if_contains(k);
        if (x && x->is_int64() && x->get_int64() >= 0)
            return x->get_int64();
        if (x && x->is_uint64() && x->get_uint64() <= 9007199254740991ull)
            return static_cast<std::int64_t>(x->get_uint64());
        return std::nullopt;
    };
    p.current = count("current");
    p.total = count("total");
    if (auto pc = number("percent"))
        p.percent = clamp(*pc);
    else if (auto pg = number("progress"))
        p.percent = clamp(*pg);
    else if (p.current && p.total && *p.total > 0)
        p.percent = clamp(100.0 * static_cast<double>(*p.current) / static_cast<double>(*p.total));
    else if (auto s = number("step"), of = number("of"); s && of && *of > 0)
        p.percent = clamp(100.0 * *s / *of);
    else
        p.percent = last_percent;
    counter_map counters;
    for (auto const& [k, x] : o) {
        if (counters.size() >= 100 || k.empty() || k.size() > 100)
            continue;
        if (x.is_int64() && x.get_int64() >= 0 && x.get_int64() <= 9007199254740991ll)
            counters.emplace(std::string(k), x.get_int64());
        else if (x.is_uint64() && x.get_uint64() <= 9007199254740991ull)
            counters.emplace(std::string(k), static_cast<std::int64_t>(x.get_uint64()));
    }
    if (!counters.empty())
        p.counters = std::move(counters);
    for (std::string_view k : {"step", "msg", "message"}) {
        if (auto const* x = o.if_contains(k); x && x->is_string()) {
            p.step = clip(x->as_string(), 500);
            break;
        }
    }
    return p;
}

/// The value of top-level field `field` of a job's data (JSON) as an identifier, if it is one.
inline std::optional<std::string> data_field(std::string_view data_json, std::string_view field)
{
    if (field.empty())
        return std::nullopt;
    boost::system::error_code ec;
    auto v = boost::json::parse(data_json, ec);
    if (ec || !v.is_object())
        return std::nullopt;
    auto const* x = v.as_object().if_contains(field);
    std::string s;
    if (x && x->is_string())
        s = std::string(x->as_string());
    else if (x && (x->is_int64() || x->is_uint64()))
        s = boost::json::serialize(*x);
    if (!is_identifier(s))
        return std::nullopt;
    return s;
}

}  // namespace jobwatch::bullmq

#endif
