"""The benchmark run: this project's pipeline per metric and for the whole suite, in a fresh
process per measurement (:mod:`.worker`), the reference pipeline (:mod:`.reference`) on the
same frames, their ratio, and memory against clip count and clip length."""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
import sys
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch

from ..registry import METRIC_KEYS

BENCH_KEYS = METRIC_KEYS + ("suite",)
# What the contact-dependent categories measure: the metric whose cost follows the contact, and
# the suite; the other metrics do not look at the mesh, so natural clips say all about them.
MESH_KEYS = ("self_penetration", "suite")
# Clips x frames of the categories other than natural: one clip of each contact kind and both
# extreme shapes, short because they cost the project up to seconds per frame today; the
# penetration defect lies in the middle of a 120-frame clip.
CATEGORY_SIZES = {"contact": (4, 8), "penetration": (2, 120), "extreme_shapes": (2, 4)}
# The figures of spec section 6, per metric and for the suite.
SPEC_KEYS = ("frames_per_second", "peak_memory_bytes", "reference_frames_per_second", "speedup_vs_reference")


def run_worker(case: Dict[str, Any], timeout_s: float = 3600.0) -> Dict[str, Any]:
    """One measurement in a fresh Python process (its own peak memory), with the case's
    ``threads`` CPU threads for torch and numpy's BLAS; returns its figures."""
    threads = str(int(case.get("threads", 1)))
    env = dict(os.environ, OMP_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
    done = subprocess.run([sys.executable, "-m", "humanscore_torch.bench.worker", json.dumps(case)],
                          capture_output=True, text=True, timeout=timeout_s, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"bench worker failed on {case}: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _compiled_figures(eager: Dict[str, Any]) -> Dict[str, Any]:
    """The compiled measurement of an eager case, or its error (the benchmark goes on)."""
    case = {k: eager[k] for k in ("key", "category", "batch_size", "frames", "device", "repeats", "threads")}
    try:
        figures = run_worker(dict(case, compile=True))
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        return {"error": str(exc)}
    return {"frames_per_second": figures["frames_per_second"],
            "eager_frames_per_second": figures["eager_frames_per_second"],
            "speedup_vs_eager": figures["frames_per_second"] / figures["eager_frames_per_second"],
            "compile_seconds": figures["compile_seconds"], "peak_memory_bytes": figures["peak_memory_bytes"],
            "runs": figures["runs"]}


def machine() -> Dict[str, Any]:
    """What the figures were measured on."""
    info = {"platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__,
            "numpy": np.__version__, "cpu_count": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as fh:
            names = [line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")]
        info["cpu"] = names[0] if names else platform.processor()
    except OSError:
        info["cpu"] = platform.processor()
    if torch.cuda.is_available():
        info["cuda_device"] = torch.cuda.get_device_name(0)
    return info


def _summary(case: Dict[str, Any]) -> Dict[str, Any]:
    """A case's spec figures, with the spread of the per-round speedups (the noise)."""
    out = {k: case.get(k) for k in SPEC_KEYS}
    out.update({k: case[k] for k in ("category", "threads", "batch_size", "frames", "device")})
    if case.get("speedup_by_round"):
        out["speedup_range"] = [min(case["speedup_by_round"]), max(case["speedup_by_round"])]
    return out


def _plan(devices: Sequence[str], keys: Sequence[str], categories: Sequence[str], batch_sizes: Sequence[int],
          frames: Sequence[int], category_sizes: Mapping[str, Tuple[int, int]], suite_cases: Sequence[Tuple[int, int]],
          threads: Sequence[int]) -> List[Dict[str, Any]]:
    """Every measured case: natural clips for every key on the batch-size x frames grid and for
    the suite on ``suite_cases``; the other categories for :data:`MESH_KEYS` at ``category_sizes``;
    each with every thread count."""
    cases = []
    for n in threads:
        for device in devices:
            for category in categories:
                for key in keys:
                    if category == "natural":
                        sizes = [(b, t) for t in frames for b in batch_sizes]
                        sizes += [s for s in suite_cases if key == "suite" and s not in sizes]
                    elif key in MESH_KEYS:
                        sizes = [category_sizes[category]]
                    else:
                        continue
                    cases += [{"key": key, "category": category, "batch_size": b, "frames": t, "device": device,
                               "threads": n} for b, t in sizes]
    return cases


def run_bench(devices: Sequence[str], batch_sizes: Sequence[int], frames: Sequence[int],
              keys: Sequence[str] = BENCH_KEYS, categories: Sequence[str] = ("natural",),
              category_sizes: Mapping[str, Tuple[int, int]] = CATEGORY_SIZES, suite_cases: Sequence[Tuple[int, int]] = (),
              clip_counts: Sequence[int] = (), clip_count_frames: int = 30, clip_lengths: Sequence[int] = (),
              repeats: int = 3, reference: bool = True, threads: Sequence[int] = (1,),
              log: Callable[[str], None] = print, command: Optional[str] = None, compiled: bool = False,
              max_seconds: float = 20.0) -> Dict[str, Any]:
    """The whole benchmark; returns the JSON document (see ``humanscore bench --help``).

    Every case runs in a fresh process (:func:`run_worker`) in which the project and, unless
    ``reference`` is False, the reference pipeline run alternately on the same clips
    (:func:`~.worker.measure_case`). Per key, the spec figures (:data:`SPEC_KEYS`) are those of
    the headline case (natural clips, the first device, the fewest threads, the largest batch
    and clip length); ``cases`` holds every case. ``categories`` summarises, per category,
    key and thread count, the case at the category's size.

    ``compiled``: also measure every case under ``torch.compile``
    (:func:`~.worker.compile_pipeline`), in a fresh process of its own that times the compiled
    and the eager pipeline alternately, and record it in the case's ``compiled`` entry:
    ``frames_per_second``, ``eager_frames_per_second`` (that process's), ``speedup_vs_eager``
    (their ratio), ``compile_seconds``, ``peak_memory_bytes`` (both pipelines and compilation),
    or ``error`` where compiling failed."""
    batch_sizes, frames, threads = sorted(set(batch_sizes)), sorted(set(frames)), sorted(set(threads))
    result: Dict[str, Any] = {"meta": {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), "command": command,
        "machine": machine(), "devices": list(devices), "categories": list(categories), "batch_sizes": batch_sizes,
        "frames": frames, "category_sizes": {k: list(v) for k, v in category_sizes.items()}, "suite_cases": [list(s) for s in suite_cases],
        "cpu_threads": threads, "repeats": repeats, "compiled": compiled, "reference": reference,
        "openblas_env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}}}
    cases: List[Dict[str, Any]] = []
    for case in _plan(devices, keys, categories, batch_sizes, frames, category_sizes, suite_cases, threads):
        figures = run_worker(dict(case, repeats=repeats, reference=reference, max_seconds=max_seconds))
        log(f"  {case['key']:24s} {case['category']:14s} {case['device']:5s} threads={case['threads']} "
            f"B={case['batch_size']:<3d} T={case['frames']:<5d} {figures['frames_per_second']:9.1f} frames/s"
            + (f"  reference {figures['reference_frames_per_second']:8.1f}  x{figures['speedup_vs_reference']:.2f} "
               f"(rounds {min(figures['speedup_by_round']):.2f}-{max(figures['speedup_by_round']):.2f})"
               if reference else ""))
        if compiled:
            figures["compiled"] = _compiled_figures(figures)
            log(f"  {'':24s} compiled: " + (
                f"{figures['compiled']['frames_per_second']:9.1f} frames/s "
                f"(x{figures['compiled']['speedup_vs_eager']:.2f} of eager), "
                f"compiling {figures['compiled']['compile_seconds']:.0f} s"
                if "error" not in figures["compiled"] else f"failed: {figures['compiled']['error'][:200]}"))
        cases.append(figures)
    for key in keys:
        own = [c for c in cases if c["key"] == key]
        headline = [c for c in own if c["category"] == "natural" and c["device"] == devices[0]
                    and c["threads"] == threads[0] and c["batch_size"] == batch_sizes[-1] and c["frames"] == frames[-1]]
        result[key] = dict({k: headline[0].get(k) for k in SPEC_KEYS} if headline else {},
                           **({"compiled": headline[0]["compiled"]} if compiled and headline else {}),
                           headline=_summary(headline[0]) if headline else None, cases=own)
    summary: Dict[str, Any] = {}
    for c in cases:
        if c["category"] != "natural" or (c["batch_size"], c["frames"]) == (batch_sizes[-1], frames[-1]):
            summary.setdefault(c["category"], {}).setdefault(c["key"], {})[f"threads_{c['threads']}"] = _summary(c)
    result["categories"] = summary
    scaling: Dict[str, Any] = {}
    for device in devices:
        if clip_counts:
            scaling.setdefault("clip_count", [])
            for n in clip_counts:
                figures = run_worker({"key": "stream", "clips": n, "frames": clip_count_frames,
                                      "batch_size": batch_sizes[-1], "device": device, "threads": threads[0]})
                log(f"  stream {n:5d} clips x {clip_count_frames} frames ({device}): peak memory "
                    f"{figures['peak_memory_bytes'] / 2**20:.0f} MiB, {figures['seconds']:.1f} s")
                scaling["clip_count"].append(figures)
        if clip_lengths:
            scaling.setdefault("clip_length", [])
            for t in clip_lengths:
                figures = run_worker({"key": "suite", "batch_size": 1, "frames": t, "device": device, "repeats": 1,
                                      "threads": threads[0]})
                log(f"  suite, one clip of {t:5d} frames ({device}): peak memory "
                    f"{figures['peak_memory_bytes'] / 2**20:.0f} MiB, {figures['frames_per_second']:.1f} frames/s")
                scaling["clip_length"].append(figures)
    if len(scaling.get("clip_count", [])) > 1:
        counts = [c for c in scaling["clip_count"] if c["device"] == devices[0]]
        smallest, largest = min(counts, key=lambda c: c["clips"]), max(counts, key=lambda c: c["clips"])
        scaling["clip_count_peak_ratio"] = {"device": devices[0], "clips": [smallest["clips"], largest["clips"]],
                                            "ratio": largest["peak_memory_bytes"] / smallest["peak_memory_bytes"]}
    if scaling:
        result["scaling"] = scaling
    return result
