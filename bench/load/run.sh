#!/usr/bin/env bash
# Fan-out load benchmark: jobwatch against two hand-written Node.js servers
# (bench/baselines: ws, Socket.IO), driven by jobwatch_load (bench/load).
#
#   bench/load/run.sh
#
# Builds jobwatch_load (release preset), installs the baselines' node_modules
# (npm ci) when missing, then for every server and scenario starts a fresh
# server, runs the client against it, stops the server, and prints a markdown
# table (medians over RUNS runs). Servers are always stopped, also on error or
# Ctrl-C.
#
# Environment:
#   SERVERS="ws socketio jobwatch"        which servers; also jobwatch-sio:
#       jobwatch (JOBWATCH_SERVER_CMD, as for jobwatch) driven through its
#       Socket.IO endpoint (/socket.io/) by `jobwatch_load --server socketio`,
#       the client the socketio baseline gets: SERVERS="socketio jobwatch-sio"
#       compares the two Socket.IO servers in one run
#   SCENARIOS="throughput latency idle"   which scenarios:
#       throughput  CLIENTS clients, THROUGHPUT_RATE (1000) events/s for DURATION s
#       latency     CLIENTS clients, LATENCY_RATE (100) events/s for DURATION s
#       idle        IDLE_CLIENTS idle clients: server RSS per connection
#   CLIENTS=1000  IDLE_CLIENTS=10000  DURATION=10  RUNS=1
#   THROUGHPUT_RATE=1000  LATENCY_RATE=100
#   JOBWATCH_SERVER_CMD   command line that starts the jobwatch server on
#       127.0.0.1 and prints `listening <port>` as its first line of stdout;
#       "{port}" in it, if present, is replaced by 0. It is started with
#       `exec`, so it must be one command (no pipeline): its pid is the one
#       measured. Without it, jobwatch (and jobwatch-sio) is skipped with a note.
#   JOBWATCH_TOKEN        passed as --token to the client (jobwatch and
#       jobwatch-sio only; Socket.IO sends it in the CONNECT packet)
#   LOAD_TLS=1            passes --tls to the client (jobwatch and jobwatch-sio
#       only): wss:// for the clients, https for the publisher, certificates
#       not verified (the baselines stay plain). JOBWATCH_SERVER_CMD must then
#       start jobwatch with TLS on (gateway.tls). The table names these runs
#       "jobwatch (wss)": compare its rows with those of a run without
#       LOAD_TLS (ws on the same server; each run.sh run starts a fresh
#       RESULTS file).
#   LOAD_ARGS             extra arguments for every jobwatch_load run
#   RESULTS               file that collects the RESULT lines (JSON lines);
#                         default build/release/bench/load-results.jsonl
#   NO_BUILD=1            use the jobwatch_load already built (no cmake run)
#
# The idle scenario needs about IDLE_CLIENTS + 100 file descriptors in the
# client and as many in the server: the script raises the soft limit to the
# hard one (`ulimit -Hn`) and skips the scenario when that is too low.
set -euo pipefail
cd "$(dirname "$0")/../.."

SERVERS=${SERVERS:-"ws socketio jobwatch"}
SCENARIOS=${SCENARIOS:-"throughput latency idle"}
CLIENTS=${CLIENTS:-1000}
IDLE_CLIENTS=${IDLE_CLIENTS:-10000}
DURATION=${DURATION:-10}
THROUGHPUT_RATE=${THROUGHPUT_RATE:-1000}
LATENCY_RATE=${LATENCY_RATE:-100}
RUNS=${RUNS:-1}
LOAD_ARGS=${LOAD_ARGS:-}
RESULTS=${RESULTS:-build/release/bench/load-results.jsonl}
LOAD=build/release/bench/jobwatch_load

log() { printf '%s\n' "run.sh: $*" >&2; }

# ---------------------------------------------------------------- build
if [ "${NO_BUILD:-0}" != 1 ]; then
    log "building jobwatch_load (release preset)"
    cmake --preset release >/dev/null
    cmake --build --preset release --target jobwatch_load -j1 >/dev/null
fi
[ -x "$LOAD" ] || { log "$LOAD is not built"; exit 1; }

case " $SERVERS " in
*" ws "* | *" socketio "*)
    command -v node >/dev/null || { log "node is not installed"; exit 1; }
    if [ ! -d bench/baselines/node_modules ]; then
        log "installing the baselines' node_modules (npm ci)"
        npm ci --prefix bench/baselines --no-audit --no-fund >/dev/null
    fi
    ;;
esac

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
fd_limit=$(ulimit -n)

mkdir -p "$(dirname "$RESULTS")"
: >"$RESULTS"
work=$(mktemp -d)

# ---------------------------------------------------------------- servers
server_pid=""
server_port=""

stop_server() {
    [ -n "$server_pid" ] || return 0
    local pid=$server_pid
    server_pid=""
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "server $pid did not stop in 5 s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

client_pid=""

cleanup() {
    if [ -n "$client_pid" ]; then
        kill -TERM "$client_pid" 2>/dev/null || true  # timeout passes it on to the client
        wait "$client_pid" 2>/dev/null || true
    fi
    stop_server
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_server NAME: starts it, waits (10 s at most) for `listening <port>`.
start_server() {
    local name=$1 cmd
    case $name in
    ws) cmd="node bench/baselines/ws_server.mjs --port 0" ;;
    socketio) cmd="node bench/baselines/socketio_server.mjs --port 0" ;;
    jobwatch | jobwatch-sio) cmd=${JOBWATCH_SERVER_CMD//\{port\}/0} ;;
    esac
    : >"$work/server.out"
    # exec: the pid is the server's own (measured with --pid, stopped by pid).
    bash -c "exec $cmd" >"$work/server.out" 2>"$work/server.err" </dev/null &
    server_pid=$!
    server_port=""
    for _ in $(seq 100); do
        if ! kill -0 "$server_pid" 2>/dev/null; then
            log "$name exited at start: $(tail -n 5 "$work/server.err")"
            server_pid=""
            return 1
        fi
        local first
        first=$(head -n 1 "$work/server.out")
        if [[ $first =~ ^listening\ ([0-9]+) ]]; then
            server_port=${BASH_REMATCH[1]}
            return 0
        fi
        sleep 0.1
    done
    log "$name did not print 'listening <port>' within 10 s"
    stop_server
    return 1
}

# ---------------------------------------------------------------- scenarios
# run_scenario SERVER SCENARIO RUN
run_scenario() {
    local server=$1 scenario=$2 run=$3 args=()
    case $scenario in
    throughput) args=(--clients "$CLIENTS" --rate "$THROUGHPUT_RATE" --duration "$DURATION") ;;
    latency) args=(--clients "$CLIENTS" --rate "$LATENCY_RATE" --duration "$DURATION") ;;
    idle)
        if [ "$fd_limit" != unlimited ] && [ "$fd_limit" -lt $((IDLE_CLIENTS + 100)) ]; then
            log "skipping idle: $IDLE_CLIENTS clients need $((IDLE_CLIENTS + 100)) fds, ulimit -Hn is $fd_limit"
            return 0
        fi
        args=(--clients "$IDLE_CLIENTS" --idle)
        ;;
    *)
        log "unknown scenario $scenario"
        return 1
        ;;
    esac
    # The protocol jobwatch_load speaks: jobwatch-sio is jobwatch over Socket.IO.
    local kind=$server
    if [ "$server" = jobwatch-sio ]; then
        kind=socketio
    fi
    if [[ $server == jobwatch* ]] && [ -n "${JOBWATCH_TOKEN:-}" ]; then
        args+=(--token "$JOBWATCH_TOKEN")
    fi
    if [[ $server == jobwatch* ]] && [ "${LOAD_TLS:-0}" = 1 ]; then
        args+=(--tls)
    fi
    start_server "$server" || return 1
    log "$server $scenario (run $run): ${args[*]} against port $server_port, pid $server_pid"
    local status=0
    # In the background, so that Ctrl-C (a trapped signal) ends the wait at once.
    # shellcheck disable=SC2086  # LOAD_ARGS is a list of words
    timeout --kill-after=5 $((DURATION + 180)) "$LOAD" --server "$kind" --port "$server_port" \
        --pid "$server_pid" --label "$scenario" "${args[@]}" $LOAD_ARGS \
        >"$work/client.out" 2>&1 &
    client_pid=$!
    wait "$client_pid" || status=$?
    client_pid=""
    stop_server
    grep -v '^RESULT ' "$work/client.out" >&2 || true
    if grep -q '^RESULT ' "$work/client.out"; then
        # The client names the protocol ("socketio"): the table names the server.
        grep '^RESULT ' "$work/client.out" |
            sed -e 's/^RESULT //' -e "s/^{\"server\":\"$kind\"/{\"server\":\"$server\"/" >>"$RESULTS"
    else
        log "$server $scenario: no RESULT line (exit status $status)"
    fi
}

for server in $SERVERS; do
    case $server in
    ws | socketio) ;;
    jobwatch | jobwatch-sio)
        if [ -z "${JOBWATCH_SERVER_CMD:-}" ]; then
            log "skipping $server: JOBWATCH_SERVER_CMD is not set"
            continue
        fi
        ;;
    *)
        log "unknown server $server (ws, socketio, jobwatch, jobwatch-sio)"
        exit 2
        ;;
    esac
    for scenario in $SCENARIOS; do
        for run in $(seq "$RUNS"); do
            run_scenario "$server" "$scenario" "$run" || log "$server $scenario run $run failed"
        done
    done
done

# ---------------------------------------------------------------- table
python3 - "$RESULTS" <<'EOF'
import json, statistics, sys

rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
groups = {}
for r in rows:
    # TLS runs (jobwatch_load --tls) are their own rows: "jobwatch (wss)".
    name = r["server"] + (" (wss)" if r.get("tls") else "")
    groups.setdefault((name, r["label"]), []).append(r)

def med(rs, key, digits=1):
    vals = [r[key] for r in rs if r.get(key) is not None]
    if not vals:
        return "n/a"
    v = statistics.median(vals)
    return f"{v:.{digits}f}" if digits else f"{v:.0f}"

pub = [(k, v) for k, v in groups.items() if v[0]["mode"] == "publish"]
idle = [(k, v) for k, v in groups.items() if v[0]["mode"] == "idle"]
if pub:
    print("| server | scenario | clients | rate asked | published ev/s | delivered msgs/s | loss % "
          "| p50 ms | p99 ms | max ms | lagged | server CPU % | client CPU % | other load % | server RSS MiB | runs |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for (server, label), rs in pub:
        rss = [r["server_rss_end_kib"] / 1024 for r in rs if r.get("server_rss_end_kib")]
        rss = f"{statistics.median(rss):.0f}" if rss else "n/a"
        print(f"| {server} | {label} | {med(rs, 'clients', 0)} | {med(rs, 'rate', 0)} "
              f"| {med(rs, 'publish_rate')} | {med(rs, 'msgs_per_s_window', 0)} | {med(rs, 'loss_pct', 3)} "
              f"| {med(rs, 'lat_p50_ms', 2)} | {med(rs, 'lat_p99_ms', 2)} | {med(rs, 'lat_max_ms', 2)} "
              f"| {med(rs, 'lagged', 0)} | {med(rs, 'server_cpu_pct')} | {med(rs, 'client_cpu_pct')} "
              f"| {med(rs, 'others_cpu_pct')} "
              f"| {rss} | {len(rs)} |")
if idle:
    print()
    print("| server | idle clients | server RSS before MiB | after MiB | KiB per idle connection | runs |")
    print("|---|---|---|---|---|---|")
    for (server, label), rs in idle:
        def mib(key):
            vals = [r[key] / 1024 for r in rs if r.get(key) is not None]
            return f"{statistics.median(vals):.1f}" if vals else "n/a"
        print(f"| {server} | {med(rs, 'clients', 0)} | {mib('server_rss_before_kib')} "
              f"| {mib('server_rss_end_kib')} | {med(rs, 'kib_per_idle_conn', 1)} | {len(rs)} |")
if pub:
    print()
    print("published ev/s: events the server accepted per second (a server slower than the asked")
    print("rate throttles the publisher); delivered msgs/s: deliveries that arrived within the")
    print("publishing window, per second; CPU in % of one core over publish + drain; other load:")
    print("machine busy time that is neither client nor server (softirq, other processes): noise.")
if not rows:
    print("no results")
EOF
log "RESULT lines in $RESULTS"
