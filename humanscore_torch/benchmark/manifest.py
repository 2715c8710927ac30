"""Manifests: a CSV that says, per generated clip, which model made it from which prompt.

A manifest has a ``path`` column (relative to the manifest's folder, or absolute) and any
others (``model``, ``prompt_id``, ``seed``, ...). ``humanscore evaluate --manifest FILE.csv``
puts each file's columns into its clips' metadata, so ``--group-by`` takes any column; a
``prompt_id`` of the suite (:mod:`humanscore_torch.benchmark.prompts`) also gives the clip the
prompt's ``category``, ``intensity`` and ``variant`` (columns of the manifest win).

The manifest is untrusted input: it is read as text only (no cell is evaluated, no type is
guessed), within the bounds of ``configs/io.yaml`` ``manifest`` (file size, rows, columns,
characters per cell), and a file that is not a regular file, not UTF-8, holds a NUL byte,
lacks ``path``, repeats a column or a path, or has a row of the wrong width is refused with
the line.
"""

from __future__ import annotations

import csv
import io
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

from ..config import load_config
from ..errors import HumanScoreError
from .prompts import Prompt, prompts_by_id

PATH_COLUMN = "path"
PROMPT_COLUMN = "prompt_id"
# What a suite prompt adds to a clip that names it in prompt_id.
PROMPT_FIELDS = ("category", "intensity", "variant")


class ManifestError(HumanScoreError):
    """A manifest cannot be used: not readable, beyond a bound, or malformed."""

    def __init__(self, path, problem: str):
        super().__init__(f"manifest {path}: {problem}")


def resolved(path: Path) -> Path:
    """``path`` made absolute with symlinks resolved (a symlink loop: absolute, unresolved),
    so a manifest row and a file found on the command line compare equal."""
    try:
        return Path(path).resolve()
    except (OSError, RuntimeError):
        return Path(os.path.abspath(path))


@dataclass
class Manifest:
    """The rows of a manifest, by file.

    Attributes:
        path: the manifest file. columns: its header, ``path`` first as written.
        rows: resolved file path -> that row's columns (``path`` left out; every value text).
        suite: the prompt suite by id (:func:`~humanscore_torch.benchmark.prompts.prompts_by_id`).
    """

    path: Path
    columns: List[str]
    rows: Dict[Path, Dict[str, str]] = field(default_factory=dict)
    suite: Dict[str, Prompt] = field(default_factory=prompts_by_id, repr=False)

    def files(self) -> List[Path]:
        """The files the manifest names, in its order."""
        return list(self.rows)

    def metadata_for(self, file: Path) -> Optional[Dict[str, Any]]:
        """What the manifest says of ``file``: its columns plus, when its ``prompt_id`` is in
        the suite, the prompt's :data:`PROMPT_FIELDS` (the manifest's own columns win); None
        when the manifest has no row for it."""
        row = self.rows.get(resolved(file))
        if row is None:
            return None
        prompt = self.suite.get(row.get(PROMPT_COLUMN, ""))
        suite = {} if prompt is None else {name: getattr(prompt, name) for name in PROMPT_FIELDS}
        return {**suite, **row}

    def unknown_prompts(self) -> List[str]:
        """The ``prompt_id`` values that are not in the suite (sorted, without repeats)."""
        return sorted({row[PROMPT_COLUMN] for row in self.rows.values()
                       if row.get(PROMPT_COLUMN) and row[PROMPT_COLUMN] not in self.suite})


def _check_file(path: Path, max_bytes: int) -> None:
    try:
        info = os.stat(path)
    except OSError as exc:
        raise ManifestError(path, f"cannot be read ({exc.strerror or exc})") from exc
    if not stat.S_ISREG(info.st_mode):
        raise ManifestError(path, "not a regular file")
    if info.st_size > max_bytes:
        raise ManifestError(path, f"{info.st_size} bytes, more than configs/io.yaml manifest.max_bytes ({max_bytes})")


def read_manifest(path: Path) -> Manifest:
    """Read a manifest CSV (see the module docstring for what it holds and what is refused).

    Raises:
        ManifestError: with the reason and, for a bad row, its line.
    """
    path = Path(path)
    bounds = load_config("io")["manifest"]
    max_bytes, max_rows = int(bounds["max_bytes"]), int(bounds["max_rows"])
    max_columns, max_chars = int(bounds["max_columns"]), int(bounds["max_field_chars"])
    _check_file(path, max_bytes)
    with open(path, "rb") as fh:
        data = fh.read(max_bytes + 1)  # the file may have grown since the stat
    if len(data) > max_bytes:
        raise ManifestError(path, f"more than configs/io.yaml manifest.max_bytes ({max_bytes})")
    if b"\0" in data:
        raise ManifestError(path, "holds a NUL byte: not a text CSV")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ManifestError(path, f"not UTF-8 text (byte {exc.start})") from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        raise ManifestError(path, "empty: expected a header with a 'path' column")
    header = [name.strip() for name in header]
    if len(header) > max_columns:
        raise ManifestError(path, f"{len(header)} columns, more than configs/io.yaml manifest.max_columns "
                                  f"({max_columns})")
    if PATH_COLUMN not in header:
        raise ManifestError(path, f"no '{PATH_COLUMN}' column (header: {', '.join(header)})")
    repeated = sorted({name for name in header if header.count(name) > 1 or not name})
    if repeated:
        raise ManifestError(path, f"empty or repeated column names: {repeated}")
    manifest = Manifest(path=path, columns=header)
    lines: Dict[Path, int] = {}
    folder = path.parent
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue  # a blank line
            if len(manifest.rows) >= max_rows:
                raise ManifestError(path, f"more than configs/io.yaml manifest.max_rows ({max_rows}) rows")
            if len(row) != len(header):
                raise ManifestError(path, f"line {line}: {len(row)} cells, expected {len(header)} (the header's)")
            if any(len(cell) > max_chars for cell in row):
                raise ManifestError(path, f"line {line}: a cell of more than configs/io.yaml "
                                          f"manifest.max_field_chars ({max_chars}) characters")
            cells = {name: cell.strip() for name, cell in zip(header, row)}
            file = cells.pop(PATH_COLUMN)
            if not file:
                raise ManifestError(path, f"line {line}: empty path")
            key = resolved(folder / file)  # an absolute path stays as it is
            if key in lines:
                raise ManifestError(path, f"line {line}: {file} is already on line {lines[key]}")
            lines[key] = line
            manifest.rows[key] = cells
    except csv.Error as exc:
        raise ManifestError(path, f"line {reader.line_num}: {exc}") from exc
    return manifest


def unmatched(manifest: Manifest, files: Sequence[Path]) -> Mapping[str, List[str]]:
    """What does not join: ``"files"``, the files (as given) without a manifest row, and
    ``"rows"``, the manifest's files that are not among ``files``."""
    keys = {resolved(f): f for f in files}
    return {"files": [str(f) for k, f in keys.items() if k not in manifest.rows],
            "rows": [str(k) for k in manifest.rows if k not in keys]}


__all__ = ["Manifest", "ManifestError", "PATH_COLUMN", "PROMPT_COLUMN", "PROMPT_FIELDS", "read_manifest",
           "resolved", "unmatched"]
