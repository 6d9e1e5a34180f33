"""symaudit.devices.choose_device and symaudit.errors.UserError."""

from __future__ import annotations

import pytest
import torch

from symaudit._device import choose_device
from symaudit.errors import UserError


def test_choose_device():
    auto = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    assert choose_device("auto") == choose_device(None) == auto
    assert choose_device("cpu") == torch.device("cpu")
    assert choose_device(torch.device("cpu")) == torch.device("cpu")
    with pytest.raises(UserError, match=r"device 'gpu0': expected auto, cpu or cuda\[:i\]"):
        choose_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="CUDA is not available"):
            choose_device("cuda:0")


def test_user_error_is_a_value_error_and_exits_2(capsys):
    from symaudit.cli import UserError as FromCli
    from symaudit.cli import main

    assert FromCli is UserError and issubclass(UserError, ValueError)
    # a user error in a stage: one log line, exit code 2 (the equivariance CLI, no inputs)
    argv = ["equivariance", "--checkpoint", "none.pt", "--run-dir", ".", "--stores", "a", "b",
            "c", "--batches", "0", "--elements", "e", "--set-name", "d4"]  # fmt: skip
    assert main(argv) == 2
    assert "nothing to do" in capsys.readouterr().err
