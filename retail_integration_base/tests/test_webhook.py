# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import json
import time
import uuid

from odoo import sql_db
from odoo.tests import HttpCase, tagged

from odoo.addons.queue_job.exception import RetryableJobError

from simulators.common import decode_webhook_secret, sign_webhook
from simulators.oms import OmsSimulator

from ..models.retail_flow import LANE_LOCK_NAMESPACE
from .common import OTHER_SECRET, WEBHOOK_SECRET, RetailTestMixin, SimulatorMixin


@tagged("post_install", "-at_install")
class TestWebhookIntake(RetailTestMixin, SimulatorMixin, HttpCase):
    """``POST /retail/webhook/<backend_id>`` per CONTRACTS.md.

    Deliveries are signed with the simulator's own Standard Webhooks code,
    an implementation independent of the one under test.
    """

    simulator_class = OmsSimulator

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_retail()
        cls.backend = cls.create_backend()

    def post(self, body, secret=WEBHOOK_SECRET, event_id=None, timestamp=None, headers=None,
             backend=None):
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        event_id = event_id or f"evt_{uuid.uuid4().hex}"
        timestamp = int(time.time()) if timestamp is None else timestamp
        all_headers = {
            "Content-Type": "application/json",
            "webhook-id": event_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign_webhook(
                [decode_webhook_secret(secret)], event_id, timestamp, raw),
        }
        all_headers.update(headers or {})
        return self.url_open(f"/retail/webhook/{(backend or self.backend).id}", data=raw,
                             headers=all_headers)

    def event(self, type_="order.updated", **data):
        return {"id": "x", "type": type_, "occurred_at": "2026-11-27T10:00:00+00:00",
                "sequence": 1, "data": data or {"order_ref": "SO-1"}}

    def test_valid_delivery_is_recorded_queued_and_answered_202(self):
        response = self.post(self.event(), event_id="evt_valid_1")
        self.assertEqual(response.status_code, 202, response.text)
        exchange = self.env["retail.exchange"].browse(response.json()["exchange"])
        self.assertEqual(exchange.idempotency_key, "evt_valid_1")
        self.assertEqual(exchange.direction, "inbound")
        self.assertEqual(exchange.flow_id.code, "generic_events")
        self.assertEqual(exchange.external_ref, "SO-1")
        self.assertEqual(exchange.state, "pending")
        self.assertNotIn("webhook-signature", exchange.payload)
        self.run_jobs()
        self.assertEqual(exchange.state, "done")

    def test_duplicate_delivery_answers_200_with_the_first_outcome(self):
        first = self.post(self.event(), event_id="evt_dup_1")
        self.run_jobs()
        second = self.post(self.event(), event_id="evt_dup_1")
        self.assertEqual(second.status_code, 200)
        self.assertEqual(second.json()["exchange"], first.json()["exchange"])
        self.assertEqual(second.json()["state"], "done")
        self.assertTrue(second.json()["duplicate"])
        self.assertEqual(len(self.exchanges(self.backend, idempotency_key="evt_dup_1")), 1)
        self.assertFalse(self.env["queue.job"].search([("state", "=", "pending")]))

    def test_wrong_old_or_missing_signature_is_401_json(self):
        cases = [
            {"secret": OTHER_SECRET},
            {"timestamp": int(time.time()) - 360},
            {"timestamp": int(time.time()) + 360},
            {"headers": {"webhook-signature": ""}},
        ]
        for case in cases:
            response = self.post(self.event(), **case)
            self.assertEqual(response.status_code, 401, case)
            self.assertIn("code", response.json()["error"])
        self.assertFalse(self.exchanges(self.backend))

    def test_body_limit_is_checked_before_the_signature(self):
        self.backend.webhook_max_body = 1024
        big = json.dumps(self.event(blob="x" * 2048)).encode()
        response = self.post(big, secret=OTHER_SECRET)  # also badly signed
        self.assertEqual(response.status_code, 413)
        self.assertEqual(response.json()["error"]["code"], "body_too_large")

    def test_malformed_json_is_400_and_visible(self):
        response = self.post(b'{"type": "order.updated", ', event_id="evt_bad_json")
        self.assertEqual(response.status_code, 400)
        self.assertEqual(response.json()["error"]["code"], "malformed_json")
        exchange = self.exchanges(self.backend, idempotency_key="evt_bad_json")
        self.assertEqual(exchange.state, "failed")
        self.assertEqual(exchange.failure_class, "validation")
        self.assertIn("Malformed webhook body", exchange.error)
        self.assertFalse(self.env["queue.job"].search([]), "nothing to process")

    def test_deeply_nested_json_is_400_and_visible(self):
        depth = 50000  # far past the parser's recursion limit, well inside the body limit
        body = b'{"type": "order.updated", "data": ' + b"[" * depth + b"]" * depth + b"}"
        response = self.post(body, event_id="evt_deep_json")
        self.assertEqual(response.status_code, 400, response.text)
        self.assertEqual(response.json()["error"]["code"], "malformed_json")
        exchange = self.exchanges(self.backend, idempotency_key="evt_deep_json")
        self.assertEqual((exchange.state, exchange.failure_class), ("failed", "validation"))

    def test_unknown_backend_is_404(self):
        response = self.url_open("/retail/webhook/999999", data=b"{}",
                                 headers={"Content-Type": "application/json"})
        self.assertEqual(response.status_code, 404)
        self.assertEqual(response.json()["error"]["code"], "unknown_backend")

    def test_unrouted_event_type_lands_in_the_exception_queue(self):
        self.backend._get_flow("generic_events").event_types = "order.*"
        response = self.post(self.event("member.updated"), event_id="evt_unrouted")
        self.assertEqual(response.status_code, 202)
        exchange = self.exchanges(self.backend, idempotency_key="evt_unrouted")
        self.assertEqual(exchange.state, "failed")
        self.assertIn("member.updated", exchange.error)

    def test_rotation_accepts_the_previous_secret_until_revoked(self):
        self.backend.with_user(self.manager).write({"webhook_secret": OTHER_SECRET})
        self.assertEqual(self.post(self.event(), secret=WEBHOOK_SECRET).status_code, 202)
        self.assertEqual(self.post(self.event(), secret=OTHER_SECRET).status_code, 202)
        self.backend.with_user(self.manager).action_drop_previous_secret()
        self.assertEqual(self.post(self.event(), secret=WEBHOOK_SECRET).status_code, 401)

    def test_simulator_delivers_signed_events_end_to_end(self):
        self.start_simulator(webhook_url=f"{self.base_url()}/retail/webhook/{self.backend.id}")
        emitted = self.sim("POST", "/_sim/events", {
            "type": "order.note", "order_ref": "SO-SIM-1", "data": {"order_ref": "SO-SIM-1"}})
        self.assertTrue(self.sim_wait_idle())
        exchange = self.exchanges(self.backend, idempotency_key=emitted["events"][0]["id"])
        self.assertEqual(exchange.external_ref, "SO-SIM-1")
        deliveries = self.sim_state()["webhooks"]["deliveries"]
        self.assertEqual(deliveries[-1]["last_status"], 202)

    def test_events_of_one_object_share_a_lane_and_keep_their_order(self):
        refs = ["SO-L1", "SO-L2", "SO-L1", "SO-L3", "SO-L1"]
        for n, ref in enumerate(refs):
            self.assertEqual(self.post(self.event(order_ref=ref), event_id=f"evt_lane_{n}")
                             .status_code, 202)
        exchanges = self.exchanges(self.backend).sorted("id")
        lanes = {e.external_ref: e.lane for e in exchanges}
        self.assertEqual({e.lane for e in exchanges if e.external_ref == "SO-L1"},
                         {lanes["SO-L1"]})
        jobs = self.env["queue.job"].search([("method_name", "=", "_job_drain_lane")])
        self.assertEqual(len(jobs), len(set(lanes.values())), "one job per lane, not per event")
        self.run_jobs()
        self.assertEqual(set(exchanges.mapped("state")), {"done"})
        ordered = exchanges.filtered(lambda e: e.external_ref == "SO-L1")
        self.assertEqual(ordered.mapped("processed_at"), sorted(ordered.mapped("processed_at")))

    def test_sweeper_dispatches_events_no_lane_job_took(self):
        self.post(self.event(order_ref="SO-SWEEP"), event_id="evt_sweep")
        self.env["queue.job"].search([("method_name", "=", "_job_drain_lane")]).unlink()
        exchange = self.exchanges(self.backend, idempotency_key="evt_sweep")
        self.assertEqual(self.env["retail.exchange"]._cron_dispatch_pending(older_than=-60), 1)
        self.run_jobs()
        self.assertEqual(exchange.state, "done")

    def test_retry_routes_an_event_once_a_flow_takes_its_type(self):
        flow = self.backend._get_flow("generic_events")
        flow.event_types = "order.*"
        self.post(self.event("member.updated"), event_id="evt_reroute")
        exchange = self.exchanges(self.backend, idempotency_key="evt_reroute")
        self.assertEqual(exchange.state, "failed")
        flow.event_types = "order.*,member.*"
        exchange.with_user(self.retail_user).action_retry()
        self.run_jobs()
        self.assertEqual((exchange.state, exchange.flow_id), ("done", flow))

    def test_a_lane_is_drained_by_one_job_at_a_time(self):
        self.post(self.event(order_ref="SO-LOCK"), event_id="evt_lock")
        exchange = self.exchanges(self.backend, idempotency_key="evt_lock")
        flow = exchange.flow_id
        # A separate database session (not the test cursor): another worker
        # draining this lane right now.
        with sql_db.db_connect(self.env.cr.dbname).cursor() as other:
            other.execute("SELECT pg_advisory_xact_lock(%s, %s)",
                          [LANE_LOCK_NAMESPACE, flow.id * 1000 + exchange.lane])
            with self.assertRaises(RetryableJobError) as caught:
                flow._job_drain_lane(exchange.lane)
            self.assertTrue(caught.exception.ignore_retry)
        self.assertEqual(exchange.state, "pending")
        self.run_jobs()
        self.assertEqual(exchange.state, "done")
