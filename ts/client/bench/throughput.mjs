// Messages per second the client takes in Node: a local `ws` server sends N
// event messages (a realistic job.progress envelope) as fast as the socket
// takes them; the client parses and dispatches each to a typed handler.
// Usage: node bench/throughput.mjs [N]   (after build.sh)
import { WebSocketServer, WebSocket } from "ws";
import { connect } from "../dist/index.js";

const n = Number(process.argv[2] ?? 200_000);
const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
await new Promise((r) => wss.on("listening", r));
const port = wss.address().port;
wss.on("connection", (ws) => {
  ws.once("message", () => { // the client's subscribe
    ws.send(JSON.stringify({ type: "subscribed", room: "queue:bench", seq: 0 }));
    let i = 0;
    const pump = () => {
      while (i < n && ws.bufferedAmount < 1 << 20) {
        i++;
        ws.send(`{"type":"event","room":"queue:bench","seq":${i},"event":{"type":"job.progress","job_id":"job-${i % 500}","queue":"bench","time":"2026-01-01T00:00:00.000Z","percent":${i % 100}}}`);
      }
      if (i < n) setImmediate(pump);
    };
    pump();
  });
});
const c = connect({ url: `http://127.0.0.1:${port}`, rooms: ["queue:bench"], transports: ["ws"], WebSocket });
let got = 0, start = 0;
const done = new Promise((resolve) => c.on("job.progress", () => { if (got++ === 0) start = performance.now(); if (got === n) resolve(); }));
await done;
const secs = (performance.now() - start) / 1000;
console.log(JSON.stringify({ messages: n, seconds: +secs.toFixed(3), per_second: Math.round(n / secs) }));
c.close();
wss.close();
process.exit(0);
