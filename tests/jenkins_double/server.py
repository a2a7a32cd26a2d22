"""The HTTP side of the double: a threaded server on 127.0.0.1 routing by path prefix.

Several controllers can share one server under different prefixes, as behind
an ingress (https://host/<shortName>); each answers only below its prefix.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from .controller import JenkinsDouble, Request


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY on every accepted connection, as Jenkins' Jetty does (ServerConnector
    # _acceptedTcpNoDelay = true, jetty/jetty.project jetty-server ServerConnector.java). Without it the
    # headers and the body, written apart, wait out the client's delayed ACK: 40 ms per answer.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format, *args):  # keep test output clean
        pass

    def _serve(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        controller, rest = self.server.owner.route(parts.path)
        if controller is None:
            self._write(404, b"<html><body>404 Not Found</body></html>", [("Content-Type", "text/html")])
            return
        req = Request(self.command, rest, parse_qs(parts.query, keep_blank_values=True),
                      {k.lower(): v for k, v in self.headers.items()}, body)
        resp = controller.handle(req)
        if resp.delay:
            time.sleep(resp.delay)
        if resp.drop:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if resp.reset:
            self._write(resp.status, resp.body, resp.headers, partial=True)
            # SO_LINGER 0: close sends RST, the client sees a connection reset mid-response
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        self._write(resp.status, resp.body, resp.headers, trickle=resp.trickle, flood=resp.flood)

    def _write(self, status, body, headers, partial=False, trickle=0.0, flood=0):
        try:
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            if flood < 0:  # no length: the body ends when the connection closes
                self.send_header("Connection", "close")
                self.close_connection = True
            else:
                self.send_header("Content-Length", str(flood or len(body)))
            self.end_headers()
            if trickle:  # one byte at a time: never a pause long enough for a read timeout
                for i in range(len(body)):
                    self.wfile.write(body[i:i + 1])
                    self.wfile.flush()
                    time.sleep(trickle)
            elif flood:  # until the client has had enough
                chunk = b" " * 65536
                for _ in range(0, abs(flood), len(chunk)):
                    self.wfile.write(chunk)
            else:
                self.wfile.write(body[: len(body) // 2] if partial else body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (timeout): nothing to answer

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def handle_error(self, request, client_address):  # client resets are part of the tests
        pass


class DoubleServer:
    """Serve controllers on http://127.0.0.1:<random port><prefix>/ until stop()."""

    def __init__(self, controllers: dict[str, JenkinsDouble] | JenkinsDouble):
        if isinstance(controllers, JenkinsDouble):
            controllers = {"": controllers}
        self.controllers = {p.rstrip("/"): c for p, c in controllers.items()}
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        self.port = self._httpd.server_address[1]
        for prefix, controller in self.controllers.items():
            controller.attach(self.url(prefix))
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"jenkins-double-{self.port}", daemon=True)

    def url(self, prefix: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{prefix.rstrip('/')}/"

    def route(self, path: str) -> tuple[JenkinsDouble | None, str]:
        best = None
        for prefix in self.controllers:
            if (path == prefix or path.startswith(prefix + "/")) and (best is None or len(prefix) > len(best)):
                best = prefix
        if best is None:
            return None, path
        return self.controllers[best], path[len(best):] or "/"

    def start(self) -> DoubleServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def closed_port_url() -> str:
    """A URL where nothing listens: connection refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"
