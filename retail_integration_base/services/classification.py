# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Map HTTP outcomes onto the framework's failure classes."""

from email.utils import parsedate_to_datetime
import time

from . import errors


def classify_status(status):
    """Return the failure class of an HTTP status, or None for success."""
    if status is None:
        return errors.TRANSIENT
    if 200 <= status < 300:
        return None
    if status == 429:
        return errors.RATE_LIMITED
    if status in (401, 403):
        return errors.AUTH
    if status in (408, 425) or status >= 500:
        return errors.TRANSIENT
    if status == 409:
        # A conflict means the partner holds another version of the truth:
        # a person has to decide, retrying would only repeat it.
        return errors.BUSINESS
    return errors.VALIDATION


def parse_retry_after(value, now=None):
    """Seconds to wait from a ``Retry-After`` header (delta or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)
