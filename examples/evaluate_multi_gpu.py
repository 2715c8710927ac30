"""Evaluate a folder of clips on several devices at once (GPUs, or CPU processes) through Lightning.

:func:`humanscore_torch.distributed.evaluate_files` is what ``humanscore evaluate --devices N``
runs: Lightning Fabric starts one process per device (``ddp``; NCCL on GPUs, gloo on CPU),
deals the files round-robin to the processes, each scores its share on its own device, and
the records are gathered on the first process in the order of the file list, so the
results are the same as one process gives (``--compare`` checks that here).

Without ``--folder``, the example first writes synthetic clips of two "estimators" into
``--output``/multi_gpu_clips: ``estimator_a`` (1 mm of jitter on the root) and ``estimator_b``
(4 mm), and averages the scores per ``model``. It uses every visible GPU, or without one two
CPU processes (one thread each).

Run (CPU, two processes: about 15 s on 2 cores, most of it starting the processes; the quick
check about 10 s)::

    python examples/evaluate_multi_gpu.py                     # every GPU, else 2 CPU processes (gloo)
    python examples/evaluate_multi_gpu.py --clips 1 --compare # quick check, vs one process
    python examples/evaluate_multi_gpu.py --device cuda --devices 4 --folder my_runs/   # 4 GPUs

The same from the command line (writes results.json/csv and the report)::

    humanscore evaluate humanscore_example/multi_gpu_clips --device cuda --devices 4 \\
        --group-by model --output humanscore_example/multi_gpu_report
    humanscore evaluate humanscore_example/multi_gpu_clips --device cpu --devices 2   # no GPU

Fabric re-runs this script once per extra local device (so run it as a script, not from a
notebook). Under ``torchrun``, SLURM or another launcher that starts the processes itself
(several nodes: ``--num-nodes M`` with ``MASTER_ADDR``, ``MASTER_PORT``, ``NODE_RANK`` set),
pass ``--folder``: the synthetic clips are written only by a process started by hand.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import List

import torch

from humanscore_torch import synthetic
from humanscore_torch.distributed import evaluate_files, shard_indices
from humanscore_torch.evaluation import score_sequences
from humanscore_torch.io import find_motion_files, read_motion_file, save_motion
from humanscore_torch.report.results import console_table, group_summary, write_all

# model name -> root jitter (metres) of its synthetic clips.
ESTIMATORS = {"estimator_a": 0.001, "estimator_b": 0.004}


def write_synthetic_clips(folder: Path, clips_per_model: int) -> List[Path]:
    """``clips_per_model`` jittered synthetic clips per estimator, as canonical ``.npz``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for model, jitter in ESTIMATORS.items():
        for i in range(clips_per_model):
            name = synthetic.CLIP_NAMES[i % len(synthetic.CLIP_NAMES)]
            sequence = synthetic.defect_clip(name, "jitter", jitter, seed=i)
            sequence["metadata"] = {**sequence["metadata"], "model": model}
            paths.append(save_motion(folder / f"{model}_{i:02d}_{name}.npz", sequence))
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", type=Path, default=None,
                        help="folder of motion files (default: write synthetic ones)")
    parser.add_argument("--output", type=Path, default=Path("humanscore_example"),
                        help="where the synthetic clips (OUTPUT/multi_gpu_clips) and results "
                             "(OUTPUT/multi_gpu_results) go")
    parser.add_argument("--clips", type=int, default=4, help="synthetic clips per estimator")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                        help="cpu or cuda (each process takes its own GPU)")
    parser.add_argument("--devices", type=int, default=None,
                        help="processes per node: GPUs, or CPU processes (default: every visible GPU with "
                             "--device cuda, else 2)")
    parser.add_argument("--num-nodes", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=4, help="sequences scored together in a process")
    parser.add_argument("--compare", action="store_true", help="also score every file in one process and compare")
    args = parser.parse_args()
    if args.devices is None:
        args.devices = torch.cuda.device_count() if args.device.startswith("cuda") else 2
    if args.device == "cpu":  # share the cores between the processes instead of oversubscribing them
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // args.devices))

    folder = args.folder
    if folder is None:
        folder = args.output / "multi_gpu_clips"
        # Fabric's extra processes (and processes of torchrun/SLURM) have LOCAL_RANK set: only
        # the process started by hand writes, before Fabric starts the others.
        if "LOCAL_RANK" not in os.environ:
            written = write_synthetic_clips(folder, args.clips)
            print(f"wrote {len(written)} synthetic clips to {folder}/")
    files = find_motion_files(folder)
    if not files:
        raise SystemExit(f"no motion files in {folder} "
                         "(under an external launcher, write them first and pass --folder)")

    # Every process runs this call; it returns the records of all files on the first one, None elsewhere.
    records = evaluate_files(files, devices=args.devices, num_nodes=args.num_nodes, device=args.device,
                             batch_size=args.batch_size)
    if records is None:
        return

    world = args.devices * args.num_nodes
    print(f"scored {len(records)} clips on {world} processes ({args.device}):")
    for rank in range(world):
        names = [files[i].name for i in shard_indices(len(files), rank, world)]
        print(f"  process {rank}: {len(names)} files ({', '.join(names)})")
    print(console_table(records))
    print("\nmean scores per model:")
    for row in group_summary(records, "model"):
        print(f"  {row['group']:<12} clips={row['clips']}  humanscore={row['humanscore']:.1f}  "
              f"kinetics={row['kinetics']:.1f}  jerk={row['jerk']:.1f}")
    write_all(records, args.output / "multi_gpu_results", title="HumanScore evaluation on several devices")
    print(f"results: {args.output / 'multi_gpu_results'}/results.json")

    if args.compare:
        from humanscore_torch import BodyModel

        sequences = [s for path in files for s in read_motion_file(path)]
        single = list(score_sequences(sequences, BodyModel.default(), batch_size=args.batch_size,
                                      device="cuda" if args.device.startswith("cuda") else "cpu"))
        same_order = [r["path"] for r in records] == [r["path"] for r in single]
        same_computed = all((a["scores"][k] is None) == (b["scores"][k] is None)
                            for a, b in zip(records, single) for k in a["scores"])
        diff = max((abs(a["scores"][k] - b["scores"][k]) for a, b in zip(records, single) for k in a["scores"]
                    if a["scores"][k] is not None and b["scores"][k] is not None), default=0.0)
        print(f"one process: same clips in the same order: {same_order}; same metrics computed: {same_computed}; "
              f"largest score difference {diff:.2e}")


if __name__ == "__main__":
    main()
