// Baseline for the jobwatch load harness: the fan-out server a user would write
// by hand with Socket.IO v4. Not part of jobwatch; see bench/load/run.sh.
//
//   node socketio_server.mjs [--port N]      (default 0: an ephemeral port)
//
// Binds 127.0.0.1 and prints `listening <port>` as its first line of stdout.
//
// HTTP:      POST /api/v1/events with one JSON event (application/json) or an
//            NDJSON batch (application/x-ndjson, one event per line)
//            -> 200 {"accepted":N}
// Socket.IO: default settings, WebSocket transport only (what the load client
//            speaks: /socket.io/?EIO=4&transport=websocket).
//            emit("subscribe", room[, ack]) -> joins the room, then
//            ack({room, seq}) or emit("subscribed", {room, seq});
//            room is a string or, as jobwatch's /socket.io/ takes it, {room}
//            (the load client sends {room}); "unsubscribe" likewise.
//            every ingested event of queue <q> -> io.to("queue:<q>").emit("event", {room, seq, event}).
//
// Nothing is printed per message.

import http from "node:http";
import { Server } from "socket.io";

function parsePort(argv) {
  const i = argv.indexOf("--port");
  if (i === -1) return 0;
  const port = Number(argv[i + 1]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error("usage: node socketio_server.mjs [--port N]");
    process.exit(2);
  }
  return port;
}

const MAX_BODY = 64 * 1024 * 1024;

let seq = 0;

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

// Socket.IO answers its own /socket.io/ requests before this handler runs.
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
    for (const ev of events) {
      seq += 1;
      const room = "queue:" + ev.queue;
      io.to(room).emit("event", { room, seq, event: ev });
    }
    reply(res, 200, { accepted: events.length });
  });
});

const io = new Server(server, { transports: ["websocket"] });

// "R" or {room: "R"}: the room's name, or undefined.
function roomOf(arg) {
  if (typeof arg === "string") return arg;
  if (arg !== null && typeof arg === "object" && typeof arg.room === "string") return arg.room;
  return undefined;
}

io.on("connection", (socket) => {
  socket.on("subscribe", (arg, ack) => {
    const room = roomOf(arg);
    if (room === undefined) return;
    socket.join(room);
    const reply = { room, seq };
    if (typeof ack === "function") ack(reply);
    else socket.emit("subscribed", reply);
  });
  socket.on("unsubscribe", (arg) => {
    const room = roomOf(arg);
    if (room !== undefined) socket.leave(room);
  });
});

function shutdown() {
  io.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);

server.listen(parsePort(process.argv.slice(2)), "127.0.0.1", () => {
  console.log(`listening ${server.address().port}`);
});
