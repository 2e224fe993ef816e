"""Hypothesis settings for every property test: reproducible in ``make test``, searching in ``make test-props``.

``make test`` (and CI) runs the ``ci`` profile: derandomized (each test's examples come from a seed
fixed by the test itself), no example database, so a fresh clone runs exactly the same examples as
every other checkout and a failure is a real regression, never a lucky draw. ``make test-props``
runs the ``explore`` profile: a random seed per run and :data:`SCALE` times more examples, to look
for new counterexamples during development (add any it finds as an explicit ``@example``).
"""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, settings

PROFILE = os.environ.get("NCODEC_HYPOTHESIS_PROFILE", "ci")
SCALE = int(os.environ.get("NCODEC_PROPS_SCALE", "1"))

settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("explore", derandomize=False, database=None, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(PROFILE)


def props(examples: int, **kwargs: Any) -> settings:
    """Settings for one property test: ``examples`` in ``make test``, ``SCALE`` times more when exploring."""
    return settings(max_examples=examples * SCALE, deadline=None, **kwargs)
