"""Resource limits checked before any compute: the memory one job may plan for, and the
messages for jobs whose arrays would not fit (used by each experiment's ``check``)."""

from __future__ import annotations

import os


def memory_limit_bytes() -> int:
    """The memory one job may plan for: half of this machine's physical memory (the other half
    is left to the system, XLA's temporaries and concurrent jobs); ``ADASDE_MEMORY_LIMIT_GB``
    overrides it."""
    env = os.environ.get("ADASDE_MEMORY_LIMIT_GB")
    if env:
        return int(float(env) * 2**30)
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30


def memory_errors(where: str, jobs: list[tuple[str, float, str]]) -> list[str]:
    """Messages for the jobs ``(name, bytes, drivers)`` whose arrays would not fit in
    :func:`memory_limit_bytes`; ``drivers`` names the keys that set the size."""
    limit = memory_limit_bytes()
    out = []
    for name, nbytes, drivers in jobs:
        if nbytes > limit:
            out.append(f"config key '{where}': job {name} would need about "
                       f"{nbytes / 2**30:.3g} GiB of arrays, over the {limit / 2**30:.3g} GiB "
                       f"this machine allows ({drivers}); reduce them by a factor of "
                       f"{nbytes / limit:.3g} or more")
    return out
