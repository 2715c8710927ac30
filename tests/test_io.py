"""Motion loaders: a round trip per layout on a file the test writes, frame conversions checked
by posing, the canonical writer, batching files of mixed layouts."""

from __future__ import annotations

import math
import pickle
from collections import defaultdict

import numpy as np
import pytest
import torch

from humanscore_torch import BodyModel, MotionBatch
from humanscore_torch.body.files import DEFAULT_BODY_PATH
from humanscore_torch.body.skeleton import JOINT_INDEX, PARENTS
from humanscore_torch.io import load_motion_batch, read_motion_file, save_motion
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
    assert [s["fps"] for s in read_motion_file(path, fps=25.0)] == [25.0, 25.0]


def test_wham_camera_frame_output_is_turned_to_y_up(tmp_path, body):
    truths = _write_wham(tmp_path / "w.pkl", _pickle_writer, body)
    camera_only = {k: {"pose": v["pose"], "trans": v["trans"], "betas": v["betas"]}
                   for k, v in pickle.load(open(tmp_path / "w.pkl", "rb")).items()}
    _pickle_writer(camera_only[0], tmp_path / "one_track.pkl")  # one track, no id
    (sequence,) = read_motion_file(tmp_path / "one_track.pkl", body=body)
    go, bp, tr, _, _ = truths[0]
    _assert_same_motion(sequence, go, bp, tr, atol=5e-6)
    assert "camera frame (y down, z forward) -> y-up" in sequence["metadata"]["conversions"]
    assert "track" not in sequence["metadata"]


# ------------------------------------------------------------------------------------ TRAM
def test_tram_rotation_matrices_camera_frame_and_slam_camera(tmp_path, body):
    """TRAM: hps/hps_track_K.npy (np.save of a dict of torch tensors), camera frame, rotation
    matrices; the run's camera.npy (camera-to-world per frame) puts a person who stands still
    in the world but is filmed by a moving camera back at one place."""
    frames = 6
    go, bp, _, betas = _truth(frames)
    tr = np.tile([0.3, 0.0, 4.0], (frames, 1))  # standing still in the SLAM world (y down)
    go_world_down, tr_world_down = _to_frame(go, tr, CAMERA_TO_Y_UP.T, _pelvis_rest(body, betas))
    angles = np.linspace(0.0, 0.5, frames)
    cam_r = rotvec_to_rotmat(torch.from_numpy(np.stack([0 * angles, angles, 0 * angles], 1))).numpy()
    cam_t = np.stack([angles, 0.1 * angles, -angles], 1)
    # Camera-frame parameters: the inverse of world = R_cam x + T_cam, per frame.
    go_cam, tr_cam = np.zeros_like(go), np.zeros_like(tr)
    for i in range(frames):
        g, t = _to_frame(go_world_down[i:i + 1], tr_world_down[i:i + 1] - cam_t[i], cam_r[i].T,
                         _pelvis_rest(body, betas))
        go_cam[i], tr_cam[i] = g[0], t[0]
    rotmats = rotvec_to_rotmat(torch.from_numpy(np.concatenate([go_cam[:, None], bp], 1))).float()
    (tmp_path / "hps").mkdir()
    track = {"pred_rotmat": rotmats, "pred_shape": torch.from_numpy(np.tile(betas, (frames, 1))).float(),
             "pred_trans": torch.from_numpy(tr_cam[:, None]).float(), "frame": torch.arange(frames) + 2}
    np.save(tmp_path / "hps" / "hps_track_1.npy", track)

    (alone,) = read_motion_file(tmp_path / "hps" / "hps_track_1.npy", body=body)
    torch.testing.assert_close(alone["body_pose"].double(), torch.from_numpy(bp), atol=5e-6, rtol=0)
    assert alone["metadata"]["track"] == 1 and alone["metadata"]["first_frame"] == 2
    assert "rotation matrices -> axis-angle" in alone["metadata"]["conversions"]
    assert alone["transl"].std(0).max() > 0.05  # without the camera the person seems to move

    np.save(tmp_path / "camera.npy", {"pred_cam_R": np.concatenate([np.tile(np.eye(3), (2, 1, 1)), cam_r]),
                                       "pred_cam_T": np.concatenate([np.zeros((2, 3)), cam_t]),
                                       "img_focal": np.array(1000.0)})
    (world,) = read_motion_file(tmp_path / "hps" / "hps_track_1.npy", body=body)
    _assert_same_motion(world, go, bp, tr, atol=2e-5)
    assert "TRAM SLAM world" in world["metadata"]["conversions"]


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
def test_camerahmr_rotation_matrices_and_camera_translation(tmp_path, body):
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


def test_4dhumans_phalp_frames_regroup_into_tracks(tmp_path, body):
    # PHALP's results: one dict per frame path with per-detection lists; person 2 leaves the
    # picture for frame 2, person 5 appears from frame 1.
    go, bp, tr, betas = _truth(4)
    go_cam, tr_cam = _to_frame(go, tr, CAMERA_TO_Y_UP.T, _pelvis_rest(body, betas))
    roots, bodies = rotvec_to_rotmat(torch.from_numpy(go_cam)).numpy(), rotvec_to_rotmat(torch.from_numpy(bp)).numpy()
    smpl = lambda i: {"global_orient": roots[i][None], "body_pose": bodies[i], "betas": betas}  # noqa: E731
    present = {0: [2], 1: [2, 5], 2: [5], 3: [5, 2]}
    results = {f"img/{t:06d}.jpg": {"time": t, "tid": ids, "smpl": [smpl(t) for _ in ids],
                                    "camera": [tr_cam[t] for _ in ids], "tracked_ids": ids, "shot": 0}
               for t, ids in present.items()}
    _pickle_writer(results, tmp_path / "demo_clip.pkl")
    two, five = read_motion_file(tmp_path / "demo_clip.pkl", body=body)
    assert (two["metadata"]["track"], five["metadata"]["track"]) == (2, 5)
    assert two["metadata"]["layout"] == "phalp" and five["metadata"]["first_frame"] == 1
    assert torch.isnan(two["transl"][2]).all() and two["transl"].shape[0] == 4
    rows = [0, 1, 3]
    two_seen = {key: two[key][rows] for key in ("global_orient", "body_pose", "transl")}
    _assert_same_motion(two_seen, go[rows], bp[rows], tr[rows], atol=5e-6)
    _assert_same_motion(five, go[1:], bp[1:], tr[1:], atol=5e-6)


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
