#ifndef JOBWATCH_TESTS_GATEWAY_SUPPORT_HPP
#define JOBWATCH_TESTS_GATEWAY_SUPPORT_HPP

// Helpers for the gateway's end-to-end tests: a real server on 127.0.0.1 in
// its own thread, and blocking Beast clients whose every read has a deadline
// (SO_RCVTIMEO), so a hang fails the test instead of stalling CI.

#include <jobwatch/components/dlq_monitor.hpp>
#include <jobwatch/components/gateway.hpp>
#include <jobwatch/jobwatch.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/time.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace jobwatch::test {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace websocket = boost::beast::websocket;
using tcp = boost::asio::ip::tcp;

/** @brief Runs the client's context until `done` or the deadline; on the
    deadline, closes `sock` (cancelling the operation) and throws.
    (Asio's blocking calls ignore SO_RCVTIMEO: they poll again on EAGAIN.) */
inline void run_until(boost::asio::io_context& io, bool const& done, tcp::socket& sock,
                      std::chrono::milliseconds timeout, char const* what)
{
    io.restart();
    io.run_for(timeout);
    if (done)
        return;
    boost::system::error_code ec;
    sock.close(ec);
    io.restart();
    io.run_for(std::chrono::seconds{1});
    throw std::runtime_error(std::string(what) + ": no answer within " + std::to_string(timeout.count()) + " ms");
}

/// A server assembled from every component, on 127.0.0.1 and a free port, in its own thread.
class test_server
{
public:
    static config default_config()
    {
        config c;
        c.gateway.port = 0;
        c.gateway.heartbeat_ms = std::chrono::milliseconds{0};
        c.aggregator.interval_ms = std::chrono::milliseconds{100};
        // CTest runs the gateway suite twice: on the core thread, and with I/O shards.
        if (char const* threads = std::getenv("JOBWATCH_TEST_GATEWAY_THREADS"))
            c.gateway.threads = static_cast<std::size_t>(std::atoi(threads));
        return c;
    }

    explicit test_server(config cfg = default_config(), gateway::config gcfg = {})
        : app_(std::move(cfg), app::options{.log = capture(), .drain_timeout = std::chrono::seconds{5},
                                            .handle_signals = false})
    {
        app_.add<aggregator>();
        app_.add<dlq_monitor>();
        app_.add<health>();
        if (!gcfg.port)
            gcfg.port = 0;
        gw_ = &app_.add<gateway>(std::move(gcfg));
        thread_ = std::thread([this] { rc_ = app_.run(); });
    }

    ~test_server() { stop(); }

    void stop()
    {
        if (!thread_.joinable())
            return;
        app_.stop();
        thread_.join();
    }

    std::uint16_t port() const { return gw_->port(); }
    gateway& gw() { return *gw_; }
    app& get_app() { return app_; }
    int exit_code() const { return rc_; }

    /// Runs `f` on the core thread and waits for it (deadline 10 s).
    template<class F>
    auto on_core(F f) -> decltype(f())
    {
        std::promise<decltype(f())> p;
        auto fut = p.get_future();
        boost::asio::post(app_.context(), [&] {
            if constexpr (std::is_void_v<decltype(f())>) {
                f();
                p.set_value();
            } else {
                p.set_value(f());
            }
        });
        if (fut.wait_for(std::chrono::seconds{10}) != std::future_status::ready)
            throw std::runtime_error("the core did not answer within 10 s");
        return fut.get();
    }

    std::vector<std::string> log_lines()
    {
        std::lock_guard lock(log_->mutex);
        return log_->lines;
    }

private:
    struct log_store
    {
        std::mutex mutex;
        std::vector<std::string> lines;
    };
    logger capture()
    {
        return logger{.lvl = logger::level::info, .fn = [store = log_](logger::level, std::string_view line) {
                          std::lock_guard lock(store->mutex);
                          store->lines.emplace_back(line);
                      }};
    }

    std::shared_ptr<log_store> log_ = std::make_shared<log_store>();
    app app_;
    gateway* gw_ = nullptr;
    std::thread thread_;
    int rc_ = -1;
};

/// One HTTP/1.1 response, as the test sees it.
struct http_reply
{
    unsigned status = 0;
    std::string body;
    bhttp::fields headers;
    boost::json::value json() const { return boost::json::parse(body); }
};

/// A blocking HTTP/1.1 client on one keep-alive connection.
class http_client
{
public:
    explicit http_client(std::uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds{10})
        : sock_(io_), timeout_(timeout)
    {
        sock_.connect({boost::asio::ip::make_address("127.0.0.1"), port});
    }

    http_reply request(bhttp::verb method, std::string target, std::string body = {},
                       std::string content_type = "application/json", std::string token = {})
    {
        bhttp::request<bhttp::string_body> req{method, target, 11};
        req.set(bhttp::field::host, "127.0.0.1");
        if (!body.empty() || method == bhttp::verb::post) {
            req.set(bhttp::field::content_type, content_type);
            req.body() = std::move(body);
        }
        if (!token.empty())
            req.set(bhttp::field::authorization, "Bearer " + token);
        for (auto const& f : extra)
            req.set(f.name_string(), f.value());
        req.prepare_payload();
        bool done = false;
        boost::system::error_code ec;
        bhttp::async_write(sock_, req, [&](boost::system::error_code e, std::size_t) {
            ec = e;
            done = true;
        });
        run_until(io_, done, sock_, timeout_, "HTTP write");
        if (ec)
            throw boost::system::system_error(ec);
        return read();
    }

    http_reply get(std::string target, std::string token = {})
    {
        return request(bhttp::verb::get, std::move(target), {}, {}, std::move(token));
    }
    http_reply post(std::string target, std::string body, std::string content_type = "application/json",
                    std::string token = {})
    {
        return request(bhttp::verb::post, std::move(target), std::move(body), std::move(content_type),
                       std::move(token));
    }

    http_reply read()
    {
        bhttp::response<bhttp::string_body> res;
        bool done = false;
        boost::system::error_code ec;
        bhttp::async_read(sock_, buf_, res, [&](boost::system::error_code e, std::size_t) {
            ec = e;
            done = true;
        });
        run_until(io_, done, sock_, timeout_, "HTTP read");
        if (ec)
            throw boost::system::system_error(ec);
        http_reply r;
        r.status = res.result_int();
        r.body = res.body();
        for (auto const& f : res)
            r.headers.set(f.name_string(), f.value());
        return r;
    }

    tcp::socket& socket() { return sock_; }
    /// Headers sent with every request (`Origin`, `Access-Control-Request-Method`...).
    bhttp::fields extra;

private:
    boost::asio::io_context io_;
    tcp::socket sock_;
    std::chrono::milliseconds timeout_;
    beast::flat_buffer buf_;
};

/// A blocking WebSocket client; every read has a deadline.
class ws_client
{
public:
    /// `bearer`: sent as `Authorization: Bearer <bearer>` on the handshake when not empty; `origin`: as `Origin`.
    explicit ws_client(std::uint16_t port, std::string target = "/ws",
                       std::chrono::milliseconds timeout = std::chrono::seconds{10}, std::string bearer = {},
                       std::string origin = {})
        : io_(std::make_unique<boost::asio::io_context>()), ws_(*io_), timeout_(timeout)
    {
        ws_.set_option(websocket::stream_base::decorator([bearer, origin](websocket::request_type& r) {
            if (!bearer.empty())
                r.set(bhttp::field::authorization, "Bearer " + bearer);
            if (!origin.empty())
                r.set(bhttp::field::origin, origin);
        }));
        ws_.next_layer().connect({boost::asio::ip::make_address("127.0.0.1"), port});
        bool done = false;
        boost::system::error_code ec;
        ws_.async_handshake("127.0.0.1", target, [&](boost::system::error_code e) {
            ec = e;
            done = true;
        });
        run_until(*io_, done, ws_.next_layer(), timeout_, "WebSocket handshake");
        if (ec)
            throw boost::system::system_error(ec);
    }

    /// Connects and reads the welcome.
    static ws_client open(std::uint16_t port, std::string target = "/ws")
    {
        ws_client c(port, std::move(target));
        auto w = c.read();
        EXPECT_EQ(w.at("type"), "welcome");
        return c;
    }

    ws_client(ws_client&&) = default;

    void send(std::string const& text)
    {
        bool done = false;
        boost::system::error_code ec;
        ws_.async_write(boost::asio::buffer(text), [&](boost::system::error_code e, std::size_t) {
            ec = e;
            done = true;
        });
        run_until(*io_, done, ws_.next_layer(), timeout_, "WebSocket write");
        if (ec)
            throw boost::system::system_error(ec);
    }

    /// Reads one message into `b`; the error code when the connection ends (throws on timeout).
    boost::system::error_code read(beast::flat_buffer& b)
    {
        bool done = false;
        boost::system::error_code ec;
        ws_.async_read(b, [&](boost::system::error_code e, std::size_t) {
            ec = e;
            done = true;
        });
        run_until(*io_, done, ws_.next_layer(), timeout_, "WebSocket read");
        return ec;
    }
    void send(boost::json::object const& o) { send(boost::json::serialize(o)); }

    /// The next message, as JSON (throws on timeout or close).
    boost::json::object read()
    {
        beast::flat_buffer b;
        if (auto ec = read(b))
            throw boost::system::system_error(ec);
        return boost::json::parse(beast::buffers_to_string(b.data())).as_object();
    }

    /// Reads until a message of `type` (others are kept in `skipped`).
    boost::json::object read_until(std::string_view type)
    {
        for (int i = 0; i < 100000; ++i) {
            auto m = read();
            if (m.at("type").as_string() == type)
                return m;
            skipped.push_back(std::move(m));
        }
        throw std::runtime_error("no message of type " + std::string(type));
    }

    /// Subscribes and returns the `subscribed` reply (or the error).
    boost::json::object subscribe(std::string const& room, std::optional<std::int64_t> since = {})
    {
        boost::json::object o{{"type", "subscribe"}, {"room", room}, {"id", "s-" + room}};
        if (since)
            o["since"] = *since;
        send(o);
        for (;;) {
            auto m = read();
            auto const t = m.at("type").as_string();
            if (t == "subscribed" || t == "error")
                return m;
            skipped.push_back(std::move(m));
        }
    }

    websocket::stream<tcp::socket>& stream() { return ws_; }
    std::vector<boost::json::object> skipped;

private:
    std::unique_ptr<boost::asio::io_context> io_;
    websocket::stream<tcp::socket> ws_;
    std::chrono::milliseconds timeout_;
};

/// A blocking SSE reader: sends the request, then yields one record at a time.
class sse_client
{
public:
    /// `origin`: sent as `Origin` when not empty. `head` keeps the response's header block.
    sse_client(std::uint16_t port, std::string target, std::string last_event_id = {}, std::string token = {},
               std::string origin = {})
        : sock_(io_)
    {
        sock_.connect({boost::asio::ip::make_address("127.0.0.1"), port});
        std::string req = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n";
        if (!origin.empty())
            req += "Origin: " + origin + "\r\n";
        if (!last_event_id.empty())
            req += "Last-Event-ID: " + last_event_id + "\r\n";
        if (!token.empty())
            req += "Authorization: Bearer " + token + "\r\n";
        req += "\r\n";
        boost::asio::write(sock_, boost::asio::buffer(req));
        head = read_until("\r\n\r\n");
        status_line = head.substr(0, head.find("\r\n"));
    }

    struct record
    {
        std::string id, event;
        boost::json::object data;
    };

    /// The next record with data (comments and the retry hint are skipped).
    record next()
    {
        for (;;) {
            auto block = read_until("\n\n");
            record r;
            std::string data;
            std::size_t pos = 0;
            while (pos < block.size()) {
                auto const nl = block.find('\n', pos);
                auto const line = block.substr(pos, nl - pos);
                pos = nl == std::string::npos ? block.size() : nl + 1;
                if (line.starts_with("id: "))
                    r.id = line.substr(4);
                else if (line.starts_with("event: "))
                    r.event = line.substr(7);
                else if (line.starts_with("data: "))
                    data += line.substr(6);
            }
            if (!data.empty()) {
                r.data = boost::json::parse(data).as_object();
                return r;
            }
        }
    }

    record next_event()
    {
        for (;;) {
            auto r = next();
            if (r.event == "event")
                return r;
        }
    }

    std::string status_line;
    std::string head;  ///< the response's status line and headers
    std::chrono::milliseconds timeout{10'000};  ///< of each read

private:
    std::string read_until(std::string_view delim)
    {
        for (;;) {
            if (auto p = buf_.find(delim); p != std::string::npos) {
                auto out = buf_.substr(0, p + delim.size());
                buf_.erase(0, p + delim.size());
                return out;
            }
            char tmp[4096];
            bool done = false;
            boost::system::error_code ec;
            std::size_t n = 0;
            sock_.async_read_some(boost::asio::buffer(tmp), [&](boost::system::error_code e, std::size_t got) {
                ec = e;
                n = got;
                done = true;
            });
            run_until(io_, done, sock_, timeout, "SSE read");
            if (ec)
                throw boost::system::system_error(ec);
            buf_.append(tmp, n);
        }
    }

    boost::asio::io_context io_;
    tcp::socket sock_;
    std::string buf_;
};

/// A raw TCP client with deadlines, to misbehave on purpose.
class raw_client
{
public:
    explicit raw_client(std::uint16_t port, std::optional<int> rcvbuf = {}) : sock_(io_)
    {
        sock_.open(tcp::v4());
        if (rcvbuf)
            sock_.set_option(boost::asio::socket_base::receive_buffer_size(*rcvbuf));
        sock_.connect({boost::asio::ip::make_address("127.0.0.1"), port});
    }

    void write(std::string_view bytes)
    {
        bool done = false;
        boost::system::error_code ec;
        boost::asio::async_write(sock_, boost::asio::buffer(bytes), [&](boost::system::error_code e, std::size_t) {
            ec = e;
            done = true;
        });
        run_until(io_, done, sock_, std::chrono::seconds{10}, "raw write");
        if (ec)
            throw boost::system::system_error(ec);
    }

    /// Reads until the peer closes; returns what came. Throws if it stays open past `timeout`.
    std::string read_to_close(std::chrono::milliseconds timeout)
    {
        std::string out;
        char buf[4096];
        bool closed = false;
        std::function<void()> next = [&] {
            sock_.async_read_some(boost::asio::buffer(buf), [&](boost::system::error_code e, std::size_t n) {
                out.append(buf, n);
                if (e)
                    closed = true;
                else
                    next();
            });
        };
        next();
        run_until(io_, closed, sock_, timeout, "waiting for the server to close");
        return out;
    }

    /// Reads what arrives within `t` (the connection may stay open).
    std::string read_for(std::chrono::milliseconds t)
    {
        std::string out;
        char buf[4096];
        std::function<void()> next = [&] {
            sock_.async_read_some(boost::asio::buffer(buf), [&](boost::system::error_code e, std::size_t n) {
                out.append(buf, n);
                if (!e)
                    next();
            });
        };
        next();
        io_.restart();
        io_.run_for(t);
        sock_.cancel();
        io_.restart();
        io_.run_for(std::chrono::milliseconds{100});
        return out;
    }

    /// Performs a WebSocket upgrade by hand; returns what followed the response head.
    std::string upgrade(std::string const& target = "/ws")
    {
        write("GET " + target +
              " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
        std::string got;
        while (got.find("\r\n\r\n") == std::string::npos)
            got += read_for(std::chrono::milliseconds{200});
        return got.substr(got.find("\r\n\r\n") + 4);
    }

    /// Sends a masked text frame.
    void send_text(std::string_view text)
    {
        std::string f;
        f.push_back(static_cast<char>(0x81));
        if (text.size() < 126) {
            f.push_back(static_cast<char>(0x80 | text.size()));
        } else {
            f.push_back(static_cast<char>(0x80 | 126));
            f.push_back(static_cast<char>(text.size() >> 8));
            f.push_back(static_cast<char>(text.size() & 0xFF));
        }
        char const mask[4] = {1, 2, 3, 4};
        f.append(mask, 4);
        for (std::size_t i = 0; i < text.size(); ++i)
            f.push_back(static_cast<char>(text[i] ^ mask[i % 4]));
        write(f);
    }

private:
    boost::asio::io_context io_;
    tcp::socket sock_;
};

/// The monitor report (`GET /api/v1/monitor/connections`) of an open server.
inline boost::json::object monitor(std::uint16_t port)
{
    http_client h(port);
    return h.get("/api/v1/monitor/connections").json().as_object();
}

/// A job event as NDJSON-ready text.
inline std::string event_json(std::string_view type, std::string_view job, std::string_view queue,
                              std::string extra = {})
{
    std::string s = R"({"type":")" + std::string(type) + R"(","job_id":")" + std::string(job) + R"(","queue":")" +
                    std::string(queue) + "\"";
    if (!extra.empty())
        s += "," + extra;
    return s + "}";
}

}  // namespace jobwatch::test

#endif
