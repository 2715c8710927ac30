"""Train a small motion denoiser with and without PhysicsLoss and compare both on held-out clips.

The setting: the only training labels are a pose estimator's output, which has the defects
estimators have (knees bent the wrong way, hips abducted past their range, an arm through the
torso, jitter). A temporal convolutional denoiser learns to map that output, with more noise
added, back to the labels. With the data loss alone it learns to reproduce the labels'
defects; adding ``PhysicsLoss`` on its output (through the body model) teaches it to leave
them out. Both runs start from the same initial weights and see the same batches and noise
for the same number of steps; the only difference is the loss.

Evaluation: clips of motions that are not in the training set (``HELD_OUT``: squat and arm
swing, standing motions), with defects drawn with other seeds and fresh input noise, scored
with the project's metrics (range of motion, self-penetration, jerk, Newtonian plausibility)
and compared with the clean clip each was made from (MPJPE). The last line gives the change
with PhysicsLoss against the data loss alone, per column.

Choices, and why:

* ``PhysicsLoss`` keeps its shipped weights (``configs/physics_loss.yaml``) except
  ``range_of_motion`` (0.5 -> 2): the labels' knees and hips are 10-30 degrees out of range on a
  few frames, and at 0.5 that term is small next to the jerk of the noisy outputs (about 10).
  The whole loss is scaled by ``--physics-weight`` against the data MSE (radians^2).
* Gradients are clipped at norm 0.01 in both runs. The data loss's gradient stays near 1e-3,
  so the clip never acts on the data-only run; it does act on most steps with PhysicsLoss,
  whose gradient norm swings by orders of magnitude from batch to batch (the self-penetration
  term jumps when a window with the arm deep in the torso comes up). Unclipped, such steps
  threw the model off (held-out MPJPE of 60-180 mm in trials, and more range-of-motion
  violations than without the loss).
* ``turn`` is a training motion: the model reads the root orientation as axis-angle, so the
  training set must contain the headings it meets; it is the only clip that turns.
* One CPU thread (``--threads``): the model is small, and two threads on a 2-core machine
  shared with other work were several times slower per step than one.

Run (CPU, about 45 s on 2 cores at the default settings, 300 steps per run)::

    python examples/train_with_physics_loss.py
    python examples/train_with_physics_loss.py --steps 10 --train walk --held-out squat   # quick check, ~10 s
"""

from __future__ import annotations

import argparse
import time
from typing import Dict, List, Sequence, Tuple

import torch
from torch import nn

from humanscore_torch import BodyModel, MotionBatch, synthetic
from humanscore_torch.losses import PhysicsLoss
from humanscore_torch.registry import score_metric

TRAIN = ("walk", "run", "jump", "turn")
HELD_OUT = ("squat", "arm_swing")
# Defects in the labels, and which of synthetic.DEFECT_SIZES' sizes each training clip gets.
DEFECTS = ("knee_hyperextension", "hip_abduction", "arm_through_torso", "jitter")
TRAIN_SIZES = (1, 2, 3)
EVAL_SIZE = 2
FEATURES = 3 + 69 + 3  # global_orient, body_pose (axis-angle, radians), transl (metres)
# PhysicsLoss weights that differ from configs/physics_loss.yaml (see the module docstring).
LOSS_WEIGHTS = {"range_of_motion": 2.0}
# (key, header, format) of the table's columns; lower is better in each.
COLUMNS = (("rom_rate", "ROM viol. %", "{:11.2f}"), ("rom_excess", "ROM exc. deg", "{:12.2f}"),
           ("pen_rate", "penetr. %", "{:9.2f}"), ("pen_depth", "depth mm", "{:8.2f}"),
           ("jerk", "jerk m/s^3", "{:10.1f}"), ("newton", "Newton. %", "{:9.2f}"), ("mpjpe", "MPJPE mm", "{:8.1f}"))


def to_features(seq: Dict) -> torch.Tensor:
    """(T, 75) parameters of one sequence dict."""
    return torch.cat([seq["global_orient"], seq["body_pose"].reshape(-1, 69), seq["transl"]], -1).float()


def from_features(x: torch.Tensor) -> Dict[str, torch.Tensor]:
    """(B, T, 75) -> SMPL parameters (B, T, 3), (B, T, 23, 3), (B, T, 3)."""
    return {"global_orient": x[..., :3], "body_pose": x[..., 3:72].unflatten(-1, (23, 3)), "transl": x[..., 72:]}


class Denoiser(nn.Module):
    """Residual 1D convolution over time: (B, T, 75) noisy parameters -> (B, T, 75).

    Translation enters relative to the window's first frame, so the model is translation
    invariant; the output starts as the identity (last layer zero)."""

    def __init__(self, width: int = 128, kernel: int = 7) -> None:
        super().__init__()
        pad = kernel // 2
        self.net = nn.Sequential(nn.Conv1d(FEATURES, width, kernel, padding=pad, padding_mode="replicate"), nn.GELU(),
                                 nn.Conv1d(width, width, kernel, padding=pad, padding_mode="replicate"), nn.GELU(),
                                 nn.Conv1d(width, FEATURES, 1))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        origin = torch.zeros_like(x)
        origin[..., 72:] = x[:, :1, 72:]
        return x + self.net((x - origin).transpose(1, 2)).transpose(1, 2)


def add_noise(x: torch.Tensor, generator: torch.Generator, pose_rad: float, transl_m: float) -> torch.Tensor:
    """Gaussian noise on the rotations (radians) and the translation (metres)."""
    scale = torch.full((FEATURES,), pose_rad)
    scale[72:] = transl_m
    return x + torch.randn(x.shape, generator=generator) * scale


def labelled_clips(names: Sequence[str], sizes: Sequence[int], seed: int) -> Tuple[List[Dict], List[str]]:
    """Defective "estimator output" clips of the given motions (one per defect and size), and
    the motion each was made from."""
    picks = [(name, d, s) for name in names for d in DEFECTS for s in sizes]
    clips = [synthetic.defect_clip(name, d, synthetic.DEFECT_SIZES[d][s], seed=seed + i)
             for i, (name, d, s) in enumerate(picks)]
    return clips, [name for name, _, _ in picks]


def train(use_physics: bool, labels: List[torch.Tensor], body: BodyModel, args) -> Denoiser:
    """Train one denoiser; the same seed gives both runs the same initial weights, batches and noise."""
    torch.manual_seed(args.seed)
    model = Denoiser()
    optimiser = torch.optim.Adam(model.parameters(), lr=args.lr)
    generator = torch.Generator().manual_seed(args.seed)
    physics = (PhysicsLoss(body, self_penetration_stride=args.penetration_stride, **LOSS_WEIGHTS)
               if use_physics else None)
    fps = torch.full((args.batch,), 30.0)
    for step in range(args.steps):
        picks = torch.randint(len(labels), (args.batch,), generator=generator).tolist()
        starts = [int(torch.randint(labels[i].shape[0] - args.window + 1, (1,), generator=generator)) for i in picks]
        target = torch.stack([labels[i][s:s + args.window] for i, s in zip(picks, starts)])
        noisy = add_noise(target, generator, args.noise_rad, args.noise_m)
        out = model(noisy)
        data = (out - target).pow(2).mean()
        loss = data
        if physics is not None:
            phys, terms = physics(**from_features(out), fps=fps)
            loss = loss + args.physics_weight * phys
        optimiser.zero_grad()
        loss.backward()
        grad_norm = nn.utils.clip_grad_norm_(model.parameters(), args.clip)
        optimiser.step()
        if args.verbose and (step % 50 == 0 or step == args.steps - 1):
            extra = "" if physics is None else " " + " ".join(f"{k}={v.item():.3g}" for k, v in terms.items())
            print(f"  step {step:4d} data {data.item():.4g} grad norm {grad_norm.item():.2g}{extra}")
    return model


def evaluate(batch: MotionBatch, body: BodyModel, clean_joints: torch.Tensor) -> Dict[str, float]:
    """The project's metrics of a batch, averaged over its clips, and MPJPE to the clean clips."""
    rom = score_metric("range_of_motion", batch, body)
    pen = score_metric("self_penetration", batch, body)
    jerk = score_metric("jerk", batch, body)
    newton = score_metric("newtonian_plausibility", batch, body)
    joints = batch.posed(body).joints
    error = (joints - clean_joints).norm(dim=-1).mean(-1)  # (B, T) metres
    mpjpe = (error * batch.mask).sum() / batch.mask.sum()
    return {"rom_rate": 100 * rom.details["violation_rate"].mean().item(),
            "rom_excess": rom.details["mean_excess_deg"].mean().item(),
            "pen_rate": 100 * pen.raw.mean().item(), "pen_depth": pen.details["mean_depth_mm"].mean().item(),
            "jerk": jerk.raw.mean().item(), "newton": 100 * newton.raw.mean().item(), "mpjpe": 1000 * mpjpe.item()}


def denoise(model: Denoiser, batch: MotionBatch, inputs: torch.Tensor) -> MotionBatch:
    """The model's output for padded inputs (B, T, 75) as a MotionBatch (same mask and fps)."""
    with torch.no_grad():
        out = from_features(model(inputs))
    return batch.with_fields(**out)


def change(new: float, old: float) -> str:
    """Relative change in percent, as text ('n/a' when the reference is 0)."""
    return "n/a" if old == 0 else f"{100 * (new - old) / old:+.0f}%"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=300, help="training steps of each run")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--window", type=int, default=32, help="frames per training window")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--clip", type=float, default=0.01, help="gradient norm clip (both runs)")
    parser.add_argument("--physics-weight", type=float, default=1e-4,
                        help="factor on PhysicsLoss (its terms are ~1 at a just-flagged defect) against the data MSE")
    parser.add_argument("--penetration-stride", type=int, default=16,
                        help="self-penetration on every k-th frame of a training window "
                             "(the exact search is costly on CPU)")
    parser.add_argument("--noise-rad", type=float, default=0.03, help="input noise on the rotations (radians)")
    parser.add_argument("--noise-m", type=float, default=0.01, help="input noise on the translation (metres)")
    parser.add_argument("--train", nargs="+", default=list(TRAIN), choices=synthetic.CLIP_NAMES,
                        help="training motions")
    parser.add_argument("--held-out", nargs="+", default=list(HELD_OUT), choices=synthetic.CLIP_NAMES,
                        help="evaluation motions (not training ones)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--verbose", action="store_true", help="print the losses during training")
    args = parser.parse_args(argv)
    if set(args.held_out) & set(args.train):
        parser.error(f"--held-out: must not be a training motion {args.train}")
    started = time.perf_counter()
    torch.set_num_threads(args.threads)
    body = BodyModel.default()
    labels = [to_features(s) for s in labelled_clips(args.train, TRAIN_SIZES, seed=args.seed)[0]]

    # Held-out clips: other motions, other defect seeds, fixed input noise; the clean clips
    # they were made from are the ground truth neither model sees.
    test_seqs, test_names = labelled_clips(args.held_out, (EVAL_SIZE,), seed=args.seed + 1000)
    batch = MotionBatch.from_sequences(test_seqs)
    clean = MotionBatch.from_sequences([synthetic.clean_clip(name) for name in test_names])
    clean_joints = clean.posed(body).joints
    generator = torch.Generator().manual_seed(args.seed + 2000)
    inputs = add_noise(torch.cat([batch.global_orient, batch.body_pose.flatten(2), batch.transl], -1),
                       generator, args.noise_rad, args.noise_m)
    noisy = batch.with_fields(**from_features(inputs))

    rows = {"noisy input": evaluate(noisy, body, clean_joints)}
    for name, use_physics in (("data loss only", False), ("data + PhysicsLoss", True)):
        t0 = time.perf_counter()
        model = train(use_physics, labels, body, args)
        print(f"trained '{name}': {args.steps} steps in {time.perf_counter() - t0:.1f} s")
        rows[name] = evaluate(denoise(model, batch, inputs), body, clean_joints)
    rows["clean ground truth"] = evaluate(clean, body, clean_joints)

    print(f"\nHeld-out clips: {len(test_seqs)} ({', '.join(args.held_out)} x {', '.join(DEFECTS)}), "
          f"{int(batch.mask.sum())} frames; training on {len(labels)} clips of {', '.join(args.train)}")
    header = f"{'':20s} " + " ".join(f"{head:>{len(fmt.format(0.0))}s}" for _, head, fmt in COLUMNS)
    print(header)
    print("-" * len(header))
    for name, r in rows.items():
        print(f"{name:20s} " + " ".join(fmt.format(r[key]) for key, _, fmt in COLUMNS))
    with_loss, without = rows["data + PhysicsLoss"], rows["data loss only"]
    print("PhysicsLoss vs data loss only: "
          + ", ".join(f"{head} {change(with_loss[key], without[key])}" for key, head, _ in COLUMNS))
    print(f"(MPJPE: to the clean clips; total time {time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
