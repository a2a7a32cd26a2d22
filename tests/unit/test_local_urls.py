"""Plain http:// is accepted for a controller only on loopback: a *.localhost name must resolve
there (RFC 6761 asks resolvers to, but /etc/hosts or a DNS server may answer anything)."""

from __future__ import annotations

import socket

import pytest

from generator import targets

HTTP_REFUSED = ("plain http would send the API token unencrypted; use https "
                "(http is accepted for local controllers, or with --insecure)")


def answers(mapping):
    def getaddrinfo(host, port, *args, **kwargs):
        if host not in mapping:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, 0))
                for a in mapping[host]]
    return getaddrinfo


@pytest.mark.parametrize("host, addresses, refused", [
    ("ci.localhost", ["127.0.0.1"], False),
    ("ci.localhost", ["::1", "127.0.0.2"], False),
    ("evil.localhost", ["203.0.113.7"], True),  # what the issue found: resolved through DNS and used
    ("half.localhost", ["127.0.0.1", "203.0.113.7"], True),
    ("gone.localhost", None, True),
    ("localhost", ["10.0.0.1"], True),
])
def test_a_localhost_name_must_resolve_to_loopback(monkeypatch, host, addresses, refused):
    monkeypatch.setattr(targets.socket, "getaddrinfo", answers({host: addresses} if addresses else {}))
    assert targets.url_problem(f"http://{host}:8080/", insecure=False) == (HTTP_REFUSED if refused else "")
    assert targets.url_problem(f"https://{host}:8080/", insecure=False) == ""


def test_loopback_addresses_need_no_lookup(monkeypatch):
    monkeypatch.setattr(targets.socket, "getaddrinfo", lambda *a, **k: pytest.fail("looked up"))
    assert targets.url_problem("http://127.0.0.1:8080/", insecure=False) == ""
    assert targets.url_problem("http://[::1]:8080/", insecure=False) == ""
