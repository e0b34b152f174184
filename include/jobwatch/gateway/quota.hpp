#ifndef JOBWATCH_GATEWAY_QUOTA_HPP
#define JOBWATCH_GATEWAY_QUOTA_HPP

/** @file
    Concurrent WebSocket and SSE connections per subject and per tenant
    (`rate_limits.max_connections_per_subject`, `max_connections_per_tenant`).
*/

#include <jobwatch/messages/config.hpp>

#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace jobwatch::gw {

/** @brief Counts the long-lived connections of each subject and tenant.

    A connection takes a `slot` when it starts and gives it back when the
    slot is destroyed (the session finishes). Shared by the I/O threads
    under a mutex: taken once per WebSocket or SSE connection, never per
    message.
*/
class connection_quota : public std::enable_shared_from_this<connection_quota>
{
public:
    /// Held by a connection; gives its place back when destroyed.
    class slot
    {
    public:
        slot(std::shared_ptr<connection_quota> q, std::string subject_key, std::optional<std::string> tenant)
            : q_(std::move(q)), subject_(std::move(subject_key)), tenant_(std::move(tenant))
        {
        }
        ~slot() { q_->release(subject_, tenant_); }
        slot(slot const&) = delete;
        slot& operator=(slot const&) = delete;

    private:
        std::shared_ptr<connection_quota> q_;
        std::string subject_;
        std::optional<std::string> tenant_;
    };

    enum class refusal
    {
        none,
        subject,
        tenant
    };

    /** @brief A slot for `who`, or why not: its subject holds `per_subject`
        connections already, or its tenant `per_tenant` (0: no limit). */
    std::pair<std::unique_ptr<slot>, refusal> acquire(principal const& who, std::size_t per_subject,
                                                      std::size_t per_tenant)
    {
        // A subject is counted within its tenant: two tenants' "worker" are two subjects.
        auto const key = subject_key(who);
        std::lock_guard lock(mutex_);
        auto& s = subjects_[key];
        if (per_subject > 0 && s >= per_subject) {
            forget_if_zero(subjects_, key);
            return {nullptr, refusal::subject};
        }
        if (who.tenant_id) {
            auto& t = tenants_[*who.tenant_id];
            if (per_tenant > 0 && t >= per_tenant) {
                forget_if_zero(tenants_, *who.tenant_id);
                forget_if_zero(subjects_, key);
                return {nullptr, refusal::tenant};
            }
            ++t;
        }
        ++s;
        return {std::make_unique<slot>(shared_from_this(), key, who.tenant_id), refusal::none};
    }

    /// Ids cannot hold '/': `tenant/subject` names one subject of one tenant (or of none).
    static std::string subject_key(principal const& who) { return who.tenant_id.value_or("") + "/" + who.subject; }

private:
    void release(std::string const& subject_key, std::optional<std::string> const& tenant)
    {
        std::lock_guard lock(mutex_);
        if (auto it = subjects_.find(subject_key); it != subjects_.end() && --it->second == 0)
            subjects_.erase(it);
        if (tenant)
            if (auto it = tenants_.find(*tenant); it != tenants_.end() && --it->second == 0)
                tenants_.erase(it);
    }

    static void forget_if_zero(std::unordered_map<std::string, std::size_t>& m, std::string const& k)
    {
        if (auto it = m.find(k); it != m.end() && it->second == 0)
            m.erase(it);
    }

    mutable std::mutex mutex_;
    std::unordered_map<std::string, std::size_t> subjects_;  // by subject_key; only keys with connections
    std::unordered_map<std::string, std::size_t> tenants_;
};

}  // namespace jobwatch::gw

#endif
