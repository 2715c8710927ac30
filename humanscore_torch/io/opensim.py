"""OpenSim import: an ``.osim`` model plus a ``.mot`` coordinates file -> SMPL poses (spec 3).

With a model (``model_path``, or the only ``.osim`` next to the ``.mot``), OpenSim itself poses
the model at every frame; the orientations of the bodies the joint map pairs with SMPL
segments (pelvis, femurs, tibias, calcanei, torso, humeri, radii, hands) become SMPL local
rotations through :meth:`~humanscore_torch.limits.joint_map.JointMap.smpl_from_body_orientations`,
with the joint structure derived from that same model. The root translation puts the SMPL
body's hip-centre midpoint on the model's (femur origins), through the frame change
(OpenSim x forward, z right -> SMPL z forward, x left). Without a model, the coordinates go
through the shipped Rajagopal 2016 joint map (pure torch) and the pelvis origin is the SMPL
pelvis joint.

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
from ..rotations import rotmat_to_rotvec

# The pelvis translation coordinates of the OpenSim gait models (ground frame, metres).
_PELVIS_TRANSLATIONS = ("pelvis_tx", "pelvis_ty", "pelvis_tz")


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
            the same folder, else the shipped Rajagopal 2016 joint map without OpenSim.
        body: the SMPL-compatible :class:`~humanscore_torch.body.BodyModel` the poses are for
            (its rest hip centres place the root); None: ``BodyModel.default()``.
        fps: frame rate when the file's times are unusable; otherwise 1 / median time step.

    Returns:
        ``[sequence]`` with ``global_orient`` (T, 3), ``body_pose`` (T, 23, 3) axis-angle,
        ``transl`` (T, 3) metres (SMPL world: y up, z forward), ``betas`` (K,) zeros,
        ``fps`` (float), ``unmeasured_joints`` (the joints left at rest, see
        :func:`unmeasured_joints`) and ``metadata`` (source, model, coordinates used, the same
        joint list for reports), float32 tensors.

    Raises:
        MotionFileError: the file is unreadable, has no usable times, or lacks coordinates.
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
    if model_path is not None:
        from ..limits.derive import derive_limits

        limits = derive_limits(model_path)
        kinds = {n: c["motion_type"] for n, c in limits["coordinates"].items()}
    else:
        limits = load_config("joint_limits")
        kinds = {n: ("translational" if n in _PELVIS_TRANSLATIONS else "rotational") for n in labels}
    angle = (lambda v: np.radians(v)) if in_degrees else (lambda v: v)
    coordinates = {n: (angle(values[:, i]) if kinds.get(n) == "rotational" else values[:, i])
                   for i, n in enumerate(labels) if n in kinds}
    body = BodyModel.default() if body is None else body
    frame = torch.tensor(FRAME_CHANGE, dtype=torch.float64)
    rest = _rest_joints(body)
    joint_map = JointMap.from_config(limits, rest_joints=rest)
    if model_path is not None:
        bodies = [s.opensim_child or "torso" for s in joint_map.segments]
        orientations, origins = opensim_body_poses(model_path, coordinates, bodies + ["femur_r", "femur_l"])
        rotations = torch.as_tensor(orientations[:, :len(bodies)])
        global_orient, body_pose = joint_map.smpl_from_body_orientations(rotations)
        hips_opensim = torch.as_tensor(origins[:, -2:].mean(1))
        rest_anchor = rest[[1, 2]].mean(0)  # SMPL hip-centre midpoint
    else:
        names = joint_map.coordinate_names
        table = torch.zeros(len(times), len(names), dtype=torch.float64)
        for n, v in coordinates.items():
            if n in joint_map.coordinate_index:
                table[:, joint_map.coordinate_index[n]] = torch.as_tensor(v)
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
            "conversion": ("OpenSim body orientations -> SMPL local rotations (joint map derived from the model); "
                           "root at the hip-centre midpoint" if model_path is not None else
                           "coordinates -> SMPL through the shipped Rajagopal 2016 joint map; root at pelvis origin")
                          + "; OpenSim ground (x forward, z right) -> SMPL world (z forward, x left)",
            "coordinates": used,
            UNMEASURED_JOINTS_KEY: ",".join(unmeasured),  # shown in reports; scoring reads the field
        },
    }]


def unmeasured_joints(limits: Mapping[str, Any], coordinates: Iterable[str]) -> List[str]:
    """SMPL joints whose rotation an import leaves at rest because the motion does not measure it.

    A joint is measured when it belongs to the SMPL chain of a mapped segment with at least one
    coordinate that the model leaves unlocked and the motion holds; every other joint is a
    placeholder: those no segment maps (toes, fingers; neck and head when the model's torso
    carries the head) and those of segments whose coordinates are all locked (the wrists of
    the Rajagopal and Hamner models) or missing.

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
