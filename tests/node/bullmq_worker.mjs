// A BullMQ worker in its own process, for bullmq_e2e.mjs: the test kills it
// with SIGKILL while it holds a job, so that BullMQ finds the job stalled.
//
// Usage: node bullmq_worker.mjs <redis-port> <queue>
// Prints `ready` once the worker is running, then for every job it takes
// `started <job id> <attemptsStarted>` after it reported progress 30 and
// logged a line; it never finishes a job (it waits to be killed). Its lock
// is short (lockDuration 1000 ms) so that a killed worker's job is found
// stalled within a few seconds.
import { Worker } from "bullmq";

const [port, queue] = process.argv.slice(2);
const connection = { host: "127.0.0.1", port: Number(port) };
const worker = new Worker(
  queue,
  async (job) => {
    await job.updateProgress(30);
    await job.log(`attempt ${job.attemptsStarted}: working in ${process.pid}`);
    process.stdout.write(`started ${job.id} ${job.attemptsStarted}\n`);
    await new Promise(() => {}); // until killed
  },
  { connection, concurrency: 1, lockDuration: 1000, stalledInterval: 1000 },
);
worker.on("error", (e) => console.error("bullmq_worker:", e?.message ?? e));
await worker.waitUntilReady();
process.stdout.write("ready\n");
// The parent kills it; if the parent dies first, don't outlive it for long.
setTimeout(() => process.exit(2), 120_000).unref();
