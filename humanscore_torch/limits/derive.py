"""Offline joint-limit derivation from an OpenSim model (``humanscore derive-limits``).

Needs the ``opensim`` package (imported inside the functions only). For a model such as
Rajagopal 2016 it reads every coordinate's range, clamped/locked flags and motion type, and
probes the model to derive, for each segment pair of the SMPL<->OpenSim joint map
(:data:`humanscore_torch.limits.joint_map.SEGMENTS`), the rotation of the child body
relative to the parent body as a product of elementary rotations:

    R_parent^T R_child = Rot(e_1, a_1) Rot(e_2, a_2) ... Rot(e_n, a_n) R_rest

with the axes ``e_k`` in the parent body frame (the joint's axes carried through the offset
frames at the default pose), their order, ``R_rest`` (the relative orientation with every
coordinate at zero) and each angle ``a_k`` as a coordinate times a slope or a tabulated
coupling function of a coordinate (the Rajagopal walker knee). The structure is read from the
joints (CustomJoint rotation axes; pin and planar joints about z; universal x then y; gimbal,
ball and free x-y-z; weld and slider joints none, their fixed rotation in ``R_rest``) and then
checked against OpenSim on random coordinate sets; the largest disagreement is written with the
result, and a structure that does not reproduce OpenSim raises. Segments whose bodies the model
lacks (no arms, one leg) are listed as absent; :func:`joint_map_structure` completes the result
for a joint map.

The result is a plain dict (written as YAML by :func:`write_limits_yaml`): angles in degrees,
with the source model, the OpenSim version and the date.
"""

from __future__ import annotations

import copy
import datetime
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import yaml

from ..errors import HumanScoreError
from .joint_map import SEGMENTS, expand_segments

# Random coordinate sets used to check the derived structure against OpenSim.
_CHECK_SAMPLES = 50
# A derived structure must reproduce OpenSim's relative orientations to this (degrees).
_CHECK_TOLERANCE_DEG = 1e-2
# Coupling functions are tabulated at this many points over the coordinate's range (1 degree
# steps for the walker knee; linear interpolation then reproduces the spline to ~0.001 deg).
_TABLE_POINTS = 121
_MOTION_TYPES = {1: "rotational", 2: "translational", 3: "coupled"}
# Segments of which a model must have at least one (with the pelvis) to be imported.
_LOWER_BODY = ("hip_r", "hip_l")


def _rotation_to_numpy(rotation) -> np.ndarray:
    return np.array([[rotation.get(i, j) for j in range(3)] for i in range(3)])


def _rotation_angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    cos = (np.trace(a.T @ b) - 1.0) / 2.0
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def _axis_angle_matrix(axis: np.ndarray, angle: float) -> np.ndarray:
    axis = axis / np.linalg.norm(axis)
    skew = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * skew + (1 - np.cos(angle)) * skew @ skew


class _Probe:
    """An OpenSim model with every coordinate unlocked, posed by coordinate values (radians)."""

    def __init__(self, model_path: Path):
        import opensim

        opensim.Logger.setLevelString("error")
        self.opensim = opensim
        self.model = opensim.Model(str(model_path))
        self.state = self.model.initSystem()
        self.coordinates = {c.getName(): c for c in self.model.getCoordinateSet()}
        for coordinate in self.coordinates.values():
            coordinate.setLocked(self.state, False)
        self.rotational = [n for n, c in self.coordinates.items() if int(c.getMotionType()) == 1]

    def pose(self, values: Dict[str, float]) -> None:
        """Set every rotational coordinate to ``values[name]`` (radians; 0 when absent) and
        realise the positions."""
        for name in self.rotational:
            self.coordinates[name].setValue(self.state, float(values.get(name, 0.0)), False)
        self.model.realizePosition(self.state)

    def orientation(self, body: str) -> np.ndarray:
        """(3, 3) rotation of ``body`` in ground at the current pose (identity for ``ground``)."""
        if body == "ground":
            return np.eye(3)
        frame = self.model.getBodySet().get(body)
        return _rotation_to_numpy(frame.getTransformInGround(self.state).R())

    def relative(self, parent: str, child: str) -> np.ndarray:
        """(3, 3) rotation of ``child`` relative to ``parent`` at the current pose."""
        return self.orientation(parent).T @ self.orientation(child)


def _joint_chain(probe: _Probe, parent: str, child: str) -> List[Any]:
    """The joints from ``parent`` body down to ``child`` body (parent first)."""
    by_child = {}
    for joint in probe.model.getJointSet():
        by_child[joint.getChildFrame().findBaseFrame().getName()] = joint
    chain, body = [], child
    while body != parent:
        if body not in by_child:
            raise HumanScoreError(f"OpenSim model: no joint chain from body {parent!r} to {child!r}")
        joint = by_child[body]
        chain.append(joint)
        body = joint.getParentFrame().findBaseFrame().getName()
    return chain[::-1]


def _joint_axes(probe: _Probe, joint) -> List[Tuple[np.ndarray, List[str], Any]]:
    """(axis in the joint's parent offset frame, coordinate names, function) per rotation.

    Simbody's mobilizers (OpenSim API docs): a pin and a planar joint turn about the parent
    offset frame's z; a universal joint about x then the rotated y; gimbal, ball and free joints
    are body-fixed x-y-z sequences; weld and slider joints do not rotate (a weld's fixed
    rotation is in the offset frames, hence in ``R_rest`` or the next joint's axes)."""
    kind = joint.getConcreteClassName()
    names = [joint.get_coordinates(i).getName() for i in range(joint.numCoordinates())]
    x, y, z = np.eye(3)
    if kind in ("PinJoint", "PlanarJoint"):
        return [(z, names[:1], None)]
    if kind == "UniversalJoint":
        return [(x, names[:1], None), (y, names[1:2], None)]
    if kind in ("GimbalJoint", "BallJoint", "FreeJoint"):
        return [(x, names[:1], None), (y, names[1:2], None), (z, names[2:3], None)]
    if kind in ("WeldJoint", "SliderJoint"):
        return []
    if kind == "CustomJoint":
        transform = probe.opensim.CustomJoint.safeDownCast(joint).getSpatialTransform()
        out = []
        for axis in (transform.get_rotation1(), transform.get_rotation2(), transform.get_rotation3()):
            array = axis.getCoordinateNamesInArray()
            out.append((axis.get_axis().to_numpy().copy(), [array.get(k) for k in range(array.getSize())],
                        axis.get_function()))
        return out
    raise HumanScoreError(f"OpenSim joint {joint.getName()!r}: joint type {kind} is not supported (expected "
                          "CustomJoint, PinJoint, PlanarJoint, UniversalJoint, GimbalJoint, BallJoint, FreeJoint, "
                          "SliderJoint or WeldJoint)")


def _evaluate(probe: _Probe, function, value: float) -> float:
    vector = probe.opensim.Vector(1, float(value))
    return float(function.calcValue(vector))


def _elementary_rotations(probe: _Probe, parent: str, child: str) -> List[Dict[str, Any]]:
    """The non-constant elementary rotations from ``parent`` to ``child``, parent first, with
    axes in the parent body frame at the default (all-zero) pose."""
    probe.pose({})
    parent_orientation = probe.orientation(parent)
    elements = []
    for joint in _joint_chain(probe, parent, child):
        offset = parent_orientation.T @ _rotation_to_numpy(joint.getParentFrame().getTransformInGround(probe.state).R())
        for axis, names, function in _joint_axes(probe, joint):
            if not names:
                continue  # a constant rotation (zero in these models) is part of R_rest
            coordinate = probe.coordinates[names[0]]
            if int(coordinate.getMotionType()) != 1 and function is None:
                continue
            axis_parent = offset @ (axis / np.linalg.norm(axis))
            element: Dict[str, Any] = {"coordinate": names[0], "axis": [round(float(v), 9) for v in axis_parent]}
            if function is None or function.getConcreteClassName() == "LinearFunction":
                slope = 1.0 if function is None else _evaluate(probe, function, 1.0) - _evaluate(probe, function, 0.0)
                intercept = 0.0 if function is None else _evaluate(probe, function, 0.0)
                if abs(intercept) > 1e-12:
                    raise HumanScoreError(f"OpenSim joint {joint.getName()!r}: offset linear functions are not supported")
                element["slope"] = slope
            else:
                low, high = coordinate.getRangeMin(), coordinate.getRangeMax()
                grid = np.linspace(low, high, _TABLE_POINTS)
                element["table_deg"] = {
                    "coordinate_deg": [round(float(np.degrees(v)), 6) for v in grid],
                    "angle_deg": [round(float(np.degrees(_evaluate(probe, function, v))), 6) for v in grid],
                }
            elements.append(element)
    return elements


def _element_angle(element: Dict[str, Any], values: Dict[str, float]) -> float:
    value = values.get(element["coordinate"], 0.0)
    if "slope" in element:
        return element["slope"] * value
    table = element["table_deg"]
    return float(np.radians(np.interp(np.degrees(value), table["coordinate_deg"], table["angle_deg"])))


def _structure_rotation(elements: Sequence[Dict[str, Any]], rest: np.ndarray, values: Dict[str, float]) -> np.ndarray:
    rotation = np.eye(3)
    for element in elements:
        rotation = rotation @ _axis_angle_matrix(np.array(element["axis"]), _element_angle(element, values))
    return rotation @ rest


def _coordinate_entry(coordinate, joint_name: str) -> Dict[str, Any]:
    motion = _MOTION_TYPES.get(int(coordinate.getMotionType()), "unknown")
    scale = np.degrees if motion == "rotational" else (lambda v: v)
    return {
        "joint": joint_name,
        "motion_type": motion,
        "min": round(float(scale(coordinate.getRangeMin())), 6),
        "max": round(float(scale(coordinate.getRangeMax())), 6),
        "default": round(float(scale(coordinate.getDefaultValue())), 6),
        "clamped": bool(coordinate.get_clamped()),
        "locked": bool(coordinate.get_locked()),
    }


def derive_limits(model_path: Union[str, Path], seed: int = 0) -> Dict[str, Any]:
    """Derive coordinate ranges and the joint structure of the map's segments from a model.

    Args:
        model_path: an OpenSim ``.osim`` model (e.g. Rajagopal2016.osim).
        seed: random seed of the coordinate sets used to check the structure.

    Returns:
        a dict with ``source`` (model file and name, opensim version, date, units),
        ``coordinates`` (name -> joint, motion type, min/max/default in degrees for
        rotational and metres for translational coordinates, clamped, locked),
        ``segments`` (map segment -> parent and child body, elementary rotations (axis in the
        parent body frame, coordinate, slope or coupling table in degrees; none for a welded
        segment), ``rest_rotation`` (3x3), ``check_error_deg``), ``absent_segments`` (map
        segment -> why the model lacks it: a model without arms, a single leg),
        ``default_pose_orientations`` (body -> 3x3 rotation of
        the body frame in ground with every coordinate at zero) and ``default_pose_origins``
        (body -> origin in ground, metres, same pose; joint centres for the rest alignment).

    Raises:
        HumanScoreError: the model cannot be read, lacks the pelvis or both femurs, or the
            derived structure does not reproduce OpenSim's orientations.
    """
    model_path = Path(model_path)
    if not model_path.is_file():
        raise HumanScoreError(f"derive-limits: model file {str(model_path)!r} does not exist")
    try:
        probe = _Probe(model_path)
    except ImportError as exc:
        raise HumanScoreError("derive-limits needs the 'opensim' package (pip install opensim)") from exc
    except RuntimeError as exc:
        raise HumanScoreError(f"derive-limits: OpenSim cannot load {str(model_path)!r}: {exc}") from exc
    opensim = probe.opensim

    coordinates: Dict[str, Any] = {}
    for joint in probe.model.getJointSet():
        for i in range(joint.numCoordinates()):
            coordinate = joint.get_coordinates(i)
            coordinates[coordinate.getName()] = _coordinate_entry(coordinate, joint.getName())

    rng = np.random.default_rng(seed)
    segments: Dict[str, Any] = {}
    absent: Dict[str, str] = {}
    bodies = set()
    for segment in expand_segments(SEGMENTS):
        if segment.opensim_child is None:
            continue  # a segment OpenSim lacks (neck): its axes come from the map itself
        parent, child = segment.opensim_parent, segment.opensim_child
        missing = [b for b in (parent, child) if b != "ground" and not probe.model.getBodySet().contains(b)]
        if missing:  # a model without arms, or with one leg
            absent[segment.name] = f"no body {missing[0]!r}"
            continue
        elements = _elementary_rotations(probe, parent, child)
        probe.pose({})
        rest = probe.relative(parent, child)
        worst = 0.0
        names = sorted({e["coordinate"] for e in elements})
        for _ in range(_CHECK_SAMPLES):
            values = {n: rng.uniform(probe.coordinates[n].getRangeMin(), probe.coordinates[n].getRangeMax())
                      for n in names}
            probe.pose(values)
            worst = max(worst, _rotation_angle_deg(probe.relative(parent, child),
                                                   _structure_rotation(elements, rest, values)))
        if worst > _CHECK_TOLERANCE_DEG:
            raise HumanScoreError(f"derive-limits: segment {segment.name} ({parent} -> {child}): the derived "
                                  f"axes reproduce OpenSim only to {worst:.4f} deg (expected < {_CHECK_TOLERANCE_DEG})")
        segments[segment.name] = {
            "parent_body": parent, "child_body": child, "rotations": elements,
            "rest_rotation": [[round(float(v), 9) for v in row] for row in rest],
            "check_error_deg": float(f"{worst:.3g}"),
        }
        bodies.update(b for b in (parent, child) if b != "ground")

    lacking = {name: absent[name] for name in ("pelvis",) + _LOWER_BODY if name in absent}
    if "pelvis" in lacking or all(name in lacking for name in _LOWER_BODY):
        raise HumanScoreError(f"derive-limits: model {model_path.name} lacks the usual lower body (a pelvis and at "
                              f"least one femur): " + "; ".join(f"{n}: {why}" for n, why in lacking.items()))
    probe.pose({})
    default_frames = {b: [[round(float(v), 9) for v in row] for row in probe.orientation(b)] for b in sorted(bodies)}
    default_origins = {b.getName(): [round(float(v), 9) for v in b.getPositionInGround(probe.state).to_numpy()]
                       for b in probe.model.getBodySet()}
    return {
        "source": {
            "model_file": model_path.name,
            "model_name": probe.model.getName(),
            "opensim_version": opensim.GetVersion(),
            "date": datetime.date.today().isoformat(),
            "units": "degrees for rotational coordinates and angles, metres for translational ones; "
                     "axes are unit vectors in the parent body frame",
            "tool": "humanscore derive-limits (humanscore_torch.limits.derive.derive_limits)",
        },
        "coordinates": coordinates,
        "segments": segments,
        "absent_segments": absent,
        "default_pose_orientations": default_frames,
        "default_pose_origins": default_origins,
    }


def joint_map_structure(limits: Mapping[str, Any], stand_in: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """A :func:`derive_limits` result completed so that a
    :class:`~humanscore_torch.limits.joint_map.JointMap` can be built on it, for any model.

    * a segment the model lacks (``absent_segments``: no arms, one leg) takes the stand-in's
      structure, and its bodies the stand-in's default-pose frames; an import poses it at rest;
    * a welded segment (no rotation: the OpenCap model's wrists) keeps the model's rest rotation
      (the weld) and takes the stand-in's axes, so that its fixed rotation reads as angles;
    * a segment with fewer rotations than the map names (a planar hip, a pin ankle) gets
      residual angles named ``<segment>_residual_<k>`` for the ones the map has no name for.

    Args:
        limits: the model's derived limits (not changed).
        stand_in: a complete structure (None: the shipped ``joint_limits``, Rajagopal 2016).

    Returns:
        a new dict; ``stand_in_segments`` lists the segments that took the stand-in's axes.
    """
    from ..config import load_config

    stand_in = load_config("joint_limits") if stand_in is None else stand_in
    out = copy.deepcopy(dict(limits))
    segments, borrowed = out["segments"], []
    for segment in expand_segments(SEGMENTS):
        if segment.opensim_child is None:
            continue
        entry = segments.get(segment.name)
        if entry is None or not entry["rotations"]:
            borrowed.append(segment.name)
            replacement = copy.deepcopy(stand_in["segments"][segment.name])
            if entry is not None:  # welded: the model's own fixed rotation
                replacement["rest_rotation"] = entry["rest_rotation"]
            else:
                for key in ("default_pose_orientations", "default_pose_origins"):
                    for body in (segment.opensim_child,) + (segment.bone[2:] if segment.bone else ()):
                        if body in stand_in[key]:
                            out[key].setdefault(body, stand_in[key][body])
            segments[segment.name] = replacement
            continue
        rotations = entry["rotations"]
        needed = sum("table_deg" in r for r in rotations) + 3 - len(rotations)
        taken = {r["coordinate"] for r in rotations}
        free = [n for n in segment.residual_names if n not in taken]
        if len(free) != needed or len(free) != len(segment.residual_names):
            entry["residual_names"] = (free + [f"{segment.name}_residual_{k}" for k in range(1, 4)])[:needed]
    out["stand_in_segments"] = borrowed
    return out


def write_limits_yaml(limits: Dict[str, Any], path: Union[str, Path], header: Optional[str] = None) -> Path:
    """Write a :func:`derive_limits` result as YAML, with a comment header saying where it came from."""
    path = Path(path)
    source = limits["source"]
    lines = header or (
        f"# Joint limits and joint structure derived from the OpenSim model {source['model_file']}\n"
        f"# ({source['model_name']}) with opensim {source['opensim_version']} on {source['date']} by\n"
        f"# `humanscore derive-limits`. Do not edit by hand: re-run the tool. Units: {source['units']}.\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(lines + yaml.safe_dump(limits, sort_keys=False, default_flow_style=None, width=120))
    return path
