"""Self-penetration as a loss: the smooth penalty of
:func:`humanscore_torch.functional.self_penetration.self_penetration_penalty`."""

from __future__ import annotations

from typing import Optional, Union

import torch
from torch import nn

from ..body.model import BodyModel
from ..body.parts import PartStructure, part_structure
from ..errors import InputValueError
from ..functional.self_penetration import self_penetration_penalty


class SelfPenetrationLoss(nn.Module):
    """Sum of squared penetration depths (m^2) of every vertex inside a part it may not touch.

    Zero without penetration; its gradient pushes the parts apart and flows through the body
    model into the pose (``body(global_orient, body_pose, ...).vertices``).

    Args:
        body: the BodyModel the vertices come from, or its PartStructure.
        reduction: "sum" over frames, or "mean" (divided by the number of frames counted).
    """

    def __init__(self, body: Union[BodyModel, PartStructure], reduction: str = "sum") -> None:
        super().__init__()
        if reduction not in ("sum", "mean"):
            raise InputValueError(f"reduction: expected 'sum' or 'mean', got {reduction!r}")
        self.structure = body if isinstance(body, PartStructure) else part_structure(body)
        self.reduction = reduction

    def forward(self, vertices: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """vertices (..., V, 3) metres, mask (...) bool or None -> () loss in m^2."""
        loss = self_penetration_penalty(vertices, self.structure, mask)
        if self.reduction == "mean":
            frames = vertices.shape[:-2].numel() if mask is None else mask.sum().clamp_min(1)
            loss = loss / frames
        return loss
