"""HumanScoreCallback: logs during validation the values of HumanScore on the sequences the
module's hook returns, resets each epoch, and gives the same numbers with devices=2 (DDP)."""

from __future__ import annotations

import math

import pytest
import torch
from lightning.pytorch import LightningModule, Trainer
from torch.utils.data import DataLoader, TensorDataset


from helpers.humanscore_clips import clips  # noqa: E402

from humanscore_torch.callback import HumanScoreCallback  # noqa: E402
from humanscore_torch.metrics.humanscore import HumanScore  # noqa: E402
from humanscore_torch.registry import METRIC_KEYS, TIERS  # noqa: E402

# Self-penetration is left out only to keep these Lightning runs short on two CPU cores; the
# collection itself is tested with all six in test_humanscore_metric.py.
METRICS = [k for k in METRIC_KEYS if k != "self_penetration"]


class TinyMotionModel(LightningModule):
    """Stands in for a video model: validation batches are clip indices, the hook returns those clips."""

    def __init__(self, sequences):
        super().__init__()
        self.layer = torch.nn.Linear(1, 1)
        self.sequences = sequences

    def training_step(self, batch, batch_idx):
        return self.layer(batch[0].float()[:, None]).sum()

    def validation_step(self, batch, batch_idx):
        return {"clips": batch[0].tolist()}

    def humanscore_sequences(self, outputs, batch, batch_idx):
        return [self.sequences[i] for i in outputs["clips"]]

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.0)

    def val_dataloader(self):
        return DataLoader(TensorDataset(torch.arange(len(self.sequences))), batch_size=1)

    def train_dataloader(self):
        return DataLoader(TensorDataset(torch.arange(2)), batch_size=1)


def _trainer(callback, **kwargs):
    return Trainer(accelerator="cpu", callbacks=[callback], logger=False, enable_checkpointing=False,
                   enable_progress_bar=False, enable_model_summary=False, **kwargs)


def _expected(sequences):
    metric = HumanScore(metrics=METRICS)
    metric.update(sequences)
    return metric.compute()


def _check_logged(logged, expected, prefix="humanscore/"):
    for key in ("humanscore", *TIERS, *METRICS):
        assert float(logged[prefix + key]) == pytest.approx(float(expected[key]), rel=1e-5, abs=1e-5), key
        # abs 1e-6: with fixed shapes the bone-length CV is float32 rounding alone (~2e-5 %),
        # and that rounding moves with how the clips are split into batches (1.6e-7 % seen
        # between two processes and one); a real stretch gives 0.1 % and more.
        assert float(logged[f"{prefix}raw/{key}"]) == pytest.approx(float(expected[f"raw/{key}"]), rel=1e-5, abs=1e-6) \
            if key in METRIC_KEYS else True
    assert prefix + "self_penetration" not in logged  # not computed: not logged, never a 100


def test_logged_values_equal_the_collection_and_reset_each_epoch():
    first, second = clips(3), clips(5)[3:]
    model = TinyMotionModel(first)
    callback = HumanScoreCallback(metrics=METRICS)
    trainer = _trainer(callback, devices=1)
    with pytest.warns(UserWarning, match="self_penetration"):
        trainer.validate(model, verbose=False)
    _check_logged(trainer.callback_metrics, _expected(first))
    assert float(trainer.callback_metrics["humanscore/raw/jerk"]) > 0
    model.sequences = second  # the next epoch scores only its own clips
    trainer.validate(model, verbose=False)
    _check_logged(trainer.callback_metrics, _expected(second))
    assert not math.isclose(float(_expected(first)["jerk"]), float(_expected(second)["jerk"]))


def test_fit_logs_each_validation_epoch_with_a_custom_hook():
    sequences = clips(2)
    calls = []

    def hook(pl_module, outputs, batch, batch_idx):
        calls.append(batch_idx)
        return [sequences[i] for i in outputs["clips"]]

    callback = HumanScoreCallback(hook=hook, metrics=["jerk", "bone_length_consistency"], prefix="val/hs/")
    trainer = _trainer(callback, devices=1, max_epochs=2, limit_train_batches=1, num_sanity_val_steps=0)
    trainer.fit(TinyMotionModel(sequences))
    assert calls == [0, 1, 0, 1]
    expected = HumanScore(metrics=["jerk", "bone_length_consistency"])
    expected.update(sequences)
    assert float(trainer.callback_metrics["val/hs/jerk"]) == pytest.approx(float(expected.compute()["jerk"]), rel=1e-5)
    assert float(callback.last_values["raw/jerk"]) == pytest.approx(float(expected.compute()["raw/jerk"]), rel=1e-6)


def test_two_ddp_processes_log_the_numbers_of_all_clips():
    sequences = clips(4)  # even: the distributed sampler gives each process 2 clips, none repeated
    model = TinyMotionModel(sequences)
    callback = HumanScoreCallback(metrics=METRICS)
    trainer = _trainer(callback, devices=2, strategy="ddp_spawn")
    trainer.validate(model, verbose=False)
    _check_logged(trainer.callback_metrics, _expected(sequences))
