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
            f"benchmarks/{STUDY}/data/{{family}}.tsv"
        # every store before any training, those of the longest runs first (study.data_priority)
        priority: lambda w: PLAN.data_priority(w.family)
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

    # a rehearsal (config key `rehearsal`) writes look-alike chunk files into pdegym_dir first
    LOOKALIKE = config.get("rehearsal") or {}

    if LOOKALIKE:

        rule pdegym_lookalike:
            input:
                code=stage_code("data"),
            output:
                f"{config['pdegym_dir']}/{{family}}/{{variable}}_{{part}}.nc",
            log:
                f"logs/{STUDY}/data/{{family}}_{{variable}}_{{part}}.log",
            benchmark:
                f"benchmarks/{STUDY}/data/{{family}}_{{variable}}_{{part}}.tsv"
            wildcard_constraints:
                variable="data|velocity",
                part=r"\d+",
            conda:
                "../../envs/data.yaml"
            params:
                resolution=config["data"]["resolution"],
                time_steps=config["data"]["time_steps"],
                lookalike={
                    k: LOOKALIKE[k]
                    for k in ("trajectories", "per_file", "solve_resolution", "seed")
                },
                out=lambda wildcards, output: Path(output[0]).parent,
            shell:
                "python -m symaudit pdegym-lookalike {wildcards.family}"
                " --resolution {params.resolution} --time-steps {params.time_steps}"
                " --solve-resolution {params.lookalike[solve_resolution]}"
                " --trajectories {params.lookalike[trajectories]}"
                " --per-file {params.lookalike[per_file]} --seed {params.lookalike[seed]}"
                " --chunk {wildcards.part} --out {params.out} > {log} 2>&1"

    rule ingest_family:
        input:
            netcdf=pdegym_files,
            code=stage_code("data"),
        output:
            store=directory(f"{RESULTS}/{symaudit_names.STORE}"),
        log:
            f"logs/{STUDY}/data/{{family}}.log",
        benchmark:
            f"benchmarks/{STUDY}/data/{{family}}.tsv"
        # every store before any training, those of the longest runs first (study.data_priority)
        priority: lambda w: PLAN.data_priority(w.family)
        conda:
            "../../envs/data.yaml"
        params:
            order=config["data"]["order"],
        shell:
            "python -m symaudit ingest {input.netcdf} --family {wildcards.family}"
            " --order {params.order} --out {output.store} > {log} 2>&1"


rule stage_data:
    input:
        PLAN.stores(),
