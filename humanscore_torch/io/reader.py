"""Reading motion files into sequence dicts, finding them on disk, batching them."""

from __future__ import annotations

import glob
import importlib
import importlib.util
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

from ..config import load_config
from ..errors import MotionFileError
from ..motion import MotionBatch
from .containers import read_container
from .layouts import finish_track, read_layout

# Extensions find_motion_files collects from folders. .mot is OpenSim motion (read by
# humanscore_torch.io.opensim when installed).
MOTION_EXTENSIONS = (".npz", ".npy", ".pkl", ".pickle", ".joblib", ".pt", ".pth", ".mot")
_OPENSIM_READER = "humanscore_torch.io.opensim"


def _read_opensim(path: Path, fps: Optional[float], model: Optional[Path]) -> List[Dict[str, Any]]:
    """A ``.mot`` file goes to ``humanscore_torch.io.opensim.read_opensim_motion(path, model,
    fps=...)``, which returns the same list of sequence dicts as :func:`read_motion_file`."""
    if importlib.util.find_spec(_OPENSIM_READER) is None:
        raise MotionFileError(path, "OpenSim .mot import needs the opensim extra "
                                    "(pip install 'humanscore_torch[opensim]') and its reader, which is not installed")
    try:
        module = importlib.import_module(_OPENSIM_READER)
    except ImportError as exc:
        raise MotionFileError(path, f"OpenSim .mot import needs the opensim extra "
                                    f"(pip install 'humanscore_torch[opensim]'): {exc}") from exc
    return module.read_opensim_motion(path, model, fps=fps)


def read_motion_file(
    path: Union[str, Path],
    fps: Optional[float] = None,
    body=None,
    num_betas: Optional[int] = None,
    opensim_model: Optional[Union[str, Path]] = None,
) -> List[Dict[str, Any]]:
    """Read a motion file of any supported layout (see :mod:`humanscore_torch.io.layouts`).

    The layout is recognised from the keys, the container (npz, npy, pickle, joblib,
    torch.save) from the content; nothing in the file is executed.

    Args:
        path: the motion file (``.mot`` goes to the OpenSim reader when installed).
        fps: frame rate in Hz overriding the file's; None uses the file's, else the default of
            ``configs/io.yaml`` (30, noted in the metadata).
        body: a :class:`~humanscore_torch.body.BodyModel` used only to make z-up and camera
            frame conversions exact (its rest pelvis); None leaves a constant offset of the
            whole trajectory, which no metric sees (see :mod:`humanscore_torch.io.frames`).
        num_betas: shape coefficients kept (default ``configs/io.yaml``: 10).
        opensim_model: the ``.osim`` model of a ``.mot`` file; None: the only ``.osim`` next
            to it, else none (see :func:`humanscore_torch.io.opensim.read_opensim_motion`).

    Returns:
        one dict per person/track, ready for :meth:`MotionBatch.from_sequences`: float32
        tensors ``global_orient`` (T, 3), ``body_pose`` (T, 23, 3) axis-angle in radians,
        ``transl`` (T, 3) metres (y-up world), ``betas`` (num_betas,) or (T, num_betas), a
        float ``fps``, and ``metadata`` (``path``, ``layout``, ``track``, ``fps_source``,
        ``conversions`` -- every conversion applied, in words -- and ``model``/``prompt``/
        ``gender``/``body_model`` when known).

    Raises:
        MotionFileError: missing, truncated or corrupt file, unknown layout (naming the keys
            found), missing key or wrong-shaped array (naming the key, the shape found and the
            shape expected).
    """
    path = Path(path)
    if fps is not None and not fps > 0:
        raise MotionFileError(path, f"fps: expected a frame rate > 0, got {fps}")
    if path.suffix.lower() == ".mot":
        if not path.is_file():
            raise MotionFileError(path, "file not found")
        return _read_opensim(path, fps, None if opensim_model is None else Path(opensim_model))
    config = load_config("io")
    data = read_container(path)
    layout, tracks = read_layout(path, data)
    return [finish_track(track, path, layout, fps, float(config["default_fps"]),
                         int(num_betas or config["num_betas"]), body) for track in tracks]


def _is_glob(text: str) -> bool:
    return any(c in text for c in "*?[")


def find_motion_files(paths: Union[str, Path, Iterable[Union[str, Path]]]) -> List[Path]:
    """The motion files named by files, folders and glob patterns.

    * a file is taken as it is, whatever its extension;
    * a folder is searched recursively for files with a motion extension (``MOTION_EXTENSIONS``),
      skipping the estimators' non-motion side files listed in ``configs/io.yaml``
      (``auxiliary_files``: WHAM's tracking_results.pth, TRAM's camera.npy, ...) and hidden
      folders;
    * a glob pattern (``runs/**/*.pkl``, recursive) gives the files it matches (folders among
      them are searched as above);
    * a path that does not exist and is no pattern is kept, so that reading it reports it as
      missing (the CLI lists it as a failed clip rather than dropping it silently).

    Returns:
        the files, sorted and without duplicates (same resolved path).
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    skip = set(load_config("io")["auxiliary_files"])
    found: Dict[Path, Path] = {}

    def add(path: Path) -> None:
        found.setdefault(path.resolve(), path)

    def search(folder: Path) -> None:
        for candidate in folder.rglob("*"):
            relative = candidate.relative_to(folder).parts
            if any(part.startswith(".") for part in relative):
                continue
            if candidate.is_file() and candidate.suffix.lower() in MOTION_EXTENSIONS and candidate.name not in skip:
                add(candidate)

    for entry in paths:
        text = str(entry)
        path = Path(text)
        if path.is_dir():
            search(path)
        elif path.is_file() or not _is_glob(text):
            add(path)
        else:
            for match in sorted(glob.glob(text, recursive=True)):
                match_path = Path(match)
                if match_path.is_dir():
                    search(match_path)
                elif match_path.suffix.lower() in MOTION_EXTENSIONS and match_path.name not in skip:
                    add(match_path)
    return sorted(found.values(), key=str)


def load_motion_batch(
    sources: Sequence[Union[str, Path, Dict[str, Any]]],
    fps: Optional[float] = None,
    body=None,
) -> MotionBatch:
    """Read files (every track of each) and/or take sequence dicts, and pad them into one batch.

    Args:
        sources: motion file paths, folders or globs (expanded by :func:`find_motion_files`)
            and/or sequence dicts as :func:`read_motion_file` returns them.
        fps: frame rate overriding the files' (dicts keep their own).
        body: passed to :func:`read_motion_file` for exact frame conversions.

    Returns:
        a :class:`~humanscore_torch.motion.MotionBatch` of all tracks, in order.
    """
    sequences: List[Dict[str, Any]] = []
    for source in sources:
        if isinstance(source, dict):
            sequences.append(source)
            continue
        for path in find_motion_files([source]):
            sequences.extend(read_motion_file(path, fps=fps, body=body))
    return MotionBatch.from_sequences(sequences)
