// Numbers and times as a person reads them, always with their unit.

const intFmt = new Intl.NumberFormat("en-US");

export function int(n: number | undefined | null): string {
  return n === undefined || n === null || !Number.isFinite(n) ? "–" : intFmt.format(Math.round(n));
}

/** A duration in milliseconds: "850 ms", "2.4 s", "3 min 05 s", "2 h 10 min". */
export function ms(v: number | undefined | null): string {
  if (v === undefined || v === null || !Number.isFinite(v)) return "–";
  if (v < 1) return v === 0 ? "0 ms" : "< 1 ms";
  if (v < 1000) return `${Math.round(v)} ms`;
  if (v < 60_000) return `${(v / 1000).toFixed(v < 10_000 ? 2 : 1)} s`;
  const s = Math.round(v / 1000);
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
}

/** A share from 0 to 1 as a percentage: "97.5 %". */
export function pct(r: number | undefined | null, digits = 1): string {
  return r === undefined || r === null || !Number.isFinite(r) ? "–" : `${(r * 100).toFixed(digits)} %`;
}

/** Jobs per second: "1.25 jobs/s" (per minute when slow). */
export function rate(perSecond: number | undefined | null): string {
  if (perSecond === undefined || perSecond === null || !Number.isFinite(perSecond)) return "–";
  if (perSecond === 0) return "0 jobs/s";
  if (perSecond < 0.1) return `${(perSecond * 60).toFixed(1)} jobs/min`;
  return `${perSecond.toFixed(perSecond < 10 ? 2 : 1)} jobs/s`;
}

// Intl formatters are costly to make: made once, used for every row.
const timeOfDay = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
const dayFmt = new Intl.DateTimeFormat("en-CA", { year: "numeric", month: "2-digit", day: "2-digit" });
let todayUntil = 0;

/** A timestamp as local time of day ("14:03:07"), with the date when not today. */
export function time(iso: string | number | undefined | null): string {
  if (iso === undefined || iso === null || iso === "") return "–";
  const d = new Date(iso);
  const t = d.getTime();
  if (Number.isNaN(t)) return String(iso);
  const now = Date.now();
  if (now >= todayUntil) {
    const n = new Date(now);
    todayUntil = new Date(n.getFullYear(), n.getMonth(), n.getDate() + 1).getTime();
  }
  const start = todayUntil - 86_400_000;
  const hms = timeOfDay.format(d);
  return t >= start && t < todayUntil ? hms : `${dayFmt.format(d)} ${hms}`;
}

/** Local time with milliseconds ("14:03:07.250"), for log lines and events. */
export function clock(iso: string | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : `${timeOfDay.format(d)}.${String(d.getMilliseconds()).padStart(3, "0")}`;
}

/** How long ago: "4 s ago", "3 min ago". */
export function ago(iso: string | number | undefined | null, now = Date.now()): string {
  if (iso === undefined || iso === null || iso === "") return "–";
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return "–";
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}
