# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import base64
import json

from odoo import api, fields, models

KIND = "example_marketplace"
LISTING_PUSH = "example_listing_push"
EVENTS = "example_events"


class RetailBackend(models.Model):
    _inherit = "retail.backend"

    kind = fields.Selection(selection_add=[(KIND, "Example marketplace")],
                            ondelete={KIND: "cascade"})
    auth_type = fields.Selection(selection_add=[("basic", "HTTP Basic")],
                                 ondelete={"basic": "set default"})
    example_account = fields.Char(string="Marketplace account")

    @api.model
    def _retail_cache_fields(self):
        return super()._retail_cache_fields() | {"example_account"}

    def _retail_default_flows(self):
        flows = super()._retail_default_flows()
        if self.kind != KIND:
            return flows
        return flows + [
            {"name": "Listing push", "code": LISTING_PUSH, "direction": "outbound",
             "mode": "realtime"},
            {"name": "Marketplace notifications", "code": EVENTS, "direction": "inbound",
             "mode": "realtime", "event_types": "listing.*"},
        ]

    def _retail_auth_headers_basic(self):
        key = self._decrypt("api_key_encrypted")
        if not key:
            return {}
        token = base64.b64encode(f"{self.example_account or ''}:{key}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    def _retail_event_subject_keys(self):
        if self.kind != KIND:
            return super()._retail_event_subject_keys()
        return ("listing_id",)

    def _webhook_parse(self, body):
        if self.kind != KIND:
            return super()._webhook_parse(body)
        document = json.loads(body)
        notification = document.get("notification") if isinstance(document, dict) else None
        if not isinstance(notification, dict) or not isinstance(notification.get("topic"), str):
            raise ValueError("the body must be {'notification': {'topic': ..., ...}}")
        return {"type": notification["topic"], "sequence": notification.get("version"),
                "data": notification.get("payload") or {}}
