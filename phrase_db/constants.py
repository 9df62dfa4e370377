"""Numbers shared by analysis, store, index and planner (kept light: importing this loads no DSP)."""

# Bump when any analysis step changes its results: tracks analysed by an older version are redone.
ANALYSIS_VERSION = 2
ANALYSIS_NOTES = ("beatgrid: resultant + LS refine, confidence scaled by on/off-grid onset contrast (beatless audio: "
                  "no beat); key: edma profiles on STFT chroma; phrases: 8-bar lattice novelty; truncated files noted")
EMBED_DIM = 32  # 16 timbre + 16 rhythm (sixteenth-note onset pattern)
LABELS = ("intro", "build", "drop", "main", "break", "outro")
