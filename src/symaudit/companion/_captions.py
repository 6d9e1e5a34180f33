"""Report captions of the companion tables and figures (Jinja2 + RST, rendered by Snakemake;
written to ``workflow/report/`` by :func:`symaudit.aggregate.write_report_sources`, which adds
the quality banner and the study line)."""

from __future__ import annotations

__all__ = ["COMPANION_CAPTIONS"]

_PI = (
    "Π̃ is the identity element's standardised influence of the influence stage (each"
    " response row Π[t₂, b₂, ·, ·] divided by the sample std of its ket entries, so 1 is the"
    " noise baseline; unconverged kets left out), bra = response example (t₂, b₂), ket ="
    " perturbing example (t₁, b₁) of one analysis batch (Amarel et al., companion paper)."
    " Times t₁, t₂ (and lags t₂ − t₁) are transition indices: transition t goes from frame"
    " t · S to t · S + 1, S = analysis.time_stride ="
    ' {{ snakemake.config.get("analysis", {}).get("time_stride", 1) }}, so one index is S'
    " frames."
)
_Q = " Quantiles are numpy type 7, NaN skipped; ``n`` counts the values behind each row."

COMPANION_CAPTIONS: dict[str, str] = {
    "two_time_map": (
        "**Two-time influence map** (companion paper, Fig. 2; lanl/PDEHats ``heatmap.jl``)."
        " Per dataset × model, response time ``bra_time`` t₂ and perturbation time"
        " ``ket_time`` t₁: Q1/median/Q3 of the intra-class Π̃[t₂, b, t₁, b] over seeds ×"
        " analysis batches × classes b. " + _PI + _Q
    ),
    "companion_two_time_map": (
        "**Two-time influence map**: median intra-class Π̃[t₂, b, t₁, b] over seeds ×"
        " analysis batches × classes, perturbation (ket) time t₁ on x, response (bra) time"
        " t₂ on y, one panel per dataset × model (table ``two_time_map.csv``). A narrow"
        " diagonal ridge is time-local sensitivity (interpolation); off-diagonal mass would"
        " be influence that transfers across time. " + _PI
    ),
    "class_transfer": (
        "**Class-to-class transferability** (companion paper, Fig. 3; lanl/PDEHats"
        " ``diag.jl``, equal-time pairs). Q1/median/Q3 of Π̃[t, b₂, t, b₁] over seeds ×"
        " analysis batches × times t, with ``response_class`` b₂ (the bra, whose loss"
        " responds) and ``perturbing_class`` b₁ (the ket, whose gradient drives the update)."
        ' The reference\'s figure labels the response axis "input class"; here each axis is'
        " named by what it holds. " + _PI + _Q
    ),
    "companion_class_transfer": (
        "**Class-to-class transferability**: median equal-time Π̃[t, b₂, t, b₁], response"
        " (bra) class b₂ on the rows (y), perturbing (ket) class b₁ on the columns (x), one"
        " panel per dataset × model (table ``class_transfer.csv``). A dominant diagonal is"
        " class-locked gradient geometry; large off-diagonal entries would be dynamical"
        " features reused across initial-condition classes. " + _PI
    ),
    "time_lag": (
        "**Time-lag curves** (companion paper, Fig. 4; lanl/PDEHats ``horizon.jl``)."
        " Q1/median/Q3 of all Π̃[t₂, b₂, t₁, b₁] with ``lag`` = t₂ − t₁ (response minus"
        " perturbation time), pooled over seeds × analysis batches × time pairs, ``kind``"
        " intra (b₂ = b₁) or inter (b₂ ≠ b₁) class. Every lag −(T−1)..T−1 of the analysis"
        " batches is listed. " + _PI + _Q
    ),
    "companion_time_lag": (
        "**Time-lag curves**: median (bars Q1–Q3) of Π̃ by lag t₂ − t₁, intra-class pairs"
        " (circles) and inter-class pairs (triangles), one panel per dataset × model (table"
        " ``time_lag.csv``); the dashed line is the noise baseline 1. Concentration at lag 0"
        " means gradient information does not propagate coherently across time. " + _PI
    ),
    "influence_distance": (
        "**Influence vs input distance** (companion paper, Fig. 5; lanl/PDEHats ``rkhs.jl``"
        " and ``diffs.jl``). Distance of two inputs: SMSE = mean over channels of mean (x₁ −"
        " x₂)² / s_c, s_c = ½(RMS_c(x₁) + RMS_c(x₂)) + 10⁻⁶. Log-spaced edges"
        ' ({{ snakemake.config.get("companion", {}).get("distance_edges", 20) }}) from the'
        " smallest positive to the largest of that SAME distance (the reference took the"
        " extremes from the MSE distance but binned the SMSE one); bin ``bin`` spans"
        " [``lower``, ``upper``] ="
        ' [e_(b−{{ snakemake.config.get("companion", {}).get("distance_overlap", 1) }}),'
        ' e_(b+{{ snakemake.config.get("companion", {}).get("distance_overlap", 1) }})]'
        " around its centre ``distance`` = e_b. Per (seed, batch) the mean Π̃ over all pairs"
        " in the bin; Q1/median/Q3 over the (seed, batch) samples that have a pair there"
        " (``n``). " + _PI
    ),
    "companion_influence_distance": (
        "**Influence vs input distance**: median (bars Q1–Q3 over seeds × analysis batches)"
        " of the per-batch mean Π̃ in log-spaced bins of the SMSE distance of the two inputs,"
        " one panel per dataset × model (table ``influence_distance.csv``). A steep decay is"
        " short-range locality on the data manifold: an update moves only nearby states. " + _PI
    ),
    "conservation_two_time_map": (
        "**Mass and energy two-time maps** (companion paper, Fig. 6; lanl/PDEHats ``mass.jl``,"
        " ``energy.jl``), CE only: as ``two_time_map`` with the response observable the"
        " squared drift of the spatial mean of the predicted density (``observable`` mass) or"
        " energy (energy) from the input's, over the input's mean (the influence stage's mass"
        " and energy bras) instead of its SMSE; ket = SMSE gradient. Q1/median/Q3 of the"
        " intra-class standardised values over seeds × analysis batches × classes." + _Q
    ),
    "companion_conservation_two_time_map": (
        "**Mass and energy two-time maps** (CE): median intra-class standardised influence of"
        " an SMSE perturbation at time t₁ (x) on the mass (top row) or energy (bottom row)"
        " drift of the prediction at time t₂ (y), one column per model (table"
        " ``conservation_two_time_map.csv``). Off-diagonal support means conservation-related"
        " gradient information couples distant times."
    ),
    "rollout_error": (
        "**Rollout error vs horizon** (lanl/PDEHats ``scripts/Benchmark/plot_rollout.jl``):"
        " from the true state at the input frame t₀ = t · S of every analysis transition"
        " t < T of each analysis trajectory (T ="
        ' {{ snakemake.config.get("analysis", {}).get("time_steps", "?") }}, S ='
        ' {{ snakemake.config.get("analysis", {}).get("time_stride", 1) }}), dt'
        " autoregressive steps q_(k+1) = f(q_k); the error is the SUM of the dt one-step"
        " SMSEs against the true states, as far as the stores' frames reach. Q1/median/Q3"
        " pooled over seeds × analysis batches × classes × start times (``n``);"
        " ``beyond_training``: dt above the training horizon"
        ' ({{ snakemake.config.get("train", {}).get("time_steps", 17) - 1 }} transitions).'
    ),
    "rollout_correlation": (
        "**Cross-time influence vs rollout error** (lanl/PDEHats ``pcs.jl``). One point per"
        " seed × analysis batch × class b: the cross-time ratio of the RAW identity influence,"
        " Σ_(t≠t') Π[t, b, t', b] / Σ_t Π[t, b, t, b], and the median over start frames t₀"
        " with t₀ + dt ≤ W of the rollout error (table ``rollout_error.csv``), W = (T − 1) · S"
        " + 1 the analysis window's last frame (T at S = analysis.time_stride = 1); dt in"
        " frames (model steps); ``pearson_r``"
        " is Pearson's r over the ``n`` points for each horizon dt = 1..W (NaN with fewer"
        " than 3 points or a constant side). The reference's recorded values were negative"
        " (more cross-time influence, smaller rollout error)."
    ),
    "companion_rollout": (
        "**Autoregressive rollouts**, one column per dataset × model. Top: cumulative SMSE of"
        " dt autoregressive steps against the horizon dt (median, bars Q1–Q3 over seeds ×"
        " batches × classes × start times; log y); the dashed line, when the stores reach"
        " past it, marks the training horizon. Bottom: Pearson's r between the cross-time"
        " influence ratio and the rollout error per horizon (tables ``rollout_error.csv``,"
        " ``rollout_correlation.csv``)."
    ),
    "influence_dynamics": (
        "**Influence over training** (lanl/PDEHats ``dynamics.jl``). At each configured epoch"
        ' ({{ snakemake.config.get("companion", {}).get("epochs", []) }}, those before a'
        " run's last) and at each run's last epoch: per (seed, analysis batch) the mean of"
        " the RAW identity influence's diagonal Π[t, b, t, b] (self-influence, ``kind``"
        " diagonal) and of all its off-diagonal entries (off_diagonal); Q1/median/Q3 over the"
        " ``n`` (seed, batch) samples. Earlier epochs use training's kept checkpoints"
        " (``ckpt_epochNNNN.pt``) and the primary damping λ only." + _Q
    ),
    "companion_influence_dynamics": (
        "**Influence over training**: median (bars Q1–Q3 over seeds × analysis batches) of"
        " the per-batch mean raw self-influence (circles) and off-diagonal influence"
        " (triangles) against the epoch, one panel per dataset × model (table"
        " ``influence_dynamics.csv``; log y when every value is positive). A growing gap"
        " means updates become more example-local as training proceeds."
    ),
    "gn_spectrum": (
        "**Gauss–Newton spectrum per epoch** (lanl/PDEHats ``eigen.jl``, ``eig.jl``). For"
        " each analysis batch: Q = the orthonormal span of the per-example SMSE gradients"
        " (the leading singular directions keeping all but 10⁻⁴ of their energy), and the"
        " eigenvalues of Qᵀ (JᵀJ / D) Q, D the batch's scalar outputs (the metric of the"
        " influence stage, per_output). ``min``, Q1/median/Q3, ``max`` of the eigenvalues"
        " pooled over seeds × batches (``n``); ``ratio_median``: median over (seed, batch)"
        " of largest / smallest; ``lambda_max_median``: median of the FULL metric's largest"
        " eigenvalue (Lanczos), the top of the spectrum. Epochs: each run's last and the"
        ' configured {{ snakemake.config.get("companion", {}).get("epochs", []) }}.'
    ),
    "companion_gn_spectrum": (
        "**Gauss–Newton spectrum per epoch**: box plots (whiskers min–max) of the eigenvalues"
        " of the metric JᵀJ / D restricted to the span of each analysis batch's per-example"
        " gradients, pooled over seeds × batches, one box per epoch; red bars: the median"
        " largest eigenvalue of the full metric (table ``gn_spectrum.csv``). A few dominant"
        " modes over a long tail is the anisotropic spectrum the companion paper reports."
    ),
    "training_curves": (
        "**Training curves** (companion paper, Figs. 9–11; lanl/PDEHats ``plot_training.jl``):"
        " validation SMSE per ``epoch``, Q1/median/Q3 over seeds (``n`` seeds), per dataset ×"
        " model. The figure is the model-quality figure (category *Model quality*), which"
        " draws the same curves relative to persistence."
    ),
}
