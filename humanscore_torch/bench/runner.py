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
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np
import torch

from ..registry import METRIC_KEYS
from .clips import clip_source

BENCH_KEYS = METRIC_KEYS + ("suite",)
# Reference steps each measurement includes: posing (joints only, or with vertices) and metrics.
_REFERENCE_STEPS = {
    "artifact_rate": ("artifact_rate",),
    "bone_length_consistency": ("pose_joints", "bone_length_consistency"),
    "range_of_motion": ("range_of_motion",),
    "self_penetration": ("pose_vertices", "self_penetration"),
    "newtonian_plausibility": ("pose_joints", "newtonian_plausibility"),
    "jerk": ("pose_joints", "jerk"),
    "suite": ("pose_vertices",) + METRIC_KEYS,
}


def run_worker(case: Dict[str, Any], threads: int = 1, timeout_s: float = 3600.0) -> Dict[str, Any]:
    """One measurement in a fresh Python process (its own peak memory) with ``threads`` CPU
    threads for torch and for numpy's BLAS; returns its figures."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    done = subprocess.run([sys.executable, "-m", "humanscore_torch.bench.worker", json.dumps(dict(case, threads=threads))],
                          capture_output=True, text=True, timeout=timeout_s, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"bench worker failed on {case}: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _compiled_figures(run: Callable[[Dict[str, Any]], Dict[str, Any]], eager: Dict[str, Any]) -> Dict[str, Any]:
    """The compiled measurement of an eager case, or its error (the benchmark goes on)."""
    case = {k: eager[k] for k in ("key", "batch_size", "frames", "device", "repeats")}
    try:
        figures = run(dict(case, compile=True))
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        return {"error": str(exc)}
    return {"frames_per_second": figures["frames_per_second"],
            "eager_frames_per_second": figures["eager_frames_per_second"],
            "speedup_vs_eager": figures["frames_per_second"] / figures["eager_frames_per_second"],
            "compile_seconds": figures["compile_seconds"], "peak_memory_bytes": figures["peak_memory_bytes"],
            "runs": figures["runs"]}


def _reference_fps(steps: List[Dict[str, float]], key: str, batch_size: int, frames: int) -> float:
    seconds = sum(clip[s] for clip in steps[:batch_size] for s in _REFERENCE_STEPS[key])
    return batch_size * frames / seconds


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


def run_bench(devices: Sequence[str], batch_sizes: Sequence[int], frames: Sequence[int],
              keys: Sequence[str] = BENCH_KEYS, clip_counts: Sequence[int] = (), clip_count_frames: int = 30,
              clip_lengths: Sequence[int] = (), repeats: int = 3, reference: bool = True, threads: int = 1,
              log: Callable[[str], None] = print, command: Optional[str] = None,
              compiled: bool = False) -> Dict[str, Any]:
    """The whole benchmark; returns the JSON document (see ``humanscore bench --help``).

    ``compiled``: also measure every case under ``torch.compile``
    (:func:`~.worker.compile_pipeline`), in a fresh process of its own that times the compiled
    and the eager pipeline alternately, and record it in the case's ``compiled`` entry:
    ``frames_per_second``, ``eager_frames_per_second`` (that process's), ``speedup_vs_eager``
    (their ratio), ``compile_seconds``, ``peak_memory_bytes`` (both pipelines and compilation),
    or ``error`` where compiling failed."""
    run = lambda case: run_worker(case, threads)  # noqa: E731
    batch_sizes, frames = sorted(set(batch_sizes)), sorted(set(frames))
    result: Dict[str, Any] = {"meta": {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                                       "command": command, "machine": machine(), "clip_source": clip_source(),
                                       "devices": list(devices), "batch_sizes": batch_sizes, "frames": frames,
                                       "cpu_threads": threads, "compiled": compiled}}
    steps = None
    if reference:
        log(f"reference pipeline (numpy per frame, libigl/CGAL for penetration) on {max(batch_sizes)} clips:")
        steps = {int(t): v for t, v in run({"key": "reference", "batch_size": max(batch_sizes),
                                             "frames": frames, "device": "cpu"})["steps"].items()}
    for key in keys:
        cases = []
        for device in devices:
            for t in frames:
                for b in batch_sizes:
                    figures = run({"key": key, "batch_size": b, "frames": t, "device": device, "repeats": repeats})
                    if steps is not None:
                        figures["reference_frames_per_second"] = _reference_fps(steps[t], key, b, t)
                        figures["speedup_vs_reference"] = figures["frames_per_second"] / figures["reference_frames_per_second"]
                    log(f"  {key:24s} {device:5s} B={b:<3d} T={t:<4d} {figures['frames_per_second']:9.1f} frames/s"
                        + (f"  reference {figures['reference_frames_per_second']:8.1f}  x{figures['speedup_vs_reference']:.2f}"
                           if steps is not None else ""))
                    if compiled:
                        figures["compiled"] = _compiled_figures(run, figures)
                        log(f"  {'':24s} {'':5s} {'':13s} compiled: " + (
                            f"{figures['compiled']['frames_per_second']:9.1f} frames/s "
                            f"(x{figures['compiled']['speedup_vs_eager']:.2f} of eager), "
                            f"compiling {figures['compiled']['compile_seconds']:.0f} s"
                            if "error" not in figures["compiled"] else f"failed: {figures['compiled']['error'][:200]}"))
                    cases.append(figures)
        headline = [c for c in cases if c["device"] == devices[0] and c["batch_size"] == batch_sizes[-1]
                    and c["frames"] == frames[-1]][0]
        result[key] = {k: headline.get(k) for k in ("frames_per_second", "peak_memory_bytes",
                                                    "reference_frames_per_second", "speedup_vs_reference")}
        if compiled:
            result[key]["compiled"] = headline["compiled"]
        result[key].update(device=headline["device"], batch_size=headline["batch_size"], frames=headline["frames"],
                           cases=cases)
    scaling: Dict[str, Any] = {}
    for device in devices:
        if clip_counts:
            scaling.setdefault("clip_count", [])
            for n in clip_counts:
                figures = run({"key": "stream", "clips": n, "frames": clip_count_frames,
                                      "batch_size": batch_sizes[-1], "device": device})
                log(f"  stream {n:5d} clips x {clip_count_frames} frames ({device}): peak memory "
                    f"{figures['peak_memory_bytes'] / 2**20:.0f} MiB, {figures['seconds']:.1f} s")
                scaling["clip_count"].append(figures)
        if clip_lengths:
            scaling.setdefault("clip_length", [])
            for t in clip_lengths:
                figures = run({"key": "suite", "batch_size": 1, "frames": t, "device": device, "repeats": 1})
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
