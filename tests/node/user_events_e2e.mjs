// User-defined event types end to end, against the demo server given
// --events.schemas=tests/data/custom_events.schema.json (docs/events.md):
//   - accepted over REST (one event, NDJSON) and WebSocket `publish`;
//   - rejected with the JSON Pointer and the generated parsers' words; an
//     unknown type still rejected; a bad line loses no good one;
//   - routed to the job's rooms and delivered under their own `type` over
//     WebSocket (Node's `ws`), SSE and long-poll;
//   - resumed with `since`; listed by GET /jobs/{id}/events; their effects
//     (progress, log line) visible in the job and its logs;
//   - kept across a restart with durable history (sqlite);
//   - a schema file that cannot be used stops the server at start, saying why.
// Usage: node user_events_e2e.mjs <jobwatch_demo> <custom_events.schema.json>.
// Every wait has a deadline; every server started is stopped.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import WebSocket from "ws";

const [demo, schemaFile] = process.argv.slice(2);
if (!demo || !schemaFile) {
  console.error("usage: node user_events_e2e.mjs <jobwatch_demo> <custom_events.schema.json>");
  process.exit(2);
}
const children = new Set();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "jw-user-events-"));
let current = "start";
function cleanup() {
  for (const c of children) c.kill("SIGKILL");
  fs.rmSync(dir, { recursive: true, force: true });
}
const deadline = setTimeout(() => {
  console.error(`user events e2e failed: the deadline of 90 s passed (in "${current}")`);
  cleanup();
  process.exit(1);
}, 90_000);

function within(what, promise, ms = 5000) {
  let t;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      t = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}
async function check(name, fn) {
  current = name;
  const t0 = Date.now();
  await fn();
  console.log(`user events e2e: ok  ${name} (${Date.now() - t0} ms)`);
}

function start(extra) {
  const server = spawn(demo, ["--gateway.port=0", "--gateway.host=127.0.0.1", ...extra],
    { env: { ...process.env, JOBWATCH_DEMO_WORKLOAD: "off" }, stdio: ["ignore", "pipe", "pipe"] });
  children.add(server);
  const out = { server, stderr: "" };
  server.stderr.on("data", (d) => (out.stderr += d));
  out.exited = new Promise((resolve) => server.once("exit", (code, signal) => {
    children.delete(server);
    out.code = code;
    resolve({ code, signal });
  }));
  out.ready = within("the server's start", new Promise((resolve, reject) => {
    out.exited.then(({ code, signal }) => reject(new Error(`exited at start (${code ?? signal}): ${out.stderr}`)));
    readline.createInterface({ input: server.stdout }).on("line", (l) => {
      const m = /^listening (\d+)/.exec(l);
      if (m) resolve(Number(m[1]));
    });
  }), 15_000).then((port) => {
    out.port = port;
    out.base = `http://127.0.0.1:${port}`;
    return out;
  });
  out.ready.catch(() => {});  // a server expected to refuse is awaited through `exited`
  return out;
}
async function stop(app) {
  if (app.code !== undefined) return;
  app.server.kill("SIGTERM");
  await within("the server's exit", app.exited, 10_000);
}

async function postLines(base, events) {
  const r = await fetch(base + "/api/v1/events", { method: "POST", headers: { "content-type": "application/x-ndjson" },
    body: events.map((e) => (typeof e === "string" ? e : JSON.stringify(e))).join("\n") + "\n",
    signal: AbortSignal.timeout(10_000) });
  assert.equal(r.status, 200);
  return r.json();
}
async function postOne(base, event) {
  const r = await fetch(base + "/api/v1/events", { method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify(event), signal: AbortSignal.timeout(10_000) });
  return { status: r.status, body: await r.json() };
}
async function getJson(url) {
  const r = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  assert.equal(r.status, 200, `GET ${url}: ${r.status}`);
  return r.json();
}

/** A WebSocket whose messages can be awaited one by one. */
function connect(port) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  const queue = [];
  const waiters = [];
  ws.on("message", (data) => {
    const msg = JSON.parse(data.toString());
    const w = waiters.shift();
    if (w) w(msg);
    else queue.push(msg);
  });
  ws.next = () => within("a WebSocket message", new Promise((resolve) => {
    if (queue.length) resolve(queue.shift());
    else waiters.push(resolve);
  }));
  ws.until = async (type) => {
    for (;;) {
      const m = await ws.next();
      if (m.type === type) return m;
    }
  };
  ws.opened = within("the WebSocket's open", new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  }));
  return ws;
}

/** An SSE stream read with fetch: its records, as they come. */
async function sse(base, query) {
  const ac = new AbortController();
  const r = await fetch(`${base}/api/v1/stream?${query}`, { signal: ac.signal });
  assert.equal(r.status, 200);
  const records = [];
  let buffer = "";
  let wake = null;
  (async () => {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of r.body) {
        buffer += decoder.decode(chunk, { stream: true });
        let i;
        while ((i = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, i);
          buffer = buffer.slice(i + 2);
          const rec = {};
          for (const line of block.split("\n")) {
            const m = /^(event|data|id): ?(.*)$/.exec(line);
            if (m) rec[m[1]] = m[2];
          }
          if (rec.data) records.push({ event: rec.event, id: rec.id, data: JSON.parse(rec.data) });
          wake?.();
        }
      }
    } catch { /* aborted */ }
  })();
  return {
    records,
    close: () => ac.abort(),
    async events(n) {
      const evs = () => records.filter((x) => x.event === "event");
      await within(`${n} SSE events`, (async () => {
        while (evs().length < n) await new Promise((resolve) => (wake = resolve));
      })());
      return evs();
    },
  };
}

const job = (id, extra = {}) => ({ job_id: id, queue: "imports", run_id: "r1", ...extra });
const meta = (id, count = 7) => ({ type: "execution:meta_fetched", ...job(id), date: "2024-05-01", accountId: "a1", count });
const pos = (id, percent) => ({ type: "execution:pos_fetched", ...job(id), shopId: "s1", count: 3, percent, step: "shop s1" });
const note = (id, message) => ({ type: "execution:note", job_id: id, queue: "imports", level: "warn", message });

async function main() {
  const db = path.join(dir, "jobwatch.db");
  const A = await start([`--events.schemas=${schemaFile}`, "--storage.mode=sqlite", `--storage.path=${db}`]).ready;

  let firstSeq = 0;
  await check("delivered under their own type over WebSocket, SSE and long-poll", async () => {
    const ws = connect(A.port);
    await ws.opened;
    ws.send(JSON.stringify({ type: "subscribe", room: "job:e1" }));
    await ws.until("subscribed");
    const stream = await sse(A.base, "room=job:e1");
    const sent = [{ type: "job.queued", ...job("e1") }, meta("e1"), pos("e1", 40), note("e1", "shop s2 skipped")];
    const body = await postLines(A.base, sent);
    assert.equal(body.accepted, 4, JSON.stringify(body));
    const got = [];
    for (let i = 0; i < 4; ++i) got.push(await ws.until("event"));
    assert.deepEqual(got.map((m) => m.event.type),
      ["job.queued", "execution:meta_fetched", "execution:pos_fetched", "execution:note"]);
    assert.equal(got[1].event.accountId, "a1");
    assert.equal(got[1].event.count, 7);
    assert.equal(got[1].room, "job:e1");
    firstSeq = got[0].seq;
    const viaSse = await stream.events(4);
    assert.deepEqual(viaSse.map((r) => r.data.event.type), got.map((m) => m.event.type));
    assert.deepEqual(viaSse.map((r) => Number(r.id)), got.map((m) => m.seq));
    stream.close();
    const poll = await getJson(`${A.base}/api/v1/poll?room=job:e1&since=${firstSeq}&timeout_ms=2000`);
    const polled = poll.messages.filter((m) => m.type === "event");
    assert.deepEqual(polled.map((m) => m.event.type),
      ["execution:meta_fetched", "execution:pos_fetched", "execution:note"]);
    ws.close();
  });

  await check("resumed with since, listed by REST, applied by their effect", async () => {
    const ws = connect(A.port);
    await ws.opened;
    ws.send(JSON.stringify({ type: "subscribe", room: "run:r1", since: firstSeq }));
    const replay = [];
    for (;;) {
      const m = await ws.next();
      if (m.type === "event") replay.push(m.event.type);
      if (m.type === "subscribed") break;
    }
    assert.deepEqual(replay, ["execution:meta_fetched", "execution:pos_fetched", "execution:note"]);
    ws.close();
    const events = await getJson(`${A.base}/api/v1/jobs/e1/events`);
    assert.deepEqual(events.items.map((i) => i.event.type),
      ["job.queued", "execution:meta_fetched", "execution:pos_fetched", "execution:note"]);
    const snap = await getJson(`${A.base}/api/v1/jobs/e1`);
    assert.equal(snap.state, "running", "a progress report starts the job");
    assert.equal(snap.progress.percent, 40);
    assert.equal(snap.progress.step, "shop s1");
    const logs = await getJson(`${A.base}/api/v1/jobs/e1/logs`);
    assert.deepEqual(logs.items.map((l) => [l.level, l.message]), [["warn", "shop s2 skipped"]]);
  });

  await check("rejected with the pointer; an unknown type too; a bad line loses no good one", async () => {
    const bad = await postOne(A.base, meta("e2", -1));
    assert.equal(bad.status, 400, JSON.stringify(bad.body));
    assert.equal(bad.body.pointer, "/count");
    assert.match(JSON.stringify(bad.body), /must be >= 0/);
    const extra = await postOne(A.base, { ...pos("e2", 10), colour: "red" });
    assert.equal(extra.status, 400);
    assert.equal(extra.body.pointer, "/colour");
    const unknown = await postOne(A.base, { type: "execution:unheard_of", ...job("e2") });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.pointer, "/type");
    assert.match(JSON.stringify(unknown.body), /or a registered event type/);
    const mixed = await postLines(A.base, [meta("e3"), meta("e3", "many"), note("e3", "fine")]);
    assert.equal(mixed.accepted, 2, JSON.stringify(mixed));
    assert.deepEqual(mixed.results.map((r) => [r.line, r.status, r.pointer]), [[2, "rejected", "/count"]]);
  });

  await check("published over WebSocket", async () => {
    const ws = connect(A.port);
    await ws.opened;
    ws.send(JSON.stringify({ type: "subscribe", room: "job:e4" }));
    await ws.until("subscribed");
    ws.send(JSON.stringify({ type: "publish", id: "p1", event: meta("e4", 1) }));
    const ev = await ws.until("event");
    assert.equal(ev.event.type, "execution:meta_fetched");
    ws.send(JSON.stringify({ type: "publish", id: "p2", event: meta("e4", -5) }));
    const err = await ws.until("error");
    assert.equal(err.path, "/event/count", JSON.stringify(err));
    ws.close();
  });

  await check("kept across a restart (sqlite)", async () => {
    await stop(A);
    const B = await start([`--events.schemas=${schemaFile}`, "--storage.mode=sqlite", `--storage.path=${db}`]).ready;
    const events = await getJson(`${B.base}/api/v1/jobs/e1/events`);
    assert.deepEqual(events.items.map((i) => i.event.type),
      ["job.queued", "execution:meta_fetched", "execution:pos_fetched", "execution:note"]);
    assert.equal(events.items[1].event.accountId, "a1");
    await stop(B);
  });

  await check("a schema that cannot be used stops the server at start", async () => {
    const broken = path.join(dir, "broken.schema.json");
    fs.writeFileSync(broken, JSON.stringify({ type: "object", properties: { type: { const: "job.mine" },
      job_id: { type: "string" }, queue: { type: "string" } }, required: ["type", "job_id", "queue"] }));
    const C = start([`--events.schemas=${broken}`, "--storage.mode=memory"]);
    const { code } = await within("the refusing server's exit", C.exited, 10_000);
    assert.notEqual(code, 0);
    assert.match(C.stderr, /events\.schemas/);
    assert.match(C.stderr, /starting with "job\." are jobwatch's own/);
    const missing = start([`--events.schemas=${path.join(dir, "nope.json")}`, "--storage.mode=memory"]);
    const gone = await within("the refusing server's exit", missing.exited, 10_000);
    assert.notEqual(gone.code, 0);
    assert.match(missing.stderr, /nope\.json: cannot be read/);
  });
}

main().then(() => {
  clearTimeout(deadline);
  cleanup();
  console.log("user events e2e: all checks passed");
}, (err) => {
  console.error(`user events e2e failed in "${current}":`, err?.stack ?? err);
  cleanup();
  process.exit(1);
});
