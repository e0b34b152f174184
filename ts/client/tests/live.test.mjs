// @jobwatch/client against a running demo server (JOBWATCH_DEMO = its binary).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import net from "node:net";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import WebSocket from "ws";
import { connect, rest, backoffDelay, jwtExpiry, JobwatchProblem } from "../dist/index.js";
import { startProxy } from "./proxy.mjs";

const demo = process.env.JOBWATCH_DEMO;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => { const p = s.address().port; s.close(() => resolve(p)); });
    s.on("error", reject);
  });
}

async function startDemo(port, extra = []) {
  const p = spawn(demo, [`--gateway.port=${port}`, "--gateway.host=127.0.0.1", "--storage.mode=memory", ...extra], { stdio: ["ignore", "pipe", "pipe"] });
  const deadline = Date.now() + 20_000;
  for (;;) {
    try { await fetch(`http://127.0.0.1:${port}/healthz`); return p; } catch { /* not listening yet (any answer, 401 included, means it is) */ }
    if (Date.now() > deadline) { p.kill("SIGKILL"); throw new Error("demo did not start"); }
    await new Promise((r) => setTimeout(r, 100));
  }
}
function stop(p) {
  return new Promise((resolve) => {
    if (p.exitCode !== null) { resolve(); return; }
    const t = setTimeout(() => p.kill("SIGKILL"), 10_000);
    p.on("exit", () => { clearTimeout(t); resolve(); });
    p.kill("SIGTERM");
  });
}
function waitFor(pred, ms, what) {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + ms;
    const tick = () => { if (pred()) resolve(); else if (Date.now() > deadline) reject(new Error(`timed out: ${what}`)); else setTimeout(tick, 50); };
    tick();
  });
}

test("backoff: full jitter, bounded", () => {
  assert.equal(backoffDelay(0, { initialMs: 100 }, () => 0.999), 99);
  assert.equal(backoffDelay(20, { initialMs: 100, maxMs: 5000 }, () => 0.999), 4995);
  assert.equal(backoffDelay(3, { initialMs: 100 }, () => 0), 0);
});

for (const transport of ["ws", "sse", "poll"]) {
  test(`${transport}: typed events arrive, in order per room`, { skip: !demo, timeout: 60_000 }, async () => {
    const port = await freePort();
    const server = await startDemo(port);
    const c = connect({ url: `http://127.0.0.1:${port}`, rooms: ["queue:emails"], transports: [transport], WebSocket, pollTimeoutMs: 2000 });
    try {
      const seqs = [];
      let progress = 0;
      c.on("event", (m) => { assert.equal(m.type, "event"); seqs.push(m.seq); });
      c.on("job.progress", (m) => { assert.equal(m.event.type, "job.progress"); progress++; });
      await c.ready;
      assert.equal(c.transport, transport);
      await waitFor(() => seqs.length >= 5, 30_000, "5 events");
      for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i] > seqs[i - 1], "increasing seq, no duplicate");
    } finally { c.close(); await stop(server); }
  });
}

test("ws: after a restart the client reconnects and resumes", { skip: !demo, timeout: 90_000 }, async () => {
  const port = await freePort();
  let server = await startDemo(port);
  const states = [];
  const c = connect({ url: `http://127.0.0.1:${port}`, rooms: ["queue:emails"], transports: ["ws"], WebSocket, backoff: { initialMs: 100, maxMs: 1000 } });
  try {
    const seqs = [];
    c.on("state", (s) => states.push(s.state));
    const resets = [];
    c.on("event", (m) => seqs.push(m.seq));
    c.on("reset", (m) => resets.push(m));
    await c.ready;
    await waitFor(() => seqs.length >= 2, 30_000, "events before the restart");
    await stop(server);
    await waitFor(() => c.state === "reconnecting", 10_000, "reconnecting");
    server = await startDemo(port);
    await waitFor(() => c.state === "live", 20_000, "live again");
    const before = seqs.length;
    await waitFor(() => seqs.length > before + 2, 30_000, "events after the restart");
    assert.deepEqual(states.slice(0, 1), ["connecting"]);
    assert.ok(states.includes("reconnecting") && states.lastIndexOf("live") > states.indexOf("reconnecting"));
    // The restarted demo has no history and starts its sequence over: the
    // client's `since` is beyond it, so it gets a reset and follows the new numbers.
    assert.ok(resets.length >= 1, "a reset after the restart");
    assert.ok(seqs[seqs.length - 1] > resets[0].seq);
  } finally { c.close(); await stop(server); }
});

test("rest: jobs page and problem+json", { skip: !demo, timeout: 60_000 }, async () => {
  const port = await freePort();
  const server = await startDemo(port);
  try {
    const r = rest({ url: `http://127.0.0.1:${port}` });
    const page = await r.jobs({ limit: 2 });
    assert.equal(page.limit, 2);
    assert.ok(page.items.length <= 2);
    await assert.rejects(r.jobs({ status: "nonsense" }), (e) => e instanceof JobwatchProblem && e.status === 400);
    await assert.rejects(r.job("no-such-job"), (e) => e instanceof JobwatchProblem && e.status === 404);
  } finally { await stop(server); }
});

test("a dropped connection resumes with since: no gap, no duplicate", { skip: !demo, timeout: 90_000 }, async () => {
  const port = await freePort();
  const server = await startDemo(port);
  const proxy = await startProxy(port);
  const room = "queue:emails";
  // The reference sees the room directly; the client under test goes through the proxy, which drops it.
  const ref = connect({ url: `http://127.0.0.1:${port}`, rooms: [room], transports: ["ws"], WebSocket });
  const c = connect({ url: `http://127.0.0.1:${proxy.port}`, rooms: [room], transports: ["ws"], WebSocket, backoff: { initialMs: 200, maxMs: 500 } });
  try {
    const want = [], got = [];
    ref.on("event", (m) => want.push(m.seq));
    c.on("event", (m) => got.push(m.seq));
    await Promise.all([ref.ready, c.ready]);
    await waitFor(() => got.length >= 3, 30_000, "events before the drop");
    proxy.state.refuseWs = true; // keep it away long enough to miss events
    proxy.dropAll();
    await waitFor(() => c.state === "reconnecting", 10_000, "reconnecting");
    const missedFrom = want.length;
    await waitFor(() => want.length >= missedFrom + 3, 30_000, "events while away");
    proxy.state.refuseWs = false;
    await waitFor(() => c.state === "live" && c.transport === "ws", 20_000, "live again over ws");
    const last = want[want.length - 1];
    await waitFor(() => got.includes(last) || got[got.length - 1] > last, 30_000, "caught up");
    assert.equal(new Set(got).size, got.length, "no duplicate");
    const from = got[0];
    const expected = want.filter((s) => s >= from && s <= last);
    assert.deepEqual(got.filter((s) => s <= last), expected, "no gap");
  } finally { c.close(); ref.close(); await proxy.close(); await stop(server); }
});

test("fallback: /ws refused -> SSE, SSE refused -> long-poll, and back to WebSocket", { skip: !demo, timeout: 90_000 }, async () => {
  const port = await freePort();
  const server = await startDemo(port);
  const proxy = await startProxy(port, { refuseWs: true });
  const url = `http://127.0.0.1:${proxy.port}`;
  try {
    const a = connect({ url, rooms: ["queue:emails"], WebSocket, upgradeIntervalMs: 500 });
    const viaSse = [];
    a.on("event", (m) => viaSse.push(m));
    await a.ready;
    assert.equal(a.transport, "sse");
    await waitFor(() => viaSse.length >= 2, 30_000, "events over SSE");
    proxy.state.refuseWs = false; // WebSocket works again: the client goes back to it
    await waitFor(() => a.transport === "ws", 20_000, "back to ws");
    const n = viaSse.length;
    await waitFor(() => viaSse.length > n + 1, 30_000, "events over ws after the upgrade");
    a.close();

    proxy.state.refuseWs = true; proxy.state.refuseSse = true;
    const b = connect({ url, rooms: ["queue:emails"], WebSocket, pollTimeoutMs: 2000 });
    const viaPoll = [];
    b.on("job.started", (m) => viaPoll.push(m));
    b.on("event", (m) => viaPoll.push(m));
    await b.ready;
    assert.equal(b.transport, "poll");
    await waitFor(() => viaPoll.length >= 2, 30_000, "events over long-poll");
    b.close();
  } finally { await proxy.close(); await stop(server); }
});

test("tokens: getToken on every connect; a wrong token is refused; the refreshed one is used on reconnect", { skip: !demo, timeout: 90_000 }, async () => {
  const port = await freePort();
  const tokens = JSON.stringify({ "tok-one": { subject: "a", scopes: ["read"] }, "tok-two": { subject: "b", scopes: ["read"] } });
  // A WebSocket without credentials must send an auth message: this client sends none, and is closed soon.
  const server = await startDemo(port, ["--auth.mode=static_tokens", `--auth.tokens=${tokens}`, "--gateway.auth_timeout_ms=500"]);
  const proxy = await startProxy(port);
  try {
    // Without a token the server refuses every transport.
    const anon = connect({ url: `http://127.0.0.1:${port}`, rooms: ["queue:emails"], WebSocket, backoff: { initialMs: 50, maxMs: 100 } });
    await waitFor(() => anon.state === "reconnecting", 10_000, "refused");
    assert.notEqual(anon.state, "live");
    anon.close();
    await assert.rejects(rest({ url: `http://127.0.0.1:${port}`, token: "wrong" }).queues(), (e) => e instanceof JobwatchProblem && e.status === 401);

    const handed = ["wrong", "tok-one", "tok-two", "tok-two", "tok-two", "tok-two"];
    let calls = 0;
    const c = connect({ url: `http://127.0.0.1:${proxy.port}`, rooms: ["queue:emails"], transports: ["ws"], WebSocket,
      getToken: async () => handed[Math.min(calls++, handed.length - 1)], backoff: { initialMs: 50, maxMs: 200 } });
    const events = [];
    c.on("event", (m) => events.push(m));
    await c.ready;
    assert.equal(calls, 2, "first token refused, second accepted");
    await waitFor(() => events.length >= 1, 30_000, "events with tok-one");
    proxy.dropAll();
    await waitFor(() => calls >= 3 && c.state === "live", 20_000, "reconnected");
    const wsUrls = proxy.seen.filter((s) => s.url.startsWith("/ws")).map((s) => new URL(s.url, "http://x").searchParams.get("token"));
    assert.deepEqual(wsUrls.slice(0, 3), ["wrong", "tok-one", "tok-two"]);
    const n = events.length;
    await waitFor(() => events.length > n, 30_000, "events with tok-two");
    c.close();
  } finally { await proxy.close(); await stop(server); }
});

const b64url = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
const fakeJwt = (exp, tag) => `${b64url({ alg: "none", typ: "JWT" })}.${b64url({ sub: tag, exp })}.sig-${tag}`;

test("jwtExpiry reads exp of a JWT, null otherwise", () => {
  assert.equal(jwtExpiry(fakeJwt(1_700_000_000, "a")), 1_700_000_000_000);
  assert.equal(jwtExpiry("tok-one"), null);
  assert.equal(jwtExpiry("a.b.c"), null);
});

// JWT-shaped strings served as static tokens: the client's reconnect before `exp` with the new token
// (what SSE and long-poll rely on). The server's own JWT checking is the next test's and the C++ suite's.
test("a JWT is refreshed through getToken before it expires", { skip: !demo, timeout: 60_000 }, async () => {
  const port = await freePort();
  const now = Math.floor(Date.now() / 1000);
  const first = fakeJwt(now + 3, "first"), second = fakeJwt(now + 3600, "second");
  const tokens = JSON.stringify({ [first]: { subject: "a", scopes: ["read"] }, [second]: { subject: "a", scopes: ["read"] } });
  const server = await startDemo(port, ["--auth.mode=static_tokens", `--auth.tokens=${tokens}`]);
  const proxy = await startProxy(port);
  let calls = 0;
  const c = connect({ url: `http://127.0.0.1:${proxy.port}`, rooms: ["queue:emails"], transports: ["ws"], WebSocket,
    getToken: () => (calls++ === 0 ? first : second), refreshBeforeExpiryMs: 1500 });
  try {
    await c.ready;
    const t0 = Date.now();
    await waitFor(() => calls >= 2 && c.state === "live", 10_000, "refreshed before exp");
    assert.ok(Date.now() - t0 < 3000, "refreshed before the token expired");
    const used = proxy.seen.filter((s) => s.url.startsWith("/ws")).map((s) => new URL(s.url, "http://x").searchParams.get("token"));
    assert.deepEqual(used.slice(0, 2), [first, second]);
    const events = [];
    c.on("event", (m) => events.push(m));
    await waitFor(() => events.length >= 1, 30_000, "events after the refresh");
  } finally { c.close(); await proxy.close(); await stop(server); }
});

/** An HS256 JWT of `claims`, signed with `secret` (node:crypto, independent of the server's verifier). */
function hs256(secret, claims) {
  const enc = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const input = `${enc({ alg: "HS256", typ: "JWT" })}.${enc(claims)}`;
  return `${input}.${crypto.createHmac("sha256", secret).update(input).digest("base64url")}`;
}

test("auth.mode jwt: on auth_expiring the WebSocket sends a fresh token and keeps its connection and rooms", { skip: !demo, timeout: 60_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "jobwatch-jwt-"));
  const secret = crypto.randomBytes(32).toString("hex");
  const file = path.join(dir, "secret.txt");
  fs.writeFileSync(file, secret + "\n");
  const port = await freePort();
  const server = await startDemo(port, ["--auth.mode=jwt", `--auth.jwt.secret_file=${file}`]);
  const proxy = await startProxy(port);
  const now = Math.floor(Date.now() / 1000);
  const first = hs256(secret, { sub: "viewer", scope: "read", exp: now + 4 });
  const second = hs256(secret, { sub: "viewer", scope: "read", exp: now + 3600 });
  let calls = 0;
  const c = connect({ url: `http://127.0.0.1:${proxy.port}`, rooms: ["queue:emails"], transports: ["ws"], WebSocket,
    getToken: () => (calls++ === 0 ? first : second), refreshBeforeExpiryMs: 1000 });
  try {
    const notices = [], refreshed = [], events = [];
    c.on("auth_expiring", (m) => notices.push(m));
    c.on("authenticated", (m) => refreshed.push(m));
    await c.ready;
    // auth.jwt.refresh_notice_s is 60: a token of 4 s is warned at once, and refreshed in place.
    await waitFor(() => refreshed.length >= 1, 10_000, "authenticated after auth_expiring");
    assert.equal(notices.length >= 1, true);
    assert.equal(new Date(refreshed[0].expires_at).getTime(), (now + 3600) * 1000);
    // Past the first token's exp: the same connection, still receiving its room.
    await new Promise((r) => setTimeout(r, Math.max(0, (now + 5) * 1000 - Date.now())));
    c.on("event", (m) => events.push(m));
    await waitFor(() => events.length >= 1, 30_000, "events after the first token's exp");
    assert.equal(c.state, "live");
    assert.equal(proxy.seen.filter((s) => s.url.startsWith("/ws")).length, 1, "no reconnect: refreshed in place");
  } finally { c.close(); await proxy.close(); await stop(server); fs.rmSync(dir, { recursive: true, force: true }); }
});
