"""The grid's item model over a library made directly in storage: model checks, sort and filter
in SQL, marks, folder counts."""
from __future__ import annotations


import pytest
from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtTest import QAbstractItemModelTester

from app.errors import PhotoError
from app.core.scanner import ScanEntry
from app import library
from app.storage import browse, marks, repo
from app.ui.photo_model import PhotoListModel, Roles

ROOT = "/library"


def _library(engine, n: int = 40):
    """n photos in three folders; every 7th unscored, one failed, some rated and flagged."""
    root = repo.add_root(engine, ROOT)
    entries = []
    for i in range(n):
        folder = f"{ROOT}/{2020 + i % 3}" + ("/raw" if i % 5 == 0 else "")
        entries.append(ScanEntry(f"{folder}/img_{i:03d}.jpg", size=1000 + (i * 37) % 101, mtime_ns=10**18 + i * 10**9))
    library.sync_entries(engine, root.id, entries, ROOT)
    ids = {p.path: p.id for p in repo.list_photos(engine, sort="name", include_missing=True)}
    for i, e in enumerate(entries):
        pid = ids[e.path]
        if i == 3:
            repo.save_error(engine, pid, PhotoError("truncated file"))
        elif i % 7:
            repo.save_score(engine, pid, "test-model", "fp32", (i * 13) % 10 + 0.5, None, None)
    marks.set_rating(engine, [ids[entries[i].path] for i in (1, 2, 8)], 4)
    marks.set_rating(engine, [ids[entries[9].path]], 2)
    marks.set_flag(engine, [ids[entries[1].path]], "pick")
    marks.set_flag(engine, [ids[entries[2].path], ids[entries[10].path]], "reject")
    return entries, ids


def _scores(engine, ids):
    rows = browse.photos_by_id(engine, ids)
    return [rows[i].score for i in ids]


def _shown(qtbot, model, query=None):
    """Ask for the query (or the same one again) and wait until its rows are in the model."""
    with qtbot.waitSignal(model.reloaded, timeout=10_000):
        if query is None:
            model.reload()
        else:
            model.set_query(query)


def test_model_passes_the_item_model_tester(qtbot, qtmodeltester, engine):
    _library(engine)
    model = PhotoListModel(engine, None)
    tester = QAbstractItemModelTester(model, QAbstractItemModelTester.FailureReportingMode.Warning)
    _shown(qtbot, model, browse.PhotoQuery())
    assert model.rowCount() == 40
    _shown(qtbot, model, browse.PhotoQuery(status="unscored"))
    model.set_scoring([model.id_at(0)])
    model.photo_changed(model.id_at(1))
    with qtbot.waitSignal(model.dataChanged, timeout=2000):
        pass
    _shown(qtbot, model, browse.PhotoQuery(sort="name", under=f"{ROOT}/2021"))
    _shown(qtbot, model)  # the same rows again: their data is read again, no reset
    qtmodeltester.check(model)
    del tester


def test_roles_and_states(qtbot, engine):
    entries, ids = _library(engine)
    model = PhotoListModel(engine, None)
    _shown(qtbot, model, browse.PhotoQuery(sort="name"))
    failed = model.index(model.row_of(ids[entries[3].path]))
    assert failed.data(Roles.Status) == "failed"
    assert failed.data(Roles.Error) == "truncated file"
    waiting = model.index(model.row_of(ids[entries[0].path]))
    assert waiting.data(Roles.Status) == "unscored"
    with qtbot.waitSignal(model.dataChanged, timeout=2000):
        model.set_scoring([ids[entries[0].path]])
    assert waiting.data(Roles.Status) == "scoring"
    scored = model.index(model.row_of(ids[entries[1].path]))
    assert scored.data(Roles.Status) == "scored" and scored.data(Roles.Score) == pytest.approx(3.5)
    assert scored.data(Roles.Rating) == 4 and scored.data(Roles.Flag) == "pick"
    assert scored.data(Qt.ItemDataRole.DisplayRole) == "img_001.jpg"
    assert "img_001.jpg" in scored.data(Qt.ItemDataRole.ToolTipRole)


def test_query_runs_off_the_gui_thread_and_a_stale_answer_is_dropped(qtbot, engine, monkeypatch):
    import threading

    _library(engine)
    model = PhotoListModel(engine, None)
    threads = []
    first_asked, let_go = threading.Event(), threading.Event()
    real = browse.photo_ids

    def photo_ids(engine, query, cancelled=None):
        threads.append(threading.current_thread())
        if query.sort == "size":  # the query the user changed their mind about: it waits
            first_asked.set()
            assert let_go.wait(10)
        return real(engine, query, cancelled)

    monkeypatch.setattr(browse, "photo_ids", photo_ids)
    resets = []
    model.modelReset.connect(lambda: resets.append(model.query.sort))
    model.set_query(browse.PhotoQuery(sort="size"))
    assert first_asked.wait(10)
    assert model.is_loading() and model.rowCount() == 0  # the GUI thread goes on meanwhile
    model.set_query(browse.PhotoQuery(sort="name"))  # asked again before the first answer came
    let_go.set()
    with qtbot.waitSignal(model.reloaded, timeout=10_000):
        pass
    assert threading.main_thread() not in threads
    names = [model.index(r).data() for r in range(model.rowCount())]
    assert names == sorted(names) and len(names) == 40
    assert resets == ["name"]  # the size-sorted answer never reached the view
    assert not model.is_loading()


def test_a_cancelled_query_stops_and_leaves_the_connection_clean(engine, monkeypatch):
    _library(engine)
    asked = []

    def cancelled() -> bool:
        asked.append(1)
        return True

    monkeypatch.setattr(browse, "PROGRESS_STEPS", 10)  # ask at once, even on a small library
    assert browse.photo_ids(engine, browse.PhotoQuery(), cancelled=cancelled) is None
    assert asked
    # The connection goes back to the pool without the handler: the next query runs to the end.
    assert len(browse.photo_ids(engine, browse.PhotoQuery())) == 40


def test_selection_and_current_photo_survive_a_re_sort(qtbot, engine):
    from app.ui.delegate import TileDelegate
    from app.ui.grid import LibraryGrid

    _library(engine)
    model = PhotoListModel(engine, None)
    grid = LibraryGrid(model, TileDelegate(120))
    qtbot.addWidget(grid)
    grid.resize(800, 600)
    grid.show()
    _shown(qtbot, model, browse.PhotoQuery(sort="name"))
    grid.selectionModel().select(QItemSelection(model.index(2), model.index(5)),
                                 QItemSelectionModel.SelectionFlag.Select)
    grid.selectionModel().setCurrentIndex(model.index(4), QItemSelectionModel.SelectionFlag.NoUpdate)
    chosen = grid.selected_ids()
    current = model.id_at(4)
    assert len(chosen) == 4
    _shown(qtbot, model, browse.PhotoQuery(sort="size"))
    assert sorted(grid.selected_ids()) == sorted(chosen)
    assert grid.current_id() == current
    # A filter that hides some of them keeps the others.
    in_2020 = [pid for pid, p in browse.photos_by_id(engine, chosen).items() if "/2020/" in p.path]
    _shown(qtbot, model, browse.PhotoQuery(sort="size", under=f"{ROOT}/2020"))
    assert sorted(grid.selected_ids()) == sorted(in_2020)


def test_sort_orders(engine):
    _library(engine)
    by_score = browse.photo_ids(engine, browse.PhotoQuery(sort="score"))
    scores = _scores(engine, by_score)
    known = [s for s in scores if s is not None]
    assert known == sorted(known, reverse=True)
    assert scores.index(None) == len(known), "unscored photos come last"
    worst_first = _scores(engine, browse.photo_ids(engine, browse.PhotoQuery(sort="score", descending=False)))
    assert [s for s in worst_first if s is not None] == sorted(known)

    rows = browse.photos_by_id(engine, browse.photo_ids(engine, browse.PhotoQuery()))
    by_name = browse.photo_ids(engine, browse.PhotoQuery(sort="name"))
    assert [rows[i].name for i in by_name] == sorted(rows[i].name for i in by_name)
    by_size = browse.photo_ids(engine, browse.PhotoQuery(sort="size"))
    assert [rows[i].size for i in by_size] == sorted((rows[i].size for i in by_size), reverse=True)
    by_date = browse.photo_ids(engine, browse.PhotoQuery(sort="date", descending=False))
    assert [rows[i].mtime_ns for i in by_date] == sorted(rows[i].mtime_ns for i in by_date)


def test_filters(engine):
    entries, ids = _library(engine)
    q = browse.PhotoQuery()
    ranged = browse.photos_by_id(engine, browse.photo_ids(engine, q.with_(min_score=3, max_score=6)))
    assert ranged and all(3 <= p.score <= 6 for p in ranged.values())
    unscored = browse.photos_by_id(engine, browse.photo_ids(engine, q.with_(status="unscored")))
    assert unscored and all(p.score is None and p.error is None for p in unscored.values())
    failed = browse.photo_ids(engine, q.with_(status="failed"))
    assert failed == [ids[entries[3].path]]
    rated = set(browse.photo_ids(engine, q.with_(min_rating=3)))
    assert rated == {ids[entries[i].path] for i in (1, 2, 8)}
    assert browse.photo_ids(engine, q.with_(flag="pick")) == [ids[entries[1].path]]
    assert set(browse.photo_ids(engine, q.with_(flag="reject"))) == {ids[entries[i].path] for i in (2, 10)}
    assert len(browse.photo_ids(engine, q.with_(flag="unrejected"))) == 38
    in_folder = browse.photos_by_id(engine, browse.photo_ids(engine, q.with_(under=f"{ROOT}/2020")))
    assert in_folder and all(p.path.startswith(f"{ROOT}/2020/") for p in in_folder.values())
    assert any("/raw/" in p.path for p in in_folder.values()), "subfolders are included"
    assert not browse.photo_ids(engine, q.with_(under=f"{ROOT}/202"))  # a prefix is not a folder


def test_filter_bar_makes_the_query(qtbot, engine):
    from app.ui.filterbar import FilterBar

    bar = FilterBar()
    qtbot.addWidget(bar)
    with qtbot.waitSignal(bar.queryChanged) as sig:
        bar.sort.setCurrentIndex(bar.sort.findData("name"))
    assert sig.args[0].sort == "name" and sig.args[0].descending is False
    with qtbot.waitSignal(bar.queryChanged) as sig:
        bar.order.setChecked(True)
    assert sig.args[0].descending is True
    with qtbot.waitSignal(bar.queryChanged) as sig:
        bar.min_score.setValue(4.5)
    assert sig.args[0].min_score == 4.5 and sig.args[0].max_score is None
    with qtbot.waitSignal(bar.queryChanged) as sig:
        bar.show_combo.setCurrentIndex(bar.show_combo.findData("failed"))
    assert sig.args[0].status == "failed"
    with qtbot.waitSignal(bar.queryChanged) as sig:
        bar.rating.setCurrentIndex(3)
    assert sig.args[0].min_rating == 3


def test_counts_and_folders(engine):
    entries, ids = _library(engine)
    counts = browse.status_counts(engine)
    assert counts.total == 40 and counts.failed == 1
    assert counts.scored == sum(1 for i in range(40) if i != 3 and i % 7)
    assert counts.unscored == 40 - counts.scored - 1
    assert counts.picks == 1 and counts.rejects == 2
    folders = {c.folder: c.count for c in browse.folder_counts(engine)}
    assert sum(folders.values()) == 40
    assert folders[f"{ROOT}/2020/raw"] == sum(1 for i in range(40) if i % 3 == 0 and i % 5 == 0)


def test_marks_validate(engine):
    entries, ids = _library(engine, 12)
    one = [ids[entries[0].path]]
    with pytest.raises(ValueError):
        marks.set_rating(engine, one, 6)
    with pytest.raises(ValueError):
        marks.set_flag(engine, one, "maybe")
    assert marks.set_flag(engine, one, "pick") == 1
    assert marks.set_flag(engine, one, "") == 1
    assert marks.marks_of(engine, one)[0].flag == ""


def test_sidebar_tree_counts(qtbot, engine):
    from app.ui.sidebar import PATH_ROLE, Sidebar

    _library(engine)
    bar = Sidebar()
    qtbot.addWidget(bar)
    bar.show_counts(browse.root_paths(engine), browse.folder_counts(engine), 40)
    model = bar.model
    assert model.item(0).text().startswith("All photos") and "40" in model.item(0).text()
    root = model.item(1)
    assert root.data(PATH_ROLE) == ROOT and "(40)" in root.text()
    children = {root.child(r).data(PATH_ROLE): root.child(r).text() for r in range(root.rowCount())}
    assert set(children) == {f"{ROOT}/2020", f"{ROOT}/2021", f"{ROOT}/2022"}
    assert "(14)" in children[f"{ROOT}/2020"]  # its photos plus those in 2020/raw
    with qtbot.waitSignal(bar.folderSelected) as sig:
        bar.select_folder(f"{ROOT}/2021")
    assert sig.args == [f"{ROOT}/2021"]


def _shown_grid(qtbot, engine):
    """A grid on screen over the library, sorted by name, its rows in place."""
    from app.ui.delegate import TileDelegate
    from app.ui.grid import LibraryGrid

    model = PhotoListModel(engine, None)
    delegate = TileDelegate(120)
    grid = LibraryGrid(model, delegate)
    qtbot.addWidget(grid)
    grid.resize(800, 600)
    grid.show()
    qtbot.waitExposed(grid)
    _shown(qtbot, model, browse.PhotoQuery(sort="name"))
    return model, delegate, grid


def test_painted_tiles_are_reused_until_what_they_show_changes(qtbot, engine):
    entries, ids = _library(engine, 12)
    model, delegate, grid = _shown_grid(qtbot, engine)
    delegate.frame_budget_s = None  # every tile in the first frame
    first = grid.viewport().grab().toImage()
    painted = dict(delegate._painted)
    assert painted, "the tiles on screen were kept"
    assert grid.viewport().grab().toImage() == first  # painted again from what was kept
    assert all(delegate._painted[key] is pixmap for key, pixmap in painted.items())
    # A mark changes that tile only; the grid shows it.
    pid = model.id_at(0)
    marks.set_rating(engine, [pid], 5)
    model.photos_changed([pid])
    qtbot.waitUntil(lambda: not model.is_busy(), timeout=5000)
    assert model.index(0).data(Roles.Rating) == 5
    assert grid.viewport().grab().toImage() != first
    assert len(delegate._painted) == len(painted) + 1
    # A new palette (a dark theme) or tile size paints everything afresh.
    palette = grid.palette()
    palette.setColor(QPalette.ColorRole.Highlight, QColor("darkred"))
    grid.setPalette(palette)
    assert not delegate._painted
    grid.viewport().grab()
    assert delegate._painted
    delegate.set_tile(140)
    assert not delegate._painted


def test_a_frame_draws_new_tiles_briefly_and_the_next_frames_draw_the_rest(qtbot, engine):
    _library(engine, 30)
    model, delegate, grid = _shown_grid(qtbot, engine)
    delegate.frame_budget_s = None
    delegate.forget_painted()
    whole = grid.viewport().grab().toImage()
    on_screen = len(delegate._painted)
    assert on_screen > 3
    delegate.frame_budget_s = 0.0  # a machine so busy that each frame draws one new tile
    delegate.forget_painted()
    grid.viewport().repaint()
    assert delegate.deferred and len(delegate._painted) == 1
    qtbot.waitUntil(lambda: not delegate.deferred and len(delegate._painted) == on_screen, timeout=5000)
    assert grid.viewport().grab().toImage() == whole
