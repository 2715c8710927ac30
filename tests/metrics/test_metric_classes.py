"""Every metric class through the shared tester (tests/helpers/metric_tester.py)."""

from __future__ import annotations

import warnings

import matplotlib
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

matplotlib.use("Agg")

from helpers import metric_tester as mt  # noqa: E402

from humanscore_torch.errors import HumanScoreError  # noqa: E402
from humanscore_torch.registry import METRIC_KEYS, SPECS  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:The ``compute`` method of metric")


@pytest.fixture(scope="module")
def inputs(default_body):
    """Metric key -> the adapter's update arguments for three batches (made once)."""
    return {key: mt.batches(key, default_body) for key in METRIC_KEYS}


@pytest.fixture(scope="module")
def references(default_body, inputs):
    return {key: mt.reference(key, default_body, inputs[key]) for key in METRIC_KEYS}


@pytest.mark.parametrize("key", METRIC_KEYS)
def test_class_over_batches_equals_functional(key, default_body, inputs, references):
    raw, score = references[key]
    values = mt.fed(key, default_body, inputs[key]).compute()
    assert bool(values["computed"])
    assert float(values["raw"]) == pytest.approx(raw, rel=1e-6, abs=1e-12)
    assert float(values["score"]) == pytest.approx(score, rel=1e-6)


@pytest.mark.parametrize("key", METRIC_KEYS)
def test_rejected_batch_raises_and_leaves_the_state(key, default_body, inputs):
    metric = mt.fed(key, default_body, inputs[key][:2])
    before = mt.states(metric)
    for bad in mt.bad_batches(key, inputs[key][2]):
        with pytest.raises(HumanScoreError, match="mask"):
            metric.update(*bad)
        after = mt.states(metric)
        assert all(torch.equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize("key", METRIC_KEYS)
def test_not_computed_without_valid_data_and_after_reset(key, default_body, inputs):
    metric = SPECS[key].make_metric(default_body)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mt.assert_not_computed(metric.compute())  # nothing seen yet
    for nothing in mt.without_valid_data(key, inputs[key][0]):
        metric.update(*nothing)
    mt.assert_not_computed(metric.compute())
    metric.update(*inputs[key][0])
    assert bool(metric.compute()["computed"])
    metric.reset()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mt.assert_not_computed(metric.compute())


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("key", METRIC_KEYS)
def test_reduced_precision_is_computed_in_float32(key, dtype, default_body, inputs):
    low = [mt.cast(a, dtype) for a in inputs[key]]
    widened = [mt.cast(a, torch.float32) for a in low]  # the same rounded values, in float32
    got = mt.fed(key, default_body, low).compute()
    expected = mt.fed(key, default_body, widened).compute()
    assert got["raw"].dtype == expected["raw"].dtype
    assert float(got["raw"]) == pytest.approx(float(expected["raw"]), rel=1e-6, abs=1e-12)
    assert float(got["score"]) == pytest.approx(float(expected["score"]), rel=1e-6)


@pytest.mark.parametrize("key", METRIC_KEYS)
def test_dtype_and_device_moves_keep_the_value(key, default_body, inputs, references):
    moved = mt.fed(key, default_body, inputs[key], lambda m: m.set_dtype(torch.float64).to("cpu"))
    assert float(moved.compute()["raw"]) == pytest.approx(references[key][0], rel=1e-6, abs=1e-12)


@pytest.mark.cuda
@pytest.mark.parametrize("key", METRIC_KEYS)
def test_cuda_equals_cpu(key, default_body, references):
    cuda_inputs = mt.batches(key, default_body, "cuda")
    metric = mt.fed(key, default_body.to("cuda"), cuda_inputs, lambda m: m.to("cuda"))
    values = metric.compute()
    assert values["raw"].device.type == "cuda"
    assert float(values["raw"]) == pytest.approx(references[key][0], rel=1e-4, abs=1e-9)


@pytest.mark.parametrize("key", METRIC_KEYS)
def test_plot_returns_figure_and_axes(key, default_body, inputs):
    import matplotlib.pyplot as plt

    metric = mt.fed(key, default_body, inputs[key][:1])
    fig, ax = metric.plot()
    assert ax.get_title().startswith(SPECS[key].display_name) and SPECS[key].unit in ax.get_title()
    _, given = plt.subplots()
    fig2, ax2 = metric.plot(metric.compute(), ax=given)
    assert ax2 is given
    metric.reset()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, empty = metric.plot()
    assert "not computed" in empty.get_title()
    plt.close("all")


def _sync_worker(rank: int, init_file: str, out_file: str) -> None:
    from humanscore_torch.body.model import BodyModel

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    body = BodyModel.default()
    values = {}
    for key in METRIC_KEYS:
        arguments = mt.batches(key, body)
        mine = arguments[:2] if rank == 0 else arguments[2:]  # unequal shares, as a sampler may give
        values[key] = float(mt.fed(key, body, mine).compute()["raw"])
    if rank == 0:
        torch.save(values, out_file)
    dist.barrier()
    dist.destroy_process_group()


def test_two_processes_equal_one(tmp_path, references):
    if not dist.is_available():
        pytest.skip("torch.distributed is not available")
    out_file = str(tmp_path / "values.pt")
    mp.spawn(_sync_worker, args=(str(tmp_path / "init"), out_file), nprocs=2, join=True)
    synced = torch.load(out_file)
    for key in METRIC_KEYS:
        assert synced[key] == pytest.approx(references[key][0], rel=1e-6, abs=1e-12), key
