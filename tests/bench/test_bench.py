"""The benchmark: the reference pipeline computes the project's numbers (so a speedup compares
like with like), ``humanscore bench`` writes the spec's JSON keys, and chunked evaluation
holds one batch at a time. No timing assertions: benchmarks are commands."""

from __future__ import annotations

import copy
import gc
import json
import weakref

import numpy as np
import pytest
import torch

from humanscore_torch import evaluation
from humanscore_torch.bench import runner
from humanscore_torch.bench.clips import CATEGORIES, bench_clip, bench_clips, stream_clips
from humanscore_torch.bench.poses import benchmark_poses
from humanscore_torch.bench.worker import measure_case
from humanscore_torch.cli import main
from humanscore_torch.evaluation import score_batch, score_sequences
from humanscore_torch.motion import MotionBatch
from humanscore_torch.registry import METRIC_KEYS, available_metrics

SPEC_KEYS = set(runner.SPEC_KEYS)


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
    pytest.importorskip("igl", reason="the reference uses libigl")
    from humanscore_torch.bench.reference import ReferenceBatch, ReferenceTables, agreement, run_reference

    reference = run_reference(ReferenceTables.build(default_body), ReferenceBatch.from_clips([agreement_clip]), "suite")
    batch = MotionBatch.from_sequences([agreement_clip]).to(dtype=torch.float64)
    ours = score_batch(batch, copy.deepcopy(default_body).double())  # float64: agreement to rounding
    assert ours["jerk"].raw.item() == pytest.approx(reference["jerk"][0], rel=1e-9)
    assert reference["bone_length_consistency"][0] > 1.0  # per-frame betas stretch the bones
    assert ours["bone_length_consistency"].raw.item() == pytest.approx(reference["bone_length_consistency"][0], rel=1e-9)
    found = agreement(ours, reference)
    for key in ("range_of_motion", "newtonian_plausibility", "artifact_rate", "self_penetration"):
        assert found[key]["frames_equal"], (key, found[key])
        assert 0 < found[key]["flagged"] < agreement_clip["body_pose"].shape[0], key  # both verdicts occur
    assert found["self_penetration"]["face_pairs_equal"]
    assert found["self_penetration"]["max_depth_difference_mm"] < 1e-3  # 1 um
    assert reference["self_penetration_candidates"] > 0


@pytest.mark.parametrize("category", CATEGORIES)
def test_reference_joint_verdicts_equal_the_projects_on_every_category(category, default_body):
    # Range of motion and Newtonian plausibility (running-quantile ground, supports, rest, stance
    # sliding) frame by frame, on clips long enough for the ground's window and the rests.
    from humanscore_torch.bench.reference import ReferenceBatch, ReferenceTables, agreement, run_reference

    clips = bench_clips(2, 90, category=category)
    tables = ReferenceTables.build(default_body)
    metrics = {k: available_metrics()[k] for k in ("range_of_motion", "newtonian_plausibility")}
    ours = score_batch(MotionBatch.from_sequences(clips), default_body, metrics)
    for key in metrics:
        found = agreement({key: ours[key]}, run_reference(tables, ReferenceBatch.from_clips(clips), key))[key]
        assert found["frames_equal"], (category, key, found)


def test_reference_triangle_test_matches_the_project():
    from humanscore_torch.bench.reference import triangles_intersect
    from humanscore_torch.functional.self_penetration import triangles_intersect as project_test

    g = torch.Generator().manual_seed(3)
    first, second = torch.rand(2000, 3, 3, generator=g, dtype=torch.float64), torch.rand(2000, 3, 3, generator=g, dtype=torch.float64)
    mine = project_test(first, second).numpy()
    assert 0 < mine.sum() < len(mine)
    assert np.array_equal(triangles_intersect(first.numpy(), second.numpy()), mine)


def _in_process(case, timeout_s=0):
    # Every measurement in this process (a fresh one each is what the command does; one such
    # run is checked below).
    return measure_case(case)


def test_bench_command_writes_the_spec_keys_per_metric_and_suite(tmp_path, monkeypatch):
    pytest.importorskip("igl", reason="the reference uses libigl")
    monkeypatch.setattr(runner, "run_worker", _in_process)
    out = tmp_path / "bench.json"
    code = main(["bench", "--batch-sizes", "1", "2", "--frames", "6", "--repeats", "2", "--device", "cpu",
                 "--categories", "natural", "contact", "--category-sizes", "contact=1x5", "--suite-cases", "1x7",
                 "--threads", "1", "--clip-counts", "3", "--clip-count-frames", "6", "--clip-lengths", "8",
                 "--json", str(out)])
    assert code == 0
    result = json.loads(out.read_text())
    for key in METRIC_KEYS + ("suite",):
        assert SPEC_KEYS <= set(result[key]), key
        assert all(result[key][k] > 0 for k in SPEC_KEYS), key
        assert result[key]["speedup_vs_reference"] == pytest.approx(
            result[key]["frames_per_second"] / result[key]["reference_frames_per_second"])
        natural = {(c["batch_size"], c["frames"]) for c in result[key]["cases"] if c["category"] == "natural"}
        assert natural == ({(1, 6), (2, 6), (1, 7)} if key == "suite" else {(1, 6), (2, 6)})
        for case in result[key]["cases"]:
            assert len(case["speedup_by_round"]) == case["runs"] == 2
            for metric, found in case["agreement"].items():  # the reference computes the project's numbers
                assert found.get("frames_equal", True) and found.get("face_pairs_equal", True), (key, metric, found)
    assert set(result["categories"]) == {"natural", "contact"}
    assert set(result["categories"]["contact"]) == {"self_penetration", "suite"}
    contact = result["categories"]["contact"]["suite"]["threads_1"]
    assert (contact["batch_size"], contact["frames"]) == (1, 5) and SPEC_KEYS <= set(contact)
    assert [c["clips"] for c in result["scaling"]["clip_count"]] == [3]
    assert result["scaling"]["clip_count"][0]["records"] == 3
    assert [c["frames"] for c in result["scaling"]["clip_length"]] == [8]


def test_contact_clips_have_self_contact_and_natural_clips_little():
    pytest.importorskip("igl", reason="the reference uses libigl")
    from humanscore_torch.bench.reference import ReferenceBatch, ReferenceTables, run_reference
    from humanscore_torch.body.model import BodyModel

    tables = ReferenceTables.build(BodyModel.default())
    pairs = {c: run_reference(tables, ReferenceBatch.from_clips(bench_clips(1, 4, category=c)), "self_penetration")
             ["self_penetration_candidates"] / 4 for c in ("natural", "contact")}
    assert pairs["contact"] >= 100 > pairs["natural"], pairs


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


def _live_tensors():
    """(count, storage bytes) of the tensors the garbage collector can see."""
    gc.collect()
    # issubclass(type(o)), not isinstance: some deprecated torch attributes warn on isinstance.
    tensors = [o for o in gc.get_objects() if issubclass(type(o), torch.Tensor)]
    return len(tensors), sum(t.untyped_storage().nbytes() for t in tensors)


def test_score_sequences_keeps_nothing_from_earlier_batches(default_body, monkeypatch):
    # Memory flat in the number of clips: while batch k is scored, batch k-1 (with its posed
    # vertices, the largest tensor) is gone; when its results are handed over, so are batch
    # k-1's results; and the live tensors are the same from batch to batch (every batch holds
    # the same two clips, so any growth would be something kept per batch). Checked before any
    # gc.collect(): freed by reference counting, not left to a cycle collection.
    batches, outputs, live = [], [], []
    score = evaluation.score_batch

    def scoring(batch, body, metrics=None):
        assert all(ref() is None for ref in batches), "the previous batch is alive while the next one is scored"
        return score(batch, body, metrics)

    def on_results(batch, results, records):
        assert all(ref() is None for ref in outputs), "an earlier batch's results are still alive"
        live.append(_live_tensors())
        batches.append(weakref.ref(batch))
        outputs.extend(weakref.ref(r.raw) for r in results.values())

    monkeypatch.setattr(evaluation, "score_batch", scoring)
    records = sum(1 for _ in score_sequences(stream_clips(12, 8, distinct=2), default_body, batch_size=2,
                                              on_results=on_results))
    assert records == 12 and len(live) == 6
    assert live[1:] == [live[1]] * 5, live  # the first batch may fill caches; nothing grows after it


def test_bench_compile_records_compiled_figures_next_to_eager(tmp_path, monkeypatch):
    # Real torch.compile tracing (graph breaks and all), with the "eager" backend so that no code
    # is generated: the plumbing and the JSON, not the speed.
    monkeypatch.setattr(runner, "run_worker", _in_process)
    compile_ = torch.compile
    monkeypatch.setattr(torch, "compile", lambda fn=None, **kw: compile_(fn, **dict(kw, backend="eager")))
    out = tmp_path / "bench.json"
    try:
        code = main(["bench", "--metrics", "jerk", "--batch-sizes", "2", "--frames", "6", "--repeats", "1",
                     "--device", "cpu", "--no-reference", "--categories", "natural", "--suite-cases", "--threads", "1",
                     "--clip-counts", "--clip-lengths", "--compile",
                     "--json", str(out)])
    finally:
        torch._dynamo.reset()
    assert code == 0
    result = json.loads(out.read_text())
    assert result["meta"]["compiled"] is True
    compiled = result["jerk"]["compiled"]
    assert "error" not in compiled, compiled
    assert compiled["frames_per_second"] > 0 and compiled["compile_seconds"] > 0
    assert compiled["speedup_vs_eager"] == pytest.approx(compiled["frames_per_second"] / compiled["eager_frames_per_second"])


def test_bench_without_its_extra_says_what_to_install(monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "igl" else real(name, *a))
    assert main(["bench", "--metrics", "jerk", "--frames", "6", "--batch-sizes", "1"]) == 2
    assert "pip install 'humanscore_torch[bench]'" in capsys.readouterr().err
