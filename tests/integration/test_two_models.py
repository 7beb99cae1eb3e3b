"""Two models in one library: LAION V2's scores beside V2.5's, never in each other's way, and the
photos where the two disagree (by rank, not by raw value)."""
import json

import numpy as np
import pytest

from app.storage import db, repo, secondlook
from tests.conftest import scene
from tests.integration.test_cli import run


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(4):
        scene(10 + i).save(folder / f"p{i}.jpg")
    return folder


def listed(home, *extra):
    res = run(["list", "--json", *extra], home)
    assert res.returncode == 0, res.stderr
    return {json.loads(l)["path"].rsplit("/", 1)[-1]: json.loads(l) for l in res.stdout.decode().splitlines()}


def test_scan_with_the_second_model_keeps_the_first(photos, aesthete_home, tiny_encoder, head_file, tiny_clip,
                                                     laion_head_file):
    v25 = ["--encoder", tiny_encoder, "--head", head_file]
    laion = ["--model", "laion-v2", "--encoder", tiny_clip, "--head", laion_head_file]
    assert run(["scan", photos, *v25], aesthete_home).returncode == 0
    first = listed(aesthete_home)
    assert all(set(p["scores"]) == {"v2.5"} and p["score"] == p["scores"]["v2.5"] for p in first.values())

    res = run(["scan", photos, *laion], aesthete_home)
    assert res.returncode == 0, res.stderr
    assert "4 scored" in res.stderr.decode()
    both = listed(aesthete_home)
    for name, p in both.items():
        assert set(p["scores"]) == {"v2.5", "laion-v2"}
        assert p["score"] == first[name]["score"] == p["scores"]["v2.5"]  # the first score untouched
        assert p["model"] == first[name]["model"]
    as_laion = listed(aesthete_home, "--model", "laion-v2")
    assert all(p["score"] == p["scores"]["laion-v2"] and p["model"].startswith("laion-v2:")
               for p in as_laion.values())
    order = [n for n, _ in sorted(both.items(), key=lambda kv: -kv[1]["scores"]["laion-v2"])]
    res = run(["list", "--json", "--model", "laion-v2"], aesthete_home)
    assert [json.loads(l)["path"].rsplit("/", 1)[-1] for l in res.stdout.decode().splitlines()] == order
    low, next_low = sorted(p["scores"]["laion-v2"] for p in both.values())[:2]
    assert len(listed(aesthete_home, "--model", "laion-v2", "--max", str((low + next_low) / 2))) == 1

    # A rescan with either model keeps the other's scores; nothing is pending for a model that scored.
    assert run(["scan", "--rescore", photos, *v25], aesthete_home).returncode == 0
    again = listed(aesthete_home)
    assert all(again[n]["scores"]["laion-v2"] == both[n]["scores"]["laion-v2"] for n in both)
    res = run(["scan", photos, *laion], aesthete_home)
    assert "0 scored" in res.stderr.decode()
    assert listed(aesthete_home)["p0.jpg"]["score"] == again["p0.jpg"]["score"]

    res = run(["disagree", "--json", "--min-gap", "0", photos], aesthete_home)
    assert res.returncode == 0, res.stderr
    rows = [json.loads(l) for l in res.stdout.decode().splitlines()]
    assert len(rows) == 4 and [r["gap"] for r in rows] == sorted((r["gap"] for r in rows), reverse=True)
    assert all(r["scores"]["laion-v2"] == again[r["path"].rsplit("/", 1)[-1]]["scores"]["laion-v2"] for r in rows)


def test_disagree_without_second_scores_says_how(photos, aesthete_home, tiny_encoder, head_file):
    assert run(["scan", photos, "--encoder", tiny_encoder, "--head", head_file], aesthete_home).returncode == 0
    res = run(["disagree"], aesthete_home)
    assert res.returncode == 0 and res.stdout == b""
    assert "aesthete scan --model laion-v2" in res.stderr.decode()
    bad = run(["disagree", "--min-gap", "2"], aesthete_home)
    assert bad.returncode != 0 and "--min-gap" in bad.stderr.decode() and "Traceback" not in bad.stderr.decode()


def test_percentile_ranks_share_ties():
    assert secondlook.percentile_ranks(np.array([3.0, 1.0, 2.0])).tolist() == [1.0, 0.0, 0.5]
    assert secondlook.percentile_ranks(np.array([1.0, 1.0, 2.0, 3.0])).tolist() == [1 / 6, 1 / 6, 2 / 3, 1.0]
    assert secondlook.percentile_ranks(np.array([4.0])).tolist() == [0.0]


def test_disagreement_ranks_constructed_scores(tmp_path):
    """Scales differ (V2.5 near 5-6, LAION lower and wider): the raw gaps would rank every photo the
    same; ranks find the two photos the models place at opposite ends."""
    engine = db.open_db(tmp_path / "lib.db")
    root = repo.add_root(engine, tmp_path)
    v25 = [5.1, 5.2, 5.3, 5.4, 5.5, 5.6]
    laion = [3.0, 4.0, 5.0, 6.0, 7.0, 2.0]  # same order, except f5: best by V2.5, worst by LAION
    laion[0] = 7.5  # and f0: worst by V2.5, best by LAION
    files = [repo.NewFile(root.id, str(tmp_path / f"f{i}.jpg"), 100 + i, 1, None, None) for i in range(6)]
    repo.add_files(engine, files)
    ids = {p.path.rsplit("/", 1)[-1]: p.id for p in repo.list_photos(engine, include_missing=True)}
    for i in range(6):
        pid = ids[f"f{i}.jpg"]
        repo.save_scores(engine, [repo.Analysis(pid, "enc+head:aaaa", "fp32", v25[i], None, None)])
        repo.save_scores(engine, [repo.Analysis(pid, "laion-v2:clip+head:bbbb", "fp32", laion[i], None, None)])
    found = secondlook.disagreement(engine)
    assert [d.path.rsplit("/", 1)[-1] for d in found[:2]] == ["f0.jpg", "f5.jpg"]
    assert found[0].gap == pytest.approx(1.0) and found[1].gap == pytest.approx(1.0)
    assert found[0].ranks == {"v2.5": 0.0, "laion-v2": 1.0}
    assert all(d.gap == pytest.approx(0.0) for d in found[2:])  # the same place by both
    assert [d.path for d in secondlook.disagreement(engine, min_gap=0.5)] == [d.path for d in found[:2]]
    # The photo's own score stays V2.5's; the second model's lives beside it.
    photo = repo.list_photos(engine, paths=[str(tmp_path / "f0.jpg")])[0]
    assert photo.score == 5.1 and photo.score_model == "enc+head:aaaa"
    assert repo.list_photos(engine, model="laion-v2", paths=[str(tmp_path / "f0.jpg")])[0].score == 7.5
    assert secondlook.model_scores(engine, [photo.id]) == {photo.id: {"v2.5": 5.1, "laion-v2": 7.5}}
    engine.dispose()
