# The companion paper's diagnostics (symaudit.companion): included by the Snakefile when
# config["companion"]["enabled"].  Per run: the autoregressive rollouts of its analysis
# trajectories; its Gauss–Newton spectrum at each configured epoch and at the last; at each
# configured epoch before the last, the identity element's influence of that epoch's kept
# checkpoint (the influence stage's two commands).  Checkpoints other than final.pt are params:
# training writes them beside final.pt, which is the input.  Then one local job reads every
# run's identity-element influence (the first element of the first element set: e or t(0,0)),
# analysis inputs, metrics, rollouts, spectra and earlier influence, and writes the companion
# tables and figures; the report waits for them.


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


rule companion_solve:
    input:
        model=f"{RESULTS}/models/{{dataset}}/{{model}}/seed{{seed}}/final.pt",
        stores=family_stores,
        code=stage_code("influence"),
    output:
        solution=directory(
            f"{RESULTS}/companion/{{dataset}}/{{model}}/seed{{seed}}/epoch{{epoch}}/batch{{batch}}/solution"
        ),
    log:
        f"logs/{STUDY}/companion/{{dataset}}_{{model}}_seed{{seed}}_epoch{{epoch}}_batch{{batch}}_solve.log",
    conda:
        "../../envs/torch.yaml"
    resources:
        gpu=1,
    params:
        checkpoint=companion_checkpoint,
        settings=companion_influence_settings(),
        run_dir=model_dir,
        time_steps=config["analysis"]["time_steps"],
    shell:
        "python -m symaudit influence-solve --checkpoint {params.checkpoint}"
        " --run-dir {params.run_dir} --stores {input.stores} --batch {wildcards.batch}"
        " --time-steps {params.time_steps} --settings '{params.settings}'"
        " --out {output.solution} > {log} 2>&1"


rule companion_identity:
    input:
        solutions=lambda w: expand(
            rules.companion_solve.output.solution, batch=analysis_batches(), allow_missing=True
        ),
        model=f"{RESULTS}/models/{{dataset}}/{{model}}/seed{{seed}}/final.pt",
        stores=family_stores,
        code=stage_code("influence"),
    output:
        f"{RESULTS}/companion/{{dataset}}/{{model}}/seed{{seed}}/epoch{{epoch}}/identity.nc",
    log:
        f"logs/{STUDY}/companion/{{dataset}}_{{model}}_seed{{seed}}_epoch{{epoch}}_identity.log",
    conda:
        "../../envs/torch.yaml"
    resources:
        gpu=1,
    params:
        checkpoint=companion_checkpoint,
        settings=companion_influence_settings(),
        run_dir=model_dir,
        time_steps=config["analysis"]["time_steps"],
    shell:
        "python -m symaudit influence-bras --solutions {input.solutions}"
        " --checkpoint {params.checkpoint} --run-dir {params.run_dir} --stores {input.stores}"
        " --time-steps {params.time_steps} --set-name d4 --elements e"
        " --settings '{params.settings}' --out {output} > {log} 2>&1"


rule companion_spectrum:
    input:
        model=f"{RESULTS}/models/{{dataset}}/{{model}}/seed{{seed}}/final.pt",
        stores=family_stores,
        code=stage_code("companion"),
    output:
        f"{RESULTS}/companion/{{dataset}}/{{model}}/seed{{seed}}/epoch{{epoch}}/spectrum.nc",
    log:
        f"logs/{STUDY}/companion/{{dataset}}_{{model}}_seed{{seed}}_epoch{{epoch}}_spectrum.log",
    conda:
        "../../envs/torch.yaml"
    resources:
        gpu=1,
    params:
        checkpoint=companion_checkpoint,
        run_dir=model_dir,
        batches=" ".join(str(int(b)) for b in analysis_batches()),
        time_steps=config["analysis"]["time_steps"],
    shell:
        "python -m symaudit companion spectrum --checkpoint {params.checkpoint}"
        " --epoch {wildcards.epoch} --run-dir {params.run_dir} --stores {input.stores}"
        " --batches {params.batches} --time-steps {params.time_steps} --out {output}"
        " > {log} 2>&1"


rule companion_tables:
    input:
        influence=[companion_influence_file(d, m, s) for d, m, s in runs()],
        metrics=[f"{RESULTS}/models/{d}/{m}/seed{s}/metrics.csv" for d, m, s in runs()],
        rollout=[f"{RESULTS}/companion/{d}/{m}/seed{s}/rollout.nc" for d, m, s in runs()],
        epochs=[path for *_, path in companion_epoch_files()],
        spectra=[path for *_, path in companion_spectrum_files()],
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
        epochs=companion_epoch_arguments,
        spectra=companion_spectrum_arguments,
        settings=section("companion"),
        tables=lambda wildcards, output: Path(output.tables[0]).parent,
        figures=lambda wildcards, output: Path(output.figures[0]).parent,
    shell:
        "python -m symaudit companion tables {params.runs} {params.epochs} {params.spectra}"
        " --stores {input.stores}"
        " --settings '{params.settings}' --tables-dir {params.tables}"
        " --figures-dir {params.figures} > {log} 2>&1"


rule stage_companion:
    input:
        rules.companion_tables.output,
