"""Anatomical meaning of the joint map on the default body: a pose set in OpenSim moves the
same limb the same way on the SMPL body, checked as world directions of limbs."""

import math

import numpy as np
import pytest
import torch

from humanscore_torch.functional.range_of_motion import joint_map_for_body
from humanscore_torch.limits.joint_map import FRAME_CHANGE
from humanscore_torch.rotations import rotvec_to_rotmat

opensim = pytest.importorskip("opensim")

# coordinate, degrees, SMPL limb (joint, child joint), OpenSim limb (body, body), the SMPL-world
# direction the limb's far end moves to, and a hand-built SMPL pose doing the same movement
# (joint -> world rotation vector, applied on the T-pose; arms first brought down to the sides).
_DOWN = {17: (0.0, 0.0, math.pi / 2)}  # right arm from the T-pose (-x) down to the side
CASES = [
    ("hip_flexion_r", 30.0, (2, 5), ("femur_r", "tibia_r"), (0, 0, 1), {2: (-math.radians(30), 0, 0)}),
    ("knee_angle_r", 60.0, (5, 8), ("tibia_r", "talus_r"), (0, 0, -1), {5: (math.radians(60), 0, 0)}),
    ("elbow_flex_r", 90.0, (19, 21), ("ulna_r", "hand_r"), (0, 0, 1), {**_DOWN, 19: (0, math.radians(90), 0)}),
    ("arm_flex_r", 45.0, (17, 19), ("humerus_r", "ulna_r"), (0, 0, 1), None),
]


def _angle(a, b):
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    return math.degrees(math.acos(np.clip(a @ b, -1, 1)))


@pytest.fixture(scope="module")
def rajagopal(reference_data):
    return reference_data / "opensim" / "Rajagopal2016.osim"


def _opensim_pose(path, name, degrees, bodies):
    from humanscore_torch.io.opensim import opensim_body_poses

    values = {name: np.radians([0.0, degrees])}
    return opensim_body_poses(path, values, bodies)


@pytest.mark.parametrize("name,degrees,smpl_limb,os_limb,moves_to,hand_pose", CASES, ids=[c[0] for c in CASES])
def test_opensim_pose_moves_the_same_limb_the_same_way(rajagopal, default_body, name, degrees, smpl_limb,
                                                       os_limb, moves_to, hand_pose):
    joint_map = joint_map_for_body(default_body)
    bodies = [s.opensim_child or "torso" for s in joint_map.segments]
    orientations, _ = _opensim_pose(rajagopal, name, degrees, bodies)
    _, origins = _opensim_pose(rajagopal, name, degrees, list(os_limb))
    to_smpl = np.asarray(FRAME_CHANGE).T
    os_dir = (origins[:, 1] - origins[:, 0]) @ to_smpl.T  # (2, 3) rest and posed, SMPL world
    # OpenSim itself: the limb turns by the coordinate's angle (to ~2 deg: oblique axes), towards moves_to.
    assert _angle(os_dir[0], os_dir[1]) == pytest.approx(degrees, abs=3.0)
    assert (os_dir[1] - os_dir[0]) @ np.asarray(moves_to) > 0
    # SMPL body posed from OpenSim's segment orientations: same world direction.
    global_orient, body_pose = joint_map.smpl_from_body_orientations(torch.as_tensor(orientations))
    joints = default_body(global_orient.float(), body_pose.float(), need_vertices=False).joints.double().numpy()
    smpl_dir = joints[:, smpl_limb[1]] - joints[:, smpl_limb[0]]
    for k in range(2):
        assert _angle(smpl_dir[k], os_dir[k]) < 3.0


@pytest.mark.parametrize("name,degrees,smpl_limb,os_limb,moves_to,hand_pose",
                         [c for c in CASES if c[5] is not None], ids=[c[0] for c in CASES if c[5] is not None])
def test_hand_built_smpl_pose_reads_as_the_opensim_coordinate(default_body, name, degrees, smpl_limb, os_limb,
                                                              moves_to, hand_pose):
    """A pose built from SMPL's own axes (no map involved) moves the limb the expected way,
    and the forward map reads it as the expected coordinate value."""
    joint_map = joint_map_for_body(default_body)
    body_pose = torch.zeros(23, 3, dtype=torch.float64)
    for joint, rotvec in hand_pose.items():
        body_pose[joint - 1] = torch.tensor(rotvec, dtype=torch.float64)
    global_orient = torch.zeros(3, dtype=torch.float64)
    rest = default_body(global_orient.float(), torch.zeros(23, 3), need_vertices=False).joints.double().numpy()
    posed = default_body(global_orient.float(), body_pose.float(), need_vertices=False).joints.double().numpy()
    change = (posed[smpl_limb[1]] - posed[smpl_limb[0]]) - (rest[smpl_limb[1]] - rest[smpl_limb[0]])
    if name != "elbow_flex_r":  # the elbow case first moves the arm down
        assert change @ np.asarray(moves_to) > 0
    coords = joint_map.coordinate_index, joint_map.coordinates_from_smpl(global_orient, body_pose)
    # The knee and the elbow are read about the body's own hinge axes (SMPL's x and y here):
    # exactly the angle built. The hip is read about the model's axes, aligned to the body's
    # thigh (which leans 5 deg forward at rest): within 8 deg.
    tolerance = 8.0 if name.startswith("hip") else 0.5
    assert math.degrees(coords[1][coords[0][name]]) == pytest.approx(degrees, abs=tolerance)


@pytest.mark.parametrize("side,joint,down_sign", [("r", 16, 1.0), ("l", 15, -1.0)])
def test_shoulder_flexion_from_arms_down(default_body, side, joint, down_sign):
    """Arm down at the side, then 45 deg forward, built from SMPL axes: plane of elevation 90
    (flexion), elevation 45, no axial rotation; then 30 deg of internal rotation about the
    humerus reads +30."""
    joint_map = joint_map_for_body(default_body)
    down = rotvec_to_rotmat(torch.tensor([0.0, 0.0, down_sign * math.pi / 2], dtype=torch.float64))
    forward = rotvec_to_rotmat(torch.tensor([-math.pi / 4, 0.0, 0.0], dtype=torch.float64))
    body_pose = torch.eye(3, dtype=torch.float64).repeat(23, 1, 1)
    body_pose[joint] = forward @ down  # the shoulder; its parents are at rest
    i = joint_map.coordinate_index
    coords = torch.rad2deg(joint_map.coordinates_from_smpl(torch.eye(3, dtype=torch.float64), body_pose))
    assert float(coords[i[f"elv_angle_{side}"]]) == pytest.approx(90.0, abs=0.5)
    assert float(coords[i[f"shoulder_elv_{side}"]]) == pytest.approx(45.0, abs=0.5)
    assert float(coords[i[f"shoulder_rot_{side}"]]) == pytest.approx(0.0, abs=0.5)
    # Internal rotation: the bent forearm turns from forward to medial (+x for the right arm).
    inward = rotvec_to_rotmat(torch.tensor([0.0, down_sign * math.radians(30), 0.0], dtype=torch.float64))
    body_pose[joint] = inward @ down
    coords = torch.rad2deg(joint_map.coordinates_from_smpl(torch.eye(3, dtype=torch.float64), body_pose))
    assert float(coords[i[f"shoulder_rot_{side}"]]) == pytest.approx(30.0, abs=0.5)


def test_rest_t_pose_reads_as_the_configured_rest_pose(default_body):
    """Without a body the T-pose is exactly the configured rest pose; aligned to the default
    body's bones it differs by the body's own rest angles (legs apart, knees slightly bent)."""
    from humanscore_torch.config import load_config
    from humanscore_torch.limits.joint_map import JointMap

    rest = load_config("range_of_motion")["smpl_rest_pose_deg"]
    zeros = (torch.zeros(3, dtype=torch.float64), torch.zeros(23, 3, dtype=torch.float64))
    plain = JointMap.from_config()
    coords = torch.rad2deg(plain.coordinates_from_smpl(*zeros))
    expected = torch.tensor([rest.get(n, 0.0) for n in plain.coordinate_names], dtype=torch.float64)
    assert torch.allclose(coords, expected, atol=1e-6)
    aligned = joint_map_for_body(default_body)
    coords = torch.rad2deg(aligned.coordinates_from_smpl(*zeros))
    for name in ("pro_sup_r", "pro_sup_l", "hip_flexion_r", "hip_adduction_l", "ankle_angle_r"):
        assert float(coords[aligned.coordinate_index[name]]) == pytest.approx(rest.get(name, 0.0), abs=10.0)
    # Read anatomically, the T-pose is straight knees and elbows and arms abducted 90 deg
    # without rotation, exactly (the body's rest offsets are its neutral).
    for name, value in (("knee_angle_r", 0.0), ("knee_adduction_l", 0.0), ("elbow_flex_l", 0.0),
                        ("elbow_abduction_r", 0.0), ("shoulder_elv_r", 90.0), ("elv_angle_l", 0.0),
                        ("shoulder_rot_r", 0.0)):
        assert float(coords[aligned.coordinate_index[name]]) == pytest.approx(value, abs=0.5)
