"""The anatomy/kinetics metric classes under torch.distributed (two CPU processes, gloo) give
the numbers of one process on all the data."""

from __future__ import annotations

import os
import sys

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

sys.path.insert(0, os.path.dirname(__file__))


def _data():
    from kinetics_clips import jump_clip, walk_clip

    generator = torch.Generator().manual_seed(0)
    clips = [jump_clip(fall_g=1.0)[0], jump_clip(fall_g=1.5)[0], walk_clip(2.0), walk_clip(1.5)]
    frames = max(len(c) for c in clips)
    joints = torch.zeros(4, frames, 24, 3, dtype=torch.float64)
    mask = torch.zeros(4, frames, dtype=torch.bool)
    for i, clip in enumerate(clips):
        joints[i, :len(clip)] = clip + 0.004 * torch.randn(clip.shape, generator=generator, dtype=torch.float64)
        mask[i, :len(clip)] = True
    fps = torch.tensor([30.0, 30.0, 30.0, 25.0], dtype=torch.float64)
    detections = torch.rand(4, frames, 18, generator=generator) ** 8
    return joints, fps, mask, detections


def _metrics():
    from humanscore_torch.metrics.artifact_rate import ArtifactRate
    from humanscore_torch.metrics.bone_length import BoneLengthConsistency
    from humanscore_torch.metrics.jerk import Jerk
    from humanscore_torch.metrics.newtonian import NewtonianPlausibility

    return Jerk(), BoneLengthConsistency(), NewtonianPlausibility(), ArtifactRate()


def _update(metrics, joints, fps, mask, detections):
    jerk, bones, newton, artifacts = metrics
    jerk.update(joints, fps, mask)
    bones.update(joints, mask)
    newton.update(joints, fps, mask)
    artifacts.update(detections, mask)


def _computed(metrics):
    return [float(m.compute()["raw"]) for m in metrics]


def _worker(rank: int, init_file: str, out_file: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    joints, fps, mask, detections = _data()
    part = slice(2 * rank, 2 * rank + 2)
    metrics = _metrics()
    _update(metrics, joints[part], fps[part], mask[part], detections[part])
    values = _computed(metrics)
    if rank == 0:
        torch.save(values, out_file)
    dist.barrier()
    dist.destroy_process_group()


def test_two_processes_equal_one(tmp_path):
    if not dist.is_available():
        pytest.skip("torch.distributed is not available")
    out_file = str(tmp_path / "values.pt")
    mp.spawn(_worker, args=(str(tmp_path / "init"), out_file), nprocs=2, join=True)
    single = _metrics()
    _update(single, *_data())
    expected = _computed(single)
    assert expected[2] > 0 and expected[3] > 0  # the data exercise every metric
    assert torch.load(out_file) == pytest.approx(expected, rel=1e-12)
