// Baseline for the jobwatch load harness: the fan-out server a user would write
// by hand with the `ws` package. Not part of jobwatch; see bench/load/run.sh.
//
//   node ws_server.mjs [--port N]      (default 0: an ephemeral port)
//
// Binds 127.0.0.1 and prints `listening <port>` as its first line of stdout.
//
// HTTP:      POST /api/v1/events with one JSON event (application/json) or an
//            NDJSON batch (application/x-ndjson, one event per line)
//            -> 200 {"accepted":N}
// WebSocket: any path. Client -> {"type":"subscribe","room":"queue:bench"}
//            Server -> {"type":"subscribed","room":"queue:bench","seq":<current>}
//            Server -> {"type":"event","room":"queue:<q>","seq":N,"event":{...}}
//            for every ingested event of queue <q>.
//
// Nothing is printed per message.

import http from "node:http";
import { WebSocketServer } from "ws";

function parsePort(argv) {
  const i = argv.indexOf("--port");
  if (i === -1) return 0;
  const port = Number(argv[i + 1]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error("usage: node ws_server.mjs [--port N]");
    process.exit(2);
  }
  return port;
}

const MAX_BODY = 64 * 1024 * 1024;

/** @type {Map<string, Set<import("ws").WebSocket>>} */
const rooms = new Map();
let seq = 0;

function publish(ev) {
  seq += 1;
  const room = "queue:" + ev.queue;
  const subscribers = rooms.get(room);
  if (subscribers === undefined || subscribers.size === 0) return;
  const msg = JSON.stringify({ type: "event", room, seq, event: ev });
  for (const c of subscribers) c.send(msg);
}

function parseEvents(contentType, body) {
  const events = [];
  if (contentType.startsWith("application/x-ndjson")) {
    for (const line of body.split("\n")) {
      if (line.trim() === "") continue;
      events.push(JSON.parse(line));
    }
  } else if (contentType.startsWith("application/json")) {
    events.push(JSON.parse(body));
  } else {
    throw new Error("unsupported content type");
  }
  for (const ev of events) {
    if (ev === null || typeof ev !== "object" || typeof ev.queue !== "string") {
      throw new Error("an event needs a queue");
    }
  }
  return events;
}

function reply(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(text),
  });
  res.end(text);
}

const server = http.createServer((req, res) => {
  if (req.url !== "/api/v1/events") return reply(res, 404, { error: "not found" });
  if (req.method !== "POST") return reply(res, 405, { error: "method not allowed" });
  const chunks = [];
  let size = 0;
  req.on("data", (chunk) => {
    size += chunk.length;
    if (size > MAX_BODY) {
      reply(res, 413, { error: "too large" });
      req.destroy();
      return;
    }
    chunks.push(chunk);
  });
  req.on("end", () => {
    if (res.headersSent) return;
    let events;
    try {
      events = parseEvents(req.headers["content-type"] ?? "", Buffer.concat(chunks).toString("utf8"));
    } catch (err) {
      return reply(res, 400, { error: String(err.message) });
    }
    for (const ev of events) publish(ev);
    reply(res, 200, { accepted: events.length });
  });
});

const wss = new WebSocketServer({ server });

function heartbeat() {
  this.isAlive = true;
}

wss.on("connection", (ws) => {
  ws.isAlive = true;
  ws.on("pong", heartbeat);
  ws.on("error", () => {});
  /** @type {Set<string>} */
  const joined = new Set();

  ws.on("message", (data) => {
    let msg;
    try {
      msg = JSON.parse(data.toString());
    } catch {
      ws.send(JSON.stringify({ type: "error", code: "bad_json", message: "not JSON" }));
      return;
    }
    if (msg.type === "subscribe" && typeof msg.room === "string") {
      let room = rooms.get(msg.room);
      if (room === undefined) {
        room = new Set();
        rooms.set(msg.room, room);
      }
      room.add(ws);
      joined.add(msg.room);
      ws.send(JSON.stringify({ type: "subscribed", room: msg.room, seq }));
    } else if (msg.type === "unsubscribe" && typeof msg.room === "string") {
      const room = rooms.get(msg.room);
      if (room !== undefined) {
        room.delete(ws);
        if (room.size === 0) rooms.delete(msg.room);
      }
      joined.delete(msg.room);
      ws.send(JSON.stringify({ type: "unsubscribed", room: msg.room }));
    } else {
      ws.send(JSON.stringify({ type: "error", code: "unknown_type", message: "unknown message" }));
    }
  });

  ws.on("close", () => {
    for (const name of joined) {
      const room = rooms.get(name);
      if (room === undefined) continue;
      room.delete(ws);
      if (room.size === 0) rooms.delete(name);
    }
    joined.clear();
  });
});

// Heartbeat as in the ws README: ping every 15 s, terminate the dead.
const interval = setInterval(() => {
  for (const ws of wss.clients) {
    if (ws.isAlive === false) {
      ws.terminate();
      continue;
    }
    ws.isAlive = false;
    ws.ping();
  }
}, 15000);

wss.on("close", () => clearInterval(interval));

function shutdown() {
  clearInterval(interval);
  for (const ws of wss.clients) ws.terminate();
  wss.close();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);

server.listen(parsePort(process.argv.slice(2)), "127.0.0.1", () => {
  console.log(`listening ${server.address().port}`);
});
