"""Search by words, more like this, the score histogram and the "My taste" sort in the window."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QAction

from conftest import make_settings, settled


@pytest.fixture
def scored(tmp_path, photos, full_siglip, head_file):
    """The photos scanned and scored (exact mode) with a whole tiny SigLIP into the test's library,
    and settings for that model."""
    from app import cli

    model = dict(encoder=str(full_siglip), head=str(head_file), precision="fp32", runtime="torch")
    assert cli.main(["scan", str(photos), "--db", str(tmp_path / "library.sqlite3"), "--device", "cpu",
                     *[x for k, v in model.items() for x in (f"--{k}", v)]]) == 1  # one broken file
    return make_settings(tmp_path, **model)


def _open(qtbot, make_window, settings):
    window = make_window(settings)
    window._show_page(True)
    window.show()
    qtbot.waitExposed(window)
    window.reload()
    settled(qtbot, window.model)
    return window


def test_search_box_ranks_by_match_keeps_the_filters_and_esc_clears_it(qtbot, make_window, scored, engine):
    from app.finding import Finder
    from app.storage import repo

    window = _open(qtbot, make_window, scored)
    everything = window.model.ids()
    assert len(everything) == 9
    window.findChild(QAction, "findAction").trigger()  # Ctrl+F
    box = window.finding.strip.box
    text = "a dog on the beach"
    expected = Finder(engine, scored).search(text).ids.tolist()
    assert len(expected) == 8  # every photo with an embedding (not the broken one)
    said = []
    window.finding.service.status.connect(said.append)
    qtbot.keyClicks(box, text)
    qtbot.keyClick(box, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.model.ids() == expected, timeout=60_000)
    assert said[0].startswith("Loading the text model") and said[-1] == ""  # the first search's load, shown
    assert not window.busy_bar.isVisible()
    assert "best match for" in window.statusBar().currentMessage()
    assert window.filters.order.text().endswith("best match first") and not window.filters.order.isEnabled()
    scores = {p.id: p.score for p in repo.list_photos(engine)}
    cut = sorted(scores[i] for i in expected)[4]
    window.filters.set_score_range(cut, None)  # the score filter applies to the matches, in match order
    cut = window.filters.min_score.value()  # as the box holds it (two decimals, rounded down)
    kept = [i for i in expected if scores[i] >= cut]
    found = [scores[i] for i in expected]
    assert 0 < len(kept) < len(expected) or max(found) - min(found) < 0.02  # a real cut, unless all scores meet
    qtbot.waitUntil(lambda: window.model.ids() == kept, timeout=10_000)
    window.filters.set_score_range(None, None)
    qtbot.waitUntil(lambda: window.model.ids() == expected, timeout=10_000)
    window.filters.rating.setCurrentIndex(1)
    window.filters.rating.setCurrentIndex(0)
    assert window.filters.order.text().endswith("best match first")  # still, after filters changed
    qtbot.keyClick(box, Qt.Key.Key_Escape)
    assert box.text() == ""
    qtbot.waitUntil(lambda: window.model.ids() == everything, timeout=10_000)
    assert window.filters.order.isEnabled() and "best first" in window.filters.order.text()


def test_more_like_this_puts_the_photo_first_then_its_nearest(qtbot, make_window, scored, engine):
    from app.finding import Finder
    from app.ui import keys

    window = _open(qtbot, make_window, scored)
    target = window.model.id_at(3)
    window.grid.setCurrentIndex(window.model.index(3))
    expected = Finder(engine, scored).similar(target).ids.tolist()
    window.findChild(QAction, "similarAction").trigger()  # M, and the grid's context menu
    qtbot.waitUntil(lambda: window.model.ids() == expected, timeout=30_000)
    assert expected[0] == target
    assert window.finding.strip.like.text().startswith("More like ")
    assert ("M", "More like this") in keys.help_rows("library")  # the help reads the key table
    window.finding.strip.like_clear.click()
    qtbot.waitUntil(lambda: len(window.model.ids()) == 9, timeout=10_000)


def test_clicking_a_histogram_bar_filters_to_its_scores(qtbot, make_window, scored, engine):
    from app.storage import repo

    window = _open(qtbot, make_window, scored)
    hist = window.finding.strip.histogram
    qtbot.waitUntil(lambda: hist.histogram is not None and sum(hist.histogram.counts) == 8, timeout=10_000)
    counts = hist.histogram.counts
    assert len(counts) == 40
    i = max(range(40), key=lambda k: counts[k])
    lo, hi = hist.histogram.edges(i)
    x = int((i + 0.5) * hist.width() / 40)
    qtbot.mouseClick(hist, Qt.MouseButton.LeftButton, pos=QPoint(x, hist.height() // 2))
    inside = {p.id for p in repo.list_photos(engine) if p.score is not None and lo <= p.score <= hi}
    qtbot.waitUntil(lambda: set(window.model.ids()) == inside, timeout=10_000)
    assert len(inside) >= counts[i] and hist.chosen == i
    window.filters.set_score_range(None, hi)  # changed by hand: the bar is no longer the filter
    assert hist.chosen is None
    qtbot.mouseClick(hist, Qt.MouseButton.LeftButton, pos=QPoint(x, hist.height() // 2))
    qtbot.waitUntil(lambda: set(window.model.ids()) == inside, timeout=10_000)
    qtbot.mouseClick(hist, Qt.MouseButton.LeftButton, pos=QPoint(x, hist.height() // 2))  # again: all
    qtbot.waitUntil(lambda: len(window.model.ids()) == 9, timeout=10_000)


def test_my_taste_sort_orders_by_the_learned_taste(qtbot, make_window, settings, engine, tmp_path):
    from app import finding
    from tests.integration.test_taste_cli import make_library

    make_library(tmp_path / "library.sqlite3", n=120, marks=100)
    window = _open(qtbot, make_window, settings)
    label = window.finding.strip.taste
    window.findChild(QAction, "learnTasteAction").trigger()
    qtbot.waitUntil(lambda: "agrees with" in label.text(), timeout=60_000)
    model = finding.load_taste()
    assert model is not None and model.beats_score  # (how well it recovers a taste: tests/unit/test_taste.py)
    expected = finding.taste_of(finding.Finder(engine, settings), model).ids.tolist()
    window.filters.set_sort("taste")
    qtbot.waitUntil(lambda: window.model.ids() == expected, timeout=10_000)
    window.filters.set_sort("score")
    qtbot.waitUntil(lambda: window.model.ids() != expected, timeout=10_000)


def test_too_few_marks_say_how_many_more(qtbot, make_window, settings, tmp_path):
    from tests.integration.test_taste_cli import make_library

    make_library(tmp_path / "library.sqlite3", n=40, marks=30)
    window = _open(qtbot, make_window, settings)
    window.finding.learn()
    qtbot.waitUntil(lambda: "more" in window.finding.strip.taste.text(), timeout=30_000)
    assert "30 marked photos of each kind" in window.finding.strip.taste.text()


def test_marking_photos_learns_the_taste_in_the_background(qtbot, make_window, settings, tmp_path):
    from app import finding
    from tests.integration.test_taste_cli import make_library

    make_library(tmp_path / "library.sqlite3", n=120, marks=100)
    window = _open(qtbot, make_window, settings)
    assert finding.load_taste() is None
    window.curation.mark([110], stars=5)  # as the 5 key does on a photo
    qtbot.waitUntil(lambda: "agrees with" in window.finding.strip.taste.text(), timeout=60_000)
    model = finding.load_taste()
    assert model is not None and model.agreement.marks == 101
