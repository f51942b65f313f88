# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import fields, models

ORDER_EXPORT = "oms_order_export"


class RetailBackend(models.Model):
    _inherit = "retail.backend"

    kind = fields.Selection(selection_add=[("oms", "Order management system")],
                            ondelete={"oms": "cascade"})
    oms_export_condition = fields.Selection(
        [("confirmed", "On confirmation"), ("authorized", "Payment authorized"),
         ("captured", "Payment captured")],
        string="Export orders", default="confirmed",
        help="Orders are sent to the OMS once confirmed and, if set, once their payment "
             "reaches this status.")
    oms_default_channel = fields.Char(
        string="Default channel", default="web",
        help="Channel code sent when the order's sales team has no channel mapping.")

    def _retail_default_flows(self):
        flows = super()._retail_default_flows()
        if self.kind != "oms":
            return flows
        return flows + [
            {"name": "Order export", "code": ORDER_EXPORT, "direction": "outbound",
             "mode": "realtime", "channel": "root.retail.oms", "sequence": 10},
            {"name": "Product push", "code": "oms_product_push", "direction": "outbound",
             "mode": "batch", "channel": "root.retail.oms", "sequence": 40,
             "interval_number": 1, "interval_type": "hours"},
        ]

    def _oms_export_allowed(self, order):
        """True when ``order`` satisfies this backend's payment condition."""
        self.ensure_one()
        condition = self.oms_export_condition
        if condition == "confirmed":
            return True
        status = order.retail_payment_status
        return status == "captured" or (condition == "authorized" and status == "authorized")
