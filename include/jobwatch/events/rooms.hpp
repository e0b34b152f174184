#ifndef JOBWATCH_EVENTS_ROOMS_HPP
#define JOBWATCH_EVENTS_ROOMS_HPP

/** @file
    Room names, and the rooms of one job.

    Ids belong to a tenant: a job is (tenant, job id), a run (tenant, run id),
    a user (tenant, user id). Their rooms name the tenant before a slash,
    `job:{tenant}/{id}`, `run:{tenant}/{id}`, `user:{tenant}/{id}`; a job of
    no tenant has `job:{id}` and so on. Ids cannot contain a slash, so every
    room name means exactly one thing. `queue:{name}` gathers every tenant's
    jobs of the queue, `tenant:{id}` every job of the tenant, `alerts` and
    `health` the monitors' messages (docs/protocol.md, "Rooms").
*/

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace jobwatch {

namespace rooms {

/// What a room gathers.
enum class kind : std::uint8_t
{
    job,     ///< one job's events
    queue,   ///< every event of the queue's jobs (all tenants)
    run,     ///< every event of the run's jobs (one tenant)
    tenant,  ///< every event of the tenant's jobs
    user,    ///< every event of the user's jobs (one tenant)
    alerts,  ///< the monitors' alerts
    health,  ///< queue health reports (state only)
};

/// `id` of `tenant`: `tenant/id`, or `id` when there is no tenant. The key of
/// runs and users in the store, and the part after the colon of their rooms.
inline std::string scoped(std::string_view tenant, std::string_view id)
{
    std::string out;
    out.reserve(tenant.size() + id.size() + 1);
    if (!tenant.empty())
        out.append(tenant).push_back('/');
    out.append(id);
    return out;
}

inline std::string job(std::string_view tenant, std::string_view id) { return "job:" + scoped(tenant, id); }
inline std::string run(std::string_view tenant, std::string_view id) { return "run:" + scoped(tenant, id); }
inline std::string user(std::string_view tenant, std::string_view id) { return "user:" + scoped(tenant, id); }
inline std::string queue(std::string_view name) { return "queue:" + std::string(name); }
inline std::string tenant(std::string_view id) { return "tenant:" + std::string(id); }
inline constexpr std::string_view alerts = "alerts";
inline constexpr std::string_view health = "health";

/// What a valid room name looks like, for error messages.
inline constexpr std::string_view syntax =
    "a room is job:[tenant/]id, run:[tenant/]id, user:[tenant/]id, queue:name, tenant:id, alerts or health, "
    "where each id or name is 1 to 200 of A-Z a-z 0-9 . _ : @ -";

/// A room name taken apart.
struct name
{
    rooms::kind kind = kind::alerts;
    std::string_view tenant;  ///< job, run, user: the tenant before the slash (empty: none); tenant: the id
    std::string_view id;      ///< job, run, user: the id; queue: the name; tenant: the id
};

/// True for 1 to 200 of A-Z a-z 0-9 . _ : @ - (the schemas' `identifier`).
constexpr bool is_identifier(std::string_view s) noexcept
{
    if (s.empty() || s.size() > 200)
        return false;
    for (char c : s) {
        bool const ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                        c == '_' || c == ':' || c == '@' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

/// `room` taken apart, or nullopt when it is not a room name (see `syntax`).
constexpr std::optional<name> parse(std::string_view room) noexcept
{
    if (room == alerts)
        return name{kind::alerts, {}, {}};
    if (room == health)
        return name{kind::health, {}, {}};
    auto const colon = room.find(':');
    if (colon == std::string_view::npos)
        return std::nullopt;
    auto const prefix = room.substr(0, colon);
    auto const rest = room.substr(colon + 1);
    if (prefix == "queue" || prefix == "tenant") {
        if (!is_identifier(rest))
            return std::nullopt;
        return prefix == "queue" ? name{kind::queue, {}, rest} : name{kind::tenant, rest, rest};
    }
    kind k{};
    if (prefix == "job")
        k = kind::job;
    else if (prefix == "run")
        k = kind::run;
    else if (prefix == "user")
        k = kind::user;
    else
        return std::nullopt;
    auto const slash = rest.find('/');
    if (slash == std::string_view::npos)
        return is_identifier(rest) ? std::optional<name>(name{k, {}, rest}) : std::nullopt;
    auto const t = rest.substr(0, slash);
    auto const id = rest.substr(slash + 1);
    if (!is_identifier(t) || !is_identifier(id))
        return std::nullopt;
    return name{k, t, id};
}

}  // namespace rooms

/** @brief The rooms a job's events go to, fixed by its first event: its
    job room, its queue's, and its run's, tenant's and user's when set.

    Built once per job and shared (by `shared_ptr`) by the job record and
    every event of the job, so routing an event builds no string. The one
    place that decides an event's rooms.

    @par Thread Safety
    The names are immutable: share it across threads freely. `handles()`
    belongs to the event log, on the core's strand.
*/
class job_rooms
{
public:
    /// The rooms of a job of `tenant` (empty: none) with its queue, run and user (empty: none).
    static std::shared_ptr<job_rooms const> make(std::string_view tenant, std::string_view job_id,
                                                 std::string_view queue, std::string_view run,
                                                 std::string_view user)
    {
        auto r = std::make_shared<job_rooms>(private_tag{});
        auto& t = r->text_;
        t.reserve(32 + 2 * tenant.size() + job_id.size() + queue.size() + run.size() + user.size());
        auto add = [&](rooms::kind k, std::string_view prefix, std::string_view id, bool scoped) {
            auto const begin = t.size();
            t.append(prefix);
            if (scoped && !tenant.empty())
                t.append(tenant).push_back('/');
            t.append(id);
            r->at_[static_cast<std::size_t>(k)] = r->n_;
            r->span_[r->n_++] = {static_cast<std::uint16_t>(begin), static_cast<std::uint16_t>(t.size() - begin)};
        };
        add(rooms::kind::job, "job:", job_id, true);
        add(rooms::kind::queue, "queue:", queue, false);
        if (!run.empty())
            add(rooms::kind::run, "run:", run, true);
        if (!tenant.empty())
            add(rooms::kind::tenant, "tenant:", tenant, false);
        if (!user.empty())
            add(rooms::kind::user, "user:", user, true);
        return r;
    }

    /// Public for make_shared only.
    struct private_tag
    {
    };
    explicit job_rooms(private_tag) noexcept {}

    /// How many rooms (2 to 5).
    std::size_t size() const noexcept { return n_; }
    /// The i-th room name, in the order job, queue, run, tenant, user (those set).
    std::string_view operator[](std::size_t i) const noexcept
    {
        return std::string_view(text_).substr(span_[i].begin, span_[i].len);
    }
    /// The room of kind `k` (job, queue, run, tenant or user); empty when the job has none.
    std::string_view of(rooms::kind k) const noexcept
    {
        auto const i = at_[static_cast<std::size_t>(k)];
        return i == none ? std::string_view{} : (*this)[i];
    }
    /// The job's tenant; empty when none.
    std::string_view tenant_id() const noexcept
    {
        auto const t = of(rooms::kind::tenant);
        return t.empty() ? t : t.substr(7);
    }
    /// The part after the colon of the user room (`tenant/user`, or `user`); empty when none.
    std::string_view user_key() const noexcept
    {
        auto const u = of(rooms::kind::user);
        return u.empty() ? u : u.substr(5);
    }

    /** @brief Where the event log that sequences this job keeps each room,
        so that it looks the names up once per job, not once per event
        (the lookups were the event path's main cost).

        Written and read by that log only, on the core's strand; other
        threads read only the names, which are other memory. Valid while
        `generation` is the log's (a log changes its generation whenever it
        drops rooms). */
    struct log_handles
    {
        std::uint64_t generation = 0;
        std::array<void*, 5> room{};
    };
    log_handles& handles() const noexcept { return handles_; }

private:
    static constexpr std::uint8_t none = 0xff;
    struct span
    {
        std::uint16_t begin = 0;
        std::uint16_t len = 0;
    };

    std::string text_;                                  // the names, one after another
    std::array<span, 5> span_{};
    std::array<std::uint8_t, 5> at_{none, none, none, none, none};  // by kind (job..user): index into span_
    std::uint8_t n_ = 0;
    mutable log_handles handles_{};
};

}  // namespace jobwatch

#endif
