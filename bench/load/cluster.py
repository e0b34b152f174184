#!/usr/bin/env python3
"""Cluster benchmark (cluster.mode redis) against one instance, in one sitting.

Starts a redis-server (appendonly yes, appendfsync everysec, no automatic
AOF rewrite: a fork that competes for the same two cores; in a temporary
folder) and demo servers (release build, storage.mode memory, no workload) on
free 127.0.0.1 ports, and drives them with jobwatch_load. Each round runs
every scenario on a single instance (cluster.mode off: the baseline) and on
three instances of one cluster, alternated, each on fresh processes and a
fresh stream; the table gives medians over the rounds.

  ingest    one publisher, NDJSON batches of 1,000 back to back for DURATION s,
            one client: events acknowledged per second (in a cluster: in Redis)
  latency   100 clients, 10,000 events/s; in a cluster the events enter on
            instance 1 and the clients watch instance 2: ingest-to-client p50/p99
  fanout    1,000 clients, 1,000 events/s (1,000,000 messages/s to deliver);
            in a cluster entering on instance 1, delivered by instance 2:
            messages/s delivered and the delivering server's CPU

usage: bench/load/cluster.py [--rounds 3] [--duration 10] [--scenarios ingest,latency,fanout]
                             [--instances 3]   (instances of the cluster; latency and fan-out need 2+)
       (build first: cmake --preset release && cmake --build --preset release
        --target jobwatch_demo jobwatch_load)
"""

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO = os.path.join(ROOT, "build/release/examples/jobwatch_demo")
LOAD = os.path.join(ROOT, "build/release/bench/jobwatch_load")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Redis:
    def __init__(self, work):
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--auto-aof-rewrite-percentage", "0", "--dir", work, "--logfile", os.path.join(work, "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_demo(args, log):
    env = dict(os.environ, JOBWATCH_DEMO_WORKLOAD="off")
    proc = subprocess.Popen([DEMO, "--gateway.port=0", "--gateway.host=127.0.0.1", "--storage.mode=memory",
                             "--gateway.max_connections=20000"] + args,
                            stdout=subprocess.PIPE, stderr=log, env=env)
    line = proc.stdout.readline().decode()
    if not line.startswith("listening "):
        proc.kill()
        raise RuntimeError("demo did not start: " + line)
    port = int(line.split()[1])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if b" 200 " in s.recv(64):
                    return proc, port
        except OSError:
            pass
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError("demo not ready")


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def load(port, pid, extra, publish_port=None):
    cmd = [LOAD, "--server", "jobwatch", "--port", str(port), "--pid", str(pid)] + extra
    if publish_port:
        cmd += ["--publish-port", str(publish_port)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError("no RESULT: " + out.stdout[-500:] + out.stderr[-500:])


SCENARIOS = {
    "ingest": lambda d: ["--clients", "1", "--rate", "0", "--batch", "1000", "--duration", str(d)],
    "latency": lambda d: ["--clients", "100", "--rate", "10000", "--duration", str(d), "--max-batch", "2000"],
    "fanout": lambda d: ["--clients", "1000", "--rate", "1000", "--duration", str(d)],
}


def run(mode, scenario, duration, work, log, instances=3):
    procs = []
    redis = None
    try:
        if mode == "single":
            p, port = start_demo([], log)
            procs.append(p)
            return load(port, p.pid, SCENARIOS[scenario](duration))
        redis = Redis(tempfile.mkdtemp(dir=work))
        url = f"--cluster.redis_url=redis://127.0.0.1:{redis.port}/0"
        ports = []
        for i in range(instances):
            p, port = start_demo(["--cluster.mode=redis", url, f"--cluster.instance_id=i{i}"], log)
            procs.append(p)
            ports.append(port)
        # Events enter on instance 1; clients (and the CPU measured) are instance 2's.
        watched = 1 if instances > 1 else 0
        return load(ports[watched], procs[watched].pid, SCENARIOS[scenario](duration),
                    publish_port=ports[0] if scenario != "ingest" else None)
    finally:
        for p in procs:
            stop(p)
        if redis:
            redis.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--scenarios", default="ingest,latency,fanout")
    ap.add_argument("--instances", type=int, default=3)
    a = ap.parse_args()
    for exe in (DEMO, LOAD):
        if not os.access(exe, os.X_OK):
            sys.exit(f"{exe} is not built (cmake --build --preset release --target jobwatch_demo jobwatch_load)")
    work = tempfile.mkdtemp(prefix="jobwatch-cluster-bench-")
    results = {}
    try:
        with open(os.path.join(work, "servers.log"), "wb") as log:
            for r in range(a.rounds):
                for scenario in a.scenarios.split(","):
                    for mode in (("single", "cluster") if r % 2 == 0 else ("cluster", "single")):
                        res = run(mode, scenario, a.duration, work, log, a.instances)
                        results.setdefault((scenario, mode), []).append(res)
                        print(f"round {r + 1} {scenario:8} {mode:8} publish {res['publish_rate']:>10} ev/s  "
                              f"delivered {res['msgs_per_s_window']:>11} msg/s  p50 {res['lat_p50_ms']} ms  "
                              f"p99 {res['lat_p99_ms']} ms  server cpu {res['server_cpu_pct']} %  "
                              f"loss {res['loss']} lagged {res['lagged']} {res['error']}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def med(scenario, mode, key):
        vals = [x[key] for x in results.get((scenario, mode), []) if x[key] is not None]
        return statistics.median(vals) if vals else float("nan")

    print("\n| scenario | mode | events/s acknowledged | messages/s delivered | p50 ms | p99 ms | server CPU % |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for scenario in a.scenarios.split(","):
        for mode in ("single", "cluster"):
            print(f"| {scenario} | {mode} | {med(scenario, mode, 'publish_rate'):,.0f} | "
                  f"{med(scenario, mode, 'msgs_per_s_window'):,.0f} | {med(scenario, mode, 'lat_p50_ms'):.2f} | "
                  f"{med(scenario, mode, 'lat_p99_ms'):.2f} | {med(scenario, mode, 'server_cpu_pct'):.1f} |")


if __name__ == "__main__":
    main()
