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
        wildcards = {"dataset": "CE", "model": "unet", "seed": "0", "external": "fno"}

    env = Environment(trim_blocks=True, lstrip_blocks=True)  # as snakemake.report does
    for p in generated:
        text = env.from_string(p.read_text()).render(snakemake=Snakemake)
        assert "{{" not in text
        html = publish_parts(
            text, writer="html", settings_overrides={"halt_level": 2, "report_level": 5}
        )["body"]
        # every caption names the study, except an external model's (a study of its own)
        assert ("fno" if p.name.startswith("external_") else "quick") in html, p.name
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


def _status(n: int) -> dict:
    """A quality and a robustness status with ``n`` failed runs and ``n`` unstable rankings;
    the worst run is number 7 (ratio 99.5), the worst ranking number 5 (τ = -0.9)."""
    runs = [
        {
            "dataset": "CE",
            "model": "unet",
            "seed": i,
            "label": f"CE unet seed {i}",
            "ratio": "99.5" if i == 7 else f"{2 + i % 5:.4g}",  # strings, as the rule writes
            "passes": False,
        }
        for i in range(n)
    ]
    unstable = [
        {"dataset": "CE", "model": "unet", "element_set": "d4", "label": f"ranking {i}"}
        | {"tau": -0.9 if i == 5 else (None if i == 6 else 0.1 + i / (2 * n))}
        for i in range(n)
    ]
    quality = {"max_persistence_ratio": 1.0, "runs": runs, "flagged": runs}
    robustness = {"stable_tau": 0.7, "unstable": unstable}
    return {"quality_status": quality, "robustness_status": robustness}


def _banners(n: int) -> dict[str, str]:
    """The home page's banners (class -> text) rendered as Snakemake does, for ``_status(n)``."""
    import re

    from docutils.core import publish_parts
    from jinja2 import Environment

    class Snakemake:
        config = {"study": "s", "datasets": ["CE"], "models": ["unet"], "seeds": [0]}
        config |= _status(n)

    env = Environment(trim_blocks=True, lstrip_blocks=True)
    links = "\n\n.. _model_quality.csv: #\n.. _influence_robustness.csv: #\n"
    rst = env.from_string(agg.workflow_description() + links).render(snakemake=Snakemake)
    settings = {"halt_level": 2, "report_level": 5}
    page = publish_parts(rst, writer="html", settings_overrides=settings)["html_body"]
    found = re.findall(r'<div class="symaudit-banner symaudit-(\w+)[^"]*">(.*?)</div>', page, re.S)
    return {kind: re.sub(r"<[^>]+>", "", text) for kind, text in found}


def test_banners_summarise_and_do_not_grow_with_the_study():
    """A banner is a coloured box (an RST container the report's stylesheet colours) with the
    count, the worst case and a link: the same length for 3 or 100 entries."""
    few, many = _banners(3), _banners(100)
    assert set(many) == {"premise", "robustness"}
    premise, robustness = many["premise"], many["robustness"]
    assert "100 of 100 run(s) of this study did not learn" in premise
    assert "worst: CE unet seed 7, 99.5 × persistence" in premise  # numeric, not string order
    assert "CE unet seed 8" not in premise and "the table below" in premise
    assert "100 element ranking(s)" in robustness and "worst: ranking 5 (τ = -0.9)" in robustness
    assert "ranking 4 " not in robustness and "influence_robustness.csv" in robustness
    for kind in many:
        assert len(many[kind]) - len(few[kind]) < 20, (few[kind], many[kind])
    css = (ROOT / "workflow" / "report" / "report.css").read_text()
    assert ".symaudit-premise" in css and ".symaudit-robustness" in css
