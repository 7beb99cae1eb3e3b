"""How the app words and colours things: scores, states, sizes, dates (shared by the views)."""
from __future__ import annotations

import html
import os
from datetime import datetime, timezone

from PySide6.QtGui import QColor

from app.storage.repo import Photo

STATUS_TEXT = {
    "scored": "scored",
    "unscored": "waiting for a score",
    "scoring": "being scored now",
    "failed": "could not be scored",
    "unsupported": "format not supported",
    "missing": "file missing",
    "offline": "folder offline",
}

# Badge colours: very good, fine, cull candidate, and the states without a score.
GOOD = QColor("#2e9d5b")
FAIR = QColor("#c49a1c")
POOR = QColor("#c8553d")
NEUTRAL = QColor("#6b7280")
SCORING = QColor("#3b82f6")
FAILED = QColor("#b91c1c")
PICK = QColor("#22c55e")
REJECT = QColor("#ef4444")
EYES_CLOSED = QColor("#d97706")  # amber: a warning, not a reject


def score_colour(score: float, good: float, cull: float) -> QColor:
    if score >= good:
        return GOOD
    if cull and score < cull:
        return POOR
    return FAIR


def verdict(score: float, good: float, cull: float) -> str:
    """What a score means against the user's thresholds, in words."""
    if score >= good:
        return f"very good (from {good:g})"
    if cull and score < cull:
        return f"cull candidate (below {cull:g})"
    return "fine"


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def waiting_text(n: int, scoring_off: bool) -> str:
    """The photos a view cannot judge yet, and why."""
    if scoring_off:
        return f"{plural(n, 'photo')} not analysed: scoring is off"
    return f"{plural(n, 'photo')} still waiting for analysis"


def nothing_yet(what: str, scoring_off: bool) -> str:
    """A view that is empty because photos are not analysed ("groups", "candidates")."""
    if scoring_off:
        return f"No {what} yet: scoring is off, so photos are not analysed. Set up the model (see above) to analyse them."
    return f"No {what} yet: photos are still being analysed."


def badge(status: str, score: float | None, good: float, cull: float) -> tuple[str, QColor]:
    """The text and colour of a tile's score badge."""
    if status == "scored" and score is not None:
        return f"{score:.1f}", score_colour(score, good, cull)
    return {
        "unscored": ("–", NEUTRAL),
        "scoring": ("…", SCORING),
        "failed": ("!", FAILED),
        "unsupported": ("?", NEUTRAL),
        "missing": ("missing", NEUTRAL),
        "offline": ("offline", NEUTRAL),
    }.get(status, ("–", NEUTRAL))


def size_text(n: int | None) -> str:
    if n is None:
        return "—"
    value = float(n)
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} bytes"


def date_text(epoch: float | None) -> str:
    if epoch is None:
        return "—"
    # Capture times are stored as if UTC when the camera gave no zone: show them as the camera did.
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def printable(path: str) -> str:
    return os.fsencode(path).decode("utf-8", "replace")


MODEL_TITLES = {"v2.5": "V2.5", "laion-v2": "LAION V2"}  # the scores' names in the window


def eyes_closed_text(faces: int) -> str:
    return "Eyes closed" + ("" if faces == 1 else f" on {faces} faces")


def tooltip(photo: Photo, status: str) -> str:
    lines = [f"<b>{html.escape(photo.name)}</b>"]
    if photo.scores and len(photo.scores) > 1:  # both models scored it: both are shown
        lines.append(" · ".join(f"{MODEL_TITLES.get(m, m)} {s:.2f}" for m, s in sorted(photo.scores.items())))
    elif photo.score is not None:
        lines.append(f"Score {photo.score:.2f}")
    if status != "scored":
        lines.append(STATUS_TEXT.get(status, status))
    if photo.error:
        lines.append(f"<span style='color:#b91c1c'>{html.escape(photo.error)}</span>")
    if photo.closed_eyes:
        lines.append(f"<span style='color:#b91c1c'>{eyes_closed_text(photo.closed_eyes)}</span>")
    if photo.width and photo.height:
        lines.append(f"{photo.width} × {photo.height}, {size_text(photo.size)}")
    lines.append(html.escape(printable(photo.folder)))
    return "<br>".join(lines)
