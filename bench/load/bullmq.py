#!/usr/bin/env python3
"""BullMQ source benchmark: does jobwatch keep up with a busy BullMQ queue?

Starts a redis-server (nothing persisted: --save '' --appendonly no) and the
release demo following one BullMQ queue (`--bullmq.queues=bench`, storage in
memory, no simulated workload) on free 127.0.0.1 ports, and writes into Redis,
over one raw socket with RESP pipelining, what BullMQ 6's scripts write for
each job's life (their Lua, tests/node/node_modules/bullmq/dist/cjs/commands):

  added      INCR id; HSET job name data opts timestamp delay priority;
             XADD events * event added jobId N name email; LPUSH wait N;
             XADD events MAXLEN ~ 10000 * event waiting jobId N
  active     RPOPLPUSH wait active; SET job:lock token PX 30000;
             XADD events * event active jobId N prev waiting;
             HSET job processedOn ms; HINCRBY job ats 1
  progress   HSET job progress 50; XADD events MAXLEN ~ 10000 * event progress jobId N data 50
  completed  DEL job:lock; LREM active -1 N; HINCRBY job atm 1; ZADD completed ms N;
             HSET job returnvalue {"ok":true} finishedOn ms;
             XADD events * event completed jobId N returnvalue {"ok":true} prev active

(5 stream entries per job), paced at RATE completions/s in TICK ms ticks: the
jobs added in tick k become active in k+1, report progress in k+2 and
complete in k+3. Every 1,000 completions the oldest completed jobs beyond
10,000 are removed (ZREMRANGEBYRANK and DEL of their hashes, as BullMQ's
removeOnComplete would), so memory stays bounded.

Each round runs three phases on a fresh Redis each, alternating their order:

  alone      the generator only: the rate it reaches and Redis's CPU without readers
  follower   the generator and a raw Python follower (XREAD COUNT 1000 BLOCK
             loop that only counts entries, what BullMQ's QueueEvents does)
  jobwatch   the generator and the demo's BullMQ source

Once a second: jobwatch's own lag_ms, the real lag (the stream's
last-generated-id minus jobwatch's last_id, in ms, read through our own
connection), events_read, and the CPU of the demo, redis-server, the
follower and this process (/proc/<pid>/stat). After the generator stops:
the time until jobwatch's last_id is the stream's last-generated-id.

usage: bench/load/bullmq.py [--rounds 3] [--seconds 30] [--rate 5000] [--tick-ms 10]
                            [--rates 5000,10000,20000]   (a sweep: alone + jobwatch per rate, once)
                            [--phases alone,follower,jobwatch] [--redis-server redis-server]
                            [--demo-arg=--bullmq.read_count=10000 ...] [--json results.json]
       (build first: cmake --preset release && cmake --build --preset release --target jobwatch_demo)
"""

import argparse
import http.client
import json
import multiprocessing
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO = os.path.join(ROOT, "build/release/examples/jobwatch_demo")
CLK_TCK = os.sysconf("SC_CLK_TCK")
QUEUE = "bench"
PREFIX = b"bull:" + QUEUE.encode() + b":"
EVENTS = PREFIX + b"events"
MAX_EVENTS = b"10000"   # BullMQ's default events stream length (streams.events.maxLen)
KEEP_COMPLETED = 10000  # completed jobs kept (removeOnComplete: {count: 10000})


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    """utime + stime of a process (all its threads), in seconds; None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of stat(5)
    except (OSError, IndexError, ValueError):
        return None


def machine_busy_seconds():
    """CPU time spent by the whole machine (all cores, not idle nor iowait), in seconds."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / CLK_TCK


def rss_mib(pid):
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, IndexError, ValueError):
        return None


# --- RESP -------------------------------------------------------------------------------------

def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if not isinstance(a, bytes):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Incomplete(Exception):
    pass


class RespError(Exception):
    pass


def parse(buf, pos):
    """One RESP2 reply at buf[pos:]: (value, next position); errors come back as RespError values."""
    end = buf.find(b"\r\n", pos)
    if end < 0:
        raise Incomplete
    t = buf[pos]
    if t == 36:  # $
        n = int(buf[pos + 1:end])
        if n < 0:
            return None, end + 2
        start = end + 2
        if start + n + 2 > len(buf):
            raise Incomplete
        return buf[start:start + n], start + n + 2
    if t == 42:  # *
        n = int(buf[pos + 1:end])
        if n < 0:
            return None, end + 2
        pos = end + 2
        out = []
        for _ in range(n):
            v, pos = parse(buf, pos)
            out.append(v)
        return out, pos
    if t == 58:  # :
        return int(buf[pos + 1:end]), end + 2
    if t == 43:  # +
        return buf[pos + 1:end], end + 2
    if t == 45:  # -
        return RespError(buf[pos + 1:end].decode(errors="replace")), end + 2
    raise ValueError("unexpected RESP type byte %r" % chr(t))


class Resp:
    """A blocking connection for the measurements: one command, one reply."""

    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def read_reply(self):
        while True:
            if self.buf:
                try:
                    v, pos = parse(self.buf, 0)
                    self.buf = self.buf[pos:]
                    return v
                except (Incomplete, IndexError):
                    pass
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk

    def cmd(self, *args):
        self.sock.sendall(encode(*args))
        v = self.read_reply()
        if isinstance(v, RespError):
            raise v
        return v

    def close(self):
        self.sock.close()


def stream_id_ms(sid):
    if isinstance(sid, bytes):
        sid = sid.decode()
    return int(sid.split("-")[0])


def xinfo(conn):
    """last-generated-id, length and entries-added of the events stream (None before it exists)."""
    try:
        r = conn.cmd("XINFO", "STREAM", EVENTS)
    except RespError:
        return None
    d = {r[i]: r[i + 1] for i in range(0, len(r) - 1, 2)}
    return {"last": d[b"last-generated-id"].decode(), "length": d[b"length"],
            "added": d.get(b"entries-added")}


# --- processes --------------------------------------------------------------------------------

class Redis:
    def __init__(self, exe, work):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(dir=work)
        self.proc = subprocess.Popen(
            [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.dir, "--logfile", os.path.join(self.dir, "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("redis-server did not start (see %s/redis.log)" % self.dir)

    def stop(self):
        stop(self.proc)


def stop(proc, grace=10):
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def http_get(port, path, timeout=5):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


class Demo:
    def __init__(self, redis_port, log, extra=()):
        env = dict(os.environ, JOBWATCH_DEMO_WORKLOAD="off")
        self.proc = subprocess.Popen(
            [DEMO, "--gateway.port=0", "--gateway.host=127.0.0.1", "--storage.mode=memory",
             f"--bullmq.redis_url=redis://127.0.0.1:{redis_port}/0", f"--bullmq.queues={QUEUE}"] + list(extra),
            stdout=subprocess.PIPE, stderr=log, env=env)
        try:
            self._start(log)
        except BaseException:
            stop(self.proc)
            raise

    def _start(self, log):
        # The first line names the port; what follows is drained so that the pipe never fills.
        got = {}

        def first_line():
            got["line"] = self.proc.stdout.readline().decode(errors="replace")
            for line in self.proc.stdout:
                log.write(line)

        threading.Thread(target=first_line, daemon=True).start()
        deadline = time.monotonic() + 30
        while "line" not in got and time.monotonic() < deadline and self.proc.poll() is None:
            time.sleep(0.01)
        line = got.get("line", "")
        if not line.startswith("listening "):
            raise RuntimeError("demo did not start: %r" % line)
        self.port = int(line.split()[1])
        # /readyz is 200 once the BullMQ source has done its first resync and both connections are up.
        while time.monotonic() < deadline:
            try:
                if http_get(self.port, "/readyz", 1)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("demo not ready within 30 s")

    def monitor(self, conn=None):
        if conn is None:
            status, body = http_get(self.port, "/api/v1/monitor/bullmq")
        else:
            conn.request("GET", "/api/v1/monitor/bullmq")
            r = conn.getresponse()
            status, body = r.status, r.read()
        if status != 200:
            raise RuntimeError("GET /api/v1/monitor/bullmq: %d %s" % (status, body[:200]))
        doc = json.loads(body)
        q = next(q for q in doc["queues"] if q["queue"] == QUEUE)
        q["tracked_jobs"] = doc.get("tracked_jobs")
        return q

    def stop(self):
        stop(self.proc, 15)


def follower_main(port, shared, stop_flag):
    """The raw follower: XREAD COUNT 1000 BLOCK 1000 from the start, counting entries."""
    conn = Resp(port, timeout=30)
    last = b"0-0"
    n = 0
    while not stop_flag.value:
        r = conn.cmd("XREAD", "COUNT", 1000, "BLOCK", 1000, "STREAMS", EVENTS, last)
        if not r:
            continue
        entries = r[0][1]
        n += len(entries)
        last = entries[-1][0]
        ms, seq = last.split(b"-")
        shared[0] = int(ms)
        shared[1] = int(seq)
        shared[2] = n
    conn.close()


class Follower:
    def __init__(self, redis_port):
        ctx = multiprocessing.get_context("fork")
        self.shared = ctx.RawArray("q", 3)  # last id ms, last id seq, entries read
        self.stop_flag = ctx.RawValue("b", 0)
        self.proc = ctx.Process(target=follower_main, args=(redis_port, self.shared, self.stop_flag), daemon=True)
        self.proc.start()
        self.pid = self.proc.pid

    def last(self):
        return "%d-%d" % (self.shared[0], self.shared[1]), self.shared[2]

    def stop(self):
        self.stop_flag.value = 1
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(5)


# --- the generator ------------------------------------------------------------------------------

def compile_phase(commands):
    """A format (bytes % mapping) writing several commands; a str argument names a variable whose
    length is the mapping's key name + '#'."""
    out = []
    for args in commands:
        out.append(b"*%d\r\n" % len(args))
        for a in args:
            if isinstance(a, str):
                k = a.encode()
                out.append(b"$%(" + k + b"#)d\r\n%(" + k + b")s\r\n")
            else:
                out.append((b"$%d\r\n%s\r\n" % (len(a), a)).replace(b"%", b"%%"))
    return b"".join(out)


ADDED = compile_phase([
    [b"INCR", PREFIX + b"id"],
    [b"HSET", "key", b"name", b"email", b"data", "data", b"opts", b'{"attempts":3}',
     b"timestamp", "ms", b"delay", b"0", b"priority", b"0"],
    [b"XADD", EVENTS, b"*", b"event", b"added", b"jobId", "id", b"name", b"email"],
    [b"LPUSH", PREFIX + b"wait", "id"],
    [b"XADD", EVENTS, b"MAXLEN", b"~", MAX_EVENTS, b"*", b"event", b"waiting", b"jobId", "id"],
])
ACTIVE = compile_phase([
    [b"RPOPLPUSH", PREFIX + b"wait", PREFIX + b"active"],
    [b"SET", "lock", b"0b7c3b6e-bench-worker", b"PX", b"30000"],
    [b"XADD", EVENTS, b"*", b"event", b"active", b"jobId", "id", b"prev", b"waiting"],
    [b"HSET", "key", b"processedOn", "ms"],
    [b"HINCRBY", "key", b"ats", b"1"],
])
PROGRESS = compile_phase([
    [b"HSET", "key", b"progress", b"50"],
    [b"XADD", EVENTS, b"MAXLEN", b"~", MAX_EVENTS, b"*", b"event", b"progress", b"jobId", "id", b"data", b"50"],
])
COMPLETED = compile_phase([
    [b"DEL", "lock"],
    [b"LREM", PREFIX + b"active", b"-1", "id"],
    [b"HINCRBY", "key", b"atm", b"1"],
    [b"ZADD", PREFIX + b"completed", "ms", "id"],
    [b"HSET", "key", b"returnvalue", b'{"ok":true}', b"finishedOn", "ms"],
    [b"XADD", EVENTS, b"*", b"event", b"completed", b"jobId", "id", b"returnvalue", b'{"ok":true}',
     b"prev", b"active"],
])
COMMANDS_PER_JOB = (5, 5, 2, 6)
ENTRIES_PER_JOB = 5


class ReplyCounter(threading.Thread):
    """Drains the generator's socket: counts replies and error replies without parsing them.
    Every reply the generator gets is +simple, -error, :integer or $bulk (whose body is a job or
    stream id, starting with a digit), so a reply is a line starting with one of + - : $."""

    def __init__(self, sock):
        super().__init__(daemon=True)
        self.sock = sock
        self.replies = 0
        self.errors = 0
        self.first_error = None
        self.closed = False

    def run(self):
        prev = b"\n"
        try:
            while True:
                data = self.sock.recv(1 << 20)
                if not data:
                    break
                s = prev + data
                errs = s.count(b"\n-")
                if errs:
                    self.errors += errs
                    if self.first_error is None:
                        i = s.find(b"\n-")
                        self.first_error = s[i + 1:i + 200].split(b"\r\n")[0].decode(errors="replace")
                self.replies += s.count(b"\n:") + s.count(b"\n$") + s.count(b"\n+") + errs
                prev = data[-1:]
        except OSError:
            pass
        self.closed = True


def generate(port, rate, seconds, tick_ms):
    """Writes the jobs' lives at `rate` completions/s for `seconds`; returns what it achieved."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.settimeout(None)  # the reply thread may wait between ticks; the replies' deadline is below
    counter = ReplyCounter(sock)
    counter.start()
    tick = tick_ms / 1000.0
    ticks = max(1, int(round(seconds / tick)))
    batches = []  # (first job id, count) per tick
    total = 0
    for k in range(ticks):
        n = int(rate * (k + 1) * tick) - int(rate * k * tick)
        batches.append((total + 1, n))
        total += n
    jobs = {}     # id -> its variables, while in flight
    sent = 0      # commands
    completed = 0
    late_ticks = 0
    max_late = 0.0
    cpu0 = cpu_seconds(os.getpid())
    start = time.monotonic()
    first_completion = None
    last_sent = start
    for k in range(ticks + 3):
        due = start + k * tick
        now = time.monotonic()
        if now < due:
            time.sleep(due - now)
        else:
            late = now - due
            max_late = max(max_late, late)
            if late > tick:
                late_ticks += 1
        ms = b"%d" % int(time.time() * 1000)
        lms = len(ms)
        out = []
        if k < ticks:  # added
            first, n = batches[k]
            for i in range(first, first + n):
                sid = b"%d" % i
                key = PREFIX + sid
                data = b'{"to":"user-' + sid + b'@example.com"}'
                lock = key + b":lock"
                v = {b"id": sid, b"id#": len(sid), b"key": key, b"key#": len(key), b"data": data,
                     b"data#": len(data), b"lock": lock, b"lock#": len(lock)}
                jobs[i] = v
                out.append(ADDED % {**v, b"ms": ms, b"ms#": lms})
            sent += n * COMMANDS_PER_JOB[0]
        if 0 <= k - 1 < ticks:  # active
            first, n = batches[k - 1]
            for i in range(first, first + n):
                out.append(ACTIVE % {**jobs[i], b"ms": ms, b"ms#": lms})
            sent += n * COMMANDS_PER_JOB[1]
        if 0 <= k - 2 < ticks:  # progress
            first, n = batches[k - 2]
            for i in range(first, first + n):
                out.append(PROGRESS % jobs[i])
            sent += n * COMMANDS_PER_JOB[2]
        if 0 <= k - 3 < ticks:  # completed
            if first_completion is None:
                first_completion = time.monotonic()
            first, n = batches[k - 3]
            for i in range(first, first + n):
                out.append(COMPLETED % {**jobs.pop(i), b"ms": ms, b"ms#": lms})
                completed += 1
                if completed % 1000 == 0 and completed > KEEP_COMPLETED:
                    # removeOnComplete {count: 10000}: the oldest completed jobs and their hashes go.
                    out.append(encode(b"ZREMRANGEBYRANK", PREFIX + b"completed", b"0", b"-%d" % (KEEP_COMPLETED + 1)))
                    old = range(completed - KEEP_COMPLETED - 999, completed - KEEP_COMPLETED + 1)
                    out.append(encode(b"DEL", *[PREFIX + b"%d" % j for j in old]))
                    sent += 2
            sent += n * COMMANDS_PER_JOB[3]
        if out:
            sock.sendall(b"".join(out))
        last_sent = time.monotonic()
    # Redis has taken everything once every reply is in.
    deadline = time.monotonic() + 60
    while counter.replies < sent and time.monotonic() < deadline and not counter.closed:
        time.sleep(0.001)
    done = time.monotonic()
    cpu1 = cpu_seconds(os.getpid())
    replies = counter.replies
    sock.close()
    if replies != sent:
        raise RuntimeError("generator: %d replies to %d commands" % (replies, sent))
    if counter.errors:
        raise RuntimeError("generator: %d error replies, the first: %s" % (counter.errors, counter.first_error))
    # Completions were sent in ticks 3 .. ticks+2; at the asked pace that spans `ticks` ticks.
    span = done - first_completion + tick
    return {"jobs": completed, "commands": sent, "achieved": completed / span, "span_s": span,
            "late_ticks": late_ticks, "max_late_ms": max_late * 1000, "send_s": last_sent - start,
            "gen_cpu_pct": 100 * (cpu1 - cpu0) / (done - start), "start": start, "done": done}


# --- one phase --------------------------------------------------------------------------------

def pct(vals, p):
    if not vals:
        return float("nan")
    s = sorted(vals)
    return s[min(len(s) - 1, max(0, int(round(p / 100 * len(s) + 0.5)) - 1))]


def med(vals):
    vals = [v for v in vals if v is not None and v == v]
    return statistics.median(vals) if vals else float("nan")


class Sampler(threading.Thread):
    """Once per interval: the stream's head, the reader's position, and CPU times."""

    def __init__(self, redis, interval, tick, demo=None, follower=None):
        super().__init__(daemon=True)
        self.redis, self.interval, self.tick, self.demo, self.follower = redis, interval, tick, demo, follower
        self.samples = []
        self.halt = threading.Event()
        self.error = None

    def run(self):
        try:
            conn = Resp(self.redis.port)
            t0 = time.monotonic()
            k = 1
            rnd = random.Random(k)
            # Each sample at a random point of the generator's tick: at a fixed phase the samples would
            # all see the reader in the same state (e.g. caught up, just before the next tick).
            while not self.halt.wait(max(0.0, t0 + k * self.interval + rnd.uniform(0, self.tick)
                                         - time.monotonic())):
                k += 1
                s = {"t": time.monotonic()}
                # The reader's position first, then the stream's head: the lag is, if anything, overstated.
                if self.demo:
                    m = self.demo.monitor()
                    s.update(last=m["last_id"], read=m["events_read"], lag_ms=m["lag_ms"],
                             published=m["events_published"], gaps=m["gaps"], resyncs=m["resyncs"])
                if self.follower:
                    s["last"], s["read"] = self.follower.last()
                info = xinfo(conn)
                if info and "last" in s and s["last"] != "0-0":
                    s["real_lag_ms"] = stream_id_ms(info["last"]) - stream_id_ms(s["last"])
                    s["stream_len"] = info["length"]
                s["cpu"] = {name: cpu_seconds(pid) for name, pid in self.pids().items()}
                if self.demo:
                    s["rss_mib"] = rss_mib(self.demo.proc.pid)
                self.samples.append(s)
            conn.close()
        except Exception as e:  # reported by the phase
            self.error = e

    def pids(self):
        p = {"redis": self.redis.proc.pid, "gen": os.getpid()}
        if self.demo:
            p["jobwatch"] = self.demo.proc.pid
        if self.follower:
            p["follower"] = self.follower.pid
        return p


def run_phase(kind, a, rate, work, log):
    redis = demo = follower = sampler = None
    try:
        redis = Redis(a.redis_server, work)
        if kind == "jobwatch":
            demo = Demo(redis.port, log, a.demo_arg)
        elif kind == "follower":
            follower = Follower(redis.port)
        sampler = Sampler(redis, a.sample_s, a.tick_ms / 1000, demo, follower)
        pids = sampler.pids()
        cpu0 = {n: cpu_seconds(p) for n, p in pids.items()}
        busy0 = machine_busy_seconds()
        sampler.start()
        gen = generate(redis.port, rate, a.seconds, a.tick_ms)
        cpu1 = {n: cpu_seconds(p) for n, p in pids.items()}
        busy1 = machine_busy_seconds()
        wall = gen["done"] - gen["start"]
        res = dict(gen, kind=kind, rate=rate)
        res["cpu_pct"] = {n: 100 * (cpu1[n] - cpu0[n]) / wall for n in pids if cpu0[n] is not None and cpu1[n] is not None}
        # What the rest of the machine used meanwhile (other processes, the kernel's own work): the noise.
        res["other_cpu_pct"] = 100 * (busy1 - busy0) / wall - sum(res["cpu_pct"].values())
        # Catch-up: until the reader's last id is the stream's last-generated-id.
        conn = Resp(redis.port)
        head = xinfo(conn)["last"]
        conn.close()
        res["catch_up_s"] = None
        hc = http.client.HTTPConnection("127.0.0.1", demo.port, timeout=5) if demo else None
        deadline = gen["done"] + 60
        while time.monotonic() < deadline:
            last = demo.monitor(hc)["last_id"] if demo else follower.last()[0] if follower else head
            if last == head:
                res["catch_up_s"] = time.monotonic() - gen["done"]
                break
            time.sleep(0.005)
        if hc:
            hc.close()
        sampler.halt.set()
        sampler.join(15)
        if sampler.error:
            raise RuntimeError("sampler: %r" % sampler.error)
        # The samples taken while the generator ran.
        run = [s for s in sampler.samples if gen["start"] < s["t"] <= gen["done"]]
        res["samples"] = run
        lags = [s["real_lag_ms"] for s in run if "real_lag_ms" in s]
        res["real_lag"] = lags
        res["jw_lag"] = [s["lag_ms"] for s in run if "lag_ms" in s]
        third = max(1, len(lags) // 3)
        res["lag_first_third"] = med(lags[:third])
        res["lag_last_third"] = med(lags[-third:])
        if len(run) >= 2 and "read" in run[0]:
            res["read_per_s"] = (run[-1]["read"] - run[0]["read"]) / (run[-1]["t"] - run[0]["t"])
        if demo:
            m = demo.monitor()
            res.update(events_read=m["events_read"], events_published=m["events_published"],
                       gaps=m["gaps"], resyncs=m["resyncs"], tracked=m["tracked_jobs"], final_lag_ms=m["lag_ms"])
        elif follower:
            res["events_read"] = follower.last()[1]
        res["entries_written"] = gen["jobs"] * ENTRIES_PER_JOB
        return res
    finally:
        if sampler:
            sampler.halt.set()
        for p in (follower, demo, redis):
            if p:
                p.stop()


# --- reports ----------------------------------------------------------------------------------

def fmt(v, spec=",.0f", none="–"):
    if v is None or v != v:
        return none
    return format(v, spec)


def line(r):
    s = (f"{r['kind']:8} rate {r['rate']:>6}: achieved {r['achieved']:>8,.0f} completions/s "
         f"(late ticks {r['late_ticks']}, max late {r['max_late_ms']:.1f} ms, generator cpu {r['gen_cpu_pct']:.0f} %)  "
         f"redis cpu {r['cpu_pct'].get('redis', float('nan')):.0f} %, rest of the machine {r['other_cpu_pct']:.0f} %")
    if r["kind"] != "alone":
        lags = r["real_lag"]
        s += (f"\n           read {fmt(r.get('read_per_s'))}/s, {r.get('events_read')} of {r['entries_written']} entries; "
              f"real lag ms median {fmt(med(lags))} p95 {fmt(pct(lags, 95))} max {fmt(max(lags) if lags else None)} "
              f"first third {fmt(r['lag_first_third'])} last third {fmt(r['lag_last_third'])}; "
              f"catch-up {fmt(r['catch_up_s'] and r['catch_up_s'] * 1000, '.0f')} ms")
        name = "jobwatch" if r["kind"] == "jobwatch" else "follower"
        s += f"; {name} cpu {r['cpu_pct'].get(name, float('nan')):.0f} %"
        if r["kind"] == "jobwatch":
            s += (f"\n           jobwatch lag_ms median {fmt(med(r['jw_lag']))} max {fmt(max(r['jw_lag']) if r['jw_lag'] else None)}; "
                  f"published {r['events_published']}, gaps {r['gaps']}, resyncs {r['resyncs']}, tracked {r['tracked']}")
        lags = r["real_lag"]
        if len(lags) >= 10:
            tenths = [med(lags[len(lags) * i // 10:len(lags) * (i + 1) // 10]) for i in range(10)]
            s += "\n           real lag ms, median of each tenth of the run: " + " ".join(fmt(t) for t in tenths)
        name = "jobwatch" if r["kind"] == "jobwatch" else "follower"
        run = [x for x in r["samples"] if x["cpu"].get(name) is not None]
        if len(run) >= 11:
            cuts = [run[len(run) * i // 10] for i in range(10)] + [run[-1]]
            tenths = [100 * (b["cpu"][name] - a["cpu"][name]) / (b["t"] - a["t"]) for a, b in zip(cuts, cuts[1:])]
            s += f"\n           {name} CPU % in each tenth: " + " ".join(fmt(t) for t in tenths)
            if r["kind"] == "jobwatch":
                s += f"; RSS {fmt(run[0].get('rss_mib'))} -> {fmt(run[-1].get('rss_mib'))} MiB"
    return s


def keeps_up(r):
    """At the rate asked, with no gap, every entry read, and a lag that neither grows nor exceeds a second."""
    lags = r["real_lag"]
    return (r["achieved"] >= 0.95 * r["rate"] and r.get("gaps", 0) == 0 and r.get("events_read") == r["entries_written"]
            and bool(lags) and max(lags) < 1000 and r["lag_last_third"] <= r["lag_first_third"] + 100
            and r["catch_up_s"] is not None and r["catch_up_s"] < 1)


def summary(results, kinds):
    print("\n| phase | completions/s achieved | events/s read | real lag ms, median | p95 | max | first third "
          "| last third | reader's own lag_ms, median / p95 / max | catch-up ms | gaps | reader CPU % | redis CPU % "
          "| generator CPU % | rest of the machine CPU % |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    names = {"alone": "generator alone (baseline)", "follower": "raw Python follower (XREAD loop)",
             "jobwatch": "jobwatch BullMQ source"}
    for kind in kinds:
        rs = results.get(kind, [])
        if not rs:
            continue
        reader = {"jobwatch": "jobwatch", "follower": "follower"}.get(kind)

        def m(f):
            return med([f(r) for r in rs])
        if kind == "alone":
            row = [fmt(m(lambda r: r["achieved"]))] + [""] * 10
        else:
            own = "–"
            if kind == "jobwatch":
                own = " / ".join(fmt(m(f)) for f in (lambda r: med(r["jw_lag"]), lambda r: pct(r["jw_lag"], 95),
                                                     lambda r: max(r["jw_lag"]) if r["jw_lag"] else None))
            row = [fmt(m(lambda r: r["achieved"])), fmt(m(lambda r: r.get("read_per_s"))),
                   fmt(m(lambda r: med(r["real_lag"]))), fmt(m(lambda r: pct(r["real_lag"], 95))),
                   fmt(m(lambda r: max(r["real_lag"]) if r["real_lag"] else None)),
                   fmt(m(lambda r: r["lag_first_third"])), fmt(m(lambda r: r["lag_last_third"])), own,
                   fmt(m(lambda r: r["catch_up_s"] * 1000 if r["catch_up_s"] is not None else None)),
                   fmt(m(lambda r: r.get("gaps")), ".0f", "–"),
                   fmt(m(lambda r: r["cpu_pct"].get(reader)), ".0f")]
        row += [fmt(m(lambda r: r["cpu_pct"].get("redis")), ".0f"), fmt(m(lambda r: r["gen_cpu_pct"]), ".0f"),
                fmt(m(lambda r: r["other_cpu_pct"]), ".0f")]
        print(f"| {names[kind]} | " + " | ".join(row) + " |")
    jw = results.get("jobwatch", [])
    if jw:
        print(f"\njobwatch: gaps {sum(r['gaps'] for r in jw)}, resyncs {sum(r['resyncs'] for r in jw)} "
              f"(one at each start); entries read/written {sum(r['events_read'] for r in jw)}/"
              f"{sum(r['entries_written'] for r in jw)}; job events published {sum(r['events_published'] for r in jw)}; "
              f"keeps up in {sum(keeps_up(r) for r in jw)} of {len(jw)} rounds")


def sweep_table(rows):
    print("\n| completions/s asked | achieved, generator alone | achieved, with jobwatch | events/s read "
          "| real lag ms, median | p95 | max | first third | last third | jobwatch lag_ms, max | catch-up ms "
          "| gaps | entries read / written | jobwatch CPU % | redis CPU % | rest of the machine CPU % | keeps up |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for rate, alone, jw in rows:
        lags = jw["real_lag"]
        print(f"| {rate:,} | {fmt(alone['achieved'] if alone else None)} | {fmt(jw['achieved'])} | {fmt(jw.get('read_per_s'))} "
              f"| {fmt(med(lags))} | {fmt(pct(lags, 95))} | {fmt(max(lags) if lags else None)} "
              f"| {fmt(jw['lag_first_third'])} | {fmt(jw['lag_last_third'])} "
              f"| {fmt(max(jw['jw_lag']) if jw['jw_lag'] else None)} "
              f"| {fmt(jw['catch_up_s'] * 1000 if jw['catch_up_s'] is not None else None)} | {jw['gaps']} "
              f"| {100 * jw['events_read'] / max(1, jw['entries_written']):.1f} % "
              f"| {fmt(jw['cpu_pct'].get('jobwatch'), '.0f')} | {fmt(jw['cpu_pct'].get('redis'), '.0f')} "
              f"| {fmt(jw['other_cpu_pct'], '.0f')} | {'yes' if keeps_up(jw) else 'no'} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--rate", type=int, default=5000, help="job completions per second")
    ap.add_argument("--rates", default="", help="a sweep, e.g. 5000,10000,20000: alone + jobwatch once per rate")
    ap.add_argument("--tick-ms", type=float, default=10)
    ap.add_argument("--sample-s", type=float, default=1.0)
    ap.add_argument("--phases", default="alone,follower,jobwatch")
    ap.add_argument("--redis-server", default="redis-server")
    ap.add_argument("--demo-arg", action="append", default=[],
                    help="one more flag for the demo, e.g. --demo-arg=--bullmq.read_count=10000 (repeatable)")
    ap.add_argument("--json", help="also write every result (with its samples) to this file")
    a = ap.parse_args()
    if not os.access(DEMO, os.X_OK):
        sys.exit(f"{DEMO} is not built (cmake --preset release && cmake --build --preset release --target jobwatch_demo)")
    if not shutil.which(a.redis_server):
        sys.exit(f"{a.redis_server} not found (scripts/setup.sh installs redis-server)")
    work = tempfile.mkdtemp(prefix="jobwatch-bullmq-bench-")
    everything = []
    try:
        with open(os.path.join(work, "servers.log"), "wb") as log:
            if a.rates:
                rows = []
                for rate in [int(x) for x in a.rates.split(",")]:
                    alone = run_phase("alone", a, rate, work, log) if "alone" in a.phases else None
                    if alone:
                        print(line(alone), flush=True)
                    jw = run_phase("jobwatch", a, rate, work, log)
                    print(line(jw), flush=True)
                    everything += [x for x in (alone, jw) if x]
                    rows.append((rate, alone, jw))
                sweep_table(rows)
            else:
                kinds = [k for k in a.phases.split(",") if k]
                results = {}
                for r in range(a.rounds):
                    order = kinds if r % 2 == 0 else kinds[::-1]
                    for kind in order:
                        res = run_phase(kind, a, a.rate, work, log)
                        results.setdefault(kind, []).append(res)
                        everything.append(res)
                        print(f"round {r + 1} " + line(res), flush=True)
                print(f"\nmedians of {a.rounds} round(s), {a.rate:,} completions/s asked for {a.seconds:g} s "
                      f"({ENTRIES_PER_JOB} stream entries each), {a.tick_ms:g} ms ticks:")
                summary(results, kinds)
    finally:
        if a.json:
            with open(a.json, "w") as f:
                json.dump(everything, f, indent=1, default=str)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
