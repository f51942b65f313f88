# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import fields, models


class RetailOmsReturn(models.Model):
    """A return the OMS received, in any channel, applied once in Odoo."""

    _name = "retail.oms.return"
    _description = "OMS Return"
    _order = "id desc"
    _rec_name = "return_ref"

    backend_id = fields.Many2one("retail.backend", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="backend_id.company_id", store=True)
    order_id = fields.Many2one("sale.order", required=True, ondelete="cascade", index=True)
    return_ref = fields.Char(required=True)
    channel = fields.Char(help="Where the customer returned the goods (may differ from the "
                               "order's channel).")
    picking_ids = fields.Many2many("stock.picking", string="Return receipts")
    scrap_ids = fields.Many2many("stock.scrap", string="Scrapped")
    credit_note_ids = fields.Many2many("account.move", string="Credit notes")
    refund_amount = fields.Monetary(currency_field="currency_id")
    currency_id = fields.Many2one("res.currency")
    last_exchange_id = fields.Many2one("retail.exchange", ondelete="set null")

    _sql_constraints = [
        ("ref_unique", "UNIQUE(backend_id, return_ref)",
         "A return reference is unique per OMS backend."),
    ]
