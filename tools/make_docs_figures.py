"""The docs' figures: one PNG of each report plot kind, from three synthetic "models", and the
default body at rest and walking.

    python tools/make_docs_figures.py docs/

writes clips of three models (``clean``: the clean synthetic clips; ``jittery``: the same
with the jitter defect; ``broken``: a mix of the other defects) into a temporary folder, runs
``humanscore evaluate --group-by model`` on it and copies one plot of each kind to
``docs/report_radar.png``, ``docs/report_bars.png``, ``docs/report_timeline.png`` and
``docs/report_worst_frame.png``, and the default body to ``docs/default_body_rest.png`` and
``docs/default_body_walk.png`` (:func:`humanscore_torch.report.body_figures.write_body_figures`).
The clips: :mod:`humanscore_torch.synthetic.three_models`.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path
from typing import List, Optional

from humanscore_torch.cli import main as humanscore
from humanscore_torch.report.body_figures import write_body_figures
from humanscore_torch.synthetic.three_models import three_model_clips


def write_docs_figures(out_dir: Path, count: int = 18, seconds: Optional[float] = 2.0) -> List[Path]:
    """Evaluate ``count`` three-model clips and copy one PNG of each plot kind to ``out_dir``.

    Returns:
        the PNG paths written.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        clips, output = Path(tmp) / "clips", Path(tmp) / "out"
        three_model_clips(clips, count=count, seconds=seconds)
        code = humanscore(["evaluate", str(clips), "--output", str(output), "--group-by", "model", "--worst-frames", "1"])
        if code != 0:
            raise RuntimeError(f"humanscore evaluate exited with {code}")
        plots = output / "plots"
        picks = {
            "report_radar.png": plots / "radar.png",
            "report_bars.png": plots / "bars.png",
            # The timelines are sorted by group name: broken, clean, jittery.
            "report_timeline.png": sorted(plots.glob("timeline_*.png"))[0],
            "report_worst_frame.png": sorted(plots.glob("worst_self_penetration_*.png"))[0],
        }
        written = []
        for name, source in picks.items():
            shutil.copyfile(source, out_dir / name)
            written.append(out_dir / name)
    return written


def main(argv=None) -> int:
    """Command line: write the docs' figures into ``out_dir`` (default ``docs/``),
    print their paths and return the exit code 0."""
    parser = argparse.ArgumentParser(description="Write the docs' figures (report plot kinds, default body).")
    parser.add_argument("out_dir", type=Path, nargs="?", default=Path("docs"), help="output folder (default docs/)")
    args = parser.parse_args(argv)
    for path in write_docs_figures(args.out_dir) + write_body_figures(args.out_dir):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
