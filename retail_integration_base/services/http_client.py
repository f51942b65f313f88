# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Outbound HTTP client shared by every connector.

One ``requests.Session`` per backend and process keeps connections alive;
the session is rebuilt when the backend's configuration changes (the cache
key carries the backend's ``write_date``). The client never raises for an
HTTP status: it returns an :class:`HttpResult` whose ``failure_class`` says
what went wrong, and it never logs or returns credentials.
"""

from dataclasses import dataclass, field
import json
import logging
import threading
import time

import requests

from . import errors
from .classification import classify_status, parse_retry_after

_logger = logging.getLogger(__name__)

SENSITIVE_HEADERS = frozenset({
    "authorization", "proxy-authorization", "x-api-key", "api-key", "cookie",
    "set-cookie", "webhook-signature",
})
MAX_STORED_RESPONSE = 64 * 1024

_sessions = {}
_sessions_lock = threading.Lock()


def redact_headers(headers):
    return {
        k: ("***" if k.lower() in SENSITIVE_HEADERS else v)
        for k, v in (headers or {}).items()
    }


@dataclass
class ClientConfig:
    cache_key: tuple
    base_url: str
    auth_headers: dict = field(default_factory=dict)
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    user_agent: str = "odoo-retail-integration/18.0"


@dataclass
class HttpResult:
    method: str
    url: str
    status: int = None
    body: object = None
    text: str = ""
    headers: dict = field(default_factory=dict)
    duration_ms: int = 0
    failure_class: str = None
    error: str = None
    retry_after: float = None

    @property
    def ok(self):
        return self.failure_class is None

    def error_payload(self):
        """The partner's ``{"error": {...}}`` object, when it sent one."""
        if isinstance(self.body, dict) and isinstance(self.body.get("error"), dict):
            return self.body["error"]
        return {}

    def stored_response(self):
        text = self.text or ""
        if len(text) > MAX_STORED_RESPONSE:
            text = text[:MAX_STORED_RESPONSE] + "\n[truncated]"
        return text

    def raise_for_failure(self):
        if self.ok:
            return self
        err = self.error_payload()
        message = err.get("message") or self.error or f"HTTP {self.status}"
        if err.get("code"):
            message = f"{err['code']}: {message}"
        exc = errors.RetailIntegrationError(
            message, self.failure_class, retry_after=self.retry_after,
            http_status=self.status, details=err.get("details"))
        exc.result = self
        raise exc


def _session(config):
    with _sessions_lock:
        session = _sessions.get(config.cache_key)
        if session is None:
            # Drop sessions of older configurations of the same backend.
            for key in [k for k in _sessions if k[:2] == config.cache_key[:2]]:
                _sessions.pop(key).close()
            session = requests.Session()
            adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=16)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            _sessions[config.cache_key] = session
        return session


def send(config, method, path, payload=None, idempotency_key=None,
         correlation_id=None, extra_headers=None):
    """Send one request and classify its outcome."""
    url = config.base_url.rstrip("/") + "/" + path.lstrip("/")
    headers = {
        "Accept": "application/json",
        "User-Agent": config.user_agent,
    }
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    if correlation_id:
        headers["X-Correlation-ID"] = correlation_id
    headers.update(extra_headers or {})
    headers.update(config.auth_headers)
    data = None
    if payload is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    result = HttpResult(method=method, url=url)
    start = time.monotonic()
    try:
        response = _session(config).request(
            method, url, data=data, headers=headers,
            timeout=(config.connect_timeout, config.read_timeout))
    except requests.Timeout as exc:
        result.failure_class = errors.TRANSIENT
        result.error = f"timeout calling {method} {url}: {type(exc).__name__}"
    except requests.RequestException as exc:
        result.failure_class = errors.TRANSIENT
        result.error = f"network error calling {method} {url}: {type(exc).__name__}"
    else:
        result.status = response.status_code
        result.text = response.text
        result.headers = redact_headers(dict(response.headers))
        try:
            result.body = response.json() if response.content else None
        except ValueError:
            result.body = None
        result.failure_class = classify_status(response.status_code)
        if result.failure_class == errors.RATE_LIMITED:
            result.retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if result.failure_class:
            result.error = f"HTTP {response.status_code} from {method} {url}"
    result.duration_ms = int((time.monotonic() - start) * 1000)
    _logger.debug(
        "%s %s -> %s in %d ms (key=%s, correlation=%s)", method, url, result.status,
        result.duration_ms, idempotency_key, correlation_id)
    return result
