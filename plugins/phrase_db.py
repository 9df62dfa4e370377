"""`phrase-db`: LOAD{query} resolves through the phrase database (or the example crate on a fresh machine).

"load dubby 118 to deck B" → `copilot_resolve_load("dubby 118", options)` → the file, with the
reasons. Targets that load by path (the built-in engine) load it; for hosts that cannot be told a
path, the session announces the pick, and when the target is Serato DJ Pro this plugin also writes a
crate named "copilot suggestions" (the pick first, then the runners-up) into Serato's library, so
the performer finds it one click away.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from copilot.bridge.host import Check, hookimpl

SERATO = "serato-dj-pro"


def _folders(options: dict[str, Any]) -> list[Path]:
    folders = []
    if options.get("crate"):
        folders.append(Path(options["crate"]))
    try:
        from copilot.engine.example_crate import default_folder

        folders.append(default_folder())
    except Exception:  # noqa: BLE001 - no cache folder: LOAD still searches the database
        pass
    return folders


@hookimpl
def copilot_resolve_load(query: str, options: dict[str, Any]) -> dict[str, Any] | None:
    from copilot.phrase_db.loader import resolve

    pick = resolve(query, options.get("db"), _folders(options))
    if pick is None:
        return None
    target = str(options.get("target") or "")
    if target == SERATO:
        pick.update(_serato_crate(pick, options))
    return pick


def _serato_crate(pick: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """Write the suggestions crate; say where (or why not) without ever failing the LOAD."""
    from copilot.phrase_db import serato

    extra = options.get("extra") or {}
    folder = Path(extra.get("serato_folder") or serato.default_serato_folder())
    tracks = [pick["path"], *(a["path"] for a in pick.get("alternatives", []))]
    try:
        crate = serato.write_crate(folder, tracks)
    except OSError as exc:
        return {"crate": None, "announce": f"load '{pick['title']}' by hand ({exc})"}
    return {"crate": str(crate),
            "announce": f"'{pick['title']}' is first in the crate 'copilot suggestions': load it by hand"}


@hookimpl
def copilot_doctor(config: dict[str, Any]) -> list[Check]:
    from copilot.phrase_db.store import Store, default_db_path

    path = default_db_path()
    if not path.exists():
        return [Check("phrase database", True, f"none yet at {path}; LOAD searches the example crate",
                      "run `copilot db analyze YOUR_MUSIC_FOLDER` to plan and load from your library")]
    try:
        with Store(path, readonly=True) as store:
            counts = store.counts()
    except Exception as exc:  # noqa: BLE001 - doctor reports every failure, whatever it is
        return [Check("phrase database", False, f"{path} unreadable: {exc}",
                      f"move {path} aside and run `copilot db analyze` again")]
    return [Check("phrase database", True,
                  f"{counts['tracks']} tracks, {counts['phrases']} phrases, {counts['failed']} failed at {path}")]
