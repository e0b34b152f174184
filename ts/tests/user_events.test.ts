// User-defined event types in TypeScript (node:test): a user's generated types
// join the generated union as JobEvent<CustomEvents>, which narrows on `type`
// under tsc --strict; jobwatch's reader accepts an event of a registered type
// (the server validated its fields) and the user's own reader checks them.
// run-tests.sh generates ../user/ from tests/data/custom_events.schema.json.

import { test } from "node:test";
import assert from "node:assert/strict";

import { JobEvent, parseJobEvent, parseServerMessage } from "../generated/index";
import { CustomEvents, parseCustomEvents } from "../user/index";

/** What a frontend writes: one switch over built-in and user-defined types. */
function describe(e: JobEvent<CustomEvents>): string {
  switch (e.type) {
    case "job.progress":
      return `${e.job_id}: ${e.percent}%`;
    case "execution:meta_fetched":
      return `${e.job_id}: ${e.count} records of ${e.accountId} on ${e.date}`;
    case "execution:pos_fetched":
      return `${e.job_id}: shop ${e.shopId}, ${e.count} records`;
    case "execution:note":
      return `${e.job_id}: ${e.message}`;
    default:
      return `${e.job_id}: ${e.type}`;
  }
}

const meta = { type: "execution:meta_fetched", job_id: "e1", queue: "imports", date: "2024-05-01", accountId: "a1", count: 7 };

test("an event of a user-defined type passes jobwatch's reader and the user's, and narrows", () => {
  const r = parseJobEvent(JSON.stringify(meta));
  assert.ok(r.ok, JSON.stringify(r));
  const own = parseCustomEvents(JSON.stringify(meta));
  assert.ok(own.ok, JSON.stringify(own));
  if (!own.ok) return;
  assert.equal(describe(own.value), "e1: 7 records of a1 on 2024-05-01");
  assert.equal(describe({ type: "job.progress", job_id: "e2", queue: "q", percent: 5 }), "e2: 5%");
});

test("a server message carrying one is read", () => {
  const m = parseServerMessage(JSON.stringify({ type: "event", room: "job:e1", seq: 3, event: meta }));
  assert.ok(m.ok, JSON.stringify(m));
});

test("the common fields still follow jobwatch's rules; the user's reader checks its own", () => {
  const noJob = parseJobEvent(JSON.stringify({ type: "execution:meta_fetched", queue: "imports" }));
  assert.ok(!noJob.ok);
  if (!noJob.ok) assert.equal(noJob.error.message, 'missing required property "job_id"');
  const badJob = parseJobEvent(JSON.stringify({ ...meta, job_id: "has space" }));
  assert.ok(!badJob.ok);
  if (!badJob.ok) assert.equal(badJob.error.path, "/job_id");
  const badCount = parseCustomEvents(JSON.stringify({ ...meta, count: -1 }));
  assert.ok(!badCount.ok);
  if (!badCount.ok) assert.equal(badCount.error.path, "/count");
  // A built-in type keeps its own rules.
  const progress = parseJobEvent(JSON.stringify({ type: "job.progress", job_id: "j", queue: "q" }));
  assert.ok(!progress.ok);
});
