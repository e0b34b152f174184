// The Socket.IO v4 endpoint (Engine.IO protocol 4) end to end, with the real
// socket.io-client from npm and raw Engine.IO over `ws`, against demo servers
// (no workload, memory storage) started here:
//   A  open access, two mapped namespaces, max_payload_bytes 4096;
//   B  JWT (HS256) auth;  B2  static tokens;
//   C  ping interval and timeout of 300 ms (SIGSTOP, then SIGKILL and a restart on its port);
//   D  connect timeout 800 ms, upgrade timeout 500 ms, 16 packets buffered for a poll, a small
//      kernel send buffer (a client that stops reading overflows its send queue soon);
//   E  gateway.socketio.enabled=false;
//   G  one I/O thread with a shard backlog of 8 (subscribers lag);
//   F  ping interval 500 ms, ping timeout 100 ms (pings must come on time).
// Checks:
//   - transports: polling alone, websocket alone, polling upgraded to websocket;
//     the handshake as the settings say; EIO=3 refused with 400;
//   - namespaces: "/" native and a mapped one multiplexed on one session, an
//     unknown namespace refused with "Invalid namespace";
//   - the native subscribe/unsubscribe with and without acknowledgements, errors,
//     resume with since (replay, then the ack), reset, alerts; mapped joins and
//     leaves with acknowledgements, emits by type, "job.*", summary, nothing unmapped;
//   - auth: JWT and static tokens accepted, bad, expired and missing refused with
//     connect_error and the reason, a tenant sees only its rooms;
//   - 500 job.progress events, all received in order on every transport;
//   - reconnect after SIGKILL and a restart on the same port; ping timeout seen by
//     the client (SIGSTOP) and by the server (a raw client that never answers); pings
//     on time (a healthy client is never dropped); connect and upgrade timeouts;
//   - a websocket client that stops reading is disconnected, its neighbour is not; a
//     polling client that stops polling is closed at max_poll_buffer_messages;
//     "lagged" (past the shard backlog) and a resume with since that loses nothing;
//   - 1,000 websocket clients in one room receive every event;
//   - bad input (binary, malformed packets, an event before CONNECT, oversize,
//     a ping from the client) closes that session only: controls keep receiving.
//
// Usage: node socketio_e2e.mjs <jobwatch_demo>
// Exits 0 when every check holds; prints the first failure and exits 1.
// Every wait has a deadline; every process and socket it starts is stopped on exit.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { io, Manager } from "socket.io-client";
import WebSocket from "ws";

const demo = process.argv[2];
assert.ok(demo, "usage: node socketio_e2e.mjs <jobwatch_demo>");

const DEADLINE_MS = 170_000;
const children = new Set();
const clients = new Set(); // socket.io-client sockets
const raws = new Set(); // raw ws clients
const overall = setTimeout(() => fail(new Error(`deadline of ${DEADLINE_MS / 1000} s passed`)), DEADLINE_MS);
const began = Date.now();

function cleanup() {
  for (const s of clients) {
    try {
      s.io.reconnection(false);
      s.disconnect();
      s.io.engine?.close();
    } catch {}
  }
  for (const w of raws) {
    try {
      w.terminate();
    } catch {}
  }
  for (const c of children) {
    try {
      c.kill("SIGCONT");
      c.kill("SIGKILL");
    } catch {}
  }
}
let current = "setup";
function fail(err) {
  console.error(`socketio_e2e failed in check "${current}":`, err?.stack ?? err);
  cleanup();
  process.exit(1);
}
process.on("unhandledRejection", fail);
process.on("uncaughtException", fail);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(what, fn, ms = 10_000, every = 20) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(every);
  }
}
function within(what, promise, ms) {
  let t;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      t = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}
// SOCKETIO_E2E_SKIP: a regular expression of check names to skip (for debugging one part).
const skip = process.env.SOCKETIO_E2E_SKIP ? new RegExp(process.env.SOCKETIO_E2E_SKIP) : null;
async function check(name, fn) {
  if (skip?.test(name)) return console.log(`socketio e2e: SKIPPED ${name}`);
  current = name;
  const t0 = Date.now();
  await fn();
  console.log(`socketio e2e: ok  ${name} (${Date.now() - t0} ms)`);
}

// --- the servers ---------------------------------------------------------------------
async function start(extra, { port = 0 } = {}) {
  const server = spawn(demo, [`--gateway.port=${port}`, "--gateway.host=127.0.0.1", "--storage.mode=memory", ...extra],
    { env: { ...process.env, JOBWATCH_DEMO_WORKLOAD: "off" }, stdio: ["ignore", "pipe", "pipe"] });
  children.add(server);
  const out = { server, stderr: "", stdout: "", extra };
  server.stderr.on("data", (d) => (out.stderr += d));
  server.once("exit", (code, signal) => {
    out.code = code;
    out.signal = signal;
    children.delete(server);
  });
  out.port = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("the server did not start: " + out.stderr)), 15_000);
    server.once("exit", () => {
      clearTimeout(t);
      reject(new Error(`the server exited at start (${out.code ?? out.signal}): ${out.stderr}`));
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
  out.base = `http://127.0.0.1:${out.port}`;
  return out;
}
async function kill(app, signal = "SIGKILL") {
  if (app.code !== undefined || app.signal) return;
  const gone = new Promise((r) => app.server.once("exit", r));
  app.server.kill(signal);
  await within(`the server's exit after ${signal}`, gone, 5000);
}

async function post(base, events, token) {
  const headers = { "content-type": "application/x-ndjson" };
  if (token) headers.authorization = `Bearer ${token}`;
  const r = await fetch(base + "/api/v1/events", { method: "POST", headers,
    body: events.map((e) => JSON.stringify(e)).join("\n") + "\n", signal: AbortSignal.timeout(10_000) });
  const text = await r.text();
  assert.ok(r.status === 200 || r.status === 202, `ingest answered ${r.status}: ${text}`);
  const body = JSON.parse(text);
  if (body.accepted !== undefined) assert.equal(body.accepted, events.length, `every event accepted: ${text}`);
  return body;
}
// Progress events with distinct, increasing times and percentages (never stale, never repeats).
let clock = 0;
const at = () => new Date((clock = Math.max(clock + 1, Date.now()))).toISOString();
const queued = (job, queue, more = {}) => ({ type: "job.queued", job_id: job, queue, time: at(), ...more });
const started = (job, queue, more = {}) => ({ type: "job.started", job_id: job, queue, attempt: 1, time: at(), ...more });
const progress = (job, queue, i, n) => ({ type: "job.progress", job_id: job, queue, percent: (100 * i) / (n + 1),
  current: i, total: n, time: at() });
const completed = (job, queue, more = {}) => ({ type: "job.completed", job_id: job, queue, time: at(), ...more });
const failed = (job, queue) => ({ type: "job.failed", job_id: job, queue, attempt: 1, will_retry: false, error: "boom",
  time: at() });

// --- socket.io-client helpers ------------------------------------------------------------
/** A socket.io-client socket (a Manager of its own unless opts.forceNew is false) that records what it receives. */
function sio(url, opts = {}) {
  const s = io(url, { forceNew: true, reconnection: false, timeout: 5000, ...opts });
  clients.add(s);
  s.log = []; // [name, ...args] in arrival order
  s.onAny((name, ...args) => s.log.push([name, ...args]));
  s.connects = 0;
  s.on("connect", () => ++s.connects);
  s.disconnects = [];
  s.on("disconnect", (reason) => s.disconnects.push({ reason, at: Date.now() }));
  s.errors = [];
  s.on("connect_error", (e) => s.errors.push(e));
  return s;
}
function connected(s, what = "connect", ms = 8000) {
  if (s.connected) return Promise.resolve(s);
  return within(what, new Promise((resolve, reject) => {
    const ok = () => {
      s.off("connect_error", bad);
      resolve(s);
    };
    const bad = (e) => {
      s.off("connect", ok);
      reject(new Error(`${what}: connect_error ${e?.message}`));
    };
    s.once("connect", ok);
    s.once("connect_error", bad);
  }), ms);
}
function refused(s, what, ms = 8000) {
  return within(what, new Promise((resolve, reject) => {
    const bad = (e) => {
      s.off("connect", ok);
      resolve(e);
    };
    const ok = () => {
      s.off("connect_error", bad);
      reject(new Error(`${what}: connected, expected connect_error`));
    };
    s.once("connect", ok);
    s.once("connect_error", bad);
  }), ms);
}
const ack = (s, ...args) => s.timeout(5000).emitWithAck(...args);
const named = (s, name) => s.log.filter((e) => e[0] === name).map((e) => e[1]);
function close(s) {
  s.io.reconnection(false);
  s.disconnect();
  clients.delete(s);
}
function assertSubscribed(m, room, what) {
  assert.equal(m?.type, "subscribed", `${what}: ${JSON.stringify(m)}`);
  assert.equal(m.room, room, what);
  assert.ok(Number.isInteger(m.seq) && m.seq >= 0, `${what}: seq ${m.seq}`);
}
function assertError(m, what, code) {
  assert.equal(m?.type, "error", `${what}: ${JSON.stringify(m)}`);
  assert.equal(typeof m.code, "string", what);
  assert.ok(typeof m.message === "string" && m.message.length > 0, `${what}: a message`);
  if (code) assert.equal(m.code, code, `${what}: ${JSON.stringify(m)}`);
}
/** Native `event` messages of a room, checked: seq strictly increasing. */
function eventsOf(s, room, name = "event") {
  const got = named(s, name).filter((m) => m.room === room);
  for (let i = 1; i < got.length; ++i)
    assert.ok(got[i].seq > got[i - 1].seq, `seq strictly increasing in ${room}: ${got[i - 1].seq} then ${got[i].seq}`);
  return got;
}

// --- raw Engine.IO over ws -----------------------------------------------------------------
/** A raw WebSocket speaking Engine.IO by hand; answers pings unless pong is false. */
function raw(port, { query = "EIO=4&transport=websocket", pong = true } = {}) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/socket.io/?${query}`);
  raws.add(ws);
  const r = { ws, packets: [], cursor: 0, pong, closed: null, openedAt: 0, pings: 0 };
  ws.on("message", (data, isBinary) => {
    const s = isBinary ? `<binary ${data.length}>` : data.toString();
    r.packets.push(s);
    if (s === "2") {
      ++r.pings;
      if (r.pong) ws.send("3");
    }
  });
  ws.on("close", (code, reason) => {
    r.closed = { code, reason: reason.toString(), at: Date.now() };
    raws.delete(ws);
  });
  ws.on("error", (e) => (r.error = e));
  r.opened = within("the raw WebSocket to open", new Promise((resolve, reject) => {
    ws.once("open", () => {
      r.openedAt = Date.now();
      resolve();
    });
    ws.once("unexpected-response", (req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`),
      { status: res.statusCode })));
    ws.once("error", reject);
  }), 5000);
  /** The next packet (after those taken) that satisfies pred. */
  r.take = async (pred, what, ms = 5000) => {
    let found;
    await until(what, () => {
      for (let i = r.cursor; i < r.packets.length; ++i) {
        if (pred(r.packets[i])) {
          found = r.packets[i];
          r.cursor = i + 1;
          return true;
        }
      }
      if (r.closed) throw new Error(`${what}: the server closed (${r.closed.code} ${r.closed.reason}); got ` +
        JSON.stringify(r.packets.slice(-5)));
      return false;
    }, ms, 10);
    return found;
  };
  r.send = (s) => ws.send(s);
  r.closedWithin = (what, ms) => until(what, () => r.closed, ms, 10);
  return r;
}
/** Opens, reads the handshake, joins "/" (optionally with auth): the handshake. */
async function rawJoined(port, auth) {
  const r = raw(port);
  await r.opened;
  const open = JSON.parse((await r.take((p) => p[0] === "0", "the open packet")).slice(1));
  r.send(auth ? `40${JSON.stringify(auth)}` : "40");
  const joined = await r.take((p) => p.startsWith("40") || p.startsWith("44"), "the CONNECT answer");
  assert.match(joined, /^40\{/, `joined "/": ${joined}`);
  r.open = open;
  return r;
}
const sioEvents = (r, name) => r.packets.filter((p) => p.startsWith("42[")).map((p) => JSON.parse(p.slice(2)))
  .filter((a) => a[0] === name).map((a) => a[1]);

// --- raw Engine.IO over HTTP long-polling ----------------------------------------------------
async function poll(base, { sid, body, type = "text/plain;charset=UTF-8", eio = 4, ms = 5000 } = {}) {
  let url = `${base}/socket.io/?EIO=${eio}&transport=polling`;
  if (sid) url += `&sid=${encodeURIComponent(sid)}`;
  const r = await fetch(url, body === undefined ? { signal: AbortSignal.timeout(ms) }
    : { method: "POST", body, headers: { "content-type": type }, signal: AbortSignal.timeout(ms) });
  return { status: r.status, text: await r.text() };
}

// --- JWT ------------------------------------------------------------------------------------
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "jobwatch-socketio-"));
process.on("exit", () => fs.rmSync(tmp, { recursive: true, force: true }));
const JWT_SECRET = crypto.randomBytes(32).toString("hex");
fs.writeFileSync(path.join(tmp, "jwt.secret"), JWT_SECRET + "\n");
function jwt(claims, secret = JWT_SECRET) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const head = `${b64({ alg: "HS256", typ: "JWT" })}.${b64(claims)}`;
  return `${head}.${crypto.createHmac("sha256", secret).update(head).digest("base64url")}`;
}
const now = () => Math.floor(Date.now() / 1000);

// =============================================================================================
const NAMESPACES = {
  "/job-progress": {
    joins: { "subscribe-to-job": "job:{jobId}", "watch-queue": "queue:{name}" },
    leaves: { "unsubscribe-from-job": "job:{jobId}" },
    emits: { "job.progress": "job-progress", "job.completed": "job-completed", "job.*": "job-event", summary: "status" },
  },
  "/only-done": { joins: { watch: "job:{jobId}" }, emits: { "job.completed": "done" } },
};
const MAX_PAYLOAD = 4096;
const A = await start([`--gateway.socketio.namespaces=${JSON.stringify(NAMESPACES)}`,
  `--gateway.socketio.max_payload_bytes=${MAX_PAYLOAD}`]);
const urlA = A.base;

await check("the endpoint answers the Engine.IO handshake on polling; EIO=3 is refused with 400", async () => {
  const r = await poll(A.base);
  assert.equal(r.status, 200, `GET /socket.io/?EIO=4&transport=polling answered ${r.status}: ${r.text}`);
  assert.match(r.text, /^0\{/, `the open packet: ${r.text}`);
  const open = JSON.parse(r.text.slice(1));
  assert.equal(typeof open.sid, "string");
  assert.ok(open.sid.length >= 16, `sid ${open.sid}`);
  assert.deepEqual(open.upgrades, ["websocket"]);
  assert.equal(open.pingInterval, 25000, "the default ping interval");
  assert.equal(open.pingTimeout, 20000, "the default ping timeout");
  assert.equal(open.maxPayload, MAX_PAYLOAD, "maxPayload is gateway.socketio.max_payload_bytes");
  const old = await poll(A.base, { eio: 3 });
  assert.equal(old.status, 400, `EIO=3 over polling: ${old.status} ${old.text}`);
  const ws3 = raw(A.port, { query: "EIO=3&transport=websocket" });
  const e = await ws3.opened.then(() => null, (err) => err);
  assert.ok(e, "a WebSocket with EIO=3 was upgraded");
  assert.equal(e.status, 400, `EIO=3 over websocket: ${e.message}`);
  const none = await fetch(`${A.base}/socket.io/?transport=polling`);
  assert.equal(none.status, 400, "no EIO at all");
  await none.text();
});

await check("the websocket handshake over raw ws: open packet, 40, subscribe, ack, event", async () => {
  const r = await rawJoined(A.port);
  assert.deepEqual(r.open.upgrades, [], "no upgrades on a session opened over websocket");
  assert.equal(r.open.pingInterval, 25000);
  assert.equal(r.open.maxPayload, MAX_PAYLOAD);
  const joined = JSON.parse(r.packets.find((p) => p.startsWith("40")).slice(2));
  assert.equal(typeof joined.sid, "string");
  assert.notEqual(joined.sid, r.open.sid, "the socket id is not the Engine.IO sid");
  r.send('42["subscribe",{"room":"queue:raw-q"}]');
  const sub = JSON.parse((await r.take((p) => p.startsWith('42["subscribed"'), "42 subscribed")).slice(2));
  assertSubscribed(sub[1], "queue:raw-q", "subscribed as an event");
  r.send('427["subscribe",{"room":"queue:raw-q2"}]');
  const a = JSON.parse((await r.take((p) => p.startsWith("437["), "the ack 437[...]")).slice(3));
  assert.ok(Array.isArray(a) && a.length === 1, `the ack has one argument: ${JSON.stringify(a)}`);
  assertSubscribed(a[0], "queue:raw-q2", "the ack");
  await post(A.base, [queued("raw-1", "raw-q")]);
  const ev = JSON.parse((await r.take((p) => p.startsWith('42["event"'), "42 event")).slice(2));
  assert.equal(ev.length, 2);
  assert.equal(ev[1].type, "event");
  assert.equal(ev[1].room, "queue:raw-q");
  assert.equal(ev[1].event.job_id, "raw-1");
  assert.equal(ev[1].event.type, "job.queued");
  r.ws.close();
});

// --- transports ---------------------------------------------------------------------------------
await check("transports: polling alone, websocket alone, and polling upgraded to websocket", async () => {
  const p = sio(urlA, { transports: ["polling"] });
  const w = sio(urlA, { transports: ["websocket"] });
  const d = sio(urlA);
  let upgradedTo = null;
  d.io.engine.once("upgrade", (t) => (upgradedTo = t.name));
  await Promise.all([connected(p, "polling"), connected(w, "websocket"), connected(d, "default")]);
  assert.equal(p.io.engine.transport.name, "polling");
  assert.equal(w.io.engine.transport.name, "websocket");
  await until("the default client's upgrade", () => upgradedTo, 5000);
  assert.equal(upgradedTo, "websocket");
  assert.equal(d.io.engine.transport.name, "websocket", "after the upgrade event");
  for (const s of [p, w, d]) {
    assert.equal(typeof s.id, "string");
    assert.notEqual(s.id, s.io.engine.id, "the socket id is not the Engine.IO sid");
  }
  // Each works both ways after the upgrade: a subscribe with an ack and a live event.
  for (const [s, n] of [[p, "p"], [w, "w"], [d, "d"]]) assertSubscribed(await ack(s, "subscribe", { room: `job:tr-${n}` }),
    `job:tr-${n}`, `${n}: subscribe`);
  await post(A.base, ["p", "w", "d"].map((n) => queued(`tr-${n}`, "tr")));
  for (const [s, n] of [[p, "p"], [w, "w"], [d, "d"]]) {
    await until(`${n}: its event`, () => named(s, "event").length === 1, 5000);
    assert.equal(named(s, "event")[0].event.job_id, `tr-${n}`);
  }
  await sleep(300);
  assert.equal(p.io.engine.transport.name, "polling", "a polling-only client never upgrades");
  for (const s of [p, w, d]) close(s);
});

// --- namespaces --------------------------------------------------------------------------------
await check("namespaces: \"/\" native and \"/job-progress\" mapped on one session; an unknown one refused", async () => {
  const m = new Manager(urlA, { reconnection: false, timeout: 5000 });
  const root = m.socket("/");
  const mapped = m.socket("/job-progress");
  for (const s of [root, mapped]) {
    clients.add(s);
    s.log = [];
    s.onAny((name, ...args) => s.log.push([name, ...args]));
  }
  await Promise.all([connected(root, "/"), connected(mapped, "/job-progress")]);
  assert.notEqual(root.id, mapped.id, "each namespace has its own socket id");
  assertSubscribed(await ack(root, "subscribe", { room: "job:ns-1" }), "job:ns-1", "native subscribe on /");
  const j = await ack(mapped, "subscribe-to-job", { jobId: "ns-1" });
  assert.equal(j.ok, true, `mapped join: ${JSON.stringify(j)}`);
  await post(A.base, [queued("ns-1", "nsq"), started("ns-1", "nsq"), progress("ns-1", "nsq", 1, 1), completed("ns-1", "nsq")]);
  await until("four events on /", () => named(root, "event").length === 4, 5000);
  await until("four emits on /job-progress", () => mapped.log.length === 4, 5000);
  assert.equal(root.io.engine, mapped.io.engine, "one Engine.IO session carries both namespaces");
  assert.ok(mapped.log.every((e) => e[1].job_id === "ns-1" && e.length === 2), "the payload is the job event");
  assert.deepEqual(named(root, "event").map((m) => m.event.type), ["job.queued", "job.started", "job.progress", "job.completed"]);
  assert.deepEqual(mapped.log.map((e) => e[0]), ["job-event", "job-event", "job-progress", "job-completed"],
    "the mapped namespace emits by its table, never the native names");
  assert.ok(!root.log.some((e) => e[0].startsWith("job-")), "\"/\" gets no mapped names");
  const unknown = sio(urlA + "/nope");
  const e = await refused(unknown, "connect_error for /nope");
  assert.equal(e.message, "Invalid namespace");
  // The refusal leaves the session's other namespaces alone.
  const also = m.socket("/nope");
  clients.add(also);
  const e2 = await refused(also, "connect_error for /nope on the shared session");
  assert.equal(e2.message, "Invalid namespace");
  await post(A.base, [queued("ns-2", "nsq")]);
  assertSubscribed(await ack(root, "subscribe", { room: "job:ns-2" }), "job:ns-2", "\"/\" still works");
  assert.ok(root.connected && mapped.connected, "the other namespaces stay connected");
  for (const s of [root, mapped, also, unknown]) close(s);
});

// --- the native mapping on "/" -------------------------------------------------------------------
await check("native subscribe/unsubscribe: acks, events without acks, errors, since, reset", async () => {
  const s = sio(urlA, { transports: ["websocket"] });
  await connected(s);
  const sub = await ack(s, "subscribe", { room: "queue:nat" });
  assertSubscribed(sub, "queue:nat", "subscribe with an ack");
  assert.equal(sub.snapshot?.kind, "summary", "a queue room's snapshot is its summary");
  s.emit("subscribe", { room: "job:nat-1" });
  await until("the subscribed event", () => named(s, "subscribed").length === 1, 5000);
  assertSubscribed(named(s, "subscribed")[0], "job:nat-1", "subscribe without an ack");
  // Errors: a bad room name, a bad since, an unknown event name, an unsubscribe of no subscription.
  const bad = await ack(s, "subscribe", { room: "no such room!" });
  assertError(bad, "a bad room name");
  assert.equal(typeof bad.path, "string", `the error has a path: ${JSON.stringify(bad)}`);
  assertError(await ack(s, "subscribe", { room: "queue:nat", since: "yesterday" }), "a bad since", "invalid_message");
  assertError(await ack(s, "frobnicate", { room: "queue:nat" }), "an unknown event name");
  assertError(await ack(s, "unsubscribe", { room: "queue:never" }), "unsubscribe of no subscription", "not_found");
  s.emit("subscribe", { room: "" });
  await until("the error event", () => named(s, "error").length === 1, 5000);
  assertError(named(s, "error")[0], "an error without an ack");
  // Live events of both rooms in order.
  await post(A.base, [queued("nat-1", "nat"), started("nat-1", "nat"), queued("nat-2", "nat")]);
  await until("5 events", () => named(s, "event").length === 5, 5000);
  await sleep(100);
  assert.equal(named(s, "event").length, 5, "each event once per room");
  const q = eventsOf(s, "queue:nat");
  assert.deepEqual(q.map((m) => m.event.job_id + " " + m.event.type), ["nat-1 job.queued", "nat-1 job.started", "nat-2 job.queued"]);
  assert.deepEqual(eventsOf(s, "job:nat-1").map((m) => m.event.type), ["job.queued", "job.started"]);
  // unsubscribe: with an ack, then nothing more from that room.
  const un = await ack(s, "unsubscribe", { room: "job:nat-1" });
  assert.deepEqual(un, { type: "unsubscribed", room: "job:nat-1" });
  s.emit("unsubscribe", { room: "queue:nat" });
  await until("the unsubscribed event", () => named(s, "unsubscribed").length === 1, 5000);
  assert.deepEqual(named(s, "unsubscribed")[0], { type: "unsubscribed", room: "queue:nat" });
  const last = q.at(-1).seq;
  await post(A.base, [completed("nat-1", "nat"), queued("nat-3", "nat")]);
  // Resume with since: the missed events first (replay), then the ack with the room's position.
  const before = s.log.length;
  const resumed = await ack(s, "subscribe", { room: "queue:nat", since: last });
  assertSubscribed(resumed, "queue:nat", "the resume");
  const replay = s.log.slice(before).filter((e) => e[0] === "event").map((e) => e[1]);
  assert.deepEqual(replay.map((m) => m.event.job_id + " " + m.event.type), ["nat-1 job.completed", "nat-3 job.queued"],
    "the missed events arrive before the ack");
  assert.ok(replay[0].seq > last && replay[1].seq > replay[0].seq);
  assert.equal(resumed.seq, replay[1].seq, "the ack's seq is the room's position");
  assert.ok(!s.log.slice(before).some((e) => e[1]?.room === "job:nat-1"), "nothing from an unsubscribed room");
  // A since beyond the server's last number: reset to the last number.
  await ack(s, "subscribe", { room: "queue:nat-far", since: 1_000_000_000 });
  await until("the reset event", () => named(s, "reset").length === 1, 5000);
  const reset = named(s, "reset")[0];
  assert.equal(reset.type, "reset");
  assert.equal(reset.room, "queue:nat-far");
  assert.ok(Number.isInteger(reset.seq) && reset.seq < 1_000_000_000, `reset ${JSON.stringify(reset)}`);
  close(s);
});

await check("native alert and summary messages reach \"/\" as events named after their type", async () => {
  const s = sio(urlA, { transports: ["websocket"] });
  await connected(s);
  assertSubscribed(await ack(s, "subscribe", { room: "alerts" }), "alerts", "alerts");
  assertSubscribed(await ack(s, "subscribe", { room: "queue:sum" }), "queue:sum", "queue:sum");
  await post(A.base, [queued("sum-1", "sum")]);
  await until("a summary of queue:sum", () => named(s, "summary").some((m) => m.room === "queue:sum"), 10_000, 50);
  const sm = named(s, "summary").find((m) => m.room === "queue:sum");
  assert.equal(sm.type, "summary");
  assert.equal(sm.summary.kind, "summary");
  // Fifteen failures in one queue: the dead-letter monitor's alert.
  const jobs = [];
  for (let i = 0; i < 15; ++i) jobs.push(queued(`al-${i}`, "q-alert"), started(`al-${i}`, "q-alert"), failed(`al-${i}`, "q-alert"));
  await post(A.base, jobs);
  await until("an alert", () => named(s, "alert").length >= 1, 15_000, 50);
  const al = named(s, "alert")[0];
  assert.equal(al.type, "alert");
  assert.equal(al.room, "alerts");
  assert.ok(Number.isInteger(al.seq));
  assert.equal(typeof al.alert, "object");
  close(s);
});

// --- mapped namespaces ------------------------------------------------------------------------
await check("mapped namespace: join and leave with acks, emits by type, job.*, summary, nothing unmapped", async () => {
  const s = sio(urlA + "/job-progress", { transports: ["websocket"] });
  const only = sio(urlA + "/only-done", { transports: ["polling"] });
  await Promise.all([connected(s), connected(only)]);
  const j1 = await ack(s, "subscribe-to-job", { jobId: "mp-1" });
  assert.equal(j1.ok, true, `join: ${JSON.stringify(j1)}`);
  assert.equal(j1.room, "job:mp-1");
  assert.ok(Number.isInteger(j1.seq) && j1.seq >= 0, `join seq: ${JSON.stringify(j1)}`);
  const j2 = await ack(s, "subscribe-to-job", { jobId: "mp-2" });
  assert.equal(j2.ok, true);
  for (const [args, what] of [[{ jobId: "not a job id!" }, "a bad id"], [{}, "no jobId"], ["mp-1", "not an object"]]) {
    const no = await ack(s, "subscribe-to-job", args);
    assert.equal(no.ok, false, `${what}: ${JSON.stringify(no)}`);
    assert.ok(typeof no.error === "string" && no.error.length > 0, `${what}: an error string`);
  }
  const w = await ack(only, "watch", { jobId: "mp-1" });
  assert.equal(w.ok, true);
  assert.equal(w.room, "job:mp-1");
  await post(A.base, [queued("mp-1", "mp"), started("mp-1", "mp"), progress("mp-1", "mp", 1, 2), progress("mp-1", "mp", 2, 2),
    { type: "job.log", job_id: "mp-1", queue: "mp", level: "info", message: "half way", time: at() }, completed("mp-1", "mp")]);
  await until("six emits", () => s.log.length === 6, 5000);
  assert.deepEqual(s.log.map((e) => e[0]),
    ["job-event", "job-event", "job-progress", "job-progress", "job-event", "job-completed"]);
  // The payload is the job event itself.
  const p = s.log[2][1];
  assert.equal(p.type, "job.progress");
  assert.equal(p.job_id, "mp-1");
  assert.equal(p.queue, "mp");
  assert.equal(p.current, 1);
  assert.equal(s.log[5][1].type, "job.completed");
  assert.equal(s.log[4][1].type, "job.log");
  for (const e of s.log) assert.equal(e.length, 2, "one argument");
  await until("the completion on /only-done", () => only.log.length >= 1, 5000);
  await sleep(200);
  assert.deepEqual(only.log.map((e) => e[0]), ["done"], "messages with no entry are not emitted");
  assert.equal(only.log[0][1].type, "job.completed");
  assert.equal(only.log[0][1].job_id, "mp-1");
  // Leave mp-1: nothing more of it; mp-2 goes on.
  const l = await ack(s, "unsubscribe-from-job", { jobId: "mp-1" });
  assert.equal(l.ok, true, `leave: ${JSON.stringify(l)}`);
  assert.equal(l.room, "job:mp-1");
  const n = s.log.length;
  await post(A.base, [{ type: "job.log", job_id: "mp-1", queue: "mp", level: "info", message: "after the end", time: at() },
    queued("mp-2", "mp")]);
  await until("mp-2's event", () => s.log.length > n, 5000);
  await sleep(200);
  assert.deepEqual(s.log.slice(n).map((e) => `${e[0]} ${e[1].job_id}`), ["job-event mp-2"], "nothing of a job left");
  // A queue room mapped: its summary is emitted as "status" with the summary object.
  const wq = await ack(s, "watch-queue", { name: "mp" });
  assert.equal(wq.ok, true, `watch-queue: ${JSON.stringify(wq)}`);
  assert.equal(wq.room, "queue:mp");
  await post(A.base, [queued("mp-3", "mp")]);
  await until("a status (summary)", () => s.log.some((e) => e[0] === "status"), 10_000, 50);
  const st = s.log.find((e) => e[0] === "status")[1];
  assert.equal(st.kind, "summary", `status payload: ${JSON.stringify(st).slice(0, 200)}`);
  assert.ok(st.counts, "the summary's counts");
  close(s);
  close(only);
});

// --- order and loss ---------------------------------------------------------------------------
await check("500 job.progress events: every client on each transport receives all, in order", async () => {
  const N = 500;
  const job = "bulk-1";
  const room = `job:${job}`;
  const natives = [sio(urlA, { transports: ["polling"] }), sio(urlA, { transports: ["websocket"] }), sio(urlA)];
  const mapped = [sio(urlA + "/job-progress", { transports: ["polling"] }), sio(urlA + "/job-progress", { transports: ["websocket"] }),
    sio(urlA + "/job-progress")];
  await Promise.all([...natives, ...mapped].map((s) => connected(s)));
  await until("the default clients' upgrade", () => natives[2].io.engine.transport.name === "websocket" &&
    mapped[2].io.engine.transport.name === "websocket", 5000);
  for (const s of natives) assertSubscribed(await ack(s, "subscribe", { room }), room, "bulk subscribe");
  for (const s of mapped) assert.equal((await ack(s, "subscribe-to-job", { jobId: job })).ok, true);
  await post(A.base, [queued(job, "bulk"), started(job, "bulk")]);
  for (let b = 0; b < N; b += 100) {
    const batch = [];
    for (let i = b + 1; i <= b + 100; ++i) batch.push(progress(job, "bulk", i, N));
    await post(A.base, batch);
  }
  const names = ["polling", "websocket", "upgraded"];
  await until("every client's 502 events", () => natives.every((s) => named(s, "event").length >= N + 2) &&
    mapped.every((s) => named(s, "job-progress").length >= N), 20_000, 50);
  natives.forEach((s, k) => {
    const got = eventsOf(s, room);
    assert.equal(got.length, N + 2, `${names[k]}: ${got.length} events`);
    const cur = got.filter((m) => m.event.type === "job.progress").map((m) => m.event.current);
    assert.deepEqual(cur, Array.from({ length: N }, (_, i) => i + 1), `${names[k]}: every progress event, in order`);
  });
  mapped.forEach((s, k) => {
    const cur = named(s, "job-progress").map((e) => e.current);
    assert.deepEqual(cur, Array.from({ length: N }, (_, i) => i + 1), `mapped ${names[k]}: every progress event, in order`);
  });
  // The same seqs everywhere.
  const seqs = eventsOf(natives[0], room).map((m) => m.seq).join();
  for (const s of natives) assert.equal(eventsOf(s, room).map((m) => m.seq).join(), seqs, "one numbering");
  for (const s of [...natives, ...mapped]) close(s);
});

// --- bad input ---------------------------------------------------------------------------------
await check("bad input closes that session only: binary, malformed, event before CONNECT, oversize, client ping", async () => {
  const room = "queue:ctl";
  const ctl = sio(urlA, { transports: ["websocket"] });
  const ctlPoll = sio(urlA, { transports: ["polling"] });
  await Promise.all([connected(ctl), connected(ctlPoll)]);
  for (const s of [ctl, ctlPoll]) assertSubscribed(await ack(s, "subscribe", { room }), room, "control");
  const rc = await rawJoined(A.port);
  rc.send(`42["subscribe",{"room":"${room}"}]`);
  await rc.take((p) => p.startsWith('42["subscribed"'), "the raw control's subscribed");
  await post(A.base, Array.from({ length: 5 }, (_, i) => queued(`ctl-${i}`, "ctl")));

  const cases = [
    ["a binary message", async (r) => r.ws.send(Buffer.from([0x34, 0x32, 0x5b, 0x5d]), { binary: true })],
    ["a binary Socket.IO event (type 5)", async (r) => r.send('451-["x",{"_placeholder":true,"num":0}]')],
    ["malformed JSON in an event", async (r) => r.send('42["subscribe",{"room":')],
    ["an event that is not an array", async (r) => r.send('42{"subscribe":1}')],
    ["an unknown Engine.IO packet type", async (r) => r.send("9hello")],
    ["an unknown Socket.IO packet type", async (r) => r.send("49[]")],
    ["a ping from the client", async (r) => r.send("2")],
    [`a message over ${MAX_PAYLOAD} bytes`, async (r) => r.send(`42["subscribe",{"room":"queue:${"x".repeat(MAX_PAYLOAD)}"}]`)],
  ];
  const bad = [];
  for (const [what, act] of cases) {
    const r = await rawJoined(A.port);
    bad.push([what, r]);
    await act(r);
  }
  // An event before CONNECT, and a second CONNECT.
  const early = raw(A.port);
  await early.opened;
  await early.take((p) => p[0] === "0", "the open packet");
  early.send(`42["subscribe",{"room":"${room}"}]`);
  bad.push(["an event before CONNECT", early]);
  const twice = await rawJoined(A.port);
  twice.send("40");
  bad.push(["a second CONNECT", twice]);
  for (const [what, r] of bad) {
    await r.closedWithin(`the server to close the session after ${what}`, 5000);
    assert.ok(!r.packets.some((p) => p.startsWith('42["subscribed"')), `${what}: no subscription made`);
    console.log(`socketio e2e:       ${what}: closed ${r.closed.code} ${r.closed.reason}`);
  }
  // Polling: a binary POST, a malformed POST, an event before CONNECT: the session ends.
  for (const [what, body, type, status] of [["a binary POST", "\x01\x02\x03", "application/octet-stream", 400],
    ["a malformed POST", "4" + '2["subscribe",{', undefined, 400],
    ["a POST of an event before CONNECT", `42["subscribe",{"room":"${room}"}]`, undefined, null],
    ["a POST over maxPayload", "4" + "2".repeat(MAX_PAYLOAD + 10), undefined, 413]]) {
    const open = await poll(A.base);
    const sid = JSON.parse(open.text.slice(1)).sid;
    const r = await poll(A.base, { sid, body, type });
    if (status) assert.equal(r.status, status, `${what}: answered ${r.status} ${r.text}`);
    const after = await poll(A.base, { sid, ms: 3000 }).catch((e) => ({ status: 0, text: String(e) }));
    assert.ok(after.status === 400 || (after.status === 200 && after.text.split("\x1e").includes("1")),
      `${what}: the session goes on (GET answered ${after.status} ${JSON.stringify(after.text)})`);
    console.log(`socketio e2e:       ${what}: ${r.status}, then GET ${after.status} ${JSON.stringify(after.text.slice(0, 60))}`);
  }
  // The controls keep receiving everything.
  await post(A.base, Array.from({ length: 5 }, (_, i) => queued(`ctl-${5 + i}`, "ctl")));
  for (const [s, what] of [[ctl, "websocket control"], [ctlPoll, "polling control"]]) {
    await until(`${what}: 10 events`, () => eventsOf(s, room).length === 10, 5000);
    assert.deepEqual(eventsOf(s, room).map((m) => m.event.job_id), Array.from({ length: 10 }, (_, i) => `ctl-${i}`));
    assert.ok(s.connected, `${what}: still connected`);
  }
  await until("raw control: 10 events", () => sioEvents(rc, "event").length === 10, 5000);
  assert.deepEqual(sioEvents(rc, "event").map((m) => m.event.job_id), Array.from({ length: 10 }, (_, i) => `ctl-${i}`));
  assert.equal(rc.closed, null, "the raw control is open");
  rc.ws.close();
  close(ctl);
  close(ctlPoll);
});

// --- 1,000 clients ---------------------------------------------------------------------------------
await check("1,000 websocket clients in one room all receive every event", async () => {
  const C = 1000;
  const N = 20;
  const room = "queue:many";
  const many = [];
  const t0 = Date.now();
  for (let b = 0; b < C; b += 100) {
    const batch = [];
    for (let i = 0; i < 100; ++i) {
      const s = io(urlA, { forceNew: true, reconnection: false, transports: ["websocket"], timeout: 10_000 });
      clients.add(s);
      s.got = [];
      s.on("event", (m) => s.got.push(m));
      batch.push(s);
    }
    await Promise.all(batch.map((s) => connected(s, "one of 1,000 clients", 15_000)));
    many.push(...batch);
  }
  const tConnected = Date.now();
  const acks = await within("1,000 subscribe acks", Promise.all(many.map((s) => s.timeout(15_000).emitWithAck("subscribe", { room }))),
    20_000);
  acks.forEach((a) => assertSubscribed(a, room, "one of 1,000"));
  const events = [];
  for (let i = 0; i < N; ++i) events.push(queued(`many-${i}`, "many"));
  await post(A.base, events);
  await until(`${C} clients with ${N} events`, () => many.every((s) => s.got.length >= N), 20_000, 50);
  const tDelivered = Date.now();
  for (const s of many) {
    assert.equal(s.got.length, N);
    for (let i = 0; i < N; ++i) {
      assert.equal(s.got[i].event.job_id, `many-${i}`);
      if (i) assert.ok(s.got[i].seq > s.got[i - 1].seq);
    }
  }
  console.log(`socketio e2e:       connected in ${tConnected - t0} ms, ${C * N} events delivered in ${tDelivered - tConnected} ms`);
  for (const s of many) close(s);
  // The server is still fine.
  const s = sio(urlA, { transports: ["websocket"] });
  await connected(s, "a client after the 1,000");
  close(s);
});

await kill(A, "SIGTERM");

// --- auth: JWT ---------------------------------------------------------------------------------
{
  const B = await start(["--auth.mode=jwt", `--auth.jwt.secret_file=${path.join(tmp, "jwt.secret")}`]);
  const admin = jwt({ sub: "admin", scope: "read publish admin", exp: now() + 600, iat: now() });
  const acme = jwt({ sub: "acme-app", tenant_id: "acme", scope: "read", exp: now() + 600, iat: now() });
  const globex = jwt({ sub: "globex-app", tenant_id: "globex", scope: "read", exp: now() + 600, iat: now() });
  const expired = jwt({ sub: "acme-app", tenant_id: "acme", scope: "read", exp: now() - 3600, iat: now() - 7200 });
  const forged = jwt({ sub: "admin", scope: "read publish admin", exp: now() + 600 }, "not-the-secret-not-the-secret-000");

  await check("auth (JWT): a good token connects on every transport; bad, expired, forged and missing are refused", async () => {
    for (const transports of [["polling"], ["websocket"], ["polling", "websocket"]]) {
      const s = sio(B.base, { transports, auth: { token: acme } });
      await connected(s, `acme over ${transports}`);
      close(s);
    }
    for (const [auth, what] of [[{}, "no token"], [{ token: "garbage" }, "a garbage token"], [{ token: expired }, "an expired token"],
      [{ token: forged }, "a forged token"], [{ token: 42 }, "a token that is not a string"]]) {
      for (const transports of [["polling"], ["websocket"]]) {
        const s = sio(B.base, { transports, auth });
        const e = await refused(s, `connect_error for ${what}`);
        assert.ok(typeof e.message === "string" && e.message.length > 0, `${what}: a reason`);
        assert.notEqual(e.message, "Invalid namespace", `${what}`);
        if (what === "an expired token") assert.match(e.message, /expire/i, `${what}: ${e.message}`);
        if (transports[0] === "websocket") console.log(`socketio e2e:       ${what}: connect_error ${JSON.stringify(e.message)}`);
        close(s);
      }
    }
    // The session goes on after a refusal: another CONNECT with a good token joins.
    const r = raw(B.port);
    await r.opened;
    await r.take((p) => p[0] === "0", "the open packet");
    r.send('40{"token":"garbage"}');
    const no = await r.take((p) => p.startsWith("4"), "the refusal");
    assert.match(no, /^44\{"message":".+"\}$/, `refused: ${no}`);
    r.send("40");
    assert.match(await r.take((p) => p.startsWith("4"), "the refusal of no token"), /^44\{/);
    r.send(`40${JSON.stringify({ token: acme })}`);
    assert.match(await r.take((p) => p.startsWith("4"), "the grant"), /^40\{"sid":"/);
    r.ws.close();
  });

  await check("auth (JWT): a tenant sees only its own rooms", async () => {
    const a = sio(B.base, { transports: ["websocket"], auth: { token: acme } });
    const g = sio(B.base, { transports: ["polling"], auth: { token: globex } });
    await Promise.all([connected(a), connected(g)]);
    assertSubscribed(await ack(a, "subscribe", { room: "tenant:acme" }), "tenant:acme", "acme's tenant room");
    assertSubscribed(await ack(a, "subscribe", { room: "job:acme/t-1" }), "job:acme/t-1", "acme's job room");
    assertSubscribed(await ack(g, "subscribe", { room: "tenant:globex" }), "tenant:globex", "globex's tenant room");
    assertError(await ack(a, "subscribe", { room: "tenant:globex" }), "another tenant's room", "not_found");
    assertError(await ack(a, "subscribe", { room: "job:globex/t-2" }), "another tenant's job", "not_found");
    assertError(await ack(a, "subscribe", { room: "queue:tq" }), "a queue room mixes tenants", "forbidden");
    assertError(await ack(g, "subscribe", { room: "tenant:acme" }), "acme's room for globex", "not_found");
    // Without a token, no publishing either (the same authenticator).
    const r = await fetch(B.base + "/api/v1/events", { method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify(queued("x", "tq")) });
    assert.equal(r.status, 401);
    await r.text();
    await post(B.base, [queued("t-2", "tq", { tenant_id: "globex" }), queued("t-1", "tq", { tenant_id: "acme" }),
      started("t-1", "tq", { tenant_id: "acme" })], admin);
    await until("acme's events", () => named(a, "event").length >= 4, 5000);
    await until("globex's event", () => named(g, "event").length >= 1, 5000);
    await sleep(200);
    const ae = named(a, "event");
    assert.ok(ae.every((m) => m.event.tenant_id === "acme"), "acme sees only acme's jobs");
    assert.deepEqual(ae.map((m) => m.room).sort(), ["job:acme/t-1", "job:acme/t-1", "tenant:acme", "tenant:acme"]);
    assert.deepEqual(eventsOf(a, "tenant:acme").map((m) => m.event.type), ["job.queued", "job.started"]);
    assert.deepEqual(named(g, "event").map((m) => m.event.job_id), ["t-2"], "globex sees only globex's job");
    close(a);
    close(g);
  });
  await kill(B, "SIGTERM");
}

// --- auth: static tokens -------------------------------------------------------------------------
{
  const tokens = { "st-reader": { subject: "reader", scopes: ["read"] } };
  const B2 = await start(["--auth.mode=static_tokens", `--auth.tokens=${JSON.stringify(tokens)}`]);
  await check("auth (static tokens): accepted, and refused with a reason", async () => {
    const ok = sio(B2.base, { auth: { token: "st-reader" } });
    await connected(ok);
    assertSubscribed(await ack(ok, "subscribe", { room: "queue:st" }), "queue:st", "the reader subscribes");
    close(ok);
    for (const auth of [{ token: "st-wrong" }, undefined]) {
      const s = sio(B2.base, auth ? { auth } : {});
      const e = await refused(s, "connect_error with a wrong or no static token");
      assert.ok(typeof e.message === "string" && e.message.length > 0);
      close(s);
    }
    // The mapped namespace is not served here: its name is not configured.
    const n = sio(B2.base + "/job-progress", { auth: { token: "st-reader" } });
    assert.equal((await refused(n, "an unconfigured namespace")).message, "Invalid namespace");
    close(n);
  });
  await kill(B2, "SIGTERM");
}

// --- disabled ------------------------------------------------------------------------------------
{
  const E = await start(["--gateway.socketio.enabled=false"]);
  await check("gateway.socketio.enabled=false answers /socket.io/ with 404", async () => {
    const r = await poll(E.base);
    assert.equal(r.status, 404, `${r.status} ${r.text}`);
  });
  await kill(E, "SIGTERM");
}

// --- connect timeout, upgrade timeout, poll buffer -----------------------------------------------
{
  const D = await start(["--gateway.socketio.connect_timeout_ms=800", "--gateway.socketio.upgrade_timeout_ms=500",
    "--gateway.socketio.max_poll_buffer_messages=16", "--gateway.socket_send_buffer_bytes=4096"]);
  await check("connect timeout: a session that joins no namespace is closed", async () => {
    const r = raw(D.port);
    await r.opened;
    await r.take((p) => p[0] === "0", "the open packet");
    await r.closedWithin("the connect timeout", 800 + 2000);
    const after = r.closed.at - r.openedAt;
    assert.ok(after >= 700, `closed after ${after} ms (connect_timeout 800)`);
    console.log(`socketio e2e:       closed ${after} ms after the open (${r.closed.code} ${r.closed.reason})`);
    // One that joined in time stays.
    const j = await rawJoined(D.port);
    await sleep(1500);
    assert.equal(j.closed, null, "a joined session stays open");
    j.ws.close();
  });
  await check("upgrade timeout: a probe that never sends 5 is closed; the session goes on over polling", async () => {
    const open = await poll(D.base);
    const sid = JSON.parse(open.text.slice(1)).sid;
    assert.equal((await poll(D.base, { sid, body: "40" })).text, "ok");
    const r = raw(D.port, { query: `EIO=4&transport=websocket&sid=${encodeURIComponent(sid)}` });
    await r.opened;
    r.send("2probe");
    await r.take((p) => p === "3probe", "3probe");
    await r.closedWithin("the probe's close after upgrade_timeout", 500 + 2000);
    const g = await poll(D.base, { sid });
    assert.equal(g.status, 200, `the polling session goes on: ${g.status} ${g.text}`);
    assert.ok(g.text.split("\x1e").some((p) => p.startsWith("40{")), `the CONNECT answer by polling: ${JSON.stringify(g.text)}`);
    assert.equal((await poll(D.base, { sid, body: '421["subscribe",{"room":"queue:up"}]' })).text, "ok");
    const g2 = await poll(D.base, { sid });
    assert.ok(g2.text.split("\x1e").some((p) => p.startsWith("431[")), `the ack by polling: ${JSON.stringify(g2.text)}`);
  });
  await check("a polling client that stops polling is closed once its buffer passes the bound", async () => {
    const open = await poll(D.base);
    const sid = JSON.parse(open.text.slice(1)).sid;
    await poll(D.base, { sid, body: "40" });
    assert.match((await poll(D.base, { sid })).text, /^40\{/);
    await poll(D.base, { sid, body: '421["subscribe",{"room":"queue:buf"}]' });
    assert.match((await poll(D.base, { sid })).text, /^431\[/);
    await post(D.base, Array.from({ length: 40 }, (_, i) => queued(`buf-${i}`, "buf")));
    await sleep(300);
    const g = await poll(D.base, { sid, ms: 3000 }).catch((e) => ({ status: 0, text: String(e) }));
    assert.ok(g.status === 400 || (g.status === 200 && g.text.split("\x1e").at(-1) === "1"),
      `40 packets over a bound of 16 close the session: GET answered ${g.status} ${JSON.stringify(g.text.slice(0, 100))}`);
  });
  await check("a websocket client that stops reading is disconnected (send queue overflow); its neighbour gets everything", async () => {
    const room = "queue:slow";
    const r = await rawJoined(D.port);
    const other = await rawJoined(D.port);
    for (const c of [r, other]) {
      c.send(`421["subscribe",{"room":"${room}"}]`);
      await c.take((p) => p.startsWith("431["), "the subscribe ack");
    }
    r.ws.pause();
    const N = 6000;
    const count = (c) => c.packets.filter((x) => x.startsWith('42["event"')).length;
    for (let b = 0; b < N; b += 200) {
      await post(D.base, Array.from({ length: 200 }, (_, i) => queued(`slow-${b + i}`, "slow")));
      // The reading client keeps up (it must not be the one that overflows).
      await until("the reading client's events", () => count(other) === b + 200, 5000, 5);
    }
    r.ws.resume();
    await r.closedWithin("the server to close the client that did not read", 10_000);
    const got = sioEvents(r, "event");
    assert.ok(got.length < N, `${got.length} of ${N} events before the close`);
    for (let i = 1; i < got.length; ++i) assert.ok(got[i].seq > got[i - 1].seq, "in order up to the close");
    console.log(`socketio e2e:       closed ${r.closed.code} ${r.closed.reason} after ${got.length} of ${N} events`);
    assert.deepEqual(sioEvents(other, "event").map((m) => m.event.job_id), Array.from({ length: N }, (_, i) => `slow-${i}`),
      "the reading client got every event, in order");
    assert.equal(other.closed, null, "the reading client is open");
    other.ws.close();
  });
  await kill(D, "SIGTERM");
}

// --- ping timeout, then reconnect after SIGKILL -----------------------------------------------------
{
  const PING = ["--gateway.socketio.ping_interval_ms=300", "--gateway.socketio.ping_timeout_ms=300"];
  let C = await start(PING);
  const port = C.port;
  const url = C.base;
  await check("server side: a raw client that never answers pings is closed within interval+timeout+slack", async () => {
    const quiet = await rawJoined(port);
    quiet.pong = false;
    const answering = await rawJoined(port);
    assert.equal(quiet.open.pingInterval, 300);
    assert.equal(quiet.open.pingTimeout, 300);
    await quiet.closedWithin("the server to drop a client that never answers pings", 300 + 300 + 1500);
    const after = quiet.closed.at - quiet.openedAt;
    assert.ok(quiet.pings >= 1, "it was pinged");
    assert.ok(after >= 500, `closed ${after} ms after the open: not before interval + timeout`);
    console.log(`socketio e2e:       dropped ${after} ms after the open (${quiet.closed.code} ${quiet.closed.reason})`);
    await sleep(Math.max(0, answering.openedAt + 2000 - Date.now()));
    assert.equal(answering.closed, null, "a client that answers stays");
    assert.ok(answering.pings >= 3, `pinged ${answering.pings} times in 2 s`);
    answering.ws.close();
  });

  const opts = { reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 500, randomizationFactor: 0, timeout: 2000 };
  const socks = [sio(url, { ...opts, transports: ["websocket"] }), sio(url, { ...opts, transports: ["polling"] }), sio(url, opts)];
  const tnames = ["websocket", "polling", "upgraded"];
  const room = "job:rc-1";
  for (const s of socks) {
    s.joined = [];
    s.reconnects = 0;
    s.io.on("reconnect", () => ++s.reconnects);
    // Subscribe on every connect (a reconnect is a new session).
    s.on("connect", () => s.timeout(5000).emitWithAck("subscribe", { room }).then((a) => s.joined.push(a), (e) => s.joined.push(e)));
  }
  await Promise.all(socks.map((s) => connected(s)));
  await until("three subscriptions", () => socks.every((s) => s.joined.length === 1), 5000);

  await check("client side: SIGSTOP the server; every client disconnects with \"ping timeout\"; SIGCONT, they reconnect", async () => {
    await sleep(1000); // a few heartbeats first, answered by the clients
    for (const s of socks) assert.ok(s.connected && s.disconnects.length === 0, "the clients answer pings");
    const t0 = Date.now();
    C.server.kill("SIGSTOP");
    try {
      await until("every client's disconnect", () => socks.every((s) => s.disconnects.length >= 1), 300 + 300 + 3000);
    } finally {
      C.server.kill("SIGCONT");
    }
    socks.forEach((s, k) => {
      const d = s.disconnects[0];
      assert.equal(d.reason, "ping timeout", `${tnames[k]}: disconnect reason`);
      console.log(`socketio e2e:       ${tnames[k]}: "ping timeout" ${d.at - t0} ms after SIGSTOP`);
    });
    await until("every client reconnected", () => socks.every((s) => s.connects >= 2 && s.joined.length >= 2), 10_000);
    for (const s of socks) assertSubscribed(s.joined.at(-1), room, "the subscription after the reconnect");
  });

  await check("reconnect: SIGKILL the server and restart it on the same port; the clients come back and receive", async () => {
    await post(url, [queued("rc-1", "rc")]);
    await until("the event before the kill", () => socks.every((s) => named(s, "event").length === 1), 5000);
    const before = socks.map((s) => s.connects);
    const subsBefore = socks.map((s) => s.joined.length);
    const rec = socks.map((s) => s.reconnects);
    await kill(C, "SIGKILL");
    await until("every client disconnected", () => socks.every((s) => !s.connected), 5000);
    socks.forEach((s, k) => console.log(`socketio e2e:       ${tnames[k]}: disconnected: ${s.disconnects.at(-1).reason}`));
    await sleep(500); // a few attempts against a closed port
    C = await start(PING, { port });
    assert.equal(C.port, port, "the restart listens on the same port");
    await until("every client's reconnect", () => socks.every((s, k) => s.connects > before[k] && s.reconnects > rec[k]), 15_000);
    await until("the subscriptions after the reconnect", () => socks.every((s, k) => s.joined.length >= subsBefore[k] + 1), 5000);
    for (const s of socks) assertSubscribed(s.joined.at(-1), room, "re-subscribed after the restart");
    await until("the default client's upgrade after the reconnect", () => socks[2].io.engine.transport.name === "websocket", 5000);
    const n = socks.map((s) => named(s, "event").length);
    await post(url, [queued("rc-1", "rc"), started("rc-1", "rc"), completed("rc-1", "rc")]);
    await until("the events after the restart", () => socks.every((s, k) => named(s, "event").length === n[k] + 3), 5000);
    socks.forEach((s, k) => {
      const after = named(s, "event").slice(n[k]);
      assert.deepEqual(after.map((m) => m.event.type), ["job.queued", "job.started", "job.completed"], tnames[k]);
      for (let i = 1; i < after.length; ++i) assert.ok(after[i].seq > after[i - 1].seq);
    });
  });
  for (const s of socks) close(s);
  await kill(C, "SIGTERM");
}

// --- lagged: the shard backlog -------------------------------------------------------------------
{
  const G = await start(["--gateway.threads=1", "--gateway.max_shard_backlog=8"]);
  await check("\"lagged\" on \"/\" (one I/O thread, a shard backlog of 8): resume with since, nothing lost", async () => {
    const room = "queue:lag";
    const socks = [sio(G.base, { transports: ["websocket"] }), sio(G.base, { transports: ["polling"] })];
    await Promise.all(socks.map((s) => connected(s)));
    for (const s of socks) assertSubscribed(await ack(s, "subscribe", { room }), room, "subscribe");
    const N = 500;
    await post(G.base, [queued("lag-0", "lag")]);
    await until("the first event", () => socks.every((s) => named(s, "event").length === 1), 5000);
    await post(G.base, Array.from({ length: N - 1 }, (_, i) => queued(`lag-${i + 1}`, "lag")));
    for (const [k, s] of socks.entries()) {
      const what = ["websocket", "polling"][k];
      await until(`${what}: the lagged notice`, () => named(s, "lagged").length === 1, 10_000);
      const lagged = named(s, "lagged")[0];
      assert.equal(lagged.type, "lagged");
      assert.equal(lagged.room, room);
      assert.ok(Number.isInteger(lagged.resume_from) && lagged.resume_from >= 1, `${what}: ${JSON.stringify(lagged)}`);
      const got = eventsOf(s, room);
      assert.ok(got.length < N, `${what}: ${got.length} of ${N} events before the lag`);
      assert.ok(got.every((m) => m.seq <= lagged.resume_from), `${what}: every event received is at or before resume_from`);
      const a = await ack(s, "subscribe", { room, since: lagged.resume_from });
      assertSubscribed(a, room, `${what}: the resume`);
      await until(`${what}: the replay`, () => eventsOf(s, room).length >= N || named(s, "reset").length, 10_000);
      assert.deepEqual(named(s, "reset"), [], `${what}: the replay fits (no reset)`);
      assert.deepEqual(eventsOf(s, room).map((m) => m.event.job_id), Array.from({ length: N }, (_, i) => `lag-${i}`),
        `${what}: nothing lost, nothing repeated`);
      assert.equal(a.seq, eventsOf(s, room).at(-1).seq, `${what}: the ack's seq is the room's position`);
      console.log(`socketio e2e:       ${what}: lagged after ${got.length} events (resume_from ${lagged.resume_from}); replayed the rest`);
    }
    for (const s of socks) close(s);
  });
  await kill(G, "SIGTERM");
}

// --- pings on time ------------------------------------------------------------------------------------
{
  // The client gives the server pingInterval + pingTimeout between two pings; a short pingTimeout
  // leaves the server no slack to ping late.
  const F = await start(["--gateway.socketio.ping_interval_ms=500", "--gateway.socketio.ping_timeout_ms=100"]);
  await check("heartbeat on time: pings every ping_interval; a healthy client with ping_timeout 100 ms stays connected", async () => {
    const r = await rawJoined(F.port);
    const times = [];
    r.ws.on("message", (d) => d.toString() === "2" && times.push(Date.now()));
    const s = sio(F.base, { transports: ["websocket"] });
    const p = sio(F.base, { transports: ["polling"] });
    await Promise.all([connected(s), connected(p)]);
    await sleep(2600);
    const gaps = [r.openedAt, ...times].slice(1).map((t, i) => t - [r.openedAt, ...times][i]);
    console.log(`socketio e2e:       ping gaps ${gaps.join(", ")} ms (interval 500, timeout 100)`);
    for (const [c, what] of [[s, "websocket"], [p, "polling"]])
      assert.deepEqual(c.disconnects.map((d) => d.reason), [], `${what}: a healthy client stays connected`);
    for (const g of gaps) assert.ok(g <= 500 + 100, `a ping came ${g} ms after the previous one (open): later than interval + timeout`);
    assert.ok(times.length >= 4, `${times.length} pings in 2.6 s`);
    r.ws.close();
    close(s);
    close(p);
  });
  await kill(F, "SIGTERM");
}

clearTimeout(overall);
cleanup();
console.log(`socketio e2e: all checks passed in ${((Date.now() - began) / 1000).toFixed(1)} s`);
console.log("PASS");
process.exit(0);
