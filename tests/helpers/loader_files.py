"""One small motion file per loader layout, written from a clean synthetic walk (the tests
write them; nothing is committed): AMASS (SMPL-H), WHAM, TRAM, GVHMR, PromptHMR, 4D-Humans
(PHALP), CameraHMR/SMPL-X parameters, CamSMPLify output.npz, AIST++, Meshcapade .smpl and the
canonical format."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Callable, Dict

import numpy as np
import torch

from humanscore_torch import synthetic
from humanscore_torch.io import save_motion
from humanscore_torch.rotations import rotvec_to_rotmat

FRAMES = 24


def _walk():
    clip = synthetic.clean_clip("walk")
    go, bp, tr = (clip[k][:FRAMES].double().numpy() for k in ("global_orient", "body_pose", "transl"))
    return go, bp, tr, clip["betas"].double().numpy()


def _rotmat(x: np.ndarray) -> np.ndarray:
    return rotvec_to_rotmat(torch.from_numpy(x)).numpy()


def _pickle(obj, path: Path) -> None:
    with open(path, "wb") as fh:
        pickle.dump(obj, fh)


def amass(folder: Path) -> Path:
    go, bp, tr, betas = _walk()
    hands = np.random.default_rng(0).normal(size=(FRAMES, 90)) * 0.1
    poses = np.concatenate([go, bp[:, :21].reshape(FRAMES, -1), hands], 1)  # SMPL-H: 3 + 63 + 90
    np.savez(folder / "amass.npz", poses=poses, trans=tr, betas=np.concatenate([betas, np.zeros(6)]),
             mocap_framerate=np.array(30.0))
    return folder / "amass.npz"


def wham(folder: Path) -> Path:
    go, bp, tr, betas = _walk()
    track = {"pose_world": np.concatenate([go, bp.reshape(FRAMES, -1)], 1), "trans_world": tr,
             "pose": np.concatenate([go, bp.reshape(FRAMES, -1)], 1), "trans": tr,
             "betas": np.tile(betas, (FRAMES, 1)), "frame_ids": np.arange(FRAMES)}
    _pickle({0: track}, folder / "wham_output.pkl")
    return folder / "wham_output.pkl"


def tram(folder: Path) -> Path:
    go, bp, tr, betas = _walk()
    rotmat = np.concatenate([_rotmat(go)[:, None], _rotmat(bp)], 1)
    np.save(folder / "hps_track_0.npy", {"pred_rotmat": torch.from_numpy(rotmat), "pred_shape":
                                          torch.from_numpy(np.tile(betas, (FRAMES, 1))),
                                          "pred_trans": torch.from_numpy(tr[:, None]),
                                          "frame": torch.arange(FRAMES)}, allow_pickle=True)
    return folder / "hps_track_0.npy"


def gvhmr(folder: Path) -> Path:
    go, bp, tr, betas = _walk()
    params = {"global_orient": torch.from_numpy(go).float(),
              "body_pose": torch.from_numpy(bp[:, :21].reshape(FRAMES, 63)).float(),
              "transl": torch.from_numpy(tr).float(), "betas": torch.from_numpy(np.tile(betas, (FRAMES, 1))).float()}
    torch.save({"smpl_params_global": params, "smpl_params_incam": params}, folder / "hmr4d_results.pt")
    return folder / "hmr4d_results.pt"


def prompthmr(folder: Path) -> Path:
    go, bp, tr, betas = _walk()
    pose = np.concatenate([go, bp[:, :21].reshape(FRAMES, -1), np.zeros((FRAMES, 99))], 1)  # 55 SMPL-X joints
    world = {"pose": pose, "shape": np.tile(betas, (FRAMES, 1)), "trans": tr}
    _pickle({"camera": {}, "people": {1: {"track_id": 1, "frames": np.arange(FRAMES), "smplx_world": world,
                                           "smplx_cam": world}}, "has_hps_world": True}, folder / "results.pkl")
    return folder / "results.pkl"


def phalp(folder: Path) -> Path:
    go, bp, tr, betas = _walk()
    roots, bodies = _rotmat(go), _rotmat(bp)
    results = {f"img/{t:06d}.jpg": {"time": t, "tid": [3], "tracked_ids": [3], "shot": 0, "camera": [tr[t]],
                                    "smpl": [{"global_orient": roots[t][None], "body_pose": bodies[t], "betas": betas}]}
               for t in range(FRAMES)}
    _pickle(results, folder / "demo_clip.pkl")
    return folder / "demo_clip.pkl"


def smpl_params(folder: Path) -> Path:
    go, bp, tr, betas = _walk()
    np.savez(folder / "smplx.npz", global_orient=go, body_pose=bp[:, :21], transl=tr, betas=betas[None],
             fps=np.array(30.0))
    return folder / "smplx.npz"


def camsmplify(folder: Path) -> Path:
    go, bp, tr, betas = _walk()
    np.savez(folder / "output.npz", imgname=np.array([f"{t:05d}.jpg" for t in range(FRAMES)]),
             pose=np.concatenate([go, bp.reshape(FRAMES, -1)], 1).astype(np.float32),
             shape=np.tile(betas, (FRAMES, 1)).astype(np.float32), cam_t=tr.astype(np.float32))
    return folder / "output.npz"


def aistpp(folder: Path) -> Path:
    go, bp, tr, _ = _walk()
    scaling = np.array([93.5], np.float32)
    _pickle({"smpl_poses": np.concatenate([go, bp.reshape(FRAMES, -1)], 1).astype(np.float32),
             "smpl_trans": (tr * scaling).astype(np.float32), "smpl_scaling": scaling, "smpl_loss": 1.0},
            folder / "gWA_sFM_cAll_d27_mWA2_ch21.pkl")
    return folder / "gWA_sFM_cAll_d27_mWA2_ch21.pkl"


def smplcodec(folder: Path) -> Path:
    go, bp, tr, _ = _walk()
    with open(folder / "walk.smpl", "wb") as out:  # smplcodec's SMPL-X layout (bodyPose root first)
        np.savez_compressed(out, codecVersion=np.array(2), smplVersion=np.array(2, np.int32),
                            shapeParameters=np.zeros(16, np.float32), frameCount=np.array(FRAMES, np.int32),
                            frameRate=np.array(30.0, np.float32), bodyTranslation=tr.astype(np.float32),
                            bodyPose=np.concatenate([go[:, None], bp[:, :21]], 1).astype(np.float32))
    return folder / "walk.smpl"


def canonical(folder: Path) -> Path:
    go, bp, tr, betas = _walk()
    sequence = {"global_orient": torch.from_numpy(go).float(), "body_pose": torch.from_numpy(bp).float(),
                "transl": torch.from_numpy(tr).float(), "betas": torch.from_numpy(betas).float(), "fps": 30.0,
                "unmeasured_joints": ("left_wrist",), "metadata": {"unmeasured_joints": "left_wrist"}}
    return save_motion(folder / "canonical.npz", sequence)


WRITERS: Dict[str, Callable[[Path], Path]] = {
    "amass": amass, "wham": wham, "tram": tram, "gvhmr": gvhmr, "prompthmr": prompthmr, "phalp": phalp,
    "smpl_params": smpl_params, "camsmplify": camsmplify, "aistpp": aistpp, "smplcodec": smplcodec,
    "canonical": canonical,
}
