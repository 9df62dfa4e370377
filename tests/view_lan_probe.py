"""Run inside a network namespace where `copilot run --view 10.213.0.1:PORT --allow 10.213.0.0/24` serves the
stage view: what a phone on the LAN sees with and without the token, what a sender off the allow-list
(10.214.0.1) sees, and what mDNS says. Prints one JSON line.

    python -m copilot.tests.view_lan_probe PORT TOKEN
"""

from __future__ import annotations

import http.client
import json
import sys
import time
from typing import Any

HOST = "10.213.0.1"
STRANGER = "10.214.0.1"


def ask(port: int, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
        source: str | None = None) -> dict[str, Any]:
    conn = http.client.HTTPConnection(HOST, port, timeout=5, source_address=(source, 0) if source else None)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return {"status": r.status, "body": r.read().decode("utf-8", "replace")[:20000]}
    except OSError as exc:
        return {"status": None, "body": repr(exc)}
    finally:
        conn.close()


def discover(timeout: float = 6.0) -> dict[str, Any] | None:
    from zeroconf import IPVersion, ServiceBrowser, Zeroconf

    zc = Zeroconf(interfaces=[HOST], ip_version=IPVersion.V4Only)
    found: list[str] = []
    ServiceBrowser(zc, "_copilot._tcp.local.", handlers=[lambda zeroconf, service_type, name, state_change:
                                                         found.append(name)])
    try:
        deadline = time.monotonic() + timeout
        while not found and time.monotonic() < deadline:
            time.sleep(0.05)
        if not found:
            return None
        info = zc.get_service_info("_copilot._tcp.local.", found[0], timeout=3000)
        if info is None:
            return {"name": found[0]}
        return {"name": found[0], "addresses": info.parsed_addresses(), "port": info.port,
                "txt": info.decoded_properties}
    finally:
        zc.close()


def main() -> None:
    port, token = int(sys.argv[1]), sys.argv[2]
    bearer = {"X-Copilot-Token": token}
    out = {
        "page_without_token": ask(port, "GET", "/"),
        "state_without_token": ask(port, "GET", "/state"),
        "events_without_token": ask(port, "GET", "/events"),
        "panic_without_token": ask(port, "POST", "/panic"),
        "wrong_token": ask(port, "GET", f"/state?token={token[:-1]}{'y' if token.endswith('x') else 'x'}"),
        "state_with_token": ask(port, "GET", f"/state?token={token}"),
        "stranger_with_token": ask(port, "POST", "/intent", b"play B", {**bearer, "Content-Type": "text/plain"},
                                   source=STRANGER),
        "intent_with_token": ask(port, "POST", "/intent", b"play B", {**bearer, "Content-Type": "text/plain"}),
        "mdns": discover(),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
