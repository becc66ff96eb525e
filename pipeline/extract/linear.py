"""Linear models over named sparse features, as the extractor runs them: NumPy only, loaded from small
`.npz` artefacts that `talkwatch train` writes (scikit-learn is needed to train them, not to run them)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from pipeline.extract.records import Features


@dataclass
class LinearModel:
    """Multinomial (several classes: softmax) or binary (one row of weights: sigmoid) logistic regression."""

    classes: list[str]
    index: dict[str, int]  # feature name -> column
    coef: np.ndarray  # (rows, features): one row for a binary model, one per class otherwise
    intercept: np.ndarray

    @property
    def binary(self) -> bool:
        return self.coef.shape[0] == 1

    @cached_property
    def _weights(self) -> dict[str, float]:
        """A binary model's weights by feature name (scoring a few short rows in Python beats NumPy's overhead)."""
        row = self.coef[0].tolist()
        return {k: row[j] for k, j in self.index.items()}

    def _scores(self, rows: list[Features]) -> np.ndarray:
        if self.binary:  # the same sums, in the same order, as the general case below
            weights, b = self._weights, float(self.intercept[0])
            out_b = []
            for feats in rows:
                acc = 0.0
                for k, v in feats.items():
                    w = weights.get(k)
                    if w is not None:
                        acc += w * v
                out_b.append(b + acc)
            return np.asarray(out_b, dtype=np.float64).reshape(-1, 1)
        where, cols, vals = [], [], []
        index = self.index
        for n, feats in enumerate(rows):
            for k, v in feats.items():
                j = index.get(k)
                if j is not None:
                    where.append(n)
                    cols.append(j)
                    vals.append(v)
        out = np.tile(self.intercept, (len(rows), 1)).astype(np.float64)
        if cols:
            contrib = self.coef[:, cols] * np.asarray(vals)
            for c in range(self.coef.shape[0]):
                out[:, c] += np.bincount(where, weights=contrib[c], minlength=len(rows))
        return out

    def predict_proba(self, rows: list[Features]) -> np.ndarray:
        """(n, classes) probabilities; a binary model gives the positive class's probability in column 0."""
        if not rows:
            return np.zeros((0, self.coef.shape[0]))
        s = self._scores(rows)
        if self.binary:
            return 1.0 / (1.0 + np.exp(-s))
        s -= s.max(axis=1, keepdims=True)
        e = np.exp(s)
        return e / e.sum(axis=1, keepdims=True)

    def save(self, path: Path) -> None:
        names = sorted(self.index, key=self.index.get)
        meta = json.dumps({"classes": self.classes, "features": names}, ensure_ascii=False, sort_keys=True)
        with path.open("wb") as fh:
            np.savez_compressed(fh, coef=self.coef.astype(np.float32), intercept=self.intercept.astype(np.float32),
                                meta=np.frombuffer(meta.encode("utf-8"), dtype=np.uint8))

    @classmethod
    def load(cls, path: Path) -> LinearModel:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(z["meta"].tobytes().decode("utf-8"))
            return cls(classes=meta["classes"], index={k: i for i, k in enumerate(meta["features"])},
                       coef=z["coef"].astype(np.float64), intercept=z["intercept"].astype(np.float64))


@dataclass
class Calibrator:
    """A monotone map from a raw score to the probability of being right (isotonic regression's steps)."""

    x: np.ndarray
    y: np.ndarray

    def __call__(self, score: float) -> float:
        if not len(self.x):
            return float(score)
        return float(np.interp(score, self.x, self.y))

    def save(self, path: Path) -> None:
        with path.open("wb") as fh:
            np.savez_compressed(fh, x=self.x.astype(np.float32), y=self.y.astype(np.float32))

    @classmethod
    def load(cls, path: Path) -> Calibrator:
        with np.load(path, allow_pickle=False) as z:
            return cls(x=z["x"].astype(np.float64), y=z["y"].astype(np.float64))
