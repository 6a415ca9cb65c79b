#!/usr/bin/env python3
"""A minimal OTRS SOAP endpoint that KEEPS connections open (HTTP/1.1
keep-alive), for scripts/bench.sh: Znuny and the project's stand-in answer
with `Connection: close`, so they cannot show whether the module reuses
connections when OTRS allows it (Znuny with SOAP::Keep-Alive on, or a
keep-alive proxy in front of it).

Answers SessionCreate and TicketCreate with Znuny 6.5's replies (samples 01
and 03) after --delay-ms, and counts connections and requests:

    keepalive_otrs.py --listen 127.0.0.1:0 [--delay-ms 20]
    prints "listening on HOST:PORT", then serves until killed.
    GET /counts -> "connections=N requests=M"   POST /reset -> zeroes them

Standard library only.
"""

import argparse
import http.server
import socketserver
import sys
import threading
import time

HEAD = ('<?xml version="1.0" encoding="UTF-8"?><soap:Envelope '
        'soap:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/" '
        'xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soap:Body>')
TAIL = '</soap:Body></soap:Envelope>'
SESSION = (HEAD + '<SessionCreateResponse xmlns="http://www.otrs.org/TicketConnector/">'
           '<SessionID>sgZ4snBxlE2EvDquEz35suMnGXWugGF3</SessionID></SessionCreateResponse>' + TAIL).encode()
CREATED = (HEAD + '<TicketCreateResponse xmlns="http://www.otrs.org/TicketConnector/">'
           '<ArticleID>{a}</ArticleID><TicketID>{t}</TicketID><TicketNumber>20261126{t:08d}</TicketNumber>'
           '</TicketCreateResponse>' + TAIL)

lock = threading.Lock()
counts = {"connections": 0, "requests": 0}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive unless the client says close

    def setup(self):
        super().setup()
        with lock:
            counts["connections"] += 1

    def log_message(self, *args):  # quiet
        pass

    def _send(self, status, body, ctype="text/xml; charset=UTF-8"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if (self.headers.get("Connection") or "").lower() != "close":
            self.send_header("Connection", "keep-alive")
        else:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path.startswith("/counts"):
            with lock:
                text = "connections=%d requests=%d\n" % (counts["connections"], counts["requests"])
            self._send(200, text.encode(), "text/plain")
        else:
            self._send(404, b"Not Found\n", "text/plain")

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if self.path.startswith("/reset"):
            with lock:
                counts["connections"] = 1  # this connection
                counts["requests"] = 0
            self._send(200, b"reset\n", "text/plain")
            return
        with lock:
            counts["requests"] += 1
            n = counts["requests"]
        time.sleep(DELAY)
        if b"SessionCreate>" in body:
            self._send(200, SESSION)
        else:
            self._send(200, CREATED.format(a=n + 1, t=n).encode())


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    request_queue_size = 512


def main():
    global DELAY
    p = argparse.ArgumentParser()
    p.add_argument("--listen", default="127.0.0.1:0")
    p.add_argument("--delay-ms", type=float, default=20.0)
    a = p.parse_args()
    DELAY = a.delay_ms / 1000.0
    host, port = a.listen.rsplit(":", 1)
    srv = Server((host, int(port)), Handler)
    print("listening on %s:%d" % srv.server_address, flush=True)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


DELAY = 0.02

if __name__ == "__main__":
    sys.exit(main())
