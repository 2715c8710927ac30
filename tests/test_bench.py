"""The benchmark: the reference pipeline computes the project's numbers (so a speedup compares
like with like), ``humanscore bench`` writes the spec's JSON keys, and chunked evaluation
holds one batch at a time. No timing assertions: benchmarks are commands."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch

from humanscore_torch.bench import runner
from humanscore_torch.bench.clips import bench_clip, stream_clips
from humanscore_torch.bench.poses import benchmark_poses
from humanscore_torch.bench.worker import measure_case
from humanscore_torch.cli import main
from humanscore_torch.evaluation import score_batch, score_sequences
from humanscore_torch.motion import MotionBatch
from humanscore_torch.suite import METRIC_KEYS

SPEC_KEYS = {"frames_per_second", "peak_memory_bytes", "reference_frames_per_second", "speedup_vs_reference"}


@pytest.fixture(scope="module")
def agreement_clip():
    """A bench clip with per-frame betas (bone lengths vary) whose last 10 frames are taken
    from the penetration pose mix (crossed arms, hand in torso...), so every verdict occurs."""
    frames = 40
    clip = bench_clip(0, frames)
    clip["betas"] = torch.sin(torch.arange(frames)[:, None] * 0.3 + torch.arange(10)) * 0.5
    global_orient, body_pose, _ = benchmark_poses(10, seed=5)
    clip["global_orient"] = torch.cat([clip["global_orient"][:30], global_orient.float()])
    clip["body_pose"] = torch.cat([clip["body_pose"][:30], body_pose.float()])
    return clip


def test_reference_pipeline_computes_the_same_numbers(agreement_clip, default_body):
    pytest.importorskip("igl.copyleft.cgal", reason="the reference uses libigl's CGAL bindings")
    from humanscore_torch.bench.reference import ReferenceTables, run_clip

    reference = run_clip(ReferenceTables.build(default_body), agreement_clip)["values"]
    batch = MotionBatch.from_sequences([agreement_clip]).to(dtype=torch.float64)
    ours = score_batch(batch, copy.deepcopy(default_body).double())  # float64: agreement to rounding
    assert ours["jerk"].raw.item() == pytest.approx(reference["jerk"], rel=1e-9)
    assert reference["bone_length_consistency"] > 1.0  # per-frame betas stretch the bones
    assert ours["bone_length_consistency"].raw.item() == pytest.approx(reference["bone_length_consistency"], rel=1e-9)
    for key, detail in (("range_of_motion", "violating"), ("newtonian_plausibility", "violating"),
                        ("artifact_rate", "flagged")):
        mine = ours[key].details[detail][0].numpy()
        assert np.array_equal(mine, reference[f"{key}_frames"]), key
    for key in ("range_of_motion", "artifact_rate"):
        assert 0 < reference[f"{key}_frames"].sum() < len(reference[f"{key}_frames"]), key
    tolerance = 5.0
    mine = ours["self_penetration"].details["depth_mm"][0].numpy() > tolerance
    assert np.array_equal(mine, reference["self_penetration_frames"])
    assert 0 < mine.sum() < len(mine)


def test_bench_command_writes_the_spec_keys_per_metric_and_suite(tmp_path, monkeypatch):
    # Every measurement in this process (a fresh one each is what the command does; one such
    # run is checked below), at tiny sizes.
    monkeypatch.setattr(runner, "run_worker", lambda case, threads=1, timeout_s=0: measure_case(dict(case, threads=threads)))
    out = tmp_path / "bench.json"
    code = main(["bench", "--batch-sizes", "1", "2", "--frames", "6", "--repeats", "1", "--device", "cpu",
                 "--clip-counts", "3", "--clip-count-frames", "6", "--clip-lengths", "8", "--json", str(out)])
    assert code == 0
    result = json.loads(out.read_text())
    for key in METRIC_KEYS + ("suite",):
        assert SPEC_KEYS <= set(result[key]), key
        assert all(result[key][k] > 0 for k in SPEC_KEYS), key
        assert result[key]["speedup_vs_reference"] == pytest.approx(
            result[key]["frames_per_second"] / result[key]["reference_frames_per_second"])
        assert {(c["batch_size"], c["frames"]) for c in result[key]["cases"]} == {(1, 6), (2, 6)}
    assert [c["clips"] for c in result["scaling"]["clip_count"]] == [3]
    assert result["scaling"]["clip_count"][0]["records"] == 3
    assert [c["frames"] for c in result["scaling"]["clip_length"]] == [8]


def test_worker_measures_in_a_fresh_process():
    figures = runner.run_worker({"key": "jerk", "batch_size": 1, "frames": 6, "device": "cpu", "repeats": 1})
    assert figures["frames_per_second"] > 0 and figures["memory_kind"] == "peak_rss_vmhwm"
    assert figures["peak_memory_bytes"] >= figures["baseline_memory_bytes"] > 0


def test_bench_rejects_unknown_metrics_and_short_clips():
    assert main(["bench", "--metrics", "speed"]) == 2
    assert main(["bench", "--frames", "3"]) == 2


def test_score_sequences_streams_a_generator_one_batch_at_a_time(default_body):
    pulled = []

    def clips():
        for i, clip in enumerate(stream_clips(5, 6, distinct=2)):
            pulled.append(i)
            yield clip

    records = score_sequences(clips(), default_body, batch_size=2)
    first = next(records)
    assert len(pulled) == 2  # only the first batch has been read
    rest = list(records)
    assert len(pulled) == 5 and len(rest) == 4
    assert [r["path"] for r in [first] + rest] == [f"clip_{i:05d}" for i in range(5)]
    with pytest.raises(ValueError):
        next(score_sequences(clips(), default_body, batch_size=0))
