# The companion paper's diagnostics (symaudit.companion): included by the Snakefile when
# config["companion"]["enabled"].  Per run, the autoregressive rollouts of its analysis
# trajectories; then one local job reads every run's identity-element influence (the first
# element of the first element set: e or t(0,0)), analysis inputs, metrics and rollouts, and
# writes the companion tables and figures; the report waits for them.


localrules:
    companion_tables,
    stage_companion,


rule companion_rollout:
    input:
        model=f"{RESULTS}/models/{{dataset}}/{{model}}/seed{{seed}}/final.pt",
        stores=family_stores,
        code=stage_code("companion"),
    output:
        f"{RESULTS}/companion/{{dataset}}/{{model}}/seed{{seed}}/rollout.nc",
    log:
        f"logs/{STUDY}/companion/{{dataset}}_{{model}}_seed{{seed}}_rollout.log",
    conda:
        "../../envs/torch.yaml"
    params:
        run_dir=model_dir,
        batches=" ".join(str(int(b)) for b in analysis_batches()),
        starts=config["analysis"]["time_steps"],
        train_transitions=config["train"]["time_steps"] - 1,
    shell:
        "python -m symaudit companion rollout --checkpoint {input.model}"
        " --run-dir {params.run_dir} --stores {input.stores} --batches {params.batches}"
        " --starts {params.starts} --train-transitions {params.train_transitions}"
        " --out {output} > {log} 2>&1"


rule companion_tables:
    input:
        influence=[companion_influence_file(d, m, s) for d, m, s in runs()],
        metrics=[f"{RESULTS}/models/{d}/{m}/seed{s}/metrics.csv" for d, m, s in runs()],
        rollout=[f"{RESULTS}/companion/{d}/{m}/seed{s}/rollout.nc" for d, m, s in runs()],
        stores=all_stores(),
        code=stage_code("companion"),
    output:
        tables=[
            report(
                f"{RESULTS}/tables/{name}.csv",
                caption=f"../report/{name}.rst",
                category="Companion",
            )
            for name in symaudit_companion.TABLES
        ],
        figures=[
            report(
                f"{RESULTS}/figures/{stem}.png",
                caption=f"../report/{stem}.rst",
                category="Companion",
            )
            for stem in symaudit_companion.FIGURES
        ],
    log:
        f"logs/{STUDY}/companion/tables.log",
    conda:
        "../../envs/aggregate.yaml"
    params:
        runs=companion_run_arguments,
        settings=section("companion"),
        tables=lambda wildcards, output: Path(output.tables[0]).parent,
        figures=lambda wildcards, output: Path(output.figures[0]).parent,
    shell:
        "python -m symaudit companion tables {params.runs} --stores {input.stores}"
        " --settings '{params.settings}' --tables-dir {params.tables}"
        " --figures-dir {params.figures} > {log} 2>&1"


rule stage_companion:
    input:
        rules.companion_tables.output,
