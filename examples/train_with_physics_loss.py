"""Train a small motion denoiser with and without PhysicsLoss and compare both on held-out clips.

The setting: the only training labels are a pose estimator's output, which has the defects
estimators have (knees bent the wrong way, hips abducted past their range, an arm through the
torso, jitter). A temporal convolutional denoiser learns to map that output, with more noise
added, back to the labels. With the data loss alone it learns to reproduce the labels'
defects; adding ``PhysicsLoss`` on its output (through the body model) teaches it to leave
them out. Both runs use the same data, batches, noise, initial weights and number of steps.

Evaluation: clips of motions that are not in the training set (``HELD_OUT``), with defects
drawn with other seeds, scored with the project's metrics (range of motion, self-penetration,
jerk, Newtonian plausibility) and compared with the clean clip each was made from (MPJPE).

Run (CPU, about 2 minutes on 2 cores at the default settings)::

    python examples/train_with_physics_loss.py
    python examples/train_with_physics_loss.py --steps 20 --held-out squat   # quick check
"""

from __future__ import annotations

import argparse
import time
from typing import Dict, List, Sequence, Tuple

import torch
from torch import nn

from humanscore_torch import BodyModel, MotionBatch, synthetic
from humanscore_torch.functional.jerk import jerk_result
from humanscore_torch.functional.newtonian import newtonian_result
from humanscore_torch.functional.range_of_motion import range_of_motion_result
from humanscore_torch.functional.self_penetration import self_penetration_result
from humanscore_torch.losses import PhysicsLoss

TRAIN = ("walk", "run", "jump", "arm_swing")
HELD_OUT = ("squat", "turn")
# Defects in the labels, and which of synthetic.DEFECT_SIZES' sizes each training clip gets.
DEFECTS = ("knee_hyperextension", "hip_abduction", "arm_through_torso", "jitter")
TRAIN_SIZES = (1, 2, 3)
EVAL_SIZE = 2
FEATURES = 3 + 69 + 3  # global_orient, body_pose (axis-angle, radians), transl (metres)


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
    physics = PhysicsLoss(body, self_penetration_stride=args.penetration_stride) if use_physics else None
    fps = torch.full((args.batch,), 30.0)
    for step in range(args.steps):
        picks = torch.randint(len(labels), (args.batch,), generator=generator).tolist()
        starts = [int(torch.randint(labels[i].shape[0] - args.window + 1, (1,), generator=generator)) for i in picks]
        target = torch.stack([labels[i][s:s + args.window] for i, s in zip(picks, starts)])
        noisy = add_noise(target, generator, args.noise_rad, args.noise_m)
        out = model(noisy)
        loss = (out - target).pow(2).mean()
        if physics is not None:
            phys, terms = physics(**from_features(out), fps=fps)
            loss = loss + args.physics_weight * phys
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if args.verbose and step % 20 == 0:
            extra = "" if physics is None else " " + " ".join(f"{k}={v.item():.3g}" for k, v in terms.items())
            print(f"  step {step:4d} loss {loss.item():.4g}{extra}")
    return model


def evaluate(batch: MotionBatch, body: BodyModel, clean_joints: torch.Tensor) -> Dict[str, float]:
    """The project's metrics of a batch, averaged over its clips, and MPJPE to the clean clips."""
    rom = range_of_motion_result(batch, body)
    pen = self_penetration_result(batch, body)
    jerk = jerk_result(batch, body)
    newton = newtonian_result(batch, body)
    joints = batch.posed(body).joints
    error = (joints - clean_joints).norm(dim=-1).mean(-1)  # (B, T) metres
    mpjpe = (error * batch.mask).sum() / batch.mask.sum()
    return {"rom_rate": 100 * rom.raw.mean().item(), "rom_excess": rom.details["mean_excess_deg"].mean().item(),
            "pen_rate": 100 * pen.raw.mean().item(), "pen_depth": pen.details["mean_depth_mm"].mean().item(),
            "jerk": jerk.raw.mean().item(), "newton": 100 * newton.raw.mean().item(), "mpjpe": 1000 * mpjpe.item()}


def denoise(model: Denoiser, batch: MotionBatch, inputs: torch.Tensor) -> MotionBatch:
    """The model's output for padded inputs (B, T, 75) as a MotionBatch (same mask and fps)."""
    with torch.no_grad():
        out = from_features(model(inputs))
    return batch.with_fields(**out)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--window", type=int, default=32, help="frames per training window")
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--physics-weight", type=float, default=1e-3,
                        help="factor on PhysicsLoss (its terms are ~1 at a just-flagged defect) against the data MSE")
    parser.add_argument("--penetration-stride", type=int, default=8,
                        help="self-penetration on every k-th frame of a training window (exact search is costly on CPU)")
    parser.add_argument("--noise-rad", type=float, default=0.03, help="input noise on the rotations (radians)")
    parser.add_argument("--noise-m", type=float, default=0.01, help="input noise on the translation (metres)")
    parser.add_argument("--held-out", nargs="+", default=list(HELD_OUT), choices=synthetic.CLIP_NAMES)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    if set(args.held_out) & set(TRAIN):
        parser.error(f"--held-out: must not be a training motion {TRAIN}")
    started = time.perf_counter()
    torch.set_num_threads(min(torch.get_num_threads(), 2))
    body = BodyModel.default()
    labels = [to_features(s) for s in labelled_clips(TRAIN, TRAIN_SIZES, seed=args.seed)[0]]

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
        rows[name] = evaluate(denoise(model, batch, inputs), body, clean_joints)
        print(f"trained '{name}': {args.steps} steps in {time.perf_counter() - t0:.1f} s")
    rows["clean ground truth"] = evaluate(clean, body, clean_joints)

    print(f"\nHeld-out clips: {len(test_seqs)} ({', '.join(args.held_out)} x {', '.join(DEFECTS)}), "
          f"{int(batch.mask.sum())} frames; training on {len(labels)} clips of {', '.join(TRAIN)}")
    header = (f"{'':20s} {'ROM viol. %':>11s} {'ROM exc. deg':>12s} {'penetr. %':>9s} {'depth mm':>8s} "
              f"{'jerk m/s^3':>10s} {'Newton. %':>9s} {'MPJPE mm':>8s}")
    print(header)
    print("-" * len(header))
    for name, r in rows.items():
        print(f"{name:20s} {r['rom_rate']:11.2f} {r['rom_excess']:12.2f} {r['pen_rate']:9.2f} {r['pen_depth']:8.2f} "
              f"{r['jerk']:10.1f} {r['newton']:9.2f} {r['mpjpe']:8.1f}")
    print(f"(MPJPE: to the clean clips; total time {time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
