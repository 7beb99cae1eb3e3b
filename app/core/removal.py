"""Move photos to the system trash or a rejects folder, and put them back byte for byte.

Nothing here ever overwrites a file: every move either lands on a free name or fails with the
source left where it was. send2trash doesn't say where a file went, so the trashed file is found
again through the freedesktop.org trash's ``info/*.trashinfo`` records (Linux and other XDG
desktops; on macOS and Windows only the rejects folder can be undone).
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import secrets
import shutil
import stat
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote_to_bytes

import send2trash

logger = logging.getLogger(__name__)

_CHUNK = 1024 * 1024
_INFO_SUFFIX = ".trashinfo"


@dataclass(frozen=True)
class Moved:
    """Where a photo went, and the hash that proves a later restore puts back the same bytes."""

    source: Path
    destination: Path
    sha256: str


class RemovalError(Exception):
    """A move or restore that was refused or failed; the message is meant for the user."""


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def trash_dir_for(path: Path) -> Path:
    """The XDG trash send2trash uses for `path` (mirrors send2trash.plat_other)."""
    path = Path(os.path.abspath(path))
    home = os.path.realpath(os.path.expanduser("~"))
    if _device(_nearest_existing(path)) == _device(Path(home)):
        return _home_trash()
    return _topdir_trashes(_mount_point(_nearest_existing(path)))[0]


def move_to_trash(path: Path, expected_sha256: str | None = None) -> Moved:
    """Send a photo to the system trash and return where it landed there."""
    source = _checked_source(path)
    if sys.platform in ("darwin", "win32"):
        raise RemovalError("Undoable trashing works on Linux only; use a rejects folder instead.")
    digest = file_sha256(source)
    if expected_sha256 is not None and digest != expected_sha256:
        raise RemovalError(f"{source.name} changed since it was scanned, so it was not moved.")
    try:
        send2trash.send2trash(str(source))
    except OSError as error:
        raise RemovalError(f"Couldn't move {source} to the trash: {error}") from error
    found = find_in_trash(source, digest)
    if found is None:
        raise RemovalError(f"{source} was moved to the trash, but can't be found there to undo it.")
    return Moved(source, found, digest)


def move_to_folder(
    path: Path, rejects_dir: Path, library_root: Path | None = None, expected_sha256: str | None = None
) -> Moved:
    """Move a photo into `rejects_dir` (mirroring its folder under `library_root`), never overwriting."""
    source = _checked_source(path)
    folder = Path(os.path.abspath(rejects_dir))
    if library_root is not None:
        try:
            folder = folder / source.parent.relative_to(os.path.abspath(library_root))
        except ValueError:
            pass  # not inside the library: it goes straight into the rejects folder
    digest = file_sha256(source)
    if expected_sha256 is not None and digest != expected_sha256:
        raise RemovalError(f"{source.name} changed since it was scanned, so it was not moved.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for candidate in _free_names(folder, source.name):
            try:
                _move_without_overwrite(source, candidate, digest)
            except FileExistsError:
                continue  # taken since we looked: try the next suffix
            return Moved(source, candidate, digest)
    except OSError as error:
        raise RemovalError(f"Couldn't move {source} to {folder}: {error}") from error
    raise AssertionError("unreachable: _free_names never ends")


def restore(moved: Moved) -> Path:
    """Put a moved photo back where it was, refusing rather than overwriting or guessing."""
    source = moved.source
    if os.path.lexists(source):
        raise RemovalError(f"Can't put {source.name} back: {source} already exists; "
                           f"the removed photo stays at {moved.destination}.")
    where: Path | None = moved.destination
    if not moved.destination.is_file():
        # A repair may have recorded a trash name that send2trash later reused; search by content.
        where = find_in_trash(source, moved.sha256) if _trash_root(moved.destination) else None
        if where is None:
            raise RemovalError(
                f"Can't put {source.name} back: it is no longer at {moved.destination} "
                "(was the trash emptied or the file moved?)."
            )
    try:
        unchanged = file_sha256(where) == moved.sha256
    except OSError as error:
        raise RemovalError(f"Can't put {source.name} back: {where} can't be read ({error}).") from error
    if not unchanged:
        raise RemovalError(f"Can't put {source.name} back: {where} has different contents now; left it there.")
    try:
        source.parent.mkdir(parents=True, exist_ok=True)
        _move_without_overwrite(where, source, moved.sha256)
    except FileExistsError:
        raise RemovalError(f"Can't put {source.name} back: {source} already exists; "
                           f"the removed photo stays at {where}.") from None
    except OSError as error:
        raise RemovalError(f"Couldn't put {source.name} back: {error}") from error
    _forget_trash_record(where, source)
    return source


def prune_empty_folders(folder: Path, stop: Path) -> int:
    """Remove `folder` and its parents while they are empty, bottom up, stopping below `stop`
    (never removed itself); a folder with anything in it stops the climb. Returns how many went."""
    folder, stop = Path(os.path.abspath(folder)), Path(os.path.abspath(stop))
    if folder == stop or stop not in folder.parents:
        return 0
    removed = 0
    while folder != stop:
        try:
            os.rmdir(folder)  # refuses a folder that holds anything
        except OSError:
            break
        removed += 1
        folder = folder.parent
    return removed


def find_in_trash(source: Path, sha256: str) -> Path | None:
    """The newest file in the trash that came from `source` and has these bytes, if any."""
    source = Path(os.path.abspath(source))
    best: tuple[datetime, int, Path] | None = None
    for trash in _trash_candidates(source):
        info_dir = trash / "info"
        try:
            entries = list(os.scandir(info_dir))
        except OSError:
            continue
        for entry in entries:
            if not entry.name.endswith(_INFO_SUFFIX):
                continue
            record = _read_trashinfo(Path(entry.path), trash)
            if record is None or not _same_path(record[0], source):
                continue
            candidate = trash / "files" / entry.name[: -len(_INFO_SUFFIX)]
            try:
                if not candidate.is_file() or file_sha256(candidate) != sha256:
                    continue
                key = (record[1], entry.stat().st_mtime_ns, candidate)
            except OSError:
                continue
            if best is None or key[:2] > best[:2]:
                best = key
    return None if best is None else best[2]


# --- moving without overwriting ------------------------------------------------------------


def _checked_source(path: Path) -> Path:
    source = Path(os.path.abspath(path))
    if not os.path.lexists(source):
        raise RemovalError(f"{source} moved away or was deleted since it was scanned (by another cull or "
                           "program?), so there was nothing to move.")
    if source.is_symlink() or not source.is_file():
        raise RemovalError(f"{source} is not a regular file, so it was not moved.")
    return source


def _free_names(folder: Path, name: str) -> Iterator[Path]:
    """`name`, then "stem (1).ext", "stem (2).ext", ... that don't exist yet."""
    stem, suffix = os.path.splitext(name)
    n = 0
    while True:
        candidate = folder / (name if n == 0 else f"{stem} ({n}){suffix}")
        if not os.path.lexists(candidate):
            yield candidate
        n += 1


def _move_without_overwrite(source: Path, target: Path, digest: str) -> None:
    """Move `source` to `target`; FileExistsError when `target` is taken. The source survives any failure."""
    try:
        # link() refuses to replace an existing file, which rename() would silently do.
        os.link(source, target)
    except FileExistsError:
        raise
    except OSError as error:
        if error.errno == errno.EXDEV:
            _copy_across(source, target, digest)
            return
        # Hard links unsupported here (FAT, some network shares): check, then rename.
        if os.path.lexists(target):
            raise FileExistsError(errno.EEXIST, "File exists", str(target)) from None
        try:
            os.rename(source, target)
        except OSError as rename_error:
            if rename_error.errno != errno.EXDEV:
                raise
            _copy_across(source, target, digest)
        return
    try:
        os.unlink(source)
    except OSError:
        os.unlink(target)  # same inode as the source, so this only undoes the link
        raise


def _copy_across(source: Path, target: Path, digest: str) -> None:
    """Move between filesystems: copy, check, then delete the source only once the copy is safe."""
    temp = _temp_name(target, ".part")
    try:
        shutil.copy2(source, temp)
        with open(temp, "rb+") as f:
            os.fsync(f.fileno())
        if file_sha256(temp) != digest:
            raise OSError(errno.EIO, f"the copy of {source.name} doesn't match the original")
        try:
            os.link(temp, target)
        except FileExistsError:
            raise
        except OSError:
            if os.path.lexists(target):
                raise FileExistsError(errno.EEXIST, "File exists", str(target)) from None
            os.replace(temp, target)
        _fsync_dir(target.parent)
    finally:
        temp.unlink(missing_ok=True)
    try:
        os.unlink(source)
    except OSError:
        os.unlink(target)  # the original is still there; don't leave a second copy behind
        raise


def _own_pid() -> int:
    return os.getpid()


def _temp_name(target: Path, suffix: str) -> Path:
    """A short hidden name beside `target` for a file being written: short, so a photo whose own
    name is near the 255-byte limit can still move; with our process id, so a later start can tell
    a copy that a killed process left from one another process is still writing."""
    return target.with_name(f".aesthete-{_own_pid()}-{secrets.token_hex(4)}{suffix}")


_TEMP = re.compile(r"^\.aesthete-(\d+)-[0-9a-f]{8}\.part$")


def sweep_partial_copies(folder: Path, names: Iterable[str] = ()) -> int:
    """Delete the partial copies a killed move left under `folder` (the rejects folder of an
    interrupted removal): ours whose process is gone, and an older release's `.NAME.<hex>.part`
    for these photo names. A partial copy is never the only copy: the source is deleted only after
    the finished copy has its real name. Returns how many were deleted."""
    older = re.compile(r"^\.(%s)\.[0-9a-f]{8}\.part$" % "|".join(re.escape(n) for n in names)) if names else None
    swept = 0
    for dirpath, _dirs, files in os.walk(folder):
        for name in files:
            ours = _TEMP.match(name)
            if ours and _alive(int(ours.group(1))) or not ours and not (older and older.match(name)):
                continue
            path = Path(dirpath) / name
            try:
                if stat.S_ISREG(path.lstat().st_mode):
                    path.unlink()
                    swept += 1
                    logger.info("deleted the partial copy %s that an interrupted move left", path)
            except OSError as error:
                logger.warning("could not delete the partial copy %s: %s", path, error)
    return swept


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # another user's process: alive
    return True


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# --- finding things in the XDG trash -------------------------------------------------------


def _device(path: Path) -> int:
    return os.lstat(path).st_dev


def _mount_point(path: Path) -> Path:
    current = os.path.realpath(path)
    while not os.path.ismount(current):
        current = os.path.dirname(current)
    return Path(current)


def _nearest_existing(path: Path) -> Path:
    # A trashed photo's own path is gone; its folder (or an ancestor) is on the same device.
    while not os.path.lexists(path) and path.parent != path:
        path = path.parent
    return path


def _home_trash() -> Path:
    # Read at call time: send2trash reads XDG_DATA_HOME once at import. An empty value means
    # unset (XDG base directory spec).
    data_home = os.environ.get("XDG_DATA_HOME") or "~/.local/share"
    return Path(os.path.expanduser(data_home)) / "Trash"


def _topdir_trashes(topdir: Path) -> list[Path]:
    """The trash folders of a mounted volume, in the order send2trash prefers them."""
    uid = str(os.getuid())
    shared = topdir / ".Trash"
    try:
        usable = stat.S_ISDIR(os.lstat(shared).st_mode) and bool(os.lstat(shared).st_mode & stat.S_ISVTX)
    except OSError:
        usable = False
    private = topdir / f".Trash-{uid}"
    if usable and ((shared / uid).is_dir() or os.access(shared, os.W_OK)):
        return [shared / uid, private]
    return [private, shared / uid]


def _trash_candidates(source: Path) -> list[Path]:
    # send2trash falls back to the home trash when a volume's trash is on another device, and
    # gio (which send2trash prefers when installed) may choose differently: look in all of them.
    found: list[Path] = []
    for trash in [trash_dir_for(source), _home_trash(), *_topdir_trashes(_mount_point(_nearest_existing(source)))]:
        if trash not in found and (trash / "info").is_dir():
            found.append(trash)
    return found


def _topdir_of(trash: Path) -> Path:
    """The folder a trash's relative Path= entries are relative to."""
    if trash.name.startswith(".Trash-"):
        return trash.parent
    if trash.parent.name == ".Trash":
        return trash.parent.parent
    return trash.parent  # home trash: $XDG_DATA_HOME


def _read_trashinfo(info: Path, trash: Path) -> tuple[Path, datetime] | None:
    """(original path, deletion date) from a .trashinfo record, or None if it can't be read."""
    try:
        lines = info.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    original: Path | None = None
    deleted = datetime.min
    for line in lines:
        key, _, value = line.partition("=")
        if key.strip() == "Path":
            # Path= is percent-encoded bytes; fsdecode matches how Python names undecodable files.
            raw = Path(os.fsdecode(unquote_to_bytes(value.strip())))
            original = raw if raw.is_absolute() else _topdir_of(trash) / raw
        elif key.strip() == "DeletionDate":
            try:
                deleted = datetime.strptime(value.strip(), "%Y-%m-%dT%H:%M:%S")
            except ValueError:
                pass
    return None if original is None else (original, deleted)


def _same_path(a: Path, b: Path) -> bool:
    if os.path.normpath(a) == os.path.normpath(b):
        return True
    # One side may have been recorded through a symlinked folder.
    return a.name == b.name and os.path.realpath(a.parent) == os.path.realpath(b.parent)


def _trash_root(file: Path) -> Path | None:
    trash = file.parent.parent
    if file.parent.name == "files" and (trash / "info").is_dir():
        return trash
    return None


def _forget_trash_record(restored_from: Path, source: Path) -> None:
    """Delete the .trashinfo of a file just taken out of the trash, if it is that file's record."""
    trash = _trash_root(restored_from)
    if trash is None:
        return
    info = trash / "info" / (restored_from.name + _INFO_SUFFIX)
    record = _read_trashinfo(info, trash)
    # Only a record naming this photo: a folder that merely looks like a trash is left alone.
    if record is not None and _same_path(record[0], source):
        try:
            info.unlink()
        except OSError as error:
            logger.warning("Restored %s but couldn't remove its trash record %s: %s", source, info, error)
