"""Newtonian plausibility: ballistic flight, 1.5 g pull, noise, each constraint, real running,
metric class, loss."""

from __future__ import annotations

import math

import pytest
import torch

from humanscore_torch.body.segments import center_of_mass
from humanscore_torch.functional.newtonian import CONSTRAINTS, newtonian_penalty, newtonian_plausibility
from humanscore_torch.losses.kinetics import NewtonianLoss
from humanscore_torch.motion import MotionBatch
from humanscore_torch.registry import score_metric
from helpers.kinetics_clips import jump_clip, rest_joints, walk_clip

F64 = torch.float64


def _run(joints: torch.Tensor, fps: float = 30.0, mask=None):
    return newtonian_plausibility(joints[None] if joints.dim() == 3 else joints,
                                  torch.full((1 if joints.dim() == 3 else joints.shape[0],), fps, dtype=F64), mask)


def test_ballistic_jump_has_no_violation_in_flight_at_mixed_fps():
    clip30, flight30 = jump_clip(fps=30.0)
    clip60, flight60 = jump_clip(fps=60.0)
    # Sanity: the COM of the clip really falls at g in flight (exact second differences).
    com = center_of_mass(clip30)[:, 1]
    second = (com[2:] - 2 * com[1:-1] + com[:-2]) * 30.0 ** 2
    inside = flight30[2:] & flight30[1:-1] & flight30[:-2]
    assert torch.allclose(second[inside], torch.tensor(-9.81, dtype=F64), atol=1e-9)
    joints = torch.zeros(2, len(clip60), 24, 3, dtype=F64)
    joints[0, :len(clip30)], joints[1] = clip30, clip60
    mask = torch.zeros(2, len(clip60), dtype=torch.bool)
    mask[0, :len(clip30)], mask[1] = True, True
    out = newtonian_plausibility(joints, torch.tensor([30.0, 60.0], dtype=F64), mask)
    assert out["flight"].sum(1).tolist() >= [12, 25]  # flight is found ...
    assert not (out["flight"][0, :len(clip30)] & ~flight30).any()  # ... only where it is
    assert out["num_violating"].tolist() == [0, 0] and out["raw"].tolist() == [0.0, 0.0]


def test_com_pulled_down_at_one_and_a_half_g_is_flagged_in_every_affected_frame():
    joints, in_flight = jump_clip(fall_g=1.5)
    out = _run(joints)
    # Affected: flight frames whose 8 Hz filter window (+-4 frames at 30 fps) lies in the flight.
    index = torch.arange(len(in_flight))
    first, last = index[in_flight].min(), index[in_flight].max()
    affected = (index >= first + 4) & (index <= last - 4)
    assert affected.sum() >= 4
    assert out["violating"][0][affected].all()
    broken = out["num_violating_by_constraint"][0]
    assert broken[CONSTRAINTS.index("ground_pull")] >= affected.sum()
    assert broken[CONSTRAINTS.index("flight_free_fall")] >= affected.sum()


def test_five_millimetre_noise_at_30_fps_stays_below_two_percent():
    generator = torch.Generator().manual_seed(0)
    for clip in (jump_clip()[0], walk_clip(10.0)):
        noisy = clip[None].repeat(16, 1, 1, 1)
        noisy = noisy + 0.005 * torch.randn(noisy.shape, generator=generator, dtype=F64)
        out = newtonian_plausibility(noisy, torch.full((16,), 30.0, dtype=F64))
        rate = (out["num_violating"].sum() / out["num_assessable"].sum()).item()
        assert rate <= 0.02


def _shaken_upper_body(axis: int, amplitude: float, hz: float, seconds: float = 3.0):
    """Standing skeleton whose body above the feet oscillates along ``axis`` (feet planted)."""
    t = torch.arange(int(seconds * 30), dtype=F64) / 30.0
    joints = rest_joints()[None].repeat(len(t), 1, 1)
    upper = [j for j in range(24) if j not in (7, 8, 10, 11)]
    joints[:, upper, axis] += (amplitude * torch.sin(2 * math.pi * hz * t))[:, None]
    return joints


def test_each_constraint_fires_on_its_own_defect():
    walk = _run(walk_clip())
    assert walk["num_violating"].item() == 0
    friction = _run(_shaken_upper_body(axis=2, amplitude=0.2, hz=2.0))["num_violating_by_constraint"][0]
    assert friction[CONSTRAINTS.index("friction_cone")] > 0
    force = _run(_shaken_upper_body(axis=1, amplitude=0.1, hz=4.0))["num_violating_by_constraint"][0]
    assert force[CONSTRAINTS.index("implied_force")] > 0 and force[CONSTRAINTS.index("ground_pull")] > 0
    # Left forearm circling about the elbow at 60 fps: 10 rad/s is fine, 40 rad/s (6.4 Hz,
    # passed by the 8 Hz filter) breaks the angular ceiling while the hand (0.26 m out) stays
    # at 10.4 m/s, under the linear ceiling.
    t = torch.arange(120, dtype=F64) / 60.0
    counts = []
    for rate in (10.0, 40.0):
        spin = rest_joints()[None].repeat(len(t), 1, 1)
        for joint, radius in ((20, 0.26), (22, 0.34)):
            spin[:, joint, 0] = spin[0, 18, 0] + radius * torch.cos(rate * t)
            spin[:, joint, 1] = spin[0, 18, 1] + radius * torch.sin(rate * t)
        counts.append(_run(spin, fps=60.0)["num_violating_by_constraint"][0])
    assert counts[0].sum() == 0
    assert counts[1][CONSTRAINTS.index("angular_speed")] > 0 and counts[1][CONSTRAINTS.index("joint_speed")] == 0
    t = torch.arange(60, dtype=F64) / 30.0
    flung = rest_joints()[None].repeat(60, 1, 1)
    flung[:, 23, 2] += 25.0 * t
    linear = _run(flung)["num_violating_by_constraint"][0]
    assert linear[CONSTRAINTS.index("joint_speed")] > 0


def test_teleport_size_moves_the_score_monotonically():
    clip = walk_clip(4.0)
    raws = []
    for size in (0.0, 0.05, 0.1, 0.2, 0.4):
        moved = clip.clone()
        moved[50:53, :, 0] += size  # the whole body jumps sideways for 3 frames and back
        raws.append(_run(moved)["raw"].item())
    assert raws[0] == 0.0
    assert all(a <= b for a, b in zip(raws, raws[1:])) and raws[1] > 0 and raws[-1] > raws[1]


def test_real_running_trial_is_plausible(reference_data):
    pytest.importorskip("opensim")
    # The same figures as `humanscore validate` (calibration rows), from the library.
    from humanscore_torch.validation.trial import RunningTrial, com_force_correlation, newtonian_at_rates

    trial = RunningTrial(reference_data).opensim_joints  # 24 SMPL-like joints placed by OpenSim
    joints, fps, support_bw, belt = trial.joints, trial.fps, trial.support_bw, trial.belt_m_s
    assert 3.0 < belt < 4.5  # the trial's treadmill speed (m/s)
    for step, out in newtonian_at_rates(trial, steps=(1, 2)).items():  # 60 fps and every second frame (30 fps)
        assert out["num_violating"].item() == 0, out["max_excess"]
        plate_flight = torch.as_tensor(support_bw[::step] < 0.03)
        flight = out["flight"][0]
        assert flight.sum() >= 30 and not (flight & ~plate_flight).any()
    # The COM of the 24 joints, low-passed, follows the force plates.
    assert com_force_correlation(joints, fps, (support_bw - 1.0) * 9.81, edge_frames=5) > 0.97


def test_penalty_gradcheck_zero_on_plausible_motion():
    generator = torch.Generator().manual_seed(1)
    base = (rest_joints()[None, None].repeat(1, 8, 1, 1)
            + 0.05 * torch.randn(1, 8, 24, 3, generator=generator, dtype=F64))
    fps = torch.tensor([30.0], dtype=F64)
    assert newtonian_penalty(base, fps).item() > 0
    # Every input joint, cheaply (random directions), then pelvis, a foot and a hand fully.
    full = base.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda j: newtonian_penalty(j, fps), (full,), fast_mode=True, atol=1e-5)
    picked = [0, 10, 22]
    part = base[:, :, picked].clone().requires_grad_(True)

    def on_part(values):
        joints = base.clone()
        joints[:, :, picked] = values
        return newtonian_penalty(joints, fps)

    assert torch.autograd.gradcheck(on_part, (part,), atol=1e-5)
    clean, _ = jump_clip()
    clean = clean[None].clone().requires_grad_(True)
    loss = NewtonianLoss()(clean, fps)
    loss.backward()
    assert loss.item() == 0.0 and torch.isfinite(clean.grad).all()


def test_suite_entry_on_motion_batch():
    joints, _ = jump_clip(fall_g=1.5)
    batch = MotionBatch(fps=torch.tensor([30.0]), mask=torch.ones(1, len(joints), dtype=torch.bool),
                        joints=joints[None].float())
    result = score_metric("newtonian_plausibility", batch, None)
    assert result.key == "newtonian_plausibility" and result.computed.all()
    assert result.raw.item() == pytest.approx(_run(joints)["raw"].item(), abs=1e-6)
    assert result.details["excess"].shape == (1, len(joints), len(CONSTRAINTS))


@pytest.mark.cuda
def test_same_numbers_on_cuda():
    from humanscore_torch.functional.jerk import jerk

    joints, _ = jump_clip(fall_g=1.5)
    joints = joints[None].float()
    fps = torch.tensor([30.0])
    cpu = newtonian_plausibility(joints, fps)
    gpu = newtonian_plausibility(joints.cuda(), fps.cuda())
    assert torch.equal(cpu["violating"], gpu["violating"].cpu())
    assert torch.allclose(jerk(joints, fps)["raw"], jerk(joints.cuda(), fps.cuda())["raw"].cpu(), rtol=1e-5)


def test_padded_frames_leave_no_nan_in_the_diagnostics():
    clip, _ = jump_clip()
    joints = torch.zeros(1, len(clip) + 10, 24, 3, dtype=F64)
    joints[0, :len(clip)] = clip
    mask = torch.zeros(1, len(clip) + 10, dtype=torch.bool)
    mask[0, :len(clip)] = True
    out = newtonian_plausibility(joints, torch.tensor([30.0], dtype=F64), mask)
    assert all(torch.isfinite(out[k]).all() for k in ("excess", "max_excess", "com_acceleration", "raw"))
    assert out["num_violating"].item() == 0
