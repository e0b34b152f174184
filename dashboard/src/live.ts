// The dashboard's state and its one live connection. Messages from the
// gateway (via @jobwatch/client) only change the state here and tell the
// views what changed; the views draw once per animation frame (frame.ts),
// so a flood of events costs a few map updates each, never a redraw each.
import {
  connect, rest, JobwatchProblem,
  type JobwatchClient, type ConnectionState, type Transport, type Summary, type HealthReport,
  type JobSnapshot, type EventMessage, type AlertMessage, type SubscribedMessage, type ResetMessage,
} from "../../ts/client/src/index.ts";

export type Alert = AlertMessage["alert"];
export type JobState = JobSnapshot["state"];

/** What the dashboard knows of a job, from REST snapshots and live events. */
export interface LiveJob {
  key: string;
  job_id: string;
  tenant_id?: string;
  queue: string;
  run_id?: string;
  user_id?: string;
  state: JobState;
  percent: number;
  step?: string;
  attempt: number;
  max_attempts?: number;
  error?: string;
  retrying?: boolean;
  /** Last event time (server's), ISO. */
  updated_at?: string;
  started_at?: string;
  duration_ms?: number;
  /** Sequence number of the last event applied. */
  seq: number;
}

export interface RunInfo { room: string; run_id: string; tenant_id?: string; first: number; summary?: Summary }
/** One alert by id: the firing message, and its resolution once it comes. */
export interface AlertItem { alert: Alert; status: Alert["status"]; firedAt?: string; resolvedAt?: string; resolvedMessage?: string; seq: number }
export interface Principal { subject?: string; tenant_id?: string; user_id?: string }

type Topic = "conn" | "auth" | "queues" | "health" | "runs" | "alerts" | "job" | "event" | "subscribed" | "reset" | "scope" | "principal";
type Listener = (arg?: unknown) => void;

const TOKEN_KEY = "jobwatch.token";
const MAX_RUNS = 6;
const MAX_JOBS = 4000;

function loadToken(): string {
  try { return sessionStorage.getItem(TOKEN_KEY) ?? ""; } catch { return ""; }
}

export const store = {
  token: loadToken(),
  /** Set when the server wants a (different) token; the token box shows it. */
  authNeeded: "" as string,
  principal: null as Principal | null,
  /** "admin": no tenant, reads queues, alerts and health; "scoped": a tenant's or user's token. */
  role: "unknown" as "unknown" | "admin" | "scoped",
  conn: { state: "connecting" as ConnectionState | "offline", transport: null as Transport | null, since: Date.now(), everLive: false },
  queues: new Map<string, Summary>(),
  health: null as HealthReport | null,
  /** The summary of a scoped principal's tenant or user room. */
  scope: null as Summary | null,
  runs: new Map<string, RunInfo>(),
  alerts: new Map<string, AlertItem>(),
  jobs: new Map<string, LiveJob>(),
  /** Events received, for the footer. */
  received: 0,
};

const listeners = new Map<Topic, Set<Listener>>();
export function on(topic: Topic, fn: Listener): () => void {
  let set = listeners.get(topic);
  if (!set) listeners.set(topic, (set = new Set()));
  set.add(fn);
  return () => { set!.delete(fn); };
}
function emit(topic: Topic, arg?: unknown): void {
  const set = listeners.get(topic);
  if (set) for (const fn of set) fn(arg);
}

export function jobKey(tenant: string | undefined, id: string): string { return `${tenant ?? ""}/${id}`; }
export function jobRoom(tenant: string | undefined, id: string): string { return tenant ? `job:${tenant}/${id}` : `job:${id}`; }
export function runRoom(tenant: string | undefined, id: string): string { return tenant ? `run:${tenant}/${id}` : `run:${id}`; }
export function jobHref(tenant: string | undefined, id: string): string {
  return `#/job/${encodeURIComponent(id)}${tenant ? `?tenant=${encodeURIComponent(tenant)}` : ""}`;
}

// ---------------------------------------------------------------- REST

export const api = rest({ url: location.origin, getToken: () => store.token });

/** Runs a REST call; a 401 shows the token box. Other problems are the caller's. */
export async function call<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof JobwatchProblem && e.status === 401) needToken(e.problem.detail ?? "");
    throw e;
  }
}

/** A short sentence for an error from a REST call. */
export function describe(e: unknown): string {
  if (e instanceof JobwatchProblem) {
    const where = e.problem.parameter ? ` (parameter ${e.problem.parameter})` : e.problem.pointer ? ` (at ${e.problem.pointer})` : "";
    return `${e.status} ${e.problem.title ?? ""}${e.problem.detail ? `: ${e.problem.detail}` : ""}${where}`;
  }
  return e instanceof Error ? `Cannot reach the server: ${e.message}` : String(e);
}

// ---------------------------------------------------------------- jobs

/** Merges a REST snapshot into the live state (unless an event already brought something newer). */
export function noteSnapshot(s: JobSnapshot): LiveJob {
  const key = jobKey(s.tenant_id, s.job_id);
  let j = store.jobs.get(key);
  if (j && j.seq >= s.seq) return j;
  j = {
    key, job_id: s.job_id, tenant_id: s.tenant_id, queue: s.queue, run_id: s.run_id, user_id: s.user_id,
    state: s.state, percent: s.state === "succeeded" ? 100 : s.progress?.percent ?? 0, step: s.progress?.step,
    attempt: s.attempt, max_attempts: s.max_attempts, error: s.last_error, updated_at: s.updated_at, started_at: s.started_at,
    duration_ms: s.duration_ms, seq: s.seq,
  };
  store.jobs.set(key, j);
  emit("job", key);
  return j;
}

function applyEvent(m: EventMessage): void {
  const e = m.event;
  const key = jobKey(e.tenant_id, e.job_id);
  let j = store.jobs.get(key);
  if (j && m.seq <= j.seq) return; // the same event from another room of the job
  if (!j) {
    j = { key, job_id: e.job_id, tenant_id: e.tenant_id, queue: e.queue, run_id: e.run_id, user_id: e.user_id, state: "queued", percent: 0, attempt: 0, seq: 0 };
    store.jobs.set(key, j);
  }
  j.seq = m.seq;
  if (e.time) j.updated_at = e.time;
  switch (e.type) {
    case "job.queued": j.state = "queued"; j.max_attempts = e.max_attempts ?? j.max_attempts; break;
    case "job.started": j.state = "running"; j.attempt = e.attempt; j.percent = 0; j.retrying = false; j.step = undefined; j.started_at = e.time; break;
    case "job.progress":
      if (j.state === "queued") { j.state = "running"; j.attempt = Math.max(1, j.attempt); }
      j.percent = e.percent; j.step = e.step ?? j.step; break;
    case "job.log": break;
    case "job.completed": j.state = "succeeded"; j.percent = 100; j.duration_ms = e.duration_ms ?? since(j.started_at, e.time) ?? j.duration_ms; break;
    case "job.failed":
      j.error = e.error; j.attempt = Math.max(j.attempt, e.attempt);
      if (e.will_retry) { j.state = "queued"; j.retrying = true; } else { j.state = "failed"; j.duration_ms = since(j.started_at, e.time) ?? j.duration_ms; }
      break;
    case "job.cancelled": j.state = "cancelled"; break;
    case "job.retrying": j.state = "queued"; j.retrying = true; break;
  }
  if (e.run_id && e.type === "job.queued") noteRun(e.tenant_id, e.run_id, Date.now());
  if (e.type === "job.queued") noteQueue(e.queue); // a new queue seen in a run's or a job's room
  emit("job", key);
}

/** Milliseconds from one timestamp to another, when both are known. */
function since(from: string | undefined, to: string | undefined): number | undefined {
  if (!from || !to) return undefined;
  const d = Date.parse(to) - Date.parse(from);
  return Number.isFinite(d) && d >= 0 ? d : undefined;
}

let lastPrune = 0;
function pruneJobs(): void {
  const now = Date.now();
  if (store.jobs.size <= MAX_JOBS || now - lastPrune < 2000) return;
  lastPrune = now;
  // Oldest first (Map keeps insertion order): drop finished jobs, then anything, down to 3/4.
  const target = (MAX_JOBS * 3) / 4;
  for (const [k, j] of store.jobs) {
    if (store.jobs.size <= target) break;
    if (j.state === "succeeded" || j.state === "failed" || j.state === "cancelled") store.jobs.delete(k);
  }
  for (const k of store.jobs.keys()) {
    if (store.jobs.size <= target) break;
    store.jobs.delete(k);
  }
}

// ---------------------------------------------------------------- runs

/** Runs that made way for newer ones: not followed again when a late job of theirs shows up. */
const retired = new Set<string>();

/** Follows the newest runs (their rooms carry their summaries). */
export function noteRun(tenant: string | undefined, run: string, first: number): void {
  if (store.role === "scoped" && store.principal?.user_id) return; // run rooms mix users: forbidden
  const room = runRoom(tenant, run);
  if (store.runs.has(room) || retired.has(room)) return;
  store.runs.set(room, { room, run_id: run, tenant_id: tenant, first });
  want(room);
  if (store.runs.size > MAX_RUNS) {
    const oldest = [...store.runs.values()].sort((a, b) => a.first - b.first).slice(0, store.runs.size - MAX_RUNS);
    for (const r of oldest) { store.runs.delete(r.room); unwant(r.room); retired.add(r.room); }
    if (retired.size > 1000) retired.clear();
  }
  emit("runs");
}

// ---------------------------------------------------------------- alerts

function applyAlert(a: Alert, seq: number): void {
  let item = store.alerts.get(a.id);
  if (item && seq <= item.seq) return;
  if (!item) {
    item = { alert: a, status: a.status, seq };
    store.alerts.set(a.id, item);
  }
  item.seq = seq;
  item.status = a.status;
  if (a.context.queue) noteQueue(a.context.queue);
  if (a.status === "firing") {
    item.alert = a; item.firedAt = a.time; item.resolvedAt = undefined; item.resolvedMessage = undefined;
  } else {
    // Keep what fired (title, severity, message); add how it resolved.
    if (!item.firedAt) item.alert = a;
    item.resolvedAt = a.time; item.resolvedMessage = a.message;
  }
  if (store.alerts.size > 200) {
    const drop = [...store.alerts.values()].sort((x, y) => x.seq - y.seq).slice(0, store.alerts.size - 200);
    for (const d of drop) store.alerts.delete(d.alert.id);
  }
  emit("alerts");
}

// ---------------------------------------------------------------- rooms and the connection

/** Rooms the dashboard wants, with the `since` to start them from (0: replay what the server keeps). */
const wanted = new Map<string, number | undefined>();
let client: JobwatchClient | null = null;

export function want(room: string, since?: number): void {
  if (wanted.has(room)) return;
  wanted.set(room, since);
  if (client && !client.list().some((r) => r.room === room)) client.subscribe(room, since);
}
export function unwant(room: string): void {
  if (!wanted.delete(room)) return;
  client?.unsubscribe(room);
}
/** The rooms the client holds, with their positions (for the tests and the footer). */
export function rooms(): Array<{ room: string; seq: number | null }> { return client?.list() ?? []; }

function onSummary(room: string, s: Summary): void {
  if (room.startsWith("queue:")) { store.queues.set(room.slice(6), s); emit("queues"); }
  else if (room.startsWith("run:")) { const r = store.runs.get(room); if (r) { r.summary = s; emit("runs"); } }
  else if (room.startsWith("tenant:") || room.startsWith("user:")) { store.scope = s; emit("scope"); }
}

function setConn(state: ConnectionState | "offline", transport: Transport | null): void {
  if (store.conn.state !== state) store.conn.since = Date.now();
  store.conn.state = state;
  store.conn.transport = transport;
  if (state === "live") store.conn.everLive = true;
  emit("conn");
}

/** Rooms for what this principal may read (decided by the server's welcome). */
function principalRooms(): void {
  const p = store.principal;
  // SSE and long-poll have no welcome: then REST's answer at start decides (admin), or nothing more is known.
  if (!p && store.role !== "admin") return;
  if (p && (p.tenant_id || p.user_id)) {
    store.role = "scoped";
    if (p.user_id) want(p.tenant_id ? `user:${p.tenant_id}/${p.user_id}` : `user:${p.user_id}`);
    else want(`tenant:${p.tenant_id}`);
  } else {
    store.role = "admin";
    want("alerts", 0);
    want("health");
    for (const q of store.queues.keys()) want(`queue:${q}`);
  }
  if (!runsLoaded) { runsLoaded = true; void loadRuns(); }
  emit("principal");
}
let runsLoaded = false;

/** Every queue of the health report and of REST gets its room (admin only: queue rooms mix tenants). */
export function noteQueue(q: string): void {
  if (store.role === "admin") want(`queue:${q}`);
}

function startClient(): void {
  const c = connect({
    url: location.origin,
    getToken: () => store.token,
    backoff: { initialMs: 250, maxMs: 4000, factor: 2 },
    connectTimeoutMs: 4000,
    upgradeIntervalMs: 15_000,
  });
  client = c;
  for (const [room, since] of wanted) c.subscribe(room, since);
  c.on("state", ({ state, transport }) => {
    if (client !== c) return;
    setConn(state, transport);
    if (state === "live") principalRooms();
    else if (state === "reconnecting") watchAuth();
  });
  c.on("welcome", (m) => { store.principal = { subject: m.subject, tenant_id: m.tenant_id, user_id: m.user_id }; });
  c.on("subscribed", (m: SubscribedMessage) => {
    const s = m.snapshot;
    if (s?.kind === "summary") onSummary(m.room, s);
    else if (s?.kind === "health_report") { store.health = s; for (const q of s.queues) noteQueue(q.queue); emit("health"); }
    else if (s?.kind === "job_snapshot") noteSnapshot(s);
    emit("subscribed", m);
  });
  c.on("summary", (m) => onSummary(m.room, m.summary));
  c.on("health", (m) => { store.health = m.report; for (const q of m.report.queues) noteQueue(q.queue); emit("health"); });
  c.on("alert", (m) => applyAlert(m.alert, m.seq));
  c.on("event", (m) => {
    store.received++;
    applyEvent(m);
    emit("event", m);
    pruneJobs();
  });
  c.on("reset", (m: ResetMessage) => emit("reset", m));
  c.on("error", (m) => {
    if (m.code === "unauthenticated") needToken(m.message);
  });
}

let authTimer: ReturnType<typeof setTimeout> | null = null;
/** While the socket cannot connect, asks REST whether it is the token (a refused upgrade tells a browser nothing). */
function watchAuth(): void {
  if (authTimer) return;
  authTimer = setTimeout(async () => {
    authTimer = null;
    if (!client || store.conn.state === "live") return;
    try { await call(() => api.jobs({ limit: 1 })); } catch { /* 401 handled by call(); else the server is away */ }
    if (client && (store.conn.state as string) !== "live" && !store.authNeeded) watchAuth();
  }, 2500);
}

/** The server refused the token (or wants one): stop trying and ask for it. */
export function needToken(reason: string): void {
  const said = reason.trim().replace(/\.$/, "");
  store.authNeeded = said ? `The server says: ${said}.` : store.token ? "The server refused this token." : "This server needs a token.";
  if (client) { const c = client; client = null; c.close(); }
  setConn("offline", null);
  emit("auth");
}

export function setToken(token: string): void {
  store.token = token.trim();
  try {
    if (store.token) sessionStorage.setItem(TOKEN_KEY, store.token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch { /* storage disabled: the token lives in memory */ }
  store.authNeeded = "";
  emit("auth");
  void start();
}

/** Forgets what the last token could see (another token may see other things); keeps the job page's room. */
function resetData(): void {
  for (const room of [...wanted.keys()]) if (!room.startsWith("job:")) wanted.delete(room);
  store.principal = null;
  store.role = "unknown";
  store.queues.clear();
  store.runs.clear();
  retired.clear();
  store.alerts.clear();
  store.health = null;
  store.scope = null;
  store.jobs.clear();
  runsLoaded = false;
  for (const t of ["queues", "runs", "alerts", "health", "scope", "job"] as const) emit(t);
}

let started = false;
/** Finds out who we are (REST), then connects. Called at load and after a new token. */
export async function start(): Promise<void> {
  if (client) { const c = client; client = null; c.close(); }
  if (started) resetData();
  started = true;
  setConn("connecting", null);
  try {
    const q = await call(() => api.queues());
    store.role = "admin";
    for (const it of q.items) { store.queues.set(it.queue, it.summary); want(`queue:${it.queue}`); }
    want("alerts", 0);
    want("health");
    emit("queues");
  } catch (e) {
    if (e instanceof JobwatchProblem && e.status === 401) return; // the token box is up
    if (e instanceof JobwatchProblem && e.status === 403) store.role = "scoped"; // a tenant's or user's token
    // Otherwise the server is away: connect anyway, the client retries.
  }
  startClient();
}

/** The newest runs, from the newest jobs. */
async function loadRuns(): Promise<void> {
  try {
    const page = await call(() => api.jobs({ limit: 100 }));
    const items = [...page.items].reverse(); // oldest first, so the newest runs are noted last
    for (const s of items) {
      noteSnapshot(s);
      if (s.run_id) noteRun(s.tenant_id, s.run_id, Date.parse(s.queued_at ?? s.updated_at) || 0);
    }
  } catch { /* shown by the views that need it */ }
}

/** Periodic refresh of what has no room: new queues (REST), every few seconds. */
export async function refreshQueues(): Promise<void> {
  if (store.role !== "admin" || !client) return;
  try {
    const q = await call(() => api.queues());
    for (const it of q.items) {
      if (!store.queues.has(it.queue)) store.queues.set(it.queue, it.summary);
      want(`queue:${it.queue}`);
    }
    emit("queues");
  } catch { /* the badge says when the server is away */ }
}
