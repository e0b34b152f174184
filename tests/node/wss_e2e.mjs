// wss and https with a third-party client: Node's `ws` against a server with
// gateway.tls on. Usage: node wss_e2e.mjs <port> <ca.pem>. Prints
// "wss_e2e ok" and exits 0 when every check holds; every wait has a deadline.
import WebSocket from "ws";
import https from "node:https";
import fs from "node:fs";
import assert from "node:assert/strict";

const port = Number(process.argv[2]);
const ca = fs.readFileSync(process.argv[3]);
const deadline = setTimeout(() => fail(new Error("deadline of 30 s passed")), 30_000);

function fail(err) {
  console.error("wss_e2e failed:", err?.stack ?? err);
  process.exit(1);
}

function post(path, body, type) {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: "127.0.0.1", port, path, method: "POST", ca,
      headers: { "Content-Type": type } }, (res) => {
      let text = "";
      res.on("data", (d) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode, text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

async function main() {
  // Plain ws:// on the TLS port: refused with 400 before any upgrade.
  const status = await new Promise((resolve, reject) => {
    const plain = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    plain.on("unexpected-response", (_req, res) => resolve(res.statusCode));
    plain.on("open", () => reject(new Error("ws:// opened on the TLS port")));
    plain.on("error", () => {});
  });
  assert.equal(status, 400);

  const ws = new WebSocket(`wss://127.0.0.1:${port}/ws`, { ca });
  const seen = [];
  let subscribed;
  const ready = new Promise((r) => (subscribed = r));
  ws.on("message", (data) => {
    const m = JSON.parse(data.toString());
    if (m.type === "welcome") ws.send(JSON.stringify({ type: "subscribe", room: "queue:wss" }));
    if (m.type === "subscribed") subscribed();
    if (m.type === "event") seen.push(m);
  });
  ws.on("error", fail);
  await ready;
  // A burst larger than one TLS record: 300 events in one NDJSON request, all delivered in order.
  const n = 300;
  const lines = [];
  for (let i = 0; i < n; i++)
    lines.push(JSON.stringify({ type: "job.progress", job_id: `w-${i}`, queue: "wss", percent: 50,
      step: "x".repeat(200) }));
  const r = await post("/api/v1/events", lines.join("\n") + "\n", "application/x-ndjson");
  assert.equal(r.status < 300, true, r.text);
  while (seen.length < n) await new Promise((res) => setTimeout(res, 20));
  seen.forEach((m, i) => assert.equal(m.event.job_id, `w-${i}`));
  const code = await new Promise((resolve) => {
    ws.on("close", (c) => resolve(c));
    ws.close(1000);
  });
  assert.equal(code, 1000);
  clearTimeout(deadline);
  console.log("wss_e2e ok");
}

main().catch(fail);
