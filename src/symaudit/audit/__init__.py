"""Audit a foreign emulator on foreign data: ``symaudit audit`` (docs/audit.md).

* :func:`load_model` -- a model from a SPEC (``python:pkg.module:factory``,
  ``torchscript:FILE``, ``export:FILE``, ``neuraloperator:FOLDER/NAME``), ``_spec``;
* :func:`parse_layout` / :class:`Adapter` -- the model's own tensor layout in einops-like
  notation, seen as symaudit's ``(batch, channel, y, x)``, ``_layout``;
* :func:`read_data` -- the_well and PDEBench HDF5, netCDF, symaudit Zarr as
  ``(trajectory, time, channel, y, x)`` with channel kinds and periodic axes, ``_data``/``_hdf5``;
* :func:`allowed` -- the elements the grid and boundaries allow, and why others are dropped,
  ``_group``;
* :func:`measure` -- relative errors and equivariance residuals per element, with the
  tolerance of the model's dtype, ``_measure``;
* :func:`audit` -- all of it, writing the tables (``_tables``) and ``report.html`` (``_html``).
"""

from ._data import Foreign, read_data
from ._group import DEFAULT_SETS, Allowed, allowed
from ._layout import Adapter, Layout, parse_layout
from ._measure import TOLERANCE, history_channels, measure, tolerance, transitions
from ._run import audit
from ._spec import LoadedModel, load_model

__all__ = [
    "DEFAULT_SETS",
    "TOLERANCE",
    "Adapter",
    "Allowed",
    "Foreign",
    "Layout",
    "LoadedModel",
    "allowed",
    "audit",
    "history_channels",
    "load_model",
    "measure",
    "parse_layout",
    "read_data",
    "tolerance",
    "transitions",
]
