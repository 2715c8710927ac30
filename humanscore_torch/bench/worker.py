"""One measurement of this project's pipeline, meant to run in a fresh process so that its peak
memory is its own: ``python -m humanscore_torch.bench.worker '{"case": ...}'`` prints one JSON line.

Cases:

* ``{"key": K, "batch_size": B, "frames": T, "device": D}``: metric K (a metric key or
  ``"suite"``) on B bench clips of T frames, from SMPL parameters (posing included), after a
  warm-up on one clip; timed ``repeats`` times, the median reported. With ``"compile": true``
  the figures are those of a second pipeline whose posing and metrics (all but
  self-penetration) go through ``torch.compile`` (:func:`compile_pipeline`), warmed up by two
  runs on the full batch (``compile_seconds`` is the first: no compilation is timed), and timed
  alternately with the eager one in the same process (``eager_frames_per_second``), so that
  load from other processes weighs on both alike; the peak memory then covers both.
* ``{"key": "reference", "batch_size": B, "frames": [T, ...]}``: step timings of the
  reference pipeline on clips 0..B-1 (:func:`~.reference.reference_timings`).
* ``{"key": "stream", "clips": N, "frames": T, "batch_size": B, "device": D}``: N clips
  streamed through :func:`~humanscore_torch.evaluation.score_sequences` in batches of B.

Memory: on CUDA the peak of ``torch.cuda.max_memory_allocated`` over the timed runs; on CPU
the process's peak resident set size (``VmHWM`` from ``/proc/self/status``, which includes the
interpreter, torch and the clips; ``baseline_memory_bytes`` is the resident size just before
the timed runs). ``threads`` (default 1) sets torch's CPU threads.
"""

from __future__ import annotations

import gc
import json
import statistics
import sys
import time
from typing import Any, Dict

import torch

from ..body.model import BodyModel
from ..evaluation import score_batch, score_sequences
from ..motion import MotionBatch
from ..registry import available_metrics
from .clips import bench_clips, clip_source, stream_clips
from .reference import reference_timings


def _status_bytes(field: str) -> int:
    """A ``/proc/self/status`` memory field (``VmHWM``, ``VmRSS``) in bytes (0 where unavailable)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    if field == "VmHWM":  # no procfs: getrusage's peak (kilobytes on Linux)
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return 0


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _run(key: str, batch: MotionBatch, body: BodyModel, metrics) -> None:
    if key == "suite":
        score_batch(batch, body, metrics)
    else:
        with torch.no_grad():
            metrics[key](batch, body)


# Left eager under compile_pipeline: the broad phase's candidate pairs have data-dependent
# sizes (nonzero, per-chunk splits), so it would break the graph and recompile every batch.
EAGER_UNDER_COMPILE = ("self_penetration",)


def compile_pipeline(body: BodyModel, metrics: Dict[str, Any]) -> Dict[str, Any]:
    """Compile ``body``'s forward (posing, in place) with ``torch.compile``; return ``metrics``
    with every entry but :data:`EAGER_UNDER_COMPILE` compiled (graph breaks fall back to eager)."""
    if hasattr(body, "compile"):  # torch >= 2.2
        body.compile()
    else:
        body.forward = torch.compile(body.forward)
    return {k: fn if k in EAGER_UNDER_COMPILE else torch.compile(fn) for k, fn in metrics.items()}


def measure_case(case: Dict[str, Any]) -> Dict[str, Any]:
    """Run one case (see the module docstring) and return its figures."""
    torch.set_num_threads(int(case.get("threads", 1)))
    if case["key"] == "reference":
        return {**case, "steps": reference_timings(int(case["batch_size"]), [int(t) for t in case["frames"]])}
    device = torch.device(case.get("device", "cpu"))
    body = BodyModel.default().to(device)
    metrics = available_metrics()
    frames = int(case["frames"])
    if case["key"] == "stream":
        return _measure_stream(case, body, device)
    clips = bench_clips(int(case["batch_size"]), frames)
    batch = MotionBatch.from_sequences(clips).to(device)
    key = case["key"]
    _run(key, batch.select([0]), body, metrics)  # warm-up: caches, part structure, joint map
    pipelines = [("eager", body, metrics)]
    compile_seconds = None
    if case.get("compile"):
        compiled_body = BodyModel.default().to(device)
        compiled_metrics = compile_pipeline(compiled_body, available_metrics())
        start = time.perf_counter()
        _run(key, batch.with_fields(), compiled_body, compiled_metrics)  # compiles for the timed shapes
        _sync(device)
        compile_seconds = time.perf_counter() - start
        _run(key, batch.with_fields(), compiled_body, compiled_metrics)  # any recompilation a second call needs
        pipelines.append(("compiled", compiled_body, compiled_metrics))
    repeats = int(case.get("repeats", 3))
    copies = [[batch.with_fields() for _ in pipelines] for _ in range(repeats)]  # fresh batches: nothing posed yet
    gc.collect()
    _sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    baseline = torch.cuda.memory_allocated(device) if device.type == "cuda" else _status_bytes("VmRSS")
    times: Dict[str, list] = {name: [] for name, _, _ in pipelines}
    for round_copies in copies:
        # Interleaved: on a shared machine, load that comes and goes slows both pipelines alike.
        for copy, (name, run_body, run_metrics) in zip(round_copies, pipelines):
            _sync(device)
            start = time.perf_counter()
            _run(key, copy, run_body, run_metrics)
            _sync(device)
            times[name].append(time.perf_counter() - start)
        if sum(map(sum, times.values())) > float(case.get("max_seconds", 20.0)) * len(pipelines):  # per pipeline
            break
    peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else _status_bytes("VmHWM")
    seconds = {name: statistics.median(t) for name, t in times.items()}
    measured = "compiled" if compile_seconds is not None else "eager"
    extra = {} if compile_seconds is None else {
        "compile_seconds": compile_seconds, "eager_frames_per_second": batch.batch_size * frames / seconds["eager"]}
    return {**case, **extra, "clip_source": clip_source(), "runs": len(times[measured]), "seconds": seconds[measured],
            "frames_per_second": batch.batch_size * frames / seconds[measured],
            "peak_memory_bytes": peak, "baseline_memory_bytes": baseline,
            "memory_kind": "cuda_max_memory_allocated" if device.type == "cuda" else "peak_rss_vmhwm"}


def _measure_stream(case: Dict[str, Any], body: BodyModel, device: torch.device) -> Dict[str, Any]:
    clips, frames, batch_size = int(case["clips"]), int(case["frames"]), int(case["batch_size"])
    list(score_sequences(stream_clips(1, frames), body, batch_size, str(device)))  # warm-up
    gc.collect()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    baseline = torch.cuda.memory_allocated(device) if device.type == "cuda" else _status_bytes("VmRSS")
    start = time.perf_counter()
    records = sum(1 for _ in score_sequences(stream_clips(clips, frames), body, batch_size, str(device)))
    _sync(device)
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else _status_bytes("VmHWM")
    return {**case, "clip_source": clip_source(), "records": records, "seconds": seconds,
            "frames_per_second": clips * frames / seconds, "peak_memory_bytes": peak,
            "baseline_memory_bytes": baseline,
            "memory_kind": "cuda_max_memory_allocated" if device.type == "cuda" else "peak_rss_vmhwm"}


def main(argv=None) -> int:
    """Entry point: one JSON case in argv[1], one JSON line of figures on stdout."""
    argv = sys.argv[1:] if argv is None else argv
    print(json.dumps(measure_case(json.loads(argv[0]))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
