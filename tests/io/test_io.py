"""Motion loaders: a round trip per layout on a file the test writes, frame conversions checked
by posing, the canonical writer, batching files of mixed layouts."""

from __future__ import annotations

import math
import pickle
import re
from collections import defaultdict

import numpy as np
import pytest
import torch

from humanscore_torch import BodyModel, MotionBatch
from humanscore_torch.config import config_overrides
from humanscore_torch.body.files import DEFAULT_BODY_PATH
from humanscore_torch.body.skeleton import JOINT_INDEX, PARENTS
from humanscore_torch.io import find_motion_files, load_motion_batch, read_motion_file, save_motion
from humanscore_torch.io.frames import rest_pelvis_position, rotate_world
from humanscore_torch.rotations import rotmat_to_rotvec, rotvec_to_rotmat

PELVIS, HEAD = JOINT_INDEX["pelvis"], JOINT_INDEX["head"]
# Written out here rather than taken from the library, so a wrong library matrix fails the tests.
# z up -> y up: (x, y, z) -> (x, z, -y); OpenCV camera (y down, z forward) -> y up: (x, -y, -z).
Z_UP_TO_Y_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
CAMERA_TO_Y_UP = np.diag([1.0, -1.0, -1.0])
# An upright skeleton in SMPL's rest frame (y up, facing +z, left at +x), metres. The pelvis is
# well off the origin, so the (Q - I) j0 term of a frame conversion is large enough to see.
_STAND_IN_JOINTS = np.array([
    [0.00, 0.93, 0.00], [0.09, 0.85, 0.00], [-0.09, 0.85, 0.00], [0.00, 1.05, 0.00],
    [0.10, 0.48, 0.00], [-0.10, 0.48, 0.00], [0.00, 1.18, 0.00], [0.10, 0.08, 0.00],
    [-0.10, 0.08, 0.00], [0.00, 1.25, 0.00], [0.10, 0.02, 0.12], [-0.10, 0.02, 0.12],
    [0.00, 1.48, 0.00], [0.08, 1.40, 0.00], [-0.08, 1.40, 0.00], [0.00, 1.62, 0.02],
    [0.18, 1.42, 0.00], [-0.18, 1.42, 0.00], [0.45, 1.42, 0.00], [-0.45, 1.42, 0.00],
    [0.70, 1.42, 0.00], [-0.70, 1.42, 0.00], [0.78, 1.42, 0.00], [-0.78, 1.42, 0.00],
])


def _stand_in_body() -> BodyModel:
    """A 24-vertex body whose vertices are its joints: enough to pose joints while the embedded
    default body is not there (the test writes it itself; nothing is committed)."""
    rng = np.random.default_rng(7)
    return BodyModel({
        "v_template": _STAND_IN_JOINTS,
        "shapedirs": rng.normal(size=(24, 3, 10)) * 0.01,
        "J_regressor": np.eye(24),
        "weights": np.eye(24),
        "kintree_table": np.array([[2**32 - 1] + list(PARENTS[1:]), list(range(24))], dtype=np.int64),
        "f": np.array([[0, 1, 2], [0, 3, 1]]),
    }, name="stand-in")


@pytest.fixture(scope="module", params=["stand_in", "default"])
def body(request):
    if request.param == "default":
        if not DEFAULT_BODY_PATH.exists():
            pytest.skip(f"embedded default body not built yet ({DEFAULT_BODY_PATH})")
        return BodyModel.default()
    return _stand_in_body()


def _truth(frames: int = 12, seed: int = 0):
    """Known y-up SMPL parameters: upright body turning about y, walking along a curve."""
    rng = np.random.default_rng(seed)
    yaw = np.linspace(0.0, 1.2, frames)
    global_orient = np.stack([np.zeros(frames), yaw, np.zeros(frames)], axis=1) + rng.normal(size=(frames, 3)) * 0.05
    body_pose = rng.normal(size=(frames, 23, 3)) * 0.15
    transl = np.stack([np.sin(yaw), 0.02 * rng.normal(size=frames), np.cos(yaw) * 2.0], axis=1)
    betas = rng.normal(size=10) * 0.5
    return global_orient, body_pose, transl, betas


def _to_frame(global_orient, transl, rotation: np.ndarray, rest_pelvis: np.ndarray):
    """The same body in another frame, p' = Q p (numpy, independent of the library's code):
    R' = Q R, t' = Q (t + j0) - j0 because SMPL turns the root about the rest pelvis j0."""
    roots = rotvec_to_rotmat(torch.from_numpy(global_orient)).numpy()
    new_roots = rotation @ roots
    new_transl = (transl + rest_pelvis) @ rotation.T - rest_pelvis
    return rotmat_to_rotvec(torch.from_numpy(new_roots)).numpy(), new_transl


def _pelvis_rest(body, betas: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        out = body(torch.zeros(1, 3, dtype=torch.float64), torch.zeros(1, 23, 3, dtype=torch.float64),
                   torch.from_numpy(betas)[None], need_vertices=False)
    return out.joints[0, PELVIS].numpy()


def _pose(body, sequence) -> torch.Tensor:
    betas = sequence["betas"]
    betas = betas.expand(sequence["transl"].shape[0], -1) if betas.dim() == 1 else betas
    with torch.no_grad():
        return body(sequence["global_orient"].double(), sequence["body_pose"].double(), betas.double(),
                    sequence["transl"].double(), need_vertices=False).joints


def _assert_same_motion(sequence, global_orient, body_pose, transl, atol=2e-6):
    got_roots = rotvec_to_rotmat(sequence["global_orient"].double())
    want_roots = rotvec_to_rotmat(torch.from_numpy(global_orient))
    torch.testing.assert_close(got_roots, want_roots, atol=atol, rtol=0)
    torch.testing.assert_close(sequence["body_pose"].double(), torch.from_numpy(body_pose), atol=atol, rtol=0)
    torch.testing.assert_close(sequence["transl"].double(), torch.from_numpy(transl), atol=atol, rtol=0)


def _up_cosine(joints: torch.Tensor) -> torch.Tensor:
    """Cosine between each frame's pelvis-to-head vector and +y."""
    up = joints[..., HEAD, :] - joints[..., PELVIS, :]
    return up[..., 1] / up.norm(dim=-1)


@pytest.fixture
def tilt_kept(tmp_path):
    """Camera-frame reads without the levelling from the feet, to check the frame conversion
    alone on motions whose feet stand on no ground (random poses)."""
    overrides = tmp_path / "no_levelling.yaml"
    overrides.write_text("io:\n  levelling:\n    min_spread_m: 1.0e+9\n")
    with config_overrides(overrides):
        yield


def _assert_upright(body, joints: torch.Tensor) -> None:
    """Each frame's pelvis-to-head vector makes the same angle with +y as the body's rest pose
    (not exactly 0: the default body's head sits ~3 deg forward of its pelvis at rest)."""
    rest = body(torch.zeros(1, 3, dtype=torch.float64), torch.zeros(1, 23, 3, dtype=torch.float64),
                need_vertices=False).joints[0]
    assert torch.all((_up_cosine(joints) - _up_cosine(rest)).abs() < 1e-3)


# ------------------------------------------------------------------------------------ AMASS
def _write_amass(path, body, frames=12, hands_seed=3):
    go, bp, tr, betas = _truth(frames)
    rest = _pelvis_rest(body, betas)
    go_z, tr_z = _to_frame(go, tr, Z_UP_TO_Y_UP.T, rest)
    hands = np.random.default_rng(hands_seed).normal(size=(frames, 90))
    poses = np.concatenate([go_z, bp[:, :21].reshape(frames, -1), hands], axis=1)  # SMPL-H: 3 + 63 + 90
    betas16 = np.concatenate([betas, np.full(6, 0.3)])
    np.savez(path, poses=poses, trans=tr_z, betas=betas16, mocap_framerate=np.array(120.0),
             gender=np.array("female"), dmpls=np.zeros((frames, 8)))
    bp_smpl = bp.copy()
    bp_smpl[:, 21:] = 0.0  # SMPL's hand joints stay at rest
    return go, bp_smpl, tr, betas


def test_amass_round_trip_converts_z_up_to_y_up_exactly_with_the_body(tmp_path, body):
    path = tmp_path / "walk_poses.npz"
    go, bp, tr, betas = _write_amass(path, body)
    (sequence,) = read_motion_file(path, body=body)
    _assert_same_motion(sequence, go, bp, tr, atol=5e-6)
    assert torch.equal(sequence["betas"], torch.from_numpy(betas).float())
    assert sequence["fps"] == 120.0
    meta = sequence["metadata"]
    assert meta["layout"] == "amass" and meta["path"] == str(path) and meta["gender"] == "female"
    assert meta["body_model"] == "SMPL-H" and "mocap_framerate" in meta["fps_source"]
    for note in ("z-up -> y-up: rotated -90 deg about x", "hand joints 22-23 at rest", "16 coefficients cut"):
        assert note in meta["conversions"]
    assert meta["unmeasured_joints"] == "left_hand,right_hand"  # SMPL's fingers are placeholders


def test_amass_standing_person_in_z_up_stands_along_plus_y_after_loading(tmp_path, body):
    # A person standing in AMASS's z-up world: SMPL's y-up body turned +90 deg about x (so its
    # head points +z), then about z. Written directly, without the library's conversion.
    frames = 5
    stand = np.array([math.pi / 2, 0.0, 0.0])
    heading = np.stack([np.zeros(frames), np.zeros(frames), np.linspace(0, 2.0, frames)], 1)
    roots = rotvec_to_rotmat(torch.from_numpy(heading)) @ rotvec_to_rotmat(torch.from_numpy(stand))
    poses = np.zeros((frames, 72))
    poses[:, :3] = rotmat_to_rotvec(roots).numpy()
    np.savez(tmp_path / "stand.npz", poses=poses, trans=np.tile([0.0, 0.0, 0.9], (frames, 1)),
             betas=np.zeros(10), mocap_framerate=np.array(60.0))
    (sequence,) = read_motion_file(tmp_path / "stand.npz")
    assert sequence["metadata"]["body_model"] == "SMPL"
    _assert_upright(body, _pose(body, sequence))


def test_frame_conversion_without_the_body_shifts_the_trajectory_by_a_constant(tmp_path, body):
    path = tmp_path / "walk_poses.npz"
    go, bp, tr, betas = _write_amass(path, body)
    (exact,) = read_motion_file(path, body=body)
    (approx,) = read_motion_file(path)
    torch.testing.assert_close(approx["global_orient"], exact["global_orient"])
    offset = approx["transl"] - exact["transl"]
    torch.testing.assert_close(offset, offset[:1].expand_as(offset), atol=2e-6, rtol=0)
    # (Q - I) j0 with Q the z-up -> y-up turn: about the rest pelvis height, so clearly non-zero.
    rest = torch.from_numpy(_pelvis_rest(body, betas))
    expected = (torch.from_numpy(Z_UP_TO_Y_UP) - torch.eye(3, dtype=torch.float64)) @ rest
    torch.testing.assert_close(offset[0].double(), -expected, atol=2e-6, rtol=0)
    assert "constant offset" in approx["metadata"]["conversions"]


# ------------------------------------------------------------------------------------ WHAM
def _write_wham(path, writer, body):
    """WHAM's demo output: a defaultdict keyed by track id; world and camera-frame results."""
    results = defaultdict(dict)
    truths = {}
    for track, seed in ((0, 1), (3, 2)):
        go, bp, tr, betas = _truth(8, seed)
        frame_ids = np.array([4, 5, 6, 8, 9, 10, 11, 12]) if track == 3 else np.arange(8)
        cam_go, cam_tr = _to_frame(go, tr, CAMERA_TO_Y_UP.T, _pelvis_rest(body, betas))
        per_frame_betas = np.tile(betas, (8, 1)).astype(np.float32)
        results[track].update(
            pose=np.concatenate([cam_go, bp.reshape(8, -1)], 1).astype(np.float32), trans=cam_tr.astype(np.float32),
            pose_world=np.concatenate([go, bp.reshape(8, -1)], 1).astype(np.float32),
            trans_world=tr.astype(np.float32), betas=per_frame_betas,
            verts=np.zeros((8, 20, 3), np.float32), frame_ids=frame_ids,
        )
        truths[track] = (go, bp, tr, per_frame_betas, frame_ids)
    writer(results, path)
    return truths


def _pickle_writer(obj, path):
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=4)


def _joblib_writer(obj, path):
    joblib = pytest.importorskip("joblib")
    joblib.dump(obj, path)


@pytest.mark.parametrize("writer", [_pickle_writer, _joblib_writer], ids=["pickle", "joblib"])
def test_wham_tracks_read_world_output_and_fill_frame_gaps(tmp_path, writer, body):
    path = tmp_path / "wham_output.pkl"
    truths = _write_wham(path, writer, body)
    sequences = read_motion_file(path)
    assert [s["metadata"]["track"] for s in sequences] == [0, 3]
    for sequence in sequences:
        go, bp, tr, betas, frame_ids = truths[sequence["metadata"]["track"]]
        rows = frame_ids - frame_ids[0]
        assert sequence["transl"].shape[0] == rows[-1] + 1
        f32 = lambda a: torch.from_numpy(np.asarray(a, np.float32))  # noqa: E731
        # The world output is used as stored: no conversion, values exact.
        assert torch.equal(sequence["global_orient"][rows], f32(go))
        assert torch.equal(sequence["body_pose"][rows], f32(bp))
        assert torch.equal(sequence["transl"][rows], f32(tr))
        assert torch.equal(sequence["betas"][rows], f32(betas))
        missing = np.setdiff1d(np.arange(rows[-1] + 1), rows)
        assert torch.isnan(sequence["transl"][missing]).all()
        meta = sequence["metadata"]
        assert meta["first_frame"] == frame_ids[0] and "pose_world" in meta["conversions"]
        assert sequence["fps"] == 30.0 and "default 30" in meta["fps_source"]
    assert "1 missing frames" in sequences[1]["metadata"]["conversions"]
    given = read_motion_file(path, fps=25.0)
    assert [(s["fps"], s["metadata"]["fps_source"]) for s in given] == [(25.0, "given by the caller")] * 2


def test_wham_camera_frame_output_is_turned_to_y_up(tmp_path, body, tilt_kept):
    truths = _write_wham(tmp_path / "w.pkl", _pickle_writer, body)
    camera_only = {k: {"pose": v["pose"], "trans": v["trans"], "betas": v["betas"]}
                   for k, v in pickle.load(open(tmp_path / "w.pkl", "rb")).items()}
    _pickle_writer(camera_only[0], tmp_path / "one_track.pkl")  # one track, no id
    (sequence,) = read_motion_file(tmp_path / "one_track.pkl", body=body)
    go, bp, tr, _, _ = truths[0]
    _assert_same_motion(sequence, go, bp, tr, atol=5e-6)
    assert "camera frame (y down, z forward) -> y-up" in sequence["metadata"]["conversions"]
    assert "track" not in sequence["metadata"]


# ------------------------------------------------------------------------------------ GVHMR
def test_gvhmr_global_smplx_params_map_onto_smpl(tmp_path):
    frames = 7
    go, bp, tr, betas = _truth(frames)
    params = lambda: {  # noqa: E731
        "global_orient": torch.from_numpy(go).float(),
        "body_pose": torch.from_numpy(bp[:, :21].reshape(frames, 63)).float(),
        "transl": torch.from_numpy(tr).float(), "betas": torch.from_numpy(np.tile(betas, (frames, 1))).float()}
    torch.save({"smpl_params_global": params(), "smpl_params_incam": params(), "K_fullimg": torch.eye(3)[None],
                "net_outputs": {"pred_x": torch.zeros(1, frames, 151)}}, tmp_path / "hmr4d_results.pt")
    (sequence,) = read_motion_file(tmp_path / "hmr4d_results.pt")
    assert torch.equal(sequence["global_orient"], torch.from_numpy(go).float())
    assert torch.equal(sequence["body_pose"][:, :21], torch.from_numpy(bp[:, :21]).float())
    assert torch.equal(sequence["body_pose"][:, 21:], torch.zeros(frames, 2, 3))
    assert torch.equal(sequence["transl"], torch.from_numpy(tr).float())
    assert sequence["betas"].shape == (frames, 10)
    meta = sequence["metadata"]
    assert meta["layout"] == "gvhmr" and meta["body_model"] == "SMPL-X"
    assert "smpl_params_global" in meta["conversions"] and "hand joints 22-23 at rest" in meta["conversions"]
    assert meta["unmeasured_joints"] == "left_hand,right_hand"

    torch.save({"smpl_params_incam": params()}, tmp_path / "incam.pt")
    (incam,) = read_motion_file(tmp_path / "incam.pt")
    assert "camera frame" in incam["metadata"]["conversions"]
    flipped = rotvec_to_rotmat(incam["global_orient"].double())
    expected = torch.from_numpy(CAMERA_TO_Y_UP) @ rotvec_to_rotmat(torch.from_numpy(go))
    torch.testing.assert_close(flipped, expected, atol=2e-6, rtol=0)


# ------------------------------------------------------------------------ CameraHMR / SMPL(-X)
def test_camerahmr_rotation_matrices_and_camera_translation(tmp_path, body, tilt_kept):
    frames = 5
    go, bp, tr, betas = _truth(frames)
    go_cam, tr_cam = _to_frame(go, tr, CAMERA_TO_Y_UP.T, _pelvis_rest(body, betas))
    np.savez(tmp_path / "camerahmr.npz",
             global_orient=rotvec_to_rotmat(torch.from_numpy(go_cam))[:, None].numpy().astype(np.float32),
             body_pose=rotvec_to_rotmat(torch.from_numpy(bp)).numpy().astype(np.float32),
             betas=np.tile(betas, (frames, 1)), cam_t=tr_cam)
    (sequence,) = read_motion_file(tmp_path / "camerahmr.npz", body=body)
    _assert_same_motion(sequence, go, bp, tr, atol=5e-6)
    assert sequence["metadata"]["layout"] == "smpl_params"
    assert "'cam_t' (camera frame)" in sequence["metadata"]["conversions"]
    assert "not levelled: the toes cover no ground" in sequence["metadata"]["conversions"]


def test_person_upright_in_the_camera_frame_stands_along_plus_y_in_front_of_the_camera(tmp_path, body):
    # Upright in an OpenCV camera frame: SMPL's y-up body turned 180 deg about x (head towards
    # -y, image up), 3 m in front of the camera (+z). Written directly, not with the library.
    frames = 4
    np.savez(tmp_path / "upright.npz", global_orient=np.tile([math.pi, 0.0, 0.0], (frames, 1)),
             body_pose=np.zeros((frames, 69)), betas=np.zeros(10), cam_t=np.tile([0.0, 0.0, 3.0], (frames, 1)))
    (sequence,) = read_motion_file(tmp_path / "upright.npz", body=body)
    joints = _pose(body, sequence)
    _assert_upright(body, joints)
    # y up keeps a right-handed frame with x to the right, so "in front" is now -z.
    assert torch.all(joints[:, PELVIS, 2] < -2.5)


def test_smplx_body_pose_in_world_frame_keeps_the_first_21_joints(tmp_path):
    frames = 4
    go, bp, tr, betas = _truth(frames)
    np.savez(tmp_path / "smplx.npz", global_orient=go, body_pose=bp[:, :21], transl=tr, betas=betas[None],
             prompt=np.array("a person jumps"), model=np.array("videogen-x"), fps=np.array(24.0))
    (sequence,) = read_motion_file(tmp_path / "smplx.npz")
    assert torch.equal(sequence["body_pose"][:, :21], torch.from_numpy(bp[:, :21]).float())
    assert torch.equal(sequence["body_pose"][:, 21:], torch.zeros(frames, 2, 3))
    assert torch.equal(sequence["transl"], torch.from_numpy(tr).float())
    meta = sequence["metadata"]
    assert (meta["prompt"], meta["model"], sequence["fps"]) == ("a person jumps", "videogen-x", 24.0)
    assert meta["body_model"] == "SMPL-X" and "y-up world" in meta["conversions"]


def test_prompthmr_people_smplx_world(tmp_path):
    frames = 5
    go, bp, tr, betas = _truth(frames)
    pose = np.concatenate([go, bp[:, :21].reshape(frames, -1), np.ones((frames, 99))], 1)  # 55 SMPL-X joints
    person = {"track_id": 7, "frames": np.arange(frames) + 10,
              "smplx_world": {"pose": pose, "shape": np.tile(betas, (frames, 1)), "trans": tr},
              "smplx_cam": {"pose": pose, "shape": np.tile(betas, (frames, 1)), "trans": tr}}
    _pickle_writer({"camera": {}, "people": {1: person}, "has_hps_world": True}, tmp_path / "results.pkl")
    (sequence,) = read_motion_file(tmp_path / "results.pkl")
    assert torch.equal(sequence["global_orient"], torch.from_numpy(go).float())
    assert torch.equal(sequence["body_pose"][:, :21], torch.from_numpy(bp[:, :21]).float())
    assert torch.equal(sequence["body_pose"][:, 21:], torch.zeros(frames, 2, 3))
    assert sequence["metadata"]["track"] == 7 and sequence["metadata"]["first_frame"] == 10
    assert "smplx_world" in sequence["metadata"]["conversions"]


# ------------------------------------------------------------------- the walk in each tool's files
# One synthetic walk (y-up world, default body) written the way each tool writes its output,
# from the tools' public code; the camera-frame tools see it through a camera 8.7 deg pitched
# down. A right loader gives back the same walk (up to a turn about the vertical and a shift,
# which no metric sees) and scores within 1.5 points of its AMASS twin.
PITCH = math.radians(8.7)
CAMERA_POSITION = np.array([0.3, 1.6, 9.0])  # in front of the walk (which heads for +z), looking back at it


def _camera_to_world(pitch: float = PITCH, yaw: float = 0.0) -> np.ndarray:
    """OpenCV camera (x right, y down, z forward) -> y-up world: looking along -z, pitched
    down by ``pitch``, turned by ``yaw`` about the vertical."""
    forward = np.array([0.0, -math.sin(pitch), -math.cos(pitch)])
    down = np.array([0.0, -math.cos(pitch), math.sin(pitch)])
    turn = rotvec_to_rotmat(torch.tensor([0.0, yaw, 0.0], dtype=torch.float64)).numpy()
    return turn @ np.stack([np.cross(down, forward), down, forward], axis=1)


@pytest.fixture(scope="module")
def walk():
    from humanscore_torch.synthetic import clean_clip

    return {fps: {k: v.double() if isinstance(v, torch.Tensor) else v for k, v in clean_clip("walk", fps=fps).items()}
            for fps in (30.0, 60.0)}


def _walk_arrays(walk, fps=30.0):
    clip = walk[fps]
    return clip["global_orient"].numpy(), clip["body_pose"].numpy(), clip["transl"].numpy()


def _walk_in_camera(default_body, walk, camera_to_world: np.ndarray, position: np.ndarray):
    """The walk in per-frame OpenCV camera frames: p_c = R^T (p_w - c), R (T, 3, 3), c (T, 3)."""
    go, bp, tr = _walk_arrays(walk)
    rest = _pelvis_rest(default_body, np.zeros(10))
    roots = rotvec_to_rotmat(torch.from_numpy(go)).numpy()
    cam_roots = np.einsum("tji,tjk->tik", camera_to_world, roots)
    cam_tr = np.einsum("tji,tj->ti", camera_to_world, tr + rest - position) - rest
    return rotmat_to_rotvec(torch.from_numpy(cam_roots)).numpy(), bp, cam_tr


def _score(default_body, sequence) -> float:
    from humanscore_torch.evaluation import score_sequences

    (record,) = score_sequences([sequence], default_body)
    return record["scores"]["humanscore"]


@pytest.fixture(scope="module")
def amass_twin(tmp_path_factory, default_body, walk):
    """The walk as an AMASS SMPL-H npz (z up) at 30 and 60 fps: (its sequence, its score)."""
    twins = {}
    for fps in (30.0, 60.0):
        go, bp, tr = _walk_arrays(walk, fps)
        go_z, tr_z = _to_frame(go, tr, Z_UP_TO_Y_UP.T, _pelvis_rest(default_body, np.zeros(10)))
        frames = go.shape[0]
        path = tmp_path_factory.mktemp("twin") / "walk_poses.npz"
        np.savez(path, poses=np.concatenate([go_z, bp[:, :21].reshape(frames, -1), np.zeros((frames, 90))], 1),
                 trans=tr_z, betas=np.zeros(16), mocap_framerate=np.array(fps), gender=np.array("neutral"))
        (sequence,) = read_motion_file(path, body=default_body)
        twins[fps] = (sequence, _score(default_body, sequence))
    assert twins[30.0][1] > 99.0
    return twins


def _same_walk_up_to_heading(default_body, sequence, twin, atol=0.005):
    """Joints of ``sequence`` equal the twin's after one turn about +y and one shift (metres)."""
    got, want = _pose(default_body, sequence), _pose(default_body, twin)
    valid = torch.isfinite(got).all(dim=(1, 2))
    got, want = got[valid].reshape(-1, 3), want[valid].reshape(-1, 3)
    got_c, want_c = got - got.mean(0), want - want.mean(0)
    # Best turn about y (2D Procrustes in the x-z plane); any tilt left shows up as error.
    cross = (got_c[:, [2, 0]] * want_c[:, [0, 2]]).sum(0)
    dot = (got_c[:, [0, 2]] * want_c[:, [0, 2]]).sum()
    angle = torch.atan2(cross[0] - cross[1], dot)
    turn = rotvec_to_rotmat(torch.stack([angle.new_zeros(()), angle, angle.new_zeros(())])[None])[0]
    error = (got_c @ turn.T - want_c).norm(dim=-1).max()
    assert error < atol, f"joints off by {float(error) * 1000:.1f} mm after the best turn about y"


def _assert_twin(default_body, amass_twin, sequence, fps=30.0):
    twin, twin_score = amass_twin[fps]
    assert sequence["fps"] == fps
    _same_walk_up_to_heading(default_body, sequence, twin)
    score = _score(default_body, sequence)
    print(f"{sequence['metadata']['layout']}: overall {score:.2f} (AMASS twin {twin_score:.2f})")
    assert abs(score - twin_score) <= 1.5, (score, twin_score)


def _tram_hps(go_cam, bp, tr_cam, frames):
    """hps_track_K.npy as TRAM's estimate_humans.py saves it: np.save of the dict VIMO's
    inference returns, torch float32 tensors, rotation matrices, pred_trans (T, 1, 3)."""
    rotmats = rotvec_to_rotmat(torch.from_numpy(np.concatenate([go_cam[:, None], bp], 1))).float()
    count = rotmats.shape[0]
    return {"pred_cam": torch.zeros(count, 3), "pred_pose": torch.zeros(count, 144),
            "pred_shape": torch.zeros(count, 10), "pred_rotmat": rotmats,
            "pred_trans": torch.from_numpy(tr_cam[:, None]).float(), "frame": torch.from_numpy(frames)}


@pytest.mark.parametrize("world_cam", [True, False], ids=["world_cam", "older_tram_pred_cam_only"])
def test_tram_walk_in_the_gravity_levelled_world(tmp_path, default_body, walk, amass_twin, world_cam):
    """TRAM: a camera pitched 8.7 deg down pans to follow the walk; camera.npy holds the SLAM
    world (pred_cam_R/T: the first camera's frame) and, from TRAM's EMDB release on, the
    gravity-levelled world_cam_R/T = R_wc @ pred_cam (lib/camera/est_gravity.py), which its
    renderer uses. Older files without world_cam are levelled from the feet, as TRAM's own
    renderer then did (fit_to_ground_easy)."""
    frames = walk[30.0]["transl"].shape[0]
    yaw = np.linspace(0.0, 0.3, frames)
    to_world = np.stack([_camera_to_world(yaw=a) for a in yaw])
    position = CAMERA_POSITION + np.stack([0.4 * yaw, 0 * yaw, -yaw], 1)
    go_cam, bp, tr_cam = _walk_in_camera(default_body, walk, to_world, position)
    (tmp_path / "hps").mkdir()
    np.save(tmp_path / "hps" / "hps_track_0.npy", _tram_hps(go_cam, bp, tr_cam, np.arange(frames)))
    slam_r = np.einsum("ji,tjk->tik", to_world[0], to_world)  # camera i -> camera 0
    slam_t = (position - position[0]) @ to_world[0]
    camera = {"pred_cam_R": slam_r.astype(np.float32), "pred_cam_T": slam_t.astype(np.float32),
              "img_focal": np.float64(1400.0), "img_center": np.array([960.0, 540.0])}
    if world_cam:
        camera.update(world_cam_R=np.einsum("ij,tjk->tik", to_world[0], slam_r).astype(np.float32),
                      world_cam_T=(slam_t @ to_world[0].T).astype(np.float32), spec_focal=np.float64(1380.0))
    np.save(tmp_path / "camera.npy", camera)
    (sequence,) = read_motion_file(tmp_path / "hps" / "hps_track_0.npy", body=default_body)
    meta = sequence["metadata"]
    assert (meta["layout"], meta["estimator"], meta["track"]) == ("tram", "TRAM", 0)
    if world_cam:
        assert "gravity-levelled y-up world" in meta["conversions"] and "levelled to the ground" not in meta["conversions"]
    else:
        assert "pred_cam_R" in meta["conversions"] and "levelled to the ground the feet stand on" in meta["conversions"]
    assert "default 30 fps" in meta["fps_source"]
    _assert_twin(default_body, amass_twin, sequence)


def test_tram_without_its_camera_is_levelled_from_the_feet(tmp_path, default_body, walk, amass_twin):
    to_world = np.tile(_camera_to_world(), (walk[30.0]["transl"].shape[0], 1, 1))
    go_cam, bp, tr_cam = _walk_in_camera(default_body, walk, to_world, CAMERA_POSITION)
    (tmp_path / "hps").mkdir()
    np.save(tmp_path / "hps" / "hps_track_3.npy", _tram_hps(go_cam, bp, tr_cam, np.arange(len(go_cam)) + 5))
    (sequence,) = read_motion_file(tmp_path / "hps" / "hps_track_3.npy", body=default_body)
    assert "no ../camera.npy" in sequence["metadata"]["conversions"]
    assert sequence["metadata"]["first_frame"] == 5
    _assert_twin(default_body, amass_twin, sequence)


PHALP_SIZE = (1080, 1920)  # height, width of the video


def _phalp_results(go_cam, bp, tr_cam, size=PHALP_SIZE, tids=lambda t: [1]):
    """PHALP's results pickle (phalp/trackers/PHALP.py): one dict per frame path with
    per-detection lists; 'camera' is the translation for PHALP's 5000 px focal and 256 px
    frame (phalp/models/hmar/hmar.py), i.e. the metric depth of a camera whose focal is the
    image diagonal times 5000 / 256 * max(H, W) / diagonal; x and y are the same."""
    height, width = size
    depth_factor = 5000.0 / 256.0 * max(height, width) / math.hypot(height, width)
    roots, bodies = rotvec_to_rotmat(torch.from_numpy(go_cam)).numpy(), rotvec_to_rotmat(torch.from_numpy(bp)).numpy()
    results = {}
    for t in range(len(go_cam)):
        ids = tids(t)
        camera = (tr_cam[t] * [1.0, 1.0, depth_factor]).astype(np.float32)
        smpl = {"global_orient": roots[t][None].astype(np.float32), "body_pose": bodies[t].astype(np.float32),
                "betas": np.zeros(10, np.float32)}
        results[f"_DEMO/walk/img/{t + 1:06d}.jpg"] = {
            "time": t, "shot": 0, "tid": ids, "tracked_ids": ids, "tracked_time": [0] * len(ids),
            "bbox": [np.array([900.0, 300.0, 120.0, 400.0])] * len(ids), "conf": [0.99] * len(ids),
            "smpl": [smpl] * len(ids), "camera": [camera] * len(ids), "size": [[height, width]] * len(ids),
            "center": [np.array([960.0, 500.0])] * len(ids), "scale": [np.array([120.0, 400.0])] * len(ids),
            "img_path": [f"_DEMO/walk/img/{t + 1:06d}.jpg"] * len(ids), "img_name": [f"{t + 1:06d}.jpg"] * len(ids)}
    return results


def test_4dhumans_phalp_walk_depth_at_its_own_focal(tmp_path, default_body, walk, amass_twin):
    to_world = np.tile(_camera_to_world(), (walk[30.0]["transl"].shape[0], 1, 1))
    go_cam, bp, tr_cam = _walk_in_camera(default_body, walk, to_world, CAMERA_POSITION)
    # Person 5 leaves the picture for frames 40-44; person 2 only appears from frame 100.
    tids = lambda t: ([] if 40 <= t < 45 else [5]) + ([2] if t >= 100 else [])  # noqa: E731
    _joblib_or_pickle(_phalp_results(go_cam, bp, tr_cam, tids=tids), tmp_path / "demo_walk.pkl")
    two, five = read_motion_file(tmp_path / "demo_walk.pkl", body=default_body)
    assert (two["metadata"]["track"], five["metadata"]["track"]) == (2, 5)
    assert (two["metadata"]["first_frame"], two["transl"].shape[0]) == (100, 20)
    meta = five["metadata"]
    assert (meta["layout"], meta["estimator"]) == ("phalp", "4D-Humans/PHALP")
    assert "rescaled to a focal of the image diagonal" in meta["conversions"]
    assert "levelled to the ground the feet stand on" in meta["conversions"]
    assert torch.isnan(five["transl"][40:45]).all() and torch.isfinite(five["transl"][45]).all()
    _assert_twin(default_body, amass_twin, five)
    # Without the image size the depth stays at PHALP's focal, and the metadata says so.
    results = _phalp_results(go_cam, bp, tr_cam)
    for frame in results.values():
        del frame["size"]
    _joblib_or_pickle(results, tmp_path / "no_size.pkl")
    (unsized,) = read_motion_file(tmp_path / "no_size.pkl")
    assert "no image 'size': depth left at PHALP's 5000 px focal" in unsized["metadata"]["conversions"]
    assert float(unsized["transl"][:, 2].abs().max()) > 100.0  # 9 m at 5000 / 256 * 1920 px: ~150 m


def _joblib_or_pickle(obj, path):
    try:
        import joblib
    except ImportError:
        _pickle_writer(obj, path)
    else:
        joblib.dump(obj, path)


def test_camsmplify_output_npz_walk(tmp_path, default_body, walk, amass_twin):
    """CamSMPLify (CameraHMR) optimize.py: np.savez of lists, one row per fitted image: pose
    (72,) root first, shape (10,), cam_t (3,) float32; keys it did not fill stay empty."""
    to_world = np.tile(_camera_to_world(), (walk[30.0]["transl"].shape[0], 1, 1))
    go_cam, bp, tr_cam = _walk_in_camera(default_body, walk, to_world, CAMERA_POSITION)
    frames = len(go_cam)
    np.savez(tmp_path / "output.npz",
             imgname=np.array([f"demo_images/{t:05d}.jpg" for t in range(frames)]),
             center=np.tile([960.0, 540.0], (frames, 1)), scale=np.full(frames, 400.0),
             cam_int=np.tile([[1400.0, 0, 960.0], [0, 1400.0, 540.0], [0, 0, 1]], (frames, 1, 1)),
             gt_keypoints=np.zeros((frames, 25, 3)), dense_kp=np.array([]),
             cam_t=tr_cam.astype(np.float32), shape=np.zeros((frames, 10), np.float32),
             pose=np.concatenate([go_cam, bp.reshape(frames, -1)], 1).astype(np.float32))
    (sequence,) = read_motion_file(tmp_path / "output.npz", body=default_body)
    meta = sequence["metadata"]
    assert (meta["layout"], meta["estimator"]) == ("camsmplify", "CameraHMR/CamSMPLify")
    assert "'cam_t'" in meta["conversions"] and "levelled to the ground" in meta["conversions"]
    _assert_twin(default_body, amass_twin, sequence)


def test_camera_frame_smpl_params_walk_is_levelled_too(tmp_path, default_body, walk, amass_twin):
    """Any output only in a camera frame (here CameraHMR-style parameters with cam_t) is
    levelled from the feet, as the estimator-specific layouts are."""
    to_world = np.tile(_camera_to_world(), (walk[30.0]["transl"].shape[0], 1, 1))
    go_cam, bp, tr_cam = _walk_in_camera(default_body, walk, to_world, CAMERA_POSITION)
    np.savez(tmp_path / "camerahmr.npz", global_orient=go_cam, body_pose=bp, betas=np.zeros(10), cam_t=tr_cam)
    (sequence,) = read_motion_file(tmp_path / "camerahmr.npz", body=default_body)
    turned = re.search(r"levelled to the ground the feet stand on .*: turned by ([0-9.]+) deg",
                       sequence["metadata"]["conversions"])
    assert turned and abs(float(turned.group(1)) - 8.7) < 0.15  # the camera's pitch (one decimal)
    _assert_twin(default_body, amass_twin, sequence)
    # Read as it is, the tilted walk's level ground seems to slope: Newton's checks fail.
    overrides = tmp_path / "no_levelling.yaml"
    overrides.write_text("io:\n  levelling:\n    min_spread_m: 1.0e+9\n")
    with config_overrides(overrides):
        (tilted,) = read_motion_file(tmp_path / "camerahmr.npz", body=default_body)
    tilted_score = _score(default_body, tilted)
    print(f"smpl_params read without levelling: overall {tilted_score:.1f}")
    assert tilted_score < amass_twin[30.0][1] - 10.0


def test_aistpp_walk_in_its_scaled_units_at_60_fps(tmp_path, default_body, walk, amass_twin):
    """AIST++ motions pickle (processing/run_estimate_smpl.py): smpl_poses (T, 72), smpl_trans
    in the scaled (centimetre) world where joints = scaling * SMPL joints + trans,
    smpl_scaling (1,), smpl_loss; float32 from the fitted torch parameters."""
    go, bp, tr = _walk_arrays(walk, 60.0)
    scaling = np.array([93.5], np.float32)
    _pickle_writer({"smpl_poses": np.concatenate([go, bp.reshape(len(go), -1)], 1).astype(np.float32),
                    "smpl_trans": (tr * scaling).astype(np.float32), "smpl_scaling": scaling, "smpl_loss": 1.2},
                   tmp_path / "gWA_sFM_cAll_d27_mWA2_ch21.pkl")
    (sequence,) = read_motion_file(tmp_path / "gWA_sFM_cAll_d27_mWA2_ch21.pkl", body=default_body)
    meta = sequence["metadata"]
    assert (meta["layout"], meta["fps_source"]) == ("aistpp", "AIST++ rate (60 fps)")
    assert "smpl_trans / smpl_scaling (93.5)" in meta["conversions"]
    torch.testing.assert_close(sequence["transl"].double(), torch.from_numpy(tr), atol=1e-5, rtol=0)
    _assert_twin(default_body, amass_twin, sequence, fps=60.0)
    # The caller's rate is for files that state none: AIST++'s is known.
    assert read_motion_file(tmp_path / "gWA_sFM_cAll_d27_mWA2_ch21.pkl", default_fps=30.0)[0]["fps"] == 60.0


def test_meshcapade_smpl_walk(tmp_path, default_body, walk, amass_twin):
    """smplcodec's SMPLCodec.write: np.savez_compressed of camelCase fields, SMPL-X: bodyPose
    (T, 22, 3) root first, headPose (T, 3, 3), hand poses (T, 15, 3), shapeParameters (16,)."""
    go, bp, tr = _walk_arrays(walk)
    frames = len(go)
    with open(tmp_path / "walk.smpl", "wb") as out:
        np.savez_compressed(out, codecVersion=np.array(2), smplVersion=np.array(2, np.int32),
                            gender=np.array(0, np.int32), shapeParameters=np.zeros(16, np.float32),
                            frameCount=np.array(frames, np.int32), frameRate=np.array(30.0, np.float32),
                            bodyTranslation=tr.astype(np.float32),
                            bodyPose=np.concatenate([go[:, None], bp[:, :21]], 1).astype(np.float32),
                            headPose=np.zeros((frames, 3, 3), np.float32),
                            leftHandPose=np.zeros((frames, 15, 3), np.float32),
                            rightHandPose=np.zeros((frames, 15, 3), np.float32))
    assert find_motion_files([tmp_path]) == [tmp_path / "walk.smpl"]
    (sequence,) = read_motion_file(tmp_path / "walk.smpl", body=default_body)
    meta = sequence["metadata"]
    assert (meta["layout"], meta["body_model"], meta["fps_source"]) == ("smplcodec", "SMPL-X", "file key 'frameRate'")
    assert meta["unmeasured_joints"] == "left_hand,right_hand"
    assert torch.equal(sequence["transl"], torch.from_numpy(tr).float())
    _assert_twin(default_body, amass_twin, sequence)


def test_amass_smplx_walk(tmp_path, default_body, walk, amass_twin):
    """AMASS SMPL-X npz: poses (T, 165), trans, betas (16,), mocap_frame_rate, z up."""
    go, bp, tr = _walk_arrays(walk)
    frames = len(go)
    go_z, tr_z = _to_frame(go, tr, Z_UP_TO_Y_UP.T, _pelvis_rest(default_body, np.zeros(10)))
    np.savez(tmp_path / "walk_stageii.npz", poses=np.concatenate(
        [go_z, bp[:, :21].reshape(frames, -1), np.zeros((frames, 99))], 1), trans=tr_z, betas=np.zeros(16),
        mocap_frame_rate=np.array(30.0), gender=np.array("neutral"), surface_model_type=np.array("smplx"))
    (sequence,) = read_motion_file(tmp_path / "walk_stageii.npz", body=default_body)
    assert (sequence["metadata"]["layout"], sequence["metadata"]["body_model"]) == ("amass", "SMPL-X")
    assert sequence["metadata"]["fps_source"] == "file key 'mocap_frame_rate'"
    _assert_twin(default_body, amass_twin, sequence)


def test_levelling_refuses_feet_that_span_no_plane(default_body):
    """Jumping in place: the toes rise and fall along a line; no ground plane, no turn."""
    from humanscore_torch.config import load_config
    from humanscore_torch.io.frames import ground_levelling
    from humanscore_torch.synthetic import clean_clip

    clip = clean_clip("jump")
    joints = default_body(clip["global_orient"].double(), clip["body_pose"].double(), None,
                          clip["transl"].double(), need_vertices=False).joints
    rotation, text = ground_levelling(joints, load_config("io")["levelling"])
    assert rotation is None and text.startswith("not levelled")
    clip = clean_clip("walk")
    joints = default_body(clip["global_orient"].double(), clip["body_pose"].double(), None,
                          clip["transl"].double(), need_vertices=False).joints
    rotation, text = ground_levelling(joints, load_config("io")["levelling"])
    assert torch.allclose(rotation, torch.eye(3, dtype=torch.float64), atol=2e-3)  # level already: < 0.1 deg


def test_real_aistpp_and_meshcapade_samples_load_and_score(reference_data, default_body):
    folder = reference_data / "real-motion"
    (dance,) = read_motion_file(folder / "aistpp_sample.pkl")
    (avatar,) = read_motion_file(folder / "meshcapade_avatar.smpl")
    assert (dance["global_orient"].shape[0], dance["fps"], dance["metadata"]["layout"]) == (127, 60.0, "aistpp")
    assert (avatar["global_orient"].shape[0], avatar["fps"], avatar["metadata"]["layout"]) == (601, 120.0, "smplcodec")
    for name, sequence in (("AIST++ sample", dance), ("Meshcapade avatar", avatar)):
        score = _score(default_body, sequence)
        print(f"{name}: overall {score:.1f}")
        assert 0.0 <= score <= 100.0


# ------------------------------------------------------------------------------------ canonical
def test_canonical_file_round_trips_exactly(tmp_path):
    frames = 9
    go, bp, tr, betas = _truth(frames)
    sequence = {"global_orient": torch.from_numpy(go).float(), "body_pose": torch.from_numpy(bp).float(),
                "transl": torch.from_numpy(tr).float(), "betas": torch.from_numpy(betas).float(), "fps": 50.0,
                "metadata": {"model": "m1", "prompt": "walk", "intensity": 2}}
    path = save_motion(tmp_path / "clip", sequence)
    assert path.name == "clip.npz"
    with np.load(path, allow_pickle=False) as stored:  # nothing pickled in the file
        assert str(stored["format"]) == "humanscore_torch/1"
        assert set(stored.files) == {"format", "global_orient", "body_pose", "transl", "betas", "fps", "metadata"}
    (back,) = read_motion_file(path)
    for key in ("global_orient", "body_pose", "transl", "betas"):
        assert back[key].dtype == torch.float32 and torch.equal(back[key], sequence[key])
    assert back["fps"] == 50.0
    assert {k: back["metadata"][k] for k in ("model", "prompt", "intensity")} == sequence["metadata"]
    assert back["metadata"]["layout"] == "canonical" and back["metadata"]["conversions"] == ""
    # A read sequence saved again keeps where it came from and what was converted.
    (again,) = read_motion_file(save_motion(tmp_path / "again.npz", back))
    assert again["metadata"]["source_path"] == str(path)


def test_save_motion_checks_shapes_and_rate(tmp_path):
    good = {"global_orient": torch.zeros(3, 3), "body_pose": torch.zeros(3, 23, 3), "fps": 30.0}
    with pytest.raises(ValueError, match=r"body_pose: expected shape \(T 23 3\), got \(3, 21, 3\)"):
        save_motion(tmp_path / "a.npz", {**good, "body_pose": torch.zeros(3, 21, 3)})
    with pytest.raises(ValueError, match="dimension T is 4"):
        save_motion(tmp_path / "a.npz", {**good, "transl": torch.zeros(4, 3)})
    with pytest.raises(ValueError, match="fps"):
        save_motion(tmp_path / "a.npz", {**good, "fps": 0.0})
    (back,) = read_motion_file(save_motion(tmp_path / "a.npz", good))
    assert torch.equal(back["transl"], torch.zeros(3, 3)) and "mean shape" in back["metadata"]["conversions"]


# ------------------------------------------------------------------------------------ batching
def test_files_of_mixed_layouts_batch_together_and_gaps_are_masked(tmp_path, body):
    _write_amass(tmp_path / "a.npz", body)
    _write_wham(tmp_path / "wham_output.pkl", _pickle_writer, body)
    save_motion(tmp_path / "c.npz", {"global_orient": torch.zeros(4, 3), "body_pose": torch.zeros(4, 23, 3),
                                     "fps": 60.0})
    batch = load_motion_batch([tmp_path])
    assert isinstance(batch, MotionBatch) and batch.batch_size == 4  # AMASS, canonical, two WHAM tracks
    assert [m["layout"] for m in batch.metadata] == ["amass", "canonical", "wham", "wham"]
    assert batch.lengths.tolist() == [12, 4, 8, 8]
    assert batch.nonfinite_frames.tolist() == [0, 0, 0, 1]  # WHAM track 3 misses frame 7
    assert batch.fps.tolist() == [120.0, 60.0, 30.0, 30.0]


# ------------------------------------------------------------------------------ frame helpers
def test_rotate_world_moves_every_joint_by_the_rotation(body):
    go, bp, tr, betas = _truth(6)
    q = rotvec_to_rotmat(torch.tensor([0.3, -1.1, 0.7], dtype=torch.float64))
    rest = rest_pelvis_position(body, torch.from_numpy(betas), 6)
    new_go, new_tr = rotate_world(torch.from_numpy(go), torch.from_numpy(tr), q, rest)
    betas_t = torch.from_numpy(betas).expand(6, -1)
    with torch.no_grad():
        before = body(torch.from_numpy(go), torch.from_numpy(bp), betas_t, torch.from_numpy(tr),
                      need_vertices=False).joints
        after = body(new_go, torch.from_numpy(bp), betas_t, new_tr, need_vertices=False).joints
    torch.testing.assert_close(after, before @ q.T, atol=1e-9, rtol=0)
    torch.testing.assert_close(rest, torch.from_numpy(_pelvis_rest(body, betas)).expand(6, -1), atol=1e-12, rtol=0)
