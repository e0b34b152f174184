#ifndef JOBWATCH_JOBWATCH_HPP
#define JOBWATCH_JOBWATCH_HPP

/// The umbrella header: everything a monitor's `main()` needs.

#include <jobwatch/app.hpp>
#include <jobwatch/components/aggregator.hpp>
#include <jobwatch/components/dlq_monitor.hpp>
#include <jobwatch/components/gateway.hpp>
#include <jobwatch/components/bullmq_source.hpp>
#include <jobwatch/components/health.hpp>
#include <jobwatch/components/notifier.hpp>
#include <jobwatch/components/redis_bridge.hpp>
#include <jobwatch/runtime/scheduler.hpp>
#include <jobwatch/config.hpp>
#include <jobwatch/core.hpp>

#endif
