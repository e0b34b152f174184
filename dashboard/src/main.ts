// The jobwatch dashboard: served by the gateway at /, talks to the same
// origin with the typed client (live updates) and its REST helpers.
import { store, on, start, setToken, rooms, refreshQueues } from "./live";
import { parse, type View, type Route } from "./router";
import { overviewView } from "./views/overview";
import { jobsView } from "./views/jobs";
import { jobView } from "./views/job";
import { h, setText } from "./dom";
import * as fmt from "./format";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

// ---------------------------------------------------------------- the badge

const OFFLINE_AFTER_MS = 20_000;
let badgeTimer: ReturnType<typeof setTimeout> | null = null;

function drawBadge(): void {
  const badge = $("badge"), text = $("badge-text");
  const c = store.conn;
  let state: string, label: string, title: string;
  const away = Date.now() - c.since;
  if (c.state === "live") {
    state = "live"; label = "LIVE";
    title = `Live updates over ${c.transport === "ws" ? "WebSocket" : c.transport === "sse" ? "Server-Sent Events" : "long-poll"}`;
  } else if (c.state === "offline" || !navigator.onLine || (c.state === "reconnecting" && away >= OFFLINE_AFTER_MS)) {
    state = "offline"; label = "OFFLINE";
    title = store.authNeeded ? "Not connected: the server needs an access token" : "Not connected: the server cannot be reached; still retrying";
  } else if (c.state === "reconnecting") {
    state = "reconnecting"; label = "RECONNECTING"; title = "The connection dropped; reconnecting and catching up";
  } else {
    state = "connecting"; label = "CONNECTING"; title = "Connecting to the server";
  }
  if (badge.dataset.state !== state) badge.dataset.state = state;
  setText(text, label);
  badge.title = title;
  if (badgeTimer) { clearTimeout(badgeTimer); badgeTimer = null; }
  if (c.state === "reconnecting" && away < OFFLINE_AFTER_MS) badgeTimer = setTimeout(drawBadge, OFFLINE_AFTER_MS - away + 50);
  drawFoot();
}

function drawFoot(): void {
  const c = store.conn;
  const via = c.transport === "ws" ? "WebSocket" : c.transport === "sse" ? "SSE" : c.transport === "poll" ? "long-poll" : "–";
  setText($("foot-text"), `jobwatch dashboard · ${fmt.int(store.received)} live events received · transport ${via} · ${rooms().length} rooms`);
}

// ---------------------------------------------------------------- the token box

function drawAuth(): void {
  const box = $("token-box");
  const need = !!store.authNeeded;
  box.hidden = !need && !tokenBoxOpen;
  $("token-button").hidden = !store.token && !need;
  $("token-clear").hidden = !store.token;
  if (need) setText($("token-reason"), `${store.authNeeded} Paste a token with the read scope; it is kept in this tab only (session storage).`);
  if (need && document.activeElement !== $("token-input")) $<HTMLInputElement>("token-input").focus();
}
let tokenBoxOpen = false;

function initAuth(): void {
  $<HTMLFormElement>("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const input = $<HTMLInputElement>("token-input");
    const token = input.value;
    input.value = "";
    tokenBoxOpen = false;
    setToken(token);
  });
  $("token-clear").addEventListener("click", () => { tokenBoxOpen = false; setToken(""); });
  $("token-button").addEventListener("click", () => {
    tokenBoxOpen = !tokenBoxOpen;
    drawAuth();
    if (tokenBoxOpen) $<HTMLInputElement>("token-input").focus();
  });
}

// ---------------------------------------------------------------- routing

let current: { route: Route; view: View } | null = null;

function notFound(): View {
  return { title: "Not found", el: h("div", null, h("h1", { tabindex: -1 }, "Page not found"), h("p", null, h("a", { href: "#/" }, "Back to the overview"))), destroy() {} };
}

function route(): void {
  const r = parse(location.hash);
  if (current && current.route.key === r.key) {
    current.route = r;
    current.view.update?.(r.params);
    return;
  }
  const first = current === null;
  current?.view.destroy();
  const view = r.name === "overview" ? overviewView()
    : r.name === "jobs" ? jobsView(r.params)
    : r.name === "job" ? jobView(r.id!, r.params.get("tenant") || undefined)
    : notFound();
  current = { route: r, view };
  const main = $("main");
  main.replaceChildren(view.el);
  document.title = `${view.title} · jobwatch`;
  for (const a of document.querySelectorAll<HTMLAnchorElement>("[data-nav]")) {
    const on = a.dataset.nav === r.name || (a.dataset.nav === "jobs" && r.name === "job");
    if (on) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  // Keyboard and screen-reader users land on the new page's heading (not on the first load).
  if (!first) view.el.querySelector<HTMLElement>("h1")?.focus({ preventScroll: false });
  window.scrollTo(0, 0);
}

// ---------------------------------------------------------------- start

function init(): void {
  initAuth();
  on("conn", drawBadge);
  on("auth", () => { drawAuth(); drawBadge(); });
  window.addEventListener("online", drawBadge);
  window.addEventListener("offline", drawBadge);
  window.addEventListener("hashchange", route);
  setInterval(drawFoot, 1000);
  setInterval(() => void refreshQueues(), 5000);
  // For tests and curious people: the client's rooms and the state.
  (window as unknown as Record<string, unknown>).jobwatchDashboard = { rooms, store };
  drawBadge();
  drawAuth();
  route();
  void start();
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
else init();
