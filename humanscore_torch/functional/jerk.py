"""Jerk (spec 4.6): the third time derivative of joint positions, by finite differences.

For each joint, ``jerk_t = |x_{t+3k} - 3 x_{t+2k} + 3 x_{t+k} - x_t| * (fps/k)^3`` (m/s^3): a
third difference over a step of ``k`` frames, ``k = max(1, round(fps / reference_fps))`` with the
sequence's own fps (mixed rates in one batch are fine, each sequence gets its own step) and
``reference_fps`` from ``configs/jerk.yaml`` (30). The step keeps the metric comparable across
frame rates: the thresholds were set at video rates around 30 fps, and per-frame differences of
the same motion grow with the rate (noise of sigma metres as fps^3). At 24-44 fps ``k = 1`` and
the value is the plain per-frame formula; 60 fps differences every second frame. With
``reference_fps: null`` every rate uses per-frame differences (``k = 1``). A difference counts
only when all four frames it touches are valid (and lie inside the sequence). Reported per
sequence:

* ``raw``: mean jerk over joints and counted differences (m/s^3);
* ``jitter``: the same divided by 10, the "Jitter (10 m/s^3)" figure of WHAM and GVHMR (exactly
  theirs at ``k = 1``);
* ``spike_rate``: fraction of counted differences in which any joint's jerk exceeds a
  threshold set from real motion (``configs/jerk.yaml``).

Per-frame values sit at the first frame of their difference: entry ``t`` covers frames
``t, t+k, t+2k, t+3k``; the last ``3k`` entries of every sequence are never counted, and a
sequence of fewer than ``3k + 1`` frames has no counted difference.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Mapping, Optional

import torch

from ..config import load_config
from ..errors import InputValueError
from .motion_inputs import check_motion, safe_norm
from .scoring import score_from_config

# Default of the ``reference_fps`` arguments: the shipped config's value (None means per-frame).
_FROM_CONFIG: Any = object()


def _reference_fps(reference_fps: Any) -> Optional[float]:
    """The reference rate in Hz (the shipped config's for ``_FROM_CONFIG``), or None (per-frame)."""
    if reference_fps is _FROM_CONFIG:
        reference_fps = load_config("jerk").get("reference_fps")
    if reference_fps is None:
        return None
    value = float(reference_fps)
    if not (math.isfinite(value) and value > 0):
        raise InputValueError(f"reference_fps: expected a finite rate > 0 Hz or None, got {reference_fps!r}")
    return value


def config_reference_fps(config: Mapping[str, Any]) -> Optional[float]:
    """A ``jerk`` config's ``reference_fps`` (the shipped config's when it has none), checked."""
    return _reference_fps(config["reference_fps"] if "reference_fps" in config else _FROM_CONFIG)


def _frame_step(fps: torch.Tensor, reference_fps: Optional[float], dtype: torch.dtype) -> Optional[torch.Tensor]:
    """(B,) long step ``k = max(1, round(fps / reference_fps))`` (ties to even) on fps's device,
    or None (per-frame) when ``reference_fps`` is None."""
    if reference_fps is None:
        return None
    return torch.round(fps.to(dtype) / reference_fps).clamp_min(1).to(torch.long)


def _third_difference(joints: torch.Tensor, fps: torch.Tensor, mask: torch.Tensor,
                      step: Optional[torch.Tensor] = None):
    """Third differences over a step of ``k`` frames, times ``(fps/k)^3``.

    Args:
        joints: (B, T, J, 3). fps: (B,) Hz. mask: (B, T) bool.
        step: (B,) long ``k`` per sequence (>= 1); None: per-frame differences (``k = 1``).

    Returns:
        (B, T-3, J, 3) ``(x_{t+3k} - 3 x_{t+2k} + 3 x_{t+k} - x_t) * (fps/k)^3`` at entry ``t``,
        and (B, T-3) bool: all four frames valid and ``t + 3k < T`` (entries that are not counted
        hold meaningless values). With ``k = 1`` the values equal the per-frame formula exactly.
    """
    rate = fps.to(joints.dtype)
    if step is None:
        diff = joints[:, 3:] - 3.0 * joints[:, 2:-1] + 3.0 * joints[:, 1:-2] - joints[:, :-3]
        counted = mask[:, 3:] & mask[:, 2:-1] & mask[:, 1:-2] & mask[:, :-3]
        return diff * rate[:, None, None, None] ** 3, counted
    batch, frames = joints.shape[:2]
    device = joints.device
    # Frames of entry t of sequence b: t + k_b * (0, 1, 2, 3); past the end: clamped, not counted.
    starts = torch.arange(max(frames - 3, 0), device=device)
    index = starts[None, None, :] + step[:, None, None] * torch.arange(4, device=device)[None, :, None]
    inside = index[:, 3] < frames  # (B, T-3)
    index = index.clamp_max(max(frames - 1, 0))
    rows = torch.arange(batch, device=device)[:, None, None]
    x = joints[rows, index]  # (B, 4, T-3, J, 3)
    diff = x[:, 3] - 3.0 * x[:, 2] + 3.0 * x[:, 1] - x[:, 0]
    counted = mask[rows, index].all(1) & inside
    return diff * (rate / step.to(joints.dtype))[:, None, None, None] ** 3, counted


def _pad_frames(x: torch.Tensor, frames: int) -> torch.Tensor:
    """Pad (B, T-3, ...) on the time axis back to (B, T, ...) with zeros (False); clips of
    fewer than 4 frames have more difference slots (padded to 4) than frames: none is added."""
    pad = x.new_zeros((x.shape[0], max(frames - x.shape[1], 0)) + tuple(x.shape[2:]))
    return torch.cat([x, pad], 1)


def _jerk_update(joints: torch.Tensor, fps: torch.Tensor, mask: Optional[torch.Tensor] = None,
                 spike_threshold: Optional[float] = None, reference_fps: Any = _FROM_CONFIG) -> Dict[str, torch.Tensor]:
    """Per-sequence sums for one batch, with third differences over a step of
    ``k = max(1, round(fps / reference_fps))`` frames per sequence, times ``(fps/k)^3``.

    Args:
        joints: (B, T, J, 3) metres. fps: (B,) Hz. mask: (B, T) bool (None: all valid).
        spike_threshold: m/s^3; the shipped config's when None.
        reference_fps: Hz; None for per-frame differences at every rate; the shipped config's
            ``reference_fps`` when not given.

    Returns:
        ``jerk_sum`` (B,) sum of jerk over joints and counted differences (m/s^3),
        ``num_terms`` (B,) number of (difference, joint) terms, ``num_differences`` (B,),
        ``num_spikes`` (B,) differences with a joint above the threshold, and per-frame
        ``per_frame`` (B, T) mean jerk over joints (entry t: frames t, t+k, t+2k, t+3k),
        ``counted`` (B, T) bool, ``per_joint_sum`` (B, J).
    """
    joints, mask = check_motion(joints, fps, mask)
    threshold = float(load_config("jerk")["spike_threshold_m_s3"]) if spike_threshold is None else float(spike_threshold)
    step = _frame_step(fps, _reference_fps(reference_fps), joints.dtype)
    frames = joints.shape[1]
    if frames < 4:  # no third difference exists: nothing counts
        joints = torch.cat([joints, joints.new_zeros((joints.shape[0], 4 - frames) + tuple(joints.shape[2:]))], 1)
        mask = torch.cat([mask, mask.new_zeros(mask.shape[0], 4 - frames)], 1)
    diff, counted = _third_difference(joints, fps, mask, step)
    magnitude = safe_norm(diff) * counted[..., None]  # (B, T-3, J); zero where not counted
    num_joints = joints.shape[2]
    spikes = (magnitude > threshold).any(-1) & counted
    per_frame = magnitude.mean(-1)
    return {
        "jerk_sum": magnitude.sum((1, 2)),
        "num_terms": counted.sum(1) * num_joints,
        "num_differences": counted.sum(1),
        "num_spikes": spikes.sum(1),
        "per_frame": _pad_frames(per_frame, frames)[:, :frames],
        "counted": _pad_frames(counted, frames)[:, :frames],
        "per_joint_sum": magnitude.sum(1),
    }


def _jerk_compute(jerk_sum: torch.Tensor, num_terms: torch.Tensor, num_spikes: torch.Tensor,
                  num_differences: torch.Tensor) -> Dict[str, torch.Tensor]:
    """Mean jerk (m/s^3), jitter (10 m/s^3) and spike rate from sums (any matching shapes).

    Where nothing was counted the values are 0 (and must be reported as not computed).
    """
    mean = jerk_sum / num_terms.clamp_min(1).to(jerk_sum.dtype)
    return {"raw": mean, "jitter": mean / 10.0,
            "spike_rate": num_spikes.to(jerk_sum.dtype) / num_differences.clamp_min(1).to(jerk_sum.dtype)}


def jerk(joints: torch.Tensor, fps: torch.Tensor, mask: Optional[torch.Tensor] = None,
         config: Optional[Mapping[str, Any]] = None) -> Dict[str, torch.Tensor]:
    """Jerk of joint trajectories, per sequence.

    Each sequence differences over a step of ``k = max(1, round(fps / reference_fps))`` frames:
    ``|x_{t+3k} - 3 x_{t+2k} + 3 x_{t+k} - x_t| * (fps/k)^3`` (``k = 1`` at 24-44 fps with the
    shipped ``reference_fps`` of 30; ``k = 2`` from 45 to 75 fps, ``k = 4`` at 120 fps).

    Args:
        joints: (B, T, J, 3) joint positions in metres (SMPL joints or any keypoints).
        fps: (B,) frames per second of each sequence.
        mask: (B, T) bool valid frames (None: all valid).
        config: the ``jerk`` config; the shipped one when None. Its ``reference_fps`` (Hz, or
            None for per-frame differences at every rate) is the shipped one when absent.

    Returns:
        dict of ``raw`` (B,) mean jerk in m/s^3, ``jitter`` (B,) in 10 m/s^3 (= raw / 10),
        ``spike_rate`` (B,) fraction of counted differences with a spike, ``score`` (B,) 0-100,
        ``computed`` (B,) bool (at least one counted difference: needs ``3k + 1`` frames),
        ``per_frame`` (B, T) mean jerk over joints (entry t: frames t, t+k, t+2k, t+3k),
        ``counted`` (B, T), ``per_joint`` (B, J) m/s^3, ``num_differences`` (B,).
    """
    config = load_config("jerk") if config is None else config
    sums = _jerk_update(joints, fps, mask, config["spike_threshold_m_s3"], config_reference_fps(config))
    out = _jerk_compute(sums["jerk_sum"], sums["num_terms"], sums["num_spikes"], sums["num_differences"])
    out["score"] = score_from_config(out["raw"], config["score"])
    out["computed"] = sums["num_differences"] > 0
    out["per_frame"] = sums["per_frame"]
    out["counted"] = sums["counted"]
    out["per_joint"] = sums["per_joint_sum"] / sums["num_differences"].clamp_min(1)[:, None].to(joints.dtype)
    out["num_differences"] = sums["num_differences"]
    return out


def jerk_penalty(joints: torch.Tensor, fps: torch.Tensor, mask: Optional[torch.Tensor] = None,
                 eps: Optional[float] = None, reference_fps: Any = _FROM_CONFIG) -> torch.Tensor:
    """Smooth mean jerk for losses: mean over counted (difference, joint) terms of
    ``sqrt(|jerk|^2 + eps^2)`` (m/s^3); equals the metric's mean jerk up to eps.

    Uses the metric's step: third differences over ``k = max(1, round(fps / reference_fps))``
    frames per sequence, times ``(fps/k)^3``, so loss and metric agree at every rate.

    The plain norm has an undefined gradient at zero jerk (a still joint); the eps keeps it
    smooth there.

    Args:
        joints: (B, T, J, 3) metres. fps: (B,) Hz. mask: (B, T) bool or None.
        eps: m/s^3; the config's ``smooth_eps_m_s3`` when None.
        reference_fps: Hz; None for per-frame differences at every rate; the shipped config's
            ``reference_fps`` when not given.

    Returns:
        () penalty in m/s^3 (0 when no difference counts).
    """
    joints, mask = check_motion(joints, fps, mask)
    eps = float(load_config("jerk")["smooth_eps_m_s3"]) if eps is None else float(eps)
    step = _frame_step(fps, _reference_fps(reference_fps), joints.dtype)
    if joints.shape[1] < 4:
        return joints.sum() * 0.0
    diff, counted = _third_difference(joints, fps, mask, step)
    magnitude = safe_norm(diff, eps=eps) * counted[..., None]
    return magnitude.sum() / (counted.sum() * joints.shape[2]).clamp_min(1)
