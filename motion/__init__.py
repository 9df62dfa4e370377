"""Motion: phones, watches and Sony mocopi → fast/slow states (LIM-RPS) → continuous controls.

    sources   listeners per UDP port (OSC senders, mocopi), allow-list, flood guard
    formats   what each OSC app sends (one table) · mocopi   its binary stream, parsed and built
    guard     checks and counters · registry   devices, limbs, performers, staleness, latest values
    features  evidence from raw readings · weights   the certified operator · solver   LIM-RPS in numba
    slow      the bar-rate slow state · phase   ψ locked to the clock · euro   the 1€ filter
    mapper    states → parameters · engine   the frame, on a worker · live   all of it, started together
    record    takes (record/replay) · offline   takes through the pipeline · calibrate / profile
    settings  flags and copilot.toml · synth   synthetic performers for tests, benches and demos

docs/motion.md is the user guide and the maths in words.
"""

from pathlib import Path

from copilot.bridge.kernel_cache import drop_stale

# The modules whose code or constants numba compiles into the solver's kernels (limbs.py and weights.py
# size their arrays): a change to any of them drops the cached machine code (bridge/kernel_cache.py).
KERNEL_SOURCES = ("solver.py", "features.py", "slow.py", "limbs.py", "weights.py")

drop_stale(Path(__file__).resolve().parent, KERNEL_SOURCES)
