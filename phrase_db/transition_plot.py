"""A transition template drawn: each curve over the template's bars, outgoing deck warm, incoming cool.

`copilot transitions plot` writes one small PNG per template (docs/transitions/ holds the bundled ones).
matplotlib runs headless (Agg) and only when a plot is asked for.
"""

from __future__ import annotations

from pathlib import Path

from .transitions import Template, realize

COLOURS = {"out": "#d95f02", "in": "#1b9e77", None: "#333333"}
STYLES = {"crossfader": "-", "volume": (0, (6, 2)), "eq_low": "-", "eq_mid": "--", "eq_high": ":",
          "filter": "-.", "fx_send": (0, (1, 1)), "fx_depth": (0, (3, 1, 1, 1))}
NAMES = {"crossfader": "crossfader → in", "volume": "fader", "eq_low": "bass", "eq_mid": "mids", "eq_high": "highs",
         "filter": "filter", "fx_send": "echo send", "fx_depth": "FX depth"}
SAMPLES = 400


def plot(tpl: Template, path: Path) -> Path:
    """Draw `tpl` into a PNG at `path` (bars across, 0..1 up; deck A plays out, B comes in)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    envelopes = realize(tpl, 0.0, "A", "B", grid="none")
    span = 4.0 * tpl.bars
    fig, ax = plt.subplots(figsize=(6.4, 2.4), dpi=110)
    try:
        for env, curve in zip(envelopes, tpl.curves, strict=True):
            xs = [span * k / SAMPLES for k in range(SAMPLES + 1)]
            ys = [env.raw_value_at(x) for x in xs]
            role = curve.role
            label = NAMES.get(env.param, env.param) + (f" ({role})" if role else "")
            ax.plot([x / 4.0 for x in xs], ys, color=COLOURS[role], linestyle=STYLES.get(env.param, "-"),
                    linewidth=1.8 if env.param == "crossfader" else 1.4, label=label)
        ax.set_xlim(0, tpl.bars)
        ax.set_ylim(-0.03, 1.03)
        ax.set_xticks(range(0, tpl.bars + 1, max(1, tpl.bars // 8)))
        ax.set_xlabel("bars")
        ax.set_yticks([0, 0.5, 1])
        ax.grid(True, alpha=0.3)
        ax.set_title(f"{tpl.name} — {tpl.bars} bars" + (" (learned)" if tpl.learned else ""), fontsize=10)
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path
