// The jobs table (#/jobs): filters and pages from REST, each row kept live by
// the events of the rooms the dashboard follows (a progress bar per job).
import { h, fill, setText, pill, progressBar, table } from "../dom";
import { Keyed } from "../keyed";
import { nextFrame } from "../frame";
import * as fmt from "../format";
import { store, on, api, call, describe, noteSnapshot, noteQueue, jobHref, type LiveJob } from "../live";
import type { JobFilter } from "../../../ts/client/src/index.ts";
import type { View } from "../router";

const STATES = ["queued", "running", "succeeded", "failed", "cancelled"] as const;
const SIZES = [10, 25, 50, 100];
const TEXT_FIELDS = [
  ["queue", "Queue", "e.g. emails"],
  ["run", "Run", "run id"],
  ["tenant", "Tenant", "tenant id"],
  ["user", "User", "user id"],
] as const;

export function stateLabel(j: LiveJob): [string, string] {
  if (j.state === "queued" && j.retrying) return ["retrying", "retrying"];
  return [j.state, j.state];
}

export function jobsView(initial: URLSearchParams): View {
  let params = initial;
  const offs: Array<() => void> = [];
  const dirty = new Set<string>();

  // Filters form
  const status = h("select", { id: "f-status", name: "status" },
    h("option", { value: "" }, "any state"), STATES.map((s) => h("option", { value: s }, s)));
  const size = h("select", { id: "f-limit", name: "limit" }, SIZES.map((n) => h("option", { value: String(n) }, `${n} per page`)));
  const inputs = new Map<string, HTMLInputElement>();
  const queueList = h("datalist", { id: "queue-names" });
  const form = h("form", { class: "filters", role: "search", "aria-label": "Filter jobs" },
    h("div", { class: "field" }, h("label", { for: "f-status" }, "Status"), status),
    TEXT_FIELDS.map(([name, label, ph]) => {
      const input = h("input", { id: `f-${name}`, name, type: "text", placeholder: ph, autocomplete: "off", spellcheck: "false",
        list: name === "queue" ? "queue-names" : null });
      inputs.set(name, input);
      return h("div", { class: "field" }, h("label", { for: `f-${name}` }, label), input);
    }),
    h("div", { class: "field" }, h("label", { for: "f-limit" }, "Page size"), size),
    h("div", { class: "actions" },
      h("button", { type: "submit" }, "Apply filters"),
      h("button", { type: "button", class: "secondary", onclick: () => go(new URLSearchParams()) }, "Clear")),
    queueList);
  form.addEventListener("submit", (e) => { e.preventDefault(); apply(); });
  status.addEventListener("change", apply);
  size.addEventListener("change", apply);

  // Results
  const info = h("p", { class: "info", id: "jobs-info", "aria-live": "polite" }, "Loading…");
  const errorBox = h("div", { class: "error-box", role: "alert", hidden: true });
  const tbody = h("tbody", { id: "jobs-body" });
  const empty = h("p", { class: "empty", hidden: true }, "No job matches these filters.");
  const auto = h("input", { type: "checkbox", id: "f-auto", checked: true });
  const prev = h("button", { type: "button", class: "secondary", id: "page-prev", onclick: () => page(-1) }, "← Previous page");
  const next = h("button", { type: "button", class: "secondary", id: "page-next", onclick: () => page(1) }, "Next page →");
  const pageInfo = h("span", { class: "info", id: "page-info" });
  const rows = new Keyed<LiveJob>(tbody, (_k, j) => makeRow(j));

  const el = h("div", { class: "view jobs" },
    h("h1", { tabindex: -1 }, "Jobs"),
    h("p", { class: "lead" }, "Newest-updated first. Filters combine; a run or user belongs to a tenant, so give the tenant too for tenants' jobs."),
    h("section", { class: "panel", "aria-label": "Filters" }, form),
    h("section", { class: "panel", "aria-labelledby": "h-results" },
      h("header", null, h("h2", { id: "h-results" }, "Results"),
        h("div", { class: "pager" },
          h("label", { class: "check", for: "f-auto" }, auto, "Refresh every 5 s"),
          h("button", { type: "button", class: "secondary", onclick: () => void load() }, "Refresh now"))),
      info, errorBox,
      table("Jobs matching the filters; progress bars move live", ["Job", "State", "Progress", "Queue", "Run", "Tenant", "User",
        ["Attempt", "num"], "Updated", ["Run time", "num"]], tbody, "Jobs"),
      empty,
      h("nav", { class: "pager", "aria-label": "Pages" }, prev, pageInfo, next)));

  function num(name: string, dflt: number, min: number, max: number): number {
    const v = Number(params.get(name));
    return Number.isInteger(v) && v >= min && v <= max ? v : dflt;
  }
  const limit = () => num("limit", 25, 1, 100);
  const pageNo = () => num("page", 1, 1, 1e9);

  function go(p: URLSearchParams): void {
    for (const [k, v] of [...p]) if (!v) p.delete(k);
    const q = p.toString();
    location.hash = `#/jobs${q ? `?${q}` : ""}`;
  }
  function apply(): void {
    const p = new URLSearchParams();
    if (status.value) p.set("status", status.value);
    for (const [name] of TEXT_FIELDS) { const v = inputs.get(name)!.value.trim(); if (v) p.set(name, v); }
    if (size.value !== "25") p.set("limit", size.value);
    go(p);
  }
  function page(delta: number): void {
    const p = new URLSearchParams(params);
    const n = pageNo() + delta;
    if (n <= 1) p.delete("page"); else p.set("page", String(n));
    go(p);
  }

  function fillForm(): void {
    status.value = params.get("status") ?? "";
    for (const [name] of TEXT_FIELDS) { const i = inputs.get(name)!; const v = params.get(name) ?? ""; if (i.value !== v) i.value = v; }
    const n = String(limit());
    if (![...size.options].some((o) => o.value === n)) size.append(h("option", { value: n }, `${n} per page`));
    size.value = n;
  }

  function makeRow(j: LiveJob) {
    const state = h("td");
    const bar = progressBar(`Progress of job ${j.job_id}`);
    // The bar is a fixed-size box (CSS contain): moving it needs no table layout. The other cells change
    // rarely (the time shows seconds), and setText leaves the DOM alone when the text is the same.
    const c = { attempt: h("td", { class: "num" }), updated: h("td"), dur: h("td", { class: "num" }) };
    const runQ = new URLSearchParams({ run: j.run_id ?? "" });
    if (j.tenant_id) runQ.set("tenant", j.tenant_id);
    const tr = h("tr", { "data-job": j.key },
      h("th", { scope: "row", class: "id" }, h("a", { href: jobHref(j.tenant_id, j.job_id) }, j.job_id)),
      state, h("td", null, bar.el),
      h("td", null, h("a", { href: `#/jobs?queue=${encodeURIComponent(j.queue)}` }, j.queue)),
      h("td", null, j.run_id ? h("a", { href: `#/jobs?${runQ}` }, j.run_id) : "–"),
      h("td", null, j.tenant_id ?? "–"), h("td", null, j.user_id ?? "–"),
      c.attempt, c.updated, c.dur);
    let lastState = "", lastUpdated: string | undefined = "", lastDur: number | undefined = -1;
    return {
      el: tr,
      update(x: LiveJob) {
        const [label, v] = stateLabel(x);
        if (label !== lastState) { lastState = label; fill(state, pill(label, v, x.error)); tr.dataset.state = x.state; }
        bar.set(x.percent, x.state);
        setText(c.attempt, x.attempt ? `${x.attempt}${x.max_attempts ? ` of ${x.max_attempts}` : ""}` : "–");
        if (x.updated_at !== lastUpdated) { lastUpdated = x.updated_at; setText(c.updated, fmt.time(x.updated_at)); }
        if (x.duration_ms !== lastDur) { lastDur = x.duration_ms; setText(c.dur, fmt.ms(x.duration_ms)); }
      },
    };
  }

  // At most a few milliseconds of row updates per frame; the rest waits for the next one (newest values win).
  function drawRows(): void {
    const until = performance.now() + 6;
    for (const key of dirty) {
      dirty.delete(key);
      const r = rows.get(key);
      const j = store.jobs.get(key);
      if (r && j) r.update(j);
      if (performance.now() > until) break;
    }
    if (dirty.size) nextFrame(drawRows);
  }

  let seq = 0;
  let busy = false;
  async function load(): Promise<void> {
    const mine = ++seq;
    busy = true;
    const f: JobFilter = { limit: limit(), offset: (pageNo() - 1) * limit() };
    const st = params.get("status");
    if (st) f.status = st as JobFilter["status"];
    const map: Record<string, keyof JobFilter> = { queue: "queue", run: "run_id", tenant: "tenant_id", user: "user_id", type: "type" };
    for (const [k, field] of Object.entries(map)) { const v = params.get(k); if (v) (f as Record<string, unknown>)[field] = v; }
    if (f.queue) noteQueue(f.queue);
    try {
      const res = await call(() => api.jobs(f));
      if (mine !== seq) return;
      errorBox.hidden = true;
      const items = res.items.map((s) => noteSnapshot(s));
      for (const j of items) noteQueue(j.queue);
      rows.sync(items.map((j) => [j.key, store.jobs.get(j.key) ?? j]));
      empty.hidden = items.length > 0;
      const from = res.total === 0 ? 0 : res.offset + 1;
      const to = res.offset + items.length;
      setText(info, res.total === 0 ? "No jobs match." : `Showing ${fmt.int(from)}–${fmt.int(to)} of ${fmt.int(res.total)} jobs`);
      const pages = Math.max(1, Math.ceil(res.total / res.limit));
      setText(pageInfo, `Page ${fmt.int(pageNo())} of ${fmt.int(pages)}`);
      prev.disabled = pageNo() <= 1;
      next.disabled = to >= res.total;
    } catch (e) {
      if (mine !== seq) return;
      errorBox.hidden = false;
      setText(errorBox, describe(e));
    } finally {
      if (mine === seq) busy = false;
    }
  }

  function queueNames(): void {
    const names = [...new Set([...store.queues.keys(), ...(store.health?.queues ?? []).map((q) => q.queue)])].sort();
    if (queueList.childElementCount !== names.length) fill(queueList, names.map((n) => h("option", { value: n })));
  }

  offs.push(on("job", (key) => {
    if (rows.has(key as string)) { dirty.add(key as string); nextFrame(drawRows); }
  }));
  offs.push(on("queues", queueNames));
  const timer = setInterval(() => {
    if (auto.checked && !busy && document.visibilityState === "visible") void load();
  }, 5000);
  offs.push(on("principal", () => void load()));

  fillForm();
  queueNames();
  void load();

  return {
    title: "Jobs",
    el,
    update(p: URLSearchParams) {
      params = p;
      fillForm();
      void load();
    },
    destroy() {
      for (const off of offs) off();
      clearInterval(timer);
    },
  };
}
