"""One measurement, meant to run in a fresh process so that its peak memory is its own:
``python -m humanscore_torch.bench.worker '{"key": ...}'`` prints one JSON line.

Cases:

* ``{"key": K, "category": C, "batch_size": B, "frames": T, "device": D}``: metric K (a metric
  key or ``"suite"``) on B bench clips of category C (:data:`~.clips.CATEGORIES`) of T frames,
  from SMPL parameters (posing included), after a warm-up on one clip; timed ``repeats``
  times, the median reported. With ``"reference": true`` the reference pipeline
  (:mod:`.reference`) runs on the same clips in the same process, alternating with the
  project's run by run (load from other processes weighs on both alike), and the figures
  include its median, the ratio of every round and how the two agree
  (:func:`~.reference.agreement`). With ``"compile": true`` a second project pipeline whose
  posing and metrics (all but self-penetration) go through ``torch.compile``
  (:func:`compile_pipeline`) is warmed up by two runs on the full batch
  (``compile_seconds`` is the first) and timed alternately with the eager one
  (``eager_frames_per_second``).
* ``{"key": "stream", "clips": N, "frames": T, "batch_size": B, "device": D}``: N natural clips
  streamed through :func:`~humanscore_torch.evaluation.score_sequences` in batches of B.

Memory: on CUDA the peak of ``torch.cuda.max_memory_allocated`` over the project's timed runs;
on CPU the process's peak resident set size (``VmHWM`` from ``/proc/self/status``, which
includes the interpreter, torch and the clips; ``baseline_memory_bytes`` is the resident size
just before the timed runs), read after the project's first timed run and before any reference
run. ``threads`` (default 1) sets torch's CPU threads and numpy's BLAS threads (threadpoolctl);
``blas`` records which BLAS kernel numpy runs.
"""

from __future__ import annotations

import functools
import gc
import json
import statistics
import sys
import time
from typing import Any, Dict, List

import torch

from ..body.model import BodyModel
from ..evaluation import score_batch, score_sequences
from ..motion import MotionBatch
from ..registry import available_metrics
from .clips import bench_clips, stream_clips
from .reference import ReferenceBatch, ReferenceTables, agreement, run_reference


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


def _run(key: str, batch: MotionBatch, body: BodyModel, metrics):
    if key == "suite":
        return score_batch(batch, body, metrics)
    with torch.no_grad():
        return metrics[key](batch, body)


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


def _blas() -> List[Dict[str, Any]]:
    """numpy's BLAS libraries as threadpoolctl sees them (kernel, threads)."""
    from threadpoolctl import threadpool_info

    return [{k: info.get(k) for k in ("internal_api", "architecture", "num_threads", "version")}
            for info in threadpool_info() if info.get("user_api") == "blas"]


def measure_case(case: Dict[str, Any]) -> Dict[str, Any]:
    """Run one case (see the module docstring) and return its figures."""
    from threadpoolctl import threadpool_limits

    threads = int(case.get("threads", 1))
    torch.set_num_threads(threads)
    with threadpool_limits(limits=threads, user_api="blas"):
        figures = _measure(case)
        figures["blas"] = _blas()
    return figures


def _measure(case: Dict[str, Any]) -> Dict[str, Any]:
    device = torch.device(case.get("device", "cpu"))
    body = BodyModel.default().to(device)
    metrics = available_metrics()
    frames = int(case["frames"])
    if case["key"] == "stream":
        return _measure_stream(case, body, device)
    clips = bench_clips(int(case["batch_size"]), frames, category=case.get("category", "natural"))
    batch = MotionBatch.from_sequences(clips).to(device)
    key = case["key"]
    _run(key, batch.select([0]), body, metrics)  # warm-up: caches, part structure, joint map
    pipelines = [("eager", lambda copy: _run(key, copy, body, metrics))]
    compile_seconds = None
    if case.get("compile"):
        compiled_body = BodyModel.default().to(device)
        compiled_metrics = compile_pipeline(compiled_body, available_metrics())
        start = time.perf_counter()
        _run(key, batch.with_fields(), compiled_body, compiled_metrics)  # compiles for the timed shapes
        _sync(device)
        compile_seconds = time.perf_counter() - start
        _run(key, batch.with_fields(), compiled_body, compiled_metrics)  # any recompilation a second call needs
        pipelines.append(("compiled", lambda copy: _run(key, copy, compiled_body, compiled_metrics)))
    repeats = int(case.get("repeats", 3))
    gc.collect()
    _sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    baseline = torch.cuda.memory_allocated(device) if device.type == "cuda" else _status_bytes("VmRSS")
    times: Dict[str, list] = {name: [] for name, _ in pipelines}
    reference = None
    peak = None
    budget = float(case.get("max_seconds", 20.0))
    for round_index in range(repeats):
        # Interleaved: on a shared machine, load that comes and goes slows every pipeline alike.
        for name, run in pipelines:
            copy = batch.with_fields()  # fresh: nothing posed yet
            _sync(device)
            start = time.perf_counter()
            results = run(copy)
            _sync(device)
            times[name].append(time.perf_counter() - start)
        if peak is None:  # the project's own peak, before the reference has allocated anything
            peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else _status_bytes("VmHWM")
        if case.get("reference"):
            if reference is None:
                reference = _Reference(key, clips)
            reference.run()
        if sum(map(sum, times.values())) + (reference.total if reference else 0.0) > budget * (len(pipelines) + 1):
            break
    seconds = {name: statistics.median(t) for name, t in times.items()}
    measured = "compiled" if compile_seconds is not None else "eager"
    total = batch.batch_size * frames
    out = {**case, "runs": len(times[measured]), "seconds": seconds[measured], "seconds_all": times[measured],
           "frames_per_second": total / seconds[measured], "peak_memory_bytes": peak, "baseline_memory_bytes": baseline,
           "memory_kind": "cuda_max_memory_allocated" if device.type == "cuda" else "peak_rss_vmhwm"}
    if compile_seconds is not None:
        out.update(compile_seconds=compile_seconds, eager_frames_per_second=total / seconds["eager"])
    if reference is not None:
        ratios = [r / p for p, r in zip(times[measured], reference.times)]  # per round: project speed / reference's
        out.update(reference_seconds_all=reference.times, reference_frames_per_second=total / statistics.median(reference.times),
                   speedup_by_round=ratios,
                   agreement=agreement(results if key == "suite" else {key: results}, reference.values))
        out["speedup_vs_reference"] = out["frames_per_second"] / out["reference_frames_per_second"]
        if key in ("suite", "self_penetration"):
            out["candidate_pairs_per_frame"] = reference.values["self_penetration_candidates"] / total
            out["intersecting_pairs_per_frame"] = float(reference.values["self_penetration_face_pairs"].mean())
    return out


@functools.lru_cache(maxsize=1)
def _reference_tables() -> ReferenceTables:
    """The reference's tables for the default body, built once per process (on a CPU body of
    its own, whatever the project's device)."""
    return ReferenceTables.build(BodyModel.default())


class _Reference:
    """The reference pipeline on the same clips: tables built and warmed up on one clip (not
    timed), then one timed run per :meth:`run`."""

    def __init__(self, key: str, clips) -> None:
        self.key, self.tables = key, _reference_tables()
        self.batch = ReferenceBatch.from_clips(clips)
        run_reference(self.tables, ReferenceBatch.from_clips(clips[:1]), key)
        self.times: List[float] = []
        self.values: Dict[str, Any] = {}

    @property
    def total(self) -> float:
        """Seconds of all timed runs so far."""
        return sum(self.times)

    def run(self) -> None:
        """One timed run."""
        start = time.perf_counter()
        self.values = run_reference(self.tables, self.batch, self.key)
        self.times.append(time.perf_counter() - start)


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
    return {**case, "records": records, "seconds": seconds,
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
