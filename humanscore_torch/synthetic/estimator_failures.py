"""Typical failures of video pose estimators, applied to any SMPL sequence (real or synthetic).

Each function takes a sequence dict (``global_orient`` (T, 3) and ``body_pose`` (T, 23, 3)
axis-angle, ``transl`` (T, 3) metres, y up, ``fps``) and returns a corrupted copy; the input is
not modified. Sizes default to those of issue 16's "Done when":

======================== ===================================================================
failure                  what changes
======================== ===================================================================
rotation_noise           every joint's rotation (root included) composed with an independent
                         random rotation per frame, ``rms_deg`` RMS angle (3 deg)
translation_noise        Gaussian noise on the root translation, ``rms_m`` RMS length of the
                         3-D offset per frame (1 cm)
teleport                 the whole body displaced ``distance_m`` sideways (+x, 20 cm) during
                         ``frames`` frames (2) in the middle of the clip, then back
leg_swap                 the left and right legs exchange their (mirrored) rotations for
                         ``frames`` frames (5) in the middle of the clip: the estimator's
                         classic left/right confusion
freeze_then_snap         the pose and translation stay at one frame for ``frames`` frames (10)
                         in the middle of the clip, then snap back to the motion
drift                    the root moves sideways (+x) at ``speed_m_s`` (1 m/s) over the whole
                         clip: a camera pan read as body motion
======================== ===================================================================

Rotations are mirrored through the sagittal plane (x is the body's lateral axis in SMPL's rest
frame, so a mirrored axis-angle is ``(x, -y, -z)``).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, Optional

import torch

from ..body.skeleton import JOINT_INDEX
from ..errors import InputValueError
from ..rotations import rotmat_to_rotvec, rotvec_to_rotmat

Sequence = Dict[str, Any]

# The leg joints of each side, in the same order (body_pose indices are SMPL indices - 1).
_LEFT_LEG = ("left_hip", "left_knee", "left_ankle", "left_foot")
_RIGHT_LEG = ("right_hip", "right_knee", "right_ankle", "right_foot")
_MIRROR = torch.tensor([1.0, -1.0, -1.0])


def _copy(sequence: Sequence) -> Sequence:
    out = dict(sequence)
    for key in ("global_orient", "body_pose", "transl"):
        out[key] = torch.as_tensor(sequence[key]).clone()
    out["metadata"] = dict(sequence.get("metadata") or {})
    return out


def _middle(sequence: Sequence, frames: int) -> slice:
    """``frames`` frames centred in the clip (a failure needs motion on both sides)."""
    total = int(torch.as_tensor(sequence["transl"]).shape[0])
    if not 0 < frames < total - 1:
        raise InputValueError(f"frames: expected 1 to {total - 2} (the clip has {total}), got {frames}")
    start = (total - frames) // 2
    return slice(start, start + frames)


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def rotation_noise(sequence: Sequence, rms_deg: float = 3.0, seed: int = 0) -> Sequence:
    """Every joint rotation times an independent random rotation per frame of ``rms_deg`` RMS
    angle (isotropic Gaussian rotation vectors: each axis has sigma ``rms / sqrt(3)``)."""
    out = _copy(sequence)
    gen = _generator(seed)
    sigma = math.radians(rms_deg) / math.sqrt(3.0)
    for key in ("global_orient", "body_pose"):
        pose = out[key]
        noise = torch.randn(pose.shape, generator=gen, dtype=torch.float64) * sigma
        rot = rotvec_to_rotmat(noise) @ rotvec_to_rotmat(pose.double())
        out[key] = rotmat_to_rotvec(rot).to(pose.dtype)
    return out


def translation_noise(sequence: Sequence, rms_m: float = 0.01, seed: int = 0) -> Sequence:
    """Gaussian noise on the root translation, ``rms_m`` RMS length of the 3-D offset."""
    out = _copy(sequence)
    noise = torch.randn(out["transl"].shape, generator=_generator(seed), dtype=torch.float64)
    out["transl"] = out["transl"] + (noise * rms_m / math.sqrt(3.0)).to(out["transl"].dtype)
    return out


def teleport(sequence: Sequence, distance_m: float = 0.2, frames: int = 2) -> Sequence:
    """The body displaced ``distance_m`` along +x for ``frames`` frames in the middle, then back."""
    out = _copy(sequence)
    out["transl"][_middle(sequence, frames), 0] += distance_m
    return out


def leg_swap(sequence: Sequence, frames: int = 5) -> Sequence:
    """Left and right leg rotations exchanged (mirrored) for ``frames`` frames in the middle."""
    out = _copy(sequence)
    window = _middle(sequence, frames)
    left = [JOINT_INDEX[n] - 1 for n in _LEFT_LEG]
    right = [JOINT_INDEX[n] - 1 for n in _RIGHT_LEG]
    pose = torch.as_tensor(sequence["body_pose"])
    mirror = _MIRROR.to(pose.dtype)
    out["body_pose"][window, left] = pose[window][:, right] * mirror
    out["body_pose"][window, right] = pose[window][:, left] * mirror
    return out


def freeze_then_snap(sequence: Sequence, frames: int = 10) -> Sequence:
    """Pose and translation held at the frame before a middle window of ``frames`` frames; the
    motion resumes (snaps) after it."""
    out = _copy(sequence)
    window = _middle(sequence, frames)
    for key in ("global_orient", "body_pose", "transl"):
        out[key][window] = out[key][window.start - 1]
    return out


def drift(sequence: Sequence, speed_m_s: float = 1.0) -> Sequence:
    """The root translation moving along +x at ``speed_m_s`` over the clip (a camera pan)."""
    out = _copy(sequence)
    frames = out["transl"].shape[0]
    seconds = torch.arange(frames, dtype=torch.float64) / float(sequence["fps"])
    out["transl"][:, 0] += (speed_m_s * seconds).to(out["transl"].dtype)
    return out


# Name -> the failure at its default size (issue 16's sizes).
ESTIMATOR_FAILURES: Dict[str, Callable[[Sequence], Sequence]] = {
    "rotation_noise_3deg": rotation_noise,
    "translation_noise_1cm": translation_noise,
    "teleport_20cm_2f": teleport,
    "leg_swap_5f": leg_swap,
    "freeze_snap_10f": freeze_then_snap,
    "drift_1m_s": drift,
}


def corrupted_copies(sequence: Sequence, names: Optional[tuple] = None) -> Dict[str, Sequence]:
    """The sequence with each failure of :data:`ESTIMATOR_FAILURES` (or of ``names``) applied,
    its metadata ``name`` suffixed with the failure's name."""
    copies = {}
    for name in names or tuple(ESTIMATOR_FAILURES):
        copy = ESTIMATOR_FAILURES[name](sequence)
        base = copy["metadata"].get("name", "clip")
        copy["metadata"]["name"] = f"{base}+{name}"
        copies[name] = copy
    return copies


__all__ = ["rotation_noise", "translation_noise", "teleport", "leg_swap", "freeze_then_snap", "drift",
           "ESTIMATOR_FAILURES", "corrupted_copies"]
