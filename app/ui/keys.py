"""The one place that defines the window's keys: ACTIONS is what MainWindow builds its actions from
(text and shortcuts), VIEW_KEYS the keys a view handles itself; the keyboard help (F1, ?) lists both
for the view in front.
"""
from __future__ import annotations

import html
from typing import NamedTuple, Union

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QScrollArea, QVBoxLayout, QWidget

Key = Union[str, QKeySequence.StandardKey]

ALL = ("library", "viewer", "best", "compare", "cull")  # the views the help tells apart
VIEW_TITLES = {"library": "Library", "viewer": "Viewer", "best": "Best shots", "compare": "Compare",
               "cull": "Cull"}


class KeyAction(NamedTuple):
    name: str  # the QAction's objectName
    text: str  # its menu text
    keys: tuple[Key, ...]  # every shortcut, in order (a standard key may be empty on a desktop)
    views: tuple[str, ...] = ALL  # where the help lists it


_PHOTO = ("library", "viewer", "best", "cull")
ACTIONS: tuple[KeyAction, ...] = (
    KeyAction("addFolderAction", "&Add folder…", ()),
    KeyAction("rescanAction", "&Rescan folders", (QKeySequence.StandardKey.Refresh,)),
    # Preferences is empty on Linux desktops: Ctrl+, everywhere as well.
    KeyAction("settingsAction", "&Settings…", (QKeySequence.StandardKey.Preferences, "Ctrl+,")),
    KeyAction("quitAction", "&Quit", ("Ctrl+Q",)),
    KeyAction("viewAction", "&View", (), ("library",)),
    KeyAction("openAction", "&Open in default app", ("Ctrl+O",), _PHOTO),
    KeyAction("revealAction", "Show in &folder", ("Ctrl+Shift+O",), _PHOTO),
    *(KeyAction(f"rate{n}Action", "No stars" if n == 0 else "★" * n, (str(n),), _PHOTO) for n in range(6)),
    KeyAction("pickAction", "&Pick", ("P",), _PHOTO),
    KeyAction("rejectAction", "Re&ject", ("X",), _PHOTO),
    KeyAction("unflagAction", "&Clear pick/reject", ("U",), _PHOTO),
    KeyAction("copyPathAction", "Copy &path", ("Ctrl+Shift+C",), _PHOTO),
    KeyAction("similarAction", "&More like this", ("M",), ("library", "viewer")),
    KeyAction("findAction", "&Search by words", ("Ctrl+F",), ("library",)),
    KeyAction("zoomInAction", "&Larger tiles", (QKeySequence.StandardKey.ZoomIn,), ("library",)),
    KeyAction("zoomOutAction", "&Smaller tiles", (QKeySequence.StandardKey.ZoomOut,), ("library",)),
    KeyAction("libraryViewAction", "L&ibrary", ("Ctrl+1",)),
    KeyAction("bestViewAction", "&Best shots", ("Ctrl+2",)),
    KeyAction("cullViewAction", "&Cull", ("Ctrl+3",)),
    KeyAction("acceptAllAction", "&Accept all picks", ("Ctrl+Shift+A",), ("library", "viewer", "best", "cull")),
    KeyAction("compareAction", "Co&mpare frames", ("C",), ("best",)),
    KeyAction("removeRejectedAction", "&Remove rejected…", ()),
    KeyAction("undoRemovalAction", "&Undo removal", (QKeySequence.StandardKey.Undo,)),
    KeyAction("exportPicksAction", "&Export picks…", ("Ctrl+E",)),
    KeyAction("learnTasteAction", "&Learn my taste now", ()),
    KeyAction("exportTasteAction", "E&xport my taste…", ()),
    KeyAction("importTasteAction", "&Import a taste…", ()),
    KeyAction("resetTasteAction", "&Forget my taste…", ()),
    KeyAction("pauseAction", "&Pause", ("Ctrl+Shift+P",)),
    KeyAction("cancelAction", "&Stop for now", ()),
    KeyAction("errorsAction", "Photos that could not be &scored…", ()),
    KeyAction("downloadAction", "&Download the model", ()),
    KeyAction("chooseModelAction", "&Choose model files…", ()),
    KeyAction("keysHelpAction", "&Keyboard shortcuts", ("F1", "?")),
    KeyAction("aboutAction", "&About Aesthete", ()),
)
BY_NAME = {a.name: a for a in ACTIONS}

# Keys a view handles itself (its keyPressEvent), as the help shows them: (keys, what, view).
VIEW_KEYS: tuple[tuple[str, str, str], ...] = (
    ("Enter", "view the photo", "library"),
    ("Esc", "clear the search (in the search box)", "library"),
    ("← →", "previous or next photo", "viewer"),
    ("Space, Backspace", "next or previous photo", "viewer"),
    ("Esc", "back to the grid", "viewer"),
    ("↑ ↓", "previous or next group", "best"),
    ("← →", "previous or next frame", "best"),
    ("Enter, P", "make the frame its group's pick", "best"),
    ("Space", "mark the frame to compare with", "best"),
    ("Wheel, + −", "zoom both", "compare"),
    ("Z", "1:1", "compare"),
    ("F", "fit", "compare"),
    ("Drag, arrows", "pan both", "compare"),
    ("Esc", "back to the groups", "compare"),
    ("↑ ↓", "previous or next photo", "cull"),
)


# The one-line hint each view shows, read from the tables above: (reference, word). A reference is
# an action's name (its first key on this desktop; left out where it has none), a pair of action
# names (a range: "0–5"), or the keys of one of the view's VIEW_KEYS.
Ref = Union[str, tuple[str, str]]
HINTS: dict[str, tuple[tuple[Ref, str], ...]] = {
    "viewer": (("← →", "move"), (("rate0Action", "rate5Action"), "rate"), ("pickAction", "pick"),
               ("rejectAction", "reject"), ("Esc", "back"), ("keysHelpAction", "all keys")),
    "best": (("↑ ↓", "groups"), ("← →", "frames"), ("Enter, P", "pick"), ("Space", "mark"),
             ("compareAction", "compare"), ("keysHelpAction", "all keys")),
    "compare": (("Wheel, + −", "zoom both"), ("Drag, arrows", "pan both"), ("Z", "1:1"), ("F", "fit"),
                ("Esc", "back")),
    "cull": (("↑ ↓", "move"), ("pickAction", "pick"), ("rejectAction", "reject"), ("unflagAction", "unmark"),
             (("rate0Action", "rate5Action"), "stars"), ("undoRemovalAction", "undo removal"),
             ("keysHelpAction", "all keys")),
}


def _first_key(name: str) -> str:
    seqs = sequences(BY_NAME[name].keys)
    return key_text(seqs[0]) if seqs else ""


def hint_text(view: str) -> str:
    """The view's hint line ("↑ ↓ move · P pick · …") from the key tables: a key changed there is
    changed here; an action without a key on this desktop is left out."""
    parts = []
    for ref, word in HINTS[view]:
        if isinstance(ref, tuple):
            first, last = (_first_key(name) for name in ref)
            keys = f"{first}–{last}" if first and last else ""
        elif ref in BY_NAME:
            keys = _first_key(ref)
        elif any(k == ref and v == view for k, _, v in VIEW_KEYS):
            keys = ref
        else:
            raise KeyError(f"{ref!r} is neither an action nor a key of the {view} view")
        if keys:
            parts.append(f"{keys} {word}")
    return " · ".join(parts)


def sequences(keys: tuple[Key, ...]) -> list[QKeySequence]:
    """The shortcuts for these keys on this desktop: standard keys expanded, empty and repeated ones left out."""
    out: list[QKeySequence] = []
    for key in keys:
        found = QKeySequence.keyBindings(key) if isinstance(key, QKeySequence.StandardKey) else [QKeySequence(key)]
        for seq in found:
            if not seq.isEmpty() and seq not in out:
                out.append(seq)
    return out


def key_text(seq: QKeySequence) -> str:
    return seq.toString(QKeySequence.SequenceFormat.NativeText)


def help_rows(view: str) -> list[tuple[str, str]]:
    """(keys, what) for every shortcut of the view: the window's actions, then the view's own keys."""
    rows = []
    for a in ACTIONS:
        seqs = sequences(a.keys)
        if seqs and view in a.views:
            rows.append((", ".join(key_text(s) for s in seqs), a.text.replace("&", "").rstrip("…")))
    rows += [(keys, what) for keys, what, v in VIEW_KEYS if v == view]
    return rows


class KeysDialog(QDialog):
    """The keyboard help for one view."""

    def __init__(self, view: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("keysDialog")
        self.view = view
        self.setWindowTitle(f"Keyboard shortcuts — {VIEW_TITLES.get(view, view)}")
        self.rows = help_rows(view)
        body = "".join(f"<tr><td><b>{html.escape(k)}</b>&nbsp;&nbsp;</td><td>{html.escape(w)}</td></tr>"
                       for k, w in self.rows)
        self.label = QLabel(f"<table>{body}</table>", self)
        self.label.setObjectName("keysLabel")
        self.label.setTextFormat(Qt.TextFormat.RichText)
        scroll = QScrollArea(self)
        scroll.setWidget(self.label)
        scroll.setWidgetResizable(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(scroll, 1)
        layout.addWidget(buttons)
        self.resize(460, 520)

    def text(self) -> str:
        return "\n".join(f"{k}\t{w}" for k, w in self.rows)
