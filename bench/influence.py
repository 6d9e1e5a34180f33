"""Benchmark: the influence engine against curvlinops on one Gauss–Newton influence problem.

Problem: the ``unet``/``tiny`` model (~98k parameters, fp32) on a metric batch of smooth random
periodic fields; the kets are the per-example SMSE gradients of the batch (as in the reference's
``qr.jl``), λ = 1e-3·λ_max and 1e-4·λ_max of M = JᵀJ/D, rtol = 1e-4.  For each λ it runs

* ours: block CG on all kets, and block CG + Nyström preconditioner on all kets;
* the head-to-head on the same kets (all of them unless ``--peer-kets`` says fewer):
  curvlinops' ``CGInverseLinearOperator`` (GPyTorch ``linear_cg``, lock-step CG, stopping on the
  MEAN normalised residual, minimum 10 iterations) over its own ``GGNLinearOperator`` (MSELoss,
  so its GGN is 2·JᵀJ/D: the bench inverts ½·GGN + λI); its ``tolerance`` starts at rtol/2 and
  is halved until its MAX true relative residual is no larger than ours (equal true residual);
* an fp64 reference (fp64 model, block PCG to rtol 1e-10) for the first ``--reference-kets``
  kets: the influence error is ‖ΔΠ‖_F/‖Π_ref‖_F of those columns of Π = G Xᵀ, with all
  kets' gradients as bras;
* the Galerkin shortcut of the reference code (span of the ket gradients, 99.99 % energy): its
  relative Frobenius gap to our converged Π;
* the damping path: all ``--dampings`` in ONE ``solve_kets`` call (shared operator, gradients,
  λ_max and Nyström sketch), its mat-vecs against one solve at the smallest λ (target ≤ 2×).

Columns: product cost per vector in units of one forward+backward of the batch loss,
mat-vecs (single-vector products; the Nyström build and true-residual checks included), wall
time, the MAX true relative residual over kets, influence error, and the speed-up on the same
kets = curvlinops / ours, as measured wall time and as "work" = mat-vecs × product cost (the
machine is shared, so wall times drift with other users' load; product costs are measured
interleaved).  ``python bench/influence.py --help`` lists the sizes; the defaults are
reduced (16² fields) to fit ~25 minutes on an idle 2-core CPU, most of it in curvlinops.
"""

from __future__ import annotations

import argparse
import copy
import os
import time
import warnings

import torch

from symaudit import losses
from symaudit.influence import (
    GaussNewtonOperator,
    gram,
    lanczos_lambda_max,
    per_example_gradients,
    row_norms,
    solve_kets,
)
from symaudit.models import build, count_parameters


def smooth_fields(n: int, channels: int, res: int, gen: torch.Generator) -> torch.Tensor:
    """Periodic random fields with a Gaussian spectrum (a few dominant modes)."""
    noise = torch.randn(n, channels, res, res, generator=gen)
    k = torch.fft.fftfreq(res) * res
    k2 = k[:, None] ** 2 + k[None, :] ** 2
    spec = torch.fft.fft2(noise) * torch.exp(-k2 / (2 * 3.0**2))
    f = torch.fft.ifft2(spec).real
    return f / f.std(dim=(-2, -1), keepdim=True)


def fitted_unet(preset: str, examples: int, resolution: int, train_steps: int, seed: int):
    """The benchmarks' problem: a UNet ``preset`` (2 channels), ``examples`` smooth periodic
    fields at ``resolution``² mapped to their one-cell shift plus noise, fitted by
    ``train_steps`` AdamW steps on that batch (a random init has a degenerate spectrum);
    returns ``(model, x, y, gen)``, ``gen`` the generator the fields were drawn from (its
    state after them, for the caller's further draws)."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = build("unet", preset, 2)
    x = smooth_fields(examples, 2, resolution, gen)
    y = torch.roll(x, shifts=1, dims=-1) + 0.05 * torch.randn(x.shape, generator=gen)
    opt = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=1e-4)
    for _ in range(train_steps):
        opt.zero_grad()
        losses.smse(model(x), y).backward()
        opt.step()
    model.zero_grad(set_to_none=True)
    return model, x, y, gen


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def print_row(r: dict, costs: dict) -> None:
    """One table row; the speed-ups are curvlinops / ours on the same kets: measured wall time,
    and "work" = mat-vecs × product cost (robust to load changes on a shared machine)."""
    cost = costs["curvlinops" if r["label"].startswith("curvlinops") else "ours"]
    speed = f"{r['speedup']:.1f}× / {r['work_speedup']:.1f}×" if "speedup" in r else ""
    print(
        f"| {r['lam']:.0e} | {r['label']} | {r['kets']} | {cost:.2f} | {r['matvecs']} | "
        f"{r['wall']:.1f} ({r['products']:.1f}) | {r['relres']:.2e} | {r['err']:.2e} | {speed} |",
        flush=True,
    )


def true_relres(op: GaussNewtonOperator, lam: float, B: torch.Tensor, X: torch.Tensor) -> float:
    R = B - (op.mm(X) + lam * X)
    return float((row_norms(R) / row_norms(B)).max())


def rel_fro(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


def solve_row(label, model, x, y, kets, rank, common, influence_err, rel) -> dict:
    """One of our solves on the first ``kets`` kets, timed, as a table row."""
    op = common["operator"]
    t0, p0 = time.perf_counter(), op.product_seconds
    sol = solve_kets(model, None, x[:kets], y[:kets], preconditioner_rank=rank, **common)
    wall, in_products = time.perf_counter() - t0, op.product_seconds - p0
    mv = sum({r.block: r.matvecs for r in sol.records}.values())
    mv += sol.setup.get("preconditioner_matvecs", 0)
    return dict(
        label=label,
        lam=rel,
        kets=kets,
        matvecs=mv,
        wall=wall,
        products=in_products,
        relres=max(r.relres_true for r in sol.records),
        err=influence_err(sol.vectors),
        sol=sol,
    )


def curvlinops_row(rel, lam, ggn, params, op, G, peer_n, tolerance, influence_err) -> dict:
    """curvlinops' CGInverseLinearOperator over (½·GGN + λI), products counted."""
    from curvlinops import CGInverseLinearOperator
    from curvlinops.examples import IdentityLinearOperator

    count = {"n": 0, "seconds": 0.0}
    matmat = ggn._matmat_batch

    def counted(X, Y, M):
        t0 = time.perf_counter()
        out = matmat(X, Y, M)
        count["seconds"] += time.perf_counter() - t0
        count["n"] += M[0].shape[-1]
        return out

    ggn._matmat_batch = counted
    try:
        eye = IdentityLinearOperator([tuple(p.shape) for p in params], op.device, op.dtype)
        inv = CGInverseLinearOperator(0.5 * ggn + lam * eye, tolerance=tolerance, max_iter=5000)
        t0 = time.perf_counter()
        Xc = (inv @ G[:peer_n].T.contiguous()).T.contiguous()
        wall = time.perf_counter() - t0
    finally:
        ggn._matmat_batch = matmat
    return dict(
        label=f"curvlinops CGInverse (tolerance {tolerance:g})",
        lam=rel,
        kets=peer_n,
        matvecs=count["n"],
        wall=wall,
        products=count["seconds"],
        relres=true_relres(op, lam, G[:peer_n], Xc),
        err=influence_err(Xc),
    )


def nys_label(args) -> str:
    return f"ours block PCG Nyström({args.nystrom_rank})"


def run_damping(
    rel, *, model, model64, x, y, G, G64, op, op64, ggn, params, lam_max, n_ref, peer_n, args, costs
):
    """All rows for one λ = rel·λ_max, and the Galerkin gap."""
    lam = rel * lam_max
    common = dict(
        damping=lam,
        rtol=args.rtol,
        lambda_max=lam_max,
        chunk_size=args.chunk_size,
        operator=op,
        max_iterations=5000,
        seed=args.seed,
    )
    # fp64 reference for the first n_ref kets
    ref = solve_kets(
        model64,
        None,
        x[:n_ref].double(),
        y[:n_ref].double(),
        damping=lam,
        rtol=1e-10,
        lambda_max=lam_max,
        operator=op64,
        max_iterations=5000,
        preconditioner_rank=args.nystrom_rank,
        chunk_size=args.chunk_size,
    )
    pi_ref = G64 @ ref.vectors.T  # (n, n_ref)

    def influence_err(X: torch.Tensor) -> float:
        return rel_fro(gram(G, X[:n_ref]), pi_ref)

    nys = nys_label(args)
    row = dict(model=model, x=x, y=y, common=common, influence_err=influence_err, rel=rel)
    full = solve_row("ours block CG", kets=x.shape[0], rank=0, **row)
    full_pc = solve_row(nys, kets=x.shape[0], rank=args.nystrom_rank, **row)
    rows = [full, full_pc]
    if not args.skip_peer:
        if peer_n == x.shape[0]:
            mine, mine_pc = full, full_pc  # the head-to-head is the whole problem
        else:
            mine = solve_row("ours block CG", kets=peer_n, rank=0, **row)
            mine_pc = solve_row(nys, kets=peer_n, rank=args.nystrom_rank, **row)
            rows += [mine, mine_pc]
        # equal true residual: curvlinops stops on the MEAN normalised residual, so its
        # tolerance is halved until its MAX true relres is within ours (only the last run counts)
        target = max(mine["relres"], mine_pc["relres"], args.rtol)
        tolerance = args.peer_tolerance or args.rtol / 2
        for _ in range(4):
            peer = curvlinops_row(rel, lam, ggn, params, op, G, peer_n, tolerance, influence_err)
            if peer["relres"] <= target or args.peer_tolerance:
                break
            print(
                f"#   curvlinops at tolerance {tolerance:.1e}: max true relres "
                f"{peer['relres']:.2e} > {target:.2e} after {peer['matvecs']} mat-vecs, "
                f"{peer['wall']:.1f} s; halving",
                flush=True,
            )
            tolerance /= 2
        for r in (mine, mine_pc):
            r["speedup"] = peer["wall"] / r["wall"]
            r["work_speedup"] = (peer["matvecs"] * costs["curvlinops"]) / (
                r["matvecs"] * costs["ours"]
            )
        rows.append(peer)
    # the reference code's Galerkin shortcut (span of all ket gradients)
    gal = solve_kets(model, None, x, y, method="galerkin", **common)
    pi_conv = gram(G, full["sol"].vectors)
    gap = (
        rel,
        gal.setup["galerkin_rank"],
        rel_fro(gram(G, gal.vectors), pi_conv),
        max(r.relres_full_space for r in gal.records),
    )
    return rows, gap


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--examples", type=int, default=48, help="metric batch = kets")
    ap.add_argument("--resolution", type=int, default=16)
    ap.add_argument("--dampings", type=float, nargs="+", default=[1e-3, 1e-4])
    ap.add_argument("--rtol", type=float, default=1e-4)
    ap.add_argument(
        "--peer-kets",
        type=int,
        default=None,
        help="kets in the head-to-head (default: all, the same problem)",
    )
    ap.add_argument(
        "--peer-tolerance",
        type=float,
        default=None,
        help="fix curvlinops' tolerance (default: start at rtol/2 and halve until "
        "its max true relres is within ours — its criterion is the MEAN "
        "normalised residual over columns)",
    )
    ap.add_argument("--reference-kets", type=int, default=4)
    ap.add_argument("--nystrom-rank", type=int, default=64)
    ap.add_argument("--chunk-size", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-peer", action="store_true")
    ap.add_argument(
        "--train-steps",
        type=int,
        default=100,
        help="AdamW steps on the batch first (a random init has a degenerate "
        "spectrum: λ_max ~ 1e8 from the tiny-width norms)",
    )
    args = ap.parse_args()
    warnings.filterwarnings("ignore", category=UserWarning)
    if not args.skip_peer:
        from curvlinops import GGNLinearOperator  # only the head-to-head needs it

    t_all = time.perf_counter()
    n, res = args.examples, args.resolution
    t0 = time.perf_counter()
    model, x, y, gen = fitted_unet(args.preset, n, res, args.train_steps, args.seed)
    P = count_parameters(model)
    with torch.no_grad():
        final_loss = float(losses.smse(model(x), y))
    print(
        f"# {args.train_steps} AdamW steps on the batch: SMSE {final_loss:.3f} "
        f"({time.perf_counter() - t0:.0f} s)",
        flush=True,
    )
    print(f"# load average at start: {os.getloadavg()[0]:.1f}")
    print(
        f"# unet/{args.preset}: P = {P}, metric batch = kets = {n} x 2 x {res}², "
        f"rtol = {args.rtol:g}, threads = {torch.get_num_threads()}"
    )

    # ---- per-product costs ----------------------------------------------------------------
    def fwd_bwd():
        model.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()

    op = GaussNewtonOperator(model, x, chunk_size=args.chunk_size)
    V = torch.randn(args.chunk_size, op.size, generator=gen)
    params = [p for p in model.parameters() if p.requires_grad]
    ggn = (
        None
        if args.skip_peer
        else GGNLinearOperator(
            model, torch.nn.MSELoss(), params, [(x, y)], check_deterministic=False
        )
    )
    peer_n = min(args.peer_kets or n, n)
    Vc = torch.randn(op.size, peer_n, generator=gen)
    # the machine is shared: interleave the timings so that load changes hit all alike
    jobs = {
        "fb": (fwd_bwd, 1),
        "ours": (lambda: op.mm(V), V.shape[0]),
        "ours1": (lambda: op.mv(V[0]), 1),
    }
    if ggn is not None:
        jobs["curv"] = (lambda: ggn @ Vc, peer_n)
    for fn, _ in jobs.values():
        fn()  # warm-up (first vmap calls trace)
    samples: dict[str, list[float]] = {k: [] for k in jobs}
    for _ in range(5):
        for key, (fn, per) in jobs.items():
            samples[key].append(timed(fn) / per)
    t_fb, t_ours, t_ours1 = (sorted(samples[k])[2] for k in ("fb", "ours", "ours1"))
    t_curv = sorted(samples["curv"])[2] if ggn is not None else float("nan")
    costs = {"ours": t_ours / t_fb, "curvlinops": t_curv / t_fb}
    agree = rel_fro(0.5 * (ggn @ V[:2].T).T, op.mm(V[:2])) if ggn is not None else float("nan")
    print(
        f"# forward+backward {t_fb * 1e3:.1f} ms; operator build {op.setup_seconds:.1f} s "
        f"(mode {op.mode}); ours vs curvlinops ½GGN agree to {agree:.1e}"
    )
    print(
        f"# product cost / fwd+bwd: ours {t_ours / t_fb:.2f} (vmap {args.chunk_size}), "
        f"ours {t_ours1 / t_fb:.2f} (single), curvlinops {t_curv / t_fb:.2f} "
        f"({peer_n} columns, as inside its CG)"
    )

    # ---- shared pieces ----------------------------------------------------------------------
    G = per_example_gradients(model, x, y, chunk_size=args.chunk_size)
    lam_max, lz = lanczos_lambda_max(op.mm, op.size, dtype=op.dtype, device=op.device)
    print(f"# λ_max(M) = {lam_max:.4g} (Lanczos, {lz} products)")
    model64 = copy.deepcopy(model).double()
    op64 = GaussNewtonOperator(model64, x.double(), chunk_size=args.chunk_size)
    G64 = G.double()
    n_ref = min(args.reference_kets, n)

    ctx = dict(
        model=model,
        model64=model64,
        x=x,
        y=y,
        G=G,
        G64=G64,
        op=op,
        op64=op64,
        ggn=ggn,
        params=params,
        lam_max=lam_max,
        n_ref=n_ref,
        peer_n=peer_n,
        args=args,
        costs=costs,
    )
    rows, gaps = [], []
    for rel in args.dampings:
        r, g = run_damping(rel, **ctx)
        for row in r:
            print_row(row, costs)  # progress (the full table follows at the end)
        rows += r
        gaps.append(g)

    print()
    print(
        "| λ/λ_max | solver | kets | product cost (× fwd+bwd) | mat-vecs | wall (in products) s "
        "| max true relres | influence err vs fp64 | speed-up vs curvlinops (wall / work) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print_row(r, costs)
    print()
    print(
        "| λ/λ_max | Galerkin rank | ‖Π_galerkin − Π_converged‖_F/‖Π_converged‖_F "
        "| Galerkin max true relres |"
    )
    print("|---|---|---|---|")
    for rel, k, gap, rr in gaps:
        print(f"| {rel:.0e} | {k} | {gap:.3f} | {rr:.2e} |")
    # ---- the damping path: every λ in one solve_kets call vs one solve at the smallest λ ----
    if len(args.dampings) > 1:
        print()
        print(
            "| path λ/λ_max | solver | mat-vecs per λ (+ sketch) | path mat-vecs | wall s "
            "| max true relres | one solve at smallest λ | path / one |"
        )
        print("|---|---|---|---|---|---|---|---|")
        smallest = min(args.dampings)
        for rank, label in ((0, "ours block CG"), (args.nystrom_rank, nys_label(args))):
            one = next(
                r for r in rows if r["label"] == label and r["lam"] == smallest and r["kets"] == n
            )
            t0 = time.perf_counter()
            sols = solve_kets(
                model,
                None,
                x,
                y,
                damping={"mode": "relative", "values": list(args.dampings)},
                rtol=args.rtol,
                lambda_max=lam_max,
                operator=op,
                max_iterations=5000,
                seed=args.seed,
                preconditioner_rank=rank,
                chunk_size=args.chunk_size,
            )
            wall = time.perf_counter() - t0
            per = [sum({r.block: r.matvecs for r in s.records}.values()) for s in sols]
            sketch = sols[0].setup.get("preconditioner_matvecs", 0)
            total = sum(per) + sketch
            worst = max(r.relres_true for s in sols for r in s.records)
            print(
                f"| {', '.join(f'{v:.0e}' for v in args.dampings)} | {label} | "
                f"{' / '.join(map(str, per))} (+{sketch}) | {total} | {wall:.1f} | "
                f"{worst:.2e} | {one['matvecs']} ({one['wall']:.1f} s) | "
                f"{total / one['matvecs']:.2f}× |",
                flush=True,
            )
    print(
        f"\n# total {time.perf_counter() - t_all:.0f} s; "
        f"load average at end: {os.getloadavg()[0]:.1f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
