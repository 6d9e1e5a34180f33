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
from symaudit.baselines import GATE_HELP


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


def _help_pages() -> dict[str, argparse.ArgumentParser]:
    """Every (sub)command's parser as ``symaudit <command> --help`` builds it."""
    pages = {}
    for name, (module, _) in cli.COMMANDS.items():
        parser = argparse.ArgumentParser(prog=f"symaudit {name}", epilog=cli.EPILOG)
        importlib.import_module(module).add_arguments(parser)
        cli._epilogs(parser)
        cli.plain_help(parser)
        pages[name] = parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                pages |= {f"{name} {sub}": p for sub, p in action.choices.items()}
    return pages


@pytest.mark.parametrize("command", sorted(cli.COMMANDS))
def test_help_is_plain_text_with_the_glossary(command, capsys):
    """``symaudit <command> --help`` prints, without RST markup, ending on the glossary."""
    with pytest.raises(SystemExit) as caught:
        cli.main([command, "--help"])
    assert caught.value.code == 0
    page = capsys.readouterr().out
    assert "``" not in page and ":func:" not in page, page
    assert "docs/glossary.md" in page


def test_common_flags_have_one_spelling_and_one_help():
    """A concept shared by commands has one flag and one help text: --device, --no-progress,
    --settings (the section named), --max-persistence-ratio; the old spellings are gone
    (``--quiet`` stays a hidden alias of ``ingest --no-progress``)."""
    helps: dict[str, set[str]] = {}
    for command, parser in _help_pages().items():
        text = parser.format_help()
        assert "``" not in text, command
        assert parser.epilog == cli.EPILOG, command
        for action in parser._actions:
            for flag in action.option_strings:
                if action.help is not argparse.SUPPRESS:
                    helps.setdefault(flag, set()).add(action.help)
        visible = {
            f for a in parser._actions if a.help != argparse.SUPPRESS for f in a.option_strings
        }
        assert not visible & {"--quiet", "--progress", "--no-progress-bar"}, command
    assert helps["--device"] == {cli.DEVICE_HELP}
    assert helps["--no-progress"] == {cli.NO_PROGRESS_HELP}
    assert all(h.startswith(GATE_HELP + " (default: ") for h in helps["--max-persistence-ratio"])
    sections = {"train", "influence", "companion", "conservation"}
    assert helps["--settings"] == {cli.settings_help(s) for s in sections}
    assert {"simulate", "ingest"} <= {
        c for c, p in _help_pages().items() if "--no-progress" in p.format_help()
    }


def test_a_library_warning_carries_the_running_commands_label(capfd):
    """The quality gate's warning, logged by a library module, is labelled with the command
    whose log it is in (``symaudit train: warning: ...``), not ``symaudit quality``."""
    import logging

    try:
        cli.setup_logging("INFO", "train")
        logging.getLogger("symaudit.quality").warning("run r did not learn the dynamics")
        line = capfd.readouterr().err.strip().splitlines()[-1]
    finally:
        cli.setup_logging("INFO")
    assert re.match(r"\S+Z symaudit train: warning: run r did not learn", line), line
