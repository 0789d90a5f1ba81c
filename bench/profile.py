"""Where our SDE time goes (bench/README.md, "What bounds the missed targets"); CPU seconds.

    python -m bench.profile [--d 100] [--paths 1000] [--steps 2000]

Prints, for the SignSGD and AdamW SDEs: ours as the pipeline runs it (``save_every = 100``);
ours with the Brownian increments replaced by a per-path constant (no RNG in the loop: the
integrator's own arithmetic); ours with ``save_every = 10`` (smaller draws); ours with two-point
increments by steps per draw (``draw_every``: 32 is one word per coordinate, read without a
gather; 100 is four words, read with a dynamic index); then the RNG-only cost by draw-block
length; and, from the compiled HLO, the block-sized buffers of the PRNG.
"""

from __future__ import annotations

import argparse
import re
import time

from bench import sde as bs


def cpu_seconds(fn, *args, repeats: int = 3) -> float:
    import jax

    compiled = jax.jit(fn).lower(*args).compile()
    jax.block_until_ready(compiled(*args))
    best = float("inf")
    for _ in range(repeats):
        c0 = time.process_time()
        jax.block_until_ready(compiled(*args))
        best = min(best, time.process_time() - c0)
    return best


def integrator(name: str, d: int, paths: int, steps: int, save_every: int, rng: bool = True):
    """Ours (``integrate.euler_maruyama``, vmapped over paths) or, with ``rng=False``, the same
    scan with a per-path constant in place of the increments."""
    import jax
    import jax.numpy as jnp

    from adasde import integrate, sdes

    q, x0 = bs.problem(d)
    hp = bs.HP[name]
    sde = (sdes.signsgd_sde(q.grad, hp["eta"], 1.0) if name == "signsgd" else
           sdes.adamw_sde(q.grad, hp["eta"], hp["beta1"], hp["beta2"], 1.0, hp["eps"],
                          hp["theta"]))
    dt = hp["eta"]

    def one(k):
        if rng:
            return integrate.euler_maruyama(sde, x0, k, dt=dt, n_saves=steps // save_every,
                                            save_every=save_every,
                                            observe=lambda y: q.loss(y[0]))[0]
        c = 1e-3 * jax.random.normal(k, (d,))  # drawn once per path, outside the loop

        def step(n, y, z):
            return integrate.em_step(sde, n * dt, y, jnp.sqrt(dt) * z, dt)

        return integrate.scan_blocks(step, sde.init(x0), k,
                                     lambda kk, n: jnp.broadcast_to(c, (n, d)),
                                     n_saves=steps // save_every, save_every=save_every,
                                     observe=lambda y: q.loss(y[0]))[0]

    return lambda key: jax.vmap(one)(jax.random.split(key, paths))


def two_point(name: str, d: int, paths: int, steps: int, draw_every: int):
    """Ours with two-point increments drawn ``draw_every`` steps at a time (save_every = 100)."""
    import jax

    from adasde import integrate, sdes

    q, x0 = bs.problem(d)
    hp = bs.HP[name]
    sde = sdes.make(name, q.grad, hp, 1.0)

    def fn(key):
        def one(k):
            return integrate.solve(sde, x0, k, dt=hp["eta"], n_saves=steps // 100,
                                   save_every=100, increments="two_point",
                                   draw_every=draw_every, observe=lambda y: q.loss(y[0])
                                   ).observations

        return jax.vmap(one)(jax.random.split(key, paths))

    return fn, (jax.random.key(0),)


def main(argv=None) -> int:
    import jax

    ap = argparse.ArgumentParser(prog="python -m bench.profile")
    ap.add_argument("--d", type=int, default=100)
    ap.add_argument("--paths", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=2000)
    a = ap.parse_args(argv)
    key = jax.random.key(0)
    print(f"CPU seconds, d={a.d}, {a.paths} paths, {a.steps} steps, {jax.devices()[0]}")
    for name in bs.SDES:
        for label, se, rng in (("ours, save_every=100", 100, True),
                               ("ours, no RNG in the loop", 100, False),
                               ("ours, save_every=10", 10, True)):
            t = cpu_seconds(integrator(name, a.d, a.paths, a.steps, se, rng), key)
            print(f"  {name:8s} {label:28s} {t:7.3f}", flush=True)
        for de in (32, 100):
            fn, args = two_point(name, a.d, a.paths, a.steps, de)
            t = cpu_seconds(fn, *args)
            print(f"  {name:8s} {f'ours 2-point, draw_every={de}':28s} {t:7.3f}", flush=True)
    for block in (1, 5, 10, 25, 100):
        fn, args = bs.rng_peer(a.d, a.paths, a.steps, block, per_step=False)
        print(f"  RNG only, blocks of {block:3d} steps         {cpu_seconds(fn, *args):7.3f}",
              flush=True)
    fn, args = bs.ours("signsgd", a.d, a.paths, a.steps, 100)
    hlo = jax.jit(fn).lower(*args).compile().as_text()
    shapes = sorted(set(re.findall(rf"[uf]32\[[0-9,]*{a.paths},[0-9,]*100,{a.d}\]", hlo)))
    print("  compiled HLO, buffers of a whole draw block:", ", ".join(shapes) or "none")
    print("  threefry rounds loop over whole blocks:",
          bool(re.search(r"region_\S+ \(arg_tuple\S*: \(s32\[\], u32\[1,", hlo)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
