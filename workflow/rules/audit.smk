# Audit stage: models trained elsewhere (`external_models:`), one `symaudit audit` job each on
# the data file its entry names (docs/audit.md §9): the element sets the grid allows, the
# quality gate against persistence on that file, tables/ and report.html per model.  No
# training stage; a GPU rule like the analysis rules (the Slurm profile's GPU partition).


rule audit_external:
    input:
        unpack(lambda w: PLAN.external_inputs(w.external)),
        code=stage_code("audit"),
    output:
        html=report(
            f"{RESULTS}/{symaudit_names.EXTERNAL_DIR}/report.html",
            caption="../report/external_report.rst",
            category="External models",
            subcategory="{external}",
        ),
        tables=report(
            directory(f"{RESULTS}/{symaudit_names.EXTERNAL_DIR}/tables"),
            patterns=["{name}.csv"],
            caption="../report/external_tables.rst",
            category="External models",
            subcategory="{external}",
        ),
    log:
        f"logs/{STUDY}/audit/{{external}}.log",
    benchmark:
        f"benchmarks/{STUDY}/audit/{{external}}.tsv"
    conda:
        "../../envs/torch.yaml"
    resources:
        gpu=1,
    params:
        spec=lambda w: PLAN.external_models[w.external]["spec"],
        options=lambda w: PLAN.external_arguments(w.external),
        out=lambda w, output: Path(output.html).parent,
        max_ratio=config["quality"]["max_persistence_ratio"],
    shell:
        "python -m symaudit audit --model {params.spec:q} --data {input.data:q}"
        " {params.options} --max-persistence-ratio {params.max_ratio} --out {params.out:q}"
        " > {log} 2>&1"


# The example data of config/external.yaml (a the_well file of isotropic diffusion,
# symaudit.audit.examples): written by the workflow, so the example needs no download.
rule audit_example_data:
    input:
        code=os.path.relpath(SRC / "audit" / "examples.py"),
    output:
        f"{RESULTS}/example/fields.h5",
    log:
        f"logs/{STUDY}/audit/example_data.log",
    benchmark:
        f"benchmarks/{STUDY}/audit/example_data.tsv"
    conda:
        "../../envs/torch.yaml"
    params:
        trajectories=2,
        time_steps=4,
        resolution=16,
    shell:
        "python -m symaudit.audit.examples --out {output:q} --trajectories {params.trajectories}"
        " --time-steps {params.time_steps} --resolution {params.resolution} > {log} 2>&1"


rule stage_audit:
    input:
        PLAN.external_files(),
