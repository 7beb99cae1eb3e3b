"""Whether a path lies in a folder: the one spelling of that test for every layer (plain Python,
no Qt, nothing from the rest of the app).

Paths are compared as written, after os.path.abspath: `/a/bc` is not in `/a/b`, a trailing
separator changes nothing, and `..` is folded. Symbolic links are not followed, because the
library records a photo under the path it was found at; a caller that means a link's target
(the scanner) passes os.path.realpath of both. Case counts on every system, as it does in the
database's path index (storage.query.under_folder compares the bytes), so the two never disagree.
"""
from __future__ import annotations

import os
from typing import Iterable, TypeVar

P = TypeVar("P", bound=str)


def folder_prefix(folder: str) -> str:
    """The folder with one separator at the end: what every path below it starts with."""
    folder = os.path.abspath(folder)
    return folder if folder.endswith(os.sep) else folder + os.sep  # "/" already ends with one


def is_under(path: str, folder: str, *, or_same: bool = True) -> bool:
    """True when path is below folder, or is the folder itself unless or_same is False."""
    path, folder = os.path.abspath(path), os.path.abspath(folder)
    if path == folder:
        return or_same
    return path.startswith(folder if folder.endswith(os.sep) else folder + os.sep)


def deepest_folder(path: str, folders: Iterable[P]) -> P | None:
    """Of these folders, the innermost one that holds path (or is path), or None."""
    return max((f for f in folders if is_under(path, f)), key=lambda f: len(os.path.abspath(f)), default=None)
