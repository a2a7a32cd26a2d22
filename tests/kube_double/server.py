"""HTTP for the API-server double: discovery, resource paths, apply/delete, watch streams (chunked JSON
lines, as kube-apiserver sends them), on http://127.0.0.1:<random port>."""

from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from . import resources
from .apiserver import KUBERNETES_VERSION, KubeDouble, status_body

AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
VERBS = {"GET": "get", "PATCH": "patch", "DELETE": "delete", "POST": "create", "PUT": "update"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall
    server: _Server

    def log_message(self, format, *args):
        pass

    def _serve(self):
        double = self.server.double
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        headers = {k.lower(): v for k, v in self.headers.items()}
        with double.lock:
            double.log.append((self.command, self.path))
        path = parts.path.rstrip("/") or "/"
        if self.server.delay:
            threading.Event().wait(self.server.delay)
        if path in ("/api", "/apis", "/version") or path.startswith(("/api/", "/apis/", "/openapi/")):
            denied = self._authenticate(path, query, headers)
            if denied:
                return self._json(*denied)
        if path == "/version":
            return self._json(200, KUBERNETES_VERSION)
        if path in ("/api", "/apis"):
            return self._discovery(path, headers.get("accept", ""))
        if path.startswith("/openapi/"):
            return self._openapi(path)
        route = _route(path)
        if route is None:
            gv = path[len("/api/"):] if path.startswith("/api/") else path[len("/apis/"):]
            listing = resources.legacy_resource_list(gv, double.resources) if self.command == "GET" else None
            if listing:
                return self._json(200, listing)
            return self._json(404, status_body(404, "NotFound", "the server could not find the requested resource"))
        return self._resource(route, query, headers, body)

    def _authenticate(self, path: str, query: dict, headers: dict):
        """The authentication and authorization filters' answer, or None to go on."""
        route = _route(path)
        res = route[0] if route else None
        verb = VERBS.get(self.command, "get")
        if route and not route[2] and self.command == "GET":
            verb = "watch" if query.get("watch") in ("1", "true") else "list"
        return self.server.double.authenticate(headers, verb, res, route[1] if route else None,
                                               route[2] if route else None)

    def _openapi(self, path: str):
        double = self.server.double
        if path == "/openapi/v3":
            return self._json(200, resources.openapi_root(double.resources))
        if path.startswith("/openapi/v3/"):
            doc = resources.openapi_document(path[len("/openapi/v3/"):], double.resources)
            if doc is not None:
                return self._json(200, doc)
        return self._json(404, status_body(404, "NotFound", "the server could not find the requested resource"))

    def _resource(self, route, query: dict, headers: dict, body: bytes):
        """Reads, watches, apply and delete of one resource path."""
        double = self.server.double
        res, namespace, name = route
        dry_run = query.get("dryRun") == "All"
        if self.command == "GET" and name:
            return self._json(*double.read(res, namespace, name))
        if self.command == "GET" and query.get("watch") in ("1", "true"):
            return self._watch(double, res, namespace, query)
        if self.command == "GET":
            return self._json(*double.list(res, namespace, query.get("labelSelector", ""),
                                           query.get("fieldSelector", "")))
        if self.command == "PATCH" and name:
            if headers.get("content-type", "").split(";")[0] != "application/apply-patch+yaml":
                return self._json(415, status_body(415, "UnsupportedMediaType",
                                                   "the body of the request was in an unknown format - accepted "
                                                   "media types include: application/apply-patch+yaml"))
            return self._json(*double.apply(res, namespace, name, body, query.get("fieldManager", ""),
                                            query.get("force") == "true", dry_run))
        if self.command == "DELETE" and name:
            return self._json(*double.delete(res, namespace, name, dry_run))
        return self._json(405, status_body(405, "MethodNotAllowed", "the server does not allow this method on the "
                                                                   "requested resource"))

    def _discovery(self, path: str, accept: str):
        double = self.server.double
        if double.discovery == "aggregated" and "as=APIGroupDiscoveryList" in accept:
            body = resources.aggregated(path == "/api", double.resources)
            return self._json(200, body, AGGREGATED)
        if path == "/api":
            return self._json(200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{self.server.server_address[1]}"}]})
        return self._json(200, resources.legacy_groups(double.resources))

    def _json(self, status: int, body: dict, content_type: str = "application/json"):
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _watch(self, double: KubeDouble, res, namespace, query):
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            events = double.watch(res, namespace, query.get("labelSelector", ""), query.get("fieldSelector", ""),
                                  query.get("resourceVersion", ""), float(query.get("timeoutSeconds") or 30),
                                  query.get("sendInitialEvents") == "true")
            for event in events:
                chunk = json.dumps(event).encode() + b"\n"
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


def _route(path: str):
    """(resource, namespace, name) of a resource path, or None."""
    parts = path.strip("/").split("/")
    if parts[0] == "api" and len(parts) >= 3:
        group, version, rest = "", parts[1], parts[2:]
    elif parts[0] == "apis" and len(parts) >= 4:
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    namespace = None
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    elif rest[0] == "namespaces" and len(rest) == 2:
        res = resources.by_plural("", version, "namespaces") if not group else None
        return (res, None, rest[1]) if res else None
    res = resources.by_plural(group, version, rest[0])
    if res is None:
        return None
    return res, namespace, rest[1] if len(rest) > 1 else None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def handle_error(self, request, client_address):
        pass


def make_certificate(directory: str) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 (openssl): kubectl sends a bearer token only over TLS."""
    cert, key = os.path.join(directory, "double.crt"), os.path.join(directory, "double.key")
    if not os.path.exists(cert):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", key, "-out", cert], check=True, capture_output=True, timeout=30)
    return cert, key


class KubeServer:
    """Serve one KubeDouble on https://127.0.0.1:<port> until stop(); write_kubeconfig() points kubectl at it."""

    def __init__(self, double: KubeDouble | None = None, *, certificate: tuple[str, str], delay: float = 0.0):
        self.double = double or KubeDouble()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*certificate)
        # the handshake happens in the handler thread: a slow client never blocks accept()
        self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True, do_handshake_on_connect=False)
        self.ca_file = certificate[0]
        self._httpd.double = self.double
        self._httpd.delay = delay
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"kube-double-{self.port}", daemon=True)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self) -> KubeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.double.close()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def write_kubeconfig(path: str, contexts: dict[str, tuple[str, str]], ca_file: str) -> str:
    """A kubeconfig with one context per entry: name -> (server URL, bearer token); the double's CA trusted."""
    with open(ca_file, "rb") as fh:
        ca = base64.b64encode(fh.read()).decode()
    doc = {"apiVersion": "v1", "kind": "Config", "preferences": {}, "clusters": [], "users": [], "contexts": []}
    for name, (url, token) in contexts.items():
        doc["clusters"].append({"name": name, "cluster": {"server": url, "certificate-authority-data": ca}})
        doc["users"].append({"name": f"{name}-user", "user": {"token": token}})
        doc["contexts"].append({"name": name, "context": {"cluster": name, "user": f"{name}-user"}})
    doc["current-context"] = next(iter(contexts), "")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(doc, fh)
    return path
