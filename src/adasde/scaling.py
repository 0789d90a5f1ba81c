r"""Batch-size scaling rules: how to change the other hyper-parameters when the batch size
goes from :math:`B` to :math:`\delta B` (paper.md section 4).

A rule is a pure function ``rule(hp, delta) -> hp'`` on a dict of hyper-parameters with keys
``eta, beta1, beta2, eps, theta, B`` (missing keys are left missing; extra keys pass through
unchanged). Values may be Python floats or numpy arrays (elementwise, broadcasting with
``delta``). Rules never raise on the *values* they produce: a :math:`\beta` pushed outside
:math:`(0, 1)` is reported by :func:`undefined` / :func:`scale`, because "the rule is undefined
there" is a result to plot, not an error.

Rules (:data:`RULES`), all with B -> delta*B (paper.md section 4):

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
    r"""Compagnoni et al., Lemma 3.13, AdamW and RMSpropW (paper.md 4 [S sources 4-6, R form,
    D num-checked]): :math:`B\to\delta B`, :math:`\eta\to\sqrt\delta\,\eta`,
    :math:`1-\beta_i\to\delta(1-\beta_i)`, :math:`\epsilon\to\epsilon/\sqrt\delta`,
    :math:`\theta\to\sqrt\delta\,\theta`.

    Preserves: the AdamW/RMSpropW asymptotic loss
    :math:`\tfrac\eta4\sum_i\lambda_i s_i/(\lambda_i+\theta s_i)`, :math:`s_i=\sigma_i/\sqrt B`
    (paper.md 3.3), and every time scale counted in samples: in SDE time :math:`t = k\eta` the
    relaxation rate :math:`\lambda/s + \theta` and :math:`\rho_i = (1-\beta_i)/\eta` all grow by
    :math:`\sqrt\delta` while one sample is :math:`\sqrt\delta` times less SDE time. (In the
    paper's terms :math:`\beta_i = 1-\eta\rho_i` with :math:`\rho_i\to\sqrt\delta\rho_i`.)
    """
    r = _sqrt(delta)
    return _map(hp, eta=r, one_minus_beta=np.asarray(delta, float), eps=1.0 / r,
                theta=r, B=np.asarray(delta, float))


def malladi(hp: dict, delta) -> dict:
    r"""Malladi et al. (NeurIPS 2022) square-root rule (paper.md 4 [V, source 8]):
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
    r"""The alternative reading of Lemma 3.13 (paper.md 4 [S, source 7-style code; refuted by
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
    r"""SignSGD square-root rule (paper.md 4 [D]): :math:`B\to\delta B`,
    :math:`\eta\to\sqrt\delta\,\eta`.

    Preserves: the Phase-3 asymptotic loss :math:`\sqrt{\pi/2}\,\eta\,\mathrm{Tr}\,\Sigma^{1/2}
    /(4\sqrt B)` and the Phase-3 rate per sample (rate :math:`\sqrt{2/\pi}\sqrt B\lambda/\sigma`
    in SDE time). Phase 1 (SignGD) does not depend on :math:`B`, so it is not preserved there.
    """
    return _map(hp, eta=_sqrt(delta), B=np.asarray(delta, float))


def sgd_linear(hp: dict, delta) -> dict:
    r"""SGD's linear rule (paper.md 2.1/3.1 [R, standard; Malladi's blog V]):
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
