# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import logging

from odoo import http
from odoo.http import request

from ..services.webhook_signature import WebhookVerificationError

_logger = logging.getLogger(__name__)


WEBHOOK_FIELDS = [
    "webhook_max_body", "webhook_verifier", "webhook_tolerance", "integration_user_id",
    "company_id", "name", "webhook_secret_encrypted", "webhook_secret_previous_encrypted",
    "webhook_secret_previous_until", "kind", "webhook_subject_keys",
]


def _error(status, code, message, details=None):
    return request.make_json_response(
        {"error": {"code": code, "message": message, "details": details or []}},
        status=status)


class RetailWebhookController(http.Controller):
    """Inbound webhooks, per CONTRACTS.md.

    The order of the checks is part of the contract: the body size is
    bounded before anything is computed on it, the signature is checked
    before the body is parsed, and the event is recorded (deduplicated on
    ``webhook-id``) before it is processed by a job, so the answer is fast.
    """

    @http.route("/retail/webhook/<int:backend_id>", type="http", auth="none",
                methods=["POST"], csrf=False, save_session=False, readonly=False)
    def retail_webhook(self, backend_id, **_kw):
        httprequest = request.httprequest
        # One query for everything intake needs, secrets included.
        backend = request.env["retail.backend"].sudo().search_fetch(
            [("id", "=", backend_id)], WEBHOOK_FIELDS, limit=1)
        if not backend:
            return _error(404, "unknown_backend", f"No active backend {backend_id}.")
        limit = backend.webhook_max_body
        length = httprequest.content_length
        if length is None:
            # Without a length the size could only be known by reading it all.
            return _error(411, "length_required", "A Content-Length header is required.")
        if length > limit:
            return _error(413, "body_too_large", f"The body exceeds {limit} bytes.")
        # werkzeug reads at most Content-Length bytes; cached because Odoo
        # re-runs the handler after a serialization failure.
        body = httprequest.get_data()
        headers = {k.lower(): v for k, v in httprequest.headers.items()}
        try:
            event_id = backend._webhook_verify(headers, body)
        except WebhookVerificationError as exc:
            _logger.warning("Webhook for backend %s refused: %s", backend.id, exc.code)
            return _error(401, exc.code, exc.message)
        except Exception:  # a broken key or secret must not leak a traceback
            _logger.exception("Webhook verification error on backend %s", backend.id)
            return _error(500, "verification_error",
                          "The backend's webhook verification is misconfigured.")
        if not event_id:
            return _error(400, "missing_id", "The delivery carries no event id.")
        try:
            event = backend._webhook_parse(body)
        except (ValueError, TypeError, KeyError, RecursionError) as exc:
            # Whatever a connector's envelope parser trips on (deeply nested
            # JSON included) is the sender's malformed body: recorded, 400.
            exchange, _created = request.env["retail.exchange"].sudo()._record_inbound(
                backend, event_id, {}, body, error=f"Malformed webhook body: {exc}")
            return _error(400, "malformed_json", f"Malformed body: {exc}",
                          [{"exchange": exchange.id}])
        Exchange = request.env["retail.exchange"].with_user(
            backend.integration_user_id or request.env.ref("base.user_root"))
        exchange, created = Exchange._record_inbound(backend, event_id, event, body)
        if not created:
            return request.make_json_response(
                {"exchange": exchange.id, "state": exchange.state, "duplicate": True},
                status=200)
        return request.make_json_response({"exchange": exchange.id}, status=202)
