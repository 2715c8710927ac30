"""Validation on the OpenSim reference data: the figures ``humanscore validate`` prints.

:mod:`.trial` measures (the real running trial, imported onto an SMPL body and as joints
placed by OpenSim; the round trip through OpenSim), :mod:`.figures` collects the numbers with
their thresholds and formats them. Needs the ``opensim`` package and the reference data.
"""

from .figures import Figure, figures_to_json, format_table, validate
from .trial import ImportedTrial, RunningTrial, reference_data_dir, round_trip

__all__ = ["Figure", "ImportedTrial", "RunningTrial", "figures_to_json", "format_table", "reference_data_dir", "round_trip", "validate"]
