#ifndef JOBWATCH_REDIS_DETAIL_PIPELINE_HPP
#define JOBWATCH_REDIS_DETAIL_PIPELINE_HPP

/** @file
    The bookkeeping of a pipelined connection, sans I/O: which requests wait
    to be written, which are written and wait for replies, which reply belongs
    to whom, and what happens to each when the connection drops. The
    `connection` coroutines only read, write and wake callers around it.
*/

#include <jobwatch/redis/error.hpp>
#include <jobwatch/redis/reply.hpp>

#include <boost/system/error_code.hpp>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace jobwatch::redis::detail {

/// One request on its way: queued, then in flight, then done.
struct pending
{
    enum class stage : std::uint8_t
    {
        queued,     ///< waiting to be written
        in_flight,  ///< written; replies still to come
        done,       ///< every reply arrived, or it failed
    };

    /// The request's bytes; read only while queued (its owner waits for it meanwhile).
    std::string_view payload;
    std::size_t expected = 0;  ///< replies still to come
    std::vector<reply> replies;
    boost::system::error_code ec;
    stage at = stage::queued;
    bool abandoned = false;  ///< the caller stopped waiting: replies are dropped
    bool internal = false;   ///< a health PING: not counted against `max_queued`

    pending(std::string_view bytes, std::size_t commands, bool is_internal = false)
        : payload(bytes), expected(commands), internal(is_internal)
    {
        if (!internal)
            replies.reserve(commands);
    }
};

/** @brief Requests queued and in flight on one connection, in order.

    @par Thread Safety
    Only from the owning connection's executor.
*/
class pipeline
{
public:
    struct limits
    {
        std::size_t max_queued = 10'000;
        std::size_t max_in_flight = 1'000;
    };

    explicit pipeline(limits l) : limits_(l) {}

    /// Queues `p` for writing; `error::queue_full` if `max_queued` caller requests
    /// already wait (health PINGs are not counted, nor refused).
    boost::system::error_code push(std::shared_ptr<pending> p)
    {
        if (!p->internal) {
            if (queued_ >= limits_.max_queued)
                return error::queue_full;
            ++queued_;
        }
        p->at = pending::stage::queued;
        queue_.push_back(std::move(p));
        return {};
    }

    /// Whether `take` would write something now.
    bool writable() const noexcept
    {
        return queue_.size() > abandoned_in_queue_ && in_flight_.size() < limits_.max_in_flight;
    }

    /** @brief Moves queued requests into flight, oldest first, while the
        in-flight bound allows, appending their bytes to `out` (which the
        writer then owns: a caller that gives up mid-write leaves nothing
        dangling). Returns how many requests were taken. */
    std::size_t take(std::string& out)
    {
        std::size_t n = 0;
        while (!queue_.empty() && in_flight_.size() < limits_.max_in_flight) {
            auto p = std::move(queue_.front());
            queue_.pop_front();
            if (p->abandoned) {
                --abandoned_in_queue_;
                continue;
            }
            out.append(p->payload);
            p->payload = {};
            p->at = pending::stage::in_flight;
            if (!p->internal)
                --queued_;
            in_flight_.push_back(std::move(p));
            ++n;
        }
        return n;
    }

    /** @brief One reply arrived: it belongs to the oldest request in flight.
        When that request has all its replies it is done: `ec` is
        `error::reply_error` if any reply is an error, and `done(pending&)`
        is called. Returns `error::protocol` if no request was waiting. */
    template <class F> boost::system::error_code on_reply(reply&& r, F&& done)
    {
        if (in_flight_.empty())
            return error::protocol;
        auto& p = *in_flight_.front();
        if (r.is_error())
            p.ec = error::reply_error;
        if (!p.abandoned)
            p.replies.push_back(std::move(r));
        if (--p.expected == 0) {
            auto owned = std::move(in_flight_.front());
            in_flight_.pop_front();
            owned->at = pending::stage::done;
            done(*owned);
        }
        return {};
    }

    /// The connection dropped: each request in flight completes with `ec`.
    template <class F> void fail_in_flight(boost::system::error_code ec, F&& done)
    {
        auto failed = std::exchange(in_flight_, {});
        for (auto& p : failed)
            finish(*p, ec, done);
    }

    /// Each queued request completes with `ec` (health PINGs are dropped alike).
    template <class F> void fail_queued(boost::system::error_code ec, F&& done)
    {
        auto failed = std::exchange(queue_, {});
        queued_ = 0;
        abandoned_in_queue_ = 0;
        for (auto& p : failed)
            if (!p->abandoned)
                finish(*p, ec, done);
    }

    /// Drops the queued health PINGs (a new connection sends its own).
    void drop_queued_pings()
    {
        std::erase_if(queue_, [](auto const& q) { return q->internal; });
    }

    /** @brief The caller of `p` stopped waiting. Queued, it will not be
        written; in flight, its replies are read and dropped, so the next
        request still gets its own. */
    void abandon(pending& p)
    {
        if (p.abandoned || p.at == pending::stage::done)
            return;
        p.abandoned = true;
        p.replies.clear();
        if (p.at != pending::stage::queued)
            return;
        p.payload = {};
        if (!p.internal)
            --queued_;
        // Give the memory back once abandoned entries are half the queue, so callers
        // that time out again and again while Redis is down do not grow it.
        if (++abandoned_in_queue_ > 64 && abandoned_in_queue_ * 2 > queue_.size()) {
            std::erase_if(queue_, [](auto const& q) { return q->abandoned; });
            abandoned_in_queue_ = 0;
        }
    }

    /// Caller requests waiting to be written (health PINGs not counted).
    std::size_t queued() const noexcept { return queued_; }
    /// Requests written and waiting for replies (abandoned ones and PINGs included).
    std::size_t in_flight() const noexcept { return in_flight_.size(); }

private:
    template <class F> static void finish(pending& p, boost::system::error_code ec, F& done)
    {
        p.ec = ec;
        p.at = pending::stage::done;
        p.payload = {};
        done(p);
    }

    limits limits_;
    std::deque<std::shared_ptr<pending>> queue_;
    std::deque<std::shared_ptr<pending>> in_flight_;
    std::size_t queued_ = 0;              // live caller requests in queue_
    std::size_t abandoned_in_queue_ = 0;  // entries of queue_ nobody waits for
};

}  // namespace jobwatch::redis::detail

#endif
