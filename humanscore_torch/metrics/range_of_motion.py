"""torchmetrics class for range-of-motion violation (spec 4.3); the maths is in
:mod:`humanscore_torch.functional.range_of_motion`."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

import torch

from ..config import load_config
from ..functional.range_of_motion import _range_of_motion_compute, _range_of_motion_update, coordinate_limits
from ..functional.scoring import score_from_config
from ..limits.joint_map import JointMap
from .base import HumanScoreMetric, upcast


class RangeOfMotion(HumanScoreMetric):
    """Degree-seconds beyond the joint limits per second of valid frames, over all sequences seen.

    ``update(global_orient, body_pose, mask=None)``: global_orient (B, T, 3) or (B, T, 3, 3),
    body_pose (B, T, 23, 3) or (B, T, 23, 3, 3), mask (B, T) bool. ``compute()`` returns a
    dict of ``raw`` (degrees), ``violation_rate`` (fraction of frames), ``mean_excess_deg``
    (degrees per violating frame), ``score`` (0-100) and ``coordinate_violation_rate`` (K,) in
    ``joint_map.coordinate_names`` order.

    Args:
        joint_map: the SMPL->OpenSim map (the shipped one read anatomically when None).
        config: the ``range_of_motion`` config (shipped when None).
    """

    def __init__(self, joint_map: Optional[JointMap] = None, config: Optional[Mapping[str, Any]] = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config = load_config("range_of_motion") if config is None else config
        self.joint_map = JointMap.for_range_of_motion() if joint_map is None else joint_map
        self.lower, self.upper, self.checked = coordinate_limits(self.joint_map, config=self.config)
        self.add_state("num_valid", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("num_violating", torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("excess_sum_deg", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("severity_sum_deg", torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("coordinate_violations", torch.zeros(len(self.joint_map.coordinate_names), dtype=torch.long),
                       dist_reduce_fx="sum")

    def update(self, global_orient: torch.Tensor, body_pose: torch.Tensor, mask: Optional[torch.Tensor] = None) -> None:
        """Add a batch (validated before any state changes)."""
        global_orient, body_pose = upcast(global_orient, body_pose)
        sums = _range_of_motion_update(global_orient, body_pose, mask, self.joint_map, self.lower, self.upper,
                                       self.checked, float(self.config["tolerance_deg"]),
                                       float(self.config["gimbal_margin_deg"]))
        self.num_valid += sums["num_valid"].sum()
        self.num_violating += sums["num_violating"].sum()
        self.excess_sum_deg += sums["excess_sum_deg"].sum().to(torch.float64)
        self.severity_sum_deg += sums["severity_sum_deg"].sum().to(torch.float64)
        self.coordinate_violations += sums["coordinate_violations"].sum(0)

    def compute(self) -> Dict[str, torch.Tensor]:
        """The accumulated values over all sequences seen (summed over processes).

        Returns:
            dict of float64 tensors: ``raw`` () degree-seconds beyond the limits per second of
            valid frames (degrees), ``violation_rate`` () fraction of valid frames with a
            coordinate out of range, ``mean_excess_deg`` () mean excess in degrees per violating frame,
            ``score`` () 0-100, and ``coordinate_violation_rate`` (K,) fraction of valid frames
            violating each coordinate, in ``joint_map.coordinate_names`` order, and
            ``computed`` () bool. All NaN before any valid frame.
        """
        out = _range_of_motion_compute(self.num_violating, self.num_valid, self.excess_sum_deg, self.severity_sum_deg)
        out["score"] = score_from_config(out["raw"], self.config["score"])
        out["coordinate_violation_rate"] = self.coordinate_violations.to(torch.float64) / self.num_valid.clamp_min(1)
        return self._mark_computed(out)
