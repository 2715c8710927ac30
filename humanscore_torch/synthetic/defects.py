"""Defects of known size injected into the clean clips, each aimed at one metric.

==================== ======================== =================================================
defect               size                     what changes (targets)
==================== ======================== =================================================
jitter               metres (noise sigma)     Gaussian noise on the root translation, so every
                                              joint shakes by the same ``size`` m per axis;
                                              bone lengths, joint angles and the mesh's
                                              contacts with itself are untouched (jerk)
bone_stretch         fraction                 the left forearm (elbow -> wrist) lengthens and
                                              shortens by ``size`` (sine, 2 s period) in the
                                              ``joints``; the SMPL parameters stay clean
                                              (bone-length consistency)
knee_hyperextension  degrees                  the left knee is driven ``size`` degrees past
                                              its extension limit at the window's middle
                                              (range of motion)
hip_abduction        degrees                  the left hip is abducted ``size`` degrees past
                                              its abduction limit at the window's middle,
                                              the left arm raised sideways out of its way
                                              (range of motion)
arm_through_torso    metres                   the left arm (elbow at 90 degrees) rotates
                                              inwards until the hand has swept ``size`` m past
                                              its first contact with the belly
                                              (self-penetration)
teleport             metres                   the whole body jumps ``size`` m sideways (+x)
                                              between two frames in the middle of the clip
                                              (Newtonian plausibility; jerk moves too)
artifacts            fraction of frames       that share of the frames carries one HADM class
                                              detected with confidence 0.9 (artifact rate)
==================== ======================== =================================================

Pose defects (knee, hip, arm) blend into and out of the clean motion over a window around the
clip's middle (``window_seconds``, a C2 bump), so the joint moves smoothly; the larger the
size, the more frames pass the metric's tolerance. Frames are chosen so that a larger size
contains every frame a smaller one flags (nested), which makes each metric monotone in size.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Dict, Tuple

import torch

from ..body.parts import part_structure
from ..body.skeleton import JOINT_INDEX, subtree
from ..detectors import HADM_CLASSES
from ..errors import HumanScoreError
from ..functional.range_of_motion import coordinate_limits, joint_map_for_body
from ..functional.self_penetration import find_self_intersections
from ..rotations import rotmat_to_rotvec, rotvec_to_rotmat
from .clips import bump, clean_clip
from .kinematics import axis_rotation, default_body

DEFECT_SIZES: Dict[str, Tuple[float, ...]] = {
    "jitter": (0.0005, 0.001, 0.002, 0.004),
    "bone_stretch": (0.02, 0.05, 0.1, 0.2),
    "knee_hyperextension": (5.0, 10.0, 20.0, 40.0),
    "hip_abduction": (5.0, 10.0, 20.0, 30.0),
    # A hand swept 2-6 cm past first contact sinks 7-24 mm into the belly: contact that soft
    # tissue allows (configs/self_penetration.yaml, allowance), not a defect; 8-15 cm sink
    # 33-70 mm, beyond it (and the shoulder stays inside its range of motion up to 15 cm).
    "arm_through_torso": (0.08, 0.1, 0.12, 0.15),
    "teleport": (0.05, 0.1, 0.2, 0.4),
    "artifacts": (0.05, 0.1, 0.2, 0.4),
}
# The metric (suite key) each defect is aimed at.
DEFECT_TARGETS: Dict[str, str] = {
    "jitter": "jerk",
    "bone_stretch": "bone_length_consistency",
    "knee_hyperextension": "range_of_motion",
    "hip_abduction": "range_of_motion",
    "arm_through_torso": "self_penetration",
    "teleport": "newtonian_plausibility",
    "artifacts": "artifact_rate",
}
# The clean clip each defect is meant to be injected into: the leg defects lift the left
# foot, which is harmless only while the right foot stays planted (a standing clip); in a
# walk the lifted foot would leave the body without support and read as flight.
DEFECT_BASE_CLIPS: Dict[str, str] = {
    "jitter": "walk", "bone_stretch": "walk", "knee_hyperextension": "arm_swing",
    "hip_abduction": "arm_swing", "arm_through_torso": "walk", "teleport": "walk", "artifacts": "walk",
}
# Duration (s) of the window over which a pose defect blends in and out.
WINDOW_SECONDS = 1.6
# Confidence given to an injected artifact detection (above the 0.5 threshold).
ARTIFACT_CONFIDENCE = 0.9
# Period (s) of the bone stretch.
STRETCH_PERIOD_S = 2.0


def _window(frames: int, fps: float) -> torch.Tensor:
    """(T,) C2 bump of ``WINDOW_SECONDS`` centred on the clip (1 in the middle), float64."""
    times = torch.arange(frames, dtype=torch.float64) / fps
    middle = (frames - 1) / (2 * fps)
    return bump((times - middle) / WINDOW_SECONDS + 0.5)


def _slerp(start: torch.Tensor, end: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Rotations (T, 3, 3) from ``start`` (T, 3, 3) towards ``end`` (3, 3) or (T, 3, 3) by ``weight`` (T,)."""
    step = rotmat_to_rotvec(start.transpose(-1, -2) @ end)
    return start @ rotvec_to_rotmat(step * weight[:, None])


@lru_cache(maxsize=None)
def _coordinate_index(name: str) -> int:
    return joint_map_for_body(default_body()).coordinate_names.index(name)


def _coordinates(global_orient: torch.Tensor, body_pose: torch.Tensor) -> torch.Tensor:
    """OpenSim coordinates (..., K) in degrees of SMPL rotation matrices, on the default body."""
    return torch.rad2deg(joint_map_for_body(default_body()).coordinates_from_smpl(global_orient, body_pose))


@lru_cache(maxsize=None)
def _knee_angle_table() -> Tuple[torch.Tensor, torch.Tensor]:
    """SMPL left-knee x rotations (rad) and the OpenSim knee angle (deg) each gives."""
    angles = torch.linspace(0.6, -1.2, 1801, dtype=torch.float64)  # from flexed towards hyperextended
    pose = torch.eye(3, dtype=torch.float64).expand(len(angles), 23, 3, 3).clone()
    pose[:, JOINT_INDEX["left_knee"] - 1] = axis_rotation(0, angles)
    root = torch.eye(3, dtype=torch.float64).expand(len(angles), 3, 3)
    return angles, _coordinates(root, pose)[:, _coordinate_index("knee_angle_l")]


def _invert(xs: torch.Tensor, ys: torch.Tensor, target: float) -> float:
    """The first x (in table order) where ys(xs) reaches ``target`` (linear interpolation)."""
    side = (ys - target) >= 0
    crossing = (side[1:] != side[:-1]).nonzero()
    if len(crossing) == 0:
        raise HumanScoreError(f"synthetic defect: target {target:.1f} outside the reachable range "
                              f"[{float(ys.min()):.1f}, {float(ys.max()):.1f}]")
    i = int(crossing[0]) + 1
    frac = (target - float(ys[i - 1])) / float(ys[i] - ys[i - 1])
    return float(xs[i - 1] + frac * (xs[i] - xs[i - 1]))


def _knee_hyperextension(seq: Dict[str, Any], size: float) -> None:
    """Left knee blended from its clean angle to ``size`` degrees past its extension limit."""
    index = JOINT_INDEX["left_knee"] - 1
    angles, knee = _knee_angle_table()
    lower, _, _ = coordinate_limits(joint_map_for_body(default_body()))
    limit = math.degrees(float(lower[_coordinate_index("knee_angle_l")]))  # a few degrees of hyperextension
    target = _invert(angles, knee, limit - float(size))
    pose = rotvec_to_rotmat(seq["body_pose"].double())
    weight = _window(len(pose), seq["fps"])
    pose[:, index] = _slerp(pose[:, index], axis_rotation(0, torch.tensor(target, dtype=torch.float64)), weight)
    seq["body_pose"] = rotmat_to_rotvec(pose).float()


def _hip_abduction(seq: Dict[str, Any], size: float) -> None:
    """Left thigh swung outwards (about its own forward axis, so it abducts whatever the hip's
    flexion) by a growing angle, reaching ``size`` degrees past the abduction limit at the
    window's middle."""
    index = JOINT_INDEX["left_hip"] - 1
    pose = rotvec_to_rotmat(seq["body_pose"].double())
    root = rotvec_to_rotmat(seq["global_orient"].double())
    weight = _window(len(pose), seq["fps"])
    middle = int(weight.argmax())
    lower, _, _ = coordinate_limits(joint_map_for_body(default_body()))
    limit = math.degrees(float(lower[_coordinate_index("hip_adduction_l")]))  # abduction is negative adduction
    extra = torch.linspace(0.0, 3.0, 1201, dtype=torch.float64)
    trial = pose[middle].expand(len(extra), 23, 3, 3).clone()
    trial[:, index] = pose[middle, index] @ axis_rotation(2, extra)
    adduction = _coordinates(root[middle].expand(len(extra), 3, 3), trial)[:, _coordinate_index("hip_adduction_l")]
    angle = _invert(extra, adduction, limit - float(size))
    pose[:, index] = pose[:, index] @ axis_rotation(2, angle * weight)
    # The left arm goes up sideways first (to the T-pose, 90 degrees of abduction, in range),
    # or the abducted thigh would sweep through the hanging hand.
    ahead = 1.0 - (1.0 - weight) ** 3
    for joint in ("left_shoulder", "left_elbow"):
        arm = JOINT_INDEX[joint] - 1
        pose[:, arm] = _slerp(pose[:, arm], torch.eye(3, dtype=torch.float64), ahead)
    seq["body_pose"] = rotmat_to_rotvec(pose).float()


def _arm_pose(internal: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """Left shoulder and elbow local rotations (N, 3, 3): arm hanging 0.25 rad from the side,
    elbow at 90 degrees (forearm forward), upper arm rotated inwards by ``internal`` (N,) rad,
    which sweeps the forearm medially towards the belly."""
    hang = axis_rotation(2, torch.tensor(-math.pi / 2 + 0.25, dtype=torch.float64))
    shoulder = hang @ axis_rotation(0, internal)
    elbow = axis_rotation(1, torch.full_like(internal, -math.pi / 2))
    return shoulder, elbow


@lru_cache(maxsize=1)
def _first_contact() -> Tuple[float, float]:
    """Internal rotation (rad) at which the left forearm/hand first meets the torso, on the
    default body at rest otherwise, and the hand's distance (m) from the upper-arm axis there."""
    body = default_body()
    structure = part_structure(body)
    shoulder_i, elbow_i = JOINT_INDEX["left_shoulder"] - 1, JOINT_INDEX["left_elbow"] - 1
    low, high = 0.0, 1.6
    for _ in range(20):  # bisection on "any intersection between parts that may not touch"
        mid = torch.tensor([(low + high) / 2], dtype=torch.float64)
        pose = torch.eye(3, dtype=torch.float64).expand(1, 23, 3, 3).clone()
        pose[:, shoulder_i], pose[:, elbow_i] = _arm_pose(mid)
        with torch.no_grad():
            out = body(torch.eye(3, dtype=torch.float64)[None], pose, None, None, need_vertices=True)
        touching = len(find_self_intersections(out.vertices, structure).frame) > 0
        low, high = (low, float(mid)) if touching else (float(mid), high)
    joints = out.joints[0]
    axis = joints[JOINT_INDEX["left_elbow"]] - joints[JOINT_INDEX["left_shoulder"]]
    hand = joints[JOINT_INDEX["left_hand"]] - joints[JOINT_INDEX["left_shoulder"]]
    radius = float(torch.linalg.cross(axis, hand, dim=-1).norm() / axis.norm())
    return high, radius


def _arm_through_torso(seq: Dict[str, Any], size: float) -> None:
    """Left arm blended into the pose whose hand has swept ``size`` m (arc length about the
    upper-arm axis) past its first contact with the torso."""
    start, radius = _first_contact()
    shoulder, elbow = _arm_pose(torch.tensor([start + float(size) / radius], dtype=torch.float64))
    pose = rotvec_to_rotmat(seq["body_pose"].double())
    weight = _window(len(pose), seq["fps"])
    for joint, target in (("left_shoulder", shoulder[0]), ("left_elbow", elbow[0])):
        index = JOINT_INDEX[joint] - 1
        pose[:, index] = _slerp(pose[:, index], target, weight)
    seq["body_pose"] = rotmat_to_rotvec(pose).float()


def _posed_joints(seq: Dict[str, Any]) -> torch.Tensor:
    """(T, 24, 3) float64 joints of the default body posed by the sequence's parameters."""
    with torch.no_grad():
        return default_body()(seq["global_orient"].double(), seq["body_pose"].double(), None,
                              seq["transl"].double(), need_vertices=False).joints


def _bone_stretch(seq: Dict[str, Any], size: float) -> None:
    """Joints with the left forearm's length times 1 + size sin(2 pi t / 2 s); the SMPL
    parameters stay clean (fixed betas cannot stretch a bone)."""
    joints = _posed_joints(seq)
    elbow, wrist = JOINT_INDEX["left_elbow"], JOINT_INDEX["left_wrist"]
    times = torch.arange(len(joints), dtype=torch.float64) / seq["fps"]
    scale = float(size) * torch.sin(2.0 * math.pi * times / STRETCH_PERIOD_S)
    shift = scale[:, None] * (joints[:, wrist] - joints[:, elbow])
    moved = subtree(wrist)
    joints[:, moved] = joints[:, moved] + shift[:, None]
    seq["joints"] = joints.float()


def _generator(seed: int, salt: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed) * 1000 + salt)


def _jitter(seq: Dict[str, Any], size: float, seed: int) -> None:
    """Root translation plus Gaussian noise of ``size`` m per axis (the same draw for every size)."""
    noise = torch.randn(seq["transl"].shape, generator=_generator(seed, 1), dtype=torch.float64)
    seq["transl"] = (seq["transl"].double() + float(size) * noise).float()


def _teleport(seq: Dict[str, Any], size: float) -> None:
    """Root translation shifted by ``size`` m along +x from the middle frame on."""
    transl = seq["transl"].clone()
    transl[len(transl) // 2:, 0] += float(size)
    seq["transl"] = transl


def _artifacts(seq: Dict[str, Any], size: float, seed: int) -> None:
    """round(size * T) frames (a seeded order, so larger sizes contain smaller ones' frames) get
    one HADM class (seeded) at confidence ``ARTIFACT_CONFIDENCE``."""
    detections = seq["detections"].clone()
    frames = len(detections)
    order = torch.randperm(frames, generator=_generator(seed, 2))
    classes = torch.randint(len(HADM_CLASSES), (frames,), generator=_generator(seed, 3))
    chosen = order[:int(round(float(size) * frames))]
    detections[chosen, classes[chosen]] = ARTIFACT_CONFIDENCE
    seq["detections"] = detections


def defect_clip(name: str, defect: str, size: float, fps: float = 30.0, seed: int = 0) -> Dict[str, Any]:
    """A clean clip with one defect of a known size injected.

    Args:
        name: a clip of :data:`~humanscore_torch.synthetic.clips.CLIP_NAMES`.
        defect: a key of :data:`DEFECT_SIZES` (see the module docstring for the units of ``size``).
        size: the defect's size (>= 0; 0 gives the clean clip's values).
        fps: frames per second.
        seed: seed of the random draws (jitter noise, artifact frames and classes).

    Returns:
        the sequence dict of :func:`~humanscore_torch.synthetic.clips.clean_clip` with the
        defect applied (only ``bone_stretch`` adds ``joints`` (T, 24, 3): batch it with
        sequences that also carry joints), and metadata ``name``
        (``"walk+jitter=0.001"``), ``clip``, ``defect``, ``size``, ``target_metric``, ``seed``.
    """
    appliers = {
        "jitter": lambda s: _jitter(s, size, seed),
        "bone_stretch": lambda s: _bone_stretch(s, size),
        "knee_hyperextension": lambda s: _knee_hyperextension(s, size),
        "hip_abduction": lambda s: _hip_abduction(s, size),
        "arm_through_torso": lambda s: _arm_through_torso(s, size),
        "teleport": lambda s: _teleport(s, size),
        "artifacts": lambda s: _artifacts(s, size, seed),
    }
    if defect not in appliers:
        raise HumanScoreError(f"defect_clip: unknown defect {defect!r}; expected one of {tuple(appliers)}")
    if not (math.isfinite(float(size)) and float(size) >= 0):
        raise HumanScoreError(f"defect_clip: size must be a finite number >= 0, got {size}")
    seq = clean_clip(name, fps=fps)
    appliers[defect](seq)
    seq["metadata"] = {**seq["metadata"], "name": f"{name}+{defect}={float(size):g}", "defect": defect,
                       "size": float(size), "target_metric": DEFECT_TARGETS[defect], "seed": int(seed)}
    return seq
