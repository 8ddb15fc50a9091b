"""Example counts for the property-based (fuzz) tests of readers, loaders and decoders.

The suite runs a few hundred examples per strategy, CI (``CI=true``) a thousand (which keeps the
whole suite near ten minutes on two cores), and ``GAIT_FUZZ=slow`` three thousand (a campaign
before a release). Use ``@fuzz`` on a ``@given`` test::

    @fuzz
    @given(st.binary())
    def test_decoder(data): ...
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

#: examples per strategy: (normal run, CI, GAIT_FUZZ=slow)
EXAMPLES = (300, 1000, 3000)
SLOW = os.environ.get("GAIT_FUZZ") == "slow"
CI = os.environ.get("CI", "").lower() == "true"
MAX_EXAMPLES = EXAMPLES[2] if SLOW else EXAMPLES[1] if CI else EXAMPLES[0]

fuzz = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    derandomize=True,  # reproducible everywhere: a failure seen once is seen again
)
