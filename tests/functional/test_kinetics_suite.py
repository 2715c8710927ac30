"""The suite entries of the anatomy/kinetics metrics on SMPL parameters posed on the default
body, and the ground diagnostics with a known ground."""

from __future__ import annotations

import math

import torch

from humanscore_torch.adapter import ground_diagnostics_results
from humanscore_torch.motion import MotionBatch
from humanscore_torch.registry import available_metrics

MINE = ("artifact_rate", "bone_length_consistency", "newtonian_plausibility", "jerk")


def _standing_arm_swing(body, frames=90, sink=0.0):
    t = torch.arange(frames) / 30.0
    pose = torch.zeros(frames, 23, 3)
    swing = 0.3 * torch.sin(2 * math.pi * 0.5 * t)
    pose[:, 15, 2], pose[:, 16, 2] = -0.6 + swing, 0.6 - swing  # shoulders, arms half down
    rest = body(torch.zeros(1, 3), torch.zeros(1, 23, 3), torch.zeros(1, 10), torch.zeros(1, 3), need_vertices=True)
    transl = torch.zeros(frames, 3)
    transl[:, 1] = -rest.vertices[0, :, 1].min() - sink  # soles on y = 0, or sunk by ``sink``
    return dict(global_orient=torch.zeros(frames, 3), body_pose=pose, transl=transl, betas=torch.zeros(10),
                fps=30.0, metadata={"ground_height": 0.0})


def test_registered_and_scored_on_the_default_body(default_body):
    metrics = available_metrics()
    assert all(key in metrics for key in MINE)
    batch = MotionBatch.from_sequences([_standing_arm_swing(default_body), _standing_arm_swing(default_body, 60)])
    for key in MINE:
        result = metrics[key](batch, default_body)
        assert result.key == key and result.raw.shape == (2,)
        if key == "artifact_rate":
            assert not result.computed.any()  # no detections: not computed, never 100
        else:
            assert result.computed.all() and (result.score >= 95).all(), (key, result.raw)


def test_ground_diagnostics_use_the_known_ground(default_body):
    clean = MotionBatch.from_sequences([_standing_arm_swing(default_body)])
    sunk = MotionBatch.from_sequences([_standing_arm_swing(default_body, sink=0.05)])
    assert ground_diagnostics_results(clean, default_body)["ground_penetration"].raw.item() == 0
    assert ground_diagnostics_results(sunk, default_body)["ground_penetration"].raw.item() == 1.0
