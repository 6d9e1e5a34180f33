# Influence stage: solve the kets of each analysis batch once (the expensive Krylov solve), then
# fan out over chunks of group elements; each bra is a gradient and a dot product.
# Memory (bench/rule_memory.json, CPU, paper presets at 128^2, influence.vmap_chunk 2, jvp
# operator; docs/slurm.md): a job's peak grows with the batch's kets n, not with the elements.
# The solve holds the metric batch's activations (vjp closure: ~0.22 GB UNet, 0.65 GB ViT per
# example), the n ket gradients, ~6 parameter-sized vectors per ket of a block-CG block
# (influence.block_size, default 48) and ONE λ of solutions (each λ is written as solved);
# a bras job one analysis batch's solutions at a time (SolvedBatches), the Galerkin reference's
# ket and bra gradients and up to 64 bra gradients per block.  Measured at n = 3 and 6; the
# Slurm profile asks for the line at the paper's n = 48 plus 25 %.


rule influence_solve:
    input:
        model=f"{RESULTS}/{symaudit_names.CHECKPOINT}",
        splits=f"{RESULTS}/{symaudit_names.SPLITS}",
        stores=family_stores,
        code=stage_code("influence"),
    output:
        solution=solution_output(f"{RESULTS}/{symaudit_names.SOLUTION}"),
    log:
        f"logs/{STUDY}/influence/{{dataset}}_{{model}}_seed{{seed}}_batch{{batch}}_solve.log",
    benchmark:
        f"benchmarks/{STUDY}/influence/{{dataset}}_{{model}}_seed{{seed}}_batch{{batch}}_solve.tsv"
    conda:
        "../../envs/torch.yaml"
    resources:
        gpu=1,
    params:
        settings=section("influence"),
        run_dir=model_dir,
        time_steps=config["analysis"]["time_steps"],
        time_stride=config["analysis"]["time_stride"],
        malloc=train_malloc,
    shell:
        "{params.malloc}python -m symaudit influence-solve --checkpoint {input.model} --run-dir {params.run_dir}"
        " --stores {input.stores} --batch {wildcards.batch} --time-steps {params.time_steps}"
        " --time-stride {params.time_stride}"
        " --settings '{params.settings}' --out {output.solution} > {log} 2>&1"


# analysis.jobs (schema): per_chunk = one bras job per (run, set, chunk), bundled on Slurm by
# `group:`; per_run = one job per run for all its chunks (the model, data and solutions loaded
# once), one rule per dataset group since its outputs follow the group's element sets.  The
# per-chunk files are the same either way.
if not PLAN.per_run_jobs():

    rule influence_bras:
        input:
            solutions=lambda w: expand(
                rules.influence_solve.output.solution,
                batch=PLAN.influence_batches(),
                allow_missing=True,
            ),
            model=f"{RESULTS}/{symaudit_names.CHECKPOINT}",
            splits=f"{RESULTS}/{symaudit_names.SPLITS}",
            stores=family_stores,
            code=stage_code("influence"),
        output:
            f"{RESULTS}/{symaudit_names.INFLUENCE}",
        log:
            f"logs/{STUDY}/influence/{{dataset}}_{{model}}_seed{{seed}}_{{set}}_{{chunk}}.log",
        benchmark:
            f"benchmarks/{STUDY}/influence/{{dataset}}_{{model}}_seed{{seed}}_{{set}}_{{chunk}}.tsv"
        group:
            "influence"
        conda:
            "../../envs/torch.yaml"
        resources:
            gpu=1,
        params:
            settings=section("influence"),
            elements=chunk_elements,
            run_dir=model_dir,
            time_steps=config["analysis"]["time_steps"],
            time_stride=config["analysis"]["time_stride"],
            dtype=config["analysis"]["dtype"],
            malloc=analysis_malloc(),
        shell:
            "{params.malloc}python -m symaudit influence-bras --solutions {input.solutions}"
            " --checkpoint {input.model} --run-dir {params.run_dir} --stores {input.stores}"
            " --time-steps {params.time_steps} --time-stride {params.time_stride}"
            " --set-name {wildcards.set} --chunk {wildcards.chunk}"
            " --elements {params.elements} --dtype {params.dtype}"
            " --settings '{params.settings}' --out {output}"
            " > {log} 2>&1"

else:
    for _dataset, _group, _models in PLAN.set_groups():

        rule:
            name:
                f"influence_bras_{_group}"
            input:
                solutions=lambda w: expand(
                    rules.influence_solve.output.solution,
                    batch=PLAN.influence_batches(),
                    allow_missing=True,
                ),
                model=f"{RESULTS}/{symaudit_names.CHECKPOINT}",
                splits=f"{RESULTS}/{symaudit_names.SPLITS}",
                stores=family_stores,
                code=stage_code("influence"),
            output:
                chunks=PLAN.run_chunk_files(symaudit_names.INFLUENCE, _dataset, _models[0]),
            log:
                f"logs/{STUDY}/influence/{{dataset}}_{{model}}_seed{{seed}}_bras.log",
            benchmark:
                f"benchmarks/{STUDY}/influence/{{dataset}}_{{model}}_seed{{seed}}_bras.tsv"
            wildcard_constraints:
                dataset=_dataset,
                model=PLAN.model_pattern(_models),
            conda:
                "../../envs/torch.yaml"
            resources:
                gpu=1,
            params:
                settings=section("influence"),
                tasks=lambda w, output: PLAN.task_arguments(w.dataset, output.chunks, w.model),
                run_dir=model_dir,
                time_steps=config["analysis"]["time_steps"],
                time_stride=config["analysis"]["time_stride"],
                dtype=config["analysis"]["dtype"],
                malloc=analysis_malloc(),
            shell:
                "{params.malloc}python -m symaudit influence-bras --solutions {input.solutions}"
                " --checkpoint {input.model} --run-dir {params.run_dir} --stores {input.stores}"
                " --time-steps {params.time_steps} --time-stride {params.time_stride}"
                " --dtype {params.dtype} {params.tasks}"
                " --settings '{params.settings}' > {log} 2>&1"


rule stage_influence:
    input:
        PLAN.influence_files(),
