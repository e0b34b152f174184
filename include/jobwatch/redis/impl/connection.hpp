#ifndef JOBWATCH_REDIS_IMPL_CONNECTION_HPP
#define JOBWATCH_REDIS_IMPL_CONNECTION_HPP

// Included at the bottom of <jobwatch/redis/connection.hpp>.

namespace jobwatch::redis {

inline asio::awaitable<void> connection::run()
{
    stopped_ = false;
    co_await link_.run(*this);
}

inline asio::awaitable<connection::result> connection::exec(request const& req)
{
    if (req.empty())
        co_return result{};
    if (req.has_pubsub())
        co_return result{error::invalid_request, {}};
    if (stopped_ ||
        (!link_.connected() && link_.config().when_disconnected == on_disconnected::fail_fast))
        co_return result{error::not_connected, {}};

    auto op = std::make_shared<exec_op>(link_.get_executor(), req);
    if (auto ec = pipeline_.push(op))
        co_return result{ec, {}};
    // Whatever ends this frame (cancellation, an exception at a suspension
    // point), a request nobody waits for must not be written from `req`.
    abandon_on_exit const guard{pipeline_, *op};

    if (link_.connected())
        link_.wake_writer();
    if (op->at != detail::pending::stage::done)
        co_await op->wake.async_wait();  // complete() cancels it; so does our own cancellation
    if (op->at != detail::pending::stage::done)
        co_return result{asio::error::operation_aborted, {}};
    co_return result{op->ec, std::move(op->replies)};
}

inline void connection::complete(detail::pending& p)
{
    if (p.internal) {
        // A health PING: any answer, even an error (NOAUTH after a reset), shows liveness.
        if (p.ec != error::connection_lost && p.ec != error::not_connected)
            link_.pong();
        return;
    }
    static_cast<exec_op&>(p).wake.cancel();
}

inline boost::system::error_code connection::on_reply(reply&& r)
{
    bool const was_full = !pipeline_.writable();
    auto ec = pipeline_.on_reply(std::move(r), [this](detail::pending& p) { complete(p); });
    // The in-flight bound held the writer back: there is room again.
    if (!ec && was_full && pipeline_.writable())
        link_.wake_writer();
    return ec;
}

inline void connection::send_ping()
{
    static constexpr std::string_view ping = "*1\r\n$4\r\nPING\r\n";
    // Not counted against max_queued_requests, and never refused.
    (void)pipeline_.push(std::make_shared<detail::pending>(ping, 1, true));
}

inline void connection::on_disconnected()
{
    auto done = [this](detail::pending& p) { complete(p); };
    pipeline_.fail_in_flight(error::connection_lost, done);
    pipeline_.drop_queued_pings();
    if (link_.config().when_disconnected == on_disconnected::fail_fast)
        pipeline_.fail_queued(error::not_connected, done);
}

inline void connection::on_stopped()
{
    stopped_ = true;
    auto done = [this](detail::pending& p) { complete(p); };
    pipeline_.fail_in_flight(error::connection_lost, done);
    pipeline_.fail_queued(error::not_connected, done);
}

}  // namespace jobwatch::redis

#endif
