"""The benchmark's console table."""

from __future__ import annotations

from typing import Any, Dict, List

from .runner import BENCH_KEYS


def _mib(n: float) -> str:
    return f"{n / 2**20:8.0f}"


# Memory scaling sections: result["scaling"] key, heading, what each case is, its speed.
_SCALING = (
    ("clip_count", "memory against clip count (score_sequences, chunks of B clips):",
     lambda c: f"{c['clips']:6d} clips x {c['frames']} frames, B={c['batch_size']} ({c['device']})",
     lambda c: f"{c['seconds']:.1f} s"),
    ("clip_length", "memory against clip length (suite, one clip):",
     lambda c: f"{c['frames']:6d} frames ({c['device']})",
     lambda c: f"{c['frames_per_second']:.1f} frames/s"),
)


def table(result: Dict[str, Any]) -> str:
    """Every measured case of a :func:`~.runner.run_bench` result, one line each, then the
    memory scaling figures."""
    lines: List[str] = [
        f"{'metric':24s} {'category':14s} {'dev':4s} {'thr':>3s} {'B':>3s} {'T':>5s} {'frames/s':>10s} {'peak MiB':>8s} "
        f"{'ref fr/s':>9s} {'speedup':>8s} {'rounds':>11s}"]
    for key in BENCH_KEYS:
        for case in result.get(key, {}).get("cases", []):
            ref = case.get("reference_frames_per_second")
            rounds = case.get("speedup_by_round") or []
            lines.append(f"{key:24s} {case['category']:14s} {case['device']:4s} {case['threads']:3d} "
                         f"{case['batch_size']:3d} {case['frames']:5d} {case['frames_per_second']:10.1f} "
                         f"{_mib(case['peak_memory_bytes'])} "
                         + (f"{ref:9.1f} {case['speedup_vs_reference']:7.2f}x {min(rounds):5.2f}-{max(rounds):<5.2f}"
                            if ref is not None else ""))
    compiled = [(key, case) for key in BENCH_KEYS for case in result.get(key, {}).get("cases", []) if "compiled" in case]
    if compiled:
        lines += ["", "torch.compile (posing and every metric but self_penetration compiled; frames/s after "
                      "warm-up, timed alternately with eager in one process):"]
        for key, case in compiled:
            c = case["compiled"]
            lines.append(f"  {key:24s} {case['device']:6s} {case['batch_size']:3d} {case['frames']:5d} "
                         + (f"eager {c['eager_frames_per_second']:.1f}, compiled {c['frames_per_second']:.1f} frames/s "
                            f"(x{c['speedup_vs_eager']:.2f}), compiling {c['compile_seconds']:.0f} s"
                            if "error" not in c else f"failed: {c['error'][:120]}"))
    scaling = result.get("scaling", {})
    for section, title, label, rate in _SCALING:
        if scaling.get(section):
            lines += ["", title]
            lines += [f"  {label(case)}: peak {_mib(case['peak_memory_bytes']).strip()} MiB "
                      f"(baseline {_mib(case['baseline_memory_bytes']).strip()} MiB), {rate(case)}"
                      for case in scaling[section]]
        if section == "clip_count" and scaling.get("clip_count_peak_ratio"):
            ratio = scaling["clip_count_peak_ratio"]
            lines.append(f"  peak at {ratio['clips'][1]} clips / peak at {ratio['clips'][0]} clips "
                         f"({ratio['device']}): {ratio['ratio']:.2f}")
    kind = "CUDA max_memory_allocated" if any(d.startswith("cuda") for d in result["meta"]["devices"]) else ""
    lines.append("")
    lines.append("peak memory: CPU = peak resident set size (VmHWM) of a fresh process per measurement, "
                 "interpreter and torch included" + (f"; {kind} on CUDA" if kind else ""))
    return "\n".join(lines)


def _agree(case: Dict[str, Any]) -> bool:
    """Whether every per-frame verdict (and every self-penetration face-pair count) of a case
    equals the reference's."""
    return all(found.get("frames_equal", True) and found.get("face_pairs_equal", True)
               for found in case.get("agreement", {}).values())


def markdown(result: Dict[str, Any]) -> str:
    """The README's performance tables from a :func:`~.runner.run_bench` result: every case with
    the reference (speedup = median project frames/s over median reference frames/s; the
    per-round range shows the noise), then the memory scaling."""
    lines = ["| metric | clips | clips x frames | threads | frames/s | reference frames/s | speedup (per-round range) "
             "| candidate / intersecting pairs per frame | peak MiB | verdicts equal |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    cases = [c for key in BENCH_KEYS for c in result.get(key, {}).get("cases", [])]
    cases.sort(key=lambda c: (result["meta"]["categories"].index(c["category"]), c["key"] != "suite", c["key"],
                              c["batch_size"] * c["frames"], c["frames"], c["threads"]))
    for c in cases:
        if c.get("reference_frames_per_second") is None:
            continue
        rounds = c["speedup_by_round"]
        pairs = (f"{c['candidate_pairs_per_frame']:.0f} / {c['intersecting_pairs_per_frame']:.0f}"
                 if "candidate_pairs_per_frame" in c else "")
        lines.append(f"| {c['key']} | {c['category']} | {c['batch_size']} x {c['frames']} | {c['threads']} | "
                     f"{c['frames_per_second']:,.1f} | {c['reference_frames_per_second']:,.1f} | "
                     f"{c['speedup_vs_reference']:.2f}x ({min(rounds):.2f}-{max(rounds):.2f}) | {pairs} | "
                     f"{c['peak_memory_bytes'] / 2**20:.0f} | {'yes' if _agree(c) else 'NO'} |")
    scaling = result.get("scaling", {})
    if scaling:
        lines += ["", "| memory | peak MiB |", "| --- | --- |"]
        for c in scaling.get("clip_count", []):
            lines.append(f"| {c['clips']:,} clips x {c['frames']} frames streamed in batches of {c['batch_size']} | "
                         f"{c['peak_memory_bytes'] / 2**20:.0f} |")
        if scaling.get("clip_count_peak_ratio"):
            r = scaling["clip_count_peak_ratio"]
            lines.append(f"| peak at {r['clips'][1]:,} clips / at {r['clips'][0]:,} clips | {r['ratio']:.2f}x |")
        for c in scaling.get("clip_length", []):
            lines.append(f"| suite, one clip of {c['frames']:,} frames | {c['peak_memory_bytes'] / 2**20:.0f} |")
    return "\n".join(lines)


if __name__ == "__main__":  # python -m humanscore_torch.bench.report docs/bench/cpu_2core.json
    import json
    import sys

    with open(sys.argv[1]) as fh:
        print(markdown(json.load(fh)))
