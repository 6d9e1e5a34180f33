# Aggregation stage: quantile tables over seeds x batches x examples, the paper's figures, report.

# the report's stylesheet (--report-stylesheet): its layout and the colours of its banners
REPORT_CSS = os.path.relpath(Path(workflow.basedir) / "workflow" / "report" / "report.css")
# an empty Slurm configuration for the nested --report run (workflow/profiles/local/no-slurm.conf)
NO_SLURM_CONF = str(Path(workflow.basedir) / "workflow" / "profiles" / "local" / "no-slurm.conf")


localrules:
    model_quality,
    aggregate_tables,
    figures,
    influence_robustness,
    report_html,
    study_config,
    findings,


rule study_config:
    output:
        f"{RESULTS}/config.yaml",
    log:
        f"logs/{STUDY}/aggregate/config.log",
    benchmark:
        f"benchmarks/{STUDY}/aggregate/config.tsv"
    params:
        resolved=json.dumps(config, sort_keys=True),
        python=sys.executable,
    # the resolved configuration next to the outputs (and what the report is built from).  A
    # shell command, not `run:`: a `run:` job re-reads the whole workflow first (~10 s, and the
    # quick study's scheduler sat idle behind it); the workflow's own interpreter has PyYAML
    shell:
        "{params.python} -c 'import json, sys, yaml;"
        " sys.stdout.write(yaml.safe_dump(json.loads(sys.argv[1]), sort_keys=False))'"
        " {params.resolved:q} > {output:q} 2> {log:q}"


rule model_quality:
    input:
        metrics=PLAN.run_files(symaudit_names.METRICS),
        equivariance=PLAN.quality_equivariance_files(),
        code=stage_code("aggregate"),
    output:
        table=report(
            f"{RESULTS}/tables/model_quality.csv",
            caption="../report/model_quality_table.rst",
            category="Model quality",
        ),
        figure=report(
            f"{RESULTS}/figures/model_quality.png",
            caption="../report/model_quality.rst",
            category="Model quality",
        ),
        status=f"{RESULTS}/tables/quality_status.yaml",
    log:
        f"logs/{STUDY}/aggregate/model_quality.log",
    benchmark:
        f"benchmarks/{STUDY}/aggregate/model_quality.tsv"
    conda:
        "../../envs/aggregate.yaml"
    params:
        runs=quality_run_arguments,
        max_ratio=config["quality"]["max_persistence_ratio"],
    shell:
        "python -m symaudit quality {params.runs} --max-persistence-ratio {params.max_ratio}"
        " --table {output.table} --figure {output.figure} --status {output.status} > {log} 2>&1"


rule aggregate_tables:
    input:
        influence=PLAN.influence_files(),
        equivariance=PLAN.equivariance_files(),
        code=stage_code("aggregate"),
    output:
        tables=[
            report(
                f"{RESULTS}/tables/{name}.csv",
                caption=f"../report/{name}.rst",
                category="Tables",
            )
            for name in expected_tables() + twirl_tables()
        ],
        netcdf=[f"{RESULTS}/tables/{name}.nc" for name in expected_tables()],
    log:
        f"logs/{STUDY}/aggregate/tables.log",
    benchmark:
        f"benchmarks/{STUDY}/aggregate/tables.tsv"
    conda:
        "../../envs/aggregate.yaml"
    params:
        study_dir=lambda wildcards, output: Path(output.tables[0]).parents[1],
        element_sets=PLAN.study_sets(),
        twirl="--twirl" if twirl_tables() else "",
        bootstrap=json.dumps(config["analysis"]["bootstrap"], sort_keys=True),
    shell:
        "python -m symaudit aggregate --study-dir {params.study_dir}"
        " --element-sets {params.element_sets} {params.twirl} --bootstrap '{params.bootstrap}'"
        " --inputs {input.influence} {input.equivariance} > {log} 2>&1"


rule figures:
    input:
        tables=rules.aggregate_tables.output.tables,
        code=stage_code("aggregate"),
    output:
        png=[
            report(
                f"{RESULTS}/figures/{stem}.png",
                caption=f"../report/{stem}.rst",
                category="Figures",
            )
            for stem in expected_figures()
        ],
        pdf=[f"{RESULTS}/figures/{stem}.pdf" for stem in expected_figures()],
    log:
        f"logs/{STUDY}/aggregate/figures.log",
    benchmark:
        f"benchmarks/{STUDY}/aggregate/figures.tsv"
    conda:
        "../../envs/aggregate.yaml"
    params:
        tables=lambda wildcards, input: Path(input.tables[0]).parent,
        out_dir=lambda wildcards, output: Path(output.png[0]).parent,
        only=expected_figures(),
    shell:
        "python -m symaudit figures --tables {params.tables} --out-dir {params.out_dir}"
        " --only {params.only} > {log} 2>&1"


rule influence_robustness:
    input:
        influence=PLAN.influence_files(),
        code=stage_code("aggregate"),
    output:
        table=report(
            f"{RESULTS}/tables/influence_robustness.csv",
            caption="../report/influence_robustness.rst",
            category="Tables",
        ),
        medians=f"{RESULTS}/tables/influence_robustness_medians.csv",
        ordering=f"{RESULTS}/tables/influence_galerkin_ordering.csv",
        status=f"{RESULTS}/tables/robustness_status.yaml",
        png=[
            report(
                f"{RESULTS}/figures/{stem}.png",
                caption="../report/robustness_figure.rst",
                category="Robustness",
            )
            for stem in PLAN.robustness_figures()
        ],
    log:
        f"logs/{STUDY}/aggregate/robustness.log",
    benchmark:
        f"benchmarks/{STUDY}/aggregate/robustness.tsv"
    conda:
        "../../envs/aggregate.yaml"
    params:
        study_dir=lambda wildcards, output: Path(output.table).parents[1],
        primary=config["influence"].get("damping", {}).get("primary", ""),
        bootstrap=json.dumps(config["analysis"]["bootstrap"], sort_keys=True),
    shell:
        "python -m symaudit aggregate --study-dir {params.study_dir} --kinds influence"
        " --robustness-only --primary '{params.primary}' --status {output.status}"
        " --bootstrap '{params.bootstrap}'"
        " --inputs {input.influence} > {log} 2>&1"


rule findings:
    input:
        tables=rules.aggregate_tables.output.tables,
        quality=rules.model_quality.output.table,
        status=rules.model_quality.output.status,
        robustness=rules.influence_robustness.output if PLAN.damping_path() else [],
        law=commutator_outputs(),
        code=stage_code("validation"),
    output:
        report(
            f"{RESULTS}/tables/findings.csv",
            caption="../report/findings.rst",
            category="Findings",
        ),
    log:
        f"logs/{STUDY}/aggregate/findings.log",
    benchmark:
        f"benchmarks/{STUDY}/aggregate/findings.tsv"
    conda:
        "../../envs/aggregate.yaml"
    params:
        tables=lambda wildcards, input: Path(input.quality).parent,
        max_ratio=config["quality"]["max_persistence_ratio"],
        augmented=findings_augmented_argument(),
        primary=(
            f"--primary-damping {config['influence']['damping']['primary']!r}"
            if PLAN.damping_path()
            else ""
        ),
        resolution=config["data"]["resolution"],
        bootstrap=json.dumps(config["analysis"]["bootstrap"], sort_keys=True),
    shell:
        "python -m symaudit findings --tables {params.tables} --out {output}"
        " --max-persistence-ratio {params.max_ratio} {params.augmented} {params.primary}"
        " --resolution {params.resolution} --bootstrap '{params.bootstrap}' --kinematic"
        " > {log} 2>&1"


rule report_html:
    # `run:` (a local rule: in the Snakemake process), not `shell:` + `conda:`: the report is
    # Snakemake's own feature, so it runs with the interpreter that runs the workflow -- the one
    # environment sure to have Snakemake and its report dependencies, in the version that wrote
    # the job metadata -- also under --sdm conda, which applies to shell commands only.
    input:
        rules.figures.output,
        rules.aggregate_tables.output,
        rules.model_quality.output,
        robustness=rules.influence_robustness.output if PLAN.damping_path() else [],
        robustness_status=(rules.influence_robustness.output.status if PLAN.damping_path() else []),
        config=rules.study_config.output,
        status=rules.model_quality.output.status,
        findings=rules.findings.output if PLAN.findings_enabled() else [],
        companion=companion_outputs(),
        lie=lie_outputs(),
        cost=f"{RESULTS}/tables/cost.csv",
        external=PLAN.external_files(),
        stylesheet=REPORT_CSS,
    output:
        f"{RESULTS}/report.html",
    log:
        f"logs/{STUDY}/aggregate/report.log",
    benchmark:
        f"benchmarks/{STUDY}/aggregate/report.tsv"
    params:
        snakefile=os.path.relpath(workflow.main_snakefile),
    run:
        # --nolock: the running workflow holds the lock; a report only reads its metadata
        # the quality (and robustness) status joins the config so that captions can flag
        # failed runs and rankings that change with λ
        python = sys.executable  # the interpreter running this workflow
        # SLURM_CONF: an empty Slurm config, so the Slurm plugin's start-up probe fails at
        # once instead of waiting 10 s for a controller (the report submits nothing)
        shell(
            "SLURM_CONF={NO_SLURM_CONF:q} {python} -m snakemake -s {params.snakefile} --nolock"
            " --configfile {input.config} {input.status} {input.robustness_status}"
            " --report {output} --report-stylesheet {input.stylesheet} > {log} 2>&1"
        )


# The study's cost per rule (`symaudit cost`, docs/slurm.md): jobs, hours from the unit costs
# measured on this machine (bench/unit_costs.json, the command's default, like the Slurm profile
# below: an input, so new unit costs rerun it; CPU-measured hours say so), the Slurm
# profile's requests, scratch and submissions, and the largest RSS of the benchmark files that
# exist when it runs (a rerun after the study reads them all).  Seconds: a local rule.
UNIT_COSTS = Path(workflow.basedir) / "bench" / "unit_costs.json"


localrules:
    cost_table,


rule cost_table:
    input:
        config=rules.study_config.output,
        units=os.path.relpath(UNIT_COSTS),
        code=sorted(os.path.relpath(p) for p in (SRC / "cost").glob("*.py")),
    output:
        f"{RESULTS}/tables/cost.csv",
    log:
        f"logs/{STUDY}/aggregate/cost.log",
    benchmark:
        f"benchmarks/{STUDY}/aggregate/cost.tsv"
    conda:
        "../../envs/aggregate.yaml"
    params:
        benchmarks=f"benchmarks/{STUDY}",
    shell:
        "python -m symaudit cost --configfile {input.config} --benchmarks {params.benchmarks} --out {output}"
        " > {log} 2>&1"


rule stage_figures:
    input:
        rules.figures.output,
        rules.model_quality.output,
