"""Sizes of the aggregation tests' synthetic study (the ``study`` fixture of conftest.py)."""

SEEDS, BATCHES, T, N, K = (0, 1, 2), 2, 4, 8, 2
CLASSES = 3
UNCONVERGED = ("NS", "vit", 2, 1)  # (dataset, model, seed, batch) with one failed ket solve
