"""The reference pipeline: what a competent user would otherwise write, in numpy, frame by frame.

Per clip and frame: linear blend skinning in numpy on the same body arrays (rest shape once per
clip, a loop over the 24 joints of the kinematic chain, skinning vectorised over vertices),
then each metric frame by frame (vectorised within the frame) and per clip where it needs the
whole clip, from the same configs and tables as the project:

* jerk: third differences frame by frame (over the metric's step of k frames); bone-length CV from the per-frame lengths;
* range of motion: the anatomical SMPL -> OpenSim joint map per frame (:mod:`.reference_rom`:
  same alignment, axes, coupling tables, humerus swing-twist and cone, hinge twist moved to the
  ball joint above), limits, gimbal margin, tolerance;
* Newtonian plausibility: per frame a weighted local quadratic fit of the joints and centre of
  mass over the frame's window (3x3 normal equations), per clip the stance levels, then per
  frame contact, flight and the six constraints;
* artifact rate: thresholded detections per frame;
* self-penetration: per frame libigl's CGAL-based exact self-intersection detection
  (``remesh_self_intersections(detect_only=True)``) on the whole mesh, the pairs of parts that
  may not touch kept; on frames with such pairs, libigl winding numbers of the involved parts'
  vertices with respect to the faces of the parts they may not touch, and
  ``point_mesh_squared_distance`` to those faces for the depth.

Nothing is made slow on purpose: every per-frame step is one or a few vectorised numpy calls.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from ..body.model import BodyModel
from ..body.parts import PartStructure, part_structure
from ..body.segments import com_joint_weights
from ..body.skeleton import bones as smpl_bones
from ..config import load_config
from ..functional.contact import SUPPORT_POINT_JOINTS, SUPPORT_POINTS
from ..functional.filtering import gaussian_sigma_seconds
from ..functional.range_of_motion import joint_map_for_body
from .clips import bench_clip
from .reference_rom import joint_map_tables, range_of_motion_frames


def reference_pairs(vertices: np.ndarray, structure: PartStructure) -> set:
    """Intersecting face pairs (i < j) of parts that may not touch in one mesh, by libigl's
    CGAL-based exact self-intersection detection, excluding pairs with a face the library
    marks degenerate (it reports such a face paired with itself)."""
    from igl.copyleft.cgal import remesh_self_intersections

    faces = structure.faces.numpy()
    found = remesh_self_intersections(np.ascontiguousarray(vertices, dtype=np.float64), faces,
                                      detect_only=True, cutoff=2**31 - 1)[2]
    degenerate = {i for i, j in found.tolist() if i == j}
    parts, may_touch = structure.face_parts.numpy(), structure.may_touch.numpy()
    return {(min(i, j), max(i, j)) for i, j in found.tolist()
            if i != j and i not in degenerate and j not in degenerate and not may_touch[parts[i], parts[j]]}


@dataclass
class ReferenceTables:
    """Everything the reference needs, as numpy arrays (float64), taken from the project's body,
    configs and joint map so that both compute the same quantities."""

    body: Dict[str, Any]
    structure: PartStructure
    com_weights: np.ndarray
    bones: np.ndarray
    joint_map: Dict[str, np.ndarray]
    configs: Dict[str, Any]

    @classmethod
    def build(cls, body: BodyModel) -> "ReferenceTables":
        """Tables for ``body`` (the project's part structure and body-aligned joint map)."""
        body = body.cpu()
        arrays = {k: getattr(body, k).double().numpy() for k in ("v_template", "shapedirs", "j_regressor", "weights")}
        arrays["posedirs"] = None if body.posedirs is None else body.posedirs.double().numpy()
        arrays["parents"] = tuple(body.parents)
        rom_config = load_config("range_of_motion")
        joint_map = joint_map_tables(joint_map_for_body(body), rom_config)
        configs = {name: load_config(name) for name in ("jerk", "bone_length", "newtonian", "artifact_rate",
                                                        "self_penetration", "diagnostics")}
        configs["range_of_motion"] = rom_config
        return cls(body=arrays, structure=part_structure(body), com_weights=com_joint_weights().numpy(),
                   bones=np.asarray(smpl_bones()), joint_map=joint_map, configs=configs)


# ---------------------------------------------------------------------------------- body
def rodrigues(rotvec: np.ndarray) -> np.ndarray:
    """(N, 3) axis-angle -> (N, 3, 3) rotation matrices."""
    theta = np.linalg.norm(rotvec, axis=-1, keepdims=True)
    axis = rotvec / np.where(theta > 1e-12, theta, 1.0)
    x, y, z = axis.T
    zero = np.zeros_like(x)
    skew = np.stack([zero, -z, y, z, zero, -x, -y, x, zero], -1).reshape(-1, 3, 3)
    s, c = np.sin(theta)[..., None], np.cos(theta)[..., None]
    return np.eye(3) + s * skew + (1 - c) * skew @ skew


def rest_shape(tables: ReferenceTables, betas: Optional[np.ndarray]):
    """Rest vertices (V, 3) and joints (24, 3) of one shape (betas (K',) or None)."""
    b = tables.body
    coefficients = np.zeros(b["shapedirs"].shape[-1])
    if betas is not None:
        k = min(len(betas), len(coefficients))
        coefficients[:k] = betas[:k]
    vertices = b["v_template"] + b["shapedirs"] @ coefficients
    return vertices, b["j_regressor"] @ vertices


def pose_frame(tables: ReferenceTables, rest_vertices: np.ndarray, rest_joints: np.ndarray,
               global_orient: np.ndarray, body_pose: np.ndarray, transl: np.ndarray, need_vertices: bool):
    """One frame of LBS: joints (24, 3) and vertices (V, 3) (None unless asked), metres."""
    b = tables.body
    local = rodrigues(np.concatenate([global_orient[None], body_pose]))
    world_rot = np.empty_like(local)
    world_pos = np.empty_like(rest_joints)
    for j, p in enumerate(b["parents"]):
        if p < 0:
            world_rot[j], world_pos[j] = local[j], rest_joints[j]
        else:
            world_rot[j] = world_rot[p] @ local[j]
            world_pos[j] = world_pos[p] + world_rot[p] @ (rest_joints[j] - rest_joints[p])
    joints = world_pos + transl
    if not need_vertices:
        return joints, None
    if b["posedirs"] is not None:
        rest_vertices = rest_vertices + ((local[1:] - np.eye(3)).reshape(-1) @ b["posedirs"]).reshape(-1, 3)
    translation = world_pos - np.einsum("jab,jb->ja", world_rot, rest_joints)
    transform = np.concatenate([world_rot, translation[..., None]], -1).reshape(-1, 12)
    blended = (b["weights"] @ transform).reshape(-1, 3, 4)
    vertices = np.einsum("vab,vb->va", blended[..., :3], rest_vertices) + blended[..., 3] + transl
    return joints, vertices


# ---------------------------------------------------------------------------------- metrics
def jerk(tables: ReferenceTables, joints: np.ndarray, fps: float) -> float:
    """Mean jerk (m/s^3) over joints and third differences over k = round(fps / reference_fps)
    frames (at least 1; 1 without a reference rate), frame by frame."""
    reference_fps = tables.configs["jerk"].get("reference_fps")
    k = 1 if reference_fps is None else max(1, int(round(fps / float(reference_fps))))
    total, terms = 0.0, 0
    for t in range(len(joints) - 3 * k):
        diff = joints[t + 3 * k] - 3.0 * joints[t + 2 * k] + 3.0 * joints[t + k] - joints[t]
        total += float(np.linalg.norm(diff, axis=-1).sum()) * (fps / k) ** 3
        terms += joints.shape[1]
    return total / max(terms, 1)


def bone_length_cv(tables: ReferenceTables, joints: np.ndarray) -> float:
    """Mean over bones of the coefficient of variation of the bone length (%)."""
    parent, child = tables.bones.T
    lengths = np.stack([np.linalg.norm(frame[child] - frame[parent], axis=-1) for frame in joints])
    mean = lengths.mean(0)
    used = mean >= float(tables.configs["bone_length"]["min_bone_length_m"])
    if len(lengths) < 2 or not used.any():
        return 0.0
    return float((100.0 * lengths.std(0)[used] / mean[used]).mean())


def range_of_motion_frame(tables: ReferenceTables, global_orient: np.ndarray, body_pose: np.ndarray) -> bool:
    """Whether one frame violates a joint limit beyond the tolerance (:mod:`.reference_rom`)."""
    return bool(range_of_motion_frames(tables.joint_map, tables.configs["range_of_motion"], global_orient[None],
                                       body_pose[None])[0])


def _fit_window(fps: float, cutoff_hz: float, frames: int):
    sigma = max(fps * gaussian_sigma_seconds(cutoff_hz), 0.6)
    half = max(2, int(math.ceil(min(4.0 * sigma, frames - 1))))
    offsets = np.arange(-half, half + 1, dtype=np.float64)
    weights = np.exp(-0.5 * (offsets / sigma) ** 2) * (np.abs(offsets) <= max(4.0 * sigma, 2.0))
    return offsets, weights


def newtonian_frames(tables: ReferenceTables, joints: np.ndarray, fps: float) -> np.ndarray:
    """(T,) bool: assessable frames violating a Newtonian constraint (see ``functional.newtonian``)."""
    config = tables.configs["newtonian"]
    contact_cfg = tables.configs["diagnostics"]["contact"]
    frames = len(joints)
    cutoff = float(config["filter"]["cutoff_hz"])
    offsets, weights = _fit_window(fps, cutoff, frames)
    signal = np.concatenate([joints.reshape(frames, -1), (tables.com_weights @ joints)], 1)  # (T, 75)
    position, velocity, acceleration = (np.zeros_like(signal) for _ in range(3))
    valid = np.zeros(frames, dtype=bool)
    for t in range(frames):  # weighted local quadratic fit around every frame
        index = t + offsets.astype(np.int64)
        inside = (index >= 0) & (index < frames)
        s, w = offsets[inside], weights[inside]
        design = np.stack([np.ones_like(s), s, s * s], 1)
        normal = design.T @ (w[:, None] * design)
        moments = [(w * s ** k).sum() for k in (0, 2, 4)]
        if np.linalg.det(normal) <= 1e-6 * max(np.prod(moments), np.finfo(np.float64).tiny):
            continue
        coefficients = np.linalg.solve(normal, design.T @ (w[:, None] * signal[index[inside]]))
        valid[t] = True
        position[t], velocity[t], acceleration[t] = coefficients[0], coefficients[1] * fps, 2 * coefficients[2] * fps ** 2
    pos, vel = position[:, :72].reshape(frames, 24, 3), velocity[:, :72].reshape(frames, 24, 3)
    com_acc = acceleration[:, 72:]
    # Per clip: which bones are long enough for an angular speed.
    parent, child = tables.bones.T
    speeds_cfg = config["speeds"]
    bone_mean = np.linalg.norm(pos[valid][:, child] - pos[valid][:, parent], axis=-1).mean(0) if valid.any() \
        else np.zeros(len(parent))
    long_bones = bone_mean >= float(speeds_cfg["min_bone_length_m"])
    radius = int(math.ceil(fps * gaussian_sigma_seconds(cutoff)))

    def window(t: int, half: int) -> np.ndarray:
        """Valid frames t + k * step, |k * step| <= half (every frame up to 64 either side)."""
        half = min(half, frames - 1)
        samples = max(1, min(64, half))
        step = max(1, int(math.ceil(half / samples)))
        index = t + step * np.arange(-samples, samples + 1)
        index = index[(np.abs(index - t) <= half) & (index >= 0) & (index < frames)]
        return index[valid[index]]

    def lowest_rank(values: np.ndarray, q: float) -> float:
        return float(np.sort(values)[int(math.floor((len(values) - 1) * q))]) if len(values) else 0.0

    # Supports (feet, knees, hands): ground = a low percentile of the lowest sole height over a
    # window; a point is planted near the ground and slow, resting when still around the frame.
    points = SUPPORT_POINT_JOINTS.numpy()
    joint_height = np.array([float(contact_cfg["joint_height_m"][n.split("_", 1)[1]]) for n in SUPPORT_POINTS])
    soles = pos[:, points, 1] - joint_height[None, :]
    ground_half = int(math.ceil(fps * float(contact_cfg["ground_window_s"]) / 2))
    quantile = float(contact_cfg["ground_percentile"]) / 100.0
    ground = np.array([lowest_rank(soles[window(t, ground_half)].min(-1), quantile) for t in range(frames)])
    speeds = np.linalg.norm(vel[:, points], axis=-1)
    planted = ((soles - ground[:, None] < float(contact_cfg["height_m"])) & (speeds < float(contact_cfg["speed_m_s"]))
               & valid[:, None])
    still = (speeds < float(contact_cfg["rest_speed_m_s"])) & valid[:, None]
    rest_radius = int(math.ceil(fps * float(contact_cfg["rest_s"]) / 2))
    resting = np.array([still[max(0, t - rest_radius):t + rest_radius + 1].all(0) for t in range(frames)])
    resting &= valid[:, None]
    contact = (planted | resting).any(-1)
    horizontal = np.linalg.norm(vel[:, points][..., [0, 2]], axis=-1)
    slowest = np.where(planted.any(-1), np.where(planted, horizontal, np.inf).min(-1), 0.0)
    reach = int(math.ceil(fps * 2.0 * gaussian_sigma_seconds(cutoff)))  # a slide lasts +-2 sigma
    sliding = np.array([slowest[window(t, reach)].min() if len(window(t, reach)) else 0.0 for t in range(frames)])
    g = float(config["gravity_m_s2"])
    tol = config["tolerances_m_s2"]
    violating = np.zeros(frames, dtype=bool)
    for t in np.nonzero(valid)[0]:
        # Support is unknown within the window's reach of the clip's ends: not flight there.
        flight = radius <= t < frames - radius and not contact[t - radius:t + radius + 1].any()
        a = com_acc[t]
        support = a[1] + g
        force = np.linalg.norm(a + np.array([0.0, g, 0.0]))
        horizontal = math.hypot(a[0], a[2])
        bone = pos[t, child] - pos[t, parent]
        rate = vel[t, child] - vel[t, parent]
        squared = (bone ** 2).sum(-1)
        angular = np.linalg.norm(np.cross(bone, rate), axis=-1) / np.where(squared > 0, squared, 1.0) * long_bones
        violating[t] = (-support > float(tol["ground_pull"])
                        or (not flight and sliding[t] > float(config["max_stance_sliding_m_s"]))
                        or (flight and force > float(tol["flight"]))
                        or (not flight and horizontal - float(config["friction_coefficient"]) * max(support, 0.0)
                            > float(tol["friction"]))
                        or force / g > float(config["max_force_body_weights"])
                        or np.linalg.norm(vel[t], axis=-1).max() > float(speeds_cfg["max_joint_speed_m_s"])
                        or angular.max() > float(speeds_cfg["max_angular_speed_rad_s"]))
    return violating & valid


def artifact_frames(tables: ReferenceTables, detections: np.ndarray) -> np.ndarray:
    """(T,) bool: frames with a detection above the confidence threshold."""
    threshold = float(tables.configs["artifact_rate"]["confidence_threshold"])
    return np.array([bool((frame > threshold).any()) for frame in detections])


def penetration_depth_mm(tables: ReferenceTables, vertices: np.ndarray) -> float:
    """Deepest vertex of a part inside parts it may not touch (mm), 0 without an intersection."""
    import igl

    structure = tables.structure
    pairs = reference_pairs(vertices, structure)
    if not pairs:
        return 0.0
    faces, face_parts = structure.faces.numpy(), structure.face_parts.numpy()
    vertex_parts, may_touch = structure.vertex_parts.numpy(), structure.may_touch.numpy()
    involved = {int(face_parts[i]) for pair in pairs for i in pair}
    deepest = 0.0
    for part in involved:
        own = vertices[vertex_parts == part]
        others = faces[~may_touch[part][face_parts]]
        inside = own[np.abs(igl.winding_number(vertices, others, own)) > 0.5]
        if len(inside):
            squared = igl.point_mesh_squared_distance(inside, vertices, others)[0]
            deepest = max(deepest, float(np.sqrt(squared.max())))
    return 1000.0 * deepest


# ---------------------------------------------------------------------------------- one clip
def run_clip(tables: ReferenceTables, clip: Dict[str, Any], penetration: bool = True) -> Dict[str, Any]:
    """The reference on one clip (a sequence dict with ``detections``; all frames valid).

    Args:
        penetration: also run the (slow) self-penetration step; the vertices are posed (and
            timed) either way.

    Returns:
        ``values`` (per metric key: the per-clip raw value; per-frame verdicts under
        ``*_frames``) and ``seconds`` (per step: ``pose_joints``, ``pose_vertices``, each
        metric key; ``self_penetration_per_frame`` (T,) when ``penetration``).
    """
    as_np = lambda key: np.asarray(clip[key], dtype=np.float64)  # noqa: E731
    global_orient, body_pose, transl = as_np("global_orient"), as_np("body_pose"), as_np("transl")
    betas = None if clip.get("betas") is None else as_np("betas")
    fps = float(clip["fps"])
    frames = len(body_pose)
    seconds: Dict[str, Any] = {}
    values: Dict[str, Any] = {}

    def shape_of(t: int):
        return shape if betas is None or betas.ndim == 1 else rest_shape(tables, betas[t])

    for need_vertices, name in ((False, "pose_joints"), (True, "pose_vertices")):
        start = time.perf_counter()
        shape = rest_shape(tables, betas if betas is None or betas.ndim == 1 else None)
        posed = [pose_frame(tables, *shape_of(t), global_orient[t], body_pose[t], transl[t], need_vertices)
                 for t in range(frames)]
        seconds[name] = time.perf_counter() - start
        joints = np.stack([p[0] for p in posed])
        vertices = [p[1] for p in posed] if need_vertices else None

    start = time.perf_counter()
    values["jerk"] = jerk(tables, joints, fps)
    seconds["jerk"] = time.perf_counter() - start
    start = time.perf_counter()
    values["bone_length_consistency"] = bone_length_cv(tables, joints)
    seconds["bone_length_consistency"] = time.perf_counter() - start
    start = time.perf_counter()
    values["range_of_motion_frames"] = np.array([range_of_motion_frame(tables, global_orient[t], body_pose[t])
                                                 for t in range(frames)])
    values["range_of_motion"] = float(values["range_of_motion_frames"].mean())
    seconds["range_of_motion"] = time.perf_counter() - start
    start = time.perf_counter()
    values["newtonian_plausibility_frames"] = newtonian_frames(tables, joints, fps)
    seconds["newtonian_plausibility"] = time.perf_counter() - start
    start = time.perf_counter()
    values["artifact_rate_frames"] = artifact_frames(tables, np.asarray(clip["detections"]))
    values["artifact_rate"] = float(values["artifact_rate_frames"].mean())
    seconds["artifact_rate"] = time.perf_counter() - start
    if penetration:
        tolerance = float(tables.configs["self_penetration"]["detection"]["depth_tolerance_mm"])
        per_frame, depth = np.zeros(frames), np.zeros(frames)
        for t in range(frames):
            start = time.perf_counter()
            depth[t] = penetration_depth_mm(tables, vertices[t])
            per_frame[t] = time.perf_counter() - start
        values["self_penetration_depth_mm"] = depth
        values["self_penetration_frames"] = depth > tolerance
        values["self_penetration"] = float((depth > tolerance).mean())
        seconds["self_penetration_per_frame"] = per_frame
        seconds["self_penetration"] = float(per_frame.sum())
    return {"values": values, "seconds": seconds}


def reference_timings(count: int, frames: Sequence[int]) -> Dict[int, List[Dict[str, float]]]:
    """Step timings of the reference on bench clips 0..count-1 at each length in ``frames``:
    ``{T: [per clip: {step: seconds}]}`` (steps as in :func:`run_clip`).

    Self-penetration runs once per clip at the longest T; shorter clips are the starts of the
    longer ones, so their penetration time is the sum over their own frames. Everything else
    runs on each length.
    """
    tables = ReferenceTables.build(BodyModel.default())
    longest = max(frames)
    out: Dict[int, List[Dict[str, float]]] = {t: [] for t in frames}
    for i in range(count):
        full = run_clip(tables, bench_clip(i, longest), penetration=True)
        per_frame = full["seconds"]["self_penetration_per_frame"]
        for t in frames:
            steps = full if t == longest else run_clip(tables, bench_clip(i, t), penetration=False)
            seconds = {k: float(v) for k, v in steps["seconds"].items() if k != "self_penetration_per_frame"}
            seconds["self_penetration"] = float(per_frame[:t].sum())
            out[t].append(seconds)
    return out
