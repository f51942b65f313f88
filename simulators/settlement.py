# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Settlement provider simulator: the partner side of the ``settlement``
contract (CONTRACTS.md).

Odoo pulls ``GET /v1/payouts?since=<date>`` and the lines of each payout,
page by page (``GET /v1/payouts/{ref}/lines?cursor=``). Tests create payouts
through ``/_sim/`` triggers (with the order references and amounts they
need), re-issue a corrected payout (its ``revision`` goes up), and render a
payout as the files a back office uploads: canonical CSV, the Adyen
*Settlement details report* and the Stripe *itemized payout reconciliation*.

Rules on top of the contract:

* amounts are integer minor units; a line's ``net`` defaults to
  ``gross - fee``; each payout ends with a ``payout`` line whose net is minus
  the sum of the other lines (the transfer to the bank), unless the trigger
  gives ``payout_net`` (to simulate a payout that does not add up);
* ``GET /v1/payouts`` answers a ``revision`` per payout (an extension: a
  corrected re-issue has a higher one), and line pages carry it; a cursor of
  an older revision is answered ``409 payout_reissued``;
* the page size is ``page_size`` (config, default 100; ``limit`` query
  parameter up to 1,000).
"""

import csv
from datetime import datetime, timedelta, timezone
from decimal import Decimal
import io
import sys

from .common import (
    DEFAULT_HOST,
    ApiError,
    Checker,
    SimulatorServer,
    bad_request,
    build_arg_parser,
    is_int,
    not_found,
    serve_until_signal,
)

DEFAULT_PORT = 8073
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
LINE_TYPES = ("sale", "refund", "chargeback", "chargeback_reversal", "fee", "adjustment")
EXPONENTS = {"JPY": 0, "KRW": 0, "CLP": 0, "ISK": 0, "VND": 0, "BHD": 3, "KWD": 3, "JOD": 3,
             "OMR": 3, "TND": 3}
LAYOUTS = ("canonical", "adyen", "stripe")
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
ADYEN_TYPES = {"sale": "Settled", "refund": "Refunded", "chargeback": "Chargeback",
               "chargeback_reversal": "ChargebackReversed", "fee": "Fee",
               "adjustment": "DepositCorrection", "payout": "MerchantPayout"}
STRIPE_COLUMNS = ("automatic_payout_id", "automatic_payout_effective_at",
                  "balance_transaction_id", "created_utc", "currency", "gross", "fee", "net",
                  "reporting_category", "source_id", "description", "payment_intent_id",
                  "payment_metadata[order_ref]", "refund_metadata[refund_ref]")
STRIPE_TYPES = {"sale": "charge", "refund": "refund", "chargeback": "dispute",
                "chargeback_reversal": "dispute_reversal", "fee": "fee",
                "adjustment": "other_adjustment", "payout": "payout"}


def _decimal(amount, currency, absolute=False):
    value = Decimal(abs(amount) if absolute else amount).scaleb(-EXPONENTS.get(currency, 2))
    return f"{value:.{EXPONENTS.get(currency, 2)}f}"


def _utc_text(iso):
    """``2026-03-01T11:00:00+01:00`` -> ``2026-03-01 10:00:00`` (UTC, as Stripe prints)."""
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _cet_text(iso):
    """The same instant in CET (+01:00), as Adyen prints it with ``TimeZone`` CET."""
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return moment.astimezone(timezone(timedelta(hours=1))).strftime("%Y-%m-%d %H:%M:%S")


class SettlementSimulator(SimulatorServer):
    """In-memory settlement provider. ``SettlementSimulator(port=0).start()``."""

    name = "settlement"
    display_name = "Settlement"
    config_keys = (*SimulatorServer.config_keys, "page_size")

    def __init__(self, host=DEFAULT_HOST, port=0, *, page_size=DEFAULT_PAGE_SIZE, **kwargs):
        self.page_size = page_size
        super().__init__(host, port, **kwargs)

    # -- state -----------------------------------------------------------------

    def reset_state(self):
        with self.lock:
            self.payouts = {}
            self.numbers = {"payout": 0, "line": 0}

    def state_extra(self):
        return {"payouts": [self._summary(p) for p in self.payouts.values()]}

    def dump_state(self):
        return {"payouts": self.payouts, "numbers": self.numbers}

    def load_state(self, data):
        self.payouts = data.get("payouts", {})
        self.numbers.update(data.get("numbers", {}))

    def validate_config(self, name, value):
        if name == "page_size":
            if not is_int(value) or not 1 <= value <= MAX_PAGE_SIZE:
                raise ValueError(f"must be an integer between 1 and {MAX_PAGE_SIZE}")
        else:
            super().validate_config(name, value)

    def apply_config(self, name, value):
        if name == "page_size":
            self.page_size = value
        else:
            super().apply_config(name, value)

    def config_view(self):
        return dict(super().config_view(), page_size=self.page_size)

    # -- routes ----------------------------------------------------------------

    def register_routes(self):
        self.route("api", "GET", "/v1/health", lambda request: {"status": "ok"})
        self.route("api", "GET", "/v1/payouts", self.api_payouts)
        self.route("api", "GET", "/v1/payouts/{payout_ref}/lines", self.api_lines)
        self.route("control", "GET", "/_sim/payouts", self.ctl_payouts)
        self.route("control", "POST", "/_sim/payouts", self.ctl_create)
        self.route("control", "GET", "/_sim/payouts/{payout_ref}", self.ctl_payout)
        self.route("control", "POST", "/_sim/payouts/{payout_ref}/reissue", self.ctl_reissue)
        self.route("control", "GET", "/_sim/payouts/{payout_ref}/file", self.ctl_file)

    @staticmethod
    def _summary(payout):
        return {k: payout[k] for k in ("payout_ref", "paid_at", "currency", "net", "line_count",
                                       "revision")}

    def _payout(self, ref):
        payout = self.payouts.get(ref)
        if payout is None:
            raise not_found(f"unknown payout {ref!r}", [{"field": "payout_ref", "value": ref}],
                            code="payout_not_found")
        return payout

    def api_payouts(self, request):
        since = request.query_value("since")
        if not since or len(since) < 10 or since[4] != "-" or since[7] != "-":
            raise bad_request("since=<YYYY-MM-DD> is required",
                              [{"field": "since", "code": "required"}])
        with self.lock:
            return [self._summary(p) for p in sorted(self.payouts.values(),
                                                     key=lambda p: (p["paid_at"], p["payout_ref"]))
                    if p["paid_at"][:len(since)] >= since]

    def api_lines(self, request):
        limit = request.query_value("limit")
        with self.lock:
            payout = self._payout(request.params["payout_ref"])
            size = self.page_size
            if limit is not None:
                if not limit.isdigit() or not 1 <= int(limit) <= MAX_PAGE_SIZE:
                    raise bad_request(f"limit must be between 1 and {MAX_PAGE_SIZE}")
                size = int(limit)
            cursor = request.query_value("cursor") or f"{payout['revision']}.0"
            revision, _, offset = cursor.partition(".")
            if not revision.isdigit() or not offset.isdigit():
                raise bad_request("invalid cursor", [{"field": "cursor", "code": "invalid"}])
            if int(revision) != payout["revision"]:
                raise ApiError(409, "payout_reissued",
                               f"payout {payout['payout_ref']} was re-issued (revision "
                               f"{payout['revision']}): start again without a cursor")
            start = int(offset)
            lines = payout["lines"][start:start + size]
            end = start + len(lines)
            return {"payout_ref": payout["payout_ref"], "revision": payout["revision"],
                    "lines": lines,
                    "next_cursor": f"{payout['revision']}.{end}"
                    if end < len(payout["lines"]) else None}

    # -- triggers --------------------------------------------------------------

    def _build_lines(self, ref, body, paid_at):
        check = Checker()
        currency = check.currency(body, "currency", required=False) or "EUR"
        raw_lines = body.get("lines")
        if not isinstance(raw_lines, list) or not raw_lines:
            check.add("lines", "required", "a non-empty list of lines is required")
            check.raise_if_any()
        lines = []
        for index, raw in enumerate(raw_lines):
            prefix = f"lines[{index}]."
            if not isinstance(raw, dict):
                check.add(f"lines[{index}]", "invalid_type", "must be an object")
                continue
            kind = check.choice(raw, "type", LINE_TYPES, prefix)
            gross = check.integer(raw, "gross", prefix, money=True)
            fee = check.integer(raw, "fee", prefix, required=False, money=True) or 0
            net = check.integer(raw, "net", prefix, required=False, money=True)
            if gross is None:
                continue
            self.numbers["line"] += 1
            lines.append({
                "line_ref": raw.get("line_ref") or f"{ref}-L{len(lines) + 1:05d}",
                "type": kind,
                "merchant_order_ref": raw.get("merchant_order_ref"),
                "merchant_refund_ref": raw.get("merchant_refund_ref"),
                "psp_reference": raw.get("psp_reference")
                or (f"PSP{self.numbers['line']:010d}" if kind != "fee" else None),
                "gross": gross, "fee": fee, "net": gross - fee if net is None else net,
                "currency": currency,
                "booked_at": raw.get("booked_at") or paid_at,
            })
        check.raise_if_any()
        net = sum(line["net"] for line in lines)
        payout_net = body.get("payout_net", net)
        if not is_int(payout_net):
            raise bad_request("payout_net must be an integer", [{"field": "payout_net"}])
        lines.append({"line_ref": f"{ref}-PAYOUT", "type": "payout", "merchant_order_ref": None,
                      "merchant_refund_ref": None, "psp_reference": None,
                      "gross": -payout_net, "fee": 0, "net": -payout_net,
                      "currency": currency, "booked_at": paid_at})
        return currency, lines, payout_net

    def create_payout(self, body):
        with self.lock:
            self.numbers["payout"] += 1
            ref = body.get("payout_ref") or f"PO-{self.numbers['payout']:05d}"
            if ref in self.payouts:
                raise ApiError(409, "payout_exists", f"payout {ref} exists: re-issue it")
            paid_at = body.get("paid_at") or "2026-03-02T06:00:00+00:00"
            currency, lines, net = self._build_lines(ref, body, paid_at)
            self.payouts[ref] = {"payout_ref": ref, "paid_at": paid_at, "currency": currency,
                                 "net": net, "line_count": len(lines), "revision": 1,
                                 "lines": lines}
            return 201, self._summary(self.payouts[ref])

    def reissue(self, ref, body):
        with self.lock:
            payout = self._payout(ref)
            currency, lines, net = self._build_lines(ref, dict(body, currency=payout["currency"]),
                                                     payout["paid_at"])
            payout.update(lines=lines, net=net, line_count=len(lines),
                          revision=payout["revision"] + 1)
            return self._summary(payout)

    # -- files -----------------------------------------------------------------

    def render(self, ref, layout):
        payout = self._payout(ref)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        currency = payout["currency"]
        if layout == "canonical":
            writer.writerow(CANONICAL_COLUMNS)
            for line in payout["lines"]:
                writer.writerow([ref] + [("" if line[c] is None else line[c])
                                         for c in CANONICAL_COLUMNS[1:]])
        elif layout == "adyen":
            writer.writerow(ADYEN_COLUMNS)
            for line in payout["lines"]:
                writer.writerow(self._adyen_row(ref, line, currency))
        elif layout == "stripe":
            writer.writerow(STRIPE_COLUMNS)
            for line in payout["lines"]:
                writer.writerow(self._stripe_row(payout, line, currency))
        else:
            raise bad_request(f"layout must be one of {', '.join(LAYOUTS)}")
        return out.getvalue()

    @staticmethod
    def _adyen_row(ref, line, currency):
        kind, gross, fee, net = line["type"], line["gross"], line["fee"], line["net"]
        parts = {"commission": 0, "markup": 0, "scheme": 0, "interchange": 0}
        if kind == "chargeback":
            parts["markup"] = fee
        elif kind not in ("fee", "payout"):
            parts["interchange"] = fee * 60 // 100
            parts["scheme"] = fee * 20 // 100
            parts["commission"] = fee - parts["interchange"] - parts["scheme"]
        with_gross = kind not in ("fee", "payout")

        def side(amount, debit):
            if debit:
                return _decimal(amount, currency, absolute=True) if amount < 0 else ""
            return _decimal(amount, currency) if amount >= 0 else ""

        gross_debit = side(gross, True) if with_gross else ""
        gross_credit = side(gross, False) if with_gross else ""
        net_debit, net_credit = side(net, True), side(net, False)

        def fee_text(value):
            return _decimal(value, currency) if value else ""

        return ["RetailCo", "RetailCoECOM", line["psp_reference"] or "",
                line["merchant_order_ref"] or "", "visa" if with_gross else "",
                _cet_text(line["booked_at"]), "CET", ADYEN_TYPES[kind], line["line_ref"],
                currency if with_gross else "", gross_debit, gross_credit,
                "1" if with_gross else "", currency, net_debit, net_credit,
                fee_text(parts["commission"]), fee_text(parts["markup"]),
                fee_text(parts["scheme"]), fee_text(parts["interchange"]),
                "visa" if with_gross else "", line["merchant_refund_ref"] or "", ref]

    @staticmethod
    def _stripe_row(payout, line, currency):
        return [payout["payout_ref"], _utc_text(payout["paid_at"]), line["line_ref"],
                _utc_text(line["booked_at"]), currency.lower(),
                _decimal(line["gross"], currency), _decimal(line["fee"], currency),
                _decimal(line["net"], currency), STRIPE_TYPES[line["type"]],
                f"src_{line['line_ref']}", line["type"], line["psp_reference"] or "",
                line["merchant_order_ref"] or "", line["merchant_refund_ref"] or ""]

    # -- control routes --------------------------------------------------------

    def ctl_payouts(self, request):
        with self.lock:
            return {"payouts": [self._summary(p) for p in self.payouts.values()]}

    def ctl_payout(self, request):
        with self.lock:
            return self._payout(request.params["payout_ref"])

    def ctl_create(self, request):
        return self.create_payout(request.json_object())

    def ctl_reissue(self, request):
        return self.reissue(request.params["payout_ref"], request.json_object())

    def ctl_file(self, request):
        layout = request.query_value("layout", "canonical")
        ref = request.params["payout_ref"]
        with self.lock:
            content = self.render(ref, layout)
            revision = self._payout(ref)["revision"]
        extension = "csv"
        return {"layout": layout, "filename": f"{layout}-{ref}-r{revision}.{extension}",
                "content": content}


def main(argv=None):
    parser = build_arg_parser(
        prog="python -m simulators.settlement",
        description="Settlement provider reference simulator (partner side of the settlement "
                    "contract).",
        default_port=DEFAULT_PORT,
    )
    parser.add_argument("--page-size", type=int, default=DEFAULT_PAGE_SIZE,
                        help="lines per page of GET /v1/payouts/{ref}/lines (default 100)")
    args = parser.parse_args(argv)
    try:
        simulator = SettlementSimulator(
            args.host, args.port, api_key=args.api_key, webhook_url=args.webhook_url,
            webhook_secret=args.webhook_secret, seed=args.seed, state_file=args.state_file,
            verbose=args.verbose, page_size=args.page_size)
    except (OSError, ValueError) as exc:
        parser.error(str(exc))
    return serve_until_signal(simulator)


if __name__ == "__main__":
    sys.exit(main())
