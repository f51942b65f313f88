# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Capped exponential backoff with jitter."""

import random


def backoff_delay(attempt, base=10.0, cap=3600.0, jitter=0.5, retry_after=None,
                  rng=random):
    """Seconds to wait before retry number ``attempt`` (1 = first retry).

    The nominal delay doubles each attempt, ``base * 2 ** (attempt - 1)``,
    and is capped at ``cap``. ``jitter`` (0..1) takes a random share off the
    nominal delay so that workers retrying the same failure spread out
    instead of hitting the partner together ("equal jitter" for 0.5).
    A partner's ``Retry-After`` is a floor: we never come back earlier.
    """
    attempt = max(1, int(attempt))
    nominal = min(float(cap), float(base) * (2 ** (attempt - 1)))
    jitter = min(max(float(jitter), 0.0), 1.0)
    delay = nominal * (1.0 - jitter * rng.random())
    if retry_after:
        delay = max(delay, float(retry_after))
    return delay
