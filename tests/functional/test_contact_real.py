"""Newtonian plausibility on real motion: the OpenCap squat and walk and the Hamner running trial
score at least 90, keep it under 15 cm of slow vertical drift, and lose at least 5 points to a
1 m/s sideways drift (a camera-pan error: the whole body slides with its feet planted).

The OpenCap clips come two ways: as 24 SMPL-like joints placed by OpenSim on the OpenCap model
(LaiArnoldModified2017_contacts.osim, the subject's own skeleton), and imported onto the default
body without a model (the shipped Rajagopal map; the OpenCap model itself does not import yet:
its hands are WeldJoints). The import anchors the root at the pelvis, and the default body's legs
are shorter than the subject's, so the planted feet rise and sink 12-15 cm with every squat: the
case that read as flight in 56.9 % of the squat's frames before the ground was local and rest
counted as support.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from humanscore_torch.functional.newtonian import CONSTRAINTS, newtonian_plausibility

opensim = pytest.importorskip("opensim")

F64 = torch.float64
OPENCAP_MODEL = "LaiArnoldModified2017_contacts.osim"
OPENCAP_CLIPS = ("squats1_videoAndMocap.mot", "walking1_videoAndMocap.mot")


def _newtonian(joints: np.ndarray, fps: float, label: str):
    out = newtonian_plausibility(torch.as_tensor(joints, dtype=F64)[None], torch.tensor([fps], dtype=F64))
    firing = {name: int(n) for name, n in zip(CONSTRAINTS, out["num_violating_by_constraint"][0]) if n}
    print(f"{label}: Newtonian raw {out['raw'].item():.4f} score {out['score'].item():.1f}, "
          f"frames per constraint {firing or 'none'}, flight frames {int(out['flight'].sum())}")
    return out


def _drifted(joints: np.ndarray, fps: float, velocity) -> np.ndarray:
    """The whole body moved at a constant velocity (m/s, axes of ``joints``)."""
    t = np.arange(len(joints)) / fps
    return joints + t[:, None, None] * np.asarray(velocity, dtype=np.float64)


def _opencap_opensim_joints(folder, name: str):
    from humanscore_torch.io.opensim import opensim_body_poses, read_mot
    from humanscore_torch.validation.trial import opensim_body_names, smpl_like_joints

    model_path = folder / OPENCAP_MODEL
    model = opensim.Model(str(model_path))
    coordinate_set = model.getCoordinateSet()
    labels, values, times, in_degrees = read_mot(folder / name)
    assert in_degrees
    rotational = {coordinate_set.get(i).getName() for i in range(coordinate_set.getSize())
                  if coordinate_set.get(i).getMotionType() == 1}
    coordinates = {n: (np.radians(values[:, i]) if n in rotational else values[:, i]) for i, n in enumerate(labels)}
    names = opensim_body_names()
    orientations, origins = opensim_body_poses(model_path, coordinates, names)
    joints = smpl_like_joints({n: i for i, n in enumerate(names)}, orientations, origins)
    return joints, float(1.0 / np.median(np.diff(times)))


def _opencap_imported_joints(folder, name: str, tmp_path, body):
    from humanscore_torch.io.opensim import read_opensim_motion

    alone = tmp_path / name  # without the model beside it: the shipped map
    alone.write_text((folder / name).read_text())
    seq = read_opensim_motion(alone, body=body)[0]
    with torch.no_grad():
        joints = body(seq["global_orient"].double(), seq["body_pose"].double(), None, seq["transl"].double(),
                      need_vertices=False).joints
    return joints.numpy(), seq["fps"]


def _check(joints: np.ndarray, fps: float, label: str, sideways: int):
    clean = _newtonian(joints, fps, label)
    assert clean["score"].item() >= 90
    velocity = [0.0, 0.0, 0.0]
    velocity[sideways] = 1.0
    drifted = _newtonian(_drifted(joints, fps, velocity), fps, label + " + 1 m/s sideways drift")
    assert drifted["score"].item() <= clean["score"].item() - 5
    assert drifted["num_violating_by_constraint"][0, CONSTRAINTS.index("stance_sliding")] > 0
    span = len(joints) / fps
    vertical = _newtonian(_drifted(joints, fps, (0.0, 0.15 / max(span, 10.0), 0.0)), fps,
                          label + " + 15 cm / 10 s vertical drift")
    assert vertical["score"].item() >= 90


@pytest.mark.parametrize("name", OPENCAP_CLIPS)
def test_opencap_clip_through_opensim(reference_data, name):
    joints, fps = _opencap_opensim_joints(reference_data / "opencap", name)
    # OpenSim ground: y up, x forward; sideways is z.
    _check(joints, fps, f"OpenCap {name} (OpenSim joints)", sideways=2)


@pytest.mark.parametrize("name", OPENCAP_CLIPS)
def test_opencap_clip_imported_onto_the_default_body(reference_data, name, tmp_path, default_body):
    joints, fps = _opencap_imported_joints(reference_data / "opencap", name, tmp_path, default_body)
    # SMPL world: y up, z forward; sideways is x.
    _check(joints, fps, f"OpenCap {name} (imported)", sideways=0)


def test_hamner_running_trial(reference_data, default_body):
    from humanscore_torch.validation.trial import RunningTrial, belt_speed, over_ground

    trial = RunningTrial(reference_data, default_body)
    opensim_joints = trial.opensim_joints  # over ground, OpenSim axes (x forward)
    _check(opensim_joints.joints, trial.fps, "Hamner running (OpenSim joints)", sideways=2)
    imported = trial.smpl_joints  # SMPL axes (z forward), on the treadmill
    belt = belt_speed(imported, trial.fps, trial.plate_force_y, forward=2)
    _check(over_ground(imported, trial.times, belt, forward=2), trial.fps, "Hamner running (imported)", sideways=0)
