"""Helpers to run real Snakemake workflows on a copy of the repository in a temporary directory.

The copy keeps the repository clean and lets tests edit source files (to check which jobs a
change reruns) without touching the checkout.  The tiny study runs ONCE per session
(`tiny_study`); tests then inspect its outputs and dry-run variations against it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COPIED = [
    "Snakefile",
    "workflow",
    "src",
    "config",
    "envs",
    "bench/unit_costs.json",
    "tests/workflow/tiny.yaml",
    "tests/workflow/by_model.yaml",
]


def copy_repo(dest: Path) -> Path:
    for name in COPIED:
        src = ROOT / name
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(src, target)
    return dest


def snakemake(workdir: Path, *args: str, check: bool = True, timeout: int = 1800):
    """Run snakemake in ``workdir`` with this interpreter's environment first on PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("PYTHONPATH", None)  # the workflow points PYTHONPATH at the copy's src/
    cmd = [sys.executable, "-m", "snakemake", *args]
    proc = subprocess.run(
        cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout
    )
    if check and proc.returncode != 0:
        logs = (
            "\n".join(
                f"--- {p}\n{p.read_text()[-3000:]}"
                for p in sorted((workdir / "logs").rglob("*.log"))
            )
            if (workdir / "logs").exists()
            else ""
        )
        raise AssertionError(
            f"snakemake {' '.join(args)} failed ({proc.returncode}):\n"
            f"{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}\n{logs[-8000:]}"
        )
    return proc


TINY = ["--configfile", "tests/workflow/tiny.yaml"]
