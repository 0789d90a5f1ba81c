# Claims of every figure gathered into results/claims.json.


rule claims:
    input:
        expand("results/{figure}/numbers.json", figure=FIGURES),
    output:
        "results/claims.json",
    log:
        "results/logs/claims.log",
    shell:
        "{PY} -m adasde.cli gather {output:q} {input:q} > {log:q} 2>&1"
