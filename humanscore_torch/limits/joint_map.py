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
from ..rotations import rotmat_to_rotvec, rotvec_to_rotmat
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
    """

    name: str
    smpl_parent: str
    smpl_chain: Tuple[str, ...]
    split: Tuple[float, ...]
    opensim_parent: str
    opensim_child: Optional[str]
    residual_names: Tuple[str, ...] = ()
    bone: Optional[Tuple[str, str, str, str]] = None


SEGMENTS: Tuple[Segment, ...] = (
    Segment("pelvis", "world", ("pelvis",), (1.0,), "ground", "pelvis"),
    Segment("hip_{side}", "pelvis", ("{smpl}_hip",), (1.0,), "pelvis", "femur_{side}",
            bone=("{smpl}_hip", "{smpl}_knee", "femur_{side}", "tibia_{side}")),
    Segment("knee_{side}", "{smpl}_hip", ("{smpl}_knee",), (1.0,), "femur_{side}", "tibia_{side}",
            ("knee_adduction_{side}", "knee_rotation_{side}"),
            bone=("{smpl}_knee", "{smpl}_ankle", "tibia_{side}", "talus_{side}")),
    Segment("ankle_{side}", "{smpl}_knee", ("{smpl}_ankle",), (1.0,), "tibia_{side}", "calcn_{side}",
            ("ankle_adduction_{side}",), bone=("{smpl}_ankle", "{smpl}_foot", "talus_{side}", "toes_{side}")),
    Segment("lumbar", "pelvis", ("spine1", "spine2", "spine3"), (1 / 3, 1 / 3, 1 / 3), "pelvis", "torso"),
    # OpenSim's torso carries the head: the neck has the lumbar joint's axes and clinical limits.
    Segment("neck", "spine3", ("neck", "head"), (0.5, 0.5), "torso", None,
            ("neck_extension", "neck_bending", "neck_rotation")),
    # Rajagopal's shoulder is one ball joint torso -> humerus; SMPL's collar moves with it.
    Segment("shoulder_{side}", "spine3", ("{smpl}_collar", "{smpl}_shoulder"), (0.0, 1.0), "torso", "humerus_{side}",
            bone=("{smpl}_shoulder", "{smpl}_elbow", "humerus_{side}", "ulna_{side}")),
    Segment("elbow_{side}", "{smpl}_shoulder", ("{smpl}_elbow",), (1.0,), "humerus_{side}", "radius_{side}",
            ("elbow_abduction_{side}",), bone=("{smpl}_elbow", "{smpl}_wrist", "ulna_{side}", "hand_{side}")),
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


class JointMap(nn.Module):
    """SMPL local rotations <-> OpenSim coordinates (and residual angles), batched.

    Build with :meth:`from_config` (the shipped Rajagopal 2016 structure) or from any
    :func:`~humanscore_torch.limits.derive.derive_limits` result. ``coordinate_names`` lists
    the K = 3 x segments outputs: OpenSim coordinates (``hip_flexion_r``, ``knee_angle_r``,
    ``pro_sup_r``, ``pelvis_tilt`` ...) and residual angles (``knee_adduction_r``,
    ``neck_rotation`` ...). All angles are radians.

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
            slightly down) then do not read as joint angles.
    """

    def __init__(self, limits: Mapping[str, Any], rest_pose_deg: Optional[Mapping[str, float]] = None,
                 rest_joints: Optional[torch.Tensor] = None):
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
        self.coordinate_names: Tuple[str, ...] = tuple(s.name for seg in slots for s in seg)
        self.coordinate_index = {n: i for i, n in enumerate(self.coordinate_names)}
        if len(self.coordinate_index) != len(self.coordinate_names):
            raise HumanScoreError("joint map: duplicate coordinate names")
        self._slots = slots
        num = len(segments)

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
        slope = np.array([[s.slope for s in seg] for seg in slots])
        is_coordinate = np.array([[s.is_coordinate for s in seg] for seg in slots])
        coupled = np.array([[s.table is not None for s in seg] for seg in slots])
        points = max([len(s.table[0]) for seg in slots for s in seg if s.table is not None] or [2])
        grid = np.tile(np.linspace(0.0, 1.0, points), (num, 3, 1))
        table = np.zeros((num, 3, points))
        for i, seg in enumerate(slots):
            for k, s in enumerate(seg):
                if s.table is not None:
                    if len(s.table[0]) != points:
                        raise HumanScoreError("joint map: coupling tables must share one length")
                    grid[i, k], table[i, k] = s.table

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

        def t(x, dtype=torch.float64):
            return torch.as_tensor(np.asarray(x), dtype=dtype)

        for name, value in (("axes", t(axes)), ("basis", t(basis)), ("nu", t(nu)), ("middle_sign", t(middle_sign)), ("slope", t(slope)),
                            ("rest", t(np.stack(rests))), ("grid", t(grid)), ("table", t(table)), ("split", t(split)),
                            ("frame_change", t(FRAME_CHANGE))):
            self.register_buffer(name, value, persistent=False)
        for name, value in (("is_coordinate", t(is_coordinate, torch.bool)), ("coupled", t(coupled, torch.bool)),
                            ("chain", t(chain, torch.long)), ("parent_body", t(parent_body, torch.long)),
                            ("parent_smpl", t(parent_smpl, torch.long))):
            self.register_buffer(name, value, persistent=False)
        self.body_names = tuple(body_names)
        self.body_index = body_index
        alignment = self._alignment(rest_pose_deg or {})
        if rest_joints is not None:
            alignment = self._align_bones(alignment, limits, rest_joints)
        self.register_buffer("alignment", alignment, persistent=False)

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_config(cls, limits: Optional[Mapping[str, Any]] = None,
                    rest_pose_deg: Optional[Mapping[str, float]] = None,
                    rest_joints: Optional[torch.Tensor] = None) -> "JointMap":
        """The map of the shipped ``joint_limits`` structure (Rajagopal 2016) and the shipped
        SMPL rest pose (``range_of_motion`` config), either replaceable; ``rest_joints``
        (24, 3) aligns it to a body (see the class docstring)."""
        from ..config import load_config

        limits = load_config("joint_limits") if limits is None else limits
        if rest_pose_deg is None:
            rest_pose_deg = load_config("range_of_motion")["smpl_rest_pose_deg"]
        return cls(limits, rest_pose_deg, rest_joints)

    def _align_bones(self, alignment: torch.Tensor, limits: Mapping[str, Any], rest_joints: torch.Tensor) -> torch.Tensor:
        """Turn each limb body's alignment so the model's bone points along the body's rest bone."""
        check_shape(rest_joints, f"{NUM_JOINTS} 3", "rest_joints")
        joints = rest_joints.detach().to(torch.float64).cpu().numpy()
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
        return torch.cos(middle * self.middle_sign.to(middle) + self.nu.to(middle)).abs()

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
        eye = torch.eye(3, dtype=body_pose.dtype, device=body_pose.device).expand(body_pose.shape[:-3] + (1, 3, 3))
        local = torch.cat([global_orient[..., None, :, :], body_pose, eye], dim=-3)  # (..., 25, 3, 3)
        chain = local[..., self.chain, :, :]  # (..., S, 3, 3, 3)
        smpl_relative = chain[..., 0, :, :] @ chain[..., 1, :, :] @ chain[..., 2, :, :]
        return self.coordinates_from_relative(smpl_relative)

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
