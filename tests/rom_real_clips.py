"""The real clips of ../shared/reference-data as SMPL poses, for the range-of-motion checks:
the Hamner running trial (imported with its own model), the OpenCap walk and squat (through the
shipped joint map: the importer stops at the OpenCap model's WeldJoints), the AIST++ dance and
the SMPL-X avatar (converted here until their loaders exist)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Dict, Tuple

import numpy as np
import torch

AIST_FPS = 60.0  # the AIST++ rate; the sample file does not store it


def real_clips(reference_data: Path, body, scratch: Path) -> Dict[str, Tuple[torch.Tensor, torch.Tensor, float]]:
    """name -> (global_orient (T, 3), body_pose (T, 23, 3) axis-angle float64, fps).

    ``scratch``: a folder the OpenCap .mot files are copied to, so that the importer does
    not pick up the OpenCap model next to them.
    """
    from humanscore_torch.io.containers import read_container
    from humanscore_torch.io.opensim import read_opensim_motion
    from humanscore_torch.validation.trial import RunningTrial

    def pose(seq):
        return seq["global_orient"].double(), seq["body_pose"].double(), float(seq["fps"])

    clips = {"hamner_running": pose(RunningTrial(reference_data, body).sequence)}
    for name in ("walking1_videoAndMocap", "squats1_videoAndMocap"):
        copy = Path(scratch) / f"{name}.mot"
        shutil.copyfile(reference_data / "opencap" / f"{name}.mot", copy)
        clips[f"opencap_{name.split('1')[0]}"] = pose(read_opensim_motion(copy, body=body)[0])
    aist = read_container(reference_data / "real-motion" / "aistpp_sample.pkl")
    poses = torch.as_tensor(np.asarray(aist["smpl_poses"]), dtype=torch.float64).reshape(-1, 24, 3)
    clips["aistpp_dance"] = (poses[:, 0], poses[:, 1:], AIST_FPS)
    with np.load(reference_data / "real-motion" / "meshcapade_avatar.smpl", allow_pickle=False) as avatar:
        body22 = torch.as_tensor(avatar["bodyPose"], dtype=torch.float64)  # (T, 22, 3), root first
        fps = float(avatar["frameRate"])
    hands = torch.zeros(body22.shape[0], 2, 3, dtype=torch.float64)  # SMPL-X hands at rest
    clips["smplx_avatar"] = (body22[:, 0], torch.cat([body22[:, 1:], hands], 1), fps)
    return clips
