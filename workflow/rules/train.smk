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
        section=lambda w: config["scaling_mlp"],
    script:
        "../scripts/scaling_mlp_train.py"


register_figure(
    "scaling_mlp",
    "notebooks/scaling_mlp.ipynb",
    ["results/scaling_mlp/adamw.npz"],
)


# ---------------------------------------------------------------- sde_tracking
rule sde_tracking_simulate:
    output:
        npz="results/sde_tracking_{arch}/tracking.npz",
        meta="results/sde_tracking_{arch}/tracking.meta.json",
    log:
        "results/logs/sde_tracking/{arch}.log",
    wildcard_constraints:
        arch="|".join(config["sde_tracking"]["archs"]),
    conda:
        "../../envs/adasde.yaml"
    resources:
        gpu=GPUS_PER_JOB,
    params:
        # The resolved settings of this architecture only (seeds, optimizers, its archs entry),
        # so editing one architecture reruns only its job.
        section=lambda w: {
            "seeds": config["sde_tracking"]["seeds"],
            "optimizers": config["sde_tracking"]["optimizers"],
            "arch": config["sde_tracking"]["archs"][w.arch],
        },
    script:
        "../scripts/tracking_simulate.py"


for _arch in config["sde_tracking"]["archs"]:
    register_figure(
        f"sde_tracking_{_arch}",
        "notebooks/sde_tracking.ipynb",
        [f"results/sde_tracking_{_arch}/tracking.npz"],
        params={
            "arch": _arch,
            "tolerance": config["sde_tracking"]["tolerance"],
            "bootstrap": config["sde_tracking"]["bootstrap"],
        },
    )
