# Notebooks: papermill executes notebooks/<notebook>.ipynb on the artifacts of its figure and
# keeps the executed copy in results/notebooks/. Editing a notebook reruns only that notebook.


rule notebook:
    input:
        notebook=lambda w: FIGURES[w.figure]["notebook"],
        data=lambda w: FIGURES[w.figure]["data"],
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
        papermill=papermill_params,
        py=PY,
        caption=lambda w: caption(w.figure),
    shell:
        "{params.py} -m papermill {input.notebook:q} {output.executed:q} -k python3 "
        "{params.papermill} > {log:q} 2>&1"
