"""numba's cache is dropped when a source a kernel folds in changes, not only the file that defines it
(numba itself checks only that one): an edited constants module never leaves stale machine code behind.
Both packages with kernels use it (engine/__init__.py, motion/__init__.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

PROBE = textwrap.dedent("""
    import sys
    from pathlib import Path
    sys.path.insert(0, sys.argv[1])
    from copilot.bridge.kernel_cache import drop_stale
    if sys.argv[2] == "drop":
        drop_stale(Path(sys.argv[1]) / "pkg", ("kern.py", "consts.py"))
    from pkg.kern import size
    print(size())
""")


def _size(root: Path, mode: str) -> int:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    env.pop("NUMBA_CACHE_DIR", None)
    done = subprocess.run([sys.executable, "-c", PROBE, str(root), mode], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip().splitlines()[-1])


def test_editing_a_constants_module_drops_the_kernels_built_from_it(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "consts.py").write_text("SLOTS = 4\n")
    (pkg / "kern.py").write_text("from numba import njit\nfrom .consts import SLOTS\n\n\n"
                                 "@njit(cache=True)\ndef size():\n    return SLOTS\n")
    assert _size(tmp_path, "drop") == 4  # compiled and cached
    (pkg / "consts.py").write_text("SLOTS = 6\n")  # kern.py itself untouched
    assert _size(tmp_path, "keep") == 4  # what numba alone does: the stale machine code
    assert _size(tmp_path, "drop") == 6
    assert _size(tmp_path, "drop") == 6  # and the new code is cached in turn


def test_the_engine_and_the_motion_solver_name_their_kernel_sources() -> None:
    import copilot.engine as engine
    import copilot.motion as motion

    for package, must in ((engine, {"kernel.py", "layout.py", "dsp.py", "stream.py"}),
                          (motion, {"solver.py", "features.py", "slow.py", "limbs.py", "weights.py"})):
        folder = Path(package.__file__).parent
        assert must <= set(package.KERNEL_SOURCES)
        assert all((folder / name).is_file() for name in package.KERNEL_SOURCES)
