"""Ground level and contact estimated from the body's possible supports (no ground plane needed).

A body can stand on six *supports*: the two feet (ankle and ball-of-foot joints), the two knees
(kneeling) and the two hands (wrist and hand joints: a cartwheel, a crawl, a hand put down in a
squat). Each support point sits a fixed height above the surface it rests on (config
``contact.joint_height_m``, measured on the embedded default body), so ``y - joint_height`` is
the height of the skin under it: its *sole height*.

**Ground, locally in time.** Real ground does not move, but video estimators drift slowly up or
down, and a clip may have no ground plane at all. The ground at frame t is therefore a low
percentile (``ground_percentile``) of the lowest sole height of the body over a window of
``ground_window_s`` centred on t: the lowest support is on the ground in most frames of any
few-second stretch (walking, running, crawling), a low percentile ignores a few noisy or sunken
frames, and a window of seconds follows drift (15 cm in 10 s lags by 1.4 cm in a 2 s window)
while a jump's flight (under 1 s) stays a minority of it. With a known ground height the ground
is that height at every frame.

**Contact.** A support point is *planted* when it is within ``height_m`` of the local ground and
slower than ``speed_m_s`` (a planted heel or ball of the foot is still while the other end rolls;
a swing foot skimming the floor is fast); a support is in contact when one of its points is.

**Rest.** A support point is *resting*, at any height, when it stays slower than
``rest_speed_m_s`` for ``rest_s`` around the frame. The body is then supported somewhere even if
no support touches the estimated ground: in flight the centre of mass falls away at g, so no body
point stays that still for long (every point of a jumping body passes below 0.5 m/s for only
2 * 0.5 / g = 0.1 s at the apex). Rest covers a foot on a box above the floor and a foot whose
height an estimator or a retargeting moves while it is planted.
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
# Supports, feet first (so ``contact[..., :2]`` are the feet), and the SMPL joints of each.
SUPPORTS = ("left_foot", "right_foot", "left_knee", "right_knee", "left_hand", "right_hand")
_SUPPORT_JOINTS = (("left_ankle", "left_foot"), ("right_ankle", "right_foot"), ("left_knee",), ("right_knee",),
                   ("left_wrist", "left_hand"), ("right_wrist", "right_hand"))
# Support points, flat (the four foot joints first, in ``FOOT_JOINTS.flatten()`` order): the
# SMPL joint, its index, its support, and its key in ``joint_height_m``.
SUPPORT_POINTS = tuple(name for joints in _SUPPORT_JOINTS for name in joints)
SUPPORT_POINT_JOINTS = torch.tensor([JOINT_INDEX[name] for name in SUPPORT_POINTS])
_POINT_SUPPORT = torch.tensor([s for s, joints in enumerate(_SUPPORT_JOINTS) for _ in joints])
_POINT_KIND = tuple(name.split("_", 1)[1] for name in SUPPORT_POINTS)
_UP = 1  # y is up
# A running quantile reads at most this many frames either side of each frame (evenly spaced
# over the window): the ground changes slowly, and memory stays bounded at any fps.
_GROUND_SAMPLES_PER_SIDE = 64


class Contact(NamedTuple):
    """Support contact per frame.

    Attributes:
        ground: (B, T) ground height (m) at each frame (0 on invalid frames).
        heights: (B, T, P) sole height (m) of each support point above the ground,
            P = ``len(SUPPORT_POINTS)``.
        speeds: (B, T, P) speed (m/s) of each support point.
        planted: (B, T, P) bool, near the ground and slow.
        resting: (B, T, P) bool, still for ``rest_s`` around the frame.
        contact: (B, T, S) bool, a point of the support planted (``SUPPORTS`` order).
        supported: (B, T) bool, a support in contact or a support point resting.
        All flags are False on invalid frames.
    """

    ground: torch.Tensor
    heights: torch.Tensor
    speeds: torch.Tensor
    planted: torch.Tensor
    resting: torch.Tensor
    contact: torch.Tensor
    supported: torch.Tensor


def masked_quantile(values: torch.Tensor, mask: torch.Tensor, q: float) -> torch.Tensor:
    """Quantile (lower nearest rank) of the valid entries along the last dimension.

    Args:
        values: (..., N). mask: (..., N) bool. q: in [0, 1].

    Returns:
        (...) the value at rank floor(q * (n - 1)) among the n valid entries (0 when n = 0).
        Differentiable (a gather of the sorted values).
    """
    if values.shape[-1] == 0:  # no entry at all (an empty clip): nothing to gather from
        return values.new_zeros(values.shape[:-1])
    filled = torch.where(mask, values, torch.full_like(values, float("inf")))
    ordered, _ = torch.sort(filled, dim=-1)
    count = mask.sum(-1)
    rank = ((count - 1).clamp_min(0).to(values.dtype) * q).floor().long()
    picked = ordered.gather(-1, rank[..., None])[..., 0]
    return torch.where(count > 0, picked, torch.zeros_like(picked))


def running_quantile(values: torch.Tensor, mask: torch.Tensor, fps: torch.Tensor, window_s: float,
                     q: float) -> torch.Tensor:
    """Quantile ``q`` of the valid values in a window of ``window_s`` seconds centred on each frame.

    Args:
        values: (B, T). mask: (B, T) bool. fps: (B,) Hz. window_s: >= 0. q: in [0, 1].

    Returns:
        (B, T) the quantile (:func:`masked_quantile`) of the valid frames t + k * step with
        ``|k * step| <= h``, ``h = ceil(fps * window_s / 2)`` frames and ``step = ceil(h / 64)``
        (every frame up to 64 frames either side; one in ``step`` beyond), 0 where none is
        valid. Each sequence's window depends only on its own fps, never on the batch.
    """
    batch, frames = values.shape
    if batch == 0 or frames == 0:
        return values.new_zeros(batch, frames)
    # Host reads of (B,) fps only (never of data): the window's length in frames.
    half = torch.ceil(fps.to(torch.float64) * window_s / 2).long().clamp(min=0, max=frames - 1).to(values.device)
    samples = max(1, min(_GROUND_SAMPLES_PER_SIDE, int(half.max())))
    step = torch.ceil(half.to(torch.float64) / samples).long().clamp_min(1)  # (B,)
    ks = torch.arange(-samples, samples + 1, device=values.device)
    offsets = ks[None, :] * step[:, None]  # (B, K)
    index = torch.arange(frames, device=values.device)[None, :, None] + offsets[:, None, :]  # (B, T, K)
    keep = (index >= 0) & (index < frames) & (offsets.abs() <= half[:, None])[:, None, :]
    flat = index.clamp(0, frames - 1).flatten(1)
    picked = values.gather(1, flat).reshape(index.shape)
    keep = keep & mask.gather(1, flat).reshape(index.shape)
    return masked_quantile(picked, keep, q)


def _known_ground(ground: torch.Tensor, joints: torch.Tensor) -> torch.Tensor:
    check_shape(ground, "B", "ground", {"B": joints.shape[0]})
    check_device(ground, joints.device, "ground")
    # One host read of a (B,) input: an unknown ground is None, never NaN.
    if not bool(torch.isfinite(ground).all()):
        raise InputValueError(f"ground: expected finite heights in metres (None when unknown), got {ground.tolist()}")
    return ground.to(joints.dtype)[:, None].expand(-1, joints.shape[1])


def sole_heights(joints: torch.Tensor, config: Mapping[str, Any]) -> torch.Tensor:
    """(B, T, P) height (m) of the skin under each support point: its y minus its joint height."""
    offsets = joints.new_tensor([float(config["joint_height_m"][kind]) for kind in _POINT_KIND])
    return joints[:, :, SUPPORT_POINT_JOINTS.to(joints.device), _UP] - offsets


def ground_height(joints: torch.Tensor, mask: torch.Tensor, fps: torch.Tensor, ground: Optional[torch.Tensor] = None,
                  config: Optional[Mapping[str, Any]] = None) -> torch.Tensor:
    """Ground height (B, T) in metres at each frame, estimated locally in time (module docstring).

    Args:
        joints: (B, T, 24, 3) metres, y up. mask: (B, T) bool. fps: (B,) Hz.
        ground: (B,) known ground height (m), or None to estimate from the supports.
        config: the ``contact`` section of ``configs/diagnostics.yaml``; shipped when None.
    """
    config = load_config("diagnostics")["contact"] if config is None else config
    if ground is not None:
        return _known_ground(ground, joints) * mask
    lowest = sole_heights(joints, config).amin(-1)
    levels = running_quantile(lowest, mask, fps, float(config["ground_window_s"]),
                              float(config["ground_percentile"]) / 100.0)
    return levels * mask


def support_contact(positions: torch.Tensor, velocities: torch.Tensor, mask: torch.Tensor, fps: torch.Tensor,
                    ground: Optional[torch.Tensor] = None, config: Optional[Mapping[str, Any]] = None) -> Contact:
    """Contact of every support from (smoothed) joint positions and velocities.

    Args:
        positions: (B, T, 24, 3) joints in metres (y up), ideally low-passed.
        velocities: (B, T, 24, 3) their velocities in m/s.
        mask: (B, T) bool valid frames. fps: (B,) Hz.
        ground: (B,) known ground height in metres, or None to estimate it.
        config: the ``contact`` section of ``configs/diagnostics.yaml``; shipped when None.

    Returns:
        :class:`Contact`.
    """
    config = load_config("diagnostics")["contact"] if config is None else config
    levels = ground_height(positions, mask, fps, ground, config)
    heights = sole_heights(positions, config) - levels[..., None]
    speeds = safe_norm(velocities[:, :, SUPPORT_POINT_JOINTS.to(positions.device)])
    valid = mask[..., None]
    planted = (heights < float(config["height_m"])) & (speeds < float(config["speed_m_s"])) & valid
    # Resting: still at every valid frame within +-rest_s / 2 (invalid frames interrupt a rest).
    moving = (speeds >= float(config["rest_speed_m_s"])) | ~mask[..., None]
    radius = torch.ceil(fps.to(torch.float64) * float(config["rest_s"]) / 2).long()  # as in any dtype
    points = len(SUPPORT_POINTS)
    moving_nearby = dilate_frames(moving.transpose(1, 2).flatten(0, 1), radius.repeat_interleave(points))
    batch, frames = mask.shape  # explicit: -1 is ambiguous when B = 0 or T = 0
    resting = ~moving_nearby.reshape(batch, points, frames).transpose(1, 2) & valid
    return Contact(levels, heights, speeds, planted, resting, _any_per_support(planted), (planted | resting).any(-1))


def _any_per_support(flags: torch.Tensor) -> torch.Tensor:
    """(B, T, S) bool: any of each support's points (B, T, P) is set."""
    counts = flags.new_zeros(*flags.shape[:2], len(SUPPORTS), dtype=torch.long)
    return counts.index_add_(2, _POINT_SUPPORT.to(flags.device), flags.long()) > 0


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
