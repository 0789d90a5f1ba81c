"""One module per figure family: turn a config section into runs and write artifacts.

:mod:`adasde.experiments.quadratic` holds the shared vmapped simulator on the quadratic.
"""
