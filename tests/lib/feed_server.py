#!/usr/bin/env python3
"""feed_server.py — a real HTTP server for the feed tests, on 127.0.0.1 only.

    feed_server.py PORT DOCROOT [CERT:KEY]

With CERT:KEY (PEM files) it speaks HTTPS: the listening socket is wrapped with python's ssl
module, presenting that certificate (the chain in CERT, leaf first). Without, plain HTTP.

Serves DOCROOT/NAME at /NAME with an ETag (content hash) and Last-Modified (file mtime), and
answers If-None-Match / If-Modified-Since with 304. How it misbehaves is set per run by the
file DOCROOT/.mode (read on every request), one word:

    normal     as above
    gzip       Content-Encoding: gzip when the client accepts it
    slow       waits 30 s before answering (the client's timeout must hit first)
    truncated  Content-Length 100 bytes larger than the body, then closes
    big        a body of 1 MiB of valid lines (over the client's max_size)
    redirect   302 to file:///etc/hosts (must be refused)
    error      500
    html       200 with an HTML error page (nothing in it parses)

Every request is appended to DOCROOT/.log as "METHOD PATH STATUS If-None-Match".
"""
import email.utils
import gzip
import hashlib
import http.server
import os
import ssl
import sys
import time


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet: the test reads .log
        pass

    def note(self, status):
        with open(os.path.join(self.server.docroot, ".log"), "a") as f:
            f.write("%s %s %d %s\n" % (self.command, self.path, status,
                                       self.headers.get("If-None-Match", "-")))

    def send(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        if not any(k.lower() == "content-length" for k, _ in headers):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.note(status)
        if body:
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up (size cap): expected

    def do_GET(self):
        root = self.server.docroot
        try:
            with open(os.path.join(root, ".mode")) as f:
                mode = f.read().strip() or "normal"
        except OSError:
            mode = "normal"
        name = os.path.basename(self.path.split("?")[0])
        path = os.path.join(root, name)
        if mode == "slow":
            time.sleep(30)
        if mode == "redirect":
            return self.send(302, b"", [("Location", "file:///etc/hosts")])
        if mode == "error":
            return self.send(500, b"oops\n")
        if mode == "html":
            return self.send(200, b"<html>\n<body>\n<h1>Service unavailable</h1>\n</body>\n</html>\n",
                             [("Content-Type", "text/html")])
        if mode == "big":
            line = b"big-%07d.example\n"
            body = b"".join(line % i for i in range((1 << 20) // 20))
            return self.send(200, body)
        if not name or not os.path.isfile(path):
            return self.send(404, b"not found\n")
        with open(path, "rb") as f:
            body = f.read()
        etag = '"%s"' % hashlib.sha256(body).hexdigest()[:16]
        mtime = int(os.stat(path).st_mtime)
        lastmod = email.utils.formatdate(mtime, usegmt=True)
        inm = self.headers.get("If-None-Match")
        ims = self.headers.get("If-Modified-Since")
        if inm == etag or (inm is None and ims and
                           email.utils.parsedate_to_datetime(ims).timestamp() >= mtime):
            return self.send(304, b"", [("ETag", etag), ("Last-Modified", lastmod),
                                        ("Content-Length", "0")])
        headers = [("ETag", etag), ("Last-Modified", lastmod), ("Content-Type", "text/plain")]
        if mode == "gzip" and "gzip" in self.headers.get("Accept-Encoding", ""):
            body = gzip.compress(body)
            headers.append(("Content-Encoding", "gzip"))
        if mode == "truncated":
            headers.append(("Content-Length", str(len(body) + 100)))
            self.send_response(200)
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
            self.note(200)
            self.close_connection = True
            return
        return self.send(200, body, headers)


class Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # a client refusing the certificate (what the TLS tests expect) is not worth a traceback
        if isinstance(sys.exc_info()[1], ssl.SSLError):
            return
        super().handle_error(request, client_address)


def main():
    port, root = int(sys.argv[1]), sys.argv[2]
    srv = Server(("127.0.0.1", port), Handler)
    srv.daemon_threads = True
    srv.docroot = root
    if len(sys.argv) > 3:
        cert, key = sys.argv[3].split(":", 1)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        # the handshake happens on the first read in the handler's thread, so a client that
        # rejects the certificate does not stall the accept loop
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True, do_handshake_on_connect=False)
    srv.serve_forever()


if __name__ == "__main__":
    main()
