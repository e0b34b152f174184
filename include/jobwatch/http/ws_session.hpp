#ifndef JOBWATCH_HTTP_WS_SESSION_HPP
#define JOBWATCH_HTTP_WS_SESSION_HPP

#include <jobwatch/http/session.hpp>
#include <jobwatch/messages/config.hpp>

#include <boost/asio/append.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <memory>
#include <string>

namespace jobwatch::http {

class ws_session;

/// What a WebSocket session asks of the gateway that owns it.
class ws_host
{
public:
    virtual ~ws_host() = default;
    /** @brief One text message from the client. Returns false to hold the
        client's next message until `s.resume_reading()` (the answer needs
        another thread; the client's messages are answered in order). */
    virtual bool on_ws_message(ws_session& s, std::string_view text) = 0;
    /// The session is over (either side closed); called once.
    virtual void on_ws_finished(ws_session& s) = 0;
};

namespace detail {

/** @brief A flat buffer that asks Beast for small pieces: Beast's message
    read prepares `min(1536, max_size() - size())` bytes before any data
    arrives, so with a plain buffer every idle connection would hold 1.5 KiB
    for nothing. Reporting a `max_size` just 64 bytes above the size keeps
    the idle reservation at 64 bytes; a message that does arrive grows the
    buffer as Beast reads it (the real limit is the stream's `read_message_max`). */
class lazy_read_buffer : public boost::beast::flat_buffer
{
public:
    std::size_t max_size() const noexcept
    {
        return std::min(boost::beast::flat_buffer::max_size(), size() + 64);
    }
};

/** @brief The layer under Beast's websocket stream: reads go to the socket;
    every write Beast makes (the handshake response, pongs, close frames) is
    taken whole into the session's send queue, where it waits its turn with
    the shared broadcast frames. So a control frame can never land inside a
    partly written batch, and one writer owns the socket.

    Beast writes whole frames because auto-fragmentation is off and a server
    does not mask; each `async_write_some` is accepted in full.
*/
class ws_transport
{
public:
    using executor_type = tcp::socket::executor_type;

    ws_transport(tcp::socket sock, std::string preread) : sock_(std::move(sock)), preread_(std::move(preread)) {}

    executor_type get_executor() noexcept { return sock_.get_executor(); }
    tcp::socket& socket() noexcept { return sock_; }
    void set_owner(ws_session* owner) noexcept { owner_ = owner; }
    ws_session* owner() const noexcept { return owner_; }

    template<class MutableBuffers, class Handler>
    auto async_read_some(MutableBuffers const& buffers, Handler&& handler)
    {
        return asio::async_initiate<Handler, void(boost::system::error_code, std::size_t)>(
            [this](auto h, MutableBuffers const& b) {
                if (!preread_.empty()) {
                    // Bytes the client sent right behind its upgrade request.
                    auto const n = asio::buffer_copy(b, asio::buffer(preread_));
                    preread_.erase(0, n);
                    if (preread_.empty())
                        preread_.shrink_to_fit();
                    asio::post(sock_.get_executor(), asio::append(std::move(h), boost::system::error_code{}, n));
                    return;
                }
                sock_.async_read_some(b, std::move(h));
            },
            handler, buffers);
    }

    template<class ConstBuffers, class Handler>
    auto async_write_some(ConstBuffers const& buffers, Handler&& handler)
    {
        return asio::async_initiate<Handler, void(boost::system::error_code, std::size_t)>(
            [this](auto h, ConstBuffers const& b) {
                auto const n = asio::buffer_size(b);
                auto const ec = enqueue(b, n);
                asio::post(sock_.get_executor(), asio::append(std::move(h), ec, ec ? 0 : n));
            },
            handler, buffers);
    }

private:
    template<class ConstBuffers>
    boost::system::error_code enqueue(ConstBuffers const& b, std::size_t n);

    tcp::socket sock_;
    std::string preread_;
    ws_session* owner_ = nullptr;
};

}  // namespace detail

/** @brief A WebSocket connection: Beast reads and parses the client's frames
    (masking, fragmentation, control frames, the size limit, the close
    handshake); everything written goes through the session's one queue.

    An idle connection holds no coroutine frame and no read buffer: one
    pending read (Beast's, into its small internal buffer) and its
    subscriptions. Heartbeats, dead-peer detection and the close deadline
    are driven by the gateway's sweep timer, not by a timer per connection.

    @par Thread Safety
    Only from its shard's executor.
*/
class ws_session final : public stream_session
{
public:
    // No permessage-deflate: broadcast frames are shared bytes, never compressed per connection.
    using ws_stream = boost::beast::websocket::stream<detail::ws_transport, false>;
    using request = boost::beast::http::request<boost::beast::http::string_body>;

    ws_session(hub& h, session_limits const& limits, gateway_counters& counters, ws_host& host, tcp::socket sock,
               std::string preread, std::shared_ptr<principal const> who, std::uint64_t id)
        : stream_session(h, limits, counters)
        , host_(&host)
        , ws_(std::move(sock), std::move(preread))
        , who_(std::move(who))
        , id_(id)
    {
        ws_.next_layer().set_owner(this);
    }

    /// Answers the upgrade request, then sends `welcome` and starts reading.
    void start(request req, wire_ptr welcome)
    {
        namespace websocket = boost::beast::websocket;
        ws_.auto_fragment(false);
        ws_.read_message_max(limits_->max_message_bytes);
        ws_.set_option(websocket::stream_base::timeout{
            websocket::stream_base::none(), websocket::stream_base::none(), false});
        ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
            res.set(boost::beast::http::field::server, "jobwatch");
        }));
        // Any frame from the client, pongs included, proves it is alive.
        ws_.control_callback([this](websocket::frame_type, boost::beast::string_view) {
            mark_read(std::chrono::steady_clock::now());
        });
        auto self = std::static_pointer_cast<ws_session>(shared_from_this());
        ws_.async_accept(req, [self, welcome = std::move(welcome)](boost::system::error_code ec) mutable {
            if (ec) {
                self->finish();
                self->close_after_flush_ = true;
                if (!self->writing_)
                    self->flush();
                return;
            }
            self->send(std::move(welcome));
            self->read_next();
        });
    }

    principal const& who() const noexcept { return *who_; }
    std::shared_ptr<principal const> const& who_ptr() const noexcept { return who_; }

    /// Reads the client's next message after `on_ws_message` returned false.
    void resume_reading()
    {
        held_ = false;
        if (!finished_ && !closing_ && !reading_ && !read_paused_)
            read_more();
    }
    /// The connection's number (its `connection_id` is "c" followed by it).
    std::uint64_t id() const noexcept { return id_; }

    /// Takes a frame Beast wrote (handshake response, pong, close reply).
    boost::system::error_code take_raw(std::string bytes)
    {
        if (finished_ && !close_after_flush_)
            return asio::error::not_connected;
        if (closing_)
            return {};  // our own close frame went already; Beast's reply to the peer's is moot
        auto m = std::make_shared<wire_msg>();
        m->bytes = std::move(bytes);
        push(std::move(m));
        if (!writing_)
            flush();
        return {};
    }

    void sweep(steady_time now) override
    {
        if (closing_ || finished_) {
            if (now >= close_deadline_ && close_deadline_ != steady_time{})
                abort();
            return;
        }
        auto const hb = limits_->heartbeat;
        if (hb.count() <= 0)
            return;
        if (now - last_read_ > 2 * hb) {
            ++counters_->dead_peers;
            abort();
            return;
        }
        if (now - last_ping_ >= hb) {
            last_ping_ = now;
            static wire_ptr const ping = encode_control_frame(0x9, {});
            send(ping);
        }
    }

    void shutdown() override { close(1001, "server shutting down"); }

    void abort() override { close_socket(); }

    std::string_view kind() const noexcept override { return "ws"; }

private:
    tcp::socket& socket() noexcept override { return ws_.next_layer().socket(); }
    bool is_sse() const noexcept override { return false; }
    void on_finished() override
    {
        if (host_)
            host_->on_ws_finished(*this);
    }

    // The close handshake's end: no more writes, then wait for the peer to
    // close (its close reply, or EOF) before closing, so that it reads our
    // close frame instead of a reset. The sweep's close deadline bounds it.
    void after_close_flushed() override
    {
        boost::system::error_code ec;
        socket().shutdown(tcp::socket::shutdown_send, ec);
        if (ec)
            return close_socket();
        if (!reading_)
            drain();
        // Otherwise Beast's pending read ends with the peer's reply or EOF.
    }

    void drain()
    {
        thread_local char sink[256];
        auto self = std::static_pointer_cast<ws_session>(shared_from_this());
        socket().async_read_some(asio::buffer(sink), [self](boost::system::error_code ec, std::size_t) {
            if (ec || self->closed_)
                return self->close_socket();
            self->drain();
        });
    }

    void on_drained() override
    {
        if (read_paused_ && !finished_) {
            read_paused_ = false;
            if (!held_ && !reading_)
                read_next();
        }
    }

    void read_next()
    {
        auto self = std::static_pointer_cast<ws_session>(shared_from_this());
        reading_ = true;
        ws_.async_read(rbuf_, [self](boost::system::error_code ec, std::size_t) { self->on_read(ec); });
    }

    void on_read(boost::system::error_code ec)
    {
        reading_ = false;
        if (ec) {
            if (closed_)
                return;
            // Beast has queued its close reply or 1009/1002 close where one is due.
            finish();
            close_after_flush_ = true;
            if (!writing_)
                flush();
            return;
        }
        mark_read(std::chrono::steady_clock::now());
        ++counters_->ws_messages_in;
        bool hold = false;
        if (host_ && !finished_) {
            if (ws_.got_binary()) {
                ++counters_->ws_bad_messages;
                send(encode_message(error_message{.code = protocol_error::invalid_message,
                                                  .message = "binary messages are not supported; send JSON text",
                                                  .path = ""}));
            } else {
                auto const text = boost::beast::buffers_to_string(rbuf_.data());
                hold = !host_->on_ws_message(*this, text);
            }
        }
        // No read buffer is held between messages.
        rbuf_.clear();
        rbuf_.shrink_to_fit();
        if (finished_ || closing_)
            return;
        if (hold) {
            held_ = true;
            return;
        }
        read_more();
    }

    void read_more()
    {
        // Back-pressure on the client's requests: stop reading while its replies pile up.
        if (queued_messages() * 2 > limits_->max_send_queue_messages ||
            queued_bytes_ * 2 > limits_->max_send_queue_bytes) {
            read_paused_ = true;
            return;
        }
        read_next();
    }

    ws_host* host_;
    ws_stream ws_;
    detail::lazy_read_buffer rbuf_;
    std::shared_ptr<principal const> who_;
    std::uint64_t id_;
    bool read_paused_ = false;  ///< replies pile up: the next read waits for the queue to drain
    bool held_ = false;         ///< the host answers the last message on another thread
    bool reading_ = false;
};

namespace detail {

template<class ConstBuffers>
boost::system::error_code ws_transport::enqueue(ConstBuffers const& b, std::size_t n)
{
    if (!owner_)
        return asio::error::not_connected;
    std::string bytes(n, '\0');
    asio::buffer_copy(asio::buffer(bytes), b);
    return owner_->take_raw(std::move(bytes));
}

/// Beast's teardown after a close handshake: the socket closes once the queue is written.
template<class Handler>
void async_teardown(boost::beast::role_type, ws_transport& t, Handler&& handler)
{
    if (auto* s = t.owner())
        s->abort_after_flush();
    asio::post(t.get_executor(), asio::append(std::forward<Handler>(handler), boost::system::error_code{}));
}

/// Beast's timeout path (unused: its timeouts are off) closes the socket.
inline void beast_close_socket(ws_transport& t)
{
    boost::system::error_code ec;
    t.socket().close(ec);
}

inline void teardown(boost::beast::role_type, ws_transport& t, boost::system::error_code& ec)
{
    t.socket().close(ec);
}

}  // namespace detail
}  // namespace jobwatch::http

#endif
