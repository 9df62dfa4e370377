"""`copilot mappings install/uninstall` on a temporary home folder: backups, idempotence, atomicity,
refusals, and the CLI around it."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from copilot.bridge.host import MappingFile
from copilot.mappings.install import BACKUP_SUFFIX, InstallError, Manifest, install, manifest_path, uninstall
from copilot.plugins.mixxx import MixxxTarget
from copilot.plugins.serato import SeratoTarget


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh home folder: copilot's config/data folders and the hosts' folders all live under it."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.delenv("COPILOT_CONFIG", raising=False)
    return home


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_round_trip_restores_the_users_file(home: Path) -> None:
    target = MixxxTarget({})
    files = target.mapping_files()
    dest = home / ".mixxx" / "controllers"
    dest.mkdir(parents=True)
    theirs = b"<MixxxControllerPreset><!-- the DJ's own mapping --></MixxxControllerPreset>\n"
    (dest / "Copilot.midi.xml").write_bytes(theirs)
    (dest / "Other.midi.xml").write_bytes(b"untouched")

    first = install("mixxx", files, [dest])
    assert [s.action for s in first.steps] == ["replace", "create"]
    backup = dest / ("Copilot.midi.xml" + BACKUP_SUFFIX)
    assert first.steps[0].backup == backup and backup.read_bytes() == theirs
    assert (dest / "Copilot.midi.xml").read_bytes() == files[0].content
    assert (dest / "Copilot-scripts.js").read_bytes() == files[1].content

    # Twice: nothing changes, and copilot's own file is never backed up over the DJ's original.
    before = tree(dest)
    again = install("mixxx", files, [dest])
    assert [s.action for s in again.steps] == ["unchanged", "unchanged"] and not again.changed
    assert tree(dest) == before

    # A newer version of copilot's file (a corrected table) updates in place, still without a backup.
    newer = [MappingFile(f.relpath, f.content + b"<!-- v2 -->\n", f.description) for f in files]
    update = install("mixxx", newer, [dest])
    assert [s.action for s in update.steps] == ["update", "update"]
    assert sorted(p.name for p in dest.iterdir()) == sorted(["Copilot.midi.xml", "Copilot-scripts.js",
                                                             backup.name, "Other.midi.xml"])

    gone = uninstall("mixxx", newer, [dest])
    assert [s.action for s in gone.steps] == ["restore", "remove"]
    assert tree(dest) == {"Copilot.midi.xml": theirs, "Other.midi.xml": b"untouched"}
    assert Manifest().entries == {}


def test_an_edit_of_copilots_file_is_kept_as_a_backup(home: Path) -> None:
    files = SeratoTarget({}).mapping_files()
    dest = home / "xml"
    install("serato-dj-pro", files, [dest])
    edited = files[0].content.replace(b'control="16"', b'control="99"')
    (dest / "Copilot.xml").write_bytes(edited)  # the DJ tweaked the preset in a text editor
    result = install("serato-dj-pro", files, [dest])
    assert result.steps[0].action == "replace"
    assert (dest / ("Copilot.xml" + BACKUP_SUFFIX)).read_bytes() == edited
    uninstall("serato-dj-pro", files, [dest])
    assert tree(dest) == {"Copilot.xml": edited}


def test_uninstall_leaves_a_file_that_is_not_copilots(home: Path) -> None:
    files = SeratoTarget({}).mapping_files()
    dest = home / "xml"
    install("serato-dj-pro", files, [dest])
    (dest / "Copilot.xml").write_bytes(b"someone else's now")
    result = uninstall("serato-dj-pro", files, [dest])
    assert [s.action for s in result.steps] == ["keep"]
    assert (dest / "Copilot.xml").read_bytes() == b"someone else's now"


def test_dry_run_changes_nothing(home: Path) -> None:
    files = MixxxTarget({}).mapping_files()
    dest = home / "not-yet"
    result = install("mixxx", files, [dest], dry_run=True)
    assert result.dry_run and [s.action for s in result.steps] == ["create", "create"]
    assert not dest.exists() and not manifest_path().exists()
    assert "write" in result.steps[0].describe() and str(dest) in result.steps[0].describe()


def test_a_single_file_target_takes_a_file_path(home: Path) -> None:
    files = SeratoTarget({}).mapping_files()
    path = home / "sets" / "my-serato-preset.xml"
    install("serato-dj-pro", files, [path])
    assert path.read_bytes() == files[0].content and sorted(os.listdir(path.parent)) == [path.name]
    with pytest.raises(InstallError, match="is a file, but 2 mapping files need a folder"):
        install("mixxx", MixxxTarget({}).mapping_files(), [path])


def test_no_temporary_files_are_left_and_paths_stay_inside(home: Path) -> None:
    dest = home / "d"
    install("mixxx", MixxxTarget({}).mapping_files(), [dest])
    assert not [p for p in dest.iterdir() if p.name.startswith(".")]
    with pytest.raises(InstallError, match="must stay inside the folder"):
        install("x", [MappingFile("../escape.txt", b"x")], [dest])


def _without_dac_override() -> list[str]:
    """argv prefix that runs a command without root's power to ignore file permissions."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv (util-linux): cannot make a folder unwritable for root")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]


def run_cli(home: Path, *args: str, prefix: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"),
               XDG_DATA_HOME=str(home / ".local" / "share"))
    return subprocess.run([*(prefix or []), sys.executable, "-m", "copilot", "mappings", *args], env=env,
                          capture_output=True, text=True, timeout=120)


def test_an_unwritable_destination_is_refused_and_nothing_is_written(home: Path) -> None:
    prefix = _without_dac_override()
    good, locked = home / "good", home / "locked"
    good.mkdir()
    locked.mkdir()
    (home / ".local" / "share" / "copilot").mkdir(parents=True)
    locked.chmod(0o555)
    try:
        done = run_cli(home, "install", "mixxx", "--dest", str(locked), prefix=prefix)
        assert done.returncode == 1
        assert "cannot write to" in done.stderr and "permission denied" in done.stderr
        assert "nothing was changed" in done.stderr
        # A folder that would have to be made there: "not permitted", never "missing".
        done = run_cli(home, "install", "serato-dj-pro", "--dest", str(locked / "Xml"), "--create", prefix=prefix)
        assert done.returncode == 1 and "cannot create" in done.stderr and "permission denied" in done.stderr
        assert list(locked.iterdir()) == []
        # All or nothing: with one good and one locked folder, the good one stays empty too.
        code = ("from pathlib import Path; from copilot.mappings.install import install, InstallError\n"
                "from copilot.plugins.serato import SeratoTarget\n"
                f"try: install('serato-dj-pro', SeratoTarget().mapping_files(), [Path({str(good)!r}), "
                f"Path({str(locked)!r})])\nexcept InstallError as e: print('refused:', e)")
        env = dict(os.environ, HOME=str(home), XDG_DATA_HOME=str(home / ".local" / "share"))
        done = subprocess.run([*prefix, sys.executable, "-c", code], env=env, capture_output=True, text=True,
                              timeout=120)
        assert done.stdout.startswith("refused: cannot write to"), done.stdout + done.stderr
        assert list(good.iterdir()) == [] and list(locked.iterdir()) == []
    finally:
        locked.chmod(0o755)


# -- the CLI -----------------------------------------------------------------------------------------------
@pytest.fixture
def cli(home: Path) -> CliRunner:
    return CliRunner()


def invoke(runner: CliRunner, *args: str) -> tuple[int, str]:
    from copilot.cli.main import app

    result = runner.invoke(app, ["mappings", *args])
    return result.exit_code, result.output


def test_cli_install_into_the_default_folder_then_uninstall(cli: CliRunner, home: Path) -> None:
    code, out = invoke(cli, "install", "mixxx")
    folder = home / ".mixxx" / "controllers"
    assert code == 0, out
    assert (folder / "Copilot.midi.xml").exists() and (folder / "Copilot-scripts.js").exists()
    assert "Then, in the host:" in out and "Preferences › Controllers" in out
    code, out = invoke(cli, "install", "mixxx")
    assert code == 0 and "already installed" in out
    code, out = invoke(cli, "uninstall", "mixxx")
    assert code == 0 and sorted(os.listdir(folder)) == []


def test_cli_serato_on_linux_says_why_and_wants_dest(cli: CliRunner, home: Path) -> None:
    if sys.platform == "darwin" or sys.platform.startswith("win"):
        pytest.skip("this checks the message on a system where Serato does not run")
    code, out = invoke(cli, "install", "serato-dj-pro")
    assert code == 2 and "runs on macOS and Windows only" in out and "--dest" in out
    code, out = invoke(cli, "install", "serato-dj-pro", "--dest", str(home / "Xml"), "--create", "--dry-run")
    assert code == 0 and "would:" in out and not (home / "Xml").exists()
    assert "Setup › MIDI" in out


def test_cli_list_and_show(cli: CliRunner, home: Path) -> None:
    code, out = invoke(cli, "list")
    assert code == 0 and "serato-dj-pro" in out and "Copilot.xml" in out and "Copilot.midi.xml" in out
    code, out = invoke(cli, "show", "serato-dj-pro")
    assert code == 0
    eq_low = next(line for line in out.splitlines() if line.startswith("eq_low "))
    assert eq_low.rstrip().endswith("U ⚠") and '<midi app=" 4.0.9.3040">' in out and "| eq_low |" not in out
    assert str(home / ".config" / "copilot" / "mappings" / "serato-dj-pro.toml") in out
    code, out = invoke(cli, "show", "nope")
    assert code == 2 and "unknown target 'nope'" in out


def test_cli_reports_a_broken_override_instead_of_crashing(cli: CliRunner, home: Path) -> None:
    override = home / ".config" / "copilot" / "mappings" / "mixxx.toml"
    override.parent.mkdir(parents=True)
    override.write_text('[[row]]\nname = "cue"\nnumber = 999\n')
    code, out = invoke(cli, "install", "mixxx")
    assert code != 0 and "number must be 0..127" in out
    assert not (home / ".mixxx").exists()


# -- modes, a lost manifest, the crate, and --dest --------------------------------------------------------
def test_restored_files_keep_their_permissions(home: Path) -> None:
    target = MixxxTarget({})
    files = target.mapping_files()
    dest = home / "controllers"
    dest.mkdir()
    theirs = dest / "Copilot.midi.xml"
    theirs.write_bytes(b"<the DJ's own/>")
    theirs.chmod(0o644)
    install("mixxx", files, [dest])
    backup = dest / ("Copilot.midi.xml" + BACKUP_SUFFIX)
    assert stat.S_IMODE(backup.stat().st_mode) == 0o644  # the backup is the user's file, mode and all
    assert stat.S_IMODE(theirs.stat().st_mode) == 0o644  # copilot's file where theirs was: readable as before
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((dest / "Copilot-scripts.js").stat().st_mode) == 0o666 & ~umask  # a new file: the umask's
    uninstall("mixxx", files, [dest])
    assert theirs.read_bytes() == b"<the DJ's own/>" and stat.S_IMODE(theirs.stat().st_mode) == 0o644


def test_a_damaged_manifest_still_gives_the_users_file_back(home: Path) -> None:
    files = MixxxTarget({}).mapping_files()
    dest = home / "controllers"
    dest.mkdir()
    (dest / "Copilot.midi.xml").write_bytes(b"<the DJ's own/>")
    install("mixxx", files, [dest])
    manifest_path().write_bytes(b"{\x00 not json")  # a crash, a disk error, an editor
    done = uninstall("mixxx", files, [dest])
    assert [s.action for s in done.steps] == ["restore", "remove"]
    assert tree(dest) == {"Copilot.midi.xml": b"<the DJ's own/>"}  # nothing left behind in a backup


def test_the_serato_crate_is_backed_up_before_copilot_first_replaces_it(home: Path) -> None:
    from copilot.bridge.actions import Action, ActionKind
    from copilot.bridge.host import TargetContext
    from copilot.bridge.state import HostState
    from copilot.intents.schema import Deck
    from copilot.phrase_db import serato

    library = home / "Music" / "_Serato_"
    (library / "Subcrates").mkdir(parents=True)
    crate = library / "Subcrates" / f"{serato.CRATE_NAME}.crate"
    theirs = serato.crate_bytes(["Music/theirs.mp3"])
    crate.write_bytes(theirs)
    crate.chmod(0o640)

    def load(path: str) -> None:
        target = SeratoTarget({})
        target.open(TargetContext(report=lambda _: None, options={"extra": {"serato_folder": str(library)}}))
        pick = {"path": str(home / "Music" / path), "title": path}
        target.render(Action(ActionKind.LOAD, Deck.B, 4.0, params={"query": path, "resolved": pick}), HostState())
        target.close()  # waits for the crate writer

    load("one.mp3")
    backup = crate.with_name(crate.name + BACKUP_SUFFIX)
    assert backup.read_bytes() == theirs and stat.S_IMODE(backup.stat().st_mode) == 0o640
    assert serato.track_paths(crate.read_bytes())[0].endswith("one.mp3")
    load("two.mp3")  # copilot's own crate again: no second backup of it
    assert sorted(p.name for p in crate.parent.iterdir()) == sorted([crate.name, backup.name])
    assert backup.read_bytes() == theirs


def test_a_missing_dest_is_an_error_unless_create(cli: CliRunner, home: Path) -> None:
    typo = home / "Music" / "_Serato__" / "MIDI" / "Xml"
    code, out = invoke(cli, "install", "serato-dj-pro", "--dest", str(typo))
    assert code == 2 and "there is no folder" in out and "--create" in out
    assert not (home / "Music").exists()  # nothing made, nothing reported as done
    code, out = invoke(cli, "install", "serato-dj-pro", "--dest", str(typo), "--create")
    assert code == 0 and (typo / "Copilot.xml").exists()
    code, out = invoke(cli, "uninstall", "serato-dj-pro", "--dest", str(home / "nowhere"))
    assert code == 2 and "there is no folder" in out
    assert "fix its permissions" not in out.lower()
