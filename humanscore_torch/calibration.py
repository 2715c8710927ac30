"""Fitting the raw-to-score maps to a reference set of real motions (``humanscore calibrate``).

Each metric's map is ``score = 100 * 2 ** (-max(raw - free, 0) / half)``
(:func:`~humanscore_torch.functional.scoring.raw_to_score`). Given the raw values ``r`` of the
N reference clips on which the metric was computed, the fitting rule is, per metric:

* ``free = max(percentile(r, free_percentile), min_free)``; default 0, i.e. the minimum: the
  cleanest reference scores 100 and every clip worse than it scores strictly less, so a defect
  added to any reference always costs score. ``min_free`` (the ``score.min_free`` of the
  metric's config, 0 when absent) is a noise floor a metric's config can state from a
  measurement: Newtonian plausibility keeps the 2 % of frames that 5 mm of joint noise at
  30 fps may violate (tests/functional/test_newtonian.py), so noise alone does not read as broken physics.
* ``half = max((percentile(r, top_percentile) - free) / log2(100 / target), min_half)``;
  default ``top_percentile`` 100 (the maximum) and ``target`` 90: the worst reference scores
  exactly ``target`` and every reference at least that, so every reference's tier and overall
  scores are at least ``target`` too. ``min_half`` (the ``score.min_half`` of the metric's
  config) keeps a set without spread (all references equal, e.g. a bone-length CV of 0 with
  fixed shape) from making the map infinitely steep.
* a metric computed on no reference (the artifact rate without detections) keeps its map.

Percentiles are linear interpolations between order statistics (``numpy.percentile``).
"""

from __future__ import annotations

import datetime as _dt
import math
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np
import torch

from . import __version__
from .body.model import BodyModel
from .config import load_config
from .errors import HumanScoreError
from .evaluation import OVERALL_KEY, score_sequences
from .aggregate import aggregate_scores
from .functional.scoring import raw_to_score
from .registry import METRIC_KEYS, SPECS, TIERS

RULE = ("free = max(percentile(raw, free_percentile), min_free); half = max((percentile(raw, top_percentile) - free) "
        "/ log2(100 / target), min_half); raw over the reference clips on which the metric was computed "
        "(linear-interpolated percentiles); a metric computed on no reference keeps its map")


def over_ground(sequence: Dict[str, Any], speed: float) -> Dict[str, Any]:
    """A treadmill sequence moved over ground: ``speed`` (m/s) times the time added to the
    root translation along +z (the running direction of OpenSim imports). Foot contact and
    flight are only recognisable over ground, where a planted foot stands still.

    Args:
        sequence: a sequence dict with ``transl`` (T, 3) metres and ``fps``.
        speed: belt speed in m/s.

    Returns:
        a new sequence dict (the input is not changed), ``metadata["treadmill_speed_m_s"]`` set.
    """
    transl = torch.as_tensor(sequence["transl"])
    time = torch.arange(transl.shape[0], dtype=transl.dtype) / float(sequence["fps"])
    moved = transl.clone()
    moved[:, 2] += speed * time
    metadata = {**dict(sequence.get("metadata") or {}), "treadmill_speed_m_s": speed}
    return {**sequence, "transl": moved, "metadata": metadata}


def fit_score_map(raw: Sequence[float], min_half: float, target: float = 90.0, top_percentile: float = 100.0,
                  free_percentile: float = 0.0, min_free: float = 0.0) -> Dict[str, float]:
    """Fit ``free`` and ``half`` to reference raw values (the rule of the module docstring).

    Args:
        raw: (N,) raw values of the reference clips, N >= 1, in the metric's unit.
        min_half: smallest ``half`` allowed (same unit), > 0.
        target: score (0-100, exclusive) of the reference at ``top_percentile``.
        top_percentile, free_percentile: percentiles in [0, 100], free_percentile <= top_percentile.
        min_free: smallest ``free`` allowed (same unit), >= 0.

    Returns:
        ``free`` and ``half`` (the metric's unit).

    Raises:
        HumanScoreError: no raw value, a non-finite one, or an argument out of range.
    """
    values = np.asarray(list(raw), dtype=np.float64)
    if values.size == 0 or not np.all(np.isfinite(values)):
        raise HumanScoreError(f"raw: expected at least one finite reference value, got {values.tolist()}")
    if not 0.0 < target < 100.0:
        raise HumanScoreError(f"target: expected a score strictly between 0 and 100, got {target}")
    if not 0.0 <= free_percentile <= top_percentile <= 100.0:
        raise HumanScoreError(f"percentiles: expected 0 <= free_percentile <= top_percentile <= 100, "
                              f"got {free_percentile} and {top_percentile}")
    if not min_half > 0:
        raise HumanScoreError(f"min_half: expected > 0, got {min_half}")
    if not (math.isfinite(min_free) and min_free >= 0):
        raise HumanScoreError(f"min_free: expected a finite value >= 0, got {min_free}")
    free = max(float(np.percentile(values, free_percentile)), float(min_free))
    top = float(np.percentile(values, top_percentile))
    half = max((top - free) / math.log2(100.0 / target), float(min_half))
    return {"free": free, "half": half}


def _round(x: float, up: bool, digits: int = 4) -> float:
    """``x`` >= 0 rounded up or down to ``digits`` significant digits."""
    if x <= 0:
        return 0.0
    scale = 10.0 ** (digits - 1 - math.floor(math.log10(x)))
    return float(f"{(math.ceil(x * scale) if up else math.floor(x * scale)) / scale:.{digits}g}")


def score_references(sequences: Sequence[Dict[str, Any]], body: BodyModel, batch_size: int = 16,
                     device: str = "cpu") -> List[Dict[str, Any]]:
    """Records of ``sequences`` in order; sequences with and without optional per-frame inputs
    (detections, joints, vertices) are batched apart, since one batch holds them for all or none."""
    kinds: Dict[tuple, List[int]] = {}
    for i, seq in enumerate(sequences):
        kinds.setdefault(tuple(seq.get(k) is not None for k in ("detections", "joints", "vertices")), []).append(i)
    records: List[Optional[Dict[str, Any]]] = [None] * len(sequences)
    for index in kinds.values():
        for i, record in zip(index, score_sequences([sequences[i] for i in index], body, batch_size, device)):
            records[i] = record
    return records  # type: ignore[return-value]


def calibrate(sequences: Sequence[Dict[str, Any]], body: BodyModel, target: float = 90.0,
              top_percentile: float = 100.0, free_percentile: float = 0.0, batch_size: int = 16,
              device: str = "cpu", inputs: Optional[Sequence[str]] = None,
              command: Optional[str] = None) -> Dict[str, Any]:
    """Fit every metric's map to reference sequences and return a scoring config.

    Args:
        sequences: reference sequence dicts (as ``humanscore_torch.io`` reads them).
        body: the body they are scored on.
        target, top_percentile, free_percentile: see :func:`fit_score_map`.
        batch_size, device: batching of the scoring.
        inputs: descriptions of where the references came from, for the provenance.
        command: the command line that ran the calibration, for the provenance.

    Returns:
        a config in the ``humanscore evaluate --config`` layout: per metric config name
        ``{score: {free, half, min_half[, min_free]}}``, plus a ``calibration`` section with the provenance
        (inputs, rule, parameters, date, version) and, per metric, the reference raw values and
        the scores of the references under the fitted maps.
    """
    if not sequences:
        raise HumanScoreError("calibrate: expected at least one reference sequence, got none")
    records = score_references(sequences, body, batch_size, device)
    failed = [r["path"] for r in records if r["error"]]
    if failed:
        raise HumanScoreError(f"calibrate: references could not be scored: {failed}")
    config: Dict[str, Any] = {}
    fits: Dict[str, Any] = {}
    for key in METRIC_KEYS:
        name = SPECS[key].config
        base = load_config(name)["score"]
        values = [r["raw"][key]["value"] for r in records if r["raw"].get(key) is not None]
        min_half = float(base.get("min_half", base["half"]))
        min_free = float(base.get("min_free", 0.0))
        if not values:
            fitted = {"free": float(base["free"]), "half": float(base["half"])}
            fits[key] = {"status": "kept: computed on no reference"}
        else:
            fitted = fit_score_map(values, min_half, target, top_percentile, free_percentile, min_free)
            spread = fitted["half"] > min_half
            # free rounded down and half up: rounding never lowers a reference's score.
            fitted = {"free": _round(fitted["free"], up=False), "half": _round(fitted["half"], up=True)}
            unit = next(r["raw"][key]["unit"] for r in records if r["raw"].get(key) is not None)
            fits[key] = {"status": "fitted", "unit": unit, "references": len(values),
                         "raw": {"min": min(values), "median": float(np.median(values)), "max": max(values)},
                         "half_from": "spread" if spread else "min_half"}
        config[name] = {"score": {**fitted, "min_half": min_half, **({"min_free": min_free} if min_free else {})}}
    config["calibration"] = {
        "tool": "humanscore calibrate",
        "humanscore_torch_version": __version__,
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": command,
        "rule": RULE,
        "parameters": {"target": target, "top_percentile": top_percentile, "free_percentile": free_percentile},
        "inputs": list(inputs) if inputs is not None else None,
        "references": [{"path": r["path"], "num_frames": r["num_frames"], "fps": r["fps"], "scores": scores}
                       for r, scores in zip(records, fitted_scores(records, config))],
        "metrics": fits,
    }
    return config


def fitted_scores(records: Sequence[Mapping[str, Any]], config: Mapping[str, Any]) -> List[Dict[str, float]]:
    """The overall, tier and metric scores of scored records under the maps of ``config``
    (the raw values do not depend on the maps, so nothing is scored again).

    Returns:
        per record, score key -> 0-100 (rounded to 0.01), computed entries only.
    """
    scores, computed = {}, {}
    for key in METRIC_KEYS:
        present = [r["raw"].get(key) is not None for r in records]
        raw = torch.tensor([r["raw"][key]["value"] if p else 0.0 for r, p in zip(records, present)],
                           dtype=torch.float64)
        score = config[SPECS[key].config]["score"]
        scores[key] = raw_to_score(raw, float(score["free"]), float(score["half"]))
        computed[key] = torch.tensor(present)
    tiers, tiers_computed = aggregate_scores(scores, computed)
    scores.update(tiers)
    computed.update(tiers_computed)
    return [{k: round(float(scores[k][i]), 2) for k in (OVERALL_KEY, *TIERS, *METRIC_KEYS) if bool(computed[k][i])}
            for i in range(len(records))]


def score_summary(records: Sequence[Mapping[str, Any]]) -> str:
    """One line per record: path, overall and metric scores (for the calibrate command)."""
    lines = []
    for r in records:
        cells = [f"{k} {v:.1f}" for k, v in r["scores"].items() if v is not None]
        lines.append(f"{r['path']}: " + ", ".join(cells))
    return "\n".join(lines)
