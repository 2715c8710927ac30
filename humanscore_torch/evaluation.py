"""Scoring sequences with every available metric and turning the results into per-clip records.

The record layout is the stable ``results.json`` format of spec section 8: ``path``,
``num_frames``, ``fps``, ``scores`` (0-100 by overall, tier and metric key; ``None`` where a
metric was not computed), ``raw`` (per metric key: value and unit), ``error``. Text in a
record is always valid Unicode (:func:`printable_text`), so every format can hold it.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple

import torch

from .body.model import BodyModel
from .errors import HumanScoreError, InputValueError
from .aggregate import aggregate_scores
from .io import read_motion_file
from .motion import MotionBatch
from .registry import METRIC_KEYS, OVERALL_KEY, TIERS, MetricFn, MetricResult, available_metrics


def printable_text(text: str) -> str:
    """``text`` with what is not valid Unicode escaped, so that any writer can encode it.

    A file name that is not valid UTF-8 comes from the operating system as a ``str`` holding
    lone surrogates (Python's ``surrogateescape``), which UTF-8 writers (csv, Markdown, the
    console) refuse: each such byte becomes ``\\xNN`` (the name ``b"clip\\xff.npz"`` reads
    ``clip\\xff.npz``). Valid text is returned as it is.
    """
    try:
        data = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate no file system gives: shown as \udXXX
        data = text.encode("utf-8", "backslashreplace")
    return data.decode("utf-8", "backslashreplace")


def _scalar_metadata(metadata: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """The scalar entries of a clip's metadata, for its record (text made printable)."""
    return {k: printable_text(v) if isinstance(v, str) else v
            for k, v in (metadata or {}).items() if isinstance(v, (str, int, float, bool))}


def score_batch(
    batch: MotionBatch, body: BodyModel, metrics: Optional[Dict[str, MetricFn]] = None
) -> Dict[str, MetricResult]:
    """Run every metric on one batch, on the inputs :func:`humanscore_torch.adapter.metric_inputs`
    makes of it (the ones the ``HumanScore`` collection feeds its classes).

    Args:
        batch: the sequences, already on the target device.
        body: the body model, on the same device.
        metrics: key -> metric function (``registry.available_metrics()``, all six, when None).

    Returns:
        metric key -> MetricResult with (B,) raw values and scores.
    """
    metrics = available_metrics() if metrics is None else metrics
    # Joints are posed once and shared through the batch's cache; the adapter poses the mesh a
    # window of frames at a time, so memory does not grow with clip length.
    with torch.no_grad():
        return {key: fn(batch, body) for key, fn in metrics.items()}


def batch_records(batch: MotionBatch, results: Dict[str, MetricResult]) -> List[Dict[str, Any]]:
    """One results.json record per sequence of ``batch``.

    Tier score = weighted mean of its computed metrics; overall = weighted mean of the
    computed tiers (weights in ``configs/humanscore.yaml``, see
    :func:`~humanscore_torch.aggregate.aggregate_scores`). A metric that was not
    computed (or not implemented) is ``None`` and is left out of the means, visibly, never
    counted as 100.
    """
    agg_scores, agg_computed = aggregate_scores({k: r.score for k, r in results.items()},
                                                {k: r.computed for k, r in results.items()})
    # Each tensor is read to the host once (.tolist()), not once per clip: on a GPU every
    # float()/bool() of an element is a synchronisation.
    metric = {key: (r.computed.tolist(), r.score.tolist(), r.raw.tolist(), r.unit) for key, r in results.items()}
    tier = {key: (agg_computed[key].tolist(), agg_scores[key].tolist()) for key in (OVERALL_KEY, *TIERS)}
    lengths, fps, nonfinite = batch.lengths.tolist(), batch.fps.tolist(), batch.nonfinite_frames.tolist()
    records = []
    for i in range(batch.batch_size):
        scores: Dict[str, Optional[float]] = {key: None for key in METRIC_KEYS}
        raw: Dict[str, Optional[Dict[str, Any]]] = {key: None for key in METRIC_KEYS}
        for key, (computed, score, value, unit) in metric.items():
            if computed[i]:
                scores[key] = float(score[i])
                raw[key] = {"value": float(value[i]), "unit": unit}
        tiers = {key: float(score[i]) if computed[i] else None for key, (computed, score) in tier.items()}
        meta = batch.metadata[i]
        records.append({
            "path": _record_path(meta, i),
            "num_frames": int(lengths[i]),
            "fps": float(fps[i]),
            "scores": {**tiers, **scores},
            "raw": raw,
            "metadata": _scalar_metadata(meta),
            "nonfinite_frames": int(nonfinite[i]),
            "error": None,
        })
    return records


def error_record(path: str, error: str, metadata: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """The record of a clip that could not be scored: every score and raw value ``None``,
    ``num_frames`` 0, ``error`` the reason. ``metadata`` (the clip's, when it was read) keeps
    its scalar entries, so ``--group-by`` counts the failure in the clip's group."""
    return {"path": printable_text(path), "num_frames": 0, "fps": None,
            "scores": {OVERALL_KEY: None, **{t: None for t in TIERS}, **{k: None for k in METRIC_KEYS}},
            "raw": {k: None for k in METRIC_KEYS}, "metadata": _scalar_metadata(metadata), "nonfinite_frames": 0,
            "error": printable_text(error)}


def describe_error(exc: BaseException) -> str:
    """``"ExceptionType: message"``, the ``error`` of a record whose scoring raised ``exc``."""
    message = str(exc).strip()
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def describe_read_error(exc: BaseException) -> str:
    """The ``error`` of a file that could not be read: the library's own read errors
    (:class:`HumanScoreError`) as they are -- they name the file and the problem -- anything
    else, being unexpected, as :func:`describe_error` (type and message)."""
    return str(exc) if isinstance(exc, HumanScoreError) else describe_error(exc)


def _record_path(metadata: Optional[Dict[str, Any]], index: int) -> str:
    """A record's ``path``: the clip's file, else its name, else its place in the batch (one
    rule for scored and failed records, so a failure is listed under its clip)."""
    meta = metadata or {}
    return printable_text(str(meta.get("path", meta.get("name", f"sequence_{index}"))))


def read_file_or_error(path: Path, default_fps: Optional[float] = None, opensim_model: Optional[Path] = None
                       ) -> Tuple[List[Dict[str, Any]], Optional[Dict[str, Any]]]:
    """Read a motion file for scoring: its sequence dicts and None, or no sequence and the
    file's :func:`error_record` when it cannot be read (any exception: a bad file is that
    file's failure, not the run's) or holds no sequence. ``default_fps`` is the rate of a file
    that states none (``--fps``); a file's own rate is kept. ``opensim_model``: the ``.osim`` of
    ``.mot`` files (see :func:`~humanscore_torch.io.reader.read_motion_file`)."""
    try:
        sequences = read_motion_file(path, default_fps=default_fps, opensim_model=opensim_model)
        if not sequences:
            raise HumanScoreError(f"{path}: the file holds no motion sequence")
    except Exception as exc:  # noqa: BLE001
        return [], error_record(str(path), describe_read_error(exc))
    return sequences, None


ScoredChunk = Tuple[Optional[MotionBatch], Optional[Dict[str, MetricResult]], List[Dict[str, Any]]]


def _score_chunk(chunk: List[Dict[str, Any]], body: BodyModel, metrics: Dict[str, MetricFn],
                 device: str) -> ScoredChunk:
    batch = MotionBatch.from_sequences(chunk).to(device)
    results = score_batch(batch, body, metrics)
    return batch, results, batch_records(batch, results)


def _score_chunk_isolated(chunk: List[Dict[str, Any]], body: BodyModel, metrics: Dict[str, MetricFn],
                          device: str) -> List[ScoredChunk]:
    """Score ``chunk`` as one batch; when that raises, score its sequences one at a time so
    that only the sequences that fail on their own get error records.

    Only ``Exception`` is caught: KeyboardInterrupt and SystemExit still stop the run.
    """
    try:
        return [_score_chunk(chunk, body, metrics, device)]
    except Exception as exc:  # noqa: BLE001 -- any failure of a readable clip is that clip's error
        if len(chunk) == 1:
            return [(None, None, [error_record(_record_path(chunk[0].get("metadata"), 0), describe_error(exc),
                                               chunk[0].get("metadata"))])]
    scored: List[ScoredChunk] = []
    for index, sequence in enumerate(chunk):
        try:
            scored.append(_score_chunk([sequence], body, metrics, device))
        except Exception as exc:  # noqa: BLE001
            scored.append((None, None, [error_record(_record_path(sequence.get("metadata"), index), describe_error(exc),
                                                     sequence.get("metadata"))]))
    return scored


def score_sequences(
    sequences: Iterable[Dict[str, Any]],
    body: BodyModel,
    batch_size: int = 16,
    device: str = "cpu",
    on_batch: Optional[Callable[[List[Dict[str, Any]]], None]] = None,
    on_results: Optional[Callable[[MotionBatch, Dict[str, MetricResult], List[Dict[str, Any]]], None]] = None,
    isolate_failures: bool = False,
) -> Iterator[Dict[str, Any]]:
    """Score sequences (dicts as read by ``humanscore_torch.io``) in batches on ``device``.

    ``sequences`` may be any iterable, e.g. a generator reading files: only one batch of
    ``batch_size`` sequences is held at a time, so memory does not grow with their number.
    Yields one record per sequence, in order, as each batch finishes, so callers can write
    results incrementally; ``on_batch`` is called with each batch's records, ``on_results``
    with the batch, its MetricResults (per-frame details for reports) and its records.

    Args:
        isolate_failures: False (default): an exception while batching or scoring propagates.
            True: a batch that raises (a readable but malformed clip, e.g. an fps out of range
            or arrays that do not batch) is scored again one sequence at a time, and each
            sequence that still fails gets an :func:`error_record` whose ``error`` is the
            exception's type and message (:func:`describe_error`); the others are scored as
            usual, so one bad clip costs only its own record. ``on_results`` is then called per
            sub-batch that scored. KeyboardInterrupt and SystemExit are never caught.
    """
    if batch_size <= 0:
        raise InputValueError(f"batch_size: expected a positive number of sequences, got {batch_size}")
    body = body.to(device)
    metrics = available_metrics()
    iterator = iter(sequences)
    while True:
        chunk = list(itertools.islice(iterator, batch_size))
        if not chunk:
            return
        if isolate_failures:
            scored = _score_chunk_isolated(chunk, body, metrics, device)
        else:
            scored = [_score_chunk(chunk, body, metrics, device)]
        records: List[Dict[str, Any]] = []
        for batch, results, batch_recs in scored:
            # Callbacks run outside the isolation: an error in the caller's code is not a clip's.
            if on_results is not None and batch is not None and results is not None:
                on_results(batch, results, batch_recs)
            records.extend(batch_recs)
        if on_batch is not None:
            on_batch(records)
        # A suspended generator keeps its locals: drop this chunk's clips, batch (with its posed
        # vertices) and results now, or they would still be alive while the next chunk is read
        # and scored, and the peak would hold two chunks.
        chunk = scored = batch = results = batch_recs = None
        yield from records
