#ifndef JOBWATCH_NOTIFY_PAYLOAD_HPP
#define JOBWATCH_NOTIFY_PAYLOAD_HPP

/** @file
    What a webhook receives: the body of a notice in a target's preset
    (generic, slack, custom), and the signature headers over it.
*/

#include <jobwatch/codec.hpp>
#include <jobwatch/detail/openssl.hpp>
#include <jobwatch/messages/config.hpp>
#include <jobwatch/notify/notice.hpp>

#include <boost/json.hpp>

#include <openssl/evp.h>

#include <cstdint>
#include <stdexcept>
#include <optional>
#include <string>
#include <string_view>

namespace jobwatch::notify {

/// A body and its media type.
struct payload
{
    std::string body;
    std::string content_type;
};

/// One human-readable line about `n`.
inline std::string summary_of(notice const& n)
{
    if (n.alert_msg) {
        auto const& a = *n.alert_msg;
        return "[" + std::string(to_string(a.severity)) + "] " +
               (a.status == alert_status::resolved ? "resolved: " : "") + a.title;
    }
    std::string s = n.type;
    if (n.event) {
        s += ": job " + job_id_of(n.event->event) + " of queue " + n.queue;
        if (!n.tenant_id.empty())
            s += " (tenant " + n.tenant_id + ")";
        if (n.state)
            s += " is " + std::string(to_string(*n.state));
        if (auto const* f = std::get_if<job_failed>(&n.event->event)) {
            if (!f->error.empty())
                s += ": " + f->error;
            if (f->will_retry)
                s += " (attempt " + std::to_string(f->attempt) + ", will retry)";
        }
    }
    return s;
}

/// The value of template field `name` for `n` (empty when it has none).
inline std::string field_of(notice const& n, std::string_view name, std::string_view target)
{
    auto opt = [](std::optional<std::string> const& o) { return o.value_or(""); };
    if (name == "type") return n.type;
    if (name == "id") return n.key;
    if (name == "time") return n.time;
    if (name == "queue") return n.queue;
    if (name == "tenant_id") return n.tenant_id;
    if (name == "target") return std::string(target);
    if (name == "summary") return summary_of(n);
    if (name == "state") return n.state ? std::string(to_string(*n.state)) : std::string();
    if (n.event) {
        auto const& ev = n.event->event;
        if (name == "job_id") return job_id_of(ev);
        if (name == "run_id") return opt(run_id_of(ev));
        if (name == "user_id") return opt(user_id_of(ev));
        if (name == "seq") return std::to_string(n.event->seq);
        if (auto const* f = std::get_if<job_failed>(&ev)) {
            if (name == "error") return f->error;
            if (name == "attempt") return std::to_string(f->attempt);
        }
    }
    if (n.alert_msg) {
        auto const& a = *n.alert_msg;
        if (name == "alert_kind") return std::string(to_string(a.kind));
        if (name == "severity") return std::string(to_string(a.severity));
        if (name == "status") return std::string(to_string(a.status));
        if (name == "title") return a.title;
        if (name == "message") return a.message;
        if (name == "job_id") return opt(a.context.job_id);
        if (name == "run_id") return opt(a.context.run_id);
        if (name == "error") return opt(a.context.error);
    }
    return {};
}

/** @brief `tmpl` with every `{name}` of a known field replaced; unknown
    `{...}` stay as written. With `json`, values are escaped to sit inside a
    JSON string. */
inline std::string fill_template(std::string_view tmpl, notice const& n, std::string_view target, bool json)
{
    std::string out;
    out.reserve(tmpl.size() + 64);
    for (std::size_t i = 0; i < tmpl.size();) {
        auto const close = tmpl[i] == '{' ? tmpl.find('}', i) : std::string_view::npos;
        auto const name = close == std::string_view::npos ? std::string_view{} : tmpl.substr(i + 1, close - i - 1);
        bool const field = !name.empty() && name.size() <= 32 &&
                           name.find_first_not_of("abcdefghijklmnopqrstuvwxyz_") == std::string_view::npos;
        if (!field) {
            out += tmpl[i++];
            continue;
        }
        auto v = field_of(n, name, target);
        if (json) {
            auto quoted = boost::json::serialize(boost::json::value(boost::json::string_view(v)));
            out.append(quoted, 1, quoted.size() - 2);
        } else {
            out += v;
        }
        i = close + 1;
    }
    return out;
}

/** @brief The generic body (schemas/notification.schema.json). */
inline std::string generic_body(notice const& n, std::string_view target, std::string_view rule)
{
    boost::json::object o;
    o["version"] = 1;
    o["id"] = n.key;
    o["type"] = n.type;
    o["time"] = n.time;
    o["target"] = std::string(target);
    if (!rule.empty())
        o["rule"] = std::string(rule);
    o["summary"] = summary_of(n);
    if (n.event) {
        auto const& ev = n.event->event;
        boost::json::object job;
        job["job_id"] = job_id_of(ev);
        job["queue"] = queue_of(ev);
        if (auto const& t = tenant_id_of(ev))
            job["tenant_id"] = *t;
        if (auto const& r = run_id_of(ev))
            job["run_id"] = *r;
        if (auto const& u = user_id_of(ev))
            job["user_id"] = *u;
        if (n.state)
            job["state"] = std::string(to_string(*n.state));
        job["seq"] = n.event->seq;
        o["job"] = std::move(job);
        o["event"] = boost::json::parse(n.event->json());
    }
    if (n.alert_msg)
        o["alert"] = boost::json::parse(to_json(*n.alert_msg));
    return boost::json::serialize(o);
}

/** @brief A Slack incoming-webhook body: `text` (the fallback and
    notification line) and `blocks` (a section with the details). */
inline std::string slack_body(notice const& n)
{
    std::string detail;
    if (n.alert_msg)
        detail = "*" + summary_of(n) + "*\n" + n.alert_msg->message;
    else
        detail = "*" + summary_of(n) + "*";
    boost::json::object section{{"type", "section"}, {"text", {{"type", "mrkdwn"}, {"text", detail}}}};
    boost::json::object context{
        {"type", "context"},
        {"elements", boost::json::array{boost::json::object{{"type", "mrkdwn"}, {"text", "jobwatch · " + n.type + " · " + n.time}}}}};
    boost::json::object o{{"text", summary_of(n)}, {"blocks", boost::json::array{section, context}}};
    return boost::json::serialize(o);
}

/// The body of `n` for target `name`, in its preset.
inline payload render(notifier_target const& t, std::string_view name, notice const& n, std::string_view rule)
{
    payload p;
    switch (t.preset) {
    case notifier_preset::generic:
        p.body = generic_body(n, name, rule);
        p.content_type = "application/json";
        break;
    case notifier_preset::slack:
        p.body = slack_body(n);
        p.content_type = "application/json";
        break;
    case notifier_preset::custom: {
        auto const ct = t.content_type.empty() ? std::string("text/plain; charset=utf-8") : t.content_type;
        p.body = fill_template(t.body_template, n, name, ct.find("json") != std::string::npos);
        p.content_type = ct;
        break;
    }
    }
    if (!t.content_type.empty())
        p.content_type = t.content_type;
    return p;
}

/** @brief `sha256=` and the hex HMAC-SHA256 of `timestamp + "." + body`
    with `secret`: the value of `X-Jobwatch-Signature`. A receiver
    recomputes it and refuses a timestamp too far from its clock (replay). */
inline std::string signature(std::string_view secret, std::string_view timestamp, std::string_view body)
{
    std::string msg;
    msg.reserve(timestamp.size() + 1 + body.size());
    msg.append(timestamp).append(".").append(body);
    unsigned char mac[EVP_MAX_MD_SIZE];
    std::size_t len = 0;
    if (!EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, secret.data(), secret.size(),
                   reinterpret_cast<unsigned char const*>(msg.data()), msg.size(), mac, sizeof mac, &len))
        throw std::runtime_error("HMAC-SHA256: " + ::jobwatch::detail::take_openssl_error());
    static constexpr char hex[] = "0123456789abcdef";
    std::string out = "sha256=";
    for (std::size_t i = 0; i < len; ++i) {
        out += hex[mac[i] >> 4];
        out += hex[mac[i] & 15];
    }
    return out;
}

}  // namespace jobwatch::notify

#endif
