# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import csv
import hashlib
import io
import json
import logging

from psycopg2.extras import execute_values

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from odoo.addons.retail_integration_base.services import errors

from ..services import amounts, matching
from .retail_backend import MATCH_FLOW

_logger = logging.getLogger(__name__)

FAILURE_CLASS = {"malformed": errors.VALIDATION, matching.UNMATCHED: errors.MAPPING}
LINE_COLUMNS = (
    "batch_id", "backend_id", "company_id", "currency_id", "create_uid", "write_uid",
    "sequence", "line_ref", "line_type", "merchant_order_ref", "merchant_refund_ref",
    "psp_reference", "gross", "fee", "net", "gross_minor", "fee_minor", "net_minor", "fee_parts",
    "fee_category", "booked_at", "state", "exception_kind", "exception_reason", "raw",
    "matched_by", "sale_order_id", "refund_move_id", "partner_id", "expected_minor",
    "expected_amount", "create_date", "write_date")
QUIET = {"mail_create_nolog": True, "mail_create_nosubscribe": True, "tracking_disable": True}


def copy_rows(cr, table, columns, rows):
    """``COPY`` rows into a table: the fastest way PostgreSQL takes many rows
    (several times faster than multi-row INSERTs). ``None`` is NULL."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    buffer.seek(0)
    cr._obj.copy_expert(
        f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)", buffer)


def lines_hash(lines):
    """What a payout says, whatever the file layout or the API carried it:
    "the same payout again" is judged on this, not on the bytes."""
    digest = hashlib.sha256()
    for line in sorted(lines, key=lambda x: (x["line_ref"] or "", x["row"])):
        digest.update(json.dumps([line["line_ref"], line["type"], line["gross"], line["fee"],
                                  line["net"], line["merchant_order_ref"],
                                  line["merchant_refund_ref"], line["psp_reference"]]).encode())
    return digest.hexdigest()


class RetailSettlementBatch(models.Model):
    """One payout of a provider: its lines, their matching and its posting.

    Life cycle: imported -> matched | exception -> posted -> reversed, and
    superseded when a corrected re-issue of the payout arrives before it was
    posted. ``(backend, payout_ref, revision)`` is unique; importing what is
    already there (same file bytes, or the same lines from another layout or
    the API) changes nothing.
    """

    _name = "retail.settlement.batch"
    _description = "Settlement Batch"
    _inherit = ["mail.thread"]
    _order = "paid_at desc, id desc"

    name = fields.Char(required=True, readonly=True)
    backend_id = fields.Many2one("retail.backend", required=True, readonly=True, index=True,
                                 ondelete="restrict")
    company_id = fields.Many2one("res.company", required=True, readonly=True, index=True)
    payout_ref = fields.Char(string="Payout reference", required=True, readonly=True, index=True)
    revision = fields.Integer(default=1, readonly=True)
    source = fields.Selection([("api", "Provider API"), ("file", "File upload")],
                              required=True, readonly=True)
    layout = fields.Selection(
        [("api", "API"), ("canonical", "Canonical CSV"), ("adyen", "Adyen settlement details"),
         ("stripe", "Stripe payout reconciliation")], readonly=True)
    filename = fields.Char(readonly=True)
    content_hash = fields.Char(readonly=True, index=True, copy=False)
    lines_hash = fields.Char(readonly=True, index=True, copy=False)
    exchange_id = fields.Many2one("retail.exchange", string="Import message", readonly=True)
    previous_batch_id = fields.Many2one("retail.settlement.batch", string="Previous revision",
                                        readonly=True)
    superseded_by_id = fields.Many2one("retail.settlement.batch", readonly=True)
    state = fields.Selection(
        [("imported", "Imported"), ("matched", "Matched"), ("exception", "Exception"),
         ("posted", "Posted"), ("reversed", "Reversed"), ("superseded", "Superseded")],
        default="imported", required=True, readonly=True, index=True, tracking=True)
    currency_id = fields.Many2one("res.currency", required=True, readonly=True)
    paid_at = fields.Datetime(readonly=True)
    period_start = fields.Datetime(readonly=True)
    period_end = fields.Datetime(readonly=True)
    line_count = fields.Integer(readonly=True)
    matched_count = fields.Integer(readonly=True)
    exception_count = fields.Integer(string="Exceptions", readonly=True)
    gross = fields.Monetary(readonly=True)
    fee = fields.Monetary(string="Fees", readonly=True)
    net = fields.Monetary(string="Net of the lines", readonly=True)
    payout_amount = fields.Monetary(string="Payout", readonly=True,
                                    help="What the provider paid to the bank.")
    variance = fields.Monetary(readonly=True, help="Net of the lines minus the payout.")
    expected_amount = fields.Monetary(
        string="Expected (Odoo)", readonly=True,
        help="Odoo's amounts of the matched orders and credit notes, signed as settled.")
    settled_amount = fields.Monetary(
        string="Settled", readonly=True,
        help="Gross of the matched sales and refunds, as the provider settled them.")
    settlement_variance = fields.Monetary(
        readonly=True, help="Settled minus expected: what the provider settled differently.")
    posted_amount = fields.Monetary(string="Posted", readonly=True)
    gross_minor = fields.Integer(readonly=True)
    fee_minor = fields.Integer(readonly=True)
    net_minor = fields.Integer(readonly=True)
    payout_minor = fields.Integer(readonly=True)
    problem = fields.Text(string="Batch problem", readonly=True,
                          help="Why the batch as a whole cannot be posted.")
    settled_in_time = fields.Boolean(readonly=True)
    move_id = fields.Many2one("account.move", string="Journal entry", readonly=True, copy=False)
    reversal_move_id = fields.Many2one("account.move", string="Reversal entry", readonly=True,
                                       copy=False)
    line_ids = fields.One2many("retail.settlement.line", "batch_id", readonly=True)

    _sql_constraints = [
        ("payout_revision_unique", "UNIQUE(backend_id, payout_ref, revision)",
         "A payout revision is imported once per backend."),
    ]

    # ----------------------------------------------------------------- import

    @api.model
    def _settlement_import(self, backend, payout, source, layout, filename=None,
                           content_hash=None, exchange=None):
        """Create the batch of a parsed payout, or return the one that already
        says the same. Returns ``(batch, created)``.

        Malformed rows were either refused by the caller (the backend's
        policy) or are imported here as exception lines.
        """
        backend.ensure_one()
        if not payout.payout_ref:
            raise errors.RetailIntegrationError(
                self.env._("The payout has no reference."), errors.VALIDATION)
        line_hash = lines_hash(payout.lines) if not payout.errors else content_hash
        previous = self.search([("backend_id", "=", backend.id),
                                ("payout_ref", "=", payout.payout_ref)], order="revision desc")
        same = previous.filtered(lambda b: (content_hash and b.content_hash == content_hash)
                                 or b.lines_hash == line_hash)[:1]
        if same:
            return same, False
        currency = self.env["res.currency"].with_context(active_test=False).search(
            [("name", "=", payout.currency)], limit=1)
        if not currency:
            raise errors.MappingError(self.env._("Currency %s is unknown in Odoo.",
                                                 payout.currency))
        if not currency.active:
            currency.sudo().active = True
        gross, fee, net = payout.totals()
        payout_minor = payout.payout_amount or 0
        start, end = payout.period
        latest = previous.filtered(lambda b: b.state != "superseded")[:1]
        vals = {
            "name": f"{payout.payout_ref}" + (f" r{previous[0].revision + 1}" if previous else ""),
            "backend_id": backend.id, "company_id": backend.company_id.id,
            "payout_ref": payout.payout_ref,
            "revision": previous[0].revision + 1 if previous else 1,
            "source": source, "layout": layout, "filename": filename,
            "content_hash": content_hash, "lines_hash": line_hash,
            "exchange_id": exchange.id if exchange else False,
            "previous_batch_id": latest.id or False,
            "currency_id": currency.id, "paid_at": payout.paid_at,
            "period_start": start, "period_end": end,
            "line_count": len(payout.lines) + len(payout.errors),
            "gross_minor": gross, "fee_minor": fee, "net_minor": net,
            "payout_minor": payout_minor,
            "gross": float(amounts.from_minor(gross, payout.currency)),
            "fee": float(amounts.from_minor(fee, payout.currency)),
            "net": float(amounts.from_minor(net, payout.currency)),
            "payout_amount": float(amounts.from_minor(payout_minor, payout.currency)),
            "variance": float(amounts.from_minor(net - payout_minor, payout.currency)),
            "settled_in_time": bool(payout.paid_at and end and (payout.paid_at - end).days
                                    < backend.settlement_expected_days),
        }
        batch = self.with_context(**QUIET).create(vals)
        if latest and latest.state not in ("posted", "reversed"):
            latest._settlement_supersede(batch)
        # Matched before they are written: one INSERT carries each line with
        # its match, no second pass over the rows.
        results = batch._settlement_match_values(payout.lines)
        batch._settlement_insert_lines(payout, results)
        batch._settlement_sync_exceptions()
        batch._settlement_check()
        batch.message_post(body=self.env._(
            "Imported from %(origin)s: %(n)s lines, payout %(payout)s %(currency)s.",
            origin=filename or source, n=batch.line_count,
            payout=batch.payout_amount, currency=currency.name))
        return batch, True

    def _settlement_supersede(self, new_batch):
        """A corrected re-issue replaces this unposted revision."""
        self.ensure_one()
        self.write({"state": "superseded", "superseded_by_id": new_batch.id})
        open_exceptions = self.env["retail.exchange"].sudo().search([
            ("res_model", "=", self._name), ("res_id", "=", self.id),
            ("state", "in", ("failed", "retry", "pending"))])
        open_exceptions |= self.line_ids.exchange_id.filtered(
            lambda e: e.state in ("failed", "retry", "pending"))
        open_exceptions.write({"state": "ignored"})
        open_exceptions._audit(self.env._("Superseded by the re-issue %s.", new_batch.name))
        self.message_post(body=self.env._("Superseded by the corrected re-issue %s.",
                                          new_batch.name))

    def _settlement_insert_lines(self, payout, results):
        """All lines in a few multi-row INSERTs (the ORM would take minutes for
        a large payout). Malformed rows become exception lines."""
        self.ensure_one()
        self.env["retail.settlement.line"].flush_model()
        uid, currency = self.env.uid, self.currency_id
        code = currency.name
        rows = []
        common = (self.id, self.backend_id.id, self.company_id.id, currency.id, uid, uid)

        def money(value):
            return amounts.from_minor(value, code)

        for line, result in zip(payout.lines, results, strict=True):
            parts = line["fee_parts"]
            main = max(parts, key=parts.get) if parts else None
            expected = result["expected"]
            rows.append(common + (
                line["row"], line["line_ref"], line["type"], line["merchant_order_ref"],
                line["merchant_refund_ref"], line["psp_reference"], money(line["gross"]),
                money(line["fee"]), money(line["net"]), line["gross"], line["fee"],
                line["net"], json.dumps(parts), main, line["booked_at"], result["state"],
                result["kind"], result["reason"], None, result["matched_by"], result["order"],
                result["refund"], result["partner"], expected,
                money(expected) if expected is not None else None))
        for error in payout.errors:
            rows.append(common + (
                error.row, None, "malformed", None, None, None, 0, 0, 0, 0, 0, 0, "{}", None,
                None, "exception", "malformed",
                self.env._("Row %(row)s is malformed: %(error)s", row=error.row,
                           error=error.message), error.raw, None, None, None, None, None,
                None))
        now = fields.Datetime.now()
        copy_rows(self.env.cr, "retail_settlement_line", LINE_COLUMNS,
                  (row + (now, now) for row in rows))
        self.env["retail.settlement.line"].invalidate_model()
        self.invalidate_recordset(["line_ids"])

    # --------------------------------------------------------------- matching

    def _settlement_read_lines(self):
        self.ensure_one()
        self.env["retail.settlement.line"].flush_model()
        self.env.cr.execute("""
            SELECT id, sequence, line_ref, line_type, merchant_order_ref, merchant_refund_ref,
                   psp_reference, gross_minor, fee_minor, net_minor, state, exchange_id
              FROM retail_settlement_line WHERE batch_id = %s ORDER BY sequence, id""",
                            [self.id])
        keys = ("id", "row", "line_ref", "type", "merchant_order_ref", "merchant_refund_ref",
                "psp_reference", "gross", "fee", "net", "state", "exchange_id")
        currency = self.currency_id.name
        lines = [dict(zip(keys, row, strict=True)) for row in self.env.cr.fetchall()]
        for line in lines:
            line["currency"] = currency
        return lines

    def _settlement_indexes(self, lines):
        """Every candidate of the batch, read once (one search per model on
        the reference sets, then one SQL read of the found ids)."""
        self.ensure_one()
        merchant, psp, refund_refs = matching.reference_sets(lines)
        company = self.company_id
        SaleOrder = self.env["sale.order"]
        indexes = matching.Indexes()
        order_ids = set()
        psp_of = {}
        if merchant:
            order_ids |= set(SaleOrder._search([
                ("company_id", "=", company.id), ("state", "!=", "cancel"), "|",
                ("name", "in", list(merchant)), ("client_order_ref", "in", list(merchant))]))
        if psp:
            if "retail_psp_reference" in SaleOrder._fields:  # the OMS connector's field
                for order_id, ref in self._fetch(SaleOrder, [
                        ("company_id", "=", company.id),
                        ("retail_psp_reference", "in", list(psp))], "retail_psp_reference"):
                    psp_of[ref] = order_id
            Tx = self.env["payment.transaction"].sudo()
            tx_ids = list(Tx._search([("provider_reference", "in", list(psp)),
                                      ("company_id", "=", company.id)]))
            if tx_ids:
                self.env.cr.execute("""
                    SELECT t.provider_reference, min(r.sale_order_id)
                      FROM payment_transaction t
                      JOIN sale_order_transaction_rel r ON r.transaction_id = t.id
                     WHERE t.id = ANY(%s) GROUP BY t.provider_reference""", [tx_ids])
                for ref, order_id in self.env.cr.fetchall():
                    psp_of.setdefault(ref, order_id)
            if psp_of:
                order_ids |= set(SaleOrder._search([("id", "in", list(psp_of.values()))]))
        refunds = []
        if refund_refs:
            Move = self.env["account.move"]
            move_ids = list(Move._search([
                ("company_id", "=", company.id), ("move_type", "=", "out_refund"),
                ("state", "!=", "cancel"), "|", ("name", "in", list(refund_refs)),
                ("ref", "in", list(refund_refs))]))
            if move_ids:
                self.env.cr.execute("""
                    SELECT m.id, m.name, m.ref, p.commercial_partner_id, m.amount_total,
                           c.name, (SELECT min(sol.order_id)
                                      FROM account_move_line aml
                                      JOIN sale_order_line_invoice_rel rel
                                        ON rel.invoice_line_id = aml.id
                                      JOIN sale_order_line sol ON sol.id = rel.order_line_id
                                     WHERE aml.move_id = m.id)
                      FROM account_move m JOIN res_partner p ON p.id = m.partner_id
                      JOIN res_currency c ON c.id = m.currency_id
                     WHERE m.id = ANY(%s)""", [move_ids])
                refunds = self.env.cr.fetchall()
                order_ids |= {row[6] for row in refunds if row[6]}
        if order_ids:
            self.env.cr.execute("""
                SELECT o.id, o.name, o.client_order_ref, p.commercial_partner_id,
                       o.amount_total, c.name
                  FROM sale_order o JOIN res_partner p ON p.id = o.partner_id
                  JOIN res_currency c ON c.id = o.currency_id
                 WHERE o.id = ANY(%s)""", [list(order_ids)])
            psp_by_order = {}
            for ref, order_id in psp_of.items():
                psp_by_order.setdefault(order_id, []).append(ref)
            for oid, name, client_ref, partner, total, currency in self.env.cr.fetchall():
                indexes.add_order(
                    matching.Order(oid, name, partner, amounts.to_minor(
                        f"{total:.{amounts.exponent(currency)}f}", currency), currency),
                    refs=(name, client_ref), psps=psp_by_order.get(oid, ()))
        for mid, name, ref, partner, total, currency, order_id in refunds:
            indexes.add_refund(matching.Refund(mid, name, partner, amounts.to_minor(
                f"{total:.{amounts.exponent(currency)}f}", currency), currency, order_id),
                refs=(name, ref))
        indexes.settled = self._settlement_already_settled(psp, refund_refs, order_ids)
        return indexes

    def _fetch(self, model, domain, field):
        ids = list(model._search(domain))
        if not ids:
            return []
        self.env.cr.execute(SQL("SELECT id, %s FROM %s WHERE id = ANY(%s)",
                                SQL.identifier(field), SQL.identifier(model._table), ids))
        return self.env.cr.fetchall()

    def _settlement_already_settled(self, psp, refund_refs, order_ids):
        """Dedup keys of lines matched in the backend's other live batches."""
        self.flush_model(["state", "backend_id", "name"])
        self.env.cr.execute("""
            SELECT l.line_type, l.psp_reference, l.merchant_refund_ref, l.sale_order_id,
                   b.name
              FROM retail_settlement_line l JOIN retail_settlement_batch b ON b.id = l.batch_id
             WHERE b.backend_id = %s AND b.id != %s
               AND b.state NOT IN ('superseded', 'reversed') AND l.state = 'matched'
               AND (l.psp_reference = ANY(%s) OR l.merchant_refund_ref = ANY(%s)
                    OR l.sale_order_id = ANY(%s))""",
                            [self.backend_id.id, self.id, list(psp), list(refund_refs),
                             list(order_ids)])
        settled = {}
        for kind, psp_ref, refund_ref, order_id, name in self.env.cr.fetchall():
            line = {"type": kind, "psp_reference": psp_ref, "merchant_refund_ref": refund_ref}
            for key in matching.dedup_keys(line, order_id):
                settled.setdefault(key, name)
        return settled

    def _settlement_match(self):
        """(Re)match every line of the batches, then record or resolve their
        exceptions in the exception queue and set the batches' states."""
        for batch in self:
            if batch.state not in ("imported", "matched", "exception"):
                continue
            lines = batch._settlement_read_lines()
            todo = [line for line in lines if line["type"] != "malformed"]
            batch._settlement_write_results(todo, batch._settlement_match_values(todo))
            batch._settlement_sync_exceptions()
            batch._settlement_check()
        return True

    def _settlement_match_values(self, lines):
        """Match results of ``lines`` (plain dicts) against one bulk read of
        the candidates."""
        self.ensure_one()
        backend = self.backend_id
        return matching.match_lines(lines, self._settlement_indexes(lines),
                                    backend._settlement_keys(), backend.settlement_tolerance)

    def _settlement_write_results(self, lines, results):
        code = self.currency_id.name
        rows = []
        for line, result in zip(lines, results, strict=True):
            expected = result["expected"]
            rows.append((line["id"], self.env.uid, result["state"], result["kind"], result["reason"],
                         result["matched_by"], result["order"], result["refund"],
                         result["partner"], expected,
                         amounts.from_minor(expected, code) if expected is not None else None))
        self.env.cr.execute("""
            CREATE TEMP TABLE retail_settlement_match_tmp (
                id int, uid int, state varchar, kind varchar, reason text, matched_by varchar,
                sale_order_id int, refund_move_id int, partner_id int, expected_minor int,
                expected_amount numeric) ON COMMIT DROP""")
        copy_rows(self.env.cr, "retail_settlement_match_tmp",
                  ("id", "uid", "state", "kind", "reason", "matched_by", "sale_order_id",
                   "refund_move_id", "partner_id", "expected_minor", "expected_amount"), rows)
        self.env.cr.execute("""
            UPDATE retail_settlement_line l
               SET state = v.state, exception_kind = v.kind, exception_reason = v.reason,
                   matched_by = v.matched_by, sale_order_id = v.sale_order_id,
                   refund_move_id = v.refund_move_id, partner_id = v.partner_id,
                   expected_minor = v.expected_minor, expected_amount = v.expected_amount,
                   write_date = now() at time zone 'utc', write_uid = v.uid
              FROM retail_settlement_match_tmp v
             WHERE l.id = v.id""")
        self.env.cr.execute("DROP TABLE retail_settlement_match_tmp")
        self.env["retail.settlement.line"].invalidate_model()

    def _settlement_sync_exceptions(self):
        """One exception message per line in exception (created once, its
        reason kept current); messages of lines that now match are resolved."""
        self.ensure_one()
        Exchange = self.env["retail.exchange"].sudo().with_context(**QUIET)
        backend = self.backend_id
        flow = backend._get_flow(MATCH_FLOW)
        self.env.cr.execute("""
            SELECT l.id, l.state, l.exception_kind, l.exception_reason, l.line_ref, l.sequence,
                   l.exchange_id, e.state, e.error
              FROM retail_settlement_line l
              LEFT JOIN retail_exchange e ON e.id = l.exchange_id
             WHERE l.batch_id = %s AND (l.state = 'exception' OR l.exchange_id IS NOT NULL)""",
                            [self.id])
        to_create, links = [], []
        resolved = Exchange.browse()
        for (line_id, state, kind, reason, ref, row, exchange_id, ex_state,
             ex_error) in self.env.cr.fetchall():
            if state == "exception":
                if not exchange_id:
                    to_create.append((line_id, {
                        "name": self.env._("← settlement exception %(batch)s %(ref)s",
                                           batch=self.name, ref=ref or f"row {row}"),
                        "backend_id": backend.id, "company_id": self.company_id.id,
                        "flow_id": flow.id, "direction": "inbound",
                        "idempotency_key": f"settlement-line:{line_id}",
                        "external_ref": ref or f"{self.payout_ref}#{row}",
                        "res_model": "retail.settlement.line", "res_id": line_id,
                        "payload": json.dumps({"line_id": line_id, "batch_id": self.id}),
                        "state": "failed", "attempts": 1, "event_type": kind,
                        "failure_class": FAILURE_CLASS.get(kind, errors.BUSINESS),
                        "error": reason}))
                elif ex_state in ("failed", "done", "pending", "retry") and (
                        ex_error != reason or ex_state == "done"):
                    Exchange.browse(exchange_id).write({
                        "state": "failed", "error": reason, "event_type": kind,
                        "failure_class": FAILURE_CLASS.get(kind, errors.BUSINESS)})
            elif exchange_id and ex_state in ("failed", "retry", "pending"):
                resolved |= Exchange.browse(exchange_id)
        if to_create:
            created = Exchange.create([vals for _line, vals in to_create])
            links = [(line_id, exchange.id) for (line_id, _v), exchange in
                     zip(to_create, created, strict=True)]
            execute_values(self.env.cr._obj, """
                UPDATE retail_settlement_line l SET exchange_id = v.exchange_id
                  FROM (VALUES %s) AS v(id, exchange_id) WHERE l.id = v.id""", links)
            self.env["retail.settlement.line"].invalidate_model(["exchange_id"])
        if resolved:
            resolved.write({"state": "done", "error": False, "failure_class": False,
                            "processed_at": fields.Datetime.now()})
            resolved._audit(self.env._("Resolved: the line matches now."))

    def _settlement_check(self):
        """Batch-level rules, counters and state after matching."""
        self.ensure_one()
        self.env.cr.execute("""
            SELECT count(*) FILTER (WHERE state = 'matched'),
                   count(*) FILTER (WHERE state = 'exception'),
                   coalesce(sum(CASE WHEN line_type = 'refund' THEN -expected_minor
                                     ELSE expected_minor END)
                            FILTER (WHERE state = 'matched' AND line_type IN ('sale', 'refund')), 0),
                   coalesce(sum(gross_minor) FILTER (WHERE state = 'matched'
                                                     AND line_type IN ('sale', 'refund')), 0)
              FROM retail_settlement_line WHERE batch_id = %s""", [self.id])
        matched, exceptions, expected, settled = self.env.cr.fetchone()
        problems = []
        if self.net_minor != self.payout_minor:
            problems.append(self.env._(
                "The lines' net (%(net)s) differs from the payout (%(payout)s) by %(diff)s: "
                "the batch cannot be posted until the provider re-issues it.",
                net=self.net, payout=self.payout_amount,
                diff=amounts.from_minor(self.net_minor - self.payout_minor,
                                        self.currency_id.name)))
        previous = self.previous_batch_id
        if previous and previous.state == "posted":
            problems.append(self.env._(
                "This corrected re-issue replaces %s, which is already posted: reverse that "
                "posting first, then retry.", previous.name))
        code = self.currency_id.name
        self.write({
            "matched_count": matched, "exception_count": exceptions + len(problems),
            "expected_amount": float(amounts.from_minor(expected, code)),
            "settled_amount": float(amounts.from_minor(settled, code)),
            "settlement_variance": float(amounts.from_minor(settled - expected, code)),
            "problem": "\n".join(problems) or False,
            "state": "exception" if exceptions or problems else "matched",
        })
        self._settlement_batch_exception(problems)

    def _settlement_batch_exception(self, problems):
        Exchange = self.env["retail.exchange"].sudo().with_context(**QUIET)
        key = f"settlement-batch:{self.id}"
        exchange = Exchange.search([("backend_id", "=", self.backend_id.id),
                                    ("direction", "=", "inbound"),
                                    ("idempotency_key", "=", key)], limit=1)
        if problems:
            values = {"state": "failed", "failure_class": errors.BUSINESS,
                      "error": "\n".join(problems)}
            if exchange:
                if exchange.state != "failed" or exchange.error != values["error"]:
                    exchange.write(values)
            else:
                Exchange.create(dict(
                    values, name=self.env._("← settlement batch %s", self.name),
                    backend_id=self.backend_id.id, company_id=self.company_id.id,
                    flow_id=self.backend_id._get_flow(MATCH_FLOW).id, direction="inbound",
                    idempotency_key=key, external_ref=self.payout_ref, attempts=1,
                    res_model=self._name, res_id=self.id, event_type="batch",
                    payload=json.dumps({"batch_id": self.id})))
        elif exchange and exchange.state in ("failed", "retry", "pending"):
            exchange.write({"state": "done", "error": False, "failure_class": False})
            exchange._audit(self.env._("Resolved: the batch adds up."))

    # ---------------------------------------------------------------- actions

    def action_rematch(self):
        for batch in self:
            if batch.state not in ("imported", "matched", "exception"):
                raise UserError(self.env._(
                    "Batch %(batch)s is %(state)s: only unposted batches are matched.",
                    batch=batch.name, state=batch.state))
        self._settlement_match()
        return True

    def action_post(self):
        for batch in self:
            batch._settlement_post()
        return True

    def action_reverse(self):
        for batch in self:
            batch._settlement_reverse()
        return True

    def action_view_move(self):
        self.ensure_one()
        moves = self.move_id | self.reversal_move_id
        return {"type": "ir.actions.act_window", "res_model": "account.move",
                "name": self.env._("Settlement entries"),
                "domain": [("id", "in", moves.ids)], "view_mode": "list,form"}

    def action_view_lines(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "retail_settlement.retail_settlement_line_action")
        action["domain"] = [("batch_id", "=", self.id)]
        action["context"] = {"search_default_group_state": 1}
        return action

    def action_view_exceptions(self):
        self.ensure_one()
        exchanges = self.env["retail.exchange"].search([
            "|", "&", ("res_model", "=", self._name), ("res_id", "=", self.id),
            ("id", "in", self.line_ids.exchange_id.ids)])
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "retail_integration_base.retail_exchange_action_exceptions")
        action["domain"] = [("id", "in", exchanges.ids)]
        return action

    # ---------------------------------------------------------------- posting

    def _settlement_post(self):
        """Post the batch as one journal entry; idempotent (a posted batch is
        left alone). The entry balances to the cent by construction, and is
        refused unless the lines' net equals the payout."""
        self.ensure_one()
        if self.state == "posted" and self.move_id.state == "posted":
            return self.move_id
        if self.state != "matched":
            raise UserError(self.env._(
                "Batch %(batch)s is %(state)s: only a fully matched batch is posted.",
                batch=self.name, state=dict(self._fields["state"].selection)[self.state]))
        if self.net_minor != self.payout_minor:
            raise UserError(self.env._("The lines' net differs from the payout: not posted."))
        move = self.env["account.move"].create(self._settlement_move_values())
        move.action_post()
        self.write({"state": "posted", "move_id": move.id,
                    "posted_amount": self.payout_amount})
        if self.backend_id.settlement_reconcile:
            self._settlement_reconcile(move)
        self.message_post(body=self.env._("Posted as %s.", move.name))
        return move

    def _settlement_move_values(self):
        """Journal entry of the batch, lines grouped by category: receivables
        cleared per customer, fees per category (and their tax), chargebacks,
        adjustments, and the payout on the outstanding account."""
        backend = self.backend_id
        journal = backend.settlement_journal_id
        if not journal:
            raise UserError(self.env._("Backend %s has no settlement journal.", backend.name))
        code = self.currency_id.name
        self.env.cr.execute("""
            SELECT line_type, partner_id, sum(gross_minor), sum(fee_minor)
              FROM retail_settlement_line WHERE batch_id = %s
             GROUP BY line_type, partner_id""", [self.id])
        groups = self.env.cr.fetchall()
        self.env.cr.execute("""
            SELECT key, sum(value::bigint) FROM retail_settlement_line,
                   jsonb_each_text(fee_parts::jsonb)
             WHERE batch_id = %s GROUP BY key""", [self.id])
        fees = dict(self.env.cr.fetchall())
        partners = self.env["res.partner"].browse(
            {p for kind, p, _g, _f in groups if p and kind in ("sale", "refund")})
        fallback = backend.settlement_receivable_account_id
        entries = []  # (balance in minor units, account, partner, label)
        receivable = {}
        for kind, partner_id, gross, _fee in groups:
            if kind in ("sale", "refund"):
                receivable[partner_id] = receivable.get(partner_id, 0) - gross
            elif kind in ("chargeback", "chargeback_reversal"):
                entries.append((-gross, backend.settlement_chargeback_account_id, partner_id,
                                self.env._("Chargebacks") if kind == "chargeback"
                                else self.env._("Chargeback reversals")))
            elif kind == "adjustment":
                entries.append((-gross, backend.settlement_adjustment_account_id, False,
                                self.env._("Adjustments")))
        for partner in partners:
            account = partner.with_company(self.company_id).property_account_receivable_id \
                or fallback
            entries.append((receivable.pop(partner.id), account, partner.id,
                            self.env._("Settled by %s", self.payout_ref)))
        if receivable:  # lines without a customer (cannot happen once matched)
            entries.append((sum(receivable.values()), fallback, False,
                            self.env._("Settled by %s", self.payout_ref)))
        by_category = {fa.category: fa for fa in backend.settlement_fee_account_ids}
        labels = dict(self.env["retail.settlement.fee.account"]._fields["category"].selection)
        for category, amount in sorted(fees.items()):
            setting = by_category.get(category)
            account = setting.account_id if setting else backend.settlement_fee_account_id
            label = labels.get(category, category)
            tax = setting.tax_id if setting else False
            if tax and amount:
                tax_amount = self._settlement_included_tax(tax, amount)
                tax_line = tax.invoice_repartition_line_ids.filtered(
                    lambda r: r.repartition_type == "tax")[:1]
                entries.append((tax_amount, tax_line.account_id or account, False,
                                self.env._("%(tax)s on %(fee)s", tax=tax.name, fee=label)))
                amount -= tax_amount
            entries.append((amount, account, False, label))
        entries.append((self.payout_minor, backend.settlement_outstanding_account_id, False,
                        self.env._("Payout %s", self.payout_ref)))
        if sum(e[0] for e in entries) != 0:
            raise UserError(self.env._("The settlement entry does not balance: not posted."))
        missing = {label for amount, account, _p, label in entries if amount and not account}
        if missing:
            raise UserError(self.env._("Backend %(backend)s has no account for: %(what)s.",
                                       backend=backend.name, what=", ".join(sorted(missing))))
        company_currency = self.company_id.currency_id
        date = fields.Date.to_date(self.paid_at) or fields.Date.context_today(self)
        lines = []
        for amount, account, partner_id, label in entries:
            if not amount:
                continue
            value = float(amounts.from_minor(amount, code))
            balance = value if self.currency_id == company_currency else \
                self.currency_id._convert(value, company_currency, self.company_id, date)
            lines.append((0, 0, {
                "name": label, "account_id": account.id, "partner_id": partner_id,
                "currency_id": self.currency_id.id, "amount_currency": value,
                "balance": balance}))
        return {"move_type": "entry", "journal_id": journal.id, "date": date,
                "company_id": self.company_id.id,
                "ref": self.env._("Settlement %(payout)s (%(batch)s)", payout=self.payout_ref,
                                  batch=self.name),
                "line_ids": lines}

    def _settlement_included_tax(self, tax, amount):
        """Tax included in a fee of ``amount`` minor units (percent taxes)."""
        if tax.amount_type != "percent":
            raise UserError(self.env._("Fee tax %s must be a percentage.", tax.name))
        base = round(amount * 100 / (100 + tax.amount))
        return amount - base

    def _settlement_reconcile(self, move):
        """Clear the customers' open invoices and credit notes of the matched
        orders against the settlement's receivable lines, where they exist."""
        # One query for the open receivable lines of the orders' invoices and of
        # the matched credit notes (the ORM's invoice_ids would compute every
        # order's invoice status).
        self.env["account.move.line"].flush_model()
        self.env.cr.execute("""
            WITH documents AS (
                SELECT inv.move_id FROM retail_settlement_line l
                  JOIN sale_order_line sol ON sol.order_id = l.sale_order_id
                  JOIN sale_order_line_invoice_rel rel ON rel.order_line_id = sol.id
                  JOIN account_move_line inv ON inv.id = rel.invoice_line_id
                 WHERE l.batch_id = %(batch)s AND l.line_type IN ('sale', 'refund')
                UNION
                SELECT refund_move_id FROM retail_settlement_line
                 WHERE batch_id = %(batch)s AND refund_move_id IS NOT NULL)
            SELECT aml.id FROM account_move_line aml
              JOIN account_account acc ON acc.id = aml.account_id
             WHERE aml.move_id IN (SELECT move_id FROM documents)
               AND aml.parent_state = 'posted' AND NOT aml.reconciled
               AND acc.account_type = 'asset_receivable'""", {"batch": self.id})
        open_lines = self.env["account.move.line"].browse([r[0] for r in self.env.cr.fetchall()])
        for line in move.line_ids.filtered(
                lambda x: x.account_id.account_type == "asset_receivable" and x.partner_id):
            candidates = open_lines.filtered(
                lambda x, line=line: x.partner_id.commercial_partner_id == line.partner_id
                and x.account_id == line.account_id)
            if candidates:
                (line | candidates).reconcile()

    def _settlement_reverse(self):
        self.ensure_one()
        if self.state != "posted":
            raise UserError(self.env._("Only a posted batch can be reversed."))
        move = self.move_id
        move.line_ids.remove_move_reconcile()
        reversal = move._reverse_moves(default_values_list=[{
            "date": fields.Date.context_today(self),
            "ref": self.env._("Reversal of %s", move.ref)}], cancel=True)
        self.write({"state": "reversed", "reversal_move_id": reversal.id, "posted_amount": 0.0})
        self.message_post(body=self.env._("Posting reversed by %s.", reversal.name))
        successors = self.search([("previous_batch_id", "=", self.id),
                                  ("state", "in", ("imported", "matched", "exception"))])
        successors._settlement_match()
        return reversal
