"""Figures of the embedded default body: at rest and in a mid-stride walking pose (front and
side views in one image each, joints marked); ``tools/make_docs_figures.py`` writes them to docs/.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Dict, List, Optional

import torch

from ..body import BodyModel
from ..body.skeleton import JOINT_INDEX
from .mesh_render import render_mesh

# Mid-stride (about heel strike of the left foot), in degrees. Axes are the body's rest frame
# (x to its left, y up, z forward); a positive angle turns counter-clockwise about the axis.
WALK_POSE_DEG: Dict[str, List[float]] = {
    "left_hip": [-25.0, 0.0, 0.0],  # flexed: thigh forward
    "left_knee": [5.0, 0.0, 0.0],  # nearly straight
    "left_ankle": [-5.0, 0.0, 0.0],  # toes up for the heel strike
    "right_hip": [12.0, 0.0, 0.0],  # extended: thigh behind
    "right_knee": [35.0, 0.0, 0.0],  # flexed before toe-off
    "right_ankle": [10.0, 0.0, 0.0],  # plantar-flexed push-off
    "spine1": [0.0, -4.0, 0.0],  # trunk counter-rotation
    "spine3": [0.0, -4.0, 0.0],
}
ARM_DOWN_DEG = 75.0  # from the T-pose down to the sides
ARM_SWING_DEG = {"left": -20.0, "right": 20.0}  # shoulder extension (left back) / flexion (right forward)
ELBOW_FLEX_DEG = {"left": 10.0, "right": 25.0}


def _rotvec(axis: List[float], angle_deg: float) -> torch.Tensor:
    axis_t = torch.tensor(axis, dtype=torch.float64)
    return axis_t / axis_t.norm() * math.radians(angle_deg)


def _compose(first: torch.Tensor, then: torch.Tensor) -> torch.Tensor:
    """Rotation vector of ``then`` applied after ``first`` (both rotation vectors)."""
    from ..rotations import rotmat_to_rotvec, rotvec_to_rotmat

    return rotmat_to_rotvec(rotvec_to_rotmat(then) @ rotvec_to_rotmat(first))


def walking_pose() -> torch.Tensor:
    """SMPL ``body_pose`` (23, 3) axis-angle, radians, of a mid-stride walking step."""
    pose = torch.zeros(24, 3, dtype=torch.float64)
    for name, deg in WALK_POSE_DEG.items():
        pose[JOINT_INDEX[name]] = torch.tensor([math.radians(d) for d in deg], dtype=torch.float64)
    for side, sign in (("left", 1.0), ("right", -1.0)):
        down = _rotvec([0.0, 0.0, 1.0], -sign * ARM_DOWN_DEG)  # arm from +-x to hanging down
        # swing about the body's left-right axis, after lowering the arm
        pose[JOINT_INDEX[f"{side}_shoulder"]] = _compose(down, _rotvec([1.0, 0.0, 0.0], -ARM_SWING_DEG[side]))
        # elbow flexion turns the forearm forward about the (vertical, at rest) y axis
        pose[JOINT_INDEX[f"{side}_elbow"]] = _rotvec([0.0, 1.0, 0.0], -sign * ELBOW_FLEX_DEG[side])
    return pose[1:]


def write_body_figures(out_dir: Path, body: Optional[BodyModel] = None) -> List[Path]:
    """Write the rest and walking figures of ``body`` (the default body when None).

    Returns:
        the two PNG paths.
    """
    body = BodyModel.default() if body is None else body
    out_dir = Path(out_dir)
    zeros = torch.zeros(3, dtype=torch.float64)
    rest = body(zeros, torch.zeros(23, 3, dtype=torch.float64))
    walk = body(zeros, walking_pose())
    height = float(rest.vertices[:, 1].max() - rest.vertices[:, 1].min())
    paths = [
        render_mesh(rest.vertices, body.faces, joints=rest.joints, path=out_dir / "default_body_rest.png",
                    title=f"default body at rest (T-pose), {body.num_vertices} vertices, height {height:.2f} m"),
        render_mesh(walk.vertices, body.faces, joints=walk.joints, path=out_dir / "default_body_walk.png",
                    title="default body, mid-stride walking pose"),
    ]
    return paths
