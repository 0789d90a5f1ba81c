# Notebooks: papermill executes notebooks/<notebook>.ipynb on the artifacts of its figure and
# keeps the executed copy in results/notebooks/. Editing a notebook reruns only that notebook.


def _papermill_params(wildcards):
    spec = FIGURES[wildcards.figure]
    params = {
        "figure": wildcards.figure,
        "results_dir": f"results/{wildcards.figure}",
        "figures_dir": "figures",
        **spec["params"],
    }
    return " ".join(f"-p {k} {shlex.quote(str(v))}" for k, v in params.items())


def _figure_files(wildcards):
    spec = FIGURES[wildcards.figure]
    return [
        f"figures/{fig}.{ext}"
        for fig in [wildcards.figure, *spec["extra_figures"]]
        for ext in ("pdf", "png")
    ]


rule notebook:
    input:
        notebook=lambda w: FIGURES[w.figure]["notebook"],
        data=lambda w: FIGURES[w.figure]["data"],
    output:
        executed="results/notebooks/{figure}.ipynb",
        numbers="results/{figure}/numbers.json",
        pdf="figures/{figure}.pdf",
        png="figures/{figure}.png",
    log:
        "results/logs/notebooks/{figure}.log",
    wildcard_constraints:
        figure="|".join(FIGURES) if FIGURES else "^$",
    params:
        papermill=_papermill_params,
    shell:
        "{PY} -m papermill {input.notebook:q} {output.executed:q} -k python3 "
        "--cwd {workflow.basedir:q} {params.papermill} > {log:q} 2>&1"
