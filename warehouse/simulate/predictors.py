"""Prefetch predictors: how well a guess of a layer's experts, made before its router runs,
matches what the router then selects.

- prev-token: the experts this layer chose at the previous step;
- static: the layer's k most activated experts in training;
- transition: the k experts of layer l most often chosen, in training, together with the
  experts that layer l-1 chose at this step (score of e = sum over the experts a of layer l-1
  at this step of the training steps where layer l-1 chose a and layer l chose e);
- oracle: the truth.

Only experts with a positive count or score are predicted (ties to the lower expert id), so a
predictor may predict fewer than k experts, or nothing. A step and layer is scored when the
layer selected something and the predictor predicted something.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .sequence import AccessSequence

PREDICTORS = ("prev-token", "static", "transition", "oracle")
TRAINED = ("static", "transition")  # the predictors that learn from the training runs


@dataclass(frozen=True)
class PredictorScore:
    predictor: str
    n_predictions: int  # scored steps and layers
    recall: float | None  # mean |predicted & selected| / |selected|
    precision: float | None  # mean |predicted & selected| / |predicted|
    wasted_bytes: int | None  # bytes of predicted experts that were not selected, summed


def selection_grid(seq: AccessSequence) -> np.ndarray:
    """bool [step, layer, expert]: the experts each layer selected at each decode step."""
    grid = np.zeros((seq.n_steps, seq.n_layers, seq.n_experts), dtype=bool)
    grid[seq.steps, seq.items // seq.n_experts, seq.items % seq.n_experts] = True
    return grid


@dataclass(frozen=True)
class Training:
    """What the trained predictors learn from the training runs' selection grids."""

    counts: np.ndarray  # int64 [layer, expert]: activations
    transitions: np.ndarray  # int64 [layer, a, b]: steps where layer-1 chose a and layer chose b

    @classmethod
    def from_grids(cls, grids: list[np.ndarray], n_layers: int, n_experts: int) -> Training:
        counts = np.zeros((n_layers, n_experts), np.int64)
        trans = np.zeros((n_layers, n_experts, n_experts), np.int64)
        for g in grids:
            g = g.astype(np.int64)
            counts += g.sum(axis=0)
            if n_layers > 1:
                trans[1:] += np.einsum("tla,tlb->lab", g[:, :-1], g[:, 1:])
        return cls(counts, trans)


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """bool mask of the k highest positive scores along the last axis, ties to the lower index."""
    order = np.argsort(-scores, axis=-1, kind="stable")[..., :k]
    mask = np.zeros(scores.shape, dtype=bool)
    np.put_along_axis(mask, order, True, axis=-1)
    return mask & (scores > 0)


def predictions(predictor: str, grid: np.ndarray, k: int, training: Training | None) -> np.ndarray:
    """bool [step, layer, expert]: what ``predictor`` predicts for every step and layer."""
    n_steps, n_layers, n_experts = grid.shape
    if predictor == "oracle":
        return grid.copy()
    if predictor == "prev-token":
        pred = np.zeros_like(grid)
        pred[1:] = grid[:-1]
        return pred
    if training is None:
        raise ValueError(f"predictor {predictor} needs training data")
    if predictor == "static":
        return np.broadcast_to(_top_k(training.counts, k), grid.shape).copy()
    if predictor == "transition":
        scores = np.zeros(grid.shape, np.int64)
        if n_layers > 1:
            # score[t, l, b] = sum_a grid[t, l-1, a] * transitions[l, a, b]
            scores[:, 1:] = np.einsum("tla,lab->tlb", grid[:, :-1].astype(np.int64), training.transitions[1:])
        return _top_k(scores, k)
    raise ValueError(f"unknown predictor {predictor!r}; predictors: {', '.join(PREDICTORS)}")


def score(predictor: str, seq: AccessSequence, k: int, training: Training | None) -> PredictorScore:
    grid = selection_grid(seq)
    pred = predictions(predictor, grid, k, training)
    n_sel = grid.sum(axis=-1)
    n_pred = pred.sum(axis=-1)
    scored = (n_sel > 0) & (n_pred > 0)
    hit = (pred & grid).sum(axis=-1)
    n = int(scored.sum())
    if n == 0:
        return PredictorScore(predictor, 0, None, None, 0 if seq.sizes is not None else None)
    recall = float((hit[scored] / n_sel[scored]).mean())
    precision = float((hit[scored] / n_pred[scored]).mean())
    wasted = None
    if seq.sizes is not None:
        sizes = seq.sizes.reshape(seq.n_layers, seq.n_experts)
        waste = (pred & ~grid) & scored[..., None]
        wasted = int((waste * sizes[None]).sum())
    return PredictorScore(predictor, n, recall, precision, wasted)
