// Compiles under tsc --strict, or the generated types are wrong: realistic
// client code over the generated modules. run-tests.sh also runs it.

import {
  ClientMessage,
  JobEvent,
  JobProgress,
  LogLevel,
  ParseResult,
  ServerMessage,
  Snapshot,
  logLevelValues,
  parseClientMessage,
  parseServerMessage,
  toJson,
} from "../generated/index";

function assertNever(x: never): never {
  throw new Error("unexpected value: " + JSON.stringify(x));
}

// A producer reports progress.
const progress: JobProgress = {
  type: "job.progress",
  job_id: "sim-7f3a",
  queue: "similarity",
  run_id: "nightly-2024-05-01",
  time: "2024-05-01T12:00:05.250Z",
  percent: 42.5,
  step: "embedding documents",
  current: 425,
  total: 1000,
  counters: { rows_read: 1200, rows_skipped: 3 },
};

// Every event kind is handled; a new one in the schema breaks this build.
export function describeEvent(e: JobEvent): string {
  switch (e.type) {
  case "job.queued": return `${e.job_id} queued on ${e.queue}` + (e.priority !== undefined ? ` (priority ${e.priority})` : "");
  case "job.started": return `${e.job_id} attempt ${e.attempt} started` + (e.worker ? ` on ${e.worker}` : "");
  case "job.progress": return `${e.job_id} at ${e.percent.toFixed(1)}%` + (e.step ? `: ${e.step}` : "");
  case "job.log": return `[${e.level}] ${e.message}`;
  case "job.completed": return `${e.job_id} done in ${e.duration_ms ?? "?"} ms`;
  case "job.failed": return `${e.job_id} failed: ${e.error}` + (e.will_retry ? " (will retry)" : "");
  case "job.cancelled": return `${e.job_id} cancelled` + (e.reason ? `: ${e.reason}` : "");
  case "job.retrying": return `${e.job_id} retries as attempt ${e.attempt} in ${e.delay_ms ?? 0} ms`;
  default: return assertNever(e);
  }
}

function describeSnapshot(s: Snapshot): string {
  switch (s.kind) {
  case "job_snapshot": return `${s.job_id} is ${s.state} (${s.progress.percent}%)`;
  case "summary": return `${s.scope}: ${s.counts.running} running, success rate ${s.success_rate}`;
  case "health_report": return `health ${s.status}: ${s.summary.unhealthy_queues} unhealthy queues`;
  default: return assertNever(s);
  }
}

export function describeMessage(msg: ServerMessage): string {
  switch (msg.type) {
  case "welcome": return `connected as ${msg.connection_id} (protocol ${msg.protocol})`;
  case "subscribed": return `joined ${msg.room} at ${msg.seq}` + (msg.snapshot ? `: ${describeSnapshot(msg.snapshot)}` : "");
  case "unsubscribed": return `left ${msg.room}`;
  case "subscriptions": return msg.rooms.map((r) => `${r.room}@${r.seq}`).join(", ");
  case "event": return `${msg.room}#${msg.seq} ${describeEvent(msg.event)}`;
  case "summary": return `${msg.room}#${msg.seq} ${msg.summary.counts.total} jobs`;
  case "alert": return `${msg.alert.severity} alert ${msg.alert.status}: ${msg.alert.title}`;
  case "health": return `health is ${msg.report.status}`;
  case "reset": return `${msg.room} reset at ${msg.seq}: ${msg.reason}`;
  case "lagged": return `${msg.room} lagged; resume from ${msg.resume_from}`;
  case "error": return `error ${msg.code} at "${msg.path ?? ""}": ${msg.message}`;
  case "pong": return "pong";
  case "published": return `published as ${msg.seq}`;
  case "authenticated": return `token refreshed` + (msg.expires_at ? `, valid until ${msg.expires_at}` : "");
  case "auth_expiring": return `token expires at ${msg.expires_at}: send a fresh one`;
  default: return assertNever(msg);
  }
}

// A client's outgoing requests.
const outgoing: ClientMessage[] = [
  { type: "subscribe", id: "sub-1", room: "job:sim-7f3a", since: 17 },
  { type: "publish", id: "pub-1", event: progress },
  { type: "ping" },
  { type: "auth", id: "auth-1", token: "a.fresh.token" },
];

// Parsing narrows: value on success, path and message on failure.
export function onText(text: string): string {
  const r: ParseResult<ServerMessage> = parseServerMessage(text);
  if (!r.ok)
    return `rejected at "${r.error.path}": ${r.error.message}`;
  return describeMessage(r.value);
}

const levels: readonly LogLevel[] = logLevelValues;

// Run as a smoke test too.
for (const m of outgoing) {
  const back = parseClientMessage(toJson(m));
  if (!back.ok)
    throw new Error(`${toJson(m)} rejected: ${back.error.path} ${back.error.message}`);
}
if (levels.length !== 4)
  throw new Error("log levels");
console.log(onText(toJson({ type: "event", room: "job:sim-7f3a", seq: 18, event: progress })));
