"""HumanScore collection: pooled over batches it equals the functional ops on all the data,
per clip it equals evaluation.score_batch, rejected batches change nothing, metrics not
computed are visible, weights come from the config."""

from __future__ import annotations

import math

import pytest
import torch


from helpers.humanscore_clips import clips  # noqa: E402

from humanscore_torch.body.parts import part_structure  # noqa: E402
from humanscore_torch.config import load_config  # noqa: E402
from humanscore_torch.errors import HumanScoreError, ShapeError  # noqa: E402
from humanscore_torch.evaluation import batch_records, score_batch  # noqa: E402
from humanscore_torch.aggregate import aggregate_scores  # noqa: E402
from humanscore_torch.functional.artifact_rate import artifact_rate  # noqa: E402
from humanscore_torch.functional.bone_length import bone_length_consistency  # noqa: E402
from humanscore_torch.functional.jerk import jerk  # noqa: E402
from humanscore_torch.functional.newtonian import newtonian_plausibility  # noqa: E402
from humanscore_torch.functional.range_of_motion import joint_map_for_body, range_of_motion  # noqa: E402
from humanscore_torch.functional.scoring import score_from_config  # noqa: E402
from humanscore_torch.functional.self_penetration import self_penetration  # noqa: E402
from humanscore_torch.metrics.humanscore import HumanScore  # noqa: E402
from humanscore_torch.motion import MotionBatch  # noqa: E402
from humanscore_torch.registry import METRIC_KEYS, SPECS, TIERS  # noqa: E402

SCORE_KEYS = ("humanscore", *TIERS, *METRIC_KEYS)


def _pooled_reference(sequences, body):
    """Pooled raw values from the public functional ops on one batch of all ``sequences``,
    weighting each sequence's value by what it counted, and the scores of those raws."""
    batch = MotionBatch.from_sequences(sequences)
    posed = batch.posed(body, need_vertices=True)
    mask, fps = batch.mask, batch.fps
    f64 = lambda x: x.to(torch.float64)  # noqa: E731
    out = jerk(posed.joints, fps, mask)
    raw = {"jerk": (f64(out["raw"]) * out["num_differences"]).sum() / out["num_differences"].sum()}
    out = newtonian_plausibility(posed.joints, fps, mask)
    raw["newtonian_plausibility"] = f64(out["num_violating"].sum()) / out["num_assessable"].sum()
    out = bone_length_consistency(posed.joints, mask)
    raw["bone_length_consistency"] = f64(out["raw"][out["computed"]]).mean()
    out = range_of_motion(batch.global_orient, batch.body_pose, mask, joint_map_for_body(body))
    raw["range_of_motion"] = f64(out["violating"].sum()) / mask.sum()
    out = self_penetration(posed.vertices, mask, part_structure(body))
    raw["self_penetration"] = f64(out["num_penetrating"].sum()) / out["num_valid"].sum()
    out = artifact_rate(batch.detections, mask)
    raw["artifact_rate"] = f64(out["flagged"].sum()) / mask.sum()
    scores = {k: score_from_config(v, load_config(SPECS[k].config)["score"]) for k, v in raw.items()}
    tiers, _ = aggregate_scores(scores, {k: torch.tensor(True) for k in scores})
    return raw, {**scores, **tiers}


def test_accumulated_batches_equal_functional_on_all_data(default_body):
    sequences = clips(5)
    metric = HumanScore(default_body)
    for part in (sequences[:2], sequences[2:3], sequences[3:]):  # different paddings per batch
        metric.update(part)
    values = metric.compute()
    raw, scores = _pooled_reference(sequences, default_body)
    assert raw["jerk"] > 0 and raw["artifact_rate"] > 0 and raw["newtonian_plausibility"] > 0
    for key in METRIC_KEYS:
        assert bool(values[f"computed/{key}"])
        assert float(values[f"raw/{key}"]) == pytest.approx(float(raw[key]), rel=1e-5, abs=1e-9), key
    for key in SCORE_KEYS:
        assert float(values[key]) == pytest.approx(float(scores[key]), rel=1e-5, abs=1e-6), key


def test_single_clip_equals_score_batch_record(default_body):
    metric = HumanScore(default_body)
    for sequence in clips(3)[1:]:
        batch = MotionBatch.from_sequences([sequence])
        record = batch_records(batch, score_batch(batch, default_body))[0]
        metric.reset()
        metric.update(batch)
        summary = metric.summary()
        for key in SCORE_KEYS:
            assert summary["scores"][key] == pytest.approx(record["scores"][key], rel=1e-5, abs=1e-6), key
        for key in METRIC_KEYS:
            assert summary["raw"][key]["unit"] == record["raw"][key]["unit"] == SPECS[key].unit
            assert summary["raw"][key]["value"] == pytest.approx(record["raw"][key]["value"], rel=1e-5, abs=1e-9)


def test_pooled_differs_from_mean_of_clip_scores(default_body):
    # Documented: the collection reports pooled values, not the mean of per-clip scores.
    sequences = clips(5)
    metric = HumanScore(default_body, metrics=["jerk"])
    metric.update(sequences)
    batch = MotionBatch.from_sequences(sequences)
    per_clip = [r["scores"]["jerk"] for r in batch_records(batch, score_batch(batch, default_body))]
    assert abs(float(metric.compute()["jerk"]) - sum(per_clip) / len(per_clip)) > 1.0


def test_rejected_batch_leaves_states_unchanged(default_body):
    sequences = clips(3)
    metric = HumanScore(default_body, metrics=["artifact_rate", "bone_length_consistency", "jerk"])
    metric.update(sequences[:2])
    states = {k: {a: v.clone() for a, v in m.metric_state.items()} for k, m in metric.items(keep_base=True)}
    before = metric.compute()
    bad = dict(sequences[2], detections=torch.zeros(len(sequences[2]["body_pose"]), 5))  # 5 classes, not 18
    with pytest.raises(ShapeError, match="18 classes"):
        metric.update([bad])  # artifact_rate runs first, but jerk/bone length are restored too
    with pytest.raises(HumanScoreError, match="MotionBatch or a list"):
        metric.update(sequences[2])
    for key, m in metric.items(keep_base=True):
        for attr, value in m.metric_state.items():
            assert torch.equal(value, states[key][attr]), (key, attr)
    after = metric.compute()
    for key in SCORE_KEYS:
        assert torch.equal(after[key], before[key]) or (math.isnan(after[key]) and math.isnan(before[key]))
    metric.update(sequences[2:])  # and it still accumulates afterwards
    assert float(metric.compute()["raw/jerk"]) != float(before["raw/jerk"])


def test_failing_later_metric_restores_earlier_ones(default_body, monkeypatch):
    metric = HumanScore(default_body, metrics=["bone_length_consistency", "jerk"])
    metric.update(clips(1))
    before = {k: {a: v.clone() for a, v in m.metric_state.items()} for k, m in metric.items(keep_base=True)}

    def fail(*args, **kwargs):
        raise HumanScoreError("jerk rejects this batch")

    monkeypatch.setattr(metric["jerk"], "update", fail)  # bone length (updated first) must be restored
    with pytest.raises(HumanScoreError, match="rejects"):
        metric.update(clips(2))
    for key, m in metric.items(keep_base=True):
        assert all(torch.equal(v, before[key][a]) for a, v in m.metric_state.items()), key


def test_artifact_rate_without_detections_is_not_computed(default_body):
    metric = HumanScore(default_body, metrics=["artifact_rate", "bone_length_consistency", "jerk"])
    metric.update(clips(2, detections=False))
    values = metric.compute()
    assert not bool(values["computed/artifact_rate"]) and math.isnan(values["artifact_rate"])
    assert math.isnan(values["raw/artifact_rate"])
    assert float(values["anatomy"]) == float(values["bone_length_consistency"])  # the tier's other metric
    assert not bool(values["computed/kinematics"]) and math.isnan(values["kinematics"])  # none of its metrics ran
    assert float(values["humanscore"]) == pytest.approx((float(values["anatomy"]) + float(values["kinetics"])) / 2)
    summary = metric.summary()
    assert summary["scores"]["artifact_rate"] is None and summary["raw"]["artifact_rate"] is None
    assert summary["scores"]["self_penetration"] is None


def test_weights_come_from_the_config(default_body):
    config = load_config("humanscore")
    config["metric_weights"]["jerk"] = 3.0
    config["tier_weights"]["anatomy"] = 0.0
    metric = HumanScore(default_body, metrics=["bone_length_consistency", "newtonian_plausibility", "jerk"],
                        config=config)
    metric.update(clips(3))
    v = {k: float(x) for k, x in metric.compute().items()}
    assert v["jerk"] != v["newtonian_plausibility"]
    assert v["kinetics"] == pytest.approx((3 * v["jerk"] + v["newtonian_plausibility"]) / 4)
    assert v["humanscore"] == pytest.approx(v["kinetics"])  # anatomy weighs 0, kinematics not computed
    config["metric_weights"]["jerk"] = -1.0
    with pytest.raises(HumanScoreError, match="jerk: expected a weight >= 0"):
        HumanScore(default_body, metrics=["jerk"], config=config)


def test_aggregate_scores_weighted_means():
    scores = {k: torch.tensor([10.0 * (i + 1), 50.0]) for i, k in enumerate(METRIC_KEYS)}
    computed = {k: torch.tensor([True, k != "artifact_rate"]) for k in METRIC_KEYS}
    computed["jerk"] = torch.tensor([False, False])
    scores["jerk"] = torch.tensor([float("nan"), 100.0])  # ignored where not computed
    out, flags = aggregate_scores(scores, computed)
    assert out["anatomy"].tolist() == [15.0, 50.0]
    assert out["kinematics"].tolist() == [35.0, 50.0]
    assert out["kinetics"].tolist() == [50.0, 50.0]
    assert out["humanscore"].tolist() == pytest.approx([100.0 / 3, 50.0])
    assert all(bool(f.all()) for f in flags.values())
    none = {k: torch.tensor(False) for k in METRIC_KEYS}
    out, flags = aggregate_scores({k: torch.tensor(1.0) for k in METRIC_KEYS}, none)
    assert not bool(flags["humanscore"]) and float(out["humanscore"]) == 0.0


def test_forward_is_refused_with_a_pointer(default_body):
    with pytest.raises(HumanScoreError, match="update"):
        HumanScore(default_body, metrics=["jerk"])(clips(1))
    with pytest.raises(HumanScoreError, match="subset"):
        HumanScore(default_body, metrics=["jerks"])


def test_bad_sequence_dicts_raise_humanscore_errors_naming_the_argument(default_body):
    good = clips(1)[0]
    metric = HumanScore(default_body, metrics=["jerk", "bone_length_consistency"])
    cases = {
        "betas": [good, {**good, "betas": torch.zeros(16)}],  # two shape lengths in one batch
        "fps": [{**good, "fps": 10 ** 400}],  # no float holds it
        "sequences\\[0\\].transl": [{**good, "transl": [[10 ** 30] * 3] * good["transl"].shape[0]}],  # past int64
    }
    for name, batch in cases.items():
        with pytest.raises(HumanScoreError, match=name):
            metric.update(batch)
    assert int(metric["jerk"].num_differences) == 0


def test_zero_frame_and_fully_masked_batches_are_not_computed(default_body):
    good = clips(1)[0]
    empty = {k: v[:0] if isinstance(v, torch.Tensor) and v.dim() > 1 else v for k, v in good.items()}
    metric = HumanScore(default_body)
    metric.update([empty])
    batch = MotionBatch.from_sequences([good])
    metric.update(batch.with_fields(mask=torch.zeros_like(batch.mask)))
    values = metric.compute()
    for key in SCORE_KEYS:
        assert not bool(values[f"computed/{key}"]) and math.isnan(float(values[key])), key


def test_plot_draws_every_computed_score(default_body):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metric = HumanScore(default_body, metrics=["jerk", "bone_length_consistency"])
    metric.update(clips(2, detections=False))
    fig, ax = metric.plot()
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["HumanScore", "anatomy", "kinetics", "bone length", "jerk"]
    _, given = plt.subplots()
    assert metric.plot(metric.compute(), ax=given)[1] is given
    plt.close("all")


def test_sequences_and_metadata_must_be_dicts(default_body):
    good = clips(1)[0]
    for batch, name in (([1], "sequences\\[0\\]"), ([{**good, "metadata": 5}], "sequences\\[0\\].metadata")):
        with pytest.raises(HumanScoreError, match=name):
            HumanScore(default_body, metrics=["jerk"]).update(batch)
