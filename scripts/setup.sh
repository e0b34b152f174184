#!/usr/bin/env bash
# Installs what jobwatch needs to build and test on Debian 12, then the npm
# packages of ts/. Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
    cmake ninja-build ccache g++ clang libclang-rt-14-dev
    libboost1.81-dev libboost-json1.81-dev
    python3 python3-jinja2 python3-jsonschema
    libgtest-dev libgmock-dev libbenchmark-dev
    # Tokens: OpenSSL 3 for signatures; the tests make keys with openssl and
    # mint tokens with PyJWT.
    libssl-dev openssl python3-jwt python3-cryptography
    pkgconf libhiredis-dev
    # Durable history (storage.mode sqlite).
    libsqlite3-dev
    # The Redis tests and benchmark start their own redis-server on a free port;
    # a system service the package may start on 6379 is never used.
    # redis-tools (redis-cli) and curl for scripts/demo-cluster.sh.
    redis-server redis-tools curl
    # The dashboard's browser test drives headless Chromium (playwright-core).
    chromium
    # promtool (in the prometheus package) checks the live /metrics in the tests.
    prometheus
)
# Node.js may come from elsewhere than Debian; only ask apt for it when absent.
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# npm ci only when a lock file changed since the last install: the TypeScript
# package (ts/), the Node WebSocket client of the end-to-end tests, and the
# client package's build and test tools (ts/client/: esbuild, tsc, ws), and the BullMQ
# producer and workers of scripts/demo-bullmq.sh (examples/bullmq/), and the
# dashboard's bundler and browser driver (dashboard/: esbuild, playwright-core).
for dir in ts tests/node ts/client examples/bullmq dashboard; do
    stamp=$dir/node_modules/.jobwatch-lock.sha256
    want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        echo "setup: npm ci in $dir/"
        npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
        echo "$want" >"$stamp"
    fi
done
