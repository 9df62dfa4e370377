"""The stage view on a LAN bind, for real: `copilot run --view 10.213.0.1:PORT --allow 10.213.0.0/24` inside a
private network namespace (LAN-looking addresses on its own loopback, so nothing leaves the machine). A
phone without the token gets 403 on every route, the page in Chromium says why, a sender off the
allow-list is refused even with the token, the token opens everything, and mDNS advertises the view as
`_copilot._tcp` with its TXT records."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time

import pytest

from copilot.tests.fixtures_view import CHROMIUM

pytestmark = pytest.mark.netns
PORT = 18765  # inside the namespace: no other copilot there


def lan(ns) -> None:
    for argv in (["ip", "link", "set", "lo", "multicast", "on"], ["ip", "addr", "add", "10.213.0.1/32", "dev", "lo"],
                 ["ip", "addr", "add", "10.214.0.1/32", "dev", "lo"]):
        ns.run(argv).check_returncode()


def read_url(proc: subprocess.Popen[str], timeout: float = 30.0) -> str:
    """The tokened URL `copilot run` prints when the view is up (stdout is a pipe: plain lines)."""
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if line.startswith("stage view: http://"):
            return line.split()[2]
    raise AssertionError("no stage view URL printed:\n" + "".join(seen) + proc.stderr.read())


def dump_dom(ns, url: str) -> str:
    if not shutil.which(CHROMIUM):
        pytest.skip("Debian's chromium is not installed; scripts/bootstrap installs it")
    out = ns.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--dump-dom", url], timeout=60)
    return out.stdout


def test_a_lan_bind_refuses_every_request_without_the_token_and_advertises_itself(link_netns, tmp_path):
    ns = link_netns
    lan(ns)
    config = tmp_path / "copilot.toml"
    config.write_text("")
    proc = ns.popen(ns.python("-m", "copilot", "run", "--target", "midi-monitor", "--no-link", "--osc", "",
                              "--midi-api", "alsa", "--config", str(config), "--log", str(tmp_path / "log.jsonl"),
                              "--view", f"10.213.0.1:{PORT}", "--allow", "10.213.0.0/24", "--duration", "60"))
    try:
        url = read_url(proc)
        assert url.startswith(f"http://10.213.0.1:{PORT}/?token=")
        token = url.split("token=", 1)[1]
        time.sleep(0.5)  # the view's process takes its socket
        out = ns.run(ns.python("-m", "copilot.tests.view_lan_probe", str(PORT), token), timeout=60)
        assert out.returncode == 0, out.stderr
        got = json.loads(out.stdout.strip().splitlines()[-1])
        for name in ("page_without_token", "state_without_token", "events_without_token", "panic_without_token",
                     "wrong_token"):
            assert got[name]["status"] == 403, (name, got[name])
        assert "token" in got["page_without_token"]["body"]
        assert got["stranger_with_token"]["status"] == 403 and "allow-list" in got["stranger_with_token"]["body"]
        state = json.loads(got["state_with_token"]["body"]) if got["state_with_token"]["status"] == 200 else {}
        assert {"tempo", "beat", "phase", "quantum", "playing", "link_peers", "decks", "queue"} <= set(state)
        decision = json.loads(got["intent_with_token"]["body"])
        assert decision["verdict"] == "scheduled" and decision["source"] == "remote", decision
        mdns = got["mdns"]
        assert mdns is not None, "the view was not advertised"
        assert mdns["addresses"] == ["10.213.0.1"] and mdns["port"] == PORT
        assert mdns["txt"]["apiPort"] == str(PORT) and mdns["txt"]["target"] == "midi-monitor"
        assert mdns["txt"]["name"] and mdns["txt"]["version"]

        refused = dump_dom(ns, f"http://10.213.0.1:{PORT}/")  # what a browser without the token shows
        assert "a token is needed" in refused and 'id="wheel"' not in refused
        page = dump_dom(ns, url)
        assert 'id="wheel"' in page and 'id="panic"' in page
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
    assert proc.returncode == 0, proc.stderr.read()
    after = ns.run(ns.python("-c", f"import socket; s=socket.socket(); s.settimeout(2); "
                                   f"print(s.connect_ex(('10.213.0.1', {PORT})))"))
    assert after.stdout.strip() != "0", "the view's process outlived the session"
