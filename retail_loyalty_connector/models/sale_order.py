# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from datetime import datetime

from odoo import api, fields, models
from odoo.exceptions import UserError

from odoo.addons.retail_integration_base.services import errors

from .retail_backend import REDEEM

ACCRUAL_STATES = [
    ("none", "Nothing to earn yet"),
    ("queued", "Waiting to post"),
    ("deferred", "Deferred (platform unavailable)"),
    ("posted", "Points earned"),
    ("failed", "Failed"),
]


class SaleOrder(models.Model):
    _inherit = "sale.order"

    retail_loyalty_transaction_ids = fields.One2many(
        "retail.loyalty.transaction", "order_id", string="Loyalty transactions")
    retail_loyalty_points_redeemed = fields.Integer(
        string="Points redeemed", compute="_compute_retail_loyalty_points_redeemed")
    retail_loyalty_accrual_state = fields.Selection(
        ACCRUAL_STATES, string="Loyalty accrual", default="none", readonly=True, copy=False,
        index=True)
    retail_loyalty_member_ref = fields.Char(related="partner_id.retail_loyalty_member_ref")

    @api.depends("retail_loyalty_transaction_ids.state", "retail_loyalty_transaction_ids.points")
    def _compute_retail_loyalty_points_redeemed(self):
        for order in self:
            order.retail_loyalty_points_redeemed = sum(
                txn.requested_points for txn in order.retail_loyalty_transaction_ids
                if txn.type == "redeem" and txn.state in ("held", "offline", "confirmed"))

    def _loyalty_refresh_accrual_state(self):
        for order in self:
            earn = order.retail_loyalty_transaction_ids.filtered(lambda t: t.type == "earn")[:1]
            state = earn.state if earn.state in ("queued", "deferred", "posted", "failed") \
                else "none"
            if order.retail_loyalty_accrual_state != state:
                order.sudo().retail_loyalty_accrual_state = state

    # ------------------------------------------------------------ redemption

    def _loyalty_redeem(self, points):
        """Redeem ``points`` on this quotation: the platform holds them and
        says what they are worth; the order gets a discount line of exactly
        that value. While the platform is down the backend's degraded policy
        decides."""
        self.ensure_one()
        if self.state not in ("draft", "sent"):
            raise UserError(self.env._("Points can only be redeemed on a quotation."))
        partner = self.partner_id
        if not partner.retail_loyalty_member_ref:
            raise UserError(self.env._("%s is not a loyalty member.", partner.display_name))
        if points <= 0:
            raise UserError(self.env._("Enter a positive number of points."))
        backend = partner.retail_loyalty_backend_id.sudo()
        if not backend.loyalty_redemption_product_id:
            raise UserError(self.env._("Set the redemption product on %s.", backend.name))
        Txn = self.env["retail.loyalty.transaction"].sudo()
        attempt = Txn.search_count([("order_id", "=", self.id), ("type", "=", "redeem")])
        key = f"redeem:{self.id}:{attempt + 1}"
        values = {
            "backend_id": backend.id, "type": "redeem", "partner_id": partner.id,
            "member_ref": partner.retail_loyalty_member_ref, "order_id": self.id,
            "requested_points": points, "currency_id": self.currency_id.id,
            "idempotency_key": key,
        }
        body = None
        if backend._loyalty_available():
            try:
                _exchange_id, body = backend._loyalty_call(
                    REDEEM, "POST", "/v1/redemptions",
                    {"member_ref": partner.retail_loyalty_member_ref, "order_ref": self.name,
                     "points": points}, key=key, record=self, external_ref=self.name,
                    accept_codes=("insufficient_points",))
            except errors.RetailIntegrationError as exc:
                if exc.result is not None and \
                        exc.result.error_payload().get("code") == "insufficient_points":
                    details = exc.result.error_payload().get("details") or [{}]
                    raise UserError(self.env._(
                        "%(partner)s does not have enough points: %(points)s asked, "
                        "%(available)s available.", partner=partner.display_name, points=points,
                        available=details[0].get("available", "?"))) from exc
                if exc.failure_class not in (errors.TRANSIENT, errors.RATE_LIMITED):
                    raise UserError(self.env._(
                        "The loyalty platform refused the redemption: %s", exc.message)) from exc
        if body is not None:
            value = body.get("value") or {}
            values.update(state="held", platform_ref=body.get("redemption_ref"),
                          points=-points, amount=int(value.get("amount") or 0)
                          / 10 ** self.currency_id.decimal_places,
                          hold_expires_at=_parse_datetime(body.get("hold_expires_at")))
        else:
            values.update(self._loyalty_offline_redemption(backend, points))
        txn = Txn.create(values)
        self._loyalty_add_discount_line(txn)
        return txn

    def _loyalty_offline_redemption(self, backend, points):
        """Degraded mode: refuse, or grant up to the cap and reconcile later."""
        if backend.loyalty_degraded_redemption != "cap":
            raise UserError(self.env._(
                "The loyalty platform is unavailable: points cannot be redeemed now. "
                "Try again in a moment, or go on without redeeming."))
        cap = backend.loyalty_offline_points_cap
        if points > cap:
            raise UserError(self.env._(
                "The loyalty platform is unavailable: at most %(cap)s points can be redeemed "
                "until it is back (%(points)s asked).", cap=cap, points=points))
        partner = self.partner_id
        granted = sum(self.env["retail.loyalty.transaction"].sudo().search([
            ("partner_id", "=", partner.id), ("state", "=", "offline")]).mapped(
                "requested_points"))
        available = partner.retail_loyalty_balance - partner.retail_loyalty_pending - granted
        if points > available:
            raise UserError(self.env._(
                "The loyalty platform is unavailable and the last known balance of "
                "%(partner)s allows %(available)s points at most.", partner=partner.display_name,
                available=max(available, 0)))
        return {"state": "offline", "points": -points,
                "amount": points * backend.loyalty_offline_point_value
                / 10 ** self.currency_id.decimal_places}

    def _loyalty_add_discount_line(self, txn):
        product = txn.backend_id.loyalty_redemption_product_id
        self.env["sale.order.line"].sudo().create({
            "order_id": self.id, "product_id": product.id, "product_uom_qty": 1,
            "product_uom": product.uom_id.id, "customer_lead": 0.0,
            "price_unit": -txn.amount, "tax_id": [(5, 0, 0)],
            "name": self.env._("Loyalty: %(points)s points redeemed", points=txn.requested_points),
            "retail_loyalty_transaction_id": txn.id, "sequence": 9999})

    # ------------------------------------------------------- order lifecycle

    def action_confirm(self):
        redemptions = self.retail_loyalty_transaction_ids.filtered(lambda t: t.type == "redeem")
        for line in self.order_line.filtered("retail_loyalty_transaction_id"):
            if line.retail_loyalty_transaction_id.state not in ("held", "offline", "confirmed"):
                raise UserError(self.env._(
                    "%(order)s has a loyalty discount whose redemption is %(state)s: remove the "
                    "loyalty line and redeem again.", order=line.order_id.name,
                    state=line.retail_loyalty_transaction_id.state))
        now = fields.Datetime.now()
        for txn in redemptions.filtered(lambda t: t.state == "held"):
            if txn.hold_expires_at and txn.hold_expires_at <= now:
                txn._loyalty_hold_lost(errors.RetailIntegrationError(self.env._(
                    "the hold expired at %s", txn.hold_expires_at), errors.BUSINESS))
        # Confirm the holds first: the platform is the judge of an expired hold.
        redemptions.filtered(lambda t: t.state == "held")._loyalty_confirm()
        result = super().action_confirm()
        for order in self:
            partner = order.partner_id
            if partner.retail_loyalty_member_ref or not (partner.email or partner.phone):
                continue
            backend = partner._loyalty_backend()
            if backend and backend.loyalty_enroll_policy == "first_order":
                partner._loyalty_enroll()
        return result

    def _action_cancel(self):
        result = super()._action_cancel()
        self.retail_loyalty_transaction_ids.filtered(
            lambda t: t.type == "redeem")._loyalty_release()
        return result

    @api.model
    def _cron_loyalty_release_expired_quotations(self):
        """Quotations past their validity give their held points back."""
        orders = self.search([
            ("state", "in", ("draft", "sent")), ("validity_date", "<", fields.Date.today()),
            ("retail_loyalty_transaction_ids.state", "in", ("held", "offline"))])
        for order in orders:
            lines = order.order_line.filtered("retail_loyalty_transaction_id")
            lines.unlink()  # releases, see sale.order.line.unlink
            order.message_post(body=self.env._(
                "The quotation expired: the loyalty points it held were released."))
        return len(orders)

    # --------------------------------------------------------------- accrual

    def _loyalty_accrue(self):
        """Post the order's earn transaction, exactly once per order."""
        Txn = self.env["retail.loyalty.transaction"].sudo()
        orders = self.filtered(lambda o: o.partner_id.retail_loyalty_member_ref)
        earned = set(Txn.search([
            ("idempotency_key", "in", [f"earn:{order.id}" for order in orders])]).mapped(
                lambda t: (t.backend_id.id, t.idempotency_key)))
        for order in orders:
            partner = order.partner_id
            key = f"earn:{order.id}"
            if (partner.retail_loyalty_backend_id.id, key) in earned:
                continue
            txn = Txn.create({
                "backend_id": partner.retail_loyalty_backend_id.id, "type": "earn",
                "state": "queued", "partner_id": partner.id,
                "member_ref": partner.retail_loyalty_member_ref, "order_id": order.id,
                "amount": order.amount_total, "currency_id": order.currency_id.id,
                "idempotency_key": key})
            txn._loyalty_post()
            order._loyalty_refresh_accrual_state()

    def _loyalty_accrual_due(self, point):
        """Orders of this set that reached the backend's accrual point."""
        due = self.browse()
        for order in self.filtered(lambda o: o.state == "sale"
                                   and o.partner_id.retail_loyalty_member_ref):
            if order.partner_id.retail_loyalty_backend_id.sudo().loyalty_accrual_point != point:
                continue
            if point == "delivered":
                goods = order.order_line.filtered(
                    lambda line: line.product_id.type == "consu" and not line.display_type)
                if goods and all(line.qty_delivered >= line.product_uom_qty for line in goods):
                    due |= order
            elif order.invoice_status == "invoiced":
                due |= order
        return due

    def _loyalty_reverse(self, key, amount, return_ref, credit_note=None):
        """A return or refund: reverse the order's earn in proportion to ``amount``."""
        self.ensure_one()
        Txn = self.env["retail.loyalty.transaction"].sudo()
        earn = self.retail_loyalty_transaction_ids.filtered(
            lambda t: t.type == "earn" and t.state not in ("failed",))[:1]
        if not earn or amount <= 0:
            return Txn
        existing = Txn.search([("backend_id", "=", earn.backend_id.id),
                               ("idempotency_key", "=", key)])
        if existing:
            return existing
        reversal = Txn.create({
            "backend_id": earn.backend_id.id, "type": "reversal", "state": "queued",
            "partner_id": earn.partner_id.id, "member_ref": earn.member_ref,
            "order_id": self.id, "return_ref": return_ref, "reverses_id": earn.id,
            "credit_note_id": credit_note.id if credit_note else False,
            "amount": amount, "currency_id": self.currency_id.id, "idempotency_key": key})
        reversal._loyalty_post()
        return reversal

    def _retail_oms_returned(self, oms_return):
        result = super()._retail_oms_returned(oms_return)
        amount = oms_return.refund_amount
        if not amount:
            # No refund amount from the OMS: what the returned goods were paid.
            amount = sum(move.quantity * move.sale_line_id.price_reduce_taxinc
                         for move in oms_return.picking_ids.move_ids if move.sale_line_id)
        self._loyalty_reverse(f"reversal:oms:{oms_return.id}", amount, oms_return.return_ref)
        return result

    def action_loyalty_redeem(self):
        self.ensure_one()
        if not self.partner_id.retail_loyalty_member_ref:
            raise UserError(self.env._("%s is not a loyalty member.", self.partner_id.display_name))
        if self.partner_id._loyalty_is_stale():
            self.partner_id._loyalty_refresh_now()
        return {
            "type": "ir.actions.act_window", "res_model": "retail.loyalty.redeem.wizard",
            "view_mode": "form", "target": "new", "name": self.env._("Redeem points"),
            "context": {"default_order_id": self.id},
        }

    def action_view_loyalty_transactions(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "retail_loyalty_connector.retail_loyalty_transaction_action")
        action["domain"] = [("order_id", "=", self.id)]
        return action


def _parse_datetime(value):
    """ISO 8601 with offset -> naive UTC, as Odoo stores datetimes."""
    if not value:
        return False
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo:
        parsed = (parsed - parsed.utcoffset()).replace(tzinfo=None)
    return parsed
