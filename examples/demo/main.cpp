// The demo server: every component, and a simulated workload so there is
// live data at once. Settings come from file, environment and flags
// (`--help`); `JOBWATCH_DEMO_WORKLOAD=off` starts it without the workload.
#include "workload.hpp"

#include <jobwatch/jobwatch.hpp>

#include <cstdlib>
#include <iostream>
#include <string>

int main(int argc, char** argv)
{
    jobwatch::app app{jobwatch::load_config(argc, argv)};
    app.add<jobwatch::aggregator>();
    // A short window, so the demo's failure bursts raise an alert and resolve within minutes.
    app.add<jobwatch::dlq_monitor>({.threshold = 10, .window = std::chrono::seconds{60}});
    app.add<jobwatch::health>();
    auto& gw = app.add<jobwatch::gateway>();
    char const* workload = std::getenv("JOBWATCH_DEMO_WORKLOAD");
    bool const simulate = !workload || std::string(workload) != "off";
    if (simulate)
        app.add<demo::workload>();

    auto const url = "http://127.0.0.1:" + std::to_string(gw.port());
    // The first line is machine-readable (the load harness waits for it).
    std::cout << "listening " << gw.port() << "\n"
              << "jobwatch demo on " << url << (simulate ? " with a simulated workload" : "") << "\n\n"
              << "  live events (SSE):   curl -N '" << url << "/api/v1/stream?room=queue:payments&room=alerts'\n"
              << "  failed jobs (REST):  curl '" << url << "/api/v1/jobs?status=failed&limit=5'\n"
              << "  queue health:        curl '" << url << "/api/v1/health/queues'\n"
              << "  WebSocket:           ws://127.0.0.1:" << gw.port()
              << "/ws  then send {\"type\":\"subscribe\",\"room\":\"tenant:acme\"}\n"
              << "  publish an event:    curl -X POST -H 'Content-Type: application/json' \\\n"
              << "                         -d '{\"type\":\"job.queued\",\"job_id\":\"mine-1\",\"queue\":\"emails\"}' "
              << url << "/api/v1/events\n\n"
              << "Ctrl-C stops it." << std::endl;
    return app.run();
}
