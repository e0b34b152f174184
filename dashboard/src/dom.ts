// A few DOM helpers: h() builds elements, pill() and progressBar() the two
// widgets every view uses. Plain DOM, no framework.

export type Child = Node | string | number | null | undefined | false | Child[];
export type Attrs = Record<string, unknown>;

/** Creates an element: attributes (on* are listeners, `text` the text, `class` the class), then children. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...kids: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (attrs) {
    for (const k in attrs) {
      const v = attrs[k];
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v as EventListener);
      else if (k === "text") el.textContent = String(v);
      else if (k === "class") el.className = String(v);
      else if (k === "value") (el as unknown as HTMLInputElement).value = String(v);
      else if (v === true) el.setAttribute(k, "");
      else el.setAttribute(k, String(v));
    }
  }
  append(el, kids);
  return el;
}

export function append(el: Node, kids: Child[]): void {
  for (const k of kids) {
    if (k === null || k === undefined || k === false) continue;
    if (Array.isArray(k)) append(el, k);
    else el.appendChild(typeof k === "object" ? k : document.createTextNode(String(k)));
  }
}

/** Replaces an element's children. */
export function fill(el: Element, ...kids: Child[]): void {
  el.textContent = "";
  append(el, kids);
}

/** Sets text only when it changed (cheap to call every frame). */
export function setText(el: Element, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

/** A coloured label that says its value in words too (colour is never the only cue). */
export function pill(text: string, value: string = text, title?: string): HTMLSpanElement {
  return h("span", { class: "pill", "data-v": value, title }, text);
}

export interface Bar { el: HTMLDivElement; set(percent: number, state?: string): void }

/** A labelled progress bar (role progressbar with aria-valuenow) whose fill moves by transform. */
export function progressBar(label: string, big = false): Bar {
  const fillEl = h("div", { class: "fill" });
  const pct = h("span", { class: "pct" });
  const el = h("div", { class: big ? "bar big" : "bar", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100, "aria-label": label },
    h("div", { class: "track" }, fillEl), pct);
  let last = -1, lastState = "";
  return {
    el,
    set(percent: number, state = "") {
      const p = Math.max(0, Math.min(100, Number.isFinite(percent) ? percent : 0));
      if (p !== last) {
        last = p;
        fillEl.style.transform = `scaleX(${p / 100})`;
        const shown = p === 100 || p === 0 ? String(p) : p < 10 ? p.toFixed(1).replace(/\.0$/, "") : String(Math.round(p));
        pct.textContent = `${shown} %`;
        el.setAttribute("aria-valuenow", String(Math.round(p)));
      }
      if (state !== lastState) { lastState = state; el.dataset.state = state; }
    },
  };
}

/** A table inside a horizontally scrolling wrapper; `head` are the column headers (scope col). */
export function table(caption: string, head: Array<string | [string, string]>, body: HTMLTableSectionElement, label?: string): HTMLDivElement {
  return h("div", { class: "table-wrap", role: "region", "aria-label": label ?? caption, tabindex: 0 },
    h("table", null,
      h("caption", null, caption),
      h("thead", null, h("tr", null, head.map((c) => Array.isArray(c)
        ? h("th", { scope: "col", class: c[1] }, c[0])
        : h("th", { scope: "col" }, c)))),
      body));
}
