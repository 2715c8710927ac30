"""Jerk (spec 4.6): the third time derivative of joint positions, by finite differences.

For each joint, ``jerk_t = |x_{t+3} - 3 x_{t+2} + 3 x_{t+1} - x_t| * fps^3`` (m/s^3), with the
sequence's own fps (mixed rates in one batch are fine). A difference counts only when all
four frames it touches are valid. Reported per sequence:

* ``raw``: mean jerk over joints and counted differences (m/s^3);
* ``jitter``: the same divided by 10, the "Jitter (10 m/s^3)" figure of WHAM and GVHMR;
* ``spike_rate``: fraction of counted differences in which any joint's jerk exceeds a
  threshold set from real motion (``configs/jerk.yaml``).

Per-frame values sit at the first frame of their difference: entry ``t`` covers frames
``t .. t+3``; the last three entries of every sequence are never counted.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

import torch

from ..config import load_config
from .motion_inputs import check_motion, safe_norm
from .result import MetricResult
from .scoring import score_from_config


def _third_difference(joints: torch.Tensor, fps: torch.Tensor, mask: torch.Tensor):
    """(B, T-3, J, 3) third differences x fps^3 and (B, T-3) bool: all four frames valid."""
    diff = joints[:, 3:] - 3.0 * joints[:, 2:-1] + 3.0 * joints[:, 1:-2] - joints[:, :-3]
    counted = mask[:, 3:] & mask[:, 2:-1] & mask[:, 1:-2] & mask[:, :-3]
    return diff * fps.to(joints.dtype)[:, None, None, None] ** 3, counted


def _pad_frames(x: torch.Tensor, frames: int) -> torch.Tensor:
    """Pad (B, T-3, ...) on the time axis back to (B, T, ...) with zeros (False); clips of
    fewer than 4 frames have more difference slots (padded to 4) than frames: none is added."""
    pad = x.new_zeros((x.shape[0], max(frames - x.shape[1], 0)) + tuple(x.shape[2:]))
    return torch.cat([x, pad], 1)


def _jerk_update(joints: torch.Tensor, fps: torch.Tensor, mask: Optional[torch.Tensor] = None,
                 spike_threshold: Optional[float] = None) -> Dict[str, torch.Tensor]:
    """Per-sequence sums for one batch.

    Args:
        joints: (B, T, J, 3) metres. fps: (B,) Hz. mask: (B, T) bool (None: all valid).
        spike_threshold: m/s^3; the shipped config's when None.

    Returns:
        ``jerk_sum`` (B,) sum of jerk over joints and counted differences (m/s^3),
        ``num_terms`` (B,) number of (difference, joint) terms, ``num_differences`` (B,),
        ``num_spikes`` (B,) differences with a joint above the threshold, and per-frame
        ``per_frame`` (B, T) mean jerk over joints, ``counted`` (B, T) bool, ``per_joint_sum`` (B, J).
    """
    joints, mask = check_motion(joints, fps, mask)
    threshold = float(load_config("jerk")["spike_threshold_m_s3"]) if spike_threshold is None else float(spike_threshold)
    frames = joints.shape[1]
    if frames < 4:  # no third difference exists: nothing counts
        joints = torch.cat([joints, joints.new_zeros((joints.shape[0], 4 - frames) + tuple(joints.shape[2:]))], 1)
        mask = torch.cat([mask, mask.new_zeros(mask.shape[0], 4 - frames)], 1)
    diff, counted = _third_difference(joints, fps, mask)
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

    Args:
        joints: (B, T, J, 3) joint positions in metres (SMPL joints or any keypoints).
        fps: (B,) frames per second of each sequence.
        mask: (B, T) bool valid frames (None: all valid).
        config: the ``jerk`` config; the shipped one when None.

    Returns:
        dict of ``raw`` (B,) mean jerk in m/s^3, ``jitter`` (B,) in 10 m/s^3 (= raw / 10),
        ``spike_rate`` (B,) fraction of counted differences with a spike, ``score`` (B,) 0-100,
        ``computed`` (B,) bool (at least one counted difference), ``per_frame`` (B, T) mean
        jerk over joints (entry t: frames t..t+3), ``counted`` (B, T), ``per_joint`` (B, J) m/s^3.
    """
    config = load_config("jerk") if config is None else config
    sums = _jerk_update(joints, fps, mask, config["spike_threshold_m_s3"])
    out = _jerk_compute(sums["jerk_sum"], sums["num_terms"], sums["num_spikes"], sums["num_differences"])
    out["score"] = score_from_config(out["raw"], config["score"])
    out["computed"] = sums["num_differences"] > 0
    out["per_frame"] = sums["per_frame"]
    out["counted"] = sums["counted"]
    out["per_joint"] = sums["per_joint_sum"] / sums["num_differences"].clamp_min(1)[:, None].to(joints.dtype)
    out["num_differences"] = sums["num_differences"]
    return out


def jerk_penalty(joints: torch.Tensor, fps: torch.Tensor, mask: Optional[torch.Tensor] = None,
                 eps: Optional[float] = None) -> torch.Tensor:
    """Smooth mean jerk for losses: mean over counted (difference, joint) terms of
    ``sqrt(|jerk|^2 + eps^2)`` (m/s^3); equals the metric's mean jerk up to eps.

    The plain norm has an undefined gradient at zero jerk (a still joint); the eps keeps it
    smooth there.

    Args:
        joints: (B, T, J, 3) metres. fps: (B,) Hz. mask: (B, T) bool or None.
        eps: m/s^3; the config's ``smooth_eps_m_s3`` when None.

    Returns:
        () penalty in m/s^3 (0 when no difference counts).
    """
    joints, mask = check_motion(joints, fps, mask)
    eps = float(load_config("jerk")["smooth_eps_m_s3"]) if eps is None else float(eps)
    if joints.shape[1] < 4:
        return joints.sum() * 0.0
    diff, counted = _third_difference(joints, fps, mask)
    magnitude = safe_norm(diff, eps=eps) * counted[..., None]
    return magnitude.sum() / (counted.sum() * joints.shape[2]).clamp_min(1)


def jerk_result(batch, body) -> MetricResult:
    """The suite entry: jerk of a MotionBatch's joints (posed on ``body`` unless precomputed)."""
    joints = batch.posed(body).joints
    out = jerk(joints, batch.fps.to(joints.dtype), batch.mask)
    details = {k: out[k] for k in ("jitter", "spike_rate", "per_frame", "counted", "per_joint")}
    return MetricResult(key="jerk", raw=out["raw"], unit="m/s^3", score=out["score"],
                        computed=out["computed"], details=details)
