// A small real TCP/HTTP proxy for the tests: it forwards to the demo, and can
// refuse the WebSocket upgrade or the SSE stream (as a proxy or firewall
// would), or drop every open connection.
import http from "node:http";
import net from "node:net";

export function startProxy(upstreamPort, { refuseWs = false, refuseSse = false } = {}) {
  const sockets = new Set();
  const seen = [];
  const state = { refuseWs, refuseSse };
  const server = http.createServer((req, res) => {
    seen.push({ url: req.url, authorization: req.headers.authorization });
    if (state.refuseSse && req.url.startsWith("/api/v1/stream")) {
      res.writeHead(503, { "content-type": "text/plain" }).end("SSE refused by proxy");
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
    seen.push({ url: req.url, authorization: req.headers.authorization });
    if (state.refuseWs) { socket.end("HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n"); return; }
    const up = net.connect(upstreamPort, "127.0.0.1", () => {
      let raw = `${req.method} ${req.url} HTTP/1.1\r\n`;
      for (let i = 0; i < req.rawHeaders.length; i += 2) raw += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
      up.write(raw + "\r\n");
      up.write(head);
      up.pipe(socket); socket.pipe(up);
    });
    sockets.add(up);
    up.on("close", () => { sockets.delete(up); socket.destroy(); });
    up.on("error", () => socket.destroy());
    socket.on("error", () => up.destroy());
    socket.on("close", () => up.destroy());
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({
    port: server.address().port, state, seen,
    dropAll() { for (const s of sockets) s.destroy(); },
    close() { return new Promise((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }); },
  })));
}
