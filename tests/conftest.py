"""Shared test configuration: Hypothesis profiles and small fixtures.

Profiles (select with ``HYPOTHESIS_PROFILE``; CI uses ``ci``):

* ``ci``: derandomized (the same examples every run), no deadline, no example database,
  200 examples per property;
* ``nightly``: 5,000 examples per property (``make nightly``).
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from hypothesis import HealthCheck, settings  # noqa: E402

_COMMON = dict(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("ci", derandomize=True, max_examples=200, **_COMMON)
settings.register_profile("nightly", max_examples=5000, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

#: Number of fuzz inputs run through the image decoder for the active profile.
FUZZ_EXAMPLES = 100_000 if os.environ.get("HYPOTHESIS_PROFILE") == "nightly" else 10_000
