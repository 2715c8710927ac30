"""The real clips of ../shared/reference-data as SMPL poses, read by the project's own loaders:
the Hamner running trial and the OpenCap walk and squat (each imported with its own OpenSim
model), the AIST++ dance and the Meshcapade SMPL-X avatar."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Tuple

import torch

OPENCAP_MODEL = "LaiArnoldModified2017_contacts.osim"


def real_clips(reference_data: Path, body) -> Dict[str, Tuple[torch.Tensor, torch.Tensor, float]]:
    """name -> (global_orient (T, 3), body_pose (T, 23, 3) axis-angle float64, fps)."""
    from humanscore_torch.io import read_motion_file
    from humanscore_torch.io.opensim import read_opensim_motion
    from humanscore_torch.validation.trial import RunningTrial

    def pose(seq):
        return seq["global_orient"].double(), seq["body_pose"].double(), float(seq["fps"])

    opencap = reference_data / "opencap"
    clips = {"hamner_running": pose(RunningTrial(reference_data, body).sequence)}
    for name in ("walking1_videoAndMocap", "squats1_videoAndMocap"):
        imported = read_opensim_motion(opencap / f"{name}.mot", opencap / OPENCAP_MODEL, body=body)[0]
        clips[f"opencap_{name.split('1')[0]}"] = pose(imported)
    clips["aistpp_dance"] = pose(read_motion_file(reference_data / "real-motion" / "aistpp_sample.pkl")[0])
    clips["smplx_avatar"] = pose(read_motion_file(reference_data / "real-motion" / "meshcapade_avatar.smpl")[0])
    return clips
