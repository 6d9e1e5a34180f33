# Data stage: one Zarr store per flow family, generated (look-alike solvers) or ingested (PDEGym).


if config["data"]["source"] == "generated":

    rule simulate_family:
        input:
            code=stage_code("data"),
        output:
            store=directory(f"{RESULTS}/{symaudit_names.STORE}"),
        log:
            f"logs/{STUDY}/data/{{family}}.log",
        benchmark:
            f"benchmarks/{STUDY}/data/{{family}}.tsv",
        conda:
            "../../envs/data.yaml"
        threads: config["data"]["cluster"]["workers"]
        params:
            resolution=config["data"]["resolution"],
            trajectories=config["data"]["trajectories"],
            time_steps=config["data"]["time_steps"],
            seed=config["data"]["seed"],
            cluster=json.dumps(config["data"]["cluster"]),
        shell:
            "python -m symaudit simulate {wildcards.family} --resolution {params.resolution}"
            " --trajectories {params.trajectories} --time-steps {params.time_steps}"
            " --seed {params.seed} --cluster '{params.cluster}' --out {output.store}"
            " --no-progress > {log} 2>&1"

else:

    rule ingest_family:
        input:
            netcdf=pdegym_files,
            code=stage_code("data"),
        output:
            store=directory(f"{RESULTS}/{symaudit_names.STORE}"),
        log:
            f"logs/{STUDY}/data/{{family}}.log",
        benchmark:
            f"benchmarks/{STUDY}/data/{{family}}.tsv",
        conda:
            "../../envs/data.yaml"
        params:
            order=config["data"]["order"],
        shell:
            "python -m symaudit ingest {input.netcdf} --family {wildcards.family}"
            " --order {params.order} --out {output.store} > {log} 2>&1"


rule stage_data:
    input:
        all_stores(),
