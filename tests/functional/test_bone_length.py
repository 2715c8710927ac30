"""Bone-length consistency: numpy reference, fixed vs per-frame betas, raw keypoints, metric, loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from humanscore_torch.body.skeleton import bones as smpl_bones
from humanscore_torch.errors import HumanScoreError
from humanscore_torch.functional.bone_length import bone_length_consistency, bone_length_penalty
from humanscore_torch.losses.anatomy import BoneLengthLoss
from humanscore_torch.motion import MotionBatch
from humanscore_torch.registry import score_metric
from helpers.kinetics_clips import rest_joints


def _stretched(factors: torch.Tensor) -> torch.Tensor:
    """Rest skeleton over frames with the left shank (knee -> ankle) scaled by factors (T,):
    the ankle and the foot below it move with it."""
    joints = rest_joints()[None].repeat(len(factors), 1, 1)
    shank = joints[:, 7] - joints[:, 4]
    shift = (factors[:, None] - 1) * shank
    joints[:, 7] += shift
    joints[:, 10] += shift
    return joints


def test_matches_numpy_coefficient_of_variation_with_mask():
    generator = torch.Generator().manual_seed(0)
    joints = rest_joints()[None, None].repeat(2, 15, 1, 1) + 0.01 * torch.randn(2, 15, 24, 3, generator=generator, dtype=torch.float64)
    mask = torch.ones(2, 15, dtype=torch.bool)
    mask[1, 10:] = False
    out = bone_length_consistency(joints, mask)
    for b in range(2):
        valid = joints[b, mask[b]].numpy()
        cvs = []
        for parent, child in smpl_bones():
            length = np.linalg.norm(valid[:, child] - valid[:, parent], axis=-1)
            cvs.append(100 * length.std() / length.mean())
        assert out["raw"][b].item() == pytest.approx(np.mean(cvs), rel=1e-9)


def test_fixed_betas_give_zero_and_per_frame_betas_do_not(small_body):
    generator = torch.Generator().manual_seed(1)
    frames = 6
    pose = 0.3 * torch.randn(frames, 23, 3, generator=generator)
    orient = 0.3 * torch.randn(frames, 3, generator=generator)
    fixed = small_body(orient, pose, torch.ones(frames, 10), torch.zeros(frames, 3)).joints[None]
    varying_betas = torch.ones(frames, 10) + torch.linspace(-2, 2, frames)[:, None]
    varying = small_body(orient, pose, varying_betas, torch.zeros(frames, 3)).joints[None]
    # Forward kinematics only rotates bones: CV is float rounding (~1e-5 %) with fixed betas.
    assert bone_length_consistency(fixed, config={"min_bone_length_m": 0.0, "score": {"free": 1, "half": 2}})["raw"].item() < 1e-3
    assert bone_length_consistency(varying, config={"min_bone_length_m": 0.0, "score": {"free": 1, "half": 2}})["raw"].item() > 0.1


def test_stretch_moves_score_monotonically():
    t = torch.arange(60, dtype=torch.float64) / 30.0
    raws, scores = [], []
    for amplitude in (0.0, 0.1, 0.2, 0.3, 0.4):
        out = bone_length_consistency(_stretched(1 + amplitude * torch.sin(2 * np.pi * t))[None])
        raws.append(out["raw"].item())
        scores.append(out["score"].item())
    assert raws[0] < 1e-12 and all(a < b for a, b in zip(raws, raws[1:]))
    assert scores[0] == 100.0 and all(a > b for a, b in zip(scores[1:], scores[2:]))
    # Largest frame-to-frame change of the 20 % stretch: sin steps of 2 pi / 30 near zero.
    out = bone_length_consistency(_stretched(1 + 0.2 * torch.sin(2 * np.pi * t))[None])
    step = 20 * np.sin(2 * np.pi / 30)  # percent of the mean length (mean factor is 1)
    assert out["max_change"].item() == pytest.approx(step, rel=0.01)


def test_raw_keypoints_with_own_bones_and_short_bones_skipped():
    generator = torch.Generator().manual_seed(2)
    keypoints = torch.randn(1, 10, 5, 3, generator=generator, dtype=torch.float64)
    keypoints[:, :, 4] = keypoints[:, :, 3] + 0.001 * torch.randn(1, 10, 3, generator=generator, dtype=torch.float64)
    bones = [(0, 1), (1, 2), (2, 3), (3, 4)]
    out = bone_length_consistency(keypoints, bones=bones)
    assert out["used_bones"][0].tolist() == [True, True, True, False]  # 1 mm bone skipped
    assert out["per_bone_cv"][0, 3] == 0 and out["raw"].item() == pytest.approx(out["per_bone_cv"][0, :3].mean().item())
    with pytest.raises(HumanScoreError):
        bone_length_consistency(keypoints)  # J = 5 without bones
    with pytest.raises(HumanScoreError):
        bone_length_consistency(keypoints, bones=[(0, 7)])


def test_penalty_gradcheck_and_zero_for_rigid_skeleton():
    generator = torch.Generator().manual_seed(3)
    joints = (rest_joints()[None, None, :6].repeat(1, 5, 1, 1)
              + 0.02 * torch.randn(1, 5, 6, 3, generator=generator, dtype=torch.float64)).requires_grad_(True)
    bones = [(0, 1), (0, 2), (0, 3), (1, 4), (2, 5)]
    assert torch.autograd.gradcheck(lambda j: bone_length_penalty(j, bones=bones), (joints,))
    rigid = rest_joints()[None, None].repeat(1, 4, 1, 1).requires_grad_(True)
    loss = BoneLengthLoss()(rigid)
    loss.backward()
    assert loss.item() == pytest.approx(0.0, abs=1e-20) and torch.isfinite(rigid.grad).all()


def test_suite_entry_on_motion_batch():
    t = torch.arange(30, dtype=torch.float64) / 30.0
    joints = _stretched(1 + 0.05 * torch.sin(2 * np.pi * t))[None].float()
    batch = MotionBatch(fps=torch.tensor([30.0]), mask=torch.ones(1, 30, dtype=torch.bool), joints=joints)
    result = score_metric("bone_length_consistency", batch, None)
    assert result.key == "bone_length_consistency" and result.unit == "%" and result.computed.all()
    assert result.raw.item() == pytest.approx(bone_length_consistency(joints)["raw"].item())
