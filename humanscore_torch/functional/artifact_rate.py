"""Artifact rate (spec 4.1): how often an image artifact detector finds a malformed, missing
or extra body part.

Input: per-frame detections (B, T, C), the highest confidence of each class of the HADM
taxonomy (:data:`humanscore_torch.detectors.HADM_CLASSES`, C = 18) in each frame. Per sequence:

* ``raw``: fraction of valid frames with any class above the confidence threshold;
* ``per_class``: (B, C) fraction of valid frames with that class above the threshold.

Without detections the metric is *not computed* (``computed`` False, raw and score 0), never a
silent 100.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

import torch

from ..config import load_config
from ..detectors import HADM_CLASSES
from ..errors import InputValueError, ShapeError
from ..shapes import check_device, check_floating, check_shape
from .scoring import score_from_config


def _check(detections: torch.Tensor, mask: Optional[torch.Tensor]) -> torch.Tensor:
    sizes = check_shape(detections, "B T C", "detections")
    check_floating(detections, "detections")
    check_device(detections, detections.device, "detections")
    if mask is None:
        mask = torch.ones(detections.shape[:2], dtype=torch.bool, device=detections.device)
    check_shape(mask, "B T", "mask", sizes)
    check_device(mask, detections.device, "mask")
    if mask.dtype != torch.bool:
        raise ShapeError(f"mask: expected dtype torch.bool, got {mask.dtype}")
    # One host read at the entrance: confidences must be probabilities.
    if not bool(((detections >= 0) & (detections <= 1)).all()):
        raise InputValueError("detections: expected confidences in [0, 1], got values outside "
                              f"[{float(detections.min())}, {float(detections.max())}]")
    return mask


def _artifact_rate_update(detections: torch.Tensor, mask: Optional[torch.Tensor] = None,
                          threshold: Optional[float] = None) -> Dict[str, torch.Tensor]:
    """Per-sequence counts for one batch.

    Args:
        detections: (B, T, C) confidences in [0, 1]. mask: (B, T) bool or None.
        threshold: confidence above which a detection counts; the config's when None.

    Returns:
        ``num_frames`` (B,) valid frames, ``num_flagged`` (B,) valid frames with any detection,
        ``num_flagged_by_class`` (B, C), ``flagged`` (B, T) bool.
    """
    mask = _check(detections, mask)
    threshold = float(load_config("artifact_rate")["confidence_threshold"]) if threshold is None else float(threshold)
    hits = (detections > threshold) & mask[..., None]
    flagged = hits.any(-1)
    return {"num_frames": mask.sum(1), "num_flagged": flagged.sum(1),
            "num_flagged_by_class": hits.sum(1), "flagged": flagged}


def _artifact_rate_compute(num_flagged: torch.Tensor, num_frames: torch.Tensor) -> torch.Tensor:
    """Fraction of valid frames flagged (any matching shapes; 0 where there is no frame)."""
    dtype = torch.get_default_dtype()
    frames = num_frames.clamp_min(1).to(dtype)
    return num_flagged.to(dtype) / (frames if num_flagged.dim() == num_frames.dim() else frames[..., None])


def artifact_rate(detections: Optional[torch.Tensor], mask: Optional[torch.Tensor] = None,
                  config: Optional[Mapping[str, Any]] = None,
                  batch_size: Optional[int] = None) -> Dict[str, torch.Tensor]:
    """Artifact rate per sequence.

    Args:
        detections: (B, T, C) per-frame confidences in [0, 1] (HADM taxonomy), or None.
        mask: (B, T) bool valid frames (None: all valid).
        config: the ``artifact_rate`` config; the shipped one when None.
        batch_size: B when ``detections`` is None (defaults to the mask's).

    Returns:
        ``raw`` (B,) fraction of valid frames with a detection above the threshold, ``per_class``
        (B, C) (C = 18 zeros without detections), ``score`` (B,) 0-100, ``computed`` (B,) bool (False without detections or
        valid frames), ``flagged`` (B, T) bool.
    """
    config = load_config("artifact_rate") if config is None else config
    if detections is None:
        count = batch_size if batch_size is not None else (mask.shape[0] if mask is not None else 1)
        device = mask.device if mask is not None else None
        zeros = torch.zeros(count, device=device)
        return {"raw": zeros, "per_class": torch.zeros(count, len(HADM_CLASSES), device=device), "score": zeros,
                "computed": torch.zeros(count, dtype=torch.bool, device=device),
                "flagged": torch.zeros(count, 0 if mask is None else mask.shape[1], dtype=torch.bool, device=device)}
    counts = _artifact_rate_update(detections, mask, float(config["confidence_threshold"]))
    computed = counts["num_frames"] > 0
    raw = _artifact_rate_compute(counts["num_flagged"], counts["num_frames"]).to(detections.dtype)
    return {"raw": raw,
            "per_class": _artifact_rate_compute(counts["num_flagged_by_class"], counts["num_frames"]).to(detections.dtype),
            "score": score_from_config(raw, config["score"]) * computed,
            "computed": computed, "flagged": counts["flagged"]}


def artifact_penalty(detections: torch.Tensor, mask: Optional[torch.Tensor] = None,
                     threshold: Optional[float] = None, temperature: Optional[float] = None) -> torch.Tensor:
    """Smooth artifact rate for losses: mean over valid frames of a soft "any class fires",
    ``1 - prod_c (1 - sigmoid((p_c - threshold) / temperature))``, differentiable in the
    confidences (e.g. of a detector applied to generated frames).

    Args:
        detections: (B, T, C) confidences. mask: (B, T) bool or None.
        threshold, temperature: the config's when None.

    Returns:
        () penalty in [0, 1].
    """
    mask = _check(detections, mask)
    config = load_config("artifact_rate")
    threshold = float(config["confidence_threshold"]) if threshold is None else float(threshold)
    temperature = float(config["smooth_temperature"]) if temperature is None else float(temperature)
    soft = torch.sigmoid((detections - threshold) / temperature)
    any_fires = 1.0 - torch.prod(1.0 - soft, dim=-1)
    weight = mask.to(detections.dtype)
    return (any_fires * weight).sum() / weight.sum().clamp_min(1)
