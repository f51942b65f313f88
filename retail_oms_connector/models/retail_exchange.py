# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import models

from odoo.addons.retail_integration_base.services import errors

from ..services.payloads import content_hash


class RetailExchange(models.Model):
    _inherit = "retail.exchange"

    # -------------------------------------------------------------- inventory

    def _retail_handle_oms_inventory_sync(self, payload):
        result = self._send("PUT", "/v1/inventory", payload)
        body = result.body or {}
        return self.env._("%(accepted)s levels accepted, %(stale)s stale.",
                          accepted=body.get("accepted", "?"), stale=body.get("stale", "?"))

    # ----------------------------------------------------------- product push

    def _retail_handle_oms_product_push(self, payload):
        """PUT one batch of products; remember what the OMS now holds."""
        rows = payload.get("products") or []
        result = self._send("PUT", "/v1/products", payload)
        Product = self.env["product.product"].sudo().with_context(active_test=False)
        products = Product.search([("default_code", "in", [r["sku"] for r in rows])])
        by_sku = {p.default_code: p for p in products}
        Binding = self.env["retail.binding"].sudo()
        for row in rows:
            product = by_sku.get(row["sku"])
            if product:
                Binding._touch(self.backend_id, product, "synced", self,
                               external_id=row["sku"], content_hash=content_hash(row))
        return self.env._("%(n)s products accepted by the OMS.",
                          n=(result.body or {}).get("accepted", len(rows)))

    # ------------------------------------------------------------ order export

    def _retail_build_oms_order_export(self):
        order = self._linked_record()
        if not order:
            raise errors.RetailIntegrationError(
                self.env._("The sale order of this exchange no longer exists."), errors.VALIDATION)
        # Access was checked when the order was confirmed; reading it back as
        # superuser spares record rules on every line and product.
        return order.sudo()._retail_oms_order_payload(self.backend_id)

    def _retail_handle_oms_order_export(self, payload):
        order = self._linked_record()
        try:
            result = self._send("POST", "/v1/orders", payload)
            oms_id = (result.body or {}).get("oms_order_id")
        except errors.RetailIntegrationError as exc:
            # The OMS already holds this order (sent under another key):
            # bind to it instead of failing, so a retry never duplicates.
            known = [d.get("oms_order_id") for d in exc.details if isinstance(d, dict)]
            if exc.http_status != 409 or not any(known):
                raise
            oms_id = next(k for k in known if k)
        if not oms_id:
            raise errors.RetailIntegrationError(
                self.env._("The OMS accepted the order without an oms_order_id."), errors.VALIDATION)
        if order:
            self.env["retail.binding"]._touch(
                self.backend_id, order, "synced", self, external_id=oms_id,
                external_state="accepted")
        return self.env._("Order %(order)s accepted by the OMS as %(oms)s.",
                 order=payload.get("order_ref"), oms=oms_id)
