# adasde: every figure of "Adaptive Methods through the Lens of SDEs" from config/.
# Targets: `figures` (default: every figure, claims.json and the claims summary), `all`.
from snakemake.utils import min_version

min_version("9.0")


# The default config applies only when no --configfile is given: a --configfile replaces it
# whole (Snakemake would otherwise deep-merge the two and leak default keys into, e.g., smoke).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/simulate.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/scaling_lm.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/report.smk"


rule figures:
    default_target: True
    input:
        figure_outputs(),
        "results/claims.json",
        REPORT_FILES,


onsuccess:
    print_claims_summary("results/claims.json")


rule all:
    input:
        rules.figures.input,
