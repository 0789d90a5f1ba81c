# Figure scaling_lm: the AdamW batch-size scaling rules on a small byte-level causal Transformer
# trained with minibatch AdamW on the standard library's docstrings (adasde.corpus, no download).
from adasde import corpus as adasde_corpus

# The corpus is a function of the Python version (its standard library's docstrings): a
# fingerprint of its sources is a param, so a different corpus reruns the job (the artifact's
# meta records the SHA-256 of the corpus text itself).
SCALING_LM_CORPUS = adasde_corpus.sources_sha256()


rule scaling_lm_train:
    output:
        npz="results/scaling_lm/adamw.npz",
        meta="results/scaling_lm/adamw.meta.json",
    log:
        "results/logs/scaling_lm/adamw.log",
    conda:
        "../../envs/adasde.yaml"
    resources:
        gpu=GPUS_PER_JOB,
    params:
        job=job_params("scaling_lm"),
        corpus=SCALING_LM_CORPUS,
        code=code_hash("adasde.experiments.scaling_lm"),
    script:
        "../scripts/scaling_lm_train.py"


register_figure(
    "scaling_lm",
    "notebooks/scaling_lm.ipynb",
    {"adamw": "results/scaling_lm/adamw.npz"},
    analyse=config["scaling_lm"]["analyse"],
)
