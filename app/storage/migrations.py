"""Schema migrations, one function per version. Each is frozen once released: never edit one,
add the next. Version N is reached by running MIGRATIONS[N - 1] on a database at version N - 1.
"""
from __future__ import annotations

from typing import Callable

from sqlalchemy.engine import Connection

V1 = """
CREATE TABLE roots (
	id INTEGER NOT NULL, 
	path BLOB NOT NULL, 
	added_at FLOAT NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (path)
);
CREATE TABLE photos (
	id INTEGER NOT NULL, 
	root_id INTEGER, 
	path BLOB NOT NULL, 
	folder BLOB NOT NULL, 
	name TEXT NOT NULL, 
	size INTEGER NOT NULL, 
	mtime_ns INTEGER NOT NULL, 
	content_hash VARCHAR, 
	width INTEGER, 
	height INTEGER, 
	captured_at FLOAT, 
	orientation INTEGER, 
	state VARCHAR NOT NULL, 
	companion BLOB, 
	analysis_version INTEGER NOT NULL, 
	rating INTEGER NOT NULL, 
	flag VARCHAR NOT NULL, 
	score FLOAT, 
	score_model VARCHAR, 
	first_seen FLOAT NOT NULL, 
	updated_at FLOAT NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(root_id) REFERENCES roots (id) ON DELETE CASCADE, 
	UNIQUE (path)
);
CREATE INDEX ix_photos_root ON photos (root_id);
CREATE INDEX ix_photos_hash ON photos (content_hash);
CREATE INDEX ix_photos_folder ON photos (folder);
CREATE INDEX ix_photos_score ON photos (score);
CREATE INDEX ix_photos_captured ON photos (captured_at);
CREATE TABLE scores (
	photo_id INTEGER NOT NULL, 
	model_key VARCHAR NOT NULL, 
	precision VARCHAR NOT NULL, 
	score FLOAT NOT NULL, 
	scored_at FLOAT NOT NULL, 
	PRIMARY KEY (photo_id, model_key, precision), 
	FOREIGN KEY(photo_id) REFERENCES photos (id) ON DELETE CASCADE
);
CREATE TABLE embeddings (
	photo_id INTEGER NOT NULL, 
	model_key VARCHAR NOT NULL, 
	vector BLOB NOT NULL, 
	PRIMARY KEY (photo_id, model_key), 
	FOREIGN KEY(photo_id) REFERENCES photos (id) ON DELETE CASCADE
);
CREATE TABLE errors (
	photo_id INTEGER NOT NULL, 
	kind VARCHAR NOT NULL, 
	reason TEXT NOT NULL, 
	at FLOAT NOT NULL, 
	PRIMARY KEY (photo_id), 
	FOREIGN KEY(photo_id) REFERENCES photos (id) ON DELETE CASCADE
);
"""

V2 = """
ALTER TABLE photos ADD COLUMN sharpness FLOAT;
ALTER TABLE photos ADD COLUMN clipped_highlights FLOAT;
ALTER TABLE photos ADD COLUMN crushed_shadows FLOAT;
ALTER TABLE photos ADD COLUMN brightness FLOAT;
ALTER TABLE photos ADD COLUMN noise FLOAT;
ALTER TABLE photos ADD COLUMN scene_hash INTEGER;
ALTER TABLE photos ADD COLUMN sidecar_mtime_ns INTEGER NOT NULL DEFAULT 0;
CREATE TABLE removals (
	id INTEGER NOT NULL,
	created_at FLOAT NOT NULL,
	target BLOB,
	state VARCHAR NOT NULL,
	PRIMARY KEY (id)
);
CREATE TABLE removal_files (
	id INTEGER NOT NULL,
	removal_id INTEGER NOT NULL,
	photo_id INTEGER,
	source BLOB NOT NULL,
	destination BLOB,
	sha256 VARCHAR NOT NULL,
	state VARCHAR NOT NULL,
	error TEXT,
	PRIMARY KEY (id),
	FOREIGN KEY(removal_id) REFERENCES removals (id) ON DELETE CASCADE,
	FOREIGN KEY(photo_id) REFERENCES photos (id) ON DELETE SET NULL
);
CREATE INDEX ix_removal_files_removal ON removal_files (removal_id);
"""

# The library view's natural orders (best, newest, largest first; names A-Z; ties by name) read
# straight from an index instead of sorting 100,000 rows per query. The score index also holds what
# the view's filters test, so the default view filters without the table; it replaces the plain
# score index (score is its first column). Descending where the order is, so a forward walk gives
# it. The date expression is spelled as app.storage.browse spells it.
V3 = """
DROP INDEX ix_photos_score;
CREATE INDEX ix_photos_score_view ON photos (score DESC, name, id, state, root_id, rating, flag);
CREATE INDEX ix_photos_date_view ON photos (coalesce(captured_at, mtime_ns / 1e9) DESC, name, id, state, root_id);
CREATE INDEX ix_photos_name_view ON photos (name, id, state, root_id);
CREATE INDEX ix_photos_size_view ON photos (size DESC, name, id, state, root_id);
"""


# Folders picks were exported to: scans skip them, as they skip rejects folders, so exported copies
# inside a library folder do not come back as duplicates of their originals (and cull candidates).
V4 = """
CREATE TABLE exports (
	path BLOB NOT NULL, 
	at FLOAT NOT NULL, 
	PRIMARY KEY (path)
);
"""


# Focus measured independently of exposure, the blur width at the sharpest part and the motion smear
# (analysis version 3 fills them; older rows are analysed again without the model).
V5 = """
ALTER TABLE photos ADD COLUMN focus FLOAT;
ALTER TABLE photos ADD COLUMN blur_px FLOAT;
ALTER TABLE photos ADD COLUMN motion_px FLOAT;
ALTER TABLE photos ADD COLUMN motion_angle FLOAT;
ALTER TABLE photos ADD COLUMN motion_ratio FLOAT;
ALTER TABLE photos ADD COLUMN exposedness FLOAT;
ALTER TABLE photos ADD COLUMN focus_tiles BLOB;
"""


# The faces found in a photo, their eyes and focus, as a FaceReport's JSON (analysis version 4 fills it
# when face checks are on; older rows are analysed again without the model).
V6 = """
ALTER TABLE photos ADD COLUMN faces TEXT;
"""


# How many prominent faces have their eyes closed, read from the faces column, for the grid's badge and
# filter; rows of version 6 get it from their stored faces without being analysed again (library).
V7 = """
ALTER TABLE photos ADD COLUMN closed_eyes INTEGER;
"""


def _run(script: str) -> Callable[[Connection], None]:
    def migrate(conn: Connection) -> None:
        for statement in script.split(";"):
            if statement.strip():
                conn.exec_driver_sql(statement)

    return migrate


MIGRATIONS: list[Callable[[Connection], None]] = [
    _run(V1),  # 1: roots, photos, scores, embeddings, errors
    _run(V2),  # 2: technical quality, scene hash, sidecar stamp, removal journal
    _run(V3),  # 3: the library view's order indexes
    _run(V4),  # 4: export folders
    _run(V5),  # 5: focus, blur width, motion smear
    _run(V6),  # 6: faces
    _run(V7),  # 7: closed eyes, counted
]
