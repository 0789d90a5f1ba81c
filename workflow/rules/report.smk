# Claims of every figure gathered into results/claims.json, rendered as an HTML table for the
# report together with the resolved configuration (and the benchmark table when present).
import glob
import json
import os

EXPECTED_DIR = config["expected_outcomes"]


rule claims:
    input:
        numbers=expand("results/{figure}/numbers.json", figure=FIGURES),
        # the expected outcomes of this config (config key expected_outcomes): editing them
        # regroups the claims
        expected=(
            sorted(glob.glob(os.path.join(EXPECTED_DIR, "*.yaml")))
            if EXPECTED_DIR
            else []
        ),
    output:
        json="results/claims.json",
        html=report(
            "results/report/claims.html",
            caption="../report/claims.rst",
            category="Claims",
        ),
    log:
        "results/logs/claims.log",
    conda:
        "../../envs/adasde.yaml"
    params:
        py=PY,
        expected=f"--expected {shlex.quote(EXPECTED_DIR)}" if EXPECTED_DIR else "",
    shell:
        "{params.py} -m adasde.cli gather {output.json:q} {input.numbers:q} --html {output.html:q} "
        "{params.expected} > {log:q} 2>&1"


rule resolved_config:
    output:
        report(
            "results/report/config.yaml",
            caption="../report/config.rst",
            category="Configuration",
        ),
    log:
        "results/logs/resolved_config.log",
    conda:
        "../../envs/adasde.yaml"
    params:
        config=lambda w: json.dumps(config, sort_keys=True),
    run:
        from adasde.artifacts import atomic_path

        with atomic_path(output[0], "w") as fh:
            yaml.safe_dump(json.loads(params.config), fh, sort_keys=True)


REPORT_FILES = ["results/report/config.yaml"]

if os.path.exists("results/bench.json"):

    rule bench_table:
        input:
            "results/bench.json",
        output:
            report(
                "results/report/bench.html",
                caption="../report/bench.rst",
                category="Benchmarks",
            ),
        log:
            "results/logs/bench_table.log",
        conda:
            "../../envs/adasde.yaml"
        params:
            py=PY,
        shell:
            "{params.py} -m adasde.cli bench-html {input:q} {output:q} > {log:q} 2>&1"

    REPORT_FILES.append("results/report/bench.html")
