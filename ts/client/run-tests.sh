#!/usr/bin/env bash
# The @jobwatch/client checks, run by CTest (client): build, the node:test
# suites against the demo server, then a consumer project that installs the
# packed tarball and type-checks and runs against the demo.
# Usage: ts/client/run-tests.sh DEMO_BINARY SCRATCH_DIR
set -euo pipefail
if [[ $# -ne 2 ]]; then echo "usage: $0 DEMO_BINARY SCRATCH_DIR" >&2; exit 2; fi
here=$(cd "$(dirname "$0")" && pwd)
demo=$1
mkdir -p "$2"
scratch=$(cd "$2" && pwd)
export JOBWATCH_DEMO=$demo npm_config_loglevel=error

bash "$here/build.sh"
node --test --test-timeout=300000 "$here"/tests/*.test.mjs

# Consumer: a fresh project installs the tarball (no dependencies, so offline).
rm -rf "$scratch/consumer" && mkdir -p "$scratch/consumer"
tarball=$(cd "$here" && npm pack --silent --pack-destination "$scratch/consumer")
cd "$scratch/consumer"
echo '{"name":"consumer","private":true,"type":"module"}' >package.json
npm install --no-audit --no-fund --offline "./$tarball" >/dev/null
cp "$here/tests/consumer/consumer.ts" .
cat >tsconfig.json <<JSON
{ "compilerOptions": { "strict": true, "target": "ES2022", "module": "NodeNext", "moduleResolution": "NodeNext",
  "lib": ["ES2022", "DOM"], "types": ["node"], "typeRoots": ["$here/node_modules/@types"], "skipLibCheck": false, "outDir": "out" },
  "files": ["consumer.ts"] }
JSON
"$here/node_modules/.bin/tsc" -p tsconfig.json
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
"$demo" --gateway.port="$port" --gateway.host=127.0.0.1 --storage.mode=memory >demo.log 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.1; done
timeout 60 node out/consumer.js "http://127.0.0.1:$port"
