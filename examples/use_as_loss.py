"""Use the HumanScore penalties as a loss: repair a defective SMPL sequence by gradient descent.

The input is a synthetic clip with a known defect (by default an arm swept through the
torso) and jitter on the root translation, standing in for a pose estimator's output. Its SMPL
parameters are optimised with :class:`~humanscore_torch.losses.PhysicsLoss` (the smooth
penalties of the six metrics, taken through the body model) plus a data term that keeps
them near the input, as a fitting or refinement step would. The loss terms and the metrics'
raw values are printed before and after.

The same loss trains a model: call it on the model's output parameters (see
``examples/train_with_physics_loss.py``).

Run (CPU, about 10 s with one thread, ``OMP_NUM_THREADS=1``)::

    python examples/use_as_loss.py
    python examples/use_as_loss.py --defect knee_hyperextension --clip arm_swing --size 20 --steps 80   # ~13 s
    python examples/use_as_loss.py --frames 30 --steps 10   # quick check, about 5 s
"""

from __future__ import annotations

import argparse
from typing import Any, Dict, Tuple

import torch

from humanscore_torch import BodyModel, synthetic
from humanscore_torch.evaluation import score_sequences
from humanscore_torch.losses import PhysicsLoss

POSE_DEFECTS = ("arm_through_torso", "knee_hyperextension", "hip_abduction", "teleport")
TERM_UNITS = {"total": "weighted sum", "bone_length": "unitless", "range_of_motion": "deg",
              "self_penetration": "m^2 per frame", "newtonian": "unitless", "jerk": "m/s^3",
              "artifact": "fraction of frames"}


def defective_clip(clip: str, defect: str, size: float, frames: int, jitter: float) -> Dict[str, Any]:
    """The middle ``frames`` frames of ``clip`` with ``defect`` (where it sits), plus jitter (m)."""
    sequence = synthetic.defect_clip(clip, defect, size)
    start = max(0, (sequence["body_pose"].shape[0] - frames) // 2)
    for key in ("global_orient", "body_pose", "transl"):
        sequence[key] = sequence[key][start:start + frames]
    noise = torch.randn(sequence["transl"].shape, generator=torch.Generator().manual_seed(0))
    sequence["transl"] = sequence["transl"] + jitter * noise
    sequence.pop("detections")  # no artifact detector output: the artifact term is not used
    return sequence


def raw_values(sequence: Dict[str, Any], body: BodyModel) -> Dict[str, Tuple[float, str]]:
    """(value, unit) of every computed metric's raw value and of the overall score of one sequence."""
    (record,) = score_sequences([sequence], body)
    values = {key: (raw["value"], raw["unit"]) for key, raw in record["raw"].items() if raw is not None}
    values["humanscore"] = (record["scores"]["humanscore"], "score 0-100")
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clip", default="walk", choices=synthetic.CLIP_NAMES)
    parser.add_argument("--defect", default="arm_through_torso", choices=POSE_DEFECTS)
    parser.add_argument("--size", type=float, default=0.12, help="defect size (units: synthetic.defects docstring; an arm sweep of 0.12 m sinks past the contact allowance)")
    parser.add_argument("--jitter", type=float, default=0.002, help="root translation noise sigma (m)")
    parser.add_argument("--frames", type=int, default=60, help="frames kept around the defect")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--data-weight", type=float, default=1.0, help="weight of staying near the input")
    parser.add_argument("--stride", type=int, default=2,
                        help="self-penetration on every stride-th frame (the costly term; 1 = exact)")
    args = parser.parse_args()

    body = BodyModel.default()
    loss_fn = PhysicsLoss(body, self_penetration_stride=args.stride)  # weights: configs/physics_loss.yaml
    start = defective_clip(args.clip, args.defect, args.size, args.frames, args.jitter)

    # The optimised parameters, (1, T, ...) as PhysicsLoss takes batches.
    params = {key: start[key][None].clone().requires_grad_(True) for key in ("global_orient", "body_pose", "transl")}
    initial = {key: value.detach().clone() for key, value in params.items()}
    betas = start["betas"][None]
    optimizer = torch.optim.Adam(params.values(), lr=args.lr)

    def losses():
        total, terms = loss_fn(**params, betas=betas, fps=start["fps"])
        # Data term: radians^2 for the rotations, (10 cm)^2 of translation counts like 1 rad^2.
        data = sum(((params[k] - initial[k]) ** 2).mean() * (100.0 if k == "transl" else 1.0) for k in params)
        return total, terms, data

    with torch.no_grad():
        total, terms, _ = losses()
    first = {"total": float(total), **{k: float(v) for k, v in terms.items()}}
    for step in range(args.steps):
        optimizer.zero_grad()
        total, terms, data = losses()
        (total + args.data_weight * data).backward()
        optimizer.step()
        if step % 10 == 0:
            print(f"step {step:3d}  physics loss {total.item():.4f}  data term {data.item():.2e}")
    with torch.no_grad():
        total, terms, _ = losses()
    last = {"total": float(total), **{k: float(v) for k, v in terms.items()}}

    print(f"\n{args.clip} with {args.defect}={args.size:g} and {args.jitter:g} m jitter, {args.frames} frames, "
          f"{args.steps} Adam steps\n")
    print(f"{'loss term (unweighted)':<28}{'before':>12}{'after':>12}  unit")
    for key in first:
        print(f"{key:<28}{first[key]:>12.5g}{last[key]:>12.5g}  {TERM_UNITS[key]}")

    repaired = {**start, **{key: value[0].detach() for key, value in params.items()}}
    before, after = raw_values(start, body), raw_values(repaired, body)
    print(f"\n{'metric raw value':<28}{'before':>12}{'after':>12}  unit")
    for key, (value, unit) in before.items():
        print(f"{key:<28}{value:>12.5g}{after[key][0]:>12.5g}  {unit}")


if __name__ == "__main__":
    main()
