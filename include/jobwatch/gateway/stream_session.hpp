#ifndef JOBWATCH_GATEWAY_STREAM_SESSION_HPP
#define JOBWATCH_GATEWAY_STREAM_SESSION_HPP

/** @file
    A streaming connection's one writer: its send queue, written with gather
    writes, over any stream (plain TCP, TLS, Beast's test stream).
*/

#include <jobwatch/detail/asio.hpp>
#include <jobwatch/gateway/connection.hpp>
#include <jobwatch/gateway/counters.hpp>
#include <jobwatch/gateway/hub.hpp>
#include <jobwatch/gateway/send_queue.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/stream_traits.hpp>

#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <cerrno>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace jobwatch::gw {

using tcp = asio::ip::tcp;

namespace impl {

/// True when `Stream` runs over a TCP socket (plain, or TLS over it); false for Beast's test stream.
template<class Stream>
inline constexpr bool over_tcp =
    std::is_same_v<std::decay_t<decltype(boost::beast::get_lowest_layer(std::declval<Stream&>()))>, tcp::socket>;

/// Closes the lowest layer of `s` (a socket; Beast's test stream closes without an error code).
template<class Stream>
void close_lowest(Stream& s) noexcept
{
    auto& lowest = boost::beast::get_lowest_layer(s);
    boost::system::error_code ec;
    if constexpr (std::is_same_v<std::decay_t<decltype(lowest)>, tcp::socket>) {
        lowest.shutdown(tcp::socket::shutdown_both, ec);
        lowest.close(ec);
    } else {
        lowest.close();
    }
}

/// True while the lowest layer of `s` is open (always, for streams that cannot tell).
template<class Stream>
bool is_open(Stream& s) noexcept
{
    auto& lowest = boost::beast::get_lowest_layer(s);
    if constexpr (std::is_same_v<std::decay_t<decltype(lowest)>, tcp::socket>)
        return lowest.is_open();
    else
        return true;
}

/// The peer's address, when the stream has one.
template<class Stream>
std::string remote_address(Stream& s)
{
    auto& lowest = boost::beast::get_lowest_layer(s);
    if constexpr (std::is_same_v<std::decay_t<decltype(lowest)>, tcp::socket>) {
        boost::system::error_code ec;
        auto const ep = lowest.remote_endpoint(ec);
        return ec ? std::string() : ep.address().to_string();
    } else {
        return {};
    }
}

}  // namespace impl

/** @brief A long-lived streaming connection (WebSocket or SSE) over
    `Stream`: subscribed to rooms, with one bounded send queue
    (`send_queue`, the overflow ladder) and one writer.

    Room messages arrive through `deliver` during the room table's fan-out,
    which never waits: the message is appended to the queue (a shared
    pointer, no copy) and the session is marked for the next flush. A flush
    writes up to 64 messages in one gather write. Over plain TCP the writer
    writes without blocking and waits for writability only when the socket is
    full (no operation per flush); over other streams (TLS, Beast's test
    stream) it keeps one `async_write_some` in flight.

    @par Thread Safety
    Only from its shard's executor.
*/
template<class Stream>
class stream_session : public subscriber
{
public:
    stream_session(hub& h, session_limits const& limits, gateway_counters& counters, framing f,
                   std::shared_ptr<principal const> who)
        : subscriber(std::move(who)), hub_(&h), limits_(&limits), counters_(&counters), queue_(f)
    {
    }

    void deliver(wire_ptr const& m) override
    {
        if (closing_ || finished_)
            return;
        if (!entitled(*m)) {
            ++(*counters_)[count::filtered];
            return;
        }
        if (!take(m))
            return;
        // A burst (a large batch) is written as it comes, 64 messages at a
        // time, while the socket takes it: the queue bounds only what the
        // peer has not been able to take.
        if (!writing_ && queue_.messages() >= send_queue::buffers::max_messages)
            flush();
        schedule_flush();
    }

    void send(wire_ptr m) override
    {
        if (closing_ || finished_)
            return;
        if (take(std::move(m)))
            schedule_flush();
    }

    void flush() override
    {
        if (writing_ || closed_)
            return;
        if constexpr (std::is_same_v<Stream, tcp::socket>)
            flush_nonblocking();
        else
            flush_async();
    }

    bool finished() const noexcept override { return finished_; }
    bool closing() const noexcept { return closing_; }
    std::size_t queued_messages() const noexcept override { return queue_.messages(); }
    std::size_t queued_bytes() const noexcept override { return queue_.bytes(); }

    /// Ends the session once what is queued is written (Beast's close handshake).
    void abort_after_flush()
    {
        finish();
        close_after_flush_ = true;
        if (!writing_)
            flush();
    }

    void detach() noexcept override
    {
        hub_ = nullptr;
        closed_ = finished_ = true;
        forget_host();
        close_lowest();
    }

protected:
    virtual Stream& stream() noexcept = 0;
    /// Called once, when the socket has been closed (the connection is gone).
    virtual void on_finished() {}
    /// Everything queued, the close included, is written: end the connection.
    virtual void after_close_flushed() { close_socket(); }
    /// Called when the send queue has been written out.
    virtual void on_drained() {}
    /// The gateway is going away: no more callbacks into it.
    virtual void forget_host() noexcept {}

    /** @brief Sends a close (`close_frame`: a WebSocket close frame; none for
        SSE), after `notice` if given, and drops the connection once it is
        written or `close_timeout` passed. */
    void close(wire_ptr close_frame, wire_ptr notice = nullptr)
    {
        if (closing_ || finished_)
            return;
        // What is unsent goes; `notice` (why it closes) is the last message before the close frame.
        queue_.close();
        if (notice)
            queue_.push_final(std::move(notice));
        if (close_frame)
            queue_.push_final(std::move(close_frame));
        closing_ = true;
        close_deadline_ = std::chrono::steady_clock::now() + limits_->close_timeout;
        finish();
        close_after_flush_ = true;
        if (!writing_)
            flush();
    }

    /// Stops delivering: unsubscribes from every room (the socket stays until closed).
    void finish()
    {
        if (finished_)
            return;
        finished_ = true;
        this->quota_slot.reset();
        if (close_deadline_ == steady_time{})
            close_deadline_ = std::chrono::steady_clock::now() + limits_->close_timeout;
        if (hub_)
            hub_->unsubscribe_all(*this);
    }

    /// Closes the socket and leaves the gateway's registry; once.
    void close_socket()
    {
        if (closed_)
            return;
        closed_ = true;
        finish();
        close_lowest();
        on_finished();
    }

    void mark_read(steady_time now) noexcept { last_read_ = now; }
    void schedule_flush()
    {
        if (hub_ && !writing_)
            hub_->want_flush(*this);
    }

    /** @brief Queues `m` through the ladder and carries out its verdict.
        False when the connection is closing because of it. */
    bool take(wire_ptr m)
    {
        auto const r = queue_.push(std::move(m), limits_->queue);
        auto& c = *counters_;
        switch (r.status) {
        case send_status::queued:
            ++c[count::frames_out];
            return true;
        case send_status::coalesced:
            ++c[count::frames_out];
            c[count::coalesced] += r.coalesced;
            return true;
        case send_status::lagged:
            ++c[count::frames_out];
            c[count::coalesced] += r.coalesced;
            for (auto const& l : queue_.lagged_rooms()) {
                ++c[count::lagged];
                if (hub_)
                    hub_->unsubscribe(*this, l.room);
            }
            return true;
        case send_status::closed:
            ++c[count::overflow_closes];
            on_overflow();
            return false;
        case send_status::dropped:
            return false;
        }
        return false;
    }

    /// The queue overflowed past the ladder: close (1008 for WebSocket).
    virtual void on_overflow() { close(nullptr); }

    // Fan-out touches the flags, the limits and the queue's head for every
    // subscriber: they sit together, before the queue's gather array.
    hub* hub_;
    session_limits const* limits_;
    gateway_counters* counters_;
    bool writing_ = false;  ///< a write (or a wait for writability) is pending
    bool closing_ = false;  ///< close sent or queued; nothing more is queued
    bool finished_ = false;
    bool closed_ = false;
    bool close_after_flush_ = false;
    steady_time last_read_ = std::chrono::steady_clock::now();
    steady_time last_ping_ = last_read_;
    steady_time close_deadline_{};
    send_queue queue_;

private:
    void close_lowest() noexcept { impl::close_lowest(stream()); }

    void drained()
    {
        if (close_after_flush_)
            after_close_flushed();
        else
            on_drained();
    }

    // Plain TCP: gather writes without blocking; an operation only when the
    // peer reads slower than we write.
    void flush_nonblocking()
    {
        auto& sock = stream();
        if (!sock.non_blocking()) {
            boost::system::error_code ignored;
            sock.non_blocking(true, ignored);
        }
        while (!queue_.empty()) {
            boost::system::error_code ec;
            auto const n = gather_write(sock.native_handle(), queue_.next_buffers(), ec);
            ++(*counters_)[count::write_calls];
            queue_.consumed(ec ? 0 : n);
            if (ec == asio::error::would_block || ec == asio::error::try_again) {
                writing_ = true;
                auto self = std::static_pointer_cast<stream_session>(shared_from_this());
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
        drained();
    }

    // sendmsg by hand: Asio's socket write_some passes at most 64 buffers
    // (buffer_sequence_adapter::max_buffers), and a queued message may be
    // more than one (a frame header and a shared body), so it wrote fewer
    // messages per system call than the queue offers; measured, half the
    // fan-out throughput.
    static std::size_t gather_write(int fd, send_queue::buffers const& b, boost::system::error_code& ec)
    {
        std::array<::iovec, send_queue::buffers::max_messages * max_pieces> iov;
        std::size_t n = 0;
        for (auto const& buf : b)
            iov[n++] = {const_cast<void*>(buf.data()), buf.size()};  // sendmsg does not write through it
        ::msghdr msg{};
        msg.msg_iov = iov.data();
        msg.msg_iovlen = n;
        for (;;) {
            auto const r = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
            if (r >= 0) {
                ec = {};
                return static_cast<std::size_t>(r);
            }
            if (errno == EINTR)
                continue;
            ec = (errno == EAGAIN || errno == EWOULDBLOCK)
                     ? boost::system::error_code(asio::error::would_block)
                     : boost::system::error_code(errno, boost::system::system_category());
            return 0;
        }
    }

    // Any other stream: one asynchronous gather write in flight.
    void flush_async()
    {
        if (queue_.empty())
            return drained();
        writing_ = true;
        ++(*counters_)[count::write_calls];
        auto self = std::static_pointer_cast<stream_session>(shared_from_this());
        stream().async_write_some(queue_.next_buffers(), [self](boost::system::error_code ec, std::size_t n) {
            self->writing_ = false;
            self->queue_.consumed(ec ? 0 : n);
            if (ec)
                return self->close_socket();
            self->flush();
        });
    }
};

}  // namespace jobwatch::gw

#endif
