# The generating solver's commutator (config analysis.commutator): per dataset group and seed,
# c_g = SMSE(Phi(g x), g Phi(x)) on the seed's analysis examples (symaudit commutator; model-free,
# so it runs beside training), then the law table joining it with the equivariance errors
# (symaudit commutator-law: tables/commutator_law.csv and case 6's pairing_fingerprints.csv,
# read by the findings).


localrules:
    commutator_law,


rule commutator:
    input:
        stores=family_stores,
        code=stage_code("commutator"),
    output:
        f"{RESULTS}/{symaudit_names.COMMUTATOR}",
    log:
        f"logs/{STUDY}/commutator/{{dataset}}_seed{{seed}}.log",
    benchmark:
        f"benchmarks/{STUDY}/commutator/{{dataset}}_seed{{seed}}.tsv"
    conda:
        "../../envs/torch.yaml"
    params:
        batches=" ".join(str(int(b)) for b in PLAN.analysis_batches()),
        time_steps=config["analysis"]["time_steps"],
        time_stride=config["analysis"]["time_stride"],
        sets=commutator_arguments,
    shell:
        "python -m symaudit commutator --stores {input.stores} --dataset {wildcards.dataset}"
        " --seed {wildcards.seed} --batches {params.batches} --time-steps {params.time_steps}"
        " --time-stride {params.time_stride}"
        " {params.sets} --out {output} > {log} 2>&1"


rule commutator_law:
    input:
        commutator=PLAN.commutator_files(),
        equivariance=PLAN.equivariance_files(),
        splits=PLAN.run_files(symaudit_names.SPLITS),
        code=stage_code("aggregate"),
    output:
        table=report(
            f"{RESULTS}/tables/commutator_law.csv",
            caption="../report/commutator_law.rst",
            category="Tables",
        ),
        fingerprints=report(
            f"{RESULTS}/tables/pairing_fingerprints.csv",
            caption="../report/pairing_fingerprints.rst",
            category="Tables",
        ),
    log:
        f"logs/{STUDY}/aggregate/commutator_law.log",
    benchmark:
        f"benchmarks/{STUDY}/aggregate/commutator_law.tsv"
    conda:
        "../../envs/aggregate.yaml"
    params:
        runs=lambda wildcards, input: PLAN.run_arguments(input.splits),
        bootstrap=json.dumps(config["analysis"]["bootstrap"], sort_keys=True),
    shell:
        "python -m symaudit commutator-law --commutator {input.commutator}"
        " --equivariance {input.equivariance} {params.runs} --out {output.table}"
        " --fingerprints {output.fingerprints}"
        " --bootstrap '{params.bootstrap}' > {log} 2>&1"
