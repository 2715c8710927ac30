"""Solving a designed motion into SMPL parameters: leg inverse kinematics and the root
translation that puts the whole-body centre of mass on a designed trajectory.

A clip generator designs, per frame, the pelvis orientation, the local rotations of the upper
body, the world pose of both feet and the path of the centre of mass (COM). The legs and the
root translation follow from those:

* each leg is a two-bone chain (hip -> knee -> ankle) solved in closed form: the knee flexes
  about its local x axis (SMPL's flexion axis) until the hip-ankle distance matches the target,
  and the thigh is swivelled so that the knee axis points along the foot's lateral axis (the
  knee bends over the toes);
* the COM is linear in the joints and the joints move rigidly with ``transl``, so
  ``com(transl) = com(0) + transl``; but the leg solution depends on where the hips are, so
  ``transl = com_target - com(0)`` and the legs are iterated to a fixed point (the legs are
  ~35 % of the body mass, so each iteration shrinks the error about threefold).

Everything here is float64; units metres and radians; world y up, the body facing +z at zero
rotation, +x to its left.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Dict

import torch

from ..body.model import BodyModel
from ..body.segments import center_of_mass, com_joint_weights
from ..body.skeleton import JOINT_INDEX
from ..errors import HumanScoreError
from ..rotations import rotmat_to_rotvec, rotvec_to_rotmat

# (hip, knee, ankle, foot) joints of the (left, right) legs.
LEG_JOINTS = ((JOINT_INDEX["left_hip"], JOINT_INDEX["left_knee"], JOINT_INDEX["left_ankle"], JOINT_INDEX["left_foot"]),
              (JOINT_INDEX["right_hip"], JOINT_INDEX["right_knee"], JOINT_INDEX["right_ankle"], JOINT_INDEX["right_foot"]))
# Fixed-point iterations stop when the root translation moves less than this (m).
_CONVERGED_M = 1e-9
_MAX_ITERATIONS = 60


@dataclass
class Rest:
    """Rest-pose quantities of a body (float64).

    Attributes:
        joints: (24, 3) rest joints in metres (pelvis at the origin for SMPL-like bodies).
        ball_height: height (m) of the ball-of-foot joint above the sole (lowest vertex).
        com: (3,) rest-pose centre of mass (m).
    """

    joints: torch.Tensor
    ball_height: float
    com: torch.Tensor


@lru_cache(maxsize=1)
def default_body() -> BodyModel:
    """The embedded default body in float64 (loaded once)."""
    return BodyModel.default().double()


@lru_cache(maxsize=1)
def rest() -> Rest:
    """Rest joints, ball-of-foot height and COM of the default body."""
    body = default_body()
    zeros = torch.zeros(1, 3, dtype=torch.float64)
    with torch.no_grad():
        out = body(zeros, zeros.new_zeros(1, 23, 3), None, need_vertices=True)
    joints = out.joints[0]
    sole = float(out.vertices[0, :, 1].min())
    ball = float(joints[LEG_JOINTS[0][3], 1]) - sole
    return Rest(joints=joints, ball_height=ball, com=center_of_mass(joints))


def axis_rotation(axis: int, angle: torch.Tensor) -> torch.Tensor:
    """Rotations about a coordinate axis (0 = x, 1 = y, 2 = z).

    Args:
        angle: (...) radians (right-handed about the axis).

    Returns:
        (..., 3, 3) rotation matrices.
    """
    rotvec = torch.zeros(*angle.shape, 3, dtype=torch.float64)
    rotvec[..., axis] = angle
    return rotvec_to_rotmat(rotvec)


@dataclass
class Design:
    """A designed motion of T frames; the legs and root translation are solved from it.

    Attributes:
        root: (T, 3, 3) world orientation of the pelvis.
        local: (T, 23, 3, 3) local joint rotations (SMPL body_pose order); the hip, knee and
            ankle entries are overwritten by the leg solution, the others (toes included) kept.
        com: (T, 3) centre-of-mass trajectory (m).
        ball: (T, 2, 3) world position (m) of the (left, right) ball-of-foot joints.
        foot: (T, 2, 3, 3) world orientation of the (left, right) feet.
    """

    root: torch.Tensor
    local: torch.Tensor
    com: torch.Tensor
    ball: torch.Tensor
    foot: torch.Tensor


def _unit(v: torch.Tensor) -> torch.Tensor:
    return v / v.norm(dim=-1, keepdim=True)


def _frame(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) orthonormal frame (columns) from a primary direction and a secondary one
    (made perpendicular to the first)."""
    e1 = _unit(first)
    e2 = _unit(second - (second * e1).sum(-1, keepdim=True) * e1)
    return torch.stack([e1, e2, torch.linalg.cross(e1, e2, dim=-1)], -1)


def leg_ik(root: torch.Tensor, hip: torch.Tensor, ankle: torch.Tensor, foot: torch.Tensor,
           joints: torch.Tensor, leg: int):
    """Closed-form two-bone leg solution.

    Args:
        root: (T, 3, 3) pelvis world orientation. hip: (T, 3) hip joint (m).
        ankle: (T, 3) ankle target (m). foot: (T, 3, 3) foot world orientation.
        joints: (24, 3) rest joints. leg: 0 left, 1 right.

    Returns:
        hip, knee, ankle local rotations (T, 3, 3) each, and the reach ratio (T,): 1 with the
        leg at its straightest, > 1 where the ankle could not be reached (the leg is then
        straight and points at the target).
    """
    h, k, a, _ = LEG_JOINTS[leg]
    u1, u2 = joints[k] - joints[h], joints[a] - joints[k]
    target = ankle - hip
    distance = target.norm(dim=-1)
    # |u1 + Rx(q) u2|^2 = d^2  <=>  Q cos q + S sin q = K: one sinusoid in the knee angle q.
    p = u1[0] * u2[0]
    q_coef = u1[1] * u2[1] + u1[2] * u2[2]
    s_coef = u1[2] * u2[1] - u1[1] * u2[2]
    amplitude = torch.sqrt(q_coef ** 2 + s_coef ** 2)
    k_value = (distance ** 2 - u1.dot(u1) - u2.dot(u2)) / 2 - p
    ratio = k_value / amplitude
    # The flexion branch (shank swung backwards from the straightest configuration).
    knee_angle = torch.atan2(s_coef, q_coef) + torch.arccos(ratio.clamp(-1.0, 1.0))
    knee = axis_rotation(0, knee_angle)
    chain = u1 + torch.einsum("tij,j->ti", knee, u2)
    lateral = foot[..., 0]  # the foot's x axis: the knee bends over the toes
    local_frame = _frame(chain, torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64).expand_as(chain))
    world_frame = _frame(target, lateral)
    thigh = world_frame @ local_frame.transpose(-1, -2)
    shank = thigh @ knee
    return root.transpose(-1, -2) @ thigh, knee, shank.transpose(-1, -2) @ foot, ratio


def solve(design: Design) -> Dict[str, torch.Tensor]:
    """Legs and root translation of a designed motion.

    Args:
        design: the :class:`Design`.

    Returns:
        ``global_orient`` (T, 3) and ``body_pose`` (T, 23, 3) axis-angle, ``transl`` (T, 3) m,
        ``joints`` (T, 24, 3) m, ``reach`` (T, 2) the legs' reach ratios (<= 1: reached),
        ``miss`` (T, 2) distance (m) of each ankle from its target (0 where reached).

    Raises:
        HumanScoreError: the fixed point did not converge or a foot target is out of reach.
    """
    body, base = default_body(), rest()
    joints0 = base.joints
    weights = com_joint_weights()
    local = design.local.clone()
    offsets = torch.stack([joints0[LEG_JOINTS[leg][3]] - joints0[LEG_JOINTS[leg][2]] for leg in (0, 1)])
    ankles = design.ball - torch.einsum("tlij,lj->tli", design.foot, offsets)
    transl = design.com - base.com
    for _ in range(_MAX_ITERATIONS):
        pelvis = joints0[0] + transl
        reach = []
        for leg in (0, 1):
            h, k, a, _ = LEG_JOINTS[leg]
            hip = pelvis + torch.einsum("tij,j->ti", design.root, joints0[h] - joints0[0])
            local[:, h - 1], local[:, k - 1], local[:, a - 1], ratio = leg_ik(
                design.root, hip, ankles[:, leg], design.foot[:, leg], joints0, leg)
            reach.append(ratio)
        with torch.no_grad():
            posed = body(design.root, local, None, None, need_vertices=False).joints
        update = design.com - center_of_mass(posed, weights)
        change = float((update - transl).abs().max())
        transl = update
        if change < _CONVERGED_M:
            break
    else:
        raise HumanScoreError(f"synthetic: the leg/COM fixed point did not converge (last change {change:.2e} m)")
    miss = (posed[:, [LEG_JOINTS[0][2], LEG_JOINTS[1][2]]] + transl[:, None] - ankles).norm(dim=-1)
    return {"global_orient": rotmat_to_rotvec(design.root), "body_pose": rotmat_to_rotvec(local),
            "transl": transl, "joints": posed + transl[:, None], "reach": torch.stack(reach, -1), "miss": miss}
