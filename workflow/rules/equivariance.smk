# Equivariance stage: per-example relative errors SMSE(f(gx), gy) / SMSE(f(x), y) for chunks of
# group elements (one model load per chunk), and the D4 twirl decomposition per run.


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
    shell:
        "python -m symaudit equivariance --checkpoint {input.model} --run-dir {params.run_dir}"
        " --stores {input.stores} --batches {params.batches} --time-steps {params.time_steps}"
        " --set-name {wildcards.set} --chunk {wildcards.chunk} --elements {params.elements}"
        " --out {output}"
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
    shell:
        "python -m symaudit equivariance --checkpoint {input.model} --run-dir {params.run_dir}"
        " --stores {input.stores} --batches {params.batches} --time-steps {params.time_steps}"
        " --set-name d4 --elements e --twirl-out {output} > {log} 2>&1"


rule stage_equivariance:
    input:
        PLAN.equivariance_files(),
