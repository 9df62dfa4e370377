"""The stage view's own process: the page, the stream and the write endpoints (Starlette on uvicorn).

    python -m copilot.view.server LISTEN_FD LINK_FD     (started by copilot.view.plugin, never by hand)

LISTEN_FD is the TCP socket the session bound; LINK_FD one end of a socket pair to the session, which
first sends this process its settings (`config`), then telemetry lines; commands go back the same way.
When the session closes its end, this process ends.

Contract (every route behind `access.Access`):
    GET  /              the page (static files shipped in copilot/view/static, inlined: no CDN, offline)
    GET  /events        Server-Sent Events: state (20/s), lateness, meters, motion (4/s), decision, heard
    GET  /state         one JSON snapshot: the state plus the latest of everything else
    POST /intent        text/plain words ("loop 4 on deck A"), or JSON {"text": …} or an intent object
    POST /confirm       optional JSON {"id": question}      POST /cancel/{id}      POST /panic
Writes are decided by the session's scheduler (source `remote`); the answer is the decision as JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import socket
import sys
from collections import deque
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from copilot.bridge.osc import AllowList
from copilot.intents.parser import parse
from copilot.intents.schema import Source

from .access import Access
from .wire import MAX_LINE, Frames, line, to_json

log = logging.getLogger("copilot.view")
RETAINED = ("state", "lateness", "meters", "motion")  # the latest of each goes to a client when it connects
HISTORY = {"decision": 24, "heard": 8}  # recent discrete events a new client is shown
CLIENT_QUEUE = 64  # messages a slow client may lag; beyond that its state frames are skipped
MAX_BODY = 8192  # bytes of a POST body
REPLY_TIMEOUT = 10.0  # a LOAD's library lookup may take this long before the page hears "still deciding"


def sse(name: str, body: bytes) -> bytes:
    """One Server-Sent Event, formatted once for every client."""
    return b"event: " + name.encode() + b"\r\ndata: " + body + b"\r\n\r\n"


class Hub:
    """Lines from the session → every connected stream; commands from the routes → the session."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.latest: dict[str, bytes] = {}
        self.history: dict[str, deque[bytes]] = {k: deque(maxlen=n) for k, n in HISTORY.items()}
        self.clients: set[asyncio.Queue[bytes | None]] = set()
        self.replies: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.rids = itertools.count(1)
        self.writer: asyncio.StreamWriter | None = None
        self.closed = asyncio.Event()
        self.skipped = 0

    # -- from the session ------------------------------------------------------------------------------
    async def read(self, reader: asyncio.StreamReader, frames: Frames) -> None:
        try:
            while True:
                data = await reader.read(1 << 16)
                if not data:
                    break  # the session closed its end
                for name, payload in frames.feed(data):
                    self.receive(name, payload)
        except (OSError, ValueError, EOFError, TypeError):
            pass  # a broken stream from the session: the view ends with it
        finally:
            self.closed.set()

    def receive(self, name: str, payload: Any) -> None:
        if name == "reply":
            self._reply(payload)
            return
        body = to_json(payload)  # here, in the view's process: never on the session's interpreter lock
        if name in RETAINED:
            self.latest[name] = body
        elif name in self.history:
            self.history[name].append(body)
        message = sse(name, body)
        for queue in self.clients:
            if queue.full():
                self.skipped += 1  # a client that cannot keep up misses frames, never the others
                continue
            queue.put_nowait(message)

    def _reply(self, data: Any) -> None:
        try:
            future = self.replies.pop(int(data.get("rid")), None)
        except (AttributeError, ValueError, TypeError):
            return
        if future is not None and not future.done():
            future.set_result(data)

    # -- to the session ---------------------------------------------------------------------------------
    async def command(self, op: str, **fields: Any) -> dict[str, Any]:
        if self.writer is None or self.closed.is_set():
            raise ConnectionError("the session is not there")
        rid = next(self.rids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.replies[rid] = future
        self.writer.write(line("command", {"rid": rid, "op": op, **fields}))
        await self.writer.drain()
        try:
            return await asyncio.wait_for(future, REPLY_TIMEOUT)
        finally:
            self.replies.pop(rid, None)

    def _count(self) -> None:
        if self.writer is not None and not self.closed.is_set():
            self.writer.write(line("clients", {"n": len(self.clients)}))

    # -- streams ------------------------------------------------------------------------------------------
    def subscribe(self) -> asyncio.Queue[bytes | None]:
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(CLIENT_QUEUE)
        for name in ("decision", "heard"):
            for body in self.history[name]:
                queue.put_nowait(sse(name, body))
        for name in RETAINED:
            if name in self.latest:
                queue.put_nowait(sse(name, self.latest[name]))
        self.clients.add(queue)
        self._count()
        return queue

    def unsubscribe(self, queue: asyncio.Queue[bytes | None]) -> None:
        self.clients.discard(queue)
        self._count()

    def close_streams(self) -> None:
        for queue in self.clients:
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(None)

    def snapshot(self) -> dict[str, Any]:
        """GET /state: the latest state with the latest of everything else beside it."""
        out: dict[str, Any] = json.loads(self.latest.get("state", b"{}"))
        for name in ("lateness", "meters", "motion"):
            out[name] = json.loads(self.latest[name]) if name in self.latest else None
        for name in HISTORY:
            out[f"{name}s" if name == "decision" else name] = [json.loads(b) for b in self.history[name]]
        return out


def page() -> str:
    """index.html with its stylesheet and script inlined: one response, so a token in its URL covers all."""
    folder = resources.files("copilot.view") / "static"
    html = (folder / "index.html").read_text(encoding="utf-8")
    css = (folder / "view.css").read_text(encoding="utf-8")
    js = (folder / "view.js").read_text(encoding="utf-8")
    return html.replace("/*VIEW_CSS*/", css).replace("/*VIEW_JS*/", js)


def make_app(hub: Hub) -> Starlette:
    body_html = page()

    async def index(request: Request) -> Response:
        return HTMLResponse(body_html, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})

    async def events(request: Request) -> Response:
        from sse_starlette.sse import EventSourceResponse

        queue = hub.subscribe()

        async def stream() -> Any:
            try:
                while True:
                    message = await queue.get()
                    if message is None:
                        return
                    yield message
            finally:
                hub.unsubscribe(queue)

        return EventSourceResponse(stream(), ping=10, send_timeout=5.0)

    async def state(request: Request) -> Response:
        return JSONResponse(hub.snapshot(), headers={"Cache-Control": "no-store"})

    async def intent(request: Request) -> Response:
        body = await _body(request)
        if isinstance(body, Response):
            return body
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        text: str | None = None
        data: Any = None
        if kind == "application/json":
            try:
                data = json.loads(body or b"null")
            except ValueError as exc:
                return _bad(f"not JSON: {exc}")
            if not isinstance(data, dict):
                return _bad('send {"text": "loop 4 on deck A"} or an intent object')
            if "text" in data and "kind" not in data:
                text = str(data["text"])
        else:
            text = body.decode("utf-8", "replace")
        if text is not None:
            result = parse(text.strip(), Source.REMOTE)
            if result.intent is None:
                return JSONResponse({"verdict": "refused", "reason": result.reason, "text": text})
            data = result.intent.to_dict()
        return await _decide(hub.command("intent", intent=data))

    async def confirm(request: Request) -> Response:
        body = await _body(request)
        if isinstance(body, Response):
            return body
        target = None
        if body.strip():
            try:
                data = json.loads(body)
                target = data.get("id") if isinstance(data, dict) else None
            except ValueError as exc:
                return _bad(f"not JSON: {exc}")
        return await _decide(hub.command("confirm", id=target))

    async def cancel(request: Request) -> Response:
        return await _decide(hub.command("cancel", id=request.path_params["id"]))

    async def panic(request: Request) -> Response:
        return await _decide(hub.command("panic"))

    routes = [
        Route("/", index, methods=["GET"]),
        Route("/events", events, methods=["GET"]),
        Route("/state", state, methods=["GET"]),
        Route("/intent", intent, methods=["POST"]),
        Route("/confirm", confirm, methods=["POST"]),
        Route("/cancel/{id}", cancel, methods=["POST"]),
        Route("/panic", panic, methods=["POST"]),
    ]
    return Starlette(routes=routes)


async def _body(request: Request) -> bytes | Response:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY:
        return _bad(f"at most {MAX_BODY} bytes", 413)
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        if len(chunks) > MAX_BODY:
            return _bad(f"at most {MAX_BODY} bytes", 413)
    return bytes(chunks)


def _bad(reason: str, status: int = 400) -> Response:
    return JSONResponse({"verdict": "refused", "reason": reason}, status_code=status)


async def _decide(pending: Any) -> Response:
    try:
        answer = await pending
    except TimeoutError:
        return JSONResponse({"verdict": "pending", "reason": "still deciding (a LOAD's lookup); watch the stream"},
                            status_code=202)
    except (ConnectionError, OSError):
        return JSONResponse({"verdict": "refused", "reason": "the session has stopped"}, status_code=503)
    answer.pop("rid", None)
    return JSONResponse(answer)


async def serve(listener: socket.socket, link: socket.socket, config: dict[str, Any], frames: Frames,
                early: list[tuple[str, Any]]) -> None:
    import uvicorn
    from sse_starlette.sse import AppStatus

    hub = Hub(config)
    reader, writer = await asyncio.open_unix_connection(sock=link, limit=MAX_LINE)
    hub.writer = writer
    for name, payload in early:  # frames that came in the same read as the settings
        hub.receive(name, payload)
    app = Access(make_app(hub), str(config["token"]), AllowList(config.get("allow") or []), bool(config.get("lan")))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                           timeout_graceful_shutdown=2))
    advert = None
    if config.get("advertise"):
        from copilot.view.discovery import Advert

        advert = Advert(str(config.get("name", "copilot")), int(config["port"]), list(config.get("hosts") or []),
                        {"name": str(config.get("name", "")), "version": str(config.get("version", "")),
                         "target": str(config.get("target", "")), "apiPort": str(config["port"])})

    async def advertise() -> None:
        try:
            await advert.start()
        except Exception as exc:  # noqa: BLE001 - the page still works without the advertisement
            log.warning("stage view: not advertised over mDNS (%s)", exc)

    async def until_session_ends() -> None:
        await hub.closed.wait()
        AppStatus.should_exit = True  # sse-starlette's own flag: open streams end now, not at a timeout
        hub.close_streams()
        server.should_exit = True

    tasks = [asyncio.create_task(hub.read(reader, frames)), asyncio.create_task(until_session_ends())]
    if advert is not None:
        tasks.append(asyncio.create_task(advertise()))
    try:
        await server.serve(sockets=[listener])
    finally:
        hub.closed.set()
        if advert is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(advert.stop(), 2.0)
        for task in tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            writer.close()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or not all(a.isdigit() for a in args):
        print("copilot.view.server is started by `copilot run --view`, not by hand", file=sys.stderr)
        return 2
    listener = socket.socket(fileno=int(args[0]))
    link = socket.socket(fileno=int(args[1]))
    frames = Frames()
    got: list[tuple[str, Any]] = []
    while not got:  # the settings come first; whatever follows them stays in `frames` for the hub
        chunk = link.recv(1 << 16)
        if not chunk:
            return 1
        got = frames.feed(chunk)
    name, config = got[0]
    if name != "config" or not isinstance(config, dict):
        return 2
    logging.basicConfig(level=logging.WARNING, format="stage view: %(message)s")
    early = got[1:]
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(listener, link, config, frames, early))
    return 0


if __name__ == "__main__":
    sys.exit(main())
