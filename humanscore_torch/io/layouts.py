"""The motion layouts pose estimators and datasets write, recognised from their keys.

Each reader turns a loaded file (see :mod:`.containers`) into :class:`RawTrack` records: SMPL
parameters as float64 numpy arrays plus what the file says about its frame, rate and source.
:func:`finish_track` then converts them to the library's conventions (y up, axis-angle,
``num_betas`` shape coefficients, float32 torch tensors).

=============  ===============================================  =====================================
layout         keys                                             frame / conversion
=============  ===============================================  =====================================
canonical      ``format`` = "humanscore_torch/1", global_orient  y up, as written by ``save_motion``
               (T,3), body_pose (T,23,3), transl, betas, fps,
               metadata (JSON)
amass          ``poses`` (T,72 SMPL / 156 SMPL-H / 165 SMPL-X),  z up -> y up (-90 deg about x)
               ``trans``, ``betas``, ``mocap_framerate`` (SMPL-H)
               or ``mocap_frame_rate`` (SMPL-X)
wham           per track id: ``pose_world`` (T,72) +            world: y up already (WHAM returns
               ``trans_world`` (preferred), else ``pose`` +      y up); camera: y down -> y up
               ``trans`` (camera); ``betas`` (T,10),             (180 deg about x)
               ``frame_ids``; also one track without ids
gvhmr          ``smpl_params_global`` {body_pose (T,63),        global: y up (gravity-view);
               global_orient, transl, betas}; else               incam: y down -> y up
               ``smpl_params_incam``
prompthmr      ``people`` {id: {``smplx_world`` {pose (T,165),  world: y up; cam: y down -> y up
               shape, trans}, ``frames``, ``track_id``}}
smpl_params    ``global_orient``, ``body_pose`` ((T,23,3),       ``cam_t`` / ``pred_cam_t_full``:
(CameraHMR)    (T,69), rotation matrices, or SMPL-X (T,21,3)     camera -> y up; ``transl`` /
               / (T,63)), ``betas``, ``cam_t`` or ``transl``    ``trans``: taken as y-up world
=============  ===============================================  =====================================

TRAM, 4D-Humans/PHALP, CamSMPLify (CameraHMR), AIST++ and Meshcapade's ``.smpl``, whose frames,
units or rates follow their tools' own conventions, are read by :mod:`.estimators` (its table).

SMPL-H / SMPL-X body poses map onto SMPL's joints 0-21 (the same joints in the same order);
SMPL's hand joints 22 and 23 are left at rest. The metadata records every such mapping, and
lists those joints in the typed ``unmeasured_joints`` field of the sequence (self-penetration
leaves out the fingers, whose posture is then a placeholder; the metadata shows the same list).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import torch

from ..body.skeleton import UNMEASURED_JOINTS_KEY, joint_name_list
from ..config import load_config
from ..errors import MotionFileError
from ..rotations import rotmat_to_rotvec
from .frames import CAMERA_NOTE, CAMERA_TO_Y_UP, Z_UP_NOTE, Z_UP_TO_Y_UP, rest_pelvis_position, rotate_world

CANONICAL_FORMAT = "humanscore_torch/1"
# Keys that state a frame rate, in order of preference.
FPS_KEYS = ("fps", "frame_rate", "framerate", "frameRate", "mocap_framerate", "mocap_frame_rate")
# Scalar string keys copied into the metadata when a file has them.
INFO_KEYS = ("model", "model_name", "prompt", "intensity", "gender")
_NUM_SMPL_BODY_JOINTS = 23  # joints 1-23 of SMPL (the root is separate)
_NUM_SHARED_BODY_JOINTS = 21  # joints 1-21: shared by SMPL, SMPL-H and SMPL-X


@dataclass
class RawTrack:
    """One person's sequence as read from a file, before conversion (float64 numpy).

    Attributes:
        global_orient: (T, 3) root axis-angle.
        body_pose: (T, 23, 3) axis-angle of SMPL joints 1-23.
        transl: (T, 3) metres.
        betas: (K,) or (T, K), or None.
        frame: "y_up", "z_up" or "camera" (OpenCV camera: y down, z forward).
        camera_to_world: per-frame (R (T, 3, 3), t (T, 3)) taking camera points to a world that
            is itself y down (TRAM's SLAM world), or None.
        frame_ids: (T,) video frame index of each row, or None when rows are consecutive.
        track: person/track id, or None.
        fps: (rate, where it came from), or None when the file does not say.
        notes: conversions already applied while reading (human-readable).
        info: scalar metadata from the file (model, prompt, gender, ...).
        unmeasured_joints: SMPL joint names whose rotation the file does not carry (left at
            rest as placeholders), e.g. the hands under a 21-joint SMPL-H/SMPL-X body pose.
    """

    global_orient: np.ndarray
    body_pose: np.ndarray
    transl: np.ndarray
    betas: Optional[np.ndarray]
    frame: str
    camera_to_world: Optional[Tuple[np.ndarray, np.ndarray]] = None
    frame_ids: Optional[np.ndarray] = None
    track: Any = None
    fps: Optional[Tuple[float, str]] = None
    notes: List[str] = field(default_factory=list)
    info: Dict[str, Any] = field(default_factory=dict)
    unmeasured_joints: Tuple[str, ...] = ()


class _File:
    """The file being read: turns problems into MotionFileError(path, problem), and holds the
    bounds on its values (``configs/io.yaml``: ``max_frames``, ``rotation_tolerance``)."""

    def __init__(self, path: Path):
        self.path = path
        config = load_config("io")
        self.max_frames, self.rotation_tolerance = int(config["max_frames"]), float(config["rotation_tolerance"])

    def fail(self, problem: str) -> MotionFileError:
        """A MotionFileError naming this file and ``problem`` (returned, not raised)."""
        return MotionFileError(self.path, problem)

    def array(self, mapping: Dict[str, Any], key: str, where: str = "") -> np.ndarray:
        """``mapping[key]`` as a float64 array; missing or non-numeric -> MotionFileError."""
        name = f"{where}{key}"
        if key not in mapping:
            raise self.fail(f"key {name!r} is missing (keys found: {_key_list(mapping)})")
        value = mapping[key]
        kind = _number_kind(value)
        if kind in ("bool", "complex"):
            raise self.fail(f"key {name!r}: expected real numbers, found a {kind} array")
        try:
            rows = int(np.shape(value)[0]) if np.ndim(value) else 0
        except ValueError:  # ragged nested lists: refused below as not numeric
            rows = 0
        self.check_frames(f"key {name!r}", rows)
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().double().numpy()
        try:
            array = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise self.fail(f"key {name!r}: expected a numeric array, found {type(value).__name__}") from None
        return array

    def check_frames(self, what: str, num_frames: int) -> None:
        """Refuse a clip longer than ``io.max_frames`` (before its arrays are converted)."""
        if num_frames > self.max_frames:
            raise self.fail(f"{what}: {num_frames:,} frames exceed io.max_frames = {self.max_frames:,} "
                            f"(raise it in configs/io.yaml or with --config)")

    def shape_error(self, key: str, array: np.ndarray, expected: str) -> MotionFileError:
        """A MotionFileError saying ``key`` has the wrong shape (returned, not raised)."""
        return self.fail(f"key {key!r}: expected shape {expected}, found {tuple(array.shape)}")


def _key_list(mapping: Any) -> str:
    if not isinstance(mapping, dict):
        return f"(no keys: the file holds a {type(mapping).__name__})"
    return "[" + ", ".join(repr(k) for k in list(mapping)[:30]) + (", ..." if len(mapping) > 30 else "") + "]"


def _number_kind(value: Any) -> str:
    """"bool", "complex" or "other" for an array, tensor or scalar."""
    if isinstance(value, torch.Tensor):
        return "bool" if value.dtype == torch.bool else "complex" if value.dtype.is_complex else "other"
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, complex):
        return "complex"
    kind = value.dtype.kind if isinstance(value, (np.ndarray, np.generic)) else ""
    return {"b": "bool", "c": "complex"}.get(kind, "other")


# Deviation from orthonormality (largest |R^T R - I| entry) of a float32 rotation: round-off.
# Matrices within it are converted as they are; beyond it, up to io.rotation_tolerance, they are
# projected onto the nearest rotation first (with a note).
_ROTATION_ROUND_OFF = 1e-5


def _rotvec(f: _File, matrices: np.ndarray, key: str, notes: List[str]) -> np.ndarray:
    """Axis-angle of (..., 3, 3) rotation matrices, after checking they are rotations:
    orthonormal within ``io.rotation_tolerance`` and det +1. Near-rotations are projected onto
    the nearest rotation (U V^T of their SVD); others are refused, naming the key. Non-finite
    matrices pass (their frames are masked when scored)."""
    m = torch.from_numpy(np.ascontiguousarray(matrices))
    deviation = (m.transpose(-1, -2) @ m - torch.eye(3, dtype=m.dtype)).abs().amax(dim=(-2, -1))
    det = torch.linalg.det(m)
    finite = torch.isfinite(deviation) & torch.isfinite(det)
    bad = finite & ((deviation > f.rotation_tolerance) | (det <= 0))
    if bad.any():
        index = tuple(int(i) for i in bad.nonzero()[0])
        raise f.fail(f"key {key!r}: not rotation matrices (at index {index}: largest |R^T R - I| = "
                     f"{float(deviation[index]):.3g}, det = {float(det[index]):.3g}; a rotation has R^T R = I and "
                     f"det +1, within io.rotation_tolerance = {f.rotation_tolerance:g})")
    near = finite & (deviation > _ROTATION_ROUND_OFF)
    if near.any():
        u, _, vh = torch.linalg.svd(m[near])
        m = m.clone()
        m[near] = u @ vh
        _note(notes, f"{key}: {int(near.sum())} near-rotation matrices (largest |R^T R - I| = "
                     f"{float(deviation[near].max()):.2g}) projected onto the nearest rotation")
    _note(notes, "rotation matrices -> axis-angle")
    return rotmat_to_rotvec(m).numpy()


# ---------------------------------------------------------------------------------- pieces
def _root(f: _File, array: np.ndarray, key: str, notes: List[str]) -> np.ndarray:
    """Root rotation: (T, 3) / (T, 1, 3) axis-angle or (T, 3, 3) / (T, 1, 3, 3) matrices."""
    if array.ndim == 3 and array.shape[1] == 1 and array.shape[2] == 3:
        array = array[:, 0]
    if array.ndim == 4 and array.shape[1:] == (1, 3, 3):
        array = array[:, 0]
    if array.ndim == 2 and array.shape[1] == 3:
        return array
    if array.ndim == 3 and array.shape[1:] == (3, 3):
        return _rotvec(f, array, key, notes)
    raise f.shape_error(key, array, "(T, 3) axis-angle or (T, 3, 3) rotation matrices")


def _body(f: _File, array: np.ndarray, key: str, notes: List[str], source: str = "SMPL-X") -> np.ndarray:
    """Body pose of SMPL joints 1-23 (T, 23, 3): accepts SMPL (T, 69) / (T, 23, 3) /
    (T, 23, 3, 3) and 21-joint SMPL-H/SMPL-X body poses (T, 63) / (T, 21, 3) / (T, 21, 3, 3)."""
    t = array.shape[0] if array.ndim else 0
    joint_counts = (_NUM_SMPL_BODY_JOINTS, _NUM_SHARED_BODY_JOINTS)
    if array.ndim == 2 and array.shape[1] in tuple(3 * n for n in joint_counts):
        array = array.reshape(t, array.shape[1] // 3, 3)
    if array.ndim == 4 and array.shape[2:] == (3, 3) and array.shape[1] in joint_counts:
        array = _rotvec(f, array, key, notes)
    if array.ndim == 3 and array.shape[2] == 3 and array.shape[1] == _NUM_SMPL_BODY_JOINTS:
        return array
    if array.ndim == 3 and array.shape[2] == 3 and array.shape[1] == _NUM_SHARED_BODY_JOINTS:
        return _pad_hands(array, notes, source)
    raise f.shape_error(key, array, "(T, 23, 3), (T, 69) or (T, 23, 3, 3) for SMPL; "
                                    "(T, 21, 3), (T, 63) or (T, 21, 3, 3) for an SMPL-X body pose")


def _pad_hands(body21: np.ndarray, notes: List[str], source: str) -> np.ndarray:
    _note(notes, f"{source} body pose: joints 1-21 -> SMPL joints 1-21, SMPL hand joints 22-23 at rest")
    return np.concatenate([body21, np.zeros((body21.shape[0], 2, 3))], axis=1)


def _full_pose(f: _File, array: np.ndarray, key: str, notes: List[str]) -> Tuple[np.ndarray, np.ndarray, str]:
    """Root and body from a full pose: SMPL (T, 72) / (T, 24, 3) / (T, 24, 3, 3), or a longer
    SMPL-H (T, 156) / SMPL-X (T, 165) pose whose first 22 joints are SMPL's 0-21.

    Returns:
        (root (T, 3), body (T, 23, 3), body-model name).
    """
    if array.ndim == 4 and array.shape[2:] == (3, 3) and array.shape[1] >= 22:
        array = _rotvec(f, array[:, :24] if array.shape[1] == 24 else array[:, :22], key, notes)
    if array.ndim == 3 and array.shape[2] == 3:
        array = array.reshape(array.shape[0], array.shape[1] * 3)
    if array.ndim != 2 or array.shape[1] % 3 or array.shape[1] < 66:
        raise f.shape_error(key, array, "(T, 72) for SMPL, (T, 156) SMPL-H, (T, 165) SMPL-X, "
                                        "(T, 24, 3) or (T, 24, 3, 3)")
    joints = array.reshape(array.shape[0], array.shape[1] // 3, 3)
    if joints.shape[1] == 24:
        return joints[:, 0], joints[:, 1:], "SMPL"
    model = {52: "SMPL-H", 55: "SMPL-X", 22: "SMPL body"}.get(joints.shape[1], f"{joints.shape[1]}-joint")
    return joints[:, 0], _pad_hands(joints[:, 1:22], notes, model), model


def _translation(f: _File, array: np.ndarray, key: str) -> np.ndarray:
    if array.ndim == 3 and array.shape[1:] == (1, 3):
        array = array[:, 0]
    if array.ndim != 2 or array.shape[1] != 3:
        raise f.shape_error(key, array, "(T, 3) or (T, 1, 3)")
    return array


def _betas(f: _File, mapping: Dict[str, Any], key: str, where: str = "") -> Optional[np.ndarray]:
    if key not in mapping or mapping[key] is None:
        return None
    array = f.array(mapping, key, where)
    if array.ndim == 2 and array.shape[0] == 1:
        array = array[0]
    if array.ndim not in (1, 2) or array.shape[-1] == 0:
        raise f.shape_error(where + key, array, "(K,) or (T, K)")
    return array


# SMPL's hand joints 22-23, padded at rest under a 21-joint (SMPL-H / SMPL-X) body pose.
_HAND_JOINTS = ("left_hand", "right_hand")


def _unmeasured_by(model: str) -> Tuple[str, ...]:
    """The joints a body pose of ``model`` (as :func:`_full_pose` names it) leaves unmeasured:
    SMPL's hands under the 21 body joints of SMPL-H and SMPL-X, none under SMPL's 23."""
    return () if model == "SMPL" else _HAND_JOINTS


def _note(notes: List[str], text: str) -> None:
    if text not in notes:
        notes.append(text)


def _scalar_text(value: Any) -> Optional[str]:
    if isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind in "US":
        value = value.item()
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return value if isinstance(value, str) else None


def _file_fps(f: _File, mapping: Dict[str, Any]) -> Optional[Tuple[float, str]]:
    """The frame rate the file states (first of ``FPS_KEYS``), or None when it states none.
    A stated rate must be one finite real number > 0 (MotionBatch checks the upper bound):
    anything else (0, -30, NaN, inf, a string, an array, True) is refused, never replaced by
    a default."""
    key = next((k for k in FPS_KEYS if k in mapping and mapping[k] is not None), None)
    if key is None:
        return None
    value = mapping[key]
    array = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
    rate = float(array.reshape(-1)[0]) if array.dtype.kind in "iuf" and array.size == 1 else None
    if rate is None or not (np.isfinite(rate) and rate > 0):
        shown = repr(value) if array.size <= 4 else f"an array of shape {array.shape}"
        raise f.fail(f"key {key!r}: expected a frame rate > 0 Hz, found {shown[:80]}")
    return rate, f"file key {key!r}"


def _file_info(mapping: Dict[str, Any]) -> Dict[str, Any]:
    info = {}
    for key in INFO_KEYS:
        text = _scalar_text(mapping.get(key))
        if text is not None:
            info[key] = text
    return info


def _frame_ids(f: _File, mapping: Dict[str, Any], key: str, num_frames: int) -> Optional[np.ndarray]:
    if key not in mapping or mapping[key] is None:
        return None
    ids = f.array(mapping, key).reshape(-1)
    if ids.shape[0] != num_frames:
        raise f.fail(f"key {key!r}: {ids.shape[0]} frame ids for {num_frames} frames")
    if not np.all(np.isfinite(ids)) or np.any(np.abs(ids) > 2**62):
        raise f.fail(f"key {key!r}: frame ids must be finite integers")
    return _check_frame_ids(f, key, ids.astype(np.int64))


def _check_frame_ids(f: _File, key: str, ids: np.ndarray) -> np.ndarray:
    """Frame ids must increase strictly, and the span they cover (gaps become NaN rows) is a
    clip length, bounded by ``io.max_frames``."""
    if len(ids) > 1 and np.any(np.diff(ids) <= 0):
        raise f.fail(f"key {key!r}: frame ids must increase strictly")
    if len(ids):
        f.check_frames(f"key {key!r}: frame ids {int(ids[0])}..{int(ids[-1])} span", int(ids[-1] - ids[0]) + 1)
    return ids


def _check_frames(f: _File, arrays: Dict[str, np.ndarray]) -> int:
    counts = {k: a.shape[0] for k, a in arrays.items() if a is not None and a.ndim >= 2}
    if len(set(counts.values())) > 1:
        raise f.fail(f"per-frame arrays disagree on the number of frames: {counts}")
    num_frames = next(iter(counts.values()))
    if num_frames == 0:
        raise f.fail("the sequence has no frames")
    f.check_frames("the sequence", num_frames)
    return num_frames


# ---------------------------------------------------------------------------------- layouts
def _read_amass(f: _File, data: Dict[str, Any]) -> List[RawTrack]:
    notes: List[str] = []
    poses, trans = f.array(data, "poses"), _translation(f, f.array(data, "trans"), "trans")
    root, body, model = _full_pose(f, poses, "poses", notes)
    betas = _betas(f, data, "betas")
    _check_frames(f, {"poses": poses, "trans": trans, "betas": betas})
    info = {**_file_info(data), "body_model": model}
    return [RawTrack(root, body, trans, betas, "z_up", fps=_file_fps(f, data), notes=notes, info=info,
                     unmeasured_joints=_unmeasured_by(model))]


def _read_wham_track(f: _File, data: Dict[str, Any], track: Any = None, where: str = "") -> RawTrack:
    notes: List[str] = []
    world = "pose_world" in data and "trans_world" in data
    pose_key, trans_key = ("pose_world", "trans_world") if world else ("pose", "trans")
    pose = f.array(data, pose_key, where)
    root, body, model = _full_pose(f, pose, where + pose_key, notes)
    trans = _translation(f, f.array(data, trans_key, where), where + trans_key)
    betas = _betas(f, data, "betas", where)
    num_frames = _check_frames(f, {pose_key: pose, trans_key: trans, "betas": betas})
    if world:
        _note(notes, "WHAM world output (pose_world, trans_world) used: y-up")
    ids = _frame_ids(f, data, "frame_ids", num_frames)
    return RawTrack(root, body, trans, betas, "y_up" if world else "camera", frame_ids=ids, track=track,
                    fps=_file_fps(f, data), notes=notes, info={**_file_info(data), "body_model": model},
                    unmeasured_joints=_unmeasured_by(model))


def _read_wham(f: _File, data: Dict[str, Any]) -> List[RawTrack]:
    return [_read_wham_track(f, data)]


def _read_smpl_dict(f: _File, params: Dict[str, Any], where: str, frame: str, source: str,
                    translation_keys: Tuple[str, ...]) -> Tuple[RawTrack, int]:
    notes: List[str] = []
    go = f.array(params, "global_orient", where)
    root = _root(f, go, where + "global_orient", notes)
    bp = f.array(params, "body_pose", where)
    body = _body(f, bp, where + "body_pose", notes, source)
    key = next((k for k in translation_keys if k in params), None)
    if key is None:
        raise f.fail(f"no root translation: expected one of {list(translation_keys)} in "
                     f"{where or 'the file'} (keys found: {_key_list(params)})")
    trans = _translation(f, f.array(params, key, where), where + key)
    betas = _betas(f, params, "betas", where)
    num_frames = _check_frames(f, {"global_orient": go, "body_pose": bp, key: trans, "betas": betas})
    given_joints = bp.shape[1] // 3 if bp.ndim == 2 else bp.shape[1]
    model = source if given_joints == _NUM_SHARED_BODY_JOINTS else "SMPL"
    return RawTrack(root, body, trans, betas, frame, notes=notes, info={"body_model": model},
                    unmeasured_joints=_unmeasured_by(model)), num_frames


def _read_gvhmr(f: _File, data: Dict[str, Any]) -> List[RawTrack]:
    world = isinstance(data.get("smpl_params_global"), dict)
    key = "smpl_params_global" if world else "smpl_params_incam"
    if not isinstance(data.get(key), dict):
        raise f.fail(f"key {key!r}: expected a dict of SMPL-X parameters, found {type(data.get(key)).__name__}")
    track, _ = _read_smpl_dict(f, data[key], key + ".", "y_up" if world else "camera", "SMPL-X", ("transl",))
    used = "smpl_params_global (gravity-view world, y-up)" if world else "smpl_params_incam"
    track.notes.insert(0, f"GVHMR {used} used")
    _note(track.notes, "betas are SMPL-X shape coefficients, applied to the SMPL body as they are")
    track.info.update(_file_info(data))
    track.fps = _file_fps(f, data)
    return [track]


def _read_prompthmr(f: _File, data: Dict[str, Any]) -> List[RawTrack]:
    tracks = []
    for pid, person in data["people"].items():
        if not isinstance(person, dict):
            continue
        world = isinstance(person.get("smplx_world"), dict)
        key = "smplx_world" if world else "smplx_cam"
        if not isinstance(person.get(key), dict):
            raise f.fail(f"people[{pid!r}]: no 'smplx_world' or 'smplx_cam' dict (keys found: {_key_list(person)})")
        params, where, notes = person[key], f"people[{pid!r}].{key}.", []
        pose = f.array(params, "pose", where)
        root, body, model = _full_pose(f, pose, where + "pose", notes)
        trans = _translation(f, f.array(params, "trans", where), where + "trans")
        betas = _betas(f, params, "shape", where)
        num_frames = _check_frames(f, {"pose": pose, "trans": trans, "shape": betas})
        notes.insert(0, f"PromptHMR {key} used" + (" (y-up world)" if world else ""))
        _note(notes, "betas are SMPL-X shape coefficients, applied to the SMPL body as they are")
        track_id = person.get("track_id", pid)
        track_id = track_id.item() if isinstance(track_id, (np.generic, np.ndarray)) else track_id
        tracks.append(RawTrack(root, body, trans, betas, "y_up" if world else "camera",
                               frame_ids=_frame_ids(f, person, "frames", num_frames), track=track_id,
                               fps=_file_fps(f, data), notes=notes, info={**_file_info(data), "body_model": model},
                               unmeasured_joints=_unmeasured_by(model)))
    if not tracks:
        raise f.fail("key 'people' holds no person")
    return tracks


def _read_smpl_params(f: _File, data: Dict[str, Any]) -> List[RawTrack]:
    camera_keys, world_keys = ("cam_t", "pred_cam_t_full"), ("transl", "trans")
    camera_key = next((k for k in camera_keys if k in data), None)
    if camera_key is None and not any(k in data for k in world_keys):
        raise f.fail(f"no root translation: expected one of {list(camera_keys + world_keys)} "
                     f"(keys found: {_key_list(data)})")
    keys = (camera_key,) if camera_key else world_keys
    track, _ = _read_smpl_dict(f, data, "", "camera" if camera_key else "y_up", "SMPL-X", keys)
    if camera_key:
        track.notes.insert(0, f"root translation from {camera_key!r} (camera frame)")
    else:
        _note(track.notes, "no camera translation key: 'transl' taken as y-up world coordinates")
    if track.info.get("body_model") == "SMPL-X":
        _note(track.notes, "betas are SMPL-X shape coefficients, applied to the SMPL body as they are")
    track.info.update(_file_info(data))
    track.fps = _file_fps(f, data)
    return [track]


def _read_canonical(f: _File, data: Dict[str, Any]) -> List[RawTrack]:
    import json

    version = _scalar_text(data.get("format"))
    if version != CANONICAL_FORMAT:
        raise f.fail(f"canonical format {version!r} is not supported (expected {CANONICAL_FORMAT!r})")
    notes: List[str] = []
    go, bp = f.array(data, "global_orient"), f.array(data, "body_pose")
    if go.ndim != 2 or go.shape[1] != 3:
        raise f.shape_error("global_orient", go, "(T, 3)")
    if bp.ndim != 3 or bp.shape[1:] != (23, 3):
        raise f.shape_error("body_pose", bp, "(T, 23, 3)")
    trans = _translation(f, f.array(data, "transl"), "transl")
    betas = _betas(f, data, "betas")
    _check_frames(f, {"global_orient": go, "body_pose": bp, "transl": trans, "betas": betas})
    try:
        stored = json.loads(_scalar_text(data.get("metadata")) or "{}")
    except json.JSONDecodeError as exc:
        raise f.fail(f"key 'metadata': not valid JSON ({exc})") from None
    listed = tuple(joint_name_list(stored.pop(UNMEASURED_JOINTS_KEY, None)))
    return [RawTrack(go, bp, trans, betas, "y_up", fps=_file_fps(f, data), notes=notes, info=stored,
                     unmeasured_joints=listed)]


# The estimators' own conventions (TRAM's world, PHALP's focal, AIST++'s scale, ...) live in
# .estimators, which builds on the pieces above; imported here, after them, to fill the table.
from .estimators import (is_aistpp, is_camsmplify, is_phalp, is_smplcodec, level_from_feet,  # noqa: E402
                         read_aistpp, read_camsmplify, read_phalp, read_smplcodec, read_tram)

# (name, test on the loaded dict, reader). Tried in order; the first match reads the file.
_SINGLE_LAYOUTS: Tuple[Tuple[str, Callable[[Dict[str, Any]], bool], Callable], ...] = (
    ("canonical", lambda d: "format" in d and "global_orient" in d, _read_canonical),
    ("gvhmr", lambda d: "smpl_params_global" in d or "smpl_params_incam" in d, _read_gvhmr),
    ("prompthmr", lambda d: isinstance(d.get("people"), dict), _read_prompthmr),
    ("tram", lambda d: "pred_rotmat" in d, read_tram),
    ("aistpp", is_aistpp, read_aistpp),
    ("smplcodec", is_smplcodec, read_smplcodec),
    ("camsmplify", is_camsmplify, read_camsmplify),
    ("amass", lambda d: "poses" in d and "trans" in d, _read_amass),
    ("wham", lambda d: ("pose_world" in d and "trans_world" in d) or ("pose" in d and "trans" in d), _read_wham),
    ("smpl_params", lambda d: "global_orient" in d and "body_pose" in d, _read_smpl_params),
)
LAYOUT_NAMES = tuple(name for name, _, _ in _SINGLE_LAYOUTS) + ("phalp",)
# The tool that writes each layout (metadata ``estimator``) where the layout names one.
_ESTIMATORS = {"gvhmr": "GVHMR", "prompthmr": "PromptHMR", "wham": "WHAM"}


def _expected_layouts() -> str:
    return ("expected one of: AMASS (poses, trans, betas, mocap_framerate); WHAM (per track: pose_world/"
            "trans_world or pose/trans, betas); TRAM (pred_rotmat, pred_shape, pred_trans); GVHMR "
            "(smpl_params_global); PromptHMR (people/<id>/smplx_world); 4D-Humans/PHALP (per frame: tid, smpl, "
            "camera); CamSMPLify output.npz (pose, shape, cam_t); AIST++ (smpl_poses, smpl_trans, smpl_scaling); "
            "Meshcapade .smpl (bodyPose, bodyTranslation); CameraHMR/SMPL (global_orient, "
            f"body_pose, betas, cam_t or transl); {CANONICAL_FORMAT} (save_motion)")


def read_layout(path: Path, data: Any) -> Tuple[str, List[RawTrack]]:
    """Recognise the layout of a loaded file and read its tracks.

    A dict whose values are all dicts of one single-track layout (WHAM's results keyed by track
    id) gives one track per key. Tracks only in a camera frame (no world from their tool) are
    levelled with the ground their feet stand on (:func:`.estimators.level_from_feet`).

    Returns:
        (layout name, tracks).

    Raises:
        MotionFileError: unknown layout (naming the keys found), missing keys, wrong shapes.
    """
    name, tracks = _read_tracks(_File(path), data)
    for track in tracks:
        if name in _ESTIMATORS:
            track.info.setdefault("estimator", _ESTIMATORS[name])
        # A camera frame carries no gravity: level it with the ground the feet stand on.
        if track.frame == "camera" and track.camera_to_world is None:
            level_from_feet(track)
    return name, tracks


def _read_tracks(f: _File, data: Any) -> Tuple[str, List[RawTrack]]:
    if isinstance(data, dict):
        for name, matches, reader in _SINGLE_LAYOUTS:
            if matches(data):
                return name, reader(f, data)
        if is_phalp(data):
            return "phalp", read_phalp(f, data)
        nested = [(k, v) for k, v in data.items() if isinstance(v, dict)]
        if nested and len(nested) == len(data):
            kinds = {next((n for n, m, _ in _SINGLE_LAYOUTS if m(v)), None) for _, v in nested}
            if len(kinds) == 1 and None not in kinds:
                name = kinds.pop()
                reader = next(r for n, _, r in _SINGLE_LAYOUTS if n == name)
                tracks = []
                for key, value in nested:
                    key = key.item() if isinstance(key, np.generic) else key
                    # WHAM's results are keyed by track id; name the track in error messages.
                    found = [_read_wham_track(f, value, key, f"[{key!r}].")] if name == "wham" else reader(f, value)
                    for track in found:
                        track.track = key if track.track is None else track.track
                    tracks.extend(found)
                return name, tracks
    raise f.fail(f"unknown motion layout; keys found: {_key_list(data)}; {_expected_layouts()}")


# ---------------------------------------------------------------------------------- finishing
def _fill_gaps(track: RawTrack) -> Optional[str]:
    """Rows at their frame ids; missing frames become NaN rows (masked by MotionBatch)."""
    ids = track.frame_ids
    if ids is None:
        return None
    span = int(ids[-1] - ids[0]) + 1
    if span == len(ids):
        return None
    rows = ids - ids[0]

    def spread(a: Optional[np.ndarray]) -> Optional[np.ndarray]:
        if a is None or (a is track.betas and a.ndim == 1):
            return a
        out = np.full((span,) + a.shape[1:], np.nan)
        out[rows] = a
        return out

    track.global_orient, track.body_pose = spread(track.global_orient), spread(track.body_pose)
    track.transl, track.betas = spread(track.transl), spread(track.betas)
    if track.camera_to_world is not None:
        track.camera_to_world = tuple(spread(a) for a in track.camera_to_world)
    return f"{span - len(ids)} missing frames (gaps in the frame ids) filled with NaN, masked when scored"


def _fit_betas(betas: Optional[np.ndarray], num_betas: int, notes: List[str], path: Path) -> np.ndarray:
    """``num_betas`` shape coefficients (cut or zero-padded), each within ``io.max_abs_betas``
    standard deviations: beyond that the body is no human shape (and a far-off mesh makes
    self-penetration and mass estimates unbounded work)."""
    if betas is None:
        _note(notes, "no betas in file: mean shape (zeros)")
        return np.zeros(num_betas)
    k = betas.shape[-1]
    if k > num_betas:
        if np.any(np.nan_to_num(betas[..., num_betas:]) != 0):
            _note(notes, f"betas: {k} coefficients cut to the first {num_betas}")
        betas = betas[..., :num_betas]
    elif k < num_betas:
        betas = np.concatenate([betas, np.zeros(betas.shape[:-1] + (num_betas - k,))], axis=-1)
    limit = float(load_config("io")["max_abs_betas"])
    largest = float(np.max(np.abs(betas), initial=0.0, where=np.isfinite(betas)))
    if largest > limit:
        raise MotionFileError(path, f"betas: |beta| = {largest:.3g} exceeds io.max_abs_betas = {limit:g} standard "
                                    f"deviations of the shape space (raise it in configs/io.yaml or with --config)")
    return betas


def finish_track(
    track: RawTrack,
    path: Path,
    layout: str,
    fps: Optional[float],
    default_fps: float,
    num_betas: int,
    body=None,
    default_source: str = "configs/io.yaml default_fps",
) -> Dict[str, Any]:
    """Convert one raw track to a sequence dict for :meth:`MotionBatch.from_sequences`.

    Args:
        track: as read by a layout reader.
        path: the file (for the metadata).
        layout: the layout name.
        fps: the caller's frame rate, overriding the file's; None to use the file's or default.
        default_fps: rate used when neither the caller nor the file gives one.
        num_betas: number of shape coefficients to keep.
        body: a BodyModel whose rest pelvis makes the frame conversion exact, or None.
        default_source: where ``default_fps`` comes from (said in ``fps_source``).

    Returns:
        dict with float32 tensors ``global_orient`` (T, 3), ``body_pose`` (T, 23, 3),
        ``transl`` (T, 3), ``betas`` (num_betas,) or (T, num_betas), a float ``fps``,
        ``unmeasured_joints`` (tuple of SMPL joint names, see :class:`RawTrack`) and
        ``metadata`` (path, layout, track, fps_source, conversions, ... : all scalars).
    """
    notes = list(track.notes)
    gap_note = _fill_gaps(track)
    betas = _fit_betas(track.betas, num_betas, notes, path)
    root, transl = track.global_orient, track.transl
    if track.frame != "y_up":
        num_frames = root.shape[0]
        rotation = Z_UP_TO_Y_UP if track.frame == "z_up" else CAMERA_TO_Y_UP
        offset = np.zeros(3)
        if track.camera_to_world is not None:
            cam_r, cam_t = (torch.from_numpy(np.asarray(a, dtype=np.float64)) for a in track.camera_to_world)
            offset = (rotation @ cam_t[..., None])[..., 0]
            rotation = rotation @ cam_r
        rest = None if body is None else rest_pelvis_position(body, torch.from_numpy(betas), num_frames)
        root_t, transl_t = rotate_world(torch.from_numpy(root), torch.from_numpy(transl), rotation, rest)
        root, transl = root_t.numpy(), (transl_t + offset).numpy()
        _note(notes, Z_UP_NOTE if track.frame == "z_up" else CAMERA_NOTE)
        _note(notes, "translation exact (rest pelvis of the given body)" if body is not None else
              "translation exact up to the constant offset (Q - I) j0, j0 = rest pelvis (pass body= to include it)")
    if gap_note:
        _note(notes, gap_note)
    if fps is not None:
        rate, source = float(fps), "given by the caller"
    elif track.fps is not None:
        rate, source = track.fps
    else:
        rate, source = float(default_fps), f"not in the file: default {default_fps:g} fps ({default_source})"
    info = dict(track.info)
    metadata: Dict[str, Any] = {}
    for key in ("path", "layout"):
        if key in info:
            metadata[f"source_{key}"] = info.pop(key)
    earlier = info.pop("conversions", "")
    metadata.update(info)
    metadata.update({
        "path": str(path),
        "layout": layout,
        "fps_source": source,
        "conversions": "; ".join(n for n in ([earlier] if earlier else []) + notes),
    })
    if track.unmeasured_joints:  # shown in reports; scoring reads the sequence's field
        metadata[UNMEASURED_JOINTS_KEY] = ",".join(track.unmeasured_joints)
    if track.track is not None:
        metadata["track"] = track.track if isinstance(track.track, (int, str)) else str(track.track)
    if track.frame_ids is not None:
        metadata["first_frame"] = int(track.frame_ids[0])

    def f32(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))

    return {"global_orient": f32(root), "body_pose": f32(track.body_pose), "transl": f32(transl),
            "betas": f32(betas), "fps": rate, UNMEASURED_JOINTS_KEY: tuple(track.unmeasured_joints),
            "metadata": metadata}
