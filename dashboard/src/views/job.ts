// One job (#/job/<id>?tenant=<t>): its facts and progress, its live log tail
// and its event history. The job's room is subscribed with since 0, so the
// server replays the events it keeps, then sends the snapshot, then live
// events: one ordered stream, no gap, no duplicate.
import { h, fill, setText, pill, progressBar } from "../dom";
import { nextFrame } from "../frame";
import * as fmt from "../format";
import { store, on, api, call, describe, want, unwant, jobKey, jobRoom, noteSnapshot, type LiveJob } from "../live";
import { JobwatchProblem, type JobSnapshot, type EventMessage, type JobEvent, type ResetMessage, type SubscribedMessage } from "../../../ts/client/src/index.ts";
import { stateLabel } from "./jobs";
import type { View } from "../router";

const MAX_LOG = 300;
const MAX_EVENTS = 150;

/** The colour of each event type's label (its words say the type). */
const EVENT_TONE: Record<string, string> = {
  "job.queued": "queued", "job.started": "running", "job.progress": "running", "job.log": "debug",
  "job.completed": "succeeded", "job.failed": "failed", "job.cancelled": "cancelled", "job.retrying": "retrying",
};

interface LogLine { key: string; time?: string; level: string; message: string }

function eventDetails(e: JobEvent): string {
  switch (e.type) {
    case "job.queued": return `queue ${e.queue}${e.max_attempts ? `, up to ${e.max_attempts} attempts` : ""}${e.priority !== undefined ? `, priority ${e.priority}` : ""}`;
    case "job.started": return `attempt ${e.attempt}${e.worker ? ` on ${e.worker}` : ""}`;
    case "job.progress": return `${e.percent} %${e.step ? ` · ${e.step}` : ""}${e.total ? ` · ${e.current ?? 0} of ${e.total}` : ""}`;
    case "job.log": return `[${e.level}] ${e.message}`;
    case "job.completed": return e.duration_ms !== undefined ? `in ${fmt.ms(e.duration_ms)}` : "done";
    case "job.failed": return `attempt ${e.attempt}: ${e.error}${e.will_retry ? " (will retry)" : " (final)"}`;
    case "job.cancelled": return "cancelled";
    case "job.retrying": return `attempt ${e.attempt} next`;
  }
  return "";
}

export function jobView(id: string, tenant: string | undefined): View {
  const room = jobRoom(tenant, id);
  const key = jobKey(tenant, id);
  const offs: Array<() => void> = [];
  let snap: JobSnapshot | null = null;
  const seen = new Set<number>();
  const logKeys = new Set<string>();
  let pendingLogs: LogLine[] = [];
  let pendingEvents: Array<{ seq: number; event: JobEvent }> = [];
  let logCount = 0, eventCount = 0;

  const title = h("h1", { tabindex: -1 }, `Job ${id}`);
  const notice = h("div", { class: "error-box", role: "alert", hidden: true });
  const statePill = h("span", { id: "job-state" });
  const bar = progressBar(`Progress of job ${id}`, true);
  const facts = h("dl", { class: "facts", id: "job-facts" });
  const follow = h("input", { type: "checkbox", id: "log-follow", checked: true });
  const log = h("ol", { class: "log", id: "job-log", role: "log", "aria-label": `Log of job ${id}`, tabindex: 0 });
  const logEmpty = h("p", { class: "empty", id: "log-empty" }, "No log line yet; new lines appear here as the job writes them.");
  const events = h("tbody", { id: "job-events" });
  const eventsNote = h("p", { class: "muted", id: "events-note" });

  const el = h("div", { class: "view job" },
    h("p", null, h("a", { href: "#/jobs" }, "← All jobs")),
    title,
    notice,
    h("section", { class: "panel", "aria-labelledby": "h-state" },
      h("header", null, h("h2", { id: "h-state" }, "State"), statePill),
      bar.el, facts),
    h("div", { class: "grid2" },
      h("section", { class: "panel", "aria-labelledby": "h-log" },
        h("header", null, h("h2", { id: "h-log" }, "Log (live tail)"),
          h("label", { class: "check", for: "log-follow" }, follow, "Follow new lines")),
        log, logEmpty),
      h("section", { class: "panel", "aria-labelledby": "h-events" },
        h("header", null, h("h2", { id: "h-events" }, "Event history"), eventsNote),
        h("div", { class: "table-wrap events", role: "region", "aria-label": "Event history", tabindex: 0 },
          h("table", { class: "fixed" }, h("caption", null, "Every event of this job, newest first"),
            h("colgroup", null, h("col", { style: "width:5.5em" }), h("col", { style: "width:7.5em" }), h("col", { style: "width:6.5em" }), h("col")),
            h("thead", null, h("tr", null, h("th", { scope: "col", class: "num" }, "Seq"), h("th", { scope: "col" }, "Time"),
              h("th", { scope: "col" }, "Event"), h("th", { scope: "col" }, "Details"))),
            events)))));

  // Facts are made once and updated in place (a focused link in them stays focused).
  const factEls = new Map<string, { wrap: HTMLElement; dd: HTMLElement; last: string }>();
  function fact(label: string, value: string, href?: string): void {
    let f = factEls.get(label);
    if (!f) {
      const dd = h("dd");
      f = { wrap: h("div", null, h("dt", null, label), dd), dd, last: "\u0000" };
      factEls.set(label, f);
      facts.append(f.wrap);
    }
    const sig = `${value}|${href ?? ""}`;
    if (sig === f.last) return;
    f.last = sig;
    fill(f.dd, href ? h("a", { href }, value) : value);
  }

  function drawFacts(): void {
    const j: LiveJob | undefined = store.jobs.get(key);
    const s = snap;
    if (!j && !s) return;
    const state = j?.state ?? s!.state;
    const [label, v] = j ? stateLabel(j) : [state, state];
    if (statePill.textContent !== label) fill(statePill, pill(label, v));
    bar.set(j ? j.percent : s!.state === "succeeded" ? 100 : s!.progress.percent, state);
    const queue = j?.queue ?? s!.queue;
    const run = j?.run_id ?? s?.run_id;
    const runQ = new URLSearchParams({ run: run ?? "" });
    if (tenant) runQ.set("tenant", tenant);
    const attempt = j?.attempt ?? s!.attempt;
    const max = j?.max_attempts ?? s?.max_attempts;
    const err = j?.error ?? s?.last_error;
    const updated = j?.updated_at ?? s?.updated_at;
    fact("Queue", queue, `#/jobs?queue=${encodeURIComponent(queue)}`);
    fact("Run", run ?? "–", run ? `#/jobs?${runQ}` : undefined);
    fact("Tenant", tenant ?? s?.tenant_id ?? "–");
    fact("User", j?.user_id ?? s?.user_id ?? "–");
    fact("Type", s?.job_type ?? "–");
    fact("Attempt", attempt ? `${attempt}${max ? ` of ${max}` : ""}` : "not started");
    fact("Step", j?.step ?? s?.progress.step ?? "–");
    fact("Queued at", fmt.time(s?.queued_at));
    fact("Started at", fmt.time(s?.started_at));
    fact("Finished at", fmt.time(s?.finished_at));
    fact("Waited", fmt.ms(s?.wait_ms));
    fact("Run time", fmt.ms(j?.duration_ms ?? s?.duration_ms));
    fact("Last update", `${fmt.time(updated)} (${fmt.ago(updated)})`);
    fact("Last error", err ?? "–");
  }

  function addLog(l: LogLine): void {
    if (logKeys.has(l.key)) return;
    logKeys.add(l.key);
    pendingLogs.push(l);
  }

  function drawLog(): void {
    if (!pendingLogs.length) return;
    const stick = follow.checked;
    const frag = document.createDocumentFragment();
    logCount += pendingLogs.length;
    // Only the newest MAX_LOG lines are kept: older pending ones would be removed at once.
    for (const l of pendingLogs.length > MAX_LOG ? pendingLogs.slice(-MAX_LOG) : pendingLogs) {
      frag.append(h("li", { "data-level": l.level },
        h("span", { class: "t" }, fmt.clock(l.time)), " ", h("span", { class: `lv lv-${l.level}` }, l.level.toUpperCase()), " ", l.message));
    }
    pendingLogs = [];
    log.append(frag);
    while (log.childElementCount > MAX_LOG) log.firstElementChild!.remove();
    logEmpty.hidden = logCount > 0;
    if (stick) log.scrollTop = log.scrollHeight;
  }

  function drawEvents(): void {
    if (!pendingEvents.length) return;
    const frag = document.createDocumentFragment();
    for (let i = pendingEvents.length - 1; i >= Math.max(0, pendingEvents.length - MAX_EVENTS); i--) {
      const { seq, event: e } = pendingEvents[i]!;
      frag.append(h("tr", { "data-type": e.type },
        h("td", { class: "num" }, String(seq)), h("td", null, fmt.clock(e.time)),
        h("td", null, pill(e.type.slice(4), EVENT_TONE[e.type] ?? "queued")),
        h("td", null, eventDetails(e))));
    }
    eventCount += pendingEvents.length;
    pendingEvents = [];
    events.prepend(frag);
    while (events.childElementCount > MAX_EVENTS) events.lastElementChild!.remove();
    setText(eventsNote, `${fmt.int(eventCount)} events${eventCount > MAX_EVENTS ? `, the newest ${MAX_EVENTS} shown` : ""}`);
  }

  function draw(): void {
    drawFacts();
    drawLog();
    drawEvents();
  }

  function onEvent(m: EventMessage): void {
    if (m.room !== room || seen.has(m.seq)) return;
    seen.add(m.seq);
    const e = m.event;
    pendingEvents.push({ seq: m.seq, event: e });
    if (e.type === "job.log") addLog({ key: `${e.time}|${e.message}`, time: e.time, level: e.level, message: e.message });
    if (e.type === "job.completed" || e.type === "job.failed" || e.type === "job.cancelled") refetchSoon();
    nextFrame(draw);
  }

  /** The server no longer keeps the start of the job's history: the log lines come from REST instead. */
  async function backfillLogs(): Promise<void> {
    try {
      const res = await call(() => api.logs(id, { limit: 1000, tenant_id: tenant }));
      const lines = res.items.map((l) => ({ key: `${l.time}|${l.message}`, time: l.time, level: l.level, message: l.message }))
        .filter((l) => !logKeys.has(l.key));
      if (!lines.length) return;
      for (const l of lines) logKeys.add(l.key);
      const frag = document.createDocumentFragment();
      for (const l of lines) frag.append(h("li", { "data-level": l.level }, h("span", { class: "t" }, fmt.clock(l.time)), " ",
        h("span", { class: `lv lv-${l.level}` }, l.level.toUpperCase()), " ", l.message));
      log.prepend(frag);
      logCount += lines.length;
      logEmpty.hidden = true;
    } catch { /* the live tail goes on */ }
  }

  let refetchTimer: ReturnType<typeof setTimeout> | null = null;
  function refetchSoon(): void {
    if (refetchTimer) return;
    refetchTimer = setTimeout(() => { refetchTimer = null; void fetchJob(); }, 300);
  }
  async function fetchJob(): Promise<void> {
    try {
      const s = await call(() => api.job(id, tenant));
      if (!snap || s.seq >= snap.seq) snap = s;
      noteSnapshot(s);
      notice.hidden = true;
      nextFrame(draw);
    } catch (e) {
      if (snap || store.jobs.has(key)) return;
      notice.hidden = false;
      if (e instanceof JobwatchProblem && e.status === 404) setText(notice, `No job ${id}${tenant ? ` in tenant ${tenant}` : ""} yet (or not yours to see). This page shows it as soon as its first event arrives.`);
      else if (e instanceof JobwatchProblem && e.status === 409) setText(notice, `Several tenants have a job ${id}: add ?tenant=<tenant> to the address.`);
      else setText(notice, describe(e));
    }
  }

  offs.push(on("event", (m) => onEvent(m as EventMessage)));
  offs.push(on("job", (k) => { if (k === key) nextFrame(draw); }));
  offs.push(on("subscribed", (m) => {
    const s = m as SubscribedMessage;
    if (s.room !== room) return;
    if (s.snapshot?.kind === "job_snapshot") { snap = s.snapshot; notice.hidden = true; }
    nextFrame(draw);
  }));
  offs.push(on("reset", (m) => {
    const r = m as ResetMessage;
    if (r.room !== room) return;
    setText(eventsNote, r.reason === "history_truncated" ? "Older events are no longer kept; history starts later." : `The server restarted its numbering (${r.reason}).`);
    void backfillLogs();
  }));

  want(room, 0);
  void fetchJob();
  const tick = setInterval(() => nextFrame(drawFacts), 5000); // "x s ago"

  return {
    title: `Job ${id}`,
    el,
    destroy() {
      for (const off of offs) off();
      unwant(room);
      clearInterval(tick);
      if (refetchTimer) clearTimeout(refetchTimer);
    },
  };
}
