#!/usr/bin/env python3
"""A tiny webhook receiver for trying jobwatch's notifier: listens on
127.0.0.1, prints each delivery, and checks its signature when given the
target's secret (X-Jobwatch-Signature: sha256=HMAC-SHA256(secret,
timestamp + "." + body), with X-Jobwatch-Timestamp at most --tolerance
seconds from now). Standard library only.

    python3 scripts/webhook-receiver.py --port 9000 --secret S
    # then start the demo with
    #   --notifier.targets='{"ops":{"url":"http://127.0.0.1:9000/hook","secret":"S"}}'
"""

import argparse
import hashlib
import hmac
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def verify(secret: bytes, timestamp: str, body: bytes, signature: str, tolerance: int) -> str:
    """'ok', or why the delivery must be refused."""
    if not timestamp or not signature:
        return "unsigned"
    try:
        age = abs(time.time() - int(timestamp))
    except ValueError:
        return "bad timestamp"
    if age > tolerance:
        return f"timestamp {age:.0f} s away (replay?)"
    expected = "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return "ok" if hmac.compare_digest(expected, signature) else "bad signature"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=9000)
    ap.add_argument("--secret", help="the target's secret: deliveries with a bad signature get 401")
    ap.add_argument("--tolerance", type=int, default=300, help="seconds a timestamp may be off (default 300)")
    ap.add_argument("--status", type=int, default=200, help="the status to answer with (try 500 or 429)")
    args = ap.parse_args()
    secret = args.secret.encode() if args.secret else None

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the notifier uses it

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(min(n, 1 << 20))
            check = "no secret given"
            status = args.status
            if secret is not None:
                check = verify(secret, self.headers.get("X-Jobwatch-Timestamp", ""), body,
                               self.headers.get("X-Jobwatch-Signature", ""), args.tolerance)
                if check != "ok":
                    status = 401
            stamp = time.strftime("%H:%M:%S")
            print(f"--- {stamp} {self.command} {self.path}  {self.headers.get('X-Jobwatch-Event', '')}  "
                  f"id {self.headers.get('X-Jobwatch-Notification-Id', '')}  signature: {check}  -> {status}")
            try:
                print(json.dumps(json.loads(body), indent=2, ensure_ascii=False))
            except ValueError:
                print(body.decode("utf-8", "replace"))
            sys.stdout.flush()
            reply = b"ok\n" if status < 300 else b"refused\n"
            self.send_response(status)
            if status in (429, 503):
                self.send_header("Retry-After", "5")
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        do_PUT = do_POST

        def log_message(self, *a):  # the deliveries are printed above
            pass

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"webhook receiver on http://127.0.0.1:{args.port}/ "
          f"({'checking signatures' if secret else 'not checking signatures: give --secret'}); Ctrl-C stops it")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
