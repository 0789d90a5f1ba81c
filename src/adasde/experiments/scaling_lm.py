r"""Figure ``scaling_lm``: the AdamW batch-size scaling rules (:mod:`adasde.scaling`) on a small
byte-level causal Transformer language model trained with minibatch AdamW on real text
(:mod:`adasde.corpus`: standard-library docstrings, no download). The gradient noise is the
real minibatch noise: every step draws ``delta*B`` windows of ``seq_len + 1`` tokens uniformly
(with replacement) from the training text.

Grid: every base :math:`(\beta_1, \beta_2)` of ``bases`` (the poster's 3 x 3 grid in
``config/paper.yaml``), every :math:`\delta` of ``deltas`` (1 included: the reference) and every
rule of ``rules``; the base hyper-parameters (``base``: eta, eps, theta; batch ``batch_size``)
are rescaled by :func:`adasde.scaling.scale`. Every run sees ``samples`` sequences: a run at
:math:`\delta` takes ``samples/(delta*B)`` steps and records the training loss (on
``eval_sequences`` fixed training windows) and the held-out loss (as many fixed windows of the
held-out modules) every ``save_samples`` sequences, so every curve shares one grid of samples
seen.

Vectorisation: one compiled program per :math:`\delta` (the batch size is a shape): a
``lax.scan`` over steps (:func:`adasde.integrate.scan_blocks`), vmapped over runs and over the
distinct hyper-parameter points of that :math:`\delta` (at :math:`\delta = 1` every rule gives the
base setting, so each base is trained once and its curve is shared by every rule). Pairing: run
``r`` starts from the same network at every point and :math:`\delta` (initialised from
``(seed, "init", r)``), and at one :math:`\delta` every point of run ``r`` sees the same
minibatch stream.

Points where a rule sends a beta outside (0, 1) are not trained (NaN curves, ``defined``
False). The weight decay is the paper's decoupled :math:`-\eta\theta x` on every parameter.

Artifact ``results/scaling_lm/adamw.npz``: ``train_loss`` and ``test_loss`` (rule, base, delta,
run, saved point), ``defined`` (rule, base, delta), ``hp_<key>`` (rule, base, delta),
``bases`` (base, 2), ``rules``, ``deltas``, ``samples``; the meta records the corpus SHA-256,
its sizes and the Python version.
"""

from __future__ import annotations

import json
import math
import time
from functools import partial

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from adasde import corpus, integrate, jobs, optim, scaling
from adasde.experiments import quadratic

SECTION = "scaling_lm"
FIGURE = "scaling_lm"
HP_KEYS = scaling.HP_KEYS
TRAIN_KEYS = ("eta", "beta1", "beta2", "eps", "theta")
AMBIGUOUS_RULES = ("this_paper", "malladi", "alternative")


# ------------------------------------------------------------------------------ the model
def _dense(lin: eqx.nn.Linear, x: jax.Array) -> jax.Array:
    """``lin`` applied to the last axis of ``x`` (one matmul for all leading axes)."""
    y = x @ lin.weight.T
    return y if lin.bias is None else y + lin.bias


class CausalBlock(eqx.Module):
    """Pre-norm block: ``x + attn(LN(x))`` (causal multi-head self-attention), then
    ``x + fc2(gelu(fc1(LN(x))))``; acts on ``(seq_len, d_model)``."""

    norm1: eqx.nn.LayerNorm
    qkv: eqx.nn.Linear
    proj: eqx.nn.Linear
    norm2: eqx.nn.LayerNorm
    fc1: eqx.nn.Linear
    fc2: eqx.nn.Linear
    num_heads: int = eqx.field(static=True)

    def __init__(self, d_model: int, num_heads: int, d_hidden: int, *, key: jax.Array):
        k1, k2, k3, k4 = jax.random.split(key, 4)
        self.norm1 = eqx.nn.LayerNorm(d_model)
        self.qkv = eqx.nn.Linear(d_model, 3 * d_model, key=k1)
        self.proj = eqx.nn.Linear(d_model, d_model, key=k2)
        self.norm2 = eqx.nn.LayerNorm(d_model)
        self.fc1 = eqx.nn.Linear(d_model, d_hidden, key=k3)
        self.fc2 = eqx.nn.Linear(d_hidden, d_model, key=k4)
        self.num_heads = num_heads

    def __call__(self, x: jax.Array) -> jax.Array:
        T, d = x.shape
        h = jax.vmap(self.norm1)(x)
        q, k, v = jnp.split(_dense(self.qkv, h), 3, axis=-1)
        dh = d // self.num_heads
        q, k, v = (a.reshape(T, self.num_heads, dh) for a in (q, k, v))
        scores = jnp.einsum("thd,shd->hts", q, k) / math.sqrt(dh)
        causal = jnp.tril(jnp.ones((T, T), bool))
        scores = jnp.where(causal, scores, jnp.finfo(scores.dtype).min)
        att = jnp.einsum("hts,shd->thd", jax.nn.softmax(scores, axis=-1), v).reshape(T, d)
        x = x + _dense(self.proj, att)
        h = jax.vmap(self.norm2)(x)
        return x + _dense(self.fc2, jax.nn.gelu(_dense(self.fc1, h)))


class CausalLM(eqx.Module):
    """Byte-level causal Transformer: token + learned positional embedding, ``n_blocks``
    :class:`CausalBlock`, final LayerNorm and a linear head (next-token logits at every
    position)."""

    tok_embed: eqx.nn.Embedding
    pos_embed: eqx.nn.Embedding
    blocks: list[CausalBlock]
    norm: eqx.nn.LayerNorm
    head: eqx.nn.Linear

    def __init__(self, vocab_size: int, seq_len: int, d_model: int, num_heads: int,
                 n_blocks: int, d_hidden: int, *, key: jax.Array):
        if d_model % num_heads:
            raise ValueError(f"d_model={d_model} is not divisible by num_heads={num_heads}")
        keys = jax.random.split(key, n_blocks + 3)
        self.tok_embed = eqx.nn.Embedding(vocab_size, d_model, key=keys[0])
        self.pos_embed = eqx.nn.Embedding(seq_len, d_model, key=keys[1])
        self.blocks = [CausalBlock(d_model, num_heads, d_hidden, key=k) for k in keys[2:-1]]
        self.norm = eqx.nn.LayerNorm(d_model)
        self.head = eqx.nn.Linear(d_model, vocab_size, key=keys[-1])

    def __call__(self, tokens: jax.Array) -> jax.Array:
        """Logits ``(seq_len, vocab)`` for one token sequence ``(seq_len,)``."""
        x = self.tok_embed.weight[tokens] + self.pos_embed.weight[: tokens.shape[0]]
        for block in self.blocks:
            x = block(x)
        return _dense(self.head, jax.vmap(self.norm)(x))


def build_model(section: dict, vocab_size: int, key) -> CausalLM:
    m = section["model"]
    return CausalLM(vocab_size, m["seq_len"], m["d_model"], m["num_heads"], m["n_blocks"],
                    m["d_hidden"], key=key)


def n_params(section: dict, vocab_size: int) -> int:
    """Number of trainable scalars of the section's model."""
    m = section["model"]
    d, h, n = m["d_model"], m["d_hidden"], m["n_blocks"]
    block = 4 * d + (3 * d * d + 3 * d) + (d * d + d) + (d * h + h) + (h * d + d)
    return vocab_size * d + m["seq_len"] * d + n * block + 2 * d + d * vocab_size + vocab_size


# ------------------------------------------------------------------------------ the grid
def _sim(section: dict) -> dict:
    """The simulate subsection of a ``scaling_lm`` section (or the section itself)."""
    return section["simulate"] if "simulate" in section else section


def points(section: dict) -> tuple[dict, np.ndarray, list[list[str]]]:
    """Rescaled hyper-parameters ``hp[key]`` of shape ``(rule, base, delta)``, the ``defined``
    mask and, per point, the reason a rule is undefined there ("" when defined)
    (:func:`adasde.scaling.scale_grid`)."""
    base, B = section["base"], section["batch_size"]
    hp, defined, reasons = scaling.scale_grid(
        (section["rules"], section["bases"], section["deltas"]),
        lambda rule, b12, d: (rule, scaling.base_point(base, b12[0], b12[1], B), d))
    return hp, defined, reasons.tolist()


def distinct_points(hp: dict, defined: np.ndarray, k: int) -> tuple[list, np.ndarray]:
    """The distinct defined hyper-parameter settings at delta index ``k``: ``(rows, where)``
    with ``rows`` a list of ``(rule, base)`` index pairs to train and ``where[r, b]`` the
    position in ``rows`` whose curves point ``(r, b)`` takes (-1: undefined)."""
    n_rule, n_base = defined.shape[:2]
    where = np.full((n_rule, n_base), -1)
    seen: dict[tuple, int] = {}
    rows = []
    for b in range(n_base):
        for r in range(n_rule):
            if not defined[r, b, k]:
                continue
            sig = tuple(float(hp[key][r, b, k]) for key in TRAIN_KEYS)
            if sig not in seen:
                seen[sig] = len(rows)
                rows.append((r, b))
            where[r, b] = seen[sig]
    return rows, where


# ------------------------------------------------------------------------------ checks
def check(section: dict) -> list[str]:
    """Cross-key checks of a ``scaling_lm`` section (``{simulate, analyse}`` or the simulate
    part alone), each message naming its key; also the memory a job would need."""
    from adasde import limits as adasde_config

    s = _sim(section)
    where = "scaling_lm.simulate" if "simulate" in section else "scaling_lm"
    err = []

    def key(k):
        return f"config key '{where}.{k}'"

    deltas = s["deltas"]
    if 1 not in deltas:
        err.append(f"{key('deltas')}: {deltas} must include 1 (the reference curve)")
    if len(set(deltas)) != len(deltas) or list(deltas) != sorted(deltas):
        err.append(f"{key('deltas')}: {deltas} must be increasing without repeats")
    if len(set(s["rules"])) != len(s["rules"]):
        err.append(f"{key('rules')}: {s['rules']} has repeats")
    bases = [tuple(b) for b in s["bases"]]
    if len(set(bases)) != len(bases):
        err.append(f"{key('bases')}: {s['bases']} has repeats")
    B = s["batch_size"]
    for d in deltas:
        batch = d * B
        if abs(batch - round(batch)) > 1e-9:
            err.append(f"{key('deltas')}: delta={d:g} times batch_size={B} is not an integer "
                       f"batch")
        elif s["save_samples"] % round(batch):
            err.append(f"{key('save_samples')}: {s['save_samples']} is not a multiple of "
                       f"delta*batch_size = {round(batch)} (delta={d:g}); every delta must "
                       f"save on the same grid of samples seen")
    if s["samples"] % s["save_samples"]:
        err.append(f"{key('samples')}: {s['samples']} is not a multiple of save_samples "
                   f"{s['save_samples']}")
    m = s["model"]
    if m["d_model"] % m["num_heads"]:
        err.append(f"{key('model.d_model')}: {m['d_model']} is not divisible by "
                   f"model.num_heads {m['num_heads']}")
    a = section.get("analyse") if "simulate" in section else None
    if a is not None:
        for k_ in ("transient_fraction", "end_fraction"):
            if k_ in a and not 0 < a[k_] < 1:
                err.append(f"config key 'scaling_lm.analyse.{k_}': {a[k_]} must lie in (0, 1)")
    if not err:
        err += adasde_config.memory_errors(
            where, [("scaling_lm_train", estimate_bytes(s),
                     "bases x rules x runs, batch_size x max(deltas), model size, "
                     "eval_sequences")])
    return err


def estimate_bytes(section: dict, vocab_size: int = 128) -> float:
    """Rough peak bytes of the largest compiled call (one delta): parameters, optimizer
    state and gradients of every vmapped network, plus the activations kept for one backward
    pass and one evaluation (float32; float64 doubles it)."""
    s = _sim(section)
    m = s["model"]
    T, d, h, n = m["seq_len"], m["d_model"], m["d_hidden"], m["n_blocks"]
    nets = len(s["bases"]) * len(s["rules"]) * s["runs"]
    P = n_params(s, vocab_size)
    per_token = n * (12 * d + 2 * h + 3 * m["num_heads"] * T) + 3 * vocab_size + 2 * d
    batch = max(s["deltas"]) * s["batch_size"]
    act = (batch + s["eval_sequences"]) * T * per_token
    return 4.0 * nets * (6 * P + 2 * act)


# ------------------------------------------------------------------------------ training
def windows(ids: np.ndarray, n: int, length: int) -> np.ndarray:
    """``n`` fixed, evenly spaced windows of ``length`` tokens of ``ids`` (int32 ``(n,
    length)``): the evaluation sets."""
    starts = np.linspace(0, len(ids) - length, n).astype(np.int64)
    return ids[starts[:, None] + np.arange(length)].astype(np.int32)


def _loss(model, seqs):
    """Mean next-token cross-entropy (nats) of ``model`` on ``seqs`` ``(n, seq_len + 1)``."""
    logits = jax.vmap(model)(seqs[:, :-1])
    logp = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.mean(jnp.take_along_axis(logp, seqs[:, 1:, None], axis=-1))


def make_train(static, train_ids: np.ndarray, train_eval: np.ndarray, test_eval: np.ndarray,
               seq_len: int):
    """The jitted :func:`train` (closed over: the model structure and the token data)."""
    return jax.jit(partial(train, static, jnp.asarray(train_ids), jnp.asarray(train_eval),
                           jnp.asarray(test_eval), seq_len),
                   static_argnames=("batch", "n_saves", "save_every", "progress"))


def train(static, train_ids, train_eval, test_eval, seq_len: int, hp: dict, params0, keys, *,
          batch: int, n_saves: int, save_every: int, progress: str | None = None):
    r"""Minibatch AdamW (:func:`adasde.optim.adamw`) for every point ``hp[k][g]`` (G points) and
    run ``r`` (initial parameters ``params0`` with leading axis R, minibatch key ``keys[r]``,
    both shared by every point): ``n_saves * save_every`` steps of ``batch`` windows.
    Returns ``(train_loss, test_loss)``, each ``(G, R, n_saves + 1)``."""
    n_starts = train_ids.shape[0] - seq_len
    offsets = jnp.arange(seq_len + 1)

    def one(hp_g, p0, key):
        opt = optim.adamw(hp_g["eta"], hp_g["beta1"], hp_g["beta2"], hp_g["eps"],
                          hp_g["theta"])

        def minibatch_loss(params, starts):
            model = eqx.combine(params, static)
            return _loss(model, train_ids[starts[:, None] + offsets])

        grad = jax.grad(minibatch_loss)

        def step(n, y, starts):
            params, state = y
            u, state = opt.update(grad(params, starts), state, params)
            return optax.apply_updates(params, u), state

        def draw(k, n):
            return jax.random.randint(k, (n, batch), 0, n_starts)

        def observe(y):
            model = eqx.combine(y[0], static)
            return _loss(model, train_eval), _loss(model, test_eval)

        obs, _ = integrate.scan_blocks(step, (p0, opt.init(p0)), key, draw, n_saves=n_saves,
                                       save_every=save_every, observe=observe,
                                       progress=progress)
        return obs

    per_run = jax.vmap(one, in_axes=(None, 0, 0))
    return jax.vmap(lambda hp_g: per_run(hp_g, params0, keys))(hp)


_RUNNERS: dict = {}  # the jitted train of the last model / data seen in this process


def init_params(section: dict, vocab_size: int, seed: int, dtype):
    """Initial parameters of every run (leading axis R) and the model's static part."""
    keys = jax.random.split(quadratic.job_key(seed, FIGURE, "init"), section["runs"])
    models = eqx.filter_vmap(lambda k: build_model(section, vocab_size, k))(keys)
    params, static = eqx.partition(models, eqx.is_inexact_array)
    params = jax.tree_util.tree_map(lambda x: x.astype(dtype), params)
    return params, static


def simulate_job(config: dict, out_path, log=print) -> None:
    """Train every rule x base x delta point of ``scaling_lm`` and save the artifact."""
    section = config[SECTION]
    errors = check({"simulate": section})
    if errors:
        raise ValueError("invalid scaling_lm section: " + "; ".join(errors))
    x64 = config.get("dtype") == "float64"
    with jax.enable_x64(x64):
        arrays, extra, wall = _train_all(section, config["seed"], jobs.dtype_of(config), log)
    jobs.save_artifact(config, section, out_path, arrays, name=f"{FIGURE}/adamw",
                       wall_time_s=wall, extra=extra, log=log)


def _train_all(section: dict, seed: int, dtype, log) -> tuple[dict, dict, float]:
    """The arrays of the artifact, the meta's extra fields and the training wall time."""
    job_start, cpu_start = time.perf_counter(), time.process_time()
    text = corpus.build(section["corpus"]["test_every"])
    T = section["model"]["seq_len"]
    E = section["eval_sequences"]
    train_eval = windows(text.train, E, T + 1)
    test_eval = windows(text.test, E, T + 1)
    rules, bases, deltas = list(section["rules"]), section["bases"], section["deltas"]
    hp, defined, _ = points(section)
    B, R = section["batch_size"], section["runs"]
    n_saves = section["samples"] // section["save_samples"]
    params0, static = init_params(section, text.vocab_size, seed, dtype)
    P = n_params(section, text.vocab_size)
    log(f"[adasde] scaling_lm: corpus sha256 {text.sha256[:16]}... ({text.n_bytes} bytes, "
        f"{len(text.train)} train / {len(text.test)} held-out tokens, vocab {text.vocab_size}, "
        f"Python {text.python}) in {time.perf_counter() - job_start:.1f} s; model "
        f"{P} parameters; {len(rules)} rules x {len(bases)} bases x deltas {deltas}, {R} runs, "
        f"{section['samples']} sequences of {T} tokens each, "
        f"device={jax.devices()[0].platform}")
    key = (json.dumps(section["model"], sort_keys=True), section["corpus"]["test_every"], E,
           text.sha256)
    if key not in _RUNNERS:  # one compiled program per delta, reused by a later job (tests)
        _RUNNERS.clear()
        _RUNNERS[key] = make_train(static, text.train, train_eval, test_eval, T)
    run = _RUNNERS[key]
    shape = (len(rules), len(bases), len(deltas), R, n_saves + 1)
    train_loss, test_loss = np.full(shape, np.nan), np.full(shape, np.nan)
    timings = {}
    t0 = time.perf_counter()
    for k, d in enumerate(deltas):
        rows, where = distinct_points(hp, defined, k)
        if not rows:
            log(f"[adasde] delta={d:g}: every point undefined, skipped")
            continue
        batch = int(round(d * B))
        save_every = section["save_samples"] // batch
        hp_k = {key: jnp.asarray([hp[key][r, b, k] for r, b in rows], dtype)
                for key in TRAIN_KEYS}
        keys = jax.random.split(quadratic.job_key(seed, FIGURE, f"delta{d:g}"), R)
        log(f"[adasde] delta={d:g}: batch {batch}, {n_saves * save_every} steps, "
            f"{len(rows)} distinct points x {R} runs ...")
        t1 = time.perf_counter()
        tr, te = run(hp_k, params0, keys, batch=batch, n_saves=n_saves, save_every=save_every,
                     progress=f"scaling_lm delta={d:g}")
        tr, te = np.asarray(tr), np.asarray(te)
        timings[f"delta{d:g}_s"] = time.perf_counter() - t1
        for r in range(len(rules)):
            for b in range(len(bases)):
                if where[r, b] >= 0:
                    train_loss[r, b, k], test_loss[r, b, k] = tr[where[r, b]], te[where[r, b]]
        bad = int((~np.isfinite(tr[:, :, -1])).sum())
        log(f"[adasde] delta={d:g}: done in {timings[f'delta{d:g}_s']:.1f} s (compilation "
            f"included); {bad} of {tr.shape[0] * R} runs non-finite; final held-out loss "
            f"{np.nanmean(te[:, :, -1]):.3f} (mean over points and runs)")
    wall = time.perf_counter() - t0
    arrays = {
        "train_loss": train_loss.astype(np.float32),
        "test_loss": test_loss.astype(np.float32),
        "defined": defined,
        "rules": np.asarray(rules),
        "bases": np.asarray(bases, float),
        "deltas": np.asarray(deltas, float),
        "samples": np.arange(n_saves + 1) * section["save_samples"],
        **{f"hp_{k}": hp[k] for k in HP_KEYS},
    }
    extra = {"optimizer": "adamw", "problem": "causal-transformer-stdlib-docstrings",
             "n_params": P, "tokens_per_sequence": T, **text.provenance(),
             "timings": {**timings, "job_wall_s": time.perf_counter() - job_start,
                         "job_cpu_s": time.process_time() - cpu_start}}
    return arrays, extra, wall
