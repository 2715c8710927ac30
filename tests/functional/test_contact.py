"""Contact and stance sliding on joint-level clips: a camera-pan drift and a sliding stance foot are
Newtonian violations; slow vertical drift, a hand planted on the floor and stepping off a box
are not flight."""

from __future__ import annotations

import torch

from humanscore_torch.functional.contact import SUPPORTS, running_quantile, support_contact
from humanscore_torch.functional.filtering import lowpass_derivatives
from humanscore_torch.functional.newtonian import CONSTRAINTS, newtonian_plausibility
from helpers.kinetics_clips import FEET, rest_joints, walk_clip

F64 = torch.float64
FPS = 30.0
SLIDING = CONSTRAINTS.index("stance_sliding")


def _run(joints: torch.Tensor, fps: float = FPS):
    return newtonian_plausibility(joints[None], torch.tensor([fps], dtype=F64))


def _times(seconds: float) -> torch.Tensor:
    return torch.arange(int(seconds * FPS), dtype=F64) / FPS


def _smoothstep(s: torch.Tensor) -> torch.Tensor:
    s = s.clamp(0, 1)
    return s * s * (3 - 2 * s)


def _standing(seconds: float) -> torch.Tensor:
    """(T, 24, 3) the rest skeleton standing still, with a slow 3 cm sway of the upper body."""
    t = _times(seconds)
    joints = rest_joints()[None].repeat(len(t), 1, 1)
    upper = [j for j in range(24) if j not in FEET]
    joints[:, upper, 0] += (0.03 * torch.sin(2 * torch.pi * 0.3 * t))[:, None]
    return joints


def _drifted(joints: torch.Tensor, velocity) -> torch.Tensor:
    """The whole body moved at a constant velocity (m/s), as a camera pan does."""
    t = torch.arange(len(joints), dtype=F64) / FPS
    return joints + t[:, None, None] * joints.new_tensor(velocity)


def test_running_quantile_is_local_and_exact_on_a_window():
    values = torch.arange(20, dtype=F64)[None] % 7
    mask = torch.ones_like(values, dtype=torch.bool)
    mask[0, 10] = False
    got = running_quantile(values, mask, torch.tensor([10.0], dtype=F64), 0.4, 0.0)  # +-2 frames
    expected = [min(values[0, s].item() for s in range(max(0, t - 2), min(20, t + 3)) if s != 10) for t in range(20)]
    assert got[0].tolist() == expected


def test_running_quantile_of_a_sequence_does_not_depend_on_its_batch():
    generator = torch.Generator().manual_seed(3)
    values = torch.randn(2, 900, generator=generator, dtype=F64)
    mask = torch.ones_like(values, dtype=torch.bool)
    fps = torch.tensor([30.0, 240.0], dtype=F64)  # windows of +-30 and +-240 frames (sampled)
    together = running_quantile(values, mask, fps, 2.0, 0.05)
    for b in range(2):
        alone = running_quantile(values[b:b + 1], mask[b:b + 1], fps[b:b + 1], 2.0, 0.05)
        assert torch.equal(alone[0], together[b])


def test_camera_pan_drift_breaks_static_friction():
    for clip in (walk_clip(6.0), _standing(6.0)):
        assert _run(clip)["num_violating"].item() == 0
        out = _run(_drifted(clip, (1.0, 0.0, 0.0)))
        by_constraint = out["num_violating_by_constraint"][0]
        # Every frame but the filter's reach at the two ends slides.
        assert by_constraint[SLIDING] >= len(clip) - 4, by_constraint
        assert out["score"].item() < 10


def test_sliding_stance_foot_is_flagged_and_grows_with_speed():
    walk = walk_clip(6.0)
    t = torch.arange(len(walk), dtype=F64) / FPS
    counts = []
    for speed in (0.0, 0.25, 1.0, 2.0):
        sliding = walk.clone()
        sliding[:, list(FEET), 0] += speed * t[:, None]  # the feet glide sideways under the body
        counts.append(_run(sliding)["num_violating_by_constraint"][0, SLIDING].item())
    assert counts[0] == counts[1] == 0  # below the static-friction threshold (0.5 m/s)
    assert counts[2] > 0.5 * len(walk) and counts[3] >= counts[2]


def test_slow_vertical_drift_is_not_flight():
    # 15 cm in 10 s, up and down, while standing and while walking (video estimators drift so).
    for clip in (_standing(10.0), walk_clip(10.0)):
        for rate in (0.015, -0.015):
            out = _run(_drifted(clip, (0.0, rate, 0.0)))
            assert out["flight"].sum().item() == 0 and out["num_violating"].item() == 0


def _crow_pose(seconds: float = 5.0) -> torch.Tensor:
    """Crouched with both hands flat on the floor; from 1.5 s to 3.5 s the feet and knees lift
    25 cm and the body rests on the hands alone (a yoga crow, a breakdance freeze)."""
    t = _times(seconds)
    rest = rest_joints()
    joints = rest[None].repeat(len(t), 1, 1)
    trunk = [0, 1, 2, 3, 6, 9, 12, 13, 14, 15, 16, 17]
    joints[:, trunk, 1] -= 0.40
    joints[:, trunk, 2] += 0.10
    for side, sign in ((0, 1.0), (1, -1.0)):
        joints[:, 4 + side] = torch.tensor([sign * 0.14, 0.50, 0.25], dtype=F64)  # knees
        joints[:, 18 + side] = torch.tensor([sign * 0.22, 0.50, 0.35], dtype=F64)  # elbows
        joints[:, 20 + side] = torch.tensor([sign * 0.22, 0.020, 0.40], dtype=F64)  # wrists on the floor
        joints[:, 22 + side] = torch.tensor([sign * 0.22, 0.022, 0.48], dtype=F64)  # hands on the floor
    lift = 0.25 * _smoothstep((t - 1.5) / 0.4) * (1 - _smoothstep((t - 3.1) / 0.4))
    joints[:, list(FEET) + [4, 5], 1] += lift[:, None]
    return joints, (t > 2.0) & (t < 3.0)


def test_hands_planted_on_the_floor_are_support():
    joints, on_hands = _crow_pose()
    out = _run(joints)
    assert out["flight"].sum().item() == 0 and out["num_violating"].item() == 0
    feet = out["contact"][0, :, [SUPPORTS.index("left_foot"), SUPPORTS.index("right_foot")]]
    hands = out["contact"][0, :, [SUPPORTS.index("left_hand"), SUPPORTS.index("right_hand")]]
    assert not feet[on_hands].any() and hands[on_hands].all()


def _kneeling(seconds: float = 5.0) -> torch.Tensor:
    """Kneeling upright on both knees, shins flat on the floor behind; from 1.5 s to 3.5 s the
    feet lift 20 cm (shins tilted up) and the knees alone carry the body."""
    t = _times(seconds)
    joints = rest_joints()[None].repeat(len(t), 1, 1)
    above_knees = [j for j in range(24) if j not in (4, 5) + FEET]
    joints[:, above_knees, 1] -= 0.48 - 0.069  # the knee joints sit one knee thickness above the floor
    for side, sign in ((0, 1.0), (1, -1.0)):
        joints[:, 4 + side] = torch.tensor([sign * 0.10, 0.069, 0.01], dtype=F64)
        joints[:, 7 + side] = torch.tensor([sign * 0.09, 0.06, -0.38], dtype=F64)  # ankles behind
        joints[:, 10 + side] = torch.tensor([sign * 0.11, 0.03, -0.50], dtype=F64)  # toes behind
    lift = 0.20 * _smoothstep((t - 1.5) / 0.4) * (1 - _smoothstep((t - 3.1) / 0.4))
    joints[:, list(FEET), 1] += lift[:, None]
    return joints, (t > 2.0) & (t < 3.0)


def test_knees_on_the_floor_are_support():
    joints, on_knees = _kneeling()
    out = _run(joints)
    assert out["flight"].sum().item() == 0 and out["num_violating"].item() == 0
    knees = out["contact"][0, :, [SUPPORTS.index("left_knee"), SUPPORTS.index("right_knee")]]
    assert knees[on_knees].all() and not out["contact"][0, on_knees, :2].any()


def _box_step_down(height: float = 0.3, seconds: float = 6.0) -> torch.Tensor:
    """Standing on a box ``height`` m high, stepping down forward onto the floor (left foot
    at 2.0-2.6 s, right foot at 2.8-3.4 s, the body lowered in between), standing there."""
    t = _times(seconds)
    joints = rest_joints()[None].repeat(len(t), 1, 1)
    body = _smoothstep((t - 2.0) / 1.4)
    joints[..., 1] += (height * (1 - body))[:, None]
    joints[..., 2] += (0.3 * body)[:, None]
    for feet, start in (((7, 10), 2.0), ((8, 11), 2.8)):
        step = _smoothstep((t - start) / 0.6)
        clearance = 0.05 * torch.sin(torch.pi * step)
        joints[:, list(feet), 1] = rest_joints()[list(feet), 1] + (height * (1 - step) + clearance)[:, None]
        joints[:, list(feet), 2] = rest_joints()[list(feet), 2] + (0.3 * step)[:, None]
    return joints


def test_stepping_off_a_box_is_not_flight():
    out = _run(_box_step_down())
    assert out["flight"].sum().item() == 0 and out["num_violating"].item() == 0


def test_jumping_off_a_box_is_flight():
    # The same box, left by a jump: feet and body fall together at g for 0.25 s.
    t = _times(4.0)
    fall = (t - 2.0).clamp(0, 0.247)
    drop = 0.3 - 0.5 * 9.81 * fall ** 2
    joints = rest_joints()[None].repeat(len(t), 1, 1)
    joints[..., 1] += drop.clamp_min(0)[:, None]
    out = _run(joints, fps=FPS)
    assert out["flight"].sum().item() >= 1


def test_resting_point_supports_at_any_height_but_is_not_planted():
    joints = _box_step_down()
    x = joints[None]
    mask = torch.ones(x.shape[:2], dtype=torch.bool)
    fps = torch.tensor([FPS], dtype=F64)
    smooth = lowpass_derivatives(x, fps, mask, 8.0)
    contact = support_contact(smooth.position, smooth.velocity, mask, fps)
    on_box = torch.arange(x.shape[1]) < int(1.5 * FPS)
    assert contact.supported[0].all()
    assert contact.resting[0, on_box, :4].all()  # the feet, still on the box
