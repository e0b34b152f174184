#ifndef JOBWATCH_GATEWAY_LISTENER_HPP
#define JOBWATCH_GATEWAY_LISTENER_HPP

/** @file
    The gateway's listening socket: accept, hand each connection to a shard,
    refuse past `max_connections`.
*/

#include <jobwatch/gateway/server.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <functional>
#include <memory>
#include <string>

#include <unistd.h>

namespace jobwatch::gw {

/** @brief Accepts connections on the core's context and hands each to the
    next shard (round robin), moving its socket to the shard's context (a
    pending accept bound to a shard's context must not outlive it at
    shutdown). Past `max_connections` a connection is answered 503 with
    `Retry-After` (before any upgrade, so every client kind reads the same
    answer) and closed.

    @par Thread Safety
    Only from the core executor.
*/
class listener
{
public:
    /// Serves an accepted connection on its shard.
    using serve_fn = std::function<void(shard&, tcp::socket)>;

    listener(server& srv, serve_fn serve) : srv_(srv), acceptor_(srv.get_core().get_executor()), serve_(std::move(serve))
    {
    }

    /// Binds and listens now, so the port is known (and a taken port reported) before the gateway runs.
    void bind(std::string const& host, std::uint16_t port)
    {
        boost::system::error_code ec;
        auto const addr = asio::ip::make_address(host, ec);
        if (ec) {
            error_ = ec;
            what_ = "gateway.host \"" + host + "\" is not an IP address";
            return;
        }
        tcp::endpoint ep{addr, port};
        acceptor_.open(ep.protocol(), ec);
        if (!ec)
            acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
        if (!ec)
            acceptor_.bind(ep, ec);
        if (!ec)
            acceptor_.listen(asio::socket_base::max_listen_connections, ec);
        if (ec) {
            error_ = ec;
            what_ = "cannot listen on " + host + ":" + std::to_string(port);
            acceptor_.close(ec);
            return;
        }
        port_ = acceptor_.local_endpoint().port();
    }

    /// Why binding failed (empty when it did not), and what was tried.
    boost::system::error_code error() const noexcept { return error_; }
    std::string const& what() const noexcept { return what_; }
    std::uint16_t port() const noexcept { return port_; }
    std::string address() const
    {
        boost::system::error_code ec;
        auto const ep = acceptor_.local_endpoint(ec);
        return ec ? std::string() : ep.address().to_string();
    }

    /// Starts accepting (again, after an error such as running out of file descriptors).
    void accept()
    {
        if (pending_ || srv_.draining || !acceptor_.is_open())
            return;
        pending_ = true;
        acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket sock) {
            pending_ = false;
            if (ec == asio::error::operation_aborted || srv_.draining)
                return;
            if (ec) {
                // EMFILE and friends: do not spin; the gateway's sweep calls accept() again.
                srv_.get_core().log().warn("gateway", "accept failed: " + ec.message());
                return;
            }
            on_accept(std::move(sock));
            accept();
        });
    }

    /// Stops accepting.
    void close()
    {
        boost::system::error_code ec;
        acceptor_.close(ec);
    }

private:
    void on_accept(tcp::socket sock)
    {
        ++srv_.counters[count::accepted];
        boost::system::error_code ec;
        if (over_address_rate(sock))
            return;
        sock.set_option(tcp::no_delay(true), ec);
        // Left to itself the kernel grows a slow reader's buffer to megabytes, out of the send queue's bound.
        if (auto const b = srv_.get_core().settings().gateway.socket_send_buffer_bytes; b > 0)
            sock.set_option(asio::socket_base::send_buffer_size(static_cast<int>(b)), ec);
        auto& sh = *srv_.shards[next_++ % srv_.shards.size()];
        if (!sh.is_core()) {
            auto const protocol = sock.local_endpoint(ec).protocol();
            auto const fd = ec ? -1 : sock.release(ec);
            tcp::socket moved(sh.ex);
            if (!ec) {
                moved.assign(protocol, fd, ec);
                if (ec)
                    ::close(fd);
            }
            if (ec) {
                srv_.get_core().log().warn("gateway", "cannot hand a connection to an I/O thread: " + ec.message());
                return;
            }
            sock = std::move(moved);
        }
        if (srv_.connection_count() >= srv_.max_connections) {
            ++srv_.counters[count::refused];
            if (srv_.refusing < 64) {
                ++srv_.refusing;
                asio::co_spawn(sh.ex,
                               refuse(srv_, std::move(sock), http::status::service_unavailable,
                                      "too many connections; try again later", 5),
                               [](std::exception_ptr) {});
            }
            return;
        }
        ++srv_.accepting;
        serve_(sh, std::move(sock));
    }

    /** @brief True (and the connection refused with 429) when its address
        opened more than `rate_limits.new_connections_per_ip_per_s` allow. Core
        thread: the buckets are the listener's. */
    bool over_address_rate(tcp::socket& sock)
    {
        auto const& r = srv_.get_core().settings().rate_limits;
        rate_limit const l{r.new_connections_per_ip_per_s, r.new_connections_burst};
        if (l.off())
            return false;
        boost::system::error_code ec;
        auto const address = sock.remote_endpoint(ec).address().to_string();
        if (ec || per_address_.take(address, l, std::chrono::steady_clock::now()))
            return false;
        ++srv_.counters[count::limited_connections];
        if (srv_.refusing < 64) {
            ++srv_.refusing;
            auto const wait = per_address_.wait_for(address, l);
            auto const secs = std::max<std::int64_t>(1, (wait.count() + 999) / 1000);
            auto ex = sock.get_executor();
            asio::co_spawn(ex,
                           refuse(srv_, std::move(sock), http::status::too_many_requests,
                                  "too many new connections from this address (rate_limits."
                                  "new_connections_per_ip_per_s = " +
                                      std::to_string(l.rate) + ")",
                                  secs),
                           [](std::exception_ptr) {});
        }
        return true;
    }

    // Polite refusal: read the request head (briefly), answer `st` with Retry-After.
    static asio::awaitable<void> refuse(server& srv, tcp::socket sock, http::status st, std::string detail,
                                        std::int64_t retry_after_s)
    {
        detail::tuple_timer timer(sock.get_executor());
        timer.expires_after(std::chrono::seconds{2});
        // `done`: the timer may fire just before cancel() (then its handler
        // runs after this coroutine has ended and the socket is gone).
        auto done = std::make_shared<bool>(false);
        timer.async_wait([&sock, done](boost::system::error_code ec) {
            if (!ec && !*done)
                sock.close(ec);
        });
        boost::beast::flat_buffer buf;
        http::request req;
        {
            boost::beast::http::request_parser<boost::beast::http::string_body> p;
            p.header_limit(static_cast<std::uint32_t>(srv.max_header_bytes));
            auto [ec, n] = co_await boost::beast::http::async_read_header(sock, buf, p, detail::use_tuple);
            if (!ec)
                req = p.release();
        }
        if (sock.is_open()) {
            auto res = http::problem(req, st, detail);
            res.set(boost::beast::http::field::retry_after, std::to_string(retry_after_s));
            res.keep_alive(false);
            co_await boost::beast::http::async_write(sock, res, detail::use_tuple);
        }
        *done = true;
        timer.cancel();
        boost::system::error_code ec;
        sock.shutdown(tcp::socket::shutdown_both, ec);
        sock.close(ec);
        --srv.refusing;
    }

    server& srv_;
    tcp::acceptor acceptor_;
    serve_fn serve_;
    boost::system::error_code error_;
    std::string what_;
    std::uint16_t port_ = 0;
    std::size_t next_ = 0;
    bool pending_ = false;
    keyed_buckets per_address_;  // rate_limits.new_connections_per_ip_per_s
};

}  // namespace jobwatch::gw

#endif
