"""A reproducible mix of body poses that stresses self-penetration detection: relaxed random
poses, crossed arms, hand in torso, knees crossing, deep squat."""

from __future__ import annotations

from typing import Tuple

import torch

from ..body.skeleton import JOINT_INDEX

POSE_KINDS = ("relaxed", "crossed_arms", "hand_in_torso", "knees_crossing", "deep_squat")


def benchmark_poses(frames: int, seed: int = 0) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A reproducible mix of poses, equal shares of each kind in :data:`POSE_KINDS`.

    Axis-angle, SMPL joint frames at rest aligned with the world (y up, facing +z, left at +x):
    hip flexion is a rotation about -x, knee flexion about +x, left elbow flexion about -y.

    Args:
        frames: N, number of poses.
        seed: random seed.

    Returns:
        global_orient (N, 3), body_pose (N, 23, 3) in radians (float64), kind (N,) int64 index
        into :data:`POSE_KINDS`.
    """
    g = torch.Generator().manual_seed(seed)
    kind = torch.arange(frames) % len(POSE_KINDS)
    pose = torch.randn(frames, 23, 3, generator=g, dtype=torch.float64) * 0.12

    def uniform(lo: float, hi: float) -> torch.Tensor:
        return lo + (hi - lo) * torch.rand(frames, generator=g, dtype=torch.float64)

    def where(k: str, value: torch.Tensor, joint: str, axis: int) -> None:
        chosen = kind == POSE_KINDS.index(k)
        pose[chosen, JOINT_INDEX[joint] - 1, axis] = value[chosen]

    # Relaxed: arms lowered, elbows and knees bent by random plausible amounts.
    where("relaxed", uniform(-1.4, -0.6), "left_shoulder", 2)
    where("relaxed", uniform(0.6, 1.4), "right_shoulder", 2)
    where("relaxed", uniform(-1.5, 0.0), "left_elbow", 1)
    where("relaxed", uniform(0.0, 1.5), "right_elbow", 1)
    where("relaxed", uniform(-1.0, 0.3), "left_hip", 0)
    where("relaxed", uniform(-1.0, 0.3), "right_hip", 0)
    where("relaxed", uniform(0.0, 1.5), "left_knee", 0)
    where("relaxed", uniform(0.0, 1.5), "right_knee", 0)
    # Crossed arms: both arms forward and across the chest, forearms folded.
    where("crossed_arms", uniform(-1.9, -1.3), "left_shoulder", 1)
    where("crossed_arms", uniform(1.3, 1.9), "right_shoulder", 1)
    where("crossed_arms", uniform(-0.5, -0.2), "left_shoulder", 2)
    where("crossed_arms", uniform(0.2, 0.5), "right_shoulder", 2)
    where("crossed_arms", uniform(-1.8, -1.0), "left_elbow", 1)
    where("crossed_arms", uniform(1.0, 1.8), "right_elbow", 1)
    # Hand in torso: arm lowered and forward, elbow folded medially into the chest/belly.
    where("hand_in_torso", uniform(-0.9, -0.4), "left_shoulder", 2)
    where("hand_in_torso", uniform(-1.0, -0.5), "left_shoulder", 1)
    where("hand_in_torso", uniform(-2.5, -1.8), "left_elbow", 1)
    where("hand_in_torso", uniform(0.4, 0.9), "right_shoulder", 2)
    where("hand_in_torso", uniform(0.5, 1.0), "right_shoulder", 1)
    where("hand_in_torso", uniform(1.8, 2.5), "right_elbow", 1)
    # Knees crossing: both legs adducted past the midline, slightly flexed.
    where("knees_crossing", uniform(-0.6, -0.25), "left_hip", 2)
    where("knees_crossing", uniform(0.25, 0.6), "right_hip", 2)
    where("knees_crossing", uniform(-0.5, 0.0), "left_hip", 0)
    where("knees_crossing", uniform(-0.5, 0.0), "right_hip", 0)
    where("knees_crossing", uniform(-1.4, -0.8), "left_shoulder", 2)
    where("knees_crossing", uniform(0.8, 1.4), "right_shoulder", 2)
    # Deep squat: hips and knees folded, trunk leaning forward, arms forward.
    for side in ("left", "right"):
        where("deep_squat", uniform(-2.3, -1.8), f"{side}_hip", 0)
        where("deep_squat", uniform(2.0, 2.5), f"{side}_knee", 0)
        where("deep_squat", uniform(-0.4, 0.0), f"{side}_ankle", 0)
    where("deep_squat", uniform(0.2, 0.6), "spine1", 0)
    where("deep_squat", uniform(-1.6, -1.2), "left_shoulder", 1)
    where("deep_squat", uniform(1.2, 1.6), "right_shoulder", 1)
    global_orient = torch.randn(frames, 3, generator=g, dtype=torch.float64) * 0.3
    return global_orient, pose, kind
