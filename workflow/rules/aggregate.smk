# Aggregation stage: quantile tables over seeds x batches x examples, the paper's figures, report.


localrules:
    aggregate_tables,


rule aggregate_tables:
    input:
        influence=all_influence(),
        equivariance=all_equivariance(),
        code=stage_code("aggregate"),
    output:
        done=touch(f"{RESULTS}/tables/.done"),
    log:
        f"logs/{STUDY}/aggregate/tables.log",
    conda:
        "../../envs/aggregate.yaml"
    params:
        study_dir=lambda wildcards, output: Path(output.done).parents[1],
    shell:
        "python -m symaudit aggregate --study-dir {params.study_dir} --out-dir $(dirname {output.done})"
        " > {log} 2>&1"


rule stage_figures:
    input:
        rules.aggregate_tables.output,
