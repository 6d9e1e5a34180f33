"""Aggregation figures: every possible figure drawn, non-empty, with labelled axes, unconverged
solves marked, the signed shift axis, only figures whose inputs exist, and the CLI end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from symaudit import aggregate as agg
from symaudit import groups

from ._synthetic import N

ROOT = Path(__file__).resolve().parents[2]


# --- figures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def figures(study, tmp_path_factory):
    root, _ = study
    out = tmp_path_factory.mktemp("figures")
    # PNG only here (PDF output is checked by the CLI test): keeps the suite fast on 2 cores
    return out, agg.make_figures(root / "tables", out, formats=["png"])


def test_every_figure_is_written_as_nonempty_png(figures):
    out, written = figures
    # the synthetic study has no boost/scale/negation tables (those acting on transitions:
    # tests/aggregate/test_kinematic_tables.py)
    sets = [s for s in agg.ELEMENT_SETS if s not in ("boost", "scale", "negation")]
    stems = agg.expected_figures(["CE", "NS"], ["unet", "vit"], sets)
    want = {f"{s}.png" for s in stems}
    assert {p.name for p in written} == want
    assert sorted(p.name for p in out.iterdir()) == sorted(want)  # no temporaries
    for p in written:
        assert p.read_bytes().startswith(b"\x89PNG\r\n\x1a\n"), p.name
        assert p.stat().st_size > 5_000, p.name


def _texts(fig):
    return [t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text"))]


def test_figures_have_labelled_axes_and_mark_unconverged(tables):
    for spec in agg.possible_figures(tables):
        fig = agg.plot_figure(spec, tables)
        ax = fig.axes[0]
        assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title(), spec.stem
        assert ax.has_data(), spec.stem
        labels = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
        if spec.element_set == "shift_box":
            assert fig.axes[1].get_ylabel(), spec.stem  # colour bar
        else:
            assert "UNet" in " ".join(labels) and "ViT" in " ".join(labels), spec.stem
        flagged = spec.kind == "influence" and spec.dataset == "NS" and spec.model != "unet"
        assert any("solve not converged" in label for label in labels) is flagged, spec.stem


def test_shift_axis_is_signed_with_identity_at_zero(tables):
    spec = agg.FigureSpec(3, "equivariance", "shift_x", "CE")
    fig = agg.plot_figure(spec, tables)
    line = next(ln for ln in fig.axes[0].get_lines() if len(ln.get_xdata()) == N)
    x, y = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
    assert list(x) == list(range(-N // 2, N // 2))
    df = tables["equivariance_shift_x"]
    ident = df[(df.dataset == "CE") & (df.model == "unet") & (df.element == "t(0,0)")]
    assert y[x == 0][0] == pytest.approx(ident["median"].iloc[0])
    ticks = fig.axes[0].get_xticks()
    labels = [t.get_text().replace("\N{MINUS SIGN}", "-") for t in fig.axes[0].get_xticklabels()]
    assert [int(v) for v in labels] == [int(v) for v in ticks]  # every label is the true shift


def test_only_figures_whose_inputs_exist(tmp_path):
    agg.write_synthetic_study(
        tmp_path,
        datasets=["NS"],
        models=["vit"],
        seeds=(0,),
        batches=1,
        time_steps=2,
        resolution=8,
        element_sets=["d4"],
        kinds=["equivariance"],
    )
    agg.aggregate(tmp_path, tmp_path / "tables")
    specs = agg.possible_figures(tmp_path / "tables")
    assert [s.stem for s in specs] == ["fig01_d4_error_NS"]
    with pytest.raises(ValueError, match="fig03"):
        agg.make_figures(tmp_path / "tables", tmp_path / "figs", only=["fig03"])
    written = agg.make_figures(
        tmp_path / "tables", tmp_path / "figs", only=["fig01"], formats=["png"]
    )
    assert [p.name for p in written] == ["fig01_d4_error_NS.png"]


def test_cli_aggregate_and_figures(tmp_path, capsys):
    from symaudit.cli import main

    study = tmp_path / "results" / "s"
    agg.write_synthetic_study(
        study,
        datasets=["CE"],
        models=["unet", "vit"],
        seeds=(0, 1),
        batches=1,
        time_steps=2,
        resolution=8,
        box=2,
        element_sets=["d4", "shift_box"],
    )
    tables = study / "tables"
    assert (
        main(
            [
                "aggregate",
                "--study-dir",
                str(study),
                "--out-dir",
                str(tables),
                "--element-sets",
                "d4",
                "shift_box",
                "--workers",
                "1",
            ]
        )
        == 0
    )
    assert {p.name for p in tables.iterdir()} == {
        f"{s}{x}" for s in agg.expected_tables(["d4", "shift_box"]) for x in agg.TABLE_SUFFIXES
    }
    # a requested set without inputs is an error, not a silently missing table
    assert main(["aggregate", "--study-dir", str(study), "--element-sets", "shift_x"]) == 2
    assert "shift_x" in capsys.readouterr().err
    figs = study / "figures"
    assert (
        main(
            [
                "figures",
                "--tables",
                str(tables),
                "--out-dir",
                str(figs),
                "--only",
                "fig09",
                "fig16_shift_box_error_unet_CE",
            ]
        )
        == 0
    )
    assert sorted(p.name for p in figs.iterdir()) == [
        "fig09_d4_error_CE.pdf",
        "fig09_d4_error_CE.png",
        "fig16_shift_box_error_unet_CE.pdf",
        "fig16_shift_box_error_unet_CE.png",
    ]
    for p in figs.iterdir():
        magic = b"%PDF" if p.suffix == ".pdf" else b"\x89PNG\r\n\x1a\n"
        assert p.read_bytes().startswith(magic) and p.stat().st_size > 5_000, p.name
    capsys.readouterr()
    assert main(["figures", "--tables", str(tables), "--out-dir", str(figs), "--list"]) == 0
    listed = capsys.readouterr().out.split()
    assert listed == agg.expected_figures(["CE"], ["unet", "vit"], ["d4", "shift_box"])
    assert main(["figures", "--tables", str(tmp_path / "nope"), "--out-dir", str(figs)]) == 2


def _ci_bars(fig):
    from matplotlib.collections import LineCollection

    return [c for c in fig.axes[0].collections if isinstance(c, LineCollection) and c.get_alpha()]


def test_d4_figure_draws_the_median_interval_or_says_why_not(tables):
    spec = agg.FigureSpec(2, "influence", "d4", "NS")
    fig = agg.plot_figure(spec, tables)
    bars = _ci_bars(fig)
    assert len(bars) == 2  # one per model
    rows = tables["influence_d4"]
    unet = rows[(rows.dataset == "NS") & (rows.model == "unet")].set_index("element")
    ends = np.array([seg[:, 1] for seg in bars[0].get_segments()])
    want = unet.loc[list(groups.D4)]
    np.testing.assert_allclose(ends, want[["median_lo", "median_hi"]].to_numpy())
    labels = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
    assert "median, 95% CI" in labels
    # no interval (too few clusters): nothing drawn, the title gives the table's reason
    bare = rows.assign(median_lo=np.nan, median_hi=np.nan, ci_note="no interval: 1 (seed, ...")
    fig = agg.plot_figure(spec, {**tables, "influence_d4": bare})
    assert not _ci_bars(fig)
    assert "no CI: 1 (seed, ..." in fig.axes[0].get_title()
