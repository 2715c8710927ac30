"""Motion files as files: bad files raise MotionFileError naming file and problem, pickles run
no code, joblib's format without joblib, finding files in folders and globs, the .mot hook."""

from __future__ import annotations

import builtins
import importlib.util
import pickle
import sys
import types

import numpy as np
import pytest
import torch

from humanscore_torch.errors import HumanScoreError, MotionFileError
from humanscore_torch.io import find_motion_files, read_motion_file, save_motion
from humanscore_torch.io.containers import read_container


def _amass(path, frames=5):
    rng = np.random.default_rng(0)
    np.savez(path, poses=rng.normal(size=(frames, 72)), trans=rng.normal(size=(frames, 3)),
             betas=rng.normal(size=10), mocap_framerate=np.array(30.0))


def _wham_dict(frames=5):
    rng = np.random.default_rng(1)
    return {0: {"pose_world": rng.normal(size=(frames, 72)).astype(np.float32),
                "trans_world": rng.normal(size=(frames, 3)).astype(np.float32),
                "betas": rng.normal(size=(frames, 10)).astype(np.float32), "frame_ids": np.arange(frames)}}


def _raises(path, *fragments):
    with pytest.raises(MotionFileError) as info:
        read_motion_file(path)
    message = str(info.value)
    assert isinstance(info.value, HumanScoreError) and info.value.path == str(path)
    assert message.startswith(str(path))
    for fragment in fragments:
        assert fragment in message, message
    return message


# ------------------------------------------------------------------------------------ errors
def test_unknown_layout_names_the_file_and_the_keys_found(tmp_path):
    np.savez(tmp_path / "mystery.npz", joints3d=np.zeros((4, 17, 3)), scores=np.zeros(4))
    _raises(tmp_path / "mystery.npz", "unknown motion layout", "'joints3d'", "'scores'", "AMASS (poses")
    np.save(tmp_path / "bare.npy", np.zeros((4, 72)))
    _raises(tmp_path / "bare.npy", "unknown motion layout", "the file holds a ndarray")


def test_mesh_files_say_they_carry_no_smpl_parameters(tmp_path):
    # CameraHMR's demo (mesh_estimator.py) writes one trimesh .obj per person: vertices and faces.
    (tmp_path / "person_0.obj").write_text("v 0.1 0.2 0.3\nv 0.2 0.2 0.3\nv 0.1 0.3 0.3\nf 1 2 3\n")
    _raises(tmp_path / "person_0.obj", "a mesh carries no SMPL parameters", "CamSMPLify's output.npz")


def test_missing_file_and_empty_file(tmp_path):
    _raises(tmp_path / "nowhere.npz", "file not found")
    (tmp_path / "empty.pkl").write_bytes(b"")
    _raises(tmp_path / "empty.pkl", "file is empty")


def _cut(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("kind", ["npz", "pickle", "joblib", "torch", "npy"])
def test_truncated_files_raise_motion_file_error(tmp_path, kind):
    path = tmp_path / f"clip.{kind}"
    if kind == "npz":
        _amass(path)
    elif kind == "pickle":
        path.write_bytes(pickle.dumps(_wham_dict(), protocol=4))
    elif kind == "joblib":
        pytest.importorskip("joblib").dump(_wham_dict(), path)
    elif kind == "torch":
        torch.save({"smpl_params_global": {"global_orient": torch.zeros(5, 3), "body_pose": torch.zeros(5, 63),
                                           "transl": torch.zeros(5, 3), "betas": torch.zeros(5, 10)}}, path)
    else:
        np.save(path, {"pred_rotmat": torch.eye(3).repeat(5, 24, 1, 1), "pred_shape": torch.zeros(5, 10),
                       "pred_trans": torch.zeros(5, 1, 3)})
    assert read_motion_file(path)  # the whole file reads
    _cut(path)
    _raises(path, "truncated or corrupt file")


def test_wrong_shaped_arrays_name_the_key_and_both_shapes(tmp_path):
    np.savez(tmp_path / "a.npz", poses=np.zeros((5, 50)), trans=np.zeros((5, 3)))
    _raises(tmp_path / "a.npz", "key 'poses'", "found (5, 50)", "expected shape (T, 72)")
    np.savez(tmp_path / "b.npz", poses=np.zeros((5, 72)), trans=np.zeros((5, 2)))
    _raises(tmp_path / "b.npz", "key 'trans'", "found (5, 2)", "(T, 3)")
    np.savez(tmp_path / "c.npz", poses=np.zeros((5, 72)), trans=np.zeros((6, 3)))
    _raises(tmp_path / "c.npz", "disagree on the number of frames", "'poses': 5", "'trans': 6")
    np.savez(tmp_path / "d.npz", global_orient=np.zeros((5, 3)), body_pose=np.zeros((5, 22, 3)),
             transl=np.zeros((5, 3)))
    _raises(tmp_path / "d.npz", "key 'body_pose'", "found (5, 22, 3)", "(T, 23, 3)")
    wham = _wham_dict()
    wham[0]["trans_world"] = np.zeros((5, 4))
    (tmp_path / "wham_output.pkl").write_bytes(pickle.dumps(wham))
    _raises(tmp_path / "wham_output.pkl", "key '[0].trans_world'", "found (5, 4)")
    np.savez(tmp_path / "e.npz", global_orient=np.zeros((5, 3)), body_pose=np.zeros((5, 23, 3)))
    _raises(tmp_path / "e.npz", "no root translation", "'cam_t'", "'transl'")


def test_estimator_files_with_nothing_to_score_say_why(tmp_path):
    # smplcodec's SKEL / SMPL++ bodies hold 46 skeleton coordinates, not SMPL joint rotations.
    np.savez_compressed(tmp_path / "skel.npz", smplVersion=np.array(5), frameCount=np.array(3),
                        frameRate=np.array(30.0), bodyPose=np.zeros((3, 46)))
    (tmp_path / "skel.npz").rename(tmp_path / "skel.smpl")
    _raises(tmp_path / "skel.smpl", "smplVersion 5", "not SMPL joint rotations")
    np.savez(tmp_path / "count.smpl.npz", smplVersion=np.array(0), frameCount=np.array(4), frameRate=np.array(30.0),
             bodyPose=np.zeros((3, 24, 3)), bodyTranslation=np.zeros((3, 3)))
    _raises(tmp_path / "count.smpl.npz", "frameCount 4 but bodyPose has 3 frames")
    # CamSMPLify keeps no image whose fit ended above its loss threshold: empty lists.
    np.savez(tmp_path / "output.npz", imgname=np.array([]), pose=np.array([]), shape=np.array([]),
             cam_t=np.array([]))
    _raises(tmp_path / "output.npz", "CamSMPLify output holds no fitted image")
    (tmp_path / "aist.pkl").write_bytes(pickle.dumps({"smpl_poses": np.zeros((3, 72)), "smpl_trans": np.zeros((3, 3)),
                                                      "smpl_scaling": np.array([0.0])}))
    _raises(tmp_path / "aist.pkl", "key 'smpl_scaling'", "one positive number")


def test_bad_frame_ids_and_rates(tmp_path):
    wham = _wham_dict()
    wham[0]["frame_ids"] = np.array([0, 1, 3, 2, 4])
    (tmp_path / "w.pkl").write_bytes(pickle.dumps(wham))
    _raises(tmp_path / "w.pkl", "frame ids must increase")
    _amass(tmp_path / "a.npz")
    with pytest.raises(MotionFileError, match="fps: expected a frame rate > 0"):
        read_motion_file(tmp_path / "a.npz", fps=0)


# ------------------------------------------------------------------------------------ safety
def test_pickles_naming_code_are_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return builtins.exec, (f"open({str(marker)!r}, 'w').close()",)

    data = {**_wham_dict(), "payload": Payload()}
    (tmp_path / "p.pkl").write_bytes(pickle.dumps(data, protocol=2))
    torch.save({"payload": Payload(), "smpl_params_global": {
        "global_orient": torch.zeros(3, 3), "body_pose": torch.zeros(3, 63), "transl": torch.zeros(3, 3)}},
        tmp_path / "p.pt")
    np.save(tmp_path / "p.npy", np.array({"payload": Payload()}, dtype=object))
    for name in ("p.pkl", "p.pt", "p.npy"):
        _raises(tmp_path / name, "refused pickled type builtins.exec")
    assert not marker.exists()
    del data["payload"]
    (tmp_path / "plain.pkl").write_bytes(pickle.dumps(data, protocol=2))
    assert np.array_equal(read_container(tmp_path / "plain.pkl")[0]["pose_world"], data[0]["pose_world"])


def test_torch_files_with_numpy_arrays_load_through_the_restricted_unpickler(tmp_path):
    torch.save({"smpl_params_global": {"global_orient": np.zeros((3, 3)), "body_pose": np.ones((3, 63)),
                                       "transl": np.zeros((3, 3))}}, tmp_path / "np.pt")
    (sequence,) = read_motion_file(tmp_path / "np.pt")
    assert torch.equal(sequence["body_pose"][:, :21], torch.ones(3, 21, 3))


@pytest.mark.parametrize("compress", [0, 3, ("gzip", 3), ("bz2", 3), ("xz", 3), ("lzma", 3)])
def test_joblib_files_read_without_joblib(tmp_path, compress):
    joblib = pytest.importorskip("joblib")  # only to write the files
    data = _wham_dict()
    data[0]["pose_world"] = np.asfortranarray(data[0]["pose_world"])
    data[0]["names"] = np.array(["a", None], dtype=object)
    joblib.dump(data, tmp_path / "wham_output.pkl", compress=compress)
    loaded = read_container(tmp_path / "wham_output.pkl")
    for key in ("pose_world", "trans_world", "betas", "frame_ids"):
        assert np.array_equal(loaded[0][key], data[0][key]) and loaded[0][key].dtype == data[0][key].dtype
    assert list(loaded[0]["names"]) == ["a", None]


def test_lz4_joblib_files_get_a_clear_error(tmp_path):
    (tmp_path / "x.pkl").write_bytes(b"\x04\x22\x4d\x18" + b"\x00" * 20)
    _raises(tmp_path / "x.pkl", "lz4")


# ------------------------------------------------------------------------------------ finding
def test_find_motion_files_folders_globs_files(tmp_path):
    run = tmp_path / "run"
    (run / "hps").mkdir(parents=True)
    (run / ".cache").mkdir()
    for name in ("hps/hps_track_0.npy", "hps/hps_track_1.npy", "camera.npy", "tracks.npy",
                 "wham_output.pkl", "tracking_results.pth", "notes.txt", ".cache/x.npz", "clip.NPZ"):
        (run / name).write_bytes(b"x")
    found = find_motion_files([run])
    assert found == [run / "clip.NPZ", run / "hps/hps_track_0.npy", run / "hps/hps_track_1.npy",
                     run / "wham_output.pkl"]
    # A file named explicitly is taken whatever it is; duplicates (also via a glob) collapse.
    again = find_motion_files([run / "camera.npy", str(run / "hps" / "*.npy"), run / "hps" / "hps_track_0.npy"])
    assert again == [run / "camera.npy", run / "hps/hps_track_0.npy", run / "hps/hps_track_1.npy"]
    assert find_motion_files(str(tmp_path / "**" / "*.pkl")) == [run / "wham_output.pkl"]
    # A missing path that is no pattern stays, so that reading it reports it.
    assert find_motion_files([tmp_path / "gone.npz"]) == [tmp_path / "gone.npz"]
    assert find_motion_files([str(tmp_path / "nothing*.npz")]) == []


# ------------------------------------------------------------------------------------ OpenSim
def test_mot_files_go_to_the_opensim_reader_when_it_exists(tmp_path, monkeypatch):
    mot = tmp_path / "trial.mot"
    mot.write_text("Coordinates\nendheader\n")
    name = "humanscore_torch.io.opensim"
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == name else real_find_spec(n, *a))
    monkeypatch.delitem(sys.modules, name, raising=False)
    _raises(mot, "opensim extra")

    calls = []
    fake = types.ModuleType(name)
    fake.read_opensim_motion = lambda path, model=None, fps=None: calls.append((path, fps)) or [{"layout": "opensim"}]
    monkeypatch.setitem(sys.modules, name, fake)
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: object() if n == name else real_find_spec(n, *a))
    assert read_motion_file(mot, fps=100.0) == [{"layout": "opensim"}]
    assert calls == [(mot, 100.0)]


def test_canonical_file_of_another_version_is_refused(tmp_path):
    path = save_motion(tmp_path / "c.npz", {"global_orient": torch.zeros(2, 3), "body_pose": torch.zeros(2, 23, 3),
                                            "fps": 30.0})
    with np.load(path) as stored:
        arrays = dict(stored)
    arrays["format"] = np.array("humanscore_torch/9")
    np.savez(path, **arrays)
    _raises(path, "'humanscore_torch/9' is not supported")
