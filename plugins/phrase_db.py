"""`phrase-db`: the library a LOAD{query} is looked up in (the phrase database, or the example crate
and a `--crate` folder on a fresh machine).

"load dubby 118 to deck B" → the session asks `PhraseLibrary.resolve("dubby 118")` on its library
worker, before the LOAD is decided → the file, with the reasons and the runners-up. Targets that load
by path (the built-in engine) load it; a host that cannot be told a path gets the pick announced, and
Serato DJ Pro's target also writes it into a crate (plugins/serato.py).

The same plugin offers the session its mixer (`copilot_mixer`): "next track", "bass swap into B"
are planned over the same library (phrase_db/mixing.py).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from copilot.bridge.host import Check, hookimpl


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


class PhraseLibrary:
    """The analysed library (SQLite), else the crate folders' sidecars and tags."""

    name = "phrase database"

    def __init__(self, options: dict[str, Any]) -> None:
        self.db = options.get("db")
        self.options = dict(options)

    def warm_up(self) -> None:
        """The modules a first lookup imports (the example crate's module alone takes over a second, all
        of it holding the GIL) — at session start on the library worker, not at the set's first LOAD."""
        for module in ("copilot.phrase_db.loader", "copilot.phrase_db.audio"):
            importlib.import_module(module)
        _folders(self.options)
        from copilot.phrase_db.store import Store, default_db_path

        path = Path(self.db) if self.db else default_db_path()
        if path.exists():  # a damaged database is said once, at the start (LOADs then use the crates)
            with Store(path, readonly=True) as store:
                store.counts()

    def resolve(self, query: str) -> dict[str, Any] | None:
        """Reads the database and folders: runs on the session's library worker, never while deciding.
        A database that is there but cannot be read raises (the session refuses the LOAD and says why):
        the example crate is no stand-in for the performer's own library."""
        from copilot.phrase_db.loader import resolve
        from copilot.phrase_db.store import Store, default_db_path

        path = Path(self.db) if self.db else default_db_path()
        if path.exists():
            try:
                with Store(path, readonly=True) as store:
                    store.tracks(with_phrases=False)
            except Exception as exc:  # noqa: BLE001 - sqlite3.DatabaseError, a file that is not a database …
                raise RuntimeError(f"the phrase database {path} is damaged: {exc}") from None
        return resolve(query, self.db, _folders(self.options))


@hookimpl
def copilot_library(options: dict[str, Any]) -> PhraseLibrary:
    return PhraseLibrary(options)


@hookimpl
def copilot_mixer(options: dict[str, Any]) -> Any:
    from copilot.phrase_db.mixing import Mixer

    crate = [Path(options["crate"])] if options.get("crate") else []
    example = [f for f in _folders({}) if not crate]
    return Mixer(db=options.get("db"), folders=crate, fallback=example)


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
