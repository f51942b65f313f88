# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import base64
import binascii
import json

from odoo import fields, models
from odoo.exceptions import UserError

from ..services import parsers

QUIET = {"mail_create_nolog": True, "mail_create_nosubscribe": True, "tracking_disable": True}


class RetailSettlementImportWizard(models.TransientModel):
    """Upload a settlement report. The file becomes an inbound message of the
    backend's import flow (so a refused file waits in the exception queue
    with its reason and can be retried after the policy or data changed),
    processed right away by the backend's integration user."""

    _name = "retail.settlement.import.wizard"
    _description = "Import a Settlement File"

    backend_id = fields.Many2one(
        "retail.backend", required=True, domain="[('kind', '=', 'settlement')]",
        default=lambda self: self.env["retail.backend"].search(
            [("kind", "=", "settlement")], limit=1))
    layout = fields.Selection(
        [("auto", "Detect"), ("canonical", "Canonical CSV"),
         ("adyen", "Adyen settlement details report"),
         ("stripe", "Stripe itemized payout reconciliation")],
        required=True, default="auto")
    data_file = fields.Binary(string="File", required=True)
    filename = fields.Char()

    def action_import(self):
        self.ensure_one()
        try:
            content = base64.b64decode(self.data_file or b"").decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise UserError(self.env._("The file is not UTF-8 text.")) from exc
        backend = self.backend_id
        flow = backend._get_flow("settlement_import")
        Exchange = self.env["retail.exchange"].sudo().with_context(**QUIET)
        key = f"file:{parsers.content_hash(content)}"
        exchange = Exchange.search([("backend_id", "=", backend.id),
                                    ("direction", "=", "inbound"),
                                    ("idempotency_key", "=", key)], limit=1)
        if exchange and exchange.state in ("done", "ignored"):
            return self._open_result(exchange, self.env._(
                "This file was already imported: nothing changed."))
        if not exchange:
            exchange = Exchange.create({
                "name": self.env._("← settlement file %s", self.filename or ""),
                "backend_id": backend.id, "company_id": backend.company_id.id,
                "flow_id": flow.id, "direction": "inbound", "idempotency_key": key,
                "external_ref": self.filename, "event_type": "file",
                "payload": json.dumps({
                    "source": "file", "filename": self.filename,
                    "layout": False if self.layout == "auto" else self.layout,
                    "content": content}),
            })
        else:
            exchange.write({"state": "pending", "attempts": 0})
        outcome = exchange._job_context()._job_process()
        return self._open_result(exchange, outcome)

    def _open_result(self, exchange, message):
        record = exchange._linked_record()
        if exchange.state == "failed" or not record:
            record = exchange
        action = {"type": "ir.actions.act_window", "res_model": record._name,
                  "res_id": record.id, "views": [[False, "form"]], "target": "current",
                  "name": record.display_name}
        return {"type": "ir.actions.client", "tag": "display_notification",
                "params": {"title": self.env._("Settlement import"), "message": str(message),
                           "type": "danger" if exchange.state == "failed" else "success",
                           "sticky": exchange.state == "failed", "next": action}}
