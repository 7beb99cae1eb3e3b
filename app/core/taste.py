"""The user's own taste: a small model learned from their marks (stars, picks, rejects) on the
stored image embeddings, and how well it agrees with held-out marks beside the aesthetic score.

L2-regularised logistic regression (sklearn's default strength, C = 1) on the embeddings centred
and scaled to unit variance per dimension, fitted by L-BFGS (scipy): under a second on 10,000 marked
photos (tests/bench/bench_search.py). No torch: it trains in a worker while the GUI browses.
"""
from __future__ import annotations

import io
import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.errors import AestheteError

log = logging.getLogger(__name__)

MIN_EACH = 30  # marks of each kind before a model is learned: fewer say little about a taste
FOLDS = 5
FORMAT = "aesthete-taste/1"


def label(stars: int, flag: str) -> float | None:
    """1 kept (a pick, or 4-5 stars), 0 not (a reject, or 1-2 stars), None says nothing (3 stars)."""
    if flag == "reject":
        return 0.0
    if flag == "pick" or stars >= 4:
        return 1.0
    if 1 <= stars <= 2:
        return 0.0
    return None


@dataclass
class Fit:
    mean: np.ndarray  # (D,) subtracted before scaling
    scale: float  # features are (x - mean) * scale
    weights: np.ndarray  # (D,)
    bias: float

    def logits(self, x: np.ndarray) -> np.ndarray:
        return ((np.asarray(x, np.float32) - self.mean) * self.scale) @ self.weights + self.bias


def fit(x: np.ndarray, y: np.ndarray, c: float = 1.0) -> Fit:
    """Logistic regression: minimise sum(log loss) + |w|^2 / (2c) over standardised features
    z = (x - mean) * scale, computed on x itself (z is never built: two passes over x per step)."""
    from scipy.optimize import minimize

    x = np.ascontiguousarray(x, np.float32)
    y = np.asarray(y, np.float64)
    n, d = x.shape
    mean = x.mean(axis=0)
    flat = x.reshape(-1)
    spread = float(flat @ flat) / n - float(mean @ mean)
    scale = float(1.0 / max(np.sqrt(max(spread, 0.0) / d), 1e-8))
    sign = 2 * y - 1

    def loss(theta: np.ndarray):
        w = theta[:-1].astype(np.float32)
        shift = theta[-1] - scale * float(mean @ w)
        m = sign * (scale * (x @ w).astype(np.float64) + shift)
        value = np.logaddexp(0, -m).sum() + 0.5 * float(theta[:-1] @ theta[:-1]) / c
        g = -sign / (1 + np.exp(np.clip(m, -50, 50)))  # d loss / d logit
        grad = np.empty_like(theta)
        grad[:-1] = scale * (x.T @ g.astype(np.float32) - mean * float(g.sum())) + theta[:-1] / c
        grad[-1] = g.sum()
        return value, grad

    theta = minimize(loss, np.zeros(d + 1), jac=True, method="L-BFGS-B",
                     options={"maxiter": 200, "ftol": 1e-6}).x
    return Fit(mean, scale, theta[:-1].astype(np.float32), float(theta[-1]))


def _score_threshold(scores: np.ndarray, y: np.ndarray) -> float:
    """The aesthetic score above which a photo counts as kept that agrees best with these marks."""
    cuts = np.unique(scores)
    best, best_cut = -1.0, float(cuts[0]) if len(cuts) else 0.0
    order = np.argsort(scores)
    s, t = scores[order], y[order]
    kept_above = t[::-1].cumsum()[::-1]  # kept marks at or above each position
    dropped_below = np.concatenate([[0], (1 - t).cumsum()[:-1]])
    agree = kept_above + dropped_below
    for i in np.flatnonzero(np.r_[True, s[1:] != s[:-1]]):
        if agree[i] > best:
            best, best_cut = agree[i], float(s[i])
    return best_cut


@dataclass(frozen=True)
class Agreement:
    taste: float  # share of held-out marks the taste model agrees with
    score: float | None  # the same for the aesthetic score (its best threshold learned on the other folds)
    marks: int


def cross_validated(x: np.ndarray, y: np.ndarray, scores: np.ndarray | None = None, folds: int = FOLDS,
                    seed: int = 0) -> Agreement:
    """Held-out agreement in `folds` folds (stratified, seeded): the taste model's and, on the
    same photos, the aesthetic score's (NaN scores are left out of its share)."""
    y = np.asarray(y, np.float64)
    rng = np.random.default_rng(seed)
    fold_of = np.empty(len(y), np.int64)
    for cls in (0, 1):
        where = np.flatnonzero(y == cls)
        fold_of[rng.permutation(where)] = np.arange(len(where)) % folds
    taste_right = score_right = score_seen = 0
    for k in range(folds):
        test, train = fold_of == k, fold_of != k
        if not test.any():
            continue
        model = fit(x[train], y[train])
        taste_right += int(((model.logits(x[test]) > 0) == (y[test] > 0.5)).sum())
        if scores is not None:
            ok_train, ok_test = train & ~np.isnan(scores), test & ~np.isnan(scores)
            if ok_train.any() and ok_test.any():
                cut = _score_threshold(scores[ok_train], y[ok_train])
                score_right += int(((scores[ok_test] >= cut) == (y[ok_test] > 0.5)).sum())
                score_seen += int(ok_test.sum())
    return Agreement(taste_right / len(y), score_right / score_seen if score_seen else None, len(y))


class NotEnoughMarks(AestheteError):
    def __init__(self, kept: int, dropped: int):
        self.kept, self.dropped = kept, dropped
        need = [f"{MIN_EACH - n} more {what}" for n, what in ((kept, "kept (picks or 4-5 stars)"),
                                                              (dropped, "rejected (rejects or 1-2 stars)"))
                if n < MIN_EACH]
        super().__init__(f"the taste model needs {MIN_EACH} marked photos of each kind: "
                         f"{' and '.join(need)} (it has {kept} kept and {dropped} rejected)")


@dataclass
class TasteModel:
    """A learned taste: what it predicts, for which encoder's embeddings, and how well it did."""

    encoder_key: str
    fit: Fit
    agreement: Agreement
    kept: int
    dropped: int
    trained_at: float = field(default_factory=time.time)

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        """Taste of embeddings (N, D): 0 to 1, the chance the user keeps such a photo."""
        return 1 / (1 + np.exp(-np.clip(self.fit.logits(matrix), -50, 50)))

    @property
    def beats_score(self) -> bool:
        return self.agreement.score is None or self.agreement.taste > self.agreement.score

    def summary(self) -> str:
        a = self.agreement
        text = f"your taste model agrees with {a.taste:.0%} of your held-out choices"
        if a.score is not None:
            text += f", the aesthetic score with {a.score:.0%}"
        return text + f" ({a.marks} marks: {self.kept} kept, {self.dropped} rejected)"

    def to_bytes(self) -> bytes:
        meta = dict(format=FORMAT, encoder_key=self.encoder_key, scale=self.fit.scale, bias=self.fit.bias,
                    taste=self.agreement.taste, score=self.agreement.score, marks=self.agreement.marks,
                    kept=self.kept, dropped=self.dropped, trained_at=self.trained_at)
        buf = io.BytesIO()
        np.savez_compressed(buf, mean=self.fit.mean.astype(np.float32), weights=self.fit.weights.astype(np.float32),
                            meta=np.frombuffer(json.dumps(meta).encode(), np.uint8))
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "TasteModel":
        """Raises ValueError in plain words for a file that is not a taste model."""
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as f:
                meta = json.loads(bytes(f["meta"]).decode())
                mean, weights = f["mean"], f["weights"]
        except Exception:
            raise ValueError("not an Aesthete taste model file") from None
        if meta.get("format") != FORMAT or mean.shape != weights.shape or mean.ndim != 1 \
                or not np.isfinite(weights).all():
            raise ValueError("not an Aesthete taste model file (or one from a newer release)")
        return cls(meta["encoder_key"], Fit(mean, float(meta["scale"]), weights, float(meta["bias"])),
                   Agreement(float(meta["taste"]), meta["score"], int(meta["marks"])), int(meta["kept"]),
                   int(meta["dropped"]), float(meta["trained_at"]))


def learn(encoder_key: str, x: np.ndarray, y: np.ndarray, scores: np.ndarray | None = None) -> TasteModel:
    """A taste model from marked embeddings (y: 1 kept, 0 rejected); NotEnoughMarks below MIN_EACH of a kind."""
    kept, dropped = int((y > 0.5).sum()), int((y <= 0.5).sum())
    if kept < MIN_EACH or dropped < MIN_EACH:
        raise NotEnoughMarks(kept, dropped)
    agreement = cross_validated(x, y, scores)
    return TasteModel(encoder_key, fit(x, y), agreement, kept, dropped)


def saved_path() -> Path:
    """Where the learned taste model is kept: one small file in the user data folder."""
    from app.config import paths

    return paths.data_dir() / "taste.npz"


def load_saved(path: Path | None = None) -> TasteModel | None:
    """The saved taste model, or None (none learned yet; an unreadable file is logged and ignored)."""
    path = path or saved_path()
    try:
        return TasteModel.from_bytes(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("the taste model %s cannot be read (%s); it is ignored", path, exc)
        return None


def save(model: TasteModel, path: Path | None = None) -> Path:
    path = path or saved_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(model.to_bytes())
    os.replace(tmp, path)
    return path


def tie_breaker(embeddings: dict[int, np.ndarray]) -> dict[int, float]:
    """Each photo's taste for best picks, from the saved model, only while it agrees with held-out
    marks more often than the aesthetic score does (else empty: the score alone decides)."""
    model = load_saved()
    if model is None or not model.beats_score or not embeddings:
        return {}
    ids = [pid for pid, e in embeddings.items() if e is not None and e.shape == model.fit.weights.shape]
    if not ids:  # another encoder's embeddings (another model's scores): not this taste's space
        return {}
    values = model.predict(np.stack([embeddings[i] for i in ids]))
    return dict(zip(ids, values.tolist()))
