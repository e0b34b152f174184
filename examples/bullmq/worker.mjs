// A small BullMQ deployment for jobwatch to watch (scripts/demo-bullmq.sh):
// a producer that adds a job every few hundred milliseconds to the queues
// "emails" and "images", and workers (concurrency 4) that report progress
// (numbers for emails, objects for images), write job.log lines, and now and
// then fail, retry with back-off, or fail for good. jobwatch is not involved
// here: it only reads what BullMQ writes to Redis.
//
// Usage: node worker.mjs <redis port> [jobs per second]
import { Queue, UnrecoverableError, Worker } from "bullmq";

const port = Number(process.argv[2] || 6379);
const perSecond = Number(process.argv[3] || 4);
const connection = { host: "127.0.0.1", port };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const emails = new Queue("emails", { connection });
const images = new Queue("images", { connection });

const emailWorker = new Worker("emails", async (job) => {
  for (const pct of [20, 60, 100]) {
    await sleep(150 + Math.random() * 300);
    await job.updateProgress(pct);
  }
  await job.log(`sent to ${job.data.to}`);
  if (Math.random() < 0.15) throw new Error(`SMTP 451: mailbox busy for ${job.data.to}`);
  return { delivered: true };
}, { connection, concurrency: 4 });

const imageWorker = new Worker("images", async (job) => {
  const total = 4;
  for (let current = 1; current <= total; current++) {
    await sleep(200 + Math.random() * 400);
    await job.updateProgress({ step: `resize ${current}/${total}`, current, total });
    await job.log(`pass ${current} done`);
  }
  if (job.data.corrupt) throw new UnrecoverableError(`cannot decode ${job.data.file}`);
  return { thumbnails: total };
}, { connection, concurrency: 4 });

for (const w of [emailWorker, imageWorker]) w.on("error", (e) => console.error("worker:", e.message));

let n = 0;
let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await Promise.allSettled([emailWorker.close(), imageWorker.close(), emails.close(), images.close()]);
  process.exit(0);
}
process.on("SIGINT", stop);
process.on("SIGTERM", stop);

console.log(`bullmq demo: adding ${perSecond} jobs/s to emails and images on 127.0.0.1:${port}`);
while (!stopping) {
  n++;
  if (n % 2) {
    await emails.add("welcome", { to: `user-${n}@example.com`, userId: `user-${n % 7}` },
      { attempts: 3, backoff: { type: "exponential", delay: 500 }, removeOnComplete: 1000, removeOnFail: 1000 });
  } else {
    await images.add("thumbnail", { file: `photo-${n}.jpg`, corrupt: n % 23 === 0, userId: `user-${n % 7}` },
      { attempts: 2, removeOnComplete: 1000, removeOnFail: 1000, delay: n % 5 === 0 ? 2000 : 0 });
  }
  await sleep(1000 / perSecond);
}
