#ifndef JOBWATCH_TESTS_REDIS_REDIS_SERVER_HPP
#define JOBWATCH_TESTS_REDIS_REDIS_SERVER_HPP

// A real redis-server for tests and benchmarks: started on a free 127.0.0.1
// port in a temporary folder with nothing persisted (--save '' --appendonly
// no), stopped by the destructor whatever happens, and killed by the kernel
// if this process dies first (PR_SET_PDEATHSIG). Every wait has a deadline.
// No GoogleTest here: failures throw std::runtime_error.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace jobwatch::test {

class redis_server
{
public:
    struct options
    {
        std::string password{};            ///< --requirepass when not empty
        std::vector<std::string> extra{};  ///< more arguments, as "--name", "value", ...
    };

    /// The redis-server binary: $JOBWATCH_REDIS_SERVER, else the one CMake found, else PATH.
    static std::string binary()
    {
        if (char const* env = std::getenv("JOBWATCH_REDIS_SERVER"))
            return env;
#ifdef JOBWATCH_REDIS_SERVER
        return JOBWATCH_REDIS_SERVER;
#else
        return "/usr/bin/redis-server";
#endif
    }

    redis_server() : redis_server(options{}) {}

    explicit redis_server(options opts) : opts_(std::move(opts))
    {
        auto tmpl = (std::filesystem::temp_directory_path() / "jobwatch-redis-XXXXXX").string();
        if (::mkdtemp(tmpl.data()) == nullptr)
            throw std::runtime_error("redis_server: mkdtemp failed");
        dir_ = tmpl;
        // A port taken between probing and binding makes redis-server exit: try another.
        for (int attempt = 0;; ++attempt) {
            port_ = free_port();
            try {
                start();
                return;
            } catch (std::exception const&) {
                if (attempt == 4) {
                    std::filesystem::remove_all(dir_);
                    throw;
                }
            }
        }
    }

    redis_server(redis_server const&) = delete;
    redis_server& operator=(redis_server const&) = delete;

    ~redis_server()
    {
        stop();
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
    }

    std::uint16_t port() const noexcept
    {
        return port_;
    }
    std::filesystem::path const& dir() const noexcept
    {
        return dir_;
    }
    bool running() const noexcept
    {
        return pid_ > 0;
    }

    /// Starts the server (again, on the same port) and waits until it answers.
    void start()
    {
        if (pid_ > 0)
            return;
        auto const bin = binary();
        std::vector<std::string> args{bin,
                                      "--port",
                                      std::to_string(port_),
                                      "--bind",
                                      "127.0.0.1",
                                      "--save",
                                      "",
                                      "--appendonly",
                                      "no",
                                      "--dir",
                                      dir_.string(),
                                      "--logfile",
                                      (dir_ / "redis.log").string(),
                                      "--daemonize",
                                      "no"};
        if (!opts_.password.empty()) {
            args.push_back("--requirepass");
            args.push_back(opts_.password);
        }
        args.insert(args.end(), opts_.extra.begin(), opts_.extra.end());
        std::vector<char*> argv;
        for (auto& a : args)
            argv.push_back(a.data());
        argv.push_back(nullptr);

        pid_t const parent = ::getpid();
        pid_t const pid = ::fork();
        if (pid < 0)
            throw std::runtime_error("redis_server: fork failed");
        if (pid == 0) {
            // Only async-signal-safe calls between fork and exec.
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (::getppid() != parent)
                ::_exit(127);
            ::execv(argv[0], argv.data());
            ::_exit(127);
        }
        pid_ = pid;
        wait_until_answering(std::chrono::seconds{10});
    }

    /// SIGKILL, as a crash would: clients see their connections reset.
    void kill()
    {
        if (pid_ <= 0)
            return;
        ::kill(pid_, SIGKILL);
        reap(std::chrono::seconds{10});
    }

    /// SIGTERM, then SIGKILL if it has not exited within 5 s.
    void stop()
    {
        if (pid_ <= 0)
            return;
        ::kill(pid_, SIGTERM);
        if (!reap(std::chrono::seconds{5})) {
            ::kill(pid_, SIGKILL);
            reap(std::chrono::seconds{5});
        }
    }

    /// The end of the server's log, for a failure message.
    std::string log_tail() const
    {
        std::ifstream in(dir_ / "redis.log");
        std::stringstream ss;
        ss << in.rdbuf();
        auto s = ss.str();
        return s.size() > 2000 ? s.substr(s.size() - 2000) : s;
    }

private:
    static std::uint16_t free_port()
    {
        int const fd = ::socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0)
            throw std::runtime_error("redis_server: socket failed");
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = 0;
        socklen_t len = sizeof a;
        if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
            ::close(fd);
            throw std::runtime_error("redis_server: cannot find a free port");
        }
        ::close(fd);
        return ntohs(a.sin_port);
    }

    // Waits for the child to exit; false if it is still running at the deadline.
    bool reap(std::chrono::steady_clock::duration timeout)
    {
        auto const deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            int status = 0;
            pid_t const r = ::waitpid(pid_, &status, WNOHANG);
            if (r == pid_ || r < 0) {
                pid_ = -1;
                return true;
            }
            if (std::chrono::steady_clock::now() >= deadline)
                return false;
            std::this_thread::sleep_for(std::chrono::milliseconds{5});
        }
    }

    // Connects and sends PING until a reply comes (any reply: with
    // --requirepass it is -NOAUTH), or the child exits, or the deadline passes.
    void wait_until_answering(std::chrono::steady_clock::duration timeout)
    {
        auto const deadline = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < deadline) {
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                throw std::runtime_error("redis-server exited at start (port " +
                                         std::to_string(port_) + "):\n" + log_tail());
            }
            if (ping())
                return;
            std::this_thread::sleep_for(std::chrono::milliseconds{10});
        }
        stop();
        throw std::runtime_error("redis-server did not answer within the deadline:\n" + log_tail());
    }

    bool ping() const
    {
        int const fd = ::socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0)
            return false;
        timeval tv{.tv_sec = 1, .tv_usec = 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons(port_);
        bool ok = false;
        if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
            constexpr char cmd[] = "*1\r\n$4\r\nPING\r\n";
            char buf[64];
            ok = ::send(fd, cmd, sizeof cmd - 1, MSG_NOSIGNAL) == sizeof cmd - 1 &&
                 ::recv(fd, buf, sizeof buf, 0) > 0;
        }
        ::close(fd);
        return ok;
    }

    options opts_;
    std::filesystem::path dir_;
    std::uint16_t port_ = 0;
    pid_t pid_ = -1;
};

}  // namespace jobwatch::test

#endif
