# The companion paper's diagnostics (symaudit.companion): included by the Snakefile when
# config["companion"]["enabled"].  One job per run (`symaudit companion run`): rollouts of
# final.pt, the Gauss–Newton spectrum at each configured epoch and the last, and the identity
# element's raw influence at each configured epoch before the last.  Those checkpoints are
# training's kept ckpt_epoch files beside final.pt (the input); the study plan (symaudit.study)
# checks before any job that training keeps them.  Then one local job reads every run's
# identity-element influence (the first element of the first element set: e or t(0,0)),
# analysis inputs, metrics and diagnostics, and writes the companion tables and figures; the
# report waits for them.


localrules:
    companion_tables,
    stage_companion,


rule companion_run:
    input:
        model=f"{RESULTS}/{symaudit_names.CHECKPOINT}",
        splits=f"{RESULTS}/{symaudit_names.SPLITS}",
        stores=family_stores,
        code=stage_code("companion"),
    output:
        f"{RESULTS}/{symaudit_names.DIAGNOSTICS}",
    log:
        f"logs/{STUDY}/companion/{{dataset}}_{{model}}_seed{{seed}}.log",
    benchmark:
        f"benchmarks/{STUDY}/companion/{{dataset}}_{{model}}_seed{{seed}}.tsv"
    conda:
        "../../envs/torch.yaml"
    resources:
        gpu=1,
    params:
        run_dir=model_dir,
        batches=" ".join(str(int(b)) for b in PLAN.influence_batches()),
        time_steps=config["analysis"]["time_steps"],
        time_stride=config["analysis"]["time_stride"],
        last=lambda w: PLAN.run_train(w.dataset, w.model)["epochs"],
        earlier=lambda w: " ".join(str(e) for e in PLAN.companion_epochs(w.dataset, w.model)),
        train_transitions=config["train"]["time_steps"] - 1,
        influence=section("influence"),
    shell:
        "python -m symaudit companion run --run-dir {params.run_dir} --stores {input.stores}"
        " --batches {params.batches} --time-steps {params.time_steps}"
        " --time-stride {params.time_stride}"
        " --last-epoch {params.last} --earlier-epochs {params.earlier}"
        " --train-transitions {params.train_transitions} --influence '{params.influence}'"
        " --out {output} > {log} 2>&1"


rule companion_tables:
    input:
        influence=[PLAN.companion_influence_file(d, m, s) for d, m, s in PLAN.run_keys()],
        metrics=PLAN.run_files(symaudit_names.METRICS),
        splits=PLAN.run_files(symaudit_names.SPLITS),
        diagnostics=PLAN.run_files(symaudit_names.DIAGNOSTICS),
        stores=PLAN.stores(),
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
    benchmark:
        f"benchmarks/{STUDY}/companion/tables.tsv"
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
