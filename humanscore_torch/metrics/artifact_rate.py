"""torchmetrics class for the artifact rate (spec 4.1); the maths is in
:mod:`humanscore_torch.functional.artifact_rate`."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

import torch

from ..config import load_config
from ..detectors import HADM_CLASSES
from ..errors import ShapeError
from ..functional.artifact_rate import _artifact_rate_compute, _artifact_rate_update
from ..functional.scoring import score_from_config
from .base import HumanScoreMetric, upcast


class ArtifactRate(HumanScoreMetric):
    """Fraction of valid frames (all sequences) with a detection above the threshold.

    ``update(detections, mask=None)``: detections (B, T, C) confidences in [0, 1], mask (B, T)
    bool. ``compute()`` returns 0-dim ``raw``, ``score``, ``computed`` (False until a valid
    frame with detections was seen: then raw and score are 0 and must not be reported as a
    score; every value NaN then) and ``per_class`` (C,).

    Args:
        num_classes: C (18 for the HADM taxonomy).
        config: the ``artifact_rate`` config; the shipped one when None.
    """

    def __init__(self, num_classes: int = len(HADM_CLASSES), config: Optional[Mapping[str, Any]] = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.config = load_config("artifact_rate") if config is None else config
        self.add_state("num_flagged", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("num_frames", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("num_flagged_by_class", torch.zeros(num_classes, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, detections: torch.Tensor, mask: Optional[torch.Tensor] = None) -> None:
        """Add a batch (validated before any state changes)."""
        detections, = upcast(detections)
        if isinstance(detections, torch.Tensor) and detections.dim() == 3 and detections.shape[-1] != self.num_classes:
            raise ShapeError(f"detections: expected {self.num_classes} classes (B, T, {self.num_classes}), "
                             f"got shape {tuple(detections.shape)}")
        out = _artifact_rate_update(detections, mask, float(self.config["confidence_threshold"]))
        self.num_flagged += out["num_flagged"].sum()
        self.num_frames += out["num_frames"].sum()
        self.num_flagged_by_class += out["num_flagged_by_class"].sum(0)

    def compute(self) -> Dict[str, torch.Tensor]:
        """The accumulated values over all valid frames seen (summed over processes).

        Returns:
            dict: ``raw`` () fraction of valid frames with any class above the confidence
            threshold, ``score`` () 0-100, ``computed`` () bool, False while no valid frame
            with detections was seen (every value is then NaN), and
            ``per_class`` (C,) fraction of valid frames flagged for each class.
        """
        raw = _artifact_rate_compute(self.num_flagged, self.num_frames)
        return self._mark_computed({"raw": raw, "score": score_from_config(raw, self.config["score"]),
                                    "per_class": _artifact_rate_compute(self.num_flagged_by_class, self.num_frames)})
