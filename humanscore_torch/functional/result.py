"""What every metric returns when evaluated on a MotionBatch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict

import torch


@dataclass
class MetricResult:
    """One metric on one batch, per sequence.

    Attributes:
        key: the stable metric key (``"jerk"``, ``"range_of_motion"``, ...).
        raw: (B,) headline raw value per sequence (lower is better), in ``unit``.
        unit: unit of ``raw`` (``"m/s^3"``, ``"%"``, ``"fraction of frames"``, ...).
        score: (B,) 0-100, higher is better.
        computed: (B,) bool; False where the metric could not be computed (e.g. no
            detections for the artifact rate, no valid frame). ``raw``/``score`` are 0 there
            and must be reported as not computed, never as a score.
        details: further named values, each (B,) or (B, ...) (per-frame, per-joint, ...).
    """

    key: str
    raw: torch.Tensor
    unit: str
    score: torch.Tensor
    computed: torch.Tensor
    details: Dict[str, torch.Tensor] = field(default_factory=dict)
