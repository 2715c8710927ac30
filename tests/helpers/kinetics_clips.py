"""Joint-level test motions for the kinetics tests, built directly on joint tensors (no body
model, so they work before the default body exists): an approximate SMPL rest skeleton, a
ballistic jump, a walk-like gait."""

from __future__ import annotations

import math

import torch

# Approximate joint centres of an adult SMPL body in its T-pose (metres; y up, facing +z, left
# at +x), rounded; feet put on the ground y = 0 (the ball-of-foot joint ~2 cm above the sole).
REST_JOINTS = (
    (0.0, 0.93, 0.0), (0.06, 0.84, 0.0), (-0.06, 0.84, 0.0), (0.0, 1.04, -0.01),
    (0.10, 0.48, 0.01), (-0.10, 0.48, 0.01), (0.0, 1.17, 0.0), (0.09, 0.08, -0.04),
    (-0.09, 0.08, -0.04), (0.0, 1.23, 0.02), (0.11, 0.02, 0.09), (-0.11, 0.02, 0.09),
    (0.0, 1.44, -0.01), (0.08, 1.35, 0.0), (-0.08, 1.35, 0.0), (0.0, 1.52, 0.04),
    (0.18, 1.38, -0.01), (-0.18, 1.38, -0.01), (0.44, 1.36, -0.03), (-0.44, 1.36, -0.03),
    (0.70, 1.36, -0.03), (-0.70, 1.36, -0.03), (0.78, 1.36, -0.03), (-0.78, 1.36, -0.03),
)
FEET = (7, 8, 10, 11)  # ankles and balls of the feet


def rest_joints(dtype=torch.float64) -> torch.Tensor:
    """(24, 3) the rest skeleton above."""
    return torch.tensor(REST_JOINTS, dtype=dtype)


def jump_clip(fps: float = 30.0, fall_g: float = 1.0, push: float = 14.0, push_s: float = 0.22,
              stand_s: float = 0.5, dtype=torch.float64):
    """A vertical jump on joints: stand, push up at ``push`` m/s^2 for ``push_s`` (feet on the
    ground), flight where every joint falls at ``fall_g`` times g (the COM on an exact parabola
    when fall_g = 1), landing mirrored from the push, stand. Only the centre of mass is meant
    to be realistic: the shanks stretch while the feet stay down.

    Returns:
        joints (T, 24, 3), in_flight (T,) bool (frames strictly between take-off and touch-down).
    """
    g = 9.81 * fall_g
    v0 = push * push_s
    rise = 0.5 * push * push_s ** 2
    flight_s = 2 * v0 / g
    phases = torch.tensor([stand_s, push_s, flight_s, push_s, stand_s], dtype=dtype).cumsum(0)
    t = torch.arange(int(phases[-1] * fps), dtype=dtype) / fps
    s1, s2, s3 = t - phases[0], t - phases[1], t - phases[2]
    s4 = phases[3] - t  # landing: time left to the end of the deceleration
    height = torch.where(t < phases[0], torch.zeros_like(t),
             torch.where(t < phases[1], 0.5 * push * s1 ** 2,
             torch.where(t < phases[2], rise + v0 * s2 - 0.5 * g * s2 ** 2,
             torch.where(t < phases[3], 0.5 * push * s4 ** 2, torch.zeros_like(t)))))
    in_flight = (t > phases[1]) & (t < phases[2])
    lift = torch.zeros(len(t), 24, dtype=dtype) + height[:, None]
    # The feet stay down during push and landing and leave the ground only in flight.
    lift[:, list(FEET)] = (height - rise).clamp_min(0)[:, None]
    joints = rest_joints(dtype)[None].repeat(len(t), 1, 1)
    joints[..., 1] += lift
    return joints, in_flight


def _knees_by_inverse_kinematics(joints: torch.Tensor) -> None:
    """Place both knees (in place) so that thigh and shank keep their rest lengths, the knee
    bending forward (+z) in the plane of hip, ankle and the forward direction."""
    rest = rest_joints(joints.dtype)
    forward = joints.new_tensor([0.0, 0.0, 1.0])
    for hip, knee, ankle in ((1, 4, 7), (2, 5, 8)):
        thigh = (rest[knee] - rest[hip]).norm()
        shank = (rest[ankle] - rest[knee]).norm()
        reach = joints[:, ankle] - joints[:, hip]
        d = reach.norm(dim=-1, keepdim=True)
        u = reach / d
        n = forward - (u * forward).sum(-1, keepdim=True) * u
        n = n / n.norm(dim=-1, keepdim=True)
        cos = ((thigh ** 2 + d ** 2 - shank ** 2) / (2 * thigh * d)).clamp(-1, 1)
        joints[:, knee] = joints[:, hip] + thigh * (cos * u + (1 - cos ** 2).sqrt() * n)


def walk_clip(seconds: float = 4.0, fps: float = 30.0, speed: float = 0.9, dtype=torch.float64):
    """A smooth walk-like motion: the body, lowered 12 cm (knees bent), moves forward (+z) at
    ``speed`` with a 2 cm pelvis bob; each foot is planted for 60 % of its cycle and swung one
    stride forward (raised 8 cm, lifted before it moves and set down after, zero velocity at
    both ends) for 40 %, the feet half a cycle apart; knees by two-link inverse kinematics, so
    every bone keeps its rest length.

    Returns:
        joints (T, 24, 3).
    """
    t = torch.arange(int(seconds * fps), dtype=dtype) / fps
    cycle_hz = 0.9
    stride = speed / cycle_hz
    rest = rest_joints(dtype)
    joints = rest[None].repeat(len(t), 1, 1)
    joints[..., 2] += speed * t[:, None]
    joints[..., 1] += 0.02 * torch.cos(4 * math.pi * cycle_hz * t)[:, None] - 0.12
    for offset, feet in ((0.0, (7, 10)), (0.5, (8, 11))):
        cycle = cycle_hz * t + offset
        count, frac = torch.floor(cycle), cycle - torch.floor(cycle)
        u = ((frac - 0.6) / 0.4).clamp(0, 1)  # swing progress, 0 during stance
        v = ((u - 0.15) / 0.7).clamp(0, 1)  # the foot lifts (1.6 cm) before it moves forward
        forward = stride * (count + v - torch.sin(2 * math.pi * v) / (2 * math.pi) - offset + 0.3)
        lift = 0.04 * (1 - torch.cos(2 * math.pi * u))
        for j in feet:
            joints[:, j, 2] = rest[j, 2] + forward
            joints[:, j, 1] = rest[j, 1] + lift
    _knees_by_inverse_kinematics(joints)
    return joints
