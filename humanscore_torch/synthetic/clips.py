"""Procedural clean clips on the embedded default body: walk, run, jump, arm swing, squat, turn.

Each clip is designed the way a physicist would check it, then solved into SMPL parameters
(:mod:`.kinematics`):

* the **centre of mass** follows a trajectory that obeys Newton: in flight exactly ballistic
  (``a = (0, -g, 0)``), in stance a vertical acceleration above ``-g`` (the ground only
  pushes), with horizontal accelerations inside the friction cone and far below any force
  ceiling;
* the **feet** are planted on the ground (y = 0 is the sole; the ball-of-foot joint sits at
  its rest height above it) and do not slide while in stance: a planted foot is still, the
  heel rises about the ball of the foot before toe-off, and the swing moves it to the next
  footprint along quintic (C2) profiles;
* the **upper body** (pelvis orientation, spine, arms) is designed as smooth joint angles
  within the OpenSim-derived limits, arms slightly abducted so that they clear the torso.

The root translation is then whatever puts the COM of the posed body on the designed
trajectory. World frame: y up, gravity -y, the body facing +z (heading 0), +x to its left.
Units: metres, seconds, radians. Every clip is deterministic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Dict, Optional, Tuple

import torch

from ..body.skeleton import JOINT_INDEX
from ..detectors import HADM_CLASSES
from ..errors import HumanScoreError
from .kinematics import Design, axis_rotation, rest, solve

CLIP_NAMES: Tuple[str, ...] = ("walk", "run", "jump", "arm_swing", "squat", "turn")
# Length of each clip (s) when none is asked for.
CLIP_SECONDS: Dict[str, float] = {"walk": 4.0, "run": 3.0, "jump": 3.5, "arm_swing": 4.0, "squat": 4.0, "turn": 4.0}
GRAVITY = 9.81
_LEFT, _RIGHT = 0, 1


def _pose_index(name: str) -> int:
    """Index of an SMPL joint in body_pose (the root excluded)."""
    return JOINT_INDEX[name] - 1


def smoothstep(s: torch.Tensor) -> torch.Tensor:
    """Quintic ramp from 0 (s <= 0) to 1 (s >= 1) with zero velocity and acceleration at both ends."""
    s = s.clamp(0.0, 1.0)
    return s ** 3 * (10.0 - 15.0 * s + 6.0 * s ** 2)


def bump(s: torch.Tensor, peak: float = 0.5) -> torch.Tensor:
    """Bump s^3 (1 - s)^m on [0, 1] scaled to a maximum of 1 at s = ``peak`` (m = 3 (1 - peak) /
    peak), C2 at both ends, 0 outside."""
    power = 3.0 * (1.0 - peak) / peak
    inside = (s > 0) & (s < 1)
    s = s.clamp(0.0, 1.0)
    top = peak ** 3 * (1.0 - peak) ** power
    return torch.where(inside, s ** 3 * (1.0 - s) ** power / top, torch.zeros_like(s))


def _forward(heading: torch.Tensor) -> torch.Tensor:
    """(..., 3) horizontal unit vector the body faces at ``heading`` (rad about +y)."""
    return torch.stack([torch.sin(heading), torch.zeros_like(heading), torch.cos(heading)], -1)


def _leftward(heading: torch.Tensor) -> torch.Tensor:
    """(..., 3) horizontal unit vector to the body's left at ``heading``."""
    return torch.stack([torch.cos(heading), torch.zeros_like(heading), -torch.sin(heading)], -1)


# ------------------------------------------------------------------------------------ paths
Path = Callable[[torch.Tensor], Tuple[torch.Tensor, torch.Tensor]]


def straight_path(speed: float) -> Path:
    """Walking/running along +z at ``speed`` (m/s): times (N,) -> horizontal COM (N, 3), heading (N,)."""
    def path(times: torch.Tensor):
        position = torch.zeros(*times.shape, 3, dtype=torch.float64)
        position[..., 2] = speed * times
        return position, torch.zeros_like(times)
    return path


def turning_path(speed: float, turn: float, start: float, end: float) -> Path:
    """Constant ``speed`` (m/s) while the heading turns by ``turn`` (rad, positive towards the
    left... i.e. about +y) along a quintic ramp from ``start`` to ``end`` (s).

    The position is the heading's integral, taken on a 0.5 ms grid (error < 1e-7 m).
    """
    step = 5e-4
    grid = torch.arange(-3.0, end + 6.0, step, dtype=torch.float64)
    heading = turn * smoothstep((grid - start) / (end - start))
    velocity = speed * _forward(heading)
    position = torch.cat([velocity.new_zeros(1, 3), torch.cumsum((velocity[1:] + velocity[:-1]) * step / 2, 0)])
    position = position - position[int(round(3.0 / step))]  # at t = 0 the COM is at the origin

    def path(times: torch.Tensor):
        where = ((times - grid[0]) / step).clamp(0, len(grid) - 2)
        low = where.floor().long()
        frac = (where - low)[..., None]
        return position[low] * (1 - frac) + position[low + 1] * frac, turn * smoothstep((times - start) / (end - start))
    return path


# ------------------------------------------------------------------------------------ gaits
@dataclass(frozen=True)
class Gait:
    """A periodic gait (walking or running).

    Attributes:
        stride: one cycle, two steps (s).
        duty: stance share of the stride per foot (> 0.5 walking, < 0.5 running: flight).
        width: lateral distance between the footprints (m).
        clearance: largest lift of the ball of the foot in swing (m).
        heel_rise: foot pitch at toe-off (rad, heel up, about the ball of the foot).
        rise: share of stance over which the heel rises.
        ball_ahead: ball-of-foot footprint ahead of the COM at midstance (m).
        left_start: time the left foot's stance starts (s); the right foot's half a stride later.
        lift_peak: share of the swing at which the foot is highest.
        swing_pitch: extra pitch (rad, toes down) in the swing, largest at ``lift_peak``.
        touchdown_speed: downward speed (m/s) of the ball of the foot when it lands.
    """

    stride: float
    duty: float
    width: float
    clearance: float
    heel_rise: float
    rise: float
    ball_ahead: float
    left_start: float
    lift_peak: float = 0.5
    swing_pitch: float = 0.0
    touchdown_speed: float = 0.0

    @property
    def contact(self) -> float:
        """Stance duration (s)."""
        return self.duty * self.stride

    def midstance(self, foot: int) -> float:
        """Time (s) of the first midstance at or after ``left_start`` of a foot (0 left, 1 right)."""
        return self.left_start + foot * self.stride / 2 + self.contact / 2


def hermite5(s: torch.Tensor, p0, v0, a0, p1, v1, a1, duration: torch.Tensor) -> torch.Tensor:
    """Quintic Hermite curve on s in [0, 1] matching position, velocity and acceleration (per
    second, over ``duration`` seconds) at both ends; exact for polynomials up to degree 5
    (a ballistic parabola included).

    Args:
        s: (N,). p0, v0, a0, p1, v1, a1: (N,) or (N, C) (or broadcastable). duration: (N,) s.

    Returns:
        positions shaped like the end values.
    """
    s = s.clamp(0.0, 1.0)
    d = duration
    trailing = max(torch.as_tensor(p0).dim(), torch.as_tensor(p1).dim()) - s.dim()
    if trailing > 0:
        s, d = s.reshape(*s.shape, *([1] * trailing)), d.reshape(*d.shape, *([1] * trailing))
    s3, s4, s5 = s ** 3, s ** 4, s ** 5
    return ((1 - 10 * s3 + 15 * s4 - 6 * s5) * p0 + (s - 6 * s3 + 8 * s4 - 3 * s5) * d * v0
            + (0.5 * s ** 2 - 1.5 * s3 + 1.5 * s4 - 0.5 * s5) * d ** 2 * a0
            + (0.5 * s3 - s4 + 0.5 * s5) * d ** 2 * a1 + (-4 * s3 + 7 * s4 - 3 * s5) * d * v1
            + (10 * s3 - 15 * s4 + 6 * s5) * p1)


def knots(times: torch.Tensor, points) -> torch.Tensor:
    """A scalar profile through knots ``(time, value, rate, acceleration)`` (s, unit, unit/s,
    unit/s^2), quintic Hermite between consecutive knots (C2), constant before the first and
    after the last (whose rates must then be 0).

    Args:
        times: (T,) s. points: sequence of 4-tuples with increasing times.

    Returns:
        (T,) values.
    """
    table = torch.tensor(points, dtype=torch.float64)
    out = torch.full_like(times, float(table[0, 1]))
    out = torch.where(times >= table[-1, 0], table[-1, 1], out)
    for (t0, y0, v0, a0), (t1, y1, v1, a1) in zip(table[:-1].tolist(), table[1:].tolist()):
        inside = (times >= t0) & (times < t1)
        duration = torch.full_like(times, t1 - t0)
        value = hermite5((times - t0) / (t1 - t0), y0, v0, a0, y1, v1, a1, duration)
        out = torch.where(inside, value, out)
    return out


def _derivatives(fn: Callable[[torch.Tensor], torch.Tensor], times: torch.Tensor):
    """Value, first and second time derivative of a smooth trajectory (central differences, h = 0.1 ms)."""
    h = 1e-4
    before, here, after = fn(times - h), fn(times), fn(times + h)
    return here, (after - before) / (2 * h), (after - 2 * here + before) / h ** 2


def gait_feet(times: torch.Tensor, gait: Gait, com: Callable[[torch.Tensor], torch.Tensor],
              heading: Callable[[torch.Tensor], torch.Tensor], ground: float):
    """Feet of a gait following the centre of mass.

    A planted foot stays on its footprint (placed at each midstance relative to the COM). In
    swing the ball of the foot moves horizontally, relative to the COM, along a quintic Hermite
    curve that matches the foot's world position, velocity (zero) and acceleration (zero) at
    toe-off and touchdown (the foot trails behind after toe-off and swings forward to the next
    footprint); vertically it rises to ``clearance`` and comes down to land at
    ``touchdown_speed``.

    Args:
        times: (T,) s. gait: the :class:`Gait`. com: times (N,) -> (N, 3) COM trajectory (m).
        heading: times (N,) -> (N,) heading (rad about +y). ground: height (m) of the planted
            ball-of-foot joint.

    Returns:
        ball (T, 2, 3) m, foot (T, 2, 3, 3) world orientations, pitch (T, 2) rad (heel up),
        stance (T, 2) bool.
    """
    balls, feet, pitches, stances = [], [], [], []
    for foot, side in ((_LEFT, 1.0), (_RIGHT, -1.0)):
        start = gait.left_start + foot * gait.stride / 2
        cycle = torch.floor((times - start) / gait.stride)
        u = times - start - cycle * gait.stride
        stance = u < gait.contact

        def footprint(k: torch.Tensor):
            mid = start + k * gait.stride + gait.contact / 2
            centre, yaw = com(mid), heading(mid)
            where = centre + side * gait.width / 2 * _leftward(yaw) + gait.ball_ahead * _forward(yaw)
            where[..., 1] = ground
            return where, yaw

        here, yaw_here = footprint(cycle)
        there, yaw_there = footprint(cycle + 1)
        swing_time = gait.stride - gait.contact
        swing = ((u - gait.contact) / swing_time).clamp(0.0, 1.0)
        lift_off = start + cycle * gait.stride + gait.contact
        touch_down = lift_off + swing_time
        c0, v0, a0 = _derivatives(com, lift_off)
        c1, v1, a1 = _derivatives(com, touch_down)
        centre = com(times)
        relative = hermite5(swing, here - c0, -v0, -a0, there - c1, -v1, -a1, torch.full_like(times, swing_time))
        # Vertically in the world: up to the clearance by a quintic ramp, down along a quintic
        # Hermite that meets the ground at the touchdown speed (C2 at the top).
        peak = gait.lift_peak
        descent = hermite5((swing - peak) / (1.0 - peak), 1.0, 0.0, 0.0, 0.0,
                           -gait.touchdown_speed * swing_time * (1.0 - peak) / gait.clearance, 0.0,
                           torch.ones_like(swing))
        lift = torch.where(swing < peak, smoothstep(swing / peak), descent) * (~stance)
        flying = centre + relative
        flying[..., 1] = here[..., 1] + (there - here)[..., 1] * smoothstep(swing) + gait.clearance * lift
        ball = torch.where(stance[..., None], here, flying)
        rise_time = gait.rise * gait.contact
        pitch = torch.where(stance, gait.heel_rise * smoothstep((u - (gait.contact - rise_time)) / rise_time),
                            gait.heel_rise * (1.0 - smoothstep(swing)) + gait.swing_pitch * lift)
        yaw = torch.where(stance, yaw_here, yaw_here + (yaw_there - yaw_here) * smoothstep(swing))
        balls.append(ball), pitches.append(pitch), stances.append(stance)
        feet.append(axis_rotation(1, yaw) @ axis_rotation(0, pitch))
    return torch.stack(balls, 1), torch.stack(feet, 1), torch.stack(pitches, 1), torch.stack(stances, 1)


def walk_height(times: torch.Tensor, gait: Gait, mean: float, amplitude: float) -> torch.Tensor:
    """Walking COM height: highest at each midstance (inverted pendulum), a cosine per step."""
    return mean + amplitude * torch.cos(4.0 * math.pi * (times - gait.midstance(_LEFT)) / gait.stride)


def run_height(times: torch.Tensor, gait: Gait, lowest: float) -> torch.Tensor:
    """Running COM height: per step a half-sine vertical force in stance (continuous at
    touchdown and toe-off, mean force = body weight over the step) and a ballistic flight.

    Args:
        times: (T,) s. gait: a running gait (duty < 0.5). lowest: COM height at midstance (m).
    """
    step, contact = gait.stride / 2, gait.contact
    flight = step - contact
    if flight <= 0:
        raise HumanScoreError(f"run_height: the gait has no flight (duty {gait.duty} >= 0.5)")
    peak = math.pi * GRAVITY * step / (2.0 * contact)  # force per unit mass at midstance, m/s^2
    offset = torch.remainder(times - gait.midstance(_LEFT) + step / 2, step) - step / 2
    tau = offset + contact / 2
    scale = (contact / math.pi) ** 2
    in_stance = lowest - GRAVITY * offset ** 2 / 2 - peak * scale * torch.sin(math.pi * tau / contact) + peak * scale
    takeoff = lowest - GRAVITY * contact ** 2 / 8 + peak * scale
    airborne = offset.abs() - contact / 2
    in_flight = takeoff + GRAVITY * flight / 2 * airborne - GRAVITY * airborne ** 2 / 2
    return torch.where(offset.abs() <= contact / 2, in_stance, in_flight)


# ------------------------------------------------------------------------------- upper body
def arm_rotations(flexion: torch.Tensor, abduction: torch.Tensor, elbow: torch.Tensor, side: float) -> Tuple[torch.Tensor, torch.Tensor]:
    """Local shoulder and elbow rotations of one arm.

    Args:
        flexion: (T,) shoulder flexion (rad, forward positive) of the lowered arm.
        abduction: (T,) angle (rad) of the lowered arm away from the side of the body.
        elbow: (T,) elbow flexion (rad, forearm forward/up positive).
        side: +1 left arm, -1 right arm.

    Returns:
        shoulder (T, 3, 3), elbow (T, 3, 3) local rotations.
    """
    lower = axis_rotation(2, -side * (math.pi / 2 - abduction))
    shoulder = axis_rotation(0, -flexion) @ lower
    return shoulder, axis_rotation(1, -side * elbow)


def _identity(frames: int) -> torch.Tensor:
    return torch.eye(3, dtype=torch.float64).expand(frames, 23, 3, 3).clone()


def _set_arms(local: torch.Tensor, flex_left, flex_right, abduction, elbow_left, elbow_right) -> None:
    for side, name, flexion, elbow in ((1.0, "left", flex_left, elbow_left), (-1.0, "right", flex_right, elbow_right)):
        shoulder, forearm = arm_rotations(flexion, abduction, elbow, side)
        local[:, _pose_index(f"{name}_shoulder")] = shoulder
        local[:, _pose_index(f"{name}_elbow")] = forearm


def _set_toes(local: torch.Tensor, pitch: torch.Tensor) -> None:
    """Toes kept flat on the ground while the heel rises (pitch (T, 2))."""
    for foot, name in ((_LEFT, "left_foot"), (_RIGHT, "right_foot")):
        local[:, _pose_index(name)] = axis_rotation(0, -pitch[:, foot])


def standing_com_height() -> float:
    """COM height (m) of the rest pose standing on the ground (sole at y = 0)."""
    base = rest()
    ball = 1  # y of joints
    sole = float(base.joints[JOINT_INDEX["left_foot"], ball]) - base.ball_height
    return float(base.com[1]) - sole


# ------------------------------------------------------------------------------------ clips
def _gait_clip(times: torch.Tensor, gait: Gait, path: Path, height: Callable[[torch.Tensor], torch.Tensor],
               arm_gain: float, elbow: float, lean: float, sway: float) -> Design:
    """A walking or running design: COM on the path at ``height`` (times -> (N,) m), swaying
    ``sway`` m towards the stance foot, arms swinging against the legs."""
    base = rest()

    def com(at: torch.Tensor) -> torch.Tensor:
        centre, yaw = path(at)
        shift = sway * torch.cos(2.0 * math.pi * (at - gait.midstance(_LEFT)) / gait.stride)
        out = centre + shift[..., None] * _leftward(yaw)
        out[..., 1] = height(at)
        return out

    ball, foot, pitch, _ = gait_feet(times, gait, com, lambda at: path(at)[1], base.ball_height)
    heading = path(times)[1]
    forward = _forward(heading)
    stagger = ((ball[:, _LEFT] - ball[:, _RIGHT]) * forward).sum(-1)  # > 0: left foot ahead
    # The pelvis turns a little with the leading leg; the spine turns back so the chest faces forward.
    pelvis_yaw = -0.12 * stagger
    root = axis_rotation(1, heading + pelvis_yaw) @ axis_rotation(0, torch.full_like(times, lean))
    local = _identity(len(times))
    local[:, _pose_index("spine3")] = axis_rotation(1, -pelvis_yaw)
    frames = len(times)
    constant = lambda value: torch.full((frames,), value, dtype=torch.float64)  # noqa: E731
    _set_arms(local, -arm_gain * stagger, arm_gain * stagger, constant(0.3), constant(elbow), constant(elbow))
    _set_toes(local, pitch)
    return Design(root=root, local=local, com=com(times), ball=ball, foot=foot)


def walk_design(times: torch.Tensor) -> Design:
    """Level walking at 1.0 m/s, 1.0 s strides (120 steps/min), 60 % stance per foot."""
    gait = Gait(stride=1.0, duty=0.6, width=0.16, clearance=0.06, heel_rise=0.35, rise=0.45, ball_ahead=0.05,
                left_start=-0.2, lift_peak=0.5, swing_pitch=0.3)
    height = lambda at: walk_height(at, gait, standing_com_height() - 0.06, 0.015)  # noqa: E731
    return _gait_clip(times, gait, straight_path(1.0), height, arm_gain=0.45, elbow=0.25, lean=0.03, sway=0.02)


def run_design(times: torch.Tensor) -> Design:
    """Running at 2.2 m/s, 0.76 s strides (158 steps/min), 0.24 s stance and 0.14 s flight per step."""
    gait = Gait(stride=0.76, duty=0.24 / 0.76, width=0.12, clearance=0.15, heel_rise=0.8, rise=0.85, ball_ahead=-0.05,
                left_start=-0.1, lift_peak=0.3, swing_pitch=0.4, touchdown_speed=0.6)
    height = lambda at: run_height(at, gait, standing_com_height() - 0.145)  # noqa: E731
    return _gait_clip(times, gait, straight_path(2.2), height, arm_gain=0.55, elbow=1.2, lean=0.12, sway=0.0)


def turn_design(times: torch.Tensor) -> Design:
    """Walking at 0.9 m/s while turning 90 degrees to the left, between 0.6 s and 3.4 s."""
    gait = Gait(stride=1.0, duty=0.6, width=0.16, clearance=0.06, heel_rise=0.3, rise=0.45, ball_ahead=0.05,
                left_start=-0.2, lift_peak=0.5, swing_pitch=0.3)
    height = lambda at: walk_height(at, gait, standing_com_height() - 0.06, 0.012)  # noqa: E731
    path = turning_path(0.9, math.pi / 2, 0.6, 3.4)
    return _gait_clip(times, gait, path, height, arm_gain=0.45, elbow=0.25, lean=0.03, sway=0.02)


def _standing_feet(times: torch.Tensor, lift: Optional[torch.Tensor] = None, pitch: Optional[torch.Tensor] = None,
                   width: float = 0.24, ahead: float = 0.10):
    """Both feet on their footprints (balls ``width`` apart, ``ahead`` m in front of the COM's
    vertical line), lifted together by ``lift`` (T,) m and pitched by ``pitch`` (T,) rad."""
    base = rest()
    frames = len(times)
    lift = torch.zeros_like(times) if lift is None else lift
    pitch = torch.zeros_like(times) if pitch is None else pitch
    ball = torch.zeros(frames, 2, 3, dtype=torch.float64)
    ball[:, _LEFT, 0], ball[:, _RIGHT, 0] = width / 2, -width / 2
    ball[..., 1] = base.ball_height + lift[:, None]
    ball[..., 2] = ahead
    foot = axis_rotation(0, pitch)[:, None].expand(-1, 2, 3, 3)
    return ball, foot, torch.stack([pitch, pitch], 1)


def _standing_design(times: torch.Tensor, height: torch.Tensor, lean: torch.Tensor, flexion: torch.Tensor,
                     elbow: torch.Tensor, counter: Optional[torch.Tensor] = None, lift=None, pitch=None) -> Design:
    """A design with both feet on the ground (or lifted together): COM at (0, height, 0),
    pelvis leaning forward by ``lean``, left arm flexed by ``flexion``, the right arm by
    ``counter`` (the same when None), both elbows by ``elbow`` (all (T,), m and rad)."""
    ball, foot, pitches = _standing_feet(times, lift, pitch)
    com = torch.zeros(len(times), 3, dtype=torch.float64)
    com[:, 1] = height
    root = axis_rotation(0, lean)
    local = _identity(len(times))
    _set_arms(local, flexion, flexion if counter is None else counter, torch.full_like(times, 0.3), elbow, elbow)
    _set_toes(local, pitches)
    return Design(root=root, local=local, com=com, ball=ball, foot=foot)


def arm_swing_design(times: torch.Tensor) -> Design:
    """Standing, arms swinging forward and back in opposition (+-40 degrees, 1.25 s period)."""
    swing = 0.7 * torch.sin(2.0 * math.pi * times / 1.25)
    elbow = 0.35 + 0.2 * (1.0 + torch.sin(2.0 * math.pi * times / 1.25))
    return _standing_design(times, torch.full_like(times, standing_com_height() - 0.02), torch.full_like(times, 0.03),
                            swing, elbow, counter=-swing)


def squat_design(times: torch.Tensor) -> Design:
    """Two body-weight squats in 4 s: the COM drops 0.2 m with the trunk leaning forward and
    the arms reaching forward."""
    depth = 0.5 * (1.0 - torch.cos(2.0 * math.pi * times / 2.0))
    height = standing_com_height() - 0.035 - 0.2 * depth
    return _standing_design(times, height, 0.05 + 0.45 * depth, 1.3 * depth, torch.full_like(times, 0.25))


# Countermovement jump (s): dip, take-off, touchdown after a ballistic flight, lowest landing point.
_JUMP_TAKEOFF_SPEED = 2.2  # m/s: 0.25 m of COM rise, 0.45 s of flight
_JUMP_TIMES = {"dip": 0.4, "bottom": 0.85, "takeoff": 1.15}


def jump_design(times: torch.Tensor) -> Design:
    """A countermovement jump in place: stand, dip 0.22 m with the arms swinging back, push
    off (heels rising, arms swinging up), fly ballistically for 0.45 s (legs tucking), land on
    the balls of the feet, absorb and stand up again."""
    g, speed = GRAVITY, _JUMP_TAKEOFF_SPEED
    stand = standing_com_height() - 0.035
    takeoff_height = stand + 0.045
    t_dip, t_bottom, t_off = _JUMP_TIMES["dip"], _JUMP_TIMES["bottom"], _JUMP_TIMES["takeoff"]
    t_on = t_off + 2.0 * speed / g
    t_land, t_up = t_on + 0.3, t_on + 1.0
    height = knots(times, [(t_dip, stand, 0.0, 0.0), (t_bottom, stand - 0.22, 0.0, 8.0),
                           (t_off, takeoff_height, speed, -g), (t_on, takeoff_height, -speed, -g),
                           (t_land, stand - 0.2, 0.0, 8.0), (t_up, stand, 0.0, 0.0)])
    pitch_top = 0.6
    pitch = knots(times, [(t_bottom + 0.1, 0.0, 0.0, 0.0), (t_off, pitch_top, 0.0, 0.0),
                          (t_on, pitch_top, 0.0, 0.0), (t_on + 0.15, 0.0, 0.0, 0.0)])
    airborne = ((times > t_off) & (times < t_on)).to(times.dtype)
    lift = airborne * ((height - takeoff_height) + 0.12 * bump((times - t_off) / (t_on - t_off)))
    lean = knots(times, [(t_dip, 0.05, 0.0, 0.0), (t_bottom, 0.55, 0.0, 0.0), (t_off, 0.05, 0.0, 0.0),
                         (t_land, 0.45, 0.0, 0.0), (t_up, 0.05, 0.0, 0.0)])
    arms = knots(times, [(t_dip, 0.0, 0.0, 0.0), (t_bottom, -0.6, 0.0, 0.0), (t_off, 1.4, 0.0, 0.0),
                         (t_on, 0.6, 0.0, 0.0), (t_up, 0.0, 0.0, 0.0)])
    return _standing_design(times, height, lean, arms, torch.full_like(times, 0.3), lift=lift, pitch=pitch)


DESIGNS: Dict[str, Callable[[torch.Tensor], Design]] = {
    "walk": walk_design, "run": run_design, "jump": jump_design, "arm_swing": arm_swing_design,
    "squat": squat_design, "turn": turn_design,
}


@lru_cache(maxsize=32)
def _solved(name: str, fps: float, frames: int) -> Dict[str, torch.Tensor]:
    """The solved clip (float64 tensors), cached: defects and tests ask for the same clips often."""
    times = torch.arange(frames, dtype=torch.float64) / fps
    return solve(DESIGNS[name](times))


def clean_clip(name: str, fps: float = 30.0, seconds: Optional[float] = None) -> Dict[str, Any]:
    """One clean synthetic clip as a sequence dict (as :func:`humanscore_torch.io.read_motion_file` gives).

    Args:
        name: one of :data:`CLIP_NAMES`.
        fps: frames per second (> 0).
        seconds: duration (s); the clip's default (:data:`CLIP_SECONDS`) when None.

    Returns:
        dict with ``global_orient`` (T, 3), ``body_pose`` (T, 23, 3) axis-angle (rad),
        ``transl`` (T, 3) m, ``betas`` (10,) zeros, ``detections`` (T, 18) zeros (an artifact
        detector that found nothing, so the artifact rate is computed), all float32, ``fps``
        (float) and ``metadata`` (``name``, ``clip``, ``defect`` None, ``size`` None,
        ``source`` "synthetic"). Fresh tensors on every call.
    """
    if name not in DESIGNS:
        raise HumanScoreError(f"clean_clip: unknown clip {name!r}; expected one of {CLIP_NAMES}")
    if not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
        raise HumanScoreError(f"clean_clip: fps must be a positive number, got {fps!r}")
    seconds = CLIP_SECONDS[name] if seconds is None else float(seconds)
    frames = int(round(seconds * fps))
    if frames < 4:
        raise HumanScoreError(f"clean_clip: {seconds} s at {fps} fps gives {frames} frames; need at least 4")
    solved = _solved(name, float(fps), frames)
    return {
        "global_orient": solved["global_orient"].float(),
        "body_pose": solved["body_pose"].float(),
        "transl": solved["transl"].float(),
        "betas": torch.zeros(10),
        "detections": torch.zeros(frames, len(HADM_CLASSES)),
        "fps": float(fps),
        "metadata": {"name": name, "clip": name, "defect": None, "size": None, "source": "synthetic"},
    }


def clean_clips(fps: float = 30.0) -> Dict[str, Dict[str, Any]]:
    """Every clean clip at ``fps``: clip name -> sequence dict (see :func:`clean_clip`), in
    :data:`CLIP_NAMES` order."""
    return {name: clean_clip(name, fps=fps) for name in CLIP_NAMES}
