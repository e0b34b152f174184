// must-fail: 'percnt' does not exist in type 'JobProgress'
import { JobProgress } from "../../generated/index";

export const p: JobProgress = { type: "job.progress", job_id: "j1", queue: "q", percnt: 50 };
