"""The library's tables (SQLAlchemy Core). Paths are stored as bytes so any file name survives."""
from __future__ import annotations

import os

from sqlalchemy import (Column, Float, ForeignKey, Index, Integer, LargeBinary, MetaData, String,
                        Table, Text, desc)
from sqlalchemy.types import TypeDecorator


class PathBytes(TypeDecorator):
    """A filesystem path kept as its raw bytes (os.fsencode), so non-UTF-8 names round-trip."""

    impl = LargeBinary
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else os.fsencode(os.fspath(value))

    def process_result_value(self, value, dialect):
        return None if value is None else os.fsdecode(bytes(value))


metadata = MetaData()

roots = Table(
    "roots", metadata,
    Column("id", Integer, primary_key=True),
    Column("path", PathBytes, nullable=False, unique=True),
    Column("added_at", Float, nullable=False),
)

# state: present | missing (deleted from an online root) | offline (its root is unreachable)
#        | removed (moved to the trash or the rejects folder by Aesthete; undo brings it back)
photos = Table(
    "photos", metadata,
    Column("id", Integer, primary_key=True),
    Column("root_id", Integer, ForeignKey("roots.id", ondelete="CASCADE")),  # None: scored outside the library
    Column("path", PathBytes, nullable=False, unique=True),
    Column("folder", PathBytes, nullable=False),
    Column("name", Text, nullable=False),  # display name, for sorting
    Column("size", Integer, nullable=False),
    Column("mtime_ns", Integer, nullable=False),
    Column("content_hash", String),
    Column("width", Integer),
    Column("height", Integer),
    Column("captured_at", Float),  # EXIF capture time, epoch seconds with sub-seconds
    Column("orientation", Integer),
    Column("state", String, nullable=False, default="present"),
    Column("companion", PathBytes),  # the RAW file shot together with this JPEG
    Column("analysis_version", Integer, nullable=False, default=0),
    Column("rating", Integer, nullable=False, default=0),
    Column("flag", String, nullable=False, default=""),  # "" | pick | reject
    Column("score", Float),  # latest score of any model, kept here so sorting is one index
    Column("score_model", String),
    Column("first_seen", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    # technical quality (app.core.quality), filled by analysis version 2; sharpness is no longer
    # written (analysis version 3 measures focus instead), clipped_highlights and crushed_shadows
    # hold the share of the frame in clipped patches since version 3
    Column("sharpness", Float),
    Column("clipped_highlights", Float),
    Column("crushed_shadows", Float),
    Column("brightness", Float),
    Column("noise", Float),
    Column("scene_hash", Integer),  # 64-bit perceptual hash, stored signed
    Column("sidecar_mtime_ns", Integer, nullable=False, default=0),  # XMP marks read at this stamp
    # focus and blur measures (app.core.quality), filled by analysis version 3 (migration V5)
    Column("focus", Float),
    Column("blur_px", Float),
    Column("motion_px", Float),
    Column("motion_angle", Float),
    Column("motion_ratio", Float),
    Column("exposedness", Float),
    Column("focus_tiles", LargeBinary),
    # the faces found (app.core.faces.FaceReport as JSON), filled by analysis version 4 when face checks
    # are on (migration V6); NULL: not looked for (analysed before, or face checks were off)
    Column("faces", Text),
    # how many of the prominent faces have their eyes closed (app.core.faces.FaceReport.closed_eyes), for
    # the grid's badge and filter (migration V7); NULL: faces not looked for
    Column("closed_eyes", Integer),
    Index("ix_photos_folder", "folder"),
    Index("ix_photos_hash", "content_hash"),
    # The library view's natural orders, read without sorting (migration V3); the score one also
    # holds what the view's filters test. ix_photos_date_view is on an expression: see V3.
    Index("ix_photos_score_view", desc("score"), "name", "id", "state", "root_id", "rating", "flag"),
    Index("ix_photos_name_view", "name", "id", "state", "root_id"),
    Index("ix_photos_size_view", desc("size"), "name", "id", "state", "root_id"),
    Index("ix_photos_captured", "captured_at"),
    Index("ix_photos_root", "root_id"),
)

scores = Table(
    "scores", metadata,
    Column("photo_id", Integer, ForeignKey("photos.id", ondelete="CASCADE"), primary_key=True),
    Column("model_key", String, primary_key=True),
    Column("precision", String, primary_key=True),
    Column("score", Float, nullable=False),
    Column("scored_at", Float, nullable=False),
)

embeddings = Table(
    "embeddings", metadata,
    Column("photo_id", Integer, ForeignKey("photos.id", ondelete="CASCADE"), primary_key=True),
    Column("model_key", String, primary_key=True),
    Column("vector", LargeBinary, nullable=False),  # float16, L2-normalised
)

# The latest problem with a photo; cleared when the photo is analysed successfully.
errors = Table(
    "errors", metadata,
    Column("photo_id", Integer, ForeignKey("photos.id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String, nullable=False),  # error | unsupported
    Column("reason", Text, nullable=False),
    Column("at", Float, nullable=False),
)

# The removal journal: one row per "remove rejected" operation, written before any file moves.
removals = Table(
    "removals", metadata,
    Column("id", Integer, primary_key=True),
    Column("created_at", Float, nullable=False),
    Column("target", PathBytes),  # the rejects folder, or None for the system trash
    Column("state", String, nullable=False),  # planned | done | undone | partial
)

removal_files = Table(
    "removal_files", metadata,
    Column("id", Integer, primary_key=True),
    Column("removal_id", Integer, ForeignKey("removals.id", ondelete="CASCADE"), nullable=False),
    Column("photo_id", Integer, ForeignKey("photos.id", ondelete="SET NULL")),
    Column("source", PathBytes, nullable=False),
    Column("destination", PathBytes),
    Column("sha256", String, nullable=False),
    Column("state", String, nullable=False),  # planned | moved | restored | failed | skipped
    Column("error", Text),
)

# Folders picks were exported to (scans skip them).
exports = Table(
    "exports", metadata,
    Column("path", PathBytes, primary_key=True),
    Column("at", Float, nullable=False),
)
