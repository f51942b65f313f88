# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from datetime import timedelta
import json
from urllib.parse import quote

from odoo import fields, models

from odoo.addons.retail_integration_base.services import errors

from .retail_backend import IMPORT_FLOW

QUIET = {"mail_create_nolog": True, "mail_create_nosubscribe": True, "tracking_disable": True}
KPI_DAYS = 30


class RetailFlow(models.Model):
    _inherit = "retail.flow"

    # Business KPIs of settlement flows (last 30 days), beside the framework's
    # technical ones on the dashboard card.
    stat_settlement_batches = fields.Integer(string="Payouts (30d)",
                                             compute="_compute_settlement_stats")
    stat_settlement_in_time = fields.Float(string="Settled in time (%)",
                                           compute="_compute_settlement_stats")
    stat_settlement_variance = fields.Float(
        string="Variance (30d)", compute="_compute_settlement_stats",
        help="Sum of the absolute variances of the live batches: lines' net against the "
             "payout, and settled against Odoo's amounts.")
    stat_settlement_to_post = fields.Integer(string="Matched, to post",
                                             compute="_compute_settlement_stats")
    stat_settlement_exceptions = fields.Integer(string="Open settlement exceptions",
                                                compute="_compute_settlement_stats")

    def _compute_settlement_stats(self):
        flows = self.filtered(lambda f: f.code == IMPORT_FLOW and f.id)
        stats = {}
        if flows:
            self.env["retail.settlement.batch"].flush_model()
            self.env.cr.execute("""
                SELECT backend_id, count(*),
                       count(*) FILTER (WHERE settled_in_time),
                       coalesce(sum(abs(variance) + abs(settlement_variance)), 0),
                       count(*) FILTER (WHERE state = 'matched'),
                       coalesce(sum(exception_count) FILTER (WHERE state = 'exception'), 0)
                  FROM retail_settlement_batch
                 WHERE backend_id IN %s AND state NOT IN ('superseded', 'reversed')
                   AND create_date > now() at time zone 'utc' - interval '30 days'
                 GROUP BY backend_id""", [tuple(flows.backend_id.ids)])
            for row in self.env.cr.fetchall():
                stats[row[0]] = row[1:]
        for flow in self:
            count, in_time, variance, to_post, exceptions = stats.get(
                flow.backend_id.id, (0, 0, 0.0, 0, 0)) if flow in flows else (0, 0, 0.0, 0, 0)
            flow.stat_settlement_batches = count
            flow.stat_settlement_in_time = 100.0 * in_time / count if count else 0.0
            flow.stat_settlement_variance = variance
            flow.stat_settlement_to_post = to_post
            flow.stat_settlement_exceptions = exceptions

    def _retail_batch_settlement_import(self):
        """The scheduled import: list the provider's payouts and record one
        inbound message per payout revision not seen yet; each is fetched
        (all its pages), imported and matched by its own job, so that a
        failing payout retries alone. With auto-posting on, the batches that
        matched since the last run are posted first (batched, never one
        posting per event)."""
        self.ensure_one()
        backend = self.backend_id
        if backend.settlement_auto_post:
            self.env["retail.settlement.batch"].search([
                ("backend_id", "=", backend.id), ("state", "=", "matched")]).action_post()
        since = backend.settlement_since or (fields.Date.context_today(self)
                                             - timedelta(days=KPI_DAYS))
        result = backend._http_send("GET", f"/v1/payouts?since={since.isoformat()}")
        result.raise_for_failure()
        payouts = result.body
        if not isinstance(payouts, list):
            raise errors.RetailIntegrationError(
                self.env._("GET /v1/payouts did not answer a list."), errors.VALIDATION)
        Exchange = self.env["retail.exchange"].sudo().with_context(**QUIET)
        created = Exchange.browse()
        for header in payouts:
            ref = header.get("payout_ref")
            if not ref:
                continue
            key = (f"payout:{ref}:r{header.get('revision', 1)}:{header.get('net')}:"
                   f"{header.get('line_count')}")
            if Exchange.search_count([("backend_id", "=", backend.id),
                                      ("direction", "=", "inbound"),
                                      ("idempotency_key", "=", key)], limit=1):
                continue
            exchange = Exchange.create({
                "name": self.env._("← payout %s", ref), "backend_id": backend.id,
                "company_id": backend.company_id.id, "flow_id": self.id,
                "direction": "inbound", "idempotency_key": key, "external_ref": ref,
                "event_type": "payout", "event_sequence": header.get("revision") or 1,
                "lane": Exchange._lane_of(self, ref),
                "payload": json.dumps({"source": "api", "header": header}),
            })
            exchange._enqueue_lane()
            created |= exchange
        return self.env._("%(new)s new payout(s) of %(all)s listed.", new=len(created),
                          all=len(payouts))

    @staticmethod
    def _settlement_lines_path(ref, cursor):
        path = f"/v1/payouts/{quote(ref, safe='')}/lines"
        return f"{path}?cursor={quote(cursor, safe='')}" if cursor else path
