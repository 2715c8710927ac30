"""The range-of-motion part of the benchmark's reference pipeline: the project's anatomical joint
map and limits written again in numpy, vectorised over frames (what a competent user would write
from the definitions in :mod:`humanscore_torch.functional.range_of_motion` and
:mod:`humanscore_torch.limits.joint_map`): the Davenport decomposition about the map's axes, the
humerus's swing-twist split, the hinges' twist moved to the ball joint above, the humerus cone,
gimbal margins and the tolerance."""

from __future__ import annotations

import math
from typing import Any, Dict, Mapping

import numpy as np

from ..functional.range_of_motion import coordinate_limits, shoulder_cones
from ..limits.joint_map import JointMap

_GIMBAL_EPS = 1e-6
_MAP_TABLES = ("alignment", "parent_body", "chain", "basis", "nu", "middle_sign", "rest", "grid", "table", "slope",
               "is_coordinate", "coupled", "segment_of_coordinate", "outer_slot", "swing_twist", "thorax_axes",
               "neutral", "rotation_sign", "hinge_segments", "hinge_parents", "hinge_parent_bone",
               "hinge_twist_sign", "hinge_bone_sign")


def joint_map_tables(joint_map: JointMap, config: Mapping[str, Any]) -> Dict[str, np.ndarray]:
    """The numbers the reference needs from an anatomical ``joint_map`` and the
    ``range_of_motion`` ``config``: the map's tables, the limits and the humerus cones."""
    if not joint_map.anatomical:
        raise ValueError("the range-of-motion reference needs an anatomical joint map (JointMap.for_range_of_motion)")
    tables = {k: getattr(joint_map, k).cpu().numpy() for k in _MAP_TABLES}
    lower, upper, checked = coordinate_limits(joint_map, config=config)
    tables.update(lower=lower.numpy(), upper=upper.numpy(), checked=checked.numpy())
    tables.update({f"cone_{k}": v.numpy() for k, v in shoulder_cones(joint_map).items()})
    return tables


def _rotation(axes: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """(..., 3) unit axes, (...) angles -> (..., 3, 3) (Rodrigues)."""
    x, y, z = np.moveaxis(axes, -1, 0)
    zero = np.zeros_like(x)
    skew = np.stack([zero, -z, y, z, zero, -x, -y, x, zero], -1).reshape(x.shape + (3, 3))
    s, c = np.sin(angles)[..., None, None], np.cos(angles)[..., None, None]
    return np.eye(3) + s * skew + (1 - c) * skew @ skew


def rodrigues(rotvec: np.ndarray) -> np.ndarray:
    """(..., 3) axis-angle -> (..., 3, 3) rotation matrices."""
    theta = np.linalg.norm(rotvec, axis=-1)
    return _rotation(rotvec / np.where(theta > 1e-12, theta, 1.0)[..., None], theta)


def _quaternion(m: np.ndarray) -> np.ndarray:
    """(..., 3, 3) -> (..., 4) unit quaternions (w, x, y, z), w >= 0 (copysign method)."""
    w = 0.5 * np.sqrt(np.maximum(0.0, 1 + m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2]))
    x = 0.5 * np.sqrt(np.maximum(0.0, 1 + m[..., 0, 0] - m[..., 1, 1] - m[..., 2, 2]))
    y = 0.5 * np.sqrt(np.maximum(0.0, 1 - m[..., 0, 0] + m[..., 1, 1] - m[..., 2, 2]))
    z = 0.5 * np.sqrt(np.maximum(0.0, 1 - m[..., 0, 0] - m[..., 1, 1] + m[..., 2, 2]))
    x = np.copysign(x, m[..., 2, 1] - m[..., 1, 2])
    y = np.copysign(y, m[..., 0, 2] - m[..., 2, 0])
    z = np.copysign(z, m[..., 1, 0] - m[..., 0, 1])
    q = np.stack([w, x, y, z], -1)
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def _coordinates(m: Dict[str, np.ndarray], smpl_relative: np.ndarray):
    """(N, S, 3, 3) relative SMPL rotations -> (N, S, 3) coordinates and (N, S) gimbal cosines."""
    align = m["alignment"]
    relative = np.swapaxes(align[m["parent_body"]], -1, -2) @ smpl_relative @ align[1:]
    basis, nu = m["basis"], m["nu"]
    canonical = np.swapaxes(basis, -1, -2) @ relative @ np.swapaxes(m["rest"], -1, -2) \
        @ _rotation(basis[..., 1], nu) @ basis
    cos_b = np.sqrt(canonical[..., 1, 2] ** 2 + canonical[..., 2, 2] ** 2)
    locked = cos_b < _GIMBAL_EPS
    b = np.arctan2(canonical[..., 0, 2], np.where(locked, 0.0, cos_b))
    a = np.where(locked, np.arctan2(canonical[..., 2, 1], canonical[..., 1, 1]),
                 np.arctan2(-canonical[..., 1, 2], canonical[..., 2, 2]))
    c = np.where(locked, 0.0, np.arctan2(-canonical[..., 0, 1], canonical[..., 0, 0]))
    angles = np.stack([a, (b - nu) * m["middle_sign"], c], -1)
    grid, table = m["grid"], m["table"]
    first = np.repeat(angles[..., :1] / m["slope"][:, :1], 3, axis=-1)  # (N, S, 3)
    step = grid[..., 1] - grid[..., 0]
    position = np.clip((first - grid[..., 0]) / step, 0.0, grid.shape[-1] - 1.0)
    index = np.minimum(np.floor(position), grid.shape[-1] - 2).astype(np.int64)
    low = np.take_along_axis(np.broadcast_to(table, first.shape + table.shape[-1:]), index[..., None], -1)[..., 0]
    high = np.take_along_axis(np.broadcast_to(table, first.shape + table.shape[-1:]), index[..., None] + 1, -1)[..., 0]
    coupled = low + (position - index) * (high - low)
    values = np.where(m["is_coordinate"], angles / m["slope"], np.where(m["coupled"], angles - coupled, angles))
    gimbal = np.abs(np.cos(b))
    # The humerus: swing-twist about the neutral (hanging) humerus.
    swing = m["swing_twist"]
    axes = m["thorax_axes"][swing]  # (C, 3, 3) rows lateral, up, forward
    from_neutral = smpl_relative[:, swing] @ np.swapaxes(m["neutral"][swing], -1, -2)
    down = -axes[:, 1]
    d = (from_neutral @ down[..., None])[..., 0]
    lateral, up, forward = np.moveaxis((axes @ d[..., None])[..., 0], -1, 0)
    elevation = np.arctan2(np.hypot(lateral, forward), -up)
    plane = np.arctan2(forward, lateral)
    q = _quaternion(from_neutral)
    twist = 2.0 * np.arctan2((q[..., 1:] * down).sum(-1), q[..., 0])
    values[:, swing] = np.stack([plane, elevation, twist * m["rotation_sign"][swing]], -1)
    gimbal[:, swing] = np.abs(np.cos(elevation / 2.0))
    return values, gimbal


def _move_hinge_twist(m: Dict[str, np.ndarray], smpl_relative: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The smallest twist about each hinge's parent bone that brings its off-plane bend within
    its laxity, as far as the ball joint above has axial room, moved there."""
    hinges, parents = m["hinge_segments"], m["hinge_parents"]
    flexion, floating = values[:, hinges, 0], values[:, hinges, 1]
    along, across = np.cos(floating) * np.sin(flexion), -np.sin(floating)
    side = np.where(along < 0, -1.0, 1.0)
    twist = np.arctan2(across * side, along * side) * m["hinge_bone_sign"]
    sin_bend = np.hypot(along, across)
    lower, upper = m["lower"], m["upper"]
    laxity = np.clip(np.minimum(-lower[3 * hinges + 1], upper[3 * hinges + 1]), 0.0, math.pi / 2)
    allowed = np.arcsin(np.minimum(np.sin(laxity) / np.maximum(sin_bend, 1e-12), 1.0 - 1e-12))
    twist = twist - np.clip(twist, -allowed, allowed)
    axial = values[:, parents, 2]
    with np.errstate(invalid="ignore"):
        room_low = np.minimum(lower[3 * parents + 2] - axial, 0.0) * m["hinge_twist_sign"]
        room_high = np.maximum(upper[3 * parents + 2] - axial, 0.0) * m["hinge_twist_sign"]
    twist = np.clip(twist, np.minimum(room_low, room_high), np.maximum(room_low, room_high))
    turn = _rotation(np.broadcast_to(m["hinge_parent_bone"], twist.shape + (3,)), twist)
    moved = smpl_relative.copy()
    moved[:, parents] = smpl_relative[:, parents] @ turn
    moved[:, hinges] = np.swapaxes(turn, -1, -2) @ smpl_relative[:, hinges]
    return moved


def _cone_excess(m: Dict[str, np.ndarray], flat: np.ndarray) -> np.ndarray:
    """(N, K) coordinates -> (N, C) radians of each humerus outside its cone."""
    plane, elevation = flat[:, m["cone_plane_index"]], flat[:, m["cone_elevation_index"]]
    d = np.stack([np.sin(elevation) * np.cos(plane), -np.cos(elevation), np.sin(elevation) * np.sin(plane)], -1)
    across = d @ m["cone_frame"].T
    angle = np.arctan2(np.linalg.norm(across, axis=-1), d @ m["cone_centre"])
    azimuth = np.arctan2(across[..., 1], across[..., 0])
    radius = np.interp(azimuth, np.linspace(-math.pi, math.pi, len(m["cone_radius"])), m["cone_radius"])
    return np.maximum(angle - radius, 0.0)


def range_of_motion_frames(m: Dict[str, np.ndarray], config: Mapping[str, Any], global_orient: np.ndarray,
                           body_pose: np.ndarray) -> np.ndarray:
    """(N,) bool: frames with a coordinate beyond its limit by more than the tolerance.

    Args:
        m: :func:`joint_map_tables`. config: the ``range_of_motion`` config.
        global_orient: (N, 3) and body_pose (N, 23, 3) axis-angle.
    """
    frames = len(body_pose)
    local = rodrigues(np.concatenate([global_orient[:, None], body_pose], 1))
    local = np.concatenate([local, np.broadcast_to(np.eye(3), (frames, 1, 3, 3))], 1)  # index 24: identity
    chain = local[:, m["chain"]]  # (N, S, 3, 3, 3)
    smpl_relative = chain[:, :, 0] @ chain[:, :, 1] @ chain[:, :, 2]
    values, _ = _coordinates(m, smpl_relative)
    values, gimbal = _coordinates(m, _move_hinge_twist(m, smpl_relative, values))
    flat = values.reshape(frames, -1)
    near_lock = gimbal < math.sin(math.radians(float(config["gimbal_margin_deg"])))
    active = m["checked"] & ~(near_lock[:, m["segment_of_coordinate"]] & m["outer_slot"])
    with np.errstate(invalid="ignore"):
        excess = np.maximum(m["lower"] - flat, 0.0) + np.maximum(flat - m["upper"], 0.0)
    excess = np.nan_to_num(excess, nan=0.0, posinf=0.0)
    excess[:, m["cone_elevation_index"]] += _cone_excess(m, flat)
    return ((np.degrees(excess) > float(config["tolerance_deg"])) & active).any(-1)
