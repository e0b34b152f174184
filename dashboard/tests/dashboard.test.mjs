// The dashboard in a real browser (Debian's Chromium, headless, driven by
// playwright-core) against the real demo server.
//
//   JOBWATCH_DEMO=build/dev/examples/jobwatch_demo node --test dashboard/tests/dashboard.test.mjs
//
// Optional: JOBWATCH_ARTIFACTS=<dir> for the screenshots (default: a new
// temporary folder, printed), CHROMIUM=<path> (default /usr/bin/chromium).
// The test starts the demo on a free 127.0.0.1 port with its history in
// memory, and stops every process it starts. When the demo serves the
// dashboard at / itself the browser talks to it directly; otherwise (a demo
// built without the dashboard) a small server of this test serves dist/ and
// forwards the API to the demo, and says so.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { demo as makeDemo, staticProxy, freePort, get, post, publish, until, sleep, deadline } from "./helpers.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const dashboard = path.resolve(here, "..");
const root = path.resolve(dashboard, "..");
const dist = path.join(dashboard, "dist");
const demoBin = process.env.JOBWATCH_DEMO ? path.resolve(process.env.JOBWATCH_DEMO) : path.join(root, "build/dev/examples/jobwatch_demo");
const chromiumBin = process.env.CHROMIUM ?? "/usr/bin/chromium";
const artifacts = process.env.JOBWATCH_ARTIFACTS ? path.resolve(process.env.JOBWATCH_ARTIFACTS) : fs.mkdtempSync(path.join(os.tmpdir(), "jobwatch-dashboard-"));
const MARKER = 'content="jobwatch-dashboard"';
const tag = Date.now().toString(36); // ids of this run

const missing = !fs.existsSync(demoBin) ? `no demo binary at ${demoBin} (set JOBWATCH_DEMO)`
  : !fs.existsSync(chromiumBin) ? `no Chromium at ${chromiumBin} (scripts/setup.sh installs it)` : null;

let browser = null;
before(async () => {
  if (missing) return;
  execFileSync("bash", [path.join(dashboard, "build.sh")], { stdio: "inherit", timeout: 60_000 });
  fs.mkdirSync(artifacts, { recursive: true });
  browser = await deadline(chromium.launch({ executablePath: chromiumBin, headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] }), 30_000, "Chromium starts");
});
after(async () => { await browser?.close().catch(() => {}); });

/** The URL the browser uses: the demo itself when it serves the dashboard, else a static server of dist/ in front of it. */
async function serve(server) {
  const home = await get(`${server.url}/`).catch(() => ({ status: 0, body: "" }));
  if (home.status === 200 && home.body.includes(MARKER)) {
    // It serves the copy of dist/ it was built with: say so when that is not the one just built.
    const served = await get(`${server.url}/assets/app.js`, 5000).catch(() => ({ body: "" }));
    const same = served.body === fs.readFileSync(path.join(dist, "assets/app.js"), "utf8");
    return { base: server.url, proxy: null, how: `the demo serves the dashboard at / itself: testing it directly on ${server.url}` +
      (same ? " (the same app.js as dashboard/dist)" : " (NOTE: its embedded app.js differs from dashboard/dist: the demo was built from other sources; rebuild it to test these)") };
  }
  const proxy = await staticProxy(dist, server.port);
  return { base: proxy.url, proxy, how: `NOTE: the demo answers ${home.status} for / (no embedded dashboard): dashboard/dist is served by the test's own server on ${proxy.url}, which forwards the API and /ws to the demo` };
}

describe("dashboard", { skip: missing ?? false, timeout: 180_000 }, () => {
  let server, proxy = null, base, page;
  const consoleErrors = [];
  const pageErrors = [];
  let restarted = false;
  const notes = [];
  const note = (s) => { notes.push(s); console.log(s); };

  const q = (sel) => page.locator(sel);
  const badge = () => page.textContent("#badge-text");
  /** Waits until the page's function returns true; every wait has its deadline. */
  const waitIn = (fn, arg, ms, what) => deadline(page.waitForFunction(fn, arg, { timeout: ms, polling: 50 }), ms + 1000, what);
  const roomReady = (room, ms = 5000) => waitIn((r) => (window.jobwatchDashboard?.rooms() ?? []).some((x) => x.room === r && x.seq !== null), room, ms, `room ${room} subscribed`);
  const shot = async (name, opts = {}) => { const file = path.join(artifacts, name); await page.screenshot({ path: file, fullPage: true, ...opts }); return file; };
  const go = async (hash) => { await page.evaluate((h) => { location.hash = h; }, hash); };
  const job = (id, queue, extra = {}) => ({ job_id: id, queue, ...extra });

  before(async () => {
    server = makeDemo(demoBin, await freePort());
    await server.start();
    let how;
    ({ base, proxy, how } = await serve(server));
    note(how);
    note(`screenshots in ${artifacts}`);
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(10_000);
    page.on("console", (m) => { if (m.type() === "error") consoleErrors.push({ text: m.text(), url: m.location()?.url, afterRestart: restarted }); });
    page.on("pageerror", (e) => pageErrors.push(String(e?.stack ?? e)));
  });

  after(async () => {
    await page?.close().catch(() => {});
    await proxy?.close();
    await server?.stop();
    if (notes.length) console.log(`summary:\n${notes.map((n) => `  ${n}`).join("\n")}`);
  });

  test("the overview loads, goes LIVE and fills in, with no console error", async () => {
    await page.goto(`${base}/`, { waitUntil: "load" });
    await waitIn(() => document.getElementById("badge-text")?.textContent === "LIVE", null, 10_000, "badge LIVE");
    assert.equal(await page.getAttribute("#badge", "aria-live"), "polite");
    assert.equal(await page.textContent("h1"), "Overview");
    // The demo's workload: queues with numbers, runs, running jobs.
    await waitIn(() => document.querySelectorAll("#queues-body tr").length >= 4, null, 10_000, "queues listed");
    await waitIn(() => /^[1-9][\d,]*$/.test(document.getElementById("c-total")?.textContent ?? ""), null, 10_000, "total jobs counted");
    await waitIn(() => document.querySelectorAll("#runs-body tr").length >= 1, null, 10_000, "runs listed");
    await waitIn(() => document.querySelector("#health-line .pill") !== null, null, 10_000, "health judged");
    await waitIn(() => /%$/.test(document.getElementById("c-rate")?.textContent ?? ""), null, 10_000, "a success rate (once a job finished)");
    assert.match(await page.textContent("#c-tput"), /jobs\/(s|min)$/);
    // Every control is labelled; tables have headers.
    const unlabelled = await page.evaluate(() => [...document.querySelectorAll("input, select, button")]
      .filter((el) => !el.closest("[hidden]") && !(el.labels?.length || el.getAttribute("aria-label") || el.textContent.trim()))
      .map((el) => el.outerHTML.slice(0, 80)));
    assert.deepEqual(unlabelled, []);
    assert.ok(await page.evaluate(() => [...document.querySelectorAll("table")].every((t) => t.querySelector("thead th[scope=col]"))));
    // Keyboard: Tab reaches the skip link, then the navigation (focus drawn), Enter follows it, focus lands on the new heading.
    await page.keyboard.press("Tab");
    assert.equal(await page.evaluate(() => document.activeElement?.className), "skip");
    await page.keyboard.press("Tab");
    await page.keyboard.press("Tab");
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Jobs");
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineWidth);
    assert.ok(parseFloat(outline) >= 2, `focus outline ${outline}`);
    await page.keyboard.press("Enter");
    await waitIn(() => document.activeElement?.tagName === "H1" && document.activeElement.textContent === "Jobs", null, 5000, "focus on the Jobs heading");
    await go("#/");
    await waitIn(() => document.querySelector("h1")?.textContent === "Overview", null, 5000, "back to the overview");
    assert.deepEqual(pageErrors, []);
    assert.deepEqual(consoleErrors, [], `console errors: ${JSON.stringify(consoleErrors)}`);
  });

  test("progress bars rise, live", async () => {
    // The demo's own jobs: some bar in "Running now" moves up within a few seconds.
    const rose = await until(async () => {
      const a = await page.evaluate(() => Object.fromEntries([...document.querySelectorAll("#running-now li")].map((li) =>
        [li.dataset.job, Number(li.querySelector("[role=progressbar]")?.getAttribute("aria-valuenow"))])));
      await sleep(400);
      const b = await page.evaluate(() => Object.fromEntries([...document.querySelectorAll("#running-now li")].map((li) =>
        [li.dataset.job, Number(li.querySelector("[role=progressbar]")?.getAttribute("aria-valuenow"))])));
      return Object.keys(a).find((k) => k in b && b[k] > a[k]);
    }, 8000, "a running demo job's bar rises");
    assert.ok(rose);

    // A job of ours, on the jobs page with its periodic refresh off: only live events move the bar.
    const queue = `dash-bars-${tag}`, id = `bar-${tag}`;
    await publish(base, [{ type: "job.queued", ...job(id, queue) }, { type: "job.started", ...job(id, queue), attempt: 1 }]);
    await go(`#/jobs?queue=${queue}`);
    await q(`#jobs-body tr[data-job="/${id}"]`).waitFor();
    await page.uncheck("#f-auto");
    await roomReady(`queue:${queue}`);
    const bar = `#jobs-body tr[data-job="/${id}"] [role=progressbar]`;
    for (const pct of [15, 48, 90]) {
      await publish(base, [{ type: "job.progress", ...job(id, queue), percent: pct }]);
      await waitIn(([sel, p]) => document.querySelector(sel)?.getAttribute("aria-valuenow") === String(p), [bar, pct], 5000, `bar at ${pct} %`);
    }
    await publish(base, [{ type: "job.completed", ...job(id, queue) }]);
    await waitIn((sel) => document.querySelector(sel)?.dataset.state === "succeeded", `#jobs-body tr[data-job="/${id}"]`, 5000, "row succeeded");
    await page.check("#f-auto");
  });

  test("a failure burst shows in the alert feed as firing, then as resolved", async () => {
    // A short dead-letter window (a runtime setting), so the alert resolves within seconds.
    const cfg = await post(`${base}/api/v1/monitor/config`, "application/json", JSON.stringify({ dlq: { threshold: 10, window_ms: 6000 } }));
    assert.equal(cfg.status, 200, cfg.body);
    await go("#/");
    await q("#alert-feed").waitFor({ state: "attached" });
    const queue = `dash-burst-${tag}`;
    const events = [];
    for (let i = 1; i <= 12; i++) {
      const j = job(`burst-${tag}-${i}`, queue);
      events.push({ type: "job.queued", ...j }, { type: "job.started", ...j, attempt: 1 },
        { type: "job.failed", ...j, attempt: 1, error: `card declined (${i})`, will_retry: false });
    }
    const t0 = Date.now();
    await publish(base, events);
    const item = `#alert-feed li[data-alert-id^="failure_rate:${queue}:"]`;
    await waitIn((sel) => document.querySelector(sel)?.dataset.status === "firing", item, 10_000, "alert firing in the feed");
    assert.match(await page.textContent(`${item} .pill`), /FIRING/);
    assert.match(await page.textContent(item), new RegExp(queue));
    await waitIn(() => Number(document.getElementById("c-firing")?.textContent) >= 1, null, 5000, "firing count");
    await shot("overview.png");
    await waitIn((sel) => document.querySelector(sel)?.dataset.status === "resolved", item, 25_000, "alert resolved in the feed");
    assert.match(await page.textContent(`${item} .pill`), /RESOLVED/);
    assert.match(await page.textContent(item), /resolved \d/);
    note(`failure_rate alert: fired, then resolved ${((Date.now() - t0) / 1000).toFixed(1)} s after the burst (dlq.window_ms 6000)`);
    // The dead letters of the burst are listed (REST, refreshed on alerts).
    await waitIn((qn) => document.getElementById("deadletters-body")?.textContent.includes(qn), queue, 8000, "dead letters listed");
  });

  test("filters and paging change the jobs table", async () => {
    const queue = `dash-pages-${tag}`;
    const events = [];
    const add = (id, extra, end) => {
      const j = job(id, queue, extra);
      events.push({ type: "job.queued", ...j }, { type: "job.started", ...j, attempt: 1 },
        end === "ok" ? { type: "job.completed", ...j } : { type: "job.failed", ...j, attempt: 1, error: "bad input", will_retry: false });
    };
    for (let i = 1; i <= 14; i++) add(`pf-${tag}-${i}`, {}, "fail");
    for (let i = 1; i <= 4; i++) add(`pt-${tag}-${i}`, { tenant_id: "dashco", user_id: "zoe" }, "fail");
    for (let i = 1; i <= 6; i++) add(`ps-${tag}-${i}`, {}, "ok");
    await publish(base, events);

    await go(`#/jobs?queue=${queue}`);
    await waitIn(() => /of 24 jobs$/.test(document.getElementById("jobs-info")?.textContent ?? ""), null, 8000, "24 jobs of the queue");
    assert.equal(await q("#f-queue").inputValue(), queue);

    await page.selectOption("#f-status", "failed"); // applies at once
    await waitIn(() => /of 18 jobs$/.test(document.getElementById("jobs-info")?.textContent ?? ""), null, 8000, "18 failed jobs");
    assert.match(await page.evaluate(() => location.hash), /status=failed/);
    const states = await page.$$eval("#jobs-body tr", (trs) => trs.map((t) => t.dataset.state));
    assert.equal(states.length, 18);
    assert.ok(states.every((s) => s === "failed"), states.join());

    await page.selectOption("#f-limit", "10");
    await waitIn(() => /^Showing 1–10 of 18 jobs$/.test(document.getElementById("jobs-info")?.textContent ?? ""), null, 8000, "page 1 of 10");
    const page1 = await page.$$eval("#jobs-body tr", (trs) => trs.map((t) => t.dataset.job));
    assert.equal(page1.length, 10);
    await shot("jobs.png");
    await page.click("#page-next");
    await waitIn(() => /^Showing 11–18 of 18 jobs$/.test(document.getElementById("jobs-info")?.textContent ?? ""), null, 8000, "page 2");
    assert.match(await page.evaluate(() => location.hash), /page=2/);
    const page2 = await page.$$eval("#jobs-body tr", (trs) => trs.map((t) => t.dataset.job));
    assert.equal(page2.length, 8);
    assert.ok(page2.every((k) => !page1.includes(k)), "page 2 shows other jobs");
    assert.ok(await page.isDisabled("#page-next"));

    // Tenant and user: typed, then Enter (the form submits; paging starts over).
    await page.fill("#f-tenant", "dashco");
    await page.fill("#f-user", "zoe");
    await page.press("#f-user", "Enter");
    await waitIn(() => /^Showing 1–4 of 4 jobs$/.test(document.getElementById("jobs-info")?.textContent ?? ""), null, 8000, "4 jobs of tenant dashco");
    const keys = await page.$$eval("#jobs-body tr", (trs) => trs.map((t) => t.dataset.job));
    assert.ok(keys.every((k) => k.startsWith("dashco/pt-")), keys.join());
    await page.getByRole("button", { name: "Clear", exact: true }).click();
    await waitIn(() => location.hash === "#/jobs", null, 5000, "filters cleared");
  });

  test("the job page tails its log live and lists its events", async () => {
    const queue = `dash-logs-${tag}`, id = `log-${tag}`;
    const j = job(id, queue, { tenant_id: "dashco", run_id: `run-${tag}` });
    await publish(base, [{ type: "job.queued", ...j, max_attempts: 2 }, { type: "job.started", ...j, attempt: 1, worker: "w1" },
      { type: "job.log", ...j, level: "info", message: "before the page opened" }]);
    await go(`#/job/${id}?tenant=dashco`);
    await roomReady(`job:dashco/${id}`);
    await waitIn(() => document.getElementById("job-state")?.textContent === "running", null, 5000, "state running");
    await waitIn(() => document.getElementById("job-log")?.textContent.includes("before the page opened"), null, 5000, "earlier line replayed");
    for (let i = 1; i <= 5; i++) {
      await publish(base, [{ type: "job.log", ...j, level: i === 4 ? "warn" : "info", message: `step ${i} of 5 done` }]);
      await waitIn((n) => document.getElementById("job-log")?.textContent.includes(`step ${n} of 5 done`), i, 5000, `log line ${i}`);
    }
    const lines = await page.$$eval("#job-log li", (lis) => lis.map((li) => li.textContent));
    assert.equal(lines.length, 6);
    assert.ok(lines.every((l, k) => k === 0 || l.includes(`step ${k} of 5`)), lines.join("\n"));
    await publish(base, [{ type: "job.progress", ...j, percent: 64, step: "uploading" }]);
    await waitIn(() => document.querySelector(".job [role=progressbar]")?.getAttribute("aria-valuenow") === "64", null, 5000, "job bar at 64");
    const types = await page.$$eval("#job-events tr", (trs) => trs.map((t) => t.dataset.type));
    assert.equal(types[0], "job.progress"); // newest first
    assert.equal(types.filter((t) => t === "job.log").length, 6);
    assert.ok(types.includes("job.started") && types.includes("job.queued"));
    await shot("job.png");
    await publish(base, [{ type: "job.completed", ...j }]);
    await waitIn(() => document.getElementById("job-state")?.textContent === "succeeded", null, 5000, "state succeeded");
  });

  test("a server restart: RECONNECTING, then LIVE, and updates continue", async () => {
    assert.deepEqual(consoleErrors, [], `console errors before the restart: ${JSON.stringify(consoleErrors)}`);
    const queue = `dash-live-${tag}`;
    await go(`#/jobs?queue=${queue}`);
    await roomReady(`queue:${queue}`);
    restarted = true; // from here the browser logs the refused connections, as it must
    await server.stop();
    await waitIn(() => document.getElementById("badge-text")?.textContent === "RECONNECTING", null, 8000, "badge RECONNECTING");
    const t0 = Date.now();
    await sleep(1500);
    assert.equal(await badge(), "RECONNECTING");
    await server.start();
    await waitIn(() => document.getElementById("badge-text")?.textContent === "LIVE", null, 15_000, "badge LIVE again");
    note(`LIVE again ${((Date.now() - t0) / 1000).toFixed(1)} s after the server went down (about 1.5 s of it down)`);
    // New events on the new server reach the page: the row comes (refresh), then its bar moves live.
    const id = `live-${tag}`;
    await publish(base, [{ type: "job.queued", ...job(id, queue) }, { type: "job.started", ...job(id, queue), attempt: 1 },
      { type: "job.progress", ...job(id, queue), percent: 5 }]);
    await q(`#jobs-body tr[data-job="/${id}"]`).waitFor({ timeout: 10_000 });
    await page.uncheck("#f-auto");
    await roomReady(`queue:${queue}`);
    for (const pct of [35, 70]) {
      await publish(base, [{ type: "job.progress", ...job(id, queue), percent: pct }]);
      await waitIn(([sel, p]) => document.querySelector(sel)?.getAttribute("aria-valuenow") === String(p),
        [`#jobs-body tr[data-job="/${id}"] [role=progressbar]`, pct], 5000, `bar at ${pct} % after the restart`);
    }
    await page.check("#f-auto");
    // The overview fills again from the new server.
    await go("#/");
    await waitIn(() => document.querySelectorAll("#queues-body tr").length >= 4, null, 10_000, "queues after the restart");
    assert.deepEqual(pageErrors, []);
    const unexpected = consoleErrors.filter((e) => !/ERR_CONNECTION_REFUSED|ERR_EMPTY_RESPONSE|ERR_CONNECTION_RESET|WebSocket connection to|Failed to load resource|net::ERR_/.test(e.text));
    assert.deepEqual(unexpected, []);
  });

  test("1,000 progress events per second for 5 s: no long task over 50 ms", async () => {
    const queue = `dash-load-${tag}`;
    const JOBS = 100, SECONDS = 5, PER_BATCH = 100, BATCH_MS = 100;
    const ids = Array.from({ length: JOBS }, (_, i) => `load-${tag}-${i}`);
    await publish(base, ids.flatMap((id) => [{ type: "job.queued", ...job(id, queue) }, { type: "job.started", ...job(id, queue), attempt: 1 }]));
    await go(`#/jobs?queue=${queue}&limit=50`);
    await waitIn(() => document.querySelectorAll("#jobs-body tr").length === 50, null, 8000, "50 rows");
    await roomReady(`queue:${queue}`);
    await page.evaluate(() => {
      const w = window;
      w.__load = { longtasks: [], frames: 0, maxGap: 0, received0: w.jobwatchDashboard.store.received };
      new PerformanceObserver((list) => { for (const e of list.getEntries()) w.__load.longtasks.push(Math.round(e.duration)); }).observe({ type: "longtask" });
      let last = performance.now();
      const tick = (t) => { w.__load.frames++; w.__load.maxGap = Math.max(w.__load.maxGap, t - last); last = t; if (!w.__load.stop) requestAnimationFrame(tick); };
      requestAnimationFrame(tick);
    });
    const start = Date.now();
    let sent = 0;
    const batches = (SECONDS * 1000) / BATCH_MS;
    for (let b = 1; b <= batches; b++) {
      const lines = [];
      for (let k = 0; k < PER_BATCH; k++) lines.push({ type: "job.progress", ...job(ids[k % JOBS], queue), percent: b });
      await publish(base, lines);
      sent += lines.length;
      const wait = start + b * BATCH_MS - Date.now();
      if (wait > 0) await sleep(wait);
    }
    const secs = (Date.now() - start) / 1000;
    // Every shown bar ends at the last value: the page kept up.
    await waitIn((n) => [...document.querySelectorAll("#jobs-body [role=progressbar]")].every((b) => b.getAttribute("aria-valuenow") === String(n)),
      batches, 10_000, `every bar at ${batches} %`);
    await sleep(300); // a long task is reported after it ends
    const r = await page.evaluate(() => { window.__load.stop = true; const s = window.jobwatchDashboard.store; return { ...window.__load, received: s.received - window.__load.received0 }; });
    const max = r.longtasks.length ? Math.max(...r.longtasks) : 0;
    note(`load: ${sent} job.progress events in ${secs.toFixed(1)} s (${Math.round(sent / secs)}/s); page received ${r.received}; ` +
      `long tasks: ${r.longtasks.length} (max ${max} ms); frames ${r.frames}, longest gap between frames ${Math.round(r.maxGap)} ms`);
    assert.ok(sent / secs >= 800, `published only ${Math.round(sent / secs)} events/s`);
    assert.deepEqual(r.longtasks, [], `long tasks over 50 ms: ${r.longtasks.join(", ")} ms`);
  });

  test("screenshots: a phone-sized overview", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await go("#/");
    await waitIn(() => document.querySelectorAll("#queues-body tr").length >= 4, null, 10_000, "queues");
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `the page scrolls sideways by ${overflow} px on a phone (tables may scroll inside their box)`);
    await shot("overview-phone.png");
    await page.setViewportSize({ width: 1280, height: 900 });
    for (const f of ["overview.png", "jobs.png", "job.png", "overview-phone.png"]) assert.ok(fs.statSync(path.join(artifacts, f)).size > 5000, f);
    note(`screenshots: ${["overview.png", "jobs.png", "job.png", "overview-phone.png"].map((f) => path.join(artifacts, f)).join(", ")}`);
  });

  test("dist/ is small: at most 200 KiB gzipped", () => {
    let raw = 0, gz = 0;
    const walk = (dir) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else { const b = fs.readFileSync(p); raw += b.length; gz += zlib.gzipSync(b, { level: 9 }).length; }
      }
    };
    walk(dist);
    note(`dist/: ${(raw / 1024).toFixed(1)} KiB raw, ${(gz / 1024).toFixed(1)} KiB gzipped (budget 200 KiB)`);
    assert.ok(gz <= 200 * 1024, `dist/ is ${gz} bytes gzipped`);
    const html = fs.readFileSync(path.join(dist, "index.html"), "utf8");
    const refs = [...html.matchAll(/(?:src|href)="([^"#][^"]*)"/g)].map((m) => m[1]); // not the in-page links (#main, #/jobs)
    assert.ok(refs.length > 0 && refs.every((r) => r.startsWith("/assets/")), `index.html refers to ${refs.join(", ")}`);
    for (const r of refs) assert.ok(fs.existsSync(path.join(dist, r)), r);
  });
});

describe("dashboard with auth on", { skip: missing ?? false, timeout: 60_000 }, () => {
  let server, proxy = null, base, context, page;
  const pageErrors = [], consoleErrors = [];
  const admin = `adm-${tag}`, acme = `acme-${tag}`;
  const waitIn = (fn, arg, ms, what) => deadline(page.waitForFunction(fn, arg, { timeout: ms, polling: 50 }), ms + 1000, what);

  before(async () => {
    const tokens = { [admin]: { subject: "admin", scopes: ["read", "publish", "admin"] }, [acme]: { subject: "acme-app", tenant_id: "acme", scopes: ["read"] } };
    server = makeDemo(demoBin, await freePort(), ["--auth.mode=static_tokens", `--auth.tokens=${JSON.stringify(tokens)}`]);
    await server.start();
    ({ base, proxy } = await serve(server));
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
    page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
    page.on("pageerror", (e) => pageErrors.push(String(e?.stack ?? e)));
  });
  after(async () => {
    await context?.close().catch(() => {});
    await proxy?.close();
    await server?.stop();
  });

  test("a token box when the server wants a token; the token is kept for the tab", async () => {
    await page.goto(`${base}/`);
    await page.locator("#token-box").waitFor({ state: "visible", timeout: 8000 });
    await waitIn(() => document.getElementById("badge-text")?.textContent === "OFFLINE", null, 5000, "badge OFFLINE");
    const input = page.getByLabel("Access token", { exact: true });
    assert.equal(await input.getAttribute("type"), "password");
    const first = await page.textContent("#token-reason");
    assert.match(first, /token/);

    await input.fill("not-a-token");
    await input.press("Enter");
    await waitIn((t) => document.getElementById("token-reason")?.textContent !== t && !document.getElementById("token-box").hidden, first, 8000, "refused again");
    assert.equal(await page.textContent("#badge-text"), "OFFLINE");

    // A tenant's token: LIVE, and the overview is the tenant's (queues, alerts and health mix tenants: not shown).
    await input.fill(acme);
    await input.press("Enter");
    await waitIn(() => document.getElementById("badge-text")?.textContent === "LIVE", null, 10_000, "LIVE with the tenant's token");
    assert.ok(await page.isHidden("#token-box"));
    assert.equal(await page.evaluate(() => sessionStorage.getItem("jobwatch.token")), acme);
    await waitIn(() => document.querySelector(".overview .lead")?.textContent === "Jobs of tenant acme.", null, 8000, "tenant overview");
    await waitIn(() => /^[1-9]/.test(document.getElementById("c-total")?.textContent ?? ""), null, 10_000, "the tenant's totals");
    assert.ok(await page.isHidden("#h-queues"));
    assert.deepEqual((await page.evaluate(() => window.jobwatchDashboard.rooms().map((r) => r.room))).filter((r) => !r.startsWith("run:acme/")), ["tenant:acme"]);
    await page.evaluate(() => { location.hash = "#/jobs"; });
    await waitIn(() => document.querySelectorAll("#jobs-body tr").length > 0, null, 8000, "jobs listed");
    const keys = await page.$$eval("#jobs-body tr", (trs) => trs.map((t) => t.dataset.job));
    assert.ok(keys.every((k) => k.startsWith("acme/")), keys.join());

    // A reload keeps the token (session storage); the header button changes it.
    await page.reload();
    await waitIn(() => document.getElementById("badge-text")?.textContent === "LIVE", null, 10_000, "LIVE after a reload");
    assert.ok(await page.isHidden("#token-box"));
    await page.click("#token-button");
    await input.fill(admin);
    await input.press("Enter");
    await page.evaluate(() => { location.hash = "#/"; });
    await waitIn(() => document.querySelectorAll("#queues-body tr").length >= 4, null, 10_000, "the administrator sees the queues");
    // A new token reconnects the stream; the REST tables may fill in before it is LIVE again.
    await waitIn(() => document.getElementById("badge-text")?.textContent === "LIVE", null, 10_000, "LIVE with the new token");
    assert.deepEqual(pageErrors, []);
    // The browser logs the refused requests (401, and 403 for the tenant's /queues); nothing else.
    assert.deepEqual(consoleErrors.filter((t) => !/status of (401|403)/.test(t)), []);
  });
});

if (missing) console.log(`dashboard test skipped: ${missing}`);
