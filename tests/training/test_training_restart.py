"""`symaudit train --restart-on-change`: a run is resumed only by the run that wrote it; more
epochs extend it; a restart keeps the old run's files aside."""

import argparse
import csv
import json

import torch

from symaudit.cli import main
from symaudit.models import read_checkpoint
from symaudit.training import cli


def _args(**kw):
    base = dict(dataset="NS", model="unet", preset="tiny", seed=0, name=None)
    return argparse.Namespace(**{**base, **kw})


def test_fingerprint_tracks_arguments_and_settings():
    a = cli._fingerprint(_args(), {"lr": 1e-3})
    assert a == cli._fingerprint(_args(), {"lr": 1e-3})
    assert a != cli._fingerprint(_args(seed=1), {"lr": 1e-3})
    assert a != cli._fingerprint(_args(), {"lr": 2e-3})
    # more epochs extend a run; the front end's help text is not part of it
    assert a == cli._fingerprint(_args(), {"lr": 1e-3, "epochs": 40})
    assert all(p.name != "cli.py" for p in cli.fingerprint_code())
    assert any(p.name == "_loop.py" for p in cli.fingerprint_code())


def test_changed_run_moves_checkpoints_aside_unchanged_keeps_them(tmp_path):
    run = tmp_path / "run"
    cli._restart_if_changed(str(run), "aaaa")
    (run / "ckpt_epoch0001.pt").write_bytes(b"x")
    (run / "splits.json").write_text("{}")
    cli._restart_if_changed(str(run), "aaaa")  # a retry of the same run: resume
    assert (run / "ckpt_epoch0001.pt").exists()
    cli._restart_if_changed(str(run), "bbbb")  # an edit: start afresh
    assert not (run / "ckpt_epoch0001.pt").exists() and not (run / "splits.json").exists()
    assert (run / "superseded-aaaa" / "ckpt_epoch0001.pt").read_bytes() == b"x"
    assert (run / "superseded-aaaa" / "splits.json").exists()
    assert (run / "fingerprint.txt").read_text().strip() == "bbbb"


def _metrics(run_dir):
    with open(run_dir / "metrics.csv") as fh:
        return list(csv.DictReader(fh))


def test_more_epochs_extend_the_run_through_the_cli(tmp_path, one_thread):
    from tests.training.test_training import FAST, write_group

    stores = write_group(tmp_path / "stores")

    def train(out, epochs):
        settings = json.dumps({**FAST, "epochs": epochs, "checkpoint_every": 1})
        argv = [
            "train",
            "--dataset",
            "CE",
            "--model",
            "unet",
            "--preset",
            "tiny",
            "--seed",
            "0",
            "--stores",
            *stores,
            "--out",
            str(out),
            "--settings",
            settings,
            "--restart-on-change",
        ]
        assert main(argv) == 0

    run = tmp_path / "run"
    train(run, 1)
    first = _metrics(run)
    for name in ("final.pt", "metrics.csv", "training_curve.png"):  # what Snakemake removes
        (run / name).unlink()
    train(run, 3)
    rows = _metrics(run)
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    assert rows[0] == first[0]  # epoch 1 kept bit for bit (wall time included: not rerun)
    assert "resumed_from_epoch: 1" in (run / "config.yaml").read_text()
    assert not list(run.glob("superseded-*"))
    train(tmp_path / "fresh", 3)
    a = read_checkpoint(run / "final.pt")["state_dict"]
    b = read_checkpoint(tmp_path / "fresh" / "final.pt")["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_falls_back_past_a_truncated_latest_checkpoint(tmp_path, one_thread, capsys):
    from tests.training.test_training import FAST, write_group

    stores = write_group(tmp_path / "stores")
    settings = json.dumps({**FAST, "epochs": 2, "checkpoint_every": 1})
    argv = ["train", "--dataset", "CE", "--model", "unet", "--preset", "tiny", "--seed", "0"]
    argv += ["--stores", *map(str, stores), "--out", str(tmp_path / "run"), "--settings", settings]
    assert main(argv) == 0
    run = tmp_path / "run"
    for name in ("final.pt", "ckpt_epoch0002.pt"):  # killed while copying: both truncated
        data = (run / name).read_bytes()
        (run / name).write_bytes(data[: len(data) // 3])
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "ckpt_epoch0002.pt: cannot be read" in err and "falling back" in err
    assert "resuming from ckpt_epoch0001.pt (epoch 1)" in err
    assert read_checkpoint(run / "final.pt")["state"]["epoch"] == 2
