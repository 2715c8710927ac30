"""Probes of the anatomical joint map (issue 16): pure hinge flexion reads as flexion only, and
the humerus swept over the sphere gives coordinates without jumps."""

import math

import numpy as np
import pytest
import torch

from humanscore_torch.config import load_config
from humanscore_torch.functional.range_of_motion import (
    anatomical_coordinates, coordinate_limits, joint_map_for_body, range_of_motion)
from humanscore_torch.limits.joint_map import JointMap

FLEXION_DEG = np.arange(0.0, 151.0, 5.0)
# SMPL's own flexion axes (joint -> local axis): knees about +x, elbows about +-y (the T-pose
# arms point along -+x, palms down: the forearm flexes forwards).
HINGES = {"knee_angle_r": (5, (1.0, 0.0, 0.0)), "knee_angle_l": (4, (1.0, 0.0, 0.0)),
          "elbow_flex_r": (19, (0.0, 1.0, 0.0)), "elbow_flex_l": (18, (0.0, -1.0, 0.0))}


@pytest.fixture(scope="module", params=["default body", "canonical T-pose"])
def joint_map(request, default_body):
    return joint_map_for_body(default_body) if request.param == "default body" else JointMap.for_range_of_motion()


@pytest.mark.parametrize("name", list(HINGES))
def test_pure_hinge_flexion_reads_only_as_flexion(joint_map, name):
    joint, axis = HINGES[name]
    angles = torch.as_tensor(np.radians(FLEXION_DEG))
    body_pose = torch.zeros(len(angles), 23, 3, dtype=torch.float64)
    body_pose[:, joint - 1] = angles[:, None] * torch.tensor(axis, dtype=torch.float64)
    global_orient = torch.zeros(len(angles), 3, dtype=torch.float64)
    coords = torch.rad2deg(joint_map.coordinates_from_smpl(global_orient, body_pose))
    rest = coords[0]
    k = joint_map.coordinate_index[name]
    print(name, "reads", [round(float(v), 2) for v in coords[::6, k]], "largest other change",
          round(float((coords - rest).abs().index_fill(1, torch.tensor([k]), 0.0).max()), 3))
    assert torch.allclose(coords[:, k], torch.as_tensor(FLEXION_DEG), atol=2.0)
    others = torch.ones(coords.shape[1], dtype=torch.bool)
    others[k] = False
    # Every other coordinate stays at its rest reading, the hinge's own residuals at 0.
    assert float((coords[:, others] - rest[others]).abs().max()) < 2.0
    segment = k // 3
    for residual in (3 * segment + 1, 3 * segment + 2):
        if not joint_map.coordinate_names[residual].startswith("pro_sup"):
            assert float(coords[:, residual].abs().max()) < 2.0, joint_map.coordinate_names[residual]
    # Through the metric: no excess anywhere up to the hinge's flexion limit.
    lower, upper, _ = coordinate_limits(joint_map)
    inside = FLEXION_DEG <= math.degrees(float(upper[k]))
    out = range_of_motion(global_orient[None, inside], body_pose[None, inside], joint_map=joint_map)
    assert float(out["raw"]) == 0.0 and not bool(out["violating"].any())


def _rotation(axis: np.ndarray, angle: float) -> np.ndarray:
    """Rotation about a unit axis (numpy Rodrigues, written out here)."""
    skew = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + math.sin(angle) * skew + (1 - math.cos(angle)) * skew @ skew


@pytest.mark.parametrize("side,joint,lateral", [("r", 17, -1.0), ("l", 16, 1.0)])
def test_humerus_sweep_has_no_jumps(joint_map, side, joint, lateral):
    """The humerus swept over the sphere in 5-deg steps of plane of elevation and elevation
    (SMPL rotations built here: the T-pose arm lowered to the side, then swung straight to the
    direction, then turned 30 deg about itself): between grid neighbours no coordinate moves by
    more than 5 deg (the plane by its arc on the sphere), the axial rotation reads 30 wherever
    the metric reads it, and the cone's excess does not jump. Only the region around the
    humerus pointing back through the chest (60 deg around it) is left out; no arm gets there."""
    planes, elevations = np.arange(-180.0, 180.0, 5.0), np.arange(0.0, 181.0, 5.0)
    down, arm = np.array([0.0, -1.0, 0.0]), np.array([lateral, 0.0, 0.0])
    through_chest = np.array([-lateral * math.cos(math.radians(45)), 0.0, -math.sin(math.radians(45))])
    internal = 30.0
    rotations, keep = [], []
    for e in elevations:
        for p in planes:
            pr, er = math.radians(p), math.radians(e)
            d = np.array([lateral * math.sin(er) * math.cos(pr), -math.cos(er), math.sin(er) * math.sin(pr)])
            keep.append(math.degrees(math.acos(np.clip(d @ through_chest, -1, 1))) > 60.0)
            towards = np.array([lateral * math.cos(pr), 0.0, math.sin(pr)])  # the plane's horizontal
            swing = _rotation(np.cross(down, towards), er)  # down -> d, within the plane
            lower_arm = _rotation(np.cross(arm, down), math.pi / 2)  # T-pose -> at the side
            # Internal rotation: about the proximal humerus for the right arm, distal for the left.
            rotations.append(_rotation(d * lateral, math.radians(internal)) @ swing @ lower_arm)
    rotations = torch.as_tensor(np.stack(rotations))
    body_pose = torch.eye(3, dtype=torch.float64).repeat(len(rotations), 23, 1, 1)
    body_pose[:, joint - 1] = rotations
    global_orient = torch.eye(3, dtype=torch.float64).expand(len(rotations), 3, 3)
    lower, upper, _ = coordinate_limits(joint_map)
    coords = torch.rad2deg(anatomical_coordinates(joint_map, global_orient, body_pose, lower, upper))
    coords = coords.reshape(len(elevations), len(planes), -1).numpy()
    keep = np.array(keep).reshape(len(elevations), len(planes))
    i = joint_map.coordinate_index
    plane, elevation, rotation = (coords[..., i[f"{n}_{side}"]] for n in ("elv_angle", "shoulder_elv", "shoulder_rot"))
    excess = range_of_motion(global_orient[None], body_pose[None], joint_map=joint_map)["per_frame_excess_deg"][0]
    excess = excess.reshape(len(elevations), len(planes)).numpy()
    assert np.allclose(elevation, elevations[:, None], atol=0.5)
    # The twist is undefined straight up; the metric reads it below 180 - 2 x its gimbal margin
    # (160 deg). Near the pole the body's own thorax axes (a fraction of a degree off SMPL's)
    # matter more: within 1.5 deg there.
    margin = float(load_config("range_of_motion")["gimbal_margin_deg"])
    defined = elevation < 180.0 - 2 * margin
    assert np.allclose(rotation[defined], internal, atol=1.5)
    others = np.delete(coords, [i[f"{n}_{side}"] for n in ("elv_angle", "shoulder_elv", "shoulder_rot")], axis=-1)
    worst = {"elevation": 0.0, "plane arc": 0.0, "rotation": 0.0, "others": 0.0, "cone excess": 0.0}
    for axis in (0, 1):  # neighbours in elevation, then in plane (wrapping round)
        def step(x):
            return np.diff(x, axis=0) if axis == 0 else np.roll(x, -1, axis=1) - x
        both = (keep[1:] & keep[:-1]) if axis == 0 else (keep & np.roll(keep, -1, axis=1))
        # The plane's change as an arc on the sphere (at the nearer pole: a plane change at
        # elevation 0 or 180 moves nothing).
        sine = np.sin(np.radians(elevation))
        nearer = np.minimum(sine[1:], sine[:-1]) if axis == 0 else np.minimum(sine, np.roll(sine, -1, axis=1))
        arc = np.abs((step(plane) + 180.0) % 360.0 - 180.0) * nearer
        both_defined = both & ((defined[1:] & defined[:-1]) if axis == 0 else (defined & np.roll(defined, -1, 1)))
        worst["elevation"] = max(worst["elevation"], float(np.abs(step(elevation))[both].max()))
        worst["plane arc"] = max(worst["plane arc"], float(arc[both].max()))
        worst["rotation"] = max(worst["rotation"], float(np.abs(step(rotation))[both_defined].max()))
        worst["others"] = max(worst["others"], float(np.abs(step(others)).max()))
        worst["cone excess"] = max(worst["cone excess"], float(np.abs(step(excess))[both].max()))
    print(f"humerus sweep ({side}): largest change between neighbours (deg)",
          {k: round(v, 3) for k, v in worst.items()})
    cone = worst.pop("cone excess")
    # (+0.05: the default body's thorax axes are a fraction of a degree off SMPL's world axes.)
    assert max(worst.values()) <= 5.0 + 0.05
    # The cone's radius changes with azimuth, so its excess may change a little faster than
    # the direction (at most 6.3 deg per 5-deg step here), but never jumps.
    assert cone <= 2 * 5.0
