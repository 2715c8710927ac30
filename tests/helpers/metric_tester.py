"""The shared tester of the six metric classes, driven by the registry.

Every metric gets the same checks, on the inputs the adapter makes of small SMPL clips (so the
classes see exactly what ``HumanScore`` and ``score_batch`` give them):

* the class pooled over batches equals the pooled functional values (its ``score`` the score
  map of that raw value);
* a rejected batch raises a HumanScoreError and leaves every state as it was;
* before any data, after ``reset()``, after only fully masked or zero-frame batches: not
  computed (``computed`` False, every floating value NaN);
* float16/bfloat16 inputs give what their values give in float32 (computed in float32);
* ``set_dtype(float64)`` and device moves keep the value;
* ``plot()`` returns a figure and axes;
* two processes (gloo) equal one process on all the data.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Sequence, Tuple

import torch

from .humanscore_clips import clips
from humanscore_torch.adapter import metric_inputs
from humanscore_torch.config import load_config
from humanscore_torch.functional.scoring import score_from_config
from humanscore_torch.motion import MotionBatch
from humanscore_torch.registry import SPECS

Arguments = Tuple[Any, ...]
# Inputs that carry a frame axis (dimension 1).
FRAME_INPUTS = ("detections", "joints", "mask", "global_orient", "body_pose", "vertices")


def batches(key: str, body, device: str = "cpu") -> List[Arguments]:
    """The ``update`` arguments of metric ``key`` for three batches of different lengths."""
    sequences = clips(5)
    out = []
    for part in (sequences[:2], sequences[2:3], sequences[3:]):
        batch = MotionBatch.from_sequences(part).to(device)
        (arguments,) = list(metric_inputs(batch, body.to(device), (key,))[key])
        out.append(arguments)
    return out


def _pooled_raw(key: str, outputs: Sequence[Dict[str, torch.Tensor]], masks: Sequence[torch.Tensor]) -> float:
    """The pooled raw value of the per-sequence functional outputs of each batch."""
    total = lambda name: sum(float(o[name].sum()) for o in outputs)  # noqa: E731
    if key == "bone_length_consistency":
        values = torch.cat([o["raw"][o["computed"]].double() for o in outputs])
        return float(values.mean())
    if key == "jerk":
        return sum(float((o["raw"].double() * o["num_differences"]).sum()) for o in outputs) / total("num_differences")
    if key in ("artifact_rate", "range_of_motion"):
        flags = "flagged" if key == "artifact_rate" else "violating"
        return total(flags) / sum(float(m.sum()) for m in masks)
    counts = {"self_penetration": ("num_penetrating", "num_valid"),
              "newtonian_plausibility": ("num_violating", "num_assessable")}[key]
    return total(counts[0]) / total(counts[1])


def reference(key: str, body, arguments: Sequence[Arguments]) -> Tuple[float, float]:
    """(pooled raw, its score) from the functional op (through the registry's ``evaluate``)."""
    spec = SPECS[key]
    mask_at = spec.inputs.index("mask")
    outputs = [spec.evaluate([a], body) for a in arguments]
    raw = _pooled_raw(key, outputs, [a[mask_at] for a in arguments])
    score = float(score_from_config(torch.tensor(raw, dtype=torch.float64), load_config(spec.config)["score"]))
    return raw, score


def fed(key: str, body, arguments: Sequence[Arguments], prepare: Callable = lambda m: m):
    """A fresh metric of ``key`` (prepared, e.g. moved) after ``update`` on every batch."""
    metric = prepare(SPECS[key].make_metric(body))
    for a in arguments:
        metric.update(*a)
    return metric


def replaced(key: str, arguments: Arguments, name: str, value: Any) -> Arguments:
    """``arguments`` with input ``name`` replaced."""
    out = list(arguments)
    out[SPECS[key].inputs.index(name)] = value
    return tuple(out)


def bad_batches(key: str, arguments: Arguments) -> List[Arguments]:
    """Batches every metric must reject: a mask one frame short, a float mask."""
    mask = arguments[SPECS[key].inputs.index("mask")]
    return [replaced(key, arguments, "mask", mask[:, :-1]), replaced(key, arguments, "mask", mask.float())]


def without_valid_data(key: str, arguments: Arguments) -> List[Arguments]:
    """The batch with every frame masked out, and the batch cut to zero frames."""
    spec = SPECS[key]
    masked = replaced(key, arguments, "mask", torch.zeros_like(arguments[spec.inputs.index("mask")]))
    empty = tuple(a[:, :0] if name in FRAME_INPUTS and a is not None else a for name, a in zip(spec.inputs, arguments))
    return [masked, empty]


def cast(arguments: Arguments, dtype: torch.dtype) -> Arguments:
    """Floating inputs cast to ``dtype`` (the mask and flags stay)."""
    return tuple(a.to(dtype) if isinstance(a, torch.Tensor) and a.is_floating_point() else a for a in arguments)


def assert_not_computed(values: Dict[str, torch.Tensor]) -> None:
    """``computed`` False and every floating value NaN."""
    assert not bool(values["computed"])
    for name, value in values.items():
        if value.is_floating_point():
            assert bool(torch.isnan(value).all()), name


def states(metric) -> Dict[str, torch.Tensor]:
    """A copy of the metric's states."""
    return {k: v.clone() for k, v in metric.metric_state.items()}
