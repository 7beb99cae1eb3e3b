"""A generated group-photo burst from real faces: real face crops (open and closed eyes, ../shared/real) pasted
into a real photo (../shared/photos) over several frames. For mechanics tests (face checks, best pick), not
for calibration: the faces are real, the scene is not."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

SHARED = Path(__file__).resolve().parents[2] / "shared"
CLOSED_EYES = SHARED / "real" / "faces_closed_eyes"
OPEN_EYES = SHARED / "real" / "faces_open_eyes_presumed"
BACKGROUND = SHARED / "photos" / "Garden.jpg"


def available() -> bool:
    return all(p.exists() for p in (CLOSED_EYES / "labels.csv", OPEN_EYES / "labels.csv", BACKGROUND))


def face_files(folder: Path) -> list[Path]:
    with open(folder / "labels.csv", newline="") as fh:
        # The labels list labels.csv itself too: only the photos.
        return [folder / row["filename"] for row in csv.DictReader(fh)
                if row["filename"].lower().endswith((".jpg", ".jpeg", ".png"))]


# Crops at least this wide (px) only: the smallest CEW crops are too coarse to read once pasted.
_MIN_CROP = 90


def _good_crops(folder: Path, count: int, skip: int = 0) -> list[Path]:
    chosen = [p for p in face_files(folder) if min(Image.open(p).size) >= _MIN_CROP]
    return chosen[skip: skip + count]


@dataclass
class BurstFrame:
    image: Image.Image
    closed: list[bool]  # per person, left to right: pasted with closed eyes
    blurred: list[bool]  # per person: pasted out of focus
    boxes: list[tuple[int, int, int, int]]  # where each face was pasted (x0, y0, x1, y1)


def group_burst(people: int = 3, frames: int = 3, face_share: float = 0.16,
                closed: dict[int, int] | None = None, blurred: dict[int, int] | None = None,
                background: Path = BACKGROUND, size: tuple[int, int] | None = None) -> list[BurstFrame]:
    """`frames` frames of the same `people`, in a row across `background`. Each person has an open-eye
    face; `closed` maps a frame index to the person who blinks in it (their face replaced by a real
    closed-eye face), `blurred` a frame index to the person whose face is out of focus (a 3 px blur).
    Faces are `face_share` of the frame's width; each frame shifts a few pixels as a handheld burst does.
    The default: frame 0 all open, frame 1 person 1 blinks, frame 2 person 2 blinks."""
    closed = {1: 1, 2: 2} if closed is None else closed
    blurred = blurred or {}
    bg = Image.open(background).convert("RGB")
    if size:
        bg = bg.resize(size, Image.Resampling.LANCZOS)
    opened = _good_crops(OPEN_EYES, people)
    shut = _good_crops(CLOSED_EYES, people)
    side = round(face_share * bg.width)
    mask = Image.new("L", (side, side), 0)
    ImageDraw.Draw(mask).ellipse((side * 0.04, side * 0.02, side * 0.96, side * 0.98), fill=255)
    mask = mask.filter(ImageFilter.GaussianBlur(side / 30))  # soft edge: no hard square for the detector
    out = []
    for f in range(frames):
        frame = bg.copy()
        dx, dy = 3 * f, 2 * (f % 2)
        boxes, is_closed, is_blurred = [], [], []
        for p in range(people):
            blink = closed.get(f) == p
            soft = blurred.get(f) == p
            face = Image.open((shut if blink else opened)[p]).convert("RGB").resize((side, side), Image.Resampling.LANCZOS)
            if soft:
                face = face.filter(ImageFilter.GaussianBlur(3))
            x = round((p + 0.5) * bg.width / people - side / 2) + dx
            y = round(bg.height * 0.35 - side / 2) + dy
            frame.paste(face, (x, y), mask)
            boxes.append((x, y, x + side, y + side))
            is_closed.append(blink)
            is_blurred.append(soft)
        out.append(BurstFrame(frame, is_closed, is_blurred, boxes))
    return out
