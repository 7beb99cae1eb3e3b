"""Walk a library root and list the photo files in it, the way a photo library sees a folder.

Hidden files and folders, trash folders, the rejects folder, sidecars and user globs are passed
over. A RAW file with a JPEG (or HEIC/TIFF/PNG) of the same stem is that photo's companion.
Folder links are followed once (loops are cut); broken links and loops are listed as errors.
"""
from __future__ import annotations

import errno
import fnmatch
import logging
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from app.core import formats
from app.pathutil import is_under

log = logging.getLogger(__name__)

TRASH_NAMES = frozenset({"$RECYCLE.BIN", "RECYCLER", "System Volume Information", "@eaDir", "#recycle",
                         "#snapshot", "lost+found"})


@dataclass(frozen=True)
class ScanEntry:
    path: str
    size: int
    mtime_ns: int
    companion: str | None = None  # the RAW shot together with this file
    error: str | None = None  # why the entry cannot be read at all (broken link, loop)
    unsupported: bool = False
    sidecar_mtime_ns: int = 0  # newest XMP sidecar of the photo or its companion (0: none)


@dataclass
class ScanResult:
    entries: list[ScanEntry] = field(default_factory=list)
    skipped_other: int = 0  # files without a photo extension, passed over quietly
    folder_errors: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # folders whose contents are unknown


def is_excluded(name: str, rel: str, globs: Iterable[str]) -> bool:
    if name.startswith("."):
        return True
    if name in TRASH_NAMES or name.lower() in ("trash", ".trashes"):
        return True
    return any(fnmatch.fnmatch(name, g) or fnmatch.fnmatch(rel, g) for g in globs)


def _inside(link: str, root: str) -> bool:
    target = os.path.realpath(link)
    real_root = os.path.realpath(root)
    return is_under(target, real_root, or_same=False) and os.path.exists(target)


def _entry(path: str, name: str) -> ScanEntry:
    try:
        st = os.stat(path)
    except OSError as exc:
        try:
            lst = os.lstat(path)
            size, mtime = lst.st_size, lst.st_mtime_ns
        except OSError:
            size, mtime = 0, 0
        if exc.errno == errno.ELOOP:
            reason = "symbolic link loop"
        elif exc.errno == errno.ENOENT:
            reason = "broken symbolic link (its target does not exist)"
        else:
            reason = f"cannot read file information: {exc.strerror}"
        return ScanEntry(path, size, mtime, error=reason)
    if not stat.S_ISREG(st.st_mode):
        return ScanEntry(path, 0, st.st_mtime_ns, error="not a regular file")
    kind = formats.kind_of(os.path.splitext(name)[1])
    return ScanEntry(path, st.st_size, st.st_mtime_ns, unsupported=kind == "unsupported")


def _identity(folder: str) -> tuple[int, int] | None:
    try:
        st = os.stat(folder)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def scan(root: Path | str, exclude: Iterable[str] = (), skip_dirs: Iterable[Path | str] = ()) -> ScanResult:
    """List the photos under root (recursive); the root itself must exist."""
    root = os.path.abspath(os.fspath(root))
    globs = list(exclude)
    # Skipped folders are compared resolved and by identity, so a rejects folder reached through a
    # symbolic link (or a link to it inside the library) is the rejects folder.
    skip_paths = {os.path.realpath(os.fspath(p)) for p in skip_dirs}
    skip = {ident for ident in map(_identity, skip_paths) if ident}
    result = ScanResult()
    real_root = os.path.realpath(root)
    if any(is_under(real_root, s) for s in skip_paths):
        return result  # the watcher's look inside a rejects or export folder: nothing there is the library's
    seen_dirs: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            st = os.stat(folder)
            if (st.st_dev, st.st_ino) in seen_dirs:
                continue  # a link back to a folder we already walked
            seen_dirs.add((st.st_dev, st.st_ino))
            with os.scandir(folder) as it:
                children = list(it)
        except OSError as exc:
            result.folder_errors.append(f"{folder}: {exc.strerror or exc}")
            result.unreadable.append(folder)
            log.warning("cannot read folder %s: %s", folder, exc)
            continue
        files: dict[str, list[tuple[str, str]]] = {}
        sidecars: dict[str, int] = {}  # lower-case sidecar name -> mtime
        for child in children:
            rel = os.path.relpath(child.path, root)
            if is_excluded(child.name, rel, globs):
                continue
            try:
                is_dir = child.is_dir()  # follows links: loops are cut by seen_dirs
            except OSError:
                is_dir = False
            if is_dir:
                if _identity(child.path) not in skip:
                    stack.append(child.path)
                continue
            stem, ext = os.path.splitext(child.name)
            kind = formats.kind_of(ext)
            if kind == "other":
                if ext.lower() == ".xmp":
                    try:
                        sidecars[child.name.lower()] = child.stat().st_mtime_ns
                    except OSError:
                        pass
                elif ext.lower() not in formats.SIDECARS:
                    result.skipped_other += 1
                continue
            if child.is_symlink() and _inside(child.path, root):
                continue  # a link to a photo of this library: the photo itself is listed

            files.setdefault(stem.lower(), []).append((child.name, kind))
        for group in files.values():
            raws = [n for n, k in group if k == "raw"]
            partners = [n for n, k in group if k != "raw" and os.path.splitext(n)[1].lower() in formats.RAW_PARTNERS]
            for name, kind in group:
                if kind == "raw" and partners:
                    continue  # listed as the partner's companion
                entry = _entry(os.path.join(folder, name), name)
                companion = raws[0] if name in partners and raws else None
                stamps = [sidecars.get(f"{n}.xmp".lower(), 0) for n in (name, companion) if n]
                stamps.append(sidecars.get(f"{os.path.splitext(name)[0]}.xmp".lower(), 0))
                entry = ScanEntry(entry.path, entry.size, entry.mtime_ns,
                                  os.path.join(folder, companion) if companion else None,
                                  entry.error, entry.unsupported, max(stamps))
                result.entries.append(entry)
    result.entries.sort(key=lambda e: e.path)
    return result
