# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Money and content helpers for the OMS contract."""

from decimal import ROUND_HALF_UP, Decimal
import hashlib
import json


def minor_units(amount, decimal_places):
    """Integer minor units of ``amount`` (never a float), rounded half up."""
    scaled = Decimal(str(amount)) * (Decimal(10) ** decimal_places)
    return int(scaled.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def content_hash(row):
    """Stable fingerprint of one payload row, to send only what changed."""
    return hashlib.sha256(json.dumps(row, sort_keys=True).encode()).hexdigest()
