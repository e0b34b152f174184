#ifndef JOBWATCH_REDIS_DETAIL_LINK_HPP
#define JOBWATCH_REDIS_DETAIL_LINK_HPP

/** @file
    The life of one Redis socket, shared by `connection` and `subscriber`:
    resolve, connect, handshake, then one reader, one writer and one health
    pinger until the connection drops; then backoff and again, until
    cancelled. What is written and what a reply means is the owner's
    business, through `link_hooks`.
*/

#include <jobwatch/detail/asio.hpp>
#include <jobwatch/logger.hpp>
#include <jobwatch/redis/detail/backoff.hpp>
#include <jobwatch/redis/detail/resp.hpp>
#include <jobwatch/redis/error.hpp>
#include <jobwatch/redis/health.hpp>
#include <jobwatch/redis/request.hpp>
#include <jobwatch/redis/settings.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/system/system_error.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <variant>
#include <vector>

namespace jobwatch::redis::detail {

using boost::system::error_code;

/// What the owner of a `link` does at each step; every call comes from the link's executor.
class link_hooks
{
public:
    /// Connected and past the handshake; queue what must be written first.
    virtual void on_connected() = 0;
    /// Append what should be written now to `out`; nothing makes the writer sleep
    /// until `link::wake_writer()`.
    virtual void fill(std::string& out) = 0;
    /// One reply arrived; an error closes the connection.
    virtual error_code on_reply(reply&& r) = 0;
    /// Queue a PING whose answer reaches `link::pong()`.
    virtual void send_ping() = 0;
    /// The connection is closed; settle what was in flight.
    virtual void on_disconnected() = 0;
    /// `run()` is about to return.
    virtual void on_stopped() = 0;

protected:
    ~link_hooks() = default;
};

/// Makes the calling coroutine see every cancellation type as a state to check
/// (the app's graceful shutdown is `total`; by default a coroutine takes only
/// `terminal`), without throwing at its next suspension.
inline asio::awaitable<void> take_cancellation_as_state()
{
    co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
    co_await asio::this_coro::throw_if_cancelled(false);
}

// The commands of the handshake. (At namespace scope: GCC 12 crashes mangling a
// std::vector of an enum declared inside a coroutine, "in write_encoding".)
enum class handshake_step
{
    auth,
    select,
    setname,
    ping,
};

inline asio::awaitable<bool> is_cancelled()
{
    auto const cs = co_await asio::this_coro::cancellation_state;
    co_return cs.cancelled() != asio::cancellation_type::none;
}

// Every loop of a coroutine that takes cancellation as state checks it before
// it starts a new wait, not only after one: a cancellation emitted while the
// coroutine was not waiting (its last operation's completion already queued)
// is only recorded, and a wait started after it is not cancelled. A writer
// that missed it so slept forever on its idle timer, and the session, which
// waits for all its parts, never ended: the connection looked connected and
// read nothing more.
// (Two statements: GCC 12 cannot parse the one-expression form in a template.)
#define JOBWATCH_REDIS_RETURN_IF_CANCELLED()                                      \
    do {                                                                          \
        auto const jw_cs_ = co_await asio::this_coro::cancellation_state;         \
        if (jw_cs_.cancelled() != asio::cancellation_type::none)                  \
            co_return asio::error::operation_aborted;                             \
    } while (false)

/** @brief One socket to Redis and its reconnect loop.

    The writer is an explicit state machine: `stopped` (no connection),
    `idle` (nothing to write; `wake_writer()` wakes it), `writing` (one
    `async_write` in flight; when it ends the writer asks `fill` again, so a
    wake during a write is never lost). At most one write is in flight.

    @par Thread Safety
    Only from its executor.
*/
class link
{
public:
    using executor_type = asio::any_io_executor;
    using clock = std::chrono::steady_clock;

    enum class writer_state
    {
        stopped,
        idle,
        writing,
    };

    link(executor_type ex, settings s, logger lgr, std::string_view role)
        : ex_(std::move(ex)), cfg_(std::move(s)), lgr_(std::move(lgr)), socket_(ex_),
          writer_timer_(ex_), backoff_(cfg_.reconnect_base, cfg_.reconnect_max, cfg_.seed)
    {
        who_ = "redis " + std::string(role);
        if (!cfg_.client_name.empty())
            who_ += " '" + cfg_.client_name + "'";
        who_ += " " + cfg_.host + ":" + std::to_string(cfg_.port) + ": ";
        health_.since = clock::now();
        if (cfg_.tls) {
            // Servers are verified against the CAs and by name (or address); TLS 1.2 at least.
            tls_ctx_.emplace(asio::ssl::context::tls_client);
            tls_ctx_->set_options(asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
            tls_ctx_->set_verify_mode(asio::ssl::verify_peer);
            error_code ec;
            if (cfg_.tls_ca_file.empty())
                tls_ctx_->set_default_verify_paths(ec);
            else
                tls_ctx_->load_verify_file(cfg_.tls_ca_file, ec);
            if (ec)
                tls_ctx_error_ = "the CA file " + (cfg_.tls_ca_file.empty() ? std::string("(system)") : cfg_.tls_ca_file) +
                                 " cannot be used: " + ec.message();
        }
    }

    link(link const&) = delete;
    link& operator=(link const&) = delete;

    executor_type get_executor() const noexcept { return ex_; }
    settings const& config() const noexcept { return cfg_; }
    logger const& log() const noexcept { return lgr_; }
    std::string_view who() const noexcept { return who_; }

    bool connected() const noexcept { return health_.connected; }
    bool running() const noexcept { return running_; }
    health_info const& health() const noexcept { return health_; }
    writer_state writer() const noexcept { return writer_; }

    /// There is something to write: wakes the writer if it sleeps.
    void wake_writer()
    {
        if (writer_ == writer_state::idle)
            writer_timer_.cancel();
    }

    /// The answer to the PING queued by `send_ping()` arrived.
    void pong()
    {
        if (!ping_outstanding_)
            return;
        ping_outstanding_ = false;
        health_.last_rtt = clock::now() - ping_sent_;
    }

    /// Runs until cancelled (any type); see `connection::run`.
    asio::awaitable<void> run(link_hooks& h);

private:
    asio::awaitable<error_code> connect();
    asio::awaitable<error_code> connect_steps();
    template <class OnReply> asio::awaitable<error_code> read(OnReply on_reply);
    error_code protocol_error(std::string_view what)
    {
        why_ = "protocol error: " + std::string(what);
        return error::protocol;
    }
    asio::awaitable<error_code> session(link_hooks& h);
    asio::awaitable<error_code> reader(link_hooks& h);
    asio::awaitable<error_code> writer(link_hooks& h);
    asio::awaitable<error_code> pinger(link_hooks& h);
    void close() noexcept;
    void set_connected(bool c);
    void note_failure(error_code ec, std::string text, bool was_connected);

    executor_type ex_;
    settings cfg_;
    logger lgr_;
    std::string who_;
    asio::ip::tcp::socket socket_;
    // rediss://: a TLS stream over socket_, made again at every connect.
    std::optional<asio::ssl::context> tls_ctx_;
    std::string tls_ctx_error_;  // why the CA file could not be used
    std::optional<asio::ssl::stream<asio::ip::tcp::socket&>> tls_;
    asio::awaitable<std::tuple<error_code, std::size_t>> write_all(asio::const_buffer b)
    {
        if (tls_)
            co_return co_await asio::async_write(*tls_, b, ::jobwatch::detail::use_tuple);
        co_return co_await asio::async_write(socket_, b, ::jobwatch::detail::use_tuple);
    }
    ::jobwatch::detail::tuple_timer writer_timer_;
    backoff backoff_;
    std::optional<resp_reader> parser_;
    std::array<char, 16 * 1024>
        rbuf_{};       // hiredis compacts its buffer per KiB read: keep reads modest
    std::string out_;  // the bytes of the write in flight
    writer_state writer_ = writer_state::stopped;
    bool ping_outstanding_ = false;
    clock::time_point ping_sent_{};
    health_info health_;
    std::string why_;  // details of the current attempt's or session's failure
    bool running_ = false;
    bool ever_connected_ = false;
};

inline void link::close() noexcept
{
    error_code ignored;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
}

inline void link::set_connected(bool c)
{
    if (health_.connected == c)
        return;
    health_.connected = c;
    health_.since = clock::now();
}

inline void link::note_failure(error_code ec, std::string text, bool was_connected)
{
    health_.last_error = ec;
    health_.last_error_text = std::move(text);
    auto const& why = health_.last_error_text.empty() ? ec.message() : health_.last_error_text;
    if (was_connected) {
        lgr_.warn("redis", who_ + "connection lost: " + why + "; reconnecting");
        return;
    }
    ++health_.failed_attempts;
    // Rate-limited over a long outage: the 1st, 2nd, 4th, 8th... failure at warn.
    auto const n = health_.failed_attempts;
    auto const lvl = (n & (n - 1)) == 0 ? logger::level::warn : logger::level::debug;
    if (!lgr_.enabled(lvl))
        return;
    lgr_.log(lvl, who_ + "cannot connect (attempt " + std::to_string(n) + "): " + why);
}

inline asio::awaitable<void> link::run(link_hooks& h)
{
    if (std::string reason; check(cfg_, &reason)) {
        h.on_stopped();  // nothing will ever be written: callers must not wait
        throw boost::system::system_error(error::invalid_settings, who_ + reason);
    }
    if (running_)
        throw std::logic_error(who_ + "another run() is in progress");
    running_ = true;
    // A cancellation that came before this first resumption is kept: the reset forgets it.
    auto const early = (co_await asio::this_coro::cancellation_state).cancelled();
    co_await take_cancellation_as_state();

    ::jobwatch::detail::tuple_timer wait{ex_};
    while (early == asio::cancellation_type::none && !co_await is_cancelled()) {
        auto ec = co_await connect();
        if (co_await is_cancelled())
            break;
        if (!ec) {
            backoff_.reset();
            health_.failed_attempts = 0;
            if (ever_connected_)
                ++health_.reconnects;
            ever_connected_ = true;
            set_connected(true);
            lgr_.info("redis", who_ + "connected" + (cfg_.tls ? " over TLS" : "") +
                      (cfg_.database != 0 ? " (db " + std::to_string(cfg_.database) + ")" : ""));
            h.on_connected();
            ec = co_await session(h);
            set_connected(false);
            close();
            h.on_disconnected();
            if (co_await is_cancelled())
                break;
            note_failure(ec, ec == error::protocol ? why_ : std::string{}, true);
        }
        auto const delay = backoff_.next();
        if (lgr_.enabled(logger::level::debug))
            lgr_.debug("redis", who_ + "next attempt in " +
                       std::to_string(
                           std::chrono::duration_cast<std::chrono::milliseconds>(delay).count()) +
                       " ms");
        wait.expires_after(delay);
        co_await wait.async_wait();
    }

    close();
    set_connected(false);
    h.on_stopped();
    running_ = false;
    lgr_.info("redis", who_ + "stopped");
}

// Resolve, connect and handshake, bounded by connect_timeout.
inline asio::awaitable<error_code> link::connect()
{
    using namespace asio::experimental::awaitable_operators;
    close();
    parser_.emplace();
    why_.clear();
    ::jobwatch::detail::tuple_timer deadline{ex_, cfg_.connect_timeout};
    auto r = co_await (connect_steps() || deadline.async_wait());
    error_code ec;
    if (r.index() == 0) {
        ec = std::get<0>(r);
    } else {
        auto const [timer_ec] = std::get<1>(r);
        // A cancelled deadline means run() itself is being cancelled.
        ec = timer_ec ? timer_ec : make_error_code(error::connect_timeout);
        if (!timer_ec)
            why_ = "no answer within connect_timeout (" +
                   std::to_string(
                       std::chrono::duration_cast<std::chrono::milliseconds>(cfg_.connect_timeout)
                           .count()) +
                   " ms)";
    }
    if (ec) {
        close();
        if (ec != asio::error::operation_aborted)
            note_failure(ec, why_, false);
    }
    co_return ec;
}

inline asio::awaitable<error_code> link::connect_steps()
{
    co_await take_cancellation_as_state();
    using asio::ip::tcp;
    tls_.reset();  // no operation is pending on it between sessions
    tcp::resolver resolver{ex_};
    auto [rec, endpoints] = co_await resolver.async_resolve(cfg_.host, std::to_string(cfg_.port),
                                                            ::jobwatch::detail::use_tuple);
    if (rec) {
        why_ = "resolving " + cfg_.host + ": " + rec.message();
        co_return rec;
    }
    auto [cec, endpoint] =
        co_await asio::async_connect(socket_, endpoints, ::jobwatch::detail::use_tuple);
    if (cec) {
        why_ = "connecting: " + cec.message();
        co_return cec;
    }
    error_code ignored;
    // Pipelined requests are written as soon as they are queued: no Nagle delay.
    socket_.set_option(tcp::no_delay(true), ignored);
    socket_.set_option(asio::socket_base::keep_alive(true), ignored);
    if (tls_ctx_) {
        if (!tls_ctx_error_.empty()) {
            why_ = tls_ctx_error_;
            co_return error::tls_failed;
        }
        tls_.emplace(socket_, *tls_ctx_);
        error_code addr_ec;
        asio::ip::make_address(cfg_.host, addr_ec);
        if (addr_ec)  // a name: sent as SNI
            SSL_set_tlsext_host_name(tls_->native_handle(), cfg_.host.c_str());
        tls_->set_verify_callback(asio::ssl::host_name_verification(cfg_.host));
        auto [hec] = co_await tls_->async_handshake(asio::ssl::stream_base::client, ::jobwatch::detail::use_tuple);
        if (hec) {
            why_ = "TLS handshake: " + hec.message();
            co_return error::tls_failed;
        }
    }

    // The handshake, pipelined: [AUTH] [SELECT] [CLIENT SETNAME] PING. The PING
    // proves that a Redis answers (and that it does not want AUTH we did not send).
    using step = handshake_step;
    request hs;
    std::vector<step> steps;
    if (!cfg_.password.empty()) {
        if (cfg_.username.empty())
            hs.push("AUTH", cfg_.password);
        else
            hs.push("AUTH", cfg_.username, cfg_.password);
        steps.push_back(step::auth);
    }
    if (cfg_.database != 0) {
        hs.push("SELECT", cfg_.database);
        steps.push_back(step::select);
    }
    if (!cfg_.client_name.empty()) {
        hs.push("CLIENT", "SETNAME", cfg_.client_name);
        steps.push_back(step::setname);
    }
    hs.push("PING");
    steps.push_back(step::ping);

    auto [wec, written] = co_await write_all(asio::buffer(hs.payload()));
    if (wec) {
        why_ = "writing the handshake: " + wec.message();
        co_return wec;
    }
    std::vector<reply> replies;
    auto const collect = [&replies, n = steps.size()](reply&& r, bool& stop) {
        replies.push_back(std::move(r));
        stop = replies.size() == n;
        return error_code{};
    };
    if (auto ec = co_await read(collect)) {
        if (ec != error::protocol)
            why_ = "reading the handshake: " + ec.message();
        co_return ec;
    }
    for (std::size_t i = 0; i < steps.size(); ++i) {
        if (!replies[i].is_error())
            continue;
        auto const msg = std::string(replies[i].error_message());
        switch (steps[i]) {
        case step::auth:
            why_ = "AUTH refused: " + msg;
            co_return error::auth_failed;
        case step::select:
            why_ = "SELECT " + std::to_string(cfg_.database) + " refused: " + msg;
            co_return error::handshake_failed;
        case step::setname:
            why_ = "CLIENT SETNAME refused: " + msg;
            co_return error::handshake_failed;
        case step::ping:
            // NOAUTH: the server wants a password and the settings have none.
            why_ = "PING refused: " + msg;
            co_return msg.starts_with("NOAUTH") ? error::auth_failed : error::handshake_failed;
        }
    }
    co_return error_code{};
}

// Parses what is buffered, handing each reply to `on_reply(reply&&, bool& stop)`,
// and reads more from the socket when needed, until `on_reply` sets `stop` or
// returns an error, or reading fails. Both the handshake and the session read here.
template <class OnReply> asio::awaitable<error_code> link::read(OnReply on_reply)
{
    for (;;) {
        while (auto r = parser_->next()) {
            bool stop = false;
            if (auto ec = on_reply(std::move(*r), stop))
                co_return ec;
            if (stop)
                co_return error_code{};
        }
        if (parser_->failed())
            co_return protocol_error(parser_->error_text());
        JOBWATCH_REDIS_RETURN_IF_CANCELLED();
        error_code ec;
        std::size_t got = 0;
        if (tls_)
            std::tie(ec, got) = co_await tls_->async_read_some(asio::buffer(rbuf_), ::jobwatch::detail::use_tuple);
        else
            std::tie(ec, got) = co_await socket_.async_read_some(asio::buffer(rbuf_), ::jobwatch::detail::use_tuple);
        if (ec)
            co_return ec;
        if (!parser_->feed(rbuf_.data(), got))
            co_return protocol_error(parser_->error_text());
    }
}

// Reader, writer and pinger until one of them ends; the others are then cancelled.
inline asio::awaitable<error_code> link::session(link_hooks& h)
{
    // One parallel group of three, not `reader() || writer() || pinger()`: the
    // operators nest the first two in a coroutine of their own whose default
    // filter drops `total` cancellation, so the app's graceful shutdown would
    // not reach them (Asio 1.26).
    ping_outstanding_ = false;
    auto [order, x0, e0, x1, e1, x2, e2] =
        co_await asio::experimental::make_parallel_group(
            asio::co_spawn(ex_, reader(h), asio::deferred),
            asio::co_spawn(ex_, writer(h), asio::deferred),
            asio::co_spawn(ex_, pinger(h), asio::deferred))
            .async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
    writer_ = writer_state::stopped;
    for (auto const& x : {x0, x1, x2})
        if (x)
            std::rethrow_exception(x);  // a bug, not an outcome
    error_code const ecs[] = {e0, e1, e2};
    co_return ecs[order[0]];
}

inline asio::awaitable<error_code> link::reader(link_hooks& h)
{
    co_await take_cancellation_as_state();
    co_return co_await read([this, &h](reply&& r, bool&) {
        auto ec = h.on_reply(std::move(r));
        return ec == error::protocol ? protocol_error("a reply nobody asked for") : ec;
    });
}

inline asio::awaitable<error_code> link::writer(link_hooks& h)
{
    co_await take_cancellation_as_state();
    for (;;) {
        JOBWATCH_REDIS_RETURN_IF_CANCELLED();
        out_.clear();
        h.fill(out_);
        if (out_.empty()) {
            writer_ = writer_state::idle;
            writer_timer_.expires_at(clock::time_point::max());
            co_await writer_timer_.async_wait();  // woken by wake_writer(): operation_aborted
            writer_ = writer_state::writing;
            continue;
        }
        writer_ = writer_state::writing;
        auto [ec, n] = co_await write_all(asio::buffer(out_));
        if (ec)
            co_return ec;
    }
}

inline asio::awaitable<error_code> link::pinger(link_hooks& h)
{
    co_await take_cancellation_as_state();
    ::jobwatch::detail::tuple_timer t{ex_};
    if (cfg_.health_interval == settings::duration::zero()) {
        t.expires_at(clock::time_point::max());
        co_await t.async_wait();
        co_return asio::error::operation_aborted;
    }
    bool const timeouts = cfg_.ping_timeout > settings::duration::zero();
    auto next_ping = clock::now() + cfg_.health_interval;
    for (;;) {
        JOBWATCH_REDIS_RETURN_IF_CANCELLED();
        auto wake = next_ping;
        if (ping_outstanding_ && timeouts)
            wake = std::min(wake, ping_sent_ + cfg_.ping_timeout);
        t.expires_at(wake);
        auto [ec] = co_await t.async_wait();
        if (ec)
            co_return ec;
        auto const now = clock::now();
        if (ping_outstanding_ && timeouts && now >= ping_sent_ + cfg_.ping_timeout)
            co_return error::ping_timeout;
        if (now >= next_ping) {
            next_ping = now + cfg_.health_interval;
            if (!ping_outstanding_) {
                ping_outstanding_ = true;
                ping_sent_ = now;
                h.send_ping();
                wake_writer();
            }
        }
    }
}

}  // namespace jobwatch::redis::detail

#undef JOBWATCH_REDIS_RETURN_IF_CANCELLED

#endif
