"""PhysicsLoss: the weighted penalties through the body model."""

from __future__ import annotations

import pytest
import torch

from humanscore_torch.body.parts import part_structure
from humanscore_torch.config import load_config
from humanscore_torch.errors import HumanScoreError, InputValueError
from humanscore_torch.functional.artifact_rate import artifact_penalty
from humanscore_torch.functional.bone_length import bone_length_penalty
from humanscore_torch.functional.jerk import jerk_penalty
from humanscore_torch.functional.newtonian import newtonian_penalty
from humanscore_torch.functional.range_of_motion import joint_map_for_body, range_of_motion_penalty
from humanscore_torch.functional.self_penetration import self_penetration_penalty
from humanscore_torch.losses import PhysicsLoss
from humanscore_torch.motion import MotionBatch

F64 = torch.float64


def _motion(b=2, t=8, seed=0, dtype=F64):
    g = torch.Generator().manual_seed(seed)
    go = 0.2 * torch.randn(b, t, 3, generator=g, dtype=dtype)
    bp = 0.4 * torch.randn(b, t, 23, 3, generator=g, dtype=dtype)
    transl = 0.05 * torch.randn(b, t, 3, generator=g, dtype=dtype).cumsum(1)
    betas = 0.5 * torch.randn(b, t, 10, generator=g, dtype=dtype)  # per frame: bones vary
    return go, bp, transl, betas


def test_terms_are_the_functional_penalties_and_total_their_weighted_sum(small_body):
    go, bp, transl, betas = _motion()
    mask = torch.ones(2, 8, dtype=torch.bool)
    mask[1, 6:] = False
    fps = torch.tensor([30.0, 25.0], dtype=F64)
    det = torch.rand(2, 8, 3, generator=torch.Generator().manual_seed(3), dtype=F64)
    loss = PhysicsLoss(small_body, self_penetration_stride=1)
    total, terms = loss(global_orient=go, body_pose=bp, transl=transl, betas=betas, fps=fps, mask=mask, detections=det)
    posed = small_body(go, bp, betas, transl, need_vertices=True)
    structure = part_structure(small_body)
    expected = {
        "bone_length": bone_length_penalty(posed.joints, mask),
        "range_of_motion": range_of_motion_penalty(go, bp, mask, joint_map_for_body(small_body)),
        "self_penetration": self_penetration_penalty(posed.vertices, structure, mask) / mask.sum(),
        "newtonian": newtonian_penalty(posed.joints, fps, mask),
        "jerk": jerk_penalty(posed.joints, fps, mask),
        "artifact": artifact_penalty(det, mask),
    }
    assert set(terms) == set(expected)
    for name, value in expected.items():
        assert value.item() > 0, name  # each term is exercised
        assert terms[name].item() == pytest.approx(value.item(), rel=1e-9), name
    weights = load_config("physics_loss")["weights"]
    assert loss.weights == {k: float(v) for k, v in weights.items()}
    assert total.item() == pytest.approx(sum(weights[k] * v.item() for k, v in expected.items()), rel=1e-9)


def test_gradcheck_float64_through_the_body_model(small_body):
    go, bp, transl, betas = _motion(b=1, t=6, seed=1)
    fps = torch.tensor([30.0], dtype=F64)
    loss = PhysicsLoss(small_body, self_penetration_stride=2)
    assert all(v.item() > 0 for v in loss(global_orient=go, body_pose=bp, transl=transl, betas=betas, fps=fps)[1].values())

    def total(go_, bp_, transl_, betas_):
        return loss(global_orient=go_, body_pose=bp_, transl=transl_, betas=betas_, fps=fps)[0]

    inputs = tuple(x.clone().requires_grad_(True) for x in (go, bp, transl, betas))
    assert torch.autograd.gradcheck(total, inputs, eps=1e-6, atol=1e-5, rtol=1e-4, fast_mode=True)


def test_motion_batch_input_equals_parameters_and_stride_examines_every_kth_frame(small_body):
    go, bp, transl, betas = _motion(b=2, t=7, seed=2)
    fps = torch.tensor([30.0, 30.0], dtype=F64)
    mask = torch.ones(2, 7, dtype=torch.bool)
    batch = MotionBatch(fps=fps, mask=mask, global_orient=go, body_pose=bp, transl=transl, betas=betas[:, 0])
    loss = PhysicsLoss(small_body, self_penetration_stride=3)
    total_batch, terms_batch = loss(batch)
    total_args, terms_args = loss(global_orient=go, body_pose=bp, transl=transl, betas=betas[:, 0], fps=30.0)
    assert total_batch.item() == pytest.approx(total_args.item(), rel=1e-12)
    assert "artifact" not in terms_batch  # no detections
    vertices = small_body(go[:, ::3], bp[:, ::3], betas[:, :1].expand(-1, 3, -1), transl[:, ::3]).vertices  # frames 0, 3, 6
    expected = self_penetration_penalty(vertices, part_structure(small_body)) / 6
    assert terms_batch["self_penetration"].item() == pytest.approx(expected.item(), rel=1e-9)
    assert terms_batch["bone_length"].item() < 1e-12  # fixed betas: a rigid skeleton


def test_zero_weight_leaves_the_term_out_and_bad_arguments_are_rejected(small_body):
    go, bp, transl, _ = _motion(b=1, t=6)
    loss = PhysicsLoss(small_body, self_penetration=0.0, bone_length=0.0, newtonian=0.0, jerk=0.0)
    total, terms = loss(global_orient=go, body_pose=bp, fps=30.0)
    assert set(terms) == {"range_of_motion"}
    assert total.item() == pytest.approx(loss.weights["range_of_motion"] * terms["range_of_motion"].item())
    with pytest.raises(InputValueError, match="jerk"):
        PhysicsLoss(small_body, jerk=-1.0)
    with pytest.raises(InputValueError, match="self_penetration_stride"):
        PhysicsLoss(small_body, self_penetration_stride=0)
    with pytest.raises(HumanScoreError, match="fps"):
        loss(global_orient=go, body_pose=bp)
    batch = MotionBatch(fps=torch.tensor([30.0]), mask=torch.ones(1, 6, dtype=torch.bool), global_orient=go, body_pose=bp)
    with pytest.raises(HumanScoreError, match="not both"):
        loss(batch, fps=30.0)
    joints_only = MotionBatch(fps=torch.tensor([30.0]), mask=torch.ones(1, 6, dtype=torch.bool),
                              joints=torch.zeros(1, 6, 24, 3))
    with pytest.raises(HumanScoreError, match="joints only"):
        loss(joints_only)
    with pytest.raises(HumanScoreError, match="every weight"):
        PhysicsLoss(small_body, **{k: 0.0 for k in ("bone_length", "range_of_motion", "self_penetration",
                                                   "newtonian", "jerk")})(global_orient=go, body_pose=bp, fps=30.0)


def test_gradient_steps_on_the_default_body_remove_a_hyperextended_knee(default_body):
    # A still standing pose with the right knee bent 40 degrees the wrong way (SMPL joint 5).
    body_pose = torch.zeros(1, 6, 23, 3)
    body_pose[..., 4, 0] = -0.7
    body_pose.requires_grad_(True)
    go = torch.zeros(1, 6, 3)
    loss = PhysicsLoss(default_body, self_penetration_stride=3)
    first = loss(global_orient=go, body_pose=body_pose, fps=30.0)[1]["range_of_motion"].item()
    # Adam: jerk's smoothing (eps 1 m/s^3) makes the loss very stiff at still motion, where
    # plain gradient descent at any useful step size diverges.
    optimiser = torch.optim.Adam([body_pose], lr=0.05)
    for _ in range(40):
        optimiser.zero_grad()
        loss(global_orient=go, body_pose=body_pose, fps=30.0)[0].backward()
        optimiser.step()
    last = loss(global_orient=go, body_pose=body_pose, fps=30.0)[1]["range_of_motion"].item()
    assert first > 20 and last < 0.01 * first
