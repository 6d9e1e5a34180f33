"""Headless Chromium for tests that look at HTML output (the Snakemake report).

:func:`require_chromium` returns the browser's path, or skips the calling test when there is
none (the tests install nothing; ``.ci/run`` installs Debian's ``chromium`` package).
:func:`screenshot` renders a local HTML file to a PNG; :func:`evaluate` runs a JavaScript
expression in it once rendered (DOM geometry, computed styles) and returns its JSON value.

Flags: ``--headless --no-sandbox`` (root in a container has no user namespace for the
sandbox), ``--disable-gpu`` (no display), and the ``--disable-*``/``--no-first-run`` set stops
every background network call (updates, sync, QUIC), so a screenshot never waits on the network.
A fresh ``--user-data-dir`` per call keeps runs independent and leaves no profile lock behind.
"""

from __future__ import annotations

import html as _html
import json
import os
import re
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


def _flags(profile: str, width: int, height: int) -> list[str]:
    return [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        f"--window-size={width},{height}",
    ]


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
        cmd = [browser, *_flags(profile, width, height), f"--screenshot={png}", html.as_uri()]
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


_PROBE = """<script>
window.addEventListener("load", () => setTimeout(() => {
  let out;
  try { out = {value: (() => (%s))()}; }
  catch (err) { out = {error: String(err)}; }
  out.viewport = [window.innerWidth, window.innerHeight];
  const pre = document.createElement("pre");
  pre.id = "chromium-probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
}, %d));
</script>"""


def _probe(browser: str, page: Path, size: tuple[int, int], delay_ms: int, timeout: float):
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        cmd = [
            browser,
            *_flags(profile, *size),
            f"--virtual-time-budget={delay_ms + 10_000}",
            "--dump-dom",
            page.as_uri(),
        ]
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    found = re.search(r'<pre id="chromium-probe">(.*?)</pre>', run.stdout, re.S)
    if found is None:
        raise RuntimeError(
            f"chromium printed no probe value (exit {run.returncode}): {run.stderr[-2000:]}"
        )
    out = json.loads(_html.unescape(found.group(1)))
    if "error" in out:
        raise RuntimeError(f"the probe expression raised: {out['error']}")
    return out


def evaluate(
    html: str | os.PathLike,
    expression: str,
    *,
    width: int = 1400,
    height: int = 900,
    delay_ms: int = 1000,
    browser: str | None = None,
    timeout: float = 120,
) -> object:
    """The JSON value of the JavaScript ``expression`` in ``html`` rendered headlessly with a
    ``width`` x ``height`` viewport, ``delay_ms`` after the page's ``load`` event (scripts that
    render after load, such as the Snakemake report's React app, have run by then).

    A copy of the page gets a probe script before ``</body>`` that writes the value into the
    DOM, which ``--dump-dom`` prints (``--virtual-time-budget`` runs the timers without
    waiting).  Headless Chromium's window includes a simulated browser UI (a 900 px high
    window has a 757 px viewport), so when the viewport differs the window is enlarged by the
    difference and the page probed again.  Raises :class:`RuntimeError` when the probe
    reports no value or an exception, or the viewport cannot be had.
    """
    browser = browser or require_chromium()
    page = Path(html).resolve().read_text(errors="replace")
    cut = page.rfind("</body>")
    cut = len(page) if cut < 0 else cut
    with tempfile.TemporaryDirectory(prefix="chromium-probe-") as tmp:
        copy = Path(tmp) / "page.html"
        copy.write_text(page[:cut] + _PROBE % (expression, delay_ms) + page[cut:])
        window = (width, height)
        for _ in range(2):
            out = _probe(browser, copy, window, delay_ms, timeout)
            got = tuple(out["viewport"])
            if got == (width, height):
                return out["value"]
            window = (window[0] + width - got[0], window[1] + height - got[1])
    raise RuntimeError(f"chromium gave a {got[0]}x{got[1]} viewport, not {width}x{height}")
