"""Keeping a cache folder bounded, one way for every cache (converted encoders, thumbnails).

A cache file's modification time says when it was last used (its reader marks it), so what was
not used for long, and past a size budget the least recently used, can go. Unfinished files are
left to their writer until they are clearly abandoned. Failures are only logged: a cache that
cannot be pruned is still a cache.
"""
from __future__ import annotations

import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pruned:
    removed: int
    freed: int  # bytes
    kept: int  # bytes left in the files looked at


def mark_used(path: Path) -> None:
    """Note that `path` was just read: pruning takes the least recently used first."""
    try:
        os.utime(path)
    except OSError:
        pass


def remove_abandoned(paths: Iterable[Path], age_s: float, now: float | None = None) -> int:
    """Remove unfinished files or folders untouched for age_s (their writer died with its
    process); younger ones belong to a writer at work and stay. Returns how many went."""
    now = time.time() if now is None else now
    removed = 0
    for path in paths:
        try:
            if now - path.stat().st_mtime <= age_s:
                continue
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed += 1
        except OSError as exc:
            log.info("could not remove %s: %s", path, exc)
    return removed


def prune(files: Iterable[Path], *, max_age_s: float | None = None, max_bytes: int | None = None,
          now: float | None = None, cancelled: Callable[[], bool] | None = None) -> Pruned:
    """Remove the finished cache files among `files` unused for max_age_s, then the least recently
    used until the rest hold at most max_bytes. A file replaced since it was looked at (its writer
    made it anew) stays."""
    now = time.time() if now is None else now
    seen: list[tuple[int, int, Path]] = []  # (mtime_ns, size, path)
    for path in files:
        try:
            st = path.stat()
        except OSError:
            continue  # gone meanwhile
        seen.append((st.st_mtime_ns, st.st_size, path))
    seen.sort()  # least recently used first
    total = sum(size for _, size, _ in seen)
    removed = freed = 0
    for mtime_ns, size, path in seen:
        old = max_age_s is not None and now - mtime_ns / 1e9 > max_age_s
        if not old and (max_bytes is None or total <= max_bytes):
            break  # the rest are newer and fit
        if cancelled is not None and cancelled():
            break
        try:
            if path.stat().st_mtime_ns != mtime_ns:
                continue  # used or written again since: no longer the oldest
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.info("could not remove %s: %s", path, exc)
            continue
        removed += 1
        freed += size
        total -= size
    if removed:
        log.info("cache pruned: %d files, %.1f MB freed, %.1f MB kept", removed, freed / 1e6, total / 1e6)
    return Pruned(removed, freed, total)
