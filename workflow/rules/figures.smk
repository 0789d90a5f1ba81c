# Notebooks: papermill executes notebooks/<notebook>.ipynb on the artifacts of its figure and
# keeps the executed copy in results/notebooks/. Editing a notebook reruns only that notebook.


rule notebook:
    input:
        notebook=lambda w: FIGURES[w.figure]["notebook"],
        data=lambda w: figure_inputs(w.figure),
    output:
        executed=report(
            "results/notebooks/{figure}.ipynb",
            caption="../report/notebook.rst",
            category="Notebooks",
            labels={"figure": "{figure}"},
        ),
        numbers="results/{figure}/numbers.json",
        pdf="figures/{figure}.pdf",
        png=report(
            "figures/{figure}.png",
            caption="../report/figure.rst",
            category="Figures",
            labels={"figure": "{figure}"},
        ),
    log:
        "results/logs/notebooks/{figure}.log",
    wildcard_constraints:
        figure="|".join(FIGURES) if FIGURES else "^$",
    conda:
        "../../envs/adasde.yaml"
    params:
        # settings and code are functions of the wildcards only: Snakemake compares them with
        # the last run's and reruns the notebook when they differ (a function of `output`
        # would be left out of that check)
        settings=lambda w: notebook_settings(w.figure),
        code=lambda w: notebook_code(w.figure),
        dirs=papermill_dirs,
        py=PY,
        caption=lambda w: caption(w.figure),
    shell:
        "{params.py} -m papermill {input.notebook:q} {output.executed:q} -k python3 "
        "-y {params.settings:q} {params.dirs} > {log:q} 2>&1"
