// The overview (#/): totals, alerts, running jobs, queues with their health,
// the newest runs, recent dead letters.
import { h, fill, setText, pill, progressBar, table, type Bar } from "../dom";
import { Keyed } from "../keyed";
import { nextFrame } from "../frame";
import * as fmt from "../format";
import {
  store, on, api, call, describe, jobHref, type AlertItem, type LiveJob, type RunInfo,
} from "../live";
import type { Summary, HealthReport, DeadLetterEntry } from "../../../ts/client/src/index.ts";
import type { View } from "../router";

type QueueHealth = HealthReport["queues"][number];

const KIND: Record<string, string> = { failure_rate: "Dead letters", success_rate: "Success rate", timeout: "Timeout" };

function sumCounts(list: Summary[]) {
  const c = { total: 0, queued: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0 };
  let tput = 0;
  for (const s of list) {
    for (const k of Object.keys(c) as Array<keyof typeof c>) c[k] += s.counts[k];
    tput += s.throughput.per_second_1m;
  }
  const finished = c.succeeded + c.failed + c.cancelled;
  return { counts: c, success: finished ? c.succeeded / finished : null, throughput: tput };
}

function card(label: string, id: string, hint?: string): { el: HTMLElement; dd: HTMLElement } {
  const dd = h("dd", { id }, "–");
  return { el: h("div", { class: "card", title: hint }, h("dt", null, label), dd), dd };
}

/** A card's value: the number large, its unit small ("0.52 jobs/s", "97.1 %"). */
function setValue(dd: HTMLElement, text: string): void {
  if (dd.dataset.v === text) return;
  dd.dataset.v = text;
  const m = /^(\S+) (.+)$/.exec(text);
  if (m) fill(dd, m[1]!, " ", h("small", null, m[2]!));
  else fill(dd, text);
}

function rateClass(r: number | null): string {
  if (r === null) return "card";
  return r >= 0.95 ? "card ok" : r >= 0.8 ? "card warn" : "card bad";
}

function latency(s: Summary | undefined): string {
  if (!s || s.latency.count === 0) return "–";
  return `${fmt.ms(s.latency.p50_ms)} / ${fmt.ms(s.latency.p95_ms)} / ${fmt.ms(s.latency.p99_ms)}`;
}

export function overviewView(): View {
  const offs: Array<() => void> = [];
  const timers: Array<ReturnType<typeof setInterval>> = [];
  const dirty = new Set<string>();
  const mark = (part: string) => { dirty.add(part); nextFrame(draw); };

  // Totals
  const cTotal = card("Jobs seen", "c-total", "Every job the server holds");
  const cRunning = card("Running now", "c-running");
  const cQueued = card("Waiting", "c-queued", "Queued, or waiting for a retry");
  const cSucceeded = card("Succeeded", "c-succeeded");
  const cFailed = card("Failed", "c-failed", "Failed for good (dead letters)");
  const cRate = card("Success rate", "c-rate", "succeeded ÷ (succeeded + failed + cancelled)");
  const cTput = card("Throughput", "c-tput", "Jobs finished per second, last minute");
  const cFiring = card("Alerts firing", "c-firing");
  const cards = h("dl", { class: "cards", "aria-label": "Totals" },
    cTotal.el, cRunning.el, cQueued.el, cSucceeded.el, cFailed.el, cRate.el, cTput.el, cFiring.el);
  const scopeNote = h("p", { class: "lead" });

  // Alerts
  const alertList = h("ul", { class: "alerts", id: "alert-feed", "aria-label": "Alerts, newest first" });
  const alertEmpty = h("p", { class: "empty" }, "No alerts. Failure-rate (dead letters), run success-rate and timeout alerts show here as they fire and resolve.");
  const alertCount = h("span", { class: "muted", "aria-live": "polite" });
  const alerts = new Keyed<AlertItem>(alertList, (_k, it) => makeAlert(it));
  let allAlerts = false;
  const moreAlerts = h("button", { type: "button", class: "link", "aria-controls": "alert-feed", hidden: true,
    onclick: () => { allAlerts = !allAlerts; mark("alerts"); } });

  // Running now
  const runList = h("ul", { class: "running", id: "running-now", "aria-label": "Running jobs" });
  const runEmpty = h("p", { class: "empty" }, "Nothing is running right now.");
  const runMore = h("p", { class: "muted" });
  const running = new Keyed<LiveJob>(runList, (_k, j) => makeRunning(j));

  // Queues
  const qBody = h("tbody", { id: "queues-body" });
  const queues = new Keyed<string>(qBody, (q) => makeQueueRow(q));
  const qEmpty = h("p", { class: "empty" }, "No queue has reported a job yet.");
  const healthLine = h("div", { id: "health-line" });

  // Runs
  const rBody = h("tbody", { id: "runs-body" });
  const runs = new Keyed<RunInfo>(rBody, (_k, r) => makeRunRow(r));
  const rEmpty = h("p", { class: "empty" }, "No run seen yet. Jobs that name a run_id show up here, the newest six.");

  // Dead letters (REST)
  const dlBody = h("tbody", { id: "deadletters-body" });
  const dlNote = h("p", { class: "empty" }, "Loading…");

  const adminOnly: HTMLElement[] = [];
  let grid: HTMLElement;
  const queuesPanel = h("section", { class: "panel", "aria-labelledby": "h-queues" },
    h("header", null, h("h2", { id: "h-queues" }, "Queues and their health"),
      h("p", null, "Health is judged every few seconds from error rate, waiting and stale jobs; reasons say why.")),
    healthLine,
    table("Per queue: jobs by state, success rate, run time percentiles and throughput", [
      "Queue", "Health", ["Waiting", "num"], ["Running", "num"], ["Succeeded", "num"], ["Failed", "num"],
      ["Success rate", "num"], ["Run time p50 / p95 / p99", "num"], ["Throughput", "num"], "Reasons",
    ], qBody, "Queues"),
    qEmpty);
  const alertsPanel = h("section", { class: "panel", "aria-labelledby": "h-alerts" },
    h("header", null, h("h2", { id: "h-alerts" }, "Alerts"), alertCount),
    alertList, alertEmpty, moreAlerts);
  const dlPanel = h("section", { class: "panel", "aria-labelledby": "h-dl" },
    h("header", null, h("h2", { id: "h-dl" }, "Recent dead letters"), h("p", null, "Jobs that failed for good, newest first.")),
    table("The ten newest dead-letter entries", ["Job", "Queue", "Tenant", "Error", ["Attempts", "num"], "Failed at"], dlBody, "Dead letters"),
    dlNote);
  adminOnly.push(queuesPanel, alertsPanel, dlPanel);

  const el = h("div", { class: "view overview" },
    h("h1", { tabindex: -1 }, "Overview"),
    scopeNote,
    cards,
    grid = h("div", { class: "grid2" },
      alertsPanel,
      h("section", { class: "panel", "aria-labelledby": "h-running" },
        h("header", null, h("h2", { id: "h-running" }, "Running now"),
          h("p", null, h("a", { href: "#/jobs?status=running" }, "All running jobs"))),
        runList, runEmpty, runMore)),
    queuesPanel,
    h("section", { class: "panel", "aria-labelledby": "h-runs" },
      h("header", null, h("h2", { id: "h-runs" }, "Runs"), h("p", null, "The newest runs: counts, success rate, run time percentiles and throughput.")),
      table("Per run", ["Run", "Tenant", ["Jobs", "num"], ["Running", "num"], ["Succeeded", "num"], ["Failed", "num"],
        ["Success rate", "num"], ["Run time p50 / p95 / p99", "num"], ["Throughput", "num"]], rBody, "Runs"),
      rEmpty),
    dlPanel);

  function draw(): void {
    if (dirty.has("cards")) drawCards();
    if (dirty.has("alerts")) drawAlerts();
    if (dirty.has("running")) drawRunning();
    if (dirty.has("queues")) drawQueues();
    if (dirty.has("runs")) drawRuns();
    dirty.clear();
  }

  function drawCards(): void {
    const admin = store.role !== "scoped";
    for (const p of adminOnly) p.hidden = !admin;
    let counts, success: number | null, tput: number;
    if (admin) {
      ({ counts, success, throughput: tput } = sumCounts([...store.queues.values()]));
      setText(scopeNote, "Live totals over every queue. Numbers move as events arrive; percentiles are per queue and per run below.");
    } else {
      const s = store.scope;
      const r = sumCounts(s ? [s] : []);
      counts = r.counts; success = r.success; tput = r.throughput;
      const p = store.principal;
      setText(scopeNote, p?.user_id ? `Your jobs (user ${p.user_id}${p.tenant_id ? ` of ${p.tenant_id}` : ""}).`
        : p?.tenant_id ? `Jobs of tenant ${p.tenant_id}.` : "");
    }
    const known = admin ? store.queues.size > 0 || store.conn.everLive : store.scope !== null;
    const v = (n: number) => (known ? fmt.int(n) : "–");
    setValue(cTotal.dd, v(counts.total));
    setValue(cRunning.dd, v(counts.running));
    setValue(cQueued.dd, v(counts.queued));
    setValue(cSucceeded.dd, v(counts.succeeded));
    setValue(cFailed.dd, v(counts.failed));
    cFailed.el.className = counts.failed > 0 ? "card bad" : "card";
    setValue(cRate.dd, success === null ? "–" : fmt.pct(success));
    cRate.el.className = rateClass(success);
    setValue(cTput.dd, known ? fmt.rate(tput) : "–");
    let firing = 0;
    for (const a of store.alerts.values()) if (a.status === "firing") firing++;
    cFiring.el.hidden = !admin;
    setValue(cFiring.dd, known ? String(firing) : "–");
    cFiring.el.className = !known ? "card" : firing ? "card bad" : "card ok";
    grid.classList.toggle("single", !admin);
  }

  function makeAlert(it: AlertItem) {
    const statusPill = h("span");
    const title = h("span", { class: "title" });
    const kind = h("span", { class: "muted" });
    const msg = h("p");
    const resolved = h("p");
    const when = h("p", { class: "when" });
    const li = h("li", { class: "alert", "data-alert-id": it.alert.id },
      h("div", { class: "head" }, statusPill, title, kind), msg, resolved, when);
    let last = "";
    return {
      el: li,
      update(x: AlertItem) {
        const a = x.alert;
        const sig = `${x.status}|${x.firedAt}|${x.resolvedAt}|${a.message}`;
        if (sig === last) return;
        last = sig;
        li.dataset.status = x.status;
        fill(statusPill, pill(x.status === "firing" ? "FIRING" : "RESOLVED", x.status));
        setText(title, a.title);
        const ctx = a.context;
        setText(kind, `${KIND[a.kind] ?? a.kind} · ${a.severity}${ctx.queue ? ` · queue ${ctx.queue}` : ""}${ctx.run_id ? ` · run ${ctx.run_id}` : ""}${ctx.job_id ? ` · job ${ctx.job_id}` : ""}`);
        setText(msg, a.message);
        resolved.hidden = !x.resolvedMessage || !x.firedAt;
        setText(resolved, x.resolvedMessage ? `Resolved: ${x.resolvedMessage}` : "");
        const parts: string[] = [];
        if (x.firedAt) parts.push(`fired ${fmt.time(x.firedAt)}`);
        if (x.resolvedAt) parts.push(`resolved ${fmt.time(x.resolvedAt)}`);
        if (x.firedAt && x.resolvedAt) parts.push(`lasted ${fmt.ms(Date.parse(x.resolvedAt) - Date.parse(x.firedAt))}`);
        fill(when, parts.join(" · "));
        if (ctx.queue) when.append(" · ", h("a", { href: `#/jobs?queue=${encodeURIComponent(ctx.queue)}&status=failed` }, `failed jobs of ${ctx.queue}`));
        else if (ctx.job_id) when.append(" · ", h("a", { href: jobHref(ctx.tenant_id, ctx.job_id) }, `job ${ctx.job_id}`));
        else if (ctx.run_id) {
          const q = new URLSearchParams({ run: ctx.run_id });
          if (ctx.tenant_id) q.set("tenant", ctx.tenant_id);
          when.append(" · ", h("a", { href: `#/jobs?${q}` }, `jobs of run ${ctx.run_id}`));
        }
      },
    };
  }

  function drawAlerts(): void {
    const all = [...store.alerts.values()].sort((a, b) => {
      const fa = a.status === "firing" ? 1 : 0, fb = b.status === "firing" ? 1 : 0;
      return fb - fa || b.seq - a.seq;
    });
    let firing = 0;
    for (const a of all) if (a.status === "firing") firing++;
    const shown = allAlerts ? all.slice(0, 50) : all.slice(0, Math.max(5, firing));
    alerts.sync(shown.map((it) => [it.alert.id, it]));
    alertEmpty.hidden = all.length > 0;
    moreAlerts.hidden = all.length <= 5 && !allAlerts;
    setText(moreAlerts, allAlerts ? "Show fewer alerts" : `Show older alerts (${all.length - shown.length} more)`);
    moreAlerts.setAttribute("aria-expanded", String(allAlerts));
    setText(alertCount, firing ? `${firing} firing` : "none firing");
    drawCards();
  }

  function makeRunning(j: LiveJob) {
    const bar: Bar = progressBar(`Progress of job ${j.job_id}`);
    const step = h("small");
    const li = h("li", { "data-job": j.key },
      h("div", { class: "who" }, h("a", { href: jobHref(j.tenant_id, j.job_id) }, j.job_id), " ",
        h("small", null, `${j.queue}${j.tenant_id ? ` · ${j.tenant_id}` : ""}`), " ", step),
      bar.el);
    return { el: li, update(x: LiveJob) { bar.set(x.percent, x.state); setText(step, x.step ? `· ${x.step}` : ""); } };
  }

  function drawRunning(): void {
    const list: Array<[string, LiveJob]> = [];
    let more = 0;
    for (const j of store.jobs.values()) {
      if (j.state !== "running") continue;
      if (list.length < 10) list.push([j.key, j]);
      else more++;
    }
    running.sync(list);
    runEmpty.hidden = list.length > 0;
    setText(runMore, more ? `and ${more} more running` : "");
  }

  function makeQueueRow(q: string) {
    const health = h("td", { class: "nowrap" });
    const cells = { waiting: h("td", { class: "num" }), running: h("td", { class: "num" }), succeeded: h("td", { class: "num" }),
      failed: h("td", { class: "num" }), rate: h("td", { class: "num" }), lat: h("td", { class: "num" }), tput: h("td", { class: "num" }) };
    const reasons = h("td", { class: "reasons" });
    const tr = h("tr", { "data-queue": q },
      h("th", { scope: "row" }, h("a", { href: `#/jobs?queue=${encodeURIComponent(q)}` }, q)),
      health, cells.waiting, cells.running, cells.succeeded, cells.failed, cells.rate, cells.lat, cells.tput, reasons);
    let lastHealth = "\u0000", lastReasons = "\u0000";
    return {
      el: tr,
      update(name: string) {
        const s = store.queues.get(name);
        const qh: QueueHealth | undefined = store.health?.queues.find((x) => x.queue === name);
        const hs = qh ? qh.status : "";
        if (hs !== lastHealth) { lastHealth = hs; fill(health, qh ? pill(qh.status) : h("span", { class: "muted" }, "not judged yet")); }
        setText(cells.waiting, fmt.int(qh ? qh.stats.waiting : s?.counts.queued));
        setText(cells.running, fmt.int(s ? s.counts.running : qh?.stats.active));
        setText(cells.succeeded, fmt.int(s?.counts.succeeded));
        setText(cells.failed, fmt.int(s?.counts.failed));
        const fin = s ? s.counts.succeeded + s.counts.failed + s.counts.cancelled : 0;
        setText(cells.rate, s && fin ? fmt.pct(s.success_rate) : "–");
        setText(cells.lat, latency(s));
        setText(cells.tput, s ? fmt.rate(s.throughput.per_second_1m) : "–");
        const rs = qh ? qh.issues.join("\n") : "";
        if (rs !== lastReasons) {
          lastReasons = rs;
          fill(reasons, qh && qh.issues.length ? h("ul", null, qh.issues.map((i) => h("li", null, i))) : "–");
        }
      },
    };
  }

  function drawQueues(): void {
    const names = new Set(store.queues.keys());
    for (const q of store.health?.queues ?? []) names.add(q.queue);
    const sorted = [...names].sort();
    queues.sync(sorted.map((q) => [q, q]));
    qEmpty.hidden = sorted.length > 0;
    const hr = store.health;
    if (hr) {
      const s = hr.summary;
      fill(healthLine, h("p", null, "Overall: ", pill(hr.status), ` ${s.healthy_queues} healthy, ${s.degraded_queues} degraded, ${s.unhealthy_queues} unhealthy of ${s.total_queues} queues · report of ${fmt.time(hr.timestamp)}`),
        hr.issues.length ? h("ul", { class: "muted" }, hr.issues.map((i) => h("li", null, i))) : null);
    } else {
      fill(healthLine, h("p", { class: "muted" }, "Waiting for the first health report…"));
    }
    drawCards();
  }

  function makeRunRow(r: RunInfo) {
    const c = { total: h("td", { class: "num" }), running: h("td", { class: "num" }), succeeded: h("td", { class: "num" }),
      failed: h("td", { class: "num" }), rate: h("td", { class: "num" }), lat: h("td", { class: "num" }), tput: h("td", { class: "num" }) };
    const q = new URLSearchParams({ run: r.run_id });
    if (r.tenant_id) q.set("tenant", r.tenant_id);
    const tr = h("tr", { "data-run": r.room },
      h("th", { scope: "row" }, h("a", { href: `#/jobs?${q}` }, r.run_id)),
      h("td", null, r.tenant_id ?? "–"), c.total, c.running, c.succeeded, c.failed, c.rate, c.lat, c.tput);
    return {
      el: tr,
      update(x: RunInfo) {
        const s = x.summary;
        setText(c.total, fmt.int(s?.counts.total));
        setText(c.running, fmt.int(s?.counts.running));
        setText(c.succeeded, fmt.int(s?.counts.succeeded));
        setText(c.failed, fmt.int(s?.counts.failed));
        const fin = s ? s.counts.succeeded + s.counts.failed + s.counts.cancelled : 0;
        setText(c.rate, s && fin ? fmt.pct(s.success_rate) : "–");
        setText(c.lat, latency(s));
        setText(c.tput, s ? fmt.rate(s.throughput.per_second_1m) : "–");
      },
    };
  }

  function drawRuns(): void {
    const list = [...store.runs.values()].sort((a, b) => b.first - a.first);
    runs.sync(list.map((r) => [r.room, r]));
    rEmpty.hidden = list.length > 0;
  }

  let dlBusy = false;
  async function loadDeadLetters(): Promise<void> {
    if (store.role === "scoped" || dlBusy) return;
    dlBusy = true;
    try {
      const page = await call(() => api.failedRecent(10));
      fill(dlBody, page.items.map((d: DeadLetterEntry) => h("tr", null,
        h("td", { class: "id" }, h("a", { href: jobHref(d.tenant_id, d.job_id) }, d.job_id)),
        h("td", null, d.queue), h("td", null, d.tenant_id ?? "–"), h("td", null, d.error),
        h("td", { class: "num" }, String(d.attempts)), h("td", null, fmt.time(d.failed_at)))));
      dlNote.hidden = page.items.length > 0;
      setText(dlNote, "No dead letters: no job has failed for good.");
    } catch (e) {
      dlNote.hidden = false;
      setText(dlNote, describe(e));
    } finally {
      dlBusy = false;
    }
  }

  let dlTimer: ReturnType<typeof setTimeout> | null = null;
  const dlSoon = () => { if (!dlTimer) dlTimer = setTimeout(() => { dlTimer = null; void loadDeadLetters(); }, 1000); };

  offs.push(
    on("queues", () => mark("queues")),
    on("health", () => mark("queues")),
    on("scope", () => mark("cards")),
    on("conn", () => mark("cards")),
    on("principal", () => { mark("cards"); mark("queues"); void loadDeadLetters(); }),
    on("runs", () => mark("runs")),
    on("alerts", () => { mark("alerts"); dlSoon(); }),
    on("job", () => mark("running")),
  );
  timers.push(setInterval(() => void loadDeadLetters(), 10_000));
  for (const p of ["cards", "alerts", "running", "queues", "runs"]) mark(p);
  void loadDeadLetters();

  return {
    title: "Overview",
    el,
    destroy() {
      for (const off of offs) off();
      for (const t of timers) clearInterval(t);
      if (dlTimer) clearTimeout(dlTimer);
    },
  };
}
