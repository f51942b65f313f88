# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Shared building blocks of the reference simulators.

Everything here is standard library only, so a simulator runs anywhere a
Python 3.10+ interpreter does, without Odoo and without third-party packages.

The pieces:

* :class:`SimulatorServer` -- a loopback-only threading HTTP server with a
  tiny router, JSON helpers, the contract's error format, bearer-token auth,
  an idempotency store, a request log, fault injection and the ``/_sim/``
  control API shared by every simulator;
* :class:`WebhookDispatcher` -- a background worker that delivers outgoing
  webhooks signed with the Standard Webhooks scheme, with retries, a delivery
  log, duplicate and out-of-order fault injection;
* CLI helpers (:func:`build_arg_parser`, :func:`serve_until_signal`).
"""

import argparse
import base64
import collections
import copy
import hashlib
import heapq
import hmac
import http.client
import http.server
import ipaddress
import itertools
import json
import os
import random
import re
import signal
import socket
import socketserver
import sys
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request

DEFAULT_HOST = "127.0.0.1"
MAX_BODY_BYTES = 1024 * 1024
# Bodies a little over the limit are read and thrown away so that the client
# gets to read the 413 instead of a connection reset; past this cap we simply
# close the connection.
DRAIN_CAP_BYTES = 16 * MAX_BODY_BYTES
REQUEST_LOG_SIZE = 1000
DELIVERY_LOG_SIZE = 1000
DEFAULT_RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0)
DEFAULT_WEBHOOK_TIMEOUT = 5.0
SECRET_PREFIX = "whsec_"
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------


def utc_now_iso():
    """Current time as ISO 8601 with an explicit offset (contract rule)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())


def canonical_json(value):
    """Bytes of ``value`` serialised canonically (sorted keys, no spaces).

    Two bodies that differ only by key order or whitespace are the same
    request, which is what an idempotency comparison needs.
    """
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


def error_body(code, message, details=None):
    """The contract's error envelope."""
    return {"error": {"code": code, "message": message, "details": list(details or [])}}


def is_loopback_host(host):
    """True for ``localhost`` and any loopback IP (127.0.0.0/8, ::1)."""
    if not isinstance(host, str) or not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        # Any other host name could resolve anywhere: refuse it.
        return False


def is_int(value):
    """A JSON integer (``bool`` is an ``int`` subclass in Python: exclude it)."""
    return isinstance(value, int) and not isinstance(value, bool)


def decode_webhook_secret(secret):
    """Key bytes of a ``whsec_<base64>`` secret; ``ValueError`` if malformed."""
    if not isinstance(secret, str) or not secret:
        raise ValueError("webhook secret must be a non-empty string 'whsec_<base64>'")
    raw = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(raw, validate=True)
    except ValueError as exc:  # binascii.Error is a ValueError
        raise ValueError("webhook secret must be 'whsec_' followed by base64") from exc
    if not key:
        raise ValueError("webhook secret decodes to an empty key")
    return key


def sign_webhook(keys, msg_id, timestamp, body):
    """Standard Webhooks ``webhook-signature`` header value.

    One ``v1,<base64 HMAC-SHA256>`` entry per key, space separated, so that
    during a secret rotation the receiver may match either secret.
    """
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        for key in keys
    )


def check_http_url(value):
    """Validate a webhook target: http only on loopback, https anywhere."""
    parts = urllib.parse.urlsplit(value) if isinstance(value, str) else None
    if not parts or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("webhook_url must be an absolute http(s) URL")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise ValueError("plain http webhooks are only allowed to a loopback host")
    return value


class ApiError(Exception):
    """An error answered with the contract's envelope."""

    def __init__(self, status, code, message, details=None, headers=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = list(details or [])
        self.headers = dict(headers or {})

    def body(self):
        return error_body(self.code, self.message, self.details)


def bad_request(message, details=None, code="invalid_request"):
    return ApiError(400, code, message, details)


def not_found(message, details=None, code="not_found"):
    return ApiError(404, code, message, details)


class Response:
    """What a route handler returns: status, JSON body and extra headers."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status, body, headers=None):
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


class Request:
    """What a route handler receives."""

    __slots__ = (
        "body",
        "correlation_id",
        "headers",
        "idempotency_key",
        "method",
        "params",
        "path",
        "query",
    )

    def __init__(self, method, path, params, query, headers, body,
                 correlation_id=None, idempotency_key=None):
        self.method = method
        self.path = path
        self.params = params
        self.query = query
        self.headers = headers
        self.body = body
        self.correlation_id = correlation_id
        self.idempotency_key = idempotency_key

    def query_value(self, name, default=None):
        values = self.query.get(name)
        return values[0] if values else default

    def json_object(self, optional=False):
        """The body as a JSON object (``{}`` when optional and absent)."""
        if self.body is None and optional:
            return {}
        if not isinstance(self.body, dict):
            raise bad_request("the request body must be a JSON object")
        return self.body


class Checker:
    """Collects field errors as ``details`` entries, then raises once.

    Entries look like ``{"field": "lines[0].qty", "code": "...", "message": "..."}``.
    """

    def __init__(self):
        self.details = []
        self._fields = set()

    def add(self, field, code, message, **extra):
        # One entry per field is enough, the first problem found wins.
        if field in self._fields:
            return
        self._fields.add(field)
        self.details.append({"field": field, "code": code, "message": message, **extra})

    def has(self, field):
        return field in self._fields

    def string(self, obj, key, prefix="", required=True):
        field = f"{prefix}{key}"
        value = obj.get(key)
        if value is None:
            if required:
                self.add(field, "required", "is required")
            return None
        if not isinstance(value, str) or (required and not value.strip()):
            self.add(field, "invalid_type", "must be a non-empty string")
            return None
        return value

    def integer(self, obj, key, prefix="", required=True, minimum=None, money=False):
        field = f"{prefix}{key}"
        value = obj.get(key)
        if value is None:
            if required:
                self.add(field, "required", "is required")
            return None
        if isinstance(value, float):
            message = ("amounts are integer minor units, never floats" if money
                       else "must be an integer")
            self.add(field, "not_integer", message)
            return None
        if not is_int(value):
            self.add(field, "invalid_type", "must be an integer")
            return None
        if minimum is not None and value < minimum:
            self.add(field, "out_of_range", f"must be >= {minimum}")
            return None
        return value

    def boolean(self, obj, key, prefix="", default=None):
        value = obj.get(key, default)
        if value is not None and not isinstance(value, bool):
            self.add(f"{prefix}{key}", "invalid_type", "must be a boolean")
            return default
        return value

    def choice(self, obj, key, choices, prefix="", default=None):
        value = obj.get(key, default)
        if value not in choices:
            self.add(f"{prefix}{key}", "invalid_value", f"must be one of {', '.join(choices)}")
            return default
        return value

    def currency(self, obj, key, prefix="", required=True):
        value = self.string(obj, key, prefix, required=required)
        if value is not None and not re.fullmatch(r"[A-Z]{3}", value):
            self.add(f"{prefix}{key}", "invalid_value", "must be an ISO 4217 code like EUR")
            return None
        return value

    def no_floats(self, value, field):
        """Flag every JSON number with a fraction below ``value``."""
        if isinstance(value, float):
            self.add(field, "not_integer", "amounts and quantities are integers, never floats")
        elif isinstance(value, dict):
            for key, item in value.items():
                self.no_floats(item, f"{field}.{key}" if field else key)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                self.no_floats(item, f"{field}[{index}]")

    def raise_if_any(self, message="the request is invalid", status=400,
                     code="invalid_request"):
        if self.details:
            raise ApiError(status, code, message, self.details)


# ---------------------------------------------------------------------------
# Idempotency store, request log, faults
# ---------------------------------------------------------------------------


class IdempotencyStore:
    """``Idempotency-Key`` -> first answer (status, body, headers).

    The fingerprint covers method, path and the canonical body, so the same key
    reused for another request (another body *or* another endpoint) is a
    conflict.  Callers serialise lookups and stores with the simulator lock.
    """

    def __init__(self):
        self._entries = {}

    @staticmethod
    def fingerprint(method, path, body):
        digest = hashlib.sha256()
        digest.update(f"{method} {path}\n".encode())
        digest.update(canonical_json(body))
        return digest.hexdigest()

    def get(self, key):
        return self._entries.get(key)

    def put(self, key, fingerprint, response):
        self._entries[key] = {
            "fingerprint": fingerprint,
            "status": response.status,
            "body": copy.deepcopy(response.body),
            "headers": dict(response.headers),
        }

    def clear(self):
        self._entries.clear()

    def __len__(self):
        return len(self._entries)

    def dump(self):
        return copy.deepcopy(self._entries)

    def load(self, data):
        self._entries = dict(data or {})


class RequestLog:
    """Per-endpoint counters and the tail of the last requests.

    Only metadata is kept; never headers such as ``Authorization``.
    """

    def __init__(self, size=REQUEST_LOG_SIZE):
        self._lock = threading.Lock()
        self._entries = collections.deque(maxlen=size)
        self._counters = collections.Counter()
        self._statuses = collections.Counter()

    def record(self, entry):
        with self._lock:
            self._entries.append(entry)
            self._counters[entry["endpoint"]] += 1
            self._statuses[str(entry["status"])] += 1

    def counters(self):
        with self._lock:
            return dict(self._counters)

    def statuses(self):
        with self._lock:
            return dict(self._statuses)

    def tail(self, limit=None):
        with self._lock:
            entries = list(self._entries)
        if limit is not None:
            entries = entries[-limit:] if limit > 0 else []
        return entries

    def reset(self):
        with self._lock:
            self._entries.clear()
            self._counters.clear()
            self._statuses.clear()


FAULT_DEFAULTS = {
    # probability (0..1) that a /v1/ request is answered with `error_status`
    "error_rate": 0.0,
    "error_status": 503,
    # the next N /v1/ requests answer 429 with Retry-After: retry_after_s
    "burst_429": 0,
    "retry_after_s": 1,
    # added sleep per /v1/ request, plus a uniform random 0..jitter
    "latency_ms": 0,
    "latency_jitter_ms": 0,
    # probability of holding the answer for timeout_sleep_s; with phase "after"
    # the request IS applied and only the answer is late (the ambiguous case
    # idempotency keys exist for); with "before" nothing is applied until then
    "timeout_rate": 0.0,
    "timeout_sleep_s": 10.0,
    "timeout_phase": "after",
    # outgoing webhooks: probability of a second delivery of the same event
    "duplicate_rate": 0.0,
    # outgoing webhooks buffered in pairs and delivered swapped; a lone event
    # is released after out_of_order_hold_s so nothing is held forever
    "out_of_order": False,
    "out_of_order_hold_s": 1.0,
    # seed of the random generator behind every probability above
    "seed": None,
}


def _number(minimum, maximum=None):
    def check(value):
        if not (is_int(value) or isinstance(value, float)):
            raise ValueError("must be a number")
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
            raise ValueError(f"must be {bound}")
        return value
    return check


def _integer(minimum):
    def check(value):
        if not is_int(value) or value < minimum:
            raise ValueError(f"must be an integer >= {minimum}")
        return value
    return check


def _status_5xx(value):
    if not is_int(value) or not 500 <= value <= 599:
        raise ValueError("must be an HTTP status between 500 and 599")
    return value


def _boolean(value):
    if not isinstance(value, bool):
        raise TypeError("must be true or false")
    return value


def _seed(value):
    if value is not None and not is_int(value):
        raise ValueError("must be an integer or null")
    return value


def _phase(value):
    if value not in ("before", "after"):
        raise ValueError("must be 'before' or 'after'")
    return value


FAULT_CHECKS = {
    "error_rate": _number(0, 1),
    "error_status": _status_5xx,
    "burst_429": _integer(0),
    "retry_after_s": _integer(0),
    "latency_ms": _number(0),
    "latency_jitter_ms": _number(0),
    "timeout_rate": _number(0, 1),
    "timeout_sleep_s": _number(0),
    "timeout_phase": _phase,
    "duplicate_rate": _number(0, 1),
    "out_of_order": _boolean,
    "out_of_order_hold_s": _number(0),
    "seed": _seed,
}


class FaultPlan:
    """What the fault injector decided for one request."""

    __slots__ = ("fault", "headers", "latency_s", "status", "timeout_phase", "timeout_s")

    def __init__(self):
        self.latency_s = 0.0
        self.status = None
        self.headers = {}
        self.fault = None
        self.timeout_s = 0.0
        self.timeout_phase = "after"


class FaultInjector:
    """Run-time switchable faults, all off by default, reproducible by seed."""

    def __init__(self, seed=None):
        self._lock = threading.Lock()
        self._default_seed = seed
        self.reset()

    def reset(self):
        with self._lock:
            self._settings = dict(FAULT_DEFAULTS, seed=self._default_seed)
            self._rng = random.Random(self._default_seed)

    def snapshot(self):
        with self._lock:
            return dict(self._settings)

    def get(self, name):
        with self._lock:
            return self._settings[name]

    def update(self, changes):
        """Merge ``changes`` (validated all or nothing); returns the settings."""
        if not isinstance(changes, dict):
            raise bad_request("faults must be a JSON object")
        checker = Checker()
        clean = {}
        for name, value in changes.items():
            check = FAULT_CHECKS.get(name)
            if check is None:
                checker.add(name, "unknown_fault", f"known faults: {', '.join(FAULT_CHECKS)}")
                continue
            try:
                clean[name] = check(value)
            except (TypeError, ValueError) as exc:
                checker.add(name, "invalid_value", str(exc))
        checker.raise_if_any("invalid fault settings")
        with self._lock:
            self._settings.update(clean)
            if "seed" in clean:
                # Re-seeding makes the following draws reproducible.
                self._rng = random.Random(clean["seed"])
            return dict(self._settings)

    def chance(self, name):
        """Draw against the probability setting ``name``."""
        with self._lock:
            rate = self._settings[name]
            if rate <= 0:
                return False
            return self._rng.random() < rate

    def plan_request(self):
        """Decide the faults of one /v1/ request (draw order is fixed)."""
        plan = FaultPlan()
        with self._lock:
            s = self._settings
            plan.latency_s = s["latency_ms"] / 1000.0
            if s["latency_jitter_ms"] > 0:
                plan.latency_s += self._rng.uniform(0, s["latency_jitter_ms"]) / 1000.0
            if s["burst_429"] > 0:
                s["burst_429"] -= 1
                plan.status = 429
                plan.fault = "burst_429"
                plan.headers = {"Retry-After": str(s["retry_after_s"])}
                return plan
            if s["error_rate"] > 0 and self._rng.random() < s["error_rate"]:
                plan.status = s["error_status"]
                plan.fault = "error_rate"
                return plan
            if s["timeout_rate"] > 0 and self._rng.random() < s["timeout_rate"]:
                plan.timeout_s = float(s["timeout_sleep_s"])
                plan.timeout_phase = s["timeout_phase"]
                plan.fault = "timeout"
        return plan


# ---------------------------------------------------------------------------
# Outgoing webhooks
# ---------------------------------------------------------------------------


class WebhookEvent:
    """One event: id and body are fixed, so every (re)delivery is identical."""

    __slots__ = (
        "body",
        "correlation_id",
        "id",
        "occurred_at",
        "payload",
        "sequence",
        "subject",
        "type",
    )

    def __init__(self, event_id, event_type, subject, sequence, data,
                 correlation_id=None, occurred_at=None):
        self.id = event_id
        self.type = event_type
        self.subject = subject
        self.sequence = sequence
        self.occurred_at = occurred_at or utc_now_iso()
        self.correlation_id = correlation_id
        self.payload = {
            "id": event_id,
            "type": event_type,
            "occurred_at": self.occurred_at,
            "sequence": sequence,
            "data": data,
        }
        self.body = json.dumps(
            self.payload, separators=(",", ":"), ensure_ascii=False
        ).encode("utf-8")

    def summary(self):
        return {
            "id": self.id,
            "type": self.type,
            "subject": self.subject,
            "sequence": self.sequence,
            "occurred_at": self.occurred_at,
        }


class Delivery:
    """One delivery of an event (a duplicate is a second delivery)."""

    __slots__ = (
        "attempts",
        "duplicate",
        "event",
        "first_attempt_at",
        "last_attempt_at",
        "last_error",
        "last_response",
        "last_status",
        "number",
        "status",
    )

    def __init__(self, number, event, duplicate=False):
        self.number = number
        self.event = event
        self.duplicate = duplicate
        self.attempts = 0
        self.status = "pending"
        self.last_status = None
        self.last_error = None
        self.last_response = None
        self.first_attempt_at = None
        self.last_attempt_at = None

    def to_dict(self):
        return {
            "delivery": self.number,
            "event_id": self.event.id,
            "type": self.event.type,
            "subject": self.event.subject,
            "sequence": self.event.sequence,
            "duplicate": self.duplicate,
            "status": self.status,
            "attempts": self.attempts,
            "last_status": self.last_status,
            "last_error": self.last_error,
            "last_response": self.last_response,
            "first_attempt_at": self.first_attempt_at,
            "last_attempt_at": self.last_attempt_at,
        }


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirected POST would be replayed as a GET without body: treat any 3xx
    # as a failed attempt instead.
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


class WebhookDispatcher:
    """Delivers webhooks from a queue on one background worker thread.

    Events are never sent inside the request that caused them.  A failed
    attempt (non-2xx, connection error, timeout) is retried after each delay of
    ``retry_delays`` (0.5, 1, 2, 4, 8 s: at most 6 attempts), then recorded as
    failed.  Retries are scheduled, not slept, so one failing event does not
    hold back the others -- as with real platforms, order is not guaranteed.
    """

    def __init__(self, faults):
        self._faults = faults
        self._cond = threading.Condition()
        self._heap = []  # (due monotonic time, tie-breaker, delivery)
        self._held = None  # (release deadline, [deliveries]) for out_of_order
        self._in_flight = 0
        self._tie = itertools.count()
        self._numbers = itertools.count(1)
        self._log = collections.deque(maxlen=DELIVERY_LOG_SIZE)
        self._totals = collections.Counter()
        self._generation = 0
        self._stopped = False
        self._threads = []
        self.workers = 1
        self._opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), _NoRedirect()
        )
        self.url = None
        self.secrets = []
        self._keys = []
        self.retry_delays = list(DEFAULT_RETRY_DELAYS)
        self.timeout = DEFAULT_WEBHOOK_TIMEOUT

    # -- configuration -----------------------------------------------------

    def set_url(self, url):
        with self._cond:
            self.url = check_http_url(url) if url else None

    def set_secret(self, secret):
        """One secret, or a list of secrets (all of them sign: rotation)."""
        if secret in (None, "", []):
            secrets = []
        elif isinstance(secret, str):
            secrets = [secret]
        elif isinstance(secret, list) and all(isinstance(s, str) for s in secret):
            secrets = list(secret)
        else:
            raise ValueError("webhook_secret must be a string or a list of strings")
        keys = [decode_webhook_secret(s) for s in secrets]
        with self._cond:
            self.secrets = secrets
            self._keys = keys

    def set_retry_delays(self, delays):
        if not isinstance(delays, list) or len(delays) > 20 or not all(
            (is_int(d) or isinstance(d, float)) and d >= 0 for d in delays
        ):
            raise ValueError("webhook_retry_delays must be a list of at most 20 numbers >= 0")
        with self._cond:
            self.retry_delays = list(delays)

    def set_workers(self, workers):
        """How many deliveries may be under way at once (real platforms send
        in parallel; then events of one object may overtake each other)."""
        if not is_int(workers) or not 1 <= workers <= 32:
            raise ValueError("webhook_workers must be an integer from 1 to 32")
        with self._cond:
            self.workers = workers
        if self._threads:
            self._spawn()

    def set_timeout(self, timeout):
        if not (is_int(timeout) or isinstance(timeout, float)) or timeout <= 0:
            raise ValueError("webhook_timeout must be a number > 0")
        with self._cond:
            self.timeout = timeout

    # -- life cycle --------------------------------------------------------

    def start(self):
        with self._cond:
            self._stopped = False
        self._spawn()

    def _spawn(self):
        """Start worker threads up to ``workers`` (extra ones retire by themselves)."""
        with self._cond:
            self._threads = [t for t in self._threads if t.is_alive()]
            for _n in range(self.workers - len(self._threads)):
                thread = threading.Thread(
                    target=self._run, name=f"webhook-dispatcher-{len(self._threads) + 1}",
                    daemon=True)
                self._threads.append(thread)
                thread.start()

    def stop(self):
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []

    def reset(self):
        """Forget queued deliveries and the log (an in-flight one is dropped)."""
        with self._cond:
            self._heap.clear()
            self._held = None
            self._log.clear()
            self._totals.clear()
            self._generation += 1
            self._cond.notify_all()

    def wait_in_flight(self, timeout):
        """Wait until no attempt is under way (a reset drops its outcome, but
        the receiver may still be answering it)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._in_flight == 0, timeout=max(0.0, timeout))

    # -- queueing ----------------------------------------------------------

    def enqueue(self, event):
        """Queue ``event``; fault settings decide duplicates and swaps."""
        with self._cond:
            deliveries = [self._new_delivery(event)]
            if self._faults.chance("duplicate_rate"):
                # Same event object: same webhook-id, same body.
                deliveries.append(self._new_delivery(event, duplicate=True))
            now = time.monotonic()
            if self._faults.get("out_of_order"):
                if self._held is None:
                    for delivery in deliveries:
                        delivery.status = "held"
                    hold = self._faults.get("out_of_order_hold_s")
                    self._held = (now + hold, deliveries)
                    self._cond.notify_all()
                    return deliveries
                # Second of the pair: it goes out first, then the held one.
                held = self._held[1]
                self._held = None
                batch = deliveries + held
            else:
                batch = deliveries
            for delivery in batch:
                self._push(now, delivery)
            self._cond.notify_all()
            return deliveries

    def flush(self):
        """Release a held (out-of-order) event now."""
        with self._cond:
            self._release_held()
            self._cond.notify_all()

    def _new_delivery(self, event, duplicate=False):
        delivery = Delivery(next(self._numbers), event, duplicate)
        self._log.append(delivery)
        self._totals["queued"] += 1
        return delivery

    def _push(self, due, delivery):
        delivery.status = "pending"
        heapq.heappush(self._heap, (due, next(self._tie), delivery))

    def _release_held(self):
        if self._held is not None:
            now = time.monotonic()
            for delivery in self._held[1]:
                self._push(now, delivery)
            self._held = None

    # -- state ---------------------------------------------------------------

    def _idle(self):
        return not self._heap and self._held is None and self._in_flight == 0

    def is_idle(self):
        with self._cond:
            return self._idle()

    def wait_idle(self, timeout):
        with self._cond:
            return self._cond.wait_for(self._idle, timeout=max(0.0, timeout))

    def pending(self):
        with self._cond:
            held = len(self._held[1]) if self._held else 0
            return len(self._heap) + held + self._in_flight

    def snapshot(self, limit=None):
        with self._cond:
            deliveries = [d.to_dict() for d in self._log]
            held = len(self._held[1]) if self._held else 0
            return {
                "url": self.url,
                "idle": self._idle(),
                "pending": len(self._heap) + held + self._in_flight,
                "held": held,
                "totals": dict(self._totals),
                "deliveries": deliveries[-limit:] if limit else deliveries,
            }

    # -- worker --------------------------------------------------------------

    def _retire(self):
        """True when this thread is one worker too many (workers was lowered)."""
        alive = [t for t in self._threads if t.is_alive()]
        me = threading.current_thread()
        if len(alive) > self.workers and me in alive:
            self._threads.remove(me)
            return True
        return False

    def _run(self):
        while True:
            with self._cond:
                delivery = None
                while delivery is None:
                    if self._stopped or self._retire():
                        return
                    now = time.monotonic()
                    if self._held is not None and self._held[0] <= now:
                        self._release_held()
                    if self._heap and self._heap[0][0] <= now:
                        delivery = heapq.heappop(self._heap)[2]
                        break
                    waits = []
                    if self._heap:
                        waits.append(self._heap[0][0] - now)
                    if self._held is not None:
                        waits.append(self._held[0] - now)
                    self._cond.wait(min(waits) if waits else None)
                self._in_flight += 1
                generation = self._generation
                url, keys, timeout = self.url, list(self._keys), self.timeout
                delays = list(self.retry_delays)
            try:
                result = self._attempt(delivery, url, keys, timeout)
            except Exception as exc:  # noqa: BLE001 - the worker must survive anything
                result = (None, f"{type(exc).__name__}: {exc}", None)
            with self._cond:
                self._in_flight -= 1
                if generation == self._generation:
                    self._record(delivery, result, delays)
                self._cond.notify_all()

    def _attempt(self, delivery, url, keys, timeout):
        if not url:
            return ("skipped", "no webhook_url configured", None)
        event = delivery.event
        # The timestamp is taken per attempt (receivers refuse stale ones);
        # the id and body never change.
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "retail-suite-simulator/1",
            "webhook-id": event.id,
            "webhook-timestamp": str(timestamp),
        }
        if keys:
            headers["webhook-signature"] = sign_webhook(keys, event.id, timestamp, event.body)
        if event.correlation_id:
            headers["X-Correlation-ID"] = event.correlation_id
        request = urllib.request.Request(url, data=event.body, headers=headers, method="POST")
        try:
            with self._opener.open(request, timeout=timeout) as answer:
                text = answer.read(500).decode("utf-8", "replace")
                return (answer.status, None, text)
        except urllib.error.HTTPError as exc:
            text = exc.read(500).decode("utf-8", "replace") if exc.fp else None
            exc.close()
            return (exc.code, f"HTTP {exc.code}", text)
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", exc)
            return (None, f"{type(exc).__name__}: {reason}", None)

    def _record(self, delivery, result, delays):
        status, error, text = result
        if status == "skipped":
            delivery.status = "skipped"
            delivery.last_error = error
            self._totals["skipped"] += 1
            return
        delivery.attempts += 1
        delivery.last_attempt_at = utc_now_iso()
        delivery.first_attempt_at = delivery.first_attempt_at or delivery.last_attempt_at
        delivery.last_status = status
        delivery.last_error = error
        delivery.last_response = text
        self._totals["attempts"] += 1
        if status is not None and 200 <= status < 300:
            delivery.status = "delivered"
            self._totals["delivered"] += 1
        elif delivery.attempts <= len(delays):
            self._push(time.monotonic() + delays[delivery.attempts - 1], delivery)
            delivery.status = "retrying"
        else:
            delivery.status = "failed"
            self._totals["failed"] += 1


# ---------------------------------------------------------------------------
# HTTP server
# ---------------------------------------------------------------------------


class Route:
    __slots__ = ("handler", "kind", "method", "regex", "template")

    def __init__(self, kind, method, template, handler):
        self.kind = kind
        self.method = method
        self.template = template
        self.handler = handler
        # "/v1/orders/{order_ref}/cancel": each {name} matches one path segment.
        pieces = re.split(r"(\{\w+\})", template)
        pattern = "".join(
            f"(?P<{piece[1:-1]}>[^/]+)" if piece.startswith("{") else re.escape(piece)
            for piece in pieces
        )
        self.regex = re.compile(f"^{pattern}$")


class _HttpServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    simulator = None

    def server_bind(self):
        # HTTPServer.server_bind() calls socket.getfqdn(), a reverse DNS
        # lookup that can stall for seconds; loopback does not need it.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = host
        self.server_port = port


class _HttpServer6(_HttpServer):
    address_family = socket.AF_INET6


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "RetailSimulator/1.0"
    # Headers and body leave in separate writes: without TCP_NODELAY, Nagle's
    # algorithm and the client's delayed ACK add ~40 ms to every answer.
    disable_nagle_algorithm = True

    def _dispatch(self):
        self.server.simulator._handle(self)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

    def log_message(self, format, *args):
        if self.server.simulator.verbose:
            super().log_message(format, *args)


class SimulatorServer:
    """Base of every simulator: HTTP plumbing, state lock and control API.

    Subclasses set ``name`` / ``display_name``, register their routes in
    :meth:`register_routes` and implement :meth:`reset_state`,
    :meth:`state_extra` and, for ``--state-file``, :meth:`dump_state` /
    :meth:`load_state`.
    """

    name = "simulator"
    display_name = "Simulator"
    config_keys = ("api_key", "webhook_url", "webhook_secret", "webhook_retry_delays",
                   "webhook_timeout", "webhook_workers")

    def __init__(self, host=DEFAULT_HOST, port=0, *, api_key=None, webhook_url=None,
                 webhook_secret=None, seed=None, state_file=None, verbose=False,
                 max_body_bytes=MAX_BODY_BYTES):
        if not is_loopback_host(host):
            raise ValueError(
                f"refusing to listen on {host!r}: simulators only bind a loopback "
                "address (127.0.0.0/8, ::1 or localhost)"
            )
        self.host = host
        self.port = port
        self.verbose = verbose
        self.max_body_bytes = max_body_bytes
        self.state_file = state_file
        # One re-entrant lock guards all simulated state; handlers run under it
        # together with the idempotency lookup and store, so two concurrent
        # requests with the same key cannot both be applied.
        self.lock = threading.RLock()
        self.api_key = api_key or None
        self.faults = FaultInjector(seed)
        self.requests = RequestLog()
        self.idempotency = IdempotencyStore()
        self.webhooks = WebhookDispatcher(self.faults)
        self.webhooks.set_url(webhook_url)
        self.webhooks.set_secret(webhook_secret)
        self._stopping = threading.Event()
        self._httpd = None
        self._thread = None
        self._routes = []
        self._register_control_routes()
        self.register_routes()
        self.reset_state()
        if state_file and os.path.exists(state_file):
            self._load_state_file()

    # -- hooks for subclasses ---------------------------------------------

    def register_routes(self):
        """Register the simulator's routes with :meth:`route`."""

    def reset_state(self):
        """(Re)initialise the simulated business state."""

    def state_extra(self):
        """Simulator specific part of ``GET /_sim/state``."""
        return {}

    def dump_state(self):
        """Business state to persist in ``--state-file`` (JSON-able)."""
        return {}

    def load_state(self, data):
        """Restore what :meth:`dump_state` produced."""

    def has_pending_work(self):
        """True while the simulator will still emit events by itself."""
        return False

    def on_stop(self):
        """Release simulator specific resources (timers...)."""

    # -- routing -------------------------------------------------------------

    def route(self, kind, method, template, handler):
        """Register ``handler(request) -> Response | (status, body) | body``.

        ``kind`` is ``"api"`` (auth, faults, idempotency, request log) or
        ``"control"`` (the ``/_sim/`` API: none of those).
        """
        self._routes.append(Route(kind, method, template, handler))

    def _match(self, method, path):
        allowed = []
        for route in self._routes:
            found = route.regex.match(path)
            if not found:
                continue
            if route.method == method:
                params = {k: urllib.parse.unquote(v) for k, v in found.groupdict().items()}
                return route, params, allowed
            allowed.append(route.method)
        return None, {}, allowed

    # -- life cycle ----------------------------------------------------------

    @property
    def url(self):
        if self._httpd is None:
            raise RuntimeError("the simulator is not started")
        host, port = self._httpd.server_address[:2]
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def start(self):
        """Bind, serve on a background thread and print the listening line."""
        server_class = _HttpServer6 if ":" in self.host else _HttpServer
        self._stopping.clear()
        self._httpd = server_class((self.host.strip("[]"), self.port), _Handler)
        self._httpd.simulator = self
        self.webhooks.start()
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
            name=f"{self.name}-simulator", daemon=True,
        )
        self._thread.start()
        print(f"{self.display_name} simulator listening on {self.url}", flush=True)
        return self

    def stop(self):
        self._stopping.set()  # wakes handlers sleeping on latency/timeout faults
        self.on_stop()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        self.webhooks.stop()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    # -- request handling ----------------------------------------------------

    def _handle(self, handler):
        started = time.monotonic()
        method = handler.command
        parts = urllib.parse.urlsplit(handler.path)
        path = parts.path
        is_api = path == "/v1" or path.startswith("/v1/")
        correlation_id = (handler.headers.get("X-Correlation-ID") or "")[:200] or None
        entry = {
            "at": utc_now_iso(),
            "method": method,
            "path": path,
            "endpoint": f"{method} {path}",
            "status": None,
            "idempotency_key": (handler.headers.get("Idempotency-Key") or "")[:255] or None,
            "correlation_id": correlation_id,
            "replayed": False,
            "fault": None,
        }
        delay_after = 0.0
        close = False
        try:
            raw, close = self._read_body(handler)
            route, params, allowed = self._match(method, path)
            if route is not None:
                entry["endpoint"] = f"{method} {route.template}"
            if is_api:
                response, delay_after = self._process_api(
                    handler, method, path, parts, route, params, allowed, raw, entry
                )
            else:
                response = self._process_control(
                    handler, method, path, parts, route, params, allowed, raw
                )
        except ApiError as exc:
            response = Response(exc.status, exc.body(), exc.headers)
        except Exception:  # noqa: BLE001 - a bug must still answer in the contract format
            traceback.print_exc(file=sys.stderr)
            response = Response(500, error_body("internal_error", "unexpected simulator error"))
        if correlation_id:
            response.headers.setdefault("X-Correlation-ID", correlation_id)
        if is_api:
            entry["status"] = response.status
            entry["duration_ms"] = round((time.monotonic() - started) * 1000, 1)
            self.requests.record(entry)
        if delay_after:
            # The work is done and logged; only the answer is late.
            self._stopping.wait(delay_after)
        self._write(handler, response, close)

    def _read_body(self, handler):
        """Read the request body; 413 past ``max_body_bytes``."""
        if "chunked" in (handler.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked(handler)
        try:
            length = int(handler.headers.get("Content-Length") or 0)
        except ValueError:
            handler.close_connection = True
            raise bad_request("invalid Content-Length") from None
        if length < 0:
            handler.close_connection = True
            raise bad_request("invalid Content-Length")
        if length > self.max_body_bytes:
            if length <= DRAIN_CAP_BYTES:
                self._drain(handler, length)
            else:
                handler.close_connection = True
            raise self._too_large()
        return handler.rfile.read(length) if length else b"", False

    def _read_chunked(self, handler):
        chunks = []
        size = 0
        while True:
            line = handler.rfile.readline(1024)
            try:
                chunk_size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                handler.close_connection = True
                raise bad_request("malformed chunked body") from None
            if chunk_size == 0:
                # trailer section up to the empty line
                while handler.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks), False
            size += chunk_size
            if size > self.max_body_bytes:
                handler.close_connection = True
                raise self._too_large()
            chunks.append(handler.rfile.read(chunk_size))
            handler.rfile.readline(1024)  # CRLF after the chunk

    @staticmethod
    def _drain(handler, length):
        while length > 0:
            chunk = handler.rfile.read(min(length, 65536))
            if not chunk:
                break
            length -= len(chunk)

    def _too_large(self):
        return ApiError(413, "payload_too_large",
                        f"the request body exceeds {self.max_body_bytes} bytes",
                        [{"limit_bytes": self.max_body_bytes}])

    @staticmethod
    def _parse_json(raw):
        if not raw:
            return None
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise bad_request("the body is not valid UTF-8 JSON", [{"reason": str(exc)}],
                              code="malformed_json") from None

    def _check_auth(self, handler):
        if not self.api_key:
            return
        header = handler.headers.get("Authorization") or ""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), self.api_key.encode()
        ):
            raise ApiError(401, "unauthorized", "missing or invalid bearer token",
                           headers={"WWW-Authenticate": "Bearer"})

    def _process_api(self, handler, method, path, parts, route, params, allowed, raw, entry):
        plan = self.faults.plan_request()
        if plan.latency_s:
            self._stopping.wait(plan.latency_s)
        if plan.fault:
            entry["fault"] = plan.fault
        if plan.status == 429:
            raise ApiError(429, "rate_limited", "too many requests (injected fault)",
                           headers=plan.headers)
        if plan.status:
            raise ApiError(plan.status, "service_unavailable",
                           "temporarily unavailable (injected fault)")
        if plan.timeout_s and plan.timeout_phase == "before":
            self._stopping.wait(plan.timeout_s)
        delay_after = plan.timeout_s if plan.timeout_phase == "after" else 0.0

        self._check_auth(handler)
        request = self._build_request(handler, method, path, parts, route, params, allowed, raw)
        key = request.idempotency_key
        if key is not None and (not key.strip() or len(key) > 255):
            raise bad_request("Idempotency-Key must be 1..255 characters",
                              [{"field": "Idempotency-Key", "code": "invalid_value"}])
        with self.lock:
            if key and method in WRITE_METHODS:
                fingerprint = IdempotencyStore.fingerprint(method, path, request.body)
                stored = self.idempotency.get(key)
                if stored is not None:
                    if stored["fingerprint"] != fingerprint:
                        raise ApiError(
                            409, "idempotency_conflict",
                            "this Idempotency-Key was used for a different request",
                            [{"field": "Idempotency-Key", "idempotency_key": key}],
                        )
                    entry["replayed"] = True
                    headers = dict(stored["headers"], **{"Idempotent-Replayed": "true"})
                    return Response(stored["status"], copy.deepcopy(stored["body"]),
                                    headers), delay_after
                response = self._call_safely(route, request)
                # Only work that was done is remembered (as payment APIs do):
                # a refusal (4xx) or a transient failure (5xx) changed
                # nothing, so the client may fix the request and send it again
                # under the same key, which is how a corrected order is retried.
                if 200 <= response.status < 300:
                    self.idempotency.put(key, fingerprint, response)
            else:
                response = self._call(route, request)
            if method in WRITE_METHODS and response.status < 500:
                self._save_state_file()
        return response, delay_after

    def _process_control(self, handler, method, path, parts, route, params, allowed, raw):
        request = self._build_request(handler, method, path, parts, route, params, allowed, raw)
        response = self._call(route, request)
        if method in WRITE_METHODS and response.status < 500:
            with self.lock:
                self._save_state_file()
        return response

    def _build_request(self, handler, method, path, parts, route, params, allowed, raw):
        if route is None:
            if allowed:
                raise ApiError(405, "method_not_allowed", f"{method} is not allowed here",
                               [{"allowed": sorted(set(allowed))}],
                               headers={"Allow": ", ".join(sorted(set(allowed)))})
            raise not_found(f"no route for {method} {path}")
        return Request(
            method, path, params, urllib.parse.parse_qs(parts.query), handler.headers,
            self._parse_json(raw),
            correlation_id=handler.headers.get("X-Correlation-ID"),
            idempotency_key=handler.headers.get("Idempotency-Key"),
        )

    def _call_safely(self, route, request):
        """:meth:`_call` with an :class:`ApiError` turned into its answer."""
        try:
            return self._call(route, request)
        except ApiError as exc:
            return Response(exc.status, exc.body(), exc.headers)

    @staticmethod
    def _call(route, request):
        result = route.handler(request)
        if isinstance(result, Response):
            return result
        if isinstance(result, tuple):
            return Response(*result)
        return Response(200, result)

    def _write(self, handler, response, close=False):
        payload = json.dumps(response.body, ensure_ascii=False).encode("utf-8")
        try:
            handler.send_response(response.status)
            handler.send_header("Content-Type", "application/json; charset=utf-8")
            handler.send_header("Content-Length", str(len(payload)))
            for name, value in response.headers.items():
                handler.send_header(name, value)
            if close or handler.close_connection:
                handler.send_header("Connection", "close")
                handler.close_connection = True
            handler.end_headers()
            handler.wfile.write(payload)
            handler.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            # The client gave up (e.g. after an injected timeout): nothing to do.
            handler.close_connection = True

    # -- control API -----------------------------------------------------------

    def _register_control_routes(self):
        self.route("control", "GET", "/_sim/state", self._ctl_state)
        self.route("control", "GET", "/_sim/faults", lambda req: self.faults.snapshot())
        self.route("control", "POST", "/_sim/faults", self._ctl_faults)
        self.route("control", "POST", "/_sim/reset", self._ctl_reset)
        self.route("control", "GET", "/_sim/config", lambda req: self.config_view())
        self.route("control", "POST", "/_sim/config", self._ctl_config)
        self.route("control", "POST", "/_sim/wait_idle", self._ctl_wait_idle)
        self.route("control", "POST", "/_sim/flush", self._ctl_flush)
        self.route("control", "GET", "/_sim/requests", self._ctl_requests)
        self.route("control", "GET", "/_sim/webhooks", self._ctl_webhooks)

    @staticmethod
    def _limit(request, default):
        value = request.query_value("limit")
        if value is None:
            return default
        try:
            return max(0, int(value))
        except ValueError:
            raise bad_request("limit must be an integer") from None

    def _ctl_state(self, request):
        return self.state(request_limit=self._limit(request, REQUEST_LOG_SIZE))

    def state(self, request_limit=REQUEST_LOG_SIZE):
        """The full JSON state (also what ``GET /_sim/state`` answers)."""
        with self.lock:
            state = {
                "simulator": self.name,
                "url": self.url if self._httpd else None,
                "config": self.config_view(),
                "faults": self.faults.snapshot(),
                "counters": self.requests.counters(),
                "status_counters": self.requests.statuses(),
                "idempotency_keys": len(self.idempotency),
                "requests": self.requests.tail(request_limit),
                "webhooks": self.webhooks.snapshot(),
            }
            state.update(copy.deepcopy(self.state_extra()))
        return state

    def _ctl_faults(self, request):
        settings = self.faults.update(request.json_object())
        if not settings["out_of_order"]:
            self.webhooks.flush()
        return settings

    def _ctl_reset(self, request):
        self.reset()
        return {"reset": True}

    def reset(self):
        """Clear state, logs, idempotency keys, queued webhooks and faults.

        The configuration (api key, webhook url and secret...) is kept.
        """
        with self.lock:
            self.faults.reset()
            self.requests.reset()
            self.idempotency.clear()
            self.webhooks.reset()
            self.reset_state()
        # Outside the lock: the attempt under way may need the simulator's API.
        self.webhooks.wait_in_flight(self.webhooks.timeout + 1)

    def _ctl_config(self, request):
        return self.update_config(request.json_object())

    def update_config(self, changes):
        """Validate then apply ``changes``; returns :meth:`config_view`."""
        checker = Checker()
        for name in changes:
            if name not in self.config_keys:
                checker.add(name, "unknown_setting",
                            f"known settings: {', '.join(self.config_keys)}")
        checker.raise_if_any("invalid configuration")
        with self.lock:
            # Validate everything before changing anything.
            for name, value in changes.items():
                try:
                    self.validate_config(name, value)
                except ValueError as exc:
                    checker.add(name, "invalid_value", str(exc))
            checker.raise_if_any("invalid configuration")
            for name, value in changes.items():
                self.apply_config(name, value)
            return self.config_view()

    def validate_config(self, name, value):
        if name == "api_key":
            if value is not None and not isinstance(value, str):
                raise ValueError("must be a string or null")
        elif name == "webhook_url":
            if value is not None:
                check_http_url(value)
        elif name == "webhook_secret":
            if value is not None:
                items = value if isinstance(value, list) else [value]
                for item in items:
                    decode_webhook_secret(item)
        elif name == "webhook_retry_delays":
            if not isinstance(value, list) or len(value) > 20 or not all(
                (is_int(d) or isinstance(d, float)) and d >= 0 for d in value
            ):
                raise ValueError("must be a list of at most 20 numbers >= 0")
        elif name == "webhook_timeout" and (
            not (is_int(value) or isinstance(value, float)) or value <= 0
        ):
            raise ValueError("must be a number > 0")
        elif name == "webhook_workers" and (not is_int(value) or not 1 <= value <= 32):
            raise ValueError("must be an integer from 1 to 32")

    def apply_config(self, name, value):
        if name == "api_key":
            self.api_key = value or None
        elif name == "webhook_url":
            self.webhooks.set_url(value)
        elif name == "webhook_secret":
            self.webhooks.set_secret(value)
        elif name == "webhook_retry_delays":
            self.webhooks.set_retry_delays(value)
        elif name == "webhook_timeout":
            self.webhooks.set_timeout(value)
        elif name == "webhook_workers":
            self.webhooks.set_workers(value)

    def config_view(self):
        # Secrets are never echoed back, only whether they are set.
        return {
            "api_key_set": bool(self.api_key),
            "webhook_url": self.webhooks.url,
            "webhook_secret_set": bool(self.webhooks.secrets),
            "webhook_secret_count": len(self.webhooks.secrets),
            "webhook_retry_delays": list(self.webhooks.retry_delays),
            "webhook_timeout": self.webhooks.timeout,
            "webhook_workers": self.webhooks.workers,
            "max_body_bytes": self.max_body_bytes,
            "state_file": self.state_file,
        }

    def _ctl_wait_idle(self, request):
        body = request.json_object(optional=True)
        timeout = body.get("timeout", 10)
        if not (is_int(timeout) or isinstance(timeout, float)) or timeout < 0:
            raise bad_request("timeout must be a number >= 0")
        return {"idle": self.wait_idle(timeout)}

    def wait_idle(self, timeout=10.0):
        """Block until no event is waiting to be emitted or delivered."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if (
                not self.has_pending_work()
                and self.webhooks.wait_idle(remaining)
                and not self.has_pending_work()
            ):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)

    def _ctl_flush(self, request):
        self.webhooks.flush()
        return {"flushed": True}

    def _ctl_requests(self, request):
        return {
            "counters": self.requests.counters(),
            "requests": self.requests.tail(self._limit(request, REQUEST_LOG_SIZE)),
        }

    def _ctl_webhooks(self, request):
        return self.webhooks.snapshot(limit=self._limit(request, DELIVERY_LOG_SIZE))

    # -- state file --------------------------------------------------------------

    def _save_state_file(self):
        """Persist business state and idempotency keys (caller holds the lock)."""
        if not self.state_file:
            return
        data = {
            "simulator": self.name,
            "saved_at": utc_now_iso(),
            "idempotency": self.idempotency.dump(),
            "state": self.dump_state(),
        }
        tmp = f"{self.state_file}.tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(data, handle, ensure_ascii=False)
        os.replace(tmp, self.state_file)  # atomic: a crash never leaves half a file

    def _load_state_file(self):
        with open(self.state_file, encoding="utf-8") as handle:
            data = json.load(handle)
        if data.get("simulator") != self.name:
            raise ValueError(f"{self.state_file} holds state of another simulator")
        with self.lock:
            self.idempotency.load(data.get("idempotency"))
            self.load_state(data.get("state") or {})


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def loopback_host(value):
    """argparse type: a loopback host or an error."""
    if not is_loopback_host(value):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a loopback address; simulators only listen on "
            "127.0.0.0/8, ::1 or localhost"
        )
    return value


def build_arg_parser(prog, description, default_port):
    """Options every simulator shares.

    Secrets may also come from the environment (``SIM_API_KEY``,
    ``SIM_WEBHOOK_SECRET``, ``SIM_WEBHOOK_URL``) to keep them out of ``ps``.
    """
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--host", type=loopback_host, default=DEFAULT_HOST,
                        help="loopback address to bind (default %(default)s)")
    parser.add_argument("--port", type=int, default=default_port,
                        help="port (default %(default)s, 0 = any free port)")
    parser.add_argument("--api-key", default=os.environ.get("SIM_API_KEY"),
                        help="bearer token required on /v1/ (env SIM_API_KEY; none = no auth)")
    parser.add_argument("--webhook-url", default=os.environ.get("SIM_WEBHOOK_URL"),
                        help="where events are POSTed (env SIM_WEBHOOK_URL)")
    parser.add_argument("--webhook-secret", default=os.environ.get("SIM_WEBHOOK_SECRET"),
                        help="whsec_<base64> signing secret (env SIM_WEBHOOK_SECRET)")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed of the fault injection random generator")
    parser.add_argument("--state-file", default=None,
                        help="JSON file to load state from and save it to after each change")
    parser.add_argument("--verbose", action="store_true", help="log every HTTP request to stderr")
    return parser


def serve_until_signal(simulator):
    """Run ``simulator`` in the foreground until SIGINT or SIGTERM."""
    stop = threading.Event()

    def _on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    simulator.start()
    try:
        # A timed wait keeps the main thread responsive to signals.
        while not stop.wait(0.5):
            pass
    finally:
        simulator.stop()
    return 0
