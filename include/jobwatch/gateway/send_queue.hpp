#ifndef JOBWATCH_GATEWAY_SEND_QUEUE_HPP
#define JOBWATCH_GATEWAY_SEND_QUEUE_HPP

/** @file
    One connection's bounded send queue and its overflow ladder, without I/O:
    what is pushed, what the writer sends next, what it has written.
*/

#include <jobwatch/detail/hash.hpp>
#include <jobwatch/gateway/wire.hpp>

#include <boost/asio/buffer.hpp>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace jobwatch::gw {

/** @brief What became of a message pushed to a send queue.

    uWebSockets makes back-pressure explicit with SUCCESS / BACKPRESSURE /
    DROPPED; the steps of our ladder are named the same way.
*/
enum class send_status : std::uint8_t
{
    queued,     ///< in the queue, within its bounds
    coalesced,  ///< in the queue, after unsent messages it supersedes were dropped to stay within bounds
    lagged,     ///< over the bounds: every unsent room message was dropped and a `lagged` notice queued
                ///< per room that lost messages; the owner unsubscribes those rooms (`lagged_rooms`)
    closed,     ///< still over the bounds, or lagging again before the last notice went out: the
                ///< connection must close (1008, "send queue overflow"); nothing more is queued
    dropped,    ///< not taken: the queue is closing or finished
};

/// Bounds of a send queue (the `gateway.max_send_queue_*` settings).
struct send_limits
{
    std::size_t max_messages = 1024;   ///< unsent messages before the ladder
    std::size_t max_bytes = 1 << 20;   ///< unsent bytes before the ladder
};

/// A room that lost messages, and where its subscriber resumes.
struct lagged_room
{
    std::string room;
    std::uint64_t resume_from = 0;  ///< the client has every event of the room up to it
};

/** @brief A connection's unsent messages, bounded, with the overflow ladder.

    Every message counts against the bounds, replies and WebSocket control
    frames (pongs) included. When a push takes the queue past a bound:
    @li coalesce: of the unsent `job.progress` messages of one job in one
        room only the newest is kept, and of the unsent summaries or health
        reports of one room only the newest; terminal events, logs and
        alerts are never coalesced away;
    @li lag: every unsent room message goes; per room that lost messages a
        `lagged {room, resume_from}` is queued, where `resume_from` is the
        sequence number before its first lost event, one coalesced away
        into a lost message included (or the position of its
        first lost state message, when it lost no event), so a resume with
        `since = resume_from` misses nothing and repeats nothing;
    @li close: when the queue is still over its bounds (replies or control
        frames alone fill it: a ping flood), or when the client lags again
        before it has read the last notice.

    The writer takes `next_buffers()` (a gather of up to 64 messages, the
    first one from where the last write stopped) and reports `consumed(n)`;
    a message partly written stays whatever happens.

    @par Thread Safety
    Not thread safe: the connection's executor owns it.
*/
class send_queue
{
public:
    /// Up to 64 messages as buffers for one gather write.
    struct buffers
    {
        static constexpr std::size_t max_messages = 64;
        std::array<asio::const_buffer, max_messages * max_pieces> bufs;
        std::size_t n = 0;
        asio::const_buffer const* begin() const noexcept { return bufs.data(); }
        asio::const_buffer const* end() const noexcept { return bufs.data() + n; }
    };

    /// The outcome of `push`.
    struct push_result
    {
        send_status status = send_status::queued;
        std::size_t coalesced = 0;  ///< messages coalesced away by this push
    };

    explicit send_queue(framing f) noexcept : framing_(f) {}

    /// Appends `m`, then applies the ladder if a bound is passed.
    push_result push(wire_ptr m, send_limits const& limits)
    {
        if (closing_)
            return {send_status::dropped, 0};
        append(std::move(m));
        if (!over(limits))
            return {send_status::queued, 0};
        push_result out{send_status::coalesced, coalesce()};
        if (!over(limits))
            return out;
        // Lagging again before the last notice went out, or a queue that is
        // still over its bounds without room messages (replies, pongs): close.
        // The notices themselves may pass the bounds: a client must get them.
        if (notice_unsent_ || !drop_room_messages() || over(limits)) {
            out.status = send_status::closed;
            return out;
        }
        for (auto const& l : lagged_)
            append(encode_message(
                lagged_message{.room = l.room, .resume_from = static_cast<std::int64_t>(l.resume_from)}));
        notice_unsent_ = true;
        out.status = send_status::lagged;
        return out;
    }

    /// The rooms the last `lagged` push dropped messages of; the owner unsubscribes them.
    std::vector<lagged_room> const& lagged_rooms() const noexcept { return lagged_; }

    /** @brief Ends the queue with `last` (a close frame, or nothing): unsent
        room messages and replies go, except a message partly written; no
        more is taken. */
    void close(wire_ptr last = nullptr)
    {
        if (closing_)
            return;
        drop_unsent([](entry const&) { return true; });
        if (last)
            append(std::move(last));
        closing_ = true;
    }

    /// Takes `m` although the queue is closing: the close handshake's own frames.
    void push_final(wire_ptr m) { append(std::move(m)); }

    /// True once `close` was called.
    bool closing() const noexcept { return closing_; }

    /// Nothing left to write.
    bool empty() const noexcept { return head_ == out_.size(); }
    /// Messages not yet written (whole or in part).
    std::size_t messages() const noexcept { return out_.size() - head_; }
    /// Bytes not yet written.
    std::size_t bytes() const noexcept { return bytes_ - offset_; }

    /** @brief What to write next: up to 64 messages, from where the last
        write stopped. They stay in the queue, whatever the ladder does,
        until the writer reports `consumed` (an asynchronous write may still
        read them). */
    buffers const& next_buffers()
    {
        buf_.n = 0;
        std::size_t msgs = 0;
        for (std::size_t i = head_; i < out_.size() && msgs < buffers::max_messages; ++i, ++msgs) {
            auto const n = pieces(*out_[i].msg, framing_, buf_.bufs.data() + buf_.n);
            if (i == head_ && offset_ > 0) {
                // Skip what the last write took of the first message.
                auto skip = offset_;
                std::size_t k = buf_.n;
                while (skip > 0 && skip >= buf_.bufs[k].size()) {
                    skip -= buf_.bufs[k].size();
                    ++k;
                }
                buf_.bufs[k] += skip;
                std::move(buf_.bufs.begin() + static_cast<std::ptrdiff_t>(k),
                          buf_.bufs.begin() + static_cast<std::ptrdiff_t>(buf_.n + n),
                          buf_.bufs.begin() + static_cast<std::ptrdiff_t>(buf_.n));
                buf_.n += n - (k - buf_.n);
                continue;
            }
            buf_.n += n;
        }
        pinned_ = msgs;
        return buf_;
    }

    /// The writer wrote `n` bytes of `next_buffers()`.
    void consumed(std::size_t n)
    {
        pinned_ = 0;
        // Whole messages written go; a partly written one keeps its offset.
        while (n > 0 && head_ < out_.size()) {
            auto const left = out_[head_].size - offset_;
            if (n < left) {
                offset_ += n;
                return;
            }
            n -= left;
            bytes_ -= out_[head_].size;
            out_[head_].msg.reset();
            offset_ = 0;
            ++head_;
        }
        if (head_ == out_.size()) {
            // Drained: a lagged client has read its notice; give a burst's memory back.
            out_.clear();
            if (out_.capacity() > 64)
                out_.shrink_to_fit();
            head_ = 0;
            notice_unsent_ = false;
        } else if (head_ > 256 && head_ * 2 > out_.size()) {
            out_.erase(out_.begin(), out_.begin() + static_cast<std::ptrdiff_t>(head_));
            head_ = 0;
        }
    }

private:
    struct entry
    {
        wire_ptr msg;
        std::size_t size = 0;  // framed bytes
        // Progress: the first seq of older ones of its job coalesced into it (0: none). If the
        // ladder drops it too, the client resumes from there: they were never sent either.
        std::uint64_t covers = 0;
    };

    bool over(send_limits const& l) const noexcept { return messages() > l.max_messages || bytes() > l.max_bytes; }

    void append(wire_ptr m)
    {
        auto const size = framed_size(*m, framing_);
        bytes_ += size;
        out_.push_back({std::move(m), size});
    }

    // The first entry that may be dropped: a partly written message, and
    // those handed to a write that has not completed, stay.
    std::size_t first_droppable() const noexcept { return head_ + std::max<std::size_t>(offset_ > 0, pinned_); }

    template<class Pred>
    void drop_unsent(Pred drop)
    {
        auto const first = first_droppable();
        auto kept = out_.begin() + static_cast<std::ptrdiff_t>(first);
        for (auto it = kept; it != out_.end(); ++it) {
            if (drop(*it)) {
                bytes_ -= it->size;
                continue;
            }
            if (kept != it)
                *kept = std::move(*it);
            ++kept;
        }
        out_.erase(kept, out_.end());
    }

    std::size_t coalesce()
    {
        // Newest first: the first message seen for a key wins; older ones go.
        struct key_hash
        {
            std::size_t operator()(std::pair<std::string_view, std::uint64_t> const& k) const noexcept
            {
                return static_cast<std::size_t>(::jobwatch::detail::hash_string(k.first, k.second));
            }
        };
        // key -> the newest message of that key (the one kept)
        std::unordered_map<std::pair<std::string_view, std::uint64_t>, std::size_t, key_hash> seen;
        std::vector<bool> gone(out_.size());
        std::size_t dropped = 0;
        for (auto i = out_.size(); i-- > first_droppable();) {
            auto const& m = *out_[i].msg;
            if (m.kind != wire_kind::progress && m.kind != wire_kind::state)
                continue;
            auto const key = std::pair<std::string_view, std::uint64_t>{
                m.room, m.kind == wire_kind::progress ? m.coalesce_key : ~std::uint64_t{0}};
            auto const [it, first] = seen.emplace(key, i);
            if (!first) {
                gone[i] = true;
                ++dropped;
                if (m.kind == wire_kind::progress) {
                    auto& newest = out_[it->second];
                    auto const from = out_[i].covers ? out_[i].covers : m.seq;
                    newest.covers = newest.covers ? std::min(newest.covers, from) : from;
                }
            }
        }
        if (dropped == 0)
            return 0;
        std::size_t i = 0;
        drop_unsent([&](entry const&) { return gone[first_droppable() + i++]; });
        return dropped;
    }

    /// Drops every unsent room message, noting per room where it resumes; false when there was none.
    bool drop_room_messages()
    {
        lagged_.clear();
        auto note = [&](entry const& e) {
            auto const& m = *e.msg;
            auto it = std::find_if(lagged_.begin(), lagged_.end(), [&](auto const& l) { return l.room == m.room; });
            // Before the first lost event (coalesced ones included); at the first lost state (it
            // carries the room's position).
            auto const at = m.kind == wire_kind::state ? m.seq : (e.covers ? e.covers : m.seq) - 1;
            if (it == lagged_.end())
                lagged_.push_back({m.room, at});
            else
                it->resume_from = std::min(it->resume_from, at);
        };
        drop_unsent([&](entry const& e) {
            if (e.msg->kind == wire_kind::control)
                return false;
            note(e);
            return true;
        });
        return !lagged_.empty();
    }

    // What every push touches comes first, the gather array last: a fan-out
    // to many sessions pays a cache miss per line of each one it touches.
    framing framing_;
    bool closing_ = false;
    bool notice_unsent_ = false;  // a lagged notice is queued and not yet written
    std::vector<entry> out_;   // [head_, end) not yet written
    std::size_t head_ = 0;
    std::size_t offset_ = 0;   // bytes of out_[head_] written
    std::size_t bytes_ = 0;    // framed bytes of out_[head_, end)
    std::size_t pinned_ = 0;   // messages of out_[head_, ...) handed to the writer, not yet consumed
    std::vector<lagged_room> lagged_;
    buffers buf_;
};

}  // namespace jobwatch::gw

#endif
