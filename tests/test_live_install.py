"""`copilot mappings install|uninstall` for Ableton Live and Strudel, through the generic installer."""

from __future__ import annotations

import subprocess
import sys


def copilot(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "copilot", *args], capture_output=True, text=True, timeout=60)


def test_ableton_remote_script_round_trip_restores_a_users_own_script(tmp_path):
    dest = tmp_path / "Live 12.1" / "User Remote Scripts"
    mine = dest / "Copilot" / "UserConfiguration.txt"
    mine.parent.mkdir(parents=True)
    mine.write_text("# the performer's own script\n[Globals]\nGlobalChannel: 0\n")
    out = copilot("mappings", "install", "ableton-live", "--dest", str(dest))
    assert out.returncode == 0, out.stderr
    text = mine.read_text()
    assert "[DeviceControls]" in text and "EncoderMapMode:" in text
    assert "Control Surface" in out.stdout or "Preferences" in out.stdout  # the steps left in Live
    again = copilot("mappings", "install", "ableton-live", "--dest", str(dest))
    assert again.returncode == 0 and "nothing to change" in again.stdout
    out = copilot("mappings", "uninstall", "ableton-live", "--dest", str(dest))
    assert out.returncode == 0, out.stderr
    assert mine.read_text() == "# the performer's own script\n[Globals]\nGlobalChannel: 0\n"


def test_strudel_snippet_installs_to_exactly_the_file_given(tmp_path):
    snippet = tmp_path / "set" / "live.strudel.js"
    out = copilot("mappings", "install", "strudel", "--dest", str(snippet))
    assert out.returncode == 2 and "there is no folder" in out.stderr and "--create" in out.stderr
    assert not (tmp_path / "set").exists()  # a mistyped folder is never made silently
    out = copilot("mappings", "install", "strudel", "--dest", str(snippet), "--create")
    assert out.returncode == 0, out.stderr
    code = snippet.read_text()
    assert "midin('Copilot Strudel')" in code and "setcpm(" in code
    assert not (tmp_path / "set" / "copilot-strudel.js").exists()
    shown = copilot("mappings", "show", "strudel")
    assert "midin('Copilot Strudel')" in shown.stdout
    out = copilot("mappings", "uninstall", "strudel", "--dest", str(snippet))
    assert out.returncode == 0 and not snippet.exists()
