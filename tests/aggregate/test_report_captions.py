"""Report captions: the committed ``workflow/report`` sources are what the code generates, and they
render (Jinja, reStructuredText) for both forms of the config's ``models``."""

from __future__ import annotations

from pathlib import Path

from symaudit import aggregate as agg

ROOT = Path(__file__).resolve().parents[2]


# --- report captions -----------------------------------------------------------------------


def test_report_captions_are_in_sync_and_render(tmp_path):
    import yaml
    from docutils.core import publish_parts
    from jinja2 import Environment

    generated = agg.write_report_sources(tmp_path)
    committed = ROOT / "workflow" / "report"
    assert sorted(p.name for p in committed.glob("*.rst")) == sorted(p.name for p in generated), (
        "workflow/report is stale: regenerate with symaudit.aggregate.write_report_sources"
    )
    for p in generated:
        assert (committed / p.name).read_text() == p.read_text(), p.name
    # every figure and table the workflow can produce has a caption
    names = {p.stem for p in generated}
    assert set(agg.expected_figures(["CE", "NS"], agg.ALL_MODELS, agg.ELEMENT_SETS)) <= names
    assert set(agg.expected_tables(agg.ELEMENT_SETS)) <= names

    class Snakemake:  # what Snakemake's report passes to the caption template
        config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
        wildcards = {"dataset": "CE", "model": "unet", "seed": "0"}  # per-run outputs

    env = Environment(trim_blocks=True, lstrip_blocks=True)  # as snakemake.report does
    for p in generated:
        text = env.from_string(p.read_text()).render(snakemake=Snakemake)
        assert "{{" not in text
        html = publish_parts(
            text, writer="html", settings_overrides={"halt_level": 2, "report_level": 5}
        )["body"]
        assert "quick" in html, p.name
    fig1 = (committed / "fig01_d4_error_NS.rst").read_text()
    assert "Figure 1" in fig1 and "Q3" in fig1 and "equivariance_d4.csv" in fig1


def test_report_names_the_models_of_a_per_dataset_mapping():
    """``models`` as a mapping dataset -> list (config/validation.yaml) is shown per dataset,
    a list as it is; the mapping's keys alone used to be printed as the models."""
    from jinja2 import Environment

    from symaudit.aggregate._jinja import STUDY

    def render(models) -> str:
        class Snakemake:
            config = {
                "study": "v",
                "datasets": ["CE", "NS"],
                "models": models,
                "seeds": [0, 1],
                "analysis": {"batches": 3},
            }

        env = Environment(trim_blocks=True, lstrip_blocks=True)
        return env.from_string(STUDY).render(snakemake=Snakemake)

    assert render({"CE": ["vit", "twirled-unet"], "NS": ["unet"]}) == (
        "Study ``v``: datasets CE, NS; models CE: vit, twirled-unet / NS: unet; 2 seed(s); "
        "3 analysis batch(es) per seed."
    )
    assert render(["unet", "vit"]) == (
        "Study ``v``: datasets CE, NS; models unet, vit; 2 seed(s); 3 analysis batch(es) per seed."
    )
    # every committed caption carries the study line
    fig1 = (ROOT / "workflow" / "report" / "fig01_d4_error_NS.rst").read_text()
    assert STUDY in fig1
