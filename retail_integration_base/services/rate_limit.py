# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Token bucket arithmetic.

The bucket state itself lives in PostgreSQL (``retail_rate_bucket``) so that
every worker and every node shares it; this module only holds the maths
that the SQL statement in ``retail.backend`` mirrors and that tests check.
"""


def take_token(tokens, capacity, rate, elapsed):
    """Refill a bucket for ``elapsed`` seconds and take one token.

    Returns ``(tokens_after, wait_seconds)``. Tokens may go negative: a
    negative balance is a reservation, and the caller waits until the
    refill covers it. ``wait_seconds`` is 0 when a token was available.
    """
    tokens = min(float(capacity), float(tokens) + float(rate) * max(0.0, elapsed))
    tokens -= 1.0
    wait = 0.0 if tokens >= 0 else -tokens / float(rate)
    return tokens, wait
