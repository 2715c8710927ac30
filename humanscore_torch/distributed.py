"""Evaluation on several processes (GPUs, nodes) through Lightning Fabric (spec 7).

The first process's file list is sent to the others, the files are dealt round-robin to the
processes, each scores its share on its own device, and the per-clip records are gathered on
the first process, in the order of the file list, so ``humanscore evaluate --devices N
--num-nodes M`` writes the results of one process (the first process alone touches the output
folder: it locks it, reads the record log on ``--resume`` and appends the gathered records).

Processes are started by Fabric's ``ddp`` strategy: a plain run re-executes the same command
line once per extra local device (so call this from a script or the ``humanscore`` command,
not from a notebook); under ``torchrun``, SLURM or another launcher that starts the processes
itself, Fabric uses those. Multi-node runs set ``MASTER_ADDR``, ``MASTER_PORT`` and
``NODE_RANK`` (or use such a launcher), as for any Lightning job.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

import torch
import torch.distributed as dist

from .config import config_overrides
from .errors import HumanScoreError
from .evaluation import read_file_or_error, score_sequences

Record = Dict[str, Any]
ShardWork = Callable[[List[Any], torch.device], List[Any]]


def add_distributed_options(parser: argparse.ArgumentParser) -> None:
    """``--devices N`` and ``--num-nodes M`` (processes per node, and nodes)."""
    parser.add_argument("--devices", type=int, default=1, metavar="N",
                        help="processes per node, one per device (GPU, or CPU process with --device cpu); default 1")
    parser.add_argument("--num-nodes", type=int, default=1, metavar="M", help="number of nodes (default 1)")


def is_distributed(devices: int, num_nodes: int) -> bool:
    """True when more than one process is asked for; checks both counts are >= 1."""
    for name, value in (("--devices", devices), ("--num-nodes", num_nodes)):
        if value < 1:
            raise HumanScoreError(f"{name}: expected a positive integer, got {value}")
    return devices * num_nodes > 1


def shard_indices(num_items: int, rank: int, world_size: int) -> List[int]:
    """The item positions process ``rank`` of ``world_size`` takes: every world_size-th one.

    Round-robin rather than contiguous blocks, so clips sorted by size or by model spread evenly.
    """
    return list(range(rank, num_items, world_size))


def _gathered_in_order(num_items: int, parts: Sequence[Any]) -> List[Any]:
    ordered: List[Any] = [None] * num_items
    for indices, results in parts:
        if len(indices) != len(results):
            raise HumanScoreError(f"distributed: a process returned {len(results)} results for {len(indices)} items")
        for index, result in zip(indices, results):
            ordered[index] = result
    return ordered


def _worker(fabric: Any, work: ShardWork, items: Sequence[Any]) -> Optional[List[Any]]:
    # The first process's list is the list: the others may have none (evaluate's --resume
    # decides what is left to do on the first process only).
    shared = [list(items)]
    dist.broadcast_object_list(shared, src=0)
    items = shared[0]
    indices = shard_indices(len(items), fabric.global_rank, fabric.world_size)
    results = work([items[i] for i in indices], fabric.device)
    parts: List[Any] = [None] * fabric.world_size
    dist.all_gather_object(parts, (indices, results))
    # Every process leaves the group together and closes it: a process that exits with the
    # gloo threads still up aborts now and then ("terminate called without an active
    # exception"), and Fabric then kills the whole job.
    dist.barrier()
    dist.destroy_process_group()
    return _gathered_in_order(len(items), parts) if fabric.is_global_zero else None


def launcher(devices: int = 1, num_nodes: int = 1, accelerator: str = "auto") -> Any:
    """The Lightning Fabric (``ddp``) that runs :func:`map_sharded` on ``devices * num_nodes``
    processes. Its ``global_rank`` is known before it starts them, so a caller can do what only
    the first process must (lock the output folder, say) beforehand.

    Args:
        devices: processes per node. num_nodes: nodes.
        accelerator: ``"cpu"`` (gloo), ``"cuda"`` (nccl) or ``"auto"``; a device name such as
            ``"cuda:1"`` gives its type.
    """
    from lightning.fabric import Fabric

    accelerator = "auto" if accelerator == "auto" else torch.device(accelerator).type
    return Fabric(accelerator=accelerator, devices=devices, num_nodes=num_nodes, strategy="ddp")


def map_sharded(work: ShardWork, items: Sequence[Any], devices: int = 1, num_nodes: int = 1,
                accelerator: str = "auto", fabric: Any = None) -> Optional[List[Any]]:
    """Run ``work`` on a share of ``items`` in each of ``devices * num_nodes`` processes.

    Args:
        work: ``work(share, device) -> results``, one result per item of the share, in its
            order; results must be picklable (they are gathered with ``all_gather_object``).
        items: the items (file paths, ...) on the global first process, which sends them to the
            others (theirs are ignored).
        devices, num_nodes, accelerator: as :func:`launcher`, which makes the Fabric when
            ``fabric`` is None.
        fabric: a Fabric from :func:`launcher`, not yet launched.

    Returns:
        on the global first process, the results of all items in the order of ``items``;
        None on every other process.
    """
    fabric = launcher(devices, num_nodes, accelerator) if fabric is None else fabric
    return fabric.launch(_worker, work, list(items))


def score_files(files: Sequence[Path], device: torch.device, body_name: str = "default", batch_size: int = 16,
                fps: Optional[float] = None, config: Optional[str] = None) -> List[List[Record]]:
    """Score motion files on ``device``: the share of one process.

    Args:
        files: motion files. device: where to score.
        body_name: ``--body`` (``"default"`` or an SMPL file). batch_size: sequences per batch.
        fps: frame rate for files that do not state one. config: ``--config`` overrides file.

    Returns:
        one list of records per file, in order: a record per sequence of the file (an error
        record for a sequence whose scoring raised), or one error record when the file cannot
        be read.
    """
    from .cli.common import load_body

    body = load_body(body_name)
    per_file: List[List[Record]] = [[] for _ in files]
    with config_overrides(config):
        pending: List[Dict[str, Any]] = []
        owners: List[int] = []
        for index, path in enumerate(files):
            sequences, failure = read_file_or_error(path, fps)
            if failure is not None:  # a bad file is that file's error, as in one process
                per_file[index].append(failure)
                continue
            pending.extend(sequences)
            owners.extend([index] * len(sequences))
        scored = score_sequences(pending, body, batch_size, str(device), isolate_failures=True)
        for owner, record in zip(owners, scored):
            per_file[owner].append(record)
    return per_file


class _ScoreFilesWork:
    """:func:`score_files` with the command's options bound (picklable, for the other processes)."""

    def __init__(self, body_name: str, batch_size: int, fps: Optional[float], config: Optional[str]) -> None:
        self.options = dict(body_name=body_name, batch_size=batch_size, fps=fps, config=config)

    def __call__(self, share: List[Path], device: torch.device) -> List[List[Record]]:
        return score_files(share, device, **self.options)


def evaluate_files(files: Sequence[Path], devices: int, num_nodes: int, device: str = "auto",
                   body_name: str = "default", batch_size: int = 16, fps: Optional[float] = None,
                   config: Optional[str] = None, flatten: bool = True, fabric: Any = None) -> Optional[List[Any]]:
    """Score ``files`` on ``devices * num_nodes`` processes (what ``humanscore evaluate
    --devices N --num-nodes M`` runs).

    Args:
        device: ``--device``: ``cpu``, ``cuda``/``cuda:K`` (the accelerator type is used; each
            process takes its own device) or ``auto``.
        flatten: True: one list of records; False: one list of records per file.
        fabric: as :func:`map_sharded`.
        the others: as :func:`score_files`; ``files`` is the first process's (see :func:`map_sharded`).

    Returns:
        on the global first process, the records of all files in file order (the same list
        one process writes), or with ``flatten=False`` one list per file; None on the others.
    """
    work = _ScoreFilesWork(body_name, batch_size, fps, config)
    per_file = map_sharded(work, list(files), devices, num_nodes, device, fabric)
    if per_file is None or not flatten:
        return per_file
    return [record for records in per_file for record in records]
