// The BullMQ source end to end, with real processes: a redis-server on a free
// 127.0.0.1 port, the demo server following four BullMQ queues
// (bullmq.queues), and real BullMQ Queues and Workers (the `bullmq` package).
//
// Three WebSocket clients (Node's `ws`) subscribe to queue:e2e-a, -b and -c
// before any job exists. Then, on real BullMQ:
//   - a worker in another process (bullmq_worker.mjs) takes a job of e2e-c and
//     is killed with SIGKILL mid-job; a worker of this process finds the job
//     stalled and runs it again (attemptsStarted 2);
//   - on e2e-a, -b and -c, workers of concurrency 4 run jobs that report
//     numeric and object progress, log lines and complete with a value; fail
//     for good (attempts 1); fail twice then succeed (attempts 3, fixed backoff
//     100 ms); fail twice with attempts 2; throw UnrecoverableError (attempts
//     3); wait 300 ms (delay);
//   - e2e-b is paused, gets jobs (one prioritized, one removed while waiting),
//     is seen paused in /api/v1/health/queues, and is resumed;
//   - e2e-trim (streams.events.maxLen 1000) runs 2,600 jobs (> 10,000 events)
//     while the server is stopped with SIGSTOP, so that its events stream is
//     trimmed past the server's last read id: the server must resync.
// At the end, with BullMQ quiet:
//   - every job's snapshot (GET /api/v1/jobs/<queue>:<id>) agrees with BullMQ:
//     state, attempt = attemptsStarted, job_type, max_attempts, progress,
//     last_error = failedReason, duration_ms = finishedOn - processedOn, result;
//   - each queue's counts in /api/v1/monitor/bullmq equal getJobCounts(), and
//     /api/v1/health/queues agrees with them;
//   - each job's log lines (GET /api/v1/jobs/<id>/logs) equal getJobLogs();
//   - the WebSocket clients saw each job's transitions in order.
//
// Usage: node bullmq_e2e.mjs <jobwatch_demo> [--redis-server PATH]
// Exits 0 when every check holds; prints the first failure and exits 1.
// Every wait has a deadline; every process it starts is stopped on exit.
import WebSocket from "ws";
import { Job, Queue, UnrecoverableError, Worker } from "bullmq";
import IORedis from "ioredis";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import net from "node:net";
import { dirname, join } from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual } from "node:util";

const args = process.argv.slice(2);
const demo = args[0];
const ri = args.indexOf("--redis-server");
const REDIS_SERVER = (ri >= 0 && args[ri + 1]) || "redis-server";
const here = dirname(fileURLToPath(import.meta.url));
const MAIN = ["e2e-a", "e2e-b", "e2e-c"];
const TRIM = "e2e-trim";
const TRIM_WARMUP = 20; // seen live before the server stops
const TRIM_JOBS = 2600; // 4 events each while it is stopped: > 10,000
const TRIM_MAXLEN = 1000;
const started = Date.now();

if (!demo) {
  console.error("usage: node bullmq_e2e.mjs <jobwatch_demo> [--redis-server PATH]");
  process.exit(2);
}

const children = new Set();
const workerErrors = []; // the BullMQ workers' "error" events, shown on failure
const overall = setTimeout(() => fail(new Error("deadline of 90 s passed")), 90_000);

function cleanup() {
  for (const c of children) {
    try {
      c.kill("SIGCONT"); // a server stopped for the trim phase
    } catch {}
    try {
      c.kill("SIGKILL");
    } catch {}
  }
  children.clear();
}
function fail(err) {
  console.error("bullmq_e2e FAIL:", err?.stack ?? err);
  if (workerErrors.length) console.error("BullMQ worker errors:", workerErrors.slice(0, 5).join("; "));
  cleanup();
  process.exit(1);
}
process.on("unhandledRejection", fail);
process.on("uncaughtException", fail);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Polls fn every `every` ms until it returns a truthy value; past ms, fails
    naming what, and why() when given (the last difference seen). */
async function until(what, fn, ms = 15_000, why = null, every = 50) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}${why ? `: ${await why()}` : ""}`);
    await sleep(every);
  }
}
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}
/** Runs fn over items, at most n at a time; the results in order. */
async function mapLimit(items, n, fn) {
  const out = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i], i);
      }
    }),
  );
  return out;
}
const show = (v) => JSON.stringify(v);
/** A Redis stream id as a comparable pair. */
function streamId(id) {
  const [ms, seq] = String(id).split("-");
  return [BigInt(ms), BigInt(seq ?? 0)];
}
function idLess(a, b) {
  const [x, y] = [streamId(a), streamId(b)];
  return x[0] < y[0] || (x[0] === y[0] && x[1] < y[1]);
}

function redisPing() {
  return new Promise((resolve) => {
    const s = net.connect(redisPort, "127.0.0.1");
    let out = "";
    s.setTimeout(1000, () => s.destroy());
    s.on("error", () => resolve(""));
    s.on("data", (d) => {
      out += d;
      s.end();
    });
    s.on("close", () => resolve(out));
    s.write("PING\r\n");
  });
}

// --- processes -------------------------------------------------------------------
const redisPort = await freePort();
const redisProc = spawn(REDIS_SERVER, ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "",
  "--appendonly", "no"], { stdio: "ignore" });
children.add(redisProc);
redisProc.once("exit", (code, sig) => children.has(redisProc) && fail(new Error(`redis-server exited with ${code ?? sig}`)));
await until("redis-server", async () => (await redisPing()) === "+PONG\r\n", 10_000);
const connection = { host: "127.0.0.1", port: redisPort };
const redis = new IORedis(connection);

const jw = {};
{
  const argv = ["--gateway.port=0", "--gateway.host=127.0.0.1", "--storage.mode=memory",
    `--bullmq.redis_url=redis://127.0.0.1:${redisPort}/0`, `--bullmq.queues=${show([...MAIN, TRIM])}`,
    "--bullmq.log_poll_ms=100", "--bullmq.counts_interval_ms=200", "--gateway.max_send_queue_bytes=67108864",
    // A resync reads at most resync_recent jobs per container (1000 by default); the
    // trim phase finishes 2,620 jobs in the gap, and every one of them is checked.
    "--bullmq.resync_recent=10000"];
  jw.proc = spawn(demo, argv, { env: { ...process.env, JOBWATCH_DEMO_WORKLOAD: "off" },
    stdio: ["ignore", "pipe", "inherit"] });
  children.add(jw.proc);
  const lines = readline.createInterface({ input: jw.proc.stdout });
  jw.port = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("jobwatch_demo did not print `listening <port>` within 30 s")), 30_000);
    lines.on("line", (l) => {
      const m = /^listening (\d+)/.exec(l);
      if (m) {
        clearTimeout(t);
        resolve(Number(m[1]));
      }
    });
    jw.proc.once("exit", (code, sig) => reject(new Error(`jobwatch_demo exited with ${code ?? sig}: ${demo} ${argv.join(" ")}`)));
  });
  jw.proc.once("exit", (code, sig) => children.has(jw.proc) && fail(new Error(`jobwatch_demo exited with ${code ?? sig}`)));
  jw.base = `http://127.0.0.1:${jw.port}`;
  await until("jobwatch to be ready", async () => (await fetch(`${jw.base}/readyz`).catch(() => null))?.ok, 30_000);
}
async function get(path, { allow404 = false } = {}) {
  const res = await fetch(jw.base + path);
  if (allow404 && res.status === 404) return null;
  if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${await res.text().catch(() => "")}`);
  return res.json();
}
const jobPath = (q, id) => `/api/v1/jobs/${encodeURIComponent(`${q}:${id}`)}`;
async function monitor() {
  const m = await get("/api/v1/monitor/bullmq");
  return { ...m, byQueue: new Map((m.queues ?? []).map((q) => [q.queue, q])) };
}
async function healthOf(queue) {
  const h = await get("/api/v1/health/queues");
  return h.queues.find((q) => q.queue === queue) ?? null;
}
let mon = null;
await until("the BullMQ source to connect and list its four queues", async () => {
  mon = await monitor();
  return mon.connected === true && [...MAIN, TRIM].every((q) => mon.byQueue.has(q));
}, 15_000, () => show(mon));
console.log(`bullmq_e2e: redis on ${redisPort}, jobwatch on ${jw.port}`);

// --- WebSocket clients: one per room, subscribed before any job exists -------------
class Watcher {
  constructor(queue) {
    this.queue = queue;
    this.room = `queue:${queue}`;
    this.last = 0;
    this.events = []; // {seq, event} in arrival order
    this.problems = [];
  }
  connect() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${jw.port}/ws`);
      this.ws = ws;
      const t = setTimeout(() => reject(new Error(`${this.room}: not subscribed within 10 s`)), 10_000);
      ws.on("error", (e) => this.problems.push(`socket error: ${e.message}`));
      ws.on("close", (code) => this.closing || this.problems.push(`closed with ${code}`));
      ws.once("open", () => ws.send(JSON.stringify({ type: "subscribe", room: this.room, id: "w" })));
      ws.on("message", (data) => {
        const m = JSON.parse(data.toString());
        if (m.type === "subscribed" && m.room === this.room) {
          this.last = m.seq;
          clearTimeout(t);
          resolve();
        } else if (m.type === "event" && m.room === this.room) {
          if (!(m.seq > this.last)) this.problems.push(`seq ${m.seq} after ${this.last}`);
          this.last = m.seq;
          if (m.event.queue !== this.queue) this.problems.push(`an event of queue ${m.event.queue}: ${show(m.event)}`);
          this.events.push({ seq: m.seq, event: m.event });
        } else if (["lagged", "reset", "error"].includes(m.type)) {
          this.problems.push(show(m));
        }
      });
    });
  }
  of(jobId) {
    return this.events.filter((e) => e.event.job_id === jobId);
  }
}
const watchers = new Map(MAIN.map((q) => [q, new Watcher(q)]));
await Promise.all([...watchers.values()].map((w) => w.connect()));

// --- BullMQ ----------------------------------------------------------------------------
const queues = new Map(MAIN.map((q) => [q, new Queue(q, { connection })]));
const workers = [];
function worker(name, opts = {}) {
  const w = new Worker(name, processor, { connection, concurrency: 4, ...opts });
  w.on("error", (e) => workerErrors.push(`${name}: ${e?.message ?? e}`));
  workers.push(w);
  return w;
}
async function processor(job) {
  const n = job.data.n ?? 0;
  switch (job.name) {
    case "num":
      await job.updateProgress(10);
      await job.log(`num ${n}: loaded`);
      await sleep(150);
      await job.updateProgress(50);
      await job.log(`num ${n}: halfway`);
      await sleep(150);
      await job.updateProgress(100);
      await job.log(`num ${n}: done`);
      return { n, doubled: 2 * n };
    case "obj":
      for (let s = 1; s <= 3; ++s) {
        await job.updateProgress({ step: `s${s}`, current: s, total: 4 });
        await job.log(`obj ${n}: step ${s} of 4`);
        await sleep(100);
      }
      return `obj-${n}`;
    case "pct":
      await job.updateProgress({ percent: 40, msg: "loading", rows: 7 });
      return 7;
    case "fail":
      throw new Error(`bad input ${n}`);
    case "flaky":
      await job.log(`flaky ${n}: attempt ${job.attemptsStarted}`);
      if (job.attemptsStarted < 3) throw new Error(`flaky ${n} attempt ${job.attemptsStarted}`);
      await job.updateProgress(100);
      return "third time lucky";
    case "doomed":
      throw new Error(`doomed ${n} attempt ${job.attemptsStarted}`);
    case "unrec":
      throw new UnrecoverableError(`cannot recover ${n}`);
    case "stall": // attempt 2, after the first worker was killed
      await job.log(`attempt ${job.attemptsStarted}: resumed in ${process.pid}`);
      await job.updateProgress(100);
      return { resumed: job.attemptsStarted };
    default: // later, held, trim
      return n;
  }
}

/** The jobs made, each {q, id, kind, n}; kind is the job name but for the removed one. */
const jobs = [];
let counter = 0;
async function add(q, name, opts = {}, kind = name) {
  const n = ++counter;
  const job = await queues.get(q).add(name, { n }, opts);
  const ref = { q, id: job.id, kind, n, name, opts };
  jobs.push(ref);
  return ref;
}
async function bullState(ref) {
  const job = await Job.fromId(queues.get(ref.q), ref.id);
  return job ? job.getState() : "removed";
}
const terminal = (s) => s === "completed" || s === "failed" || s === "removed";
async function allFinished(refs) {
  const states = await mapLimit(refs, 16, bullState);
  return states.every(terminal);
}

// 1. A worker in another process takes a job of e2e-c and is killed mid-job.
const stall = await add("e2e-c", "stall");
const child = spawn(process.execPath, [join(here, "bullmq_worker.mjs"), String(redisPort), "e2e-c"],
  { stdio: ["ignore", "pipe", "inherit"] });
children.add(child);
await new Promise((resolve, reject) => {
  const t = setTimeout(() => reject(new Error("bullmq_worker.mjs did not start the stall job within 15 s")), 15_000);
  readline.createInterface({ input: child.stdout }).on("line", (l) => {
    if (l === `started ${stall.id} 1`) {
      clearTimeout(t);
      resolve();
    }
  });
  child.once("exit", (code, sig) => reject(new Error(`bullmq_worker.mjs exited with ${code ?? sig}`)));
});
let snap = null;
await until("jobwatch to see the stall job running", async () => {
  snap = await get(jobPath(stall.q, stall.id), { allow404: true });
  return snap?.state === "running" && snap.attempt === 1 && snap.progress?.percent === 30;
}, 10_000, () => show(snap));
child.kill("SIGKILL");
await until("bullmq_worker.mjs to die", () => child.exitCode !== null || child.signalCode !== null, 5000);
children.delete(child);
const killedAt = Date.now();

// 2. Workers of this process (e2e-c's checks for stalled jobs every 500 ms) and the job mix.
for (const q of MAIN) worker(q, q === "e2e-c" ? { stalledInterval: 500 } : {});
for (const q of MAIN) {
  for (let i = 0; i < 3; ++i) await add(q, "num", { attempts: 1 });
  for (let i = 0; i < 3; ++i) await add(q, "obj");
  await add(q, "pct");
  for (let i = 0; i < 2; ++i) await add(q, "fail", { attempts: 1 });
  for (let i = 0; i < 2; ++i) await add(q, "flaky", { attempts: 3, backoff: { type: "fixed", delay: 100 } });
  await add(q, "doomed", { attempts: 2 });
  await add(q, "unrec", { attempts: 3 });
  for (let i = 0; i < 2; ++i) await add(q, "later", { delay: 300 });
}
await until("BullMQ to finish the job mix and the stalled job", () => allFinished(jobs), 25_000, async () =>
  show((await mapLimit(jobs, 16, async (r) => [`${r.q}:${r.id}`, await bullState(r)])).filter(([, s]) => !terminal(s))), 200);
const stallJob = await Job.fromId(queues.get("e2e-c"), stall.id);
assert.equal(stallJob.attemptsStarted, 2, "the stalled job ran twice in BullMQ");
assert.equal(await stallJob.getState(), "completed");
console.log(`bullmq_e2e: ${jobs.length} jobs done on ${MAIN.join(", ")}; the stalled job came back ${Date.now() - killedAt} ms after the kill`);

// 3. Pause e2e-b, add jobs while paused, remove one, resume.
const qb = queues.get("e2e-b");
await qb.pause();
let hb = null;
await until("health to show e2e-b paused", async () => (hb = await healthOf("e2e-b"))?.details?.is_paused === true, 10_000, () => show(hb));
const held = [];
for (let i = 0; i < 3; ++i) held.push(await add("e2e-b", "held"));
held.push(await add("e2e-b", "held", { priority: 2 }));
const doomedHeld = await add("e2e-b", "held", {}, "removed");
let mb = null;
await until("e2e-b's 5 waiting jobs reported as paused", async () => {
  hb = await healthOf("e2e-b");
  mb = (await monitor()).byQueue.get("e2e-b");
  return hb.details.is_paused === true && hb.stats.paused === 5 && hb.stats.waiting === 0 && mb.is_paused === true &&
    mb.counts.waiting === 4 && mb.counts.prioritized === 1;
}, 10_000, () => `health ${show(hb)}, monitor ${show(mb)}`);
await (await Job.fromId(qb, doomedHeld.id)).remove();
await until("the removed job to be cancelled", async () =>
  (snap = await get(jobPath("e2e-b", doomedHeld.id), { allow404: true }))?.state === "cancelled", 10_000, () => show(snap));
await until("health to count 4 paused jobs", async () => (hb = await healthOf("e2e-b")).stats.paused === 4, 10_000, () => show(hb));
await qb.resume();
await until("health to show e2e-b resumed", async () => (hb = await healthOf("e2e-b"))?.details?.is_paused === false, 10_000, () => show(hb));
await until("BullMQ to run the held jobs", () => allFinished(held), 10_000, null, 100);
console.log("bullmq_e2e: e2e-b paused (5 jobs held, 1 removed) and resumed");

// 4. e2e-trim: the stream trimmed past the server's last read id while it is stopped.
const qt = new Queue(TRIM, { connection, streams: { events: { maxLen: TRIM_MAXLEN } } });
queues.set(TRIM, qt);
await qt.getVersion(); // the meta (opts.maxLenEvents) is written
assert.equal(await redis.hget(`bull:${TRIM}:meta`, "opts.maxLenEvents"), String(TRIM_MAXLEN));
worker(TRIM, { concurrency: 50 });
const trimJobs = [];
async function addTrim(count) {
  for (let i = 0; i < count; i += 500) {
    const batch = Array.from({ length: Math.min(500, count - i) }, () => ({ name: "trim", data: { n: ++counter } }));
    for (const j of await qt.addBulk(batch)) trimJobs.push({ q: TRIM, id: j.id, kind: "trim", n: j.data.n, name: "trim" });
  }
}
const lastStreamId = async (q) => (await redis.xrevrange(`bull:${q}:events`, "+", "-", "COUNT", 1))[0]?.[0] ?? null;
const completedOf = async (q) => (await queues.get(q).getJobCounts("completed")).completed;
await addTrim(TRIM_WARMUP);
await until("BullMQ to run the warm-up trim jobs", async () => (await completedOf(TRIM)) === TRIM_WARMUP, 10_000);
let mt = null;
await until("jobwatch to read e2e-trim's stream to its end", async () => {
  mt = (await monitor()).byQueue.get(TRIM);
  return mt.last_id === (await lastStreamId(TRIM));
}, 10_000, async () => `${show(mt)}, stream ends at ${await lastStreamId(TRIM)}`);
const before = mt;
jw.proc.kill("SIGSTOP");
const stoppedAt = Date.now();
await addTrim(TRIM_JOBS);
await until(`BullMQ to run ${TRIM_JOBS} trim jobs`, async () => (await completedOf(TRIM)) === TRIM_WARMUP + TRIM_JOBS, 40_000,
  async () => show(await qt.getJobCounts()), 100);
const firstLeft = (await redis.xrange(`bull:${TRIM}:events`, "-", "+", "COUNT", 1))[0][0];
const xinfo = await redis.xinfo("STREAM", `bull:${TRIM}:events`);
const entriesAdded = xinfo[xinfo.indexOf("entries-added") + 1];
const xlen = await redis.xlen(`bull:${TRIM}:events`);
assert.ok(idLess(before.last_id, firstLeft),
  `test setup: the stream must be trimmed past jobwatch's last id ${before.last_id}, its first entry is ${firstLeft}`);
jw.proc.kill("SIGCONT");
console.log(`bullmq_e2e: jobwatch stopped ${Date.now() - stoppedAt} ms while ${TRIM_JOBS} jobs ran on ${TRIM}: ` +
  `${entriesAdded} events added, ${xlen} left, first ${firstLeft} > last read ${before.last_id}`);
await until("jobwatch to resync e2e-trim after the gap", async () =>
  (mt = (await monitor()).byQueue.get(TRIM)).resyncs > before.resyncs, 15_000, () => `before ${show(before)}, now ${show(mt)}`);

// --- at quiescence: BullMQ's view --------------------------------------------------------
let lastCounts = "";
await until("BullMQ's counts to stay the same", async () => {
  const c = show(await Promise.all([...queues.values()].map((q) => q.getJobCounts())));
  const same = c === lastCounts;
  lastCounts = c;
  return same && JSON.parse(c).every((x) => x.active + x.waiting + x.delayed + x.prioritized === 0);
}, 10_000, () => lastCounts, 300);
const everyJob = [...jobs, ...trimJobs];
const view = new Map(); // "q:id" -> BullMQ's job
await mapLimit(everyJob, 32, async (ref) => {
  const q = queues.get(ref.q);
  const job = await Job.fromId(q, ref.id);
  view.set(`${ref.q}:${ref.id}`, job
    ? { state: await job.getState(), name: job.name, ats: job.attemptsStarted, attempts: job.opts.attempts ?? 0,
        progress: job.progress, failedReason: job.failedReason, processedOn: job.processedOn,
        finishedOn: job.finishedOn, returnvalue: job.returnvalue,
        logs: ref.q === TRIM ? [] : (await q.getJobLogs(ref.id)).logs }
    : { state: "removed", attempts: ref.opts?.attempts ?? 0, logs: [] });
});

// --- jobwatch agrees, job by job ------------------------------------------------------------
const STATE = { completed: "succeeded", failed: "failed", active: "running", waiting: "queued", delayed: "queued",
  prioritized: "queued", "waiting-children": "queued", removed: "cancelled" };
function diffJob(ref, v, s) {
  if (!s) return ["not found in jobwatch (404)"];
  const d = [];
  const want = (field, got, exp) => isDeepStrictEqual(got, exp) || d.push(`${field} ${show(got)}, BullMQ ${show(exp)}`);
  want("state", s.state, STATE[v.state]);
  want("queue", s.queue, ref.q);
  if (v.state === "removed") return d;
  want("attempt", s.attempt, v.ats);
  want("job_type", s.job_type, v.name);
  want("max_attempts", s.max_attempts, v.attempts >= 1 ? v.attempts : undefined);
  const p = v.progress;
  if (typeof p === "number") want("progress.percent", s.progress?.percent, p);
  else if (p && typeof p === "object") {
    want("progress.percent", s.progress?.percent, p.percent ?? (100 * p.current) / p.total);
    want("progress.step", s.progress?.step, p.step ?? p.msg);
    for (const [k, x] of Object.entries(p))
      if (k !== "percent" && Number.isInteger(x)) want(`progress ${k}`, s.progress?.[k] ?? s.progress?.counters?.[k], x);
  }
  if (v.state === "failed") want("last_error", s.last_error, v.failedReason);
  if (v.state === "completed") {
    const ms = v.finishedOn - v.processedOn;
    if (!(typeof s.duration_ms === "number" && Math.abs(s.duration_ms - ms) <= 1))
      d.push(`duration_ms ${show(s.duration_ms)}, BullMQ finishedOn - processedOn = ${ms}`);
    want("result", s.result, v.returnvalue);
  }
  return d;
}
let pending = everyJob;
let diffs = [];
await until("jobwatch to agree with BullMQ on every job", async () => {
  const res = await mapLimit(pending, 32, async (ref) =>
    [ref, diffJob(ref, view.get(`${ref.q}:${ref.id}`), await get(jobPath(ref.q, ref.id), { allow404: true }))]);
  const bad = res.filter(([, d]) => d.length);
  pending = bad.map(([ref]) => ref);
  // Two examples of each kind of job and field that differs.
  const shown = new Map();
  diffs = [];
  for (const [r, d] of bad) {
    const key = `${r.kind} ${d.map((x) => x.split(" ")[0]).join(",")}`;
    const k = (shown.get(key) ?? 0) + 1;
    shown.set(key, k);
    if (k <= 2) diffs.push(`${r.q}:${r.id} (${r.kind}, BullMQ ${view.get(`${r.q}:${r.id}`).state}): ${d.join("; ")}`);
  }
  diffs.push(`(by kind and field: ${[...shown].map(([k, n]) => `${k}: ${n}`).join("; ")})`);
  return pending.length === 0;
}, 20_000, () => `${pending.length} of ${everyJob.length} jobs differ, e.g.\n  ${diffs.join("\n  ")}`, 250);

// --- counts, caught up, health -----------------------------------------------------------
let countDiffs = [];
await until("/api/v1/monitor/bullmq to equal getJobCounts() and each stream's end", async () => {
  mon = await monitor();
  countDiffs = [];
  for (const [name, q] of queues) {
    const want = await q.getJobCounts();
    const got = mon.byQueue.get(name);
    for (const k of Object.keys(want))
      if (got?.counts?.[k] !== want[k]) countDiffs.push(`${name} counts.${k} ${got?.counts?.[k]}, getJobCounts ${want[k]}`);
    const end = await lastStreamId(name);
    if (got?.last_id !== end) countDiffs.push(`${name} last_id ${got?.last_id}, stream ends at ${end}`);
    if (got?.is_paused !== false) countDiffs.push(`${name} is_paused ${got?.is_paused}`);
  }
  return countDiffs.length === 0;
}, 10_000, () => countDiffs.join("; "), 250);
assert.equal(mon.connected, true);
for (const q of MAIN) assert.ok(mon.byQueue.get(q).resyncs <= 1, `${q} was resynced without a gap: ${show(mon.byQueue.get(q))}`);
const trimEnd = mon.byQueue.get(TRIM);
assert.ok(trimEnd.resyncs > before.resyncs, `e2e-trim resyncs ${before.resyncs} -> ${trimEnd.resyncs}`);

let healthDiffs = [];
await until("/api/v1/health/queues to agree with getJobCounts()", async () => {
  const h = await get("/api/v1/health/queues");
  healthDiffs = [];
  for (const [name, q] of queues) {
    const c = await q.getJobCounts();
    const e = h.queues.find((x) => x.queue === name);
    if (!e) {
      healthDiffs.push(`${name} missing`);
      continue;
    }
    const want = { waiting: c.waiting + c.prioritized, active: c.active, completed: c.completed, failed: c.failed,
      delayed: c.delayed, paused: 0 };
    for (const [k, x] of Object.entries(want)) if (e.stats[k] !== x) healthDiffs.push(`${name} stats.${k} ${e.stats[k]}, want ${x}`);
    if (e.details.is_paused !== false) healthDiffs.push(`${name} is_paused ${e.details.is_paused}`);
  }
  return healthDiffs.length === 0;
}, 10_000, () => healthDiffs.join("; "), 250);

// --- log lines ---------------------------------------------------------------------------------
let logLines = 0;
for (const ref of jobs) {
  const v = view.get(`${ref.q}:${ref.id}`);
  if (v.state === "removed") continue;
  const r = await get(`${jobPath(ref.q, ref.id)}/logs?limit=1000`);
  const info = r.items.filter((i) => i.level === "info").map((i) => i.message);
  assert.deepEqual(info, v.logs, `${ref.q}:${ref.id} (${ref.kind}): log lines ${show(r.items)}, getJobLogs ${show(v.logs)}`);
  logLines += info.length;
  const warns = r.items.filter((i) => i.level === "warn" && /^stalled/.test(i.message));
  assert.equal(warns.length, ref.kind === "stall" ? 1 : 0, `${ref.q}:${ref.id} (${ref.kind}): stalled warnings ${show(r.items)}`);
}
assert.ok(view.get(`e2e-c:${stall.id}`).logs.length === 2, `the stall job logged twice: ${show(view.get(`e2e-c:${stall.id}`))}`);

// --- what the WebSocket clients saw ----------------------------------------------------------
const PATTERN = {
  num: ["queued", "started:1", "progress", "progress", "progress", "completed"],
  obj: ["queued", "started:1", "progress", "progress", "progress", "completed"],
  pct: ["queued", "started:1", "progress", "completed"],
  fail: ["queued", "started:1", "failed"],
  flaky: ["queued", "started:1", "retrying:2", "started:2", "retrying:3", "started:3", "progress", "completed"],
  doomed: ["queued", "started:1", "retrying:2", "started:2", "failed"],
  unrec: ["queued", "started:1", "failed"],
  later: ["queued", "started:1", "completed"],
  held: ["queued", "started:1", "completed"],
  removed: ["queued", "cancelled"],
  // the job goes back to queued: a job.retrying may say so
  stall: ["queued", "started:1", "progress", "retrying:2?", "started:2", "progress", "completed"],
};
const PERCENTS = { num: [10, 50, 100], obj: [25, 50, 75], pct: [40], flaky: [100], stall: [30, 100] };
function token(e) {
  const t = e.type.replace(/^job\./, "");
  return t === "started" || t === "retrying" ? `${t}:${e.attempt}` : t;
}
function matches(tokens, pattern) {
  let i = 0;
  for (const p of pattern) {
    const optional = p.endsWith("?");
    const want = optional ? p.slice(0, -1) : p;
    if (tokens[i] === want) ++i;
    else if (!optional) return false;
  }
  return i === tokens.length;
}
for (const w of watchers.values()) {
  w.closing = true;
  assert.deepEqual(w.problems, [], `${w.room}: ${w.problems.slice(0, 5).join("; ")}`);
}
let wsEvents = 0;
for (const ref of jobs) {
  const id = `${ref.q}:${ref.id}`;
  const v = view.get(id);
  const seen = watchers.get(ref.q).of(id);
  wsEvents += seen.length;
  const where = `${id} (${ref.kind}) over WebSocket`;
  const all = seen.map((x) => `${x.seq}:${token(x.event)}${x.event.type === "job.log" ? `/${x.event.level}` : ""}`).join(" ");
  for (let i = 1; i < seen.length; ++i) assert.ok(seen[i].seq > seen[i - 1].seq, `${where}: seq out of order: ${all}`);
  const life = seen.filter((x) => x.event.type !== "job.log").map((x) => x.event);
  assert.ok(matches(life.map(token), PATTERN[ref.kind]), `${where}: ${all}, want ${PATTERN[ref.kind].join(" ")}`);
  const queued = life[0];
  assert.equal(queued.job_type, ref.name, `${where}: job.queued job_type ${show(queued)}`);
  assert.equal(queued.max_attempts, v.attempts >= 1 ? v.attempts : undefined, `${where}: job.queued max_attempts ${show(queued)}`);
  const progress = life.filter((e) => e.type === "job.progress");
  if (PERCENTS[ref.kind]) assert.deepEqual(progress.map((e) => e.percent), PERCENTS[ref.kind], `${where}: progress ${show(progress)}`);
  if (ref.kind === "obj") assert.deepEqual(progress.map((e) => e.step), ["s1", "s2", "s3"], `${where}: steps ${show(progress)}`);
  if (ref.kind === "pct") assert.equal(progress[0].step, "loading", `${where}: step ${show(progress)}`);
  for (const e of life.filter((x) => x.type === "job.retrying"))
    if (ref.kind !== "stall")
      assert.match(e.error ?? "", new RegExp(`^${ref.kind} ${ref.n} attempt [12]$`), `${where}: ${show(e)}`);
  const end = life.at(-1);
  if (end.type === "job.failed") {
    assert.equal(end.error, v.failedReason, `${where}: ${show(end)}`);
    assert.equal(end.will_retry, false, `${where}: ${show(end)}`);
    assert.equal(end.attempt, v.ats, `${where}: ${show(end)}`);
  }
  if (end.type === "job.completed") assert.deepEqual(end.result, v.returnvalue, `${where}: ${show(end)}`);
  const logs = seen.filter((x) => x.event.type === "job.log" && x.event.level === "info").map((x) => x.event.message);
  assert.deepEqual(logs, v.logs, `${where}: log lines ${show(logs)}, getJobLogs ${show(v.logs)}`);
  if (ref.kind === "stall") {
    const at = (f) => seen.findIndex(f);
    const s1 = at((x) => x.event.type === "job.started" && x.event.attempt === 1);
    const s2 = at((x) => x.event.type === "job.started" && x.event.attempt === 2);
    const warn = at((x) => x.event.type === "job.log" && x.event.level === "warn" && /^stalled/.test(x.event.message));
    assert.ok(s1 >= 0 && warn > s1 && s2 > warn, `${where}: want started(1), a warning "stalled...", started(2) in order: ${all}`);
  }
}

// A graceful stop (SIGTERM) ends the server at once: the source's connections and loops stop with it.
{
  const proc = jw.proc;
  children.delete(proc); // its exit is expected now
  const t0 = Date.now();
  const code = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("jobwatch_demo did not exit within 5 s of SIGTERM")), 5_000);
    proc.once("exit", (c) => {
      clearTimeout(t);
      resolve(c);
    });
    proc.kill("SIGTERM");
  });
  assert.equal(code, 0, "exit status after SIGTERM");
  console.log(`bullmq_e2e: jobwatch stopped ${Date.now() - t0} ms after SIGTERM`);
}

clearTimeout(overall);
const secs = ((Date.now() - started) / 1000).toFixed(1);
console.log(`bullmq e2e: ${everyJob.length} jobs on ${queues.size} queues equal (state, attempt, progress, error, ` +
  `duration, result), counts equal getJobCounts(), ${logLines} log lines equal, ${wsEvents} WebSocket events in order; ` +
  `${TRIM} trimmed to ${xlen} of ${entriesAdded} events, resyncs ${before.resyncs} -> ${trimEnd.resyncs}, gaps ${trimEnd.gaps}; ` +
  `${secs} s`);
cleanup();
console.log("PASS");
process.exit(0);
