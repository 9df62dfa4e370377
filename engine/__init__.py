"""The built-in numba audio engine (docs/engine.md).

numba's on-disk cache checks only the file that defines a function, so `kernel.render` would keep
machine code built from an older dsp.py or layout.py (whose constants size every array the kernel
touches). Before any kernel is compiled or loaded, the engine's cache is dropped whenever the
kernels' sources (`KERNEL_SOURCES`) differ from the ones it was built from (bridge/kernel_cache.py).
"""

from __future__ import annotations

from pathlib import Path

from copilot.bridge.kernel_cache import drop_stale

# The modules whose code or constants numba compiles into the kernels (a module with an @njit or @cfunc
# belongs here); editing any other engine module leaves the compiled kernels valid.
KERNEL_SOURCES = ("kernel.py", "layout.py", "native.py", "simd.py", "dsp.py", "stream.py",
                  "../bridge/native.py")  # the intrinsics engine/native.py re-exports

drop_stale(Path(__file__).resolve().parent, KERNEL_SOURCES)
