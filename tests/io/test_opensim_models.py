"""OpenSim import for models other than Rajagopal's and Hamner's: without arms with the knee
flexion-negative (gait2392-style), planar with welded joints (gait10dof18musc-style), one leg
(leg6dof9musc-style), each built here from Rajagopal2016.osim by editing its XML, and the
OpenCap model with its real walk and squat. A .mot without its model: the flexion sign is told
from the values, or the import is refused."""

import copy
import math
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import torch

from humanscore_torch.errors import HumanScoreError, MotionFileError
from humanscore_torch.io.opensim import read_mot, read_opensim_motion
from humanscore_torch.limits.joint_map import JointMap
from humanscore_torch.validation.trial import ImportedTrial, angle_rms_deg, limb_directions

opensim = pytest.importorskip("opensim")
opensim.Logger.setLevelString("error")

ARM_BODIES = tuple(f"{b}_{s}" for s in "rl" for b in ("humerus", "ulna", "radius", "hand"))
LEFT_LEG = tuple(f"{b}_l" for b in ("femur", "tibia", "patella", "talus", "calcn", "toes"))
ARM_JOINTS = ("left_collar", "right_collar", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
              "left_wrist", "right_wrist", "left_hand", "right_hand")
KNEES = ("knee_angle_r", "knee_angle_l")
# The OpenCap walk (100 Hz) at 25 Hz, 40 frames: the knees bend to 60-70 deg.
FRAMES = slice(0, None, 4)


# ----------------------------------------------------------------------- building models
def _model_element(path):
    tree = ET.parse(path)
    return tree, tree.getroot().find("Model")


def _strip_to_bodies_and_joints(model):
    """Drop muscles, markers, constraints and contact geometry (the import uses none of them)."""
    for name in ("ForceSet", "MarkerSet", "ConstraintSet", "ContactGeometrySet"):
        objects = model.find(f"{name}/objects")
        if objects is not None:
            for child in list(objects):
                objects.remove(child)


def _remove_bodies(model, bodies):
    body_set, joint_set = model.find("BodySet/objects"), model.find("JointSet/objects")
    for body in list(body_set):
        if body.get("name") in bodies:
            body_set.remove(body)
    for joint in list(joint_set):
        parents = {e.text.strip("/").split("/")[-1] for e in joint.iter("socket_parent") if e.text}
        if parents & set(bodies):
            joint_set.remove(joint)


def _joint(model, name):
    return next(j for j in model.find("JointSet/objects") if j.get("name") == name)


def _flip_coordinate(model, joint_name, coordinate, low_deg, high_deg):
    """Write ``coordinate`` with the opposite sign: every function of it takes -q, its range
    becomes [low, high] degrees."""
    joint = _joint(model, joint_name)
    for axis in joint.iter("TransformAxis"):
        if (axis.findtext("coordinates") or "").strip() != coordinate:
            continue
        linear, spline = axis.find("LinearFunction"), axis.find("SimmSpline")
        if linear is not None:
            slope, offset = (float(v) for v in linear.findtext("coefficients").split())
            linear.find("coefficients").text = f"{-slope} {offset}"
        else:
            x = [-float(v) for v in spline.findtext("x").split()][::-1]
            y = spline.findtext("y").split()[::-1]
            spline.find("x").text, spline.find("y").text = " ".join(map(str, x)), " ".join(y)
    for element in joint.iter("Coordinate"):
        if element.get("name") == coordinate:
            element.find("range").text = f"{math.radians(low_deg)} {math.radians(high_deg)}"


def _retype(model, joint_name, kind, coordinates=()):
    """Replace a CustomJoint by a ``kind`` joint (PinJoint, PlanarJoint, WeldJoint) with the same
    frames, keeping ``coordinates`` in that order."""
    joint_set = model.find("JointSet/objects")
    old = _joint(model, joint_name)
    new = ET.Element(kind, name=joint_name)
    for tag in ("socket_parent_frame", "socket_child_frame"):
        new.append(copy.deepcopy(old.find(tag)))
    if coordinates:
        holder = ET.SubElement(new, "coordinates")
        by_name = {c.get("name"): c for c in old.iter("Coordinate")}
        for name in coordinates:
            holder.append(copy.deepcopy(by_name[name]))
    new.append(copy.deepcopy(old.find("frames")))
    index = list(joint_set).index(old)
    joint_set.remove(old)
    joint_set.insert(index, new)


def _no_arms_flexion_negative(model):
    _remove_bodies(model, ARM_BODIES)
    for side in "rl":
        _flip_coordinate(model, f"walker_knee_{side}", f"knee_angle_{side}", -120.0, 10.0)


def _planar_welded(model):
    _no_arms_flexion_negative(model)
    _retype(model, "ground_pelvis", "PlanarJoint", ("pelvis_tilt", "pelvis_tx", "pelvis_ty"))
    for side in "rl":
        _retype(model, f"hip_{side}", "PinJoint", (f"hip_flexion_{side}",))
        for joint in (f"subtalar_{side}", f"mtp_{side}"):
            old = _joint(model, joint)
            old.tag = "WeldJoint"
            old.remove(old.find("coordinates"))
    _retype(model, "back", "WeldJoint")


def _single_leg(model):
    _remove_bodies(model, ARM_BODIES + LEFT_LEG + ("torso",))


def _write_model(reference, tmp_path, name, edit):
    tree, model = _model_element(reference / "opensim" / "Rajagopal2016.osim")
    _strip_to_bodies_and_joints(model)
    edit(model)
    path = tmp_path / f"{name}.osim"
    tree.write(path)
    return path


def _write_mot(path, columns, times):
    names = list(columns)
    rows = np.column_stack([times] + [columns[n] for n in names])
    header = (f"Coordinates\nversion=1\nnRows={len(times)}\nnColumns={len(names) + 1}\ninDegrees=yes\nendheader\n"
              + "\t".join(["time"] + names) + "\n")
    path.write_text(header + "\n".join("\t".join(f"{v:.8f}" for v in row) for row in rows) + "\n")
    return path


def _model_coordinates(path):
    model = opensim.Model(str(path))
    return [c.getName() for c in model.getCoordinateSet()]


# ----------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def walk(reference_data):
    labels, values, times, in_degrees = read_mot(reference_data / "opencap" / "walking1_videoAndMocap.mot")
    assert in_degrees
    return {n: values[FRAMES, i] for i, n in enumerate(labels)}, times[FRAMES]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def rajagopal_walk(reference_data, walk, folder, default_body):
    """The walk stretch on Rajagopal2016 itself (flexion-positive knees), the reference pose."""
    columns, times = walk
    model = reference_data / "opensim" / "Rajagopal2016.osim"
    names = _model_coordinates(model)
    mot = _write_mot(folder / "rajagopal_walk.mot", {n: v for n, v in columns.items() if n in names}, times)
    return read_opensim_motion(mot, model, body=default_body)[0], mot


def _variant(reference_data, walk, folder, default_body, name, edit, negate=KNEES):
    columns, times = walk
    model = _write_model(reference_data, folder, name, edit)
    names = _model_coordinates(model)
    written = {n: (-v if n in negate else v) for n, v in columns.items() if n in names}
    mot = _write_mot(folder / f"{name}.mot", written, times)
    return ImportedTrial(model, mot, default_body)


@pytest.fixture(scope="module")
def no_arms(reference_data, walk, folder, default_body):
    return _variant(reference_data, walk, folder, default_body, "gait2392_style", _no_arms_flexion_negative)


@pytest.fixture(scope="module")
def planar(reference_data, walk, folder, default_body):
    return _variant(reference_data, walk, folder, default_body, "planar_welded", _planar_welded)


@pytest.fixture(scope="module")
def one_leg(reference_data, walk, folder, default_body):
    return _variant(reference_data, walk, folder, default_body, "single_leg", _single_leg, negate=())


def _joint_index(names):
    from humanscore_torch.body.skeleton import JOINT_INDEX

    return [JOINT_INDEX[n] - 1 for n in names]  # body_pose leaves out the pelvis


LEGS = ("left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")


# ----------------------------------------------------------------------- gait2392-style
def test_the_built_model_is_rajagopal_with_the_knee_sign_flipped(no_arms, reference_data):
    from humanscore_torch.io.opensim import opensim_body_poses

    knee = {"knee_angle_r": np.radians([0.0, 30.0, 90.0])}
    flipped = {"knee_angle_r": -knee["knee_angle_r"]}
    _, origins = opensim_body_poses(reference_data / "opensim" / "Rajagopal2016.osim", knee, ["talus_r"])
    _, again = opensim_body_poses(no_arms.model_path, flipped, ["talus_r"])
    np.testing.assert_allclose(again, origins, atol=1e-9)
    assert no_arms.limits["coordinates"]["knee_angle_r"]["min"] == pytest.approx(-120.0)


def test_no_arms_negative_knee_imports_with_its_model(no_arms, rajagopal_walk):
    seq = no_arms.sequence
    rms = angle_rms_deg(no_arms, KNEES + ("hip_flexion_r", "hip_flexion_l"))
    print("gait2392-style: angle RMS vs .mot (deg):", {k: round(v, 4) for k, v in rms.items()})
    assert max(rms.values()) < 2.0
    # Sign included: the .mot's knees are negative in flexion, and so is the read-back.
    coords = no_arms.joint_map.coordinates_from_smpl(seq["global_orient"].double(), seq["body_pose"].double())
    knee = torch.rad2deg(coords[:, no_arms.joint_map.coordinate_index["knee_angle_r"]]).numpy()
    written = no_arms.mot["knee_angle_r"]
    assert written.min() < -40.0 and np.all(np.sign(knee[written < -1.0]) == -1.0)
    # The same geometry as Rajagopal's: the same SMPL legs, pelvis and root.
    reference, _ = rajagopal_walk
    legs = _joint_index(LEGS)
    np.testing.assert_allclose(seq["body_pose"][:, legs].numpy(), reference["body_pose"][:, legs].numpy(), atol=1e-4)
    np.testing.assert_allclose(seq["global_orient"].numpy(), reference["global_orient"].numpy(), atol=1e-5)
    np.testing.assert_allclose(seq["transl"].numpy(), reference["transl"].numpy(), atol=1e-5)


def test_no_arms_leaves_the_arms_at_rest_and_says_so(no_arms):
    seq = no_arms.sequence
    listed = seq["metadata"]["unmeasured_joints"].split(",")
    assert set(ARM_JOINTS) <= set(listed) and not set(LEGS) & set(listed)
    assert "shoulder_r" in no_arms.limits["absent_segments"]
    assert seq["body_pose"][:, _joint_index(ARM_JOINTS)].abs().max() < 1e-6
    directions = limb_directions(no_arms)
    print("gait2392-style: limb direction RMS (deg):", {k: round(v, 3) for k, v in directions.rms_deg.items()})
    assert set(directions.rms_deg) == {"thigh_r", "shank_r", "thigh_l", "shank_l"}
    assert max(directions.rms_deg.values()) < 5.0


# ----------------------------------------------------------------------- without the model
def test_without_the_model_the_negative_knee_is_read_right(no_arms, tmp_path, default_body):
    alone = tmp_path / "alone.mot"
    alone.write_text(no_arms.mot_path.read_text())
    seq = read_opensim_motion(alone, body=default_body)[0]
    assert seq["metadata"]["opensim_model"] is None
    assert "knee_angle_r, knee_angle_l" in seq["metadata"]["conversion"]
    shipped = JointMap.from_config(rest_joints=default_body(torch.zeros(3), torch.zeros(23, 3),
                                                            need_vertices=False).joints.double())
    coords = torch.rad2deg(shipped.coordinates_from_smpl(seq["global_orient"].double(), seq["body_pose"].double()))
    for name in KNEES:  # flexion-positive, as the shipped map writes it
        np.testing.assert_allclose(coords[:, shipped.coordinate_index[name]].numpy(), -no_arms.mot[name], atol=0.01)
    assert _cli_evaluate([alone], tmp_path / "out") == 0  # the command reads it the same way


def _cli_evaluate(paths, output, *options):
    from humanscore_torch.cli import main

    return main(["evaluate", *map(str, paths), "--output", str(output), "--device", "cpu", "--worst-frames", "0",
                 *options])


def test_without_the_model_an_undecidable_sign_is_refused(walk, tmp_path, capsys, default_body):
    columns, times = walk
    straight = {n: v for n, v in columns.items() if not n.startswith(("arm", "elbow", "pro_sup"))}
    straight.update({n: np.linspace(-5.0, 5.0, len(times)) for n in KNEES})  # flexion either way
    mot = _write_mot(tmp_path / "straight.mot", straight, times)
    with pytest.raises(MotionFileError, match="knee flexion sign cannot be told"):
        read_opensim_motion(mot, body=default_body)
    assert _cli_evaluate([mot], tmp_path / "out") == 1
    assert "flexion sign cannot be told" in capsys.readouterr().err
    bent_both_ways = dict(straight, knee_angle_r=np.linspace(-40.0, 40.0, len(times)))
    with pytest.raises(MotionFileError, match="fit neither convention"):
        read_opensim_motion(_write_mot(tmp_path / "odd.mot", bent_both_ways, times), body=default_body)


# ----------------------------------------------------------------------- planar, welded
def test_planar_model_with_welds_imports(planar):
    limits = planar.limits
    assert limits["segments"]["lumbar"]["rotations"] == []  # the welded back: a fixed rotation
    assert [r["coordinate"] for r in limits["segments"]["hip_r"]["rotations"]] == ["hip_flexion_r"]
    seq = planar.sequence
    listed = seq["metadata"]["unmeasured_joints"].split(",")
    assert {"spine1", "spine2", "spine3"} <= set(listed) and not set(LEGS) & set(listed)
    rms = angle_rms_deg(planar, KNEES + ("hip_flexion_r", "hip_flexion_l", "ankle_angle_r", "pelvis_tilt"))
    print("planar, welded: angle RMS vs .mot (deg):", {k: round(v, 4) for k, v in rms.items()})
    assert max(rms.values()) < 2.0
    # In the sagittal plane: the angles the model lacks come back as zero.
    coords = planar.joint_map.coordinates_from_smpl(seq["global_orient"].double(), seq["body_pose"].double())
    for name in ("hip_r_residual_1", "hip_r_residual_2", "pelvis_residual_1", "pelvis_residual_2"):
        assert coords[:, planar.joint_map.coordinate_index[name]].abs().max() < 1e-4
    directions = limb_directions(planar)
    print("planar, welded: limb direction RMS (deg):", {k: round(v, 3) for k, v in directions.rms_deg.items()})
    assert max(directions.rms_deg.values()) < 5.0


def test_free_gimbal_and_ball_joints_are_derived(reference_data, tmp_path):
    """Body-fixed x-y-z sequences: the derived axes reproduce OpenSim (derive_limits checks 50
    random poses per segment and raises above 0.01 deg)."""
    from humanscore_torch.limits.derive import derive_limits

    def edit(model):
        _retype(model, "ground_pelvis", "FreeJoint", ("pelvis_list", "pelvis_rotation", "pelvis_tilt",
                                                      "pelvis_tx", "pelvis_ty", "pelvis_tz"))
        _retype(model, "back", "GimbalJoint", ("lumbar_bending", "lumbar_rotation", "lumbar_extension"))
        _retype(model, "hip_r", "BallJoint", ("hip_adduction_r", "hip_rotation_r", "hip_flexion_r"))

    limits = derive_limits(_write_model(reference_data, tmp_path, "free_gimbal_ball", edit))
    for name in ("pelvis", "lumbar", "hip_r"):
        assert len(limits["segments"][name]["rotations"]) == 3
        assert limits["segments"][name]["check_error_deg"] < 0.01


# ----------------------------------------------------------------------- one leg
def test_single_leg_model_leaves_the_other_leg_at_rest(one_leg, rajagopal_walk):
    seq = one_leg.sequence
    listed = set(seq["metadata"]["unmeasured_joints"].split(","))
    assert {"left_hip", "left_knee", "left_ankle", "spine1"} <= listed
    assert not {"right_hip", "right_knee", "right_ankle"} & listed
    left = _joint_index(("left_hip", "left_knee", "left_ankle"))
    assert seq["body_pose"][:, left].abs().max() < 1e-6
    right = _joint_index(("right_hip", "right_knee", "right_ankle"))
    reference, _ = rajagopal_walk
    np.testing.assert_allclose(seq["body_pose"][:, right].numpy(), reference["body_pose"][:, right].numpy(), atol=1e-4)
    directions = limb_directions(one_leg)
    assert set(directions.rms_deg) == {"thigh_r", "shank_r"} and max(directions.rms_deg.values()) < 5.0
    # The root: the SMPL right hip on the model's femur_r origin.
    np.testing.assert_allclose(directions.smpl_hips, directions.opensim_hips, atol=1e-5)


def test_a_model_without_a_lower_body_is_refused(reference_data, tmp_path):
    from humanscore_torch.limits.derive import derive_limits

    model = _write_model(reference_data, tmp_path, "no_legs",
                         lambda m: _remove_bodies(m, LEFT_LEG + tuple(b.replace("_l", "_r") for b in LEFT_LEG)))
    with pytest.raises(HumanScoreError, match="lacks the usual lower body"):
        derive_limits(model)


# ----------------------------------------------------------------------- OpenCap
def test_opencap_trials_load_and_score_with_their_model(reference_data, tmp_path, capsys):
    import json

    folder = reference_data / "opencap"
    model = folder / "LaiArnoldModified2017_contacts.osim"
    walk = ImportedTrial(model, folder / "walking1_videoAndMocap.mot")
    rms = limb_directions(walk).rms_deg
    print("OpenCap walking1: limb direction RMS (deg):", {k: round(v, 3) for k, v in rms.items()})
    assert len(rms) == 8 and max(rms.values()) < 5.0
    assert max(angle_rms_deg(walk, KNEES).values()) < 2.0
    assert "radius_hand_r" not in str(walk.limits["absent_segments"])  # the welded wrist is read, not absent
    trials = [folder / "walking1_videoAndMocap.mot", folder / "squats1_videoAndMocap.mot"]
    assert _cli_evaluate(trials, tmp_path / "out", "--opensim-model", str(model)) == 0
    records = json.loads((tmp_path / "out" / "results.json").read_text())
    scores = {r["path"].split("/")[-1]: r["scores"]["humanscore"] for r in records}
    print("OpenCap overall scores:", scores)
    assert len(records) == 2 and all(r["error"] is None for r in records)
    assert all(0.0 <= s <= 100.0 for s in scores.values())
