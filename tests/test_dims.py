"""symaudit.dims: dimension names, not order, decide which axis is which."""

from __future__ import annotations

import numpy as np
import pytest

from symaudit import dims
from symaudit.errors import UserError


def test_canonical_names_and_aliases_any_order_any_case():
    dm = dims.resolve_dims(("X", "Time", "member", "y", "field"), "f.nc")
    assert dm.axis == {"x": 0, "time": 1, "trajectory": 2, "y": 3, "channel": 4}
    a = np.zeros((5, 4, 3, 6, 2))
    assert a.transpose(dm.perm()).shape == (3, 4, 2, 6, 5)  # trajectory, time, channel, y, x
    assert dm.name("trajectory") == "member"


def test_override_wins_and_is_checked():
    dm = dims.resolve_dims(("i", "j"), "f.nc", "i=y,j=x", required=("y", "x"))
    assert dm.perm(("y", "x")) == (0, 1)
    assert dims.parse_override({"a": "X"}) == {"a": "x"}
    for bad, match in [("i", "expected FILE_DIM=CANONICAL"), ("i=z", "'z' is not one of")]:
        with pytest.raises(UserError, match=match):
            dims.parse_override(bad)


@pytest.mark.parametrize(
    "found, match",
    [
        (("sample", "time", "channel", "y"), "no x dim"),
        (("sample", "time", "channel", "y", "x", "z"), "'z' is an unknown dim name"),
        (("sample", "batch", "channel", "y", "x"), "both 'sample' and 'batch' mean trajectory"),
        (("dim_0", "time", "channel", "y", "x"), "'dim_0' is an unknown dim name"),
    ],
)
def test_refusals_name_the_file_and_the_dims_found(found, match):
    with pytest.raises(UserError, match=match) as err:
        dims.resolve_dims(found, "f.nc: variable 'v'")
    assert str(err.value).startswith(f"f.nc: variable 'v': dims ({', '.join(found)})")
    assert "\n" not in str(err.value)


def test_no_torch_import():
    import subprocess
    import sys

    code = "import sys, symaudit.dims; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
