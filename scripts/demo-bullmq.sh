#!/usr/bin/env bash
# Sets up, builds and runs jobwatch watching a real BullMQ deployment on this
# machine: a redis-server (in a temporary folder), a small BullMQ producer and
# workers in Node (examples/bullmq/worker.mjs: queues "emails" and "images"),
# and the demo server following both queues (bullmq.queues) and publishing
# every status change on Redis pub/sub (redis.publish). Prints what to open;
# Ctrl-C stops all three. Extra arguments are settings for jobwatch, e.g.
# scripts/demo-bullmq.sh --bullmq.log_poll_ms=250
#
# Ports: JOBWATCH_PORT (default 8080) and JOBWATCH_REDIS_PORT (default 6391).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target jobwatch_demo

port=${JOBWATCH_PORT:-8080}
redis_port=${JOBWATCH_REDIS_PORT:-6391}
work=$(mktemp -d "${TMPDIR:-/tmp}/jobwatch-bullmq.XXXXXX")
pids=()
stop() {
    trap - EXIT INT TERM
    # Newest first: jobwatch and the workers close while Redis is still there.
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        kill "${pids[$i]}" 2>/dev/null || true
        [ "$i" -gt 0 ] && timeout 15 tail --pid="${pids[$i]}" -f /dev/null 2>/dev/null || true
    done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap stop EXIT INT TERM

redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" \
    --logfile "$work/redis.log" &
pids+=($!)
for _ in $(seq 100); do
    redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
    sleep 0.1
done
redis-cli -p "$redis_port" ping >/dev/null || { echo "redis-server did not start (see $work/redis.log)" >&2; exit 1; }

node examples/bullmq/worker.mjs "$redis_port" >"$work/bullmq.log" 2>&1 &
pids+=($!)

redis_url="redis://127.0.0.1:$redis_port/0"
JOBWATCH_DEMO_WORKLOAD=off build/release/examples/jobwatch_demo \
    --gateway.port="$port" --storage.mode=memory \
    --bullmq.redis_url="$redis_url" --bullmq.queues=emails,images --bullmq.user_field=userId \
    --redis.url="$redis_url" --redis.publish=true "$@" >"$work/jobwatch.log" 2>&1 &
pids+=($!)
for _ in $(seq 300); do
    curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
    sleep 0.1
done

cat <<EOF
jobwatch on http://127.0.0.1:$port watching BullMQ queues emails and images (Redis 127.0.0.1:$redis_port);
a Node producer adds jobs, workers process them (some fail, retry, or fail for good).

  live, from BullMQ:   curl -N 'http://127.0.0.1:$port/api/v1/stream?room=queue:emails&room=queue:images'
  one job:             curl http://127.0.0.1:$port/api/v1/jobs/emails:1
  queue health:        curl http://127.0.0.1:$port/api/v1/health/queues
  the adapter:         curl http://127.0.0.1:$port/api/v1/monitor/bullmq
  status on pub/sub:   redis-cli -p $redis_port subscribe job-status:global
  one user's jobs:     redis-cli -p $redis_port subscribe job-status:user:user-3

Logs: $work/*.log. Ctrl-C stops Redis, the workers and jobwatch.
EOF
wait -n "${pids[@]}" || true
echo "a process stopped; stopping the rest" >&2
