# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from datetime import timedelta
import json
import logging
import uuid
import zlib

from psycopg2 import errorcodes

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import mute_logger

from odoo.addons.queue_job.exception import RetryableJobError

from ..services import errors
from ..services.backoff import backoff_delay

_logger = logging.getLogger(__name__)

# PostgreSQL errors that mean "someone else holds the row right now": the
# job is retried without spending one of the exchange's attempts.
CONCURRENCY_ERRORS = frozenset({
    errorcodes.LOCK_NOT_AVAILABLE, errorcodes.SERIALIZATION_FAILURE,
    errorcodes.DEADLOCK_DETECTED,
})
FINAL_STATES = ("done", "ignored")
PROTECTED_FIELDS = frozenset({
    "backend_id", "flow_id", "direction", "idempotency_key", "correlation_id", "event_type",
    "event_sequence", "external_ref", "res_model", "res_id", "payload", "response",
    "http_status", "duration_ms", "company_id", "lane",
})
QUIET = {"mail_create_nolog": True, "mail_create_nosubscribe": True, "tracking_disable": True}


class RetailExchange(models.Model):
    """One message in or out: the audit log and the exception queue in one.

    Every message is recorded here *before* it is processed; processing is a
    queue_job on the record (``_job_process``), which dispatches on the flow
    code to ``_retail_handle_<code>(payload)``. Outbound flows build their
    payload with ``_retail_build_<code>()`` so that a Retry after a data fix
    sends fresh data, while a Replay resends the stored payload.

    Handlers report failures by raising ``RetailIntegrationError`` with a
    failure class (``services/errors.py``); transient and rate-limited ones
    are retried with capped exponential backoff, the others (and those out
    of attempts) become ``failed``: the exception queue. A handler's writes
    are rolled back with the failure; ``_retail_failed_<code>()``, when a
    connector defines it, runs once the message is in the exception queue.
    Flows where someone waits call the partner through ``_call_now``.
    """

    _name = "retail.exchange"
    _description = "Retail Integration Exchange"
    _inherit = ["mail.thread"]
    _order = "id desc"
    _rec_name = "name"

    name = fields.Char(readonly=True)
    backend_id = fields.Many2one(
        "retail.backend", required=True, readonly=True, index=True, ondelete="restrict")
    # Copied from the backend at creation (not a related field): one INSERT,
    # no follow-up UPDATE on the hot path of order confirmation.
    company_id = fields.Many2one("res.company", readonly=True, index=True)
    flow_id = fields.Many2one("retail.flow", readonly=True, index=True, ondelete="restrict")
    flow_code = fields.Char(related="flow_id.code", store=False)
    direction = fields.Selection(
        [("outbound", "Outbound"), ("inbound", "Inbound")], required=True, readonly=True)
    state = fields.Selection(
        [("pending", "Pending"), ("retry", "Waiting to retry"), ("done", "Done"),
         ("failed", "Exception"), ("ignored", "Ignored")],
        required=True, default="pending", readonly=True, index=True)
    idempotency_key = fields.Char(required=True, readonly=True, copy=False)
    correlation_id = fields.Char(
        readonly=True, index=True, default=lambda self: uuid.uuid4().hex)
    event_type = fields.Char(readonly=True, index=True)
    event_sequence = fields.Integer(readonly=True)
    lane = fields.Integer(
        readonly=True, index=True,
        help="Inbound: the flow's processing lane, chosen from the partner object's "
             "reference, so that the events of one object are processed in order.")
    external_ref = fields.Char(readonly=True, index=True)
    res_model = fields.Char(string="Linked model", readonly=True, index=True)
    res_id = fields.Many2oneReference(
        string="Linked record ID", model_field="res_model", readonly=True, index=True)
    record_ref = fields.Reference(
        selection="_selection_record_ref", compute="_compute_record_ref", string="Record")
    payload = fields.Text(readonly=True)
    response = fields.Text(readonly=True)
    payload_purged = fields.Boolean(readonly=True)
    http_status = fields.Integer(string="HTTP status", readonly=True)
    duration_ms = fields.Integer(string="Duration (ms)", readonly=True, aggregator="avg")
    attempts = fields.Integer(readonly=True)
    max_attempts = fields.Integer(related="backend_id.retry_max_attempts")
    next_retry_at = fields.Datetime(readonly=True)
    processed_at = fields.Datetime(readonly=True)
    failure_class = fields.Selection(errors.FAILURE_CLASSES, readonly=True, index=True)
    error = fields.Text(readonly=True)
    age_hours = fields.Float(compute="_compute_age_hours", string="Age (h)")

    _sql_constraints = [
        ("idempotency_unique", "UNIQUE(backend_id, direction, idempotency_key)",
         "An exchange with this idempotency key already exists for this backend "
         "and direction."),
    ]

    @api.model_create_multi
    def create(self, vals_list):
        self.env["retail.backend"]._fill_company(vals_list)
        return super().create(vals_list)

    def write(self, vals):
        # The log is an audit trail: what was sent and received, and for what,
        # is written by the framework only, never edited by a user.
        if not self.env.su and PROTECTED_FIELDS & set(vals):
            raise AccessError(self.env._(
                "Integration messages are an audit log: %(fields)s cannot be edited.",
                fields=", ".join(sorted(PROTECTED_FIELDS & set(vals)))))
        return super().write(vals)

    @api.model
    def _selection_record_ref(self):
        return [(m.model, m.name) for m in self.env["ir.model"].sudo().search([])]

    @api.depends("res_model", "res_id")
    def _compute_record_ref(self):
        for exchange in self:
            exchange.record_ref = (
                f"{exchange.res_model},{exchange.res_id}"
                if exchange.res_model in self.env and exchange.res_id else False)

    def _compute_age_hours(self):
        now = fields.Datetime.now()
        for exchange in self:
            exchange.age_hours = (now - exchange.create_date).total_seconds() / 3600.0 \
                if exchange.create_date else 0.0

    # ---------------------------------------------------------------- recording

    @api.model
    def _make_name(self, direction, flow, event_type=None, record=None, external_ref=None):
        arrow = "→" if direction == "outbound" else "←"
        label = (flow.code if flow else None) or event_type or self.env._("message")
        ref = external_ref or (record.display_name if record else "")
        return f"{arrow} {label} {ref}".strip()

    @api.model
    def _record_outbound(self, backend, flow, idempotency_key, record=None, payload=None,
                         correlation_id=None, external_ref=None):
        """Create one outbound exchange (not yet processed)."""
        values = {
            "name": self._make_name("outbound", flow, record=record, external_ref=external_ref),
            "backend_id": backend.id,
            "company_id": backend.company_id.id,
            "flow_id": flow.id if flow else False,
            "direction": "outbound",
            "idempotency_key": idempotency_key,
            "external_ref": external_ref,
            "res_model": record._name if record else False,
            "res_id": record.id if record else False,
            "payload": self._dump(payload) if payload is not None else False,
        }
        if correlation_id:
            values["correlation_id"] = correlation_id
        return self.sudo().with_context(**QUIET).create(values)

    @api.model
    def _enqueue_outbound(self, backend, flow, record=None, idempotency_key=None,
                          payload=None, correlation_id=None, external_ref=None,
                          touch_binding=True):
        """Record an outbound message and enqueue its processing.

        ``flow`` is a flow code or a ``retail.flow`` record. Idempotent on
        ``idempotency_key``: asking twice for the same business
        operation returns the first exchange instead of sending twice. With
        ``touch_binding`` the record's binding turns *pending* now; callers on
        a hot path (order confirmation) show that state themselves and let
        the job create the binding.
        """
        if not isinstance(flow, models.BaseModel):
            flow = backend._get_flow(flow)
        if not flow.active:
            return self.browse()
        key = idempotency_key or f"{flow.code}:{record._name}:{record.id}"
        existing = self.sudo().search([
            ("backend_id", "=", backend.id), ("direction", "=", "outbound"),
            ("idempotency_key", "=", key)], limit=1)
        if existing:
            return existing
        exchange = self._record_outbound(
            backend, flow, key, record=record, payload=payload,
            correlation_id=correlation_id, external_ref=external_ref)
        if record and touch_binding:
            self.env["retail.binding"]._touch(backend, record, "pending", exchange)
        exchange._enqueue()
        return exchange

    @api.model
    def _call_now(self, backend, flow, method, path, payload=None, idempotency_key=None,
                  record=None, correlation_id=None, external_ref=None, accept_codes=()):
        """Synchronous call for flows where someone waits (checkout): return
        ``(exchange_id, HttpResult)`` or raise ``RetailIntegrationError``.

        The exchange is recorded and its outcome written in a transaction of
        its own, committed before and after the call: the audit log keeps the
        message even when the caller's transaction is rolled back (a user
        error shown to the cashier, say). The caller therefore gets an id,
        not a record: the row may be newer than its own snapshot. Partner
        error codes in ``accept_codes`` are answers the caller handles (say
        "insufficient points"): the exchange is done, the error still raised.
        """
        if not isinstance(flow, models.BaseModel):
            flow = backend._get_flow(flow)
        key = idempotency_key or f"{flow.code}:{uuid.uuid4().hex}"
        with self.env.registry.cursor() as cr:
            env = self.env(cr=cr, su=True)
            Exchange = env[self._name].with_context(**QUIET)
            exchange = Exchange.search([
                ("backend_id", "=", backend.id), ("direction", "=", "outbound"),
                ("idempotency_key", "=", key)], limit=1)
            if not exchange:
                exchange = Exchange._record_outbound(
                    env["retail.backend"].browse(backend.id), flow.with_env(env), key,
                    record=record.with_env(env) if record else None, payload=payload,
                    correlation_id=correlation_id, external_ref=external_ref)
            exchange.write({"state": "pending", "attempts": exchange.attempts + 1})
            cr.commit()
            try:
                result = exchange.backend_id._http_send(method, path, payload=payload,
                                                        exchange=exchange)
                result.raise_for_failure()
            except errors.RateLimitDeferred as exc:
                exchange.write({"state": "failed", "failure_class": errors.RATE_LIMITED,
                                "error": str(exc)})
                cr.commit()
                raise errors.RetailIntegrationError(str(exc), errors.RATE_LIMITED) from exc
            except errors.RetailIntegrationError as exc:
                answered = exc.result is not None and \
                    exc.result.error_payload().get("code") in accept_codes
                exchange.write({"state": "done" if answered else "failed",
                                "failure_class": False if answered else exc.failure_class,
                                "error": exc.message, "processed_at": fields.Datetime.now()})
                cr.commit()
                exc.exchange_id = exchange.id
                raise
            exchange.write({"state": "done", "failure_class": False, "error": False,
                            "processed_at": fields.Datetime.now()})
            cr.commit()
            return exchange.id, result

    @api.model
    def _record_inbound(self, backend, event_id, event, raw_body, error=None):
        """Record one inbound event idempotently: return ``(exchange, created)``.

        New events are the common case: the insert is tried first and the
        unique index on the idempotency key answers for duplicates, without
        a lookup on the hot path.
        """
        event_type = event.get("type") if isinstance(event, dict) else None
        flow = backend._inbound_flow(event_type)
        data = event.get("data") if isinstance(event, dict) else None
        values = {
            "name": self._make_name("inbound", flow, event_type=event_type),
            "backend_id": backend.id,
            "company_id": backend.company_id.id,
            "flow_id": flow.id or False,
            "direction": "inbound",
            "idempotency_key": event_id,
            "event_type": event_type,
            "event_sequence": event.get("sequence") if isinstance(
                event.get("sequence"), int) else False,
            "external_ref": backend._retail_event_subject(data),
            "payload": raw_body.decode("utf-8", "replace"),
        }
        if error:
            values.update(state="failed", failure_class=errors.VALIDATION, error=error)
        elif flow:
            values["lane"] = self._lane_of(flow, values["external_ref"] or event_id)
        else:
            values.update(state="failed", failure_class=errors.VALIDATION,
                          error=self.env._("No active inbound flow of backend %(backend)s handles "
                                  "event type %(type)s.", backend=backend.name,
                                  type=event_type))
        try:
            # A duplicate is expected traffic, not an SQL error worth logging.
            with self.env.cr.savepoint(), mute_logger("odoo.sql_db"):
                exchange = self.sudo().with_context(**QUIET).create(values)
        except Exception as exc:
            # A known event (a redelivery, or a concurrent one that won).
            if getattr(exc, "pgcode", None) != errorcodes.UNIQUE_VIOLATION:
                raise
            return self.sudo().search([
                ("backend_id", "=", backend.id), ("direction", "=", "inbound"),
                ("idempotency_key", "=", event_id)], limit=1), False
        if exchange.state == "pending":
            exchange._enqueue_lane()
        return exchange, True

    @api.model
    def _lane_of(self, flow, key):
        """The lane of a partner object: stable, so its events stay in order."""
        return zlib.crc32(key.encode()) % max(1, flow.lanes)

    @api.model
    def _dump(self, payload):
        """Stored payload: indented for reading, compact when it is large
        (indenting forces the slow pure-Python JSON encoder)."""
        compact = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        if len(compact) > 16384:
            return compact
        return json.dumps(payload, ensure_ascii=False, sort_keys=True, indent=1)

    def _job_context(self):
        """Jobs run as the backend's integration user, in the backend's company."""
        self.ensure_one()
        backend = self.backend_id
        user = backend.integration_user_id or self.env.user
        # The company is given explicitly: the bot's user record need not be
        # read on the hot path.
        return self.with_user(user).with_context(
            allowed_company_ids=[self.company_id.id or backend.company_id.id], **QUIET)

    def _enqueue_lane(self, delay=None):
        """Have a new inbound event processed by its flow's lane job.

        One job per lane drains the lane's pending events in arrival order:
        enqueueing is a lookup of that job (queue_job identity key), not a
        new job per event, which keeps webhook intake light; events of one
        object share a lane, so they are applied in the order they came.
        Stragglers are picked up by ``_cron_dispatch_pending``.
        """
        self.ensure_one()
        flow = self.flow_id
        self._job_context().flow_id.with_delay(
            channel=flow.channel or "root.retail", priority=flow.priority,
            identity_key=f"retail-lane:{flow.id}:{self.lane}",
            eta=timedelta(seconds=delay) if delay else None,
            description=f"{flow.display_name}: lane {self.lane}",
        )._job_drain_lane(self.lane)

    def _enqueue_again(self, replay=False):
        """Queue exchanges a user retried or replayed.

        Inbound events go back through their lane, so that they never run
        beside other events of the same object; outbound messages get a job
        each (a retry rebuilds the payload, a replay resends the stored one).
        """
        for exchange in self:
            if exchange.direction == "inbound" and exchange.flow_id:
                exchange._enqueue_lane()
            else:
                exchange._enqueue(rebuild=not replay, replay=replay)

    def _enqueue(self, delay=None, rebuild=True, replay=False):
        """Enqueue the processing of each exchange as its own job."""
        for exchange in self:
            flow = exchange.flow_id
            exchange._job_context().with_delay(
                channel=flow.channel or "root.retail",
                priority=flow.priority if flow else 10,
                eta=timedelta(seconds=delay) if delay else None,
                description=exchange.name,
            )._job_process(rebuild=rebuild, replay=replay)

    # --------------------------------------------------------------- processing

    def _job_process(self, rebuild=True, replay=False):
        """The job: process one exchange and decide its next state.

        Idempotent: a done or ignored exchange is left alone unless this is
        an explicit replay.
        """
        self.ensure_one()
        if self.state in FINAL_STATES and not replay:
            return self.env._("Exchange already %s.", self.state)
        try:
            with self.env.cr.savepoint():
                payload = self._prepare_payload(rebuild and not replay)
                handler = getattr(self, f"_retail_handle_{self.flow_id.code}", None)
                if handler is None:
                    raise errors.RetailIntegrationError(
                        self.env._("No handler for flow %s.", self.flow_id.code or "-"), errors.TECHNICAL)
                outcome = handler(payload)
        except errors.RateLimitDeferred as exc:
            # Our own throttle: not an attempt, not a failure.
            self.write({"state": "pending", "error": str(exc),
                        "next_retry_at": fields.Datetime.now() + timedelta(seconds=exc.seconds)})
            self._enqueue(delay=exc.seconds, rebuild=rebuild, replay=replay)
            return str(exc)
        except errors.RetailIntegrationError as exc:
            self._register_failure(exc)
            return exc.message
        except (UserError, ValidationError, AccessError) as exc:
            self._register_failure(errors.RetailIntegrationError(str(exc), errors.BUSINESS))
            return str(exc)
        except Exception as exc:
            if getattr(exc, "pgcode", None) == errorcodes.UNIQUE_VIOLATION:
                # Most often a concurrent transaction created the same row:
                # the next attempt sees it. Bounded by the retry policy.
                self._register_failure(errors.RetailIntegrationError(
                    self.env._("Conflict with a concurrent change, retrying: %s",
                               getattr(exc, "diag", None) and exc.diag.message_primary or exc),
                    errors.TRANSIENT))
                return str(exc)
            if getattr(exc, "pgcode", None) in CONCURRENCY_ERRORS:
                # Another transaction holds a row we need: try again soon,
                # without spending one of the exchange's attempts.
                raise RetryableJobError(
                    self.env._("Record locked by another transaction, retrying"), seconds=2,
                    ignore_retry=True) from exc
            _logger.exception("Unexpected error processing exchange %s", self.id)
            self._register_failure(errors.RetailIntegrationError(
                f"{type(exc).__name__}: {exc}", errors.TECHNICAL))
            return str(exc)
        self.write({"state": "done", "processed_at": fields.Datetime.now(),
                    "attempts": self.attempts + 1,
                    "failure_class": False, "error": False, "next_retry_at": False})
        if self.direction == "outbound" and self.res_model and self.res_id:
            record = self.env[self.res_model].browse(self.res_id)
            binding = self.env["retail.binding"]._find(self.backend_id, record)
            if not binding or binding.sync_state in ("pending", "error", "not_synced"):
                self.env["retail.binding"]._touch(self.backend_id, record, "synced", self)
        return outcome or self.env._("Done.")

    def _prepare_payload(self, rebuild):
        self.ensure_one()
        builder = getattr(self, f"_retail_build_{self.flow_id.code}", None)
        if self.direction == "outbound" and builder and (rebuild or not self.payload):
            payload = builder()
            self.sudo().payload = self._dump(payload)
            return payload
        if self.payload_purged or not self.payload:
            raise errors.RetailIntegrationError(
                self.env._("The payload of this exchange was purged by the retention policy; "
                  "it cannot be replayed."), errors.VALIDATION)
        try:
            return json.loads(self.payload)
        except ValueError as exc:
            raise errors.RetailIntegrationError(
                self.env._("The stored payload is not valid JSON: %s", exc), errors.VALIDATION) from exc

    def _register_failure(self, exc):
        self.ensure_one()
        self.attempts += 1
        message = exc.message
        if exc.details:
            message += "\n" + json.dumps(exc.details, ensure_ascii=False, indent=1)
        values = {"failure_class": exc.failure_class, "error": message}
        if exc.result is not None:
            values.update(http_status=exc.result.status, duration_ms=exc.result.duration_ms,
                          response=exc.result.stored_response())
        backend = self.backend_id
        if exc.retryable and self.attempts < backend.retry_max_attempts:
            delay = backoff_delay(self.attempts, backend.retry_backoff_base,
                                  backend.retry_backoff_max, retry_after=exc.retry_after)
            values.update(state="retry",
                          next_retry_at=fields.Datetime.now() + timedelta(seconds=delay))
            self.sudo().write(values)
            self._enqueue(delay=delay)
            return
        if exc.retryable:
            values["error"] = self.env._("Out of retries after %(n)s attempts. Last error: %(error)s",
                                n=self.attempts, error=message)
        values.update(state="failed", next_retry_at=False)
        self.sudo().write(values)
        if self.direction == "outbound" and self.res_model and self.res_id:
            self.env["retail.binding"]._touch(
                backend, self.env[self.res_model].browse(self.res_id), "error", self)
        # A connector reacts to a message entering the exception queue (the
        # handler's own writes were rolled back with its savepoint).
        hook = getattr(self, f"_retail_failed_{self.flow_id.code}", None)
        if hook:
            hook()

    def _send(self, method, path, payload=None):
        """Call the partner for this exchange; raise on any failure."""
        self.ensure_one()
        return self.backend_id._http_send(method, path, payload=payload, exchange=self) \
            .raise_for_failure()

    # Handlers of the generic kind: they make a bare backend useful (relay a
    # stored request, log partner events) and exercise the framework alone.

    def _retail_handle_generic_request(self, payload):
        """Send the stored ``{"method", "path", "body"}`` request as is."""
        if not isinstance(payload, dict) or not payload.get("path"):
            raise errors.RetailIntegrationError(
                self.env._("A generic request needs a path."), errors.VALIDATION)
        result = self._send(payload.get("method", "POST"), payload["path"], payload.get("body"))
        return self.env._("HTTP %s", result.status)

    def _retail_handle_generic_events(self, payload):
        """Keep partner events in the log without acting on them."""
        if not isinstance(payload, dict) or not payload.get("type"):
            raise errors.RetailIntegrationError(
                self.env._("An event needs a type."), errors.VALIDATION)
        return self.env._("Event %s logged.", payload["type"])

    def _linked_record(self):
        self.ensure_one()
        if self.res_model and self.res_id and self.res_model in self.env:
            return self.env[self.res_model].browse(self.res_id).exists()
        return None

    # ------------------------------------------------------------------ actions

    def _audit(self, message):
        for exchange in self:
            exchange.message_post(body=message)

    def _reroute(self):
        """Inbound events no flow took (unknown type at the time) get a flow
        again if the configuration now has one, so Retry and Replay work
        after an administrator added or activated the flow."""
        for exchange in self.filtered(lambda e: e.direction == "inbound" and not e.flow_id):
            flow = exchange.backend_id._inbound_flow(exchange.event_type)
            if flow:
                exchange.sudo().write({
                    "flow_id": flow.id,
                    "lane": self._lane_of(flow, exchange.external_ref or exchange.idempotency_key),
                    "name": self._make_name("inbound", flow, event_type=exchange.event_type)})

    def action_retry(self):
        """Run failed or waiting exchanges again, with fresh data, now."""
        todo = self.filtered(lambda e: e.state in ("failed", "retry", "pending"))
        if not todo:
            raise UserError(self.env._("Only pending, waiting or failed exchanges can be retried."))
        todo._reroute()
        todo.write({"state": "pending", "attempts": 0, "next_retry_at": False})
        todo._audit(self.env._("Retried by %s.", self.env.user.name))
        todo.sudo()._enqueue_again()
        return True

    def action_replay(self):
        """Re-run the handler on the stored payload (any final state)."""
        todo = self.filtered(lambda e: e.state in ("done", "failed", "ignored"))
        if not todo:
            raise UserError(self.env._("Only done, failed or ignored exchanges can be replayed."))
        if todo.filtered("payload_purged"):
            raise UserError(self.env._("Some exchanges have no payload any more (retention policy)."))
        todo._reroute()
        todo.write({"state": "pending", "attempts": 0, "next_retry_at": False})
        todo._audit(self.env._("Replayed by %s.", self.env.user.name))
        todo.sudo()._enqueue_again(replay=True)
        return True

    def action_ignore(self):
        todo = self.filtered(lambda e: e.state in ("failed", "retry", "pending"))
        if not todo:
            raise UserError(self.env._("Only pending, waiting or failed exchanges can be ignored."))
        todo.write({"state": "ignored", "next_retry_at": False})
        todo._audit(self.env._("Ignored by %s.", self.env.user.name))
        return True

    def action_open_record(self):
        self.ensure_one()
        record = self._linked_record()
        if not record:
            raise UserError(self.env._("This exchange is not linked to an existing record."))
        return {"type": "ir.actions.act_window", "res_model": record._name,
                "res_id": record.id, "view_mode": "form"}

    def _job_related_action_exchange(self):
        self.ensure_one()
        return {"type": "ir.actions.act_window", "res_model": self._name,
                "res_id": self.id, "view_mode": "form", "name": self.name}

    @api.model
    def _record_batch_failure(self, flow, exc):
        """Make a failed batch run visible in the exception queue."""
        exchange = self._record_outbound(
            flow.backend_id, flow, f"batch:{flow.code}:{uuid.uuid4().hex}")
        failure_class = getattr(exc, "failure_class", errors.TECHNICAL)
        if getattr(exc, "pgcode", None) in CONCURRENCY_ERRORS:
            # Another transaction held the rows: the next scheduled run repeats it.
            failure_class = errors.TRANSIENT
        exchange.write({"state": "failed", "attempts": 1, "failure_class": failure_class,
                        "error": f"Batch run failed: {exc}"})
        return exchange

    # -------------------------------------------------------------------- crons

    @api.model
    def _cron_dispatch_pending(self, older_than=60):
        """Safety net: pending inbound events that no lane job took yet.

        A lane job that started just before an event was committed can miss
        it; this sweeps such events (and any left by a lost job) into lanes.
        """
        stale = self.sudo().search([
            ("direction", "=", "inbound"), ("state", "=", "pending"),
            ("flow_id", "!=", False),
            ("create_date", "<=", fields.Datetime.now() - timedelta(seconds=older_than))])
        seen = set()
        for exchange in stale:
            if (exchange.flow_id.id, exchange.lane) not in seen:
                seen.add((exchange.flow_id.id, exchange.lane))
                exchange._enqueue_lane()
        return len(seen)

    @api.model
    def _cron_purge_payloads(self):
        """Drop payloads and responses older than the configured retention."""
        params = self.env["ir.config_parameter"].sudo()
        now = fields.Datetime.now()
        rules = [
            (int(params.get_param("retail_integration.payload_retention_days", 30)),
             list(FINAL_STATES)),
            (int(params.get_param("retail_integration.exception_retention_days", 90)),
             ["failed"]),
        ]
        purged = 0
        for days, states in rules:
            if days <= 0:
                continue
            old = self.sudo().search([
                ("state", "in", states), ("payload_purged", "=", False),
                ("create_date", "<", now - timedelta(days=days))])
            old.write({"payload": False, "response": False, "payload_purged": True})
            purged += len(old)
        return purged
