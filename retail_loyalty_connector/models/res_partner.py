# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from datetime import timedelta
import re

from odoo import api, fields, models
from odoo.exceptions import UserError

from odoo.addons.retail_integration_base.services import errors

from .retail_backend import ENROLL, MEMBER_REFRESH


class ResPartner(models.Model):
    """Loyalty membership shown on the customer.

    The platform owns points and tiers: these fields only mirror its last
    answer (enrollment, refresh, ``member.*`` webhooks). Odoo owns and sends
    the customer's name, email, phone and consents.
    """

    _inherit = "res.partner"

    retail_loyalty_member_ref = fields.Char(
        string="Loyalty member", readonly=True, copy=False, index=True)
    retail_loyalty_backend_id = fields.Many2one(
        "retail.backend", string="Loyalty platform", readonly=True, copy=False)
    retail_loyalty_tier = fields.Char(string="Tier", readonly=True, copy=False)
    retail_loyalty_balance = fields.Integer(string="Points balance", readonly=True, copy=False)
    retail_loyalty_pending = fields.Integer(
        string="Points held", readonly=True, copy=False,
        help="Points held by redemptions not yet confirmed or released.")
    retail_loyalty_refreshed_at = fields.Datetime(string="Balance as of", readonly=True,
                                                  copy=False)
    retail_loyalty_consent = fields.Boolean(
        string="Loyalty consent", help="The customer agreed to join the loyalty programme "
                                       "and to the use of their contact data for it.")
    retail_loyalty_transaction_ids = fields.One2many(
        "retail.loyalty.transaction", "partner_id", string="Loyalty transactions")

    def _loyalty_member_payload(self):
        """What Odoo owns and sends: identity and consents, never points."""
        self.ensure_one()
        phone = self.phone or self.mobile or ""
        return {
            "partner_ref": str(self.id),
            "email": (self.email or "").strip().lower() or None,
            "phone": re.sub(r"[^\d+]", "", phone) or None,
            "name": self.name,
            "consents": {"loyalty": bool(self.retail_loyalty_consent)},
        }

    def _loyalty_link(self, backend, member, exchange=None):
        """Bind this partner to a member; a member bound elsewhere is a
        conflict (``BusinessRuleError`` naming the other partner)."""
        self.ensure_one()
        self.env["retail.binding"]._touch(
            backend, self, "synced", exchange, external_id=member.get("member_ref"))
        self.sudo().write({"retail_loyalty_member_ref": member.get("member_ref"),
                           "retail_loyalty_backend_id": backend.id})
        self._loyalty_apply_member(member)

    def _loyalty_apply_member(self, member):
        values = {"retail_loyalty_refreshed_at": fields.Datetime.now()}
        if "tier" in member:
            values["retail_loyalty_tier"] = member["tier"]
        if "balance" in member:
            values["retail_loyalty_balance"] = int(member["balance"] or 0)
        if "pending" in member:
            values["retail_loyalty_pending"] = int(member["pending"] or 0)
        self.sudo().write(values)

    def _loyalty_backend(self):
        self.ensure_one()
        return self.retail_loyalty_backend_id.sudo() or \
            self.env["retail.backend"]._loyalty_backend_for(self.company_id or self.env.company)

    def _loyalty_is_stale(self):
        self.ensure_one()
        backend = self.retail_loyalty_backend_id.sudo()
        max_age = timedelta(minutes=backend.loyalty_balance_max_age or 0)
        return not self.retail_loyalty_refreshed_at or \
            fields.Datetime.now() - self.retail_loyalty_refreshed_at > max_age

    def _loyalty_refresh_now(self):
        """Refresh the balance while the user waits; False when the platform is down."""
        self.ensure_one()
        backend = self.retail_loyalty_backend_id.sudo()
        if not backend._loyalty_available():
            return False
        try:
            _exchange_id, member = backend._loyalty_call(
                MEMBER_REFRESH, "GET", f"/v1/members/{self.retail_loyalty_member_ref}",
                record=self)
        except errors.RetailIntegrationError:
            return False
        self._loyalty_apply_member(member)
        return True

    def _loyalty_enroll(self):
        """Queue the enrollment of partners that are not members yet."""
        enrolled = self.browse()
        for partner in self.filtered(lambda p: not p.retail_loyalty_member_ref):
            backend = partner._loyalty_backend()
            if not backend:
                raise UserError(self.env._("No active loyalty platform is configured."))
            if not (partner.email or partner.phone or partner.mobile):
                raise UserError(self.env._(
                    "%s needs an email or a phone number to join the loyalty programme.",
                    partner.display_name))
            self.env["retail.exchange"].sudo()._enqueue_outbound(
                backend, ENROLL, record=partner, idempotency_key=f"enroll:{partner.id}")
            enrolled |= partner
        return enrolled

    @api.model
    def _cron_loyalty_refresh_stale(self, limit=500):
        """Members whose balance is older than their backend allows get a refresh job."""
        Exchange = self.env["retail.exchange"].sudo()
        for backend in self.env["retail.backend"].sudo().search([("kind", "=", "loyalty")]):
            if not backend._loyalty_available():
                continue
            limit_date = fields.Datetime.now() - timedelta(
                minutes=backend.loyalty_balance_max_age or 0)
            partners = self.sudo().search([
                ("retail_loyalty_backend_id", "=", backend.id),
                "|", ("retail_loyalty_refreshed_at", "=", False),
                ("retail_loyalty_refreshed_at", "<", limit_date)], limit=limit)
            bucket = fields.Datetime.now().strftime("%Y%m%d%H%M")
            for partner in partners:
                Exchange._enqueue_outbound(
                    backend, MEMBER_REFRESH, record=partner, touch_binding=False,
                    idempotency_key=f"refresh:{partner.id}:{bucket}")
        return True

    # ---------------------------------------------------------------- actions

    def action_loyalty_enroll(self):
        partners = self._loyalty_enroll()
        return {"type": "ir.actions.client", "tag": "display_notification", "params": {
            "type": "success", "sticky": False,
            "message": self.env._("%s customer(s) sent to the loyalty platform.", len(partners))}}

    def action_loyalty_refresh(self):
        self.ensure_one()
        if not self.retail_loyalty_member_ref:
            raise UserError(self.env._("%s is not a loyalty member.", self.display_name))
        if not self._loyalty_refresh_now():
            raise UserError(self.env._(
                "The loyalty platform is unavailable: the balance shown is from %s.",
                self.retail_loyalty_refreshed_at or "-"))
        return True

    def action_view_loyalty_transactions(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "retail_loyalty_connector.retail_loyalty_transaction_action")
        action["domain"] = [("partner_id", "=", self.id)]
        return action
