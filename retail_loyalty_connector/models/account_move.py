# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import models


class AccountMove(models.Model):
    _inherit = "account.move"

    def _post(self, soft=True):
        posted = super()._post(soft=soft)
        invoices = posted.filtered(lambda m: m.move_type == "out_invoice")
        invoices.line_ids.sale_line_ids.order_id._loyalty_accrual_due("invoiced")._loyalty_accrue()
        # Credit notes made in Odoo reverse points; those of OMS returns are
        # already reversed by the return itself.
        from_returns = self.env["retail.oms.return"].sudo().search(
            [("credit_note_ids", "in", posted.ids)]).credit_note_ids
        for refund in posted.filtered(lambda m: m.move_type == "out_refund") - from_returns:
            for order in refund.line_ids.sale_line_ids.order_id:
                order._loyalty_reverse(f"reversal:refund:{refund.id}:{order.id}",
                                       refund.amount_total, refund.name, credit_note=refund)
        return posted
