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
"""

from __future__ import annotations

from typing import Optional

import torch

from ..rotations import rotmat_to_rotvec, rotvec_to_rotmat
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
