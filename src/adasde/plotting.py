"""One style for every figure: :func:`use_style`, fixed colours per optimizer and per noise
level, and helpers for mean-with-band curves and saving PDF + PNG together."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

OPTIMIZER_COLORS = {
    "sgd": "#1f77b4",
    "signsgd": "#d62728",
    "rmsprop": "#9467bd",
    "rmspropw": "#8c564b",
    "adam": "#2ca02c",
    "adamw": "#ff7f0e",
}
OPTIMIZER_LABELS = {
    "sgd": "SGD",
    "signsgd": "SignSGD",
    "rmsprop": "RMSprop",
    "rmspropw": "RMSpropW",
    "adam": "Adam",
    "adamw": "AdamW",
}
# Fixed colours and short names of the batch-size scaling rules (adasde.scaling.RULES).
RULE_COLORS = {
    "this_paper": "#1f77b4",
    "malladi": "#d62728",
    "alternative": "#2ca02c",
    "signsgd": "#9467bd",
    "sgd_linear": "#8c564b",
}
RULE_SHORT = {
    "this_paper": "this paper",
    "malladi": "Malladi",
    "alternative": "alternative",
    "signsgd": "SignSGD sqrt rule",
    "sgd_linear": "SGD linear",
}


def use_style() -> None:
    """Apply ``adasde.mplstyle`` (shipped with the package)."""
    with resources.as_file(resources.files("adasde") / "adasde.mplstyle") as p:
        plt.style.use(str(p))


def level_colors(n: int, cmap: str = "viridis"):
    """``n`` colours for ordered levels (e.g. noise levels), the same in every panel."""
    return [plt.get_cmap(cmap)(v) for v in np.linspace(0.05, 0.85, n)]


def mean_band(ax, x, runs, color, label=None, band: str = "stderr", alpha=0.2, **kw):
    """Plot the mean over axis 0 of ``runs`` with a band: ``stderr`` (mean +- 2 s.e.),
    ``std`` (mean +- 1 s.d., clipped at the smallest positive value for log axes) or
    ``quantile`` (5-95 %)."""
    runs = np.asarray(runs, float)
    mean = runs.mean(axis=0)
    if band == "quantile":
        lo, hi = np.quantile(runs, [0.05, 0.95], axis=0)
    else:
        spread = runs.std(axis=0, ddof=1)
        if band == "stderr":
            spread = 2 * spread / np.sqrt(runs.shape[0])
        lo, hi = mean - spread, mean + spread
        pos = mean[mean > 0]
        if pos.size:
            lo = np.maximum(lo, pos.min() * 1e-3)
    (line,) = ax.plot(x, mean, color=color, label=label, **kw)
    ax.fill_between(x, lo, hi, color=color, alpha=alpha, linewidth=0)
    return line


def save(fig, figures_dir, name: str) -> list[Path]:
    """Save ``fig`` as ``<figures_dir>/<name>.pdf`` and ``.png``; returns the paths."""
    figures_dir = Path(figures_dir)
    figures_dir.mkdir(parents=True, exist_ok=True)
    paths = [figures_dir / f"{name}.pdf", figures_dir / f"{name}.png"]
    for p in paths:
        fig.savefig(p, metadata={"CreationDate": None} if p.suffix == ".pdf" else None)
    return paths
