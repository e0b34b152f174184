// Hash routes, so the server needs no route of its own:
//   #/                      overview
//   #/jobs?status=failed&queue=emails&run=&tenant=&user=&page=2&limit=25
//   #/job/<id>?tenant=<tenant>
export interface View {
  title: string;
  el: HTMLElement;
  /** The same route with other parameters (e.g. filters): update in place, keep focus. */
  update?(params: URLSearchParams): void;
  destroy(): void;
}

export interface Route { name: "overview" | "jobs" | "job" | "unknown"; id?: string; params: URLSearchParams; key: string }

export function parse(hash: string): Route {
  const raw = hash.replace(/^#/, "") || "/";
  const qi = raw.indexOf("?");
  const path = qi >= 0 ? raw.slice(0, qi) : raw;
  const params = new URLSearchParams(qi >= 0 ? raw.slice(qi + 1) : "");
  if (path === "/" || path === "") return { name: "overview", params, key: "overview" };
  if (path === "/jobs") return { name: "jobs", params, key: "jobs" };
  const m = /^\/job\/(.+)$/.exec(path);
  if (m) {
    let id = m[1]!;
    try { id = decodeURIComponent(id); } catch { /* keep as is */ }
    return { name: "job", id, params, key: `job:${params.get("tenant") ?? ""}/${id}` };
  }
  return { name: "unknown", params, key: `unknown:${path}` };
}
