#ifndef JOBWATCH_EVENTS_USER_EVENT_HPP
#define JOBWATCH_EVENTS_USER_EVENT_HPP

/** @file
    User-defined event types: `user_event`, the last alternative of
    `job_event`, and `event_types`, the process-wide registry of the types a
    user's schemas declare.

    A user's schema (a file named in `events.schemas`, or a header generated
    by `jobwatch_generate()` from a document marked `"x-jobwatch-events": true`)
    declares event types as objects with a `const` `type`, and the `job_id` and
    `queue` of the job they are about. The generated `job_event` parser hands
    an event whose `type` is none of the built-in ones to `read_user_event`,
    which validates it against its type's schema (with the run-time validator,
    JSON Pointer errors in the generated parsers' words) and against the rules
    of the common fields. See docs/events.md.
*/

#include <jobwatch/codec.hpp>
#include <jobwatch/schema/validator.hpp>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace jobwatch {

/// How an event of a user-defined type affects its job (`x-jobwatch-effect`).
enum class user_effect : std::uint8_t
{
    none,      ///< activity only: the job's last update time; its state is unchanged
    progress,  ///< a progress report: a queued job starts running; `percent`, `current`, `total`, `step` apply
    log,       ///< a log line of the job: `message` (or the event's fields), at `level` (default info)
};

/** @brief An event of a user-defined type, as validated on ingest.

    The common fields are those of the built-in events, checked by the same
    rules; `fields` are the event's own, in document order, as its schema
    accepted them.
*/
struct user_event
{
    std::string type;  ///< the type's name (its schema's `const`)
    std::string job_id;
    std::string queue;
    std::optional<std::string> run_id{};
    std::optional<std::string> tenant_id{};
    std::optional<std::string> user_id{};
    std::optional<std::string> job_type{};
    std::optional<std::string> id{};
    std::optional<std::string> time{};
    boost::json::object fields{};  ///< every other member of the event
    user_effect effect = user_effect::none;  ///< from its type's schema

    friend bool operator==(user_event const&, user_event const&) = default;
};

/** @brief A registered event type. */
struct event_type_info
{
    std::string type;
    user_effect effect = user_effect::none;
    std::string source;      ///< where it was declared (a file name, or the caller's label)
    std::string definition;  ///< its schema definition, as compact JSON (a repeat is not a conflict)
    schema::validator validator;
    /// The optional common fields its schema does not declare (`common_fields` order, a bit each):
    /// taken out before its schema sees the event, checked by the built-in rules only.
    std::uint8_t undeclared = 0;
};

/// The optional fields every event may carry, whatever its type's schema says:
/// jobwatch fills in the job's scope and the time of ingest.
inline constexpr std::string_view common_fields[] = {"run_id", "tenant_id", "user_id", "job_type", "id", "time"};

/** @brief The user-defined event types of this process.

    Types are process-wide, as the built-in ones are: every parse of a
    `job_event` (ingest, the journal's replay, Redis, in-process publishing)
    sees them. Register them before events of those types arrive; an app does
    so for `events.schemas` when it is constructed. Registering the same
    definition again is a no-op; a different definition under a registered
    name is refused.

    @par Thread Safety
    Every function may be called from any thread.
*/
class event_types
{
public:
    /** @brief Registers every event type of a schema document (JSON text).
        @return nothing on success; otherwise why not, starting with `source`
        and the JSON Pointer into the document. Nothing is registered then.
    */
    static std::optional<std::string> add(std::string_view document_json, std::string_view source)
    {
        boost::json::error_code ec;
        auto const doc = boost::json::parse(boost::json::string_view(document_json.data(), document_json.size()), ec);
        if (ec)
            return std::string(source) + ": invalid JSON: " + ec.message();
        return add(doc, source);
    }

    /** @overload */
    static std::optional<std::string> add(boost::json::value const& doc, std::string_view source);

    /// The type named `type`, or null.
    static std::shared_ptr<event_type_info const> find(std::string_view type)
    {
        auto& s = state();
        std::shared_lock lock(s.mutex);
        auto it = s.types.find(type);
        return it == s.types.end() ? nullptr : it->second;
    }

    /// The registered type names, sorted.
    static std::vector<std::string> names()
    {
        auto& s = state();
        std::shared_lock lock(s.mutex);
        std::vector<std::string> out;
        for (auto const& [name, info] : s.types)
            out.push_back(name);
        return out;
    }

private:
    struct registry
    {
        std::shared_mutex mutex;
        std::map<std::string, std::shared_ptr<event_type_info const>, std::less<>> types;
    };
    static registry& state()
    {
        static registry r;
        return r;
    }
};

namespace detail {

/// The built-in rule for ids and names (the `identifier` of job_event.schema.json).
inline bool user_event_identifier(std::string_view s) noexcept
{
    for (char c : s) {
        bool const ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                        c == '_' || c == ':' || c == '@' || c == '-';
        if (!ok)
            return false;
    }
    return !s.empty();
}

/// A type name: 1 to 200 of A-Z a-z 0-9 . _ : @ - /.
inline bool user_event_type_name(std::string_view s) noexcept
{
    if (s.empty() || s.size() > 200)
        return false;
    for (char c : s)
        if (c != '/' && !user_event_identifier(std::string_view(&c, 1)))
            return false;
    return true;
}

/// Fails `ctx` at the JSON Pointer `path` (as the validator reports it).
inline bool fail_at_pointer(read_context& ctx, std::string const& path, std::string message)
{
    ctx.fail(std::move(message));
    // The context collects segments deepest first, as a failure unwinds.
    std::vector<std::string> tokens;
    std::size_t i = 0;
    while (i < path.size()) {
        std::size_t const j = path.find('/', i + 1);
        std::string raw = path.substr(i + 1, (j == std::string::npos ? path.size() : j) - i - 1);
        std::string token;
        for (std::size_t k = 0; k < raw.size(); ++k) {
            if (raw[k] == '~' && k + 1 < raw.size()) {
                token.push_back(raw[k + 1] == '1' ? '/' : '~');
                ++k;
            }
            else {
                token.push_back(raw[k]);
            }
        }
        tokens.push_back(std::move(token));
        i = j == std::string::npos ? path.size() : j;
    }
    for (auto it = tokens.rbegin(); it != tokens.rend(); ++it)
        ctx.at(*it);
    return false;
}

/** @brief Reads an event whose `type` is none of the built-in ones.

    Called by the generated `job_event` parser with the tag it read and the
    message it would have given; an unregistered type still gets that message.
*/
inline bool read_user_event(read_context& ctx, boost::json::value const& jv, std::string_view tag,
                            user_event& out, std::string_view builtin_message)
{
    auto const info = event_types::find(tag);
    if (!info) {
        std::string message(builtin_message);
        auto const names = event_types::names();
        if (!names.empty()) {
            message += ", or a registered event type (";
            for (std::size_t i = 0; i < names.size() && i < 20; ++i)
                message += (i ? ", " : "") + json_text(names[i]);
            message += names.size() > 20 ? ", ...)" : ")";
        }
        return ctx.fail_at("type", std::move(message));
    }
    auto const& o = jv.get_object();  // the parser checked it is an object
    // Common fields its schema does not declare are jobwatch's: its schema sees the event without them.
    bool strip = false;
    for (std::size_t i = 0; i < std::size(common_fields) && !strip; ++i)
        strip = (info->undeclared >> i & 1u) && o.contains(common_fields[i]);
    if (strip) {
        boost::json::object own = o;
        for (std::size_t i = 0; i < std::size(common_fields); ++i)
            if (info->undeclared >> i & 1u)
                own.erase(common_fields[i]);
        if (auto e = info->validator.validate(boost::json::value(std::move(own))))
            return fail_at_pointer(ctx, e->path, std::move(e->message));
    }
    else if (auto e = info->validator.validate(jv)) {
        return fail_at_pointer(ctx, e->path, std::move(e->message));
    }

    // The user's schema decided its own fields; the common ones also follow
    // the built-in rules, because they name rooms, scopes and the event log.
    static constexpr char const* identifier_pattern = "^[A-Za-z0-9._:@-]+$(?!\\n)";
    string_rules const identifier{1, 200, false, &user_event_identifier, identifier_pattern};
    string_rules const event_id{1, 200, false, nullptr, nullptr};
    string_rules const timestamp{0, std::numeric_limits<std::size_t>::max(), true, nullptr, nullptr};
    out.type.assign(tag);
    out.effect = info->effect;
    // Its own storage: `jv` may live in a parse's stack buffer.
    out.fields = boost::json::object{};
    bool have_job = false;
    bool have_queue = false;
    for (auto const& kv : o) {
        std::string_view const key(kv.key().data(), kv.key().size());
        auto read = [&](std::string& dst, string_rules const& r) {
            if (!read_string(ctx, kv.value(), dst, r))
                return ctx.at(key);
            return true;
        };
        bool ok = true;
        if (key == "type")
            continue;
        else if (key == "job_id")
            ok = read(out.job_id, identifier), have_job = true;
        else if (key == "queue")
            ok = read(out.queue, identifier), have_queue = true;
        else if (key == "run_id")
            ok = read(out.run_id.emplace(), identifier);
        else if (key == "tenant_id")
            ok = read(out.tenant_id.emplace(), identifier);
        else if (key == "user_id")
            ok = read(out.user_id.emplace(), identifier);
        else if (key == "job_type")
            ok = read(out.job_type.emplace(), identifier);
        else if (key == "id")
            ok = read(out.id.emplace(), event_id);
        else if (key == "time")
            ok = read(out.time.emplace(), timestamp);
        else
            out.fields.emplace(kv.key(), kv.value());
        if (!ok)
            return false;
    }
    // Registration requires both; kept as a check because the event log and the rooms rely on them.
    if (!have_job)
        return ctx.fail("missing required property \"job_id\"");
    if (!have_queue)
        return ctx.fail("missing required property \"queue\"");
    return true;
}

}  // namespace detail

/// Writes `v` as JSON: `type`, the common fields, then its own fields in order.
inline void jobwatch_write(detail::json_writer& w, user_event const& v)
{
    w.raw("{\"type\":");
    w.string(v.type);
    w.raw(",\"job_id\":");
    w.string(v.job_id);
    w.raw(",\"queue\":");
    w.string(v.queue);
    auto opt = [&w](std::string_view key, std::optional<std::string> const& f) {
        if (!f)
            return;
        w.raw(',');
        w.string(key);
        w.raw(':');
        w.string(*f);
    };
    opt("run_id", v.run_id);
    opt("tenant_id", v.tenant_id);
    opt("user_id", v.user_id);
    opt("job_type", v.job_type);
    opt("id", v.id);
    opt("time", v.time);
    for (auto const& kv : v.fields) {
        w.raw(',');
        w.string(std::string_view(kv.key().data(), kv.key().size()));
        w.raw(':');
        w.any(kv.value());
    }
    w.raw('}');
}

/// `v` as a Boost.JSON value.
inline boost::json::value jobwatch_to_value(user_event const& v, boost::json::storage_ptr sp)
{
    boost::json::object o(sp);
    o.emplace("type", v.type);
    o.emplace("job_id", v.job_id);
    o.emplace("queue", v.queue);
    auto opt = [&o](std::string_view key, std::optional<std::string> const& f) {
        if (f)
            o.emplace(key, *f);
    };
    opt("run_id", v.run_id);
    opt("tenant_id", v.tenant_id);
    opt("user_id", v.user_id);
    opt("job_type", v.job_type);
    opt("id", v.id);
    opt("time", v.time);
    for (auto const& kv : v.fields)
        o.emplace(kv.key(), kv.value());
    return o;
}

inline std::optional<std::string> event_types::add(boost::json::value const& doc, std::string_view source)
{
    auto fail = [&](std::string const& pointer, std::string const& message) -> std::optional<std::string> {
        return std::string(source) + ": " + (pointer.empty() ? std::string("(root)") : pointer) + ": " + message;
    };
    auto const* root = doc.if_object();
    if (!root)
        return fail("", "a schema document must be an object");

    // The event definitions: the root's oneOf/anyOf of $refs to $defs, or the root itself.
    struct found
    {
        std::string pointer;
        boost::json::object const* def;
        std::string ref;  // "#/$defs/x", or "" for the root
    };
    std::vector<found> defs;
    boost::json::array const* branches = nullptr;
    char const* keyword = nullptr;
    for (char const* k : {"oneOf", "anyOf"})
        if (auto const* b = root->if_contains(k)) {
            branches = b->if_array();
            keyword = k;
            if (!branches)
                return fail(std::string("/") + k, "must be an array");
        }
    if (branches) {
        auto const* all = root->if_contains("$defs");
        for (std::size_t i = 0; i < branches->size(); ++i) {
            auto const here = std::string("/") + keyword + "/" + std::to_string(i);
            auto const* b = (*branches)[i].if_object();
            auto const* ref = b ? b->if_contains("$ref") : nullptr;
            std::string_view const r = ref && ref->is_string() ? std::string_view(ref->get_string()) : "";
            if (!r.starts_with("#/$defs/") || !all || !all->is_object())
                return fail(here, "each branch of an event document must be a $ref to #/$defs/<name>");
            auto const name = std::string(r.substr(8));
            auto const* def = all->get_object().if_contains(name);
            if (!def || !def->is_object())
                return fail(here + "/$ref", "does not resolve to an object schema in $defs");
            defs.push_back({"/$defs/" + name, &def->get_object(), std::string(r)});
        }
    }
    else {
        defs.push_back({"", root, ""});
    }

    std::vector<std::shared_ptr<event_type_info const>> made;
    for (auto const& d : defs) {
        auto const* props = d.def->if_contains("properties");
        auto const* type = props && props->is_object() ? props->get_object().if_contains("type") : nullptr;
        auto const* c = type && type->is_object() ? type->get_object().if_contains("const") : nullptr;
        if (!c || !c->is_string())
            return fail(d.pointer, "an event type needs a property \"type\" with a const string (its name)");
        std::string const name(c->get_string());
        if (!detail::user_event_type_name(name))
            return fail(d.pointer + "/properties/type/const",
                        "an event type name is 1 to 200 of A-Z a-z 0-9 . _ : @ - /");
        if (name.starts_with("job."))
            return fail(d.pointer + "/properties/type/const",
                        "event type names starting with \"job.\" are jobwatch's own");
        auto const* req = d.def->if_contains("required");
        auto requires_ = [&](std::string_view key) {
            if (!req || !req->is_array())
                return false;
            for (auto const& x : req->get_array())
                if (x.is_string() && x.get_string() == key)
                    return true;
            return false;
        };
        for (char const* key : {"type", "job_id", "queue"})
            if (!requires_(key) || !props->get_object().contains(key))
                return fail(d.pointer, std::string("an event type must declare and require \"") + key +
                                           "\" (an event is about a job, in a queue)");
        user_effect effect = user_effect::none;
        if (auto const* e = d.def->if_contains("x-jobwatch-effect")) {
            std::string_view const v = e->is_string() ? std::string_view(e->get_string()) : "";
            if (v == "progress")
                effect = user_effect::progress;
            else if (v == "log")
                effect = user_effect::log;
            else if (v != "none")
                return fail(d.pointer + "/x-jobwatch-effect", "must be one of \"none\", \"progress\", \"log\"");
        }
        // Validate against the whole document with its root pointing at this
        // definition, so that $refs between definitions resolve.
        boost::json::value one = *root;
        auto& o = one.get_object();
        o.erase("oneOf");
        o.erase("anyOf");
        if (!d.ref.empty())
            o["$ref"] = d.ref;
        auto v = schema::compile(one);
        if (!v)
            return fail(v.error().path, v.error().message);
        std::uint8_t undeclared = 0;
        for (std::size_t i = 0; i < std::size(common_fields); ++i)
            if (!props->get_object().contains(common_fields[i]))
                undeclared |= static_cast<std::uint8_t>(1u << i);
        auto info = std::make_shared<event_type_info>(event_type_info{
            .type = name,
            .effect = effect,
            .source = std::string(source),
            .definition = boost::json::serialize(*d.def),
            .validator = std::move(*v),
            .undeclared = undeclared,
        });
        for (auto const& m : made)
            if (m->type == name)
                return fail(d.pointer, "event type \"" + name + "\" is declared twice");
        made.push_back(std::move(info));
    }

    auto& s = state();
    std::unique_lock lock(s.mutex);
    for (auto const& m : made) {
        auto it = s.types.find(m->type);
        if (it != s.types.end() && it->second->definition != m->definition)
            return std::string(source) + ": event type \"" + m->type + "\" is already registered (from " +
                   it->second->source + ") with another definition";
    }
    for (auto const& m : made)
        s.types.emplace(m->type, m);  // a repeat keeps the first registration
    return std::nullopt;
}

}  // namespace jobwatch

#endif
