# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Money and time, parsed strictly.

Amounts become integer minor units of their currency (ISO 4217 exponent);
a value with more decimals than the currency has, a thousands separator, a
float-looking exponent or a stray sign is an error, never rounded away.
Timestamps must say where they are: an ISO 8601 offset, or a named zone.
"""

from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# ISO 4217 exponents that differ from 2.
EXPONENTS = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
    "PYG": 0, "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0,
    "XPF": 0, "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}
DECIMAL_RE = re.compile(r"^[+-]?\d+(\.\d+)?$")
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
# Abbreviations settlement reports print instead of an offset.
ZONE_ABBREVIATIONS = {"UTC": 0, "GMT": 0, "Z": 0, "CET": 60, "CEST": 120, "WET": 0,
                      "WEST": 60, "EET": 120, "EEST": 180}


class AmountError(ValueError):
    """A value that is not a valid amount, currency or timestamp."""


def exponent(currency):
    return EXPONENTS.get(currency, 2)


def check_currency(value, lower_ok=False):
    code = (value or "").strip()
    if lower_ok:
        code = code.upper()
    if not CURRENCY_RE.match(code):
        raise AmountError(f"{value!r} is not an ISO 4217 currency code")
    return code


def to_minor(value, currency, allow_empty=False):
    """``"12.30"`` in EUR -> ``1230``. Strict: see the module docstring."""
    text = (value or "").strip()
    if not text:
        if allow_empty:
            return 0
        raise AmountError("amount is missing")
    if not DECIMAL_RE.match(text):
        raise AmountError(f"{value!r} is not a plain decimal amount (digits, one '.' at most)")
    places = exponent(currency)
    fraction = text.partition(".")[2]
    if len(fraction) > places:
        raise AmountError(f"{value!r} has more decimals than {currency} allows ({places})")
    try:
        return int(Decimal(text).scaleb(places))
    except InvalidOperation as exc:  # pragma: no cover - the regex guards it
        raise AmountError(f"{value!r} is not an amount") from exc


def integer_minor(value):
    """Canonical files and the API carry integer minor units: ``"1230"``."""
    text = (value or "").strip() if isinstance(value, str) else value
    if isinstance(text, bool) or isinstance(text, float):
        raise AmountError(f"{value!r}: amounts are integer minor units, never floats")
    if isinstance(text, int):
        return text
    if not text or not re.match(r"^[+-]?\d+$", text):
        raise AmountError(f"{value!r} is not an integer amount in minor units")
    return int(text)


def from_minor(amount, currency):
    """Minor units back to a Decimal of the currency (for display and posting)."""
    return Decimal(amount).scaleb(-exponent(currency))


def parse_iso(value):
    """An ISO 8601 timestamp with offset -> naive UTC datetime (Odoo's way)."""
    text = (value or "").strip()
    if not text:
        raise AmountError("timestamp is missing")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise AmountError(f"{value!r} is not an ISO 8601 timestamp") from exc
    if moment.tzinfo is None:
        raise AmountError(f"{value!r} has no UTC offset or time zone")
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def parse_local(value, zone):
    """``"2026-03-01 10:00:00"`` in ``zone`` (IANA name, abbreviation or
    ``+01:00``) -> naive UTC datetime."""
    text = (value or "").strip()
    try:
        moment = datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
    except ValueError as exc:
        raise AmountError(f"{value!r} is not a 'YYYY-MM-DD HH:MM:SS' time") from exc
    name = (zone or "").strip()
    if not name:
        raise AmountError("time zone is missing")
    if name in ZONE_ABBREVIATIONS:
        tz = timezone(timedelta(minutes=ZONE_ABBREVIATIONS[name]))
    elif re.match(r"^[+-]\d{2}:\d{2}$", name):
        sign = -1 if name[0] == "-" else 1
        tz = timezone(sign * timedelta(hours=int(name[1:3]), minutes=int(name[4:6])))
    else:
        try:
            tz = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise AmountError(f"unknown time zone {name!r}") from exc
    return moment.replace(tzinfo=tz).astimezone(timezone.utc).replace(tzinfo=None)
