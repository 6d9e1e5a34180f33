"""The ``symaudit`` console script: ``--version``, help on every option, timestamped logs."""

from __future__ import annotations

import argparse
import importlib
import re
import subprocess
import sys

import pytest

import symaudit
from symaudit import cli


def test_version(capsys):
    with pytest.raises(SystemExit) as caught:
        cli.main(["--version"])
    assert caught.value.code == 0
    assert capsys.readouterr().out.strip() == f"symaudit {symaudit.__version__}"


def test_log_level_before_the_command(capsys):
    argv = ["--log-level", "debug", "model-info", "unet", "--preset", "tiny", "--dataset", "CE"]
    assert cli.main(argv) == 0
    assert capsys.readouterr().out.startswith("parameters: ")


@pytest.mark.parametrize("command", sorted(cli.COMMANDS))
def test_every_option_has_help(command):
    parser = argparse.ArgumentParser()
    importlib.import_module(cli.COMMANDS[command][0]).add_arguments(parser)
    missing = [
        "/".join(a.option_strings) or a.dest
        for a in parser._actions
        if not isinstance(a, argparse._HelpAction) and not a.help
    ]
    assert not missing, f"symaudit {command}: options without help: {missing}"


def test_logs_carry_a_timestamp(tmp_path):
    # a real subprocess: logging is configured once per process by the console script
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "symaudit",
            "ingest",
            str(tmp_path / "none_0.nc"),
            "--family",
            "NS-BB",
            "--out",
            str(tmp_path / "o.zarr"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2
    line = out.stderr.strip().splitlines()[-1]
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z symaudit ingest: error: ", line), line
