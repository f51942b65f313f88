# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Shared fixtures of the suite's tests; connector tests import them.

* ``RetailTestMixin``: users per group, backends, a webhook secret, and
  ``run_jobs()``, which runs the stored queue_job jobs exactly as the job
  runner does (load, perform, store), retries included, ignoring their ETA.
* ``SimulatorMixin``: a reference simulator on a loopback port for the test
  class, driven through its public control API.
* ``ConnectorConformanceMixin``: what the framework expects of every
  connector; each connector's tests subclass it for their backend kind.
"""

import base64
import contextlib
import ipaddress
import json
import time
from urllib.parse import urlparse

import requests

from odoo.tests import new_test_user
from odoo.tests.common import BlockedRequest

from odoo.addons.queue_job.exception import RetryableJobError
from odoo.addons.queue_job.job import Job

WEBHOOK_KEY = b"retail-integration-test-key-0001"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(WEBHOOK_KEY).decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"retail-integration-test-key-0002").decode()
API_KEY = "sk_test_retail_integration_4f1c2a"


_real_send = requests.Session.send


def perform_jobs(env, max_rounds=30, lock=None):
    """Perform the stored queue_job jobs in this process as the job runner
    would (load, mark started, perform, store; a retryable error postpones
    the job, its ETA is not waited for), until none is left. ``lock`` is
    held while each job runs. Returns the number of jobs done."""
    lock = lock or contextlib.nullcontext()
    performed = 0
    for _round in range(max_rounds):
        records = env["queue.job"].sudo().search(
            [("state", "in", ("pending", "enqueued"))], order="priority, id")
        if not records:
            break
        for record in records:
            job = Job.load(env, record.uuid)
            job.set_started()
            job.store()
            try:
                with lock:
                    job.perform()
            except RetryableJobError as exc:
                job.postpone(result=str(exc), seconds=exc.seconds)
                job.set_pending(reset_retry=False)
                job.store()
                continue
            job.set_done(result=job.result)
            job.store()
            performed += 1
    return performed


class RetailTestMixin:
    @classmethod
    def _request_handler(cls, session, request, /, **kw):
        """Let loopback traffic through untouched, block everything else.

        Odoo's own test handler stretches timeouts to 10 s and cannot take
        the (connect, read) tuple our client sends; the suite's tests only
        ever talk to simulators on loopback.
        """
        host = urlparse(request.url).hostname or ""
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise BlockedRequest(f"Only loopback traffic in tests (was {request.url})")
        return _real_send(session, request, **kw)

    @classmethod
    def setup_retail(cls):
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.manager = new_test_user(
            cls.env, login="retail_manager_test", name="Retail Manager",
            groups="base.group_user,retail_integration_base.group_retail_integration_manager")
        cls.retail_user = new_test_user(
            cls.env, login="retail_user_test", name="Retail User",
            groups="base.group_user,retail_integration_base.group_retail_integration_user")
        cls.salesman = new_test_user(
            cls.env, login="retail_salesman_test", name="Salesperson",
            groups="base.group_user,sales_team.group_sale_salesman")

    @classmethod
    def create_backend(cls, **values):
        vals = {
            "name": "Test backend",
            "kind": "generic",
            "base_url": "http://127.0.0.1:9",
            "auth_type": "bearer",
            "retry_max_attempts": 4,
            "retry_backoff_base": 1,
            "retry_backoff_max": 8,
            # A generic backend is told which key names an event's object.
            "webhook_subject_keys": "order_ref",
        }
        vals.update(values)
        backend = cls.env["retail.backend"].with_user(cls.manager).create(vals)
        backend.with_user(cls.manager).write({"api_key": API_KEY, "webhook_secret": WEBHOOK_SECRET})
        return backend.sudo()

    def run_jobs(self, max_rounds=30):
        """Run pending jobs like the runner does, until none is left.

        Returns the number of jobs performed. Jobs raising
        ``RetryableJobError`` are postponed as queue_job does. Webhooks a job
        causes reach this test's server thread, which shares the test cursor:
        the registry's test lock keeps them out until the job is done, as
        separate transactions would.
        """
        return perform_jobs(self.env, max_rounds, lock=getattr(self.registry, "test_lock", None))

    def exchanges(self, backend, **domain):
        dom = [("backend_id", "=", backend.id)] + [(k, "=", v) for k, v in domain.items()]
        return self.env["retail.exchange"].sudo().search(dom)


class SimulatorMixin:
    """Start a simulator class for the test class (loopback, random port)."""

    simulator_class = None

    @classmethod
    def start_simulator(cls, **kwargs):
        cls.simulator = cls.simulator_class(
            "127.0.0.1", port=0, api_key=API_KEY, webhook_secret=WEBHOOK_SECRET, **kwargs)
        cls.simulator.start()
        cls.addClassCleanup(cls.simulator.stop)
        return cls.simulator

    def sim(self, method, path, payload=None, timeout=30):
        response = requests.request(
            method, self.simulator.url + path, timeout=timeout,
            data=json.dumps(payload) if payload is not None else None,
            headers={"Content-Type": "application/json"})
        return response.json() if response.content else None

    def sim_reset(self):
        self.sim("POST", "/_sim/reset")

    def sim_faults(self, **faults):
        return self.sim("POST", "/_sim/faults", faults)

    def sim_state(self):
        return self.sim("GET", "/_sim/state")

    def sim_wait_idle(self, timeout=20):
        deadline = time.time() + timeout
        result = self.sim("POST", "/_sim/wait_idle", {"timeout": timeout})
        if not result.get("idle") and time.time() < deadline:
            result = self.sim("POST", "/_sim/wait_idle", {"timeout": deadline - time.time()})
        return result.get("idle")


class ConnectorConformanceMixin:
    """What the framework expects of a connector's backend kind.

    A connector's tests subclass it with ``RetailTestMixin`` and
    ``TransactionCase`` and say what their kind looks like::

        class TestOmsConformance(ConnectorConformanceMixin, RetailTestMixin, TransactionCase):
            conformance_kind = "oms"
            conformance_event = {"type": "order.shipped", "sequence": 1,
                                 "data": {"order_ref": "SO1"}}
            conformance_subject = "SO1"

    ``conformance_event`` is one inbound event in the partner's envelope
    (a dict, sent as JSON, or the raw bytes); a kind without inbound
    webhooks leaves it ``None``. The checks are: every flow the kind
    registers resolves to the methods the framework dispatches to; the
    envelope parses into an event; each auth scheme the kind uses builds
    its headers; an event's lane key and external reference are derived.
    """

    conformance_kind = None
    conformance_backend_values = {}
    conformance_auth_types = ("bearer", "header")
    conformance_event = None
    conformance_subject = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_retail()
        # Without the generic subject keys of create_backend(): a connector
        # derives its own.
        values = {"webhook_subject_keys": False, **cls.conformance_backend_values}
        cls.conformance_backend = cls.create_backend(
            name=f"Conformance {cls.conformance_kind}", kind=cls.conformance_kind, **values)

    def test_conformance_every_flow_resolves_to_its_methods(self):
        flows = self.env["retail.flow"].search([("backend_id", "=", self.conformance_backend.id)])
        self.assertTrue(flows, f"kind {self.conformance_kind} registers no flow")
        Exchange, Flow = self.env["retail.exchange"], self.env["retail.flow"]
        for flow in flows:
            with self.subTest(flow=flow.code):
                if flow.mode == "batch":
                    self.assertTrue(hasattr(Flow, f"_retail_batch_{flow.code}"),
                                    f"batch flow {flow.code} has no retail.flow._retail_batch_"
                                    f"{flow.code}()")
                else:
                    self.assertTrue(hasattr(Exchange, f"_retail_handle_{flow.code}"),
                                    f"flow {flow.code} has no retail.exchange._retail_handle_"
                                    f"{flow.code}()")

    def test_conformance_envelope_parses(self):
        if self.conformance_event is None:
            routes = self.conformance_backend._inbound_routes(self.conformance_backend.id)
            self.assertFalse([p for _flow, patterns in routes for p in patterns],
                             "a kind with webhook event types needs a conformance_event")
            return
        backend = self.conformance_backend
        event = self.conformance_event
        body = event if isinstance(event, bytes) else json.dumps(event).encode()
        parsed = backend._webhook_parse(body)
        self.assertIsInstance(parsed, dict)
        self.assertIsInstance(parsed.get("type"), str)
        self.assertTrue(backend._inbound_flow(parsed["type"]),
                        f"no inbound flow takes {parsed['type']}")
        with self.assertRaises(ValueError):
            backend._webhook_parse(b"[1, 2")

    def test_conformance_auth_headers_are_built(self):
        backend = self.conformance_backend
        for auth_type in self.conformance_auth_types:
            with self.subTest(auth_type=auth_type):
                backend.auth_type = auth_type
                headers = backend._retail_auth_headers()
                self.assertTrue(headers, f"auth {auth_type} builds no header")
                self.assertTrue(all(isinstance(v, str) and v for v in headers.values()))
        backend.auth_type = "none"
        self.assertEqual(backend._retail_auth_headers(), {})

    def test_conformance_lane_key_is_derived(self):
        backend = self.conformance_backend
        if self.conformance_event is None:
            # No webhooks: an event sent anyway is recorded and refused.
            body = b'{"type": "conformance.unknown", "data": {}}'
            exchange, _created = self.env["retail.exchange"].sudo()._record_inbound(
                backend, "evt_conformance_0", json.loads(body), body)
            self.assertEqual((exchange.state, exchange.failure_class), ("failed", "validation"))
            return
        backend = self.conformance_backend
        event = self.conformance_event
        body = event if isinstance(event, bytes) else json.dumps(event).encode()
        parsed = backend._webhook_parse(body)
        self.assertEqual(backend._retail_event_subject(parsed.get("data")),
                         self.conformance_subject)
        exchange, created = self.env["retail.exchange"].sudo()._record_inbound(
            backend, "evt_conformance_1", parsed, body)
        self.assertTrue(created)
        self.assertEqual(exchange.external_ref, self.conformance_subject)
        flow = backend._inbound_flow(parsed["type"])
        self.assertEqual(exchange.lane,
                         self.env["retail.exchange"]._lane_of(flow, self.conformance_subject))
