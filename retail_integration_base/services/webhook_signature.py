# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Standard Webhooks signatures (https://www.standardwebhooks.com/).

signature = base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")), where the
secret is ``whsec_<base64 key>``; the header lists one or more
``v1,<signature>`` separated by spaces so that a sender can sign with a new
and an old secret during a rotation.
"""

import base64
import hashlib
import hmac
import time

SECRET_PREFIX = "whsec_"
DEFAULT_TOLERANCE = 300


class WebhookVerificationError(Exception):
    """The request is not authentic; ``code`` goes into the JSON error."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def decode_secret(secret):
    if not secret:
        raise ValueError("empty webhook secret")
    raw = secret[len(SECRET_PREFIX):] if secret.startswith(SECRET_PREFIX) else secret
    try:
        return base64.b64decode(raw, validate=True)
    except (ValueError, TypeError) as exc:
        raise ValueError("webhook secret is not valid base64") from exc


def sign(secret, msg_id, timestamp, body):
    """Return the ``v1,<base64>`` signature of one message."""
    if isinstance(body, str):
        body = body.encode()
    key = decode_secret(secret)
    signed = b"%s.%d.%s" % (msg_id.encode(), int(timestamp), body)
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(secrets, msg_id, timestamp, signature_header, body,
           tolerance=DEFAULT_TOLERANCE, now=None):
    """Check one delivery; raise :class:`WebhookVerificationError` if bad.

    ``secrets`` are all the secrets currently accepted (current and, during
    a rotation, previous); any listed signature may match any of them.
    """
    if not msg_id or not timestamp or not signature_header:
        raise WebhookVerificationError(
            "missing_headers",
            "webhook-id, webhook-timestamp and webhook-signature are required")
    try:
        ts = int(timestamp)
    except (TypeError, ValueError) as exc:
        raise WebhookVerificationError(
            "invalid_timestamp", "webhook-timestamp is not an integer") from exc
    now = time.time() if now is None else now
    if abs(now - ts) > tolerance:
        raise WebhookVerificationError(
            "timestamp_out_of_tolerance",
            f"webhook-timestamp is more than {tolerance} s away from now")
    candidates = []
    for part in signature_header.split():
        version, _, value = part.partition(",")
        if version == "v1" and value:
            candidates.append(value.encode())
    if not candidates:
        raise WebhookVerificationError("invalid_signature", "no v1 signature in webhook-signature")
    for secret in secrets:
        if not secret:
            continue
        expected = sign(secret, msg_id, ts, body)[3:].encode()
        for candidate in candidates:
            if hmac.compare_digest(expected, candidate):
                return True
    raise WebhookVerificationError("invalid_signature", "no signature matches an active secret")
