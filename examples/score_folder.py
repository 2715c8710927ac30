"""Score a folder of motion clips with the Python API and compare groups of clips.

Every motion file in the folder (any supported layout: AMASS, WHAM, TRAM, GVHMR, the
canonical ``.npz`` ...) is read with :func:`humanscore_torch.io.read_motion_file`, scored in
batches with :func:`humanscore_torch.evaluation.score_sequences`, printed as a per-clip table
and averaged per group of a metadata key (here ``model``).

Without a folder, the example first writes synthetic clips of three "models" into
``--output``/clips: ``clean`` (the clean synthetic clips), ``jittery`` (the same motions
with jittering root translation) and ``broken`` (a knee bent the wrong way, an arm through the
torso or a sideways jump between two frames, plus jitter).

Run (CPU: about 5 s with one thread, ``OMP_NUM_THREADS=1``; torch's default of two threads
took 35 s on a 2-core machine busy with other work)::

    python examples/score_folder.py                       # synthetic clips, 3 per model
    python examples/score_folder.py --clips-per-model 1   # quick check, about 3 s
    python examples/score_folder.py --folder my_runs/ --group-by model

The same scores, plus results.json/csv, a report with plots and a leaderboard, come from the
command line::

    humanscore evaluate humanscore_example/clips --group-by model --output humanscore_example/report
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Dict, List

import torch

from humanscore_torch import BodyModel, HumanScoreError, synthetic
from humanscore_torch.evaluation import score_sequences
from humanscore_torch.io import find_motion_files, read_motion_file, save_motion
from humanscore_torch.report.results import console_table, group_summary

# (clip, defect, size) of the "broken" model, cycled; each is also jittered.
BROKEN = (("arm_swing", "knee_hyperextension", 20.0), ("walk", "arm_through_torso", 0.06), ("walk", "teleport", 0.2))
JITTER = 0.004  # metres, noise sigma on the root translation


def write_synthetic_clips(folder: Path, per_model: int, fps: float) -> List[Path]:
    """Write ``per_model`` clips of each of the models clean, jittery and broken as canonical ``.npz``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(per_model):
        name = synthetic.CLIP_NAMES[i % len(synthetic.CLIP_NAMES)]
        clean = synthetic.clean_clip(name, fps=fps)
        jittery = synthetic.defect_clip(name, "jitter", JITTER, fps=fps, seed=i)
        base, defect, size = BROKEN[i % len(BROKEN)]
        broken = synthetic.defect_clip(base, defect, size, fps=fps)
        broken["transl"] = broken["transl"] + JITTER * torch.randn(broken["transl"].shape,
                                                                   generator=torch.Generator().manual_seed(100 + i))
        for model, sequence in (("clean", clean), ("jittery", jittery), ("broken", broken)):
            # Metadata is stored in the file and comes back from read_motion_file: group by it.
            sequence["metadata"] = {**sequence["metadata"], "model": model}
            paths.append(save_motion(folder / f"{model}_{i:02d}_{sequence['metadata']['name']}.npz", sequence))
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", type=Path, default=None, help="folder of motion files (default: write synthetic ones)")
    parser.add_argument("--output", type=Path, default=Path("humanscore_example"),
                        help="where the synthetic clips go (OUTPUT/clips) when no --folder is given")
    parser.add_argument("--clips-per-model", type=int, default=3, help="synthetic clips per model")
    parser.add_argument("--fps", type=float, default=30.0, help="frame rate of the synthetic clips")
    parser.add_argument("--group-by", default="model", help="metadata key to average the scores by")
    parser.add_argument("--batch-size", type=int, default=8, help="sequences scored together")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()

    folder = args.folder
    if folder is None:
        folder = args.output / "clips"
        written = write_synthetic_clips(folder, args.clips_per_model, args.fps)
        print(f"wrote {len(written)} synthetic clips to {folder}/")

    files = find_motion_files(folder)  # recursive; skips estimators' side files
    sequences: List[Dict[str, Any]] = []
    for path in files:
        try:
            sequences.extend(read_motion_file(path))  # one sequence dict per person/track in the file
        except HumanScoreError as exc:  # names the file, the keys found and what was expected
            print(f"skipped: {exc}")
    if not sequences:
        raise SystemExit(f"no readable motion files in {folder}")
    body = BodyModel.default()  # the embedded SMPL-topology body; BodyModel.from_file(...) for SMPL
    records = list(score_sequences(sequences, body, batch_size=args.batch_size, device=args.device))

    # Each record: scores (0-100; None = not computed), raw values with units, metadata.
    print(console_table(records))
    print(f"\nmean scores per {args.group_by}:")
    for row in group_summary(records, args.group_by):
        means = "  ".join(f"{key}={'n/c' if row[key] is None else format(row[key], '.1f')}"
                          for key in ("humanscore", "anatomy", "kinematics", "kinetics"))
        print(f"  {row['group']:<10} clips={row['clips']}  {means}")
    worst = min(records, key=lambda r: r["scores"]["humanscore"])
    print(f"\nlowest overall: {Path(worst['path']).name} "
          + ", ".join(f"{k}={v['value']:.4g} {v['unit']}" for k, v in worst["raw"].items() if v is not None))


if __name__ == "__main__":
    main()
