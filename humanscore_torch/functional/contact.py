"""Ground level and foot contact estimated from the feet (no ground plane needed).

Each foot has two SMPL joints, the ankle and the foot (ball of the foot). Their *stance
level* is the height they sit at when the foot is planted: given a known ground height, the
ground plus each joint's height above the sole (config ``contact.joint_height_m``); without one
(the usual case for video estimates, whose floor is anywhere), a low percentile of that joint's
valid heights over the sequence, pooled over left and right. A low percentile rather than the
minimum ignores a few noisy or sunken frames, and it is correct whenever the feet touch the
ground in more than that share of frames.

A foot is in contact when one of its joints is within ``contact.height_m`` of its stance level
and moves slower than ``contact.speed_m_s`` (a planted heel or ball of the foot is still while
the other end rolls; a swing foot skimming the floor is fast).
"""

from __future__ import annotations

from typing import Any, Mapping, NamedTuple, Optional

import torch

from ..body.skeleton import JOINT_INDEX
from ..config import load_config
from ..errors import InputValueError
from ..shapes import check_device, check_shape
from .motion_inputs import safe_norm

# (foot, joint) -> SMPL joint index: feet in order (left, right), joints (ankle, ball of foot).
FOOT_JOINTS = torch.tensor([[JOINT_INDEX["left_ankle"], JOINT_INDEX["left_foot"]],
                            [JOINT_INDEX["right_ankle"], JOINT_INDEX["right_foot"]]])
_UP = 1  # y is up


class FootContact(NamedTuple):
    """Foot contact per frame.

    Attributes:
        levels: (B, 2) stance level (m) of the ankle and ball-of-foot joints.
        heights: (B, T, 2, 2) height (m) of each foot joint above its stance level, (foot, joint).
        speeds: (B, T, 2, 2) speed (m/s) of each foot joint, (foot, joint).
        contact: (B, T, 2) bool, foot in contact (False on invalid frames).
    """

    levels: torch.Tensor
    heights: torch.Tensor
    speeds: torch.Tensor
    contact: torch.Tensor


def masked_quantile(values: torch.Tensor, mask: torch.Tensor, q: float) -> torch.Tensor:
    """Per-row quantile (lower nearest rank) of the valid entries.

    Args:
        values: (B, N). mask: (B, N) bool. q: in [0, 1].

    Returns:
        (B,) the value at rank floor(q * (n - 1)) among the n valid entries (0 when n = 0).
        Differentiable (a gather of the sorted values).
    """
    if values.shape[1] == 0:  # no entry at all (an empty clip): nothing to gather from
        return values.new_zeros(values.shape[0])
    filled = torch.where(mask, values, torch.full_like(values, float("inf")))
    ordered, _ = torch.sort(filled, dim=1)
    count = mask.sum(1)
    rank = ((count - 1).clamp_min(0).to(values.dtype) * q).floor().long()
    picked = ordered.gather(1, rank[:, None])[:, 0]
    return torch.where(count > 0, picked, torch.zeros_like(picked))


def stance_levels(joints: torch.Tensor, mask: torch.Tensor, ground: Optional[torch.Tensor] = None,
                  config: Optional[Mapping[str, Any]] = None) -> torch.Tensor:
    """Stance level (B, 2) in metres of the (ankle, ball-of-foot) joints.

    Args:
        joints: (B, T, 24, 3) metres, y up. mask: (B, T) bool.
        ground: (B,) known ground height (m), or None to estimate from the feet.
        config: the ``contact`` section of ``configs/diagnostics.yaml``; shipped when None.
    """
    config = load_config("diagnostics")["contact"] if config is None else config
    offsets = joints.new_tensor([config["joint_height_m"]["ankle"], config["joint_height_m"]["foot"]])
    if ground is not None:
        check_shape(ground, "B", "ground", {"B": joints.shape[0]})
        check_device(ground, joints.device, "ground")
        # One host read of a (B,) input: an unknown ground is None, never NaN.
        if not bool(torch.isfinite(ground).all()):
            raise InputValueError(f"ground: expected finite heights in metres (None when unknown), got {ground.tolist()}")
        return ground.to(joints.dtype)[:, None] + offsets[None, :]
    feet = joints[:, :, FOOT_JOINTS.to(joints.device), _UP]  # (B, T, 2 feet, 2 joints)
    rows, entries = joints.shape[0] * 2, joints.shape[1] * 2  # explicit: -1 is ambiguous when B = 0
    pooled = feet.permute(0, 3, 1, 2).reshape(rows, entries)  # (B*2 joints, T*2 feet)
    pooled_mask = mask[:, None, :, None].expand(-1, 2, -1, 2).reshape(rows, entries)
    return masked_quantile(pooled, pooled_mask, float(config["ground_percentile"]) / 100.0).reshape(-1, 2)


def foot_contact(positions: torch.Tensor, velocities: torch.Tensor, mask: torch.Tensor,
                 ground: Optional[torch.Tensor] = None,
                 config: Optional[Mapping[str, Any]] = None) -> FootContact:
    """Foot contact from (smoothed) joint positions and velocities.

    Args:
        positions: (B, T, 24, 3) joints in metres (y up), ideally low-passed.
        velocities: (B, T, 24, 3) their velocities in m/s.
        mask: (B, T) bool valid frames.
        ground: (B,) known ground height in metres, or None to estimate it.
        config: the ``contact`` section of ``configs/diagnostics.yaml``; shipped when None.

    Returns:
        :class:`FootContact`.
    """
    config = load_config("diagnostics")["contact"] if config is None else config
    index = FOOT_JOINTS.to(positions.device)
    levels = stance_levels(positions, mask, ground, config)
    heights = positions[:, :, index, _UP] - levels[:, None, None, :]
    speeds = safe_norm(velocities[:, :, index])
    planted = (heights < float(config["height_m"])) & (speeds < float(config["speed_m_s"]))
    contact = planted.any(3) & mask[..., None]
    return FootContact(levels, heights, speeds, contact)


def dilate_frames(flags: torch.Tensor, radius: torch.Tensor, outside: bool = False) -> torch.Tensor:
    """True where any of ``flags`` (B, T) is True within +-radius[b] frames (radius (B,) long).

    ``outside``: the value of the frames before 0 and past T - 1. True makes a clip's end read
    like padding marked True, so the answer does not depend on how far a batch pads the clip.
    """
    frames = flags.shape[1]
    counts = torch.cat([flags.new_zeros(flags.shape[0], 1, dtype=torch.long), flags.long().cumsum(1)], 1)
    t = torch.arange(frames, device=flags.device)[None, :]
    high = (t + radius[:, None] + 1).clamp(max=frames)
    low = (t - radius[:, None]).clamp(min=0)
    dilated = (counts.gather(1, high) - counts.gather(1, low)) > 0
    if outside:
        dilated = dilated | (t - radius[:, None] < 0) | (t + radius[:, None] >= frames)
    return dilated
