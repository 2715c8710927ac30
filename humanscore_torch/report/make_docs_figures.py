"""One PNG of each report plot kind for the docs, from three synthetic "models".

    python -m humanscore_torch.report.make_docs_figures docs/

writes clips of three models (``clean``: the clean synthetic clips; ``jittery``: the same
with the jitter defect; ``broken``: a mix of the other defects) into a temporary folder, runs
``humanscore evaluate --group-by model`` on it and copies one plot of each kind to
``docs/report_radar.png``, ``docs/report_bars.png``, ``docs/report_timeline.png`` and
``docs/report_worst_frame.png``. The same clips serve the ranking test (tests/test_report.py).
"""

from __future__ import annotations

import argparse
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional

MODELS = ("clean", "jittery", "broken")
# Defects that survive io.save_motion (it stores SMPL parameters only: bone_stretch lives in
# explicit joints and artifacts in detections, which the canonical npz does not keep).
BROKEN_DEFECTS = ("knee_hyperextension", "hip_abduction", "arm_through_torso", "teleport")
_FRAME_FIELDS = ("global_orient", "body_pose", "transl", "joints", "detections")


def centre_excerpt(sequence: Dict[str, Any], seconds: Optional[float]) -> Dict[str, Any]:
    """The middle ``seconds`` of a sequence dict (all of it when None or longer): the
    synthetic defects sit around the clip's middle, so an excerpt keeps them."""
    frames = int(sequence["global_orient"].shape[0])
    keep = frames if seconds is None else min(frames, int(round(seconds * float(sequence["fps"]))))
    start = (frames - keep) // 2
    return {k: (v[start:start + keep] if k in _FRAME_FIELDS and v is not None else v) for k, v in sequence.items()}


def three_model_clips(folder: Path, count: int = 50, seconds: Optional[float] = 2.0) -> Dict[str, int]:
    """Write ``count`` clips, split as evenly as possible over ``MODELS``, as canonical npz
    files (30 fps) with ``metadata["model"]`` set.

    Clip ``n`` of ``clean`` is synthetic clip ``CLIP_NAMES[n % 6]`` as it is, of ``jittery`` the
    same clip with the jitter defect (sizes of ``DEFECT_SIZES["jitter"]`` in turn); ``broken``
    takes the defects of ``BROKEN_DEFECTS`` in turn, each at its sizes in turn, in the clip the
    synthetic module designs it for (``DEFECT_BASE_CLIPS``). Each clip is cut to its middle
    ``seconds``. Deterministic (seed = clip number).

    Args:
        folder: output folder (created). count: number of clips (>= 3).
        seconds: length of the excerpt of each clip (None: whole clips).

    Returns:
        model -> number of clips written.
    """
    from .. import synthetic
    from ..io import save_motion
    from ..synthetic.defects import DEFECT_BASE_CLIPS

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = synthetic.CLIP_NAMES
    written = {m: 0 for m in MODELS}
    for k in range(count):
        model = MODELS[k % len(MODELS)]
        n = written[model]
        name = names[n % len(names)]
        if model == "clean":
            clip = synthetic.clean_clip(name)
        else:
            defect = "jitter" if model == "jittery" else BROKEN_DEFECTS[n % len(BROKEN_DEFECTS)]
            if model == "broken":  # the clip the synthetic module designs this defect for
                name = DEFECT_BASE_CLIPS[defect]
            sizes = synthetic.DEFECT_SIZES[defect]
            size = sizes[(n if model == "jittery" else n // len(BROKEN_DEFECTS)) % len(sizes)]
            clip = synthetic.defect_clip(name, defect, size, seed=k)
        clip = centre_excerpt(clip, seconds)
        clip["metadata"] = {**clip["metadata"], "model": model}
        stem = re.sub(r"[^A-Za-z0-9]+", "_", str(clip["metadata"]["name"]))
        save_motion(folder / f"{model}_{n:02d}_{stem}.npz", clip)
        written[model] += 1
    return written


def write_docs_figures(out_dir: Path, count: int = 18, seconds: Optional[float] = 2.0) -> List[Path]:
    """Evaluate ``count`` three-model clips and copy one PNG of each plot kind to ``out_dir``.

    Returns:
        the PNG paths written.
    """
    from ..cli import main

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        clips, output = Path(tmp) / "clips", Path(tmp) / "out"
        three_model_clips(clips, count=count, seconds=seconds)
        code = main(["evaluate", str(clips), "--output", str(output), "--group-by", "model", "--worst-frames", "1"])
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
    """Command line: write the docs' report figures into ``out_dir`` (default ``docs/``),
    print their paths and return the exit code 0."""
    parser = argparse.ArgumentParser(description="Write one PNG of each report plot kind (docs figures).")
    parser.add_argument("out_dir", type=Path, nargs="?", default=Path("docs"), help="output folder (default docs/)")
    args = parser.parse_args(argv)
    for path in write_docs_figures(args.out_dir):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
