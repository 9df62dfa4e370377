"""Who may use the stage view: one ASGI gate in front of every route (the page, the stream, the writes).

- The sender's address must be on the allow-list (`bridge.osc.AllowList`, the rules OSC uses; empty
  admits everyone, which only a loopback bind may have).
- On a LAN bind, every request needs the token (`?token=` — an EventSource cannot set headers — or an
  `X-Copilot-Token` / `Authorization: Bearer` header); without it, 403.
- On a loopback bind, the page and the stream are open to this machine, the write endpoints are not:
  a web page in the performer's browser must not be able to press PANIC. And the Host header must name
  this machine, so a page that re-points its own DNS name at 127.0.0.1 cannot read the view either.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

from copilot.bridge.osc import AllowList

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]
LOCAL_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
READS = frozenset({"GET", "HEAD"})


class Access:
    def __init__(self, app: App, token: str, allow: AllowList, lan: bool) -> None:
        self.app = app
        self.token = token.encode()
        self.allow = allow
        self.lan = lan
        self.refused = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        why = self.refusal(scope)
        if why is None:
            await self.app(scope, receive, send)
            return
        self.refused += 1
        body = why.encode()
        await send({"type": "http.response.start", "status": 403,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                (b"content-length", str(len(body)).encode()), (b"cache-control", b"no-store")]})
        await send({"type": "http.response.body", "body": body})

    def refusal(self, scope: Scope) -> str | None:
        """Why this request is refused, or None when it may pass."""
        client = scope.get("client") or ("", 0)
        if not self.allow.admits(str(client[0])):
            return f"{client[0]} is not on this stage view's allow-list (--allow)\n"
        headers = dict(scope.get("headers") or [])
        if not self.lan and not local_host(headers.get(b"host", b"").decode("latin-1")):
            return "this stage view answers to 127.0.0.1 or localhost only\n"
        needs_token = self.lan or scope.get("method", "GET") not in READS
        if needs_token and not self.token_ok(scope, headers):
            return "a token is needed: open the link copilot printed when it started\n"
        return None

    def token_ok(self, scope: Scope, headers: dict[bytes, bytes]) -> bool:
        given = headers.get(b"x-copilot-token", b"")
        auth = headers.get(b"authorization", b"")
        if not given and auth.lower().startswith(b"bearer "):
            given = auth[7:].strip()
        if not given:
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            given = (query.get("token") or [""])[0].encode("latin-1", "replace")
        return bool(given) and hmac.compare_digest(given, self.token)


def local_host(host: str) -> bool:
    """A Host header that names this machine (any port), or none at all (HTTP/1.0)."""
    if not host:
        return True
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 or host.startswith("[") else host
    return name.strip("[]").lower() in LOCAL_NAMES
