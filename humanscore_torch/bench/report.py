"""The benchmark's console table."""

from __future__ import annotations

from typing import Any, Dict, List

from .runner import BENCH_KEYS


def _mib(n: float) -> str:
    return f"{n / 2**20:8.0f}"


def table(result: Dict[str, Any]) -> str:
    """Every measured case of a :func:`~.runner.run_bench` result, one line each, then the
    memory scaling figures."""
    lines: List[str] = [
        f"{'metric':24s} {'device':6s} {'B':>3s} {'T':>5s} {'frames/s':>10s} {'peak MiB':>8s} "
        f"{'ref fr/s':>9s} {'speedup':>8s}"]
    for key in BENCH_KEYS:
        for case in result.get(key, {}).get("cases", []):
            ref = case.get("reference_frames_per_second")
            lines.append(f"{key:24s} {case['device']:6s} {case['batch_size']:3d} {case['frames']:5d} "
                         f"{case['frames_per_second']:10.1f} {_mib(case['peak_memory_bytes'])} "
                         + (f"{ref:9.1f} {case['speedup_vs_reference']:7.2f}x" if ref is not None else ""))
    scaling = result.get("scaling", {})
    if scaling.get("clip_count"):
        lines.append("")
        lines.append("memory against clip count (score_sequences, chunks of B clips):")
        for case in scaling["clip_count"]:
            lines.append(f"  {case['clips']:6d} clips x {case['frames']} frames, B={case['batch_size']} ({case['device']}): "
                         f"peak {_mib(case['peak_memory_bytes']).strip()} MiB "
                         f"(baseline {_mib(case['baseline_memory_bytes']).strip()} MiB), {case['seconds']:.1f} s")
    if scaling.get("clip_length"):
        lines.append("")
        lines.append("memory against clip length (suite, one clip):")
        for case in scaling["clip_length"]:
            lines.append(f"  {case['frames']:6d} frames ({case['device']}): peak {_mib(case['peak_memory_bytes']).strip()} MiB "
                         f"(baseline {_mib(case['baseline_memory_bytes']).strip()} MiB), "
                         f"{case['frames_per_second']:.1f} frames/s")
    kind = "CUDA max_memory_allocated" if any(d.startswith("cuda") for d in result["meta"]["devices"]) else ""
    lines.append("")
    lines.append("peak memory: CPU = peak resident set size (VmHWM) of a fresh process per measurement, "
                 "interpreter and torch included" + (f"; {kind} on CUDA" if kind else ""))
    return "\n".join(lines)
