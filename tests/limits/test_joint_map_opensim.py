"""The joint map against OpenSim itself: derivation, round trip of 500 random coordinate sets
through OpenSim's own segment orientations, and behaviour at gimbal lock."""

import math

import numpy as np
import pytest
import torch

from humanscore_torch.errors import HumanScoreError
from humanscore_torch.limits.derive import derive_limits
from humanscore_torch.limits.joint_map import JointMap, xyz_decompose

opensim = pytest.importorskip("opensim")

RAJAGOPAL = "opensim/Rajagopal2016.osim"


@pytest.fixture(scope="module")
def rajagopal(reference_data):
    return reference_data / RAJAGOPAL


@pytest.fixture(scope="module")
def derived(rajagopal):
    return derive_limits(rajagopal)


def test_derivation_reads_ranges_and_reproduces_opensim(derived):
    coordinates = derived["coordinates"]
    # Ranges as written in Rajagopal2016.osim (radians there, to 4 decimals: 2.0944 rad = 120.0003 deg).
    assert coordinates["knee_angle_r"]["min"] == pytest.approx(0.0, abs=1e-4)
    assert coordinates["knee_angle_r"]["max"] == pytest.approx(120.0, abs=1e-3)
    assert coordinates["subtalar_angle_r"]["locked"] and coordinates["subtalar_angle_r"]["clamped"]
    assert coordinates["pelvis_tx"]["motion_type"] == "translational"
    # The knee couples two rotations to knee_angle (walker knee): tabulated, not ignored.
    knee = derived["segments"]["knee_r"]["rotations"]
    assert sum("table_deg" in r for r in knee) == 2
    assert max(s["check_error_deg"] for s in derived["segments"].values()) < 0.01
    assert derived["source"]["opensim_version"].startswith("4.")


def test_shipped_config_is_the_rajagopal_derivation(derived):
    from humanscore_torch.config import load_config

    shipped = load_config("joint_limits")
    assert shipped["source"]["model_file"] == "Rajagopal2016.osim"
    assert shipped["coordinates"] == derived["coordinates"]
    for name, segment in derived["segments"].items():
        np.testing.assert_allclose(shipped["segments"][name]["rest_rotation"], segment["rest_rotation"], atol=1e-8)


def test_derive_limits_rejects_missing_file(tmp_path):
    with pytest.raises(HumanScoreError, match="does not exist"):
        derive_limits(tmp_path / "nothing.osim")


def test_round_trip_through_opensim_within_half_degree(rajagopal, derived):
    # The round trip of `humanscore validate`, from the library.
    from humanscore_torch.validation.trial import round_trip

    # OpenSim's segment orientations -> SMPL local rotations (inverse map) -> coordinates (forward map).
    trip = round_trip(rajagopal, count=500, seed=7, limits=derived)
    errors = trip.errors_deg.max(0)
    assert trip.errors_deg.shape[0] == 500
    assert len(trip.coordinate_names) == 32  # pelvis 3, hips 6, knees 2, ankle+subtalar 4, lumbar 3, shoulders 6, elbow+pro_sup 4, wrists 4
    print(f"round trip: 500 sets, largest error {max(errors):.2e} deg")
    assert max(errors) < 0.5
    # Residual angles (what the model locks) come back as 0, the neck too.
    assert trip.residual_max_deg < 0.5


def test_gimbal_lock_is_finite_and_reproduces_the_rotation(rajagopal, derived):
    """arm_add = -90 (the SMPL T-pose) is the shoulder's gimbal lock: flexion and axial rotation
    are then one angle. The map returns finite values whose rotation is OpenSim's, with finite
    gradients."""
    from humanscore_torch.io.opensim import opensim_body_poses

    joint_map = JointMap.from_config(derived)
    values = {"arm_add_r": np.radians([-90.0, -90.0]), "arm_flex_r": np.radians([20.0, 0.0]),
              "arm_rot_r": np.radians([0.0, 20.0])}
    bodies = [s.opensim_child or "torso" for s in joint_map.segments]
    orientations, _ = opensim_body_poses(rajagopal, values, bodies)
    global_orient, body_pose = joint_map.smpl_from_body_orientations(torch.as_tensor(orientations))
    body_pose.requires_grad_(True)
    coords = joint_map.coordinates_from_smpl(global_orient, body_pose)
    assert torch.isfinite(coords).all()
    i = joint_map.coordinate_index
    assert torch.rad2deg(coords[:, i["arm_add_r"]]).tolist() == pytest.approx([-90.0, -90.0], abs=1e-3)
    # Only flex -/+ rot is defined at the lock; the map gives it all to the first angle.
    combined = torch.rad2deg(coords[:, i["arm_flex_r"]] - coords[:, i["arm_rot_r"]])
    assert combined.detach().abs().tolist() == pytest.approx([20.0, 20.0], abs=1e-3)
    # Back through the inverse map to the same humerus orientation.
    again_go, again_bp = joint_map.smpl_from_coordinates(coords.detach())
    np.testing.assert_allclose(again_bp.numpy(), body_pose.detach().numpy(), atol=1e-6)
    coords.sum().backward()
    assert torch.isfinite(body_pose.grad).all()


def test_xyz_decompose_at_and_near_lock_has_finite_gradients():
    angles = torch.tensor([[0.3, math.pi / 2, 0.0], [0.3, math.pi / 2 - 1e-3, -0.2], [0.1, -0.4, 0.5]],
                          dtype=torch.float64)
    def rx(a):
        c, s = torch.cos(a), torch.sin(a); o, z = torch.ones_like(a), torch.zeros_like(a)
        return torch.stack([o, z, z, z, c, -s, z, s, c], -1).reshape(*a.shape, 3, 3)
    def ry(a):
        c, s = torch.cos(a), torch.sin(a); o, z = torch.ones_like(a), torch.zeros_like(a)
        return torch.stack([c, z, s, z, o, z, -s, z, c], -1).reshape(*a.shape, 3, 3)
    def rz(a):
        c, s = torch.cos(a), torch.sin(a); o, z = torch.ones_like(a), torch.zeros_like(a)
        return torch.stack([c, -s, z, s, c, z, z, z, o], -1).reshape(*a.shape, 3, 3)
    matrix = (rx(angles[:, 0]) @ ry(angles[:, 1]) @ rz(angles[:, 2])).requires_grad_(True)
    out = xyz_decompose(matrix)
    rebuilt = rx(out[:, 0]) @ ry(out[:, 1]) @ rz(out[:, 2])
    np.testing.assert_allclose(rebuilt.detach().numpy(), matrix.detach().numpy(), atol=1e-9)
    np.testing.assert_allclose(out[1:].detach().numpy(), angles[1:].numpy(), atol=1e-9)
    out.sum().backward()
    assert torch.isfinite(matrix.grad).all()


def test_derive_limits_command_writes_the_yaml(rajagopal, tmp_path, capsys):
    import argparse

    import yaml

    from humanscore_torch.cli import derive_limits as command

    parser = argparse.ArgumentParser()
    command.add_parser(parser.add_subparsers())
    args = parser.parse_args(["derive-limits", str(rajagopal), "--output", str(tmp_path / "limits.yaml")])
    assert args.handler(args) == 0
    written = yaml.safe_load((tmp_path / "limits.yaml").read_text())
    assert written["source"]["model_file"] == "Rajagopal2016.osim"
    assert written["coordinates"]["hip_flexion_r"]["max"] == pytest.approx(120.0, abs=1e-3)
    assert "limits.yaml" in capsys.readouterr().out
