"""torchmetrics class for self-penetration (spec 4.4); the maths is in
:mod:`humanscore_torch.functional.self_penetration`."""

from __future__ import annotations

from typing import Any, Dict, Optional, Union

import torch

from ..body.model import BodyModel
from ..body.parts import PartStructure, part_structure
from ..config import load_config
from ..functional.scoring import score_from_config
from ..functional.self_penetration import _self_penetration_compute, _self_penetration_update
from .base import HumanScoreMetric, upcast


class SelfPenetration(HumanScoreMetric):
    """Fraction of valid frames in which a body part sinks into another deeper than the
    tolerance, accumulated over batches (lower is better).

    ``update(vertices, mask, unchecked_parts=None)``: vertices (B, T, V, 3) posed meshes of
    ``body`` in metres, mask (B, T) bool valid frames, optional (B, P) bool parts left out.
    ``compute()`` returns a dict: ``raw`` () fraction of frames, ``mean_depth_mm`` () mean
    deepest penetration over penetrating frames, ``score`` () 0-100.

    Args:
        body: the BodyModel the vertices come from (its part structure is computed once and
            cached), or a PartStructure.
        config: the ``self_penetration`` config; the shipped one when None.
    """

    def __init__(self, body: Union[BodyModel, PartStructure], config: Optional[Dict[str, Any]] = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config = load_config("self_penetration") if config is None else config
        self.structure = body if isinstance(body, PartStructure) else part_structure(body)
        for name in ("num_valid", "num_penetrating"):
            self.add_state(name, torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("depth_sum_mm", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, vertices: torch.Tensor, mask: torch.Tensor, unchecked_parts: Optional[torch.Tensor] = None) -> None:
        """Add a batch: vertices (B, T, V, 3) metres, mask (B, T) bool, optional (B, P) bool
        parts to leave out per sequence (e.g. ``unchecked_parts_from_joints``)."""
        vertices, = upcast(vertices)
        out = _self_penetration_update(vertices, mask, self.structure, self.config, unchecked_parts)  # validates first
        self.num_valid += out["num_valid"].sum()
        self.num_penetrating += out["num_penetrating"].sum()
        self.depth_sum_mm += out["depth_sum_mm"].sum().to(torch.float64)

    def compute(self) -> Dict[str, torch.Tensor]:
        """The accumulated values over all valid frames seen (summed over processes).

        Returns:
            dict of 0-dim float64 tensors: ``raw`` fraction of valid frames with a penetration
            deeper than the tolerance (0 without valid frames), ``mean_depth_mm`` mean deepest
            penetration in millimetres over penetrating frames (0 without any), ``score``
            (0-100), ``computed`` (bool); all NaN without valid frames.
        """
        raw, mean_depth = _self_penetration_compute(self.num_penetrating, self.num_valid, self.depth_sum_mm)
        return self._mark_computed({"raw": raw, "mean_depth_mm": mean_depth,
                                    "score": score_from_config(raw, self.config["score"])})
