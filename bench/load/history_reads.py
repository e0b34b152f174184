"""Times REST reads of history beyond memory (storage.mode sqlite) against the demo.
Ingests JOBS jobs (4 events each, and one job "long" whose events span half the
journal) in NDJSON batches, keeps 1,000 finished jobs in memory, then times each
query 21 times and prints the median. Usage: history_reads.py DEMO_BINARY JOBS"""
import os, shutil, socket, statistics, subprocess, sys, tempfile, time, urllib.request

demo, jobs = sys.argv[1], int(sys.argv[2])
with socket.socket() as s:
    s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]
d = tempfile.mkdtemp()
env = dict(os.environ, JOBWATCH_DEMO_WORKLOAD="off")
p = subprocess.Popen([demo, f"--gateway.port={port}", "--store.max_finished_jobs=1000",
                      "--store.finished_ttl_ms=315360000000", f"--storage.path={d}/h.db"],
                     env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
base = f"http://127.0.0.1:{port}"
try:
    for _ in range(100):
        try:
            urllib.request.urlopen(base + "/readyz", timeout=1); break
        except Exception:
            time.sleep(0.1)
    t0 = 1_700_000_000_000
    def ev(t, k, step, extra=""):
        ms = t0 + k * 4 + step
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + ".%03dZ" % (ms % 1000)
        return '{"type":"%s","job_id":"j%d","queue":"q%d","tenant_id":"t%d","time":"%s"%s}' % (t, k, k % 8, k % 4, ts, extra)
    start = time.time()
    for b in range(0, jobs, 250):
        lines = []
        for k in range(b, min(jobs, b + 250)):
            lines += [ev("job.queued", k, 0), ev("job.started", k, 1, ',"attempt":1'),
                      ev("job.log", k, 2, ',"level":"info","message":"working"'),
                      ev("job.completed", k, 3) if k % 10 else ev("job.failed", k, 3, ',"attempt":1,"error":"boom","will_retry":false')]
        if b == 0:
            lines.append('{"type":"job.queued","job_id":"long","queue":"q0","tenant_id":"t0"}')
        if b == (jobs // 2 // 250) * 250:
            lines.append('{"type":"job.completed","job_id":"long","queue":"q0","tenant_id":"t0"}')
        req = urllib.request.Request(base + "/api/v1/events", data=("\n".join(lines) + "\n").encode(),
                                     headers={"content-type": "application/x-ndjson"})
        urllib.request.urlopen(req, timeout=30).read()
    print(f"ingested {jobs*4} events in {time.time()-start:.1f} s", flush=True)
    time.sleep(3)  # retention evicts; the writer commits
    def timed(path):
        ts = []
        for _ in range(21):
            a = time.perf_counter(); r = urllib.request.urlopen(base + path, timeout=60); body = r.read()
            ts.append((time.perf_counter() - a) * 1000)
        return statistics.median(ts), len(body)
    mid = jobs // 2
    for path in ["/api/v1/jobs?limit=50",
                 "/api/v1/jobs?limit=50&offset=5000",
                 "/api/v1/jobs?limit=50&tenant_id=t2&status=failed",
                 f"/api/v1/jobs?limit=50&until={t0 + mid * 4}",
                 f"/api/v1/jobs/j{jobs - 1}?tenant_id=t{(jobs - 1) % 4}",
                 f"/api/v1/jobs/j{mid}?tenant_id=t{mid % 4}",
                 f"/api/v1/jobs/j{mid}/events?tenant_id=t{mid % 4}",
                 f"/api/v1/jobs/j{mid}/logs?tenant_id=t{mid % 4}",
                 "/api/v1/jobs/long/events?tenant_id=t0",
                 "/api/v1/jobs/failed/recent?limit=50",
                 "/api/v1/jobs/failed/recent?limit=50&before=1000"]:
        ms, n = timed(path)
        print(f"| `{path}` | {ms:.2f} ms | {n} |", flush=True)
finally:
    p.terminate()
    p.wait(timeout=30)
    shutil.rmtree(d, ignore_errors=True)
