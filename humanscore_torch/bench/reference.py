"""The reference pipeline: what a competent engineer would write instead of this project, on CPU.

numpy, vectorised over all frames of all clips of a batch (clips of one length and rate), in
float64, from the same body arrays, configs and joint-map tables as the project, so that both
compute the same quantities:

* posing: Rodrigues for all (frame, joint) rotations at once, forward kinematics as one loop
  over the 24 joints (each step a batched 3x3 matmul over every frame), rest joints from the
  regressor applied to the template and shape directions once, the rest mesh once per
  distinct shape, linear blend skinning as one BLAS matmul (transforms (12 n, 24) x weights
  (24, V)) per chunk of n = 64 frames;
* jerk, bone length, artifact rate: array expressions over (clips, frames, joints);
* range of motion: the anatomical joint map's maths (:mod:`.reference_rom`) over all frames;
* Newtonian plausibility: the weighted local quadratic fit as one loop over the window's
  offsets and one batched ``np.linalg.solve`` of the 3x3 normal equations of every frame; the
  supports' running-quantile ground and stance sliding as one sort of each frame's window
  (gathered as a (clips, frames, window) array), rest and flight as windowed counts of
  cumulative sums; the seven constraints as array expressions (:func:`newtonian_frames`);
* self-penetration (:func:`penetration_depths_mm`): per frame and pair of parts that may not
  touch, a box test of the parts; the faces of each part inside that pair's box overlap; one
  sweep-and-prune over all frames of a 64-frame chunk (sorted by (frame, part pair, box low
  x), each box paired with the later ones starting before it ends, kept when the boxes
  overlap); the same exact float64 triangle test as the project (orientation determinants);
  on frames with an intersection, libigl's fast winding number (Barill et al. 2018) of each
  part's vertices inside its overlap boxes with respect to the faces of every part it may not
  touch (summed over one tree per part), and libigl's AABB-tree
  ``point_mesh_squared_distance`` of the inside ones to those faces for the depth; a frame
  penetrates when a vertex sinks deeper than the allowance of its part and its nearest face's
  part (the compressible share of the two parts' thicknesses, median distances from their
  principal axes, never below the tolerance).

Nothing is made slow on purpose; the only Python loops are over joints, window offsets,
chunks of frames and, for penetration, (frame, part) pairs that actually intersect.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, Sequence, Tuple

import numpy as np

from ..body.model import BodyModel
from ..body.parts import part_structure
from ..body.segments import com_joint_weights
from ..body.skeleton import bones as smpl_bones
from ..config import load_config
from ..functional.contact import SUPPORT_POINT_JOINTS, SUPPORT_POINTS
from ..functional.filtering import gaussian_sigma_seconds
from ..functional.range_of_motion import joint_map_for_body
from . import reference_rom

# Frames skinned (and swept for penetration) at once: bounds memory at any clip length.
_CHUNK_FRAMES = 64


@dataclass
class ReferenceTables:
    """Everything the reference needs, as numpy arrays (float64), taken from the project's body,
    configs, part structure and joint map."""

    body: Dict[str, Any]
    parts: Dict[str, np.ndarray]
    com_weights: np.ndarray
    bones: np.ndarray
    joint_map: Dict[str, np.ndarray]
    configs: Dict[str, Any]
    support_points: np.ndarray  # (P,) SMPL joint of each support point (``functional.contact``)
    support_heights: np.ndarray  # (P,) its height (m) above the surface it rests on

    @classmethod
    def build(cls, body: BodyModel) -> "ReferenceTables":
        """Tables for ``body`` (the project's part structure and body-aligned joint map)."""
        body = body.cpu()
        b = {k: getattr(body, k).double().numpy() for k in ("v_template", "shapedirs", "j_regressor", "weights")}
        b["posedirs"] = None if body.posedirs is None else body.posedirs.double().numpy()
        b["parents"] = tuple(body.parents)
        b["joint_template"] = b["j_regressor"] @ b["v_template"]
        b["joint_dirs"] = np.einsum("jv,vck->jck", b["j_regressor"], b["shapedirs"])
        structure = part_structure(body)
        parts = {k: getattr(structure, k).numpy() for k in ("faces", "vertex_parts", "face_parts", "may_touch")}
        parts["part_faces"] = [parts["faces"][parts["face_parts"] == p] for p in range(len(parts["may_touch"]))]
        rom_config = load_config("range_of_motion")
        joint_map = reference_rom.joint_map_tables(joint_map_for_body(body), rom_config)
        configs = {name: load_config(name) for name in ("jerk", "bone_length", "newtonian", "artifact_rate",
                                                        "self_penetration", "diagnostics")}
        configs["range_of_motion"] = rom_config
        joint_height = configs["diagnostics"]["contact"]["joint_height_m"]
        return cls(body=b, parts=parts, com_weights=com_joint_weights().numpy(),
                   bones=np.asarray(smpl_bones()), joint_map=joint_map, configs=configs,
                   support_points=SUPPORT_POINT_JOINTS.numpy(),
                   support_heights=np.array([float(joint_height[n.split("_", 1)[1]]) for n in SUPPORT_POINTS]))


# ---------------------------------------------------------------------------------- body
def _coefficients(tables: ReferenceTables, betas: np.ndarray) -> np.ndarray:
    """(..., K') betas -> (..., K) the body's shape coefficients (cut or zero-padded)."""
    k = tables.body["shapedirs"].shape[-1]
    out = np.zeros(betas.shape[:-1] + (k,))
    out[..., :min(k, betas.shape[-1])] = betas[..., :k]
    return out


def pose(tables: ReferenceTables, global_orient: np.ndarray, body_pose: np.ndarray, transl: np.ndarray,
         betas: np.ndarray, need_vertices: bool = True):
    """Linear blend skinning of N frames at once.

    Args:
        global_orient (N, 3), body_pose (N, 23, 3), transl (N, 3), betas (N, K') per frame.

    Returns:
        joints (N, 24, 3) and vertices (N, V, 3) (None unless ``need_vertices``), metres.
    """
    b = tables.body
    frames = len(body_pose)
    coefficients = _coefficients(tables, betas)
    local = reference_rom.rodrigues(np.concatenate([global_orient[:, None], body_pose], 1))  # (N, 24, 3, 3)
    rest_joints = b["joint_template"] + np.einsum("nk,jck->njc", coefficients, b["joint_dirs"])
    world_rot, world_pos = np.empty_like(local), np.empty_like(rest_joints)
    for j, p in enumerate(b["parents"]):
        if p < 0:
            world_rot[:, j], world_pos[:, j] = local[:, j], rest_joints[:, j]
        else:
            world_rot[:, j] = world_rot[:, p] @ local[:, j]
            offset = rest_joints[:, j] - rest_joints[:, p]
            world_pos[:, j] = world_pos[:, p] + (world_rot[:, p] @ offset[..., None])[..., 0]
    joints = world_pos + transl[:, None]
    if not need_vertices:
        return joints, None
    translation = joints - (world_rot @ rest_joints[..., None])[..., 0]
    transform = np.concatenate([world_rot, translation[..., None]], -1).reshape(frames, 24, 12)
    # Rest vertices once per distinct shape (once per clip unless betas change per frame),
    # coordinates first so that every product below runs along contiguous vertices.
    shapes, shape_of_frame = np.unique(coefficients, axis=0, return_inverse=True)
    rest_shapes = (b["v_template"] + np.einsum("uk,vck->uvc", shapes, b["shapedirs"])).transpose(0, 2, 1)
    weights_t = np.ascontiguousarray(b["weights"].T)  # (24, V)
    vertices = np.empty((frames,) + b["v_template"].shape)
    for lo in range(0, frames, _CHUNK_FRAMES):
        hi = min(lo + _CHUNK_FRAMES, frames)
        rest = rest_shapes[shape_of_frame.reshape(-1)[lo:hi]]  # (n, 3, V)
        if b["posedirs"] is not None:
            rest = rest + ((local[lo:hi, 1:] - np.eye(3)).reshape(hi - lo, -1) @ b["posedirs"]).reshape(
                hi - lo, -1, 3).transpose(0, 2, 1)
        # (n * 12, 24) @ (24, V): one BLAS call blends every frame's joint transforms.
        blended = (transform[lo:hi].transpose(0, 2, 1).reshape(-1, 24) @ weights_t).reshape(hi - lo, 3, 4, -1)
        posed = blended[:, :, 3] + blended[:, :, 0] * rest[:, None, 0] + blended[:, :, 1] * rest[:, None, 1] \
            + blended[:, :, 2] * rest[:, None, 2]  # (n, 3, V)
        vertices[lo:hi] = posed.transpose(0, 2, 1)
    return joints, vertices


# ---------------------------------------------------------------------------------- metrics
def jerk(tables: ReferenceTables, joints: np.ndarray, fps: float) -> np.ndarray:
    """(B,) mean jerk (m/s^3) over joints and third differences over k = round(fps /
    reference_fps) frames (at least 1; 1 without a reference rate) of joints (B, T, J, 3)."""
    reference_fps = tables.configs["jerk"].get("reference_fps")
    k = 1 if reference_fps is None else max(1, int(round(fps / float(reference_fps))))
    n = joints.shape[1] - 3 * k
    if n <= 0:
        return np.zeros(len(joints))
    diff = joints[:, 3 * k:] - 3.0 * joints[:, 2 * k:2 * k + n] + 3.0 * joints[:, k:k + n] - joints[:, :n]
    return np.linalg.norm(diff, axis=-1).mean((1, 2)) * (fps / k) ** 3


def bone_length_cv(tables: ReferenceTables, joints: np.ndarray) -> np.ndarray:
    """(B,) mean over bones of the coefficient of variation of the bone length (%) of joints
    (B, T, J, 3)."""
    parent, child = tables.bones.T
    lengths = np.linalg.norm(joints[:, :, child] - joints[:, :, parent], axis=-1)  # (B, T, bones)
    mean = lengths.mean(1)
    used = mean >= float(tables.configs["bone_length"]["min_bone_length_m"])
    cv = np.where(used, 100.0 * lengths.std(1) / np.where(used, mean, 1.0), 0.0)
    value = cv.sum(1) / np.maximum(used.sum(1), 1)
    return np.where((lengths.shape[1] >= 2) & used.any(1), value, 0.0)


def range_of_motion_frames(tables: ReferenceTables, global_orient: np.ndarray, body_pose: np.ndarray) -> np.ndarray:
    """(N,) bool: frames violating a joint limit beyond the tolerance, through the project's
    anatomical SMPL -> OpenSim joint map (:mod:`.reference_rom`), N frames at once."""
    return reference_rom.range_of_motion_frames(tables.joint_map, tables.configs["range_of_motion"], global_orient,
                                                body_pose)


def _fit_window(fps: float, cutoff_hz: float, frames: int):
    sigma = max(fps * gaussian_sigma_seconds(cutoff_hz), 0.6)
    half = max(2, int(math.ceil(min(4.0 * sigma, frames - 1))))
    offsets = np.arange(-half, half + 1)
    weights = np.exp(-0.5 * (offsets / sigma) ** 2) * (np.abs(offsets) <= max(4.0 * sigma, 2.0))
    return offsets, weights


def local_quadratic_fit(signal: np.ndarray, fps: float, cutoff_hz: float):
    """Weighted local quadratic fit around every frame of signal (B, T, C): position,
    velocity (/s), acceleration (/s^2), each (B, T, C), and valid (T,) (a determined fit).
    One loop over the window's offsets builds the moments; one batched solve fits every frame."""
    frames = signal.shape[1]
    offsets, weights = _fit_window(fps, cutoff_hz, frames)
    moments = np.zeros((frames, 5))
    data = np.zeros((3,) + signal.shape)
    t = np.arange(frames)
    for s, w in zip(offsets, weights):
        inside = (t + s >= 0) & (t + s < frames)
        ws = w * inside * float(s) ** np.arange(5)[:, None]  # (5, T)
        moments += ws.T
        shifted = signal[:, np.clip(t + s, 0, frames - 1)]
        data += ws[:3, None, :, None] * shifted[None]
    normal = moments[:, [[0, 1, 2], [1, 2, 3], [2, 3, 4]]]  # (T, 3, 3)
    scale = np.maximum(moments[:, 0] * moments[:, 2] * moments[:, 4], np.finfo(np.float64).tiny)
    valid = np.linalg.det(normal) > 1e-6 * scale
    normal[~valid] = np.eye(3)
    coefficients = np.linalg.solve(normal, np.moveaxis(data, 0, -2))  # (B, T, 3, C)
    coefficients[:, ~valid] = 0.0
    return coefficients[..., 0, :], coefficients[..., 1, :] * fps, 2.0 * coefficients[..., 2, :] * fps ** 2, valid


def _dilate(flags: np.ndarray, radius: int, outside: bool = False) -> np.ndarray:
    """True where any of ``flags`` (B, T, ...) is True within +-radius frames (axis 1); with
    ``outside`` the frames before 0 and past T - 1 count as True."""
    frames = flags.shape[1]
    counts = np.concatenate([np.zeros_like(flags[:, :1], dtype=np.int64), flags.cumsum(1)], 1)
    t = np.arange(frames)
    out = counts[:, np.minimum(t + radius + 1, frames)] - counts[:, np.maximum(t - radius, 0)] > 0
    if outside:
        out |= ((t - radius < 0) | (t + radius >= frames)).reshape((1, frames) + (1,) * (flags.ndim - 2))
    return out


def _running_quantile(values: np.ndarray, valid: np.ndarray, fps: float, window_s: float, q: float) -> np.ndarray:
    """(B, T): the lower-nearest-rank quantile ``q`` of the valid values (B, T) at frames t + k
    step, |k step| <= h = ceil(fps window_s / 2), step = ceil(h / 64) (every frame up to 64
    either side); 0 where none is valid. valid (T,)."""
    batch, frames = values.shape
    if frames == 0:
        return np.zeros((batch, 0))
    half = min(max(int(math.ceil(fps * window_s / 2)), 0), frames - 1)
    samples = max(1, min(64, half))
    offsets = max(1, int(math.ceil(half / samples))) * np.arange(-samples, samples + 1)
    offsets = offsets[np.abs(offsets) <= half]
    index = np.arange(frames)[:, None] + offsets  # (T, K)
    keep = (index >= 0) & (index < frames)
    index = np.clip(index, 0, frames - 1)
    keep &= valid[index]
    ordered = np.sort(np.where(keep, values[:, index], np.inf), -1)  # (B, T, K)
    count = keep.sum(-1)
    rank = np.floor(np.maximum(count - 1, 0) * q).astype(np.int64)
    picked = np.take_along_axis(ordered, np.broadcast_to(rank, (batch, frames))[..., None], -1)[..., 0]
    return np.where(count > 0, picked, 0.0)


def newtonian_frames(tables: ReferenceTables, joints: np.ndarray, fps: float) -> np.ndarray:
    """(B, T) bool: assessable frames violating a Newtonian constraint (``functional.newtonian``,
    supports and ground of ``functional.contact``) of joints (B, T, 24, 3) at ``fps``, every
    frame given."""
    config = tables.configs["newtonian"]
    contact_cfg = tables.configs["diagnostics"]["contact"]
    batch, frames = joints.shape[:2]
    cutoff = float(config["filter"]["cutoff_hz"])
    sigma_s = gaussian_sigma_seconds(cutoff)
    signal = np.concatenate([joints.reshape(batch, frames, -1), tables.com_weights @ joints], 2)  # (B, T, 75)
    position, velocity, acceleration, valid = local_quadratic_fit(signal, fps, cutoff)
    pos, vel = position[..., :72].reshape(joints.shape), velocity[..., :72].reshape(joints.shape)
    com_acc = acceleration[..., 72:]
    # Supports (feet, knees, hands): the ground a low percentile of the lowest sole height over a
    # window around each frame; a point is planted near the ground and slow, resting when still
    # at every frame around it.
    points = tables.support_points
    soles = pos[:, :, points, 1] - tables.support_heights  # (B, T, P)
    ground = _running_quantile(soles.min(-1), valid, fps, float(contact_cfg["ground_window_s"]),
                               float(contact_cfg["ground_percentile"]) / 100.0) * valid
    speeds = np.linalg.norm(vel[:, :, points], axis=-1)
    planted = (soles - ground[..., None] < float(contact_cfg["height_m"])) \
        & (speeds < float(contact_cfg["speed_m_s"])) & valid[:, None]
    moving = (speeds >= float(contact_cfg["rest_speed_m_s"])) | ~valid[:, None]
    resting = ~_dilate(moving, int(math.ceil(fps * float(contact_cfg["rest_s"]) / 2))) & valid[:, None]
    # Flight: no support within the filter's reach; support is unknown beyond the clip's ends.
    supported = _dilate((planted | resting).any(-1), int(math.ceil(fps * sigma_s)), outside=True)
    flight = valid & ~supported
    # Stance sliding: the slowest planted point's horizontal speed (0 with none), least over +-2 sigma.
    horizontal = np.linalg.norm(vel[:, :, points][..., [0, 2]], axis=-1)
    slowest = np.where(planted.any(-1), np.where(planted, horizontal, np.inf).min(-1), 0.0)
    sliding = _running_quantile(slowest, valid, fps, 4.0 * sigma_s, 0.0) * valid
    g = float(config["gravity_m_s2"])
    tol = config["tolerances_m_s2"]
    speeds_cfg = config["speeds"]
    support = com_acc[..., 1] + g
    force = np.linalg.norm(com_acc + np.array([0.0, g, 0.0]), axis=-1)
    horizontal = np.hypot(com_acc[..., 0], com_acc[..., 2])
    parent, child = tables.bones.T
    bone, rate = pos[:, :, child] - pos[:, :, parent], vel[:, :, child] - vel[:, :, parent]
    long_bones = np.linalg.norm(bone[:, valid], axis=-1).mean(1) >= float(speeds_cfg["min_bone_length_m"]) \
        if valid.any() else np.zeros((batch, len(parent)), dtype=bool)
    squared = (bone ** 2).sum(-1)
    angular = np.linalg.norm(np.cross(bone, rate), axis=-1) / np.where(squared > 0, squared, 1.0) * long_bones[:, None]
    violating = ((-support > float(tol["ground_pull"]))
                 | (flight & (force > float(tol["flight"])))
                 | (~flight & (horizontal - float(config["friction_coefficient"]) * np.maximum(support, 0.0)
                               > float(tol["friction"])))
                 | (force / g > float(config["max_force_body_weights"]))
                 | (np.linalg.norm(vel, axis=-1).max(-1) > float(speeds_cfg["max_joint_speed_m_s"]))
                 | (angular.max(-1) > float(speeds_cfg["max_angular_speed_rad_s"]))
                 | (~flight & (sliding > float(config["max_stance_sliding_m_s"]))))
    return violating & valid


def artifact_frames(tables: ReferenceTables, detections: np.ndarray) -> np.ndarray:
    """(B, T) bool: frames with a detection (B, T, C) above the confidence threshold."""
    return (detections > float(tables.configs["artifact_rate"]["confidence_threshold"])).any(-1)


# ---------------------------------------------------------------------------------- self-penetration
def _expand(counts: np.ndarray):
    """Row i repeated counts[i] times, and the running index 0..counts[i]-1 within each row."""
    row = np.repeat(np.arange(len(counts)), counts)
    return row, np.arange(len(row)) - (np.cumsum(counts) - counts)[row]


def _orient(a, b, c, d) -> np.ndarray:
    """det[b - a, c - a, d - a] over the last axis."""
    return (np.cross(b - a, c - a) * (d - a)).sum(-1)


def triangles_intersect(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """(K,) bool: triangle pairs p, q (K, 3, 3) intersect (touching counts), in float64 by signs
    of orientation determinants; degenerate and exactly coplanar pairs are False (the
    project's test, :func:`humanscore_torch.functional.self_penetration.edge_crossings`)."""
    side_p = _orient(q[:, None, 0], q[:, None, 1], q[:, None, 2], p)  # (K, 3)
    side_q = _orient(p[:, None, 0], p[:, None, 1], p[:, None, 2], q)
    general = ~((side_p == 0).all(1) | (side_q == 0).all(1))
    meets = general & (side_p.min(1) <= 0) & (side_p.max(1) >= 0) & (side_q.min(1) <= 0) & (side_q.max(1) >= 0)
    out = np.zeros(len(p), dtype=bool)
    idx = np.nonzero(meets)[0]
    p, q, side_p, side_q = p[idx], q[idx], side_p[idx], side_q[idx]
    p_next, q_next = np.roll(p, -1, axis=1), np.roll(q, -1, axis=1)
    edge_edge = _orient(p[:, :, None], p_next[:, :, None], q[:, None, :], q_next[:, None, :])  # (k, 3, 3)
    straddle_p = side_p * np.roll(side_p, -1, axis=1) <= 0
    straddle_q = side_q * np.roll(side_q, -1, axis=1) <= 0
    p_through_q = straddle_p & ((edge_edge >= 0).all(2) | (edge_edge <= 0).all(2))
    q_through_p = straddle_q & ((edge_edge >= 0).all(1) | (edge_edge <= 0).all(1))
    out[idx] = p_through_q.any(1) | q_through_p.any(1)
    return out


def _part_boxes(lo: np.ndarray, hi: np.ndarray, parts: Dict[str, np.ndarray]):
    """Per frame the box of every part: (N, P, 3) low and high corners."""
    order = np.argsort(parts["face_parts"], kind="stable")
    starts = np.searchsorted(parts["face_parts"][order], np.arange(len(parts["may_touch"])))
    return np.minimum.reduceat(lo[:, order], starts, axis=1), np.maximum.reduceat(hi[:, order], starts, axis=1)


def intersecting_pairs(vertices: np.ndarray, parts: Dict[str, np.ndarray]):
    """Intersecting face pairs of parts that may not touch, over N meshes (N, V, 3).

    Per frame and pair of parts that may not touch, a test of the parts' boxes; the faces of
    each part meeting that pair's box overlap; then one sweep-and-prune over all N frames: the
    face boxes sorted by (frame, part pair, low x), each paired with the later ones of its
    group that start before it ends (x), kept when their boxes overlap; the exact triangle
    test on those candidates.

    Returns:
        frame, face_a, face_b (K,) int64, and the number of candidate pairs.
    """
    faces, face_parts, may_touch = parts["faces"], parts["face_parts"], parts["may_touch"]
    tri = vertices[:, faces]  # (N, F, 3, 3)
    lo, hi = tri.min(2), tri.max(2)
    part_lo, part_hi = _part_boxes(lo, hi, parts)
    pair_p, pair_q = np.nonzero(np.triu(~may_touch, 1))
    over_lo = np.maximum(part_lo[:, pair_p], part_lo[:, pair_q])  # (N, R, 3)
    over_hi = np.minimum(part_hi[:, pair_p], part_hi[:, pair_q])
    frame, pair = np.nonzero((over_lo <= over_hi).all(-1))
    # Faces of either part of each live pair that meet the pair's box overlap.
    by_part = np.argsort(face_parts, kind="stable")
    count = np.bincount(face_parts, minlength=len(may_touch))
    first = np.cumsum(count) - count
    entries = []
    for side, part in ((0, pair_p[pair]), (1, pair_q[pair])):
        group, k = _expand(count[part])
        face = by_part[first[part[group]] + k]
        n = frame[group]
        meets = ((lo[n, face] <= over_hi[n, pair[group]]) & (over_lo[n, pair[group]] <= hi[n, face])).all(-1)
        entries.append((group[meets], np.full(meets.sum(), side), face[meets]))
    group, side, face = (np.concatenate(x) for x in zip(*entries))
    empty = np.zeros(0, dtype=np.int64)
    if len(group) < 2:
        return empty, empty, empty, 0
    n = frame[group]
    box_lo, box_hi = lo[n, face], hi[n, face]
    # Sweep along x within each group: a key increasing with (group, low x); the slack only
    # adds candidates, which the box test below removes.
    origin, span = box_lo[:, 0].min(), box_hi[:, 0].max() - box_lo[:, 0].min() + 1.0
    key_lo = group * span + (box_lo[:, 0] - origin)
    order = np.argsort(key_lo, kind="stable")
    group, side, face, n, box_lo, box_hi, key_lo = (x[order] for x in (group, side, face, n, box_lo, box_hi, key_lo))
    last = np.searchsorted(key_lo, group * span + (box_hi[:, 0] - origin) + 1e-9, side="right")
    i, k = _expand(np.maximum(last - np.arange(len(key_lo)) - 1, 0))
    j = i + 1 + k
    keep = (side[i] != side[j]) & ((box_lo[i] <= box_hi[j]) & (box_lo[j] <= box_hi[i])).all(-1)
    i, j = i[keep], j[keep]
    a, b = np.where(side[i] == 0, face[i], face[j]), np.where(side[i] == 0, face[j], face[i])
    hit = triangles_intersect(tri[n[i], a], tri[n[i], b])
    return n[i][hit], a[hit], b[hit], len(i)


def _zone_vertices(vertices: np.ndarray, parts: Dict[str, np.ndarray], part: int, part_lo, part_hi) -> np.ndarray:
    """Indices of the vertices of ``part`` inside the box overlap of its part with a part it
    may not touch (only there can a vertex be inside such a part)."""
    others = ~parts["may_touch"][part]
    over_lo, over_hi = np.maximum(part_lo[part], part_lo[others]), np.minimum(part_hi[part], part_hi[others])
    live = (over_lo <= over_hi).all(-1)
    if not live.any():
        return np.zeros(0, dtype=np.int64)
    own = np.nonzero(parts["vertex_parts"] == part)[0]
    x = vertices[own]
    inside = ((x[:, None] >= over_lo[live]) & (x[:, None] <= over_hi[live])).all(-1).any(1)
    return own[inside]


def part_thickness_m(vertices: np.ndarray, parts: Dict[str, np.ndarray]) -> np.ndarray:
    """(P,) radius of each part of one mesh (V, 3): the median distance of its vertices from
    its principal axis (the largest eigenvector of its scatter matrix), as the project's
    contact allowance defines it."""
    thickness = np.zeros(len(parts["may_touch"]))
    for part in range(len(thickness)):
        points = vertices[parts["vertex_parts"] == part]
        if len(points) < 3:
            continue
        centred = points - points.mean(0)
        axis = np.linalg.eigh(centred.T @ centred)[1][:, -1]
        thickness[part] = np.median(np.linalg.norm(centred - np.outer(centred @ axis, axis), axis=1))
    return thickness


def frame_depth_mm(vertices: np.ndarray, parts: Dict[str, np.ndarray], allowed_mm: np.ndarray) -> Tuple[float, bool]:
    """Deepest vertex inside a part its own part may not touch, in mm, of one mesh (V, 3) with
    an intersection, and whether a vertex sinks deeper than ``allowed_mm`` (P, P) for its part
    and the part of its nearest face. Candidates: each part's vertices inside its box overlaps
    with parts it may not touch. Winding numbers are sums over triangles, so a candidate's
    winding number with respect to the faces of every part it may not touch is the sum of its
    winding numbers with respect to each such part: one libigl fast-winding-number tree per
    part (small trees build in a fraction of the time of one tree per candidate part's union of
    faces); inside when above 1/2. Depth: the smallest libigl AABB distance to those parts'
    faces."""
    import igl

    tri = vertices[parts["faces"]]
    part_lo, part_hi = _part_boxes(tri.min(1)[None], tri.max(1)[None], parts)
    may_touch = parts["may_touch"]
    query = [_zone_vertices(vertices, parts, p, part_lo[0], part_hi[0]) for p in range(len(may_touch))]
    owner = np.concatenate([np.full(len(q), p) for p, q in enumerate(query)])
    points = vertices[np.concatenate(query)]
    if not len(points):
        return 0.0, False
    winding = np.zeros(len(points))
    for part, faces in enumerate(parts["part_faces"]):
        rows = np.nonzero(~may_touch[owner, part])[0]
        if len(rows):
            tree = igl.FastWindingNumberBVH()
            tree.init(vertices, faces)
            winding[rows] += tree.winding_number(points[rows])
    inside = np.abs(winding) > 0.5
    if not inside.any():
        return 0.0, False
    nearest, nearest_part = np.full(len(points), np.inf), np.full(len(points), -1)
    for part, faces in enumerate(parts["part_faces"]):
        rows = np.nonzero(inside & ~may_touch[owner, part])[0]
        if len(rows):
            distance = igl.point_mesh_squared_distance(points[rows], vertices, faces)[0]
            closer = distance < nearest[rows]
            nearest[rows[closer]], nearest_part[rows[closer]] = distance[closer], part
    depth = 1000.0 * np.sqrt(nearest[inside])
    beyond = depth > allowed_mm[owner[inside], nearest_part[inside]]
    return float(depth.max()), bool(beyond.any())


def penetration_depths_mm(tables: ReferenceTables, vertices: np.ndarray) -> Dict[str, np.ndarray]:
    """Self-penetration of N meshes (N, V, 3), in chunks of frames: ``depth_mm`` (N,) (0
    without an intersection), ``num_face_pairs`` (N,) intersecting pairs, ``num_candidates``
    (N chunks summed, one number) candidate pairs of the exact test."""
    parts = tables.parts
    config = tables.configs["self_penetration"]
    tolerance = float(config["detection"]["depth_tolerance_mm"])
    share = float(config["allowance"]["compressible_share"])
    depth, pairs, candidates = np.zeros(len(vertices)), np.zeros(len(vertices), dtype=np.int64), 0
    penetrating = np.zeros(len(vertices), dtype=bool)
    for lo in range(0, len(vertices), _CHUNK_FRAMES):
        chunk = vertices[lo:lo + _CHUNK_FRAMES]
        frame, _, _, tested = intersecting_pairs(chunk, parts)
        candidates += tested
        pairs[lo:lo + len(chunk)] = np.bincount(frame, minlength=len(chunk))
        for t in np.unique(frame):
            thickness_mm = 1000.0 * part_thickness_m(chunk[t], parts)
            allowed = np.maximum(share * (thickness_mm[:, None] + thickness_mm[None, :]), tolerance)
            depth[lo + t], penetrating[lo + t] = frame_depth_mm(chunk[t], parts, allowed)
    return {"depth_mm": depth, "penetrating": penetrating, "num_face_pairs": pairs, "num_candidates": candidates}


# ---------------------------------------------------------------------------------- a batch
@dataclass
class ReferenceBatch:
    """A batch of clips of one length and frame rate as numpy arrays (float64): global_orient
    (B, T, 3), body_pose (B, T, 23, 3), transl (B, T, 3), betas (B, T, K) per frame,
    detections (B, T, C), fps."""

    global_orient: np.ndarray
    body_pose: np.ndarray
    transl: np.ndarray
    betas: np.ndarray
    detections: np.ndarray
    fps: float

    @classmethod
    def from_clips(cls, clips: Sequence[Dict[str, Any]]) -> "ReferenceBatch":
        """Sequence dicts (the bench clips) of equal length and rate, without precomputed joints."""
        frames, rates = {len(c["body_pose"]) for c in clips}, {float(c["fps"]) for c in clips}
        if len(frames) != 1 or len(rates) != 1:
            raise ValueError(f"expected clips of one length and rate, got lengths {frames} and rates {rates}")
        t = frames.pop()

        def stack(key: str) -> np.ndarray:
            return np.stack([np.asarray(c[key], dtype=np.float64) for c in clips])

        betas = [np.zeros(1) if c.get("betas") is None else np.asarray(c["betas"], dtype=np.float64) for c in clips]
        width = max(b.shape[-1] for b in betas)
        per_frame = np.zeros((len(clips), t, width))
        for i, b in enumerate(betas):
            per_frame[i, :, :b.shape[-1]] = b
        return cls(stack("global_orient"), stack("body_pose"), stack("transl"), per_frame, stack("detections"),
                   rates.pop())


# Steps of each measurement: what the reference computes for a metric key or the suite.
_METRICS = ("jerk", "bone_length_consistency", "range_of_motion", "newtonian_plausibility", "artifact_rate",
            "self_penetration")
_NEEDS_JOINTS = ("jerk", "bone_length_consistency", "newtonian_plausibility")


def run_reference(tables: ReferenceTables, batch: ReferenceBatch, key: str) -> Dict[str, np.ndarray]:
    """The reference for metric ``key`` (or ``"suite"``: all six, posed once) on a batch,
    posing included.

    Returns:
        per metric key (B,): jerk's and bone length's raw value, for the metrics with per-frame
        verdicts the fraction of frames flagged (the range of motion's raw value is graded,
        in degree-seconds per second, so this is not it) with ``<key>_frames`` (B, T) bool; for self-penetration also ``self_penetration_depth_mm``,
        ``self_penetration_face_pairs`` (B, T) and ``self_penetration_candidates`` (a count).
    """
    keys = _METRICS if key == "suite" else (key,)
    b, t = batch.body_pose.shape[:2]
    out: Dict[str, np.ndarray] = {}
    joints = vertices = None
    if "self_penetration" in keys or any(k in keys for k in _NEEDS_JOINTS):
        joints, vertices = pose(tables, batch.global_orient.reshape(-1, 3), batch.body_pose.reshape(-1, 23, 3),
                                batch.transl.reshape(-1, 3), batch.betas.reshape(b * t, -1),
                                need_vertices="self_penetration" in keys)
        joints = joints.reshape(b, t, 24, 3)
    if "jerk" in keys:
        out["jerk"] = jerk(tables, joints, batch.fps)
    if "bone_length_consistency" in keys:
        out["bone_length_consistency"] = bone_length_cv(tables, joints)
    if "range_of_motion" in keys:
        frames = range_of_motion_frames(tables, batch.global_orient.reshape(-1, 3), batch.body_pose.reshape(-1, 23, 3))
        out["range_of_motion_frames"] = frames.reshape(b, t)
    if "newtonian_plausibility" in keys:
        out["newtonian_plausibility_frames"] = newtonian_frames(tables, joints, batch.fps)
    if "artifact_rate" in keys:
        out["artifact_rate_frames"] = artifact_frames(tables, batch.detections)
    if "self_penetration" in keys:
        found = penetration_depths_mm(tables, vertices)
        out["self_penetration_depth_mm"] = found["depth_mm"].reshape(b, t)
        out["self_penetration_face_pairs"] = found["num_face_pairs"].reshape(b, t)
        out["self_penetration_candidates"] = found["num_candidates"]
        out["self_penetration_frames"] = found["penetrating"].reshape(b, t)
    for k in ("range_of_motion", "newtonian_plausibility", "artifact_rate", "self_penetration"):
        if f"{k}_frames" in out:
            out[k] = out[f"{k}_frames"].mean(1)
    return out


# ---------------------------------------------------------------------------------- agreement
# The project's per-frame verdict of each metric that has one (a MetricResult detail, (B, T)).
VERDICT_DETAILS = {"range_of_motion": "violating", "newtonian_plausibility": "violating",
                   "artifact_rate": "flagged", "self_penetration": "penetrating"}


def agreement(project: Dict[str, Any], reference: Dict[str, np.ndarray]) -> Dict[str, Any]:
    """How the project's results (metric key -> MetricResult) compare with the reference's on
    the same batch: per metric with per-frame verdicts, ``frames_equal`` (every frame's verdict)
    and the number of frames flagged by each; per metric with a per-clip value, the largest
    difference and the largest value (its unit); for self-penetration also whether the intersecting face pairs per frame
    are equal and the largest depth difference (mm)."""
    out: Dict[str, Any] = {}
    for key, result in project.items():
        if key in VERDICT_DETAILS:
            mine = result.details[VERDICT_DETAILS[key]].cpu().numpy()
            theirs = reference[f"{key}_frames"]
            out[key] = {"frames_equal": bool(np.array_equal(mine, theirs)), "flagged": int(mine.sum()),
                        "reference_flagged": int(theirs.sum())}
        else:
            mine = result.raw.double().cpu().numpy()
            out[key] = {"max_abs_difference": float(np.abs(mine - reference[key]).max()),
                        "max_value": float(np.abs(reference[key]).max())}
    if "self_penetration" in project:
        details = project["self_penetration"].details
        out["self_penetration"].update(
            face_pairs_equal=bool(np.array_equal(details["num_face_pairs"].cpu().numpy(),
                                                 reference["self_penetration_face_pairs"])),
            max_depth_difference_mm=float(np.abs(details["depth_mm"].double().cpu().numpy()
                                                 - reference["self_penetration_depth_mm"]).max()))
    return out
