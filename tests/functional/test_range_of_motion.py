"""Range-of-motion metric, its torchmetrics class and its smooth loss."""

import math

import pytest
import torch

from humanscore_torch.functional.range_of_motion import (
    coordinate_limits, joint_map_for_body, range_of_motion, range_of_motion_penalty)
from humanscore_torch.losses.range_of_motion import RangeOfMotionLoss

T = 40


@pytest.fixture(scope="module")
def joint_map(default_body):
    return joint_map_for_body(default_body)


def _clip(joint_map, **sweeps):
    """SMPL poses (1, T, ...) of a running-like clip written in OpenSim coordinates (degrees):
    legs and arms swinging inside their ranges; ``sweeps`` replace a coordinate by a linear
    sweep (start, end) over the clip."""
    t = torch.linspace(0, 2 * math.pi, T, dtype=torch.float64)
    values = {"hip_flexion_r": 10 + 20 * torch.sin(t), "hip_flexion_l": 10 - 20 * torch.sin(t),
              "knee_angle_r": 35 + 25 * torch.sin(t), "knee_angle_l": 35 - 25 * torch.sin(t),
              "shoulder_elv_r": torch.full_like(t, 15.0), "shoulder_elv_l": torch.full_like(t, 15.0),
              "elbow_flex_r": 70 + 20 * torch.sin(t), "elbow_flex_l": 70 - 20 * torch.sin(t),
              "pro_sup_r": torch.full_like(t, 60.0), "pro_sup_l": torch.full_like(t, 60.0)}
    for name, (start, end) in sweeps.items():
        values[name] = torch.linspace(start, end, T, dtype=torch.float64)
    coords = torch.zeros(T, len(joint_map.coordinate_names), dtype=torch.float64)
    for name, v in values.items():
        coords[:, joint_map.coordinate_index[name]] = torch.deg2rad(v)
    global_orient, body_pose = joint_map.smpl_from_coordinates(coords)
    from humanscore_torch.rotations import rotmat_to_rotvec
    return rotmat_to_rotvec(global_orient)[None], rotmat_to_rotvec(body_pose)[None]


def test_clean_clip_has_no_violation(joint_map):
    out = range_of_motion(*_clip(joint_map), joint_map=joint_map)
    assert float(out["raw"]) == 0.0 and float(out["score"]) == 100.0
    assert not out["violating"].any()


def test_knee_hyperextension_grows_raw_rate_and_excess(joint_map):
    """The right knee sweeps from 30 deg flexion to p deg past its extension limit: more frames
    pass the limit by more than the tolerance (3 deg), by more; the graded raw value grows
    faster than the frame count (degree-seconds)."""
    lower, _, _ = coordinate_limits(joint_map)
    index = joint_map.coordinate_index["knee_angle_r"]
    limit = math.degrees(float(lower[index]))  # -5 (AAOS hyperextension)
    raws, rates, excesses = [], [], []
    for past in (5.0, 10.0, 20.0, 40.0):
        out = range_of_motion(*_clip(joint_map, knee_angle_r=(30.0, limit - past)), joint_map=joint_map)
        raws.append(float(out["raw"]))
        rates.append(float(out["violation_rate"]))
        excesses.append(float(out["mean_excess_deg"]))
        worst = out["coordinate_max_excess_deg"][0]
        assert int(worst.argmax()) == index
        assert float(worst.max()) == pytest.approx(past, abs=1e-6)
    print("knee 5/10/20/40 deg past its limit: raw deg", [round(r, 3) for r in raws], "rate",
          [round(r, 3) for r in rates], "mean excess deg", [round(e, 2) for e in excesses])
    assert all(b > a for a, b in zip(rates, rates[1:])) and rates[0] > 0
    assert all(b > a for a, b in zip(excesses, excesses[1:]))
    assert all(b / a > rb / ra for a, b, ra, rb in zip(raws, raws[1:], rates, rates[1:]))


def test_hip_abducted_past_its_limit(joint_map):
    """The right hip sweeps from neutral to p deg past its abduction limit: rate and excess
    grow with p, and the violation is the hip adduction coordinate's."""
    lower, _, _ = coordinate_limits(joint_map)
    index = joint_map.coordinate_index["hip_adduction_r"]
    limit = math.degrees(float(lower[index]))  # -50 (Rajagopal)
    rates, excesses = [], []
    for past in (5.0, 10.0, 20.0, 30.0):
        out = range_of_motion(*_clip(joint_map, hip_adduction_r=(0.0, limit - past)), joint_map=joint_map)
        rate = out["coordinate_violation_rate"][0]
        assert float(rate[index]) == pytest.approx(float(out["violation_rate"]))
        assert float(out["coordinate_max_excess_deg"][0].max()) == pytest.approx(past, abs=1e-6)
        rates.append(float(out["violation_rate"]))
        excesses.append(float(out["mean_excess_deg"]))
    print("hip abduction 5/10/20/30 deg past the limit: rate", [round(r, 3) for r in rates],
          "mean excess deg", [round(e, 2) for e in excesses])
    assert rates[0] > 0 and all(b > a for a, b in zip(rates, rates[1:]))
    assert all(b > a for a, b in zip(excesses, excesses[1:]))


def test_masked_and_nonfinite_frames_never_count(joint_map):
    go, bp = _clip(joint_map, knee_angle_r=(30.0, -40.0))
    violating = range_of_motion(go, bp, joint_map=joint_map)["violating"][0]
    mask = ~violating[None].clone()
    out = range_of_motion(go, bp, mask, joint_map=joint_map)
    assert float(out["raw"]) == 0.0 and int(mask.sum()) > 0
    bp_nan = bp.clone()
    bp_nan[0, violating] = float("nan")
    out = range_of_motion(go, bp_nan, joint_map=joint_map)
    assert float(out["raw"]) == 0.0 and torch.isfinite(out["per_frame_excess_deg"]).all()
    empty = range_of_motion(go, bp, torch.zeros_like(mask), joint_map=joint_map)
    assert not bool(empty["computed"][0]) and float(empty["raw"]) == 0.0


def test_penalty_is_zero_inside_and_passes_gradcheck(joint_map):
    go, bp = _clip(joint_map)
    inside = range_of_motion_penalty(go, bp, joint_map=joint_map)
    assert float(inside) == 0.0
    go, bp = _clip(joint_map, knee_angle_r=(30.0, -25.0), hip_adduction_r=(-40.0, -70.0))
    frames = slice(30, 32)  # both past both limits, away from the hinge's start
    legs = [1, 4]  # body_pose rows of the right hip and right knee (SMPL joints 2 and 5)
    leg_pose = bp[:, frames, legs].clone().requires_grad_(True)

    def penalty(p):
        full = bp[:, frames].clone()
        full[:, :, legs] = p
        return range_of_motion_penalty(go[:, frames], full, joint_map=joint_map)

    assert torch.autograd.gradcheck(penalty, (leg_pose,), eps=1e-6, atol=1e-6)
    # And at a pose inside the limits the gradient is exactly zero.
    inside_pose = _clip(joint_map)[1][:, :3].clone().requires_grad_(True)
    range_of_motion_penalty(go[:, :3], inside_pose, joint_map=joint_map).backward()
    assert float(inside_pose.grad.abs().max()) == 0.0


def test_gradient_steps_bring_a_violating_pose_back_inside(joint_map):
    go, bp = _clip(joint_map, knee_angle_r=(-20.0, -20.0), hip_adduction_r=(-75.0, -75.0))
    go, pose = go[:, :4], bp[:, :4].clone().requires_grad_(True)
    loss_fn = RangeOfMotionLoss(joint_map=joint_map)
    before = range_of_motion(go, pose.detach(), joint_map=joint_map)
    assert float(before["violation_rate"]) == 1.0
    optimizer = torch.optim.SGD([pose], lr=3e-3)
    for _ in range(40):
        optimizer.zero_grad()
        loss = loss_fn(go, pose)
        loss.backward()
        optimizer.step()
    after = range_of_motion(go, pose.detach(), joint_map=joint_map)
    print("descent: loss", float(loss.detach()), "raw before/after", float(before["raw"]), float(after["raw"]))
    assert float(after["violation_rate"]) == 0.0 and float(after["raw"]) == 0.0


def test_suite_entry_scores_a_motion_batch(joint_map, default_body):
    from humanscore_torch.motion import MotionBatch
    from humanscore_torch.registry import available_metrics

    clean, bent = _clip(joint_map), _clip(joint_map, knee_angle_r=(30.0, -40.0))
    batch = MotionBatch(fps=torch.tensor([30.0, 30.0]), mask=torch.ones(2, T, dtype=torch.bool),
                        global_orient=torch.cat([clean[0], bent[0]]).float(),
                        body_pose=torch.cat([clean[1], bent[1]]).float())
    result = available_metrics()["range_of_motion"](batch, default_body)
    assert result.key == "range_of_motion" and result.unit == "degree-seconds per second"
    assert result.raw[0] == 0.0 and result.raw[1] > 0.0 and result.score[1] < 100.0
    assert result.details["coordinate_violation_rate"].shape == (2, len(joint_map.coordinate_names))
    assert result.details["per_frame_excess_deg"].shape == (2, T)
