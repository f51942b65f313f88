# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import api, fields, models
from odoo.exceptions import UserError

from odoo.addons.retail_integration_base.services import errors

from .retail_backend import POSTING, REDEEM, REDEEM_CONFIRM, REDEEM_RELEASE

TYPES = [("redeem", "Redemption"), ("earn", "Accrual"), ("reversal", "Reversal")]
STATES = [
    ("held", "Held"),              # redemption: points held on the platform
    ("offline", "Granted offline"),  # redemption granted while the platform was down
    ("confirmed", "Confirmed"),    # redemption: points spent
    ("released", "Released"),
    ("expired", "Hold expired"),
    ("queued", "Waiting to post"),  # accrual/reversal: in the posting queue
    ("deferred", "Deferred (platform unavailable)"),
    ("posted", "Posted"),
    ("failed", "Failed"),
]


class RetailLoyaltyTransaction(models.Model):
    """One post to the loyalty platform, as the platform answered it.

    The ledger of the suite: Odoo never computes points, it records them.
    Redemptions go held -> confirmed / released / expired (or *offline*
    when granted in degraded mode, reconciled later); accruals and reversals
    go queued -> posted, through an ordered posting queue per backend.
    ``idempotency_key`` is the business operation: one accrual per order,
    one reversal per return or credit note, whatever the retries.
    """

    _name = "retail.loyalty.transaction"
    _description = "Loyalty Transaction"
    _inherit = ["mail.thread"]
    _order = "id desc"

    name = fields.Char(compute="_compute_name", store=True)
    backend_id = fields.Many2one("retail.backend", required=True, index=True, ondelete="restrict")
    company_id = fields.Many2one(related="backend_id.company_id", store=True, index=True)
    type = fields.Selection(TYPES, required=True, index=True)
    state = fields.Selection(STATES, required=True, index=True, tracking=True)
    partner_id = fields.Many2one("res.partner", required=True, index=True, ondelete="restrict")
    member_ref = fields.Char(required=True, index=True)
    order_id = fields.Many2one("sale.order", index=True, ondelete="restrict")
    return_ref = fields.Char(help="The OMS return or the credit note a reversal is for.")
    credit_note_id = fields.Many2one("account.move", ondelete="set null")
    reverses_id = fields.Many2one("retail.loyalty.transaction", ondelete="restrict")
    points = fields.Integer(help="As the platform answered: positive earned, negative spent.")
    requested_points = fields.Integer(help="Redemption: points asked for.")
    amount = fields.Monetary(
        currency_field="currency_id",
        help="Accrual/reversal: the paid or refunded amount sent. Redemption: the value "
             "of the points (the discount).")
    currency_id = fields.Many2one("res.currency", required=True)
    platform_ref = fields.Char(index=True, help="Redemption or transaction reference.")
    txn_ref = fields.Char(string="Ledger reference", index=True,
                          help="The platform's ledger transaction (a confirmed redemption's "
                               "spend, an accrual, a reversal).")
    hold_expires_at = fields.Datetime()
    idempotency_key = fields.Char(required=True, readonly=True, copy=False)
    error = fields.Text()
    line_ids = fields.One2many("sale.order.line", "retail_loyalty_transaction_id")

    _sql_constraints = [
        ("key_unique", "UNIQUE(backend_id, idempotency_key)",
         "This loyalty operation was already recorded."),
    ]

    @api.model_create_multi
    def create(self, vals_list):
        # The ledger is written by the flows on hot paths (checkout, deliveries):
        # no creation message or follower; state changes are still tracked.
        return super(RetailLoyaltyTransaction, self.with_context(
            mail_create_nolog=True, mail_create_nosubscribe=True, mail_notrack=True,
        )).create(vals_list)

    @api.depends("type", "member_ref", "order_id", "return_ref")
    def _compute_name(self):
        labels = dict(TYPES)
        for txn in self:
            ref = txn.return_ref or (txn.order_id.name if txn.order_id else "")
            txn.name = f"{labels.get(txn.type, '')} {txn.member_ref or ''} {ref}".strip()

    # ------------------------------------------------------------- postings

    def _loyalty_post(self):
        """Put accruals/reversals in the backend's ordered posting queue."""
        Exchange = self.env["retail.exchange"].sudo()
        for txn in self:
            Exchange._enqueue_outbound(
                txn.backend_id, POSTING, record=txn, idempotency_key=txn.idempotency_key,
                external_ref=txn.member_ref, touch_binding=False)

    def _loyalty_payload(self):
        """Body of ``POST /v1/transactions`` for an accrual or a reversal."""
        self.ensure_one()
        digits = self.currency_id.decimal_places
        payload = {
            "type": "earn" if self.type == "earn" else "reversal",
            "member_ref": self.member_ref,
            "order_ref": self.order_id.name if self.order_id else None,
            "amount": {"amount": round(self.amount * 10 ** digits),
                       "currency": self.currency_id.name},
            "lines": [],
        }
        if self.type == "reversal":
            payload["return_ref"] = self.return_ref
            payload["reverses_txn_ref"] = self.reverses_id.txn_ref or None
        if self.type == "earn" and self.order_id:
            payload["lines"] = [
                {"sku": line.product_id.default_code or str(line.product_id.id),
                 **({"qty": int(line.product_uom_qty)} if line.product_uom_qty.is_integer()
                    else {"quantity_decimal": str(line.product_uom_qty)}),
                 "amount": round(line.price_total * 10 ** digits)}
                for line in self.order_id.order_line
                if not line.display_type and not line.retail_loyalty_transaction_id]
        return payload

    def _set_state(self, state, **values):
        values["state"] = state
        self.sudo().write(values)
        self.order_id._loyalty_refresh_accrual_state()

    # ----------------------------------------------------------- redemptions

    def _loyalty_confirm(self):
        """Confirm held redemptions now (checkout waits); when the platform is
        down, queue the confirmation instead: it is sent when it is back."""
        for txn in self.sudo().filtered(lambda t: t.state == "held"):
            backend = txn.backend_id
            key = f"redeem-confirm:{txn.id}"
            if not backend._loyalty_available():
                txn._loyalty_enqueue(REDEEM_CONFIRM, key)
                continue
            try:
                _exchange_id, body = backend._loyalty_call(
                    REDEEM_CONFIRM, "POST", f"/v1/redemptions/{txn.platform_ref}/confirm",
                    {}, key=key, record=txn.order_id, external_ref=txn.order_id.name,
                    accept_codes=("hold_expired", "redemption_released"))
            except errors.RetailIntegrationError as exc:
                if exc.retryable:
                    txn._loyalty_enqueue(REDEEM_CONFIRM, key)
                    continue
                txn._loyalty_hold_lost(exc)
            txn._set_state("confirmed", txn_ref=body.get("txn_ref"), error=False)
            txn.partner_id._loyalty_refresh_now()  # the customer sees the new balance

    def _loyalty_hold_lost(self, exc):
        """The platform no longer holds the points: the order cannot keep the
        discount. Recorded in a transaction of its own, then refused."""
        self.ensure_one()
        with self.env.registry.cursor() as cr:
            cr.execute("UPDATE retail_loyalty_transaction SET state = 'expired', error = %s "
                       "WHERE id = %s", [exc.message, self.id])
        self.invalidate_recordset(["state", "error"], flush=False)
        raise UserError(self.env._(
            "The loyalty platform no longer holds the %(points)s points redeemed on "
            "%(order)s (%(error)s). Remove the loyalty line and redeem again, or confirm "
            "the order without it.", points=self.requested_points, order=self.order_id.name,
            error=exc.message))

    def _loyalty_release(self):
        """Give held points back (quotation cancelled, expired, or line removed)."""
        for txn in self.sudo():
            if txn.state == "held":
                txn._loyalty_enqueue(REDEEM_RELEASE, f"redeem-release:{txn.id}")
                txn._set_state("released")
            elif txn.state == "offline":
                txn._set_state("released")
            elif txn.state == "confirmed":
                txn._loyalty_reverse_redemption()

    def _loyalty_reverse_redemption(self):
        """A confirmed redemption on an order that is cancelled: give the points back."""
        self.ensure_one()
        Txn = self.sudo()
        reversal = Txn.search([("reverses_id", "=", self.id), ("type", "=", "reversal")])
        if reversal:
            return reversal
        reversal = Txn.create({
            "backend_id": self.backend_id.id, "type": "reversal", "state": "queued",
            "partner_id": self.partner_id.id, "member_ref": self.member_ref,
            "order_id": self.order_id.id, "return_ref": f"cancel:{self.order_id.name}",
            "reverses_id": self.id, "amount": self.amount,
            "currency_id": self.currency_id.id,
            "idempotency_key": f"reversal:redeem:{self.id}"})
        reversal._loyalty_post()
        return reversal

    def _loyalty_enqueue(self, flow, key):
        self.ensure_one()
        self.env["retail.exchange"].sudo()._enqueue_outbound(
            self.backend_id, flow, record=self, idempotency_key=key,
            external_ref=self.member_ref, touch_binding=False)

    def _loyalty_reconcile_offline(self):
        """A redemption granted while the platform was down: hold and confirm
        it now. A refusal lands in the exception queue for a person."""
        self.ensure_one()
        self._loyalty_enqueue(REDEEM, f"redeem-offline:{self.id}")
