"""Readers for the outputs whose frame, units or rate follow their tool's own conventions.

Each reader follows how the tool itself writes and uses its output (their public code, cited
per reader) and returns :class:`~.layouts.RawTrack` records; :mod:`.layouts` detects them.

================  ===============================================  =================================
layout            keys                                             frame / conversion
================  ===============================================  =================================
tram              ``hps/hps_track_K.npy``: ``pred_rotmat``         camera; with ``../camera.npy``:
                  (T,24,3,3), ``pred_shape``, ``pred_trans``        ``world_cam_R/T`` (gravity-
                  (T,1,3), ``frame``                                levelled, y up) or, from older
                                                                   TRAM, ``pred_cam_R/T`` (SLAM
                                                                   world, levelled from the feet)
phalp             per frame path: ``tid``, ``smpl`` [{global_      camera at PHALP's 5000 px focal;
(4D-Humans)       orient (1,3,3), body_pose (23,3,3), betas}],     depth rescaled to the image
                  ``camera`` [(3,)], ``size`` [[H, W]], ``time``    diagonal focal; levelled
camsmplify        CamSMPLify ``output.npz``: ``pose`` (N,72),       camera (metric, the image's own
(CameraHMR)       ``shape`` (N,10), ``cam_t`` (N,3), ``imgname``    intrinsics); levelled
aistpp            ``smpl_poses`` (T,72), ``smpl_trans`` (T,3),     y up; ``smpl_trans /
                  ``smpl_scaling`` (1,)                             smpl_scaling``; 60 fps
smplcodec         Meshcapade ``.smpl``: ``smplVersion``,           y up; ``frameRate``
                  ``bodyPose`` (T,22|24,3) root first,
                  ``bodyTranslation``, ``shapeParameters``,
                  ``frameCount``, ``frameRate``
================  ===============================================  =================================

Every track that is only in a camera frame (here and in :mod:`.layouts`) is levelled with the
ground its feet stand on by :func:`level_from_feet`, called by :func:`.layouts.read_layout`.

Meshes (CameraHMR's and 4D-Humans' demos write ``.obj`` files) carry no SMPL parameters;
:func:`refuse_mesh_file` says so instead of a decoding error.
"""

from __future__ import annotations

import functools
import math
import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
import torch

from ..config import load_config
from ..errors import MotionFileError
from .frames import CAMERA_TO_Y_UP, ground_levelling, rest_pelvis_position, rotate_world
from .layouts import (RawTrack, _betas, _body, _check_frame_ids, _check_frames, _File, _file_fps, _file_info, _frame_ids,
                      _full_pose, _note, _read_smpl_dict, _translation, _unmeasured_by)

# Mesh files: vertices and faces, no pose parameters.
MESH_EXTENSIONS = (".obj", ".ply", ".stl", ".off", ".glb", ".gltf")
_C = CAMERA_TO_Y_UP.numpy()  # its own inverse


def refuse_mesh_file(path: Path) -> None:
    """Raise a MotionFileError that says what to pass instead when ``path`` is a mesh file."""
    if Path(path).suffix.lower() in MESH_EXTENSIONS:
        raise MotionFileError(path, "a mesh carries no SMPL parameters, only vertices (CameraHMR's and "
                                    "4D-Humans' demos write only .obj meshes); use CamSMPLify's output.npz "
                                    "(pose, shape, cam_t) or save the SMPL parameters (global_orient, "
                                    "body_pose, betas, cam_t) with np.savez")


@functools.lru_cache(maxsize=1)
def _levelling_body():
    from ..body.model import BodyModel

    return BodyModel.default()


def _camera_to_world(track: RawTrack) -> Tuple[np.ndarray, np.ndarray]:
    """The track's camera -> (y-down) world R (T, 3, 3), t (T, 3); identity when it has none."""
    if track.camera_to_world is not None:
        return tuple(np.asarray(a, dtype=np.float64) for a in track.camera_to_world)
    frames = track.global_orient.shape[0]
    return np.tile(np.eye(3), (frames, 1, 1)), np.zeros((frames, 3))


def _world_joints(track: RawTrack) -> torch.Tensor:
    """Joints (T, 24, 3) of a camera-frame track as :func:`~.layouts.finish_track` will place
    them (camera -> ``camera_to_world`` -> y up), on the default body's mean shape."""
    body = _levelling_body()
    frames = track.global_orient.shape[0]
    cam_r, cam_t = _camera_to_world(track)
    rotation, offset = torch.from_numpy(_C @ cam_r), torch.from_numpy(cam_t @ _C.T)
    root, transl = rotate_world(torch.from_numpy(track.global_orient), torch.from_numpy(track.transl), rotation,
                                rest_pelvis_position(body, None, frames))
    with torch.no_grad():
        return body(root, torch.from_numpy(track.body_pose), None, transl + offset, need_vertices=False).joints


def level_from_feet(track: RawTrack) -> None:
    """Make a camera-frame track's world level with the ground its feet stand on.

    The levelling rotation ``L`` (y-up frame) is folded into ``camera_to_world`` so that
    :func:`~.layouts.finish_track`'s ``C R`` becomes ``L C R`` (``C`` = camera -> y up); the
    note says what was found, or why the track stays as it is.
    """
    levelling, text = ground_levelling(_world_joints(track), load_config("io")["levelling"])
    _note(track.notes, text)
    if levelling is None:
        return
    cam_r, cam_t = _camera_to_world(track)
    turn = _C @ levelling.numpy() @ _C
    track.camera_to_world = (turn @ cam_r, cam_t @ turn.T)


# ------------------------------------------------------------------------------------- TRAM
def _tram_camera(f: _File, frames: Optional[np.ndarray], num_frames: int):
    """TRAM's ``camera.npy`` next to the ``hps/`` folder: camera-to-world R, T per video frame.

    TRAM (scripts/estimate_camera.py, lib/camera/est_gravity.py ``align_cam_to_world``) saves
    ``world_cam_R/T`` = the gravity-levelled, y-up world its renderer and evaluation use
    (lib/pipeline/visualization.py), and ``pred_cam_R/T``, the SLAM world of the first camera
    (y down, tilted with it), which older TRAM saved alone.

    Returns:
        None without camera.npy, else (R (T, 3, 3), t (T, 3), levelled, key names) where R, t
        take camera points to a y-down world, as ``RawTrack.camera_to_world`` expects.
    """
    camera_file = f.path.parent.parent / "camera.npy"
    if f.path.parent.name != "hps" or not camera_file.is_file():
        return None
    from .containers import read_container

    camera = read_container(camera_file)
    if not isinstance(camera, dict):
        return None
    keys = next((k for k in (("world_cam_R", "world_cam_T"), ("pred_cam_R", "pred_cam_T"))
                 if k[0] in camera and k[1] in camera), None)
    if keys is None:
        return None
    rotations, offsets = (_File(camera_file).array(camera, k) for k in keys)
    index = np.arange(num_frames) if frames is None else frames
    if rotations.ndim != 3 or rotations.shape[1:] != (3, 3) or offsets.shape != (rotations.shape[0], 3) \
            or index.min() < 0 or index.max() >= rotations.shape[0]:
        raise MotionFileError(camera_file, f"{keys[0]} {rotations.shape} / {keys[1]} {offsets.shape} do not "
                                           f"cover frames up to {int(index.max())} of {f.path.name}")
    rotations, offsets = rotations[index], offsets[index]
    levelled = keys[0] == "world_cam_R"
    if levelled:  # world_cam is y up already: pre-undo the camera flip finish_track applies
        rotations, offsets = _C @ rotations, offsets @ _C.T
    return rotations, offsets, levelled, keys


def read_tram(f: _File, data: Dict[str, Any]) -> List[RawTrack]:
    """TRAM ``hps/hps_track_K.npy`` (np.save of a dict of torch tensors, scripts/estimate_humans.py)."""
    notes: List[str] = []
    rotmats = f.array(data, "pred_rotmat")
    if rotmats.ndim != 4 or rotmats.shape[1:] != (24, 3, 3):
        raise f.shape_error("pred_rotmat", rotmats, "(T, 24, 3, 3)")
    root, body, _ = _full_pose(f, rotmats, "pred_rotmat", notes)
    trans = _translation(f, f.array(data, "pred_trans"), "pred_trans")
    betas = _betas(f, data, "pred_shape")
    num_frames = _check_frames(f, {"pred_rotmat": rotmats, "pred_trans": trans, "pred_shape": betas})
    ids = _frame_ids(f, data, "frame", num_frames)
    match = re.search(r"track_(\d+)", f.path.stem)
    track = RawTrack(root, body, trans, betas, "camera", frame_ids=ids,
                     track=int(match.group(1)) if match else None, fps=_file_fps(f, data), notes=notes,
                     info={**_file_info(data), "estimator": "TRAM", "body_model": "SMPL"})
    camera = _tram_camera(f, ids, num_frames)
    if camera is None:
        _note(notes, "no ../camera.npy next to hps/: TRAM's camera-frame output")
        return [track]
    rotations, offsets, levelled, keys = camera
    track.camera_to_world = (rotations, offsets)
    if levelled:
        _note(notes, "camera -> TRAM's gravity-levelled y-up world with ../camera.npy (world_cam_R, world_cam_T)")
    else:
        _note(notes, "camera -> TRAM's SLAM world with ../camera.npy (pred_cam_R, pred_cam_T; no world_cam_R/T: "
                     "older TRAM), the first camera's frame")
        level_from_feet(track)
    return [track]


# --------------------------------------------------------------------------- 4D-Humans / PHALP
# PHALP (phalp/configs/base.py, phalp/models/hmar/hmar.py get_3d_parameters) computes each
# detection's ``camera`` translation for a 256 px square (the frame padded to max(H, W) and
# resized, RenderConfig.res) seen with a 5000 px focal length (ExtraConfig.FOCAL_LENGTH): a
# focal of 5000 / 256 * max(H, W) full-frame pixels (37,500 px for 1920 px), a 3 deg field of
# view. The image position of the body is right; its depth is not metric for a real camera.
PHALP_FOCAL_PX = 5000.0
PHALP_CROP_PX = 256.0


def is_phalp(data: Dict[str, Any]) -> bool:
    """True for PHALP's results: a dict of per-frame dicts with ``smpl`` and ``tid`` lists."""
    return bool(data) and all(isinstance(v, dict) and "smpl" in v and "tid" in v for v in data.values())


def _phalp_depth_scale(size: Any) -> Optional[float]:
    """Factor taking PHALP's depth to that of a camera whose focal length is the image
    diagonal (the field of view WHAM's demo assumes for an unknown camera, 53 deg diagonal):
    the image position is kept, so x and y stay and only z scales. None without a size."""
    try:
        height, width = (float(v) for v in np.asarray(size, dtype=np.float64).reshape(-1)[:2])
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(height) and math.isfinite(width) and height > 0 and width > 0):
        return None
    return math.hypot(height, width) / (PHALP_FOCAL_PX / PHALP_CROP_PX * max(height, width))


def read_phalp(f: _File, data: Dict[str, Any]) -> List[RawTrack]:
    """4D-Humans / PHALP: one dict per video frame (keyed by frame path) with per-detection
    lists ``tid``, ``smpl`` ({global_orient (1,3,3), body_pose (23,3,3), betas (10,)}),
    ``camera`` (camera-frame translation) and ``size`` ([H, W]); ``time`` is the frame number.
    Regrouped by track (phalp/trackers/PHALP.py, joblib.dump of final_visuals_dic)."""
    rows: Dict[Any, List[Tuple[int, Dict[str, Any], Any, Optional[float]]]] = {}
    for order, (name, frame) in enumerate(data.items()):
        time = int(np.asarray(frame.get("time", order)).reshape(-1)[0])
        count = len(frame["tid"])
        cameras = frame.get("camera")
        cameras = [None] * count if cameras is None else cameras
        sizes = frame.get("size")
        sizes = [None] * count if sizes is None else sizes
        for tid, smpl, camera, size in zip(frame["tid"], frame["smpl"], cameras, sizes):
            if isinstance(smpl, dict) and camera is not None:
                tid = tid.item() if isinstance(tid, np.generic) else tid
                rows.setdefault(tid, []).append((time, smpl, camera, _phalp_depth_scale(size)))
    if not rows:
        raise f.fail("4D-Humans/PHALP file: no detection has both SMPL parameters and a camera translation")
    tracks = []
    for tid, entries in sorted(rows.items(), key=lambda item: str(item[0])):
        entries.sort(key=lambda e: e[0])
        stack = lambda key: np.stack([f.array(e[1], key, f"track {tid!r}: smpl.") for e in entries])  # noqa: E731
        cam_t = np.stack([np.asarray(e[2], dtype=np.float64).reshape(3) for e in entries])
        scales = [e[3] for e in entries]
        sized = all(s is not None for s in scales)
        if sized:
            cam_t[:, 2] *= np.asarray(scales)
        params = {"global_orient": stack("global_orient"), "body_pose": stack("body_pose"), "betas": stack("betas"),
                  "cam_t": cam_t}
        track, _ = _read_smpl_dict(f, params, f"track {tid!r}: ", "camera", "SMPL", ("cam_t",))
        track.notes.insert(0, "4D-Humans/PHALP per-frame detections regrouped by track id; translation from "
                              "'camera' (camera frame)")
        if sized:
            _note(track.notes, f"depth at PHALP's {PHALP_FOCAL_PX:g} px focal for a {PHALP_CROP_PX:g} px frame "
                               f"rescaled to a focal of the image diagonal (x {float(np.mean(scales)):.4f}, from 'size')")
        else:
            _note(track.notes, f"no image 'size': depth left at PHALP's {PHALP_FOCAL_PX:g} px focal for a "
                               f"{PHALP_CROP_PX:g} px frame, not metric (motion along the view exaggerated)")
        track.frame_ids = np.array([e[0] for e in entries], dtype=np.int64)
        _check_frame_ids(f, f"track {tid!r}: time", track.frame_ids)
        if np.any(np.diff(track.frame_ids) <= 0):
            raise f.fail(f"track {tid!r}: appears twice in one frame")
        track.track = tid
        track.info["estimator"] = "4D-Humans/PHALP"
        tracks.append(track)
    return tracks


# ------------------------------------------------------------------------- CameraHMR/CamSMPLify
def is_camsmplify(data: Dict[str, Any]) -> bool:
    """True for CamSMPLify's ``output.npz`` (CameraHMR, CamSMPLify/optimize.py)."""
    return "pose" in data and "shape" in data and "cam_t" in data


def read_camsmplify(f: _File, data: Dict[str, Any]) -> List[RawTrack]:
    """CamSMPLify's ``output.npz``: one row per fitted image, ``pose`` (N, 72) axis-angle with
    the root first, ``shape`` (N, 10), ``cam_t`` (N, 3) metric camera-frame translation for the
    image's own intrinsics ``cam_int``; rows taken as consecutive frames."""
    notes: List[str] = []
    pose = f.array(data, "pose")
    if pose.size == 0:
        raise f.fail("CamSMPLify output holds no fitted image (every fit ended above its loss threshold)")
    root, body, model = _full_pose(f, pose, "pose", notes)
    trans = _translation(f, f.array(data, "cam_t"), "cam_t")
    betas = _betas(f, data, "shape")
    _check_frames(f, {"pose": pose, "cam_t": trans, "shape": betas})
    notes.insert(0, "CamSMPLify output.npz: one row per image, in file order; root translation from 'cam_t' "
                    "(camera frame)")
    return [RawTrack(root, body, trans, betas, "camera", fps=_file_fps(f, data), notes=notes,
                     info={**_file_info(data), "estimator": "CameraHMR/CamSMPLify", "body_model": model})]


# ---------------------------------------------------------------------------------- AIST++
# AIST++ is captured and annotated at 60 fps (aistplusplus_api: load_frames(fps=60),
# plot_on_video(fps=60)).
AISTPP_FPS = 60.0
# AIST++ fits SMPL to 17 COCO keypoints (Li et al. 2021, "AI Choreographer", sec. 3; keypoints3d
# in the release): nothing beyond the wrist is observed, so the rotations of the wrist and hand
# joints, which orient the palm and fingers, are the fit's guess (an SMPL hand 6-7 cm inside
# the thigh of the AIST++ sample while its wrist is 14 cm from the femur's axis).
AISTPP_UNMEASURED_JOINTS = ("left_wrist", "right_wrist", "left_hand", "right_hand")


def is_aistpp(data: Dict[str, Any]) -> bool:
    """True for an AIST++ motion pickle (``smpl_poses``, ``smpl_trans``)."""
    return "smpl_poses" in data and "smpl_trans" in data


def read_aistpp(f: _File, data: Dict[str, Any]) -> List[RawTrack]:
    """AIST++ motions (aistplusplus_api loader.load_motion): ``smpl_poses`` (T, 72), ``smpl_trans``
    (T, 3), ``smpl_scaling`` (1,). The fit (processing/run_estimate_smpl.py) places
    ``scaling * joints + trans`` on keypoints in centimetres, so the SMPL-sized body is at
    ``trans / scaling``; y up."""
    notes: List[str] = []
    poses = f.array(data, "smpl_poses")
    root, body, model = _full_pose(f, poses, "smpl_poses", notes)
    trans = _translation(f, f.array(data, "smpl_trans"), "smpl_trans")
    _check_frames(f, {"smpl_poses": poses, "smpl_trans": trans})
    if "smpl_scaling" in data:
        scaling = f.array(data, "smpl_scaling").reshape(-1)
        if scaling.shape != (1,) or not (np.isfinite(scaling[0]) and scaling[0] > 0):
            raise f.fail(f"key 'smpl_scaling': expected one positive number, found {scaling.tolist()[:4]}")
        trans = trans / scaling[0]
        _note(notes, f"AIST++ smpl_trans / smpl_scaling ({scaling[0]:.4g}): the SMPL-sized body in metres")
    else:
        _note(notes, "AIST++ without smpl_scaling: smpl_trans taken as metres")
    fps = _file_fps(f, data) or (AISTPP_FPS, "AIST++ rate (60 fps)")
    return [RawTrack(root, body, trans, None, "y_up", fps=fps, notes=notes,
                     info={**_file_info(data), "dataset": "AIST++", "body_model": model},
                     unmeasured_joints=AISTPP_UNMEASURED_JOINTS)]


# ---------------------------------------------------------------------- Meshcapade .smpl
# smplcodec (MIT; smplcodec/codec.py): np.savez_compressed of camelCase fields. smplVersion
# 0 SMPL, 1 SMPL-H, 2 SMPL-X, 3 SUPR (22 body joints, root first, like SMPL-H/X), 4 SMPL++ and
# 5 SKEL (46 skeleton coordinates, no SMPL joints); gender 0 neutral, 1 male, 2 female.
_SMPLCODEC_MODELS = {0: "SMPL", 1: "SMPL-H", 2: "SMPL-X", 3: "SUPR"}
_SMPLCODEC_GENDERS = {0: "neutral", 1: "male", 2: "female"}


def is_smplcodec(data: Dict[str, Any]) -> bool:
    """True for Meshcapade's ``.smpl`` (smplcodec) fields."""
    return "bodyPose" in data or ("smplVersion" in data and "shapeParameters" in data)


def _small_int(f: _File, data: Dict[str, Any], key: str, default: int) -> int:
    if key not in data:
        return default
    value = f.array(data, key).reshape(-1)
    if value.shape != (1,) or not np.isfinite(value[0]) or value[0] != int(value[0]):
        raise f.fail(f"key {key!r}: expected one integer, found {value.tolist()[:4]}")
    return int(value[0])


def read_smplcodec(f: _File, data: Dict[str, Any]) -> List[RawTrack]:
    """Meshcapade ``.smpl``: ``bodyPose`` (T, 22, 3) for SMPL-H/X/SUPR or (T, 24, 3) for SMPL,
    the root first; ``bodyTranslation`` (T, 3) m, ``shapeParameters`` (K,), ``frameRate``; y up."""
    version = _small_int(f, data, "smplVersion", 2)  # smplcodec's default is SMPL-X
    if version not in _SMPLCODEC_MODELS:
        raise f.fail(f"smplVersion {version} (SMPL++ / SKEL: skeleton coordinates, not SMPL joint rotations) "
                     f"is not supported; expected 0 SMPL, 1 SMPL-H, 2 SMPL-X or 3 SUPR")
    if "bodyPose" not in data:
        raise f.fail("a .smpl file without bodyPose holds a body shape only, no motion")
    model, notes = _SMPLCODEC_MODELS[version], []
    pose = f.array(data, "bodyPose")
    joints = 24 if version == 0 else 22
    if pose.ndim != 3 or pose.shape[1:] != (joints, 3):
        raise f.shape_error("bodyPose", pose, f"(T, {joints}, 3) for {model}")
    root, body = pose[:, 0], _body(f, pose[:, 1:], "bodyPose", notes, model)
    if "bodyTranslation" in data:
        trans = _translation(f, f.array(data, "bodyTranslation"), "bodyTranslation")
    else:
        trans = np.zeros((pose.shape[0], 3))
        _note(notes, "no bodyTranslation: the root stays at the origin")
    betas = _betas(f, data, "shapeParameters")
    num_frames = _check_frames(f, {"bodyPose": pose, "bodyTranslation": trans})
    stated = _small_int(f, data, "frameCount", num_frames)
    if stated != num_frames:
        raise f.fail(f"frameCount {stated} but bodyPose has {num_frames} frames")
    if model != "SMPL":
        _note(notes, f"betas are {model} shape coefficients, applied to the SMPL body as they are")
    info = {"estimator": "Meshcapade smplcodec", "body_model": model}
    gender = _SMPLCODEC_GENDERS.get(_small_int(f, data, "gender", 0))
    if gender:
        info["gender"] = gender
    return [RawTrack(root, body, trans, betas, "y_up", fps=_file_fps(f, data), notes=notes, info=info,
                     unmeasured_joints=_unmeasured_by(model))]
