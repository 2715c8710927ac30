"""``humanscore demo [--output DIR]``: score the synthetic clips on the embedded default body.

Every clean clip of :mod:`humanscore_torch.synthetic`, and each clean walk with one defect of
middle size injected into the clip it is meant for, go through every metric; the scores are printed as a table and written
to DIR like ``humanscore evaluate`` writes them: results.json, results.csv and the report
(report.md, report.html) with its plots, grouped into clean and defect clips.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

from ..evaluation import score_sequences
from ..report.document import write_report
from ..report.results import console_table, write_csv, write_json
from ..report.traces import TraceCollector
from .common import add_device_and_body_options, load_body, resolve_device

GROUP_KEY = "group"  # metadata key of the demo's two groups, clean and defect
TITLE = "HumanScore demo (synthetic clips, default body)"

def demo_sequences(fps: float = 30.0) -> List[Dict[str, Any]]:
    """The clean synthetic clips, then each defect at a middle size in the clip it is meant for.

    Returns:
        sequence dicts (see :func:`humanscore_torch.io.read_motion_file`) whose
        ``metadata["path"]`` names the clip (``walk``, ``walk+jitter=0.01``, ...).
    """
    from .. import synthetic

    sequences = []
    for name, sequence in synthetic.clean_clips(fps=fps).items():
        sequence["metadata"] = {**sequence.get("metadata", {}), "path": name, GROUP_KEY: "clean"}
        sequences.append(sequence)
    for defect, sizes in synthetic.DEFECT_SIZES.items():
        size = sizes[len(sizes) // 2]
        base = synthetic.DEFECT_BASE_CLIPS.get(defect, "walk")
        sequence = synthetic.defect_clip(base, defect, size, fps=fps)
        sequence["metadata"] = {**sequence.get("metadata", {}),
                                "path": f"{base}+{defect}={size:g}", GROUP_KEY: "defect"}
        sequences.append(sequence)
    return sequences


def add_parser(subparsers) -> None:
    """Register the ``demo`` subcommand on an argparse subparsers object."""
    parser = subparsers.add_parser("demo", help="score the built-in synthetic clips (no data needed)",
                                   description=__doc__)
    parser.add_argument("--output", type=Path, default=Path("humanscore_demo"), help="output folder")
    add_device_and_body_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Build the clips, score them batch by batch, write the results and the report. Returns 0."""
    start = time.perf_counter()
    device = resolve_device(args.device)
    body = load_body(args.body)
    sequences = demo_sequences()
    records: List[Dict[str, Any]] = []
    collector = TraceCollector(GROUP_KEY, worst_frames=1)

    # Clips batch together only when they carry the same optional fields (bone_stretch gives
    # explicit joints, artifacts-bearing clips detections).
    groups: Dict[tuple, List[Dict[str, Any]]] = {}
    for sequence in sequences:
        groups.setdefault(tuple(k for k in ("joints", "detections") if sequence.get(k) is not None), []).append(sequence)
    for group in groups.values():
        records += score_sequences(group, body, args.batch_size, device, on_results=collector.add)
    args.output.mkdir(parents=True, exist_ok=True)
    write_json(records, args.output / "results.json")
    write_csv(records, args.output / "results.csv")
    write_report(records, args.output, GROUP_KEY, collector, body.to(device), title=TITLE)
    print(console_table(records))
    print(f"{len(records)} synthetic clips scored on {device} in {time.perf_counter() - start:.1f} s; "
          f"results in {args.output}/", file=sys.stderr)
    return 0
