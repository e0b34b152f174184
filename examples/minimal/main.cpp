// A complete monitor: settings from file, environment and flags; metrics,
// dead-letter alerts and queue health, served over WebSocket, SSE, long-poll
// and REST; runs until SIGINT/SIGTERM.
// [snippet:minimal-main]
#include <jobwatch/jobwatch.hpp>

int main(int argc, char** argv)
{
    jobwatch::app app{jobwatch::load_config(argc, argv)};
    app.add<jobwatch::aggregator>({.interval = std::chrono::seconds{1}});
    app.add<jobwatch::dlq_monitor>({.threshold = 10, .window = std::chrono::minutes{5}});
    app.add<jobwatch::health>();
    app.add<jobwatch::gateway>({.port = 8080});
    return app.run();
}
// [end:minimal-main]
