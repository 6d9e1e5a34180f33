"""Headless Chromium for tests that look at HTML output (the Snakemake report).

:func:`require_chromium` returns the browser's path, installing Debian's ``chromium`` package
when running as root and it is missing; otherwise the calling test is skipped.
:func:`screenshot` renders a local HTML file to a PNG.

Flags: ``--headless --no-sandbox`` (root in a container has no user namespace for the
sandbox), ``--disable-gpu`` (no display), and the ``--disable-*``/``--no-first-run`` set stops
every background network call (updates, sync, QUIC), so a screenshot never waits on the network.
A fresh ``--user-data-dir`` per call keeps runs independent and leaves no profile lock behind.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
INSTALL_TIMEOUT_S = 900


def find_chromium() -> str | None:
    """The first Chromium-like browser on PATH, or None."""
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def _apt_install() -> tuple[bool, str]:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
    run = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=INSTALL_TIMEOUT_S)
    if run.returncode != 0:  # stale package lists: refresh once and retry
        subprocess.run(
            ["apt-get", "update"], capture_output=True, env=env, timeout=INSTALL_TIMEOUT_S
        )
        run = subprocess.run(
            cmd, capture_output=True, text=True, env=env, timeout=INSTALL_TIMEOUT_S
        )
    return run.returncode == 0, (run.stderr or run.stdout)[-500:]


def require_chromium() -> str:
    """Path of a Chromium binary; install it (root + apt-get) or skip the test."""
    path = find_chromium()
    if path:
        return path
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip("chromium is not installed and cannot be installed (needs root and apt-get)")
    try:
        ok, log = _apt_install()
    except (OSError, subprocess.TimeoutExpired) as err:
        pytest.skip(f"installing chromium failed: {err}")
    path = find_chromium()
    if not ok or path is None:
        pytest.skip(f"installing chromium failed: {log}")
    return path


def screenshot(
    html: str | os.PathLike,
    png: str | os.PathLike,
    *,
    width: int = 1400,
    height: int = 3000,
    browser: str | None = None,
    timeout: float = 120,
) -> Path:
    """Render ``html`` headlessly into ``png`` (``width`` x ``height`` pixels); returns ``png``.

    Raises :class:`RuntimeError` with Chromium's stderr when no screenshot appears.
    """
    browser = browser or require_chromium()
    html, png = Path(html).resolve(), Path(png).resolve()
    png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        cmd = [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            f"--screenshot={png}",
            f"--window-size={width},{height}",
            html.as_uri(),
        ]
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if not png.exists() or png.stat().st_size == 0:
        raise RuntimeError(
            f"chromium wrote no screenshot (exit {run.returncode}): {run.stderr[-2000:]}"
        )
    return png


def png_size(path: str | os.PathLike) -> tuple[int, int]:
    """(width, height) of a PNG, read from its IHDR chunk."""
    data = Path(path).read_bytes()[:24]
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path} is not a PNG")
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
