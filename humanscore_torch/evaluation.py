"""Scoring sequences with every available metric and turning the results into per-clip records.

The record layout is the stable ``results.json`` format of spec section 8: ``path``,
``num_frames``, ``fps``, ``scores`` (0-100 by overall, tier and metric key; ``None`` where a
metric was not computed), ``raw`` (per metric key: value and unit), ``error``.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence

import torch

from .body.model import BodyModel
from .functional.result import MetricResult
from .motion import MotionBatch
from .suite import METRIC_KEYS, TIERS, MetricFn, available_metrics

OVERALL_KEY = "humanscore"


def score_batch(
    batch: MotionBatch, body: BodyModel, metrics: Optional[Dict[str, MetricFn]] = None
) -> Dict[str, MetricResult]:
    """Run every metric on one batch (joints and vertices are posed once and shared).

    Args:
        batch: the sequences, already on the target device.
        body: the body model, on the same device.
        metrics: key -> metric function; all available metrics when None.

    Returns:
        metric key -> MetricResult with (B,) raw values and scores.
    """
    metrics = available_metrics() if metrics is None else metrics
    with torch.no_grad():
        return {key: fn(batch, body) for key, fn in metrics.items()}


def _mean_or_none(values: Iterable[Optional[float]]) -> Optional[float]:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def batch_records(batch: MotionBatch, results: Dict[str, MetricResult]) -> List[Dict[str, Any]]:
    """One results.json record per sequence of ``batch``.

    Tier score = mean of its computed metrics; overall = mean of the computed tiers. A metric
    that was not computed (or not implemented) is ``None`` and is left out of the means,
    visibly, never counted as 100.
    """
    records = []
    for i in range(batch.batch_size):
        scores: Dict[str, Optional[float]] = {key: None for key in METRIC_KEYS}
        raw: Dict[str, Optional[Dict[str, Any]]] = {key: None for key in METRIC_KEYS}
        for key, result in results.items():
            if bool(result.computed[i]):
                scores[key] = float(result.score[i])
                raw[key] = {"value": float(result.raw[i]), "unit": result.unit}
        tiers = {tier: _mean_or_none(scores[k] for k in keys) for tier, keys in TIERS.items()}
        meta = batch.metadata[i]
        records.append({
            "path": str(meta.get("path", meta.get("name", f"sequence_{i}"))),
            "num_frames": int(batch.lengths[i]),
            "fps": float(batch.fps[i]),
            "scores": {OVERALL_KEY: _mean_or_none(tiers.values()), **tiers, **scores},
            "raw": raw,
            "metadata": {k: v for k, v in meta.items() if isinstance(v, (str, int, float, bool))},
            "nonfinite_frames": int(batch.nonfinite_frames[i]),
            "error": None,
        })
    return records


def error_record(path: str, error: str) -> Dict[str, Any]:
    """The record of a clip that could not be scored."""
    return {"path": path, "num_frames": 0, "fps": None,
            "scores": {OVERALL_KEY: None, **{t: None for t in TIERS}, **{k: None for k in METRIC_KEYS}},
            "raw": {k: None for k in METRIC_KEYS}, "metadata": {}, "nonfinite_frames": 0, "error": error}


def score_sequences(
    sequences: Sequence[Dict[str, Any]],
    body: BodyModel,
    batch_size: int = 16,
    device: str = "cpu",
    on_batch: Optional[Callable[[List[Dict[str, Any]]], None]] = None,
) -> Iterator[Dict[str, Any]]:
    """Score sequences (dicts as read by ``humanscore_torch.io``) in batches on ``device``.

    Yields one record per sequence, in order, as each batch finishes, so callers can write
    results incrementally; ``on_batch`` is called with each batch's records.
    """
    body = body.to(device)
    metrics = available_metrics()
    for start in range(0, len(sequences), batch_size):
        chunk = sequences[start:start + batch_size]
        batch = MotionBatch.from_sequences(chunk).to(device)
        records = batch_records(batch, score_batch(batch, body, metrics))
        if on_batch is not None:
            on_batch(records)
        yield from records
