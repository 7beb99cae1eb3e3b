"""The thumbnail disk cache stays bounded: pruned by age and size at start-up, in the background,
through the same helper as the converted-encoder cache."""
from __future__ import annotations

import os
import threading
import time

import pytest

pytest.importorskip("PySide6")

from app.core import diskcache  # noqa: E402
from app.workers import thumbnails  # noqa: E402

DAY = 86400


def _cached(name: str, size: int, age_s: float) -> "os.PathLike":
    path = thumbnails.cache_folder() / name[:2] / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\xff" * size)
    stamp = time.time() - age_s
    os.utime(path, (stamp, stamp))
    return path


def test_old_and_least_recently_used_thumbnails_go_and_files_being_written_stay():
    unused = _cached("aa-unused.jpg", 100, 100 * DAY)  # older than the age limit
    lru = [_cached("bb-lru1.jpg", 400, 20 * DAY), _cached("cc-lru2.jpg", 400, 10 * DAY)]
    recent = [_cached("dd-recent.jpg", 400, 3600), _cached("ee-now.jpg", 400, 0)]
    writing = _cached("ff-photo.1234.tmp", 400, 5)  # a thumbnail being written now
    dead = _cached("ff-photo.999.tmp", 400, 2 * 3600)  # its writer died two hours ago

    pruned = thumbnails.prune_cache(max_bytes=900, max_age_s=90 * DAY)

    assert not unused.exists() and not any(p.exists() for p in lru) and not dead.exists()
    assert all(p.exists() for p in recent) and writing.exists()
    assert (pruned.removed, pruned.freed, pruned.kept) == (3, 900, 800)


def test_under_both_limits_nothing_goes():
    kept = [_cached("aa-one.jpg", 300, 80 * DAY), _cached("bb-two.jpg", 300, 0)]
    assert thumbnails.prune_cache(max_bytes=600, max_age_s=90 * DAY).removed == 0
    assert all(p.exists() for p in kept)


def test_a_cache_hit_marks_the_thumbnail_used(make_photo):
    photo = make_photo("p.jpg")
    st = photo.stat()
    key = thumbnails.ThumbKey(str(photo), st.st_size, st.st_mtime_ns, 128)
    thumbnails.make_thumbnail(key)
    cached = thumbnails.cache_file(key)
    month_ago = time.time() - 30 * DAY
    os.utime(cached, (month_ago, month_ago))
    assert not thumbnails.make_thumbnail(key).isNull()
    assert time.time() - cached.stat().st_mtime < DAY  # now among the most recently used


def test_the_loader_prunes_at_start_up_off_the_gui_thread(qtbot, monkeypatch):
    unused = _cached("aa-unused.jpg", 100, 100 * DAY)
    threads = []
    real_prune = diskcache.prune

    def prune(*args, **kwargs):
        threads.append(threading.current_thread())
        return real_prune(*args, **kwargs)

    monkeypatch.setattr(diskcache, "prune", prune)
    loader = thumbnails.ThumbnailLoader(threads=1)
    assert loader.pool.waitForDone(10_000)
    assert not unused.exists()
    assert threads and threads[0] is not threading.main_thread()
    loader.stop()
