// Several instances on one Redis Stream (cluster.mode redis), end to end,
// with real processes: a redis-server (appendonly on) and three demo servers
// on free 127.0.0.1 ports, 1,000 WebSocket clients (Node's `ws`) spread
// across them, and a seeded stream of 100,000 events ingested round-robin
// through all three.
//
// Mid-stream one instance is killed with SIGKILL and started again (its
// clients resume with `since`, half on it, half on another instance), then
// Redis is stopped for 5 s and started again. At the end:
//   - every client received every event of its room exactly once, in seq
//     order, and each room's events carry the same numbers on every instance;
//   - no event whose ingest was acknowledged is lost, none is doubled;
//   - every instance answers the REST queries alike (jobs, queues, failures).
// Then a stream trimmed past a stopped instance's position: its clients are
// told to resume and get `reset`, and the instance reports the trim.
//
// With --tls the instances reach Redis over TLS (rediss://, a self-signed
// certificate made by the openssl command, given as cluster.redis_ca_file);
// the test's own commands use Redis's plain port.
//
// Usage: node cluster_e2e.mjs <jobwatch_demo> [--redis-server PATH] [--tls] [--events N] [--clients N] [--seed N]
// Exits 0 when every check holds; prints the first failure and exits 1.
// Every wait has a deadline; every process it starts is stopped on exit.
import WebSocket from "ws";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import readline from "node:readline";

const args = process.argv.slice(2);
const demo = args[0];
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const EVENTS = opt("events", 100_000);
const ri = args.indexOf("--redis-server");
const REDIS_SERVER = (ri >= 0 && args[ri + 1]) || "redis-server";
const CLIENTS = opt("clients", 1000);
const TLS = args.includes("--tls");
let seed = opt("seed", 7);
const QUEUES = 100; // rooms queue:q0..q99: ten clients per room, spread over the instances
const PER_JOB = 6; // queued, started, progress x3, completed
const BATCH = 100;

const children = new Set();
const dir = mkdtempSync(join(tmpdir(), "jobwatch-cluster-"));
const overall = setTimeout(() => fail(new Error("deadline of 420 s passed")), 420_000);

function cleanup() {
  for (const c of children) {
    try {
      c.kill("SIGKILL");
    } catch {}
  }
  rmSync(dir, { recursive: true, force: true });
}
function fail(err) {
  console.error("cluster_e2e failed:", err?.stack ?? err);
  cleanup();
  process.exit(1);
}
process.on("unhandledRejection", fail);
process.on("uncaughtException", fail);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function rand() {
  // xorshift32: the same stream for the same seed
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 4294967296;
}
async function until(what, fn, ms = 30_000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
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

// --- processes -----------------------------------------------------------------
const redisPort = await freePort();
const tlsPort = TLS ? await freePort() : 0;
const tlsArgs = [];
if (TLS) {
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
    "-keyout", join(dir, "redis.key"), "-out", join(dir, "redis.crt")], { stdio: "ignore" });
  tlsArgs.push("--tls-port", String(tlsPort), "--tls-cert-file", join(dir, "redis.crt"),
    "--tls-key-file", join(dir, "redis.key"), "--tls-auth-clients", "no");
}
const redisUrl = TLS ? `rediss://127.0.0.1:${tlsPort}/0` : `redis://127.0.0.1:${redisPort}/0`;
let redis = null;
async function startRedis() {
  redis = spawn(REDIS_SERVER, ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "",
    "--appendonly", "yes", "--dir", dir, ...tlsArgs], { stdio: "ignore" });
  children.add(redis);
  await until("redis-server", async () => (await redisCmd("PING").catch(() => "")) === "+PONG\r\n", 10_000);
}
function redisCmd(...words) {
  return new Promise((resolve, reject) => {
    const s = net.connect(redisPort, "127.0.0.1");
    let out = "";
    s.setTimeout(2000, () => s.destroy(new Error("redis timeout")));
    s.on("error", reject);
    s.on("data", (d) => {
      out += d;
      s.end();
    });
    s.on("close", () => resolve(out));
    s.write(`*${words.length}\r\n` + words.map((w) => `$${Buffer.byteLength(w)}\r\n${w}\r\n`).join(""));
  });
}
async function stopRedis() {
  await redisCmd("SHUTDOWN"); // with appendonly on: the file is flushed first
  await until("redis-server to exit", () => redis.exitCode !== null, 10_000);
  children.delete(redis);
}

class Instance {
  constructor(name, extra = []) {
    this.name = name;
    this.extra = extra;
  }
  async start() {
    const argv = ["--gateway.port=0", "--gateway.host=127.0.0.1", "--storage.mode=sqlite",
      `--storage.path=${join(dir, this.name + ".db")}`, "--cluster.mode=redis",
      `--cluster.redis_url=${redisUrl}`, ...(TLS ? [`--cluster.redis_ca_file=${join(dir, "redis.crt")}`] : []), `--cluster.instance_id=${this.name}`,
      "--event_log.history_per_room=5000", "--event_log.history_size=300000",
      "--gateway.max_send_queue_bytes=67108864", ...this.extra];
    this.proc = spawn(demo, argv, { env: { ...process.env, JOBWATCH_DEMO_WORKLOAD: "off" },
      stdio: ["ignore", "pipe", "inherit"] });
    children.add(this.proc);
    const lines = readline.createInterface({ input: this.proc.stdout });
    this.port = await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${this.name} did not start`)), 30_000);
      lines.on("line", (l) => {
        const m = /^listening (\d+)/.exec(l);
        if (m) {
          clearTimeout(t);
          resolve(Number(m[1]));
        }
      });
      this.proc.once("exit", (code) => reject(new Error(`${this.name} exited with ${code}`)));
    });
    this.base = `http://127.0.0.1:${this.port}`;
    await until(`${this.name} ready`, async () => (await fetch(`${this.base}/readyz`).catch(() => null))?.ok, 60_000);
  }
  kill() {
    this.proc.kill("SIGKILL");
    children.delete(this.proc);
    this.port = null;
  }
  async get(path) {
    const res = await fetch(this.base + path);
    assert.equal(res.status, 200, `${this.name} GET ${path}: ${res.status}`);
    return res.json();
  }
}

// --- clients -------------------------------------------------------------------
// A client holds one room; it reconnects on its own and resumes with `since`.
class Client {
  constructor(n, room) {
    this.n = n;
    this.room = room;
    this.last = 0; // the last seq of this room it has
    this.ids = new Map(); // event id -> seq
    this.seqs = [];
    this.resets = 0;
    this.lagged = 0;
  }
  connect(inst) {
    this.inst = inst;
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${inst.port}/ws`);
      this.ws = ws;
      ws.on("error", () => {}); // a killed instance: `close` follows
      ws.on("close", () => {
        if (this.ws === ws) this.ws = null;
      });
      ws.once("open", () => this.subscribe());
      ws.on("message", (data) => {
        const m = JSON.parse(data.toString());
        if (m.type === "subscribed" && m.room === this.room) {
          this.subscribedAt = m.seq;
          resolve();
        } else if (m.type === "event" && m.room === this.room) {
          if (m.seq <= this.last) this.error ??= `client ${this.n}: seq ${m.seq} after ${this.last}`;
          const id = m.event.id;
          if (this.ids.has(id)) this.error ??= `client ${this.n}: event ${id} twice (seq ${this.ids.get(id)}, ${m.seq})`;
          this.ids.set(id, m.seq);
          this.seqs.push(m.seq);
          this.last = m.seq;
        } else if (m.type === "lagged" && m.room === this.room) {
          ++this.lagged;
          this.subscribe(m.resume_from);
        } else if (m.type === "reset" && m.room === this.room) {
          ++this.resets;
          this.last = m.seq;
        } else if (m.type === "error") {
          this.error ??= `client ${this.n}: error ${JSON.stringify(m)}`;
        }
      });
      setTimeout(() => reject(new Error(`client ${this.n} not subscribed within 20 s`)), 20_000).unref();
    });
  }
  subscribe(since = this.last) {
    this.ws?.send(JSON.stringify({ type: "subscribe", room: this.room, since }));
  }
}

// --- the workload ----------------------------------------------------------------
// Producer p owns jobs p, p+3, ... and sends their events in order, interleaved,
// through instance p (another while that one is down), retrying a refused batch
// with the same event ids (a repeat is dropped as a duplicate).
function makeEvents(p, total) {
  const out = [];
  const active = [];
  let next = p;
  while (out.length < total) {
    while (active.length < 40) active.push({ id: `j${next}`, q: `q${next % QUEUES}`, k: 0, fail: next % 17 === 0 }), (next += 3);
    const i = Math.floor(rand() * active.length);
    const j = active[i];
    const head = { job_id: j.id, queue: j.q, id: `${j.id}-${j.k}` };
    if (j.k === 0) out.push({ ...head, type: "job.queued", max_attempts: 1 });
    else if (j.k === 1) out.push({ ...head, type: "job.started", attempt: 1 });
    else if (j.k < PER_JOB - 1) out.push({ ...head, type: "job.progress", percent: 25 * (j.k - 1) });
    else out.push(j.fail ? { ...head, type: "job.failed", attempt: 1, will_retry: false, error: "boom" } : { ...head, type: "job.completed" });
    if (++j.k === PER_JOB) active.splice(i, 1);
  }
  return out;
}

const acked = new Set();
let refusedBatches = 0;
async function produce(p, events, instances, pace) {
  for (let i = 0; i < events.length; i += BATCH) {
    const batch = events.slice(i, i + BATCH);
    const body = batch.map((e) => JSON.stringify(e)).join("\n") + "\n";
    for (let attempt = 0; ; ++attempt) {
      if (attempt > 600) throw new Error(`producer ${p}: batch at ${i} refused for 60 s`);
      const inst = instances[(p + (attempt ? attempt : 0)) % instances.length];
      let res = null;
      if (inst.port) {
        res = await fetch(`${inst.base}/api/v1/events`, { method: "POST", headers: { "content-type": "application/x-ndjson" }, body })
          .catch(() => null);
      }
      if (res?.status === 200) {
        const r = await res.json();
        const refused = r.results.filter((x) => x.status !== "duplicate");
        if (refused.length === 0) {
          for (const e of batch) acked.add(e.id);
          break;
        }
        assert.ok(refused.every((x) => x.status === "unavailable"), JSON.stringify(refused.slice(0, 3)));
      }
      ++refusedBatches;
      await sleep(100);
    }
    await pace();
  }
}

// --- the run -----------------------------------------------------------------------
await startRedis();
const instances = [new Instance("a"), new Instance("b"), new Instance("c")];
for (const inst of instances) await inst.start();
console.log(`cluster_e2e: redis on ${redisPort}${TLS ? ` (TLS on ${tlsPort})` : ""}, instances on ${instances.map((i) => i.port).join(", ")}`);

const clients = [];
for (let n = 0; n < CLIENTS; ++n) clients.push(new Client(n, `queue:q${n % QUEUES}`));
for (let n = 0; n < CLIENTS; n += 100)
  await Promise.all(clients.slice(n, n + 100).map((c) => c.connect(instances[c.n % 3])));
console.log(`cluster_e2e: ${CLIENTS} clients subscribed`);

const perProducer = Math.ceil(EVENTS / 3);
const events = [0, 1, 2].map((p) => makeEvents(p, perProducer));
const total = events.reduce((n, e) => n + e.length, 0);
let sent = 0;
const pace = async () => {
  sent += BATCH;
  await sleep(25); // about 12,000 events/s in all: long enough for the faults below
};
const producing = Promise.all([0, 1, 2].map((p) => produce(p, events[p], instances, pace)));

// SIGKILL instance a at about a quarter; its clients go half to b, half to a once it is back.
await until("a quarter of the stream", () => sent >= total / 4, 120_000);
const a = instances[0];
a.kill();
console.log(`cluster_e2e: killed a at ${sent} events`);
await until("a's clients to notice", () => clients.filter((c) => c.inst === a).every((c) => !c.ws), 10_000);
const moved = clients.filter((c) => c.inst === a);
await Promise.all(moved.filter((c, i) => i % 2 === 0).map((c) => c.connect(instances[1])));
await a.start();
console.log(`cluster_e2e: a restarted on ${a.port}`);
await Promise.all(moved.filter((c, i) => i % 2 === 1).map((c) => c.connect(a)));

// Redis away for 5 s at about 60 %: ingest is refused meanwhile, connections stay open.
await until("60 % of the stream", () => sent >= total * 0.6, 120_000);
await stopRedis();
console.log(`cluster_e2e: redis stopped at ${sent} events`);
await sleep(1000);
for (const inst of instances) {
  const r = await fetch(`${inst.base}/readyz`);
  assert.equal(r.status, 503, `${inst.name} must not be ready without Redis`);
}
await sleep(4000);
await startRedis();
console.log("cluster_e2e: redis started again");
assert.ok(clients.every((c) => c.ws && c.ws.readyState === WebSocket.OPEN), "connections stay open through the outage");

await producing;
console.log(`cluster_e2e: ${total} events acknowledged (${refusedBatches} batches refused and sent again)`);
assert.equal(acked.size, total);

// Every instance applies everything.
const head = Number((await redisCmd("GET", "jobwatch:events:seq")).split("\r\n")[1]);
const healths = {};
await until("every instance to catch up", async () => {
  for (const inst of instances) {
    const h = (healths[inst.name] = await inst.get("/api/v1/health"));
    if (h.checks.cluster.applied < head || !h.ready) return false;
  }
  return true;
}, 60_000).catch((e) => {
  throw new Error(`${e.message} to ${head}: ${JSON.stringify(healths)}`);
});

// Every client has every event of its room, once, in order.
const byQueue = new Map();
for (const list of events) for (const e of list) byQueue.set(e.queue, (byQueue.get(e.queue) ?? new Set()).add(e.id));
await until("every client to receive its room's events", () => clients.every((c) => c.ids.size >= byQueue.get(c.room.slice(6)).size), 60_000);
const seqOf = new Map(); // event id -> seq, the same for every client
for (const c of clients) {
  assert.equal(c.error, undefined, c.error);
  assert.equal(c.resets, 0, `client ${c.n} got a reset`);
  const want = byQueue.get(c.room.slice(6));
  assert.equal(c.ids.size, want.size, `client ${c.n}: ${c.ids.size} events of ${want.size}`);
  for (const [id, seq] of c.ids) {
    assert.ok(want.has(id), `client ${c.n}: event ${id} is not of its room`);
    const s = seqOf.get(id);
    if (s === undefined) seqOf.set(id, seq);
    else assert.equal(seq, s, `event ${id}: seq ${seq} here, ${s} elsewhere`);
  }
}
for (const id of acked) assert.ok(seqOf.has(id), `acknowledged event ${id} was lost`);
console.log("cluster_e2e: every client has its room's events exactly once, in order, with the same numbers");

// Every instance answers alike (summaries without the moment they were computed).
const strip = (v) =>
  JSON.parse(JSON.stringify(v), (k, x) => (["updated_at", "computed_at", "throughput", "rate_1m", "rate_5m", "as_of"].includes(k) ? undefined : x));
const paths = ["/api/v1/queues", "/api/v1/jobs/failed/stats", "/api/v1/jobs/failed/recent?limit=100",
  "/api/v1/jobs?limit=100", "/api/v1/jobs?limit=100&offset=3000", "/api/v1/jobs?queue=q7&limit=100",
  "/api/v1/jobs?status=failed&limit=100", "/api/v1/jobs/j0", "/api/v1/jobs/j0/events", "/api/v1/jobs/j3/logs"];
for (const p of paths) {
  const [x, y, z] = await Promise.all(instances.map((i) => i.get(p)));
  assert.deepEqual(strip(y), strip(x), `b and a differ on ${p}`);
  assert.deepEqual(strip(z), strip(x), `c and a differ on ${p}`);
}
// The monitor: every instance, each caught up (heartbeats are a second old at most;
// the leader may append alerts meanwhile, so the head can move on).
let mon = null;
await until("the monitor to show three instances caught up", async () => {
  mon = await instances[1].get("/api/v1/monitor/cluster");
  return mon.instances.length === 3 && mon.instances.every((i) => i.lag === 0 && i.ready);
}, 15_000).catch((e) => {
  throw new Error(`${e.message}: ${JSON.stringify(mon)}`);
});
assert.ok(mon.last_seq >= head, JSON.stringify(mon));
console.log("cluster_e2e: every instance answers alike");
for (const c of clients) c.ws?.close();

// --- a stream trimmed past a stopped instance ---------------------------------------
const trim = ["--cluster.stream=jobwatch:trim", "--cluster.stream_max_len=1000", "--storage.mode=memory"];
const t = new Instance("t", trim);
const u = new Instance("u", trim);
await t.start();
await u.start();
const watcher = new Client(-1, "queue:t0");
await watcher.connect(t);
t.proc.kill("SIGSTOP");
const burst = [];
for (let i = 0; i < 6000; ++i) burst.push({ type: "job.queued", job_id: `t${i}`, queue: `t${i % 2}`, id: `t${i}` });
for (let i = 0; i < burst.length; i += 500) {
  const res = await fetch(`${u.base}/api/v1/events`, { method: "POST", headers: { "content-type": "application/x-ndjson" },
    body: burst.slice(i, i + 500).map((e) => JSON.stringify(e)).join("\n") + "\n" });
  assert.equal(res.status, 200);
}
t.proc.kill("SIGCONT");
await until("the trimmed instance's client to get a reset", () => watcher.resets > 0, 30_000);
assert.ok(watcher.lagged > 0, "told to resume first");
const th = await t.get("/api/v1/health");
assert.ok(th.checks.cluster.trimmed > 0, JSON.stringify(th));
console.log(`cluster_e2e: trimmed past t (${th.checks.cluster.trimmed} entries): its client got reset`);
watcher.ws?.close();

clearTimeout(overall);
cleanup();
console.log("cluster_e2e: all checks passed");
process.exit(0);
