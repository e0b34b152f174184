// The notifier end to end, with real processes and sockets: the demo server
// (no workload, memory storage) with five webhook targets, a receiver
// (node:http) on a free 127.0.0.1 port, a TCP server that accepts and never
// answers, and a closed port.
//   - retry: the first three deliveries fail with 500; the retries keep the
//     configured backoff (within tolerance), the breaker opens after three
//     failures (GET /api/v1/notifications says so) and the probe after the
//     cool-down succeeds and closes it;
//   - limited: a 429 with Retry-After: 2 delays the retry by about 2 s;
//   - signed: the HMAC of timestamp "." body checks out, the timestamp is
//     fresh, the configured header arrives; the dead-letter alert (15 failed
//     jobs published over HTTP) is exactly one notification;
//   - hang and closed: with both away, ingest latency over HTTP stays close
//     to a baseline measured first, the queue bound holds (depth <= size,
//     dropped counted, every notification accounted for);
//   - secrets appear neither in GET /api/v1/monitor/config nor in the log;
//   - a bad target URL stops the server at start with a clear error.
//
// Usage: node notifier_e2e.mjs <jobwatch_demo>
// Exits 0 when every check holds; prints the first failure and exits 1.
// Every wait has a deadline; every process and server it starts is stopped on exit.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import crypto from "node:crypto";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";

const demo = process.argv[2];
assert.ok(demo, "usage: node notifier_e2e.mjs <jobwatch_demo>");

const children = new Set();
const servers = [];
const sockets = new Set();
const overall = setTimeout(() => fail(new Error("deadline of 90 s passed")), 90_000);

function cleanup() {
  for (const c of children) {
    try {
      c.kill("SIGKILL");
    } catch {}
  }
  for (const s of sockets) s.destroy();
  for (const s of servers) s.close();
}
function fail(err) {
  console.error("notifier_e2e failed:", err?.stack ?? err);
  cleanup();
  process.exit(1);
}
process.on("unhandledRejection", fail);
process.on("uncaughtException", fail);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(what, fn, ms = 10_000, every = 50) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(every);
  }
}
function listen(server) {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(server.address().port));
  });
}
async function closedPort() {
  const s = net.createServer();
  const port = await listen(s);
  await new Promise((r) => s.close(r));
  return port;
}

// --- the receiver ------------------------------------------------------------------
const SECRET = "s3cret-hmac-key";
const HEADER_SECRET = "Bearer hdr-secret-token";
const got = []; // {path, at, headers, body, status}
let retryCalls = 0;
let limitedCalls = 0;
function receive(req, res) {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks).toString("utf8");
    const entry = { path: req.url, at: performance.now(), headers: req.headers, body, status: 200,
      remotePort: req.socket.remotePort };
    got.push(entry);
    const answer = (status, headers = {}) => {
      entry.status = status;
      res.writeHead(status, { "content-type": "text/plain", ...headers });
      res.end(status === 200 ? "ok" : "no");
    };
    if (req.url === "/retry") {
      if (++retryCalls <= 3) return answer(500);
      return answer(200);
    }
    if (req.url === "/limited") {
      if (++limitedCalls === 1) return answer(429, { "retry-after": "2" });
      return answer(200);
    }
    return answer(200);
  });
}
const receiver = http.createServer(receive);
servers.push(receiver);
const rport = await listen(receiver);

// The same receiver over TLS, with a certificate for 127.0.0.1 made by openssl now.
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "jobwatch-notifier-"));
process.on("exit", () => fs.rmSync(tmp, { recursive: true, force: true }));
const certFile = path.join(tmp, "cert.pem");
const keyFile = path.join(tmp, "key.pem");
execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", keyFile, "-out", certFile,
  "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], { stdio: "ignore" });
const tlsReceiver = https.createServer({ key: fs.readFileSync(keyFile), cert: fs.readFileSync(certFile) }, receive);
servers.push(tlsReceiver);
const tlsPort = await listen(tlsReceiver);

// Accepts and never answers (a target that hangs).
const hang = net.createServer((s) => {
  sockets.add(s);
  s.on("data", () => {});
  s.on("error", () => {});
});
servers.push(hang);
const hangPort = await listen(hang);
const deadPort = await closedPort();

// --- the server ----------------------------------------------------------------------
const R = `http://127.0.0.1:${rport}`;
const targets = {
  retry: { url: `${R}/retry`, backoff_initial_ms: 400, backoff_max_ms: 4000, max_attempts: 6, breaker_failures: 3,
    breaker_cooldown_ms: 1500 },
  limited: { url: `${R}/limited`, backoff_initial_ms: 100, backoff_max_ms: 1000, max_attempts: 3 },
  signed: { url: `${R}/signed`, secret: SECRET, headers: { Authorization: HEADER_SECRET } },
  tls: { url: `https://127.0.0.1:${tlsPort}/tls`, ca_file: certFile, preset: "slack" },
  hang: { url: `http://127.0.0.1:${hangPort}/never`, timeout_ms: 3000, queue_size: 5, max_attempts: 2,
    backoff_initial_ms: 500, backoff_max_ms: 500, breaker_failures: 100 },
  closed: { url: `http://127.0.0.1:${deadPort}/nobody`, queue_size: 5, max_attempts: 2, backoff_initial_ms: 200,
    backoff_max_ms: 200, breaker_failures: 2, breaker_cooldown_ms: 60000 },
};
const rules = [
  { name: "retry", types: ["job.failed"], queues: ["q-retry"], targets: ["retry"] },
  { name: "limited", types: ["job.failed"], queues: ["q-429"], targets: ["limited"] },
  { name: "alerts", types: ["alert.firing", "alert.resolved"], targets: ["signed"] },
  { name: "slow", types: ["job.failed"], queues: ["q-slow"], targets: ["hang", "closed"] },
  { name: "tls", types: ["job.failed"], queues: ["q-tls"], targets: ["tls"] },
];

async function start(extra) {
  const server = spawn(demo, ["--gateway.port=0", "--gateway.host=127.0.0.1", "--storage.mode=memory", ...extra],
    { env: { ...process.env, JOBWATCH_DEMO_WORKLOAD: "off" }, stdio: ["ignore", "pipe", "pipe"] });
  children.add(server);
  const out = { server, stderr: "", stdout: "" };
  server.stderr.on("data", (d) => (out.stderr += d));
  out.port = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("the server did not start: " + out.stderr)), 15_000);
    server.once("exit", (code) => {
      clearTimeout(t);
      resolve(null);
      out.code = code;
    });
    readline.createInterface({ input: server.stdout }).on("line", (l) => {
      out.stdout += l + "\n";
      const m = /^listening (\d+)/.exec(l);
      if (m) {
        clearTimeout(t);
        resolve(Number(m[1]));
      }
    });
  });
  return out;
}

// A bad URL is a clear error at start.
{
  const bad = await start([`--notifier.targets={"x":{"url":"ftp://127.0.0.1/"}}`]);
  if (bad.port !== null) throw new Error("a bad target URL was accepted");
  await until("the refused server's exit", () => bad.code !== undefined, 5000);
  children.delete(bad.server);
  assert.equal(bad.code, 2, "exit status with a bad setting");
  assert.match(bad.stderr, /notifier\.targets\.x\.url/, "the error names the setting");
  const unknown = await start([`--notifier.targets={"x":{"url":"http://127.0.0.1:1/"}}`,
    `--notifier.rules=[{"types":["job.exploded"]}]`]);
  await until("the refused server's exit", () => unknown.code !== undefined, 5000);
  children.delete(unknown.server);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /notifier\.rules\.0\.types\.0/, "an unknown type is refused with its setting");
}

const app = await start([`--notifier.targets=${JSON.stringify(targets)}`, `--notifier.rules=${JSON.stringify(rules)}`]);
assert.ok(app.port, "the server started: " + app.stderr);
const base = `http://127.0.0.1:${app.port}`;
const getJson = async (path) => {
  const r = await fetch(base + path);
  return { status: r.status, body: await r.json(), text: "" };
};
const notifications = async () => (await getJson("/api/v1/notifications")).body;
const targetOf = (n, name) => n.targets.find((t) => t.name === name);
async function post(events) {
  const t0 = performance.now();
  const r = await fetch(base + "/api/v1/events", { method: "POST", headers: { "content-type": "application/x-ndjson" },
    body: events.map((e) => JSON.stringify(e)).join("\n") + "\n" });
  const text = await r.text();
  assert.ok(r.status === 200 || r.status === 202, `ingest answered ${r.status}: ${text}`);
  return performance.now() - t0;
}
const failJob = (id, queue) => [
  { type: "job.queued", job_id: id, queue },
  { type: "job.started", job_id: id, queue, attempt: 1 },
  { type: "job.failed", job_id: id, queue, attempt: 1, will_retry: false, error: "boom" },
];
assert.match(app.stdout, /api\/v1\/notifications/, "the banner says how to watch notifications");

// --- retries with backoff, and the breaker --------------------------------------------
{
  await post(failJob("r-1", "q-retry"));
  // Seen open between the third failure and the probe.
  let sawOpen = false;
  await until("the breaker to open", async () => {
    const t = targetOf(await notifications(), "retry");
    sawOpen ||= t.breaker === "open";
    return sawOpen;
  }, 5000, 50);
  const n = await until("the probe to be delivered", async () => {
    const n = await notifications();
    return targetOf(n, "retry").delivered === 1 && n;
  }, 8000, 50);
  const t = targetOf(n, "retry");
  assert.equal(t.breaker, "closed", "the successful probe closed the breaker");
  assert.equal(t.breaker_opened, 1);
  assert.equal(t.retried, 3);
  assert.equal(t.attempts, 4);
  const calls = got.filter((g) => g.path === "/retry");
  assert.equal(calls.length, 4, "three failures and one success");
  assert.deepEqual(calls.map((c) => c.status), [500, 500, 500, 200]);
  assert.equal(new Set(calls.map((c) => c.remotePort)).size, 1, "one kept-alive connection");
  assert.equal(new Set(calls.map((c) => c.headers["x-jobwatch-notification-id"])).size, 1, "one notification, retried");
  const gaps = calls.slice(1).map((c, i) => c.at - calls[i].at);
  // 400 ms then 800 ms, each +-20 % jitter; then the 1,500 ms cool-down (the breaker opened on the third failure).
  assert.ok(gaps[0] >= 320 - 30 && gaps[0] <= 480 + 150, `first retry after ${gaps[0].toFixed(0)} ms (400 +-20 %)`);
  assert.ok(gaps[1] >= 640 - 30 && gaps[1] <= 960 + 150, `second retry after ${gaps[1].toFixed(0)} ms (800 +-20 %)`);
  assert.ok(gaps[2] >= 1500 - 30 && gaps[2] <= 1500 + 300, `probe after ${gaps[2].toFixed(0)} ms (cool-down 1500)`);
  const d = n.deliveries.find((x) => x.target === "retry");
  assert.equal(d.status, "delivered");
  assert.equal(d.attempts, 4);
  assert.equal(d.http_status, 200);
  assert.equal(d.rule, "retry");
  console.log(`notifier e2e: retries after ${gaps.map((g) => g.toFixed(0)).join(", ")} ms; breaker open then closed`);
}

// --- 429 with Retry-After ------------------------------------------------------------
{
  await post(failJob("l-1", "q-429"));
  await until("the delivery after 429", () => got.filter((g) => g.path === "/limited").length >= 2, 6000);
  const calls = got.filter((g) => g.path === "/limited");
  const gap = calls[1].at - calls[0].at;
  assert.equal(calls[0].status, 429);
  assert.ok(gap >= 2000 - 30 && gap <= 2000 + 400, `retry after 429 came ${gap.toFixed(0)} ms later (Retry-After: 2)`);
  const n = await until("limited counted", async () => {
    const n = await notifications();
    return targetOf(n, "limited").delivered === 1 && n;
  });
  assert.equal(targetOf(n, "limited").retried, 1);
  console.log(`notifier e2e: Retry-After: 2 honoured (${gap.toFixed(0)} ms)`);
}

// --- https, with the target's CA file; the slack preset; keep-alive ---------------------
{
  await post([...failJob("t-1", "q-tls"), ...failJob("t-2", "q-tls")]);
  await until("two deliveries over TLS", () => got.filter((g) => g.path === "/tls").length >= 2, 8000);
  const calls = got.filter((g) => g.path === "/tls");
  assert.equal(calls.length, 2);
  const body = JSON.parse(calls[0].body);
  assert.match(body.text, /^job\.failed: job t-1 of queue q-tls is failed: boom$/);
  assert.equal(body.blocks[0].type, "section");
  assert.equal(new Set(calls.map((c) => c.remotePort)).size, 1, "one kept-alive TLS connection");
  console.log("notifier e2e: two deliveries over https on one connection (slack preset)");
}

// --- one alert, one notification, signed ---------------------------------------------
{
  for (let i = 0; i < 15; ++i) await post(failJob(`a-${i}`, "q-alert"));
  await until("the alert's notification", () => got.some((g) => g.path === "/signed"), 10_000);
  await sleep(1500); // nothing more may come
  const calls = got.filter((g) => g.path === "/signed");
  assert.equal(calls.length, 1, "one alert is one notification");
  const c = calls[0];
  const body = JSON.parse(c.body);
  assert.equal(body.type, "alert.firing");
  assert.equal(body.version, 1);
  assert.equal(body.target, "signed");
  assert.equal(body.rule, "alerts");
  assert.equal(body.alert.kind, "failure_rate");
  assert.equal(body.alert.context.queue, "q-alert");
  assert.equal(body.id, `alert:${body.alert.id}:firing`);
  assert.equal(c.headers["content-type"], "application/json");
  assert.equal(c.headers["x-jobwatch-event"], "alert.firing");
  assert.equal(c.headers["x-jobwatch-notification-id"], body.id);
  assert.equal(c.headers.authorization, HEADER_SECRET, "configured headers are sent");
  const ts = c.headers["x-jobwatch-timestamp"];
  assert.ok(Math.abs(Date.now() / 1000 - Number(ts)) < 300, "a fresh timestamp");
  const expected = "sha256=" + crypto.createHmac("sha256", SECRET).update(`${ts}.${c.body}`).digest("hex");
  const sig = c.headers["x-jobwatch-signature"];
  assert.ok(sig && crypto.timingSafeEqual(Buffer.from(sig), Buffer.from(expected)), "the HMAC checks out");
  // Any change to the body or the timestamp breaks it.
  const forged = "sha256=" + crypto.createHmac("sha256", SECRET).update(`${Number(ts) - 600}.${c.body}`).digest("hex");
  assert.notEqual(forged, sig);
  // The same alert id is not delivered twice: nothing else is routed to `signed` (the job failures are not).
  const n = await notifications();
  assert.equal(targetOf(n, "signed").delivered, 1);
  assert.equal(targetOf(n, "signed").enqueued, 1);
  console.log("notifier e2e: one dead-letter alert, one signed notification");
}

// --- unreachable targets do not slow ingest; the queue bound holds ------------------------
{
  const lat = async (queue, prefix, n) => {
    const out = [];
    for (let i = 0; i < n; ++i) out.push(await post(failJob(`${prefix}-${i}`, queue)));
    return out.sort((a, b) => a - b);
  };
  const pct = (a, p) => a[Math.min(a.length - 1, Math.floor(a.length * p))];
  await lat("q-warm", "w", 20);
  const baseline = await lat("q-base", "b", 60);
  const loaded = await lat("q-slow", "s", 60);
  const health = performance.now();
  assert.equal((await fetch(base + "/api/v1/health")).status, 200);
  const healthMs = performance.now() - health;
  const [b50, b95, l50, l95] = [pct(baseline, 0.5), pct(baseline, 0.95), pct(loaded, 0.5), pct(loaded, 0.95)];
  console.log(`notifier e2e: ingest p50 ${b50.toFixed(1)} -> ${l50.toFixed(1)} ms, p95 ${b95.toFixed(1)} -> ` +
    `${l95.toFixed(1)} ms with a hanging and a closed target; GET /api/v1/health ${healthMs.toFixed(1)} ms`);
  assert.ok(l50 <= b50 * 2 + 5, `ingest median ${l50.toFixed(1)} ms against a baseline of ${b50.toFixed(1)} ms`);
  assert.ok(l95 <= b95 * 2 + 20, `ingest p95 ${l95.toFixed(1)} ms against a baseline of ${b95.toFixed(1)} ms`);
  assert.ok(healthMs < 500, "the gateway answers at once");
  const n = await notifications();
  for (const name of ["hang", "closed"]) {
    const t = targetOf(n, name);
    assert.equal(t.enqueued, 60, `${name}: every failure routed`);
    assert.ok(t.queue_depth <= t.queue_size && t.queue_size === 5, `${name}: depth ${t.queue_depth} <= 5`);
    assert.ok(t.dropped >= 60 - 5 - 1 - t.failed - t.delivered, `${name}: dropped ${t.dropped} counted`);
    assert.equal(t.delivered, 0);
    assert.equal(t.dropped + t.queue_depth + (t.in_flight ? 1 : 0) + t.failed + t.delivered, t.enqueued,
      `${name}: every notification accounted for`);
  }
  // Two refused attempts, 200 ms apart, open the breaker of the closed port.
  await until("the closed port's breaker to open", async () => targetOf(await notifications(), "closed").breaker === "open",
    5000);
  assert.ok(n.deliveries.some((d) => d.target === "hang" && d.status === "dropped" && /queue full/.test(d.last_error)));
  assert.equal(n.counters.dropped, n.targets.reduce((a, t) => a + t.dropped, 0), "the totals add the targets up");
  assert.ok(n.counters.dropped >= 2 * 50, `${n.counters.dropped} dropped in all`);
}

// --- secrets stay secret --------------------------------------------------------------
{
  const r = await fetch(base + "/api/v1/monitor/config");
  const text = await r.text();
  assert.equal(r.status, 200);
  const cfg = JSON.parse(text).settings.notifier;
  assert.equal(cfg.targets.signed.secret, "(redacted)");
  assert.equal(cfg.targets.signed.headers.Authorization, "(redacted)");
  assert.equal(cfg.targets.retry.url, `http://127.0.0.1:${rport}/(redacted)`);
  assert.equal(cfg.targets.retry.secret, "", "an empty secret is shown as empty");
  for (const s of [SECRET, "hdr-secret-token"]) {
    assert.ok(!text.includes(s), "GET /api/v1/monitor/config shows no secret");
    assert.ok(!app.stderr.includes(s) && !app.stdout.includes(s), "the log shows no secret");
    assert.ok(!JSON.stringify(await notifications()).includes(s), "GET /api/v1/notifications shows no secret");
  }
  assert.match(app.stderr, /notifier: target closed: breaker open/, "the breaker's opening is logged");
}

// --- a graceful stop ----------------------------------------------------------------------
children.delete(app.server);
const stopStart = Date.now();
const code = await new Promise((resolve, reject) => {
  const t = setTimeout(() => reject(new Error("the server did not exit within 5 s of SIGTERM")), 5_000);
  app.server.once("exit", (c) => {
    clearTimeout(t);
    resolve(c);
  });
  app.server.kill("SIGTERM");
});
assert.equal(code, 0, "exit status after SIGTERM; its log ends with:\n" + app.stderr.split("\n").slice(-8).join("\n"));
console.log(`notifier e2e: the server stopped ${Date.now() - stopStart} ms after SIGTERM (a delivery hanging)`);
clearTimeout(overall);
cleanup();
console.log("PASS");
