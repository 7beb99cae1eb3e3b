"""Decode photos in a small thread pool while the model scores the previous batch.

Decoding, EXIF orientation and SigLIP preprocessing run in worker threads (Pillow releases the
GIL), feeding batches to the scorer in the order the photos were given. Each photo yields one
PhotoResult: a score and embedding, or the one-line reason it could not be scored.
"""
from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Generic, Iterable, Iterator, TypeVar

import numpy as np

from app.core import decode, preprocess
from app.errors import Cancelled, PhotoError

log = logging.getLogger(__name__)
K = TypeVar("K")


@dataclass
class StageTimes:
    """Seconds spent per stage, summed over photos (decode and preprocess run in parallel)."""

    decode: float = 0.0
    preprocess: float = 0.0
    encode: float = 0.0
    head: float = 0.0
    store: float = 0.0
    images: int = 0
    failed: int = 0
    wall: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def as_dict(self) -> dict[str, float]:
        return {k: v for k, v in self.__dict__.items() if k != "lock"}


@dataclass
class Prepared(Generic[K]):
    key: K
    path: Path
    decoded: decode.DecodedPhoto | None = None
    pixels: np.ndarray | None = None
    error: PhotoError | None = None
    extras: dict = field(default_factory=dict)


@dataclass
class PhotoResult(Generic[K]):
    key: K
    path: Path
    score: float | None = None
    embedding: np.ndarray | None = None
    decoded: decode.DecodedPhoto | None = None
    error: PhotoError | None = None
    extras: dict = field(default_factory=dict)


Extra = Callable[[decode.DecodedPhoto], dict]


def default_workers(device_type: str = "cpu") -> int:
    """Decode threads: on a CPU the encoder needs the cores, so a few; a GPU scores a batch of 32
    in a fraction of a second, so as many as the cores allow (up to 16) to keep it fed."""
    cores = os.cpu_count() or 2
    if device_type == "cpu":
        return max(1, min(4, cores - 1))
    return max(2, min(16, cores - 1))


def prepare(key: K, path: Path, min_side: int | None, extra: Extra | None, times: StageTimes | None,
            pixels_of: Callable = preprocess.pixel_values) -> Prepared[K]:
    """Read, decode and preprocess one photo; every failure is that photo's PhotoError."""
    t0 = time.perf_counter()
    try:
        decoded = decode.decode(path, min_side=min_side)
        t1 = time.perf_counter()
        pixels = pixels_of(decoded.image)
        extras = extra(decoded) if extra else {}
        t2 = time.perf_counter()
    except PhotoError as exc:
        return Prepared(key, path, error=exc)
    except MemoryError:
        return Prepared(key, path, error=PhotoError("not enough memory to decode this image"))
    except Exception as exc:  # a bug or an unexpected library error: this photo's error, logged
        log.exception("unexpected error reading %s", path)
        return Prepared(key, path, error=PhotoError(f"could not read the image ({type(exc).__name__}: {exc})"))
    if times is not None:
        with times.lock:  # several decoder threads add to the same counters
            times.decode += t1 - t0
            times.preprocess += t2 - t1
    decoded.image = None  # the pixels are preprocessed; keep memory flat
    return Prepared(key, path, decoded, pixels, extras=extras)


def prepared_stream(jobs: Iterable[tuple[K, Path]], workers: int, min_side: int | None,
                    cancel: threading.Event, extra: Extra | None = None,
                    times: StageTimes | None = None, ahead: int = 16,
                    pixels_of: Callable = preprocess.pixel_values) -> Iterator[Prepared[K]]:
    """Prepared photos in job order, decoding up to `ahead` photos in advance."""
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="decode")
    queue: deque[Future] = deque()
    it = iter(jobs)
    try:
        exhausted = False
        while True:
            while not exhausted and len(queue) < ahead and not cancel.is_set():
                try:
                    key, path = next(it)
                except StopIteration:
                    exhausted = True
                    break
                queue.append(pool.submit(prepare, key, Path(path), min_side, extra, times, pixels_of))
            if cancel.is_set():
                raise Cancelled()
            if not queue:
                return
            yield queue.popleft().result()
    finally:
        for fut in queue:
            fut.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


def score_stream(jobs: Iterable[tuple[K, Path]], get_scorer: Callable[[], "object"], batch_size: int,
                 workers: int, cancel: threading.Event, min_side: int | None = 768,
                 extra: Extra | None = None, times: StageTimes | None = None,
                 needs_model: Callable[[K], bool] | None = None,
                 pixels_of: Callable = preprocess.pixel_values) -> Iterator[PhotoResult[K]]:
    """Score photos in batches. The model is loaded (get_scorer) only when a photo needs it,
    so a run in which every photo fails to decode, or only needs extras, never loads it.

    One batch at a time runs on the model in an encoder thread while this generator's caller
    stores the previous batch's results and the decoder threads fill the next one, so a GPU is
    not left idle while the CPU does the rest."""
    times = times if times is not None else StageTimes()
    batch: list[Prepared[K]] = []
    start = time.perf_counter()
    encoder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="encode")
    in_flight: tuple[list[Prepared[K]], Future] | None = None

    def encode(scorer, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t0 = time.perf_counter()
        emb = scorer.embed(pixels)
        t1 = time.perf_counter()
        scores = scorer.head_scores(emb)
        vectors = emb.cpu().numpy().astype(np.float16)
        t2 = time.perf_counter()
        times.encode += t1 - t0
        times.head += t2 - t1
        return scores, vectors

    def submit() -> tuple[list[Prepared[K]], Future]:
        scorer = get_scorer()  # loaded (once) in the caller's thread, which owns the model
        pixels = np.stack([p.pixels for p in batch])
        for p in batch:
            p.pixels = None  # the stacked copy is what the encoder reads
        submitted = (list(batch), encoder.submit(encode, scorer, pixels))
        batch.clear()
        return submitted

    def results(done: tuple[list[Prepared[K]], Future]) -> Iterator[PhotoResult[K]]:
        prepared, future = done
        scores, vectors = future.result()  # re-raises Cancelled from the encoder thread
        for i, p in enumerate(prepared):
            times.images += 1
            score = float(scores[i])
            if not math.isfinite(score):
                # A NaN would break the database's NOT NULL, an infinity the JSON output: never a score.
                times.failed += 1
                log.warning("the model gave %s for %s", score, p.path)
                yield PhotoResult(p.key, p.path, decoded=p.decoded, extras=p.extras, error=PhotoError(
                    f"the model gave no usable score ({score}) for this photo; the model files may be "
                    "damaged, or this precision overflowed (try --precision fp32)"))
                continue
            yield PhotoResult(p.key, p.path, score, vectors[i], p.decoded, extras=p.extras)

    try:
        # Two batches decoded ahead keep the decoders busy while the caller stores; capped, since
        # a decoded photo holds about 1.8 MB.
        for prepared in prepared_stream(jobs, workers, min_side, cancel, extra, times,
                                        ahead=min(128, max(16, 2 * batch_size)), pixels_of=pixels_of):
            if prepared.error is not None:
                times.failed += 1
                yield PhotoResult(prepared.key, prepared.path, error=prepared.error)
                continue
            if needs_model is not None and not needs_model(prepared.key):
                yield PhotoResult(prepared.key, prepared.path, decoded=prepared.decoded, extras=prepared.extras)
                continue
            batch.append(prepared)
            if len(batch) >= batch_size:
                previous, in_flight = in_flight, submit()
                if previous is not None:
                    yield from results(previous)
        if batch and not cancel.is_set():
            previous, in_flight = in_flight, submit()
            if previous is not None:
                yield from results(previous)
        if in_flight is not None:
            previous, in_flight = in_flight, None
            yield from results(previous)
        if cancel.is_set():
            raise Cancelled()
    except Cancelled:
        # Stopped while decoding: the batch on the model may have finished; hand it on.
        if in_flight is not None:
            previous, in_flight = in_flight, None
            try:
                yield from results(previous)
            except Cancelled:
                pass
        raise
    finally:
        # Closed early or failed: the batch on the model stops at its next layer when cancelled.
        encoder.shutdown(wait=True, cancel_futures=True)
    times.wall += time.perf_counter() - start
