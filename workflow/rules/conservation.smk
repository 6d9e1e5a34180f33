# The conservation study (docs/conservation.md): included by the Snakefile when
# config["conservation"]["enabled"].  One job: every arm on every target, the findings table
# and the defect figure.  Standalone studies put them under results/{study}/, otherwise under
# results/{study}/conservation/ and only the target stage_conservation builds them (the main
# report does not wait for them).  A few seconds of CPU: local rules on a cluster too.


localrules:
    conservation,
    stage_conservation,


CONSERVATION = config["conservation"]
CONSERVATION_DIR = RESULTS if CONSERVATION["standalone"] else f"{RESULTS}/conservation"


rule conservation:
    input:
        code=stage_code("conservation"),
    output:
        findings=report(
            f"{CONSERVATION_DIR}/tables/findings.csv",
            caption="../report/conservation_findings.rst",
            category="Conservation",
        ),
        defects=f"{CONSERVATION_DIR}/tables/defects.csv",
        orbits=f"{CONSERVATION_DIR}/tables/orbits.csv.gz",
        balancedness=f"{CONSERVATION_DIR}/tables/balancedness.csv",
        figure=report(
            f"{CONSERVATION_DIR}/figures/conservation_defect.png",
            caption="../report/conservation_defect.rst",
            category="Conservation",
        ),
    log:
        f"logs/{STUDY}/conservation/conservation.log",
    benchmark:
        f"benchmarks/{STUDY}/conservation/conservation.tsv"
    conda:
        "../../envs/torch.yaml"
    params:
        out_dir=lambda wildcards, output: Path(output.findings).parent.parent,
        settings=shlex.quote(section("conservation")),
    shell:
        "python -m symaudit conservation --out-dir {params.out_dir} --settings {params.settings}"
        " > {log} 2>&1"


rule stage_conservation:
    input:
        rules.conservation.output,


if CONSERVATION["standalone"]:

    localrules:
        conservation_report,

    rule conservation_report:
        # `run:`, like report_html: the report runs with the Snakemake that runs the workflow
        input:
            rules.conservation.output,
            config=rules.study_config.output,
            stylesheet=REPORT_CSS,
        output:
            f"{RESULTS}/report.html",
        log:
            f"logs/{STUDY}/conservation/report.log",
        benchmark:
            f"benchmarks/{STUDY}/conservation/report.tsv"
        params:
            snakefile=os.path.relpath(workflow.main_snakefile),
        run:
            python = sys.executable  # the interpreter running this workflow
            shell(
                "{python} -m snakemake -s {params.snakefile} --nolock"
                " --configfile {input.config} --report {output}"
                " --report-stylesheet {input.stylesheet} stage_conservation > {log} 2>&1"
            )

    ruleorder: conservation_report > report_html
