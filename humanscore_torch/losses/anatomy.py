"""Smooth losses for bone-length consistency and the artifact rate, over the functional
penalties."""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from ..functional.artifact_rate import artifact_penalty
from ..functional.bone_length import BoneList, bone_length_penalty


class BoneLengthLoss(nn.Module):
    """Mean squared coefficient of variation of bone lengths of joints (B, T, J, 3); see
    :func:`humanscore_torch.functional.bone_length.bone_length_penalty`."""

    def __init__(self, bones: Optional[BoneList] = None) -> None:
        super().__init__()
        self.bones = bones

    def forward(self, joints: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """() unitless loss."""
        return bone_length_penalty(joints, mask, self.bones)


class ArtifactLoss(nn.Module):
    """Soft fraction of frames with an artifact, from detector confidences (B, T, C); see
    :func:`humanscore_torch.functional.artifact_rate.artifact_penalty`."""

    def forward(self, detections: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """() loss in [0, 1]."""
        return artifact_penalty(detections, mask)
