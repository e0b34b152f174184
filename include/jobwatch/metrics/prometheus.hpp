#ifndef JOBWATCH_METRICS_PROMETHEUS_HPP
#define JOBWATCH_METRICS_PROMETHEUS_HPP

/** @file
    The Prometheus text exposition format (0.0.4), written by hand: it is a
    few lines of text per sample, and no Debian package offers a C++ client
    library for it (prometheus-cpp is not packaged in Debian 12).
*/

#include <jobwatch/metrics/histogram.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <initializer_list>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <dirent.h>
#include <unistd.h>

namespace jobwatch::metrics {

/** @brief Writes metric families in the text format: `# HELP`, `# TYPE`,
    then the samples. A family is written once; a second `family` call with
    the same name is an error the writer refuses (it would make the scrape
    invalid).

    @code
    prometheus_writer w;
    w.family("jobwatch_jobs", "gauge", "Jobs by state.");
    w.sample("jobwatch_jobs", {{"state", "queued"}}, 12);
    std::string body = std::move(w).text();
    @endcode
*/
class prometheus_writer
{
public:
    /// One label: its name (a valid label name) and value (any text; escaped here).
    using label = std::pair<std::string_view, std::string_view>;

    /** Starts a family. @return false (and writes nothing) when the family
        was written before: its samples must then be skipped. */
    bool family(std::string_view name, std::string_view type, std::string_view help)
    {
        if (!families_.emplace(name).second)
            return false;
        out_ += "# HELP ";
        out_ += name;
        out_ += ' ';
        escape(help, false);
        out_ += "\n# TYPE ";
        out_ += name;
        out_ += ' ';
        out_ += type;
        out_ += '\n';
        return true;
    }

    /// A family of one unlabelled sample (a process figure, a total).
    void single(std::string_view name, std::string_view type, std::string_view help, double value)
    {
        if (family(name, type, help))
            sample(name, {}, value);
    }

    /// One sample of the family begun last (`name` may carry a suffix: `_bucket`, `_sum`, `_count`).
    void sample(std::string_view name, std::initializer_list<label> labels, double value)
    {
        sample(name, std::span<label const>(labels.begin(), labels.size()), value);
    }

    void sample(std::string_view name, std::span<label const> labels, double value)
    {
        out_ += name;
        if (!labels.empty()) {
            out_ += '{';
            bool first = true;
            for (auto const& [k, v] : labels) {
                if (!first)
                    out_ += ',';
                first = false;
                out_ += k;
                out_ += "=\"";
                escape(v, true);
                out_ += '"';
            }
            out_ += '}';
        }
        out_ += ' ';
        number(value);
        out_ += '\n';
    }

    /** @brief A histogram's samples from a mergeable `log_histogram` of
        milliseconds, in seconds: cumulative `_bucket` counts at `bounds_ms`
        (each rounded up to the log histogram's own bucket boundary, so the
        counts are exact), `+Inf`, `_sum` and `_count`. */
    void histogram(std::string_view name, std::span<label const> labels, log_histogram const& h,
                   std::span<double const> bounds_ms)
    {
        std::string bucket(name);
        bucket += "_bucket";
        std::vector<label> with_le(labels.begin(), labels.end());
        with_le.emplace_back("le", "");
        std::uint64_t below = h.zero_count();
        std::int32_t next = log_histogram::min_index;  // first bucket not yet summed
        std::array<char, 32> le{};
        for (double b : bounds_ms) {
            auto const top = log_histogram::index_of(b);
            for (; next <= top; ++next)
                below += h.bucket_count(next);
            auto const n = std::snprintf(le.data(), le.size(), "%.6g", log_histogram::upper_bound(top) / 1000.0);
            with_le.back().second = std::string_view(le.data(), static_cast<std::size_t>(std::max(n, 0)));
            sample(bucket, with_le, static_cast<double>(below));
        }
        with_le.back().second = "+Inf";
        sample(bucket, with_le, static_cast<double>(h.count()));
        sample(std::string(name) + "_sum", labels, h.sum() / 1000.0);
        sample(std::string(name) + "_count", labels, static_cast<double>(h.count()));
    }

    std::string text() && { return std::move(out_); }
    std::string const& text() const& { return out_; }

private:
    // Label values escape \, " and newline; HELP escapes \ and newline.
    void escape(std::string_view s, bool quotes)
    {
        for (char c : s) {
            if (c == '\\')
                out_ += "\\\\";
            else if (c == '\n')
                out_ += "\\n";
            else if (c == '"' && quotes)
                out_ += "\\\"";
            else
                out_ += c;
        }
    }

    void number(double v)
    {
        if (std::isnan(v)) {
            out_ += "NaN";
            return;
        }
        if (std::isinf(v)) {
            out_ += v > 0 ? "+Inf" : "-Inf";
            return;
        }
        std::array<char, 32> buf{};
        // Integers as integers (counts); the rest with full precision.
        auto const r = (v == std::floor(v) && std::fabs(v) < 9.0e15)
                           ? std::to_chars(buf.data(), buf.data() + buf.size(), static_cast<std::int64_t>(v))
                           : std::to_chars(buf.data(), buf.data() + buf.size(), v);
        out_.append(buf.data(), r.ptr);
    }

    std::string out_;
    std::set<std::string, std::less<>> families_;
};

/// The process's CPU time, resident memory and open file descriptors, from /proc (Linux).
struct process_stats
{
    double cpu_seconds = 0;       ///< user + system
    double resident_bytes = 0;    ///< VmRSS
    double virtual_bytes = 0;     ///< VmSize
    double open_fds = 0;          ///< entries of /proc/self/fd
    double max_fds = 0;           ///< the soft RLIMIT_NOFILE
    double start_time_seconds = 0;  ///< since the epoch
    bool valid = false;           ///< false where /proc is not readable

    static process_stats read()
    {
        process_stats s;
        std::ifstream stat("/proc/self/stat");
        std::string line;
        if (!std::getline(stat, line))
            return s;
        // Fields after the command name, which is in parentheses and may hold spaces.
        auto const close = line.rfind(')');
        if (close == std::string::npos)
            return s;
        std::string_view rest(line);
        rest.remove_prefix(close + 2);
        std::array<std::string_view, 24> f{};
        std::size_t n = 0;
        while (!rest.empty() && n < f.size()) {
            auto const sp = rest.find(' ');
            f[n++] = rest.substr(0, sp);
            rest = sp == std::string_view::npos ? std::string_view{} : rest.substr(sp + 1);
        }
        if (n < 22)
            return s;
        auto num = [](std::string_view t) {
            double v = 0;
            std::from_chars(t.data(), t.data() + t.size(), v);
            return v;
        };
        auto const tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
        // Fields 14 and 15 (utime, stime) and 22 (starttime), counted from 1 with the pid as 1.
        s.cpu_seconds = (num(f[11]) + num(f[12])) / tick;
        s.virtual_bytes = num(f[20]);
        auto const page = static_cast<double>(::sysconf(_SC_PAGESIZE));
        s.resident_bytes = num(f[21]) * page;
        double boot = 0;
        std::ifstream st("/proc/stat");
        for (std::string l; std::getline(st, l);)
            if (l.starts_with("btime "))
                boot = num(std::string_view(l).substr(6));
        s.start_time_seconds = boot + num(f[19]) / tick;
        if (DIR* d = ::opendir("/proc/self/fd")) {
            while (auto* e = ::readdir(d))
                if (e->d_name[0] != '.')
                    s.open_fds += 1;
            ::closedir(d);
            s.open_fds -= 1;  // the directory stream's own descriptor
        }
        std::ifstream limits("/proc/self/limits");
        for (std::string l; std::getline(limits, l);)
            if (l.starts_with("Max open files")) {
                auto const at = l.find_first_of("0123456789");
                if (at != std::string::npos)
                    s.max_fds = num(std::string_view(l).substr(at, l.find(' ', at) - at));
            }
        s.valid = true;
        return s;
    }
};

}  // namespace jobwatch::metrics

#endif
