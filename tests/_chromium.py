"""Headless Chromium for tests that look at HTML output (the Snakemake report).

:func:`require_chromium` returns the browser's path, or skips the calling test when there is
none (the tests install nothing; ``.ci/run`` installs Debian's ``chromium`` package).
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


def find_chromium() -> str | None:
    """The first Chromium-like browser on PATH, or None."""
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def require_chromium() -> str:
    """Path of a Chromium binary, or skip the calling test (tests install nothing: CI's
    ``.ci/run`` installs Debian's ``chromium`` package before the suite)."""
    path = find_chromium()
    if path is None:
        pytest.skip("chromium is not installed (apt-get install chromium; .ci/run does)")
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
