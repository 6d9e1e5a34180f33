"""symaudit: audit whether neural PDE emulators learned the symmetries of their equations.

Public modules: :mod:`symaudit.groups` (D4 and translations acting on fields by channel kind),
:mod:`symaudit.datasets` (families and channels), :mod:`symaudit.store` (Zarr stores),
:mod:`symaudit.losses`, :mod:`symaudit.models`, :mod:`symaudit.training`,
:mod:`symaudit.influence`, :mod:`symaudit.equivariance`, :mod:`symaudit.aggregate`,
:mod:`symaudit.validation` (the validation study's findings), :mod:`symaudit.testing`.
"""

__version__ = "0.1.0"
