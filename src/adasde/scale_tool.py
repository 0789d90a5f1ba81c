r"""``adasde scale``: the batch-size scaling rules (:mod:`adasde.scaling`) as a command.

    adasde scale --optimizer adamw --lr 3e-4 --betas 0.9 0.999 --eps 1e-8 \
        --weight-decay 0.1 --batch 256 --to-batch 1024 [--json]

prints, for every rule that applies to the optimizer (this paper's, Malladi et al.'s and the
alternative reading; SignSGD's square-root rule for ``signsgd``), the new learning rate, betas,
eps and weight decay, whether the base and the new point are inside the rule's domain (and why
not), and lines to paste for optax and PyTorch. The values come from
:func:`adasde.scaling.scale_hparams`, i.e. from the same rule functions the figures use.
``--json`` prints the same as one JSON object. Bad input: one line on stderr naming the
argument, exit status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
from fractions import Fraction

from adasde import scaling

PROG = "adasde scale"
WIDTH = 100
FLAGS = {"eta": "--lr", "beta1": "--betas", "beta2": "--betas", "eps": "--eps",
         "theta": "--weight-decay", "batch": "--batch", "to_batch": "--to-batch",
         "optimizer": "--optimizer", "rule": "--optimizer"}

#: How each rule moves each practitioner value (d = delta = to_batch/batch), in the order
#: lr, betas, eps, weight_decay (``None``: the rule leaves it unchanged).
FORMULAS = {
    "this_paper": ("lr*sqrt(d)", "1-beta -> d*(1-beta)", "eps/sqrt(d)", "weight_decay*sqrt(d)"),
    "malladi": ("lr*sqrt(d)", "1-beta -> d*(1-beta)", "eps/sqrt(d)", "weight_decay unchanged"),
    "alternative": ("lr*sqrt(d)", "1-beta -> sqrt(d)*(1-beta)", "eps/sqrt(d)",
                    "weight_decay*sqrt(d)"),
    "signsgd": ("lr*sqrt(d)", None, None, None),
}


def formula(r: scaling.ScaledHparams) -> str:
    """How ``r.rule`` moves the values ``r.optimizer`` has."""
    keys = scaling.OPTIMIZERS[r.optimizer]
    has = ("eta" in keys, bool(set(keys) & set(scaling.BETA_KEYS)), "eps" in keys,
           "theta" in keys)
    return ", ".join(f for f, h in zip(FORMULAS[r.rule], has, strict=True) if f and h)


TITLES = {
    "this_paper": "this paper (Compagnoni et al., Lemma 3.13)",
    "malladi": "Malladi et al. (square-root rule)",
    "alternative": "alternative reading of Lemma 3.13",
    "signsgd": "SignSGD square-root rule",
}

#: What each library's parameters mean, per optimizer (printed and in the JSON).
CONVENTIONS = {
    "adamw": {
        "optax": "optax.adamw: updates = -learning_rate*(m_hat/(sqrt(v_hat) + eps) "
                 "+ weight_decay*x): the decay is multiplied by the learning rate, as the "
                 "paper's -eta*theta*x (weight_decay = theta); eps_root (default 0) must stay 0",
        "torch": "torch.optim.AdamW: x *= 1 - lr*weight_decay, then the Adam step with "
                 "sqrt(v_hat) + eps: the decay is multiplied by the learning rate, as the "
                 "paper's -eta*theta*x (weight_decay = theta)",
    },
    "rmspropw": {
        "optax": "optax.rmsprop has no weight decay and puts eps inside the square root by "
                 "default: the chain below is x -= learning_rate*(g/(sqrt(v) + eps) "
                 "+ weight_decay*x), the paper's RMSpropW with -eta*theta*x",
        "torch": "torch.optim.RMSprop's weight_decay is coupled L2 (added to the gradient, then "
                 "preconditioned), not the paper's decoupled -eta*theta*x: keep it 0 and decay "
                 "by lr*weight_decay yourself before each step, as below (alpha = beta2, "
                 "sqrt(v) + eps as in the paper)",
    },
    "adam": {
        "optax": "optax.adam: updates = -learning_rate*m_hat/(sqrt(v_hat) + eps); "
                 "eps_root (default 0) must stay 0",
        "torch": "torch.optim.Adam with weight_decay=0 (its weight_decay would be coupled L2, "
                 "outside every rule's derivation)",
    },
    "signsgd": {
        "optax": "optax.sign_sgd: updates = -learning_rate*sign(g)",
        "torch": "PyTorch has no SignSGD: the step below is x -= lr*sign(g)",
    },
}

DECAY_ROW = "lr*weight_decay"
_GENERAL_NOTE = ("libraries whose weight decay does not scale with the learning rate (a per-step "
                 "decay lambda = lr*weight_decay) take lambda' = lr'*weight_decay', printed as "
                 "lr*weight_decay above")


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``adasde scale: --flag: message``, exit status 2."""

    def error(self, message):
        fail(message.removeprefix("argument "))


def fail(message: str):
    print(f"{PROG}: {message}", file=sys.stderr)
    raise SystemExit(2)


def parser() -> argparse.ArgumentParser:
    ap = _Parser(prog=PROG, description="Batch-size scaling rules (Compagnoni et al., ICLR "
                 "2025, Lemma 3.13; Malladi et al., NeurIPS 2022): new hyper-parameters for "
                 "batch -> to-batch, their domain, and optax/PyTorch lines to paste.")
    ap.add_argument("--optimizer", required=True, choices=list(scaling.OPTIMIZERS))
    ap.add_argument("--lr", required=True, help="learning rate (eta)")
    ap.add_argument("--betas", nargs="+", metavar="BETA",
                    help="beta1 beta2 (adam, adamw); beta2 only (rmspropw: torch's alpha, "
                         "optax's decay); none for signsgd")
    ap.add_argument("--eps", help="added to sqrt(v) (default 1e-8 for adam, adamw, rmspropw)")
    ap.add_argument("--weight-decay", help="decoupled decay theta, applied as -lr*theta*x "
                    "(adamw and rmspropw: required, 0 for none)")
    ap.add_argument("--batch", required=True, help="the batch size the values are tuned for")
    ap.add_argument("--to-batch", required=True, help="the new batch size (may be smaller)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    return ap


def _shield_negative_numbers(argv: list[str]) -> list[str]:
    """argparse takes ``-1e-8`` for an option; a leading space makes it a value (``float`` and
    ``int`` ignore the space; the messages strip it)."""
    out = []
    for a in argv:
        try:
            negative = a.startswith("-") and float(a) < 0
        except ValueError:
            negative = False
        out.append(" " + a if negative else a)
    return out


def _float(flag: str, s: str | None) -> float | None:
    if s is None:
        return None
    try:
        return float(s)
    except ValueError:
        fail(f"{flag}: {s.strip()!r} is not a number")


def _int(flag: str, s: str) -> int:
    try:
        return int(s)
    except ValueError:
        fail(f"{flag}: {s.strip()!r} must be a positive integer")


def compute(args: argparse.Namespace) -> list[scaling.ScaledHparams]:
    """Parse and validate the arguments and scale under every rule (errors: :func:`fail`)."""
    opt = args.optimizer
    lr = _float("--lr", args.lr)
    betas = [_float("--betas", b) for b in (args.betas or [])]
    eps = _float("--eps", args.eps)
    if eps is None and "eps" in scaling.OPTIMIZERS[opt]:
        eps = 1e-8
    wd = _float("--weight-decay", args.weight_decay)
    batch, to_batch = _int("--batch", args.batch), _int("--to-batch", args.to_batch)
    try:
        hp = scaling.hparams_from_library(opt, lr, betas, eps, wd)
        return scaling.scale_all(opt, hp, batch, to_batch)
    except scaling.HparamError as e:
        fail(f"{FLAGS.get(e.key, e.key)}: {e.message}")


def num(v: float) -> str:
    """A float as a Python literal, to 12 significant digits (0.996, not 0.9960000000000001)."""
    return repr(float(f"{v:.12g}"))


def optax_code(r: scaling.ScaledHparams) -> str:
    """The optax line for ``r``'s new hyper-parameters."""
    p = r.library()
    if r.optimizer == "adamw":
        b1, b2 = p["betas"]
        return (f"optax.adamw(learning_rate={num(p['lr'])}, b1={num(b1)}, b2={num(b2)}, "
                f"eps={num(p['eps'])}, weight_decay={num(p['weight_decay'])})")
    if r.optimizer == "adam":
        b1, b2 = p["betas"]
        return f"optax.adam(learning_rate={num(p['lr'])}, b1={num(b1)}, b2={num(b2)}, " \
               f"eps={num(p['eps'])})"
    if r.optimizer == "rmspropw":
        (b2,) = p["betas"]
        return (f"optax.chain(optax.scale_by_rms(decay={num(b2)}, eps={num(p['eps'])}, "
                f"eps_in_sqrt=False), optax.add_decayed_weights({num(p['weight_decay'])}), "
                f"optax.scale_by_learning_rate({num(p['lr'])}))")
    return f"optax.sign_sgd(learning_rate={num(p['lr'])})"


def torch_code(r: scaling.ScaledHparams) -> str:
    """The PyTorch line(s) for ``r``'s new hyper-parameters (``model``: the torch module)."""
    p = r.library()
    if r.optimizer in ("adamw", "adam"):
        b1, b2 = p["betas"]
        cls = "AdamW" if r.optimizer == "adamw" else "Adam"
        wd = f", weight_decay={num(p['weight_decay'])}" if r.optimizer == "adamw" else ""
        return (f"torch.optim.{cls}(model.parameters(), lr={num(p['lr'])}, betas=({num(b1)}, {num(b2)}), "
                f"eps={num(p['eps'])}{wd})")
    if r.optimizer == "rmspropw":
        (b2,) = p["betas"]
        decay = num(p["lr"] * p["weight_decay"])
        return (f"opt = torch.optim.RMSprop(model.parameters(), lr={num(p['lr'])}, "
                f"alpha={num(b2)}, eps={num(p['eps'])}, weight_decay=0)\n"
                f"# each step, before opt.step():\n"
                f"with torch.no_grad(): [p.mul_(1 - {decay}) for p in model.parameters()]")
    return ("# each step, after loss.backward():\n"
            f"with torch.no_grad(): [p.add_(p.grad.sign(), alpha=-{num(p['lr'])}) "
            "for p in model.parameters()]")


def _per_step_decay(hp: dict) -> float | None:
    return hp["eta"] * hp["theta"] if "theta" in hp else None


def to_dict(results: list[scaling.ScaledHparams]) -> dict:
    """The whole report as one JSON-ready dict."""
    r0 = results[0]
    rules = []
    for r in results:
        d = r.to_dict()
        for k in ("optimizer", "batch", "to_batch", "delta", "base", "base_issues"):
            d.pop(k)
        d["title"], d["formula"] = TITLES[r.rule], formula(r)
        if "theta" in r.hp:
            d["per_step_decay"] = _per_step_decay(r.hp)
        d["optax"], d["torch"] = optax_code(r), torch_code(r)
        rules.append(d)
    base = r0.library("base")
    if "theta" in r0.base:
        base["per_step_decay"] = _per_step_decay(r0.base)
    return {
        "optimizer": r0.optimizer, "batch": r0.batch, "to_batch": r0.to_batch,
        "delta": r0.delta, "small_threshold": scaling.SMALL, "base": base,
        "base_issues": [{"key": i.key, "kind": i.kind, "reason": i.reason}
                        for i in r0.base_issues],
        "rules": rules,
        "conventions": {**CONVENTIONS[r0.optimizer], "note": _GENERAL_NOTE},
    }


def _rows(lib: dict) -> list[tuple[str, str]]:
    rows = [("lr", num(lib["lr"]))]
    if len(lib.get("betas", ())) == 2:
        rows.append(("betas", "(" + ", ".join(num(b) for b in lib["betas"]) + ")"))
    elif "betas" in lib:  # rmspropw: torch's alpha, optax's decay
        rows.append(("beta2", num(lib["betas"][0])))
    for k in ("eps", "weight_decay"):
        if k in lib:
            rows.append((k, num(lib[k])))
    return rows


def _wrap(text: str, first: str, rest: str) -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=first, subsequent_indent=rest,
                         break_on_hyphens=False)


def to_text(results: list[scaling.ScaledHparams]) -> str:
    """The human-readable report (prose wrapped at :data:`WIDTH` columns, code lines not)."""
    r0 = results[0]
    frac = Fraction(r0.to_batch, r0.batch)
    ratio = f"{frac}" if frac.denominator == 1 else f"{frac} = {r0.delta:.6g}"
    lines = [f"{r0.optimizer}: batch {r0.batch} -> {r0.to_batch}, delta = {ratio}"]
    base_rows = _rows(r0.library("base"))
    lines.append("base: " + ", ".join(f"{k}={v}" for k, v in base_rows))
    for i in r0.base_issues:
        lines += _wrap(f"! base outside the rules' domain: {i.reason}", "  ", "    ")
    if "theta" in r0.base:
        base_rows.append((DECAY_ROW, num(_per_step_decay(r0.base))))
    kw = max(len(k) for k, _ in base_rows)
    vw = max(len(v) for _, v in base_rows)
    for r in results:
        lines += ["", TITLES[r.rule], f"  rule: {formula(r)}"]
        new_rows = _rows(r.library())
        if "theta" in r.hp:
            new_rows.append((DECAY_ROW, num(_per_step_decay(r.hp))))
        bad = {i.key for i in r.issues}
        flagged = {"betas": bool(bad & set(scaling.BETA_KEYS)), "beta2": "beta2" in bad,
                   DECAY_ROW: "eta*theta" in bad,
                   "weight_decay": "theta" in bad}
        for (k, old), (_, new) in zip(base_rows, new_rows, strict=True):
            flag = "  !" if flagged.get(k) else ""
            lines.append(f"  {k:<{kw}}  {old:>{vw}} -> {new}{flag}")
        if r.in_domain:
            lines.append("  domain: inside")
        else:
            lines.append("  domain: OUTSIDE" + ("" if r.defined else " (undefined)"))
            for i in r.issues:
                lines += _wrap(i.reason, "    - ", "      ")
            if r.base_issues:
                lines.append("    - the base point is outside it too (above)")
        for n in r.notes:
            lines += _wrap(n, "  note: ", "        ")
        lines.append(f"  optax: {optax_code(r)}")
        torch = torch_code(r).split("\n")
        lines.append(f"  torch: {torch[0]}")
        lines += [f"         {t}" for t in torch[1:]]
    lines.append("")
    if "theta" in r0.base:
        lines += _wrap(f"'small' means at most {scaling.SMALL} (adasde.scaling.SMALL), for 1 - beta "
                       "and for the per-step decay lr*weight_decay.", "", "")
    elif set(r0.base) & set(scaling.BETA_KEYS):
        lines.append(f"'small' means 1 - beta at most {scaling.SMALL} (adasde.scaling.SMALL).")
    conv = CONVENTIONS[r0.optimizer]
    lines.append("conventions (weight decay, eps):")
    lines += _wrap(conv["optax"], "  optax: ", "    ")
    lines += _wrap(conv["torch"], "  torch: ", "    ")
    if "theta" in r0.base:
        lines += _wrap(_GENERAL_NOTE, "  other: ", "    ")
    return "\n".join(lines)


def main(argv=None) -> int:
    """``adasde scale ...``: print the report (``--json``: as one JSON object); 0 on success,
    2 (one line on stderr) on bad input."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser().parse_args(_shield_negative_numbers(argv))
    results = compute(args)
    text = json.dumps(to_dict(results), indent=2) if args.json else to_text(results)
    try:
        print(text, flush=True)
    except BrokenPipeError:  # e.g. `adasde scale ... | head`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main())
