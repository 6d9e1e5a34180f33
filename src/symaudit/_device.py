"""The default compute device of every stage, and the one check that keeps a Slurm GPU job from
silently running on the CPU.

A job that Slurm gave a GPU (``sbatch --gpus`` / ``--gres=gpu:N``) has ``SLURM_JOB_ID`` and at
least one of ``SLURM_JOB_GPUS``, ``SLURM_STEP_GPUS``, ``SLURM_GPUS_ON_NODE`` or
``CUDA_VISIBLE_DEVICES`` naming a device.  When torch sees no CUDA device there (a CPU build of
torch, a CUDA build too new for the node's driver, a broken module environment), falling back to
the CPU would turn an hour of GPU time into days of CPU time without a word: the stage stops with
one line instead (docs/slurm.md, "A GPU job that sees no GPU").  ``--device cpu`` on the command
line is never checked.  ``SYMAUDIT_ALLOW_CPU_FALLBACK=1`` allows the fallback on purpose: the
project's test cluster (tests/slurm/cluster.sh) hands out fake GPUs that no torch can see.
"""

from __future__ import annotations

import os

import torch

#: environment variables through which Slurm (or srun) names a job's GPUs
SLURM_GPU_VARIABLES = (
    "SLURM_JOB_GPUS",
    "SLURM_STEP_GPUS",
    "SLURM_GPUS_ON_NODE",
    "CUDA_VISIBLE_DEVICES",
)
ALLOW_CPU_FALLBACK = "SYMAUDIT_ALLOW_CPU_FALLBACK"


def slurm_gpus(environ: os._Environ | dict | None = None) -> dict[str, str]:
    """The variables that say Slurm gave this job a GPU (empty outside a GPU job)."""
    env = os.environ if environ is None else environ
    if not env.get("SLURM_JOB_ID"):
        return {}
    found = {}
    for name in SLURM_GPU_VARIABLES:
        value = env.get(name, "").strip()
        # a count of 0, "NoDevFiles" and "-1" (CUDA's "none") name no device; elsewhere "0" is
        # the index of the first GPU
        none = {"", "-1", "NoDevFiles"} | ({"0"} if name == "SLURM_GPUS_ON_NODE" else set())
        if value not in none:
            found[name] = value
    return found


def check_gpu_visible() -> None:
    """Raise a one-line error when Slurm gave this job a GPU that torch cannot see."""
    given = slurm_gpus()
    if not given or torch.cuda.is_available():
        return
    if os.environ.get(ALLOW_CPU_FALLBACK, "") not in {"", "0"}:
        return
    from symaudit.errors import UserError

    named = ", ".join(f"{k}={v}" for k, v in given.items())
    build = f"CUDA {torch.version.cuda} build" if torch.version.cuda else "CPU build"
    raise UserError(
        f"Slurm job {os.environ['SLURM_JOB_ID']} was given a GPU ({named}) but torch "
        f"{torch.__version__} ({build}) sees none: install a CUDA build for this node "
        f"(docs/slurm.md), pass --device cpu, or set {ALLOW_CPU_FALLBACK}=1 to run on the CPU"
    )


def default_device() -> torch.device:
    """``cuda`` when torch sees a GPU, else ``cpu`` -- unless Slurm gave the job a GPU that
    torch cannot see (then :func:`check_gpu_visible` raises)."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    check_gpu_visible()
    return torch.device("cpu")


def choose_device(name: str | torch.device | None = "auto") -> torch.device:
    """The one device choice of every stage.  ``auto`` (or None): :func:`default_device`;
    otherwise ``cpu``, ``cuda`` or ``cuda:i``, checked: a CUDA request on a machine without
    CUDA is a :class:`~symaudit.errors.UserError`."""
    from symaudit.errors import UserError

    if name is None or name == "auto":
        return default_device()
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UserError(f"device {name!r}: expected auto, cpu or cuda[:i]") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device {name}: CUDA is not available on this machine")
    return device
