"""Jerk: exact against an independent numpy formula, jitter, spikes, masks, metric class, loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from humanscore_torch.errors import HumanScoreError
from humanscore_torch.functional.jerk import jerk, jerk_penalty
from humanscore_torch.losses.kinetics import JerkLoss
from humanscore_torch.metrics.jerk import Jerk
from humanscore_torch.motion import MotionBatch
from humanscore_torch.registry import score_metric


def _random_motion(seed: int, batch: int = 3, frames: int = 20, joints: int = 24):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, frames, joints, 3, generator=generator, dtype=torch.float64).cumsum(1) * 0.01
    fps = torch.tensor([30.0, 60.0, 24.0, 25.0][:batch], dtype=torch.float64)
    mask = torch.rand(batch, frames, generator=generator) > 0.15
    mask[0, -5:] = False  # padding
    return x, fps, mask


def _numpy_step(fps: float, reference_fps) -> int:
    """k = max(1, round(fps / reference_fps)) (numpy rounds ties to even, as torch does); 1 for None."""
    return 1 if reference_fps is None else max(1, int(np.round(fps / reference_fps)))


def _numpy_mean_jerk(x: np.ndarray, fps: np.ndarray, mask: np.ndarray, reference_fps=30.0) -> np.ndarray:
    """Independent reference: loop over sequences and frames, difference over a step of k frames
    (k from fps and reference_fps, 1 when it is None), count only windows whose four frames are
    valid and inside the sequence."""
    out = []
    for b in range(x.shape[0]):
        k = _numpy_step(fps[b], reference_fps)
        values = []
        for t in range(x.shape[1] - 3 * k):
            if mask[b, [t, t + k, t + 2 * k, t + 3 * k]].all():
                d = x[b, t + 3 * k] - 3 * x[b, t + 2 * k] + 3 * x[b, t + k] - x[b, t]
                values.extend(np.sqrt((d ** 2).sum(-1)) * (fps[b] / k) ** 3)
        out.append(np.mean(values) if values else 0.0)
    return np.array(out)


def _config(reference_fps, threshold: float = 2000.0):
    return {"reference_fps": reference_fps, "spike_threshold_m_s3": threshold, "smooth_eps_m_s3": 1.0,
            "score": {"free": 400.0, "half": 400.0}}


def test_jerk_matches_numpy_with_masks_and_mixed_fps():
    # fps 30, 60, 24: the 60 fps sequence differences every second frame (k = 2), the others per frame.
    x, fps, mask = _random_motion(0)
    expected = _numpy_mean_jerk(x.numpy(), fps.numpy(), mask.numpy())
    out = jerk(x, fps, mask)
    assert np.allclose(out["raw"].numpy(), expected, rtol=1e-6, atol=0)
    assert torch.equal(out["jitter"], out["raw"] / 10)
    assert out["computed"].all()
    # The twin's k matters: per-frame differences give another value at 60 fps only.
    per_frame = _numpy_mean_jerk(x.numpy(), fps.numpy(), mask.numpy(), reference_fps=None)
    assert not np.isclose(per_frame[1], expected[1], rtol=0.05)
    assert np.allclose(per_frame[[0, 2]], expected[[0, 2]], rtol=1e-12, atol=0)
    # Every rate, every step: 24 .. 120 fps (k = 1 .. 4) against the twin.
    rates = torch.tensor([24.0, 44.0, 45.0, 50.0, 75.0, 90.0, 100.0, 120.0], dtype=torch.float64)
    x2 = torch.randn(len(rates), 40, 5, 3, generator=torch.Generator().manual_seed(10), dtype=torch.float64).cumsum(1) * 0.01
    mask2 = torch.rand(len(rates), 40, generator=torch.Generator().manual_seed(11)) > 0.1
    assert np.allclose(jerk(x2, rates, mask2)["raw"].numpy(), _numpy_mean_jerk(x2.numpy(), rates.numpy(), mask2.numpy()),
                       rtol=1e-6, atol=0)


def test_invalid_frame_removes_every_difference_touching_it():
    x, fps, _ = _random_motion(1, batch=1, frames=12)
    mask = torch.ones(1, 12, dtype=torch.bool)
    mask[0, 6] = False
    counted = jerk(x, fps[:1], mask)["counted"][0]
    # Windows t..t+3 touching frame 6 start at 3, 4, 5, 6; the last three never count.
    assert counted.tolist() == [True, True, True, False, False, False, False, True, True, False, False, False]
    # A huge value in the invalid frame does not change the result.
    spoiled = x.clone()
    spoiled[0, 6] += 100.0
    assert torch.allclose(jerk(spoiled, fps[:1], mask)["raw"], jerk(x, fps[:1], mask)["raw"], rtol=0, atol=0)


def test_constant_velocity_and_acceleration_have_zero_jerk_and_cubic_has_exact_jerk():
    t = torch.arange(30, dtype=torch.float64) / 30.0
    base = torch.zeros(1, 30, 2, 3, dtype=torch.float64)
    fps = torch.tensor([30.0], dtype=torch.float64)
    quadratic = base.clone()
    quadratic[..., 0] = (1.0 + 2.0 * t + 3.0 * t ** 2)[None, :, None]
    assert jerk(quadratic, fps)["raw"].abs().max() < 1e-9
    cubic = base.clone()
    cubic[..., 1] = (0.5 * t ** 3)[None, :, None]  # d^3/dt^3 = 3 m/s^3
    assert torch.allclose(jerk(cubic, fps)["raw"], torch.tensor([3.0], dtype=torch.float64), rtol=1e-9)


def test_spike_rate_counts_windows_above_threshold():
    x = torch.zeros(1, 10, 24, 3, dtype=torch.float64)
    x[0, 5, 3, 0] = 0.001  # one joint displaced 1 mm in one frame: windows 2..5 see it
    fps = torch.tensor([30.0], dtype=torch.float64)
    config = {"spike_threshold_m_s3": 50.0, "smooth_eps_m_s3": 1.0, "score": {"free": 0.0, "half": 1.0}}
    out = jerk(x, fps, config=config)
    # |diff| x 30^3 = 27, 81, 81, 27 m/s^3 in windows 2, 3, 4, 5; two exceed 50 among 7 windows.
    assert out["spike_rate"].item() == pytest.approx(2 / 7)


def test_short_sequences_are_not_computed():
    x = torch.zeros(2, 3, 24, 3)
    out = jerk(x, torch.tensor([30.0, 30.0]))
    assert not out["computed"].any() and (out["raw"] == 0).all()


def test_jitter_noise_raises_jerk_monotonically():
    t = torch.arange(90, dtype=torch.float64) / 30.0
    clean = torch.zeros(1, 90, 24, 3, dtype=torch.float64)
    clean[..., 2] = 1.3 * t[None, :, None]
    fps = torch.tensor([30.0], dtype=torch.float64)
    noise = torch.randn(clean.shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    scores = [jerk(clean + sigma * noise, fps)["score"].item() for sigma in (0.0, 0.002, 0.004, 0.008, 0.016)]
    raws = [jerk(clean + sigma * noise, fps)["raw"].item() for sigma in (0.0, 0.002, 0.004, 0.008, 0.016)]
    assert all(a < b for a, b in zip(raws, raws[1:]))
    assert scores[0] == 100.0 and all(a >= b for a, b in zip(scores, scores[1:])) and scores[-1] < scores[2]


def test_penalty_gradcheck_and_value_close_to_metric():
    x, fps, mask = _random_motion(4, batch=2, frames=9, joints=3)
    x.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda j: jerk_penalty(j, fps[:2], mask[:2], eps=1.0), (x,))
    still = torch.zeros(1, 6, 2, 3, dtype=torch.float64, requires_grad=True)
    jerk_penalty(still, fps[:1], eps=1.0).backward()  # zero jerk: finite (zero) gradient
    assert torch.isfinite(still.grad).all()
    x2, fps2, mask2 = _random_motion(5)
    metric = jerk(x2, fps2, mask2)
    total = (metric["raw"] * metric["num_differences"] * 24).sum() / (metric["num_differences"].sum() * 24)
    assert JerkLoss(eps=1e-6)(x2, fps2, mask2).item() == pytest.approx(total.item(), rel=1e-9)


def test_suite_entry_on_motion_batch_with_precomputed_joints():
    x, fps, mask = _random_motion(9)
    batch = MotionBatch(fps=fps.float(), mask=mask, joints=x.float())
    result = score_metric("jerk", batch, None)
    assert result.key == "jerk" and result.unit == "m/s^3"
    assert torch.allclose(result.raw, jerk(x, fps, mask)["raw"].float(), rtol=1e-4)
    assert result.details["per_frame"].shape == mask.shape


def test_nan_frames_are_masked_and_half_precision_is_computed_in_float32():
    from humanscore_torch.functional.bone_length import bone_length_consistency
    from humanscore_torch.functional.newtonian import newtonian_plausibility
    from helpers.kinetics_clips import walk_clip

    walk = walk_clip(2.0)[None]
    fps = torch.tensor([30.0], dtype=torch.float64)
    spoiled = walk.clone()
    spoiled[0, 20, 5, 1] = float("nan")
    without = torch.ones(1, walk.shape[1], dtype=torch.bool)
    without[0, 20] = False
    for fn in (lambda j, m: jerk(j, fps, m)["raw"], lambda j, m: bone_length_consistency(j, m)["raw"],
               lambda j, m: newtonian_plausibility(j, fps, m)["raw"]):
        value = fn(spoiled, None)
        assert torch.isfinite(value).all() and torch.allclose(value, fn(walk, without))
    half = jerk(walk.half(), fps.half())
    assert half["raw"].dtype == torch.float32
    # Same (float16-rounded) positions in float64: the float16 input lost nothing more.
    assert half["raw"].item() == pytest.approx(jerk(walk.half().double(), fps)["raw"].item(), rel=1e-5)


# ------------------------------------------------------------------ the step k across frame rates
def _sampled(fps: float, seconds: float, joints: int = 2):
    """Frame times of ``seconds`` of differences at ``fps`` (T = seconds * fps + 3k frames)."""
    k = _numpy_step(fps, 30.0)
    return torch.arange(round(seconds * fps) + 3 * k, dtype=torch.float64) / fps


def test_smooth_motion_has_the_same_jerk_at_30_60_and_120_fps():
    # x = A sin(2 pi f t): jerk A (2 pi f)^3 |cos(2 pi f t)|, mean over whole periods A (2 pi f)^3 2 / pi.
    amplitude, frequency = 0.2, 1.0
    analytic = amplitude * (2 * np.pi * frequency) ** 3 * 2 / np.pi  # 31.58 m/s^3
    values = {}
    for fps in (30.0, 60.0, 120.0):
        t = _sampled(fps, 2.0)  # the differences' windows cover exactly two periods
        x = torch.zeros(1, len(t), 2, 3, dtype=torch.float64)
        x[0, :, :, 1] = amplitude * torch.sin(2 * np.pi * frequency * t)[:, None]
        values[fps] = jerk(x, torch.tensor([fps], dtype=torch.float64))["raw"].item()
    print("sinusoid jerk (analytic %.2f):" % analytic, {k: round(v, 3) for k, v in values.items()})
    for value in values.values():
        assert value == pytest.approx(analytic, rel=0.02)
    assert max(values.values()) / min(values.values()) < 1.01


def test_white_noise_has_the_same_jerk_at_30_60_and_120_fps():
    # Noise of sigma on every coordinate: |third difference| ~ sqrt(20) sigma chi_3, times (fps/k)^3,
    # i.e. 30^3 at 30, 60 (k = 2) and 120 fps (k = 4); per-frame differences would grow 8x and 64x.
    sigma = 0.002
    expected = np.sqrt(20.0) * sigma * 2 * np.sqrt(2 / np.pi) * 30.0 ** 3  # 385 m/s^3
    values, per_frame = {}, {}
    for seed, fps in enumerate((30.0, 60.0, 120.0)):
        frames = len(_sampled(fps, 10.0))
        noise = sigma * torch.randn(1, frames, 24, 3, generator=torch.Generator().manual_seed(20 + seed), dtype=torch.float64)
        rate = torch.tensor([fps], dtype=torch.float64)
        values[fps] = jerk(noise, rate)["raw"].item()
        per_frame[fps] = jerk(noise, rate, config=_config(None))["raw"].item()
    print("white-noise jerk (expected %.1f):" % expected, {k: round(v, 1) for k, v in values.items()},
          "per-frame:", {k: round(v, 1) for k, v in per_frame.items()})
    for fps in (60.0, 120.0):
        assert values[fps] / values[30.0] == pytest.approx(1.0, abs=0.1)
    assert values[30.0] == pytest.approx(expected, rel=0.05)
    assert per_frame[60.0] / per_frame[30.0] == pytest.approx(8.0, rel=0.1)  # what the step removes
    assert per_frame[30.0] == values[30.0]


def test_mixed_fps_batch_equals_each_sequence_alone():
    generator = torch.Generator().manual_seed(30)
    lengths, rates = (25, 40, 31, 40), (30.0, 60.0, 60.0, 120.0)
    sequences = [torch.randn(n, 6, 3, generator=generator, dtype=torch.float64).cumsum(0) * 0.01 for n in lengths]
    masks = [torch.rand(n, generator=generator) > 0.1 for n in lengths]
    frames = max(lengths)
    joints = torch.zeros(len(lengths), frames, 6, 3, dtype=torch.float64)
    mask = torch.zeros(len(lengths), frames, dtype=torch.bool)
    for b, (x, m) in enumerate(zip(sequences, masks)):
        joints[b, :len(x)], mask[b, :len(x)] = x, m
    config = _config(30.0, threshold=2500.0)  # some spikes, not all, to compare
    batched = jerk(joints, torch.tensor(rates, dtype=torch.float64), mask, config=config)
    assert (batched["spike_rate"] > 0).sum() >= 2 and (batched["spike_rate"] < 1).all()
    for b, (x, m) in enumerate(zip(sequences, masks)):
        alone = jerk(x[None], torch.tensor([rates[b]], dtype=torch.float64), m[None], config=config)
        for key in ("raw", "jitter", "spike_rate", "score", "per_joint"):
            assert torch.allclose(batched[key][b], alone[key][0], rtol=1e-6, atol=0), (b, key)
        assert torch.allclose(batched["per_frame"][b, :len(x)], alone["per_frame"][0], rtol=1e-6, atol=0)
        assert torch.equal(batched["counted"][b, :len(x)], alone["counted"][0])
        assert not batched["counted"][b, len(x):].any()
        assert batched["num_differences"][b] == alone["num_differences"][0]


def test_step_is_one_at_24_to_44_fps_and_two_at_50_fps():
    from humanscore_torch.functional.jerk import _frame_step

    rates = torch.tensor([24.0, 25.0, 29.97, 30.0, 44.0, 45.0, 50.0, 59.94, 60.0, 75.0, 90.0, 120.0])
    assert _frame_step(rates, 30.0, torch.float32).tolist() == [1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 3, 4]
    assert _frame_step(rates, None, torch.float32) is None
    x = torch.randn(3, 20, 4, 3, generator=torch.Generator().manual_seed(40), dtype=torch.float64).cumsum(1) * 0.01
    fps = torch.tensor([24.0, 25.0, 50.0], dtype=torch.float64)
    out = jerk(x, fps)
    # 24 and 25 fps: exactly the plain per-frame formula (same operations, same bits).
    plain = (x[:, 3:] - 3.0 * x[:, 2:-1] + 3.0 * x[:, 1:-2] - x[:, :-3]) * fps[:, None, None, None] ** 3
    plain_mean = plain.norm(dim=-1).mean((1, 2))
    assert torch.allclose(out["raw"][:2], plain_mean[:2], rtol=1e-14, atol=0)
    assert torch.equal(out["raw"][:2], jerk(x[:2], fps[:2], config=_config(None))["raw"])
    # 50 fps: every second frame, times 25^3; the last 3k = 6 entries never count.
    step2 = (x[2, 6:] - 3.0 * x[2, 4:-2] + 3.0 * x[2, 2:-4] - x[2, :-6]) * 25.0 ** 3
    assert out["raw"][2].item() == pytest.approx(step2.norm(dim=-1).mean().item(), rel=1e-12)
    assert out["counted"][2].tolist() == [True] * 14 + [False] * 6
    assert out["per_frame"][2, :14].tolist() == pytest.approx(step2.norm(dim=-1).mean(-1).tolist(), rel=1e-12)


def test_sequences_shorter_than_3k_plus_1_frames_are_not_computed():
    fps = torch.tensor([60.0, 60.0, 30.0], dtype=torch.float64)
    for frames, computed in ((4, [False, False, True]), (6, [False, False, True]), (7, [True, True, True])):
        x = torch.randn(3, frames, 2, 3, generator=torch.Generator().manual_seed(frames), dtype=torch.float64)
        out = jerk(x, fps)
        assert out["computed"].tolist() == computed
        assert (out["raw"][~out["computed"]] == 0).all() and not out["counted"][~out["computed"]].any()
        assert torch.isfinite(out["raw"]).all()
    assert jerk(x, fps)["num_differences"].tolist() == [1, 1, 4]
    still = torch.zeros(1, 6, 2, 3, dtype=torch.float64, requires_grad=True)
    penalty = jerk_penalty(still, fps[:1], eps=1.0)  # 60 fps, 6 frames: nothing counts
    penalty.backward()
    assert penalty.item() == 0.0 and torch.isfinite(still.grad).all()


def test_penalty_gradcheck_on_mixed_fps_batch_and_agrees_with_metric():
    generator = torch.Generator().manual_seed(50)
    x = torch.randn(3, 11, 2, 3, generator=generator, dtype=torch.float64).cumsum(1) * 0.01
    fps = torch.tensor([30.0, 60.0, 120.0], dtype=torch.float64)
    mask = torch.ones(3, 11, dtype=torch.bool)
    mask[1, 8] = False
    x.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda j: jerk_penalty(j, fps, mask, eps=1.0), (x,))
    # Loss and metric use the same step: with a tiny eps the loss is the metric's mean.
    metric = jerk(x.detach(), fps, mask)
    total = (metric["raw"] * metric["num_differences"]).sum() / metric["num_differences"].sum()
    assert jerk_penalty(x.detach(), fps, mask, eps=1e-9).item() == pytest.approx(total.item(), rel=1e-9)
    assert jerk_penalty(x.detach(), fps, mask, eps=1e-9, reference_fps=None).item() != pytest.approx(total.item(), rel=1e-3)
    # Zero jerk at every rate (constant velocity): finite gradients.
    t = torch.arange(11, dtype=torch.float64)
    line = (0.01 * t[None, :, None, None] * torch.ones(3, 11, 2, 3, dtype=torch.float64)).requires_grad_(True)
    jerk_penalty(line, fps, mask, eps=1.0).backward()
    assert torch.isfinite(line.grad).all()
    line.grad = None
    jerk(line, fps, mask)["raw"].sum().backward()  # the metric's safe norm at exactly zero jerk
    assert torch.isfinite(line.grad).all()


def test_reference_fps_none_restores_per_frame_differences_at_60_fps():
    x, _, mask = _random_motion(60, batch=2, frames=24, joints=5)
    fps = torch.tensor([60.0, 60.0], dtype=torch.float64)
    per_frame = jerk(x, fps, mask, config=_config(None))
    expected = _numpy_mean_jerk(x.numpy(), fps.numpy(), mask.numpy(), reference_fps=None)
    assert np.allclose(per_frame["raw"].numpy(), expected, rtol=1e-6, atol=0)
    stepped = jerk(x, fps, mask, config=_config(30.0))
    assert np.allclose(stepped["raw"].numpy(), _numpy_mean_jerk(x.numpy(), fps.numpy(), mask.numpy()), rtol=1e-6, atol=0)
    assert not np.allclose(per_frame["raw"].numpy(), stepped["raw"].numpy(), rtol=0.05)
    # A config without the key uses the shipped reference_fps (30).
    legacy = {k: v for k, v in _config(None).items() if k != "reference_fps"}
    assert torch.equal(jerk(x, fps, mask, config=legacy)["raw"], stepped["raw"])
    # The loss follows the same switch.
    total = lambda out: ((out["raw"] * out["num_differences"]).sum() / out["num_differences"].sum()).item()  # noqa: E731
    assert jerk_penalty(x, fps, mask, eps=1e-9, reference_fps=None).item() == pytest.approx(total(per_frame), rel=1e-9)
    with pytest.raises(HumanScoreError, match="reference_fps"):
        jerk(x, fps, mask, config=_config(0.0))


def test_metric_class_follows_its_configs_reference_fps():
    x, _, mask = _random_motion(60, batch=2, frames=24, joints=5)
    fps = torch.tensor([60.0, 60.0], dtype=torch.float64)
    for reference_fps in (None, 30.0):
        metric = Jerk(config=_config(reference_fps))
        metric.update(x, fps, mask)
        functional = jerk(x, fps, mask, config=_config(reference_fps))
        pooled = (functional["raw"] * functional["num_differences"]).sum() / functional["num_differences"].sum()
        assert metric.compute()["raw"].item() == pytest.approx(pooled.item(), rel=1e-9)
