# Simulations on the quadratic: optimizer runs and SDE paths, one job per (optimizer, kind).


# ---------------------------------------------------------------- noise_resilience
rule noise_resilience_simulate:
    output:
        npz="results/noise_resilience/{optimizer}_{kind}.npz",
        meta="results/noise_resilience/{optimizer}_{kind}.meta.json",
    params:
        section=lambda w: config["noise_resilience"],
    log:
        "results/logs/noise_resilience/{optimizer}_{kind}.log",
    conda:
        "../../envs/adasde.yaml"
    wildcard_constraints:
        optimizer="|".join(config["noise_resilience"]["optimizers"]),
        kind="optim|sde",
    resources:
        gpu=1,
    script:
        "../scripts/noise_resilience_simulate.py"


register_figure(
    "noise_resilience",
    "notebooks/noise_resilience.ipynb",
    expand(
        "results/noise_resilience/{optimizer}_{kind}.npz",
        optimizer=config["noise_resilience"]["optimizers"],
        kind=["optim", "sde"],
    ),
)
