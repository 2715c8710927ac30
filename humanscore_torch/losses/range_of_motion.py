"""Smooth range-of-motion loss over :func:`humanscore_torch.functional.range_of_motion.range_of_motion_penalty`."""

from __future__ import annotations

from typing import Any, Mapping, Optional

import torch
from torch import nn

from ..functional.range_of_motion import range_of_motion_penalty
from ..limits.joint_map import JointMap


class RangeOfMotionLoss(nn.Module):
    """Soft hinge (degrees) on SMPL joint angles beyond their OpenSim/clinical ranges; zero
    inside. ``forward(global_orient (B, T, 3)|(B, T, 3, 3), body_pose (B, T, 23, 3)|(B, T, 23, 3, 3),
    mask (B, T) or None) -> ()``.

    Args:
        joint_map: the SMPL->OpenSim map (the shipped one read anatomically when None).
        config: the ``range_of_motion`` config (shipped when None).
        width_deg: hinge width in degrees (the config's ``loss_width_deg`` when None).
    """

    def __init__(self, joint_map: Optional[JointMap] = None, config: Optional[Mapping[str, Any]] = None,
                 width_deg: Optional[float] = None) -> None:
        super().__init__()
        self.joint_map = JointMap.for_range_of_motion() if joint_map is None else joint_map
        self.config = config
        self.width_deg = width_deg

    def forward(self, global_orient: torch.Tensor, body_pose: torch.Tensor,
                mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """() loss in degrees."""
        return range_of_motion_penalty(global_orient, body_pose, mask, self.joint_map, self.config, self.width_deg)
