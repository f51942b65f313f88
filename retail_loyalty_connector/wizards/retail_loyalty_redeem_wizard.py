# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import api, fields, models


class RetailLoyaltyRedeemWizard(models.TransientModel):
    _name = "retail.loyalty.redeem.wizard"
    _description = "Redeem Loyalty Points"

    order_id = fields.Many2one("sale.order", required=True, readonly=True)
    partner_id = fields.Many2one(related="order_id.partner_id")
    member_ref = fields.Char(related="order_id.partner_id.retail_loyalty_member_ref")
    tier = fields.Char(related="order_id.partner_id.retail_loyalty_tier")
    balance = fields.Integer(related="order_id.partner_id.retail_loyalty_balance")
    pending = fields.Integer(related="order_id.partner_id.retail_loyalty_pending")
    available = fields.Integer(compute="_compute_available")
    balance_as_of = fields.Datetime(related="order_id.partner_id.retail_loyalty_refreshed_at")
    points = fields.Integer(required=True)
    platform_unavailable = fields.Boolean(compute="_compute_available")

    @api.depends("balance", "pending")
    def _compute_available(self):
        for wizard in self:
            wizard.available = max(wizard.balance - wizard.pending, 0)
            backend = wizard.partner_id.retail_loyalty_backend_id.sudo()
            wizard.platform_unavailable = bool(backend.loyalty_unavailable_since)

    def action_redeem(self):
        self.ensure_one()
        self.order_id._loyalty_redeem(self.points)
        return {"type": "ir.actions.act_window_close"}
