"""Entrance checks shared by the motion metrics that take joints, fps and a mask."""

from __future__ import annotations

from typing import Optional, Tuple

import torch

from ..errors import InputValueError, ShapeError
from ..shapes import check_device, check_floating, check_shape

# Highest accepted frame rate (Hz) and largest coordinate (m) of a usable frame: together they
# keep fps^3 x third differences (jerk) and their squares within float32 (8e17 and 6e35 < 3e38).
MAX_FPS = 1e4
MAX_COORDINATE_M = 1e5


def check_motion(
    joints: torch.Tensor,
    fps: Optional[torch.Tensor],
    mask: Optional[torch.Tensor],
    joints_spec: str = "B T J 3",
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Validate ``joints`` (B, T, J, 3) metres, ``fps`` (B,) Hz (None for metrics without time
    derivatives) and ``mask`` (B, T) bool, all on one device, and prepare them for the maths.

    Returns:
        joints in float32 or wider (finite differences times fps^3 overflow float16), with
        unusable frames (NaN/inf, or a coordinate beyond ``MAX_COORDINATE_M``) set to 0, and the
        mask (all True when None) without those frames: such a frame is never scored and never
        turns a result into NaN or inf.

    Raises:
        ShapeError / InputValueError naming the argument, what was expected and what came.
    """
    sizes = check_shape(joints, joints_spec, "joints")
    check_floating(joints, "joints")
    check_device(joints, joints.device, "joints")
    if fps is not None:
        check_shape(fps, "B", "fps", sizes)
        check_device(fps, joints.device, "fps")
        # One host read at the entrance (never inside the maths): a bad rate must fail loudly.
        if not bool((torch.isfinite(fps) & (fps > 0) & (fps <= MAX_FPS)).all()):
            raise InputValueError(f"fps: expected finite frame rates in (0, {MAX_FPS:g}] Hz, got {fps.tolist()}")
    if mask is None:
        mask = torch.ones(joints.shape[:2], dtype=torch.bool, device=joints.device)
    check_shape(mask, "B T", "mask", sizes)
    check_device(mask, joints.device, "mask")
    if mask.dtype != torch.bool:
        raise ShapeError(f"mask: expected dtype torch.bool, got {mask.dtype}")
    if torch.finfo(joints.dtype).bits < 32:
        joints = joints.float()
    usable = usable_frames(joints)
    joints = torch.where(usable[:, :, None, None], joints, torch.zeros_like(joints))
    return joints, mask & usable


def usable_frames(values: torch.Tensor, leading: int = 2) -> torch.Tensor:
    """The usable-frame rule, the same for every input: a frame is usable when all its values
    are finite and within ``MAX_COORDINATE_M`` (100 km or 1e5 rad is broken data, and would
    overflow float32 downstream).

    Args:
        values: (*L, ...) with ``leading`` frame dimensions first, e.g. joints (B, T, J, 3).

    Returns:
        (*L) bool, True on usable frames.
    """
    flat = values.flatten(leading)
    if flat.shape[-1] == 0:
        return torch.ones(flat.shape[:-1], dtype=torch.bool, device=values.device)
    # One pass: a NaN propagates through amax and an inf exceeds the bound, so both fail.
    return flat.abs().amax(-1) <= MAX_COORDINATE_M


def safe_norm(x: torch.Tensor, dim: int = -1, eps: float = 0.0) -> torch.Tensor:
    """Euclidean norm whose gradient is finite at 0.

    The plain norm has gradient x/|x| (0/0 at the origin); ``sqrt(|x|^2 + eps^2)`` with eps > 0
    is smooth everywhere, and with eps = 0 the zero vectors get gradient 0 instead of NaN.
    """
    squared = x.pow(2).sum(dim)
    if eps > 0:
        return torch.sqrt(squared + eps * eps)
    positive = squared > 0
    return torch.where(positive, torch.sqrt(torch.where(positive, squared, torch.ones_like(squared))), torch.zeros_like(squared))


def safe_sqrt(x: torch.Tensor) -> torch.Tensor:
    """sqrt of a non-negative tensor with gradient 0 (not inf) where x = 0."""
    positive = x > 0
    return torch.where(positive, torch.sqrt(torch.where(positive, x, torch.ones_like(x))), torch.zeros_like(x))
