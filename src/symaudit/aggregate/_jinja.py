"""Jinja2 pieces of the report captions that read the study at render time: Snakemake renders
each caption as a Jinja2 template with ``snakemake.config`` (the report rule adds the quality
and robustness status files to it) before reading it as reStructuredText."""

from __future__ import annotations

__all__ = [
    "INFLUENCE_SOLVE",
    "QUALITY_ANCHOR",
    "QUALITY_SECTION",
    "STUDY",
    "quality_banner",
    "robustness_banner",
]

#: one line naming the study: datasets, models (``models`` is a list for every dataset or a
#: mapping dataset -> list, shown as ``CE: vit / NS: unet, vit``), seeds, analysis batches
STUDY = (
    'Study ``{{ snakemake.config["study"] }}``: datasets '
    '{{ snakemake.config["datasets"] | join(", ") }}; models '
    '{% set m = snakemake.config["models"] %}{% if m is mapping %}'
    '{% for d, names in m.items() %}{{ d }}: {{ names | join(", ") }}'
    '{{ " / " if not loop.last }}{% endfor %}{% else %}{{ m | join(", ") }}{% endif %}; '
    '{{ snakemake.config["seeds"] | length }} seed(s); '
    '{{ snakemake.config.get("analysis", {}).get("batches", "?") }} analysis batch(es) per seed.'
)
_INF = 'snakemake.config.get("influence", {})'
#: how the influence was computed and what happened to unconverged kets (Jinja, from the config)
INFLUENCE_SOLVE = (
    "**Solver.** ``{{ " + _INF + '.get("method", "block_cg") }}``, damping '
    "{% set d = " + _INF + '.get("damping") %}'
    '{% if d and d.get("values") %}path {{ d.get("mode") }} {{ d.get("values") }}, shown at '
    'the primary λ {{ d.get("primary") }} (robustness across λ: influence_robustness.csv)'
    '{% elif d %}{{ d.get("mode") }} {{ d.get("value") }}'
    "{% elif " + _INF + '.get("method") == "galerkin" %}absolute 1e-06 on JᵀJ/D (the reference '
    "code's ε){% else %}relative 0.001 (λ/λ_max(M)){% endif %}. Kets whose solve did not "
    "converge {% if " + _INF + '.get("include_unconverged") %}are kept in the quantiles, '
    "flagged{% else %}are left out of the standardisation and of the quantiles "
    "(``include_unconverged: false``); ``n_unconverged`` in the table counts them{% endif %}."
)


def _status_banner(
    status: tuple[str, str],
    entries: tuple[str, str],
    tests: str,
    *,
    kind: str,
    headline: str,
    worst: str,
    after: str,
) -> str:
    """Jinja2 RST summarising the entries of a status file that pass ``tests``, or nothing.

    ``status`` = (Jinja variable, config key) of the status mapping, ``entries`` = (Jinja
    variable, key of its list).  The banner is a coloured box (an RST container of class
    ``symaudit-banner symaudit-<kind>``, styled by ``workflow/report/report.css``) of one
    sentence whatever the number of entries: ``headline`` (their count), ``worst`` (a Jinja
    snippet that finds the worst entry and names it) and ``after`` (what it means and
    where the details are).
    """
    (s, key), (v, list_key) = status, entries
    return (
        f'{{% set {s} = snakemake.config.get("{key}") or {{}} %}}'
        f'{{% set {v} = {s}.get("{list_key}", []){tests} | list %}}'
        f"{{% if {v} %}}.. container:: symaudit-banner symaudit-{kind}\n\n"
        f"   **{headline}** ({worst}). {after}\n\n{{% endif %}}"
    )


def _select(**filters: str | None) -> str:
    """A Jinja filter chain keeping the status entries whose keys equal the given Jinja
    expressions (``None`` = no restriction), in the order given."""
    return "".join(
        f' | selectattr("{key}", "equalto", {value})'
        for key, value in filters.items()
        if value is not None
    )


#: the quality section's anchor on the report's home page (``QUALITY_SECTION``)
QUALITY_ANCHOR = "model-quality"


def quality_banner(
    dataset: str | None = None,
    model: str | None = None,
    seed: str | None = None,
    scope: str = "behind this output",
    link: str = "table model_quality.csv_",
) -> str:
    """Jinja2 RST summarising the runs behind an output which failed the quality gate: how
    many of how many, the worst (highest validation SMSE / persistence) and ``link`` (RST: the
    home page links to its quality section, a caption to the table).

    The report rule adds ``tables/quality_status.yaml`` to the config (key
    ``quality_status``, see :mod:`symaudit.aggregate._quality`); the text renders to nothing
    when every relevant run passed or when no status is present.  ``dataset``, ``model`` and
    ``seed`` restrict the runs to those behind the output (Jinja expressions allowed for
    ``seed``).
    """
    tests = _select(dataset=dataset, model=model, seed=seed)
    return _status_banner(
        ("q", "quality_status"),
        ("bad", "flagged"),
        tests,
        kind="premise",
        headline="Premise failed: {{ bad | length }} of "
        f'{{{{ q.get("runs", []){tests} | list | length }}}} run(s) {scope} did not learn '
        "the dynamics",
        worst="{% set n = namespace(w=none) %}{% for r in bad %}"
        "{% if n.w is none or r.ratio | float > n.w.ratio | float %}{% set n.w = r %}"
        "{% endif %}{% endfor %}validation SMSE above {{ q.max_persistence_ratio }} × "
        "persistence; worst: {{ n.w.label }}, {{ n.w.ratio }} × persistence",
        after="Their numbers are included, but they describe networks that did not beat "
        f"predicting no change. Every run: {link}.",
    )


def robustness_banner(
    dataset: str | None = None,
    element_set: str | None = None,
    model: str | None = None,
    scope: str = "behind this output",
) -> str:
    """Jinja2 RST summarising the element rankings behind an output that change with the
    damping λ: how many, the worst (smallest Kendall τ) and a link to the robustness table.

    A damping-path study's report rule adds ``tables/robustness_status.yaml`` to the config
    (key ``robustness_status``, :func:`symaudit.aggregate._robustness.robustness_status`); the
    text renders to nothing when every ranking is stable (Kendall τ ≥ 0.7) or without a path.
    """
    return _status_banner(
        ("rs", "robustness_status"),
        ("unstable", "unstable"),
        _select(dataset=dataset, element_set=element_set, model=model),
        kind="robustness",
        headline="Not robust to the damping: "
        f"{{{{ unstable | length }}}} element ranking(s) {scope} change with λ",
        worst='{% set w = (unstable | rejectattr("tau", "none") | sort(attribute="tau")'
        " | list + unstable) | first %}Kendall τ < {{ rs.stable_tau }}; worst: "
        "{{ w.label }} (τ = {{ w.tau }})",
        after="Which elements look suppressed depends on λ; the figures show the primary λ "
        "only. Every ranking: table influence_robustness.csv_.",
    )


#: the report's first section: how well each emulator learned (from the quality status)
QUALITY_SECTION = "\n".join(
    [
        f".. _{QUALITY_ANCHOR}:",
        "",
        "**Model quality** (first: every number below describes a trained emulator only if it "
        "learned the dynamics). Each run's final validation SMSE against persistence "
        "(predicting s\\ :sub:`t+1` = s\\ :sub:`t`) on the same transitions; the gate is "
        '{{ (snakemake.config.get("quality_status") or {}).get("max_persistence_ratio", "?") }}'
        " × persistence. Curves and the full table: category *Model quality*.",
        "",
        '{% set q = snakemake.config.get("quality_status") or {} %}{% if q.get("runs") %}',
        ".. list-table::",
        "   :header-rows: 1",
        "",
        "   * - run",
        "     - epochs",
        "     - val SMSE",
        "     - persistence",
        "     - ratio",
        "     - gate",
        '{% for r in q["runs"] %}',
        "   * - {{ r.label }}",
        "     - {{ r.epochs }}",
        "     - {{ r.val_smse }}",
        "     - {{ r.persistence }}",
        "     - {{ r.ratio }}",
        '     - {{ "passed" if r.passes else "FAILED" }}',
        "{% endfor %}",
        "{% endif %}",
    ]
)
