// A Socket.IO frontend moved to jobwatch untouched: the frontend code of a
// campaigns dashboard (io(url + '/campaigns', {auth: {token}}), join_campaign,
// campaign:status, job-completed, leave_campaign), run by the real
// socket.io-client against examples/socketio (its C++ payload views), with
// job events published over HTTP as its workers would.
//
// Usage: node socketio_migration_e2e.mjs <jobwatch_socketio_example>
// Exits 0 when every check holds; prints the first failure and exits 1.
// Every wait has a deadline; the server it starts is stopped on exit.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import readline from "node:readline";
import { io } from "socket.io-client";

const bin = process.argv[2];
assert.ok(bin, "usage: node socketio_migration_e2e.mjs <jobwatch_socketio_example>");
let child;
const overall = setTimeout(() => fail(new Error("deadline of 60 s passed")), 60_000);
function fail(err) {
  console.error("socketio_migration_e2e failed:", err?.stack ?? err);
  child?.kill("SIGKILL");
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
    await sleep(25);
  }
}

child = spawn(bin, ["--gateway.port=0", "--aggregator.interval_ms=100", "--log.level=warn"], {
  stdio: ["ignore", "pipe", "inherit"],
});
const port = await new Promise((resolve, reject) => {
  const t = setTimeout(() => reject(new Error("the server did not say its port within 10 s")), 10_000);
  readline.createInterface({ input: child.stdout }).on("line", (l) => {
    const m = /^listening (\d+)$/.exec(l);
    if (m) {
      clearTimeout(t);
      resolve(Number(m[1]));
    }
  });
  child.on("exit", (code) => reject(new Error(`the server exited with ${code}`)));
});
const url = `http://127.0.0.1:${port}`;
async function publish(ev) {
  const r = await fetch(`${url}/api/v1/events`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(ev),
  });
  assert.equal(r.status, 202, await r.text());
}

// --- the frontend, as it was written for its Socket.IO backend -----------------------
const userAuthToken = "any-token"; // auth.mode open here: the example checks none
const socket = io(`${url}/campaigns`, { auth: { token: userAuthToken } });
const statuses = [];
const completed = [];
socket.on("campaign:status", (data) => statuses.push(data));
socket.on("job-completed", (data) => completed.push(data));
await until("connect", () => socket.connected);
socket.emit("join_campaign", { campaignId: "campaign-123" });
// --------------------------------------------------------------------------------------
const joined = await socket.timeout(5000).emitWithAck("join_campaign", { campaignId: "campaign-123" });
assert.equal(joined.ok, true);
assert.equal(joined.room, "run:campaign-123");
console.log("ok - join_campaign joins run:campaign-123 (ack", JSON.stringify(joined) + ")");

for (let i = 0; i < 3; ++i)
  await publish({ type: "job.queued", job_id: `c-${i}`, queue: i < 2 ? "emails" : "sms", run_id: "campaign-123" });
await publish({ type: "job.started", job_id: "c-0", queue: "emails", run_id: "campaign-123", attempt: 1 });
await publish({ type: "job.completed", job_id: "c-0", queue: "emails", run_id: "campaign-123",
  result: { sent: 1 }, duration_ms: 42 });
// Another campaign's jobs never reach this room.
await publish({ type: "job.completed", job_id: "x-1", queue: "emails", run_id: "campaign-999" });

await until("job-completed", () => completed.length >= 1);
assert.deepEqual(completed[0], { jobId: "c-0", result: { sent: 1 }, processingTime: 42 });
console.log("ok - job-completed {jobId, result, processingTime}");

const last = await until("campaign:status with 3 jobs, 1 succeeded",
  () => statuses.find((s) => s.metrics.totalJobs === 3 && s.metrics.succeededJobs === 1));
assert.equal(last.runId, "campaign-123");
assert.equal(last.campaignId, "campaign-123");
assert.equal(last.status, "running");
assert.equal(last.metrics.queuedJobs, 2);
assert.deepEqual(last.metrics.byQueue.emails, { total: 2, succeeded: 1, failed: 0, queued: 1, running: 0 });
assert.deepEqual(last.metrics.byQueue.sms, { total: 1, succeeded: 0, failed: 0, queued: 1, running: 0 });
assert.equal(last.metrics.successRate, 1);
assert.ok(!Number.isNaN(Date.parse(last.updatedAt)), last.updatedAt);
console.log("ok - campaign:status {runId, campaignId, status, metrics:{totalJobs,...,byQueue}, updatedAt}");
assert.ok(completed.every((c) => c.jobId !== "x-1"), "another campaign's job-completed arrived");
console.log("ok - another campaign's events stay out");

socket.emit("leave_campaign", { campaignId: "campaign-123" });
const left = await socket.timeout(5000).emitWithAck("leave_campaign", { campaignId: "campaign-123" });
assert.equal(left.ok, false, "the first leave_campaign left the room already");
const before = completed.length;
await publish({ type: "job.completed", job_id: "c-1", queue: "emails", run_id: "campaign-123" });
await sleep(500);
assert.equal(completed.length, before, "an event arrived after leave_campaign");
console.log("ok - leave_campaign leaves");

// The native mapping on "/" is there beside it.
const native = io(url, { transports: ["websocket"] });
const sub = await native.timeout(5000).emitWithAck("subscribe", { room: "run:campaign-123" });
assert.equal(sub.type, "subscribed");
console.log("ok - namespace / speaks the native mapping beside /campaigns");

socket.close();
native.close();
clearTimeout(overall);
child.kill("SIGTERM");
console.log("socketio_migration_e2e: all checks passed");
process.exit(0);
