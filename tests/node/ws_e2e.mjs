// End-to-end check of the gateway with a third-party client: Node's `ws`.
// Usage: node ws_e2e.mjs <port>. Exits 0 when every check holds; prints the
// first failure and exits 1 otherwise. Every wait has a deadline.
import WebSocket from "ws";
import assert from "node:assert/strict";

const port = Number(process.argv[2]);
const base = `http://127.0.0.1:${port}`;
const deadline = setTimeout(() => fail(new Error("deadline of 30 s passed")), 30_000);

function fail(err) {
  console.error("ws_e2e failed:", err?.stack ?? err);
  process.exit(1);
}

/** A client whose messages can be awaited one by one. */
function connect(path = "/ws") {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`);
  const queue = [];
  const waiters = [];
  ws.on("message", (data, isBinary) => {
    assert.equal(isBinary, false, "the server sends text frames");
    const msg = JSON.parse(data.toString());
    const w = waiters.shift();
    if (w) w(msg);
    else queue.push(msg);
  });
  ws.next = () =>
    new Promise((resolve, reject) => {
      if (queue.length) return resolve(queue.shift());
      const t = setTimeout(() => reject(new Error("no message within 5 s")), 5000);
      waiters.push((m) => {
        clearTimeout(t);
        resolve(m);
      });
    });
  ws.until = async (type) => {
    for (;;) {
      const m = await ws.next();
      if (m.type === type) return m;
    }
  };
  ws.opened = new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  return ws;
}

async function publish(lines) {
  const res = await fetch(`${base}/api/v1/events`, {
    method: "POST",
    headers: { "content-type": "application/x-ndjson" },
    body: lines.map((l) => JSON.stringify(l)).join("\n") + "\n",
  });
  assert.equal(res.status, 200);
  return res.json();
}

async function main() {
  const a = connect();
  await a.opened;
  const welcome = await a.next();
  assert.equal(welcome.type, "welcome");
  assert.equal(welcome.protocol, 1);

  a.send(JSON.stringify({ type: "subscribe", room: "queue:node", id: "n1" }));
  const sub = await a.until("subscribed");
  assert.equal(sub.id, "n1");
  assert.equal(sub.snapshot.kind, "summary");

  const events = [];
  for (let i = 0; i < 50; i++) events.push({ type: "job.queued", job_id: `node-${i}`, queue: "node" });
  const r = await publish(events);
  assert.equal(r.accepted, 50);
  let last = 0;
  for (let i = 0; i < 50; i++) {
    const m = await a.until("event");
    assert.equal(m.room, "queue:node");
    assert.equal(m.event.job_id, `node-${i}`);
    assert.ok(m.seq > last, "sequence order");
    last = m.seq;
  }

  // A bad message: an error with a path, and the connection stays open.
  a.send(JSON.stringify({ type: "subscribe", room: "queue:node", since: "yesterday", id: "bad" }));
  const err = await a.until("error");
  assert.equal(err.code, "invalid_message");
  assert.equal(err.path, "/since");
  assert.equal(err.id, "bad");
  a.send("{oops");
  assert.equal((await a.until("error")).code, "bad_json");
  a.send(JSON.stringify({ type: "ping", id: "p" }));
  assert.equal((await a.until("pong")).id, "p");

  // Reconnect with since: the missed events, in order.
  a.close(1000);
  await publish([
    { type: "job.started", job_id: "node-1", queue: "node", attempt: 1 },
    { type: "job.completed", job_id: "node-1", queue: "node" },
  ]);
  const b = connect();
  await b.opened;
  await b.until("welcome");
  b.send(JSON.stringify({ type: "subscribe", room: "queue:node", since: last }));
  // The missed events come first, then `subscribed` with the room's state.
  const e1 = await b.next();
  const e2 = await b.next();
  assert.deepEqual([e1.type, e2.type], ["event", "event"]);
  assert.deepEqual([e1.event.type, e2.event.type], ["job.started", "job.completed"]);
  assert.deepEqual([e1.seq, e2.seq], [last + 1, last + 2]);
  const resumed = await b.next();
  assert.equal(resumed.type, "subscribed");
  assert.equal(resumed.seq, last + 2);
  assert.equal(resumed.snapshot.kind, "summary");

  // A message over the limit closes with 1009.
  const closed = new Promise((resolve) => b.once("close", (code) => resolve(code)));
  b.send(JSON.stringify({ type: "ping", id: "x".repeat(70_000) }));
  assert.equal(await closed, 1009);

  clearTimeout(deadline);
  console.log("ws_e2e: all checks passed");
}

main().then(
  () => process.exit(0),
  (e) => fail(e),
);
