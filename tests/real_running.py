"""The real running trial of the reference data (Hamner et al. 2010, subject02) as 24
SMPL-like joints, computed with the ``opensim`` package (tests only; nothing is stored)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

# SMPL joint -> OpenSim body whose origin stands in for it. Joints without an OpenSim body
# are placed in the frame of the body named second, at the offset given (metres).
_ORIGINS = {
    0: "pelvis", 1: "femur_l", 2: "femur_r", 4: "tibia_l", 5: "tibia_r", 7: "talus_l",
    8: "talus_r", 10: "toes_l", 11: "toes_r", 16: "humerus_l", 17: "humerus_r",
    18: "ulna_l", 19: "ulna_r", 20: "hand_l", 21: "hand_r",
}
_OFFSETS = {
    3: ("torso", (0.0, 0.10, 0.0)), 6: ("torso", (0.0, 0.22, 0.0)), 9: ("torso", (0.0, 0.33, 0.0)),
    12: ("torso", (0.0, 0.45, 0.0)), 13: ("torso", (0.0, 0.40, -0.07)), 14: ("torso", (0.0, 0.40, 0.07)),
    15: ("torso", (0.02, 0.58, 0.0)), 22: ("hand_l", (0.0, -0.08, 0.0)), 23: ("hand_r", (0.0, -0.08, 0.0)),
}


def running_trial_joints(reference_data: Path):
    """The trial as SMPL-like joints.

    Returns:
        joints (T, 24, 3) in metres, y up, moved to an over-ground frame (the belt speed, the
        median backward speed of the lower foot while the plates are loaded, added along +x),
        fps (60), vertical ground force in body weights (T,) from the force plates, belt speed.
    """
    import opensim

    folder = Path(reference_data) / "opensim"
    model = opensim.Model(str(folder / "FullBodyModel_Hamner2010_v2_0.osim"))
    state = model.initSystem()
    table = opensim.TimeSeriesTable(str(folder / "subject02_running_ik.mot"))
    labels = list(table.getColumnLabels())
    times = np.array(table.getIndependentColumn())
    values = table.getMatrix().to_numpy()
    coordinates = [model.getCoordinateSet().get(name) for name in labels]
    rotational = [c.getMotionType() == 1 for c in coordinates]
    bodies = {name: model.getBodySet().get(name) for name in
              set(_ORIGINS.values()) | {body for body, _ in _OFFSETS.values()}}
    joints = np.zeros((len(times), 24, 3))
    for k in range(len(times)):
        for c, coordinate in enumerate(coordinates):
            coordinate.setValue(state, np.deg2rad(values[k, c]) if rotational[c] else values[k, c], False)
        model.realizePosition(state)
        for j, name in _ORIGINS.items():
            joints[k, j] = bodies[name].getPositionInGround(state).to_numpy()
        for j, (name, offset) in _OFFSETS.items():
            joints[k, j] = bodies[name].findStationLocationInGround(state, opensim.Vec3(*offset)).to_numpy()
    fps = 1.0 / np.median(np.diff(times))
    grf = np.genfromtxt(folder / "subject02_running_grf.mot", skip_header=6)
    force_y = np.interp(times, grf[:, 0], grf[:, 25] + grf[:, 31])
    # The planted foot is the lower one; on the belt it moves backward at the belt speed.
    lower = np.where(joints[:, 10, 1] < joints[:, 11, 1], 10, 11)
    lower_speed_x = np.gradient(joints[:, [10, 11], 0], axis=0)[np.arange(len(times)), lower - 10] * fps
    belt = -np.median(lower_speed_x[force_y > 200])
    joints[..., 0] += belt * (times - times[0])[:, None]
    body_weight = model.getTotalMass(state) * 9.81
    return joints, fps, force_y / body_weight, belt
