"""OpenSim import of the real running trial (Hamner et al. 2010, subject02) onto the default
body, checked against OpenSim's own body positions, the .mot angles, and the force plates."""

import math

import numpy as np
import pytest
import torch

from humanscore_torch.errors import MotionFileError
from humanscore_torch.io.opensim import opensim_body_poses, read_mot, read_opensim_motion
from humanscore_torch.limits.joint_map import FRAME_CHANGE, JointMap

opensim = pytest.importorskip("opensim")

MODEL = "FullBodyModel_Hamner2010_v2_0.osim"
TRIAL = "subject02_running_ik.mot"
# SMPL limb (joint -> child joint) and the OpenSim bodies whose origins span the same limb.
LIMBS = {
    "thigh_r": ((2, 5), ("femur_r", "tibia_r")), "shank_r": ((5, 8), ("tibia_r", "talus_r")),
    "upper_arm_r": ((17, 19), ("humerus_r", "ulna_r")), "forearm_r": ((19, 21), ("ulna_r", "hand_r")),
    "thigh_l": ((1, 4), ("femur_l", "tibia_l")), "shank_l": ((4, 7), ("tibia_l", "talus_l")),
    "upper_arm_l": ((16, 18), ("humerus_l", "ulna_l")), "forearm_l": ((18, 20), ("ulna_l", "hand_l")),
}


@pytest.fixture(scope="module")
def folder(reference_data):
    return reference_data / "opensim"


@pytest.fixture(scope="module")
def imported(folder, default_body):
    return read_opensim_motion(folder / TRIAL, folder / MODEL, body=default_body)[0]


@pytest.fixture(scope="module")
def mot(folder):
    labels, values, times, in_degrees = read_mot(folder / TRIAL)
    assert in_degrees
    return {n: values[:, i] for i, n in enumerate(labels)}


@pytest.fixture(scope="module")
def joints(imported, default_body):
    out = default_body(imported["global_orient"].double(), imported["body_pose"].double(), None,
                       imported["transl"].double(), need_vertices=False)
    return out.joints.numpy()


def test_import_shapes_and_rate(imported):
    assert imported["fps"] == pytest.approx(60.0, rel=1e-5)
    assert imported["global_orient"].shape == (599, 3) and imported["body_pose"].shape == (599, 23, 3)
    assert imported["transl"].shape == (599, 3)
    assert imported["metadata"]["opensim_model"] == MODEL


def test_limb_directions_match_opensim_within_5_deg_rms(folder, mot, joints):
    translations = ("pelvis_tx", "pelvis_ty", "pelvis_tz")
    coordinates = {n: (v if n in translations else np.radians(v)) for n, v in mot.items()}
    bodies = sorted({b for _, pair in LIMBS.values() for b in pair} | {"femur_r", "femur_l"})
    _, origins = opensim_body_poses(folder / MODEL, coordinates, bodies)
    origins = origins @ np.asarray(FRAME_CHANGE)  # OpenSim ground -> SMPL world (row vectors)
    index = {b: i for i, b in enumerate(bodies)}
    rms = {}
    for name, ((j0, j1), (b0, b1)) in LIMBS.items():
        smpl = joints[:, j1] - joints[:, j0]
        model = origins[:, index[b1]] - origins[:, index[b0]]
        cos = (smpl * model).sum(-1) / np.linalg.norm(smpl, axis=-1) / np.linalg.norm(model, axis=-1)
        rms[name] = float(np.sqrt(np.mean(np.degrees(np.arccos(np.clip(cos, -1, 1))) ** 2)))
    print("limb direction RMS (deg):", {k: round(v, 2) for k, v in rms.items()})
    assert max(rms.values()) < 5.0
    # The root: the SMPL hip-centre midpoint sits on OpenSim's (femur origins), in SMPL axes.
    hips = origins[:, [index["femur_r"], index["femur_l"]]].mean(1)
    np.testing.assert_allclose(joints[:, [1, 2]].mean(1), hips, atol=1e-5)


def test_angles_from_smpl_poses_match_the_mot(folder, imported, mot, default_body):
    from humanscore_torch.limits.derive import derive_limits

    rest = default_body(torch.zeros(3), torch.zeros(23, 3), need_vertices=False).joints.double()
    hamner = JointMap.from_config(derive_limits(folder / MODEL), rest_joints=rest)
    coords = torch.rad2deg(hamner.coordinates_from_smpl(imported["global_orient"].double(),
                                                        imported["body_pose"].double())).numpy()
    rms = {}
    for name in ("knee_angle_r", "knee_angle_l", "hip_flexion_r", "hip_flexion_l", "hip_adduction_r",
                 "hip_rotation_r", "elbow_flex_r", "elbow_flex_l"):
        rms[name] = float(np.sqrt(np.mean((coords[:, hamner.coordinate_index[name]] - mot[name]) ** 2)))
    print("angle RMS vs .mot (deg):", {k: round(v, 3) for k, v in rms.items()})
    assert max(rms.values()) < 2.0


def test_real_trial_rom_violation_rate_at_most_1_percent(imported, default_body):
    from humanscore_torch.functional.range_of_motion import joint_map_for_body, range_of_motion

    out = range_of_motion(imported["global_orient"][None], imported["body_pose"][None], None,
                          joint_map_for_body(default_body))
    print("real trial ROM violation rate", float(out["raw"][0]), "score", float(out["score"][0]))
    assert float(out["raw"][0]) <= 0.01
    # Rajagopal's knee angle is flexion-positive; Hamner's .mot is flexion-negative.
    assert float(out["coordinates"][0, :, joint_map_for_body(default_body).coordinate_index["knee_angle_r"]].max()) > 1.5


def test_newtonian_on_the_real_trial(folder, joints, imported):
    newtonian = pytest.importorskip("humanscore_torch.functional.newtonian")
    from humanscore_torch.body.segments import center_of_mass
    from humanscore_torch.functional.filtering import lowpass_derivatives

    fps = torch.tensor([imported["fps"]], dtype=torch.float64)
    joints_t = torch.as_tensor(joints)[None]
    mask = torch.ones(1, joints.shape[0], dtype=torch.bool)
    com = lowpass_derivatives(center_of_mass(joints_t), fps, mask, 8.0)
    labels, values, times, _ = read_mot(folder / "subject02_running_grf.mot")
    force_y = values[:, labels.index("ground_force_vy")] + values[:, labels.index("1_ground_force_vy")]
    trial_times = np.arange(joints.shape[0]) / imported["fps"]
    mass = 75.16  # the Hamner model's total mass (reference-data README)
    implied = np.interp(trial_times, times, force_y) / mass - 9.81
    valid = com.valid[0].numpy()
    correlation = np.corrcoef(com.acceleration[0, valid, 1].numpy(), implied[valid])[0, 1]
    # Treadmill: planted feet slide backwards at the belt speed. Move to an over-ground frame
    # (a constant velocity: accelerations unchanged) so foot contact is seen as still feet.
    lower = np.where(joints[:, 10, 1] < joints[:, 11, 1], 10, 11)
    foot_speed = np.gradient(joints[:, [10, 11], 2], axis=0)[np.arange(len(lower)), lower - 10] * imported["fps"]
    belt = -np.median(foot_speed[np.interp(trial_times, times, force_y) > 200.0])
    over_ground = joints_t.clone()
    over_ground[..., 2] += torch.as_tensor(belt * trial_times)[None, :, None]
    rate = float(newtonian.newtonian_plausibility(over_ground, fps, mask)["raw"][0])
    print(f"COM vertical acceleration vs force plates: r = {correlation:.3f}; belt {belt:.2f} m/s; "
          f"Newtonian violation rate {rate:.4f}")
    assert correlation >= 0.9
    assert rate <= 0.02


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


def test_bad_mot_file_names_the_file(tmp_path):
    bad = tmp_path / "broken.mot"
    bad.write_text("no header here\n1 2 3\n")
    with pytest.raises(MotionFileError, match="broken.mot"):
        read_opensim_motion(bad)
