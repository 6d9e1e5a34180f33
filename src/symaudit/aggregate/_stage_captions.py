"""Report captions of the outputs made beside the aggregation's quantile tables and paper
figures: the damping robustness, the training curves and model quality, the findings, the
conservation study and the twirl decomposition (Jinja2 + RST, see :mod:`._jinja`)."""

from __future__ import annotations

from ._jinja import quality_banner

__all__ = ["EXTERNAL_CAPTIONS", "OTHER_CAPTIONS"]

#: captions of outputs made outside the aggregation tables and figures
OTHER_CAPTIONS: dict[str, str] = {
    "influence_robustness": (
        "Does the influence ranking survive a change of the damping λ? For every (dataset,"
        " model, element set), the elements are ranked by their median standardised"
        " self-influence Π̃\\ :sup:`g`\\ [t,b,t,b] (pooled over seeds × analysis batches ×"
        " examples, unconverged kets left out unless ``include_unconverged``) at each λ of the"
        " damping path ``{{ snakemake.config.get('influence', {}).get('damping', {}) }}``; the"
        " table gives Kendall's τ-b between the rankings at neighbouring λ (``damping_a``,"
        " ``damping_b``) and, when ``galerkin_reference`` is on, between each λ and the"
        " reference's Galerkin values. **A ranking with τ < 0.7 (column ``stable`` false) is"
        " not stable: conclusions about which elements have suppressed influence then depend"
        " on λ.** The paper figures use the primary λ. Medians per element and λ:"
        " ``influence_robustness_medians.csv``."
    ),
    "robustness_figure": (
        "Median standardised self-influence of every group element (one line each) against the"
        " damping λ of the path (largest λ left; the primary λ is marked on the axis), with the"
        " reference's Galerkin value (squares) beside it. The title gives the smallest Kendall"
        " τ of the element ranking over the comparisons in ``influence_robustness.csv``; a red"
        " title saying **ranking NOT stable** marks τ < 0.7, where the figure's conclusions"
        " depend on λ. The dashed line is the noise baseline 1."
    ),
    "training_curve": (
        quality_banner(
            "snakemake.wildcards.dataset",
            "snakemake.wildcards.model",
            "snakemake.wildcards.seed | int",
        )
        + "Training curve of {{ snakemake.wildcards.dataset }} {{ snakemake.wildcards.model }},"
        " seed {{ snakemake.wildcards.seed }}: mean scaled MSE (SMSE, the reference's loss:"
        " squared error over the per-example, per-channel RMS of the target) per epoch on the"
        " training transitions and on the validation split (65/5/30 % of each class's"
        " trajectories, persisted in ``splits.json``). The dashed line is persistence: the"
        " validation SMSE of predicting no change (s_{t+1} = s_t)."
    ),
    "model_quality": (
        quality_banner()
        + "**Did each emulator learn the dynamics?** Validation SMSE divided by the SMSE of"
        " persistence (predicting s_{t+1} = s_t) on the same validation transitions, per"
        " epoch; one panel per dataset, one line per model (median over seeds, band Q1–Q3)."
        " The dashed line at 1 is persistence: a model above it predicts worse than no change."
        " The dotted red line, when drawn, is the study's quality gate"
        ' ({{ snakemake.config.get("quality", {}).get("max_persistence_ratio", 1.0) }}).'
    ),
    "model_quality_table": (
        quality_banner()
        + "**Model quality, one row per dataset × model × seed.** ``epochs``, ``steps``"
        " (optimiser steps), ``wall_time_s`` (training, summed over epochs); final"
        " ``train_smse`` and ``val_smse``; ``val_persistence_smse``: persistence on the same"
        " validation transitions; ``ratio`` = val_smse / val_persistence_smse;"
        " ``analysis_smse`` and ``analysis_persistence_smse``: the same on the analysis batches"
        " the audit uses (test trajectories), and their ``analysis_ratio``; ``passes``: ratio"
        " at most the quality gate"
        ' ({{ snakemake.config.get("quality", {}).get("max_persistence_ratio", 1.0) }}).'
    ),
    "findings": (
        "**What the audit is known to get right.** One row per check (docs/validation.md),"
        " built from this study's own tables by ``symaudit findings``: ``case`` names the check"
        " (case number, dataset, model, element), ``kind`` says what it rests on, ``expected``"
        " the statement, ``measured`` what the tables say, ``lo``/``hi`` the interval of the"
        " statistic (the tables' cluster bootstrap), ``verdict`` the judgement and ``holds``"
        " the point comparison. Kinds: **exact** (an equality that holds by algebra: judged by"
        " the point value against 1e-6; case 1, case 2's stride multiples and its period"
        " R(k + 16) = R(k), case 6's equalities at e, r², sr, sr³), **derived** (a statement"
        " derived for the population: judged by its interval, ``holds``/``fails`` when the"
        " interval lies on one side of the threshold, ``inconclusive`` when it straddles it or"
        " is NaN for too few clusters; reciprocity on symmetric data: median R = 1 at every"
        " involution, Q3(R_g) Q1(R_g⁻¹) = 1, per seed) and **descriptive** (a typical outcome"
        " or a reported number with no derivation: verdict ``descriptive``; the quality gate,"
        " case 2's other shifts, cases 3 to 5 and case 6's failure pattern). Only exact and"
        " derived rows are known answers: tally them by kind, never with the descriptive rows;"
        " verdicts are per row at the stated level, with no correction for the number of rows."
        " A row ``not measured`` names the input that was absent; it never counts as holding."
    ),
    "conservation_defect": (
        "**Direction defect over training** (top row), max over the D4 orbits of wave-vectors"
        " above the noise floor of d_O (the sine of the angle between the non-equivariant "
        "part of the kernel's spectrum on O at step n and at the start), one line per arm, "
        "one panel per target (``diffusion``: a D4-equivariant target; ``advection``: "
        "diffusion then a one-cell shift along x, a D4-breaking target). The dotted line is "
        "10⁻¹⁰. Bottom row: the norm of the whole non-equivariant part, ‖K̂⊥_n‖ / ‖K̂⊥_0‖. "
        "Only orbit-complete augmentation with gradient descent and MSE stays at round-off, "
        "whatever the target; the slow rise is round-off relative to orbits whose K̂⊥ decays,"
        " and the steps down are orbits crossing the noise floor."
    ),
    "conservation_findings": (
        "**Conservation findings.** Linear periodic convolutions f(u) = K ⊛ u trained with "
        "full-batch steps on random fields, one row per claim: each arm's measured quantity "
        "beside its expectation and whether it holds. Per D4 orbit O of wave-vectors, d_O is "
        "the sine of the angle between the non-equivariant part of the kernel's spectrum, K̂⊥"
        " = (K − P K)^ on O, at step n and at the start (P the D4 twirl). With orbit-complete"
        " augmentation (every group element of every example in every batch), plain gradient "
        "descent and MSE, K̂⊥ on each orbit is multiplied by the scalar 1 − 2η s̄_O / N² per "
        "step (s̄_O the orbit mean of the twirled power spectrum), so its direction is "
        "conserved to round-off and its norm decays geometrically; random single-element "
        "augmentation, no augmentation, Adam and log-cosh do not conserve it. Also: "
        "``twirl_decomposition``'s L_equiv against its closed form Σ_O s̄_O ‖K̂⊥_O‖², the "
        "matrix version for vector channels, and the balancedness drift of a two-layer model."
        " Derivation and assumptions: ``docs/conservation.md``."
        "\n"
        ""
        "\n"
        '{% set c = snakemake.config.get("conservation", {}) %}Settings: {{ '
        'c.get("resolution") }}² grid, batch {{ c.get("batch") }}, {{ c.get("steps") }} '
        'steps, noise floor {{ c.get("floor") }}.'
    ),
    "twirl_d4": (
        quality_banner()
        + "**Twirl decomposition over D4** for every dataset and model: the share of the loss due"
        " to broken symmetry, percent = 100 L_equiv / L with L = L_mean + L_equiv (twirling"
        " paper, Proposition 1), per example, pooled over seeds x analysis batches x examples"
        " (Q1, median, Q3, numpy type 7), plus the pooled losses and the loss of the test-time"
        " twirled prediction (``loss_twirled``, never above ``loss_total``).  Weights are"
        " 1/RMS of the untransformed target, so the decomposition is exact."
    ),
    "boost_error": (
        quality_banner()
        + "**Galilean boosts** boost(m, n): input u + U, target u + U rolled by (m, n) cells,"
        " U = (m, n)/(N Δt) with the store's frame spacing (CE: density kept, momentum + ρU,"
        " energy + m·U + ½ρ|U|²; docs/algorithms.md §4.1). Per model, the median over seeds of"
        " the per-seed Q3 of the relative error with its bootstrap interval: open markers the"
        " paper's raw statistic SMSE(f(g x), g y) / SMSE(f(x), y), filled markers the"
        " normalised one SMSE(g⁻¹ f(g x), y) / SMSE(f(x), y) (§5.3), which an exactly"
        " boost-equivariant model scores 1 (dotted line); the raw one scores below 1 for it"
        " (RMS(u + U) > RMS(u)). Not a paper figure; no twirl over boosts (an infinite group)."
        " The CE solver itself is not boost-exact: its commutator c_g (``symaudit"
        " check-solver``, findings case 7) puts a floor R ≈ 1 + c_g/SMSE(f) under CE values."
        " Table ``equivariance_boost.csv``."
    ),
    "scale_error": (
        quality_banner()
        + "**Mass scaling of compressible Euler** scale(α), α ∈ {1, 0.5, 2}: density, momentum"
        " and energy × α on input and target (docs/algorithms.md §4.1; exact for the solver, a"
        " power of two). Open markers: the paper's raw relative error, which an exactly"
        " scale-equivariant model scores α, not 1 (the SMSE divides by the unsquared RMS,"
        " §5.3); filled markers: the normalised error SMSE(f(αx)/α, y) / SMSE(f(x), y), 1 for"
        " such a model (dotted line). Median over seeds of the per-seed Q3, bootstrap"
        " interval. Not a paper figure; no twirl over scalings. Table"
        " ``equivariance_scale.csv``."
    ),
    "negation_error": (
        quality_banner()
        + "**Velocity negation** neg: u → −u (CE: momentum negated, density and energy kept) on"
        " input and target alike, an involution commuting with D4 × translations but NOT a"
        " symmetry of NS or Euler (advection keeps its sign while ∂u/∂t flips). Open markers:"
        " the raw relative error, filled: the normalised one (equal here: the negation keeps"
        " every RMS). Its expectation is the law R ≈ 1 + c_g/ρ with c_g = SMSE(Φ(g x), g Φ(x))"
        " from the generating solver Φ (findings case 8, docs/validation.md); on velocity-only"
        " data the wrong pairing p*g*p is g∘neg at r, r³, s, sr² (case 6). Median over seeds of"
        " the per-seed Q3, bootstrap interval. Not a paper figure. Table"
        " ``equivariance_negation.csv``."
    ),
    "lie_derivative": (
        quality_banner() + "**Lie derivative along x and y translations** (Gruver et al. 2023;"
        " docs/algorithms.md §9.2): per test example ‖d/dε T₋ε f(T_ε x)‖ / ‖f(x)‖ at ε = 0,"
        " T_ε the band-limited sub-cell shift (Nyquist mode dropped), one forward-mode JVP;"
        " per cell of shift. 0 for a model commuting with every sub-cell translation (a"
        " Fourier multiplier, the dealiased NS solver); a strided UNet is exact only under"
        " multiples of its stride. One row per dataset × model × direction: ``q1``,"
        " ``median``, ``q3`` pooled over seeds × analysis batches × examples (numpy type 7),"
        " each with its cluster-bootstrap interval ``*_lo``, ``*_hi`` (seeds, then whole"
        " analysis batches; docs/algorithms.md §7.1), ``n``, ``min``, ``max``, ``n_seeds``,"
        " ``n_clusters``, ``ci_confidence``, ``ci_note``."
    ),
    "commutator_law": (
        quality_banner()
        + "**The law R_g ≈ 1 + c_g/ρ** (docs/validation.md): per example, the measured relative"
        " error R = SMSE(f(g x), g y) / SMSE(f(x), y) against R̂ = 1 + c_g / SMSE(f(x), y), with"
        " c_g = SMSE(Φ(g x), g Φ(x)) from the data's generating solver Φ advanced one frame"
        " interval (model-free: ``commutator/{dataset}/seed{s}/commutator.nc``). Approximate:"
        " it assumes the model's error on g x is about its error on x and uncorrelated with the"
        " solver's commutator. One row per dataset × model × element set × element whose c_g"
        " was computed, pooled over seeds × analysis batches × examples: ``c_median``,"
        " ``c_max`` (c_g / persistence SMSE; ``commutes`` where ≤ 1e-12), ``rho_median``"
        " (SMSE(f)/persistence), ``beta2_median`` (c_g/SMSE(f) = R̂ − 1), ``R_median``,"
        " ``Rhat_median``, ``ratio_median`` (median R/R̂, the findings' statistic),"
        " ``excess_median`` ((R − 1)/(R̂ − 1)), ``slope``/``intercept`` (least squares of R on"
        " R̂; the law: 1 and 0), each with its cluster-bootstrap interval ``_lo``/``_hi``"
        " (seeds, then whole analysis batches); ``max_rel_diff_neg``: the largest relative"
        " difference of c_g and c_neg"
        " (case 6: p*g*p = g∘neg at r, r³, s, sr²); ``note``: a run whose test trajectories"
        " are not the commutator file's is not joined."
    ),
    "pairing_fingerprints": (
        quality_banner()
        + "**Case 6: the fingerprints of a wrong vector pairing** (docs/validation.md, case 6),"
        " on the ``d4_swapped`` set at r, r³, s, sr², where the wrong pairing p*g*p is g∘neg:"
        " ``c_pair`` (model ``*``), the median of c_g / persistence SMSE there (= c_neg, model"
        " free); per model ``beta2`` (median c_g/SMSE(f), the law's excess), ``kappa``, the"
        " median of (R − 1)·ρ with ρ = SMSE(f)/persistence (the law: c_neg/persistence for every"
        " model; R·ρ = κ + ρ), ``kappa_ratio`` (κ / c_pair), ``R_median`` per element and"
        " ``failure_spread`` (max/min of the four median R: equal-sized failures);"
        " ``kappa_spread`` (model ``*``): max/min of κ over the models.  A dataset whose data"
        " are not D4-invariant (NSD, case 6's control) adds the correct action's (``d4`` set)"
        " ``c_correct`` (model ``*``), ``kappa_correct``, ``kappa_ratio_correct`` (over c_pair)"
        " and ``R_median`` at r, r³, s, sr².  Intervals ``lo``/``hi``:"
        " one cluster bootstrap per dataset (seeds, then whole analysis batches) shared by its"
        " models and elements, so the ratios are resampled jointly; NaN below the minimum"
        " number of clusters."
    ),
    "lie_profile": (
        quality_banner()
        + "**Sub-cell profile** R(ε) = SMSE(f(T_ε x), T_ε y) / SMSE(f(x), y) for ε in [0, 1)"
        " cell along x and y (docs/algorithms.md §9.3): one row per dataset × model ×"
        " direction × ``shift`` (ε in cells), the columns of ``lie_derivative.csv``."
    ),
    "subcell_profile": (
        quality_banner()
        + "**Sub-cell profile** R(ε) of every model (median line, Q1–Q3 band over seeds ×"
        " analysis batches × examples) against the sub-cell shift ε in [0, 1) cell, along x"
        " (left) and y (right) (docs/algorithms.md §9.3). R ≡ 1 for a model commuting with"
        " every band-limited translation; R(0) = 1 on the dealiased NS stores (no Nyquist"
        " content); a UNet's profile repeats with its stride. Table ``lie_profile.csv``."
    ),
}


#: captions of the external models' audits (``audit.smk``): no study line, since a study of
#: external models alone names no datasets or models of its own
EXTERNAL_CAPTIONS: dict[str, str] = {
    "external_report": (
        "The audit of the external model ``{{ snakemake.wildcards.external }}`` (``symaudit "
        "audit``, docs/audit.md): what was audited, the elements the grid and boundaries allow "
        "and those dropped with the reason, per element set the median relative error R = "
        "SMSE(f(g·x), g·y) / SMSE(f(x), y) with its Q1–Q3 band, and the equivariance residual "
        "against the tolerance of the model's dtype."
    ),
    "external_tables": (
        "A table of the audit of the external model ``{{ snakemake.wildcards.external }}``: "
        "``equivariance_<set>.csv`` (the studies' columns per element, plus ``dtype``, "
        "``tolerance``, ``residual_max``, ``within_tolerance``), its ``_per_seed`` quartiles over"
        " the examples, and ``model_quality.csv`` (the model's SMSE against persistence's on the "
        "given data; docs/audit.md §6)."
    ),
}
