"""The analysis layer: one module per figure turning its artifacts into measurements, claims
and the figure (``load(inputs) -> data``, ``measure(data, analyse) -> measurements``,
``claims(measurements, analyse) -> [Claim]``, ``plot(measurements) -> Figure``), and the
shared statistics in :mod:`adasde.figures.stats`.

Import rules (tests/test_layers.py): this package never imports jax or
:mod:`adasde.experiments` (notebooks never simulate); the experiments and the core never
import it or :mod:`adasde.plotting` (compute never plots).
"""
