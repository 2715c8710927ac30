"""Peak memory of scoring one long clip through the ``HumanScore`` collection and through
``score_sequences`` (the CLI's path), each in a fresh process.

    python tools/collection_memory.py [--frames 1920] [--threads 1] [--repeats 3]

Each process builds the bench clip, warms both caches (part structure, joint map) on a short
clip, resets the peak RSS (``/proc/self/clear_refs``), scores, and reports the peak RSS above
the RSS before scoring. Linux only (procfs).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys


def _rss(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def measure(path: str, frames: int, threads: int) -> int:
    """Bytes of peak RSS above the pre-scoring RSS for one ``frames``-long clip on ``path``."""
    import torch

    from humanscore_torch import BodyModel
    from humanscore_torch.bench.clips import bench_clips
    from humanscore_torch.evaluation import score_sequences
    from humanscore_torch.metrics import HumanScore

    torch.set_num_threads(threads)
    body = BodyModel.default()
    (clip,) = bench_clips(1, frames)
    (short,) = bench_clips(1, 8)

    def run(sequence):
        if path == "collection":
            metric = HumanScore(body)
            metric.update([sequence])
            return metric.compute()
        return list(score_sequences([sequence], body))

    run(short)
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")  # reset VmHWM to the current RSS
    before = _rss("VmRSS")
    run(clip)
    return _rss("VmHWM") - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=1920)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per path (the peak of one "
                        "process varies by tens of MiB with the allocator's free lists)")
    parser.add_argument("--path", choices=("collection", "score_sequences"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.path:
        print(json.dumps({"path": args.path, "peak_bytes": measure(args.path, args.frames, args.threads)}))
        return
    medians = {}
    for path in ("score_sequences", "collection"):
        peaks = []
        for _ in range(max(args.repeats, 1)):
            out = subprocess.run([sys.executable, __file__, "--path", path, "--frames", str(args.frames),
                                  "--threads", str(args.threads)], check=True, capture_output=True, text=True)
            peaks.append(json.loads(out.stdout.strip().splitlines()[-1])["peak_bytes"])
        medians[path] = statistics.median(peaks)
        print(f"{path:>16}: peak above the RSS before scoring, one clip of {args.frames} frames: median "
              f"{medians[path] / 2**20:.1f} MiB (runs: {', '.join(f'{p / 2**20:.1f}' for p in peaks)})")
    print(f"collection / score_sequences (medians): {medians['collection'] / max(medians['score_sequences'], 1):.2f}x")


if __name__ == "__main__":
    main()
