#ifndef JOBWATCH_EXAMPLES_DEMO_WORKLOAD_HPP
#define JOBWATCH_EXAMPLES_DEMO_WORKLOAD_HPP

// A simulated workload for the demo server: several tenants, queues and runs;
// jobs that are queued, start, report progress, log, complete, fail and retry;
// and now and then a burst of failures on one queue that trips the dead-letter
// alert, which resolves once the burst has aged out of the window.

#include <jobwatch/runtime/wait_cancelled.hpp>
#include <jobwatch/core.hpp>

#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace demo {

/// The simulated workload, as a component: it publishes straight into the core.
class workload
{
public:
    struct config
    {
        double jobs_per_second = 4;                        ///< new jobs per second
        std::chrono::milliseconds tick{200};              ///< how often jobs advance
        std::chrono::seconds burst_every{90};              ///< a failure burst this often (0: never)
        std::uint32_t seed = 42;                           ///< the same seed gives the same workload
    };

    workload(jobwatch::core& c, config cfg) : core_(c), cfg_(cfg), rng_(cfg.seed), start_tag_(tag_of(c.now()))
    {
        c.tasks().add("demo.workload", {.interval = cfg_.tick}, [this] { step(); });
    }

    jobwatch::asio::awaitable<void> run() { co_await jobwatch::detail::wait_until_cancelled(); }

private:
    struct job
    {
        std::string id, queue, run, tenant, user;
        int attempt = 0;
        double progress = 0;
        bool started = false;
        bool doomed = false;  // part of a failure burst
    };

    static constexpr std::array<char const*, 3> tenants_ = {"acme", "globex", "initech"};
    static constexpr std::array<char const*, 4> queues_ = {"emails", "thumbnails", "reports", "payments"};
    static constexpr std::array<char const*, 4> users_ = {"alice", "bob", "carol", "dave"};

    // Ids of this start: the demo keeps its history across restarts, and a new
    // start's job-1 must not be the job-1 of the last one (base 36 of the start second).
    static std::string tag_of(jobwatch::time_point t)
    {
        auto n = static_cast<std::uint64_t>(t.time_since_epoch().count() / 1000);
        std::string out;
        do {
            out.insert(out.begin(), "0123456789abcdefghijklmnopqrstuvwxyz"[n % 36]);
            n /= 36;
        } while (n);
        return out;
    }

    double uniform() { return std::uniform_real_distribution<double>(0, 1)(rng_); }
    template<class A>
    char const* pick(A const& a)
    {
        return a[std::uniform_int_distribution<std::size_t>(0, a.size() - 1)(rng_)];
    }

    // Through core::submit, so that in a cluster the stream numbers it.
    void publish(std::string text)
    {
        auto ev = jobwatch::parse<jobwatch::job_event>(text);
        if (!ev) {
            core_.log().warn("demo workload produced an invalid event: " + ev.error().message);
            return;
        }
        std::vector<jobwatch::job_event> one;
        one.push_back(std::move(*ev));
        core_.submit(std::move(one), nullptr, [this](std::vector<jobwatch::publish_result> r) {
            if (r.at(0).status == jobwatch::publish_status::invalid)
                core_.log().warn("demo workload produced an invalid event: " + r[0].error.message);
        });
    }

    std::string head(char const* type, job const& j)
    {
        return std::string(R"({"type":")") + type + R"(","job_id":")" + j.id + R"(","queue":")" + j.queue +
               R"(","run_id":")" + j.run + R"(","tenant_id":")" + j.tenant + R"(","user_id":")" + j.user + "\"";
    }

public:
    /// Advances the simulation by one tick (the scheduler calls it; tests may, on their own clock).
    void step()
    {
        auto const dt = std::chrono::duration<double>(cfg_.tick).count();
        elapsed_ += dt;
        // A new run every minute per tenant.
        if (run_no_ == 0 || elapsed_ - run_started_ >= 60) {
            ++run_no_;
            run_started_ = elapsed_;
        }
        bool const burst = cfg_.burst_every.count() > 0 &&
                           static_cast<long>(elapsed_ / static_cast<double>(cfg_.burst_every.count())) != last_burst_;
        if (burst) {
            last_burst_ = static_cast<long>(elapsed_ / static_cast<double>(cfg_.burst_every.count()));
            core_.log().info("demo workload: a burst of payment failures starts");
        }
        // New jobs, and a burst of doomed payments now and then.
        acc_ += cfg_.jobs_per_second * dt;
        for (int i = 0; i < (burst ? 15 : 0) || acc_ >= 1; ++i) {
            bool const doomed = i < (burst ? 15 : 0);
            if (!doomed)
                acc_ -= 1;
            job j;
            j.id = "job-" + start_tag_ + "-" + std::to_string(++job_no_);
            j.tenant = pick(tenants_);
            j.queue = doomed ? "payments" : pick(queues_);
            j.run = std::string(j.tenant) + "-run-" + start_tag_ + "-" + std::to_string(run_no_);
            j.user = pick(users_);
            j.doomed = doomed;
            publish(head("job.queued", j) + R"(,"max_attempts":3})");
            jobs_.push_back(std::move(j));
        }
        // Advance the jobs.
        std::vector<job> next;
        next.reserve(jobs_.size());
        for (auto& j : jobs_) {
            if (!j.started) {
                if (uniform() < 0.5 || j.doomed) {
                    j.started = true;
                    ++j.attempt;
                    publish(head("job.started", j) + R"(,"attempt":)" + std::to_string(j.attempt) + "}");
                }
                next.push_back(std::move(j));
                continue;
            }
            if (j.doomed) {
                publish(head("job.failed", j) + R"(,"attempt":)" + std::to_string(j.attempt) +
                        R"(,"error":"card processor timed out after 30000 ms","will_retry":false})");
                continue;
            }
            j.progress = std::min(100.0, j.progress + 10 + 30 * uniform());
            publish(head("job.progress", j) + R"(,"percent":)" + std::to_string(static_cast<int>(j.progress)) + "}");
            if (uniform() < 0.2)
                publish(head("job.log", j) + R"(,"level":"info","message":"processed batch )" +
                        std::to_string(static_cast<int>(j.progress / 10)) + R"("})");
            if (j.progress < 100) {
                next.push_back(std::move(j));
                continue;
            }
            // Everyday failures stay well below the dead-letter threshold, so
            // only a burst fires the alert, and the alert resolves after it.
            auto const roll = uniform();
            if (roll < 0.97) {
                publish(head("job.completed", j) + "}");
            } else if (roll < 0.99 && j.attempt < 3) {
                publish(head("job.failed", j) + R"(,"attempt":)" + std::to_string(j.attempt) +
                        R"(,"error":"upstream returned 503","will_retry":true})");
                j.started = false;
                j.progress = 0;
                next.push_back(std::move(j));
            } else {
                publish(head("job.failed", j) + R"(,"attempt":)" + std::to_string(j.attempt) +
                        R"(,"error":"invalid input: field 'amount' is negative","will_retry":false})");
            }
        }
        jobs_ = std::move(next);
    }

private:

    jobwatch::core& core_;
    config cfg_;
    std::mt19937 rng_;
    std::vector<job> jobs_;
    double elapsed_ = 0;
    double acc_ = 0;
    double run_started_ = 0;
    long last_burst_ = 0;
    std::uint64_t job_no_ = 0;
    std::uint64_t run_no_ = 0;
    std::string start_tag_;
};

}  // namespace demo

#endif
