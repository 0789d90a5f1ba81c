# Neural-network training runs (minibatch optimizers on small offline datasets).


# ---------------------------------------------------------------- scaling_mlp
rule scaling_mlp_train:
    output:
        npz="results/scaling_mlp/adamw.npz",
        meta="results/scaling_mlp/adamw.meta.json",
    log:
        "results/logs/scaling_mlp/adamw.log",
    conda:
        "../../envs/adasde.yaml"
    resources:
        gpu=GPUS_PER_JOB,
    params:
        job=job_params("scaling_mlp"),
        code=code_hash("adasde.experiments.scaling_mlp"),
    script:
        "../scripts/scaling_mlp_train.py"


register_figure(
    "scaling_mlp",
    "notebooks/scaling_mlp.ipynb",
    ["results/scaling_mlp/adamw.npz"],
    analyse=config["scaling_mlp"]["analyse"],
)


# ---------------------------------------------------------------- sde_tracking
rule sde_tracking_simulate:
    output:
        npz="results/sde_tracking_{arch}/tracking.npz",
        meta="results/sde_tracking_{arch}/tracking.meta.json",
    log:
        "results/logs/sde_tracking/{arch}.log",
    wildcard_constraints:
        arch="|".join(config["sde_tracking"]["simulate"]["archs"]),
    conda:
        "../../envs/adasde.yaml"
    resources:
        gpu=GPUS_PER_JOB,
    params:
        # The settings of this architecture only (its archs entry and every other key of the
        # section), so editing one architecture reruns only its job.
        job=lambda w: job_params(
            "sde_tracking",
            simulate={
                **config["sde_tracking"]["simulate"],
                "archs": {w.arch: config["sde_tracking"]["simulate"]["archs"][w.arch]},
            },
        ),
        code=code_hash("adasde.experiments.tracking"),
    script:
        "../scripts/tracking_simulate.py"


for _arch in config["sde_tracking"]["simulate"]["archs"]:
    register_figure(
        f"sde_tracking_{_arch}",
        "notebooks/sde_tracking.ipynb",
        [f"results/sde_tracking_{_arch}/tracking.npz"],
        analyse=config["sde_tracking"]["analyse"],
        params={"arch": _arch},
    )
