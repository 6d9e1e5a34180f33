# Equivariance stage: per-example relative errors SMSE(f(gx), gy) / SMSE(f(x), y) for chunks of
# group elements, and the D4 twirl decomposition per run.


# analysis.jobs (schema): per_chunk = one job per (run, set, chunk) and a twirl job per run,
# bundled on Slurm by `group:`; per_run = one job per run for every chunk and the twirl (the
# model loaded once; each file measured by the same sweep as its own job), one rule per dataset
# group since its outputs follow the group's element sets.  The files are the same either way.
if not PLAN.per_run_jobs():

    rule equivariance_errors:
        input:
            model=f"{RESULTS}/{symaudit_names.CHECKPOINT}",
            splits=f"{RESULTS}/{symaudit_names.SPLITS}",
            stores=family_stores,
            code=stage_code("equivariance"),
        output:
            f"{RESULTS}/{symaudit_names.EQUIVARIANCE}",
        log:
            f"logs/{STUDY}/equivariance/{{dataset}}_{{model}}_seed{{seed}}_{{set}}_{{chunk}}.log",
        benchmark:
            f"benchmarks/{STUDY}/equivariance/{{dataset}}_{{model}}_seed{{seed}}_{{set}}_{{chunk}}.tsv"
        group:
            "equivariance"
        conda:
            "../../envs/torch.yaml"
        resources:
            gpu=1,
        params:
            elements=chunk_elements,
            batches=" ".join(str(int(b)) for b in PLAN.analysis_batches()),
            run_dir=model_dir,
            time_steps=config["analysis"]["time_steps"],
            time_stride=config["analysis"]["time_stride"],
            dtype=config["analysis"]["dtype"],
            malloc=analysis_malloc(),
        shell:
            "{params.malloc}python -m symaudit equivariance --checkpoint {input.model}"
            " --run-dir {params.run_dir} --stores {input.stores} --batches {params.batches}"
            " --time-steps {params.time_steps} --time-stride {params.time_stride}"
            " --set-name {wildcards.set} --chunk {wildcards.chunk} --elements {params.elements}"
            " --dtype {params.dtype} --out {output}"
            " > {log} 2>&1"

    rule twirl_decomposition:
        input:
            model=f"{RESULTS}/{symaudit_names.CHECKPOINT}",
            splits=f"{RESULTS}/{symaudit_names.SPLITS}",
            stores=family_stores,
            code=stage_code("equivariance"),
        output:
            f"{RESULTS}/{symaudit_names.TWIRL}",
        log:
            f"logs/{STUDY}/equivariance/{{dataset}}_{{model}}_seed{{seed}}_twirl.log",
        benchmark:
            f"benchmarks/{STUDY}/equivariance/{{dataset}}_{{model}}_seed{{seed}}_twirl.tsv"
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
            "{params.malloc}python -m symaudit equivariance --checkpoint {input.model}"
            " --run-dir {params.run_dir} --stores {input.stores} --batches {params.batches}"
            " --time-steps {params.time_steps} --time-stride {params.time_stride}"
            " --set-name d4 --elements e --dtype {params.dtype} --twirl-out {output}"
            " > {log} 2>&1"

else:
    for _dataset, _group, _models in PLAN.set_groups():

        rule:
            name:
                f"equivariance_{_group}"
            input:
                model=f"{RESULTS}/{symaudit_names.CHECKPOINT}",
                splits=f"{RESULTS}/{symaudit_names.SPLITS}",
                stores=family_stores,
                code=stage_code("equivariance"),
            output:
                chunks=PLAN.run_chunk_files(symaudit_names.EQUIVARIANCE, _dataset, _models[0]),
                twirl=f"{RESULTS}/{symaudit_names.TWIRL}",
            log:
                f"logs/{STUDY}/equivariance/{{dataset}}_{{model}}_seed{{seed}}.log",
            benchmark:
                f"benchmarks/{STUDY}/equivariance/{{dataset}}_{{model}}_seed{{seed}}.tsv"
            wildcard_constraints:
                dataset=_dataset,
                model=PLAN.model_pattern(_models),
            conda:
                "../../envs/torch.yaml"
            resources:
                gpu=1,
            params:
                tasks=lambda w, output: PLAN.task_arguments(w.dataset, output.chunks, w.model),
                batches=" ".join(str(int(b)) for b in PLAN.analysis_batches()),
                run_dir=model_dir,
                time_steps=config["analysis"]["time_steps"],
                time_stride=config["analysis"]["time_stride"],
                dtype=config["analysis"]["dtype"],
                malloc=analysis_malloc(),
            shell:
                "{params.malloc}python -m symaudit equivariance --checkpoint {input.model}"
                " --run-dir {params.run_dir} --stores {input.stores} --batches {params.batches}"
                " --time-steps {params.time_steps} --time-stride {params.time_stride}"
                " --set-name d4 --elements e --dtype {params.dtype}"
                " --twirl-out {output.twirl} {params.tasks} > {log} 2>&1"


rule stage_equivariance:
    input:
        PLAN.equivariance_files(),
