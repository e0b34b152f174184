// must-fail: Type '"job.progres"' is not assignable to type
import { JobEvent } from "../../generated/index";

export const e: JobEvent = { type: "job.progres", job_id: "j1", queue: "q", percent: 50 };
