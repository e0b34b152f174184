// A complete monitor: settings from file, environment and flags; metrics,
// dead-letter alerts and queue health; runs until SIGINT/SIGTERM.
// [snippet:minimal-main]
#include <jobwatch/jobwatch.hpp>

int main(int argc, char** argv)
{
    jobwatch::app app{jobwatch::load_config(argc, argv)};
    app.add<jobwatch::aggregator>({.interval = std::chrono::seconds{1}});
    app.add<jobwatch::dlq_monitor>({.threshold = 10, .window = std::chrono::minutes{5}});
    app.add<jobwatch::health>();
    return app.run();
}
// [end:minimal-main]
