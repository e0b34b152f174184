#!/usr/bin/env bash
# Sets up, builds and runs a cluster on this machine: one redis-server
# (appendonly, in a temporary folder) and three demo servers on three ports
# (cluster.mode redis), the first with the simulated workload. Prints how to
# watch them; Ctrl-C stops all four. Extra arguments are settings for the
# three instances, e.g. scripts/demo-cluster.sh --cluster.stream_max_len=100000
#
# Ports: JOBWATCH_CLUSTER_PORTS (default "8081 8082 8083") and
# JOBWATCH_REDIS_PORT (default 6390).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target jobwatch_demo

read -r -a ports <<<"${JOBWATCH_CLUSTER_PORTS:-8081 8082 8083}"
redis_port=${JOBWATCH_REDIS_PORT:-6390}
work=$(mktemp -d "${TMPDIR:-/tmp}/jobwatch-cluster.XXXXXX")
pids=()
stop() {
    trap - EXIT INT TERM
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap stop EXIT INT TERM

redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly yes --dir "$work" \
    --logfile "$work/redis.log" &
pids+=($!)
for _ in $(seq 100); do
    redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
    sleep 0.1
done
redis-cli -p "$redis_port" ping >/dev/null || { echo "redis-server did not start (see $work/redis.log)" >&2; exit 1; }

for i in 0 1 2; do
    name=$(printf "instance-%s" "$((i + 1))")
    workload=off
    [ "$i" = 0 ] && workload=on
    JOBWATCH_DEMO_WORKLOAD=$workload build/release/examples/jobwatch_demo \
        --gateway.port="${ports[$i]}" --storage.path="$work/$name.db" \
        --cluster.mode=redis --cluster.redis_url="redis://127.0.0.1:$redis_port/0" \
        --cluster.instance_id="$name" "$@" >"$work/$name.log" 2>&1 &
    pids+=($!)
done
for port in "${ports[@]}"; do
    for _ in $(seq 300); do
        curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
        sleep 0.1
    done
done

cat <<EOF
jobwatch cluster: Redis on 127.0.0.1:$redis_port, instances on ports ${ports[*]}
(the first runs the simulated workload; every instance shows every event, with the same numbers).

  the cluster:         curl http://127.0.0.1:${ports[0]}/api/v1/monitor/cluster
  one instance:        curl http://127.0.0.1:${ports[1]}/api/v1/health
  live, on another:    curl -N 'http://127.0.0.1:${ports[2]}/api/v1/stream?room=queue:payments&room=alerts'
  publish on any:      curl -X POST -H 'Content-Type: application/json' \\
                         -d '{"type":"job.queued","job_id":"mine-1","queue":"emails"}' http://127.0.0.1:${ports[1]}/api/v1/events
  the stream:          redis-cli -p $redis_port xlen jobwatch:events

Logs: $work/*.log. Ctrl-C stops Redis and the three instances.
EOF
wait -n "${pids[@]}" || true
echo "a process of the cluster stopped; stopping the rest" >&2
