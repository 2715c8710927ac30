"""Smooth losses for jerk and Newtonian plausibility, over the functional penalties."""

from __future__ import annotations

from typing import Any, Mapping, Optional

import torch
from torch import nn

from ..functional.jerk import jerk_penalty
from ..functional.newtonian import newtonian_penalty


class JerkLoss(nn.Module):
    """Smooth mean jerk (m/s^3) of joints (B, T, J, 3) at fps (B,); see
    :func:`humanscore_torch.functional.jerk.jerk_penalty`."""

    def __init__(self, eps: Optional[float] = None) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, joints: torch.Tensor, fps: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """() loss in m/s^3."""
        return jerk_penalty(joints, fps, mask, self.eps)


class NewtonianLoss(nn.Module):
    """Sum of squared, tolerance-normalised Newtonian constraint excesses per assessable frame
    of joints (B, T, 24, 3) at fps (B,); see
    :func:`humanscore_torch.functional.newtonian.newtonian_penalty`."""

    def __init__(self, config: Optional[Mapping[str, Any]] = None) -> None:
        super().__init__()
        self.config = config

    def forward(self, joints: torch.Tensor, fps: torch.Tensor, mask: Optional[torch.Tensor] = None,
                ground: Optional[torch.Tensor] = None) -> torch.Tensor:
        """() unitless loss."""
        return newtonian_penalty(joints, fps, mask, ground, self.config)
