"""The rehearsal report: PNG plots per transition (made where it was rendered) and one HTML page that
opens from disk with no server — a ranked table, a summary plot of scores per template, and per
transition its breakdown and plots (loudness curve, both decks' envelopes, low band of each deck, a
spectrogram strip of the mix)."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import critic


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only: no display, any thread, any worker
    import matplotlib.pyplot as plt

    return plt


def plot_transition(path: Path, mix: np.ndarray, out_alone: np.ndarray, in_alone: np.ndarray,
                    ctx: critic.Context, verdict: critic.Verdict, title: str) -> Path:
    """One PNG with four strips over the same time axis; the transition's span shaded."""
    plt = _pyplot()
    sr = ctx.samplerate
    # fixed margins: matplotlib's constrained layout measured every label and took a third of the plot's time
    fig, axes = plt.subplots(4, 1, figsize=(9, 7.5), sharex=True)
    fig.subplots_adjust(left=0.1, right=0.98, top=0.95, bottom=0.07, hspace=0.12)
    c = verdict.curves
    ax = axes[0]
    if len(c.get("loudness_t", ())):
        ax.plot(c["loudness_t"], c["loudness"], color="k", lw=1.2)
    ax.set_ylabel("short-term\nLUFS")
    ax.set_title(f"{title} — score {verdict.score:.1f}", fontsize=10)
    ax = axes[1]
    for x, name, color in ((out_alone, "outgoing", "tab:blue"), (in_alone, "incoming", "tab:orange")):
        t, db = critic.band_rms_db(critic.mono(x), sr, hop=0.02, window=0.1)
        ax.plot(t, np.maximum(db, -60), color=color, lw=1, label=name)
    ax.set_ylabel("deck level\ndBFS")
    ax.legend(loc="lower left", fontsize=8)
    ax = axes[2]
    if len(c.get("low_t", ())):
        ax.plot(c["low_t"], np.maximum(c["low_out"], -60), color="tab:blue", lw=1, label="outgoing < 150 Hz")
        ax.plot(c["low_t"], np.maximum(c["low_in"], -60), color="tab:orange", lw=1, label="incoming < 150 Hz")
        ax.legend(loc="lower left", fontsize=8)
    ax.set_ylabel("low band\ndBFS")
    ax = axes[3]
    m = critic.mono(mix)
    if len(m) > 2048:
        ax.specgram(m, NFFT=2048, Fs=sr, noverlap=1024, cmap="magma", vmin=-120)
        ax.set_yscale("symlog", linthresh=200)
        ax.set_ylim(30, sr / 2)
    ax.set_ylabel("mix\nHz")
    ax.set_xlabel("seconds")
    for ax in axes[:3]:
        ax.axvspan(ctx.start, ctx.end, color="0.85", alpha=0.5, zorder=0)
    for at in (ctx.start, ctx.end):  # over the spectrogram a shade would hide it: lines instead
        axes[3].axvline(at, color="w", lw=1, ls="--")
    fig.savefig(path, dpi=72)
    plt.close(fig)
    return path


def plot_summary(path: Path, results: Sequence[Mapping[str, Any]]) -> Path:
    """Scores per template: each candidate a dot, the mean a bar."""
    plt = _pyplot()
    by: dict[str, list[float]] = {}
    for r in results:
        if r.get("score") is not None:
            by.setdefault(str(r["template"]), []).append(float(r["score"]))
    names = sorted(by, key=lambda n: -float(np.mean(by[n])))
    fig, ax = plt.subplots(figsize=(7, 3.5), constrained_layout=True)
    for i, name in enumerate(names):
        ax.bar(i, np.mean(by[name]), color="0.8")
        ax.scatter(np.full(len(by[name]), i), by[name], color="k", s=12, zorder=3)
    ax.set_xticks(range(len(names)), [n.replace("_", " ") for n in names])
    ax.set_ylim(0, 100)
    ax.set_ylabel("critic score")
    ax.set_title("scores per template")
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def write_html(folder: Path, results: Sequence[Mapping[str, Any]]) -> Path:
    """DIR/report.html: opens from disk (plots are relative files next to it)."""
    ranked = sorted((r for r in results if r.get("score") is not None), key=lambda r: -r["score"])
    failed = [r for r in results if r.get("score") is None]
    summary = plot_summary(folder / "summary.png", ranked) if ranked else None
    esc = html.escape
    rows = []
    for i, r in enumerate(ranked, 1):
        worst = max(r["metrics"].items(), key=lambda kv: kv[1]["penalty"] * critic.WEIGHTS.get(kv[0], 1))[0]
        rows.append(f"<tr><td>{i}</td><td><a href='#{esc(r['key'])}'>{esc(r['describe'])}</a></td>"
                    f"<td>{esc(r['template'])}</td><td class=n>{r['score']:.1f}</td><td>{esc(worst)}</td></tr>")
    cards = []
    for r in ranked:
        cells = "".join(
            f"<tr><td>{esc(n)}</td><td class=n>{_fmt(m['value'])} {esc(m['unit'])}</td>"
            f"<td class=n>{m['penalty']:.2f}</td><td class=n>{critic.WEIGHTS.get(n, 0):g}</td></tr>"
            for n, m in r["metrics"].items())
        img = f"<img src='{esc(r['plot'])}' alt='plots of {esc(r['describe'])}'>" if r.get("plot") else ""
        cards.append(f"<section id='{esc(r['key'])}'><h3>{esc(r['describe'])} — {r['score']:.1f}</h3>"
                     f"<p>{esc(r.get('why') or '')}</p><table><tr><th>metric</th><th>value</th><th>penalty</th>"
                     f"<th>weight</th></tr>{cells}</table>{img}</section>")
    bad = "".join(f"<li>{esc(r['describe'])}: {esc(str(r.get('error')))}</li>" for r in failed)
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>copilot rehearsal</title>
<style>body{{font:14px system-ui,sans-serif;margin:2em;max-width:1000px}}table{{border-collapse:collapse}}
td,th{{border-bottom:1px solid #ddd;padding:3px 8px;text-align:left}}.n{{text-align:right}}
img{{max-width:100%;display:block;margin:.5em 0 2em}}</style></head><body>
<h1>Rehearsal: {len(ranked)} transitions scored</h1>
<p>Score 0–100 from the critic's weighted penalties (weights: {esc(', '.join(f'{k} {v:g}' for k, v in
critic.WEIGHTS.items()))}).</p>
{f"<img id=summary src='{summary.name}' alt='scores per template'>" if summary else ""}
<table id=ranking><tr><th>#</th><th>transition</th><th>template</th><th>score</th><th>worst</th></tr>
{''.join(rows)}</table>
{f"<h2>Not rendered</h2><ul>{bad}</ul>" if bad else ""}
{''.join(cards)}
</body></html>"""
    path = folder / "report.html"
    path.write_text(page, encoding="utf-8")
    return path


def _fmt(v: Any) -> str:
    return "—" if v is None else f"{v:.2f}" if isinstance(v, float) else str(v)
