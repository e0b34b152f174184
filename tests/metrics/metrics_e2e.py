#!/usr/bin/env python3
"""GET /metrics end to end, against the demo server (real processes):

- with the demo's simulated workload and events of our own (some invalid,
  some for another tenant), `promtool check metrics` passes on the live
  exposition;
- its numbers agree with the REST API: jobs by queue and state against
  GET /api/v1/queues, events by result against what we sent, failures
  against GET /api/v1/jobs/failed/stats;
- label cardinality holds at --metrics.max_queues (the rest under "_other",
  the sums unchanged);
- access: a read token without a tenant gets it; a tenant's token is refused
  (403); no token is 401; --metrics.public=true serves it to anyone;
- log.format json: every line the server writes to stderr is one JSON object.

Usage: metrics_e2e.py JOBWATCH_DEMO [--promtool promtool]
Every wait has a deadline; every process it starts is stopped.
"""
import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ADMIN = "metrics-admin-token"
TENANT = "metrics-tenant-token"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Demo:
    def __init__(self, binary, *flags, workload=True, env=None):
        self.port = free_port()
        e = dict(os.environ)
        if not workload:
            e["JOBWATCH_DEMO_WORKLOAD"] = "off"
        e.update(env or {})
        self.err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [binary, f"--gateway.port={self.port}", "--gateway.host=127.0.0.1", "--storage.mode=memory", *flags],
            stdout=subprocess.DEVNULL, stderr=self.err, env=e)
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1).read()
                break
            except urllib.error.HTTPError:
                break  # answering (401 with auth on): up
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("the demo did not start")
                time.sleep(0.05)

    def get(self, path, token=None):
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.headers.get("Content-Type", ""), r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("Content-Type", ""), e.read().decode()

    def post_ndjson(self, events, token=None):
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/api/v1/events",
                                     data="\n".join(events).encode(), method="POST")
        req.add_header("Content-Type", "application/x-ndjson")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def stderr_lines(self):
        self.err.seek(0)
        return [l for l in self.err.read().decode(errors="replace").splitlines() if l.strip()]


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """[(name, {labels}, value)] of every sample."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        labels = dict(LABEL.findall(m.group(3) or ""))
        out.append((m.group(1), labels, float(m.group(4))))
    return out


def value(samples, name, **labels):
    got = [v for n, l, v in samples if n == name and all(l.get(k) == w for k, w in labels.items())]
    assert got, f"no sample {name} {labels}"
    return sum(got)


def promtool_check(promtool, text):
    r = subprocess.run([promtool, "check", "metrics"], input=text.encode(), capture_output=True, timeout=30)
    # promtool check metrics: exit 1 on a format error, 3 on lint problems only; both fail here.
    assert r.returncode == 0, f"promtool check metrics failed ({r.returncode}):\n{r.stdout.decode()}{r.stderr.decode()}"


def ev(type_, job, queue, **extra):
    return json.dumps({"type": type_, "job_id": job, "queue": queue, **extra})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("demo")
    ap.add_argument("--promtool", default="promtool")
    a = ap.parse_args()
    tokens = json.dumps({
        ADMIN: {"subject": "ops", "scopes": ["read", "publish", "admin"]},
        TENANT: {"subject": "acme-ops", "tenant_id": "acme", "scopes": ["read", "publish"]},
    })
    checks = 0

    # 1. The workload, our own events, JSON logs, static tokens.
    demo = Demo(a.demo, "--auth.mode=static_tokens", f"--auth.tokens={tokens}", "--log.format=json")
    try:
        time.sleep(3)  # the workload runs meanwhile
        ours = []
        for i in range(12):
            ours.append(ev("job.queued", f"m-{i}", "metrics-q"))
        for i in range(8):
            ours.append(ev("job.started", f"m-{i}", "metrics-q", attempt=1))
        for i in range(5):
            ours.append(ev("job.completed", f"m-{i}", "metrics-q", duration_ms=100 + i))
        for i in range(5, 8):
            ours.append(ev("job.failed", f"m-{i}", "metrics-q", error="boom", attempt=1, will_retry=False))
        ours.append('{"type":"job.queued","job_id":"bad id with spaces","queue":"metrics-q"}')
        ours.append('{"type":"job.nope","job_id":"x","queue":"metrics-q"}')
        st, body = demo.post_ndjson(ours, ADMIN)
        assert st in (200, 207), (st, body)
        assert (body["accepted"], body["rejected"]) == (len(ours) - 2, 2), f"only the two bad lines refused: {body}"
        st, _ = demo.post_ndjson([ev("job.queued", "acme-1", "acme-q", tenant_id="acme")], TENANT)
        assert st in (200, 207), st

        # Access.
        assert demo.get("/metrics")[0] == 401, "no token: 401"
        st, ctype, _ = demo.get("/metrics", TENANT)
        assert st == 403, f"a tenant's token reads every tenant's metrics: {st}"
        st, ctype, text = demo.get("/metrics", ADMIN)
        assert st == 200, st
        assert ctype.startswith("text/plain; version=0.0.4"), ctype
        checks += 3

        promtool_check(a.promtool, text)
        checks += 1
        s = parse(text)

        # Jobs by queue and state agree with GET /api/v1/queues, read at once after.
        st, _, q = demo.get("/api/v1/queues", ADMIN)
        rest = {item["queue"]: item["summary"]["counts"] for item in json.loads(q)["items"]}
        c = rest["metrics-q"]
        assert (c["queued"], c["running"], c["succeeded"], c["failed"]) == (4, 0, 5, 3), c
        for state in ("queued", "running", "succeeded", "failed", "cancelled"):
            assert value(s, "jobwatch_jobs", queue="metrics-q", state=state) == c[state], state
        checks += 1
        # The workload's queues: every one REST lists is exported (fewer than max_queues).
        for name in rest:
            assert any(n == "jobwatch_jobs" and l.get("queue") == name for n, l, _ in s), f"queue {name} missing"
        checks += 1
        # Tenant labels.
        assert value(s, "jobwatch_tenant_jobs", tenant="acme", state="queued") >= 1
        # Events by type and result: ours are in, and the two bad lines are invalid.
        assert value(s, "jobwatch_events_total", type="job.completed", result="accepted") >= 5
        assert value(s, "jobwatch_events_total", type="job.failed", result="accepted") >= 3
        assert value(s, "jobwatch_events_total", result="invalid") >= 2
        checks += 1
        # Histograms: run and wait times of metrics-q agree with its REST summary (8 finished, 8 started).
        summ = {item["queue"]: item["summary"] for item in json.loads(q)["items"]}["metrics-q"]
        for family, key in (("jobwatch_job_duration_seconds", "latency"), ("jobwatch_job_wait_seconds", "wait")):
            assert value(s, f"{family}_count", queue="metrics-q") == summ[key]["count"] == 8, (family, summ[key])
            buckets = [(float(l["le"]), v) for n, l, v in s if n == f"{family}_bucket" and l.get("queue") == "metrics-q"]
            assert len(buckets) == 17, buckets  # 16 bounds and +Inf
            assert buckets == sorted(buckets) and buckets[-1] == (float("inf"), 8), buckets
            # Every value is at most the REST maximum: all counted at the first bound above it.
            first_above = next(v for le, v in buckets if le * 1000 >= summ[key]["max_ms"] * 1.02)
            assert first_above == 8, (buckets, summ[key])
            assert abs(value(s, f"{family}_sum", queue="metrics-q") * 1000 - summ[key]["avg_ms"] * 8) <= 8 * 0.02 + 1
        assert value(s, "jobwatch_ingest_latency_seconds_count") >= 2
        checks += 1
        # Failures agree with GET /api/v1/jobs/failed/stats.
        st, _, fs = demo.get("/api/v1/jobs/failed/stats", ADMIN)
        stats = json.loads(fs)
        total = stats.get("total_failures", stats.get("failures"))
        if total is not None:
            assert abs(value(s, "jobwatch_job_failures_total") - total) <= 50, (total,)  # the workload goes on
        # Connections and process figures.
        assert value(s, "jobwatch_connections", kind="http") >= 1
        assert value(s, "process_resident_memory_bytes") > 1e6
        assert value(s, "process_open_fds") >= 3
        assert value(s, "jobwatch_gateway_http_requests_total") >= 5
        checks += 1
    finally:
        demo.stop()
    # Every stderr line is one JSON object; no token in any.
    lines = demo.stderr_lines()
    assert lines, "the server logged nothing"
    for line in lines:
        o = json.loads(line)
        assert {"ts", "level", "component", "msg"} <= o.keys(), line
        assert ADMIN not in line and TENANT not in line, "a token in the log"
    assert any(json.loads(l)["component"] == "gateway" for l in lines)
    checks += 1

    # 2. Cardinality: 6 queues, max_queues=2: two queues and "_other", same totals.
    # A webhook target on a closed port: the notifier's families are in the scrape too.
    nowhere = json.dumps({"nowhere": {"url": f"http://127.0.0.1:{free_port()}/hook", "max_attempts": 1}})
    demo = Demo(a.demo, "--metrics.max_queues=2", "--metrics.public=true", f"--notifier.targets={nowhere}",
                workload=False)
    try:
        evs = [ev("job.queued", f"c-{q}-{i}", f"q{q}") for q in range(6) for i in range(q + 1)]
        st, _ = demo.post_ndjson(evs)
        assert st in (200, 207), st
        st, _, text = demo.get("/metrics")  # public: no token needed
        assert st == 200, st
        promtool_check(a.promtool, text)
        s = parse(text)
        queues = sorted({l["queue"] for n, l, _ in s if n == "jobwatch_jobs"})
        assert queues == ["_other", "q4", "q5"], queues
        assert value(s, "jobwatch_jobs", state="queued") == 21
        assert value(s, "jobwatch_jobs", queue="_other", state="queued") == 1 + 2 + 3 + 4
        checks += 2
        # A failed job goes to the target, which refuses the connection: counted as failed, breaker closed (1 < 5).
        st, _ = demo.post_ndjson([ev("job.failed", "c-0-0", "q0", error="x", attempt=1, will_retry=False)])
        assert st in (200, 207), st
        deadline = time.monotonic() + 20
        while True:
            s = parse(demo.get("/metrics")[2])
            if value(s, "jobwatch_notifications_total", target="nowhere", outcome="failed") == 1:
                break
            assert time.monotonic() < deadline, "the failed delivery was not counted"
            time.sleep(0.1)
        assert value(s, "jobwatch_notification_attempts_total", target="nowhere") == 1
        assert value(s, "jobwatch_notification_breaker", target="nowhere", state="closed") == 1
        assert value(s, "jobwatch_notification_breaker", target="nowhere", state="open") == 0
        checks += 1
    finally:
        demo.stop()
    print(f"metrics_e2e: {checks} checks passed")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        import traceback
        traceback.print_exc()
        sys.exit(1)
