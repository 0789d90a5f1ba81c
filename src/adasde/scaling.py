r"""Batch-size scaling rules: how to change the other hyper-parameters when the batch size
goes from :math:`B` to :math:`\delta B` (docs/paper.md section 4).

A rule is a pure function ``rule(hp, delta) -> hp'`` on a dict of hyper-parameters with keys
``eta, beta1, beta2, eps, theta, B`` (missing keys are left missing; extra keys pass through
unchanged). Values may be Python floats or numpy arrays (elementwise, broadcasting with
``delta``). Rules never raise on the *values* they produce: a :math:`\beta` pushed outside
:math:`(0, 1)` is reported by :func:`undefined` / :func:`scale`, because "the rule is undefined
there" is a result to plot, not an error.

Rules (:data:`RULES`), all with B -> delta*B (docs/paper.md section 4):

==============  ===========  ======================  ===============  ===============
rule            eta          1 - beta_i              eps              theta
==============  ===========  ======================  ===============  ===============
``this_paper``  sqrt(d)*eta  d*(1 - beta_i)          eps/sqrt(d)      sqrt(d)*theta
``malladi``     sqrt(d)*eta  d*(1 - beta_i)          eps/sqrt(d)      unchanged
``alternative`` sqrt(d)*eta  sqrt(d)*(1 - beta_i)    eps/sqrt(d)      sqrt(d)*theta
``signsgd``     sqrt(d)*eta  unchanged               unchanged        unchanged
``sgd_linear``  d*eta        unchanged               unchanged        unchanged
==============  ===========  ======================  ===============  ===============

(d = delta.) Every rule composes multiplicatively, so ``rule(rule(hp, d), 1/d)`` returns ``hp``
(up to rounding), whether or not the intermediate point is defined.

For practitioners (``adasde scale``, :mod:`adasde.scale_tool`): :func:`scale_hparams` and
:func:`scale_all` take one optimizer's values and two batch sizes, validate them
(:class:`HparamError`), apply :func:`scale` and report each result's domain (:class:`Issue`:
a beta outside (0, 1), 1 - beta or lr*weight_decay above :data:`SMALL`, a rule derived without
weight decay); :func:`hparams_from_library` maps lr, betas, eps, weight_decay onto these keys.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

HP_KEYS = ("eta", "beta1", "beta2", "eps", "theta", "B")
BETA_KEYS = ("beta1", "beta2")


def _sqrt(delta):
    return np.sqrt(np.asarray(delta, float))


def _map(hp: dict, *, eta=None, one_minus_beta=None, eps=None, theta=None, B=None):
    """Apply per-key factors (``None``: unchanged); ``one_minus_beta`` multiplies
    :math:`1-\\beta_i` for every beta present."""
    out = dict(hp)
    factors = {"eta": eta, "eps": eps, "theta": theta, "B": B}
    for k, f in factors.items():
        if f is not None and k in hp:
            out[k] = hp[k] * f
    if one_minus_beta is not None:
        for k in BETA_KEYS:
            if k in hp:
                out[k] = 1.0 - one_minus_beta * (1.0 - np.asarray(hp[k], float))
    for k, v in out.items():
        if isinstance(v, (np.ndarray, np.generic)) and np.ndim(v) == 0:
            out[k] = float(v)
    return out


def this_paper(hp: dict, delta) -> dict:
    r"""Compagnoni et al., Lemma 3.13, AdamW and RMSpropW (docs/paper.md 4 [S sources 4-6, R form,
    D num-checked]): :math:`B\to\delta B`, :math:`\eta\to\sqrt\delta\,\eta`,
    :math:`1-\beta_i\to\delta(1-\beta_i)`, :math:`\epsilon\to\epsilon/\sqrt\delta`,
    :math:`\theta\to\sqrt\delta\,\theta`.

    Preserves: the AdamW/RMSpropW asymptotic loss
    :math:`\tfrac\eta4\sum_i\lambda_i s_i/(\lambda_i+\theta s_i)`, :math:`s_i=\sigma_i/\sqrt B`
    (docs/paper.md 3.3), and every time scale counted in samples: in SDE time :math:`t = k\eta` the
    relaxation rate :math:`\lambda/s + \theta` and :math:`\rho_i = (1-\beta_i)/\eta` all grow by
    :math:`\sqrt\delta` while one sample is :math:`\sqrt\delta` times less SDE time. (In the
    paper's terms :math:`\beta_i = 1-\eta\rho_i` with :math:`\rho_i\to\sqrt\delta\rho_i`.)
    """
    r = _sqrt(delta)
    return _map(hp, eta=r, one_minus_beta=np.asarray(delta, float), eps=1.0 / r,
                theta=r, B=np.asarray(delta, float))


def malladi(hp: dict, delta) -> dict:
    r"""Malladi et al. (NeurIPS 2022) square-root rule (docs/paper.md 4 [V, source 8]):
    :math:`B\to\delta B`, :math:`\eta\to\sqrt\delta\,\eta`, :math:`1-\beta_i\to\delta(1-\beta_i)`,
    :math:`\epsilon\to\epsilon/\sqrt\delta`; the decoupled weight decay :math:`\theta` is left
    unchanged (the rule does not mention it).

    Preserves: Malladi's SDE (:math:`\sigma_0 = \sigma\eta`, :math:`\epsilon_0 = \epsilon\eta`,
    :math:`c_i = (1-\beta_i)/\eta^2` fixed) for Adam/RMSprop *without* weight decay. With
    decoupled weight decay the per-sample decay falls by :math:`\sqrt\delta`, so AdamW's
    asymptotic loss rises towards Adam's :math:`\eta\,\mathrm{Tr}\,\Sigma^{1/2}/(4\sqrt B)`.
    """
    r = _sqrt(delta)
    return _map(hp, eta=r, one_minus_beta=np.asarray(delta, float), eps=1.0 / r,
                B=np.asarray(delta, float))


def alternative(hp: dict, delta) -> dict:
    r"""The alternative reading of Lemma 3.13 (docs/paper.md 4 [S, source 7-style code; refuted by
    our simulation]): :math:`B\to\delta B`, :math:`\eta\to\sqrt\delta\,\eta`,
    :math:`1-\beta_i\to\sqrt\delta(1-\beta_i)` (i.e. :math:`\rho_i` fixed in SDE time),
    :math:`\epsilon\to\epsilon/\sqrt\delta`, :math:`\theta\to\sqrt\delta\,\theta`.

    Preserves: the leading-order closed-form asymptotic loss (which does not see
    :math:`\beta`), but not the momentum windows counted in samples: they grow by
    :math:`\sqrt\delta` relative to the relaxation time, which lowers the loss at finite
    :math:`\eta` (kept so the figure shows why it is not the paper's rule).
    """
    r = _sqrt(delta)
    return _map(hp, eta=r, one_minus_beta=r, eps=1.0 / r, theta=r,
                B=np.asarray(delta, float))


def signsgd(hp: dict, delta) -> dict:
    r"""SignSGD square-root rule (docs/paper.md 4 [D]): :math:`B\to\delta B`,
    :math:`\eta\to\sqrt\delta\,\eta`.

    Preserves: the Phase-3 asymptotic loss :math:`\sqrt{\pi/2}\,\eta\,\mathrm{Tr}\,\Sigma^{1/2}
    /(4\sqrt B)` and the Phase-3 rate per sample (rate :math:`\sqrt{2/\pi}\sqrt B\lambda/\sigma`
    in SDE time). Phase 1 (SignGD) does not depend on :math:`B`, so it is not preserved there.
    """
    return _map(hp, eta=_sqrt(delta), B=np.asarray(delta, float))


def sgd_linear(hp: dict, delta) -> dict:
    r"""SGD's linear rule (docs/paper.md 2.1/3.1 [R, standard; Malladi's blog V]):
    :math:`B\to\delta B`, :math:`\eta\to\delta\,\eta`.

    Preserves: the SGD SDE :math:`dX = -\nabla f\,dt + \sqrt{\eta/B}\,\Sigma^{1/2}dW` and its
    asymptotic loss :math:`\eta\,\mathrm{Tr}\,\Sigma/(4B)` (for SGD only; shown for reference).
    """
    return _map(hp, eta=np.asarray(delta, float), B=np.asarray(delta, float))


RULES: dict[str, Callable[[dict, float], dict]] = {
    "this_paper": this_paper,
    "malladi": malladi,
    "alternative": alternative,
    "signsgd": signsgd,
    "sgd_linear": sgd_linear,
}
RULE_LABELS = {
    "this_paper": r"this paper: $1-\beta\to\delta(1-\beta)$, $\theta\to\sqrt{\delta}\theta$",
    "malladi": r"Malladi et al.: $1-\beta\to\delta(1-\beta)$, $\theta$ fixed",
    "alternative": r"alternative: $1-\beta\to\sqrt{\delta}(1-\beta)$, $\theta\to\sqrt{\delta}\theta$",
    "signsgd": r"SignSGD: $\eta\to\sqrt{\delta}\eta$",
    "sgd_linear": r"SGD linear: $\eta\to\delta\eta$",
}


def get(rule: str) -> Callable[[dict, float], dict]:
    """The rule function named ``rule`` (one of :data:`RULES`)."""
    if rule not in RULES:
        raise ValueError(f"unknown scaling rule {rule!r}; allowed: {', '.join(RULES)}")
    return RULES[rule]


def undefined(hp: dict) -> list[str]:
    r"""Names of the betas in ``hp`` outside the open interval :math:`(0, 1)` (scalars) or,
    for arrays, outside it anywhere; an empty list means the hyper-parameters are valid."""
    bad = []
    for k in BETA_KEYS:
        if k in hp:
            b = np.asarray(hp[k], float)
            if not np.all((b > 0.0) & (b < 1.0)):
                bad.append(k)
    return bad


def defined_mask(hp: dict) -> np.ndarray:
    r"""Elementwise: every beta of ``hp`` in :math:`(0, 1)` (broadcast over the array values)."""
    ok = np.asarray(True)
    for k in BETA_KEYS:
        if k in hp:
            b = np.asarray(hp[k], float)
            ok = ok & (b > 0.0) & (b < 1.0)
    return ok


@dataclass(frozen=True)
class Scaled:
    """The result of applying a rule: the new hyper-parameters, whether they are valid, and if
    not, which beta left :math:`(0, 1)` (``reason``)."""

    rule: str
    delta: float
    hp: dict
    defined: bool
    reason: str = ""


def scale(rule: str, hp: dict, delta) -> Scaled:
    """Apply ``rule`` to scalar hyper-parameters ``hp`` for batch factor ``delta > 0``; an
    undefined result is returned with ``defined=False`` and a reason, never raised."""
    delta = float(delta)
    if not delta > 0:
        raise ValueError(f"delta must be positive, got {delta!r}")
    new = get(rule)(hp, delta)
    bad = undefined(new)
    reason = "; ".join(f"{k} = {new[k]:.4g} outside (0, 1)" for k in bad)
    return Scaled(rule, delta, new, not bad, reason)


def base_point(base: dict, beta1, beta2, batch_size) -> dict:
    """The full scalar hyper-parameters (eta, beta1, beta2, eps, theta, B) of one base point
    of a figure's grid: ``base``'s eta, eps (0 if absent) and theta with the given betas and
    batch size."""
    return {"eta": float(base["eta"]), "beta1": float(beta1), "beta2": float(beta2),
            "eps": float(base.get("eps", 0.0)), "theta": float(base["theta"]),
            "B": float(batch_size)}


def scale_grid(axes, point, keys=HP_KEYS) -> tuple[dict, np.ndarray, np.ndarray]:
    """Apply the rules over a product grid, the one expansion every scaling figure uses.

    ``axes`` is a sequence of value lists (e.g. rules, bases, deltas); for every index tuple
    ``point(*values)`` returns ``(rule, hp, delta)``, passed to :func:`scale`. Returns
    ``(hp, defined, reasons)``: ``hp[key]`` arrays of the grid's shape for every key of
    :data:`HP_KEYS` (filled for ``keys``, NaN for the others), the boolean ``defined`` mask and
    the ``reasons`` an undefined point gives ("" where defined; object array)."""
    shape = tuple(len(a) for a in axes)
    hp = {k: np.full(shape, np.nan) for k in HP_KEYS}
    defined = np.zeros(shape, bool)
    reasons = np.full(shape, "", dtype=object)
    for idx in np.ndindex(*shape):
        s = scale(*point(*(a[i] for a, i in zip(axes, idx, strict=True))))
        for key in keys:
            hp[key][idx] = s.hp[key]
        defined[idx] = s.defined
        reasons[idx] = s.reason
    return hp, defined, reasons


# ------------------------------------------------------- practitioner API (``adasde scale``)
#
# The hyper-parameters of one optimizer as a practitioner sets them, scaled by every rule with
# the same rule functions as above (``scale``), plus the domain checks the figures only need
# in part. Practitioner names map one to one onto the paper's: lr = eta, betas = (beta1,
# beta2), eps = eps (added to sqrt(v-hat), outside the square root, as in torch and optax),
# weight_decay = theta, with the decoupled update -lr*weight_decay*x (torch.optim.AdamW and
# optax.adamw both multiply the decay by the learning rate, as the paper's -eta*theta*x does).

#: The paper's keys each optimizer uses (besides the batch size).
OPTIMIZERS: dict[str, tuple[str, ...]] = {
    "adamw": ("eta", "beta1", "beta2", "eps", "theta"),
    "rmspropw": ("eta", "beta2", "eps", "theta"),
    "adam": ("eta", "beta1", "beta2", "eps"),
    "signsgd": ("eta",),
}
#: The rules that apply to each optimizer, in the order they are reported.
OPTIMIZER_RULES: dict[str, tuple[str, ...]] = {
    "adamw": ("this_paper", "malladi", "alternative"),
    "rmspropw": ("this_paper", "malladi", "alternative"),
    "adam": ("this_paper", "malladi", "alternative"),
    "signsgd": ("signsgd",),
}
#: "Small" for a per-step rate c (c = 1 - beta_i, or the per-step decay eta*theta). The SDEs
#: replace the per-step factor 1 - c by the continuous-time relaxation exp(-c), correct to first
#: order in c: the rate -ln(1 - c) exceeds c by about c/2 (5.4% at c = 0.1, 28% at c = 0.4),
#: and an EMA window 1/c shorter than 10 steps is a few gradients rather than a smooth average.
#: 0.1 also admits beta1 = 0.9, the common default and the smallest beta1 of the paper's own
#: grid (0.975, 0.95, 0.9). Beyond it the rule is outside the regime it was derived in, which
#: is reported, not refused (on the quadratic the rule can still hold there).
SMALL = 0.1
_SMALL_TOL = 1e-9  # relative: delta*(1 - beta) = 0.1 computed as 0.10000000000000003 is small


class HparamError(ValueError):
    """Invalid input to :func:`scale_hparams`; ``key`` names the offending input (``eta``,
    ``beta1``, ``beta2``, ``eps``, ``theta``, ``batch``, ``to_batch``, ``optimizer``, ``rule``)
    and ``message`` says what is wrong with its value."""

    def __init__(self, key: str, message: str):
        self.key, self.message = key, message
        super().__init__(f"{key}: {message}")


@dataclass(frozen=True)
class Issue:
    """Why a scaled (or base) point is outside a rule's domain. ``kind`` is ``"undefined"`` (a
    beta outside (0, 1): the rule gives no optimizer), ``"not_small"`` (1 - beta or the
    per-step decay eta*theta above :data:`SMALL`: outside the SDE regime the rule is derived
    in) or ``"derivation"`` (the rule was not derived for this optimizer's hyper-parameters);
    ``key`` is a paper key (``beta1``, ``beta2``, ``theta``) or ``eta*theta``."""

    key: str
    kind: str
    reason: str


@dataclass(frozen=True)
class ScaledHparams:
    """One optimizer's hyper-parameters under one rule for ``batch -> to_batch``: ``base`` and
    ``hp`` in the paper's keys (no ``B``), ``defined`` exactly as :func:`scale` says, the domain
    ``issues`` of the new point and ``base_issues`` of the base, and ``notes`` (caveats that are
    not domain failures)."""

    optimizer: str
    rule: str
    batch: int
    to_batch: int
    delta: float
    base: dict
    hp: dict
    defined: bool
    issues: tuple[Issue, ...] = ()
    base_issues: tuple[Issue, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def in_domain(self) -> bool:
        """Both the base and the scaled point are inside the rule's domain."""
        return not self.issues and not self.base_issues

    def library(self, which: str = "hp") -> dict:
        """``hp`` (or ``base``) in practitioner names: ``lr``, ``betas`` (tuple), ``eps``,
        ``weight_decay`` (keys the optimizer does not use are left out)."""
        return library_hparams(self.optimizer, getattr(self, which))

    def to_dict(self) -> dict:
        """A JSON-ready dict (floats exactly as computed)."""
        def issues(xs):
            return [{"key": i.key, "kind": i.kind, "reason": i.reason} for i in xs]

        return {
            "optimizer": self.optimizer, "rule": self.rule, "batch": self.batch,
            "to_batch": self.to_batch, "delta": self.delta,
            "base": self.library("base"), "scaled": self.library("hp"),
            "defined": self.defined, "in_domain": self.in_domain,
            "issues": issues(self.issues), "base_issues": issues(self.base_issues),
            "notes": list(self.notes),
        }


def library_hparams(optimizer: str, hp: dict) -> dict:
    """Paper keys -> practitioner names (``lr``, ``betas``, ``eps``, ``weight_decay``)."""
    out = {"lr": hp["eta"]}
    betas = tuple(hp[k] for k in BETA_KEYS if k in OPTIMIZERS[optimizer])
    if betas:
        out["betas"] = betas
    for src, dst in (("eps", "eps"), ("theta", "weight_decay")):
        if src in OPTIMIZERS[optimizer]:
            out[dst] = hp[src]
    return out


def hparams_from_library(optimizer: str, lr, betas=(), eps=None, weight_decay=None) -> dict:
    """Practitioner values -> the paper's keys for ``optimizer``: ``lr`` is eta, ``betas`` are
    (beta1, beta2) (one value, beta2, for ``rmspropw``; none for ``signsgd``), ``eps`` is added
    to sqrt(v-hat), ``weight_decay`` is theta in the decoupled step -lr*weight_decay*x.
    Wrong counts raise :class:`HparamError`; values are checked by :func:`scale_hparams`."""
    _check_optimizer(optimizer)
    keys = OPTIMIZERS[optimizer]
    hp = {"eta": lr}
    beta_keys = [k for k in BETA_KEYS if k in keys]
    betas = tuple(betas or ())
    if len(betas) != len(beta_keys):
        want = {0: "no betas", 1: "one beta (beta2)", 2: "two betas (beta1 beta2)"}
        raise HparamError(beta_keys[0] if beta_keys else "beta1",
                          f"{optimizer} takes {want[len(beta_keys)]}, got {len(betas)}")
    hp.update(zip(beta_keys, betas, strict=True))
    if "eps" in keys:
        hp["eps"] = 0.0 if eps is None else eps
    elif eps is not None:
        raise HparamError("eps", f"{optimizer} has no eps")
    if "theta" in keys:
        if weight_decay is None:
            raise HparamError("theta", f"{optimizer} needs its weight decay (0 for none)")
        hp["theta"] = weight_decay
    elif weight_decay:
        raise HparamError("theta", f"{optimizer} has no decoupled weight decay"
                          + ("; use adamw" if optimizer == "adam" else ""))
    return hp


def _check_optimizer(optimizer):
    if optimizer not in OPTIMIZERS:
        raise HparamError("optimizer", f"unknown optimizer {optimizer!r}; allowed: "
                          f"{', '.join(OPTIMIZERS)}")


def _finite(key, v):
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise HparamError(key, f"{v!r} is not a number")
    v = float(v)
    if not np.isfinite(v):
        raise HparamError(key, f"{v!r} must be finite")
    return v


def _batch(key, v):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        if isinstance(v, (float, np.floating)) and np.isfinite(v) and float(v).is_integer():
            v = int(v)
        else:
            raise HparamError(key, f"{v!r} must be a positive integer")
    if v <= 0:
        raise HparamError(key, f"{v!r} must be a positive integer")
    return int(v)


def check_hparams(optimizer: str, hp: dict) -> dict:
    """Validate ``hp`` for ``optimizer`` and return it as floats: exactly the keys of
    :data:`OPTIMIZERS` (a zero ``theta`` may be given to an optimizer without weight decay),
    eta > 0, betas in the open interval (0, 1), eps >= 0, theta >= 0, all finite."""
    _check_optimizer(optimizer)
    keys = OPTIMIZERS[optimizer]
    hp = dict(hp)
    if "theta" in hp and "theta" not in keys and hp["theta"] == 0:
        del hp["theta"]
    for k in hp:
        if k not in keys:
            extra = "; the batch sizes are arguments of their own" if k == "B" else ""
            raise HparamError(k, f"{optimizer} does not use {k!r} (it uses "
                              f"{', '.join(keys)}){extra}")
    for k in keys:
        if k not in hp:
            raise HparamError(k, f"missing: {optimizer} needs {', '.join(keys)}")
    out = {k: _finite(k, hp[k]) for k in keys}
    if not out["eta"] > 0:
        raise HparamError("eta", f"{out['eta']!r} must be positive")
    for k in BETA_KEYS:
        if k in out and not 0.0 < out[k] < 1.0:
            raise HparamError(k, f"{k} = {out[k]!r} must be in (0, 1)")
    for k in ("eps", "theta"):
        if k in out and out[k] < 0:
            raise HparamError(k, f"{out[k]!r} must be >= 0")
    return out


def _small(c) -> bool:
    return c <= SMALL * (1 + _SMALL_TOL)


def regime_issues(hp: dict, prime: str = "'", base: dict | None = None) -> list[Issue]:
    r"""Domain issues of one point: a beta outside (0, 1) (``undefined``), 1 - beta_i or the
    per-step decay eta*theta above :data:`SMALL` (``not_small``). ``prime`` marks the names in
    the reasons (``"'"`` for a scaled point, ``""`` for the base); with the ``base`` the point
    was scaled from, a beta's reason also says which base beta would stay small."""
    out = []
    for k in BETA_KEYS:
        if k not in hp:
            continue
        b, c = hp[k], 1.0 - hp[k]
        hint = ""
        if base is not None and k in base and c > 1.0 - base[k] and _small(1.0 - base[k]):
            factor = c / (1.0 - base[k])
            hint = f"; a base {k} >= {1.0 - SMALL / factor:.6g} stays inside at this delta"
        if not 0.0 < b < 1.0:
            out.append(Issue(k, "undefined", f"{k}{prime} = {b:.6g} is outside (0, 1): the rule "
                                             f"gives no optimizer here{hint}"))
        elif not _small(c):
            out.append(Issue(k, "not_small",
                             f"1 - {k}{prime} = {c:.6g} > {SMALL}: an EMA window of "
                             f"{1 / c:.3g} steps, outside the small-(1 - beta) regime of "
                             f"the SDE the rule is derived from{hint}"))
    if "theta" in hp:
        c = hp["eta"] * hp["theta"]
        if not _small(c):
            out.append(Issue("eta*theta", "not_small",
                             f"lr{prime}*weight_decay{prime} = {c:.6g} > {SMALL}: the per-step "
                             f"decay factor 1 - {c:.6g} is not close to 1"
                             + (" (it flips or zeroes the weights)" if c >= 1 else "")))
    return out


_NOTES = {
    "this_paper": "this paper's rule (Lemma 3.13) keeps the asymptotic loss and the speed per "
                  "sample in the noise-dominated regime",
    "malladi": "Malladi et al.'s square-root rule, derived for Adam/RMSprop without weight "
               "decay in the noise-dominated regime",
    "alternative": "the alternative reading of Lemma 3.13 (1 - beta -> sqrt(delta)*(1 - beta)); "
                   "refuted by this project's simulations, shown for comparison",
    "signsgd": "SignSGD's square-root rule keeps the Phase-3 (noise-dominated) asymptotic loss "
               "and rate per sample; in Phase 1 (signal-dominated) SignSGD does not depend on B",
}


def scale_hparams(optimizer: str, hp: dict, batch: int, to_batch: int,
                  rule: str) -> ScaledHparams:
    """Scale ``optimizer``'s hyper-parameters ``hp`` (paper keys, see :data:`OPTIMIZERS`;
    :func:`hparams_from_library` converts practitioner values) from batch size ``batch`` to
    ``to_batch`` under ``rule`` (one of :data:`OPTIMIZER_RULES` ``[optimizer]``), with
    ``delta = to_batch / batch`` (any positive ratio: delta < 1 shrinks the batch). The values
    are :func:`scale`'s, i.e. exactly those the figures use. Invalid input raises
    :class:`HparamError`; a result outside the rule's domain is returned with its issues."""
    base = check_hparams(optimizer, hp)
    batch, to_batch = _batch("batch", batch), _batch("to_batch", to_batch)
    if rule not in OPTIMIZER_RULES[optimizer]:
        raise HparamError("rule", f"rule {rule!r} does not apply to {optimizer}; allowed: "
                          f"{', '.join(OPTIMIZER_RULES[optimizer])}")
    delta = to_batch / batch
    s = scale(rule, {**base, "B": float(batch)}, delta)
    assert np.isclose(s.hp["B"], to_batch, rtol=1e-12, atol=0), (s.hp["B"], to_batch)
    new = {k: s.hp[k] for k in OPTIMIZERS[optimizer]}
    issues = regime_issues(new, base=base)
    assert s.defined == (not any(i.kind == "undefined" for i in issues)), s
    if rule == "malladi" and base.get("theta", 0.0) > 0:
        issues.append(Issue("theta", "derivation",
                            f"Malladi et al.'s rule is derived without weight decay and keeps "
                            f"weight_decay, so the decay per sample changes by 1/sqrt(delta) = "
                            f"{1 / np.sqrt(delta):.4g}"))
    notes = [_NOTES[rule]]
    if rule in ("this_paper", "malladi") and base.get("theta", 0.0) == 0 \
            and optimizer != "signsgd":
        notes.append("without weight decay this paper's rule and Malladi et al.'s coincide")
    return ScaledHparams(optimizer, rule, batch, to_batch, delta, base, new, s.defined,
                         tuple(issues), tuple(regime_issues(base, prime="")), tuple(notes))


def scale_all(optimizer: str, hp: dict, batch: int, to_batch: int) -> list[ScaledHparams]:
    """:func:`scale_hparams` under every rule of :data:`OPTIMIZER_RULES` ``[optimizer]``."""
    _check_optimizer(optimizer)
    return [scale_hparams(optimizer, hp, batch, to_batch, r) for r in OPTIMIZER_RULES[optimizer]]
