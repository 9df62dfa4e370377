"""The faiss index of phrases, built so that one inner product *is* the planner's composite score.

Each phrase is stored as [embedding, one-hot key, u, u², energy, energy², one-hot label] with
u = ln(bpm/120)/0.06. A query vector built from the phrase we are leaving (and the weights and
target energy of the moment) then gives, by inner product, exactly
    w_sim·cos + w_key·compat(key) + w_tempo·(1 − Δu²) + w_energy·(1 − (ΔE/0.5)²) + w_entry·fit(label)
minus a constant. So "best next phrase" is maximum-inner-product search, and weights can change per
query without rebuilding anything.

Which faiss index: these vectors are not a metric space a graph index navigates well (HNSW on them
finds well under half of the true top ten; see bench/phrase_next.py), but the key term gives an
exact shortcut. The library is split into 24 inverted lists, one per key, whose vectors leave the
key out (inside a list it is a constant). The planner scans the lists in order of key
compatibility, one compatibility level at a time, adding that level's key points, and stops as
soon as the k-th best found beats anything the remaining levels could score (their key points plus
the most every other term can give). The answer is exact; usually only the same and the adjacent
keys are read (a sixth of the library). Small libraries use one exact flat scan.

The index file sits beside the database (`phrases.sqlite.faiss` + `.json`) and records the
database generation it was built from; a different generation means stale, and it is rebuilt.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .constants import EMBED_DIM, LABELS
from .store import PhraseTable, Store

LAYOUT_VERSION = 2
TEMPO_REF = 120.0
TEMPO_SCALE = 0.06  # ±6 % is one unit of u
ENERGY_SCALE = 0.5
KEY_AT = EMBED_DIM
TEMPO_AT = KEY_AT + 24
ENERGY_AT = TEMPO_AT + 2
LABEL_AT = ENERGY_AT + 2
DIM = LABEL_AT + len(LABELS)
NOT_KEY = np.r_[0:KEY_AT, KEY_AT + 24 : DIM]  # the columns a per-key list stores
FLAT_BELOW = 20_000  # phrases; under this one flat scan is as fast as anything
KINDS = ("auto", "flat", "keys", "hnsw")  # hnsw is kept for comparison (bench), never chosen by auto
HNSW_M = 32
EF_CONSTRUCTION = 80
EF_SEARCH = 96


def tempo_units(bpm: np.ndarray | float) -> np.ndarray:
    b = np.maximum(np.asarray(bpm, np.float64), 1.0)
    return np.log(b / TEMPO_REF) / TEMPO_SCALE


def phrase_vectors(table: PhraseTable) -> np.ndarray:
    n = len(table)
    v = np.zeros((n, DIM), np.float32)
    v[:, :EMBED_DIM] = table.embedding
    v[np.arange(n), KEY_AT + table.key.astype(np.int64)] = 1.0
    u = tempo_units(table.bpm)
    v[:, TEMPO_AT] = u
    v[:, TEMPO_AT + 1] = u * u
    e = table.energy.astype(np.float64)
    v[:, ENERGY_AT] = e
    v[:, ENERGY_AT + 1] = e * e
    v[np.arange(n), LABEL_AT + table.label.astype(np.int64)] = 1.0
    return v


@dataclass
class PhraseIndex:
    index: object  # faiss.Index
    kind: str  # "flat" | "keys" | "hnsw"
    generation: int
    count: int

    def search(self, query: np.ndarray, k: int, keys: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(inner products, rows) of the k best, best first; rows are -1 past the end.

        `keys` (kind "keys" only): scan just these keys' lists; None scans everything.
        """
        q = np.ascontiguousarray(query, np.float32).reshape(1, -1)
        k = max(1, min(k, self.count))
        if self.kind == "keys":  # q is a full query vector; the key term is the caller's to add
            lists = np.full((1, 24), -1, np.int64)  # faiss skips negative list numbers
            chosen = np.arange(24) if keys is None else np.asarray(keys, np.int64)
            lists[0, : len(chosen)] = chosen
            q = np.ascontiguousarray(q[:, NOT_KEY])
            scores, rows = self.index.search_preassigned(q, k, lists, _NO_COARSE)  # type: ignore[attr-defined]
        else:
            scores, rows = self.index.search(q, k)  # type: ignore[attr-defined]
        return scores[0], rows[0]

    def set_ef(self, ef: int) -> None:
        if self.kind == "hnsw":
            self.index.hnsw.efSearch = ef  # type: ignore[attr-defined]


_NO_COARSE = np.zeros((1, 24), np.float32)


def build(vectors: np.ndarray, generation: int = 0, kind: str = "auto", keys: np.ndarray | None = None) -> PhraseIndex:
    """An index over `vectors` (rows = phrase-table rows); kind "keys" needs each row's key index."""
    import faiss

    faiss.omp_set_num_threads(1)  # single queries: one thread is fastest (threads cost ~4×)
    n = len(vectors)
    if kind == "auto":
        kind = "flat" if n < FLAT_BELOW else "keys"
    x = np.ascontiguousarray(vectors, np.float32)
    if kind == "flat":
        index = faiss.IndexFlatIP(DIM)
        index.add(x)
    elif kind == "keys":
        if keys is None:
            keys = np.argmax(x[:, KEY_AT : KEY_AT + 24], axis=1)
        d = len(NOT_KEY)
        quantizer = faiss.IndexFlatIP(d)  # never consulted: lists are assigned by key, searched by key
        quantizer.add(np.zeros((24, d), np.float32))
        index = faiss.IndexIVFFlat(quantizer, d, 24, faiss.METRIC_INNER_PRODUCT)
        index.is_trained = True
        index.nprobe = 24
        if n:
            from faiss.contrib.ivf_tools import add_preassigned

            add_preassigned(index, np.ascontiguousarray(x[:, NOT_KEY]), np.asarray(keys, np.int64))
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(DIM, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = EF_CONSTRUCTION
        index.hnsw.efSearch = EF_SEARCH
        if n:
            faiss.omp_set_num_threads(os.cpu_count() or 1)  # building is a batch job: use every core
            try:
                index.add(x)
            finally:
                faiss.omp_set_num_threads(1)
    else:
        raise ValueError(f"unknown index kind {kind!r} ({', '.join(KINDS)})")
    return PhraseIndex(index, kind, generation, n)


def index_paths(db_path: Path) -> tuple[Path, Path]:
    return db_path.with_name(db_path.name + ".faiss"), db_path.with_name(db_path.name + ".faiss.json")


def open_index(store: Store, table: PhraseTable | None = None, kind: str = "auto",
               rebuild: bool = False) -> tuple[PhraseIndex, PhraseTable]:
    """The index for `store`'s phrases: loaded if fresh, else rebuilt and saved beside the database."""
    import faiss

    faiss.omp_set_num_threads(1)
    table = table if table is not None else store.phrase_table()
    path, meta_path = index_paths(store.path)
    if not rebuild:
        try:
            meta = json.loads(meta_path.read_text())
            fresh = (meta.get("generation") == table.generation and meta.get("count") == len(table)
                     and meta.get("layout") == LAYOUT_VERSION and kind in ("auto", meta.get("kind")))
            if fresh:
                index = faiss.read_index(str(path))
                if index.ntotal == len(table) and index.d == (len(NOT_KEY) if meta["kind"] == "keys" else DIM):
                    if meta["kind"] == "keys":
                        index.nprobe = 24
                    return PhraseIndex(index, meta["kind"], table.generation, len(table)), table
        except (OSError, ValueError, RuntimeError, KeyError):
            pass  # missing, unreadable or from another version: rebuild
    built = build(phrase_vectors(table), table.generation, kind, table.key)
    with contextlib.suppress(OSError, RuntimeError):  # a read-only folder: the index stays in memory
        save(built, store.path)
    return built, table


def save(index: PhraseIndex, db_path: Path) -> None:
    """Write index then metadata, each through a temporary name, so readers never see half a file."""
    import faiss

    path, meta_path = index_paths(db_path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    faiss.write_index(index.index, str(tmp))
    os.replace(tmp, path)
    tmp_meta = meta_path.with_name(f".{meta_path.name}.{os.getpid()}.tmp")
    tmp_meta.write_text(json.dumps({"generation": index.generation, "count": index.count, "kind": index.kind,
                                    "layout": LAYOUT_VERSION, "dim": DIM}))
    os.replace(tmp_meta, meta_path)
