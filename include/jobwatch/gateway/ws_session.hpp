#ifndef JOBWATCH_GATEWAY_WS_SESSION_HPP
#define JOBWATCH_GATEWAY_WS_SESSION_HPP

/** @file
    A WebSocket connection: Beast reads and parses the client's frames; every
    byte written goes through the session's one send queue.
*/

#include <jobwatch/gateway/stream_session.hpp>

#include <boost/asio/append.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <memory>
#include <string>

namespace jobwatch::gw {

/// What a WebSocket session asks of the gateway that owns it.
class ws_host
{
public:
    virtual ~ws_host() = default;
    /** @brief One text message from the client. Returns false to hold the
        client's next message until `s.resume_reading()` (the answer needs
        another thread; the client's messages are answered in order). */
    virtual bool on_ws_message(subscriber& s, std::string_view text) = 0;
    /// The session is over (either side closed); called once.
    virtual void on_ws_finished(subscriber& s) = 0;
    /** @brief A binary message of `bytes` from the client: true when the
        host handled it; false answers it with the native protocol's error. */
    virtual bool on_ws_binary(subscriber&, std::size_t) { return false; }
};

/// Where the layer under Beast puts what Beast writes.
class ws_sink
{
public:
    virtual ~ws_sink() = default;
    /// Takes a frame Beast wrote (handshake response, pong, close reply).
    virtual boost::system::error_code take_raw(std::string bytes) = 0;
    /// Beast's teardown: end the connection once the queue is written.
    virtual void abort_after_flush() = 0;
};

namespace impl {

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

/** @brief The layer under Beast's websocket stream: reads go to `Stream`;
    every write Beast makes (the handshake response, pongs, close frames) is
    taken whole into the session's send queue, where it waits its turn with
    the shared broadcast frames and counts against the same bounds. So a
    control frame can never land inside a partly written batch, one writer
    owns the stream, and a ping flood cannot grow memory.

    Beast writes whole frames because auto-fragmentation is off and a server
    does not mask; each `async_write_some` is accepted in full.
*/
template<class Stream>
class ws_transport
{
public:
    using executor_type = typename Stream::executor_type;

    ws_transport(Stream s, std::string preread) : stream_(std::move(s)), preread_(std::move(preread)) {}

    executor_type get_executor() noexcept { return stream_.get_executor(); }
    Stream& stream() noexcept { return stream_; }
    void set_sink(ws_sink* sink) noexcept { sink_ = sink; }
    ws_sink* sink() const noexcept { return sink_; }

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
                    asio::post(stream_.get_executor(), asio::append(std::move(h), boost::system::error_code{}, n));
                    return;
                }
                stream_.async_read_some(b, std::move(h));
            },
            handler, buffers);
    }

    template<class ConstBuffers, class Handler>
    auto async_write_some(ConstBuffers const& buffers, Handler&& handler)
    {
        return asio::async_initiate<Handler, void(boost::system::error_code, std::size_t)>(
            [this](auto h, ConstBuffers const& b) {
                auto const n = asio::buffer_size(b);
                boost::system::error_code ec = asio::error::not_connected;
                if (sink_) {
                    std::string bytes(n, '\0');
                    asio::buffer_copy(asio::buffer(bytes), b);
                    ec = sink_->take_raw(std::move(bytes));
                }
                asio::post(stream_.get_executor(), asio::append(std::move(h), ec, ec ? 0 : n));
            },
            handler, buffers);
    }

private:
    Stream stream_;
    std::string preread_;
    ws_sink* sink_ = nullptr;
};

/// Beast's teardown after a close handshake: the socket closes once the queue is written.
template<class Stream, class Handler>
void async_teardown(boost::beast::role_type, ws_transport<Stream>& t, Handler&& handler)
{
    if (auto* s = t.sink())
        s->abort_after_flush();
    asio::post(t.get_executor(), asio::append(std::forward<Handler>(handler), boost::system::error_code{}));
}

template<class Stream>
void teardown(boost::beast::role_type, ws_transport<Stream>& t, boost::system::error_code& ec)
{
    ec = {};
    if (auto* s = t.sink())
        s->abort_after_flush();
}

/// Beast's timeout path (unused: its timeouts are off) closes the stream.
template<class Stream>
void beast_close_socket(ws_transport<Stream>& t)
{
    close_lowest(t.stream());
}

}  // namespace impl

/** @brief A WebSocket connection over `Stream`: Beast reads and parses the
    client's frames (masking, fragmentation, control frames, the size limit,
    the close handshake); everything written goes through the session's one
    queue.

    An idle connection holds no coroutine frame and no read buffer: one
    pending read (Beast's, into its small internal buffer) and its
    subscriptions. Heartbeats, dead-peer detection and the close deadline
    are driven by the shard's sweep timer, not by a timer per connection.

    @par Thread Safety
    Only from its shard's executor.
*/
template<class Stream>
class ws_session final : public stream_session<Stream>, private ws_sink
{
    using base = stream_session<Stream>;

public:
    // No permessage-deflate: broadcast frames are shared bytes, never compressed per connection.
    using ws_stream = boost::beast::websocket::stream<impl::ws_transport<Stream>, false>;
    using request = boost::beast::http::request<boost::beast::http::string_body>;

    ws_session(hub& h, session_limits const& limits, gateway_counters& counters, ws_host& host, Stream s,
               std::string preread, std::shared_ptr<principal const> who, std::uint64_t id)
        : base(h, limits, counters, framing::websocket, std::move(who))
        , host_(&host)
        , ws_(std::move(s), std::move(preread))
    {
        this->conn_id = id;
        ws_.next_layer().set_sink(this);
    }

    /// Answers the upgrade request, then sends `welcome` and starts reading.
    void start(request req, wire_ptr welcome)
    {
        namespace websocket = boost::beast::websocket;
        ws_.auto_fragment(false);
        ws_.read_message_max(this->limits_->max_message_bytes);
        ws_.set_option(
            websocket::stream_base::timeout{websocket::stream_base::none(), websocket::stream_base::none(), false});
        ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& res) {
            res.set(boost::beast::http::field::server, "jobwatch");
        }));
        // Any frame from the client, pongs included, proves it is alive.
        ws_.control_callback([this](websocket::frame_type, boost::beast::string_view) {
            this->mark_read(std::chrono::steady_clock::now());
        });
        auto self = std::static_pointer_cast<ws_session>(this->shared_from_this());
        ws_.async_accept(req, [self, welcome = std::move(welcome)](boost::system::error_code ec) mutable {
            if (ec) {
                self->abort_after_flush();
                return;
            }
            if (welcome)  // none: it authenticates by message first (ws_protocol)
                self->send(std::move(welcome));
            self->read_next();
        });
    }

    void resume_reading() override
    {
        held_ = false;
        if (!this->finished_ && !this->closing_ && !reading_ && !read_paused_)
            read_more();
    }

    /// The connection's number (its `connection_id` is "c" followed by it).
    std::uint64_t id() const noexcept { return this->conn_id; }

    void sweep(steady_time now) override
    {
        if (this->closing_ || this->finished_) {
            if (this->close_deadline_ != steady_time{} && now >= this->close_deadline_)
                abort();
            return;
        }
        if (!this->authenticated()) {
            if (now >= this->auth_deadline) {
                ++(*this->counters_)[count::auth_timeouts];
                close_with(4401, "no auth message within gateway.auth_timeout_ms",
                           encode_message(error_message{.id = std::nullopt,
                                                        .code = protocol_error::unauthenticated,
                                                        .message = "no auth message within gateway.auth_timeout_ms",
                                                        .path = std::nullopt}));
            }
            return;
        }
        if (auto& e = this->expiry; e.at != steady_time{}) {
            if (now >= e.at) {
                ++(*this->counters_)[count::auth_expired];
                close_with(4401, "token expired",
                           encode_message(error_message{.id = std::nullopt,
                                                        .code = protocol_error::unauthenticated,
                                                        .message = "token expired at " + e.text,
                                                        .path = std::nullopt}));
                return;
            }
            if (!e.noticed && now >= e.notice_at) {
                e.noticed = true;
                this->send(encode_message(auth_expiring_message{.expires_at = e.text}));
            }
        }
        auto const hb = this->limits_->heartbeat;
        if (hb.count() <= 0)
            return;
        if (now - this->last_read_ > 2 * hb) {
            ++(*this->counters_)[count::dead_peers];
            abort();
            return;
        }
        if (now - this->last_ping_ >= hb) {
            this->last_ping_ = now;
            static wire_ptr const ping = encode_control_frame(0x9, {});
            this->send(ping);
        }
    }

    void shutdown() override { close_with(1001, "server shutting down"); }
    void abort() override { this->close_socket(); }
    std::string_view kind() const noexcept override { return "ws"; }

    /// Closes the connection with `code` and `reason` (a close frame, then the handshake's end).
    void close_with(std::uint16_t code, std::string_view reason, wire_ptr notice = nullptr) override
    {
        this->close(encode_close_frame(code, reason), std::move(notice));
    }

private:
    Stream& stream() noexcept override { return ws_.next_layer().stream(); }

    void on_finished() override
    {
        if (host_)
            host_->on_ws_finished(*this);
    }

    void on_overflow() override { close_with(1008, "send queue overflow"); }
    void forget_host() noexcept override { host_ = nullptr; }

    boost::system::error_code take_raw(std::string bytes) override
    {
        if (this->finished_ && !this->close_after_flush_)
            return asio::error::not_connected;
        if (this->closing_)
            return {};  // our own close frame went already; Beast's reply to the peer's is moot
        auto m = std::make_shared<wire_msg>();
        m->head = std::move(bytes);
        if (this->finished_) {
            // The close handshake's own frame, after reading the peer's close.
            this->queue_.push_final(std::move(m));
        } else if (!this->take(std::move(m))) {
            return {};
        }
        if (!this->writing_)
            this->flush();
        return {};
    }

    void abort_after_flush() override { base::abort_after_flush(); }

    // The close handshake's end: no more writes, then wait for the peer to
    // close (its close reply, or EOF) before closing, so that it reads our
    // close frame instead of a reset. The sweep's close deadline bounds it.
    void after_close_flushed() override
    {
        if constexpr (impl::over_tcp<Stream>) {
            // Over TLS too: the close frame is the last record; a TCP FIN, no close_notify, ends it.
            boost::system::error_code ec;
            boost::beast::get_lowest_layer(stream()).shutdown(tcp::socket::shutdown_send, ec);
            if (ec)
                return this->close_socket();
            if (!reading_)
                drain();
            // Otherwise Beast's pending read ends with the peer's reply or EOF.
        } else {
            this->close_socket();
        }
    }

    void drain()
    {
        thread_local char sink[256];
        auto self = std::static_pointer_cast<ws_session>(this->shared_from_this());
        stream().async_read_some(asio::buffer(sink), [self](boost::system::error_code ec, std::size_t) {
            if (ec || self->closed_)
                return self->close_socket();
            self->drain();
        });
    }

    void on_drained() override
    {
        if (read_paused_ && !this->finished_) {
            read_paused_ = false;
            if (!held_ && !reading_)
                read_next();
        }
    }

    void read_next()
    {
        auto self = std::static_pointer_cast<ws_session>(this->shared_from_this());
        reading_ = true;
        ws_.async_read(rbuf_, [self](boost::system::error_code ec, std::size_t) { self->on_read(ec); });
    }

    void on_read(boost::system::error_code ec)
    {
        reading_ = false;
        if (ec) {
            if (this->closed_)
                return;
            // Beast has queued its close reply or 1009/1002 close where one is due.
            this->abort_after_flush();
            return;
        }
        auto const now = std::chrono::steady_clock::now();
        this->mark_read(now);
        ++(*this->counters_)[count::ws_messages_in];
        bool hold = false;
        if (host_ && !this->finished_) {
            if (!rate_.take(this->limits_->ws_messages, now)) {
                refuse_for_rate();
            } else {
                refused_in_row_ = 0;
                if (ws_.got_binary() && host_->on_ws_binary(*this, rbuf_.size())) {
                    ++(*this->counters_)[count::ws_bad_messages];
                } else if (ws_.got_binary()) {
                    ++(*this->counters_)[count::ws_bad_messages];
                    this->send(encode_message(error_message{
                        .code = protocol_error::invalid_message,
                        .message = "binary messages are not supported; send JSON text",
                        .path = ""}));
                } else {
                    auto const text = boost::beast::buffers_to_string(rbuf_.data());
                    hold = !host_->on_ws_message(*this, text);
                }
            }
        }
        // No read buffer is held between messages.
        rbuf_.clear();
        rbuf_.shrink_to_fit();
        if (this->finished_ || this->closing_)
            return;
        if (hold) {
            held_ = true;
            return;
        }
        read_more();
    }

    // Over rate_limits.ws_messages_per_s: an error per message, and close 1008 once
    // ws_close_after_refused came in a row (a client that ignores the errors).
    void refuse_for_rate()
    {
        ++(*this->counters_)[count::limited_ws_messages];
        auto const& l = *this->limits_;
        auto error = encode_message(error_message{
            .id = std::nullopt,
            .code = protocol_error::rate_limited,
            .message = "over rate_limits.ws_messages_per_s (" + std::to_string(l.ws_messages.rate) +
                       " messages per second); this message was dropped",
            .path = ""});
        if (l.ws_close_after_refused > 0 && ++refused_in_row_ >= l.ws_close_after_refused) {
            ++(*this->counters_)[count::limited_ws_closes];
            close_with(1008, "message rate exceeded", std::move(error));
            return;
        }
        this->send(std::move(error));
    }

    void read_more()
    {
        // Back-pressure on the client's requests: stop reading while its replies pile up.
        auto const& l = this->limits_->queue;
        if (this->queue_.messages() * 2 > l.max_messages || this->queue_.bytes() * 2 > l.max_bytes) {
            read_paused_ = true;
            return;
        }
        read_next();
    }

    ws_host* host_;
    ws_stream ws_;
    impl::lazy_read_buffer rbuf_;
    token_bucket rate_;               ///< rate_limits.ws_messages_per_s
    std::int64_t refused_in_row_ = 0;  ///< messages refused for the rate since the last one taken
    bool read_paused_ = false;  ///< replies pile up: the next read waits for the queue to drain
    bool held_ = false;         ///< the host answers the last message on another thread
    bool reading_ = false;
};

}  // namespace jobwatch::gw

#endif
