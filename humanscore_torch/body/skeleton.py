"""The SMPL kinematic tree: 24 joints, their names, parents and left/right pairs."""

from __future__ import annotations

from typing import List, Tuple

JOINT_NAMES: Tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck",
    "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hand", "right_hand",
)
NUM_JOINTS = 24
# Parent of each joint in SMPL order; the root's parent is -1.
PARENTS: Tuple[int, ...] = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)
JOINT_INDEX = {name: i for i, name in enumerate(JOINT_NAMES)}
# Sequence metadata key naming, comma-separated, the joints whose rotation the source did not
# measure (set by the loaders: fingers of SMPL-X / 21-joint body poses, joints an OpenSim model
# locks or lacks). Their values are placeholders (rest), so the posture of their segments is
# unknown; self-penetration leaves those segments out.
UNMEASURED_JOINTS_KEY = "unmeasured_joints"


def joint_name_list(text: object) -> List[str]:
    """The names of a comma-separated joint list (as metadata stores ``unmeasured_joints``);
    None or empty: none."""
    return [name.strip() for name in str(text or "").split(",") if name.strip()]


def joint_depths(parents: Tuple[int, ...] = PARENTS) -> List[int]:
    """Depth of each joint in the tree (root 0). Parents must precede children."""
    depth: List[int] = []
    for j, p in enumerate(parents):
        if p >= j:
            raise ValueError(f"parents must precede children; joint {j} has parent {p}")
        depth.append(0 if p < 0 else depth[p] + 1)
    return depth


def tree_levels(parents: Tuple[int, ...] = PARENTS) -> List[List[int]]:
    """Joints grouped by depth, so forward kinematics loops over depth (9 levels), not joints."""
    depth = joint_depths(parents)
    levels: List[List[int]] = [[] for _ in range(max(depth) + 1)]
    for j, d in enumerate(depth):
        levels[d].append(j)
    return levels


def subtree(root: int, parents: Tuple[int, ...] = PARENTS) -> List[int]:
    """Joints at or below ``root`` in the tree, ``root`` first. Parents must precede children."""
    inside = [root]
    for j, p in enumerate(parents):
        if p in inside and j not in inside:
            inside.append(j)
    return inside


def bones(parents: Tuple[int, ...] = PARENTS) -> List[Tuple[int, int]]:
    """Parent-child joint pairs (every joint but the root)."""
    return [(p, j) for j, p in enumerate(parents) if p >= 0]
