#ifndef JOBWATCH_GATEWAY_SSE_SESSION_HPP
#define JOBWATCH_GATEWAY_SSE_SESSION_HPP

/** @file
    A Server-Sent Events stream.
*/

#include <jobwatch/gateway/stream_session.hpp>

#include <functional>
#include <memory>
#include <string>

namespace jobwatch::gw {

/** @brief A Server-Sent Events stream over `Stream`: the same room messages
    as WebSocket, as `id: <seq>` / `event: <type>` / `data: <json>` records
    (built once per message, `wire_msg::sse_head`), through the same bounded
    queue and overflow ladder. Heartbeats are comment lines.

    @par Thread Safety
    Only from its shard's executor.
*/
template<class Stream>
class sse_session final : public stream_session<Stream>
{
    using base = stream_session<Stream>;

public:
    sse_session(hub& h, session_limits const& limits, gateway_counters& counters, Stream s,
                std::shared_ptr<principal const> who, std::function<void(subscriber&)> on_gone)
        : base(h, limits, counters, framing::sse, std::move(who)), stream_(std::move(s)), on_gone_(std::move(on_gone))
    {
    }

    /// Starts the stream: the response head, then watches for the client going away.
    void start(std::string head)
    {
        this->send(encode_raw(std::move(head)));
        watch_eof();
    }

    void sweep(steady_time now) override
    {
        if (this->closing_ || this->finished_) {
            if (this->close_deadline_ != steady_time{} && now >= this->close_deadline_)
                abort();
            return;
        }
        if (this->expiry.at != steady_time{} && now >= this->expiry.at) {
            // An SSE client cannot present a new token on this stream: it reconnects with one.
            ++(*this->counters_)[count::auth_expired];
            close_with(0, {},
                       encode_message(error_message{.id = std::nullopt,
                                                    .code = protocol_error::unauthenticated,
                                                    .message = "token expired at " + this->expiry.text,
                                                    .path = std::nullopt}));
            return;
        }
        auto const hb = this->limits_->heartbeat;
        if (hb.count() > 0 && now - this->last_ping_ >= hb) {
            this->last_ping_ = now;
            static wire_ptr const comment = encode_raw(": heartbeat\n\n");
            this->send(comment);
        }
    }
    void shutdown() override { this->close(nullptr); }
    void close_with(std::uint16_t, std::string_view, wire_ptr notice) override { this->close(nullptr, std::move(notice)); }
    void abort() override { this->close_socket(); }
    std::string_view kind() const noexcept override { return "sse"; }

private:
    Stream& stream() noexcept override { return stream_; }
    void forget_host() noexcept override { on_gone_ = nullptr; }

    void on_finished() override
    {
        if (on_gone_)
            on_gone_(*this);
    }

    void watch_eof()
    {
        // The client sends nothing after its request: any read completion means it left.
        auto self = std::static_pointer_cast<sse_session>(this->shared_from_this());
        stream_.async_read_some(asio::buffer(probe_), [self](boost::system::error_code ec, std::size_t) {
            if (!ec && !self->finished_) {
                self->watch_eof();
                return;
            }
            self->abort();
        });
    }

    Stream stream_;
    std::function<void(subscriber&)> on_gone_;
    char probe_[1] = {};
};

}  // namespace jobwatch::gw

#endif
