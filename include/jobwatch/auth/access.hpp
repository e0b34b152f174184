#ifndef JOBWATCH_AUTH_ACCESS_HPP
#define JOBWATCH_AUTH_ACCESS_HPP

/** @file
    What a principal may see: scopes, tenants, users, rooms. One place
    decides it for every path (WebSocket, SSE, long-poll, REST).
*/

#include <jobwatch/events/rooms.hpp>
#include <jobwatch/messages/config.hpp>
#include <jobwatch/store/job_store.hpp>

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>

namespace jobwatch::auth {

/// True when `p` holds `scope`.
inline bool has_scope(principal const& p, auth_scope scope) noexcept
{
    return std::find(p.scopes.begin(), p.scopes.end(), scope) != p.scopes.end();
}

/// True when `p` may see data of tenant `tenant` (absent: data of no tenant).
inline bool may_see_tenant(principal const& p, std::optional<std::string> const& tenant) noexcept
{
    return !p.tenant_id || (tenant && *tenant == *p.tenant_id);
}

/// The key of the user `p` is restricted to (`tenant/user`, or `user`); empty when none.
inline std::string user_key(principal const& p)
{
    return p.user_id ? rooms::scoped(p.tenant_id.value_or(""), *p.user_id) : std::string();
}

/// True when `p` may see `job`: its tenant's, and its user's when `p` has a user.
inline bool may_see_job(principal const& p, job_record const& job)
{
    if (p.tenant_id && job.tenant_id() != *p.tenant_id)
        return false;
    return !p.user_id || job.rooms()->user_key() == user_key(p);
}

/// True when `room` is a room name (`rooms::syntax`).
inline bool valid_room(std::string_view room) { return rooms::parse(room).has_value(); }

/** @brief How a room request is answered. `not_found` also stands for "it
    exists but belongs to another tenant", so existence does not leak. */
enum class room_access
{
    allowed,
    forbidden,  ///< the principal lacks the read scope, or the room kind is not open to it
    not_found,
};

/** @brief May `p` subscribe to (or read the history of) `room`?

    A principal without a tenant reads every room. A tenant's principal reads
    the rooms of its tenant (`tenant:{t}`, `job:{t}/...`, `run:{t}/...`,
    `user:{t}/...`); queue, alerts and health rooms mix tenants and are
    forbidden to it; another tenant's room is not found. A principal with a
    user reads only `user:` of itself and `job:` rooms of its own jobs (run
    and tenant rooms mix users: forbidden). A job room may be read before the
    job exists; the gateway delivers its messages only once the job is seen
    to be the principal's.
*/
inline room_access check_room(principal const& p, std::string_view room, job_store const& store)
{
    if (!has_scope(p, auth_scope::read))
        return room_access::forbidden;
    auto const n = rooms::parse(room);
    if (!n)
        return room_access::not_found;
    bool const restricted = p.tenant_id || p.user_id;
    bool const own_tenant = !p.tenant_id || n->tenant == *p.tenant_id;
    switch (n->kind) {
    case rooms::kind::alerts:
    case rooms::kind::health:
    case rooms::kind::queue:
        return restricted ? room_access::forbidden : room_access::allowed;
    case rooms::kind::tenant:
    case rooms::kind::run:
        if (!own_tenant)
            return room_access::not_found;
        return p.user_id ? room_access::forbidden : room_access::allowed;
    case rooms::kind::user:
        if (!own_tenant || (p.user_id && rooms::scoped(n->tenant, n->id) != user_key(p)))
            return room_access::not_found;
        return room_access::allowed;
    case rooms::kind::job:
        if (!own_tenant)
            return room_access::not_found;
        if (auto const* job = store.find(n->tenant, n->id); job && !may_see_job(p, *job))
            return room_access::not_found;
        return room_access::allowed;
    }
    return room_access::not_found;
}

}  // namespace jobwatch::auth

#endif
