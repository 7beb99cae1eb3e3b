"""The stored image embeddings of one encoder, read in bulk for search by words and by example,
and the marks the taste model learns from."""
from __future__ import annotations

import numpy as np
from sqlalchemy import Engine, func, select

from app.storage.db import reading
from app.storage.schema import embeddings, photos


def _of_encoder(encoder_key: str):
    # A model key is "<encoder key>+head:<sha>": every head on this encoder shares its embeddings.
    prefix = f"{encoder_key}+"
    return func.substr(embeddings.c.model_key, 1, len(prefix)) == prefix


def stamp(engine: Engine) -> tuple[int, int]:
    """Changes whenever an embedding is written or removed (a rewrite gets a new rowid); a few
    milliseconds at 100,000 photos, so every search can ask."""
    with reading(engine) as conn:
        n, top = conn.exec_driver_sql("SELECT count(*), coalesce(max(rowid), 0) FROM embeddings").one()
    return int(n), int(top)


def load(engine: Engine, encoder_key: str) -> tuple[np.ndarray, np.ndarray]:
    """(photo ids (N,), float16 embeddings (N, D)) of this encoder, one per photo, by id; present
    photos only (the views filter further)."""
    stmt = (select(embeddings.c.photo_id, embeddings.c.vector)
            .select_from(embeddings.join(photos, photos.c.id == embeddings.c.photo_id))
            .where(_of_encoder(encoder_key), photos.c.state != "missing", photos.c.state != "removed")
            .order_by(embeddings.c.photo_id))
    with reading(engine) as conn:
        compiled = stmt.compile(dialect=conn.dialect)
        args = [compiled.params[name] for name in (compiled.positiontup or ())]
        cursor = conn.connection.driver_connection.cursor()
        try:
            rows = cursor.execute(str(compiled), args).fetchall()
        finally:
            cursor.close()
    ids, blobs, seen = [], [], set()
    for pid, blob in rows:
        if pid not in seen:  # two heads on one encoder: the same embedding twice
            seen.add(pid)
            ids.append(pid)
            blobs.append(blob)
    if not ids:
        return np.zeros(0, np.int64), np.zeros((0, 0), np.float16)
    # bytearray: a writable buffer (torch takes the matrix as it is for the product)
    matrix = np.frombuffer(bytearray().join(blobs), dtype=np.float16).reshape(len(ids), -1)
    return np.asarray(ids, np.int64), matrix


def marks(engine: Engine) -> list[tuple[int, int, str, float | None, str | None]]:
    """(photo id, stars, flag, score, score model) of every present library photo the user marked."""
    from app.storage.query import IN_LIBRARY

    cond = [photos.c.state == "present", IN_LIBRARY, (photos.c.rating > 0) | (photos.c.flag != "")]
    with reading(engine) as conn:
        return [tuple(r) for r in conn.execute(
            select(photos.c.id, photos.c.rating, photos.c.flag, photos.c.score, photos.c.score_model)
            .where(*cond).order_by(photos.c.id))]


def model_key_of(engine: Engine, photo_id: int) -> str | None:
    """The model key of a photo's embedding (its latest score's model when it has several)."""
    with reading(engine) as conn:
        keys = [r[0] for r in conn.execute(select(embeddings.c.model_key).where(embeddings.c.photo_id == photo_id))]
        if not keys:
            return None
        latest = conn.execute(select(photos.c.score_model).where(photos.c.id == photo_id)).scalar()
    return latest if latest in keys else keys[0]
