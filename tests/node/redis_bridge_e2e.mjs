// The Redis pub/sub bridge end to end, with real processes: a redis-server on
// a free 127.0.0.1 port and the demo server with --redis.publish=true and
// --redis.ingest_channels set.
//   - a subscriber (ioredis) on the global channel and on one user's channel
//     receives every status change of that user's jobs, in order, in the
//     documented shape; jobs of other users reach the global channel only;
//   - events another service PUBLISHes on an ingest channel are ingested
//     (the job is then served by REST), an array of them too;
//   - bad messages (not JSON, an unknown type, a bad field, a bad event in an
//     array) are counted, and the events after them are still ingested.
//
// Usage: node redis_bridge_e2e.mjs <jobwatch_demo> [--redis-server PATH]
// Exits 0 when every check holds; prints the first failure and exits 1.
// Every wait has a deadline; every process it starts is stopped on exit.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import net from "node:net";
import readline from "node:readline";
import Redis from "ioredis";

const args = process.argv.slice(2);
const demo = args[0];
const ri = args.indexOf("--redis-server");
const REDIS_SERVER = (ri >= 0 && args[ri + 1]) || "redis-server";

const children = new Set();
const clients = [];
const overall = setTimeout(() => fail(new Error("deadline of 60 s passed")), 60_000);

function cleanup() {
  for (const c of clients) c.disconnect();
  for (const c of children) {
    try {
      c.kill("SIGKILL");
    } catch {}
  }
}
function fail(err) {
  console.error("redis_bridge_e2e failed:", err?.stack ?? err);
  cleanup();
  process.exit(1);
}
process.on("unhandledRejection", fail);
process.on("uncaughtException", fail);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(what, fn, ms = 10_000) {
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
const redis = spawn(REDIS_SERVER, ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "",
  "--appendonly", "no"], { stdio: "ignore" });
children.add(redis);
function ping() {
  return new Promise((resolve) => {
    const s = net.connect(redisPort, "127.0.0.1");
    s.setTimeout(1000, () => s.destroy());
    s.on("error", () => resolve(false));
    s.on("data", (d) => {
      resolve(String(d).startsWith("+PONG"));
      s.end();
    });
    s.write("PING\r\n");
  });
}
await until("redis-server", ping);
const pub = new Redis({ host: "127.0.0.1", port: redisPort });
clients.push(pub);

const server = spawn(demo, ["--gateway.port=0", "--gateway.host=127.0.0.1", "--storage.mode=memory",
  `--redis.url=redis://127.0.0.1:${redisPort}/0`, "--redis.publish=true",
  "--redis.status_channel=generation:status-updates", "--redis.user_channel_pattern=generation:user:{user_id}",
  "--redis.ingest_channels=ingest:a,ingest:b"],
{ env: { ...process.env, JOBWATCH_DEMO_WORKLOAD: "off" }, stdio: ["ignore", "pipe", "pipe"] });
children.add(server);
let stderr = "";
server.stderr.on("data", (d) => (stderr += d));
const port = await new Promise((resolve, reject) => {
  const t = setTimeout(() => reject(new Error("the server did not start: " + stderr)), 15_000);
  readline.createInterface({ input: server.stdout }).on("line", (l) => {
    const m = /^listening (\d+)/.exec(l);
    if (m) {
      clearTimeout(t);
      resolve(Number(m[1]));
    }
  });
});
const base = `http://127.0.0.1:${port}`;
const getJson = async (path) => {
  const r = await fetch(base + path);
  return { status: r.status, body: await r.json() };
};

// Subscribers first: pub/sub keeps nothing for those who come later.
const sub = new Redis({ host: "127.0.0.1", port: redisPort });
clients.push(sub);
const got = { global: [], u1: [], u2: [] };
sub.on("message", (channel, message) => {
  const m = JSON.parse(message);
  if (channel === "generation:status-updates") got.global.push(m);
  else if (channel === "generation:user:u1") got.u1.push(m);
  else if (channel === "generation:user:u2") got.u2.push(m);
});
await sub.subscribe("generation:status-updates", "generation:user:u1", "generation:user:u2");
// The server's subscriber must be on its channels before anything is published there.
await until("the server to subscribe", async () => {
  const n = await pub.pubsub("NUMSUB", "ingest:a", "ingest:b");
  return Number(n[1]) === 1 && Number(n[3]) === 1;
});

// --- status changes out ----------------------------------------------------------
async function post(events) {
  const r = await fetch(base + "/api/v1/events", { method: "POST", headers: { "content-type": "application/x-ndjson" },
    body: events.map((e) => JSON.stringify(e)).join("\n") + "\n" });
  assert.ok(r.status === 200 || r.status === 202, `ingest answered ${r.status}: ${await r.text()}`);
}
await post([
  { type: "job.queued", job_id: "gen-1", queue: "sora", user_id: "u1", job_type: "product_card" },
  { type: "job.started", job_id: "gen-1", queue: "sora", attempt: 1 },
  { type: "job.progress", job_id: "gen-1", queue: "sora", percent: 40 },
  { type: "job.completed", job_id: "gen-1", queue: "sora", duration_ms: 12 },
  { type: "job.queued", job_id: "gen-2", queue: "sora", user_id: "u2" },
  { type: "job.started", job_id: "gen-2", queue: "sora", attempt: 1 },
  { type: "job.failed", job_id: "gen-2", queue: "sora", attempt: 1, will_retry: false, error: "quota exceeded" },
  { type: "job.queued", job_id: "gen-3", queue: "sora" },
]);
await until("the status messages", () => got.global.length >= 7 && got.u1.length >= 3 && got.u2.length >= 3);
await sleep(200); // nothing more may come
const statuses = (list, id) => list.filter((m) => m.jobId === id).map((m) => m.status);
assert.deepEqual(statuses(got.global, "gen-1"), ["queued", "running", "succeeded"], "gen-1 on the global channel");
assert.deepEqual(statuses(got.u1, "gen-1"), ["queued", "running", "succeeded"], "gen-1 on u1's channel");
assert.deepEqual(statuses(got.global, "gen-2"), ["queued", "running", "failed"], "gen-2 on the global channel");
assert.deepEqual(statuses(got.u2, "gen-2"), ["queued", "running", "failed"], "gen-2 on u2's channel");
assert.deepEqual(statuses(got.global, "gen-3"), ["queued"], "gen-3 (no user) on the global channel");
assert.equal(got.u1.filter((m) => m.jobId !== "gen-1").length, 0, "u1's channel carries only u1's jobs");
assert.equal(got.u2.filter((m) => m.jobId !== "gen-2").length, 0, "u2's channel carries only u2's jobs");
const done = got.u1.find((m) => m.status === "succeeded");
assert.equal(done.userId, "u1");
assert.equal(done.queue, "sora");
assert.equal(done.type, "product_card");
assert.equal(done.previousStatus, "running");
assert.equal(done.attempt, 1);
assert.equal(typeof done.timestamp, "number");
assert.ok(done.seq > 0, "seq");
const failed = got.u2.find((m) => m.status === "failed");
assert.equal(failed.metadata.error, "quota exceeded");
const seqs = got.global.map((m) => m.seq);
assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), "messages in seq order");

// --- events in ---------------------------------------------------------------------
const bad = [
  "not json at all",
  JSON.stringify({ type: "job.exploded", job_id: "x", queue: "q" }),
  JSON.stringify({ type: "job.queued", job_id: "bad id with spaces", queue: "q" }),
  JSON.stringify([{ type: "job.queued", job_id: "arr-ok", queue: "q" }, { type: "job.started", job_id: "arr-bad", queue: "q" }]),
];
for (const m of bad) await pub.publish("ingest:a", m);
await pub.publish("ingest:a", JSON.stringify({ type: "job.queued", job_id: "from-svc-1", queue: "bots", user_id: "u1" }));
await pub.publish("ingest:b", JSON.stringify([
  { type: "job.queued", job_id: "from-svc-2", queue: "bots" },
  { type: "job.started", job_id: "from-svc-2", queue: "bots", attempt: 1 },
]));
const job1 = await until("from-svc-1 ingested", async () => {
  const r = await getJson("/api/v1/jobs/from-svc-1");
  return r.status === 200 && r.body;
});
assert.equal(job1.state, "queued");
assert.equal(job1.user_id, "u1");
const job2 = await until("from-svc-2 ingested", async () => {
  const r = await getJson("/api/v1/jobs/from-svc-2");
  return r.status === 200 && r.body.state === "running" && r.body;
});
assert.equal(job2.attempt, 1);
// The bad array refused as a whole, like an HTTP batch with a bad event.
assert.equal((await getJson("/api/v1/jobs/arr-ok")).status, 404, "no event of a refused message is ingested");
const mon = (await getJson("/api/v1/monitor/redis/subscriber")).body;
assert.equal(mon.connected, true);
assert.equal(mon.messages, 6, "messages received");
assert.equal(mon.bad_messages, 4, "bad messages counted");
assert.equal(mon.accepted, 3, "events accepted");
// An ingested job's status changes go out too.
await until("from-svc-1 on u1's channel", () => got.u1.some((m) => m.jobId === "from-svc-1"));
const pm = (await getJson("/api/v1/monitor/redis/publisher")).body;
assert.equal(pm.dropped, 0);
assert.ok(pm.published >= got.global.length + got.u1.length + got.u2.length - 2, "published counted");
assert.match(stderr, /channel ingest:a: bad message/, "bad messages are logged with their channel");
assert.equal(server.exitCode, null, "the server still runs");

console.log(`redis bridge e2e: ${got.global.length} global and ${got.u1.length + got.u2.length} user messages, ` +
  `${mon.accepted} events ingested, ${mon.bad_messages} bad messages counted`);
// A graceful stop (SIGTERM) ends the server at once: the bridge's connections and loops stop with it.
children.delete(server);
const stopStart = Date.now();
const code = await new Promise((resolve, reject) => {
  const t = setTimeout(() => reject(new Error("the server did not exit within 5 s of SIGTERM")), 5_000);
  server.once("exit", (c) => {
    clearTimeout(t);
    resolve(c);
  });
  server.kill("SIGTERM");
});
assert.equal(code, 0, "exit status after SIGTERM");
console.log(`redis bridge e2e: the server stopped ${Date.now() - stopStart} ms after SIGTERM`);
clearTimeout(overall);
cleanup();
console.log("PASS");
