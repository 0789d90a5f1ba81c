# Simulations on the quadratic: optimizer runs and SDE paths, one job per (optimizer, kind).


# ---------------------------------------------------------------- noise_resilience
rule noise_resilience_simulate:
    output:
        npz="results/noise_resilience/{optimizer}_{kind}.npz",
        meta="results/noise_resilience/{optimizer}_{kind}.meta.json",
    log:
        "results/logs/noise_resilience/{optimizer}_{kind}.log",
    wildcard_constraints:
        optimizer="|".join(config["noise_resilience"]["simulate"]["optimizers"]),
        kind="optim|sde",
    conda:
        "../../envs/adasde.yaml"
    resources:
        gpu=GPUS_PER_JOB,
    params:
        job=lambda wc: sde_params("noise_resilience", wc.kind, optimizer=wc.optimizer),
        code=code_hash("adasde.experiments.noise_resilience"),
    script:
        "../scripts/noise_resilience_simulate.py"


register_figure(
    "noise_resilience",
    "notebooks/noise_resilience.ipynb",
    expand(
        "results/noise_resilience/{optimizer}_{kind}.npz",
        optimizer=config["noise_resilience"]["simulate"]["optimizers"],
        kind=["optim", "sde"],
    ),
    analyse=config["noise_resilience"]["analyse"],
)


# ---------------------------------------------------------------- scaling
rule scaling_grid_simulate:
    output:
        npz="results/scaling_beta_grid/adamw_{kind}.npz",
        meta="results/scaling_beta_grid/adamw_{kind}.meta.json",
    log:
        "results/logs/scaling_beta_grid/adamw_{kind}.log",
    wildcard_constraints:
        kind="optim|sde",
    conda:
        "../../envs/adasde.yaml"
    resources:
        gpu=GPUS_PER_JOB,
    params:
        # only what the job reads: the grid (not the curves) part of scaling.simulate
        job=lambda wc: sde_params("scaling", wc.kind, drop=("curves",), prefix="grid."),
        code=code_hash("adasde.experiments.scaling"),
    script:
        "../scripts/scaling_grid_simulate.py"


rule scaling_curves_simulate:
    output:
        npz="results/scaling_curves/{optimizer}.npz",
        meta="results/scaling_curves/{optimizer}.meta.json",
    log:
        "results/logs/scaling_curves/{optimizer}.log",
    wildcard_constraints:
        optimizer="|".join(config["scaling"]["simulate"]["curves"]["rules"]),
    conda:
        "../../envs/adasde.yaml"
    resources:
        gpu=GPUS_PER_JOB,
    params:
        # only what the job reads: the curves (not the grid) part of scaling.simulate, and of
        # curves.rules only this optimizer's list
        job=lambda wc: job_params(
            "scaling", drop=("grid",), only=("curves.rules", wc.optimizer)
        ),
        code=code_hash("adasde.experiments.scaling"),
    script:
        "../scripts/scaling_curves_simulate.py"


register_figure(
    "scaling_beta_grid",
    "notebooks/scaling_beta_grid.ipynb",
    expand("results/scaling_beta_grid/adamw_{kind}.npz", kind=["optim", "sde"]),
    analyse=config["scaling"]["analyse"]["grid"],
)
register_figure(
    "scaling_curves",
    "notebooks/scaling_curves.ipynb",
    expand(
        "results/scaling_curves/{optimizer}.npz",
        optimizer=config["scaling"]["simulate"]["curves"]["rules"],
    ),
    analyse=config["scaling"]["analyse"]["curves"],
)


# ---------------------------------------------------------------- bounds
rule bounds_simulate:
    output:
        npz="results/bounds/{optimizer}_{kind}.npz",
        meta="results/bounds/{optimizer}_{kind}.meta.json",
    log:
        "results/logs/bounds/{optimizer}_{kind}.log",
    wildcard_constraints:
        optimizer="|".join(config["bounds"]["simulate"]["optimizers"]),
        kind="optim|sde",
    conda:
        "../../envs/adasde.yaml"
    resources:
        gpu=GPUS_PER_JOB,
    params:
        job=lambda wc: sde_params("bounds", wc.kind, optimizer=wc.optimizer),
        code=code_hash("adasde.experiments.bounds"),
    script:
        "../scripts/bounds_simulate.py"


register_figure(
    "bounds",
    "notebooks/bounds.ipynb",
    expand(
        "results/bounds/{optimizer}_{kind}.npz",
        optimizer=config["bounds"]["simulate"]["optimizers"],
        kind=["optim", "sde"],
    ),
    analyse=config["bounds"]["analyse"],
)


# ---------------------------------------------------------------- stationary
rule stationary_simulate:
    output:
        npz="results/stationary/{optimizer}_{kind}.npz",
        meta="results/stationary/{optimizer}_{kind}.meta.json",
    log:
        "results/logs/stationary/{optimizer}_{kind}.log",
    wildcard_constraints:
        optimizer="|".join(config["stationary"]["simulate"]["optimizers"]),
        kind="optim|sde",
    conda:
        "../../envs/adasde.yaml"
    resources:
        gpu=GPUS_PER_JOB,
    params:
        job=lambda wc: sde_params("stationary", wc.kind, optimizer=wc.optimizer),
        code=code_hash("adasde.experiments.stationary"),
    script:
        "../scripts/stationary_simulate.py"


register_figure(
    "stationary",
    "notebooks/stationary.ipynb",
    expand(
        "results/stationary/{optimizer}_{kind}.npz",
        optimizer=config["stationary"]["simulate"]["optimizers"],
        kind=["optim", "sde"],
    ),
    analyse=config["stationary"]["analyse"],
)


# ---------------------------------------------------------------- signsgd_phases
rule signsgd_phases_simulate:
    output:
        npz="results/signsgd_phases/{kind}.npz",
        meta="results/signsgd_phases/{kind}.meta.json",
    log:
        "results/logs/signsgd_phases/{kind}.log",
    wildcard_constraints:
        kind="optim|sde|phasewise",
    conda:
        "../../envs/adasde.yaml"
    resources:
        gpu=GPUS_PER_JOB,
    params:
        job=lambda wc: sde_params("signsgd_phases", wc.kind),
        code=code_hash("adasde.experiments.signsgd_phases"),
    script:
        "../scripts/signsgd_phases_simulate.py"


register_figure(
    "signsgd_phases",
    "notebooks/signsgd_phases.ipynb",
    expand(
        "results/signsgd_phases/{kind}.npz",
        kind=["optim", "sde", "phasewise"],
    ),
    analyse=config["signsgd_phases"]["analyse"],
)


# ---------------------------------------------------------------- heavy_tails
rule heavy_tails_simulate:
    output:
        npz="results/heavy_tails/{optimizer}_{kind}.npz",
        meta="results/heavy_tails/{optimizer}_{kind}.meta.json",
    log:
        "results/logs/heavy_tails/{optimizer}_{kind}.log",
    wildcard_constraints:
        optimizer="sgd|signsgd",
        kind="optim|sde",
    conda:
        "../../envs/adasde.yaml"
    resources:
        gpu=GPUS_PER_JOB,
    params:
        job=lambda wc: sde_params("heavy_tails", wc.kind, optimizer=wc.optimizer),
        code=code_hash("adasde.experiments.heavy_tails"),
    script:
        "../scripts/heavy_tails_simulate.py"


register_figure(
    "heavy_tails",
    "notebooks/heavy_tails.ipynb",
    [
        "results/heavy_tails/sgd_optim.npz",
        "results/heavy_tails/signsgd_optim.npz",
        "results/heavy_tails/signsgd_sde.npz",
    ],
    analyse=config["heavy_tails"]["analyse"],
)
