"""Turning a whole SMPL sequence by a rotation of the world: z-up or camera frames to y-up.

The library's world is y up (gravity (0, -9.81, 0)). AMASS is z up; camera-frame outputs
(WHAM ``pose``/``trans``, TRAM, CameraHMR ``cam_t``, GVHMR ``smpl_params_incam``) use the
OpenCV camera frame: x right, y down, z forward.

Rotating a posed SMPL body by ``Q`` about the world origin means, for every vertex ``v``:
``Q v = Q R (v_rest - j0) + Q (j0 + t)``, where ``R`` is the root rotation, ``t`` the
translation and ``j0`` the rest pelvis position (SMPL turns the root about the pelvis joint,
not the origin). The same body is therefore given by ``R' = Q R`` and
``t' = Q t + (Q - I) j0``. The root orientation and the shape of the trajectory are exact
whatever ``j0`` is; ``j0`` only shifts the whole sequence by the constant ``(Q - I) j0``
(about 0.3 m for SMPL's pelvis and a quarter turn), which no metric sees: velocities,
accelerations and jerk are unchanged, and the ground height is estimated from the feet.
When the body is known (``rest_pelvis`` given) the conversion is exact.

A camera frame says nothing about gravity: a camera pitched down by a few degrees tilts the
whole motion, and a level walk then seems to climb or sink. :func:`ground_levelling` finds
the rotation that levels the ground the feet stand on, the way TRAM's renderer levels its
SLAM world (``lib/vis/traj.py``, ``fit_to_ground_easy``: a plane fitted through the toe
joints of every frame, its normal turned onto +y), and refuses when the feet do not span a
plane (standing in place, jumping on the spot, running with few steps).
"""

from __future__ import annotations

import math
from typing import Mapping, Optional

import torch

from ..rotations import rotmat_to_rotvec, rotvec_to_rotmat
from ..body.skeleton import JOINT_INDEX
from ..shapes import check_shape

# z up -> y up: a -90 degree turn about x maps (x, y, z) to (x, z, -y), so +z becomes +y.
Z_UP_TO_Y_UP = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]], dtype=torch.float64)
# OpenCV camera (y down, z forward) -> y up: a 180 degree turn about x maps (x, y, z) to (x, -y, -z).
CAMERA_TO_Y_UP = torch.tensor([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]], dtype=torch.float64)

Z_UP_NOTE = "z-up -> y-up: rotated -90 deg about x"
CAMERA_NOTE = "camera frame (y down, z forward) -> y-up: rotated 180 deg about x"


def rotate_world(
    global_orient: torch.Tensor,
    transl: torch.Tensor,
    rotation: torch.Tensor,
    rest_pelvis: Optional[torch.Tensor] = None,
):
    """Express a sequence in a rotated world frame (see the module docstring).

    Args:
        global_orient: (T, 3) root axis-angle.
        transl: (T, 3) root translation in metres.
        rotation: (3, 3) or per frame (T, 3, 3) rotation ``Q`` from the old to the new frame.
        rest_pelvis: (3,) or (T, 3) rest pelvis position ``j0`` of the body, metres; None
            leaves the constant offset ``(Q - I) j0`` out.

    Returns:
        (global_orient (T, 3), transl (T, 3)) in the new frame, in float64.
    """
    sizes = check_shape(global_orient, "T 3", "global_orient")
    check_shape(transl, "T 3", "transl", sizes)
    rotation = rotation.to(torch.float64)
    check_shape(rotation, "T 3 3" if rotation.dim() == 3 else "3 3", "rotation", sizes)
    root = rotation @ rotvec_to_rotmat(global_orient.to(torch.float64))
    new_transl = (rotation @ transl.to(torch.float64)[..., None])[..., 0]
    if rest_pelvis is not None:
        j0 = rest_pelvis.to(torch.float64).expand_as(new_transl)
        new_transl = new_transl + (rotation @ j0[..., None])[..., 0] - j0
    return rotmat_to_rotvec(root), new_transl


def rest_pelvis_position(body, betas: Optional[torch.Tensor], num_frames: int) -> torch.Tensor:
    """Rest pelvis position of ``body`` for these shape coefficients.

    Args:
        body: a :class:`~humanscore_torch.body.BodyModel`.
        betas: (K,) or (T, K) shape coefficients, or None for the mean shape.
        num_frames: T.

    Returns:
        (T, 3) pelvis positions in metres at zero pose and zero translation (float64).
    """
    device = body.v_template.device
    if betas is not None:
        betas = betas.to(device=device, dtype=torch.float64)
        betas = betas.expand(num_frames, -1) if betas.dim() == 1 else betas
    zeros = torch.zeros(num_frames, 3, dtype=torch.float64, device=device)
    with torch.no_grad():  # the body casts its buffers to the float64 inputs
        joints = body(zeros, zeros.new_zeros(num_frames, 23, 3), betas, need_vertices=False).joints
    return joints[:, 0].cpu()


# The joints whose positions over the clip span the ground plane (SMPL's toe joints, as TRAM's
# fit_to_ground_easy uses) and the trunk that tells which side of the plane is up.
_TOES = (JOINT_INDEX["left_foot"], JOINT_INDEX["right_foot"])
_TRUNK = (JOINT_INDEX["pelvis"], JOINT_INDEX["spine1"])
LEVELLED_NOTE = "levelled to the ground the feet stand on (plane through the toe joints, as TRAM's fit_to_ground_easy)"


def _turn_onto_y(normal: torch.Tensor) -> torch.Tensor:
    """The smallest rotation (3, 3) taking the unit vector ``normal`` (within 90 deg of +y, as
    :func:`ground_levelling` ensures) onto +y (Rodrigues)."""
    y = normal.new_tensor([0.0, 1.0, 0.0])
    axis = torch.linalg.cross(normal, y)
    sin, cos = axis.norm(), normal @ y
    if sin < 1e-12:
        return torch.eye(3, dtype=normal.dtype)
    k = axis / sin
    skew = torch.stack([torch.stack([k.new_zeros(()), -k[2], k[1]]), torch.stack([k[2], k.new_zeros(()), -k[0]]),
                        torch.stack([-k[1], k[0], k.new_zeros(())])])
    return torch.eye(3, dtype=normal.dtype) + sin * skew + (1 - cos) * skew @ skew


def ground_levelling(joints: torch.Tensor, config: Mapping[str, float]):
    """The rotation that levels the ground the feet stand on.

    Args:
        joints: (T, 24, 3) posed SMPL joints in a y-up frame whose tilt is unknown (metres);
            rows with NaN are left out.
        config: ``configs/io.yaml`` ``levelling``: ``min_spread_m`` (the least second spread
            of the toes, metres), ``max_flatness`` (the toes' smallest spread over their second
            one; above it the toes lie along a line or fill a volume, and no plane is defined)
            and ``max_tilt_deg`` (the largest correction accepted; the
            trunk's mean direction must agree with the plane's normal within it).

    Returns:
        (rotation (3, 3) float64 or None, text saying what was found): None when the feet do
        not define a plane.
    """
    check_shape(joints, "T 24 3", "joints")
    joints = joints.to(torch.float64)
    joints = joints[torch.isfinite(joints).all(dim=(1, 2))]
    toes = joints[:, list(_TOES)].reshape(-1, 3)
    if toes.shape[0] < 6:
        return None, "not levelled: too few frames to fit the ground"
    try:
        _, spread, axes = torch.linalg.svd(toes - toes.mean(0), full_matrices=False)
    except torch.linalg.LinAlgError:  # values so large that the decomposition overflows
        return None, "not levelled: the toe positions are out of range"
    spread = spread / math.sqrt(toes.shape[0])  # standard deviations along the principal axes (m)
    if not (torch.isfinite(spread).all() and torch.isfinite(axes).all()):
        return None, "not levelled: the toe positions are out of range"
    if float(spread[1]) < float(config["min_spread_m"]):
        return None, (f"not levelled: the toes cover no ground ({float(spread[1]) * 100:.1f} cm across); "
                      "the camera's tilt stays in the motion")
    flatness = float(spread[2] / spread[1].clamp_min(1e-12))
    if flatness > float(config["max_flatness"]):
        return None, (f"not levelled: the toes do not span a ground plane (flatness {flatness:.2f} > "
                      f"{float(config['max_flatness']):g}); the camera's tilt stays in the motion")
    normal = axes[2]
    trunk = (joints[:, _TRUNK[1]] - joints[:, _TRUNK[0]]).mean(0)
    if normal @ trunk < 0:
        normal = -normal
    tilt = math.degrees(math.acos(float(normal[1].clamp(-1.0, 1.0))))
    lean = math.degrees(math.acos(float((normal @ trunk / trunk.norm()).clamp(-1.0, 1.0))))
    if max(tilt, lean) > float(config["max_tilt_deg"]):
        return None, (f"not levelled: ground plane tilted {tilt:.1f} deg, {lean:.1f} deg from the trunk "
                      f"(more than {float(config['max_tilt_deg']):g}); the camera's tilt stays in the motion")
    return _turn_onto_y(normal), f"{LEVELLED_NOTE}: turned by {tilt:.1f} deg"
