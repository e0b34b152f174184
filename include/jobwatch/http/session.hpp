#ifndef JOBWATCH_HTTP_SESSION_HPP
#define JOBWATCH_HTTP_SESSION_HPP

#include <jobwatch/detail/asio.hpp>
#include <jobwatch/detail/hash.hpp>
#include <jobwatch/events/event.hpp>
#include <jobwatch/http/wire.hpp>

#include <boost/asio/buffer.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <array>
#include <atomic>
#include <cassert>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace jobwatch::http {

using tcp = asio::ip::tcp;
using steady_time = std::chrono::steady_clock::time_point;

class hub;
class stream_session;

/// The first `n` of up to 64 buffers, as one buffer sequence for a gather write.
struct buffer_span
{
    static constexpr std::size_t max = 64;
    std::array<asio::const_buffer, max> bufs;
    std::size_t n = 0;
    asio::const_buffer const* begin() const noexcept { return bufs.data(); }
    asio::const_buffer const* end() const noexcept { return bufs.data() + n; }
};
struct room_state;

/// Limits of the gateway's connections, from the `gateway` settings.
struct session_limits
{
    std::size_t max_send_queue_bytes = 1 << 20;   ///< unsent bytes of one connection before the ladder
    std::size_t max_send_queue_messages = 1024;   ///< unsent messages of one connection before the ladder
    std::chrono::milliseconds heartbeat{15'000};  ///< ping / SSE comment interval; 0 disables
    std::chrono::milliseconds idle_timeout{60'000};  ///< HTTP keep-alive connections with no request
    std::chrono::milliseconds read_timeout{10'000};  ///< time to receive a whole HTTP request
    std::size_t max_message_bytes = 65536;        ///< largest WebSocket message from a client
    std::chrono::milliseconds close_timeout{5'000};  ///< a closing connection is dropped after this
};

/** @brief A counter with one writer (the thread of the shard that owns it)
    and readers on any thread (the monitor's report). Relaxed load and store,
    no read-modify-write: as cheap as a plain integer on the hot path. */
class counter
{
public:
    counter() = default;
    counter(counter const& o) noexcept : v_(o.load()) {}
    counter& operator=(counter const& o) noexcept
    {
        v_.store(o.load(), std::memory_order_relaxed);
        return *this;
    }
    counter& operator+=(std::uint64_t n) noexcept
    {
        v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
        return *this;
    }
    counter& operator++() noexcept { return *this += 1; }
    void operator++(int) noexcept { *this += 1; }
    std::uint64_t load() const noexcept { return v_.load(std::memory_order_relaxed); }
    operator std::uint64_t() const noexcept { return load(); }

private:
    std::atomic<std::uint64_t> v_{0};
};

/// Counters of the gateway (one set per shard), read by `GET /api/v1/monitor/connections`.
struct gateway_counters
{
    counter accepted;          ///< TCP connections accepted
    counter refused;           ///< refused at max_connections
    counter http_requests;     ///< HTTP requests answered
    counter ws_messages_in;    ///< WebSocket messages received
    counter ws_bad_messages;   ///< of which refused (bad JSON, schema, unknown type)
    counter frames_out;        ///< messages queued to clients
    counter write_calls;       ///< gather writes (sendmsg) issued
    counter coalesced;         ///< queued messages replaced by a newer one under pressure
    counter lagged;            ///< `lagged` notices sent
    counter overflow_closes;   ///< connections closed for a send queue overflow
    counter dead_peers;        ///< connections closed for missed heartbeats
    counter timeouts;          ///< HTTP connections closed for read or idle timeouts

    /// Adds `o` field by field (the gateway's total over its shards).
    gateway_counters& operator+=(gateway_counters const& o) noexcept
    {
        accepted += o.accepted;
        refused += o.refused;
        http_requests += o.http_requests;
        ws_messages_in += o.ws_messages_in;
        ws_bad_messages += o.ws_bad_messages;
        frames_out += o.frames_out;
        write_calls += o.write_calls;
        coalesced += o.coalesced;
        lagged += o.lagged;
        overflow_closes += o.overflow_closes;
        dead_peers += o.dead_peers;
        timeouts += o.timeouts;
        return *this;
    }
};

/** @brief A connection the gateway tracks: swept for timeouts and closed at shutdown.

    @par Thread Safety
    Only from the executor of the gateway shard that owns it.
*/
class connection
{
public:
    virtual ~connection() = default;
    /// Checks timers (heartbeat, idle, read, close deadlines) at `now`.
    virtual void sweep(steady_time now) = 0;
    /// Begins a graceful close (WebSocket 1001, end of an SSE stream, no more keep-alive).
    virtual void shutdown() = 0;
    /// Drops the connection now.
    virtual void abort() = 0;
    /// "ws", "sse", "http".
    virtual std::string_view kind() const noexcept = 0;

    std::size_t registry_index = static_cast<std::size_t>(-1);  ///< position in the gateway's registry
};

/** @brief A long-lived streaming connection (WebSocket or SSE): subscribed to
    rooms, with one bounded send queue and one writer.

    Room messages arrive through `deliver` during the hub's fan-out, which
    never waits: the message is appended to the queue (a shared pointer, no
    copy) and the session is marked for the next flush. A flush writes
    everything queued, up to 64 messages, with one gather write.

    The overflow ladder, when a message would take the queue past
    `max_send_queue_messages` or `max_send_queue_bytes`:
    @li coalesce: of the unsent `job.progress` messages of one job in one
        room only the newest is kept, and of the unsent summaries or health
        reports of one room only the newest; terminal events, logs and
        alerts are never coalesced away;
    @li lag: every unsent room message is dropped, the client gets
        `lagged {room, resume_from}` for each room that lost messages and is
        unsubscribed from it (it subscribes again with `since = resume_from`);
    @li close: if the queue is still over its bounds, or the client lags
        again before it has read the previous `lagged` notice, the
        connection is closed (WebSocket close code 1008, "send queue overflow").

    @par Thread Safety
    Only from its shard's executor.
*/
class stream_session : public connection, public std::enable_shared_from_this<stream_session>
{
public:
    struct subscription
    {
        room_state* room = nullptr;
        std::uint32_t index = 0;  ///< position in the room's subscriber list
    };

    stream_session(hub& h, session_limits const& limits, gateway_counters& counters)
        : hub_(&h), limits_(&limits), counters_(&counters)
    {
    }

    /// A room message (fan-out); applies the overflow ladder.
    void deliver(wire_ptr const& m);
    /// A reply or notice; never dropped by the ladder.
    void send(wire_ptr m);

    /// Writes what is queued (called by the hub once per fan-out batch).
    void flush();

    std::vector<subscription>& subscriptions() noexcept { return subs_; }
    subscription* find_subscription(room_state const* r) noexcept
    {
        for (auto& s : subs_)
            if (s.room == r)
                return &s;
        return nullptr;
    }

    /// Queued and not yet written: messages and bytes.
    std::size_t queued_messages() const noexcept { return out_.size() - head_; }
    std::size_t queued_bytes() const noexcept { return queued_bytes_; }
    bool closing() const noexcept { return closing_; }
    /// Unsubscribed from everything and taking no more messages (closing or gone).
    bool finished() const noexcept { return finished_; }
    /// Ends the session once what is queued is written (Beast's close handshake).
    void abort_after_flush()
    {
        finish();
        close_after_flush_ = true;
        if (!writing_)
            flush();
    }

    /// Detaches from the gateway (the gateway is going away); drops the socket.
    void detach() noexcept
    {
        hub_ = nullptr;
        closed_ = finished_ = true;
        boost::system::error_code ec;
        socket().close(ec);
    }

    bool flush_pending = false;  ///< on the hub's list of sessions to flush

protected:
    virtual tcp::socket& socket() noexcept = 0;
    /// The buffers of `m` for this framing: the WebSocket frame, or SSE lines.
    virtual bool is_sse() const noexcept = 0;
    /// Called once, when the socket has been closed (the connection is gone).
    virtual void on_finished() {}
    /// Everything queued, the close included, is written: end the connection.
    virtual void after_close_flushed() { close_socket(); }
    /// Called when the send queue has been written out.
    virtual void on_drained() {}

    /// Sends a close (WebSocket: a close frame; SSE: end of stream) and drops
    /// the connection once it is written or `close_timeout` passed.
    void close(std::uint16_t code, std::string_view reason);
    /// Stops delivering: unsubscribes from every room (the socket stays until closed).
    void finish();
    void mark_read(steady_time now) noexcept { last_read_ = now; }

    void push(wire_ptr m);
    void schedule_flush();
    void advance(std::size_t n);
    void append_sse(wire_msg const& m);
    /// Queue entries that must stay: a partly written frame, or SSE text already built.
    std::size_t pinned_end() const noexcept { return is_sse() ? std::max(head_, sse_end_) : head_ + (offset_ > 0); }
    void coalesce();
    bool lag();
    /// Closes the socket and leaves the gateway's registry; once.
    void close_socket()
    {
        if (closed_)
            return;
        closed_ = true;
        finish();
        boost::system::error_code ec;
        socket().shutdown(tcp::socket::shutdown_both, ec);
        socket().close(ec);
        on_finished();
    }

    hub* hub_;
    session_limits const* limits_;
    gateway_counters* counters_;
    std::vector<subscription> subs_;
    std::vector<wire_ptr> out_;  ///< [head_, end) not yet written
    std::size_t head_ = 0;
    std::size_t sse_off_ = 0;  ///< SSE: bytes of sse_buf_ written
    std::size_t sse_end_ = 0;  ///< SSE: out_[head_, sse_end_) are in sse_buf_
    std::size_t offset_ = 0;      ///< bytes of out_[head_] already written
    std::size_t queued_bytes_ = 0;
    std::string sse_buf_;         ///< SSE: the text being written
    steady_time last_read_ = std::chrono::steady_clock::now();
    steady_time last_ping_ = last_read_;
    steady_time close_deadline_{};
    bool writing_ = false;        ///< waiting for the socket to take more
    bool closing_ = false;        ///< close sent or queued; nothing more is queued
    bool finished_ = false;
    bool closed_ = false;
    bool close_after_flush_ = false;
    bool lag_notice_unsent_ = false;
};

/// A room with subscribers or waiting long-polls.
struct room_state
{
    std::string name;
    std::vector<stream_session*> subs;
    std::vector<std::function<void()>*> waiters;  ///< long-polls parked on the room
};

/** @brief The room table of one gateway shard: who is subscribed to what,
    and the fan-out of room messages (encode once, share the bytes).

    A message for a room nobody watches costs one hash lookup and no
    encoding. For a watched room it is encoded once (`wire.hpp`) and the same
    `shared_ptr` is appended to every subscriber's queue; each subscriber is
    flushed once per batch of messages, after the whole batch is queued.

    Fan-out never waits on a client. During fan-out, (un)subscribing is
    deferred until the fan-out ends (the overflow ladder unsubscribes), and
    the room table never changes under the loop.

    @par Thread Safety
    Only from its shard's executor.
*/
class hub
{
public:
    explicit hub(asio::any_io_executor ex) : ex_(std::move(ex)) {}

    hub(hub const&) = delete;
    hub& operator=(hub const&) = delete;

    asio::any_io_executor get_executor() const noexcept { return ex_; }

    room_state* find(std::string_view room) noexcept
    {
        auto it = rooms_.find(room);
        return it == rooms_.end() ? nullptr : it->second.get();
    }

    /// Adds `s` to `room` (no-op when it is there already).
    void subscribe(stream_session& s, std::string_view room)
    {
        assert(!dispatching_ && "subscribe during fan-out");
        auto& r = get(room);
        if (s.find_subscription(&r))
            return;
        s.subscriptions().push_back({&r, static_cast<std::uint32_t>(r.subs.size())});
        r.subs.push_back(&s);
    }

    /// Removes `s` from `room`; false when it was not subscribed.
    bool unsubscribe(stream_session& s, std::string_view room)
    {
        auto* r = find(room);
        if (!r || !s.find_subscription(r))
            return false;
        drop_from_room(s, *r);
        return true;
    }

    /// Removes `s` from every room.
    void unsubscribe_all(stream_session& s)
    {
        while (!s.subscriptions().empty()) {
            auto* r = s.subscriptions().back().room;
            drop_from_room(s, *r);
        }
    }

    /// Parks a long-poll on `room` until the next message; `wake` must stay alive until `unpark`.
    void park(std::string_view room, std::function<void()>* wake) { get(room).waiters.push_back(wake); }
    void unpark(std::string_view room, std::function<void()>* wake)
    {
        auto* r = find(room);
        if (!r)
            return;
        std::erase(r->waiters, wake);
        if (!dispatching_)
            release_if_empty(*r);
    }

    /// Wakes every parked long-poll (shutdown).
    void wake_all()
    {
        std::vector<std::function<void()>*> all;
        for (auto& [name, r] : rooms_)
            all.insert(all.end(), r->waiters.begin(), r->waiters.end());
        for (auto* w : all)
            (*w)();
    }

    /** @brief Called with the room each time a subscription ends (unsubscribe,
        the overflow ladder, a closed session): a sharded gateway tells the
        core, which stops sending the shard a room nobody there watches. */
    std::function<void(std::string const& room)> on_leave;

    /** @brief Fans one message out to `room`'s subscribers and wakes its long-polls.
        `encode` is called at most once, only when someone is there. */
    template<class Encode>
    void dispatch(std::string_view room, Encode&& encode)
    {
        auto it = rooms_.find(room);
        if (it == rooms_.end())
            return;
        auto& r = *it->second;
        if (!r.subs.empty()) {
            wire_ptr const msg = encode();
            dispatching_ = true;
            // Index loop: the ladder may swap-remove the current subscriber.
            for (std::size_t i = 0; i < r.subs.size();) {
                auto* s = r.subs[i];
                s->deliver(msg);
                if (i < r.subs.size() && r.subs[i] == s)
                    ++i;
            }
            dispatching_ = false;
        }
        if (!r.waiters.empty()) {
            auto waiters = std::move(r.waiters);
            r.waiters.clear();
            for (auto* w : waiters)
                (*w)();
        }
        finish_dispatch();
    }

    /// Marks `s` for the next flush, which runs once the current batch of messages is queued.
    void want_flush(stream_session& s)
    {
        if (s.flush_pending)
            return;
        s.flush_pending = true;
        to_flush_.push_back(s.shared_from_this());
        if (!flush_posted_) {
            flush_posted_ = true;
            asio::post(ex_, [this] { flush_all(); });
        }
    }

    std::size_t room_count() const noexcept { return rooms_.size(); }
    template<class F>
    void for_each_room(F&& f) const
    {
        for (auto const& [name, r] : rooms_)
            f(*r);
    }

private:
    room_state& get(std::string_view room)
    {
        auto it = rooms_.find(room);
        if (it == rooms_.end()) {
            auto r = std::make_unique<room_state>();
            r->name = std::string(room);
            it = rooms_.emplace(r->name, std::move(r)).first;
        }
        return *it->second;
    }

    // The session counts as unsubscribed at once; an emptied room is
    // released now, or after the fan-out when one is running.
    void drop_from_room(stream_session& s, room_state& r)
    {
        auto& subs = s.subscriptions();
        for (std::size_t i = 0; i < subs.size(); ++i) {
            if (subs[i].room != &r)
                continue;
            auto const idx = subs[i].index;
            // Swap-remove from the room, fixing the moved session's index.
            auto* moved = r.subs.back();
            r.subs[idx] = moved;
            r.subs.pop_back();
            if (moved != &s)
                moved->find_subscription(&r)->index = idx;
            subs[i] = subs.back();
            subs.pop_back();
            if (on_leave)
                on_leave(r.name);
            break;
        }
        if (dispatching_)
            deferred_.push_back(r.name);
        else
            release_if_empty(r);
    }

    void release_if_empty(room_state& r)
    {
        if (r.subs.empty() && r.waiters.empty()) {
            std::string const name = r.name;
            rooms_.erase(name);
        }
    }

    void finish_dispatch()
    {
        // Rooms the ladder emptied during the fan-out go now.
        auto deferred = std::move(deferred_);
        deferred_.clear();
        for (auto const& name : deferred)
            if (auto* r = find(name))
                release_if_empty(*r);
    }

    void flush_all()
    {
        flush_posted_ = false;
        auto batch = std::move(to_flush_);
        to_flush_.clear();
        for (auto& s : batch) {
            s->flush_pending = false;
            s->flush();
        }
        // Keep the vector's capacity for the next batch.
        batch.clear();
        if (to_flush_.empty())
            to_flush_.swap(batch);
    }

    asio::any_io_executor ex_;
    std::unordered_map<std::string, std::unique_ptr<room_state>, ::jobwatch::detail::short_string_hash,
                       ::jobwatch::detail::short_string_equal>
        rooms_;
    std::vector<std::shared_ptr<stream_session>> to_flush_;
    std::vector<std::string> deferred_;
    bool dispatching_ = false;
    bool flush_posted_ = false;
};

// --- stream_session ---------------------------------------------------------

inline void stream_session::push(wire_ptr m)
{
    queued_bytes_ += m->bytes.size();
    out_.push_back(std::move(m));
    ++counters_->frames_out;
}

inline void stream_session::schedule_flush()
{
    if (hub_ && !writing_)
        hub_->want_flush(*this);
}

inline void stream_session::send(wire_ptr m)
{
    if (closing_ || finished_)
        return;
    push(std::move(m));
    schedule_flush();
}

inline void stream_session::deliver(wire_ptr const& m)
{
    if (closing_ || finished_)
        return;
    push(m);
    // A burst (a large batch) is written as it comes, 64 frames at a time,
    // while the socket takes it: the queue bounds only what the peer has not
    // been able to take.
    if (!writing_ && queued_messages() >= buffer_span::max)
        flush();
    auto const over = [this] {
        return queued_messages() > limits_->max_send_queue_messages ||
               queued_bytes_ > limits_->max_send_queue_bytes;
    };
    if (over()) {
        coalesce();
        if (over()) {
            bool const again = lag_notice_unsent_;
            if (!lag() || again || over()) {
                ++counters_->overflow_closes;
                close(1008, "send queue overflow");
                return;
            }
        }
    }
    schedule_flush();
}

inline void stream_session::coalesce()
{
    // Newest first: the first message seen for a key wins; older ones go.
    struct key_hash
    {
        std::size_t operator()(std::pair<std::string_view, std::uint64_t> const& k) const noexcept
        {
            return static_cast<std::size_t>(::jobwatch::detail::fnv1a(k.first, k.second ^ 0xcbf29ce484222325ull));
        }
    };
    std::unordered_set<std::pair<std::string_view, std::uint64_t>, key_hash> seen;
    std::size_t dropped = 0;
    auto const pinned = pinned_end();
    for (std::size_t i = out_.size(); i-- > pinned;) {
        auto const& m = out_[i];
        if (m->kind != wire_kind::progress && m->kind != wire_kind::state)
            continue;
        auto const key = std::pair<std::string_view, std::uint64_t>{
            m->room, m->kind == wire_kind::progress ? m->coalesce_key : ~std::uint64_t{0}};
        if (!seen.insert(key).second) {
            queued_bytes_ -= m->bytes.size();
            out_[i].reset();
            ++dropped;
        }
    }
    if (dropped == 0)
        return;
    counters_->coalesced += dropped;
    out_.erase(std::remove_if(out_.begin() + static_cast<std::ptrdiff_t>(pinned), out_.end(),
                              [](wire_ptr const& m) { return !m; }),
               out_.end());
}

inline bool stream_session::lag()
{
    // Every unsent room message goes; per room, the client resumes after the
    // last one it gets (the one before the first dropped).
    std::vector<std::pair<std::string, std::uint64_t>> first_dropped;
    std::vector<wire_ptr> kept;
    kept.reserve(out_.size());
    auto const pinned = pinned_end();
    for (std::size_t i = 0; i < out_.size(); ++i) {
        auto& m = out_[i];
        if (i < pinned || m->kind == wire_kind::control) {
            kept.push_back(std::move(m));
            continue;
        }
        queued_bytes_ -= m->bytes.size();
        auto it = std::find_if(first_dropped.begin(), first_dropped.end(),
                               [&](auto const& p) { return p.first == m->room; });
        if (it == first_dropped.end())
            first_dropped.emplace_back(m->room, m->seq);
    }
    out_ = std::move(kept);
    if (first_dropped.empty())
        return false;
    for (auto& [room, seq] : first_dropped) {
        push(encode_message(lagged_message{.room = room, .resume_from = static_cast<std::int64_t>(seq - 1)}));
        ++counters_->lagged;
        if (hub_)
            hub_->unsubscribe(*this, room);
    }
    lag_notice_unsent_ = true;
    return true;
}

inline void stream_session::flush()
{
    // `writing_`: waiting for the socket to become writable again.
    if (writing_ || closed_)
        return;
    auto& sock = socket();
    if (!sock.non_blocking()) {
        boost::system::error_code ignored;
        sock.non_blocking(true, ignored);
    }
    while (head_ < out_.size()) {
        boost::system::error_code ec;
        std::size_t n = 0;
        if (is_sse()) {
            // SSE is the fallback transport: its records are built as text at write time.
            if (sse_off_ == sse_buf_.size()) {
                sse_buf_.clear();
                sse_off_ = 0;
                for (std::size_t i = head_; i < out_.size(); ++i)
                    append_sse(*out_[i]);
                sse_end_ = out_.size();
            }
            n = sock.write_some(asio::buffer(sse_buf_.data() + sse_off_, sse_buf_.size() - sse_off_), ec);
            ++counters_->write_calls;
            if (!ec) {
                sse_off_ += n;
                if (sse_off_ == sse_buf_.size()) {
                    for (std::size_t i = head_; i < sse_end_; ++i) {
                        queued_bytes_ -= out_[i]->bytes.size();
                        out_[i].reset();
                    }
                    head_ = sse_end_;
                }
            }
        } else {
            // One gather write (sendmsg) of up to 64 frames.
            buffer_span span;
            for (std::size_t i = head_; i < out_.size() && span.n < buffer_span::max; ++i, ++span.n) {
                auto const& b = out_[i]->bytes;
                span.bufs[span.n] =
                    i == head_ ? asio::buffer(b.data() + offset_, b.size() - offset_) : asio::buffer(b);
            }
            n = sock.write_some(span, ec);
            ++counters_->write_calls;
            if (!ec)
                advance(n);
        }
        if (ec == asio::error::would_block || ec == asio::error::try_again) {
            // The peer reads slower than we write: wait until it has room.
            writing_ = true;
            auto self = shared_from_this();
            sock.async_wait(tcp::socket::wait_write, [self](boost::system::error_code wec) {
                self->writing_ = false;
                if (wec)
                    return self->close_socket();
                self->flush();
            });
            return;
        }
        if (ec)
            return close_socket();
    }
    // Drained: release the queue's memory if a burst grew it.
    out_.clear();
    if (out_.capacity() > 64)
        out_.shrink_to_fit();
    head_ = 0;
    offset_ = 0;
    sse_end_ = 0;
    if (sse_buf_.capacity() > 4096)
        std::string().swap(sse_buf_);
    lag_notice_unsent_ = false;
    if (close_after_flush_)
        after_close_flushed();
    else
        on_drained();
}

inline void stream_session::advance(std::size_t n)
{
    // Whole frames written go; a partly written one keeps its offset.
    while (n > 0 && head_ < out_.size()) {
        auto const left = out_[head_]->bytes.size() - offset_;
        if (n < left) {
            offset_ += n;
            return;
        }
        n -= left;
        queued_bytes_ -= out_[head_]->bytes.size();
        out_[head_].reset();
        offset_ = 0;
        ++head_;
    }
    if (head_ > 256 && head_ * 2 > out_.size()) {
        out_.erase(out_.begin(), out_.begin() + static_cast<std::ptrdiff_t>(head_));
        head_ = 0;
    }
}

inline void stream_session::append_sse(wire_msg const& m)
{
    if (m.sse_event.empty()) {  // raw text: the response head, a heartbeat comment
        sse_buf_.append(m.payload());
        return;
    }
    if (m.seq != 0 && m.kind != wire_kind::control) {
        sse_buf_ += "id: ";
        sse_buf_ += std::to_string(m.seq);
        sse_buf_ += '\n';
    }
    sse_buf_ += "event: ";
    sse_buf_ += m.sse_event;
    sse_buf_ += "\ndata: ";
    sse_buf_.append(m.payload());
    sse_buf_ += "\n\n";
}

inline void stream_session::finish()
{
    if (finished_)
        return;
    finished_ = true;
    if (close_deadline_ == steady_time{})
        close_deadline_ = std::chrono::steady_clock::now() + limits_->close_timeout;
    if (hub_)
        hub_->unsubscribe_all(*this);
}

inline void stream_session::close(std::uint16_t code, std::string_view reason)
{
    if (closing_ || finished_)
        return;
    // Unsent room messages are moot now; the close goes right after what is in flight.
    auto const pinned = pinned_end();
    for (std::size_t i = pinned; i < out_.size(); ++i)
        queued_bytes_ -= out_[i]->bytes.size();
    out_.resize(pinned);
    if (!is_sse())
        push(encode_close_frame(code, reason));
    closing_ = true;
    close_deadline_ = std::chrono::steady_clock::now() + limits_->close_timeout;
    finish();
    close_after_flush_ = true;
    if (!writing_)
        flush();
}

}  // namespace jobwatch::http

#endif
