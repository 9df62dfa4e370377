"""numba's on-disk cache, kept honest: a package's compiled kernels go when a source they fold in changes.

numba checks only the file that defines a function (its size and time), so a kernel keeps machine code
built from an older constants module (layout.py sizes every array the engine's kernel touches; limbs.py
and weights.py size the motion solver's). Each package with kernels names the modules whose code or
constants numba compiles into them; before any kernel is compiled or loaded, the package's cache
entries are dropped whenever those files differ from the ones the cache was built from.

Where the cache lives is numba's choice, asked the way numba asks it: `__pycache__` beside the
modules when that is writable, else the user cache folder, or `$NUMBA_CACHE_DIR` when set. It
survives between runs and is written by set-up (`copilot warm-up`).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Sequence
from pathlib import Path

STAMP = "kernel-sources.sha1"


def cache_dir(package: Path, probe: str) -> Path:
    """Where numba caches the kernels of the module `probe` (a file name in `package`)."""
    try:
        from numba.core.caching import CacheImpl

        namespace: dict[str, object] = {}
        exec(compile("def probe():\n    pass\n", str(package / probe), "exec"), namespace)
        return Path(CacheImpl(namespace["probe"])._locator.get_cache_path())
    except Exception:  # noqa: BLE001 - a numba without this internal: fall back to its default place
        return package / "__pycache__"


def drop_stale(package: Path, sources: Sequence[str]) -> None:
    """Drop `package`'s cached kernels unless they were built from exactly these `sources` (file names)."""
    digest = hashlib.sha1()
    for path in sorted(package / name for name in sources):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    cache = cache_dir(package, sources[0])
    stamp = cache / f"{package.name}-{STAMP}"
    with contextlib.suppress(OSError):
        if stamp.read_text() == digest.hexdigest():
            return
    with contextlib.suppress(OSError):  # read-only or absent: numba will not cache there either
        modules = {Path(name).stem for name in sources}
        for old in (*cache.glob("*.nbi"), *cache.glob("*.nbc")):
            if old.name.split(".", 1)[0] in modules:  # only this package's (a shared $NUMBA_CACHE_DIR)
                old.unlink(missing_ok=True)
        cache.mkdir(parents=True, exist_ok=True)
        stamp.write_text(digest.hexdigest())
