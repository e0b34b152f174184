#!/usr/bin/env bash
# Sets up, builds and runs the demo server: every component, a simulated
# workload, embedded defaults (nothing else to start). It prints its URL and
# commands to watch it. Extra arguments are settings (`--help` lists them),
# e.g. scripts/demo.sh --gateway.port=9000
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target jobwatch_demo
exec build/release/examples/jobwatch_demo "$@"
