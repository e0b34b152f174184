#!/usr/bin/env bash
# Sets up, builds and runs every test: C++ (dev preset, warnings as errors),
# the generator's Python tests, TypeScript under tsc --strict, the package
# consumer tests, then the whole C++ suite again under ASan/UBSan with the
# libFuzzer target (asan preset). Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh

presets=${JOBWATCH_TEST_PRESETS:-dev asan}
for preset in $presets; do
    echo "=== $preset: configure, build, test"
    cmake --preset "$preset"
    cmake --build --preset "$preset"
    ctest --preset "$preset"
done
