"""mDNS/DNS-SD: on a LAN bind the stage view says where it is, as `_copilot._tcp`, so a tablet finds it.

TXT records (as the camera nodes this project grew from did): `name`, `version`, `target`, `apiPort`.
Runs in the view's process on zeroconf's asyncio API (registering probes the network for ~1.5 s; the
page is served meanwhile). Never on a loopback bind.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

SERVICE = "_copilot._tcp.local."
log = logging.getLogger(__name__)


class Advert:
    def __init__(self, name: str, port: int, hosts: list[str], txt: dict[str, str]) -> None:
        self.name = _label(name)
        self.port = port
        self.hosts = [h for h in hosts if ":" not in h]  # IPv4: what phones on a club's Wi-Fi resolve
        self.txt = txt
        self._zc: Any = None
        self._info: Any = None

    async def start(self) -> None:
        from zeroconf import IPVersion, ServiceInfo
        from zeroconf.asyncio import AsyncZeroconf

        host = socket.gethostname().split(".")[0] or "copilot"
        self._info = ServiceInfo(SERVICE, f"{self.name}.{SERVICE}", port=self.port, properties=self.txt,
                                 server=f"{host}.local.", addresses=[socket.inet_aton(h) for h in self.hosts])
        self._zc = AsyncZeroconf(interfaces=self.hosts, ip_version=IPVersion.V4Only)
        await self._zc.async_register_service(self._info, allow_name_change=True)
        log.info("advertised %s on %s", self._info.name, ", ".join(self.hosts))

    async def stop(self) -> None:
        if self._zc is None:
            return
        try:
            if self._info is not None:
                await self._zc.async_unregister_service(self._info)
        finally:
            await self._zc.async_close()
            self._zc = None


def _label(name: str) -> str:
    """An instance label of at most 63 bytes, without the dots that would split it."""
    text = name.replace(".", " ").strip() or "copilot"
    while len(text.encode()) > 63:
        text = text[:-1]
    return text
