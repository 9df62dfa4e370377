"""The built-in numba audio engine (docs/engine.md).

numba's on-disk cache checks only the file that defines a function, so `kernel.render` would keep
machine code built from an older dsp.py or layout.py (whose constants size every array the kernel
touches). Before any kernel is compiled or loaded, the engine's cache is dropped whenever the
kernels' sources (`KERNEL_SOURCES`) differ from the ones it was built from.
"""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path

_HERE = Path(__file__).resolve().parent
_STAMP = "engine-sources.sha1"


def _cache_dir() -> Path:
    """Where numba caches this package's kernels (asked the way numba itself decides)."""
    try:
        from numba.core.caching import CacheImpl

        namespace: dict[str, object] = {}
        exec(compile("def probe():\n    pass\n", str(_HERE / "kernel.py"), "exec"), namespace)
        return Path(CacheImpl(namespace["probe"])._locator.get_cache_path())
    except Exception:  # noqa: BLE001 - a numba without this internal: fall back to its default place
        return _HERE / "__pycache__"


# The modules whose code or constants numba compiles into the kernels (a module with an @njit or @cfunc
# belongs here); editing any other engine module leaves the compiled kernels valid.
KERNEL_SOURCES = ("layout.py", "native.py", "simd.py", "dsp.py", "kernel.py", "stream.py")


def _drop_stale_cache() -> None:
    digest = hashlib.sha1()
    for path in sorted(_HERE / name for name in KERNEL_SOURCES):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    cache = _cache_dir()
    stamp = cache / _STAMP
    with contextlib.suppress(OSError):
        if stamp.read_text() == digest.hexdigest():
            return
    with contextlib.suppress(OSError):  # read-only or absent: numba will not cache there either
        for old in (*cache.glob("*.nbi"), *cache.glob("*.nbc")):
            old.unlink(missing_ok=True)
        cache.mkdir(parents=True, exist_ok=True)
        stamp.write_text(digest.hexdigest())


_drop_stale_cache()
