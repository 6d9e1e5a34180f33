# Training stage: one run per (dataset group, model, seed) on the group's three class stores.
# GPUs, runtime and memory come from the profile (set-resources); `gpu` > 1 launches DDP.


rule train_model:
    input:
        stores=family_stores,
        code=stage_code("train"),
    output:
        model=f"{RESULTS}/{symaudit_names.CHECKPOINT}",
        metrics=f"{RESULTS}/{symaudit_names.METRICS}",
        # the seeded trajectory lists every analysis reads its batches from; training keeps
        # them across reruns (it checks them against seed and fractions, and moves them aside
        # when the run starts afresh), so update() keeps Snakemake from deleting them first
        splits=update(f"{RESULTS}/{symaudit_names.SPLITS}"),
        curve=report(
            f"{RESULTS}/{symaudit_names.TRAINING_CURVE}",
            caption="../report/training_curve.rst",
            category="Training",
            subcategory="{dataset} {model}",
            labels={"dataset": "{dataset}", "model": "{model}", "seed": "{seed}"},
        ),
    log:
        f"logs/{STUDY}/train/{{dataset}}_{{model}}_seed{{seed}}.log",
    benchmark:
        f"benchmarks/{STUDY}/train/{{dataset}}_{{model}}_seed{{seed}}.tsv"
    # training first, the longest first (estimated CPU-seconds, symaudit.study.train_priority):
    # the runs are the study's long jobs and every other job waits on one; the short analysis
    # jobs (priority 0) of finished runs fill in behind them
    priority: lambda w: PLAN.train_priority(w.dataset, w.model)
    conda:
        "../../envs/torch.yaml"
    threads: train_threads
    resources:
        gpu=1,
    params:
        preset=config["preset"],
        architecture=lambda wildcards: PLAN.architecture(wildcards.model),
        settings=train_settings,
        out=model_dir,
        malloc=train_malloc,
    shell:
        "if [ {resources.gpu} -gt 1 ]; then"
        " launch='torchrun --standalone --nproc_per_node={resources.gpu}';"
        " else launch=python; fi;"
        " {params.malloc}$launch -m symaudit train --dataset {wildcards.dataset} --model {params.architecture}"
        " --name {wildcards.model}"
        " --preset {params.preset} --seed {wildcards.seed} --stores {input.stores}"
        " --out {params.out} --settings '{params.settings}' --restart-on-change"
        " > {log} 2>&1"


rule stage_train:
    input:
        PLAN.run_files(symaudit_names.CHECKPOINT),
