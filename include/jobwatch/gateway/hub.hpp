#ifndef JOBWATCH_GATEWAY_HUB_HPP
#define JOBWATCH_GATEWAY_HUB_HPP

/** @file
    The room table of one gateway shard and its fan-out.
*/

#include <jobwatch/detail/asio.hpp>
#include <jobwatch/detail/hash.hpp>
#include <jobwatch/gateway/connection.hpp>

#include <cassert>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace jobwatch::gw {

/** @brief The room table of one gateway shard: who is subscribed to what,
    and the fan-out of room messages (encode once, share the bytes).

    A message for a room nobody watches costs one hash lookup and no
    encoding. For a watched room it is encoded once (`wire.hpp`) and the same
    `shared_ptr` is appended to every subscriber's queue; each subscriber is
    flushed once per batch of messages, after the whole batch is queued.

    Fan-out never waits on a client. During fan-out, (un)subscribing is
    deferred until the fan-out ends (the overflow ladder unsubscribes), and
    the room table never changes under the loop.

    @par Thread Safety
    Only from its shard's executor.
*/
class hub
{
public:
    explicit hub(asio::any_io_executor ex) : ex_(std::move(ex)) {}

    hub(hub const&) = delete;
    hub& operator=(hub const&) = delete;

    room_state* find(std::string_view room) noexcept
    {
        auto it = rooms_.find(room);
        return it == rooms_.end() ? nullptr : it->second.get();
    }

    /// Adds `s` to `room` (no-op when it is there already).
    void subscribe(subscriber& s, std::string_view room)
    {
        assert(!dispatching_ && "subscribe during fan-out");
        auto& r = get(room);
        if (s.find_subscription(&r))
            return;
        s.subscriptions().push_back({&r, static_cast<std::uint32_t>(r.subs.size())});
        r.subs.push_back(&s);
    }

    /// Removes `s` from `room`; false when it was not subscribed.
    bool unsubscribe(subscriber& s, std::string_view room)
    {
        auto* r = find(room);
        if (!r || !s.find_subscription(r))
            return false;
        drop_from_room(s, *r);
        return true;
    }

    /// Removes `s` from every room.
    void unsubscribe_all(subscriber& s)
    {
        while (!s.subscriptions().empty())
            drop_from_room(s, *s.subscriptions().back().room);
    }

    /// Parks a long-poll on `room` until the next message; `wake` must stay alive until `unpark`.
    void park(std::string_view room, std::function<void()>* wake) { get(room).waiters.push_back(wake); }
    void unpark(std::string_view room, std::function<void()>* wake)
    {
        auto* r = find(room);
        if (!r)
            return;
        std::erase(r->waiters, wake);
        if (!dispatching_)
            release_if_empty(*r);
    }

    /// Wakes every parked long-poll (shutdown).
    void wake_all()
    {
        std::vector<std::function<void()>*> all;
        for (auto& [name, r] : rooms_)
            all.insert(all.end(), r->waiters.begin(), r->waiters.end());
        for (auto* w : all)
            (*w)();
    }

    /** @brief Called with the room each time a subscription ends (unsubscribe,
        the overflow ladder, a closed session): a sharded gateway tells the
        core, which stops sending the shard a room nobody there watches. */
    std::function<void(std::string const& room)> on_leave;

    /** @brief Fans one message out to `room`'s subscribers and wakes its long-polls.
        `encode` is called at most once, only when someone is there. */
    template<class Encode>
    void dispatch(std::string_view room, Encode&& encode)
    {
        auto it = rooms_.find(room);
        if (it == rooms_.end())
            return;
        auto& r = *it->second;
        if (!r.subs.empty()) {
            wire_ptr const msg = encode();
            dispatching_ = true;
            // Index loop: the ladder may swap-remove the current subscriber.
            for (std::size_t i = 0; i < r.subs.size();) {
                auto* s = r.subs[i];
                s->deliver(msg);
                if (i < r.subs.size() && r.subs[i] == s)
                    ++i;
            }
            dispatching_ = false;
        }
        if (!r.waiters.empty()) {
            auto waiters = std::move(r.waiters);
            r.waiters.clear();
            for (auto* w : waiters)
                (*w)();
        }
        finish_dispatch();
    }

    /// Marks `s` for the next flush, which runs once the current batch of messages is queued.
    void want_flush(subscriber& s)
    {
        if (s.flush_pending)
            return;
        s.flush_pending = true;
        to_flush_.push_back(s.shared_from_this());
        if (!flush_posted_) {
            flush_posted_ = true;
            asio::post(ex_, [this] { flush_all(); });
        }
    }

    std::size_t room_count() const noexcept { return rooms_.size(); }
    template<class F>
    void for_each_room(F&& f) const
    {
        for (auto const& [name, r] : rooms_)
            f(*r);
    }

private:
    room_state& get(std::string_view room)
    {
        auto it = rooms_.find(room);
        if (it == rooms_.end()) {
            auto r = std::make_unique<room_state>();
            r->name = std::string(room);
            it = rooms_.emplace(r->name, std::move(r)).first;
        }
        return *it->second;
    }

    // The session counts as unsubscribed at once; an emptied room is
    // released now, or after the fan-out when one is running.
    void drop_from_room(subscriber& s, room_state& r)
    {
        auto& subs = s.subscriptions();
        for (std::size_t i = 0; i < subs.size(); ++i) {
            if (subs[i].room != &r)
                continue;
            auto const idx = subs[i].index;
            // Swap-remove from the room, fixing the moved session's index.
            auto* moved = r.subs.back();
            r.subs[idx] = moved;
            r.subs.pop_back();
            if (moved != &s)
                moved->find_subscription(&r)->index = idx;
            subs[i] = subs.back();
            subs.pop_back();
            if (on_leave)
                on_leave(r.name);
            break;
        }
        if (dispatching_)
            deferred_.push_back(r.name);
        else
            release_if_empty(r);
    }

    void release_if_empty(room_state& r)
    {
        if (r.subs.empty() && r.waiters.empty()) {
            std::string const name = r.name;
            rooms_.erase(name);
        }
    }

    void finish_dispatch()
    {
        // Rooms the ladder emptied during the fan-out go now.
        auto deferred = std::move(deferred_);
        deferred_.clear();
        for (auto const& name : deferred)
            if (auto* r = find(name))
                release_if_empty(*r);
    }

    void flush_all()
    {
        flush_posted_ = false;
        auto batch = std::move(to_flush_);
        to_flush_.clear();
        for (auto& s : batch) {
            s->flush_pending = false;
            s->flush();
        }
        // Keep the vector's capacity for the next batch.
        batch.clear();
        if (to_flush_.empty())
            to_flush_.swap(batch);
    }

    asio::any_io_executor ex_;
    std::unordered_map<std::string, std::unique_ptr<room_state>, ::jobwatch::detail::string_hash,
                       ::jobwatch::detail::string_equal>
        rooms_;
    std::vector<std::shared_ptr<subscriber>> to_flush_;
    std::vector<std::string> deferred_;
    bool dispatching_ = false;
    bool flush_posted_ = false;
};

}  // namespace jobwatch::gw

#endif
