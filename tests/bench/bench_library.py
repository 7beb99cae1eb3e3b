"""Library scale benchmark: 100,000 photos in the cache and on disk.

Measures, on a synthetic tree of small files with synthetic rows (no model involved):
the first scan that indexes the tree, a rescan of the unchanged tree (goal: under 10 s), and the
queries behind the views: open (first page), sort by score/date/name, filter by score range,
folder and status (goal: each under 200 ms), and grouping for best shots.

    python tests/bench/bench_library.py [--photos 100000]
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def timed(label: str, fn, goal_ms: float | None = None):
    t0 = time.perf_counter()
    out = fn()
    ms = (time.perf_counter() - t0) * 1000
    verdict = "" if goal_ms is None else ("  ok" if ms < goal_ms else f"  OVER the {goal_ms:.0f} ms goal")
    print(f"{label:48s} {ms:10.1f} ms{verdict}", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=int, default=100_000)
    ap.add_argument("--keep", action="store_true", help="keep the temp tree")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="aesthete-lib-bench-"))
    os.environ["AESTHETE_HOME"] = str(work / "home")
    from sqlalchemy import text

    from app import curation
    from app.config import settings as settings_mod
    from app.library import scan_folders
    from app.storage import browse, db, repo

    tree = work / "Pictures"
    n = args.photos
    t0 = time.perf_counter()
    for i in range(n):
        folder = tree / f"{2000 + i // 10000}" / f"{(i // 500) % 20:02d}"
        if i % 500 == 0:
            folder.mkdir(parents=True, exist_ok=True)
        (folder / f"IMG_{i:06d}.jpg").write_bytes(i.to_bytes(4, "little"))
    print(f"# made {n} files in {time.perf_counter() - t0:.1f} s under {tree}")
    settings = settings_mod.load(work / "settings.toml")
    engine = db.open_db(work / "library.sqlite3")
    timed("first scan (index 100k new files)", lambda: scan_folders(engine, settings, [tree]))
    rng = random.Random(1)
    with engine.begin() as conn:  # synthetic analysis results
        ids = [r[0] for r in conn.execute(text("SELECT id FROM photos"))]
        conn.execute(text("UPDATE photos SET score = :s, captured_at = :t, width = 4000, height = 3000, "
                          "scene_hash = :h, sharpness = 300, brightness = 0.5, clipped_highlights = 0, "
                          "crushed_shadows = 0, noise = 1, analysis_version = 2 WHERE id = :id"),
                     [{"id": i, "s": rng.uniform(1, 8), "t": 1.7e9 + i * rng.uniform(0.2, 600),
                       "h": rng.getrandbits(63)} for i in ids])
    engine.dispose()
    engine = timed("open the library database", lambda: db.open_db(work / "library.sqlite3"), 200)
    summary = timed("rescan of the unchanged tree", lambda: scan_folders(engine, settings), 10_000)
    report = next(iter(summary.reports.values()))
    print(f"#   unchanged {report.unchanged}, new {report.new}, changed {report.changed}")
    # What the views run: every matching id in order, then the rows of the first screenful.
    def view(**kw):
        ids = browse.photo_ids(engine, browse.PhotoQuery(**kw))
        browse.photos_by_id(engine, ids[:200])
        return ids

    ids = timed("view: open, sorted by score", lambda: view(), 200)
    assert len(ids) == n
    for sort in ("date", "name", "size"):
        timed(f"view: sort by {sort}", lambda: view(sort=sort), 200)
    timed("view: filter score 5.5..10", lambda: view(min_score=5.5), 200)
    timed("view: filter one folder (5,000 photos)", lambda: view(under=str(tree / "2003")), 200)
    timed("view: filter unscored", lambda: view(status="unscored"), 200)
    timed("view: filter rating >= 1", lambda: view(min_rating=1), 200)
    timed("CLI list: all rows with details, by score", lambda: repo.list_photos(engine))
    timed("best-shot groups over the library", lambda: curation.load_groups(engine, settings))
    engine.dispose()
    if not args.keep:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
