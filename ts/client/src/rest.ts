// Typed REST helpers for the gateway's /api/v1 (docs/api.md). Errors are
// application/problem+json; they are thrown as JobwatchProblem.
import type { JobSnapshot } from "../../generated/job_snapshot";
import type { Summary } from "../../generated/summary";
import type { HealthReport } from "../../generated/health_report";
import type { DeadLetterEntry } from "../../generated/dead_letter_entry";
import type { JobEvent } from "../../generated/job_event";

/** An RFC 9457 problem from the server. */
export interface Problem { type?: string; title?: string; status: number; detail?: string; pointer?: string; parameter?: string }

export class JobwatchProblem extends Error {
  readonly status: number;
  readonly problem: Problem;
  constructor(problem: Problem) {
    super(`${problem.status} ${problem.title ?? ""}${problem.detail ? `: ${problem.detail}` : ""}`);
    this.name = "JobwatchProblem";
    this.status = problem.status;
    this.problem = problem;
  }
}

export interface JobFilter {
  status?: "queued" | "running" | "succeeded" | "failed" | "cancelled";
  queue?: string; run_id?: string; tenant_id?: string; user_id?: string; type?: string;
  since?: string | number; until?: string | number; limit?: number; offset?: number;
}
export interface Page<T> { items: T[]; total: number; limit: number; offset: number }
export interface LogLine { seq: number; time: string; level: string; message: string }

export interface RestOptions { url: string; token?: string; getToken?: () => string | Promise<string>; fetch?: typeof fetch }

export class JobwatchRest {
  constructor(private readonly o: RestOptions) {}

  private async get<T>(path: string, query: Record<string, unknown> = {}): Promise<T> {
    const u = new URL(path, this.o.url);
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== "") u.searchParams.set(k, String(v));
    const token = this.o.getToken ? await this.o.getToken() : this.o.token;
    const res = await (this.o.fetch ?? fetch)(u, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    if (!res.ok) {
      let p: Problem = { status: res.status, title: res.statusText };
      try { p = { ...p, ...((await res.json()) as Problem) }; } catch { /* not JSON */ }
      throw new JobwatchProblem(p);
    }
    return (await res.json()) as T;
  }

  jobs(filter: JobFilter = {}): Promise<Page<JobSnapshot>> { return this.get("/api/v1/jobs", { ...filter }); }
  job(id: string, tenantId?: string): Promise<JobSnapshot> { return this.get(`/api/v1/jobs/${encodeURIComponent(id)}`, { tenant_id: tenantId }); }
  logs(id: string, o: { since?: number; limit?: number; tenant_id?: string } = {}): Promise<{ job_id: string; items: LogLine[] }> {
    return this.get(`/api/v1/jobs/${encodeURIComponent(id)}/logs`, o);
  }
  events(id: string, tenantId?: string): Promise<{ job_id: string; complete: boolean; items: Array<{ seq: number; event: JobEvent }> }> {
    return this.get(`/api/v1/jobs/${encodeURIComponent(id)}/events`, { tenant_id: tenantId });
  }
  runSummary(id: string, tenantId?: string): Promise<Summary> { return this.get(`/api/v1/runs/${encodeURIComponent(id)}/summary`, { tenant_id: tenantId }); }
  queues(): Promise<{ items: Array<{ queue: string; summary: Summary }> }> { return this.get("/api/v1/queues"); }
  health(): Promise<HealthReport> { return this.get("/api/v1/health/queues"); }
  failedStats(): Promise<Record<string, unknown>> { return this.get("/api/v1/jobs/failed/stats"); }
  /** Newest first; pass a page's `next_before` as `before` for the one after it (older). */
  failedRecent(limit = 20, before?: number): Promise<{ items: DeadLetterEntry[]; next_before?: number }> {
    return this.get("/api/v1/jobs/failed/recent", { limit, before });
  }
}

export function rest(o: RestOptions): JobwatchRest { return new JobwatchRest(o); }
