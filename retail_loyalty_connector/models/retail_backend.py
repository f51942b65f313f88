# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from datetime import timedelta
import logging

from odoo import api, fields, models, tools
from odoo.exceptions import UserError

from odoo.addons.queue_job.exception import RetryableJobError
from odoo.addons.retail_integration_base.services import errors

_logger = logging.getLogger(__name__)

ENROLL = "loyalty_enroll"
MEMBER_REFRESH = "loyalty_member_refresh"
REDEEM = "loyalty_redemption"
REDEEM_CONFIRM = "loyalty_redemption_confirm"
REDEEM_RELEASE = "loyalty_redemption_release"
POSTING = "loyalty_posting"
MEMBER_EVENTS = "loyalty_member_events"
LEDGER_COMPARE = "loyalty_ledger_compare"
# While the platform is down, checkout does not wait for it again before
# this many seconds (then one call probes it); accruals wait in order.
UNAVAILABLE_PROBE_SECONDS = 30
DEFER_SECONDS = 30
POSTING_LOCK_NAMESPACE = 0x52494D  # "RIM": one posting drainer per backend


class RetailBackend(models.Model):
    _inherit = "retail.backend"

    kind = fields.Selection(selection_add=[("loyalty", "Loyalty platform")],
                            ondelete={"loyalty": "cascade"})
    loyalty_enroll_policy = fields.Selection(
        [("manual", "On request"), ("first_order", "Automatically on the first order")],
        string="Enrollment", default="manual",
        help="On request: from the customer form or in bulk from the customer list. "
             "Automatically: a customer without membership is enrolled when their first "
             "order is confirmed.")
    loyalty_accrual_point = fields.Selection(
        [("delivered", "Order delivered"), ("invoiced", "Order invoiced")],
        string="Points are earned when", default="delivered")
    loyalty_degraded_redemption = fields.Selection(
        [("refuse", "Refuse redemptions"),
         ("cap", "Allow up to a cap, reconcile when back")],
        string="Redemption while unavailable", default="refuse",
        help="What checkout does when the loyalty platform is down or slower than the "
             "backend's timeouts.")
    loyalty_offline_points_cap = fields.Integer(
        string="Offline cap (points)", default=500,
        help="Most points one order may redeem while the platform is unavailable.")
    loyalty_offline_point_value = fields.Integer(
        string="Offline value of a point (minor units)", default=1,
        help="Used only for redemptions granted while the platform is unavailable; "
             "otherwise the platform says what points are worth.")
    loyalty_balance_max_age = fields.Integer(
        string="Balance max age (minutes)", default=15,
        help="A member's balance older than this is refreshed before a redemption and "
             "by the scheduled refresh.")
    loyalty_redemption_product_id = fields.Many2one(
        "product.product", string="Redemption product",
        default=lambda self: self.env.ref(
            "retail_loyalty_connector.product_loyalty_redemption", raise_if_not_found=False),
        help="Service product of the discount line a redemption adds to the order.")
    loyalty_unavailable_since = fields.Datetime(readonly=True, copy=False)
    loyalty_unavailable_reason = fields.Char(readonly=True, copy=False)
    loyalty_waiting_count = fields.Integer(
        string="Posts waiting", compute="_compute_loyalty_waiting_count")

    @api.model
    def _retail_cache_fields(self):
        return super()._retail_cache_fields() | {
            name for name in self._fields if name.startswith("loyalty_")}

    def _retail_event_subject_keys(self):
        if self.kind != "loyalty":
            return super()._retail_event_subject_keys()
        return ("member_ref",)

    def _compute_loyalty_waiting_count(self):
        groups = self.env["retail.loyalty.transaction"].sudo()._read_group(
            [("backend_id", "in", self.ids), ("state", "in", ("queued", "deferred", "offline"))],
            ["backend_id"], ["__count"])
        counts = {backend.id: count for backend, count in groups}
        for backend in self:
            backend.loyalty_waiting_count = counts.get(backend.id, 0)

    def _retail_default_flows(self):
        flows = super()._retail_default_flows()
        if self.kind != "loyalty":
            return flows
        channel = "root.retail.loyalty"
        return flows + [
            {"name": "Member enrollment", "code": ENROLL, "direction": "outbound",
             "mode": "realtime", "channel": channel, "sequence": 10},
            {"name": "Member refresh", "code": MEMBER_REFRESH, "direction": "outbound",
             "mode": "realtime", "channel": channel, "sequence": 12},
            {"name": "Redemption hold", "code": REDEEM, "direction": "outbound",
             "mode": "realtime", "channel": channel, "sequence": 15},
            {"name": "Redemption confirmation", "code": REDEEM_CONFIRM, "direction": "outbound",
             "mode": "realtime", "channel": channel, "sequence": 16},
            {"name": "Redemption release", "code": REDEEM_RELEASE, "direction": "outbound",
             "mode": "realtime", "channel": channel, "sequence": 17},
            {"name": "Accruals and reversals", "code": POSTING, "direction": "outbound",
             "mode": "realtime", "channel": channel, "sequence": 20},
            {"name": "Member events", "code": MEMBER_EVENTS, "direction": "inbound",
             "mode": "realtime", "channel": channel, "sequence": 30,
             "event_types": "member.*,points.*"},
            {"name": "Ledger compare", "code": LEDGER_COMPARE, "direction": "outbound",
             "mode": "batch", "channel": channel, "sequence": 40,
             "interval_number": 1, "interval_type": "days"},
        ]

    @api.model
    def _loyalty_backend_for(self, company):
        """The company's active loyalty backend (the first by sequence), if any."""
        return self.sudo().browse(self._loyalty_backend_id_for(company.id))

    @api.model
    @tools.ormcache("company_id")
    def _loyalty_backend_id_for(self, company_id):
        # Asked at every order confirmation (automatic enrollment): cached;
        # backend changes clear the registry cache.
        return self.sudo().search([
            ("kind", "=", "loyalty"), ("active", "=", True),
            ("company_id", "in", [company_id, False])], limit=1).id or None

    # ------------------------------------------------------------ availability

    def _loyalty_available(self):
        """False while the platform is known to be down (probed again after a while)."""
        self.ensure_one()
        since = self.loyalty_unavailable_since
        return not since or fields.Datetime.now() - since > timedelta(
            seconds=UNAVAILABLE_PROBE_SECONDS)

    def _loyalty_set_unavailable(self, reason):
        """Remember the outage in a transaction of its own (the caller's may roll back)."""
        self.ensure_one()
        if self._loyalty_write_state(
                "loyalty_unavailable_since = COALESCE(loyalty_unavailable_since, "
                "now() at time zone 'utc'), loyalty_unavailable_reason = %s",
                [(reason or "")[:250]]):
            _logger.warning("Loyalty backend %s unavailable: %s", self.name, reason)

    def _loyalty_set_available(self):
        for backend in self.filtered("loyalty_unavailable_since"):
            if backend._loyalty_write_state(
                    "loyalty_unavailable_since = NULL, loyalty_unavailable_reason = NULL", []):
                _logger.info("Loyalty backend %s is available again", backend.name)

    def _loyalty_write_state(self, assignments, params):
        """Write the availability in its own short transaction, never waiting
        long for the row: a caller's transaction holding it must not wait on
        itself; the next call or the probe cron records the state then."""
        self.ensure_one()
        try:
            with self.env.registry.cursor() as cr:
                cr.execute("SET LOCAL lock_timeout = '2s'")
                cr.execute(f"UPDATE retail_backend SET {assignments} WHERE id = %s",  # noqa: S608
                           [*params, self.id])
        except Exception as exc:  # noqa: BLE001 - best effort, see docstring
            _logger.info("Loyalty backend %s: availability not recorded now (%s)", self.name,
                         exc)
            return False
        finally:
            self.invalidate_recordset(
                ["loyalty_unavailable_since", "loyalty_unavailable_reason"], flush=False)
        return True

    def _loyalty_call(self, flow, method, path, payload=None, key=None, record=None,
                      accept_codes=(), external_ref=None):
        """A call someone waits for; outages are remembered for degraded mode."""
        self.ensure_one()
        try:
            exchange_id, result = self.env["retail.exchange"]._call_now(
                self, flow, method, path, payload=payload, idempotency_key=key, record=record,
                accept_codes=accept_codes, external_ref=external_ref)
        except errors.RetailIntegrationError as exc:
            if exc.failure_class == errors.TRANSIENT:
                self._loyalty_set_unavailable(exc.message)
            raise
        if self.loyalty_unavailable_since:
            self._loyalty_set_available()
        return exchange_id, result.body or {}

    @api.model
    def _cron_loyalty_recover(self):
        """Probe platforms known to be down; when one is back, send what waited."""
        for backend in self.sudo().search([("kind", "=", "loyalty"),
                                           ("loyalty_unavailable_since", "!=", False)]):
            result = backend._http_send("GET", backend._get_health_path())
            if result.ok:
                backend._loyalty_set_available()
                backend._loyalty_resume()
        return True

    def _loyalty_resume(self):
        """After an outage: post deferred transactions (in order) and reconcile
        redemptions granted offline."""
        self.ensure_one()
        exchanges = self.env["retail.exchange"].sudo().search([
            ("backend_id", "=", self.id), ("flow_id.code", "=", POSTING),
            ("state", "in", ("pending", "retry"))])
        exchanges.write({"next_retry_at": False})
        # The drainer waiting for its retry time runs now.
        self.env["queue.job"].sudo().search([
            ("identity_key", "=", f"retail-loyalty-posting:{self.id}"),
            ("state", "=", "pending")]).write({"eta": False})
        self._loyalty_enqueue_posting()
        offline = self.env["retail.loyalty.transaction"].sudo().search([
            ("backend_id", "=", self.id), ("state", "=", "offline")], order="id")
        for txn in offline:
            txn._loyalty_reconcile_offline()

    # ---------------------------------------------------------------- posting

    def _loyalty_enqueue_posting(self, delay=None):
        self.ensure_one()
        flow = self._get_flow(POSTING)
        self.with_delay(
            channel=flow.channel or "root.retail", priority=flow.priority,
            identity_key=f"retail-loyalty-posting:{self.id}",
            eta=timedelta(seconds=delay) if delay else None,
            description=f"{self.name}: post loyalty transactions",
        )._job_loyalty_post()

    def _job_loyalty_post(self, batch=200):
        """Send accruals and reversals one after the other, in creation order.

        The platform sees a member's transactions in the order Odoo made them
        (a reversal after its earn) even across an outage: the drainer stops
        at the first message that could not be sent and resumes from it.
        """
        self.ensure_one()
        self.env.cr.execute("SELECT pg_try_advisory_xact_lock(%s, %s)",
                            [POSTING_LOCK_NAMESPACE, self.id])
        if not self.env.cr.fetchone()[0]:
            raise RetryableJobError("Another job is posting for this backend.", seconds=1,
                                    ignore_retry=True)
        Exchange = self.env["retail.exchange"].sudo()
        todo = Exchange.search([
            ("backend_id", "=", self.id), ("flow_id.code", "=", POSTING),
            ("direction", "=", "outbound"), ("state", "in", ("pending", "retry"))],
            order="id", limit=batch + 1)
        now = fields.Datetime.now()
        sent = 0
        for exchange in todo[:batch]:
            if exchange.next_retry_at and exchange.next_retry_at > now:
                self._loyalty_enqueue_posting(
                    delay=(exchange.next_retry_at - now).total_seconds())
                return self.env._("%s sent; waiting for the platform.", sent)
            exchange._job_context()._job_process()
            if exchange.state not in ("done", "failed"):
                if (exchange.error or "").startswith("platform unavailable"):
                    self._loyalty_set_unavailable(exchange.error)
                txn = exchange._linked_record()
                if txn and txn.state == "queued":
                    txn._set_state("deferred")
                return self.env._("%s sent; the platform is unavailable.", sent)
            sent += 1
        if len(todo) > batch:
            self._loyalty_enqueue_posting()
        return self.env._("%s sent.", sent)

    # --------------------------------------------------------------- actions

    def action_loyalty_check_now(self):
        self.ensure_one()
        result = self._http_send("GET", self._get_health_path())
        if not result.ok:
            raise UserError(self.env._("The loyalty platform is still unavailable: %s",
                                       result.error))
        self._loyalty_set_available()
        self._loyalty_resume()
        return True

    def action_view_loyalty_transactions(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "retail_loyalty_connector.retail_loyalty_transaction_action")
        action["domain"] = [("backend_id", "=", self.id)]
        return action
