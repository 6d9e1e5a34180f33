# Continuous translations (config analysis.lie): per run, the Lie derivatives along x and y and
# the sub-cell profile R(eps) (symaudit lie); then their tables and figure (symaudit lie-tables).


localrules:
    lie_tables,


rule lie_derivative:
    input:
        model=f"{RESULTS}/{symaudit_names.CHECKPOINT}",
        splits=f"{RESULTS}/{symaudit_names.SPLITS}",
        stores=family_stores,
        code=stage_code("equivariance"),
    output:
        f"{RESULTS}/{symaudit_names.LIE}",
    log:
        f"logs/{STUDY}/equivariance/{{dataset}}_{{model}}_seed{{seed}}_lie.log",
    benchmark:
        f"benchmarks/{STUDY}/equivariance/{{dataset}}_{{model}}_seed{{seed}}_lie.tsv"
    group:
        "equivariance"
    conda:
        "../../envs/torch.yaml"
    resources:
        gpu=1,
    params:
        batches=" ".join(str(int(b)) for b in PLAN.analysis_batches()),
        run_dir=model_dir,
        time_steps=config["analysis"]["time_steps"],
        time_stride=config["analysis"]["time_stride"],
        dtype=config["analysis"]["dtype"],
        malloc=analysis_malloc(),
    shell:
        "{params.malloc}python -m symaudit lie --checkpoint {input.model}"
        " --run-dir {params.run_dir} --stores {input.stores} --batches {params.batches}"
        " --time-steps {params.time_steps} --time-stride {params.time_stride}"
        " --dtype {params.dtype} --out {output} > {log} 2>&1"


rule lie_tables:
    input:
        lie=PLAN.run_files(symaudit_names.LIE),
        code=stage_code("aggregate"),
    output:
        table=report(
            f"{RESULTS}/tables/lie_derivative.csv",
            caption="../report/lie_derivative.rst",
            category="Tables",
        ),
        profile=report(
            f"{RESULTS}/tables/lie_profile.csv",
            caption="../report/lie_profile.rst",
            category="Tables",
        ),
        figure=report(
            f"{RESULTS}/figures/subcell_profile.png",
            caption="../report/subcell_profile.rst",
            category="Figures",
        ),
    log:
        f"logs/{STUDY}/aggregate/lie_tables.log",
    benchmark:
        f"benchmarks/{STUDY}/aggregate/lie_tables.tsv"
    conda:
        "../../envs/aggregate.yaml"
    params:
        tables=lambda wildcards, output: Path(output.table).parent,
        figures=lambda wildcards, output: Path(output.figure).parent,
        bootstrap=json.dumps(config["analysis"]["bootstrap"], sort_keys=True),
    shell:
        "python -m symaudit lie-tables --inputs {input.lie} --tables {params.tables}"
        " --figures {params.figures} --bootstrap '{params.bootstrap}' > {log} 2>&1"


rule stage_lie:
    input:
        rules.lie_tables.output,
