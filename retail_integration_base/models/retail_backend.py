# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from datetime import timedelta
import fnmatch
import ipaddress
import json
import logging
import os
import time
from urllib.parse import urlparse
import uuid

from odoo import api, fields, models, tools
from odoo.exceptions import UserError, ValidationError

from ..services import crypto, http_client
from ..services import webhook_signature as stdwebhooks
from ..services.errors import RateLimitDeferred

_logger = logging.getLogger(__name__)

# Waits shorter than this are slept through inside the job; longer ones
# re-schedule the exchange without spending an attempt.
RATE_LIMIT_MAX_INLINE_WAIT = 2.0
# A bucket row held longer than this by another worker turns into a job
# retry (a lock error) instead of a worker stuck waiting.
RATE_LIMIT_LOCK_TIMEOUT_MS = 2000


def _secret_box():
    key = tools.config.get(crypto.CONFIG_KEY) or os.environ.get(crypto.ENV_VAR)
    try:
        return crypto.SecretBox(key)
    except crypto.EncryptionKeyError as exc:
        raise UserError(str(exc)) from exc


def _is_loopback(url):
    host = urlparse(url or "").hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class RetailBackend(models.Model):
    """One external system the suite talks to.

    How a connector adds a kind of backend (the ``payment`` provider recipe):

    1. ``kind = fields.Selection(selection_add=[("oms", "OMS")],
       ondelete={"oms": "cascade"})``;
    2. register its flows as ``retail.flow`` data or in
       ``_retail_default_flows()`` (returns a list of value dicts);
    3. override the extension points below, calling ``super()`` when
       ``self.kind`` is not theirs:

       - ``_retail_event_subject_keys()``: which keys of an inbound event's
         ``data`` name the partner object it is about (its lane and
         ``external_ref``);
       - ``_webhook_parse(body)``: the partner's event envelope;
       - ``_get_health_path()``: what *Test connection* and the probes call;
       - ``_retail_cache_fields()`` (model level): the connector's fields
         whose change must clear the registry caches;
    4. implement the exchange handlers ``_retail_handle_<flow code>`` (and
       ``_retail_build_<flow code>`` for outbound flows) on ``retail.exchange``.

    Webhook verification is dispatched on ``webhook_verifier`` the same way:
    ``_webhook_verify_<verifier>(headers, body)``, and authentication on
    ``auth_type``: ``_retail_auth_headers_<auth_type>()`` (add a scheme with
    ``selection_add`` on ``auth_type`` and that method).
    """

    _name = "retail.backend"
    _description = "Retail Integration Backend"
    _inherit = ["mail.thread"]
    _order = "sequence, name, id"

    name = fields.Char(required=True, tracking=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True, tracking=True)
    kind = fields.Selection(
        [("generic", "Generic HTTP")], required=True, default="generic", tracking=True,
        help="The kind of external system; connector modules add theirs.")
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company, tracking=True)
    environment = fields.Selection(
        [("sandbox", "Sandbox"), ("production", "Production")],
        required=True, default="sandbox", tracking=True,
        help="Production backends talk to the live system: their URL must use HTTPS "
             "(loopback excepted) and their form shows a warning banner.")
    base_url = fields.Char(string="Base URL", required=True, tracking=True)
    auth_type = fields.Selection(
        [("none", "None"), ("bearer", "API key (Bearer)"), ("header", "API key (custom header)")],
        required=True, default="bearer", tracking=True)
    auth_header_name = fields.Char(default="X-API-Key")
    # Encrypted values: never shown, never exported in clear, not tracked.
    # One prefetch group: they are read together, never with ordinary reads.
    api_key_encrypted = fields.Char(
        copy=False, prefetch="retail_secrets", groups="base.group_system")
    webhook_secret_encrypted = fields.Char(
        copy=False, prefetch="retail_secrets", groups="base.group_system")
    webhook_secret_previous_encrypted = fields.Char(
        copy=False, prefetch="retail_secrets", groups="base.group_system")
    webhook_secret_previous_until = fields.Datetime(
        copy=False, readonly=True, prefetch="retail_secrets",
        help="During a rotation the previous secret stays valid until this time.")
    # Write-only inputs: their value is encrypted on save and reads back empty.
    api_key = fields.Char(
        string="New API key", compute="_compute_secret_inputs", inverse="_inverse_api_key",
        groups="retail_integration_base.group_retail_integration_manager")
    webhook_secret = fields.Char(
        string="New webhook secret", compute="_compute_secret_inputs",
        inverse="_inverse_webhook_secret",
        groups="retail_integration_base.group_retail_integration_manager",
        help="whsec_<base64>. Saving a new secret keeps the previous one valid for the "
             "rotation grace period, so that the partner can switch without losing events.")
    api_key_state = fields.Selection(
        [("set", "Set"), ("not_set", "Not set")], string="API key",
        compute="_compute_secret_states")
    webhook_secret_state = fields.Selection(
        [("set", "Set"), ("rotating", "Set (previous still valid)"), ("not_set", "Not set")],
        string="Webhook secret", compute="_compute_secret_states")
    rotation_grace_hours = fields.Integer(default=24)
    webhook_verifier = fields.Selection(
        [("standard_webhooks", "Standard Webhooks")], required=True,
        default="standard_webhooks")
    webhook_max_body = fields.Integer(
        string="Webhook body limit (bytes)", default=1024 * 1024, required=True)
    webhook_subject_keys = fields.Char(
        string="Event subject keys",
        help="Keys of an event's data that name the object it is about, comma-separated; "
             "the first one present wins. One object's events are processed in order, "
             "different objects' in parallel. Connectors know their own keys: this is for "
             "generic backends.")
    webhook_tolerance = fields.Integer(
        string="Webhook timestamp tolerance (s)", default=stdwebhooks.DEFAULT_TOLERANCE,
        required=True)
    webhook_url = fields.Char(compute="_compute_webhook_url", string="Webhook URL")
    connect_timeout = fields.Float(default=5.0, required=True)
    read_timeout = fields.Float(default=30.0, required=True)
    retry_max_attempts = fields.Integer(
        default=lambda self: self._default_param("retry_max_attempts", 5), required=True,
        help="Attempts of one exchange before it lands in the exception queue.")
    retry_backoff_base = fields.Float(
        string="Backoff base (s)", required=True,
        default=lambda self: self._default_param("retry_backoff_base", 10.0, float))
    retry_backoff_max = fields.Float(
        string="Backoff cap (s)", required=True,
        default=lambda self: self._default_param("retry_backoff_max", 3600.0, float))
    rate_limit_per_second = fields.Float(
        string="Rate limit (calls/s)", default=0.0,
        help="Shared by every worker and node through PostgreSQL. 0 means unlimited.")
    rate_limit_burst = fields.Integer(default=10)
    integration_user_id = fields.Many2one(
        "res.users", required=True,
        default=lambda self: self.env.ref(
            "retail_integration_base.user_retail_integration", raise_if_not_found=False),
        help="Technical user that processes this backend's exchanges.")
    health_state = fields.Selection(
        [("unknown", "Unknown"), ("ok", "Reachable"), ("error", "Unreachable")],
        default="unknown", readonly=True, copy=False)
    health_checked_at = fields.Datetime(string="Last check", readonly=True, copy=False)
    health_message = fields.Char(string="Result", readonly=True, copy=False)
    flow_ids = fields.One2many("retail.flow", "backend_id")
    mapping_ids = fields.One2many("retail.mapping", "backend_id")
    exchange_count = fields.Integer(compute="_compute_exchange_counts")
    exception_count = fields.Integer(compute="_compute_exchange_counts")

    _sql_constraints = [
        ("webhook_max_body_positive", "CHECK(webhook_max_body > 0)",
         "The webhook body limit must be positive."),
        ("retry_max_attempts_positive", "CHECK(retry_max_attempts >= 1)",
         "At least one attempt is needed."),
    ]

    @api.model
    def _default_param(self, name, default, cast=int):
        value = self.env["ir.config_parameter"].sudo().get_param(f"retail_integration.{name}")
        try:
            return cast(value) if value else default
        except ValueError:
            return default

    def _compute_secret_inputs(self):
        for backend in self:
            backend.api_key = False
            backend.webhook_secret = False

    def _compute_secret_states(self):
        now = fields.Datetime.now()
        stored = self.sudo().read([
            "api_key_encrypted", "webhook_secret_encrypted",
            "webhook_secret_previous_encrypted", "webhook_secret_previous_until"])
        for backend, values in zip(self, stored, strict=True):
            backend.api_key_state = "set" if values["api_key_encrypted"] else "not_set"
            if not values["webhook_secret_encrypted"]:
                backend.webhook_secret_state = "not_set"
            elif values["webhook_secret_previous_encrypted"] and (
                    values["webhook_secret_previous_until"] or now) > now:
                backend.webhook_secret_state = "rotating"
            else:
                backend.webhook_secret_state = "set"

    @api.depends("kind")
    def _compute_webhook_url(self):
        base = self.env["ir.config_parameter"].sudo().get_param("web.base.url", "")
        for backend in self:
            backend.webhook_url = (
                f"{base}/retail/webhook/{backend.id}" if backend.id else False)

    def _compute_exchange_counts(self):
        groups = self.env["retail.exchange"]._read_group(
            [("backend_id", "in", self.ids)], ["backend_id", "state"], ["__count"])
        totals, failed = {}, {}
        for backend, state, count in groups:
            totals[backend.id] = totals.get(backend.id, 0) + count
            if state == "failed":
                failed[backend.id] = count
        for backend in self:
            backend.exchange_count = totals.get(backend.id, 0)
            backend.exception_count = failed.get(backend.id, 0)

    @api.constrains("environment", "base_url")
    def _check_production_url(self):
        for backend in self:
            url = backend.base_url or ""
            if not url.startswith(("http://", "https://")):
                raise ValidationError(self.env._("The base URL of %s must start with http:// or https://.",
                                        backend.name))
            if (backend.environment == "production" and not url.startswith("https://")
                    and not _is_loopback(url)):
                raise ValidationError(self.env._(
                    "Production backend %s must use HTTPS: plain HTTP is only allowed on "
                    "loopback addresses.", backend.name))

    @api.constrains("rate_limit_per_second", "rate_limit_burst", "connect_timeout", "read_timeout")
    def _check_limits(self):
        for backend in self:
            if backend.rate_limit_per_second < 0 or backend.rate_limit_burst < 1:
                raise ValidationError(self.env._("The rate limit must be 0 (off) or positive, "
                                        "with a burst of at least 1."))
            if backend.connect_timeout <= 0 or backend.read_timeout <= 0:
                raise ValidationError(self.env._("Timeouts must be positive."))

    def _inverse_api_key(self):
        for backend in self:
            if backend.api_key:
                backend.sudo().api_key_encrypted = _secret_box().encrypt(backend.api_key)
                backend.message_post(body=self.env._("API key changed by %s.", self.env.user.name))

    def _inverse_webhook_secret(self):
        for backend in self:
            if not backend.webhook_secret:
                continue
            try:
                stdwebhooks.decode_secret(backend.webhook_secret)
            except ValueError as exc:
                raise ValidationError(self.env._("The webhook secret must look like whsec_<base64>.")) \
                    from exc
            box = _secret_box()
            current = backend.sudo().webhook_secret_encrypted
            values = {"webhook_secret_encrypted": box.encrypt(backend.webhook_secret)}
            if current:
                values.update(
                    webhook_secret_previous_encrypted=current,
                    webhook_secret_previous_until=fields.Datetime.now()
                    + timedelta(hours=backend.rotation_grace_hours))
            backend.sudo().write(values)
            backend.message_post(body=self.env._("Webhook secret rotated by %s.", self.env.user.name)
                                 if current else
                                 self.env._("Webhook secret set by %s.", self.env.user.name))

    @api.model_create_multi
    def create(self, vals_list):
        backends = super().create(vals_list)
        backends._create_default_flows()
        self.env.registry.clear_cache()  # connectors cache their targets
        return backends

    def write(self, vals):
        result = super().write(vals)
        if self._retail_cache_fields() & set(vals):
            self.env.registry.clear_cache()
        return result

    def unlink(self):
        self.env.registry.clear_cache()
        self.env.cr.execute("DELETE FROM retail_rate_bucket WHERE backend_id IN %s",
                            [tuple(self.ids) or (0,)])
        return super().unlink()

    def init(self):
        # The rate limit bucket is a plain table without foreign key: it is
        # updated in short autonomous transactions that must not wait for,
        # nor see, the caller's uncommitted work.
        self.env.cr.execute("""
            CREATE TABLE IF NOT EXISTS retail_rate_bucket (
                backend_id integer PRIMARY KEY,
                tokens double precision NOT NULL,
                refilled_at timestamp NOT NULL DEFAULT clock_timestamp()
            )""")

    # ------------------------------------------------------------------ actions

    def action_test_connection(self):
        self.ensure_one()
        self.check_access("write")
        exchange = self.env["retail.exchange"].sudo()._record_outbound(
            self, None, idempotency_key=f"health:{uuid.uuid4().hex}",
            payload={"path": self._get_health_path()})
        result = self._http_send("GET", self._get_health_path(), exchange=exchange)
        ok = result.ok
        message = (self.env._("Reachable in %(ms)s ms (HTTP %(status)s).", ms=result.duration_ms,
                             status=result.status)
                   if ok else (result.error or self.env._("HTTP %s", result.status)))
        exchange.write({"state": "done" if ok else "failed",
                        "failure_class": result.failure_class, "error": False if ok else message})
        self.write({"health_state": "ok" if ok else "error", "health_message": message,
                    "health_checked_at": fields.Datetime.now()})
        return {
            "type": "ir.actions.client", "tag": "display_notification",
            "params": {"title": self.env._("Test connection: %s", self.name), "message": message,
                       "type": "success" if ok else "danger", "sticky": not ok,
                       "next": {"type": "ir.actions.act_window_close"}},
        }

    def action_drop_previous_secret(self):
        self.ensure_one()
        self.sudo().write({"webhook_secret_previous_encrypted": False,
                           "webhook_secret_previous_until": False})
        self.message_post(body=self.env._("Previous webhook secret revoked by %s.", self.env.user.name))

    def action_view_exchanges(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "retail_integration_base.retail_exchange_action")
        action["domain"] = [("backend_id", "=", self.id)]
        action["context"] = {"search_default_backend_id": self.id}
        return action

    def action_view_exceptions(self):
        action = self.action_view_exchanges()
        action["context"] = dict(action["context"], search_default_filter_failed=1)
        return action

    def action_create_default_flows(self):
        self._create_default_flows()

    # ------------------------------------------------------------- extension

    def _retail_default_flows(self):
        """Flows every backend of this kind gets: list of ``retail.flow`` values.

        Connectors override, call ``super()`` and append their flows when
        ``self.kind`` is theirs.
        """
        self.ensure_one()
        if self.kind != "generic":
            return []
        return [
            {"name": "Requests", "code": "generic_request", "direction": "outbound",
             "mode": "realtime"},
            {"name": "Events", "code": "generic_events", "direction": "inbound",
             "mode": "realtime", "event_types": "*"},
        ]

    @api.model
    def _fill_company(self, vals_list):
        """Records of a backend (messages, bindings) carry its company,
        copied at creation so that record rules need no join."""
        for vals in vals_list:
            if not vals.get("company_id") and vals.get("backend_id"):
                vals["company_id"] = self.browse(vals["backend_id"]).sudo().company_id.id
        return vals_list

    @api.model
    def _create_missing_default_flows(self):
        """Give existing backends the flows a connector update added.

        Called from each connector's data on install and update.
        """
        self.sudo().with_context(active_test=False).search([])._create_default_flows()

    def _create_default_flows(self):
        for backend in self:
            existing = set(backend.with_context(active_test=False).flow_ids.mapped("code"))
            values = [dict(v, backend_id=backend.id) for v in backend._retail_default_flows()
                      if v["code"] not in existing]
            if values:
                self.env["retail.flow"].sudo().create(values)

    # -------------------------------------------------------- extension points

    @api.model
    def _retail_cache_fields(self):
        """Fields whose change clears the registry caches: connectors cache
        backend lookups and routes (``ormcache``), so a change of what those
        read must reach every worker. Connectors add their fields."""
        return {"active", "kind", "company_id", "webhook_subject_keys"}

    def _get_health_path(self):
        """The path that *Test connection* and availability probes GET."""
        self.ensure_one()
        return "/v1/health"

    def _retail_event_subject_keys(self):
        """Keys of an inbound event's ``data`` that name the partner object
        the event is about, in order of preference. That reference becomes
        the exchange's ``external_ref`` and its lane key, so one object's
        events are processed in arrival order. Connectors return theirs for
        their kind; a generic backend reads ``webhook_subject_keys``. With
        none, events spread over the lanes by event id."""
        self.ensure_one()
        return tuple(k.strip() for k in (self.webhook_subject_keys or "").split(",") if k.strip())

    def _retail_event_subject(self, data):
        """The external reference an event is about, or False."""
        if not isinstance(data, dict):
            return False
        for key in self._retail_event_subject_keys():
            if data.get(key):
                return data[key]
        return False

    def _webhook_parse(self, body):
        """The event of a verified delivery: a dict with a string ``type`` and,
        optionally, an integer ``sequence`` and a ``data`` object. Raise
        ``ValueError`` with a reason when the body is not one: the delivery
        is recorded as failed and answered ``400``. The default is the
        suite's envelope (CONTRACTS.md); a partner that wraps its events
        differently overrides this for its kind and returns that shape."""
        event = json.loads(body)
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            raise ValueError("the body must be a JSON object with a string 'type'")
        return event

    @api.model
    @tools.ormcache("backend_id")
    def _inbound_routes(self, backend_id):
        """``(flow id, event type patterns)`` of a backend's active inbound
        flows, in order. Cached for webhook intake; flows clear the cache."""
        flows = self.env["retail.flow"].sudo().search([
            ("backend_id", "=", backend_id), ("direction", "=", "inbound")])
        return tuple((flow.id, flow._event_patterns()) for flow in flows)

    def _inbound_flow(self, event_type):
        """The inbound flow that takes ``event_type``, or an empty recordset."""
        self.ensure_one()
        for flow_id, patterns in self._inbound_routes(self.id):
            if any(fnmatch.fnmatchcase(event_type or "", p) for p in patterns):
                return self.env["retail.flow"].browse(flow_id)
        return self.env["retail.flow"]

    def _get_flow(self, code, raise_if_missing=True):
        self.ensure_one()
        flow = self.env["retail.flow"].sudo().search(
            [("backend_id", "=", self.id), ("code", "=", code)], limit=1).with_env(self.env)
        if not flow and raise_if_missing:
            raise UserError(self.env._("Backend %(backend)s has no flow %(code)s.",
                              backend=self.name, code=code))
        return flow

    # ------------------------------------------------------------------ secrets

    def _decrypt(self, field_name):
        self.ensure_one()
        token = self.sudo()[field_name]
        if not token:
            return False
        try:
            return _secret_box().decrypt(token)
        except crypto.EncryptionKeyError as exc:
            raise UserError(str(exc)) from exc

    def _webhook_secrets(self):
        """The secrets a delivery may be signed with right now."""
        self.ensure_one()
        secrets = [self._decrypt("webhook_secret_encrypted")]
        backend = self.sudo()
        until = backend.webhook_secret_previous_until
        if backend.webhook_secret_previous_encrypted and until and until > fields.Datetime.now():
            secrets.append(self._decrypt("webhook_secret_previous_encrypted"))
        return [s for s in secrets if s]

    # ---------------------------------------------------------------- webhooks

    def _webhook_verify(self, headers, body):
        """Raise ``WebhookVerificationError`` unless the delivery is authentic."""
        self.ensure_one()
        return getattr(self, f"_webhook_verify_{self.webhook_verifier}")(headers, body)

    def _webhook_verify_standard_webhooks(self, headers, body):
        secrets = self._webhook_secrets()
        if not secrets:
            raise stdwebhooks.WebhookVerificationError(
                "not_configured", "this backend has no webhook secret")
        stdwebhooks.verify(
            secrets, headers.get("webhook-id"), headers.get("webhook-timestamp"),
            headers.get("webhook-signature"), body, tolerance=self.webhook_tolerance)
        return headers.get("webhook-id")

    # ----------------------------------------------------------- outbound http

    def _retail_auth_headers(self):
        """Headers that authenticate every call to the backend, by scheme:
        ``_retail_auth_headers_<auth_type>()``."""
        self.ensure_one()
        return getattr(self, f"_retail_auth_headers_{self.auth_type}")()

    def _retail_auth_headers_none(self):
        return {}

    def _retail_auth_headers_bearer(self):
        key = self._decrypt("api_key_encrypted")
        return {"Authorization": f"Bearer {key}"} if key else {}

    def _retail_auth_headers_header(self):
        key = self._decrypt("api_key_encrypted")
        return {self.auth_header_name or "X-API-Key": key} if key else {}

    def _client_config(self):
        self.ensure_one()
        return http_client.ClientConfig(
            cache_key=(self.env.cr.dbname, self.id, str(self.write_date)),
            base_url=self.base_url, auth_headers=self._retail_auth_headers(),
            connect_timeout=self.connect_timeout, read_timeout=self.read_timeout)

    def _http_send(self, method, path, payload=None, exchange=None, extra_headers=None):
        """Send one call under the backend's rate limit; return an HttpResult.

        When ``exchange`` is given its idempotency key and correlation ID go
        into the headers, and the outcome (status, response, duration) is
        written on it.
        """
        self.ensure_one()
        self._rate_limit_acquire()
        result = http_client.send(
            self._client_config(), method, path, payload=payload,
            idempotency_key=exchange.idempotency_key if exchange else None,
            correlation_id=exchange.correlation_id if exchange else None,
            extra_headers=extra_headers)
        if exchange:
            exchange.sudo().write({
                "http_status": result.status, "duration_ms": result.duration_ms,
                "response": result.stored_response(),
            })
        return result

    def _rate_limit_acquire(self):
        """Take one token from the backend's bucket, shared through PostgreSQL.

        Runs in its own short transaction so that concurrent workers
        serialise on the bucket row only for the update.
        Sleeps through short waits; raises ``RateLimitDeferred`` for long ones.
        Returns the seconds waited.
        """
        self.ensure_one()
        rate = self.rate_limit_per_second
        if not rate:
            return 0.0
        burst = float(self.rate_limit_burst)
        max_debt = RATE_LIMIT_MAX_INLINE_WAIT * rate
        query = """
            WITH cur AS (
                SELECT backend_id, LEAST(%(cap)s, tokens + %(rate)s * GREATEST(0,
                       EXTRACT(EPOCH FROM clock_timestamp() - refilled_at))) AS t
                  FROM retail_rate_bucket WHERE backend_id = %(id)s FOR UPDATE)
            UPDATE retail_rate_bucket b
               SET tokens = CASE WHEN cur.t - 1 >= -%(debt)s THEN cur.t - 1 ELSE cur.t END,
                   refilled_at = clock_timestamp()
              FROM cur WHERE b.backend_id = cur.backend_id
            RETURNING cur.t"""
        params = {"id": self.id, "cap": burst, "rate": rate, "debt": max_debt}

        def take(cursor):
            # Read committed: workers queue on the row lock and then see the
            # committed balance, instead of failing to serialize.
            cursor.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            cursor.execute("SET LOCAL lock_timeout = %s", [f"{RATE_LIMIT_LOCK_TIMEOUT_MS}ms"])
            cursor.execute(
                "INSERT INTO retail_rate_bucket (backend_id, tokens) VALUES (%s, %s) "
                "ON CONFLICT (backend_id) DO NOTHING", [self.id, burst])
            cursor.execute(query, params)
            return cursor.fetchone()[0]

        with self.env.registry.cursor() as own_cr:
            before = take(own_cr)
        after = before - 1
        if after >= 0:
            return 0.0
        wait = -after / rate
        if after < -max_debt:
            raise RateLimitDeferred(wait)
        time.sleep(wait)
        return wait
