#!/usr/bin/env python3
"""Crash test of durable history (storage.durability sync), against the demo binary.

Four producers post NDJSON batches (each event with its own producer id) while
the server is killed with SIGKILL at 20 seeded random moments and started again
on the same file. A producer whose batch got no answer posts it again after the
restart, as a real producer would. After each restart, and at the end:
  - every event whose acknowledgement a producer received is in the journal
    exactly once (and, at the end, every event ever sent: the retries of
    batches the crash cut off are duplicates of what was stored, or stored once);
  - the journal's numbers run 1..N with no gap and no repeat.

usage: crash_test.py DEMO_BINARY [--kills 20] [--seed 1]
"""

import argparse
import http.client
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

PRODUCERS = 4
BATCH = 50


def wait_ready(port, deadline_s=60):
    """Until the server answers (it has replayed its journal): the kill must land under ingest."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz")
            ok = conn.getresponse().status == 200
            conn.close()
            if ok:
                return
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.05)
    raise SystemExit(f"crash_test: the demo did not answer /healthz within {deadline_s} s")


def start(demo, db, log):
    proc = subprocess.Popen(
        [demo, "--gateway.port=0", "--gateway.host=127.0.0.1", "--storage.mode=sqlite",
         f"--storage.path={db}", "--storage.durability=sync"],
        stdout=subprocess.PIPE, stderr=log, env={**os.environ, "JOBWATCH_DEMO_WORKLOAD": "off"})
    deadline = time.monotonic() + 30
    line = b""
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith(b"listening "):
            return proc, int(line.split()[1])
        if proc.poll() is not None:
            break
    proc.kill()
    proc.wait(timeout=10)
    raise SystemExit(f"crash_test: the demo did not start (last line {line!r}); see its log")


class Producer(threading.Thread):
    """Posts batches to the current port until told to stop; keeps what was acknowledged."""

    def __init__(self, index, state):
        super().__init__(daemon=True)
        self.index = index
        self.state = state
        self.next_event = 0
        self.pending = None  # the batch sent without an answer: sent again after a restart
        self.acked = set()
        self.sent = set()
        self.error = None

    def batch(self):
        if self.pending is None:
            ids = [f"p{self.index}-{self.next_event + k}" for k in range(BATCH)]
            self.next_event += BATCH
            self.pending = ids
        return self.pending

    def run(self):
        try:
            while not self.state["stop"]:
                if self.state["drain"] and self.pending is None:
                    return
                port = self.state["port"]
                if port is None:
                    time.sleep(0.01)
                    continue
                ids = self.batch()
                body = "".join(json.dumps({"type": "job.queued", "job_id": i, "queue": f"crash{self.index}",
                                           "id": i}) + "\n" for i in ids)
                self.sent.update(ids)
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                    conn.request("POST", "/api/v1/events", body, {"Content-Type": "application/x-ndjson"})
                    res = conn.getresponse()
                    answer = res.read()
                    conn.close()
                except (OSError, http.client.HTTPException):
                    time.sleep(0.02)  # the server is down: the batch stays pending
                    continue
                if res.status != 200:
                    time.sleep(0.05)  # 503 while storage cannot write: try again
                    continue
                doc = json.loads(answer)
                refused = [r for r in doc["results"] if r["status"] != "duplicate"]
                if any(r["status"] != "unavailable" for r in refused):
                    raise AssertionError(f"lines refused: {refused[:3]}")
                if refused:
                    time.sleep(0.05)  # storage could not take some: the whole batch again
                    continue
                self.acked.update(ids)  # accepted now, or a duplicate of one stored before
                self.pending = None
        except Exception as e:  # reported by the main thread
            self.error = e


def check(db, producers, final):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT seq, body FROM journal ORDER BY seq").fetchall()
    finally:
        con.close()
    seqs = [r[0] for r in rows]
    assert seqs == list(range(1, len(seqs) + 1)), f"numbers with a gap or a repeat near {first_gap(seqs)}"
    counts = {}
    for _, body in rows:
        i = json.loads(body).get("id")
        counts[i] = counts.get(i, 0) + 1
    repeated = [i for i, n in counts.items() if n > 1]
    assert not repeated, f"stored more than once: {repeated[:5]}"
    for p in producers:
        missing = [i for i in p.acked if i not in counts]
        assert not missing, f"acknowledged but not stored: {sorted(missing)[:5]}"
        if final:
            lost = [i for i in p.sent if i not in counts]
            assert not lost, f"sent, retried, and still not stored: {sorted(lost)[:5]}"
    return len(rows)


def first_gap(seqs):
    for k, s in enumerate(seqs, start=1):
        if s != k:
            return k
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("demo")
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="jobwatch-crash-")
    db = os.path.join(work, "jobwatch.db")
    log = open(os.path.join(work, "demo.log"), "ab")
    state = {"port": None, "stop": False, "drain": False}
    producers = [Producer(i, state) for i in range(PRODUCERS)]
    for p in producers:
        p.start()
    proc = None
    try:
        for k in range(args.kills):
            proc, port = start(args.demo, db, log)
            wait_ready(port)
            state["port"] = port
            time.sleep(rng.uniform(0.2, 1.5))
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            state["port"] = None
            for p in producers:
                if p.error:
                    raise p.error
            stored = check(db, producers, final=False)
            print(f"kill {k + 1}: {stored} events stored, "
                  f"{sum(len(p.acked) for p in producers)} acknowledged")
        # A last run without a kill: the producers' pending batches go through.
        proc, port = start(args.demo, db, log)
        state["port"] = port
        state["drain"] = True
        for p in producers:
            p.join(timeout=30)
            if p.is_alive():
                raise AssertionError(f"producer {p.index} could not post its last batch within 30 s")
            if p.error:
                raise p.error
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
        proc = None
        stored = check(db, producers, final=True)
        print(f"crash_test: {args.kills} kills, {stored} events stored, every acknowledged one exactly once, "
              "numbers without gap or repeat")
    finally:
        state["stop"] = True
        if proc and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        log.close()
    import shutil
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
