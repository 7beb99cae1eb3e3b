"""Faces in the library: stored beside the other measurements, looked for again without the encoder."""
import numpy as np

from app import library
from app.core.faces import Face, FaceReport
from app.core.scanner import scan
from app.storage import db, repo


def _library(tmp_path, n=3):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(n):
        (folder / f"p{i}.jpg").write_bytes(b"\xff\xd8" + bytes([i]) * 64)
    engine = db.open_db(tmp_path / "lib.sqlite3")
    root = repo.add_root(engine, str(folder))
    library.sync_root(engine, root, scan(str(folder)).entries)
    ids = {p.path.rsplit("/", 1)[1]: p.id for p in repo.pending(engine, "m", rescore=True)}
    return engine, ids


def test_faces_are_stored_and_looked_for_again_without_the_encoder(tmp_path):
    engine, ids = _library(tmp_path)
    report = FaceReport((Face(0.1, 0.2, 0.2, 0.3, 0.9, 0.8, 0.9, 1.5, 0.4, 120),), "abc")
    v = library.ANALYSIS_VERSION
    emb = np.ones(1152, np.float16)
    repo.save_scores(engine, [
        repo.Analysis(ids["p0.jpg"], "m", "fp32", 5.0, emb, None, v, {"faces": report.to_json()}),
        repo.Analysis(ids["p1.jpg"], "m", "fp32", 5.0, emb, None, v, {}),  # analysed with face checks off
        repo.Analysis(ids["p2.jpg"], "m", "fp32", 5.0, emb, None, v - 1, {}),  # analysed by the last release
    ])
    # Face checks off: only the older analysis is done again; on: the photo never looked at for faces
    # too, decoded again without the encoder.
    assert {(p.id, p.needs_score) for p in repo.pending(engine, "m", analysis_version=v)} == {(ids["p2.jpg"], False)}
    assert {(p.id, p.needs_score) for p in repo.pending(engine, "m", analysis_version=v, faces=True)} == {
        (ids["p1.jpg"], False), (ids["p2.jpg"], False)}
    rows = {r.id: r for r in repo.curation_rows(engine)}
    assert FaceReport.from_json(rows[ids["p0.jpg"]].faces) == report
    assert rows[ids["p1.jpg"]].faces is None
    assert FaceReport.from_json(rows[ids["p0.jpg"]].faces).eyes_closed


def test_a_later_analysis_with_face_checks_off_keeps_the_faces_found(tmp_path):
    engine, ids = _library(tmp_path, 1)
    report = FaceReport((Face(0.1, 0.2, 0.2, 0.3, 0.9, 0.1, 0.1, 1.5, 0.4, 120),), "abc")
    pid, v = ids["p0.jpg"], library.ANALYSIS_VERSION
    repo.save_scores(engine, [repo.Analysis(pid, "m", "fp32", 5.0, None, None, v, {"faces": report.to_json()})])
    repo.save_scores(engine, [repo.Analysis(pid, None, None, None, None, None, v, {})])
    assert FaceReport.from_json(repo.curation_rows(engine)[0].faces) == report


def _face(x: float, blink: float, w: float = 0.2) -> Face:
    return Face(x, 0.2, w, w, 0.9, blink, blink, 1.5, 0.4, 120)


def test_closed_eyes_are_counted_for_the_grid_filter_and_for_faces_stored_before_the_count(tmp_path):
    from sqlalchemy import text

    from app.storage.query import PhotoQuery

    engine, ids = _library(tmp_path, 4)
    v = library.ANALYSIS_VERSION
    blink = FaceReport((_face(0.1, 0.9), _face(0.5, 0.1), _face(0.8, 0.8)), "abc")  # two of three closed
    small_blink = FaceReport((_face(0.1, 0.1), _face(0.6, 0.9, w=0.05)), "abc")  # the blink is not prominent
    for name, report in (("p0.jpg", blink), ("p1.jpg", small_blink), ("p2.jpg", FaceReport((), "abc"))):
        repo.save_scores(engine, [repo.Analysis(ids[name], "m", "fp32", 5.0, None, None, v,
                                                {"faces": report.to_json(), "closed_eyes": report.closed_eyes})])
    counts = {p.name: p.closed_eyes for p in repo.list_photos(engine)}
    assert counts == {"p0.jpg": 2, "p1.jpg": 0, "p2.jpg": 0, "p3.jpg": None}  # p3: faces never looked for
    assert [p.name for p in repo.list_photos(engine, query=PhotoQuery(eyes_closed=True, library_only=False))] == ["p0.jpg"]

    # A library whose faces were stored before closed eyes were counted (schema 6): counted from the stored
    # faces when analysis next looks for work, without decoding; unreadable faces are looked for again.
    with engine.begin() as conn:
        conn.execute(text("UPDATE photos SET closed_eyes = NULL"))
        conn.execute(text("UPDATE photos SET faces = '{\"faces\": [{\"x\": 1}]}' WHERE name = 'p2.jpg'"))
    assert library.count_closed_eyes(engine) == 3
    counts = {p.name: p.closed_eyes for p in repo.list_photos(engine)}
    assert counts == {"p0.jpg": 2, "p1.jpg": 0, "p2.jpg": None, "p3.jpg": None}
    assert ids["p2.jpg"] in {p.id for p in repo.pending(engine, "m", analysis_version=v, faces=True)}
    assert library.count_closed_eyes(engine) == 0  # counted once
