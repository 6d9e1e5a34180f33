"""`symaudit train --restart-on-change`: a run is resumed only by the run that wrote it."""

import argparse

from symaudit.training import cli


def _args(**kw):
    base = dict(dataset="NS", model="unet", preset="tiny", seed=0)
    return argparse.Namespace(**{**base, **kw})


def test_fingerprint_tracks_arguments_and_settings():
    a = cli._fingerprint(_args(), {"lr": 1e-3})
    assert a == cli._fingerprint(_args(), {"lr": 1e-3})
    assert a != cli._fingerprint(_args(seed=1), {"lr": 1e-3})
    assert a != cli._fingerprint(_args(), {"lr": 2e-3})


def test_changed_run_discards_checkpoints_unchanged_keeps_them(tmp_path):
    run = tmp_path / "run"
    cli._restart_if_changed(str(run), "aaaa")
    (run / "ckpt_epoch0001.pt").write_bytes(b"x")
    (run / "splits.json").write_text("{}")
    cli._restart_if_changed(str(run), "aaaa")  # a retry of the same run: resume
    assert (run / "ckpt_epoch0001.pt").exists()
    cli._restart_if_changed(str(run), "bbbb")  # an edit: start afresh
    assert not (run / "ckpt_epoch0001.pt").exists() and not (run / "splits.json").exists()
    assert (run / "fingerprint.txt").read_text().strip() == "bbbb"
