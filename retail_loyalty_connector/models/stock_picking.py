# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import models


class StockPicking(models.Model):
    _inherit = "stock.picking"

    def _action_done(self):
        result = super()._action_done()
        orders = self.filtered(lambda p: p.picking_type_code == "outgoing").sale_id
        orders._loyalty_accrual_due("delivered")._loyalty_accrue()
        return result
