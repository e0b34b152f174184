// Helpers of the dashboard's browser test: the demo server (started and
// stopped here, on 127.0.0.1), a static server for dist/ that proxies the API
// to the demo (used only while the demo does not serve the dashboard itself),
// publishing events, and deadlines for every wait.
import { spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import path from "node:path";

/** Every process started here, so that none outlives the test. */
const children = new Set();
process.on("exit", () => { for (const c of children) { try { c.kill("SIGKILL"); } catch { /* gone */ } } });

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Rejects when `promise` takes longer than `ms`. */
export function deadline(promise, ms, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms); }),
  ]);
}

/** Polls `fn` until it returns a truthy value, at most `ms`. */
export async function until(fn, ms, what, every = 100) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    try { last = await fn(); if (last) return last; } catch (e) { last = e; }
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms: ${what}${last instanceof Error ? ` (${last.message})` : ""}`);
    await sleep(every);
  }
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

/** GET with a deadline; resolves {status, headers, body} or rejects. */
export function get(url, ms = 3000, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d) => { body += d; });
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.setTimeout(ms, () => req.destroy(new Error(`GET ${url}: no answer in ${ms} ms`)));
    req.on("error", reject);
  });
}

/** POST a body with a deadline. */
export function post(url, contentType, body, ms = 10_000) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method: "POST",
      headers: { "content-type": contentType, "content-length": Buffer.byteLength(body) } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => { text += d; });
      res.on("end", () => resolve({ status: res.statusCode, body: text }));
    });
    req.setTimeout(ms, () => req.destroy(new Error(`POST ${url}: no answer in ${ms} ms`)));
    req.on("error", reject);
    req.end(body);
  });
}

/** Publishes events as one NDJSON batch; throws unless every line was accepted. */
export async function publish(base, events, { allowIgnored = false } = {}) {
  const res = await post(`${base}/api/v1/events`, "application/x-ndjson", events.map((e) => JSON.stringify(e)).join("\n") + "\n");
  if (res.status !== 200) throw new Error(`publish: HTTP ${res.status}: ${res.body}`);
  const r = JSON.parse(res.body);
  if (r.rejected || (!allowIgnored && r.accepted !== events.length)) throw new Error(`publish: ${res.body.slice(0, 500)}`);
  return r;
}

/**
 * The demo server on 127.0.0.1:port with history in memory. `stop()` ends it
 * (SIGTERM, then SIGKILL after 5 s); `start()` again reuses the port.
 */
export function demo(bin, port, extra = []) {
  let proc = null;
  let log = "";
  const args = [`--gateway.port=${port}`, "--gateway.host=127.0.0.1", "--storage.mode=memory", ...extra];
  const self = {
    port,
    url: `http://127.0.0.1:${port}`,
    log: () => log,
    async start() {
      proc = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"], cwd: path.dirname(bin) });
      children.add(proc);
      const p = proc;
      p.stdout.on("data", (d) => { log += d; });
      p.stderr.on("data", (d) => { log += d; });
      p.on("exit", () => children.delete(p));
      await until(async () => {
        if (p.exitCode !== null) throw new Error(`demo exited with ${p.exitCode}: ${log.slice(-2000)}`);
        // Any answer will do: with auth on, /healthz wants a token too (401).
        const { status } = await get(`${self.url}/healthz`, 1000);
        return status === 200 || status === 401;
      }, 15_000, "the demo answers /healthz");
    },
    async stop() {
      const p = proc;
      proc = null;
      if (!p || p.exitCode !== null) return;
      const exited = new Promise((r) => p.once("exit", r));
      p.kill("SIGTERM");
      try { await deadline(exited, 5000, "the demo stops on SIGTERM"); }
      catch { p.kill("SIGKILL"); await deadline(exited, 5000, "the demo stops on SIGKILL"); }
    },
  };
  return self;
}

const TYPES = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon", ".json": "application/json", ".woff2": "font/woff2",
};

/**
 * Serves dist/ as the gateway will (GET / is index.html, GET /assets/<name>
 * a file of dist/assets) and forwards everything else, WebSocket upgrades
 * included, to the demo on upstreamPort (refuseWs: refuses WebSocket upgrades, as some proxies do).
 */
export function staticProxy(dist, upstreamPort, { refuseWs = false } = {}) {
  const sockets = new Set();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, "http://x");
    let file = null;
    if (req.method === "GET" && url.pathname === "/") file = path.join(dist, "index.html");
    else if (req.method === "GET" && /^\/assets\/[A-Za-z0-9._-]+$/.test(url.pathname)) file = path.join(dist, url.pathname);
    if (file) {
      fs.readFile(file, (err, data) => {
        if (err) { res.writeHead(404, { "content-type": "text/plain" }).end("not found"); return; }
        res.writeHead(200, { "content-type": TYPES[path.extname(file)] ?? "application/octet-stream", "cache-control": "no-cache" }).end(data);
      });
      return;
    }
    const up = http.request({ host: "127.0.0.1", port: upstreamPort, method: req.method, path: req.url, headers: req.headers }, (ur) => {
      res.writeHead(ur.statusCode, ur.headers);
      ur.pipe(res);
    });
    up.on("error", () => res.destroy());
    res.on("close", () => up.destroy());
    req.pipe(up);
  });
  server.on("connection", (s) => { sockets.add(s); s.on("close", () => sockets.delete(s)); });
  server.on("upgrade", (req, socket, head) => {
    if (refuseWs) { socket.end("HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n"); return; }
    const up = net.connect(upstreamPort, "127.0.0.1", () => {
      let raw = `${req.method} ${req.url} HTTP/1.1\r\n`;
      for (let i = 0; i < req.rawHeaders.length; i += 2) raw += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
      up.write(raw + "\r\n");
      up.write(head);
      up.pipe(socket);
      socket.pipe(up);
    });
    sockets.add(up);
    up.on("close", () => { sockets.delete(up); socket.destroy(); });
    up.on("error", () => socket.destroy());
    socket.on("error", () => up.destroy());
    socket.on("close", () => up.destroy());
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({
    port: server.address().port,
    url: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  })));
}
