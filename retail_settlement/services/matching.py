# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""The matching engine: settlement lines against in-memory indexes of Odoo's
orders and credit notes.

The caller reads every candidate once, in bulk, keyed by the reference sets
of the batch (:func:`reference_sets`); matching is then dictionary lookups,
never one query per line. That is what makes a 100,000-line payout cheap.

Keys (``key_order``, configurable per backend):

* ``merchant_ref``: the line's merchant order reference = the order's name
  or customer reference;
* ``psp_ref``: the PSP reference = the order's payment reference;
* ``refund_ref``: the line's merchant refund reference = the credit note's
  number or reference (refund lines).

Results are plain dicts: ``state`` (matched, exception, none), ``kind`` (the
exception kind), ``reason`` (for a person), ``order`` / ``refund`` (ids),
``partner``, ``expected`` (the Odoo amount, minor units) and ``matched_by``.
"""

from collections import namedtuple

KEYS = ("merchant_ref", "psp_ref", "refund_ref")
DEFAULT_KEY_ORDER = ("merchant_ref", "psp_ref", "refund_ref")
# Lines matched to an order; fees, adjustments and the payout are categorised only.
ORDER_TYPES = ("sale", "chargeback", "chargeback_reversal")
UNMATCHED = "unmatched"
AMOUNT_MISMATCH = "amount_mismatch"
DUPLICATE = "duplicate"
REFUND_MISSING = "refund_missing"
EXCEPTION_KINDS = [
    (UNMATCHED, "Unmatched line"),
    (AMOUNT_MISMATCH, "Amount mismatch"),
    (DUPLICATE, "Duplicate"),
    (REFUND_MISSING, "Refund without an Odoo refund"),
    ("malformed", "Malformed row"),
]

Order = namedtuple("Order", "id name partner amount currency")
Refund = namedtuple("Refund", "id name partner amount currency order")


class Indexes:
    """What matching needs from Odoo, read once per batch.

    ``settled``: {dedup key: where} of lines already matched in other, still
    valid batches of the backend.
    """

    def __init__(self, settled=None):
        self.by_id = {}
        self.by_ref = {}
        self.by_psp = {}
        self.refunds = {}
        self.settled = dict(settled or {})

    def add_order(self, order, refs=(), psps=()):
        self.by_id[order.id] = order
        for ref in refs:
            if ref:
                self.by_ref.setdefault(ref, order)
        for psp in psps:
            if psp:
                self.by_psp.setdefault(psp, order)

    def add_refund(self, refund, refs=()):
        for ref in refs:
            if ref:
                self.refunds.setdefault(ref, refund)


def reference_sets(lines):
    """The references to read candidates for: (merchant, psp, refund) sets."""
    merchant, psp, refund = set(), set(), set()
    for line in lines:
        if line.get("merchant_order_ref"):
            merchant.add(line["merchant_order_ref"])
        if line.get("psp_reference"):
            psp.add(line["psp_reference"])
        if line.get("merchant_refund_ref"):
            refund.add(line["merchant_refund_ref"])
    return merchant, psp, refund


def dedup_keys(line, order_id=None):
    """Keys under which a line counts as "already settled"."""
    keys = []
    if line.get("psp_reference"):
        keys.append(f"{line['type']}:psp:{line['psp_reference']}")
    if line["type"] == "refund" and line.get("merchant_refund_ref"):
        keys.append(f"refund:ref:{line['merchant_refund_ref']}")
    if line["type"] == "sale" and order_id:
        keys.append(f"sale:order:{order_id}")
    return keys


def _find_order(line, indexes, key_order):
    for key in key_order:
        if key == "merchant_ref" and line.get("merchant_order_ref"):
            order = indexes.by_ref.get(line["merchant_order_ref"])
        elif key == "psp_ref" and line.get("psp_reference"):
            order = indexes.by_psp.get(line["psp_reference"])
        else:
            continue
        if order:
            return order, key
    return None, None


def _refs(line):
    return ", ".join(f"{label} {line[k]}" for k, label in (
        ("merchant_order_ref", "merchant reference"), ("psp_reference", "PSP reference"),
        ("merchant_refund_ref", "refund reference")) if line.get(k)) or "no reference"


def match_line(line, indexes, key_order=DEFAULT_KEY_ORDER, tolerance=0, seen=None):
    """Match one line; ``seen`` collects the dedup keys of this run."""
    seen = {} if seen is None else seen
    kind = line["type"]
    result = {"state": "none", "kind": None, "reason": None, "order": None, "refund": None,
              "partner": None, "expected": None, "matched_by": None}
    if kind not in ORDER_TYPES and kind != "refund":
        return result  # fees, adjustments, the payout: categorised, nothing to match
    refund = None
    if kind == "refund":
        if "refund_ref" in key_order and line.get("merchant_refund_ref"):
            refund = indexes.refunds.get(line["merchant_refund_ref"])
        order, key = _find_order(line, indexes, key_order)
        if refund:
            key = "refund_ref"
            order = indexes.by_id.get(refund.order) or order
    else:
        order, key = _find_order(line, indexes, key_order)
    if order:
        result.update(order=order.id, partner=order.partner, matched_by=key)
    if refund:
        result.update(refund=refund.id, partner=refund.partner)

    def fail(exception_kind, reason):
        result.update(state="exception", kind=exception_kind, reason=reason)
        return result

    if kind == "refund" and not refund:
        if order:
            return fail(REFUND_MISSING, f"Refund of {order.name} ({_refs(line)}) has no "
                                        f"credit note in Odoo: create the refund, then match again.")
        return fail(UNMATCHED, f"No credit note nor order found for this refund ({_refs(line)}).")
    if not order and not refund:
        return fail(UNMATCHED, f"No order found for {_refs(line)}.")
    for dedup in dedup_keys(line, order.id if order else None):
        where = seen.get(dedup) or indexes.settled.get(dedup)
        if where:
            return fail(DUPLICATE, f"Already settled ({dedup.partition(':')[2]}) in {where}.")
    target = refund or order
    if kind in ("sale", "refund"):
        settled = abs(line["gross"])
        result["expected"] = target.amount
        if target.currency and line.get("currency") and target.currency != line["currency"]:
            return fail(AMOUNT_MISMATCH, f"{line['currency']} settlement for {target.name} in "
                                         f"{target.currency}.")
        if abs(settled - target.amount) > tolerance:
            return fail(AMOUNT_MISMATCH, (
                f"{target.name}: settled {settled} but Odoo says {target.amount} (minor units, "
                f"difference {settled - target.amount}, tolerance {tolerance})."))
    result["state"] = "matched"
    return result


def match_lines(lines, indexes, key_order=DEFAULT_KEY_ORDER, tolerance=0):
    """Match a batch's lines in order; return one result per line."""
    seen = {}
    results = []
    for line in lines:
        result = match_line(line, indexes, key_order, tolerance, seen)
        if result["state"] == "matched":
            for dedup in dedup_keys(line, result["order"]):
                seen.setdefault(dedup, f"line {line.get('line_ref') or line.get('row')}")
        results.append(result)
    return results
