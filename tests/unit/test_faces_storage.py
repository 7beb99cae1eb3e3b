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
