# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import fields, models


class SaleOrderLine(models.Model):
    _inherit = "sale.order.line"

    retail_loyalty_transaction_id = fields.Many2one(
        "retail.loyalty.transaction", string="Loyalty redemption", readonly=True, copy=False,
        index="btree_not_null", ondelete="restrict")

    def unlink(self):
        # Removing the discount gives the held points back.
        txns = self.retail_loyalty_transaction_id.filtered(
            lambda t: t.state in ("held", "offline") and t.order_id.state in ("draft", "sent"))
        result = super().unlink()
        txns._loyalty_release()
        return result
