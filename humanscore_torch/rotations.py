"""Rotation conversions, batched and gradient-safe.

Every function takes any number of leading dimensions. Where the textbook formula divides by
the rotation angle, the small-angle case uses a Taylor expansion selected with ``torch.where``
on a *safe* input, so that neither branch produces an infinite or NaN gradient at zero (a
``where`` only masks values, not the NaN a masked branch's backward pass would create).
"""

from __future__ import annotations

import torch

from .shapes import check_shape

# Below this squared angle the Taylor branches are used; their truncation error is O(angle^4).
_SMALL_ANGLE_SQ = 1e-6


def rotvec_to_rotmat(rotvec: torch.Tensor) -> torch.Tensor:
    """Axis-angle vectors to rotation matrices (Rodrigues).

    Args:
        rotvec: (..., 3) rotation vectors, angle in radians times unit axis.

    Returns:
        (..., 3, 3) rotation matrices.
    """
    check_shape(rotvec, "... 3", "rotvec")
    theta_sq = (rotvec * rotvec).sum(-1, keepdim=True)
    small = theta_sq < _SMALL_ANGLE_SQ
    # sqrt(0) has an infinite derivative: feed the large-angle branch a dummy 1 where small.
    theta_sq_safe = torch.where(small, torch.ones_like(theta_sq), theta_sq)
    theta = theta_sq_safe.sqrt()
    sin_over_theta = torch.where(small, 1.0 - theta_sq / 6.0, torch.sin(theta) / theta)
    one_minus_cos_over_theta_sq = torch.where(
        small, 0.5 - theta_sq / 24.0, (1.0 - torch.cos(theta)) / theta_sq_safe
    )
    x, y, z = rotvec.unbind(-1)
    zero = torch.zeros_like(x)
    skew = torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], dim=-1).reshape(*rotvec.shape[:-1], 3, 3)
    eye = torch.eye(3, dtype=rotvec.dtype, device=rotvec.device).expand_as(skew)
    return eye + sin_over_theta[..., None] * skew + one_minus_cos_over_theta_sq[..., None] * (skew @ skew)


def rotmat_to_quat(rotmat: torch.Tensor) -> torch.Tensor:
    """Rotation matrices to unit quaternions (w, x, y, z) with w >= 0 (Shepperd's method).

    Args:
        rotmat: (..., 3, 3) rotation matrices.

    Returns:
        (..., 4) unit quaternions, scalar first.
    """
    check_shape(rotmat, "... 3 3", "rotmat")
    m = rotmat
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    # Four candidate formulas, each stable where its own diagonal term dominates; the largest
    # is at least 1/4, so the chosen one never divides by a small number. Clamping the others
    # before sqrt keeps their (discarded) gradients finite.
    cand_sq = torch.stack(
        [1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22], dim=-1
    )
    root = 2.0 * cand_sq.clamp_min(1e-6).sqrt()  # = 4 * |q_i|
    w_c = torch.stack([root[..., 0] / 4, (m[..., 2, 1] - m[..., 1, 2]) / root[..., 0],
                       (m[..., 0, 2] - m[..., 2, 0]) / root[..., 0], (m[..., 1, 0] - m[..., 0, 1]) / root[..., 0]], -1)
    x_c = torch.stack([(m[..., 2, 1] - m[..., 1, 2]) / root[..., 1], root[..., 1] / 4,
                       (m[..., 0, 1] + m[..., 1, 0]) / root[..., 1], (m[..., 0, 2] + m[..., 2, 0]) / root[..., 1]], -1)
    y_c = torch.stack([(m[..., 0, 2] - m[..., 2, 0]) / root[..., 2], (m[..., 0, 1] + m[..., 1, 0]) / root[..., 2],
                       root[..., 2] / 4, (m[..., 1, 2] + m[..., 2, 1]) / root[..., 2]], -1)
    z_c = torch.stack([(m[..., 1, 0] - m[..., 0, 1]) / root[..., 3], (m[..., 0, 2] + m[..., 2, 0]) / root[..., 3],
                       (m[..., 1, 2] + m[..., 2, 1]) / root[..., 3], root[..., 3] / 4], -1)
    candidates = torch.stack([w_c, x_c, y_c, z_c], dim=-2)  # (..., 4, 4)
    best = cand_sq.argmax(dim=-1)
    quat = torch.gather(candidates, -2, best[..., None, None].expand(*best.shape, 1, 4)).squeeze(-2)
    sign = torch.where(quat[..., :1] < 0, -torch.ones_like(quat[..., :1]), torch.ones_like(quat[..., :1]))
    quat = quat * sign
    return quat / quat.norm(dim=-1, keepdim=True)


def quat_to_rotvec(quat: torch.Tensor) -> torch.Tensor:
    """Unit quaternions (w, x, y, z) to axis-angle vectors with angle in [0, pi].

    Args:
        quat: (..., 4) quaternions, scalar first (normalised inside).

    Returns:
        (..., 3) rotation vectors.
    """
    check_shape(quat, "... 4", "quat")
    quat = quat / quat.norm(dim=-1, keepdim=True)
    # q and -q are the same rotation; w >= 0 gives the angle in [0, pi].
    quat = torch.where(quat[..., :1] < 0, -quat, quat)
    w, v = quat[..., :1], quat[..., 1:]
    n_sq = (v * v).sum(-1, keepdim=True)
    small = n_sq < _SMALL_ANGLE_SQ
    n = torch.where(small, torch.ones_like(n_sq), n_sq).sqrt()  # safe sqrt, see module docstring
    # angle / |v| = 2 atan2(|v|, w) / |v|  ->  2/w (1 - |v|^2 / (3 w^2)) as |v| -> 0 (w -> 1).
    w_safe = torch.where(small, w, torch.ones_like(w))
    factor = torch.where(small, 2.0 / w_safe * (1.0 - n_sq / (3.0 * w_safe * w_safe)), 2.0 * torch.atan2(n, w) / n)
    return v * factor


def rotmat_to_rotvec(rotmat: torch.Tensor) -> torch.Tensor:
    """Rotation matrices to axis-angle vectors (through quaternions, stable at 0 and pi).

    Args:
        rotmat: (..., 3, 3) rotation matrices.

    Returns:
        (..., 3) rotation vectors, angle in [0, pi].
    """
    return quat_to_rotvec(rotmat_to_quat(rotmat))


def quat_to_rotmat(quat: torch.Tensor) -> torch.Tensor:
    """Quaternions (w, x, y, z) to rotation matrices (normalised inside).

    Args:
        quat: (..., 4) quaternions, scalar first.

    Returns:
        (..., 3, 3) rotation matrices.
    """
    check_shape(quat, "... 4", "quat")
    w, x, y, z = (quat / quat.norm(dim=-1, keepdim=True)).unbind(-1)
    rows = [
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ]
    return torch.stack(rows, dim=-1).reshape(*quat.shape[:-1], 3, 3)
