// The demo server: every component, and a simulated workload so there is
// live data at once. Settings come from file, environment and flags
// (`--help`); `JOBWATCH_DEMO_WORKLOAD=off` starts it without the workload.
#include "workload.hpp"

#include <jobwatch/jobwatch.hpp>

#include <cstdlib>
#include <iostream>
#include <string>

namespace {

// How to try the server in the auth mode it runs in: a token minted with python3 (Debian: python3-jwt).
std::string auth_hint(jobwatch::auth_config const& auth)
{
    if (auth.mode == jobwatch::auth_mode::open)
        return {};
    if (auth.mode == jobwatch::auth_mode::static_tokens)
        return "  auth: static tokens. Add -H \"Authorization: Bearer $TOKEN\" to curl, ?token=$TOKEN to /ws.\n\n";
    auto const& j = auth.jwt;
    std::string const key = !j.secret_file.empty() ? "open('" + j.secret_file + "').read().rstrip('\\r\\n')"
                                                   : "open('YOUR-PRIVATE-KEY.pem').read()";
    std::string const alg = !j.secret_file.empty() ? "HS256" : "RS256";
    std::string claims = "'sub': 'me', 'scope': 'read publish admin', 'exp': int(time.time()) + 3600";
    if (!j.issuer.empty())
        claims += ", 'iss': '" + j.issuer + "'";
    if (!j.audience.empty())
        claims += ", 'aud': '" + j.audience + "'";
    return "  auth: JWT. Mint a token valid for an hour (add '" + j.tenant_claim +
           "': 'acme' to confine it to a tenant):\n"
           "    TOKEN=$(python3 -c \"import jwt, time; print(jwt.encode({" +
           claims + "}, " + key + ", algorithm='" + alg +
           "'))\")\n"
           "  then add -H \"Authorization: Bearer $TOKEN\" to curl, ?token=$TOKEN to /ws and the SSE stream.\n\n";
}

// Where the history is kept, and how to keep none.
std::string history_hint(jobwatch::storage_config const& s)
{
    if (s.mode != jobwatch::storage_mode::sqlite)
        return "  history: in memory only (storage.mode memory): a restart forgets it.\n\n";
    return "  history: " + s.path + " (durability " + std::string(jobwatch::to_string(s.durability)) +
           "), kept across restarts; --storage.mode=memory keeps nothing.\n\n";
}

// How to watch webhook notifications: the bundled receiver, or what is configured.
std::string notifier_hint(jobwatch::notifier_config const& n, std::string const& url)
{
    if (n.targets.empty())
        return "  webhooks:            python3 scripts/webhook-receiver.py --port 9000 --secret S, then start the demo with\n"
               "                       --notifier.targets='{\"ops\":{\"url\":\"http://127.0.0.1:9000/hook\",\"secret\":\"S\"}}'\n"
               "                       (the failure burst's dead-letter alert, and each failed job, are delivered)\n\n";
    return "  webhooks:            " + std::to_string(n.targets.size()) +
           " target(s); deliveries, breaker and queues: curl " + url + "/api/v1/notifications\n\n";
}

}  // namespace

int main(int argc, char** argv)
try {
    // The demo keeps its history across restarts (the framework's default is memory).
    // [snippet:demo-preset]
    jobwatch::app app{
        jobwatch::load_config(argc, argv, {{"storage", {{"mode", "sqlite"}}}, {"gateway", {{"dashboard", true}}}})};
    // [end:demo-preset]
    app.add<jobwatch::aggregator>();
    // A short window, so the demo's failure bursts raise an alert and resolve within minutes.
    app.add<jobwatch::dlq_monitor>({.threshold = 10, .window = std::chrono::seconds{60}});
    app.add<jobwatch::health>();
    auto& gw = app.add<jobwatch::gateway>();
    // BullMQ queues to follow, when named (--bullmq.queues=emails,images).
    auto const& bull = app.get_core().settings().bullmq;
    if (!bull.queues.empty())
        app.add<jobwatch::bullmq_source>();
    // The Redis pub/sub bridge, when asked for (--redis.publish=true, --redis.ingest_channels=...).
    auto const& bridge = app.get_core().settings().redis;
    if (bridge.publish)
        app.add<jobwatch::redis_publisher>();
    if (!bridge.ingest_channels.empty())
        app.add<jobwatch::redis_subscriber>();
    // Webhook notifications, when a target is named (--notifier.targets='{"ops":{"url":...}}').
    auto const& notify = app.get_core().settings().notifier;
    if (!notify.targets.empty())
        app.add<jobwatch::notifier>();
    char const* workload = std::getenv("JOBWATCH_DEMO_WORKLOAD");
    bool const simulate = !workload || std::string(workload) != "off";
    if (simulate)
        app.add<demo::workload>();

    auto const& tls = app.get_core().settings().gateway.tls;
    bool const https = !tls.cert_file.empty();
    auto const url = (https ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(gw.port());
    // The first line is machine-readable (the load harness waits for it).
    std::cout << "listening " << gw.port() << "\n"
              << "jobwatch demo on " << url << (simulate ? " with a simulated workload" : "") << "\n\n"
              << (https ? "  TLS: add --cacert " + tls.cert_file +
                              " to curl when the certificate is self-signed (-k skips the check).\n\n"
                        : std::string())
              << (app.get_core().settings().gateway.dashboard && jobwatch::gw::dashboard_built()
                      ? "  dashboard:           " + url + "/\n"
                      : std::string())
              << "  live events (SSE):   curl -N '" << url << "/api/v1/stream?room=queue:payments&room=alerts'\n"
              << "  failed jobs (REST):  curl '" << url << "/api/v1/jobs?status=failed&limit=5'\n"
              << "  queue health:        curl '" << url << "/api/v1/health/queues'\n"
              << "  Prometheus metrics:  curl '" << url << "/metrics'\n"
              << "  WebSocket:           " << (https ? "wss" : "ws") << "://127.0.0.1:" << gw.port()
              << "/ws  then send {\"type\":\"subscribe\",\"room\":\"tenant:acme\"}\n"
              << "  publish an event:    curl -X POST -H 'Content-Type: application/json' \\\n"
              << "                         -d '{\"type\":\"job.queued\",\"job_id\":\"mine-1\",\"queue\":\"emails\"}' "
              << url << "/api/v1/events\n\n"
              << (bull.queues.empty() ? std::string()
                                      : "  BullMQ queues:       " + std::to_string(bull.queues.size()) +
                                            " followed (jobs are <queue>:<id>); curl " + url +
                                            "/api/v1/monitor/bullmq\n\n")
              << notifier_hint(notify, url) << history_hint(app.get_core().settings().storage) << auth_hint(app.get_core().settings().auth)
              << "Ctrl-C stops it." << std::endl;
    return app.run();
} catch (jobwatch::settings_error const& e) {
    // Keys or tokens that cannot be used (a missing key file, a malformed hash): say which, and stop.
    std::cerr << e.what() << "\n";
    return 2;
} catch (jobwatch::storage::storage_error const& e) {
    // The history file cannot be used (corrupt, locked, newer, unwritable): one line naming it.
    std::cerr << "jobwatch: storage: " << e.what() << "\n";
    return 1;
}
