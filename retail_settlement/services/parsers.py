# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Settlement report parsers: canonical CSV, Adyen *Settlement details
report*, Stripe *itemized payout reconciliation*, and the provider API's
line pages. All produce the same :class:`Payout` of canonical lines.

A line is a dict: ``row`` (the file's line number, 1 = header),
``line_ref``, ``type`` (sale, refund, chargeback, chargeback_reversal, fee,
adjustment, payout), ``merchant_order_ref``, ``merchant_refund_ref``,
``psp_reference``, ``gross``, ``fee``, ``net`` (signed integer minor units,
``net == gross - fee``, positive = towards the merchant), ``fee_parts``
(``{category: minor units}``, summing to ``fee``), ``currency`` and
``booked_at`` (naive UTC datetime).

A row that breaks a rule becomes a :class:`RowError` with its row number;
the caller decides (the backend's policy) whether the whole file is refused
or the row lands as an exception. Nothing is skipped silently.
"""

import csv
import hashlib
import io

from . import amounts

LINE_TYPES = ("sale", "refund", "chargeback", "chargeback_reversal", "fee", "adjustment",
              "payout")
FEE_CATEGORIES = ("processing", "commission", "markup", "scheme_fees", "interchange",
                  "chargeback", "service", "other")
CANONICAL_COLUMNS = ("payout_ref", "line_ref", "type", "merchant_order_ref",
                     "merchant_refund_ref", "psp_reference", "gross", "fee", "net", "currency",
                     "booked_at")
ADYEN_COLUMNS = ("Company Account", "Merchant Account", "Psp Reference", "Merchant Reference",
                 "Payment Method", "Creation Date", "TimeZone", "Type",
                 "Modification Reference", "Gross Currency", "Gross Debit (GC)",
                 "Gross Credit (GC)", "Exchange Rate", "Net Currency", "Net Debit (NC)",
                 "Net Credit (NC)", "Commission (NC)", "Markup (NC)", "Scheme Fees (NC)",
                 "Interchange (NC)", "Payment Method Variant",
                 "Modification Merchant Reference", "Batch Number")
ADYEN_REQUIRED = ("Psp Reference", "Merchant Reference", "Creation Date", "TimeZone", "Type",
                  "Gross Currency", "Gross Debit (GC)", "Gross Credit (GC)", "Net Currency",
                  "Net Debit (NC)", "Net Credit (NC)", "Commission (NC)", "Markup (NC)",
                  "Scheme Fees (NC)", "Interchange (NC)", "Modification Merchant Reference",
                  "Batch Number")
ADYEN_FEES = (("Commission (NC)", "commission"), ("Markup (NC)", "markup"),
              ("Scheme Fees (NC)", "scheme_fees"), ("Interchange (NC)", "interchange"))
ADYEN_TYPES = {
    "Settled": "sale", "Refunded": "refund", "Chargeback": "chargeback",
    "SecondChargeback": "chargeback", "ChargebackReversed": "chargeback_reversal",
    "Fee": "fee", "MerchantPayout": "payout", "RefundedReversed": "adjustment",
    "InvoiceDeduction": "adjustment", "DepositCorrection": "adjustment",
    "Balancetransfer": "adjustment",
}
STRIPE_COLUMNS = ("automatic_payout_id", "automatic_payout_effective_at",
                  "balance_transaction_id", "created_utc", "currency", "gross", "fee", "net",
                  "reporting_category", "source_id", "description", "payment_intent_id",
                  "payment_metadata[order_ref]", "refund_metadata[refund_ref]")
STRIPE_REQUIRED = ("automatic_payout_id", "balance_transaction_id", "created_utc", "currency",
                   "gross", "fee", "net", "reporting_category", "payment_intent_id")
STRIPE_TYPES = {
    "charge": "sale", "refund": "refund", "dispute": "chargeback",
    "dispute_reversal": "chargeback_reversal", "fee": "fee", "payout": "payout",
    "other_adjustment": "adjustment", "partial_capture_reversal": "adjustment",
}
LAYOUTS = ("canonical", "adyen", "stripe")


class RowError(ValueError):
    def __init__(self, row, message, raw=None):
        super().__init__(f"row {row}: {message}")
        self.row = row
        self.message = message
        self.raw = raw


class FileError(ValueError):
    """The file as a whole is unreadable (no header, wrong layout)."""


class Payout:
    """What one report or API payout says: header, lines, row errors."""

    def __init__(self):
        self.payout_ref = None
        self.currency = None
        self.paid_at = None
        self.payout_amount = None  # minor units sent to the bank, from the payout line
        self.lines = []
        self.errors = []

    @property
    def period(self):
        dates = [line["booked_at"] for line in self.lines if line["type"] != "payout"]
        return (min(dates), max(dates)) if dates else (self.paid_at, self.paid_at)

    def totals(self):
        """Gross, fee and net of the settled lines (the payout line aside)."""
        gross = fee = net = 0
        for line in self.lines:
            if line["type"] != "payout":
                gross += line["gross"]
                fee += line["fee"]
                net += line["net"]
        return gross, fee, net

    def _header(self, row, payout_ref, currency):
        if self.payout_ref is None:
            self.payout_ref = payout_ref
        elif payout_ref != self.payout_ref:
            raise RowError(row, f"payout {payout_ref!r} differs from the file's payout "
                                f"{self.payout_ref!r}")
        if self.currency is None:
            self.currency = currency
        elif currency != self.currency:
            raise RowError(row, f"currency {currency} differs from the payout's {self.currency}")

    def add(self, line):
        if line["type"] == "payout":
            if self.payout_amount is not None:
                raise RowError(line["row"], "a second payout line")
            self.payout_amount = -line["net"]
            self.paid_at = line["booked_at"]
        self.lines.append(line)


def content_hash(data):
    """Hash of a file's bytes (or an API payout's canonical JSON)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def _check_line(line):
    """Signs and arithmetic every layout must satisfy, per line type."""
    kind, gross, fee, net = line["type"], line["gross"], line["fee"], line["net"]
    if net != gross - fee:
        raise ValueError(f"net {net} is not gross {gross} minus fee {fee}")
    if sum(line["fee_parts"].values()) != fee:
        raise ValueError("the fee parts do not add up to the fee")
    expected = {"sale": gross > 0, "refund": gross < 0, "chargeback": gross < 0,
                "chargeback_reversal": gross > 0, "fee": gross == 0,
                "payout": fee == 0, "adjustment": True}[kind]
    if not expected:
        raise ValueError(f"gross {gross} has the wrong sign for a {kind} line")


def _line(row, **values):
    line = {"row": row, "merchant_order_ref": None, "merchant_refund_ref": None,
            "psp_reference": None, "fee_parts": {}}
    line.update(values)
    for key in ("merchant_order_ref", "merchant_refund_ref", "psp_reference", "line_ref"):
        line[key] = (line.get(key) or "").strip() or None
    if line["type"] not in LINE_TYPES:
        raise ValueError(f"unknown line type {line['type']!r}")
    line["fee_parts"] = {k: v for k, v in line["fee_parts"].items() if v}
    _check_line(line)
    return line


def _default_fee_parts(kind, fee):
    category = {"chargeback": "chargeback", "fee": "service",
                "adjustment": "other"}.get(kind, "processing")
    return {category: fee}


def _reader(text, required, layout):
    if text.startswith("\ufeff"):
        text = text[1:]
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    try:
        header = reader.fieldnames or []
    except csv.Error as exc:
        raise FileError(f"not a CSV file: {exc}") from exc
    missing = [c for c in required if c not in header]
    if missing:
        raise FileError(f"not a {layout} file: missing column(s) {', '.join(missing)}")
    return reader


def _rows(reader):
    """``(row number, dict)`` of each non-blank row; a broken quote is a row error."""
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield reader.line_num, exc
            return
        if not any((v or "").strip() for v in values.values() if isinstance(v, str)):
            continue
        if None in values or any(v is None for v in values.values()):
            yield reader.line_num, ValueError("wrong number of columns")
            continue
        yield reader.line_num, values


def _parse(text, required, layout, parse_row):
    payout = Payout()
    for row, values in _rows(_reader(text, required, layout)):
        raw = None if isinstance(values, Exception) else ",".join(values.values())
        try:
            if isinstance(values, Exception):
                raise values
            parse_row(payout, row, values)
        except RowError as exc:
            payout.errors.append(RowError(row, exc.message, raw))
        except (ValueError, csv.Error) as exc:
            payout.errors.append(RowError(row, str(exc), raw))
    if not payout.lines and not payout.errors:
        raise FileError("the file has no line")
    return payout


# ------------------------------------------------------------------ canonical

def _canonical_row(payout, row, values):
    currency = amounts.check_currency(values["currency"])
    payout._header(row, (values["payout_ref"] or "").strip() or None, currency)
    if not payout.payout_ref:
        raise RowError(row, "payout_ref is missing")
    kind = (values["type"] or "").strip()
    fee = amounts.integer_minor(values["fee"])
    line = _line(
        row, line_ref=values["line_ref"], type=kind,
        merchant_order_ref=values["merchant_order_ref"],
        merchant_refund_ref=values["merchant_refund_ref"],
        psp_reference=values["psp_reference"], gross=amounts.integer_minor(values["gross"]),
        fee=fee, net=amounts.integer_minor(values["net"]), currency=currency,
        fee_parts=_default_fee_parts(kind, fee) if kind in LINE_TYPES else {},
        booked_at=amounts.parse_iso(values["booked_at"]))
    if not line["line_ref"]:
        raise RowError(row, "line_ref is missing")
    payout.add(line)


def parse_canonical(text):
    """Canonical CSV: the API's line fields, amounts in integer minor units."""
    return _parse(text, CANONICAL_COLUMNS, "canonical", _canonical_row)


# ---------------------------------------------------------------------- adyen

def _debit_credit(values, debit, credit, currency, allow_none=False):
    d, c = (values.get(debit) or "").strip(), (values.get(credit) or "").strip()
    if d and c:
        raise ValueError(f"both {debit} and {credit} are filled")
    if not d and not c:
        if allow_none:
            return None
        raise ValueError(f"neither {debit} nor {credit} is filled")
    amount = amounts.to_minor(d or c, currency)
    if amount < 0:
        raise ValueError(f"{debit if d else credit} is negative: use the other column")
    return -amount if d else amount


def _adyen_row(payout, row, values):
    kind = ADYEN_TYPES.get((values["Type"] or "").strip())
    if not kind:
        raise ValueError(f"unknown Adyen record type {values['Type']!r}")
    currency = amounts.check_currency(values["Net Currency"])
    gross_currency = (values["Gross Currency"] or "").strip()
    if gross_currency and gross_currency != currency:
        raise ValueError(f"gross currency {gross_currency} differs from net currency "
                         f"{currency} (currency conversion is not supported)")
    payout._header(row, (values["Batch Number"] or "").strip() or None, currency)
    if not payout.payout_ref:
        raise RowError(row, "Batch Number is missing")
    net = _debit_credit(values, "Net Debit (NC)", "Net Credit (NC)", currency)
    gross = _debit_credit(values, "Gross Debit (GC)", "Gross Credit (GC)", currency,
                          allow_none=kind in ("fee", "payout", "adjustment"))
    parts = {category: amounts.to_minor(values.get(column), currency, allow_empty=True)
             for column, category in ADYEN_FEES}
    if kind == "payout":
        gross, parts = net, {}
    elif kind == "fee":
        gross, parts = 0, {"service": -net} if not any(parts.values()) else parts
    elif gross is None:
        gross = net + sum(parts.values())
    psp = values["Psp Reference"]
    line_ref = (values.get("Modification Reference") or "").strip() or f"{psp}:{values['Type']}"
    payout.add(_line(
        row, line_ref=line_ref, type=kind, merchant_order_ref=values["Merchant Reference"],
        merchant_refund_ref=values["Modification Merchant Reference"], psp_reference=psp,
        gross=gross, fee=sum(parts.values()), net=net, currency=currency, fee_parts=parts,
        booked_at=amounts.parse_local(values["Creation Date"], values["TimeZone"])))


def parse_adyen(text):
    """Adyen Settlement details report (decimal amounts, debit/credit columns,
    local times with a TimeZone column)."""
    return _parse(text, ADYEN_REQUIRED, "Adyen settlement details", _adyen_row)


# --------------------------------------------------------------------- stripe

def _stripe_row(payout, row, values):
    category = (values["reporting_category"] or "").strip()
    kind = STRIPE_TYPES.get(category)
    if not kind:
        raise ValueError(f"unknown Stripe reporting_category {category!r}")
    currency = amounts.check_currency(values["currency"], lower_ok=True)
    payout._header(row, (values["automatic_payout_id"] or "").strip() or None, currency)
    if not payout.payout_ref:
        raise RowError(row, "automatic_payout_id is missing")
    fee = amounts.to_minor(values["fee"], currency)
    gross = amounts.to_minor(values["gross"], currency)
    if kind == "fee" and not fee and gross < 0:
        gross, fee = 0, -gross  # Stripe books its own fees as a negative gross
    created = (values["created_utc"] or "").strip()
    booked_at = (amounts.parse_iso(created) if "T" in created
                 else amounts.parse_local(created, "UTC"))
    payout.add(_line(
        row, line_ref=values["balance_transaction_id"], type=kind,
        merchant_order_ref=values.get("payment_metadata[order_ref]"),
        merchant_refund_ref=values.get("refund_metadata[refund_ref]"),
        psp_reference=values["payment_intent_id"],
        gross=gross, fee=fee, net=amounts.to_minor(values["net"], currency),
        currency=currency, fee_parts=_default_fee_parts(kind, fee), booked_at=booked_at))


def parse_stripe(text):
    """Stripe itemized payout reconciliation (decimal amounts, lower-case
    currency, UTC times). When the report has no ``payout`` row, the payout
    is the sum of the lines (Stripe pays out exactly the balance)."""
    payout = _parse(text, STRIPE_REQUIRED, "Stripe payout reconciliation", _stripe_row)
    if payout.payout_amount is None and payout.lines and not payout.errors:
        payout.payout_amount = payout.totals()[2]
        payout.paid_at = max(line["booked_at"] for line in payout.lines)
    return payout


PARSERS = {"canonical": parse_canonical, "adyen": parse_adyen, "stripe": parse_stripe}


def detect_layout(text):
    head = text.lstrip("\ufeff").split("\n", 1)[0]
    if "Psp Reference" in head and "Batch Number" in head:
        return "adyen"
    if "automatic_payout_id" in head and "reporting_category" in head:
        return "stripe"
    if "payout_ref" in head and "line_ref" in head:
        return "canonical"
    raise FileError("unknown file layout (expected canonical CSV, Adyen settlement details "
                    "or Stripe itemized payout reconciliation)")


def parse_file(text, layout=None):
    layout = layout or detect_layout(text)
    if layout not in PARSERS:
        raise FileError(f"unknown layout {layout!r}")
    return layout, PARSERS[layout](text)


# ------------------------------------------------------------------------ api

def parse_api(header, pages):
    """An API payout: ``header`` from ``GET /v1/payouts`` and the ``lines`` of
    every page. Row numbers are positions in the payout (1-based + 1)."""
    payout = Payout()
    payout.payout_ref = header["payout_ref"]
    payout.currency = amounts.check_currency(header["currency"])
    for index, raw in enumerate((line for page in pages for line in page), start=2):
        try:
            currency = amounts.check_currency(raw.get("currency"))
            if currency != payout.currency:
                raise ValueError(f"currency {currency} differs from the payout's "
                                 f"{payout.currency}")
            kind = raw.get("type")
            fee = amounts.integer_minor(raw.get("fee"))
            line = _line(
                index, line_ref=raw.get("line_ref"), type=kind,
                merchant_order_ref=raw.get("merchant_order_ref"),
                merchant_refund_ref=raw.get("merchant_refund_ref"),
                psp_reference=raw.get("psp_reference"),
                gross=amounts.integer_minor(raw.get("gross")), fee=fee,
                net=amounts.integer_minor(raw.get("net")), currency=currency,
                fee_parts=_default_fee_parts(kind, fee) if kind in LINE_TYPES else {},
                booked_at=amounts.parse_iso(raw.get("booked_at")))
            payout.add(line)
        except (ValueError, RowError) as exc:
            payout.errors.append(RowError(index, getattr(exc, "message", str(exc)),
                                          repr(raw)[:500]))
    expected = amounts.integer_minor(header.get("net"))
    if payout.payout_amount is None:
        payout.payout_amount = expected
        payout.paid_at = amounts.parse_iso(header["paid_at"])
    elif payout.payout_amount != expected:
        payout.errors.append(RowError(
            1, f"the payout line says {payout.payout_amount}, the payout header {expected}"))
    return payout
