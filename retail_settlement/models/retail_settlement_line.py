# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import api, fields, models

from ..services import matching
from .retail_settlement_fee_account import FEE_CATEGORY_SELECTION

LINE_TYPE_SELECTION = [
    ("sale", "Sale"), ("refund", "Refund"), ("chargeback", "Chargeback"),
    ("chargeback_reversal", "Chargeback reversal"), ("fee", "Fee"),
    ("adjustment", "Adjustment"), ("payout", "Payout"), ("malformed", "Malformed row"),
]


class RetailSettlementLine(models.Model):
    """One line of a payout: a settled sale, refund, chargeback, fee, or the
    transfer to the bank. Amounts are kept exactly, as integer minor units
    (``*_minor``), beside their monetary values for reports.

    Lines are written in bulk by the batch (SQL, one statement per chunk) and
    updated in bulk by matching: a 100,000-line payout must not cost 100,000
    ORM round trips.
    """

    _name = "retail.settlement.line"
    _description = "Settlement Line"
    _order = "batch_id, sequence, id"
    _rec_name = "line_ref"

    batch_id = fields.Many2one(
        "retail.settlement.batch", required=True, ondelete="cascade", index=True, readonly=True)
    # Few indexes on purpose: each one costs on every bulk insert and update.
    backend_id = fields.Many2one("retail.backend", required=True, readonly=True)
    company_id = fields.Many2one("res.company", required=True, readonly=True)
    batch_state = fields.Selection(related="batch_id.state", string="Batch state")
    payout_ref = fields.Char(related="batch_id.payout_ref")
    sequence = fields.Integer(string="Row", readonly=True, help="Row of the file (1 = header).")
    line_ref = fields.Char(string="Line reference", readonly=True)
    line_type = fields.Selection(LINE_TYPE_SELECTION, string="Type", required=True,
                                 readonly=True)
    merchant_order_ref = fields.Char(string="Merchant reference", readonly=True)
    merchant_refund_ref = fields.Char(string="Refund reference", readonly=True,
                                      index="btree_not_null")
    psp_reference = fields.Char(string="PSP reference", readonly=True,
                                index="btree_not_null")
    currency_id = fields.Many2one("res.currency", required=True, readonly=True)
    gross = fields.Monetary(readonly=True)
    fee = fields.Monetary(readonly=True)
    net = fields.Monetary(readonly=True)
    expected_amount = fields.Monetary(
        string="Odoo amount", readonly=True,
        help="Total of the matched order or credit note.")
    gross_minor = fields.Integer(readonly=True, aggregator="sum")
    fee_minor = fields.Integer(readonly=True, aggregator="sum")
    net_minor = fields.Integer(readonly=True, aggregator="sum")
    expected_minor = fields.Integer(readonly=True)
    fee_parts = fields.Json(readonly=True, help="Fee by category, minor units.")
    fee_category = fields.Selection(FEE_CATEGORY_SELECTION, readonly=True,
                                    help="The line's main fee category.")
    booked_at = fields.Datetime(readonly=True)
    state = fields.Selection(
        [("new", "To match"), ("matched", "Matched"), ("none", "Categorised"),
         ("exception", "Exception")],
        default="new", required=True, readonly=True)
    exception_kind = fields.Selection(matching.EXCEPTION_KINDS, readonly=True)
    exception_reason = fields.Text(readonly=True)
    matched_by = fields.Selection(
        [("merchant_ref", "Merchant reference"), ("psp_ref", "PSP reference"),
         ("refund_ref", "Refund reference")], readonly=True)
    sale_order_id = fields.Many2one("sale.order", string="Order", readonly=True, index=True)
    refund_move_id = fields.Many2one("account.move", string="Credit note", readonly=True,
                                     index="btree_not_null")
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    raw = fields.Text(string="Raw row", readonly=True)
    exchange_id = fields.Many2one("retail.exchange", string="Exception message", readonly=True,
                                  index="btree_not_null")

    @api.depends("line_ref", "line_type", "sequence")
    def _compute_display_name(self):
        for line in self:
            line.display_name = line.line_ref or f"row {line.sequence}"

    def action_open_exception(self):
        self.ensure_one()
        return self.exchange_id._job_related_action_exchange() if self.exchange_id else False
