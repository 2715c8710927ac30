"""Bone-length consistency (spec 4.2): bones should not stretch or shrink over time.

Per sequence and bone (a parent-child joint pair), the length ``L_t = |x_child - x_parent|``
over the valid frames gives a coefficient of variation ``CV = std(L) / mean(L)`` (population
std over valid frames). Reported per sequence:

* ``raw``: mean CV over the bones, in percent;
* ``max_change``: the largest frame-to-frame relative change ``|L_{t+1} - L_t| / mean(L)``
  over consecutive valid frames and bones, in percent.

Bones shorter than ``min_bone_length_m`` on average (config) are skipped: their relative
changes are dominated by noise. The metric is meaningful for joints from per-frame shape
parameters or raw 3D keypoints. **With fixed betas it is zero by construction**: forward
kinematics of a fixed skeleton only rotates bones, so their lengths never change (up to float
rounding).
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Sequence, Tuple

import torch

from ..body.skeleton import PARENTS, bones as smpl_bones
from ..config import load_config
from ..errors import HumanScoreError, ShapeError
from .motion_inputs import check_motion, safe_norm, safe_sqrt
from .scoring import score_from_config

BoneList = Sequence[Tuple[int, int]]


def _bone_index(bones: Optional[BoneList], num_joints: int, device: torch.device) -> torch.Tensor:
    """(K, 2) long parent/child indices; SMPL's bones when None (then J must be 24)."""
    if bones is None:
        if num_joints != len(PARENTS):
            raise ShapeError(f"joints: without a bone list expected the {len(PARENTS)} SMPL joints, got J={num_joints}; "
                             "pass bones=[(parent, child), ...] for other keypoint layouts")
        bones = smpl_bones()
    index = torch.as_tensor([tuple(b) for b in bones], dtype=torch.long, device=device)
    if index.dim() != 2 or index.shape[1] != 2 or index.shape[0] == 0:
        raise HumanScoreError(f"bones: expected a non-empty list of (parent, child) pairs, got shape {tuple(index.shape)}")
    if bool((index < 0).any()) or bool((index >= num_joints).any()):
        raise HumanScoreError(f"bones: joint indices must lie in [0, {num_joints}), got {index.tolist()}")
    return index


def bone_lengths(joints: torch.Tensor, bones: Optional[BoneList] = None, eps: float = 0.0) -> torch.Tensor:
    """Lengths (B, T, K) in metres of the bones (K pairs) of joints (B, T, J, 3).

    ``eps`` > 0 gives the smooth length ``sqrt(L^2 + eps^2)`` (finite gradient at L = 0).
    """
    index = _bone_index(bones, joints.shape[2], joints.device)
    return safe_norm(joints[:, :, index[:, 1]] - joints[:, :, index[:, 0]], eps=eps)


def _bone_length_update(joints: torch.Tensor, mask: Optional[torch.Tensor] = None,
                        bones: Optional[BoneList] = None,
                        min_bone_length_m: Optional[float] = None) -> Dict[str, torch.Tensor]:
    """Per-sequence statistics for one batch.

    Args:
        joints: (B, T, J, 3) metres. mask: (B, T) bool (None: all valid).
        bones: (parent, child) pairs; SMPL's when None.
        min_bone_length_m: shorter bones are skipped; the config's when None.

    Returns:
        ``raw`` (B,) mean CV over used bones (%), ``max_change`` (B,) (%), ``computed`` (B,) bool
        (>= 2 valid frames and a used bone), ``per_bone_cv`` (B, K) (%), ``used_bones`` (B, K)
        bool, ``per_frame_deviation`` (B, T) largest |L_t - mean L| / mean L over bones (%).
    """
    joints, mask = check_motion(joints, None, mask)
    if min_bone_length_m is None:
        min_bone_length_m = float(load_config("bone_length")["min_bone_length_m"])
    lengths = bone_lengths(joints, bones)  # (B, T, K)
    weight = mask.to(lengths.dtype)[..., None]
    frames = weight.sum(1)  # (B, 1)
    mean = (lengths * weight).sum(1) / frames.clamp_min(1)
    variance = ((lengths - mean[:, None]) ** 2 * weight).sum(1) / frames.clamp_min(1)
    used = (mean >= min_bone_length_m) & (frames >= 2)
    safe_mean = torch.where(used, mean, torch.ones_like(mean))
    # std = sqrt(variance) is zero for a rigid bone, where the plain sqrt has an infinite gradient.
    cv = 100.0 * safe_sqrt(variance) / safe_mean * used
    num_used = used.sum(1)
    raw = cv.sum(1) / num_used.clamp_min(1)
    pairs = (mask[:, 1:] & mask[:, :-1]).to(lengths.dtype)[..., None]
    change = 100.0 * (lengths[:, 1:] - lengths[:, :-1]).abs() / safe_mean[:, None] * pairs * used[:, None]
    deviation = 100.0 * (lengths - mean[:, None]).abs() / safe_mean[:, None] * weight * used[:, None]
    return {
        "raw": raw,
        "max_change": change.flatten(1).amax(1) if change.shape[1] else raw * 0,
        "computed": num_used > 0,
        "per_bone_cv": cv,
        "used_bones": used,
        "per_frame_deviation": deviation.amax(2),
    }


def _bone_length_compute(raw_sum: torch.Tensor, max_change_sum: torch.Tensor,
                         num_sequences: torch.Tensor) -> Dict[str, torch.Tensor]:
    """Mean over sequences of the per-sequence CV (%) and largest change (%) from sums."""
    count = num_sequences.clamp_min(1).to(raw_sum.dtype)
    return {"raw": raw_sum / count, "max_change": max_change_sum / count}


def bone_length_consistency(joints: torch.Tensor, mask: Optional[torch.Tensor] = None,
                            bones: Optional[BoneList] = None,
                            config: Optional[Mapping[str, Any]] = None) -> Dict[str, torch.Tensor]:
    """Bone-length consistency per sequence.

    Args:
        joints: (B, T, J, 3) joint positions in metres: SMPL joints (J = 24, bones from the
            SMPL tree) or any keypoints with ``bones`` given.
        mask: (B, T) bool valid frames (None: all valid).
        bones: (parent, child) index pairs; SMPL's parent-child pairs when None.
        config: the ``bone_length`` config; the shipped one when None.

    Returns:
        the fields of :func:`_bone_length_update` plus ``score`` (B,) 0-100.
    """
    config = load_config("bone_length") if config is None else config
    out = _bone_length_update(joints, mask, bones, float(config["min_bone_length_m"]))
    out["score"] = score_from_config(out["raw"], config["score"])
    return out


def bone_length_penalty(joints: torch.Tensor, mask: Optional[torch.Tensor] = None,
                        bones: Optional[BoneList] = None, min_bone_length_m: Optional[float] = None,
                        eps: float = 1e-6) -> torch.Tensor:
    """Smooth loss: mean over sequences and used bones of the squared CV ``var(L) / mean(L)^2``
    (unitless; 1e-4 = 1 % CV). Squared so no square root is taken at zero variance; lengths
    are ``sqrt(L^2 + eps^2)`` (eps metres) so a zero-length bone has a finite gradient.

    Args:
        joints: (B, T, J, 3) metres. mask: (B, T) bool or None. bones: as in
        :func:`bone_length_consistency`. min_bone_length_m: the config's when None.

    Returns:
        () penalty.
    """
    joints, mask = check_motion(joints, None, mask)
    if min_bone_length_m is None:
        min_bone_length_m = float(load_config("bone_length")["min_bone_length_m"])
    lengths = bone_lengths(joints, bones, eps=eps)
    weight = mask.to(lengths.dtype)[..., None]
    frames = weight.sum(1).clamp_min(1)
    mean = (lengths * weight).sum(1) / frames
    variance = ((lengths - mean[:, None]) ** 2 * weight).sum(1) / frames
    used = ((mean >= min_bone_length_m) & (weight.sum(1) >= 2)).detach()
    # Unused bones (e.g. no valid frame: mean 0) divide by 1, not 0: 0/0 * False would be NaN.
    squared_cv = variance / torch.where(used, mean, torch.ones_like(mean)).pow(2) * used
    return squared_cv.sum() / used.sum().clamp_min(1)
