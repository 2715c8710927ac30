"""OpenSim import of the real running trial (Hamner et al. 2010, subject02) onto the default
body, checked against OpenSim's own body positions, the .mot angles, and the force plates."""

import copy

import numpy as np
import pytest
import torch

from humanscore_torch.errors import MotionFileError
from humanscore_torch.io.opensim import read_mot, read_opensim_motion
from humanscore_torch.limits.joint_map import JointMap
# The figures are the library's, the ones `humanscore validate` prints.
from humanscore_torch.validation.trial import (
    HAMNER_MODEL as MODEL, RUNNING_TRIAL as TRIAL, RunningTrial, angle_rms_deg, limb_directions,
    newtonian_on_import, rom_violation)

opensim = pytest.importorskip("opensim")


@pytest.fixture(scope="module")
def folder(reference_data):
    return reference_data / "opensim"


@pytest.fixture(scope="module")
def trial(reference_data, default_body):
    return RunningTrial(reference_data, default_body)


@pytest.fixture(scope="module")
def imported(trial):
    return trial.sequence


@pytest.fixture(scope="module")
def mot(folder):
    labels, values, times, in_degrees = read_mot(folder / TRIAL)
    assert in_degrees
    return {n: values[:, i] for i, n in enumerate(labels)}


def test_import_shapes_and_rate(imported):
    assert imported["fps"] == pytest.approx(60.0, rel=1e-5)
    assert imported["global_orient"].shape == (599, 3) and imported["body_pose"].shape == (599, 23, 3)
    assert imported["transl"].shape == (599, 3)
    assert imported["metadata"]["opensim_model"] == MODEL


def test_limb_directions_match_opensim_within_5_deg_rms(trial):
    directions = limb_directions(trial)
    rms = directions.rms_deg
    print("limb direction RMS (deg):", {k: round(v, 2) for k, v in rms.items()})
    assert len(rms) == 8 and max(rms.values()) < 5.0
    # The root: the SMPL hip-centre midpoint sits on OpenSim's (femur origins), in SMPL axes.
    np.testing.assert_allclose(directions.smpl_hips, directions.opensim_hips, atol=1e-5)


def test_angles_from_smpl_poses_match_the_mot(trial):
    rms = angle_rms_deg(trial)
    print("angle RMS vs .mot (deg):", {k: round(v, 3) for k, v in rms.items()})
    assert {"knee_angle_r", "knee_angle_l", "hip_flexion_r", "hip_flexion_l", "hip_adduction_r",
            "hip_rotation_r", "elbow_flex_r", "elbow_flex_l"} <= set(rms)
    assert max(rms.values()) < 2.0


def test_real_trial_rom_violation_rate_at_most_1_percent(trial, default_body):
    from humanscore_torch.functional.range_of_motion import joint_map_for_body

    out = rom_violation(trial)
    print("real trial ROM violation rate", float(out["violation_rate"][0]), "raw (deg-s/s)", float(out["raw"][0]),
          "score", float(out["score"][0]))
    assert float(out["violation_rate"][0]) <= 0.01
    # Rajagopal's knee angle is flexion-positive; Hamner's .mot is flexion-negative.
    assert float(out["coordinates"][0, :, joint_map_for_body(default_body).coordinate_index["knee_angle_r"]].max()) > 1.5


def test_newtonian_on_the_real_trial(trial):
    # Treadmill: the trial is moved to an over-ground frame (the belt speed from the planted
    # feet) so that foot contact is seen as still feet.
    figures = newtonian_on_import(trial)
    correlation, rate = figures["com_force_correlation"], figures["violation_rate"]
    print(f"COM vertical acceleration vs force plates: r = {correlation:.3f}; belt {figures['belt_m_s']:.2f} m/s; "
          f"Newtonian violation rate {rate:.4f}")
    assert correlation >= 0.9
    assert rate <= 0.02


def test_import_lists_the_joints_it_leaves_at_rest(imported, trial):
    """The Hamner model locks both wrists and has no toe, finger or neck segment: those SMPL
    joints are placeholders, and the metadata says so (self-penetration leaves them out).
    Unlocking the wrists in the model's limits makes them measured."""
    from humanscore_torch.io.opensim import unmeasured_joints

    listed = "left_foot,right_foot,neck,head,left_wrist,right_wrist,left_hand,right_hand"
    assert imported["metadata"]["unmeasured_joints"] == listed
    limits = copy.deepcopy(trial.limits)
    for name in ("wrist_flex_r", "wrist_dev_r"):
        limits["coordinates"][name]["locked"] = False
    names = unmeasured_joints(limits, imported["metadata"]["coordinates"])
    assert "right_wrist" not in names and "left_wrist" in names
    assert "right_hip" not in unmeasured_joints(limits, ["hip_flexion_r"])
    assert "right_hip" in unmeasured_joints(limits, ["hip_flexion_l"])  # a coordinate the motion lacks


def test_import_without_model_uses_the_shipped_map(folder, tmp_path, default_body, mot):
    only_mot = tmp_path / TRIAL
    only_mot.write_text((folder / TRIAL).read_text())
    seq = read_opensim_motion(only_mot, body=default_body)[0]
    assert seq["metadata"]["opensim_model"] is None
    joint_map = JointMap.from_config(rest_joints=default_body(torch.zeros(3), torch.zeros(23, 3),
                                                              need_vertices=False).joints.double())
    coords = torch.rad2deg(joint_map.coordinates_from_smpl(seq["global_orient"].double(), seq["body_pose"].double()))
    # Same coordinate names as Rajagopal's: read back as written.
    for name in ("hip_flexion_r", "elbow_flex_l", "lumbar_rotation"):
        assert np.abs(coords[:, joint_map.coordinate_index[name]].numpy() - mot[name]).max() < 0.01
    # Hamner's knees are flexion-negative (-120..10 deg; the .mot reaches -112): told from the
    # values and negated to the shipped map's flexion-positive convention, not bent backwards.
    for name in ("knee_angle_r", "knee_angle_l"):
        assert np.abs(coords[:, joint_map.coordinate_index[name]].numpy() + mot[name]).max() < 0.01
    assert "knee_angle_r, knee_angle_l written flexion-negative" in seq["metadata"]["conversion"]


def test_bad_mot_file_names_the_file(tmp_path):
    bad = tmp_path / "broken.mot"
    bad.write_text("no header here\n1 2 3\n")
    with pytest.raises(MotionFileError, match="broken.mot"):
        read_opensim_motion(bad)
