#!/usr/bin/env python3
"""canned_service.py - misbehaving HTTPS services on loopback, for the
enrolment client's tests (run_service_tests.sh starts and stops it).

  canned_service.py --cert PEM --port P --expired-cert PEM --expired-port E
                    --tarpit-port T --log FILE

P      HTTPS (certificate + key in PEM), canned answers chosen by the first
       path segment: the client appends /1.0/sign to a base URL
       https://127.0.0.1:P/<case>, see CASES below (late-refusal: a rekey
       refused with 401 after 3 s, a sign never answered).
E      the same answers behind an expired certificate.
T      plain TCP that accepts and never says anything (a TLS handshake
       there waits forever).
FILE   one line per request: "<port> <method> <path>".
Prints READY when all three listen. Loopback only; stops on SIGTERM.
"""
import argparse
import http.server
import json
import signal
import socket
import ssl
import sys
import threading
import time

ARGS = None
LATE_SECONDS = 3
LOG_LOCK = threading.Lock()
HELD = []  # tarpit connections, kept open


def log(line):
    with LOG_LOCK, open(ARGS.log, "a") as f:
        f.write(line + "\n")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        # The handshake runs here, in the connection's own thread, so one
        # slow client never holds up the others.
        try:
            self.request.do_handshake()
        except (ssl.SSLError, OSError):
            self.request.close()
            raise
        super().setup()

    def log_message(self, *args):
        pass

    def send(self, status, body, ctype="application/json", extra=()):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        log("%d POST %s" % (self.server.server_address[1], self.path))
        case = self.path.split("/")[1] if self.path.count("/") > 1 else ""
        try:
            CASES.get(case, Handler.unknown)(self, body)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            self.close_connection = True

    def unknown(self, body):
        self.send(404, json.dumps({"status": 404, "message": "no such case"}))

    def big_length(self, body):
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(300 * 1024))
        self.end_headers()
        self.wfile.write(b" " * (300 * 1024))

    def big_chunked(self, body):
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = b" " * 16384
        for _ in range(20):  # 320 KiB, no length announced
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")

    def slow_headers(self, body):
        time.sleep(30)
        self.send(201, "{}")

    def slow_body(self, body):
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "1000")
        self.end_headers()
        for _ in range(1000):
            self.wfile.write(b" ")
            self.wfile.flush()
            time.sleep(0.1)

    def late_refusal(self, body):
        # A renewal refused late (401 after LATE_SECONDS), and a sign that is
        # never answered: the client's fallback from rekey to sign, with
        # most of its time spent already.
        if self.path.endswith("/1.0/rekey") or self.path.endswith("/1.0/renew"):
            time.sleep(LATE_SECONDS)
            self.send(401, json.dumps({"status": 401, "message": "The request lacked necessary authorization to be completed."}))
        else:
            time.sleep(60)
            self.close_connection = True

    def redirect(self, body):
        where = "https://127.0.0.1:%d/redirect-target/1.0/sign" % self.server.server_address[1]
        self.send(302, "", "text/plain", [("Location", where)])

    def echo_token(self, body):
        ott = json.loads(body or b"{}").get("ott", "")
        self.send(403, json.dumps({"status": 403, "message": "token %s is not for this CA." % ott}))

    def close(self, body):
        self.close_connection = True  # no response at all

    def not_http(self, body):
        self.wfile.write(b"HELLO THERE\r\n\r\n")
        self.close_connection = True


def canned(status, text, ctype="application/json"):
    return lambda self, body: self.send(status, text, ctype)


CASES = {
    "big-length": Handler.big_length,
    "big-chunked": Handler.big_chunked,
    "slow-headers": Handler.slow_headers,
    "slow-body": Handler.slow_body,
    "late-refusal": Handler.late_refusal,
    "redirect": Handler.redirect,
    "target": canned(201, "{}"),
    "echo-token": Handler.echo_token,
    "close": Handler.close,
    "not-http": Handler.not_http,
    "not-json": canned(201, "hello"),
    "truncated": canned(201, '{"crt": "-----BEGIN CERTIFICATE-----\\nMIIB'),
    "no-chain": canned(201, '{"crt": "-----BEGIN CERTIFICATE-----\\n"}'),
    "bad-pem": canned(201, '{"crt": "x", "certChain": ["-----BEGIN CERTIFICATE-----\\n!!\\n'
                           '-----END CERTIFICATE-----\\n"]}'),
    "html-500": canned(500, "<html><body><h1>Internal Server Error</h1></body></html>", "text/html"),
    "empty-405": canned(405, ""),
}


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False


def https_server(port, pem):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pem)
    srv = Server(("127.0.0.1", port), Handler)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def tarpit(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", port))
    s.listen(16)

    def run():
        while True:
            c, _ = s.accept()
            HELD.append(c)
            log("%d ACCEPT" % port)

    threading.Thread(target=run, daemon=True).start()


def main():
    global ARGS
    p = argparse.ArgumentParser()
    for a in ("--cert", "--expired-cert", "--log"):
        p.add_argument(a, required=True)
    for a in ("--port", "--expired-port", "--tarpit-port"):
        p.add_argument(a, required=True, type=int)
    ARGS = p.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        https_server(ARGS.port, ARGS.cert)
        https_server(ARGS.expired_port, ARGS.expired_cert)
        tarpit(ARGS.tarpit_port)
    except OSError as e:
        print("BUSY %s" % e, flush=True)
        sys.exit(3)
    print("READY", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
