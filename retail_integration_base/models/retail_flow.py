# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import logging

from dateutil.relativedelta import relativedelta

from odoo import api, fields, models
from odoo.exceptions import UserError

from odoo.addons.queue_job.exception import RetryableJobError

_logger = logging.getLogger(__name__)

# Advisory lock namespace of inbound lanes (an arbitrary, suite-specific int).
LANE_LOCK_NAMESPACE = 0x52494C  # "RIL"
INTERVALS = [("minutes", "Minutes"), ("hours", "Hours"), ("days", "Days")]


class RetailFlow(models.Model):
    """A backend's flow: one kind of message, in one direction.

    ``code`` is the dispatch key: an exchange of this flow is processed by
    ``retail.exchange._retail_handle_<code>(payload)``; outbound flows build
    their payload with ``_retail_build_<code>()``; batch flows run through
    ``retail.flow._retail_batch_<code>()`` when their schedule is due.
    Inbound flows list the webhook event types they take in ``event_types``
    (comma-separated shell patterns such as ``fulfillment.*``).
    """

    _name = "retail.flow"
    _description = "Retail Integration Flow"
    _order = "backend_id, sequence, id"

    name = fields.Char(required=True, translate=True)
    code = fields.Char(required=True, index=True)
    sequence = fields.Integer(default=10)
    backend_id = fields.Many2one("retail.backend", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="backend_id.company_id", store=True, index=True)
    direction = fields.Selection(
        [("outbound", "Odoo → partner"), ("inbound", "Partner → Odoo")], required=True)
    mode = fields.Selection(
        [("realtime", "Real time (job queue)"), ("batch", "Batch (scheduled)")],
        required=True, default="realtime")
    active = fields.Boolean(default=True)
    channel = fields.Char(
        string="Job channel", required=True, default="root.retail",
        help="queue_job channel of this flow's jobs; give busy flows their own channel "
             "and capacity in the queue_job runner configuration.")
    event_types = fields.Char(help="Inbound: webhook event types handled, e.g. fulfillment.*")
    priority = fields.Integer(default=10, help="queue_job priority (lower runs first).")
    lanes = fields.Integer(
        default=4, required=True,
        help="Inbound: events are spread over this many lanes by the partner object's "
             "reference; each lane is drained by one job at a time, in arrival order, so "
             "lanes run in parallel while one object's events never overtake each other.")
    interval_number = fields.Integer(string="Every", default=1)
    interval_type = fields.Selection(INTERVALS, default="hours")
    last_run_at = fields.Datetime(readonly=True, copy=False)
    next_run_at = fields.Datetime(copy=False)
    exchange_ids = fields.One2many("retail.exchange", "flow_id")

    # Monitoring (last 24 hours), computed by one SQL query for all flows.
    stat_count = fields.Integer(string="Messages (24h)", compute="_compute_stats")
    stat_throughput = fields.Float(string="Per hour (24h)", compute="_compute_stats")
    stat_p50_ms = fields.Integer(string="p50 latency (ms)", compute="_compute_stats")
    stat_p95_ms = fields.Integer(string="p95 latency (ms)", compute="_compute_stats")
    stat_queue_depth = fields.Integer(string="Queue depth", compute="_compute_stats")
    stat_retry_rate = fields.Float(string="Retry rate (%)", compute="_compute_stats")
    stat_auth_failures = fields.Integer(string="Auth failures (24h)", compute="_compute_stats")
    stat_success_rate = fields.Float(string="Success rate (%)", compute="_compute_stats")
    stat_open_exceptions = fields.Integer(string="Open exceptions", compute="_compute_stats")
    stat_oldest_exception_hours = fields.Float(
        string="Oldest exception (h)", compute="_compute_stats")

    _sql_constraints = [
        ("code_backend_unique", "UNIQUE(backend_id, code)",
         "A backend has each flow only once."),
    ]

    def _compute_stats(self):
        stats = {}
        if self.ids:
            self.env["retail.exchange"].flush_model()
            self.env.cr.execute("""
                SELECT flow_id,
                       count(*) FILTER (WHERE create_date > now() at time zone 'utc'
                                        - interval '24 hours'),
                       percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms)
                           FILTER (WHERE duration_ms IS NOT NULL AND create_date >
                                   now() at time zone 'utc' - interval '24 hours'),
                       percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms)
                           FILTER (WHERE duration_ms IS NOT NULL AND create_date >
                                   now() at time zone 'utc' - interval '24 hours'),
                       count(*) FILTER (WHERE state IN ('pending', 'retry')),
                       count(*) FILTER (WHERE attempts > 1 AND create_date >
                                        now() at time zone 'utc' - interval '24 hours'),
                       count(*) FILTER (WHERE failure_class = 'auth' AND create_date >
                                        now() at time zone 'utc' - interval '24 hours'),
                       count(*) FILTER (WHERE state = 'done' AND create_date >
                                        now() at time zone 'utc' - interval '24 hours'),
                       count(*) FILTER (WHERE state = 'failed'),
                       EXTRACT(EPOCH FROM now() at time zone 'utc'
                               - min(create_date) FILTER (WHERE state = 'failed')) / 3600.0
                  FROM retail_exchange
                 WHERE flow_id IN %s
                 GROUP BY flow_id""", [tuple(self.ids)])
            for row in self.env.cr.fetchall():
                stats[row[0]] = row[1:]
        for flow in self:
            (count, p50, p95, depth, retried, auth, done, failed, oldest) = stats.get(
                flow.id, (0, None, None, 0, 0, 0, 0, 0, None))
            flow.stat_count = count
            flow.stat_throughput = count / 24.0
            flow.stat_p50_ms = int(p50 or 0)
            flow.stat_p95_ms = int(p95 or 0)
            flow.stat_queue_depth = depth
            flow.stat_retry_rate = 100.0 * retried / count if count else 0.0
            flow.stat_auth_failures = auth
            flow.stat_success_rate = 100.0 * done / count if count else 0.0
            flow.stat_open_exceptions = failed
            flow.stat_oldest_exception_hours = float(oldest or 0.0)

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("mode") == "batch" and not vals.get("next_run_at"):
                vals["next_run_at"] = fields.Datetime.now()
        self.env.registry.clear_cache()  # connectors cache their active flows
        return super().create(vals_list)

    def write(self, vals):
        if {"active", "code", "backend_id", "direction", "event_types"} & set(vals):
            self.env.registry.clear_cache()
        return super().write(vals)

    def unlink(self):
        self.env.registry.clear_cache()
        return super().unlink()

    def _event_patterns(self):
        self.ensure_one()
        return tuple(p.strip() for p in (self.event_types or "").split(",") if p.strip())

    def action_run_now(self):
        for flow in self:
            if flow.mode != "batch":
                raise UserError(self.env._("Only batch flows run on demand; %s is real time.", flow.name))
            flow._run_batch()

    def action_view_exchanges(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "retail_integration_base.retail_exchange_action")
        action["domain"] = [("flow_id", "=", self.id)]
        return action

    def _job_drain_lane(self, lane, batch=50):
        """The lane job: process the lane's pending inbound events in order.

        One drainer per lane at a time, across workers and nodes: the lane's
        advisory lock is held until the job's transaction ends. A second job
        (queued while the first ran) waits its turn instead of processing the
        same events beside it.
        """
        self.ensure_one()
        self.env.cr.execute("SELECT pg_try_advisory_xact_lock(%s, %s)",
                            [LANE_LOCK_NAMESPACE, self.id * 1000 + lane])
        if not self.env.cr.fetchone()[0]:
            raise RetryableJobError(
                self.env._("Lane %s is being drained by another job.", lane), seconds=1,
                ignore_retry=True)
        Exchange = self.env["retail.exchange"]
        pending = Exchange.search([
            ("flow_id", "=", self.id), ("lane", "=", lane), ("direction", "=", "inbound"),
            ("state", "=", "pending")], order="id", limit=batch + 1)
        for exchange in pending[:batch]:
            exchange._job_process()
        if len(pending) > batch:
            pending[batch]._enqueue_lane()  # more to do: the next job takes over
        elif pending:
            # An event committed while this job ran is not in its snapshot,
            # and its intake may have found this very job still queued: a
            # short follow-up looks again (the sweeper cron is the last net).
            pending[-1]._enqueue_lane(delay=1)
        return self.env._("%s events processed.", min(len(pending), batch))

    def _run_batch(self):
        self.ensure_one()
        handler = getattr(self, f"_retail_batch_{self.code}", None)
        if handler is None:
            raise UserError(self.env._("Flow %s has no batch handler.", self.code))
        now = fields.Datetime.now()
        self.write({
            "last_run_at": now,
            "next_run_at": now + relativedelta(**{self.interval_type: self.interval_number}),
        })
        return handler()

    @api.model
    def _cron_run_due_batches(self):
        """Scheduled action: run every batch flow whose time has come."""
        flows = self.search([
            ("mode", "=", "batch"), ("backend_id.active", "=", True),
            "|", ("next_run_at", "=", False), ("next_run_at", "<=", fields.Datetime.now()),
        ])
        for flow in flows:
            try:
                with self.env.cr.savepoint():
                    flow._run_batch()
            except Exception as exc:  # one broken flow must not stop the others
                _logger.exception("Batch flow %s of %s failed", flow.code, flow.backend_id.name)
                self.env["retail.exchange"]._record_batch_failure(flow, exc)
        return True
