// The OpenAPI document against a validator and against the server it describes.
//
// - The build's openapi.json (every operation jobwatch can serve) and the one
//   the demo serves at /api/v1/openapi.json pass @apidevtools/swagger-parser's
//   validation (OpenAPI 3.1).
// - Every operation the demo's document lists is called with valid
//   parameters (ids from earlier answers); each answer's status must be a
//   documented one and its body must fit the documented schema (ajv, JSON
//   Schema 2020-12, with formats).
// - One error answer of each kind (400, 401 with auth on, 403, 404) fits the
//   documented problem+json response.
//
// - A demo with a cluster, a BullMQ source and the Redis bridge on a
//   redis-server of its own answers their operations as documented.
//
// Usage: JOBWATCH_DEMO=<jobwatch_demo> JOBWATCH_OPENAPI_JSON=<build>/openapi.json
//        [JOBWATCH_REDIS_SERVER=<redis-server>] node --test openapi.test.mjs
// Every wait has a deadline; the demos are stopped whatever happens.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import SwaggerParser from "@apidevtools/swagger-parser";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import WebSocket from "ws";

const demoBin = process.env.JOBWATCH_DEMO;
const builtDoc = process.env.JOBWATCH_OPENAPI_JSON;
const redisServer = process.env.JOBWATCH_REDIS_SERVER || "redis-server";
if (!demoBin || !builtDoc) throw new Error("set JOBWATCH_DEMO and JOBWATCH_OPENAPI_JSON");

const children = new Set();
process.on("exit", () => { for (const c of children) { try { c.kill("SIGKILL"); } catch { /* gone */ } } });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function deadline(promise, ms, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms); }),
  ]);
}

async function until(fn, ms, what, every = 100) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try { last = await fn(); if (last) return last; } catch (e) { last = e; }
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms: ${what}${last instanceof Error ? ` (${last.message})` : ""}`);
    await sleep(every);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

/** One request with a deadline: {status, headers, body}. */
function request(base, method, target, { body, type, token, ms = 10_000 } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(target, base);
    const headers = {};
    if (body !== undefined) { headers["content-type"] = type; headers["content-length"] = Buffer.byteLength(body); }
    if (token) headers.authorization = `Bearer ${token}`;
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => { text += d; });
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: text }));
    });
    req.setTimeout(ms, () => req.destroy(new Error(`${method} ${target}: no answer in ${ms} ms`)));
    req.on("error", reject);
    req.end(body);
  });
}

/** The demo on a free 127.0.0.1 port, history in memory. */
async function startDemo(extra = [], env = {}) {
  const port = await freePort();
  const args = [`--gateway.port=${port}`, "--gateway.host=127.0.0.1", "--storage.mode=memory", ...extra];
  const proc = spawn(demoBin, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  children.add(proc);
  let log = "";
  proc.stdout.on("data", (d) => { log += d; });
  proc.stderr.on("data", (d) => { log += d; });
  proc.on("exit", () => children.delete(proc));
  const base = `http://127.0.0.1:${port}`;
  await until(async () => {
    if (proc.exitCode !== null) throw new Error(`demo exited with ${proc.exitCode}: ${log.slice(-2000)}`);
    const { status } = await request(base, "GET", "/healthz", { ms: 1000 });
    return status === 200 || status === 401;
  }, 15_000, "the demo answers /healthz");
  return {
    base,
    log: () => log,
    async stop() {
      if (proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.once("exit", r));
      proc.kill("SIGTERM");
      try { await deadline(exited, 5000, "the demo stops on SIGTERM"); }
      catch { proc.kill("SIGKILL"); await deadline(exited, 5000, "the demo stops on SIGKILL"); }
    },
  };
}

// A JSON Pointer as a URI fragment: each segment escaped (RFC 6901), then percent-encoded ("{id}").
const segment = (s) => encodeURIComponent(String(s).replaceAll("~", "~0").replaceAll("/", "~1"));
const pointer = (...parts) => "#/" + parts.map(segment).join("/");

/** Checks answers against a document: the status is documented, and the body fits its schema. */
class Checker {
  constructor(doc) {
    this.doc = doc;
    // strict: false: OpenAPI's own keywords (and x-cpp-type) sit beside the schemas.
    this.ajv = new Ajv2020({ strict: false, allErrors: true });
    addFormats(this.ajv);
    this.ajv.addSchema(doc, "openapi.json");
    this.validators = new Map();
  }

  operation(method, p) {
    const op = this.doc.paths[p]?.[method];
    assert.ok(op, `${method.toUpperCase()} ${p} is not in the document`);
    return op;
  }

  resolve(ref) {
    return ref.slice(2).split("/").map((s) => s.replaceAll("~1", "/").replaceAll("~0", "~")).reduce((o, k) => o[k], this.doc);
  }

  /** Asserts that `answer` to `method p` is documented and fits; returns the parsed body (JSON) or the text. */
  check(method, p, answer) {
    const what = `${method.toUpperCase()} ${p} answered ${answer.status}`;
    const op = this.operation(method, p);
    const code = String(answer.status);
    assert.ok(op.responses[code], `${what}, not a documented status (${Object.keys(op.responses).join(", ")}): ${answer.body.slice(0, 300)}`);
    // A shared response (the problem answers) or the operation's own.
    const own = op.responses[code];
    const at = own.$ref ? own.$ref : pointer("paths", p, method, "responses", code);
    const resp = own.$ref ? this.resolve(own.$ref) : own;
    if (!resp.content) return answer.body;
    const got = String(answer.headers["content-type"] ?? "");
    // By media type; parameters (charset, version) are not compared.
    const base = (t) => t.split(";")[0].trim().toLowerCase();
    const type = Object.keys(resp.content).find((t) => base(t) === base(got));
    assert.ok(type, `${what} with Content-Type ${got}; documented: ${Object.keys(resp.content).join(", ")}`);
    if (!type.includes("json")) return answer.body;
    const body = JSON.parse(answer.body);
    const ref = `openapi.json${at}/content/${segment(type)}/schema`;
    let validate = this.validators.get(ref);
    if (!validate) { validate = this.ajv.compile({ $ref: ref }); this.validators.set(ref, validate); }
    assert.ok(validate(body), `${what}: the body does not fit ${ref}:\n${JSON.stringify(validate.errors, null, 1).slice(0, 2000)}\nbody: ${answer.body.slice(0, 1000)}`);
    return body;
  }
}

const jobEvent = (type, job, extra = {}) => ({ type, job_id: job, queue: "openapi-q", run_id: "openapi-run", ...extra });

describe("the OpenAPI document", { timeout: 120_000 }, () => {
  let demo = null;
  let authDemo = null;
  let redisDemo = null;
  let redis = null;
  let served, checker;

  before(async () => {
    demo = await startDemo();
  });
  after(async () => {
    await demo?.stop();
    await authDemo?.stop();
    await redisDemo?.stop();
    if (redis && redis.exitCode === null) {
      const exited = new Promise((r) => redis.once("exit", r));
      redis.kill("SIGTERM");
      await deadline(exited, 5000, "redis-server stops").catch(() => redis.kill("SIGKILL"));
    }
  });

  test("the build's document is valid OpenAPI 3.1", async () => {
    const doc = JSON.parse(fs.readFileSync(builtDoc, "utf8"));
    assert.equal(doc.openapi, "3.1.0");
    const api = await deadline(SwaggerParser.validate(structuredClone(doc)), 30_000, "swagger-parser");
    assert.ok(Object.keys(api.paths).length >= 20);
  });

  test("the served document is valid, and lists the demo's operations", async () => {
    const res = await request(demo.base, "GET", "/api/v1/openapi.json");
    assert.equal(res.status, 200);
    served = JSON.parse(res.body);
    await deadline(SwaggerParser.validate(structuredClone(served)), 30_000, "swagger-parser");
    checker = new Checker(served);
    // The checker refuses what does not fit: a job whose id is a number, an undocumented status.
    const wrong = { status: 200, headers: { "content-type": "application/json" }, body: '{"items":[{"job_id":1}],"total":1,"limit":5,"offset":0}' };
    assert.throws(() => checker.check("get", "/api/v1/jobs", wrong), /does not fit/);
    assert.throws(() => checker.check("get", "/api/v1/jobs", { ...wrong, status: 418 }), /not a documented status/);
    assert.throws(() => checker.check("get", "/api/v1/jobs", { ...wrong, headers: { "content-type": "text/html" } }), /Content-Type/);
    checker.check("get", "/api/v1/openapi.json", res);
    // The demo runs no BullMQ source, Redis bridge or cluster here: not listed.
    assert.equal(served.paths["/api/v1/monitor/bullmq"], undefined);
    assert.ok(served.paths["/api/v1/jobs/{id}"]);
  });

  test("every documented operation answers as documented", async () => {
    assert.ok(checker, "the served document was read");
    const base = demo.base;
    const call = async (method, p, target, opts) => checker.check(method, p, await request(base, method.toUpperCase(), target, opts));
    const jobId = `openapi-${process.pid}`;
    // One walk per operation, in an order where later ones use what earlier ones made.
    const walks = {
      "post /api/v1/events": async (m, p) => {
        const one = await call(m, p, p, { body: JSON.stringify(jobEvent("job.queued", jobId)), type: "application/json" });
        assert.equal(one.status, "accepted");
        // Started, a log line, failed for good (a dead letter), a late start (ignored), a bad line (rejected).
        const lines = [jobEvent("job.started", jobId, { attempt: 1 }), jobEvent("job.log", jobId, { level: "info", message: "hello" }),
          jobEvent("job.failed", jobId, { error: "boom", attempt: 1, will_retry: false }), jobEvent("job.started", jobId, { attempt: 1 }),
          { type: "job.bogus" }];
        const batch = await call(m, p, p, { body: lines.map((l) => JSON.stringify(l)).join("\n") + "\n", type: "application/x-ndjson" });
        assert.ok(batch.accepted === 3 && batch.ignored === 1 && batch.rejected === 1, JSON.stringify(batch));
      },
      "get /api/v1/jobs": async (m, p) => {
        const page = await call(m, p, `${p}?limit=20&queue=openapi-q`);
        assert.ok(page.items.some((j) => j.job_id === jobId));
        const all = await call(m, p, `${p}?limit=100&status=running`);
        assert.ok(all.total > 0, "the workload runs jobs");
      },
      "get /api/v1/jobs/{id}": async (m, p) => { assert.equal((await call(m, p, `/api/v1/jobs/${jobId}`)).job_id, jobId); },
      "get /api/v1/jobs/{id}/logs": async (m, p) => {
        assert.equal((await call(m, p, `/api/v1/jobs/${jobId}/logs?limit=10`)).items[0]?.message, "hello");
      },
      "get /api/v1/jobs/{id}/events": async (m, p) => {
        assert.ok((await call(m, p, `/api/v1/jobs/${jobId}/events`)).items.length >= 3);
      },
      "get /api/v1/runs/{id}/summary": async (m, p) => {
        // The aggregator publishes a run's summary on its tick.
        await until(async () => (await request(base, "GET", "/api/v1/runs/openapi-run/summary")).status === 200, 10_000, "the run's summary");
        await call(m, p, "/api/v1/runs/openapi-run/summary");
      },
      "get /api/v1/queues": async (m, p) => { assert.ok((await call(m, p, p)).items.length > 0); },
      "get /api/v1/health/queues": async (m, p) => { await call(m, p, p); },
      "get /api/v1/jobs/failed/stats": async (m, p) => { await call(m, p, p); },
      "get /api/v1/jobs/failed/recent": async (m, p) => {
        await until(async () => JSON.parse((await request(base, "GET", p)).body).items.length > 0, 10_000, "a dead letter");
        await call(m, p, `${p}?limit=5`);
      },
      "get /api/v1/health": async (m, p) => { await call(m, p, p); },
      "get /api/v1/monitor/connections": async (m, p) => { await call(m, p, p); },
      "get /api/v1/monitor/config": async (m, p) => { assert.ok((await call(m, p, p)).tunable.length > 0); },
      "post /api/v1/monitor/config": async (m, p) => {
        await call(m, p, p, { body: JSON.stringify({ dlq: { threshold: 10 } }), type: "application/json" });
      },
      "get /api/v1/poll": async (m, p) => {
        const first = await call(m, p, `${p}?room=alerts&room=queue:openapi-q`);
        await call(m, p, `${p}?room=queue:openapi-q&since=${first.seq}&timeout_ms=200`);
      },
      "get /api/v1/stream": async (m, p) => {
        // An endless stream: its status, its type, and its first record, then closed.
        let req;
        const res = await deadline(new Promise((resolve, reject) => {
          req = http.get(`${base}${p}?room=queue:openapi-q`, (r) => {
            r.setEncoding("utf8");
            let text = "";
            r.on("data", (d) => {
              text += d;
              if (text.includes("\n\n") && text.includes("data:")) { req.destroy(); resolve({ status: r.statusCode, headers: r.headers, body: text }); }
            });
          });
          req.on("error", reject);
        }), 10_000, "the SSE stream's first record").finally(() => req.destroy());
        checker.check(m, p, res);
        const data = res.body.split("\n").find((l) => l.startsWith("data:"));
        assert.equal(JSON.parse(data.slice(5)).type, "subscribed");
      },
      "get /ws": async (m, p) => {
        const status = await deadline(new Promise((resolve, reject) => {
          const ws = new WebSocket(`${base.replace("http", "ws")}${p}`);
          ws.on("upgrade", (r) => { resolve(r.statusCode); ws.terminate(); });
          ws.on("unexpected-response", (_, r) => reject(new Error(`HTTP ${r.statusCode}`)));
          ws.on("error", reject);
        }), 10_000, "the WebSocket upgrade");
        assert.ok(checker.operation(m, p).responses[String(status)], `101 documented, got ${status}`);
        // Without an upgrade it is the documented 426 problem.
        checker.check(m, p, await request(base, "GET", p));
      },
      "get /healthz": async (m, p) => { await call(m, p, p); },
      "get /readyz": async (m, p) => { await call(m, p, p); },
      "get /api/v1/openapi.json": async (m, p) => { await call(m, p, p); },
      // Served once the metrics component is merged (it is documented already).
      "get /metrics": async (m, p) => { assert.match(await call(m, p, p), /^# (HELP|TYPE) /m); },
    };
    const listed = Object.entries(served.paths).flatMap(([p, item]) => Object.keys(item).map((m) => `${m} ${p}`));
    const missing = listed.filter((k) => !walks[k]);
    assert.deepEqual(missing, [], "documented operations without a walk here: add one");
    let walked = 0;
    for (const [key, walk] of Object.entries(walks)) {
      if (!listed.includes(key)) continue;
      const [m, p] = key.split(" ");
      await deadline(walk(m, p), 20_000, key);
      ++walked;
    }
    assert.equal(walked, listed.length);
    assert.ok(walked >= 20, `${walked} operations walked`);
  });

  test("error answers are the documented problem documents", async () => {
    const base = demo.base;
    const bad = checker.check("get", "/api/v1/jobs", await request(base, "GET", "/api/v1/jobs?limit=0"));
    assert.equal(bad.status, 400);
    const unknown = checker.check("get", "/api/v1/jobs/{id}", await request(base, "GET", "/api/v1/jobs/no-such-job-openapi"));
    assert.equal(unknown.status, 404);
    const badEvent = checker.check("post", "/api/v1/events",
      await request(base, "POST", "/api/v1/events", { body: JSON.stringify({ type: "job.queued", job_id: "x" }), type: "application/json" }));
    assert.equal(badEvent.status, 400);
    assert.equal(typeof badEvent.pointer, "string");
    const type = checker.check("post", "/api/v1/events", await request(base, "POST", "/api/v1/events", { body: "x", type: "text/plain" }));
    assert.equal(type.status, 415);
  });

  test("with auth on: 401 and 403 as documented, the document still public", async () => {
    const tokens = { "oa-reader": { subject: "reader", scopes: ["read"] } };
    authDemo = await startDemo(["--auth.mode=static_tokens", `--auth.tokens=${JSON.stringify(tokens)}`], { JOBWATCH_DEMO_WORKLOAD: "off" });
    const doc = await request(authDemo.base, "GET", "/api/v1/openapi.json");
    assert.equal(doc.status, 200, "the document needs no token");
    const c = new Checker(JSON.parse(doc.body));
    const res = await request(authDemo.base, "GET", "/api/v1/jobs");
    assert.match(String(res.headers["www-authenticate"]), /^Bearer/);
    assert.equal(c.check("get", "/api/v1/jobs", res).status, 401);
    assert.equal(c.check("get", "/api/v1/jobs", await request(authDemo.base, "GET", "/api/v1/jobs", { token: "oa-reader" })).total, 0);
    const forbidden = await request(authDemo.base, "GET", "/api/v1/monitor/config", { token: "oa-reader" });
    assert.equal(c.check("get", "/api/v1/monitor/config", forbidden).status, 403);
  });

  test("with Redis and a webhook target: the operations of the cluster, BullMQ, the Redis bridge and the notifier answer as documented", async () => {
    const redisPort = await freePort();
    redis = spawn(redisServer, ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" });
    children.add(redis);
    redis.on("exit", () => children.delete(redis));
    const url = `redis://127.0.0.1:${redisPort}/0`;
    await until(() => new Promise((resolve) => {
      const s = net.connect(redisPort, "127.0.0.1");
      s.setTimeout(1000, () => { s.destroy(); resolve(false); });
      s.on("error", () => resolve(false));
      s.on("data", (d) => { resolve(String(d).startsWith("+PONG")); s.end(); });
      s.write("PING\r\n");
    }), 10_000, "redis-server answers PING");
    redisDemo = await startDemo([`--cluster.mode=redis`, `--cluster.redis_url=${url}`, `--bullmq.redis_url=${url}`,
      "--bullmq.queues=openapi", `--redis.url=${url}`, "--redis.publish=true", "--redis.ingest_channels=openapi:in",
      `--notifier.targets={"nowhere":{"url":"http://127.0.0.1:${await freePort()}/hook"}}`],
    { JOBWATCH_DEMO_WORKLOAD: "off" });
    const base = redisDemo.base;
    const doc = JSON.parse((await request(base, "GET", "/api/v1/openapi.json")).body);
    await deadline(SwaggerParser.validate(structuredClone(doc)), 30_000, "swagger-parser");
    const c = new Checker(doc);
    const monitors = ["/api/v1/monitor/cluster", "/api/v1/monitor/bullmq", "/api/v1/monitor/redis/publisher",
      "/api/v1/monitor/redis/subscriber", "/api/v1/notifications"];
    // Everything this document has that the first demo's had not is one of these.
    const extra = Object.entries(doc.paths).flatMap(([p, item]) => Object.keys(item).map((m) => `${m} ${p}`))
      .filter((k) => { const [m, p] = k.split(" "); return !served.paths[p]?.[m]; });
    assert.deepEqual(extra.sort(), monitors.map((p) => `get ${p}`).sort());
    await until(async () => (await request(base, "GET", "/readyz")).status === 200, 15_000, "the clustered demo is ready");
    for (const p of monitors) c.check("get", p, await request(base, "GET", p));
    assert.equal(c.check("get", "/api/v1/monitor/redis/publisher", await request(base, "GET", "/api/v1/monitor/redis/publisher")).connected, true);
  });
});
