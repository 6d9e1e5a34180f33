"""``symaudit cost``: the table of a tiny study against a hand computation (jobs per rule,
seconds per job, totals, submissions, scratch), the profile's requests, benchmark files, and the
plan's job counts against a Snakemake dry run of the CI's tiny study."""

import csv
import json

import pytest
import yaml

from symaudit import cli
from symaudit.cost import Plan, build_table, load_config, read_benchmarks, rule_resources

TINY = {
    "study": "t",
    "data": {"source": "generated", "resolution": 32, "trajectories": 10, "time_steps": 5},
    "datasets": ["NS"],
    "models": ["unet"],
    "preset": "quick",
    "seeds": [0],
    "train": {"epochs": 2, "batch_size": 4, "time_steps": 3},
    "analysis": {
        "batches": 2,
        "time_steps": 2,
        "element_sets": ["d4", "shift_x"],
        "chunk_size": 5,
        "jobs": "per_chunk",
    },
    "influence": {
        "damping": {"mode": "relative", "values": [1e-2, 1e-3], "primary": 1e-3},
        "preconditioner_rank": 2,
        "max_iterations": 3,
    },
}
UNITS = {
    "machine": {"device": "cpu", "threads": 1},
    "costs": {
        "unet/quick/32": {
            "parameters": 1000,
            "forward": 1.0,
            "optimiser_step": 10.0,
            "per_example_gradients": 3.0,
            "setup_linearize": 100.0,
            "matvec_linearize": 2.0,
            "jvp_linearize": 1.0,
        }
    },
}
PROFILE = {
    "default-resources": {"runtime": "attempt * 30", "mem_mb": 4000},
    "set-resources": {
        "train_model": {"gpu": 1, "runtime": 720, "mem_mb": "attempt * 32000"},
        "influence_solve": {"gpu": 1, "runtime": "attempt * 180"},
        "influence_bras": {"gpu": 1},
        "equivariance_errors": {"gpu": 1},
        "twirl_decomposition": {"gpu": 1},
    },
    "group-components": {"influence": 8, "equivariance": 8},
}


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    return path


def test_table_matches_a_hand_computation(tiny):
    rows = {r.rule: r for r in build_table(Plan(load_config([tiny])), UNITS, PROFILE)}
    # d4: 8 elements in chunks of 5 -> [5, 3]; shift_x at 32^2: 32 -> six of 5 and one of 2
    assert {rule: r.jobs for rule, r in rows.items()} == {
        "simulate_family": 3,  # NS-BB, NS-Gauss, NS-Sines
        "study_config": 1,
        "train_model": 1,
        "influence_solve": 2,  # 1 run x 2 batches
        "influence_bras": 9,
        "equivariance_errors": 9,
        "twirl_decomposition": 1,
        "model_quality": 1,
        "aggregate_tables": 1,
        "influence_robustness": 1,  # a damping path
        "figures": 1,
        "cost_table": 1,
        "report_html": 1,
    }
    # train: 10 trajectories -> 6 train (round half to even), 1 val; 2 transitions each;
    # per epoch 3*6*2 = 36 trained x 10 s + 3*1*2 = 6 validated x 1 s; 2 epochs
    assert rows["train_model"].total_hours * 3600 == pytest.approx(2 * (36 * 10 + 6 * 1))
    # solve, n = 6 examples: 6 x (100 + 3) set-up and gradients, 30 Lanczos mat-vecs, rank 2
    # and 2 λ x (3 iterations + 1 residual check) x 6 kets, each mat-vec 6 x 2 s
    solve = 6 * 103 + 30 * 6 * 2 + (2 + 2 * 4 * 6) * 6 * 2
    assert rows["influence_solve"].hours_per_job * 3600 == pytest.approx(solve)
    assert rows["influence_solve"].total_hours * 3600 == pytest.approx(2 * solve)
    # bras: 2 batches x E x 6 examples x 1 observable (NS) x 3 s, E summed over chunks = 40
    assert rows["influence_bras"].total_hours * 3600 == pytest.approx(2 * 40 * 6 * 3)
    # equivariance: 2 batches x (E + 1) x 6 forwards, summed over 9 chunks: 40 + 9
    assert rows["equivariance_errors"].total_hours * 3600 == pytest.approx(2 * 49 * 6)
    assert rows["twirl_decomposition"].total_hours * 3600 == pytest.approx(2 * 8 * 6)
    assert rows["train_model"].measured_on == "CPU-measured (1 thread(s))"
    assert rows["simulate_family"].total_hours is None  # not modelled
    # submissions: grouped rules 8 per sbatch, local rules none
    subs = {rule: r.submissions for rule, r in rows.items() if r.submissions}
    assert subs == {
        "simulate_family": 3,
        "train_model": 1,
        "influence_solve": 2,
        "influence_bras": 2,
        "equivariance_errors": 2,
        "twirl_decomposition": 1,
    }
    # scratch: 4 checkpoints (epoch 1, 2, final, last) x 3 P x 4 B; solutions 2 λ x 6 x P x 4 B
    assert rows["train_model"].scratch_gb_total * 1e9 == pytest.approx(4 * 3 * 1000 * 4)
    assert rows["influence_solve"].scratch_gb_per_job * 1e9 == pytest.approx(2 * 6 * 1000 * 4)
    # 10 trajectories x 5 frames x 2 channels x 32^2 x 4 B per store
    assert rows["simulate_family"].scratch_gb_per_job * 1e9 == pytest.approx(10 * 5 * 2 * 1024 * 4)


def test_max_trajectories_prices_the_first_k_train_trajectories(tmp_path):
    """A variant with train.max_trajectories k trains on k trajectories per class: 3*2*2 = 12
    transitions per epoch instead of the split's 36 (the val transitions unchanged)."""
    cfg = {
        **TINY,
        "models": ["unet-few"],
        "variants": {"unet-few": {"model": "unet", "train": {"max_trajectories": 2}}},
    }
    path = tmp_path / "few.yaml"
    path.write_text(yaml.safe_dump(cfg))
    rows = {r.rule: r for r in build_table(Plan(load_config([path])), UNITS, PROFILE)}
    assert rows["train_model"].total_hours * 3600 == pytest.approx(2 * (12 * 10 + 6 * 1))


def test_per_run_jobs_cost_the_sum_of_their_chunks(tmp_path):
    """analysis.jobs per_run: one bras and one equivariance job per run, each the sum of the
    per-chunk jobs it replaces (every chunk is measured as its own invocation would)."""
    chunked, per_run = tmp_path / "chunked.yaml", tmp_path / "per_run.yaml"
    chunked.write_text(yaml.safe_dump(TINY))
    per_run.write_text(
        yaml.safe_dump({**TINY, "analysis": {**TINY["analysis"], "jobs": "per_run"}})
    )
    a = {r.rule: r for r in build_table(Plan(load_config([chunked])), UNITS, PROFILE)}
    b = {r.rule: r for r in build_table(Plan(load_config([per_run])), UNITS, PROFILE)}
    assert "influence_bras" not in b and "equivariance_errors" not in b
    assert b["influence_bras_NS"].jobs == b["equivariance_NS"].jobs == 1
    assert b["influence_bras_NS"].total_hours == pytest.approx(a["influence_bras"].total_hours)
    both = a["equivariance_errors"].total_hours + a["twirl_decomposition"].total_hours
    assert b["equivariance_NS"].total_hours == pytest.approx(both)
    assert b["equivariance_NS"].device == "gpu" and b["equivariance_NS"].submissions == 1


def test_profile_requests_and_benchmark_files(tmp_path):
    assert rule_resources(PROFILE, "train_model") == ("gpu", 720.0, 32000.0)
    assert rule_resources(PROFILE, "ingest_family") == ("cpu", 30.0, 4000.0)
    assert rule_resources(PROFILE, "figures") == ("local", None, None)
    header = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    files = {
        "influence/CE_unet_seed0_batch00_solve.tsv": ("12.5", "800.5"),
        "influence/CE_unet_seed0_batch01_solve.tsv": ("10.0", "900.0"),
        "influence/CE_unet_seed0_d4_000.tsv": ("3.0", "NA"),
        "data/CE-RP_data_0.tsv": ("1.0", "50.0"),
        "influence/CE_unet_seed0_bras.tsv": ("20.0", "700.0"),  # per run
        "equivariance/NS_twirled-unet_seed3.tsv": ("8.0", "600.0"),  # per run
        "equivariance/NS_unet_seed3_d4_000.tsv": ("2.0", "500.0"),
    }
    for name, (sec, rss) in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(header + f"{sec}\t0:00:12\t{rss}\t1\t1\t1\t0\t0\t0\t1\n")
    got = read_benchmarks(tmp_path)
    assert got["influence_solve"] == {"max_rss_mb": 900.0, "max_seconds": 12.5}
    assert got["influence_bras"] == {"max_rss_mb": 0.0, "max_seconds": 3.0}
    assert got["pdegym_lookalike"]["max_rss_mb"] == 50.0
    assert got["influence_bras_CE"] == {"max_rss_mb": 700.0, "max_seconds": 20.0}
    assert got["equivariance_NS"] == {"max_rss_mb": 600.0, "max_seconds": 8.0}
    assert got["equivariance_errors"]["max_rss_mb"] == 500.0


def test_cli_prints_and_writes_the_table(tiny, tmp_path, capsys):
    units = tmp_path / "units.json"
    units.write_text(json.dumps(UNITS))
    out = tmp_path / "cost.csv"
    argv = ["cost", "--configfile", str(tiny), "--units", str(units), "--out", str(out)]
    assert cli.main([*argv, "--config", "train.epochs=4"]) == 0
    text = capsys.readouterr().out
    assert "train_model" in text and "CPU-measured" in text
    rows = {r["rule"]: r for r in csv.DictReader(out.open())}
    assert float(rows["train_model"]["total_hours"]) * 3600 == pytest.approx(4 * 366, rel=1e-5)


@pytest.mark.parametrize(
    "configfile",
    [
        "config/config.yaml",
        "config/validation.yaml",
        "config/augmentation.yaml",
        "config/rehearsal.yaml",
        "config/external.yaml",
    ],
)
def test_every_shipped_study_has_a_cost_table(configfile, tmp_path, capsys):
    """Every study's cost_table job runs `symaudit cost` (the validation study's NSK group, whose
    families are NS flows, once had no entry in the per-equations tables)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    out = tmp_path / "cost.csv"
    argv = ["cost", "--configfile", str(root / configfile), "--out", str(out)]
    argv += ["--units", str(root / "bench" / "unit_costs.json")]
    assert cli.main(argv) == 0, capsys.readouterr().err
    rows = list(csv.DictReader(out.open()))
    assert rows and all(int(r["jobs"]) >= 1 for r in rows)
