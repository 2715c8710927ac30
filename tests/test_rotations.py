"""Rotation conversions against naive textbook twins, and gradient safety at zero and pi."""

import math

import torch

from humanscore_torch.rotations import (
    quat_to_rotmat,
    quat_to_rotvec,
    rotmat_to_quat,
    rotmat_to_rotvec,
    rotvec_to_rotmat,
)


def naive_rotvec_to_rotmat(rotvec: torch.Tensor) -> torch.Tensor:
    """Rodrigues' formula, one vector at a time, exactly as in a textbook (not gradient-safe)."""
    out = []
    for r in rotvec.reshape(-1, 3):
        theta = float(r.norm())
        if theta == 0.0:
            out.append(torch.eye(3, dtype=r.dtype))
            continue
        k = r / theta
        kx = torch.tensor([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]], dtype=r.dtype)
        out.append(torch.eye(3, dtype=r.dtype) + math.sin(theta) * kx + (1 - math.cos(theta)) * kx @ kx)
    return torch.stack(out).reshape(*rotvec.shape[:-1], 3, 3)


def test_rotvec_to_rotmat_matches_naive_twin():
    torch.manual_seed(0)
    rotvec = torch.randn(64, 3, dtype=torch.float64) * 1.5
    rotvec[0] = 0.0
    rotvec[1] = torch.tensor([1e-5, -2e-5, 3e-6])
    assert torch.allclose(rotvec_to_rotmat(rotvec), naive_rotvec_to_rotmat(rotvec), atol=1e-12)


def test_round_trips_including_near_pi():
    torch.manual_seed(1)
    axis = torch.nn.functional.normalize(torch.randn(200, 3, dtype=torch.float64), dim=-1)
    angle = torch.rand(200, 1, dtype=torch.float64) * math.pi
    angle[:5] = math.pi - 1e-9
    angle[5:10] = 1e-9
    rotvec = axis * angle
    back = rotmat_to_rotvec(rotvec_to_rotmat(rotvec))
    # near pi, r and -r are the same rotation: compare matrices
    assert torch.allclose(rotvec_to_rotmat(back), rotvec_to_rotmat(rotvec), atol=1e-9)
    assert torch.allclose(back[5:], rotvec[5:], atol=1e-9)
    quat = rotmat_to_quat(rotvec_to_rotmat(rotvec))
    assert torch.allclose(quat_to_rotmat(quat), rotvec_to_rotmat(rotvec), atol=1e-9)
    assert torch.allclose(rotvec_to_rotmat(quat_to_rotvec(quat)), rotvec_to_rotmat(rotvec), atol=1e-9)


def test_gradients_finite_at_zero_and_gradcheck():
    zero = torch.zeros(4, 3, dtype=torch.float64, requires_grad=True)
    rotvec_to_rotmat(zero).sum().backward()
    assert torch.isfinite(zero.grad).all()
    eye = torch.eye(3, dtype=torch.float64).repeat(4, 1, 1).requires_grad_(True)
    rotmat_to_rotvec(eye).sum().backward()
    assert torch.isfinite(eye.grad).all()
    torch.manual_seed(2)
    rotvec = (torch.randn(6, 3, dtype=torch.float64) * 0.8).requires_grad_(True)
    assert torch.autograd.gradcheck(rotvec_to_rotmat, (rotvec,))
    small = (torch.randn(3, 3, dtype=torch.float64) * 1e-4).requires_grad_(True)
    assert torch.autograd.gradcheck(rotvec_to_rotmat, (small,))
    assert torch.autograd.gradcheck(lambda r: rotmat_to_rotvec(rotvec_to_rotmat(r)), (rotvec,))
