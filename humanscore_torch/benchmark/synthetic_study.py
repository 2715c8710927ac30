"""A synthetic benchmark study: the prompt suite, a manifest and ``evaluate --manifest`` end to end.

    python -m humanscore_torch.benchmark.synthetic_study docs/

writes the suite with ``humanscore prompts``, then, for the suite's walk, run and jump prompts
(three intensities, plain and detailed), one clip per prompt from each of four "models" into
per-model folders, with a manifest (path, model, prompt_id, seed); runs ``humanscore evaluate
--manifest manifest.csv --group-by model --reference mocap`` and copies the intensity curve
and the leaderboard's interval plot to ``docs/benchmark_intensity.png`` and
``docs/benchmark_leaderboard.png``. The models (clips of :mod:`humanscore_torch.synthetic`, the
middle second at 30 fps):

* ``mocap``: the clean clip of the prompt's category (the reference row);
* ``steady``: the same with 0.5 mm of joint jitter at every intensity;
* ``shaky``: jitter growing with the intensity (1, 2, 4 mm);
* ``brittle``: a root teleport growing with the intensity (10, 20, 40 cm).

Plain and detailed prompts differ only in the seed, so the study has no variant effect by
construction. tests/benchmark/test_benchmark_kit.py runs the same study.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Tuple

MODELS: Tuple[str, ...] = ("mocap", "steady", "shaky", "brittle")
REFERENCE = "mocap"
# Suite category -> the synthetic clip that performs it.
CATEGORY_CLIPS: Dict[str, str] = {"walk": "walk", "run": "run", "jump": "jump"}
# model -> (defect, size per intensity level 1, 2, 3); None: the clean clip.
MODEL_DEFECTS: Dict[str, Optional[Tuple[str, Tuple[float, float, float]]]] = {
    "mocap": None,
    "steady": ("jitter", (0.0005, 0.0005, 0.0005)),
    "shaky": ("jitter", (0.001, 0.002, 0.004)),
    "brittle": ("teleport", (0.1, 0.2, 0.4)),
}
SECONDS = 1.0


def read_prompts(path: Path) -> List[Dict[str, str]]:
    """The suite's prompts as written by ``humanscore prompts --output FILE.csv``."""
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def write_study(folder: Path, prompts: List[Dict[str, str]], seconds: float = SECONDS) -> Path:
    """Write the clips of every model for the prompts of :data:`CATEGORY_CLIPS` into
    ``folder/<model>/<prompt id>.npz`` and the manifest ``folder/manifest.csv`` (paths relative
    to it). Deterministic (seed = row number).

    Returns:
        the manifest's path.
    """
    from .. import synthetic
    from ..io import save_motion
    from ..synthetic.three_models import centre_excerpt

    folder = Path(folder)
    rows = []
    chosen = [p for p in prompts if p["category"] in CATEGORY_CLIPS]
    for model in MODELS:
        (folder / model).mkdir(parents=True, exist_ok=True)
        for prompt in chosen:
            seed = len(rows)
            clip_name = CATEGORY_CLIPS[prompt["category"]]
            defect = MODEL_DEFECTS[model]
            if defect is None:
                clip = synthetic.clean_clip(clip_name)
            else:
                name, sizes = defect
                clip = synthetic.defect_clip(clip_name, name, sizes[int(prompt["intensity"]) - 1], seed=seed)
            relative = f"{model}/{prompt['id']}.npz"
            save_motion(folder / relative, centre_excerpt(clip, seconds))
            rows.append({"path": relative, "model": model, "prompt_id": prompt["id"], "seed": seed})
    manifest = folder / "manifest.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["path", "model", "prompt_id", "seed"])
        writer.writeheader()
        writer.writerows(rows)
    return manifest


def run_study(root: Path, seconds: float = SECONDS) -> Tuple[int, Path]:
    """``humanscore prompts``, :func:`write_study` and ``humanscore evaluate --manifest
    --group-by model --reference mocap`` under ``root``.

    Returns:
        (evaluate's exit code, its output folder ``root/out``).
    """
    from ..cli import main

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    if main(["prompts", "--output", str(root / "prompts.csv")]) != 0:
        raise RuntimeError("humanscore prompts failed")
    manifest = write_study(root / "clips", read_prompts(root / "prompts.csv"), seconds)
    code = main(["evaluate", "--manifest", str(manifest), "--output", str(root / "out"), "--group-by", "model",
                 "--reference", REFERENCE, "--worst-frames", "0"])
    return code, root / "out"


def main(argv=None) -> int:
    """Command line: run the study, copy its two benchmark plots into ``out_dir`` and print the
    leaderboard with intervals."""
    from ..report.benchmark_sections import leaderboard_interval_table, ranked_leaderboard

    parser = argparse.ArgumentParser(description="Run the synthetic benchmark study; write its plots.")
    parser.add_argument("out_dir", type=Path, nargs="?", default=Path("docs"), help="output folder (default docs/)")
    args = parser.parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        code, out = run_study(Path(tmp))
        if code != 0:
            raise RuntimeError(f"humanscore evaluate exited with {code}")
        for source, name in (("intensity.png", "benchmark_intensity.png"),
                             ("leaderboard_intervals.png", "benchmark_leaderboard.png")):
            shutil.copyfile(out / "plots" / source, args.out_dir / name)
            print(args.out_dir / name)
        records = json.loads((out / "results.json").read_text())
    table = leaderboard_interval_table(ranked_leaderboard(records, "model", REFERENCE), "model")
    print("\n".join(" | ".join(row) for row in table))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
