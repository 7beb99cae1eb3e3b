"""The grid with two models' scores: it sorts and filters by either, a tile's tooltip shows both, and
the "Second look" filter keeps the photos the models rank far apart, most disagreement first."""
from PySide6.QtCore import Qt

from conftest import settled, write_photos


def test_grid_sorts_by_either_model_and_shows_the_second_look(qtbot, make_window, settings, engine, tmp_path):
    from app.storage import repo
    from app.ui.photo_model import Roles

    folder = tmp_path / "Shots"
    paths = write_photos(folder, 6)
    root = repo.add_root(engine, folder)
    repo.add_files(engine, [repo.NewFile(root.id, str(p), p.stat().st_size, p.stat().st_mtime_ns, None, None)
                            for p in paths])
    ids = {p.path: p.id for p in repo.list_photos(engine, include_missing=True)}
    v25 = [5.1, 5.2, 5.3, 5.4, 5.5, 5.6]
    laion = [7.5, 4.0, 5.0, 6.0, 7.0, 2.0]  # photo 0: worst by V2.5, best by LAION; photo 5 the other way
    for i, p in enumerate(paths):
        repo.save_scores(engine, [repo.Analysis(ids[str(p)], "siglip+head:aaaa", "fp32", v25[i], None, None)])
        repo.save_scores(engine, [repo.Analysis(ids[str(p)], "laion-v2:clip+head:bbbb", "fp32", laion[i], None, None)])

    window = make_window(settings)  # not started: nothing is scanned or scored over these scores
    window.reload()
    settled(qtbot, window.model)
    names = lambda: [window.model.index(r).data(Qt.ItemDataRole.DisplayRole)  # noqa: E731
                     for r in range(window.model.rowCount())]
    scores = lambda: [window.model.index(r).data(Roles.Score) for r in range(window.model.rowCount())]  # noqa: E731
    assert names() == [paths[i].name for i in (5, 4, 3, 2, 1, 0)]  # V2.5, best first
    tip = window.model.index(0).data(Qt.ItemDataRole.ToolTipRole)
    assert "V2.5 5.60" in tip and "LAION V2 2.00" in tip

    with qtbot.waitSignal(window.model.reloaded, timeout=10_000):
        window.filters.model.setCurrentIndex(window.filters.model.findData("laion-v2"))
    assert names() == [paths[i].name for i in (0, 4, 3, 2, 1, 5)]  # LAION V2, best first
    assert scores() == sorted(laion, reverse=True)
    with qtbot.waitSignal(window.model.reloaded, timeout=10_000):
        window.filters.min_score.setValue(6.0)  # the filter reads LAION's scores too
    assert names() == [paths[0].name, paths[4].name, paths[3].name]
    with qtbot.waitSignal(window.model.reloaded, timeout=10_000):
        window.filters.min_score.setValue(-0.1)

    with qtbot.waitSignal(window.model.reloaded, timeout=10_000):
        window.filters.model.setCurrentIndex(window.filters.model.findData("second look"))
    assert sorted(names()) == sorted([paths[0].name, paths[5].name])  # both a full rank apart
    with qtbot.waitSignal(window.model.reloaded, timeout=10_000):
        window.filters.model.setCurrentIndex(window.filters.model.findData("v2.5"))
    assert window.model.rowCount() == 6


def test_the_grid_shows_the_score_of_the_model_setting(qtbot, make_window, tmp_path, tiny_model):
    from conftest import make_settings

    window = make_window(make_settings(tmp_path, model="laion-v2", **tiny_model))
    assert window.filters.model.currentData() == "laion-v2" and window.query.model == "laion-v2"
    assert window.filters.query().model == "laion-v2"
    with qtbot.waitSignal(window.model.reloaded, timeout=10_000):
        window.settings_ui.apply_settings({"model": "v2.5"}, save=False)
    assert window.filters.model.currentData() == "v2.5" and window.model.query.model == "v2.5"
