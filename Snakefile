# symaudit: does a neural PDE emulator couple physically equivalent states?
# Stages (each a target): stage_data -> stage_train -> stage_influence / stage_equivariance
# -> stage_figures; stage_audit (the study's external_models); `all` (default) = everything
# including the report (a study of external models alone: their audits).
# Quick study:  snakemake --workflow-profile workflow/profiles/local --cores 2
# Paper study:  snakemake --configfile config/paper.yaml --workflow-profile workflow/profiles/slurm
# A config file is one study from any directory: no --configfile = config/config.yaml (the quick
# study); an overlay names its base itself (`extends:`); common.smk resolves and checks it.


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/influence.smk"
include: "workflow/rules/equivariance.smk"
include: "workflow/rules/lie.smk"
include: "workflow/rules/commutator.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/audit.smk"


if config["companion"]["enabled"]:

    include: "workflow/rules/companion.smk"


if config["conservation"]["enabled"]:

    include: "workflow/rules/conservation.smk"


report: "workflow/report/workflow.rst"


rule all:
    default_target: True
    input:
        (
            rules.conservation_report.output
            if config["conservation"]["standalone"]
            else rules.report_html.output if PLAN.datasets else []
        ),
        rules.stage_audit.input,
