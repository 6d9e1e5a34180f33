"""What a study costs before it is submitted: jobs per rule from its config (``Plan``), per-job
time from unit costs measured on this machine (``bench/unit_costs.py``), the Slurm profile's
requests, and a run's benchmark files (``symaudit cost``; torch-free)."""

from symaudit.cost._model import COLUMNS, Costs, Row, build_table, write_csv
from symaudit.cost._plan import Plan, Run, load_config
from symaudit.cost._profile import load_profile, read_benchmarks, rule_resources

__all__ = [
    "COLUMNS",
    "Costs",
    "Plan",
    "Row",
    "Run",
    "build_table",
    "load_config",
    "load_profile",
    "read_benchmarks",
    "rule_resources",
    "write_csv",
]
