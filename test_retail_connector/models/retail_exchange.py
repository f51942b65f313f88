# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import json

from odoo import models

from odoo.addons.retail_integration_base.services import errors


class RetailExchange(models.Model):
    _inherit = "retail.exchange"

    def _retail_build_example_listing_push(self):
        product = self._linked_record()
        if not product:
            raise errors.RetailIntegrationError(
                self.env._("The product of this listing is gone."), errors.VALIDATION)
        return {"sku": product.default_code, "title": product.name,
                "price": round(product.lst_price * 100)}

    def _retail_handle_example_listing_push(self, payload):
        result = self._send("PUT", f"/listings/{payload['sku']}", payload)
        return self.env._("HTTP %s", result.status)

    def _retail_handle_example_events(self, payload):
        # The stored payload is the partner's own envelope.
        event = self.backend_id._webhook_parse(json.dumps(payload).encode())
        listing = event["data"].get("listing_id")
        if not listing:
            raise errors.RetailIntegrationError(
                self.env._("A notification needs a listing_id."), errors.VALIDATION)
        return self.env._("Listing %(listing)s: %(topic)s.", listing=listing,
                          topic=event["type"])
