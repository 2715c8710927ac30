"""torchmetrics class for bone-length consistency (spec 4.2); the maths is in
:mod:`humanscore_torch.functional.bone_length`."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

import torch

from ..config import load_config
from ..functional.bone_length import BoneList, _bone_length_compute, _bone_length_update
from ..functional.scoring import score_from_config
from .base import HumanScoreMetric, upcast


class BoneLengthConsistency(HumanScoreMetric):
    """Mean over sequences of the per-sequence bone-length coefficient of variation (%).

    ``update(joints, mask=None)``: joints (B, T, J, 3) metres, mask (B, T) bool. Sequences
    without a usable bone or with fewer than two valid frames are not counted.
    ``compute()`` returns 0-dim ``raw`` (%), ``max_change`` (%, mean over sequences of each
    sequence's largest frame-to-frame change), ``score`` (0-100), ``num_sequences``.

    Args:
        bones: (parent, child) pairs; SMPL's when None.
        config: the ``bone_length`` config; the shipped one when None.
    """

    def __init__(self, bones: Optional[BoneList] = None, config: Optional[Mapping[str, Any]] = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bones = bones
        self.config = load_config("bone_length") if config is None else config
        self.add_state("raw_sum", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("max_change_sum", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("num_sequences", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, joints: torch.Tensor, mask: Optional[torch.Tensor] = None) -> None:
        """Add a batch (validated before any state changes)."""
        joints, = upcast(joints)
        out = _bone_length_update(joints, mask, self.bones, float(self.config["min_bone_length_m"]))
        computed = out["computed"]
        self.raw_sum += (out["raw"] * computed).sum().to(torch.float64)
        self.max_change_sum += (out["max_change"] * computed).sum().to(torch.float64)
        self.num_sequences += computed.sum()

    def compute(self) -> Dict[str, torch.Tensor]:
        """The accumulated values over all counted sequences (summed over processes).

        Returns:
            dict of 0-dim tensors: ``raw`` mean per-sequence bone-length coefficient of
            variation (%), ``max_change`` mean of each sequence's largest frame-to-frame
            bone-length change (%), ``score`` (0-100) and ``num_sequences`` (int64) the number
            of sequences counted, ``computed`` (bool); the values are NaN when none was counted.
        """
        out = _bone_length_compute(self.raw_sum, self.max_change_sum, self.num_sequences)
        out["score"] = score_from_config(out["raw"], self.config["score"])
        out["num_sequences"] = self.num_sequences
        return self._mark_computed(out)
