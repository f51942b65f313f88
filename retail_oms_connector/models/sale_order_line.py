# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import models
from odoo.exceptions import UserError

from .retail_backend import ORDER_UPDATE


class SaleOrderLine(models.Model):
    _inherit = "sale.order.line"

    def write(self, vals):
        if "product_uom_qty" not in vals:
            return super().write(vals)
        exported = self._retail_oms_exported_lines()
        for line in exported:
            if vals["product_uom_qty"] > line.product_uom_qty:
                raise UserError(self.env._(
                    "%(order)s is in the OMS: its quantities can only be reduced. Place a new "
                    "order for more %(product)s.", order=line.order_id.name,
                    product=line.product_id.display_name))
            if vals["product_uom_qty"] < line.qty_delivered:
                raise UserError(self.env._(
                    "The OMS already shipped %(qty)s of %(product)s on %(order)s.",
                    qty=line.qty_delivered, product=line.product_id.display_name,
                    order=line.order_id.name))
        result = super().write(vals)
        exported._retail_oms_send_quantities()
        return result

    def _retail_oms_exported_lines(self):
        """Lines of confirmed orders the OMS already holds."""
        return self.filtered(lambda line: line.order_id.state == "sale" and any(
            export.state == "done" for export in line.order_id._retail_oms_exports()))

    def _retail_oms_send_quantities(self):
        """Tell the OMS the new ordered quantities (absolute, so a repeat is
        harmless). An export still waiting carries them by itself."""
        Exchange = self.env["retail.exchange"].sudo()
        for line in self:
            order = line.order_id
            for export in order._retail_oms_exports().filtered(lambda e: e.state == "done"):
                backend = export.backend_id
                flow = backend._get_flow(ORDER_UPDATE, raise_if_missing=False)
                if not flow.active:
                    continue
                qty = line.product_uom_qty
                Exchange._enqueue_outbound(
                    backend, flow, record=order,
                    idempotency_key=f"order-lines:{order.name}:{line.id}:{qty:g}",
                    payload={"order_ref": order.name, "reason": "reduced_in_odoo",
                             "lines": [{"line_ref": str(line.id),
                                        "qty": int(qty) if float(qty).is_integer() else qty}]},
                    external_ref=order.name)

