"""`copilot warm-up`: compile and cache every numba kernel now, so no set ever waits for the compiler.

`scripts/bootstrap` (the README's set-up) runs it. numba keeps the machine code on disk (`cache=True`,
in `__pycache__` beside each module, or `$NUMBA_CACHE_DIR`); loading it again takes a fraction of a
second. The engine drops its cache itself when a kernel's source changes (engine/__init__.py).
"""

from __future__ import annotations

import time

import typer


def kernels() -> list[tuple[str, object]]:
    """(what, how to compile it) for every family of kernels copilot has."""

    def engine() -> None:
        from copilot.engine.stream import warm_up

        warm_up()

    def motion() -> None:
        import numpy as np

        from copilot.motion.engine import MotionEngine
        from copilot.motion.registry import Registry
        from copilot.motion.solver import FastSolver

        MotionEngine(Registry(), clock=None).warm_up()
        solver = FastSolver()  # its operator alone (calibration and checks call it)
        solver.apply(np.zeros(solver.weights.W1.shape[1]), np.zeros(solver.weights.B.shape[1]))

    def voice() -> None:
        from copilot.voice.capture import capture_callback

        _ = capture_callback().address

    return [("engine", engine), ("motion solver", motion), ("voice capture", voice)]


def command(
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Say something only when a step is slow or fails."),
) -> None:
    """Compile and cache the numba kernels (engine, motion solver, voice capture): first run is then fast."""
    from copilot.bridge.progress import busy

    failed = 0
    for what, compile_it in kernels():
        t0 = time.perf_counter()
        try:
            with busy(f"compiling the {what} kernels (once; a minute or two on a fresh machine)", after=3.0):
                compile_it()  # type: ignore[operator]
        except Exception as exc:  # noqa: BLE001 - say which family failed and go on with the others
            failed += 1
            typer.echo(f"{what} kernels: could not compile ({type(exc).__name__}: {exc})", err=True)
            continue
        if not quiet:
            typer.echo(f"{what} kernels: ready ({time.perf_counter() - t0:.1f} s)")
    if failed:
        raise typer.Exit(1)
