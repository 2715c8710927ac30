"""Log the HumanScore metrics of a model's output during validation with Lightning.

The model is a stand-in for a motion generator or pose estimator: a small temporal
convolution that learns to remove jitter from the root translation of SMPL clips (the pose
is passed through). Its validation step produces SMPL sequences; ``HumanScoreCallback``
scores them at every validation epoch and logs ``humanscore/humanscore``, the tier scores,
each metric's score and ``humanscore/raw/<metric>`` to the Trainer's logger (a CSVLogger
here, so the numbers can be read back from ``metrics.csv``).

Two ways to give the callback its sequences: define ``humanscore_sequences(outputs, batch,
batch_idx)`` on the LightningModule (done here), or pass ``HumanScoreCallback(hook=...)``.
Either returns a list of sequence dicts (``global_orient`` (T, 3), ``body_pose`` (T, 23, 3),
``transl`` (T, 3), ``betas``, ``fps``) or a :class:`~humanscore_torch.motion.MotionBatch`.
With ``Trainer(devices=N)`` the metric states are summed over the processes.

Run (CPU, about 7 s with one thread, ``OMP_NUM_THREADS=1``)::

    python examples/log_during_training.py
    python examples/log_during_training.py --epochs 1 --steps 5 --seconds 1   # quick check, about 5 s
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path
from typing import Any, Dict, List

import torch
from lightning.pytorch import LightningModule, Trainer, seed_everything
from lightning.pytorch.loggers import CSVLogger
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from humanscore_torch import synthetic
from humanscore_torch.callback import HumanScoreCallback

TRAIN_CLIPS = ("walk", "run", "jump", "arm_swing")
VAL_CLIPS = ("squat", "turn")  # motions the model never trains on
JITTER = 0.004  # metres, noise sigma on the root translation


def jittered(transl: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """(..., T, 3) translation plus Gaussian noise of JITTER metres."""
    return transl + JITTER * torch.randn(transl.shape, generator=generator)


class TranslationDenoiser(LightningModule):
    """(B, T, 3) noisy root translation -> (B, T, 3) smoothed by a learned kernel over time.

    The kernel's weights are a softmax, so they sum to 1 and a motion's position passes
    through unchanged; the model only learns how much to average neighbouring frames.
    """

    def __init__(self, train_clips: List[Dict[str, Any]], val_clips: List[Dict[str, Any]], lr: float = 0.1,
                 width: int = 9):
        super().__init__()
        logits = torch.zeros(width)
        logits[width // 2] = 4.0  # starts close to the identity: the first epochs see jerky output
        self.logits = nn.Parameter(logits)
        self.lr = lr
        self.train_clean = torch.stack([c["transl"] for c in train_clips])
        self.val_clips = val_clips
        noise = torch.Generator().manual_seed(1)  # the same noisy validation input every epoch
        self.val_noisy = torch.stack([jittered(c["transl"], noise) for c in val_clips])

    def forward(self, transl: torch.Tensor) -> torch.Tensor:
        half = self.logits.numel() // 2
        padded = nn.functional.pad(transl.transpose(1, 2), (half, half), mode="replicate")
        kernel = self.logits.softmax(0).expand(3, 1, -1)
        return nn.functional.conv1d(padded, kernel, groups=3).transpose(1, 2)

    def training_step(self, batch, batch_idx):
        (index,) = batch
        clean = self.train_clean[index]
        noisy = clean + JITTER * torch.randn_like(clean)  # fresh noise each step
        loss = nn.functional.mse_loss(self(noisy), clean)
        self.log("train/mse", loss, prog_bar=False)
        return loss

    def validation_step(self, batch, batch_idx):
        (index,) = batch
        transl = self(self.val_noisy[index])
        clean = torch.stack([self.val_clips[i]["transl"] for i in index.tolist()])
        self.log("val/mse", nn.functional.mse_loss(transl, clean))
        return {"index": index, "transl": transl}

    def humanscore_sequences(self, outputs, batch, batch_idx) -> List[Dict[str, Any]]:
        """The SMPL sequences this validation batch produced (called by HumanScoreCallback)."""
        sequences = []
        for i, transl in zip(outputs["index"].tolist(), outputs["transl"]):
            clip = self.val_clips[i]
            sequences.append({"global_orient": clip["global_orient"], "body_pose": clip["body_pose"],
                              "betas": clip["betas"], "transl": transl.detach(), "fps": clip["fps"]})
        return sequences

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--steps", type=int, default=40, help="training steps per epoch")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each clip")
    parser.add_argument("--output", type=Path, default=Path("humanscore_example"), help="CSVLogger folder")
    args = parser.parse_args()

    seed_everything(0, verbose=False)
    train = [synthetic.clean_clip(name, seconds=args.seconds) for name in TRAIN_CLIPS]
    val = [synthetic.clean_clip(name, seconds=args.seconds) for name in VAL_CLIPS]
    model = TranslationDenoiser(train, val)
    train_loader = DataLoader(TensorDataset(torch.arange(len(train)).repeat(args.steps)), batch_size=len(train))
    val_loader = DataLoader(TensorDataset(torch.arange(len(val))), batch_size=len(val))

    # All six metrics. The sequences carry no artifact detections (no detector ran on them), so
    # the artifact rate is not computed: the callback warns once and leaves it out of its tier.
    callback = HumanScoreCallback()
    logger = CSVLogger(args.output, name="log_during_training")
    trainer = Trainer(accelerator="cpu", devices=1, max_epochs=args.epochs, callbacks=[callback], logger=logger,
                      num_sanity_val_steps=0, enable_checkpointing=False, enable_progress_bar=False,
                      enable_model_summary=False, log_every_n_steps=max(1, args.steps // 4))
    trainer.validate(model, val_loader, verbose=False)  # before training: output close to the noisy input
    before = {k: float(v) for k, v in callback.last_values.items()}
    trainer.fit(model, train_loader, val_loader)
    after = {k: float(v) for k, v in callback.last_values.items()}

    print(f"{'':<28}{'before':>10}{'after':>10}")
    for key in ("humanscore", "kinetics", "jerk", "newtonian_plausibility", "raw/jerk", "raw/newtonian_plausibility"):
        print(f"{key:<28}{before[key]:>10.3f}{after[key]:>10.3f}")

    # What the logger received: a row per validation run (the first is the validate() call,
    # also at epoch 0) with the humanscore/ columns.
    log_file = Path(logger.log_dir) / "metrics.csv"
    rows = [r for r in csv.DictReader(log_file.open()) if r.get("humanscore/humanscore")]
    print(f"\n{log_file}:")
    for r in rows:
        print(f"  epoch {r['epoch']:>2} step {r['step']:>4}  humanscore/humanscore={float(r['humanscore/humanscore']):.3f}  "
              f"humanscore/jerk={float(r['humanscore/jerk']):.3f}  humanscore/raw/jerk={float(r['humanscore/raw/jerk']):.1f}  "
              f"val/mse={float(r['val/mse']):.3g}")


if __name__ == "__main__":
    main()
