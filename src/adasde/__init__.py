"""adasde: SDEs of adaptive optimizers (Compagnoni et al., ICLR 2025) in JAX.

Modules (one concept each): :mod:`noise`, :mod:`problems`, :mod:`optim`, :mod:`sdes`,
:mod:`integrate`, :mod:`theory`, :mod:`artifacts`, :mod:`claims`, :mod:`plotting`.
Equation numbers and provenance tags ([V], [S], [R], [D]) refer to ``docs/paper.md``
and ``docs/theory.md``.
"""

__version__ = "0.1.0"
