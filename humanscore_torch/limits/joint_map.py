"""The SMPL <-> OpenSim joint map, in pure torch (spec 4.3).

Frames. SMPL world: y up, z forward, x to the body's left; OpenSim ground: y up, x forward,
z to the right. A vector changes frame as ``v_opensim = FRAME_CHANGE @ v_smpl``.

Segments. Each map segment pairs an OpenSim parent/child body with the SMPL joints whose local
rotations carry the parent SMPL segment to the child one (:data:`SEGMENTS`): the hip is
pelvis -> femur (SMPL hip), the lumbar joint pelvis -> torso (SMPL spine1, spine2, spine3
composed), the shoulder torso -> humerus (SMPL collar and shoulder composed), the elbow
humerus -> radius (OpenSim elbow and radioulnar joints composed: flexion and pronation), the
ankle tibia -> calcaneus (ankle and subtalar joints composed), and so on.

Rest alignment. SMPL's rest pose is a T-pose (every segment orientation the identity); OpenSim's
default pose has the arms down. The map holds the SMPL rest pose written in OpenSim coordinates
(arms abducted 90 degrees, forearms pronated to palms-down, ...; ``smpl_rest_pose_deg`` in
``configs/range_of_motion.yaml``). From it, each OpenSim body b gets a constant rotation
``A_b = FRAME_CHANGE^T O_b(rest)`` (body frame -> SMPL rest world), and an SMPL segment
orientation G (SMPL world) and the OpenSim body orientation O (ground) correspond as
``O = FRAME_CHANGE G A_b``. Relative rotations follow: ``R_opensim = A_P^T (G_P^T G_C) A_C``.

Coordinates. The derived structure (``configs/joint_limits.yaml``, from
:func:`humanscore_torch.limits.derive.derive_limits`) writes each segment's relative rotation as
``Rot(e1, a1) Rot(e2, a2) Rot(e3, a3) R_rest`` (axes in the parent body frame). Segments with
fewer than three OpenSim rotations get residual axes for the rotations SMPL has and the model
locks (knee ad/abduction and axial rotation, foot adduction at the ankle, elbow varus/valgus,
wrist axial rotation), always with the middle axis perpendicular to the other two, so the
three angles are a Davenport decomposition that exists for every rotation. It is computed in
closed form (a Tait-Bryan XYZ decomposition after a change of basis), batched over segments.

Anatomical reading (:meth:`JointMap.for_range_of_motion`, the range-of-motion metric's). The
model's axes are not the body's: Rajagopal's knee axis is tilted and couples two rotations to
flexion, its elbow axis is oblique (the carrying angle), and its shoulder's Z-X-Y angles lock
with the arm abducted 90 degrees, the SMPL T-pose. Read anatomically, knees and elbows are
decomposed about the body's own hinge axes (:func:`hinge_axis`, derived from the body's rest
joints), so a pure flexion of the body reads 0 on every other angle, and the shoulders as the
humerus's plane of elevation, elevation and axial rotation (:func:`humerus_angles`, a
swing-twist split), singular only with the arm straight up. The alignment is shared, so the
import path reads the same either way.

Gimbal lock. When the middle angle reaches +-90 degrees (in the rotated basis) the first and
third angles are not unique; the decomposition then puts all of their sum into the first and
returns 0 for the third, with finite values and finite gradients (no NaN). Away from it the
map is smooth and differentiable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from ..body.skeleton import JOINT_INDEX, NUM_JOINTS
from ..errors import HumanScoreError
from ..rotations import rotmat_to_quat, rotmat_to_rotvec, rotvec_to_rotmat
from ..shapes import check_shape

# v_opensim = FRAME_CHANGE @ v_smpl: OpenSim x (forward) = SMPL z, y = y, OpenSim z (right) = -SMPL x.
FRAME_CHANGE = ((0.0, 0.0, 1.0), (0.0, 1.0, 0.0), (-1.0, 0.0, 0.0))

# Below this |cos(middle angle)| the Davenport decomposition is treated as at gimbal lock.
_GIMBAL_EPS = 1e-6


@dataclass(frozen=True)
class Segment:
    """One segment pair of the map (names may hold ``{side}`` -> r/l, ``{smpl}`` -> right/left).

    Attributes:
        name: segment name (``"hip_r"``).
        smpl_parent: SMPL joint whose segment is the parent (``"world"`` for the pelvis).
        smpl_chain: SMPL joints whose local rotations, composed in this order, carry the
            parent segment to the child one.
        split: share of the relative rotation each chain joint gets in the inverse map
            (rotation vector scaled), summing to 1.
        opensim_parent: OpenSim parent body (``"ground"`` for the pelvis).
        opensim_child: OpenSim child body; None for a segment the model lacks (neck).
        residual_names: names of the angles the OpenSim joint lacks, in axis order.
        bone: (SMPL joint, SMPL child joint, OpenSim body, OpenSim body) spanning the child
            segment's long axis in both, used to align the rest pose to a given SMPL body.
        anatomy: how an anatomical map (:meth:`JointMap.for_range_of_motion`) reads the
            segment instead of the model's own axes: ``"hinge"`` (flexion about the body's
            hinge axis, then the floating axis, then the child's long axis) or ``"ball"`` (the
            humerus: plane of elevation, elevation, axial rotation by a swing-twist split);
            empty: the model's axes.
        anatomical_names: the three coordinate names of a ``"ball"`` segment.
    """

    name: str
    smpl_parent: str
    smpl_chain: Tuple[str, ...]
    split: Tuple[float, ...]
    opensim_parent: str
    opensim_child: Optional[str]
    residual_names: Tuple[str, ...] = ()
    bone: Optional[Tuple[str, str, str, str]] = None
    anatomy: str = ""
    anatomical_names: Tuple[str, ...] = ()


SEGMENTS: Tuple[Segment, ...] = (
    Segment("pelvis", "world", ("pelvis",), (1.0,), "ground", "pelvis"),
    Segment("hip_{side}", "pelvis", ("{smpl}_hip",), (1.0,), "pelvis", "femur_{side}",
            bone=("{smpl}_hip", "{smpl}_knee", "femur_{side}", "tibia_{side}")),
    Segment("knee_{side}", "{smpl}_hip", ("{smpl}_knee",), (1.0,), "femur_{side}", "tibia_{side}",
            ("knee_adduction_{side}", "knee_rotation_{side}"),
            bone=("{smpl}_knee", "{smpl}_ankle", "tibia_{side}", "talus_{side}"), anatomy="hinge"),
    Segment("ankle_{side}", "{smpl}_knee", ("{smpl}_ankle",), (1.0,), "tibia_{side}", "calcn_{side}",
            ("ankle_adduction_{side}",), bone=("{smpl}_ankle", "{smpl}_foot", "talus_{side}", "toes_{side}")),
    Segment("lumbar", "pelvis", ("spine1", "spine2", "spine3"), (1 / 3, 1 / 3, 1 / 3), "pelvis", "torso"),
    # OpenSim's torso carries the head: the neck has the lumbar joint's axes and clinical limits.
    Segment("neck", "spine3", ("neck", "head"), (0.5, 0.5), "torso", None,
            ("neck_extension", "neck_bending", "neck_rotation")),
    # Rajagopal's shoulder is one ball joint torso -> humerus; SMPL's collar moves with it.
    Segment("shoulder_{side}", "spine3", ("{smpl}_collar", "{smpl}_shoulder"), (0.0, 1.0), "torso", "humerus_{side}",
            bone=("{smpl}_shoulder", "{smpl}_elbow", "humerus_{side}", "ulna_{side}"), anatomy="ball",
            anatomical_names=("elv_angle_{side}", "shoulder_elv_{side}", "shoulder_rot_{side}")),
    Segment("elbow_{side}", "{smpl}_shoulder", ("{smpl}_elbow",), (1.0,), "humerus_{side}", "radius_{side}",
            ("elbow_abduction_{side}",), bone=("{smpl}_elbow", "{smpl}_wrist", "ulna_{side}", "hand_{side}"),
            anatomy="hinge"),
    Segment("wrist_{side}", "{smpl}_elbow", ("{smpl}_wrist",), (1.0,), "radius_{side}", "hand_{side}",
            ("wrist_rotation_{side}",)),
)


def expand_segments(segments: Sequence[Segment] = SEGMENTS) -> List[Segment]:
    """The segments with sided names expanded, right side first."""
    out: List[Segment] = []
    for seg in segments:
        sides = (("r", "right"), ("l", "left")) if "{side}" in seg.name else (("", ""),)
        for side, smpl in sides:
            def fill(text):
                return None if text is None else text.format(side=side, smpl=smpl)
            out.append(replace(seg, name=fill(seg.name), smpl_parent=fill(seg.smpl_parent),
                               smpl_chain=tuple(fill(j) for j in seg.smpl_chain),
                               opensim_parent=fill(seg.opensim_parent), opensim_child=fill(seg.opensim_child),
                               residual_names=tuple(fill(r) for r in seg.residual_names),
                               anatomical_names=tuple(fill(r) for r in seg.anatomical_names),
                               bone=None if seg.bone is None else tuple(fill(b) for b in seg.bone)))
    return out


def _np_axis_angle(axis: np.ndarray, angle: float) -> np.ndarray:
    skew = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + math.sin(angle) * skew + (1 - math.cos(angle)) * skew @ skew


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


@dataclass
class _Slot:
    """One of a segment's three angles: a coordinate (angle = slope * value), a coupled
    rotation (angle = table(coordinate of slot 0) + residual) or a plain residual."""

    name: str
    axis: np.ndarray
    slope: float = 1.0
    table: Optional[Tuple[np.ndarray, np.ndarray]] = None  # (coordinate grid, angle) radians
    is_coordinate: bool = False


def _segment_slots(seg: Segment, data: Optional[Mapping[str, Any]], neck_axes: Sequence[np.ndarray]):
    """Three slots with a perpendicular middle axis, and the rest rotation, for one segment."""
    if data is None:  # the neck: the lumbar joint's axes, no rest rotation
        return [_Slot(n, a) for n, a in zip(seg.residual_names, neck_axes)], np.eye(3)
    rest = np.asarray(data["rest_rotation"], dtype=np.float64)
    residuals = list(data.get("residual_names", seg.residual_names))  # a model's own (derive.joint_map_structure)
    slots: List[_Slot] = []
    for element in data["rotations"]:
        axis = _unit(np.asarray(element["axis"], dtype=np.float64))
        if "slope" in element:
            slots.append(_Slot(element["coordinate"], axis, float(element["slope"]), is_coordinate=True))
        else:
            table = element["table_deg"]
            slots.append(_Slot(residuals.pop(0), axis, table=(np.radians(table["coordinate_deg"]),
                                                               np.radians(table["angle_deg"]))))
    if len(slots) == 2:
        if abs(slots[0].axis @ slots[1].axis) < 1e-6:
            slots.append(_Slot(residuals.pop(0), _unit(np.cross(slots[0].axis, slots[1].axis))))
        else:  # oblique axes (ankle/subtalar, elbow/pronation): a perpendicular residual between them
            slots.insert(1, _Slot(residuals.pop(0), _unit(np.cross(slots[0].axis, slots[1].axis))))
    elif len(slots) == 1:  # a hinge: residual ad/abduction, then axial rotation about the child's long axis
        long_axis = rest[:, 1] - (rest[:, 1] @ slots[0].axis) * slots[0].axis
        slots.append(_Slot(residuals.pop(1), _unit(long_axis)))
        slots.insert(1, _Slot(residuals.pop(0), _unit(np.cross(slots[0].axis, slots[1].axis))))
    if len(slots) != 3 or residuals:
        raise HumanScoreError(f"joint map: segment {seg.name} has {len(slots)} rotations and unused residual "
                              f"names {residuals}; expected three angles")
    e1, e2, e3 = (s.axis for s in slots)
    if abs(e1 @ e2) > 1e-6 or abs(e2 @ e3) > 1e-6:
        raise HumanScoreError(f"joint map: segment {seg.name}: the middle axis must be perpendicular to the "
                              f"others for a decomposition (got {e1}, {e2}, {e3})")
    return slots, rest


def _axis_angle(axes: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """Rotations (..., S, 3, 3) about unit axes (S, 3) by angles (..., S) (Rodrigues)."""
    skew = torch.zeros(axes.shape[:-1] + (3, 3), dtype=axes.dtype, device=axes.device)
    x, y, z = axes.unbind(-1)
    skew[..., 0, 1], skew[..., 0, 2], skew[..., 1, 2] = -z, y, -x
    skew = skew - skew.transpose(-1, -2)
    s, c = torch.sin(angles)[..., None, None], torch.cos(angles)[..., None, None]
    return torch.eye(3, dtype=axes.dtype, device=axes.device) + s * skew + (1 - c) * (skew @ skew)


def _interp(grid: torch.Tensor, values: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Piecewise-linear table lookup, clamped at the ends: grid, values (S, P) uniform; x (..., S)."""
    points = grid.shape[-1]
    step = grid[:, 1] - grid[:, 0]
    position = ((x - grid[:, 0]) / step).clamp(0.0, points - 1.0)
    index = position.floor().clamp(max=points - 2).long()
    frac = position - index.to(position.dtype)
    expand = values.expand(x.shape[:-1] + values.shape)
    low = torch.gather(expand, -1, index[..., None]).squeeze(-1)
    high = torch.gather(expand, -1, (index + 1)[..., None]).squeeze(-1)
    return low + frac * (high - low)


def xyz_decompose(matrix: torch.Tensor) -> torch.Tensor:
    """Angles (a, b, c) with ``matrix = Rx(a) Ry(b) Rz(c)``: (..., 3, 3) -> (..., 3) radians.

    b is in [-pi/2, pi/2]. At gimbal lock (|cos b| ~ 0) a takes the whole free rotation and
    c = 0; the inputs of every atan2 and sqrt are made safe there so gradients stay finite.
    """
    m = matrix
    cos_b_sq = m[..., 1, 2] ** 2 + m[..., 2, 2] ** 2
    locked = cos_b_sq < _GIMBAL_EPS ** 2
    one = torch.ones_like(cos_b_sq)
    # sqrt and atan2(0, 0) have infinite/NaN derivatives: feed them dummy inputs where locked.
    cos_b = torch.where(locked, one, cos_b_sq).sqrt()
    b = torch.atan2(m[..., 0, 2], torch.where(locked, torch.zeros_like(cos_b), cos_b))
    a_free = torch.atan2(-torch.where(locked, torch.zeros_like(one), m[..., 1, 2]), torch.where(locked, one, m[..., 2, 2]))
    c_free = torch.atan2(-torch.where(locked, torch.zeros_like(one), m[..., 0, 1]), torch.where(locked, one, m[..., 0, 0]))
    # Locked: Rx(a) Ry(+-pi/2) has m[2,1] = sin a, m[1,1] = cos a (with c = 0).
    a_locked = torch.atan2(m[..., 2, 1], m[..., 1, 1])
    a = torch.where(locked, a_locked, a_free)
    c = torch.where(locked, torch.zeros_like(c_free), c_free)
    return torch.stack([a, b, c], dim=-1)


def _unit_or(v: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """v normalised, or ``fallback`` when v is (nearly) zero (a degenerate body)."""
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 1e-9 else fallback


def _rest_direction(rest_joints: Optional[np.ndarray], joint: str, child: str) -> np.ndarray:
    """Unit direction joint -> child at the body's rest pose (SMPL world); without a body (or for
    a bone of zero length), the canonical SMPL T-pose's (legs straight down, arms out sideways)."""
    if child.endswith(("_ankle", "_knee", "_foot")):
        canonical = np.array([0.0, -1.0, 0.0])
    else:
        canonical = np.array([1.0 if child.startswith("left") else -1.0, 0.0, 0.0])
    if rest_joints is None:
        return canonical
    return _unit_or(rest_joints[JOINT_INDEX[child]] - rest_joints[JOINT_INDEX[joint]], canonical)


def body_axes(rest_joints: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The body's own left, up and forward directions at rest (SMPL world, unit, right-handed).

    Left: from the right hip joint to the left one (the pelvis's mediolateral axis). Up: from
    the pelvis to the neck, made perpendicular to left. Forward: left x up. Without a body (or
    for a degenerate one): SMPL's x, y, z.
    """
    x, y = np.eye(3)[0], np.eye(3)[1]
    if rest_joints is None:
        return x, y, np.eye(3)[2]
    left = _unit_or(rest_joints[JOINT_INDEX["left_hip"]] - rest_joints[JOINT_INDEX["right_hip"]], x)
    up = rest_joints[JOINT_INDEX["neck"]] - rest_joints[JOINT_INDEX["pelvis"]]
    up = _unit_or(up - (up @ left) * left, _unit_or(y - (y @ left) * left, np.cross(left, x)))
    return left, up, np.cross(left, up)


def hinge_axis(segment: Segment, rest_joints: Optional[np.ndarray] = None) -> np.ndarray:
    """The flexion axis of a hinge segment (knee, elbow) of the body, SMPL world, unit, up to its
    sign (the map takes the model's flexion sign).

    Derived from the body's rest joints, not set by hand. Knee: the body's mediolateral axis
    (Kapandji vol. 2: the knee's flexion axis is horizontal and transverse in the standing
    position). Elbow: the axis perpendicular to the humerus and to the body's forward direction
    (the T-pose forearm, palm down, flexes forwards). For SMPL-convention bodies (T-pose, joint
    frames along the world axes) these are SMPL's own flexion axes: local x at the knees, local
    +-y at the elbows.
    """
    left, up, forward = body_axes(rest_joints)
    if segment.name.startswith("knee"):
        return left
    if segment.name.startswith("elbow"):
        humerus = _rest_direction(rest_joints, segment.smpl_parent, segment.smpl_chain[-1])
        return _unit_or(np.cross(humerus, forward), up)
    raise HumanScoreError(f"joint map: segment {segment.name!r} is not a hinge (knee or elbow)")


def _structure_buffers(slots: Sequence[Sequence[_Slot]], rests: Sequence[np.ndarray]) -> Dict[str, torch.Tensor]:
    """The decomposition of every segment as tensors (float64 and bool)."""
    num = len(slots)
    axes = np.stack([[s.axis for s in seg] for seg in slots])  # (S, 3, 3): segment, slot, xyz
    e1, e2, e3 = axes[:, 0], axes[:, 1], axes[:, 2]
    # The decomposition's middle axis is +-e2, signed so that e3 leans towards e1 x e2: then
    # the rest pose (middle angle 0) lies |nu| < 90 deg from the Tait-Bryan middle angle 0,
    # the farthest possible from gimbal lock.
    middle_sign = np.sign(np.einsum("si,si->s", e3, np.cross(e1, e2)) + 1e-12)
    e2_signed = e2 * middle_sign[:, None]
    f = np.cross(e1, e2_signed)
    basis = np.stack([e1, e2_signed, f], axis=-1)  # columns: right-handed basis of the decomposition
    nu = np.arctan2(np.einsum("si,si->s", e3, e1), np.einsum("si,si->s", e3, f))
    points = max([len(s.table[0]) for seg in slots for s in seg if s.table is not None] or [2])
    grid = np.tile(np.linspace(0.0, 1.0, points), (num, 3, 1))
    table = np.zeros((num, 3, points))
    for i, seg in enumerate(slots):
        for k, s in enumerate(seg):
            if s.table is not None:
                if len(s.table[0]) != points:
                    raise HumanScoreError("joint map: coupling tables must share one length")
                grid[i, k], table[i, k] = s.table
    out = {name: torch.as_tensor(value, dtype=torch.float64) for name, value in (
        ("axes", axes), ("basis", basis), ("nu", nu), ("middle_sign", middle_sign),
        ("slope", np.array([[s.slope for s in seg] for seg in slots])), ("rest", np.stack(rests)),
        ("grid", grid), ("table", table))}
    out["is_coordinate"] = torch.tensor([[s.is_coordinate for s in seg] for seg in slots])
    out["coupled"] = torch.tensor([[s.table is not None for s in seg] for seg in slots])
    return out


def _skew(v: torch.Tensor) -> torch.Tensor:
    zero = torch.zeros_like(v[..., 0])
    x, y, z = v.unbind(-1)
    return torch.stack([zero, -z, y, z, zero, -x, -y, x, zero], dim=-1).reshape(v.shape + (3,))


def _smallest_rotation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) smallest rotation taking unit a to unit b (undefined for b = -a):
    Rodrigues with the unnormalised axis a x b."""
    skew = _skew(torch.cross(a, b, dim=-1))
    cos = (a * b).sum(-1)
    return torch.eye(3, dtype=a.dtype, device=a.device) + skew \
        + skew @ skew / (1.0 + cos).clamp_min(_GIMBAL_EPS)[..., None, None]


def humerus_angles(relative: torch.Tensor, thorax_axes: torch.Tensor, neutral: torch.Tensor,
                   rotation_sign: torch.Tensor) -> torch.Tensor:
    """Plane of elevation, elevation and axial rotation of the humerus: (..., S, 3, 3) -> (..., S, 3).

    ``neutral`` (S, 3, 3) takes the arm from its rest direction to the neutral position (at the
    side, by the smallest rotation). The humerus's rotation from neutral is split as
    ``Swing(down -> d) Rot(down, twist)`` (swing-twist about the neutral humerus, pointing
    down): elevation is the angle of d from the thorax's downward axis (0 arm at the side,
    180 straight up), the plane of elevation its azimuth about the vertical (0 abduction in
    the frontal plane, 90 forward flexion, -90 extension), axial rotation the twist, internal
    positive: 0 for any arm raised from the side without turning (the T-pose, palms down,
    reads 0), as the clinical measure is. The plane is undefined at elevation 0 and 180, the
    twist only at 180 (straight up, the edge of the human range).

    Args:
        relative: relative rotations of the thorax -> humerus segment (SMPL world at rest).
        thorax_axes: (S, 3, 3) rows lateral, up, forward of the thorax (unit).
        neutral: (S, 3, 3) as above. rotation_sign: (S,) +-1 turning the twist about the
            downward humerus into internal rotation.
    """
    from_neutral = relative @ neutral.to(relative).transpose(-1, -2)
    axes = thorax_axes.to(relative)
    down = -axes[:, 1]
    d = (from_neutral @ down[..., None])[..., 0]
    lateral, up, forward = (axes @ d[..., None])[..., 0].unbind(-1)
    horizontal_sq = lateral ** 2 + forward ** 2
    pole = horizontal_sq < _GIMBAL_EPS ** 2
    horizontal = torch.where(pole, torch.ones_like(horizontal_sq), horizontal_sq).sqrt()
    elevation = torch.atan2(torch.where(pole, torch.zeros_like(up), horizontal), -up)
    plane = torch.atan2(torch.where(pole, torch.zeros_like(up), forward),
                        torch.where(pole, torch.ones_like(up), lateral))
    quat = rotmat_to_quat(from_neutral)
    along, w = (quat[..., 1:] * down).sum(-1), quat[..., 0]
    overhead = (along ** 2 + w ** 2) < _GIMBAL_EPS ** 2  # d straight up: the twist is undefined
    twist = 2.0 * torch.atan2(torch.where(overhead, torch.zeros_like(w), along),
                              torch.where(overhead, torch.ones_like(w), w))
    return torch.stack([plane, elevation, twist * rotation_sign.to(relative)], dim=-1)


def humerus_rotation(angles: torch.Tensor, thorax_axes: torch.Tensor, neutral: torch.Tensor,
                     rotation_sign: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`humerus_angles`: (..., S, 3) angles -> (..., S, 3, 3) relative rotations."""
    plane, elevation, rotation = angles.unbind(-1)
    local = torch.stack([torch.sin(elevation) * torch.cos(plane), -torch.cos(elevation),
                         torch.sin(elevation) * torch.sin(plane)], dim=-1)
    axes = thorax_axes.to(angles)
    d = (axes.transpose(-1, -2) @ local[..., None])[..., 0]
    down = -axes[:, 1]
    swing = _smallest_rotation(down.expand_as(d), d)
    return swing @ _axis_angle(down, rotation * rotation_sign.to(angles)) @ neutral.to(angles)


class JointMap(nn.Module):
    """SMPL local rotations <-> OpenSim coordinates (and residual angles), batched.

    Build with :meth:`from_config` (the shipped Rajagopal 2016 structure) or from any
    :func:`~humanscore_torch.limits.derive.derive_limits` result. ``coordinate_names`` lists
    the K = 3 x segments outputs: OpenSim coordinates (``hip_flexion_r``, ``knee_angle_r``,
    ``pro_sup_r``, ``pelvis_tilt`` ...) and residual angles (``knee_adduction_r``,
    ``neck_rotation`` ...). All angles are radians.

    Two readings of the same segments. The model's (default): every segment decomposed about
    the OpenSim model's own axes (what OpenSim itself would read; the import and validation
    paths use it). The anatomical one (``anatomical=True``, :meth:`for_range_of_motion`):
    the knees and elbows about the body's own hinge axes (:func:`hinge_axis`), with the
    floating (ad/abduction) axis and the child's long axis after it (a joint coordinate
    system in the sense of Grood & Suntay 1983), so that a pure flexion of the body reads 0
    on every other angle; the body's rest pose is a straight knee and elbow. The shoulders as
    the humerus's plane of elevation, elevation and axial rotation (ISB, Wu et al. 2005) by a
    swing-twist split about the body's rest humerus direction: no gimbal lock anywhere in
    the human range (the split is singular only with the humerus pointing straight through
    the chest to the other side).

    Args:
        limits: a derive_limits dict (its ``segments``, ``default_pose_orientations`` and
            ``default_pose_origins``).
        rest_pose_deg: the SMPL rest (T-)pose in OpenSim coordinates, degrees; missing
            coordinates are 0.
        rest_joints: (24, 3) rest joints of the SMPL body the map is for (metres), or None.
            When given, each limb segment's rest alignment is turned by the smallest rotation
            that makes the model's bone (e.g. femur origin -> tibia origin at the default
            pose) point along the body's rest bone (hip -> knee): the few degrees by which
            the body's T-pose differs from the written rest pose (legs slightly apart, arms
            slightly down) then do not read as joint angles. The anatomical reading takes its
            axes from them (SMPL's canonical T-pose without).
        anatomical: read knees, elbows and shoulders anatomically (see above).
    """

    def __init__(self, limits: Mapping[str, Any], rest_pose_deg: Optional[Mapping[str, float]] = None,
                 rest_joints: Optional[torch.Tensor] = None, anatomical: bool = False):
        super().__init__()
        segments = expand_segments(SEGMENTS)
        derived = limits.get("segments", {})
        lumbar = derived.get("lumbar")
        if lumbar is None:
            raise HumanScoreError("joint map: the limits have no 'lumbar' segment (needed for the neck axes)")
        neck_axes = [_unit(np.asarray(e["axis"], dtype=np.float64)) for e in lumbar["rotations"]]
        slots, rests = [], []
        for seg in segments:
            if seg.opensim_child is not None and seg.name not in derived:
                raise HumanScoreError(f"joint map: the limits have no segment {seg.name!r}")
            seg_slots, rest = _segment_slots(seg, derived.get(seg.name) if seg.opensim_child else None, neck_axes)
            slots.append(seg_slots)
            rests.append(rest)
        self.segments = segments
        num = len(segments)

        # Chains of SMPL joints, padded with an identity slot (index NUM_JOINTS).
        chain = np.full((num, 3), NUM_JOINTS)
        split = np.zeros((num, 3))
        for i, seg in enumerate(segments):
            for k, (joint, share) in enumerate(zip(seg.smpl_chain, seg.split)):
                chain[i, k], split[i, k] = JOINT_INDEX[joint], share
        body_names = ["ground"] + [s.opensim_child or "head" for s in segments]
        body_index = {n: i for i, n in enumerate(body_names)}
        parent_body = [body_index[s.opensim_parent] for s in segments]
        smpl_segment = {"world": 0}
        smpl_segment.update({s.smpl_chain[-1]: i + 1 for i, s in enumerate(segments)})
        parent_smpl = [smpl_segment[s.smpl_parent] for s in segments]
        self.register_buffer("split", torch.as_tensor(split), persistent=False)
        self.register_buffer("frame_change", torch.as_tensor(FRAME_CHANGE, dtype=torch.float64), persistent=False)
        for name, value in (("chain", chain), ("parent_body", parent_body), ("parent_smpl", parent_smpl)):
            self.register_buffer(name, torch.as_tensor(np.asarray(value), dtype=torch.long), persistent=False)
        self.body_names = tuple(body_names)
        self.body_index = body_index
        self._set_structure(slots, rests)
        self.register_buffer("swing_twist", torch.zeros(num, dtype=torch.bool), persistent=False)
        alignment = self._alignment(rest_pose_deg or {})
        if rest_joints is not None:
            check_shape(rest_joints, f"{NUM_JOINTS} 3", "rest_joints")
            joints = rest_joints.detach().to(torch.float64).cpu().numpy()
            alignment = self._align_bones(alignment, limits, joints)
        else:
            joints = None
        self.register_buffer("alignment", alignment, persistent=False)
        self.anatomical = anatomical
        if anatomical:
            self._read_anatomically(slots, rests, rest_pose_deg or {}, joints)

    def _set_structure(self, slots: Sequence[Sequence[_Slot]], rests: Sequence[np.ndarray]) -> None:
        self._slots = [list(seg) for seg in slots]
        self.coordinate_names: Tuple[str, ...] = tuple(s.name for seg in slots for s in seg)
        self.coordinate_index = {n: i for i, n in enumerate(self.coordinate_names)}
        if len(self.coordinate_index) != len(self.coordinate_names):
            raise HumanScoreError("joint map: duplicate coordinate names")
        for name, value in _structure_buffers(slots, rests).items():
            self.register_buffer(name, value, persistent=False)

    def _read_anatomically(self, slots: List[List[_Slot]], rests: List[np.ndarray],
                           rest_pose_deg: Mapping[str, float], joints: Optional[np.ndarray]) -> None:
        """Replace the hinge segments' axes by the body's and mark the ball segments for the
        swing-twist split; the alignment (and so the import path) is unchanged."""
        align = self.alignment.numpy()
        slots = [list(seg) for seg in slots]
        rests = list(rests)
        thorax_axes, neutral, rotation_sign = [], [], []
        long_axes: Dict[int, np.ndarray] = {}
        for i, seg in enumerate(self.segments):
            parent, child = align[int(self.parent_body[i])], align[i + 1]
            if seg.anatomy == "hinge":
                model = slots[i]
                flexion = parent.T @ hinge_axis(seg, joints)  # SMPL world -> the OpenSim parent body frame
                flexion = flexion if flexion @ model[0].axis >= 0.0 else -flexion  # the model's flexion sign
                long_axis = parent.T @ _rest_direction(joints, seg.bone[0], seg.bone[1])
                long_axis = _unit_or(long_axis - (long_axis @ flexion) * flexion, model[2].axis)
                long_axis = long_axis if long_axis @ model[2].axis > 0.0 else -long_axis
                axes = (flexion, _unit(np.cross(flexion, long_axis)), long_axis)
                slots[i] = [_Slot(m.name, a, is_coordinate=m.is_coordinate) for m, a in zip(model, axes)]
                long_axes[i] = parent @ long_axis  # SMPL world
                # The body's rest pose reads the configured rest values exactly (0 flexion).
                at_rest = np.eye(3)
                for s in slots[i]:
                    at_rest = at_rest @ _np_axis_angle(s.axis, math.radians(float(rest_pose_deg.get(s.name, 0.0))))
                rests[i] = at_rest.T @ (parent.T @ child)
            elif seg.anatomy == "ball":
                self.swing_twist[i] = True
                slots[i] = [_Slot(n, s.axis) for n, s in zip(seg.anatomical_names, slots[i])]
            if seg.anatomy == "ball":
                left, up, forward = body_axes(joints)
                humerus = _rest_direction(joints, seg.bone[0], seg.bone[1])
                lateral = left if humerus @ left > 0 else -left
                # Internal rotation turns the forearm (arm at the side, elbow bent) from forward
                # to medial: positive about (forward x medial), which is +-(down).
                sign = float(np.sign(np.cross(forward, -lateral) @ -up))
                thorax_axes.append(np.stack([lateral, up, forward]))
                neutral.append(_smallest_rotation(torch.as_tensor(humerus), torch.as_tensor(-up)).numpy())
                rotation_sign.append(sign)
            else:
                thorax_axes.append(np.eye(3))
                neutral.append(np.eye(3))
                rotation_sign.append(1.0)
        self._set_structure(slots, rests)
        for name, value in (("thorax_axes", np.stack(thorax_axes)), ("neutral", np.stack(neutral)),
                            ("rotation_sign", np.array(rotation_sign))):
            self.register_buffer(name, torch.as_tensor(value, dtype=torch.float64), persistent=False)
        # Hinges and the ball joints above them (knee <- hip, elbow <- shoulder), with the
        # parent bone's rest direction (the axis a twist can move along between the two).
        by_child = {seg.smpl_chain[-1]: i for i, seg in enumerate(self.segments)}
        hinges = [i for i, seg in enumerate(self.segments) if seg.anatomy == "hinge"]
        parents = [by_child[self.segments[i].smpl_parent] for i in hinges]
        bones = [_rest_direction(joints, *self.segments[p].bone[:2]) for p in parents]
        self.register_buffer("hinge_segments", torch.tensor(hinges), persistent=False)
        self.register_buffer("hinge_parents", torch.tensor(parents), persistent=False)
        self.register_buffer("hinge_parent_bone", torch.as_tensor(np.stack(bones)), persistent=False)
        # +-1: the hinge's third axis along or against the parent bone (twist conventions).
        self.register_buffer("hinge_bone_sign", torch.tensor(
            [float(np.sign(long_axes[i] @ b)) for i, b in zip(hinges, bones)], dtype=torch.float64), persistent=False)
        # Sign of the parent's axial-rotation coordinate (its third) for a twist about the bone.
        probe = torch.eye(3, dtype=torch.float64).repeat(len(self.segments), 1, 1)
        probe[parents] = _axis_angle(self.hinge_parent_bone, torch.full((len(parents),), 1e-3, dtype=torch.float64))
        read = self.coordinates_from_relative(probe).reshape(len(self.segments), 3)
        at_rest = self.coordinates_from_relative(torch.eye(3, dtype=torch.float64).repeat(len(self.segments), 1, 1))
        change = read[parents, 2] - at_rest.reshape(len(self.segments), 3)[parents, 2]
        self.register_buffer("hinge_twist_sign", torch.sign(change), persistent=False)

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_config(cls, limits: Optional[Mapping[str, Any]] = None,
                    rest_pose_deg: Optional[Mapping[str, float]] = None,
                    rest_joints: Optional[torch.Tensor] = None, anatomical: bool = False) -> "JointMap":
        """The map of the shipped ``joint_limits`` structure (Rajagopal 2016) and the shipped
        SMPL rest pose (``range_of_motion`` config), either replaceable; ``rest_joints``
        (24, 3) aligns it to a body, ``anatomical`` reads it anatomically (see the class
        docstring)."""
        from ..config import load_config

        limits = load_config("joint_limits") if limits is None else limits
        if rest_pose_deg is None:
            rest_pose_deg = load_config("range_of_motion")["smpl_rest_pose_deg"]
        return cls(limits, rest_pose_deg, rest_joints, anatomical)

    @classmethod
    def for_range_of_motion(cls, rest_joints: Optional[torch.Tensor] = None) -> "JointMap":
        """The shipped map read anatomically (the range-of-motion metric's): aligned to the body
        whose (24, 3) rest joints are given, or to SMPL's canonical T-pose."""
        return cls.from_config(rest_joints=rest_joints, anatomical=True)

    def _align_bones(self, alignment: torch.Tensor, limits: Mapping[str, Any], joints: np.ndarray) -> torch.Tensor:
        """Turn each limb body's alignment so the model's bone points along the body's rest bone
        (joints: (24, 3) numpy rest joints)."""
        origins = limits.get("default_pose_origins", {})
        frames = limits.get("default_pose_orientations", {})
        aligned = alignment.clone()
        for i, seg in enumerate(self.segments):
            if seg.bone is None:
                continue
            smpl_from, smpl_to, body_from, body_to = seg.bone
            if body_from not in origins or body_to not in origins or seg.opensim_child not in frames:
                raise HumanScoreError(f"joint map: the limits lack default-pose origins of {body_from}/{body_to} "
                                      "(re-run derive-limits)")
            bone_ground = np.subtract(origins[body_to], origins[body_from])
            bone_body = np.asarray(frames[seg.opensim_child]).T @ bone_ground
            model_dir = _unit(aligned[i + 1].numpy() @ bone_body)
            body_dir = _unit(joints[JOINT_INDEX[smpl_to]] - joints[JOINT_INDEX[smpl_from]])
            axis = np.cross(model_dir, body_dir)
            angle = math.atan2(np.linalg.norm(axis), float(model_dir @ body_dir))
            if np.linalg.norm(axis) > 1e-12:
                turn = _np_axis_angle(axis / np.linalg.norm(axis), angle)
                aligned[i + 1] = torch.as_tensor(turn) @ aligned[i + 1]
        return aligned

    def _alignment(self, rest_pose_deg: Mapping[str, float]) -> torch.Tensor:
        """A_b = FRAME_CHANGE^T O_b(rest) for ground and every segment's child body: (S+1, 3, 3)."""
        unknown = set(rest_pose_deg) - set(self.coordinate_names)
        if unknown:
            raise HumanScoreError(f"joint map: rest pose names unknown coordinates {sorted(unknown)}; "
                                  f"expected names among {list(self.coordinate_names)}")
        values = torch.zeros(len(self.coordinate_names), dtype=torch.float64)
        for name, degrees in rest_pose_deg.items():
            values[self.coordinate_index[name]] = math.radians(float(degrees))
        relative = self._relative_from_coordinates(values)  # (S, 3, 3)
        orientation = [torch.eye(3, dtype=torch.float64)]  # ground
        for i in range(len(self.segments)):  # construction only (parents come first)
            orientation.append(orientation[int(self.parent_body[i])] @ relative[i])
        return self.frame_change.T @ torch.stack(orientation)

    def gimbal_cosine(self, coordinates: torch.Tensor) -> torch.Tensor:
        """|cos| of each segment's middle angle in its decomposition basis: (..., K) -> (..., S).

        0 at gimbal lock, where the segment's first and third angles are not separately defined.
        """
        middle = self._angles_from_coordinates(coordinates)[..., 1]
        cosine = torch.cos(middle * self.middle_sign.to(middle) + self.nu.to(middle)).abs()
        # The humerus's plane and twist are undefined straight up (elevation 180) only.
        return torch.where(self.swing_twist, torch.cos(middle / 2.0).abs(), cosine)

    @property
    def segment_of_coordinate(self) -> torch.Tensor:
        """(K,) index of the segment each coordinate belongs to."""
        return torch.arange(len(self.segments), device=self.axes.device).repeat_interleave(3)

    @property
    def outer_slot(self) -> torch.Tensor:
        """(K,) bool: the coordinate is a segment's first or third angle (undefined at gimbal lock)."""
        return torch.tensor([True, False, True], device=self.axes.device).repeat(len(self.segments))

    # ----------------------------------------------------------------- coordinates -> rotations
    def _angles_from_coordinates(self, values: torch.Tensor) -> torch.Tensor:
        """(..., K) coordinates -> (..., S, 3) Davenport angles."""
        values = values.reshape(values.shape[:-1] + (len(self.segments), 3))
        first = values[..., :1].expand_as(values)
        coupled = _interp(self.grid.reshape(-1, self.grid.shape[-1]).to(values),
                          self.table.reshape(-1, self.table.shape[-1]).to(values),
                          first.flatten(-2)).reshape(values.shape)
        return torch.where(self.is_coordinate, values * self.slope.to(values),
                           torch.where(self.coupled, coupled + values, values))

    def _relative_from_coordinates(self, values: torch.Tensor) -> torch.Tensor:
        angles = self._angles_from_coordinates(values)
        axes = self.axes.to(values)
        rotation = _axis_angle(axes[:, 0], angles[..., 0]) @ _axis_angle(axes[:, 1], angles[..., 1]) \
            @ _axis_angle(axes[:, 2], angles[..., 2])
        return rotation @ self.rest.to(values)

    def smpl_from_coordinates(self, coordinates: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Inverse map: OpenSim coordinates -> SMPL rotations.

        Args:
            coordinates: (..., K) radians in ``coordinate_names`` order (residuals usually 0).

        Returns:
            global_orient (..., 3, 3) and body_pose (..., 23, 3, 3) rotation matrices; SMPL
            joints no segment covers (feet, hands) are the identity.
        """
        check_shape(coordinates, f"... {len(self.coordinate_names)}", "coordinates")
        relative = self._relative_from_coordinates(coordinates)
        align = self.alignment.to(coordinates)
        smpl_relative = align[self.parent_body] @ relative @ align[1:].transpose(-1, -2)
        if self.anatomical:
            humerus = humerus_rotation(coordinates.reshape(coordinates.shape[:-1] + (len(self.segments), 3)),
                                       self.thorax_axes, self.neutral, self.rotation_sign)
            smpl_relative = torch.where(self.swing_twist[:, None, None], humerus, smpl_relative)
        return self._distribute(smpl_relative)

    def _distribute(self, smpl_relative: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Relative SMPL segment rotations (..., S, 3, 3) -> local rotations along each chain."""
        rotvec = rotmat_to_rotvec(smpl_relative)  # (..., S, 3)
        shares = rotvec_to_rotmat(rotvec[..., None, :] * self.split.to(rotvec)[..., None])  # (..., S, 3, 3, 3)
        batch = smpl_relative.shape[:-3]
        local = torch.eye(3, dtype=smpl_relative.dtype, device=smpl_relative.device).expand(
            batch + (NUM_JOINTS + 1, 3, 3)).clone()
        local[..., self.chain.flatten(), :, :] = shares.reshape(batch + (-1, 3, 3))
        return local[..., 0, :, :], local[..., 1:NUM_JOINTS, :, :]

    # ----------------------------------------------------------------- rotations -> coordinates
    def coordinates_from_smpl(self, global_orient: torch.Tensor, body_pose: torch.Tensor) -> torch.Tensor:
        """Forward map: SMPL rotations -> OpenSim coordinates and residual angles.

        Args:
            global_orient: (..., 3) axis-angle or (..., 3, 3) matrix, SMPL world frame.
            body_pose: (..., 23, 3) axis-angle or (..., 23, 3, 3) matrices.

        Returns:
            (..., K) radians in ``coordinate_names`` order.
        """
        if body_pose.shape[-1] == 3 and body_pose.dim() >= 2 and body_pose.shape[-2] == 23:
            check_shape(body_pose, "... 23 3", "body_pose")
            check_shape(global_orient, "... 3", "global_orient")
            global_orient, body_pose = rotvec_to_rotmat(global_orient), rotvec_to_rotmat(body_pose)
        check_shape(body_pose, "... 23 3 3", "body_pose")
        check_shape(global_orient, "... 3 3", "global_orient")
        return self.coordinates_from_relative(self.relative_rotations(global_orient, body_pose))

    def relative_rotations(self, global_orient: torch.Tensor, body_pose: torch.Tensor) -> torch.Tensor:
        """SMPL rotation matrices (..., 3, 3), (..., 23, 3, 3) -> (..., S, 3, 3) relative rotation of
        each segment's child SMPL segment to its parent (the chain's local rotations composed)."""
        eye = torch.eye(3, dtype=body_pose.dtype, device=body_pose.device).expand(body_pose.shape[:-3] + (1, 3, 3))
        local = torch.cat([global_orient[..., None, :, :], body_pose, eye], dim=-3)  # (..., 25, 3, 3)
        chain = local[..., self.chain, :, :]  # (..., S, 3, 3, 3)
        return chain[..., 0, :, :] @ chain[..., 1, :, :] @ chain[..., 2, :, :]

    def hinge_bend(self, coordinates: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """(..., K) -> the twist (..., H) about each hinge's parent bone (radians, within +-90 deg,
        for :meth:`transfer_twist`) that brings the hinge's bend into its own plane (0 for a
        pure flexion), and the sine of the bend (..., H) (anatomical maps only).

        With flexion a1 and floating angle a2 the child's long axis leaves its rest direction by
        ``cos a2 sin a1`` along the flexion direction and ``-sin a2`` along the hinge axis: the
        bend's azimuth from the hinge's plane.
        """
        angles = coordinates.reshape(coordinates.shape[:-1] + (len(self.segments), 3))[..., self.hinge_segments, :]
        flexion, floating = angles[..., 0], angles[..., 1]
        along, across = torch.cos(floating) * torch.sin(flexion), -torch.sin(floating)
        # A hyperextended hinge bends the other way: measure from that side (|azimuth| <= 90).
        along_sign = torch.where(along < 0, -torch.ones_like(along), torch.ones_like(along))
        flat = (along ** 2 + across ** 2) < _GIMBAL_EPS ** 2
        azimuth = torch.atan2(torch.where(flat, torch.zeros_like(across), across * along_sign),
                              torch.where(flat, torch.ones_like(along), along * along_sign))
        return azimuth * self.hinge_bone_sign.to(azimuth), (along ** 2 + across ** 2).sqrt()

    def transfer_twist(self, smpl_relative: torch.Tensor, twist: torch.Tensor) -> torch.Tensor:
        """Move a twist about each hinge's parent bone from the hinge to the ball joint above it.

        The limb's skeleton is unchanged (``G_parent R(b, t) . R(b, -t) G_hinge``): a twist of
        the thigh or upper arm about its own long axis barely shows on the surface, and a pose
        estimator may put it at the knee or elbow, which anatomy cannot turn that way.

        Args:
            smpl_relative: (..., S, 3, 3) from :meth:`relative_rotations`.
            twist: (..., H) radians per hinge (``hinge_segments`` order).

        Returns:
            (..., S, 3, 3) relative rotations with the twist moved.
        """
        turn = _axis_angle(self.hinge_parent_bone.to(twist), twist)  # (..., H, 3, 3)
        out = smpl_relative.clone()
        out[..., self.hinge_parents, :, :] = smpl_relative[..., self.hinge_parents, :, :] @ turn
        out[..., self.hinge_segments, :, :] = turn.transpose(-1, -2) @ smpl_relative[..., self.hinge_segments, :, :]
        return out

    def coordinates_from_relative(self, smpl_relative: torch.Tensor) -> torch.Tensor:
        """(..., S, 3, 3) relative SMPL segment rotations -> (..., K) coordinates (radians)."""
        align = self.alignment.to(smpl_relative)
        relative = align[self.parent_body].transpose(-1, -2) @ smpl_relative @ align[1:]
        basis = self.basis.to(relative)
        nu = self.nu.to(relative)
        turn = _axis_angle(basis[..., 1], nu)
        canonical = basis.transpose(-1, -2) @ relative @ self.rest.to(relative).transpose(-1, -2) @ turn @ basis
        angles = xyz_decompose(canonical)
        middle = (angles[..., 1] - nu) * self.middle_sign.to(angles)
        angles = torch.stack([angles[..., 0], middle, angles[..., 2]], dim=-1)
        coupled = _interp(self.grid.reshape(-1, self.grid.shape[-1]).to(angles),
                          self.table.reshape(-1, self.table.shape[-1]).to(angles),
                          # flatten, not reshape(..., -1): -1 is ambiguous for empty batches
                          (angles[..., :1] / self.slope[:, :1].to(angles)).expand_as(angles).flatten(-2)
                          ).reshape(angles.shape)
        values = torch.where(self.is_coordinate, angles / self.slope.to(angles),
                             torch.where(self.coupled, angles - coupled, angles))
        if self.anatomical:
            humerus = humerus_angles(smpl_relative, self.thorax_axes, self.neutral, self.rotation_sign)
            values = torch.where(self.swing_twist[:, None], humerus, values)
        return values.flatten(-2)

    # ----------------------------------------------------------------- OpenSim body orientations
    def smpl_from_body_orientations(self, orientations: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """OpenSim body orientations in ground -> SMPL rotations (the import path).

        Args:
            orientations: (..., S, 3, 3) orientation in ground of each segment's child body,
                in ``segments`` order (the neck's entry is ignored: OpenSim's head is the torso).

        Returns:
            global_orient (..., 3, 3), body_pose (..., 23, 3, 3).
        """
        check_shape(orientations, f"... {len(self.segments)} 3 3", "orientations")
        orientations = orientations.clone()
        neck = [i for i, s in enumerate(self.segments) if s.opensim_child is None]
        torso = self.body_index["torso"] - 1
        orientations[..., neck, :, :] = orientations[..., [torso] * len(neck), :, :]
        align = self.alignment.to(orientations)
        frame = self.frame_change.to(orientations)
        smpl_global = frame.T @ orientations @ align[1:].transpose(-1, -2)  # (..., S, 3, 3)
        world = torch.eye(3, dtype=orientations.dtype, device=orientations.device).expand(
            orientations.shape[:-3] + (1, 3, 3))
        with_world = torch.cat([world, smpl_global], dim=-3)
        smpl_relative = with_world[..., self.parent_smpl, :, :].transpose(-1, -2) @ smpl_global
        return self._distribute(smpl_relative)
