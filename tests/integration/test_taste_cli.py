"""`aesthete taste` and the taste field of `list --json`, on a library whose embeddings and marks
follow a known taste (no model is needed: the taste model learns from the stored embeddings)."""
from __future__ import annotations

import json
import time

import numpy as np
import pytest
from sqlalchemy import insert

from app import cli
from app.storage import db
from app.storage.schema import embeddings, photos, roots
from tests.unit.test_taste import marked

MODEL = "local:abc+head:def"


def make_library(path, n: int = 200, marks: int = 160):
    """n photos with embeddings; the first `marks` marked (4 stars or a reject) by a hidden taste."""
    x, y, _ = marked(n, seed=3)
    engine = db.open_db(path)
    now = time.time()
    with engine.begin() as conn:
        conn.execute(insert(roots).values(id=1, path="/photos", added_at=now))
        conn.execute(insert(photos), [dict(
            id=i + 1, root_id=1, path=f"/photos/p{i:03d}.jpg", folder="/photos", name=f"p{i:03d}.jpg", size=1,
            mtime_ns=0, score=5.0 + (i % 7) / 10, score_model=MODEL, state="present", first_seen=now, updated_at=now,
            rating=(4 if y[i] else 0) if i < marks else 0, flag="" if y[i] or i >= marks else "reject",
            analysis_version=4) for i in range(n)])
        conn.execute(insert(embeddings), [dict(photo_id=i + 1, model_key=MODEL, vector=x[i].astype(np.float16).tobytes())
                                          for i in range(n)])
    engine.dispose()
    return y


def test_taste_learns_lists_exports_imports_and_resets(tmp_path, capsys):
    library = tmp_path / "library.db"
    y = make_library(library)
    assert cli.main(["taste", "--json", "--db", str(library)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["marks"] == 160 and report["taste_agreement"] >= 0.85 and report["beats_score"]
    assert cli.main(["list", "--json", "--db", str(library)]) == 0
    rows = {r["path"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    unseen = [i for i in range(160, 200)]  # photos it was not taught on
    right = [(rows[f"/photos/p{i:03d}.jpg"]["taste"] > 0.5) == bool(y[i]) for i in unseen]
    assert np.mean(right) >= 0.85
    exported = tmp_path / "my-taste.npz"
    assert cli.main(["taste", "--export", str(exported), "--db", str(library)]) == 0
    assert exported.stat().st_size < 20_000
    assert cli.main(["taste", "--reset", "--db", str(library)]) == 0
    assert cli.main(["list", "--json", "--db", str(library)]) == 0
    assert all(json.loads(line)["taste"] is None for line in capsys.readouterr().out.splitlines())
    assert cli.main(["taste", "--import", str(exported), "--json", "--db", str(library)]) == 0
    assert json.loads(capsys.readouterr().out) == report
    (tmp_path / "junk.npz").write_bytes(b"junk")
    assert cli.main(["taste", "--import", str(tmp_path / "junk.npz"), "--db", str(library)]) == 2
    assert "not an Aesthete taste model" in capsys.readouterr().err


def test_too_few_marks_says_how_many_more(tmp_path, capsys):
    library = tmp_path / "library.db"
    make_library(library, n=60, marks=40)
    assert cli.main(["taste", "--db", str(library)]) == 2
    err = capsys.readouterr().err
    assert "needs 30 marked photos of each kind" in err and "more" in err


@pytest.mark.parametrize("command", [["taste", "--export", "x.npz"]])
def test_nothing_to_export_before_learning(tmp_path, capsys, command):
    assert cli.main([*command, "--db", str(tmp_path / "l.db")]) == 2
    assert "no taste model has been learned yet" in capsys.readouterr().err
