"""The same work unit on a real Dask LocalCluster with two worker processes, and on a local process pool:
every candidate comes back scored, each result is kept as it arrives, and a second pass skips them."""

from __future__ import annotations

from pathlib import Path

import pytest

from copilot.phrase_db.loader import folder_records
from copilot.phrase_db.rehearsals import Rehearsals
from copilot.rehearsal.candidate import RenderSettings
from copilot.rehearsal.runner import WorkerPool, draw, enumerate_candidates, run
from copilot.tests.fixtures_rehearse import KickTrack, write_kick_track


@pytest.fixture(scope="module")
def candidates(tmp_path_factory: pytest.TempPathFactory) -> list:
    crate = tmp_path_factory.mktemp("crate")
    write_kick_track(crate, KickTrack("Floor Filler", 55.0))
    write_kick_track(crate, KickTrack("Night Shift", 82.41, key="E minor"))
    found = enumerate_candidates(folder_records([crate]), ["bass_swap"], bars=8)
    assert len(found) == 2  # both orders of the pair
    return found


def test_a_local_cluster_of_two_workers_scores_every_candidate_and_results_stream_back(candidates, tmp_path) -> None:
    from distributed import Client, LocalCluster

    kept: list[dict] = []
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client, Rehearsals(tmp_path / "r.sqlite") as store:
        def keep(result: dict) -> None:
            kept.append(result)
            store.put(result)

        done = run(candidates, RenderSettings(), tmp_path, set(), keep, client=client)
        workers = {w for w in client.run(lambda: __import__("os").getpid()).values()}
        assert len(workers) == 2
        assert done.to_dict()["scored"] == 2 and done.failed == 0
        assert [r["key"] for r in kept] == [r["key"] for r in done.results]
        assert all(r["score"] > 50 and r["plot"] is None for r in kept)  # plots: for the best few, after
        again = run(candidates, RenderSettings(), tmp_path, store.known(r["key"] for r in kept), keep, client=client)
        assert again.skipped == 2 and not again.results
        # the best one drawn on the same cluster, after the ranking: its own task, the score it was ranked by
        best = max(kept, key=lambda r: r["score"])
        drawn = draw(candidates, store.results(), RenderSettings(), tmp_path, keep, 1, client=client)
        assert [r["key"] for r in drawn.results] == [best["key"]]
        assert drawn.results[0]["score"] == best["score"] and (tmp_path / drawn.results[0]["plot"]).is_file()


def test_two_local_worker_processes_give_the_same_scores_as_one(candidates, tmp_path: Path) -> None:
    """… and the drawing pass after the scoring runs on the same warm workers, not a pool of its own."""
    one = run(candidates[:1], RenderSettings(), tmp_path / "one", set(), lambda r: None, workers=1)
    with WorkerPool(2) as pool:
        two = run(candidates, RenderSettings(), tmp_path / "two", set(), lambda r: None, pool=pool)
        started, pids = pool.pool, pool.pids()
        drawn = draw(candidates, two.results, RenderSettings(), tmp_path / "two", lambda r: None, 2, pool=pool)
        assert pool.pool is started and pool.pids() == pids and len(pids) == 2
    assert two.to_dict()["scored"] == 2
    same = next(r for r in two.results if r["key"] == one.results[0]["key"])
    assert same["score"] == pytest.approx(one.results[0]["score"], abs=1e-6)  # deterministic: same render
    assert len(drawn.results) == 2 and all(r["plot"] for r in drawn.results)
    assert {r["worker"] for r in two.results} | {r["worker"] for r in drawn.results} <= pids


def test_candidates_that_stretch_the_same_track_the_same_way_go_to_one_worker_together(tmp_path: Path) -> None:
    """A key shift costs the worker seconds of Rubber Band for the incoming track, once per process: the
    candidates needing the same one are dealt out as one batch (A minor → B minor and D minor → B minor
    both shift B minor down two); those that stretch nothing go one by one, so the work still spreads."""
    from copilot.rehearsal.runner import batches, stretch_group

    for title, hz, key in (("Alpha", 55.0, "A minor"), ("Bravo", 61.7, "B minor"), ("Delta", 73.4, "D minor")):
        write_kick_track(tmp_path, KickTrack(title, hz, key=key))
    found = enumerate_candidates(folder_records([tmp_path]), ["bass_swap"], bars=8)
    settings = RenderSettings()
    todo = [(c, c.key(settings, 1)) for c in found]
    dealt = batches(todo, settings)
    assert sorted(k for b in dealt for _, k in b) == sorted(k for _, k in todo)  # each one once
    into_bravo = [b for b in dealt if any(c.in_track.title == "Bravo" for c, _ in b)]
    assert len(into_bravo) == 1 and {c.out_track.title for c, _ in into_bravo[0]} == {"Alpha", "Delta"}
    for batch in dealt:
        groups = {stretch_group(c, settings) for c, _ in batch}
        assert len(groups) == 1 and (None not in groups or len(batch) == 1)
    assert len(dealt[0]) == 2  # the largest first
    assert len(batches(todo * 5, settings, size=8)[0]) == 8  # never more than a batch's worth at once
