"""OpenSim import: an ``.osim`` model plus a ``.mot`` coordinates file -> SMPL poses (spec 3).

With a model (``model_path``, or the only ``.osim`` next to the ``.mot``), OpenSim itself poses
the model at every frame; the orientations of the bodies the joint map pairs with SMPL
segments (pelvis, femurs, tibias, calcanei, torso, humeri, radii, hands) become SMPL local
rotations through :meth:`~humanscore_torch.limits.joint_map.JointMap.smpl_from_body_orientations`,
with the joint structure derived from that same model, so axes and signs are the model's own
(any joint type OpenSim models use; welded joints keep their fixed rotation). Segments the model
lacks (the arms of gait2392, the other leg of leg6dof9musc) stay at rest and are listed as
unmeasured; forearms and feet, whose joint centres sit on two bodies, are turned onto
OpenSim's centres. The root translation puts the SMPL body's hip-centre midpoint on the model's
(femur origins), through the frame change (OpenSim x forward, z right -> SMPL z forward, x
left). Without a model, the coordinates go through the shipped Rajagopal 2016 joint map (pure
torch), the pelvis origin is the SMPL pelvis joint, and the flexion sign of knees and elbows
(which models disagree on) is read from the values, or the file refused.

The result is the loaders' sequence dict, at the file's own frame rate. Needs the
``opensim`` package only when a model is used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from ..body.skeleton import JOINT_NAMES, UNMEASURED_JOINTS_KEY
from ..config import load_config
from ..errors import HumanScoreError, MotionFileError
from ..limits.joint_map import FRAME_CHANGE, JointMap, expand_segments
from ..rotations import rotmat_to_rotvec, rotvec_to_rotmat

# The pelvis translation coordinates of the OpenSim gait models (ground frame, metres).
_PELVIS_TRANSLATIONS = ("pelvis_tx", "pelvis_ty", "pelvis_tz")
# SMPL hip joints and the OpenSim bodies whose origins are the hip centres (the root anchor).
HIP_BODIES = ((2, "femur_r"), (1, "femur_l"))


def read_mot(path: Union[str, Path]) -> Tuple[List[str], np.ndarray, np.ndarray, bool]:
    """Read an OpenSim ``.mot``/``.sto`` table without OpenSim.

    Returns:
        column labels (without ``time``), values (T, C) as written, times (T,) seconds, and
        whether the header says angles are in degrees.
    """
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise MotionFileError(path, f"cannot read ({exc})") from exc
    try:
        end = next(i for i, line in enumerate(lines) if line.strip().lower() == "endheader")
    except StopIteration:
        raise MotionFileError(path, "no 'endheader' line: not an OpenSim .mot/.sto file") from None
    in_degrees = any(line.strip().lower().replace(" ", "") == "indegrees=yes" for line in lines[:end])
    labels = lines[end + 1].split()
    try:
        data = np.loadtxt(lines[end + 2:], ndmin=2)
    except ValueError as exc:
        raise MotionFileError(path, f"unreadable numbers after the header ({exc})") from exc
    if not labels or labels[0].lower() != "time" or data.shape[1] != len(labels) or len(data) == 0:
        raise MotionFileError(path, f"expected a 'time' column then coordinates, got columns {labels[:5]}... "
                                    f"and {data.shape[1]} values per row")
    return labels[1:], data[:, 1:], data[:, 0], in_degrees


def opensim_body_poses(model_path: Union[str, Path], coordinates: Dict[str, np.ndarray],
                       bodies: Sequence[str]) -> Tuple[np.ndarray, np.ndarray]:
    """Pose an OpenSim model at each frame and read body frames in ground.

    Args:
        model_path: ``.osim`` file.
        coordinates: coordinate name -> (T,) values in radians / metres (others stay 0).
        bodies: body names.

    Returns:
        orientations (T, N, 3, 3) and origins (T, N, 3) metres, OpenSim ground frame.
    """
    import opensim

    opensim.Logger.setLevelString("error")
    model = opensim.Model(str(model_path))
    state = model.initSystem()
    coordinate_set = model.getCoordinateSet()
    unknown = [n for n in coordinates if not coordinate_set.contains(n)]
    if unknown:
        raise HumanScoreError(f"OpenSim model {Path(model_path).name}: no coordinates {unknown}")
    handles = [(coordinate_set.get(n), v) for n, v in coordinates.items()]
    for coordinate, _ in handles:
        coordinate.setLocked(state, False)
    frames = [model.getBodySet().get(b) for b in bodies]
    count = len(next(iter(coordinates.values()))) if coordinates else 0
    orientations = np.zeros((count, len(bodies), 3, 3))
    origins = np.zeros((count, len(bodies), 3))
    for t in range(count):  # OpenSim poses one state at a time (offline import only)
        for coordinate, values in handles:
            coordinate.setValue(state, float(values[t]), False)
        model.realizePosition(state)
        for b, frame in enumerate(frames):
            transform = frame.getTransformInGround(state)
            rotation = transform.R()
            orientations[t, b] = [[rotation.get(i, j) for j in range(3)] for i in range(3)]
            origins[t, b] = transform.p().to_numpy()
    return orientations, origins


def _find_model(mot_path: Path) -> Optional[Path]:
    models = sorted(mot_path.parent.glob("*.osim"))
    return models[0] if len(models) == 1 else None


def read_opensim_motion(mot_path: Union[str, Path], model_path: Optional[Union[str, Path]] = None,
                        body=None, fps: Optional[float] = None) -> List[Dict[str, Any]]:
    """Import an OpenSim coordinates file as one SMPL sequence.

    Args:
        mot_path: ``.mot`` file of coordinates (degrees or radians per its header; metres).
        model_path: the ``.osim`` model the coordinates belong to; None: the only ``.osim`` in
            the same folder, else the shipped Rajagopal 2016 joint map without OpenSim, with the
            flexion sign of knees and elbows read from the values (see
            :func:`flexion_sign_conventions`).
        body: the SMPL-compatible :class:`~humanscore_torch.body.BodyModel` the poses are for
            (its rest hip centres place the root); None: ``BodyModel.default()``.
        fps: frame rate when the file's times are unusable; otherwise 1 / median time step.

    Returns:
        ``[sequence]`` with ``global_orient`` (T, 3), ``body_pose`` (T, 23, 3) axis-angle,
        ``transl`` (T, 3) metres (SMPL world: y up, z forward), ``betas`` (K,) zeros,
        ``fps`` (float), ``unmeasured_joints`` (the joints left at rest, see
        :func:`unmeasured_joints`) and ``metadata`` (source, model, coordinates used, the same
        joint list for reports), float32 tensors. Segments the model lacks (arms of a leg model,
        the other leg of a single-leg model) are at rest.

    Raises:
        MotionFileError: the file is unreadable, has no usable times, lacks coordinates, or
            (without a model) holds no coordinate of the shipped map or knee/elbow values whose
            sign convention cannot be told.
    """
    from ..body.model import BodyModel

    mot_path = Path(mot_path)
    labels, values, times, in_degrees = read_mot(mot_path)
    steps = np.diff(times)
    if fps is None:
        if len(times) < 2 or not np.all(steps > 0):
            raise MotionFileError(mot_path, "times are not increasing; pass fps")
        fps = float(1.0 / np.median(steps))
    model_path = Path(model_path) if model_path is not None else _find_model(mot_path)
    notes = []
    if model_path is not None:
        from ..limits.derive import derive_limits, joint_map_structure

        limits = derive_limits(model_path)
        structure = joint_map_structure(limits)
        kinds = {n: c["motion_type"] for n, c in limits["coordinates"].items()}
    else:
        limits = structure = load_config("joint_limits")
        kinds = {n: ("translational" if n in _PELVIS_TRANSLATIONS else "rotational") for n in labels}
    angle = (lambda v: np.radians(v)) if in_degrees else (lambda v: v)
    coordinates = {n: (angle(values[:, i]) if kinds.get(n) == "rotational" else values[:, i])
                   for i, n in enumerate(labels) if n in kinds}
    body = BodyModel.default() if body is None else body
    frame = torch.tensor(FRAME_CHANGE, dtype=torch.float64)
    rest = _rest_joints(body)
    joint_map = JointMap.from_config(structure, rest_joints=rest)
    if model_path is not None:
        posed = [s.name not in limits["absent_segments"] and s.opensim_child is not None for s in joint_map.segments]
        bodies = [s.opensim_child for s, p in zip(joint_map.segments, posed) if p]
        hips = [(joint, name) for joint, name in HIP_BODIES if name in bodies]
        bones = {b for s, p in zip(joint_map.segments, posed) if p and s.bone is not None for b in s.bone[2:]}
        extra = sorted({name for _, name in hips} | (bones & set(limits["default_pose_origins"])))
        orientations, origins = opensim_body_poses(model_path, coordinates, bodies + extra)
        origin = {name: torch.as_tensor(origins[:, len(bodies) + i]) for i, name in enumerate(extra)}
        rotations = _complete_at_rest(joint_map, torch.as_tensor(orientations[:, :len(bodies)]), posed)
        rotations = _follow_bones(joint_map, rotations, origin, rest)
        global_orient, body_pose = joint_map.smpl_from_body_orientations(rotations)
        hips_opensim = torch.stack([origin[name] for _, name in hips], 1).mean(1)
        rest_anchor = rest[[joint for joint, _ in hips]].mean(0)  # SMPL hip-centre (midpoint)
        if limits["absent_segments"]:
            notes.append("segments the model lacks are at rest: " + ", ".join(limits["absent_segments"]))
    else:
        names = joint_map.coordinate_names
        known = [n for n in coordinates if n in joint_map.coordinate_index]
        if not known:
            raise MotionFileError(mot_path, f"no coordinate of the shipped Rajagopal 2016 map among {labels[:8]}...; "
                                            "pass the model it belongs to (--opensim-model)")
        negated = flexion_sign_conventions(mot_path, {n: np.degrees(coordinates[n]) for n in known})
        table = torch.zeros(len(times), len(names), dtype=torch.float64)
        for n in known:
            table[:, joint_map.coordinate_index[n]] = torch.as_tensor(-coordinates[n] if n in negated else coordinates[n])
        if negated:
            notes.append(f"{', '.join(negated)} written flexion-negative (told from the values): negated to "
                         "the shipped map's flexion-positive convention")
        global_orient, body_pose = joint_map.smpl_from_coordinates(table)
        hips_opensim = torch.stack([torch.as_tensor(coordinates.get(n, np.zeros(len(times))))
                                    for n in _PELVIS_TRANSLATIONS], -1)
        rest_anchor = rest[0]
    anchor = (frame.T @ hips_opensim[..., None])[..., 0]
    # SMPL: anchor = R_root (rest_anchor - rest_pelvis) + rest_pelvis + transl.
    transl = anchor - (global_orient @ (rest_anchor - rest[0])[:, None])[..., 0] - rest[0]
    used = sorted(set(coordinates) & (set(joint_map.coordinate_names) | set(_PELVIS_TRANSLATIONS)))
    unmeasured = unmeasured_joints(limits, used)
    return [{
        "global_orient": rotmat_to_rotvec(global_orient).float(),
        "body_pose": rotmat_to_rotvec(body_pose).float(),
        "transl": transl.float(),
        "betas": torch.zeros(body.num_betas),
        "fps": fps,
        UNMEASURED_JOINTS_KEY: tuple(unmeasured),
        "metadata": {
            "source": "opensim",
            "path": str(mot_path),
            "opensim_model": None if model_path is None else model_path.name,
            "conversion": "; ".join([
                "OpenSim body orientations -> SMPL local rotations (joint map derived from the model), forearms "
                "and feet turned onto OpenSim's joint centres; root at the hip-centre midpoint" if model_path is not None else
                "coordinates -> SMPL through the shipped Rajagopal 2016 joint map; root at pelvis origin"]
                + notes + ["OpenSim ground (x forward, z right) -> SMPL world (z forward, x left)"]),
            "coordinates": used,
            UNMEASURED_JOINTS_KEY: ",".join(unmeasured),  # shown in reports; scoring reads the field
        },
    }]


def _complete_at_rest(joint_map: JointMap, posed_orientations: torch.Tensor, posed: Sequence[bool]) -> torch.Tensor:
    """(T, S, 3, 3) orientations of every segment's child body: OpenSim's where ``posed``, else
    the body at SMPL rest relative to its parent (``O_c = O_p A_p^T A_c``, so that its SMPL
    local rotations are the identity)."""
    align = joint_map.alignment.to(posed_orientations)
    eye = torch.eye(3, dtype=posed_orientations.dtype).expand(posed_orientations.shape[:1] + (3, 3))
    by_body = [eye]  # ground, then each segment's child body (parents come first)
    source = iter(posed_orientations.unbind(1))
    for i, is_posed in enumerate(posed):
        parent = int(joint_map.parent_body[i])
        by_body.append(next(source) if is_posed else by_body[parent] @ align[parent].T @ align[i + 1])
    return torch.stack(by_body[1:], 1)


def _follow_bones(joint_map: JointMap, orientations: torch.Tensor, origins: Mapping[str, torch.Tensor],
                  rest: torch.Tensor) -> torch.Tensor:
    """Turn each two-body limb, per frame, by the smallest rotation that points its SMPL bone
    along the model's, keeping its twist.

    A rigid SMPL segment follows one OpenSim body, but the forearm's joint centres sit on two:
    the elbow on the ulna, the wrist on the radius (the segment's child), and pronation swings
    the ulna origin -> hand origin line by 5 deg over 0..90 deg in the OpenCap model; likewise
    the foot (ankle centre on the talus, toes on the calcaneus) with the subtalar angle. For
    those segments (the bone starts on another body than the child) the SMPL elbow -> wrist
    (ankle -> toes) is turned onto OpenSim's line; the others keep the body's orientation.

    Args:
        orientations: (T, S, 3, 3) child-body orientations in ground, ``joint_map.segments`` order.
        origins: body name -> (T, 3) origin in ground (metres); limbs whose bodies it lacks are
            left as they are. rest: (24, 3) SMPL rest joints.
    """
    from ..body.skeleton import JOINT_INDEX

    out = orientations.clone()
    frame = joint_map.frame_change.to(orientations)
    align = joint_map.alignment.to(orientations)
    for i, seg in enumerate(joint_map.segments):
        if seg.bone is None or seg.bone[2] == seg.opensim_child or not set(seg.bone[2:]) <= set(origins):
            continue
        smpl_from, smpl_to, body_from, body_to = seg.bone
        smpl_bone = (rest[JOINT_INDEX[smpl_to]] - rest[JOINT_INDEX[smpl_from]]).to(orientations)
        posed = frame.T @ out[:, i] @ align[i + 1].T @ smpl_bone  # SMPL world
        model = (origins[body_to] - origins[body_from]).to(orientations) @ frame  # ground -> SMPL world
        out[:, i] = frame @ _smallest_rotation(posed, model) @ frame.T @ out[:, i]
    return out


def _smallest_rotation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) rotations turning directions a (..., 3) onto b (..., 3) about a x b."""
    a = a / a.norm(dim=-1, keepdim=True)
    b = b / b.norm(dim=-1, keepdim=True)
    axis = torch.cross(a, b, dim=-1)
    angle = torch.atan2(axis.norm(dim=-1), (a * b).sum(-1))
    return rotvec_to_rotmat(axis / axis.norm(dim=-1, keepdim=True).clamp_min(1e-12) * angle[..., None])


def flexion_sign_conventions(mot_path: Union[str, Path], degrees: Mapping[str, np.ndarray]) -> List[str]:
    """The flexion hinges (knees, elbows) a ``.mot`` writes flexion-negative, told from its values.

    Models disagree on the sign of knee flexion (Rajagopal 2016 and OpenCap: 0..120 deg,
    flexion positive, as the shipped map; gait2392, gait2354 and Hamner 2010: -120..10,
    flexion negative). A knee or an elbow does not bend backwards beyond a few degrees
    (``configs/io.yaml``, ``opensim_without_model``): values all above -hyperextension are
    flexion-positive, all below +hyperextension flexion-negative. Each hinge's coordinates
    (both sides) are judged together.

    Args:
        mot_path: the file (for messages). degrees: coordinate name -> (T,) degrees.

    Returns:
        the coordinates to negate (flexion-negative), in the config's order.

    Raises:
        MotionFileError: a hinge's values fit neither convention, or both (a joint that stays
            within the hyperextension bound either way, not at zero), so the sign cannot be told.
    """
    config = load_config("io")["opensim_without_model"]
    bound = float(config["hyperextension_deg"])
    negated: List[str] = []
    for hinge, names in config["flexion_hinges"].items():
        present = [n for n in names if n in degrees]
        if not present:
            continue
        values = np.concatenate([np.asarray(degrees[n], dtype=np.float64) for n in present])
        low, high = float(values.min()), float(values.max())
        positive, negative = low >= -bound, high <= bound
        if positive and negative and max(-low, high) == 0.0:
            continue  # never bent: the sign does not matter
        if positive == negative:
            why = ("fit both conventions" if positive else "fit neither convention")
            raise MotionFileError(mot_path, f"without its model the {hinge} flexion sign cannot be told: "
                                            f"{', '.join(present)} span {low:.1f}..{high:.1f} deg and {why} "
                                            f"(flexion-positive >= {-bound:g}, flexion-negative <= {bound:g}); "
                                            "pass the model (--opensim-model MODEL.osim)")
        if negative:
            negated.extend(present)
    return negated


def unmeasured_joints(limits: Mapping[str, Any], coordinates: Iterable[str]) -> List[str]:
    """SMPL joints whose rotation an import leaves at rest because the motion does not measure it.

    A joint is measured when it belongs to the SMPL chain of a mapped segment with at least one
    coordinate that the model leaves unlocked and the motion holds; every other joint is a
    placeholder: those no segment maps (toes, fingers; neck and head when the model's torso
    carries the head) and those of segments whose coordinates are all locked (the wrists of
    the Rajagopal and Hamner models) or missing, that are welded (the OpenCap wrists) or whose
    bodies the model lacks (``absent_segments``: the arms of gait2392, a single-leg model's
    other leg).

    Args:
        limits: the model's derived limits (``derive_limits``), with ``coordinates`` (``locked``
            flags) and ``segments`` (``rotations`` with their coordinates).
        coordinates: names of the coordinates the motion holds.

    Returns:
        joint names in SMPL order.
    """
    present = set(coordinates)
    unlocked = {n for n, c in limits["coordinates"].items() if not c.get("locked", False)}
    measured = set()
    for seg in expand_segments():
        rotations = limits.get("segments", {}).get(seg.name, {}).get("rotations", [])
        if seg.opensim_child is not None and any(r["coordinate"] in present & unlocked for r in rotations):
            measured.update(seg.smpl_chain)
    return [name for name in JOINT_NAMES if name not in measured]


def _rest_joints(body) -> torch.Tensor:
    """(24, 3) rest joints of ``body`` at zero shape, float64."""
    zeros = torch.zeros(1, 3, dtype=torch.float64)
    with torch.no_grad():
        joints = body(zeros, zeros.new_zeros(1, 23, 3), None, need_vertices=False).joints
    return joints[0].to(torch.float64).cpu()
