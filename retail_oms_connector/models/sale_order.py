# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import fields, models

from odoo.addons.retail_integration_base.services import errors

from .retail_backend import ORDER_EXPORT
from .retail_exchange import minor_units


class SaleOrder(models.Model):
    _inherit = "sale.order"

    retail_payment_status = fields.Selection(
        [("none", "Not paid"), ("authorized", "Authorized"), ("captured", "Captured")],
        string="Payment status", default="none", copy=False, tracking=True,
        help="Tracked for the OMS export condition of the backend.")
    retail_psp_reference = fields.Char(string="PSP reference", copy=False)

    def action_confirm(self):
        result = super().action_confirm()
        self._retail_oms_export()
        return result

    def write(self, vals):
        result = super().write(vals)
        if "retail_payment_status" in vals:
            self.filtered(lambda o: o.state == "sale")._retail_oms_export()
        return result

    def _retail_oms_backends(self):
        return self.env["retail.backend"].sudo().search([
            ("kind", "=", "oms"), ("company_id", "in", self.company_id.ids)])

    def _retail_oms_export(self):
        """Record and enqueue the export of confirmed orders (nothing slow here).

        The idempotency key is stable per order and backend, so confirming,
        re-confirming or a payment update never sends an order twice.
        """
        if not self:
            return
        backends = self._retail_oms_backends()
        if not backends:
            return
        Exchange = self.env["retail.exchange"].sudo()
        for order in self:
            for backend in backends.filtered(lambda b, o=order: b.company_id == o.company_id):
                if not backend._oms_export_allowed(order):
                    continue
                Exchange._enqueue_outbound(
                    backend, ORDER_EXPORT, record=order,
                    idempotency_key=f"order:{order.name}:{backend.id}",
                    external_ref=order.name)

    # --------------------------------------------------------------- payloads

    def _retail_oms_order_payload(self, backend):
        """The ``POST /v1/orders`` body (CONTRACTS.md), amounts in minor units.

        Override ``_prepare_retail_oms_line_values`` to add line data.
        """
        self.ensure_one()
        currency = self.currency_id
        Mapping = self.env["retail.mapping"]
        channel = (Mapping._to_external(backend, "channel", self.team_id,
                                        default=backend.oms_default_channel or "web")
                   if self.team_id else backend.oms_default_channel or "web")
        partner = self.partner_id
        shipping = self.partner_shipping_id or partner
        warehouse = self.warehouse_id
        pickup = self.env.context.get("retail_pickup") or False
        lines = [self._prepare_retail_oms_line_values(line, currency)
                 for line in self.order_line.filtered(
                     lambda line: not line.display_type and line.product_id.type == "consu")]
        if not lines:
            raise errors.RetailIntegrationError(
                self.env._("Order %s has no goods to fulfil.", self.name), errors.VALIDATION)
        return {
            "order_ref": self.name,
            "channel": channel,
            "placed_at": (self.date_order or fields.Datetime.now()).strftime(
                "%Y-%m-%dT%H:%M:%S+00:00"),
            "currency": currency.name,
            "totals": {
                "untaxed": minor_units(self.amount_untaxed, currency),
                "tax": minor_units(self.amount_tax, currency),
                "total": minor_units(self.amount_total, currency),
            },
            "customer": {
                "partner_ref": partner.ref or f"odoo-partner-{partner.id}",
                "member_ref": None,
                "email": partner.email or None,
                "phone": partner.phone or partner.mobile or None,
                "name": partner.name,
            },
            "ship_to": {
                "name": shipping.name, "street": shipping.street or None,
                "city": shipping.city or None, "zip": shipping.zip or None,
                "country": shipping.country_id.code or None,
            },
            "fulfillment": {
                "type": "pickup" if pickup else "ship",
                "pickup_location_ref": Mapping._to_external(backend, "location", warehouse)
                if pickup else None,
            },
            "payment": {
                "status": self.retail_payment_status
                if self.retail_payment_status != "none" else "authorized",
                "psp_reference": self.retail_psp_reference or None,
            },
            "lines": lines,
        }

    def _prepare_retail_oms_line_values(self, line, currency):
        sku = line.product_id.default_code
        if not sku:
            raise errors.RetailIntegrationError(
                self.env._("Product %s has no internal reference: the OMS needs it as SKU.",
                  line.product_id.display_name), errors.VALIDATION,
                details=[{"line": line.id, "field": "product.default_code"}])
        gross = line.price_unit * line.product_uom_qty
        return {
            "line_ref": str(line.id),
            "sku": sku,
            # The OMS counts units: whole quantities travel as integers.
            "qty": int(line.product_uom_qty) if float(line.product_uom_qty).is_integer()
            else line.product_uom_qty,
            "unit_price": minor_units(line.price_unit, currency),
            "discount": minor_units(gross - line.price_subtotal, currency),
            "tax": minor_units(line.price_tax, currency),
        }
