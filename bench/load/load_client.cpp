// jobwatch_load: a WebSocket fan-out load client for jobwatch and for the two
// hand-written Node.js baselines in bench/baselines (ws, Socket.IO).
//
//   jobwatch_load --server jobwatch|ws|socketio [--host 127.0.0.1] --port P
//                 [--clients 1000] [--room queue:bench] [--rate 1000] [--duration 10]
//                 [--tick-ms 10] [--event-bytes 200] [--pid SERVER_PID] [--idle]
//                 [--token T] [--batch 100] [--max-batch N] [--ramp-batch 200]
//                 [--ramp-timeout 15]
//                 [--drain 5] [--idle-wait 3] [--on-lagged resume|resubscribe|ignore]
//                 [--label TEXT] [--tls [--ca FILE]]
//
// What it does:
//  1. Raises RLIMIT_NOFILE to the hard limit (10,000 clients need > 10,000 fds:
//     check `ulimit -Hn`; the client says so and stops if it is too low).
//  2. Opens --clients WebSocket connections, --ramp-batch at a time (each batch
//     must finish its handshake and subscription before the next one starts, so
//     the server's listen backlog is never overrun), and subscribes each to --room:
//       jobwatch: GET /ws[?token=T]; server {"type":"welcome",...}; client
//                 {"type":"subscribe","room":R}; server {"type":"subscribed",...}
//       ws:       GET /; client {"type":"subscribe","room":R}; server {"type":"subscribed",...}
//       socketio: GET /socket.io/?EIO=4&transport=websocket[&token=T]; server 0{...};
//                 client 40 (with --token: 40{"token":T}, the CONNECT's auth, where
//                 jobwatch's /socket.io/ checks it); server 40{...};
//                 client 42["subscribe",{"room":R}]; server 42["subscribed",{...}]
//                 (server pings "2" are answered with "3"). The same client drives
//                 jobwatch's /socket.io/ (namespace "/", its native mapping: rooms'
//                 messages arrive as 42["event",{...native message...}], a lagged
//                 notice as 42["lagged",{...}]) and the Node baseline.
//     jobwatch unsubscribes a client that falls too far behind and sends it
//     {"type":"lagged","room":R,"resume_from":S} (over Socket.IO:
//     42["lagged",{...}]): lagged notices are counted and,
//     by default (--on-lagged resume), the client subscribes again with
//     "since":S, as a real client would, so the room's history can fill the gap;
//     resubscribe subscribes again without "since"; ignore stays unsubscribed.
//     All clients share one single-threaded io_context. Each plain socket is read only
//     when readable (async_wait), into one shared 64 KiB buffer, and the server's
//     frames are parsed in place (126/127 lengths, fragments, ping -> masked pong,
//     close), so an idle connection costs about 1 KiB here (10 MiB RSS for 10,000).
//     --tls: every client connects with TLS (wss://, the same paths, handshake and
//     subscription inside the TLS stream), after TCP connect and within its ramp
//     batch; the clients share one SSL context (TLS 1.2 at least). Certificates
//     are not verified unless --ca FILE is given: then the server's chain must
//     lead to a certificate of FILE (PEM) and its name (DNS or IP subjectAltName)
//     must match --host. SNI carries --host when it is a name, not an address.
//     A TLS client cannot wait for readability and then read: decrypted bytes may
//     already be buffered inside OpenSSL. So it keeps one async_read_some on its
//     ssl::stream into a buffer of its own (16 KiB, a TLS record), parses frames
//     there and writes only asynchronously: about 80 KiB per TLS connection here
//     (Asio's 2 x 17 KiB record buffers, OpenSSL's state and buffers, that one).
//     The plain path is a separate instantiation of the connection template:
//     it does no TLS test and is unchanged.
//  3. Unless --idle: a publisher thread POSTs NDJSON batches to /api/v1/events over
//     one keep-alive HTTP/1.1 connection (https with --tls, verified as above)
//     for --duration seconds: every --tick-ms it
//     sends the events due at --rate events/s (a late response makes the next batch
//     larger, so the asked rate is kept, up to --max-batch events per POST, by
//     default 10 ticks' worth: a server slower than the asked rate throttles the
//     publisher, and the events it could not send are reported as "behind"); with
//     --rate 0 it sends --batch events per POST, back to back. It waits for each
//     response before the next POST (30 s deadline). Every
//     event is a valid job.progress of about --event-bytes bytes:
//       {"type":"job.progress","job_id":"bench-<n%1000>","queue":"<room without queue:>",
//        "percent":<n%101>,"step":"xxx…","counters":{"n":<n>,"t_ns":<steady ns at send>}}
//     Then it waits up to --drain seconds for the deliveries still on their way.
//     Each received event is counted and its latency (arrival - t_ns, same clock)
//     is recorded in a log-linear histogram (128 sub-buckets per power of two,
//     <= 0.8% error); "n" and "t_ns" are found by substring search, not a JSON parse.
//  4. --idle: publishes nothing, waits --idle-wait seconds, and reports the server's
//     RSS growth per connection.
//  5. Prints a readable report and one line `RESULT {...}` (flat JSON) for scripts;
//     its "tls" is true with --tls ("tls_verified": with --ca; "tls_session": the
//     protocol and cipher of the first client's handshake), and --label is copied.
//
// --pid names the server process: its CPU time (utime+stime from /proc/PID/stat)
// and RSS (VmRSS from /proc/PID/status) are reported.
// The exit status is 0 when the run completed (loss is reported, not an error),
// 1 when it could not (no client subscribed, publisher could not connect, ...),
// 2 on a usage error.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/system/system_error.hpp>

#include <openssl/ssl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cctype>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <future>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr std::size_t read_chunk = 64 * 1024;
constexpr std::size_t tls_read_chunk = 16 * 1024;  // the largest TLS record's plaintext
constexpr std::uint64_t max_message = 64ull * 1024 * 1024;
constexpr std::size_t max_step_padding = 500;  // the schema's maxLength of "step"

// ---------------------------------------------------------------- options

enum class server_kind { jobwatch, ws, socketio };

struct options
{
    server_kind server = server_kind::jobwatch;
    std::string server_name = "jobwatch";
    std::string host = "127.0.0.1";
    unsigned short port = 0;
    unsigned short publish_port = 0;  // 0: --port (a cluster: publish on one instance, watch another)
    std::size_t clients = 1000;
    std::string room = "queue:bench";
    double rate = 1000;
    double duration = 10;
    int tick_ms = 10;
    std::size_t event_bytes = 200;
    long pid = 0;
    bool idle = false;
    std::string token;
    std::size_t batch = 100;
    std::size_t max_batch = 0;  // 0: 10 ticks' worth at --rate
    std::size_t ramp_batch = 200;
    double ramp_timeout = 15;
    double drain = 5;
    double idle_wait = 3;
    std::string on_lagged = "resume";
    std::string label;
    bool tls = false;
    std::string ca_file;  // with tls: verify the server against these CAs
};

constexpr std::string_view usage_text = R"(usage: jobwatch_load --server jobwatch|ws|socketio --port P [options]

WebSocket fan-out load client: N clients subscribe to one room, a publisher POSTs
NDJSON events to /api/v1/events, and deliveries, loss and latency are measured.

  --server KIND        jobwatch (/ws), ws (/) or socketio (/socket.io/, Engine.IO v4)
  --host H             server address (default 127.0.0.1)
  --port P             server port (required)
  --publish-port P     port the publisher POSTs to (default --port): with several
                       instances of one cluster, events enter on one and are
                       watched on another
  --clients N          WebSocket clients (default 1000)
  --room R             room to subscribe to, queue:<name> (default queue:bench);
                       events are published with queue <name>
  --rate R             events per second; 0 = back-to-back POSTs of --batch events
                       (default 1000)
  --duration S         publishing time in seconds (default 10)
  --tick-ms MS         publishing tick: one POST per tick at most (default 10)
  --event-bytes B      approximate size of one event (default 200)
  --batch N            events per POST when --rate 0 (default 100)
  --max-batch N        at most N events per POST when --rate > 0 (default: 10
                       ticks' worth); a slower server throttles the publisher
  --pid PID            server process: report its CPU time and RSS
  --idle               publish nothing: report the server's RSS per idle connection
  --idle-wait S        with --idle, seconds to wait before the last RSS (default 3)
  --token T            ?token=T on the WebSocket URL, Authorization: Bearer T on POSTs;
                       socketio: also the CONNECT's auth, 40{"token":T}
  --ramp-batch N       connections opened at a time (default 200)
  --ramp-timeout S     deadline for one ramp batch to subscribe (default 15)
  --drain S            seconds to wait for deliveries after publishing (default 5)
  --on-lagged WHAT     jobwatch's lagged notice (the client was unsubscribed):
                       resume (subscribe again with since=resume_from, default),
                       resubscribe (without since) or ignore
  --label TEXT         free text copied into the RESULT line
  --tls                connect with TLS: wss:// for the clients (same paths and
                       handshake), https for the publisher; TLS 1.2 at least;
                       SNI = --host when it is a name. Certificates are not
                       verified unless --ca is given
  --ca FILE            with --tls: verify the server's certificate against the
                       CA certificate(s) in FILE (PEM) and its name against --host
  --help               this text

Output: a readable report, then one line `RESULT {json}`.
10,000 clients need more than 10,000 file descriptors: the client raises its soft
limit to the hard one (see `ulimit -Hn`).
)";

[[noreturn]] void usage_error(const std::string& message)
{
    std::cerr << "jobwatch_load: " << message << "\n\n" << usage_text;
    std::exit(2);
}

template <class T>
T parse_number(std::string_view flag, std::string_view text)
{
    T value{};
    const auto* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (ec != std::errc{} || ptr != end)
        usage_error("bad value for " + std::string(flag) + ": '" + std::string(text) + "'");
    return value;
}

options parse_options(int argc, char** argv)
{
    options o;
    bool have_port = false;
    for (int i = 1; i < argc; ++i) {
        const std::string_view flag = argv[i];
        if (flag == "--help" || flag == "-h") {
            std::cout << usage_text;
            std::exit(0);
        }
        if (flag == "--idle") {
            o.idle = true;
            continue;
        }
        if (flag == "--tls") {
            o.tls = true;
            continue;
        }
        if (i + 1 >= argc)
            usage_error("missing value after " + std::string(flag));
        const std::string_view value = argv[++i];
        if (flag == "--server") {
            o.server_name = value;
            if (value == "jobwatch")
                o.server = server_kind::jobwatch;
            else if (value == "ws")
                o.server = server_kind::ws;
            else if (value == "socketio")
                o.server = server_kind::socketio;
            else
                usage_error("--server must be jobwatch, ws or socketio");
        } else if (flag == "--host") {
            o.host = value;
        } else if (flag == "--port") {
            o.port = parse_number<unsigned short>(flag, value);
            have_port = true;
        } else if (flag == "--publish-port") {
            o.publish_port = parse_number<unsigned short>(flag, value);
        } else if (flag == "--clients") {
            o.clients = parse_number<std::size_t>(flag, value);
        } else if (flag == "--room") {
            o.room = value;
        } else if (flag == "--rate") {
            o.rate = parse_number<double>(flag, value);
        } else if (flag == "--duration") {
            o.duration = parse_number<double>(flag, value);
        } else if (flag == "--tick-ms") {
            o.tick_ms = parse_number<int>(flag, value);
        } else if (flag == "--event-bytes") {
            o.event_bytes = parse_number<std::size_t>(flag, value);
        } else if (flag == "--pid") {
            o.pid = parse_number<long>(flag, value);
        } else if (flag == "--token") {
            o.token = value;
        } else if (flag == "--batch") {
            o.batch = parse_number<std::size_t>(flag, value);
        } else if (flag == "--max-batch") {
            o.max_batch = parse_number<std::size_t>(flag, value);
        } else if (flag == "--ramp-batch") {
            o.ramp_batch = parse_number<std::size_t>(flag, value);
        } else if (flag == "--ramp-timeout") {
            o.ramp_timeout = parse_number<double>(flag, value);
        } else if (flag == "--drain") {
            o.drain = parse_number<double>(flag, value);
        } else if (flag == "--idle-wait") {
            o.idle_wait = parse_number<double>(flag, value);
        } else if (flag == "--on-lagged") {
            o.on_lagged = value;
            if (value != "resume" && value != "resubscribe" && value != "ignore")
                usage_error("--on-lagged must be resume, resubscribe or ignore");
        } else if (flag == "--label") {
            o.label = value;
        } else if (flag == "--ca") {
            o.ca_file = value;
        } else {
            usage_error("unknown option " + std::string(flag));
        }
    }
    if (!have_port || o.port == 0)
        usage_error("--port is required");
    if (o.clients == 0)
        usage_error("--clients must be at least 1");
    if (!o.ca_file.empty() && !o.tls)
        usage_error("--ca needs --tls");
    if (!o.room.starts_with("queue:") || o.room.size() == 6)
        usage_error("--room must be queue:<name> (events are published to that queue)");
    if (o.rate < 0 || o.duration <= 0 || o.tick_ms <= 0 || o.batch == 0 || o.ramp_batch == 0 ||
        o.ramp_timeout <= 0 || o.drain < 0 || o.idle_wait < 0)
        usage_error("--rate, --drain and --idle-wait must be >= 0; --duration, --tick-ms, "
                    "--batch, --ramp-batch and --ramp-timeout > 0");
    if (o.max_batch == 0)
        o.max_batch = std::max<std::size_t>(
            1, static_cast<std::size_t>(o.rate * o.tick_ms / 1000.0 * 10 + 0.5));
    return o;
}

// ---------------------------------------------------------------- small helpers

std::int64_t steady_ns(clock_type::time_point t)
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

double seconds_between(clock_type::time_point a, clock_type::time_point b)
{
    return std::chrono::duration<double>(b - a).count();
}

clock_type::duration to_duration(double seconds)
{
    return std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(seconds));
}

// xorshift64*: WebSocket masks and handshake keys (no security needed here).
struct fast_rng
{
    std::uint64_t state;
    std::uint64_t next()
    {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        return state * 2685821657736338717ull;
    }
};

std::string base64(const unsigned char* data, std::size_t size)
{
    static constexpr char table[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    for (std::size_t i = 0; i < size; i += 3) {
        std::uint32_t v = std::uint32_t(data[i]) << 16;
        if (i + 1 < size)
            v |= std::uint32_t(data[i + 1]) << 8;
        if (i + 2 < size)
            v |= data[i + 2];
        out += table[(v >> 18) & 63];
        out += table[(v >> 12) & 63];
        out += i + 1 < size ? table[(v >> 6) & 63] : '=';
        out += i + 2 < size ? table[v & 63] : '=';
    }
    return out;
}

std::string percent_encode(std::string_view text)
{
    std::string out;
    for (unsigned char c : text) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += char(c);
        } else {
            char buf[4];
            std::snprintf(buf, sizeof buf, "%%%02X", unsigned(c));
            out += buf;
        }
    }
    return out;
}

std::string json_escape(std::string_view text)
{
    std::string out;
    for (char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", unsigned(c));
            out += buf;
        } else {
            out += c;
        }
    }
    return out;
}

// The unsigned integer after `key` in `text` (e.g. key "\"t_ns\":"), if any.
std::optional<std::uint64_t> number_after(std::string_view text, std::string_view key)
{
    const auto pos = text.find(key);
    if (pos == std::string_view::npos)
        return std::nullopt;
    const char* first = text.data() + pos + key.size();
    const char* last = text.data() + text.size();
    while (first != last && *first == ' ')
        ++first;
    std::uint64_t value = 0;
    auto [ptr, ec] = std::from_chars(first, last, value);
    if (ec != std::errc{})
        return std::nullopt;
    return value;
}

// "n" and "t_ns" of an event message. The counters are the event's last member,
// so this scans back from the end, over a few dozen bytes, for `"t_ns":` and
// `"n":` (a forward std::string_view::find stops at every quote of the JSON;
// it was the client's largest user-space cost at 1 M messages/s).
struct stamps
{
    std::optional<std::uint64_t> n, t_ns;
};

// (always_inline: with two connection instantiations calling it, GCC would
// stop inlining it into the plain path's on_event, as it did before --tls.)
[[gnu::always_inline]] inline stamps find_stamps(std::string_view m)
{
    stamps out;
    const char* const begin = m.data();
    const char* const end = begin + m.size();
    const char* const stop = m.size() > 256 ? end - 256 : begin;
    auto value_at = [end](const char* p) -> std::optional<std::uint64_t> {
        std::uint64_t v = 0;
        auto [ptr, ec] = std::from_chars(p, end, v);
        if (ec != std::errc{})
            return std::nullopt;
        return v;
    };
    for (const char* p = end; p-- > stop;) {
        if (*p != ':')
            continue;
        if (!out.t_ns && p - begin >= 6 && std::memcmp(p - 6, "\"t_ns\"", 6) == 0)
            out.t_ns = value_at(p + 1);
        else if (!out.n && p - begin >= 3 && std::memcmp(p - 3, "\"n\"", 3) == 0)
            out.n = value_at(p + 1);
        if (out.n && out.t_ns)
            break;
    }
    return out;
}

// The value of the first "type" member of a JSON object, by substring search.
[[gnu::always_inline]] inline std::string_view json_type(std::string_view m)
{
    auto pos = m.find("\"type\"");
    if (pos == std::string_view::npos)
        return {};
    pos += 6;
    while (pos < m.size() && (m[pos] == ' ' || m[pos] == ':'))
        ++pos;
    if (pos >= m.size() || m[pos] != '"')
        return {};
    const auto end = m.find('"', pos + 1);
    if (end == std::string_view::npos)
        return {};
    return m.substr(pos + 1, end - pos - 1);
}

// The message of an exception; for a system error, without its source location.
std::string describe(std::exception_ptr e)
{
    try {
        std::rethrow_exception(e);
    } catch (const boost::system::system_error& ex) {
        return ex.code().message();
    } catch (const std::exception& ex) {
        return ex.what();
    } catch (...) {
        return "unknown exception";
    }
}

// ---------------------------------------------------------------- /proc and rusage

struct proc_sample
{
    bool ok = false;
    double cpu_s = 0;      // utime + stime
    long rss_kib = 0;      // VmRSS
};

proc_sample sample_process(long pid)
{
    proc_sample s;
    if (pid <= 0)
        return s;
    const std::string base = "/proc/" + std::to_string(pid);
    std::ifstream stat(base + "/stat");
    std::string line;
    if (!std::getline(stat, line))
        return s;
    const auto close = line.rfind(')');
    if (close == std::string::npos)
        return s;
    std::istringstream fields(line.substr(close + 2));
    std::string field;
    unsigned long long utime = 0, stime = 0;
    // After "pid (comm) ": state is field 3; utime and stime are fields 14 and 15.
    for (int i = 3; i <= 15 && fields >> field; ++i) {
        if (i == 14)
            utime = std::stoull(field);
        if (i == 15)
            stime = std::stoull(field);
    }
    const long ticks = sysconf(_SC_CLK_TCK);
    s.cpu_s = double(utime + stime) / double(ticks > 0 ? ticks : 100);
    std::ifstream status(base + "/status");
    while (std::getline(status, line)) {
        if (line.starts_with("VmRSS:")) {
            s.rss_kib = std::atol(line.c_str() + 6);
            break;
        }
    }
    s.ok = true;
    return s;
}

// CPU seconds all cores of the machine spent busy (not idle, not waiting for
// I/O), from /proc/stat: the rest of the machine's load shows up as the busy
// time that is neither the client's nor the server's.
double machine_busy_seconds()
{
    std::ifstream stat("/proc/stat");
    std::string cpu;
    unsigned long long v[8] = {};
    if (!(stat >> cpu) || cpu != "cpu")
        return 0;
    for (auto& x : v)
        stat >> x;
    // user nice system idle iowait irq softirq steal
    const unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    const long ticks = sysconf(_SC_CLK_TCK);
    return double(busy) / double(ticks > 0 ? ticks : 100);
}

double cpu_seconds(int who)
{
    rusage ru{};
    getrusage(who, &ru);
    return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

long self_rss_kib()
{
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.starts_with("VmRSS:"))
            return std::atol(line.c_str() + 6);
    return 0;
}

// ---------------------------------------------------------------- latency histogram

// Log-linear buckets, HdrHistogram style: exact below 256 ns, then 128 buckets
// per power of two (relative error at most 1/128 of a value; the midpoint of a
// bucket is reported). Fixed size (58 KiB), whatever the number of samples.
class histogram
{
public:
    void record(std::uint64_t v)
    {
        ++counts_[index(v)];
        ++total_;
        max_ = std::max(max_, v);
        min_ = std::min(min_, v);
    }
    std::uint64_t total() const { return total_; }
    std::uint64_t max() const { return max_; }
    std::uint64_t min() const { return total_ ? min_ : 0; }
    std::uint64_t percentile(double p) const
    {
        if (total_ == 0)
            return 0;
        auto rank = static_cast<std::uint64_t>(p / 100.0 * double(total_) + 0.999999);
        rank = std::clamp<std::uint64_t>(rank, 1, total_);
        std::uint64_t seen = 0;
        for (std::size_t i = 0; i < counts_.size(); ++i) {
            seen += counts_[i];
            if (seen >= rank)
                return std::clamp(midpoint(i), min(), max_);
        }
        return max_;
    }

private:
    static constexpr int sub_bits = 7;
    static constexpr std::uint64_t sub = 1u << sub_bits;  // 128
    static std::size_t index(std::uint64_t v)
    {
        if (v < 2 * sub)
            return v;
        const int e = 63 - std::countl_zero(v);  // >= 8
        const int shift = e - sub_bits;
        return 2 * sub + std::size_t(e - sub_bits - 1) * sub + ((v >> shift) - sub);
    }
    static std::uint64_t midpoint(std::size_t i)
    {
        if (i < 2 * sub)
            return i;
        const std::size_t k = i - 2 * sub;
        const int e = int(k / sub) + sub_bits + 1;
        const int shift = e - sub_bits;
        const std::uint64_t m = k % sub + sub;
        return (m << shift) + ((std::uint64_t(1) << shift) >> 1);
    }
    std::vector<std::uint64_t> counts_ = std::vector<std::uint64_t>(2 * sub + 56 * sub);
    std::uint64_t total_ = 0;
    std::uint64_t max_ = 0;
    std::uint64_t min_ = UINT64_MAX;
};

// ---------------------------------------------------------------- the clients

enum class phase : std::uint8_t
{
    idle,
    connecting,
    tls_handshake,  // --tls
    handshake,
    await_welcome,      // jobwatch
    await_eio_open,     // socketio: Engine.IO "0{...}"
    await_sio_connect,  // socketio: Socket.IO "40{...}"
    await_subscribed,
    subscribed,
    closed,
};

struct client_stats
{
    std::size_t subscribed = 0;
    std::size_t failed = 0;        // closed before subscribing
    std::size_t disconnected = 0;  // closed after subscribing
    std::uint64_t received = 0;    // event messages
    std::uint64_t in_window = 0;   // ... arrived within the publishing window
    std::uint64_t unstamped = 0;   // ... without counters.n or counters.t_ns
    std::uint64_t out_of_order = 0;
    std::uint64_t lagged = 0;
    std::uint64_t resubscribes = 0;
    std::uint64_t errors = 0;  // {"type":"error"} or Socket.IO error packets
    std::uint64_t other = 0;   // any other message
    std::uint64_t pings = 0;
    std::uint64_t frames = 0;
    std::uint64_t reads = 0;
    std::uint64_t bytes = 0;
    histogram latency;
    std::vector<std::string> first_errors;  // a few, for diagnosis

    void note_error(std::string text)
    {
        if (first_errors.size() < 5)
            first_errors.push_back(std::move(text));
    }
};

struct client_context
{
    client_context(const options& o, asio::io_context& io, tcp::endpoint ep, ssl::context* tls_ctx)
        : opt(o), ioc(io), endpoint(ep), tls(tls_ctx)
    {
    }

    const options& opt;
    asio::io_context& ioc;
    tcp::endpoint endpoint;
    ssl::context* tls;        // --tls: shared by all clients (and the publisher)
    std::string sni;          // --tls: server name sent (empty when --host is an address)
    std::string tls_session;  // --tls: "protocol cipher" of the first handshake, for the report
    std::string handshake_path;
    std::string connect_text;    // socketio: the CONNECT packet ("40", or with the token)
    std::string subscribe_text;  // ends with "}" (jobwatch, ws) or "}]" (socketio)
    std::vector<char> rbuf = std::vector<char>(read_chunk);  // shared by all (one thread)
    fast_rng rng{0x9e3779b97f4a7c15ull ^ std::uint64_t(steady_ns(clock_type::now()))};
    client_stats stats;
    clock_type::time_point window_start = clock_type::time_point::max();
    clock_type::time_point window_end = clock_type::time_point::max();
};

// What the ramp (controller) sees of a client; the work is in basic_connection.
class connection
{
public:
    virtual ~connection() = default;

    phase state() const { return phase_; }

    virtual void start() = 0;
    // Gives up (ramp deadline) or ends the run.
    virtual void abandon(const char* why) = 0;
    virtual void close_quietly() = 0;

protected:
    phase phase_ = phase::idle;
};

// One WebSocket client over a plain socket (Tls = false) or over TLS (true).
// The two are separate instantiations: the plain one does no TLS test anywhere.
template <bool Tls>
class basic_connection final : public connection
{
    using stream_type = std::conditional_t<Tls, ssl::stream<tcp::socket>, tcp::socket>;

public:
    explicit basic_connection(client_context& ctx) : ctx_(ctx), stream_(make_stream(ctx)) {}

    void start() override
    {
        phase_ = phase::connecting;
        socket().async_connect(ctx_.endpoint, [this](error_code ec) { on_connect(ec); });
    }

    void abandon(const char* why) override
    {
        if (phase_ != phase::closed && phase_ != phase::idle)
            fail(why);
    }

    void close_quietly() override
    {
        phase_ = phase::closed;
        error_code ignored;
        socket().close(ignored);
    }

private:
    static stream_type make_stream(client_context& ctx)
    {
        if constexpr (Tls)
            return stream_type(ctx.ioc, *ctx.tls);
        else
            return stream_type(ctx.ioc);
    }

    tcp::socket& socket()
    {
        if constexpr (Tls)
            return stream_.next_layer();
        else
            return stream_;
    }

    void on_connect(error_code ec)
    {
        if (phase_ == phase::closed)
            return;
        if (ec)
            return fail("connect: " + ec.message());
        socket().set_option(tcp::no_delay(true), ec);
        if constexpr (Tls) {
            // TLS writes and reads are asynchronous only (see arm_read).
            phase_ = phase::tls_handshake;
            if (!ctx_.sni.empty() &&
                SSL_set_tlsext_host_name(stream_.native_handle(), ctx_.sni.c_str()) != 1)
                return fail("TLS: cannot set the server name");
            stream_.async_handshake(ssl::stream_base::client, [this](error_code hec) {
                if (phase_ == phase::closed)
                    return;
                if (hec)
                    return fail("TLS handshake: " + hec.message());
                if (ctx_.tls_session.empty()) {
                    const SSL* s = stream_.native_handle();
                    ctx_.tls_session = std::string(SSL_get_version(s)) + " " +
                                       SSL_CIPHER_get_name(SSL_get_current_cipher(s));
                }
                send_upgrade();
            });
        } else {
            socket().non_blocking(true, ec);
            send_upgrade();
        }
    }

    void send_upgrade()
    {
        unsigned char key[16];
        for (int i = 0; i < 16; i += 8) {
            const auto r = ctx_.rng.next();
            std::memcpy(key + i, &r, 8);
        }
        std::string request = "GET " + ctx_.handshake_path + " HTTP/1.1\r\nHost: " +
                              ctx_.opt.host + ":" + std::to_string(ctx_.opt.port) +
                              "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                              "Sec-WebSocket-Key: " +
                              base64(key, sizeof key) + "\r\nSec-WebSocket-Version: 13\r\n\r\n";
        phase_ = phase::handshake;
        send_bytes(std::move(request));
        if (phase_ != phase::closed)
            arm_read();
    }

    void arm_read()
    {
        if constexpr (Tls) {
            // async_read_some on the ssl::stream: it completes at once when
            // OpenSSL already holds decrypted bytes, which a wait for the
            // socket's readability would miss. Its buffer is this connection's
            // own: Asio's SSL read may fill it when it starts and call the
            // handler later (after other connections' handlers have run).
            auto& rx = tls_.rx;
            if (rx.size() < tls_.kept + tls_read_chunk)
                rx.resize(tls_.kept + tls_read_chunk);
            stream_.async_read_some(asio::buffer(rx.data() + tls_.kept, tls_read_chunk),
                                    [this](error_code ec, std::size_t n) { on_tls_read(ec, n); });
        } else {
            socket().async_wait(tcp::socket::wait_read, [this](error_code ec) {
                if (phase_ == phase::closed)
                    return;
                if (ec)
                    return fail("wait: " + ec.message());
                on_readable();
            });
        }
    }

    // Plain: reads what is there into the shared buffer (after the bytes kept from the
    // previous read), parses the complete frames and keeps the incomplete tail.
    void on_readable()
    {
        auto& buf = ctx_.rbuf;
        for (int round = 0; round < 16; ++round) {
            const std::size_t kept = pending_.size();
            if (buf.size() < kept + read_chunk)
                buf.resize(kept + read_chunk);
            error_code ec;
            const std::size_t n =
                stream_.read_some(asio::buffer(buf.data() + kept, read_chunk), ec);
            if (ec == asio::error::would_block || ec == asio::error::try_again)
                return arm_read();
            if (ec)
                return fail(ec == asio::error::eof ? std::string("closed by server")
                                                   : "read: " + ec.message());
            const auto now = clock_type::now();
            ++ctx_.stats.reads;
            ctx_.stats.bytes += n;
            if (kept)
                std::memcpy(buf.data(), pending_.data(), kept);
            const std::size_t used = consume(buf.data(), kept + n, now);
            if (phase_ == phase::closed)
                return;
            pending_.assign(buf.data() + used, kept + n - used);
            // A short read emptied the socket: wait for more (Asio's async_wait
            // re-arms the descriptor, so data that came meanwhile is seen at once).
            if (n < read_chunk)
                return arm_read();
        }
        // Still more to read: let the other connections have a turn first.
        asio::post(ctx_.ioc, [this] {
            if (phase_ != phase::closed)
                on_readable();
        });
    }

    // --tls: n decrypted bytes arrived after the tls_.kept bytes of the last read.
    void on_tls_read(error_code ec, std::size_t n)
    {
        if (phase_ == phase::closed)
            return;
        if (ec)
            return fail(ec == asio::error::eof || ec == ssl::error::stream_truncated
                            ? std::string("closed by server")
                            : "read: " + ec.message());
        const auto now = clock_type::now();
        ++ctx_.stats.reads;
        ctx_.stats.bytes += n;
        auto& rx = tls_.rx;
        const std::size_t size = tls_.kept + n;
        const std::size_t used = consume(rx.data(), size, now);
        if (phase_ == phase::closed)
            return;
        tls_.kept = size - used;
        if (tls_.kept && used)
            std::memmove(rx.data(), rx.data() + used, tls_.kept);
        arm_read();
    }

    std::size_t consume(char* data, std::size_t size, clock_type::time_point now)
    {
        std::size_t off = 0;
        if (phase_ == phase::handshake) {
            const std::string_view text(data, size);
            const auto end = text.find("\r\n\r\n");
            if (end == std::string_view::npos) {
                if (size > 16384)
                    fail("handshake: response header too large");
                return 0;
            }
            if (!text.starts_with("HTTP/1.1 101")) {
                fail("handshake: " + std::string(text.substr(0, text.find('\r'))));
                return 0;
            }
            off = end + 4;
            on_open();
        }
        while (phase_ != phase::closed) {
            const std::size_t avail = size - off;
            if (avail < 2)
                break;
            const auto* h = reinterpret_cast<const unsigned char*>(data + off);
            const bool fin = h[0] & 0x80;
            const unsigned opcode = h[0] & 0x0f;
            const bool masked = h[1] & 0x80;
            std::uint64_t len = h[1] & 0x7f;
            std::size_t header = 2;
            if (len == 126) {
                if (avail < 4)
                    break;
                len = (std::uint64_t(h[2]) << 8) | h[3];
                header = 4;
            } else if (len == 127) {
                if (avail < 10)
                    break;
                len = 0;
                for (int i = 2; i < 10; ++i)
                    len = (len << 8) | h[i];
                header = 10;
            }
            if (masked)
                header += 4;
            if (len > max_message) {
                fail("frame too large");
                break;
            }
            if (avail < header + len)
                break;
            char* payload = data + off + header;
            if (masked) {
                const unsigned char* key = h + header - 4;
                for (std::uint64_t i = 0; i < len; ++i)
                    payload[i] = char(payload[i] ^ key[i & 3]);
            }
            off += header + std::size_t(len);
            ++ctx_.stats.frames;
            on_frame(fin, opcode, std::string_view(payload, std::size_t(len)), now);
        }
        return off;
    }

    void on_open()
    {
        switch (ctx_.opt.server) {
        case server_kind::jobwatch:
            phase_ = phase::await_welcome;
            break;
        case server_kind::ws:
            phase_ = phase::await_subscribed;
            send_frame(0x1, ctx_.subscribe_text);
            break;
        case server_kind::socketio:
            phase_ = phase::await_eio_open;
            break;
        }
    }

    void on_frame(bool fin, unsigned opcode, std::string_view payload, clock_type::time_point now)
    {
        switch (opcode) {
        case 0x1:
        case 0x2:
            if (fin)
                return on_message(payload, now);
            fragments_.assign(payload);
            return;
        case 0x0:
            fragments_.append(payload);
            if (fin) {
                const std::string whole = std::move(fragments_);
                fragments_.clear();
                on_message(whole, now);
            }
            return;
        case 0x8: {
            // Echo the status code and close.
            send_frame(0x8, payload.substr(0, std::min<std::size_t>(payload.size(), 2)));
            std::string why = "close frame";
            if (payload.size() >= 2)
                why += " " + std::to_string((unsigned(static_cast<unsigned char>(payload[0])) << 8) |
                                            static_cast<unsigned char>(payload[1]));
            if (payload.size() > 2)
                why += " " + std::string(payload.substr(2));
            return fail(why);
        }
        case 0x9:
            ++ctx_.stats.pings;
            return send_frame(0xA, payload);
        case 0xA:
            return;
        default:
            return fail("bad opcode " + std::to_string(opcode));
        }
    }

    void on_message(std::string_view m, clock_type::time_point now)
    {
        auto& st = ctx_.stats;
        if (ctx_.opt.server == server_kind::socketio) {
            if (m.starts_with("42[\"event\""))
                return on_event(m, now);
            if (m == "2") {
                ++st.pings;
                return send_frame(0x1, "3");
            }
            if (m.starts_with("0{") && phase_ == phase::await_eio_open) {
                phase_ = phase::await_sio_connect;
                return send_frame(0x1, ctx_.connect_text);
            }
            if (m.starts_with("40") && phase_ == phase::await_sio_connect) {
                phase_ = phase::await_subscribed;
                return send_frame(0x1, ctx_.subscribe_text);
            }
            if (m.starts_with("42[\"subscribed\""))
                return mark_subscribed();
            if (m.starts_with("42[\"lagged\""))
                return on_lagged(m);
            if (m.starts_with("42[\"error\"")) {
                ++st.errors;
                st.note_error("server error event: " + std::string(m.substr(0, 300)));
                if (phase_ != phase::subscribed)
                    return fail("error before subscribing");
                return;
            }
            if (m.starts_with("44")) {
                ++st.errors;
                return fail("socket.io connect error: " + std::string(m.substr(0, 200)));
            }
            if (m.starts_with("41") || m == "1")
                return fail("socket.io disconnect: " + std::string(m));
            ++st.other;
            return;
        }
        if (m.starts_with(R"({"type":"event")"))
            return on_event(m, now);
        const auto type = json_type(m);
        if (type == "event")
            return on_event(m, now);
        if (type == "welcome" && phase_ == phase::await_welcome) {
            phase_ = phase::await_subscribed;
            return send_frame(0x1, ctx_.subscribe_text);
        }
        if (type == "subscribed")
            return mark_subscribed();  // (again, after a lagged notice: nothing to do)
        if (type == "lagged")
            return on_lagged(m);
        if (type == "error") {
            ++st.errors;
            st.note_error("server error message: " + std::string(m.substr(0, 300)));
            if (phase_ != phase::subscribed)
                return fail("error before subscribing");
            return;
        }
        ++st.other;
    }

    // A lagged notice (jobwatch): the server unsubscribed this client.
    void on_lagged(std::string_view m)
    {
        auto& st = ctx_.stats;
        ++st.lagged;
        if (phase_ != phase::subscribed || ctx_.opt.on_lagged == "ignore")
            return;
        ++st.resubscribes;
        const auto from = number_after(m, "\"resume_from\":");
        if (ctx_.opt.on_lagged == "resume" && from) {
            // The subscription with ,"since":S before its closing "}" ("}]" for Socket.IO).
            const std::string& sub = ctx_.subscribe_text;
            const std::size_t close = sub.rfind('}');
            return send_frame(0x1, sub.substr(0, close) + ",\"since\":" + std::to_string(*from) +
                                       sub.substr(close));
        }
        return send_frame(0x1, ctx_.subscribe_text);
    }

    void on_event(std::string_view m, clock_type::time_point now)
    {
        auto& st = ctx_.stats;
        ++st.received;
        if (now >= ctx_.window_start && now <= ctx_.window_end)
            ++st.in_window;
        auto [n, t] = find_stamps(m);
        if (!t)
            t = number_after(m, "\"t_ns\":");
        if (!n)
            n = number_after(m, "\"n\":");
        if (!t || !n)
            ++st.unstamped;
        if (t) {
            const std::int64_t lat = steady_ns(now) - std::int64_t(*t);
            st.latency.record(lat > 0 ? std::uint64_t(lat) : 0);
        }
        if (n) {
            if (have_last_n_ && *n <= last_n_)
                ++st.out_of_order;
            last_n_ = *n;
            have_last_n_ = true;
        }
    }

    void mark_subscribed()
    {
        if (phase_ != phase::await_subscribed)
            return;
        phase_ = phase::subscribed;
        ++ctx_.stats.subscribed;
    }

    // A masked client frame (RFC 6455 5.3).
    void send_frame(unsigned opcode, std::string_view payload)
    {
        std::string frame;
        frame.reserve(payload.size() + 14);
        frame += char(0x80 | opcode);
        if (payload.size() < 126) {
            frame += char(0x80 | payload.size());
        } else if (payload.size() < 65536) {
            frame += char(0x80 | 126);
            frame += char(payload.size() >> 8);
            frame += char(payload.size() & 0xff);
        } else {
            frame += char(0x80 | 127);
            for (int i = 7; i >= 0; --i)
                frame += char((std::uint64_t(payload.size()) >> (8 * i)) & 0xff);
        }
        const auto r = ctx_.rng.next();
        unsigned char key[4];
        std::memcpy(key, &r, 4);
        frame.append(reinterpret_cast<const char*>(key), 4);
        for (std::size_t i = 0; i < payload.size(); ++i)
            frame += char(payload[i] ^ key[i & 3]);
        send_bytes(std::move(frame));
    }

    // Writes now if the socket takes it all; otherwise queues behind an async write.
    // --tls: always an async write (a synchronous SSL write on a non-blocking
    // socket could lose encrypted bytes it had taken from OpenSSL).
    void send_bytes(std::string data)
    {
        if (phase_ == phase::closed)
            return;
        if (writing_) {
            out_ += data;
            return;
        }
        if constexpr (Tls) {
            inflight_ = std::move(data);
            start_write();
        } else {
            error_code ec;
            const std::size_t n = stream_.write_some(asio::buffer(data), ec);
            if (ec && ec != asio::error::would_block && ec != asio::error::try_again)
                return fail("write: " + ec.message());
            if (!ec && n == data.size())
                return;
            inflight_ = data.substr(ec ? 0 : n);
            start_write();
        }
    }

    void start_write()
    {
        writing_ = true;
        asio::async_write(stream_, asio::buffer(inflight_), [this](error_code ec, std::size_t) {
            writing_ = false;
            if (phase_ == phase::closed)
                return;
            if (ec)
                return fail("write: " + ec.message());
            if (!out_.empty()) {
                inflight_.swap(out_);
                out_.clear();
                start_write();
            }
        });
    }

    void fail(const std::string& why)
    {
        if (phase_ == phase::closed)
            return;
        auto& st = ctx_.stats;
        if (phase_ == phase::subscribed) {
            ++st.disconnected;
        } else {
            ++st.failed;
        }
        st.note_error(why);
        close_quietly();
    }

    struct no_tls_state
    {
    };
    struct tls_state
    {
        std::vector<char> rx;  // decrypted bytes: tls_.kept of an incomplete frame, then a read
        std::size_t kept = 0;
    };

    client_context& ctx_;
    stream_type stream_;
    std::string pending_;    // bytes of an incomplete frame (or handshake response)
    std::string fragments_;  // a fragmented message being assembled
    std::string inflight_;   // being written
    std::string out_;        // to write after inflight_
    std::uint64_t last_n_ = 0;
    bool have_last_n_ = false;
    bool writing_ = false;
    [[no_unique_address]] std::conditional_t<Tls, tls_state, no_tls_state> tls_;
};

// ---------------------------------------------------------------- the publisher

struct publisher_stats
{
    std::atomic<std::uint64_t> sent{0};      // events in POSTs that were answered or failed
    std::atomic<std::uint64_t> accepted{0};  // events the server accepted
    std::atomic<std::uint64_t> posts{0};
    std::atomic<std::uint64_t> failures{0};  // non-200 answers and transport errors
    std::uint64_t behind = 0;                // due by the end but never sent (throttled)
    std::uint64_t max_post = 0;              // largest POST, in events
    std::atomic<bool> done{false};
    std::string error;                       // read after the thread has joined
    std::string first_bad_response;
    clock_type::time_point finished{};
};

class publisher
{
public:
    // tls_ctx: --tls (https), with the server name sni (empty: none sent).
    publisher(const options& opt, tcp::endpoint endpoint, ssl::context* tls_ctx, std::string sni)
        : opt_(opt), endpoint_(endpoint), queue_(opt.room.substr(6)), tls_ctx_(tls_ctx),
          sni_(std::move(sni)), stream_(ioc_)
    {
    }

    publisher_stats& stats() { return stats_; }

    // Connects (5 s deadline), then waits for the start time and publishes until
    // the end of the window. Runs on its own thread.
    void run(std::promise<bool>& connected, std::future<clock_type::time_point> start)
    {
        bool ok = false;
        asio::co_spawn(ioc_, connect(), [&](std::exception_ptr e) {
            if (e)
                stats_.error = "publisher connect: " + describe(e);
            else
                ok = true;
        });
        ioc_.run();
        connected.set_value(ok);
        if (!ok) {
            stats_.done = true;
            return;
        }
        if (start.wait_for(std::chrono::hours(1)) != std::future_status::ready) {
            stats_.done = true;
            return;
        }
        const auto t0 = start.get();
        if (t0 == clock_type::time_point::min()) {  // cancelled
            stats_.done = true;
            return;
        }
        ioc_.restart();
        asio::co_spawn(ioc_, publish(t0), [&](std::exception_ptr e) {
            if (e)
                stats_.error = "publisher: " + describe(e);
        });
        ioc_.run();
        stats_.finished = clock_type::now();
        stats_.done = true;
    }

private:
    asio::awaitable<void> connect()
    {
        if (!tls_ctx_) {
            stream_.expires_after(5s);
            co_await stream_.async_connect(endpoint_, asio::use_awaitable);
            stream_.socket().set_option(tcp::no_delay(true));
            co_return;
        }
        // A fresh TLS stream for every connection (an SSL object is not reused).
        tls_stream_ = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(ioc_, *tls_ctx_);
        if (!sni_.empty() &&
            SSL_set_tlsext_host_name(tls_stream_->native_handle(), sni_.c_str()) != 1)
            throw std::runtime_error("cannot set the TLS server name");
        auto& low = beast::get_lowest_layer(*tls_stream_);
        low.expires_after(5s);
        co_await low.async_connect(endpoint_, asio::use_awaitable);
        low.socket().set_option(tcp::no_delay(true));
        co_await tls_stream_->async_handshake(ssl::stream_base::client, asio::use_awaitable);
    }

    beast::tcp_stream& lowest()
    {
        return tls_stream_ ? beast::get_lowest_layer(*tls_stream_) : stream_;
    }

    // Writes req and reads the answer into parser on stream s (plain or TLS).
    template <class Stream>
    asio::awaitable<void> exchange(Stream& s, http::request<http::string_body>& req,
                                   http::response_parser<http::string_body>& parser, error_code& ec)
    {
        co_await http::async_write(s, req, asio::redirect_error(asio::use_awaitable, ec));
        if (!ec)
            co_await http::async_read(s, rbuf_, parser,
                                      asio::redirect_error(asio::use_awaitable, ec));
    }

    void append_event(std::string& out, std::uint64_t n, std::int64_t t_ns) const
    {
        char num[24], stamp[24], job[8], pct[8];
        const auto num_len = std::to_chars(num, num + sizeof num, n).ptr - num;
        const auto stamp_len = std::to_chars(stamp, stamp + sizeof stamp, t_ns).ptr - stamp;
        const auto job_len = std::to_chars(job, job + sizeof job, n % 1000).ptr - job;
        const auto pct_len = std::to_chars(pct, pct + sizeof pct, n % 101).ptr - pct;
        constexpr std::string_view p1 = R"({"type":"job.progress","job_id":"bench-)";
        constexpr std::string_view p2 = R"(","queue":")";
        constexpr std::string_view p3 = R"(","percent":)";
        constexpr std::string_view p4 = R"(,"step":")";
        constexpr std::string_view p5 = R"(","counters":{"n":)";
        constexpr std::string_view p6 = R"(,"t_ns":)";
        constexpr std::string_view p7 = "}}\n";
        const std::size_t base = p1.size() + std::size_t(job_len) + p2.size() + queue_.size() +
                                 p3.size() + std::size_t(pct_len) + p4.size() + p5.size() +
                                 std::size_t(num_len) + p6.size() + std::size_t(stamp_len) +
                                 p7.size() - 1;
        const std::size_t pad =
            opt_.event_bytes > base ? std::min(opt_.event_bytes - base, max_step_padding) : 0;
        out += p1;
        out.append(job, std::size_t(job_len));
        out += p2;
        out += queue_;
        out += p3;
        out.append(pct, std::size_t(pct_len));
        out += p4;
        out.append(pad, 'x');
        out += p5;
        out.append(num, std::size_t(num_len));
        out += p6;
        out.append(stamp, std::size_t(stamp_len));
        out += p7;
    }

    // One POST of `count` events numbered from `first`; waits for the answer.
    asio::awaitable<void> post(std::uint64_t first, std::uint64_t count)
    {
        http::request<http::string_body> req{http::verb::post, "/api/v1/events", 11};
        req.set(http::field::host, opt_.host + ":" + std::to_string(opt_.port));
        req.set(http::field::content_type, "application/x-ndjson");
        if (!opt_.token.empty())
            req.set(http::field::authorization, "Bearer " + opt_.token);
        req.keep_alive(true);
        std::string& body = req.body();
        body.reserve(std::size_t(count) * (opt_.event_bytes + 48));
        const std::int64_t t_ns = steady_ns(clock_type::now());
        for (std::uint64_t i = 0; i < count; ++i)
            append_event(body, first + i, t_ns);
        req.prepare_payload();

        http::response<http::string_body> res;
        error_code ec;
        http::response_parser<http::string_body> parser;
        parser.body_limit(1024 * 1024);
        lowest().expires_after(30s);
        if (tls_stream_)
            co_await exchange(*tls_stream_, req, parser, ec);
        else
            co_await exchange(stream_, req, parser, ec);
        if (!ec)
            res = parser.release();
        lowest().expires_never();
        ++stats_.posts;
        stats_.sent += count;
        if (ec) {
            ++stats_.failures;
            if (stats_.first_bad_response.empty())
                stats_.first_bad_response = "transport: " + ec.message();
            co_await reconnect();
            co_return;
        }
        if (res.result() != http::status::ok) {
            ++stats_.failures;
            if (stats_.first_bad_response.empty())
                stats_.first_bad_response =
                    std::to_string(res.result_int()) + " " + res.body().substr(0, 300);
        } else if (const auto n = number_after(res.body(), "\"accepted\":")) {
            stats_.accepted += *n;
        } else {
            stats_.accepted += count;  // a 200 without a count: all of them
        }
        if (!res.keep_alive())
            co_await reconnect();
    }

    asio::awaitable<void> reconnect()
    {
        error_code ignored;
        lowest().socket().close(ignored);
        rbuf_.clear();
        co_await connect();
    }

    asio::awaitable<void> publish(clock_type::time_point t0)
    {
        const auto t_end = t0 + to_duration(opt_.duration);
        const auto tick = std::chrono::milliseconds(opt_.tick_ms);
        const auto total = static_cast<std::uint64_t>(opt_.rate * opt_.duration);
        asio::steady_timer timer(ioc_);
        std::uint64_t next = 0;  // number of the next event
        if (opt_.rate == 0) {
            while (clock_type::now() < t_end) {
                co_await post(next, opt_.batch);
                next += opt_.batch;
            }
            co_return;
        }
        std::int64_t k = 0;  // tick number
        for (;;) {
            // The next tick that is not in the past.
            const auto now = clock_type::now();
            k = std::max<std::int64_t>(k + 1, (now - t0) / tick + 1);
            auto at = t0 + k * tick;
            if (at > t_end)
                at = t_end;
            timer.expires_at(at);
            co_await timer.async_wait(asio::use_awaitable);
            const double elapsed = std::chrono::duration<double>(at - t0).count();
            const auto due =
                std::min(total, static_cast<std::uint64_t>(opt_.rate * elapsed + 1e-6));
            if (due > next) {
                const auto count = std::min<std::uint64_t>(due - next, opt_.max_batch);
                stats_.max_post = std::max(stats_.max_post, count);
                co_await post(next, count);
                next += count;
            }
            if (at >= t_end || clock_type::now() >= t_end) {
                stats_.behind = total - next;
                break;
            }
        }
    }

    const options& opt_;
    tcp::endpoint endpoint_;
    std::string queue_;
    ssl::context* tls_ctx_;
    std::string sni_;
    asio::io_context ioc_;
    beast::tcp_stream stream_;                                          // plain
    std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls_stream_;  // --tls
    beast::flat_buffer rbuf_;
    publisher_stats stats_;
};

// ---------------------------------------------------------------- the run

struct run_result
{
    std::size_t clients_subscribed = 0;
    double ramp_s = 0;
    proc_sample server_before, server_connected, server_publish_end, server_end;
    proc_sample server_window_start;
    double client_cpu_window = 0, client_recv_cpu_window = 0, machine_busy_window = 0;
    double publish_s = 0, drain_s = 0;
    long client_rss_kib = 0;
    bool ok = false;
    std::string error;
};

asio::awaitable<void> sleep_for(asio::io_context& ioc, clock_type::duration d)
{
    asio::steady_timer t(ioc, d);
    co_await t.async_wait(asio::use_awaitable);
}

asio::awaitable<void> controller(client_context& ctx,
                                 std::vector<std::unique_ptr<connection>>& conns,
                                 publisher* pub, std::promise<clock_type::time_point>* start,
                                 run_result& r)
{
    const options& opt = ctx.opt;
    auto& st = ctx.stats;
    r.server_before = sample_process(opt.pid);

    // Ramp: --ramp-batch connections at a time, each batch subscribed (or given
    // up on at its deadline) before the next.
    const auto ramp_start = clock_type::now();
    for (std::size_t first = 0; first < conns.size(); first += opt.ramp_batch) {
        const std::size_t last = std::min(conns.size(), first + opt.ramp_batch);
        for (std::size_t i = first; i < last; ++i)
            conns[i]->start();
        const auto deadline = clock_type::now() + to_duration(opt.ramp_timeout);
        while (st.subscribed + st.failed + st.disconnected < last &&
               clock_type::now() < deadline)
            co_await sleep_for(ctx.ioc, 2ms);
        std::size_t batch_ok = 0;
        for (std::size_t i = first; i < last; ++i) {
            if (conns[i]->state() == phase::subscribed)
                ++batch_ok;
            else
                conns[i]->abandon("not subscribed by the ramp deadline");
        }
        if (batch_ok == 0) {
            st.note_error("a whole ramp batch failed: ramp stopped");
            break;
        }
    }
    r.ramp_s = seconds_between(ramp_start, clock_type::now());
    r.clients_subscribed = st.subscribed;
    if (st.subscribed == 0) {
        r.error = "no client subscribed";
        if (start)
            start->set_value(clock_type::time_point::min());
        co_return;
    }

    if (opt.idle) {
        r.server_connected = sample_process(opt.pid);
        co_await sleep_for(ctx.ioc, to_duration(opt.idle_wait));
        r.server_end = sample_process(opt.pid);
        r.client_rss_kib = self_rss_kib();
        r.ok = true;
        co_return;
    }

    r.server_connected = sample_process(opt.pid);
    // Publish.
    const double busy0 = machine_busy_seconds();
    const double cpu0 = cpu_seconds(RUSAGE_SELF);
    const double recv0 = cpu_seconds(RUSAGE_THREAD);
    r.server_window_start = sample_process(opt.pid);
    const auto t0 = clock_type::now() + 20ms;  // the publisher thread is waiting on a future
    ctx.window_start = t0;
    ctx.window_end = t0 + to_duration(opt.duration);
    start->set_value(t0);
    auto& ps = pub->stats();
    const auto publish_deadline = ctx.window_end + 35s;  // one POST may take 30 s
    while (!ps.done && clock_type::now() < publish_deadline)
        co_await sleep_for(ctx.ioc, 5ms);
    const auto publish_end = clock_type::now();
    r.publish_s = seconds_between(t0, publish_end);
    r.server_publish_end = sample_process(opt.pid);
    if (!ps.done) {
        r.error = "publisher did not finish by its deadline";
        co_return;
    }

    // Drain: wait for the deliveries still on their way.
    const auto drain_deadline = publish_end + to_duration(opt.drain);
    while (st.received < ps.accepted.load() * r.clients_subscribed &&
           clock_type::now() < drain_deadline)
        co_await sleep_for(ctx.ioc, 5ms);
    const auto end = clock_type::now();
    r.drain_s = seconds_between(publish_end, end);
    r.server_end = sample_process(opt.pid);
    r.client_cpu_window = cpu_seconds(RUSAGE_SELF) - cpu0;
    r.client_recv_cpu_window = cpu_seconds(RUSAGE_THREAD) - recv0;
    r.machine_busy_window = machine_busy_seconds() - busy0;
    r.client_rss_kib = self_rss_kib();
    r.ok = true;
}

void raise_fd_limit(std::size_t clients)
{
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0)
        return;
    if (lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        setrlimit(RLIMIT_NOFILE, &lim);
        getrlimit(RLIMIT_NOFILE, &lim);
    }
    if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < clients + 64) {
        std::cerr << "jobwatch_load: " << clients << " clients need about " << clients + 64
                  << " file descriptors; the limit is " << lim.rlim_cur << " (hard "
                  << lim.rlim_max << "): raise `ulimit -Hn` (as root) or use fewer clients\n";
        std::exit(1);
    }
}

std::string fixed(double v, int digits = 3)
{
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}

}  // namespace

int main(int argc, char** argv)
{
    const options opt = parse_options(argc, argv);
    std::signal(SIGPIPE, SIG_IGN);
    raise_fd_limit(opt.clients);

    asio::io_context ioc(1);
    tcp::endpoint endpoint;
    bool host_is_address = false;
    {
        error_code ec;
        const auto address = asio::ip::make_address(opt.host, ec);
        if (!ec) {
            endpoint = tcp::endpoint(address, opt.port);
            host_is_address = true;
        } else {
            tcp::resolver resolver(ioc);
            const auto results = resolver.resolve(opt.host, std::to_string(opt.port), ec);
            if (ec || results.empty()) {
                std::cerr << "jobwatch_load: cannot resolve " << opt.host << ": " << ec.message()
                          << "\n";
                return 1;
            }
            endpoint = *results.begin();
        }
    }

    // --tls: one context for all clients and the publisher.
    std::optional<ssl::context> tls_ctx;
    if (opt.tls) {
        tls_ctx.emplace(ssl::context::tls_client);
        if (SSL_CTX_set_min_proto_version(tls_ctx->native_handle(), TLS1_2_VERSION) != 1) {
            std::cerr << "jobwatch_load: cannot require TLS 1.2\n";
            return 1;
        }
        if (opt.ca_file.empty()) {
            tls_ctx->set_verify_mode(ssl::verify_none);
        } else {
            error_code ec;
            tls_ctx->load_verify_file(opt.ca_file, ec);
            if (ec)
                usage_error("--ca " + opt.ca_file + ": " + ec.message());
            tls_ctx->set_verify_mode(ssl::verify_peer);
            // DNS or IP subjectAltName (or the CN, without DNS names) against --host.
            tls_ctx->set_verify_callback(ssl::host_name_verification(opt.host));
        }
    }
    // SNI carries a host name, never an address (RFC 6066 3).
    const std::string sni = opt.tls && !host_is_address ? opt.host : std::string();

    client_context ctx{opt, ioc, endpoint, tls_ctx ? &*tls_ctx : nullptr};
    ctx.sni = sni;
    const std::string room_json = json_escape(opt.room);
    switch (opt.server) {
    case server_kind::jobwatch:
        ctx.handshake_path = "/ws";
        if (!opt.token.empty())
            ctx.handshake_path += "?token=" + percent_encode(opt.token);
        ctx.subscribe_text = R"({"type":"subscribe","room":")" + room_json + "\"}";
        break;
    case server_kind::ws:
        ctx.handshake_path = "/";
        if (!opt.token.empty())
            ctx.handshake_path += "?token=" + percent_encode(opt.token);
        ctx.subscribe_text = R"({"type":"subscribe","room":")" + room_json + "\"}";
        break;
    case server_kind::socketio:
        ctx.handshake_path = "/socket.io/?EIO=4&transport=websocket";
        ctx.connect_text = "40";
        if (!opt.token.empty()) {
            ctx.handshake_path += "&token=" + percent_encode(opt.token);
            // Socket.IO authenticates a namespace's CONNECT: its auth object.
            ctx.connect_text += R"({"token":")" + json_escape(opt.token) + "\"}";
        }
        ctx.subscribe_text = R"(42["subscribe",{"room":")" + room_json + "\"}]";
        break;
    }

    std::vector<std::unique_ptr<connection>> conns;
    conns.reserve(opt.clients);
    for (std::size_t i = 0; i < opt.clients; ++i) {
        if (opt.tls)
            conns.push_back(std::make_unique<basic_connection<true>>(ctx));
        else
            conns.push_back(std::make_unique<basic_connection<false>>(ctx));
    }

    // The publisher connects while the clients ramp, then waits for its start.
    std::unique_ptr<publisher> pub;
    std::promise<bool> pub_connected;
    std::promise<clock_type::time_point> pub_start;
    std::thread pub_thread;
    if (!opt.idle) {
        auto pub_endpoint = endpoint;
        if (opt.publish_port)
            pub_endpoint.port(opt.publish_port);
        pub = std::make_unique<publisher>(opt, pub_endpoint, ctx.tls, sni);
        pub_thread = std::thread(
            [&, fut = pub_start.get_future()]() mutable { pub->run(pub_connected, std::move(fut)); });
        auto connected = pub_connected.get_future();
        if (connected.wait_for(10s) != std::future_status::ready || !connected.get()) {
            pub_start.set_value(clock_type::time_point::min());
            pub_thread.join();
            std::cerr << "jobwatch_load: " << pub->stats().error << "\n";
            return 1;
        }
    }

    run_result r;
    bool controller_done = false;
    asio::co_spawn(ioc, controller(ctx, conns, pub.get(), opt.idle ? nullptr : &pub_start, r),
                   [&](std::exception_ptr e) {
                       controller_done = true;
                       if (e)
                           r.error = "controller: " + describe(e);
                       ioc.stop();
                   });
    ioc.run();
    for (auto& c : conns)
        c->close_quietly();
    if (pub_thread.joinable()) {
        if (!controller_done || !r.ok) {
            // The start promise may be unset (no subscriber): release the thread.
            try {
                pub_start.set_value(clock_type::time_point::min());
            } catch (const std::future_error&) {
            }
        }
        pub_thread.join();
    }

    const auto& st = ctx.stats;
    const std::size_t n = r.clients_subscribed;
    std::ostringstream json;
    json << "{\"server\":\"" << json_escape(opt.server_name) << "\",\"label\":\""
         << json_escape(opt.label) << "\",\"mode\":\"" << (opt.idle ? "idle" : "publish")
         << "\",\"tls\":" << (opt.tls ? "true" : "false")
         << ",\"tls_verified\":" << (!opt.ca_file.empty() ? "true" : "false")
         << ",\"tls_session\":\"" << json_escape(ctx.tls_session)
         << "\",\"ok\":" << (r.ok ? "true" : "false") << ",\"clients_asked\":" << opt.clients
         << ",\"clients\":" << n << ",\"connect_failures\":" << st.failed
         << ",\"disconnects\":" << st.disconnected << ",\"ramp_s\":" << fixed(r.ramp_s);
    auto rss_or_null = [](const proc_sample& s) {
        return s.ok ? std::to_string(s.rss_kib) : std::string("null");
    };

    std::cout << "jobwatch_load: server " << opt.server_name << " at " << opt.host << ":"
              << opt.port << ", room " << opt.room << "\n";
    if (opt.tls)
        std::cout << "  TLS                     "
                  << (ctx.tls_session.empty() ? "no handshake completed" : ctx.tls_session)
                  << ", certificate "
                  << (opt.ca_file.empty() ? "not verified" : "verified against " + opt.ca_file)
                  << (sni.empty() ? ", no SNI" : ", SNI " + sni) << "\n";
    std::cout << "  clients subscribed      " << n << " of " << opt.clients << " in "
              << fixed(r.ramp_s, 2) << " s (" << st.failed << " failed, " << st.disconnected
              << " disconnected later)\n";
    for (const auto& e : st.first_errors)
        std::cout << "  client error            " << e << "\n";
    if (!r.error.empty())
        std::cout << "  RUN ERROR               " << r.error << "\n";

    if (opt.idle) {
        const bool have = r.server_before.ok && r.server_end.ok && n > 0;
        const double per_conn =
            have ? double(r.server_end.rss_kib - r.server_before.rss_kib) / double(n) : 0;
        std::cout << "  server RSS before       " << rss_or_null(r.server_before) << " KiB\n"
                  << "  server RSS connected    " << rss_or_null(r.server_connected) << " KiB\n"
                  << "  server RSS after " << fixed(opt.idle_wait, 0) << " s   "
                  << rss_or_null(r.server_end) << " KiB\n"
                  << "  per idle connection     " << (have ? fixed(per_conn, 2) : "n/a")
                  << " KiB\n"
                  << "  client RSS              " << r.client_rss_kib << " KiB\n";
        json << ",\"server_rss_before_kib\":" << rss_or_null(r.server_before)
             << ",\"server_rss_connected_kib\":" << rss_or_null(r.server_connected)
             << ",\"server_rss_end_kib\":" << rss_or_null(r.server_end)
             << ",\"kib_per_idle_conn\":" << (have ? fixed(per_conn, 2) : "null")
             << ",\"client_rss_kib\":" << r.client_rss_kib << ",\"pings\":" << st.pings
             << ",\"error\":\"" << json_escape(r.error) << "\"}";
        std::cout << "RESULT " << json.str() << std::endl;
        return r.ok ? 0 : 1;
    }

    const auto& ps = pub->stats();
    const std::uint64_t published = ps.accepted;
    const std::uint64_t expected = published * n;
    const std::uint64_t received = st.received;
    const std::int64_t loss = std::int64_t(expected) - std::int64_t(received);
    const double loss_pct = expected ? 100.0 * double(loss) / double(expected) : 0;
    const double window_rate = double(st.in_window) / opt.duration;
    const double total_time = r.publish_s + r.drain_s;
    const double total_rate = total_time > 0 ? double(received) / total_time : 0;
    const auto& h = st.latency;
    auto ms = [](std::uint64_t ns) { return double(ns) / 1e6; };
    const bool have_cpu = r.server_window_start.ok && r.server_end.ok;
    const double server_cpu = have_cpu ? r.server_end.cpu_s - r.server_window_start.cpu_s : 0;
    const double server_cpu_publish =
        r.server_window_start.ok && r.server_publish_end.ok
            ? r.server_publish_end.cpu_s - r.server_window_start.cpu_s
            : 0;
    const double pct = total_time > 0 ? 100.0 / total_time : 0;

    std::cout << "  rate asked              " << fixed(opt.rate, 0) << " events/s for "
              << fixed(opt.duration, 1) << " s (tick " << opt.tick_ms << " ms, ~"
              << opt.event_bytes << " B events, at most " << opt.max_batch << " per POST)\n"
              << "  events published        " << published << " accepted of " << ps.sent
              << " sent in " << ps.posts << " POSTs (" << ps.failures << " failed, largest "
              << ps.max_post << "); " << ps.behind << " never sent (publisher throttled)\n"
              << "  publish rate achieved   " << fixed(double(published) / opt.duration, 1)
              << " events/s\n";
    if (!ps.first_bad_response.empty())
        std::cout << "  first POST failure      " << ps.first_bad_response << "\n";
    if (!ps.error.empty())
        std::cout << "  publisher error         " << ps.error << "\n";
    std::cout << "  deliveries expected     " << expected << "\n"
              << "  deliveries received     " << received << "\n"
              << "  loss                    " << loss << " (" << fixed(loss_pct, 4) << " %)"
              << (loss < 0 ? " MORE than expected: a failed POST was published after all?" : "")
              << "\n"
              << "  delivered in window     " << st.in_window << " = " << fixed(window_rate, 0)
              << " msgs/s over " << fixed(opt.duration, 1) << " s\n"
              << "  delivered overall       " << fixed(total_rate, 0) << " msgs/s over "
              << fixed(total_time, 2) << " s (publish " << fixed(r.publish_s, 2) << " + drain "
              << fixed(r.drain_s, 2) << ")\n"
              << "  latency ms p50/p90/p99/p99.9/max  " << fixed(ms(h.percentile(50))) << " / "
              << fixed(ms(h.percentile(90))) << " / " << fixed(ms(h.percentile(99))) << " / "
              << fixed(ms(h.percentile(99.9))) << " / " << fixed(ms(h.max())) << " ("
              << h.total() << " samples)\n"
              << "  lagged notices          " << st.lagged << " (" << st.resubscribes
              << " subscribed again, --on-lagged " << opt.on_lagged << ")\n"
              << "  out of order / errors / other / unstamped  " << st.out_of_order << " / "
              << st.errors << " / " << st.other << " / " << st.unstamped << "\n"
              << "  client CPU              " << fixed(r.client_cpu_window, 2) << " s = "
              << fixed(r.client_cpu_window * pct, 1) << " % of a core (receiving thread "
              << fixed(r.client_recv_cpu_window * pct, 1) << " %), "
              << fixed(double(st.bytes) / std::max<std::uint64_t>(st.reads, 1), 0)
              << " B per read\n";
    if (have_cpu)
        std::cout << "  server CPU              " << fixed(server_cpu, 2) << " s = "
                  << fixed(server_cpu * pct, 1) << " % of a core (publish window "
                  << fixed(server_cpu_publish, 2) << " s)\n";
    const double others = r.machine_busy_window - r.client_cpu_window - server_cpu;
    std::cout << "  machine busy            " << fixed(r.machine_busy_window * pct, 1)
              << " % of a core (" << sysconf(_SC_NPROCESSORS_ONLN) << " online), of which "
              << fixed(others * pct, 1) << " % neither client nor server (noise, softirq)\n";
    std::cout << "  server RSS KiB          before " << rss_or_null(r.server_before)
              << ", connected " << rss_or_null(r.server_connected) << ", end "
              << rss_or_null(r.server_end) << "\n";

    json << ",\"rate\":" << fixed(opt.rate, 1) << ",\"duration_s\":" << fixed(opt.duration, 1)
         << ",\"tick_ms\":" << opt.tick_ms << ",\"event_bytes\":" << opt.event_bytes
         << ",\"max_batch\":" << opt.max_batch << ",\"posts\":" << ps.posts
         << ",\"post_failures\":" << ps.failures << ",\"max_post\":" << ps.max_post
         << ",\"behind\":" << ps.behind
         << ",\"publish_rate\":" << fixed(double(published) / opt.duration, 1)
         << ",\"sent\":" << ps.sent << ",\"published\":" << published
         << ",\"expected\":" << expected << ",\"received\":" << received << ",\"loss\":" << loss
         << ",\"loss_pct\":" << fixed(loss_pct, 4) << ",\"in_window\":" << st.in_window
         << ",\"msgs_per_s_window\":" << fixed(window_rate, 1)
         << ",\"msgs_per_s_total\":" << fixed(total_rate, 1)
         << ",\"publish_s\":" << fixed(r.publish_s) << ",\"drain_s\":" << fixed(r.drain_s)
         << ",\"lat_samples\":" << h.total() << ",\"lat_p50_ms\":" << fixed(ms(h.percentile(50)))
         << ",\"lat_p90_ms\":" << fixed(ms(h.percentile(90)))
         << ",\"lat_p99_ms\":" << fixed(ms(h.percentile(99)))
         << ",\"lat_p999_ms\":" << fixed(ms(h.percentile(99.9)))
         << ",\"lat_max_ms\":" << fixed(ms(h.max())) << ",\"lagged\":" << st.lagged
         << ",\"resubscribes\":" << st.resubscribes << ",\"out_of_order\":" << st.out_of_order << ",\"errors\":" << st.errors
         << ",\"other_msgs\":" << st.other << ",\"unstamped\":" << st.unstamped
         << ",\"pings\":" << st.pings << ",\"client_cpu_s\":" << fixed(r.client_cpu_window)
         << ",\"client_cpu_pct\":" << fixed(r.client_cpu_window * pct, 1)
         << ",\"client_recv_cpu_pct\":" << fixed(r.client_recv_cpu_window * pct, 1)
         << ",\"client_rss_kib\":" << r.client_rss_kib
         << ",\"server_cpu_s\":" << (have_cpu ? fixed(server_cpu) : "null")
         << ",\"server_cpu_pct\":" << (have_cpu ? fixed(server_cpu * pct, 1) : "null")
         << ",\"machine_busy_pct\":" << fixed(r.machine_busy_window * pct, 1)
         << ",\"others_cpu_pct\":" << (have_cpu ? fixed(others * pct, 1) : "null")
         << ",\"server_rss_before_kib\":" << rss_or_null(r.server_before)
         << ",\"server_rss_connected_kib\":" << rss_or_null(r.server_connected)
         << ",\"server_rss_end_kib\":" << rss_or_null(r.server_end) << ",\"error\":\""
         << json_escape(r.error.empty() ? ps.error : r.error) << "\"}";
    std::cout << "RESULT " << json.str() << std::endl;
    return r.ok ? 0 : 1;
}
