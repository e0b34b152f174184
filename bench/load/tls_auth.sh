#!/usr/bin/env bash
# What TLS and JWT cost the gateway: the fan-out scenario of run.sh against the
# release demo in four set-ups, alternated round by round in one sitting so that
# the machine's drift falls on all four alike:
#   open ws      auth.mode open, plain WebSocket (the baseline)
#   open wss     auth.mode open, gateway.tls on (a certificate made here)
#   jwt ws       auth.mode jwt (HS256 secret made here), every client and the
#                publisher carry a token minted here with python3-jwt (no tenant:
#                the clients read queue:bench, a room across tenants)
#   jwt wss      both
#
#   bench/load/tls_auth.sh
#
# Environment: ROUNDS=3 CLIENTS=1000 DURATION=10 RATES="1000 0" (0 = as fast as
# the publisher's POSTs are answered: the saturated ceiling). Builds the demo and
# jobwatch_load (release preset) unless NO_BUILD=1. Prints one table of medians
# and, per rate, what each set-up delivers against "open ws".
set -euo pipefail
cd "$(dirname "$0")/../.."

ROUNDS=${ROUNDS:-3}
CLIENTS=${CLIENTS:-1000}
DURATION=${DURATION:-10}
RATES=${RATES:-"1000 0"}
DEMO=build/release/examples/jobwatch_demo

log() { printf '%s\n' "tls_auth.sh: $*" >&2; }

if [ "${NO_BUILD:-0}" != 1 ]; then
    log "building jobwatch_demo and jobwatch_load (release preset)"
    cmake --preset release >/dev/null
    cmake --build --preset release --target jobwatch_demo jobwatch_load -j1 >/dev/null
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Made for this run only, removed at exit: never a committed key.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/secret"
# Debian's python3-jwt belongs to /usr/bin/python3; a python3 earlier on PATH may lack it.
py=python3
python3 -c 'import jwt' 2>/dev/null || py=/usr/bin/python3
token=$("$py" - "$work/secret" <<'EOF'
import sys, time, jwt
secret = open(sys.argv[1]).read().rstrip("\r\n")
now = int(time.time())
# No tenant claim: the clients read queue:bench, a room across tenants.
print(jwt.encode({"sub": "bench", "scope": "read publish",
                  "iat": now, "exp": now + 3600}, secret, algorithm="HS256"))
EOF
)

base="env JOBWATCH_DEMO_WORKLOAD=off $DEMO --gateway.port={port} --gateway.max_connections=20000 --storage.mode=memory"
tls="--gateway.tls.cert_file=$work/cert.pem --gateway.tls.key_file=$work/key.pem"
jwt="--auth.mode=jwt --auth.jwt.secret_file=$work/secret"
all="$work/all.jsonl"
: >"$all"

for round in $(seq "$ROUNDS"); do
    for rate in $RATES; do
        for setup in "open ws" "open wss" "jwt ws" "jwt wss"; do
            read -r mode transport <<<"$setup"
            cmd=$base
            [ "$mode" = jwt ] && cmd="$cmd $jwt"
            [ "$transport" = wss ] && cmd="$cmd $tls"
            log "round $round, rate $rate: $setup"
            JOBWATCH_SERVER_CMD=$cmd SERVERS=jobwatch SCENARIOS=throughput RUNS=1 NO_BUILD=1 \
                CLIENTS=$CLIENTS DURATION=$DURATION THROUGHPUT_RATE=$rate \
                LOAD_TLS=$([ "$transport" = wss ] && echo 1 || echo 0) \
                JOBWATCH_TOKEN=$([ "$mode" = jwt ] && echo "$token") \
                RESULTS="$work/one.jsonl" bench/load/run.sh >/dev/null
            python3 - "$work/one.jsonl" "$setup" >>"$all" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    if line.strip():
        r = json.loads(line)
        r["setup"] = sys.argv[2]
        print(json.dumps(r))
EOF
        done
    done
done

python3 - "$all" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
setups = ["open ws", "open wss", "jwt ws", "jwt wss"]
def med(rs, key):
    v = [r[key] for r in rs if r.get(key) is not None]
    return statistics.median(v) if v else None
print("| set-up | rate asked | published ev/s | delivered msgs/s | vs open ws | loss % | p50 ms | p99 ms "
      "| server CPU % | client CPU % | server RSS MiB | TLS session | runs |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for rate in sorted({r["rate"] for r in rows}, reverse=True):
    base = med([r for r in rows if r["setup"] == "open ws" and r["rate"] == rate], "msgs_per_s_window")
    for s in setups:
        rs = [r for r in rows if r["setup"] == s and r["rate"] == rate]
        if not rs:
            continue
        d = med(rs, "msgs_per_s_window")
        if d is None or med(rs, "publish_rate") is None:
            print(f"| {s} | {rate:,.0f} | failed: {rs[0].get('error')} |")
            continue
        rel = f"{100 * d / base - 100:+.1f} %" if base and d is not None else "n/a"
        rss = med(rs, "server_rss_end_kib")
        print(f"| {s} | {rate:,.0f} | {med(rs, 'publish_rate'):,.0f} | {d:,.0f} | {rel} "
              f"| {med(rs, 'loss_pct'):.3f} | {med(rs, 'lat_p50_ms'):.1f} | {med(rs, 'lat_p99_ms'):.1f} "
              f"| {med(rs, 'server_cpu_pct'):.0f} | {med(rs, 'client_cpu_pct'):.0f} "
              f"| {rss / 1024:.0f} | {rs[0].get('tls_session') or '-'} | {len(rs)} |")
print()
print("rate asked 0: the publisher posts as fast as the server answers (saturated ceiling).")
print("vs open ws: the median delivered msgs/s against that of open ws at the same rate, same sitting.")
EOF
