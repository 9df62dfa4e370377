"""`view`: the stage view as a live input of `copilot run --view [HOST:]PORT` (found through pluggy).

Starting it binds the port here (a port in use is one clear line, and the set goes on), starts the
view's own process (`python -m copilot.view.server`) with the listening socket and one end of a socket
pair, sends it its settings over that pair (the token never appears in a command line), and starts the
publisher threads. Stopping closes the pair: the view's process ends by itself, or is ended.

Access (same rules as OSC): a bind beyond this machine needs an allow-list (`--allow`), and then every
request needs the token. On 127.0.0.1 the page and the stream are open to this machine, but the write
endpoints still need the token (a web page in the same browser must not be able to press PANIC).
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import subprocess
import sys
from typing import Any

from copilot import __version__
from copilot.bridge.config import ALLOW, BIND
from copilot.bridge.host import Input, hookimpl
from copilot.bridge.osc import AllowList, Bind, check_bind
from copilot.bridge.settings import ListOf, Num, Rule, Switch, Table, Text

from .publisher import STATE_RATE, Publisher
from .wire import frame

DEFAULT_BIND = "127.0.0.1:8765"
DEFAULT_PORT = 8765
OFF = ("", "off", "no", "false", "none")


def _view_bind(text: str) -> None:
    if text.strip().lower() not in OFF:
        problem = BIND.problem(text)
        if problem:
            raise ValueError("")


# The rules of [view] in copilot.toml (the `copilot_settings` hook); `copilot run --view` is held to VIEW_BIND.
VIEW_BIND = Text('[HOST:]PORT, or "off" for none', check=_view_bind, empty=True, numbers=True)
VIEW: Rule = Table({
    "bind": VIEW_BIND,
    "allow": ListOf(ALLOW, single=True),
    "name": Text("the name a tablet sees (mDNS)"),
    "advertise": Switch(),
    "rate": Num(10.0, 60.0, "states per second", note="the page needs 10"),
})


class ViewError(ValueError):
    """The stage view cannot start as asked; the message says why and what to do."""


class StageView(Input):
    name = "view"

    def __init__(self, bind: str, allow: list[str] | None = None, settings: dict[str, Any] | None = None) -> None:
        self.settings = dict(settings or {})
        self.bind_text = bind
        self.bind = Bind("127.0.0.1", 0)
        self.allow = AllowList()
        self._allow_text = list(allow or [])
        self.token = secrets.token_urlsafe(18)
        self.port = 0
        self.urls: list[str] = []
        self.process: subprocess.Popen[bytes] | None = None
        self.publisher: Publisher | None = None
        self._session: Any = None

    @property
    def lan(self) -> bool:
        return not self.bind.loopback

    @property
    def url(self) -> str:
        return self.urls[0] if self.urls else ""

    def check(self) -> None:
        """The bind and the allow-list, by the OSC rules; ViewError says what is wrong."""
        try:
            self.bind = Bind.parse(self.bind_text)
            self.allow = AllowList(self._allow_text)
            check_bind(self.bind, self.allow, "the stage view")
        except ValueError as exc:
            raise ViewError(f"stage view: {exc}") from None

    def start(self, session: Any) -> None:
        """Bind, start the view's process and the publisher. ViewError (reported by the session as one line,
        the set going on without a view) when the address is wrong or taken."""
        self.check()
        self._session = session
        listener = self._listen()
        ours, theirs = socket.socketpair()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "copilot.view.server", str(listener.fileno()), str(theirs.fileno())],
                pass_fds=(listener.fileno(), theirs.fileno()), stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C reaches the session, which then closes the view itself
            )
        except OSError as exc:
            ours.close()
            raise ViewError(f"stage view: cannot start its process: {exc}") from None
        finally:
            listener.close()
            theirs.close()
        hosts = self._hosts()
        self.urls = [f"http://{_url_host(h)}:{self.port}/?token={self.token}" for h in hosts]
        config = {
            "token": self.token, "lan": self.lan, "allow": self.allow.entries(), "port": self.port,
            "host": self.bind.host, "hosts": hosts, "name": str(self.settings.get("name") or _default_name()),
            "version": __version__, "target": ",".join(t.name for t in getattr(session, "targets", [])),
            "advertise": self.lan and bool(self.settings.get("advertise", True)),
        }
        self.publisher = Publisher(session, ours, float(self.settings.get("rate", STATE_RATE)),
                                   on_broken=self._broken)
        self.publisher.send(frame("config", config))
        self.publisher.start()
        where = " or ".join(self.urls)
        note = f" (LAN, allow {', '.join(self.allow.entries())}; advertised as _copilot._tcp)" if self.lan else ""
        session.report(f"stage view: {where}{note}")

    def _listen(self) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.bind.host else socket.AF_INET
        host = "127.0.0.1" if self.bind.host == "localhost" else self.bind.host
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, self.bind.port))
            sock.listen(64)
        except OSError as exc:
            sock.close()
            raise ViewError(f"stage view: cannot listen on {self.bind}: {exc.strerror or exc} "
                            "(another copilot running? give --view HOST:PORT)") from None
        sock.set_inheritable(True)
        self.port = sock.getsockname()[1]
        return sock

    def _hosts(self) -> list[str]:
        """Where a phone finds the view: the bound address, or each LAN address for a wildcard bind."""
        host = self.bind.host
        if host not in ("0.0.0.0", "::"):
            return [host]
        found = lan_addresses()
        return found or ["127.0.0.1"]

    def _broken(self, why: str, off: bool = True) -> None:
        if self._session is not None:
            self._session.report(f"stage view is off: {why}; the set goes on" if off else f"stage view: {why}")

    def stop(self) -> None:
        if self.publisher is not None:
            self.publisher.stop()
        process = self.process
        if process is not None:
            try:
                process.wait(3.0)
            except subprocess.TimeoutExpired:
                process.terminate()
                try:
                    process.wait(2.0)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(2.0)
        self.process = None

    def status(self) -> dict[str, Any]:
        publisher = self.publisher
        return {"urls": self.urls, "lan": self.lan, "clients": publisher.clients if publisher else 0,
                "running": bool(self.process and self.process.poll() is None)}


def lan_addresses() -> list[str]:
    """This machine's IPv4 addresses beyond loopback (ifaddr comes with zeroconf)."""
    import ifaddr

    out = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str) and not ip.ip.startswith("127."):
                out.append(ip.ip)
    return out


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _default_name() -> str:
    return f"copilot on {socket.gethostname()}"[:63]


def view_bind(value: Any) -> str | None:
    """The view's [HOST:]PORT as settled by `copilot run` (flag, else [view] bind, else DEFAULT_BIND);
    None when switched off ('off' or '')."""
    if value is None or str(value).strip().lower() in OFF:
        return None
    return str(value).strip()


@hookimpl
def copilot_settings() -> dict[str, Rule]:
    return {"view": VIEW}


@hookimpl
def copilot_inputs(options: dict[str, Any], settings: dict[str, Any]) -> list[Input]:
    bind = options.get("view")
    if not bind or options.get("out"):
        return []
    section: dict[str, Any] = {}
    with contextlib.suppress(AttributeError, TypeError, ValueError):
        section = dict((settings or {}).get("view") or {})
    allow = list(options.get("allow") or section.get("allow") or [])
    return [StageView(bind, allow, section)]
