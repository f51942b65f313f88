# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from datetime import timedelta

from psycopg2 import IntegrityError

from odoo import fields
from odoo.exceptions import ValidationError
from odoo.tests import TransactionCase, tagged
from odoo.tools import config, mute_logger

from odoo.addons.queue_job.exception import RetryableJobError

from simulators.oms import OmsSimulator

from ..services import errors
from .common import RetailTestMixin, SimulatorMixin


def order_body(ref, email="buyer@example.com"):
    return {"order_ref": ref, "currency": "EUR", "customer": {"email": email},
            "lines": [{"line_ref": "1", "sku": "SKU-1", "qty": 1, "unit_price": 1999}]}


@tagged("post_install", "-at_install")
class TestExchangeLifecycle(RetailTestMixin, SimulatorMixin, TransactionCase):
    """The framework alone (generic backend) against the OMS simulator."""

    simulator_class = OmsSimulator

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_retail()
        cls.start_simulator()
        cls.backend = cls.create_backend(base_url=cls.simulator.url)
        cls.partner = cls.env["res.partner"].create({"name": "Exchange test customer"})

    def setUp(self):
        super().setUp()
        self.sim_reset()

    def send(self, key, body=None, path="/v1/orders", method="POST"):
        return self.env["retail.exchange"]._enqueue_outbound(
            self.backend, "generic_request", record=self.partner, idempotency_key=key,
            payload={"method": method, "path": path, "body": body or order_body(key)})

    def run_one(self, exchange):
        return exchange._job_process()

    def test_message_is_recorded_and_queued_before_anything_is_sent(self):
        exchange = self.send("rec-1")
        self.assertEqual(exchange.state, "pending")
        self.assertIn('"order_ref": "rec-1"', exchange.payload)
        job = self.env["queue.job"].search(
            [("model_name", "=", "retail.exchange")], order="id desc", limit=1)
        self.assertEqual(job.records, exchange)
        self.assertEqual(job.method_name, "_job_process")
        self.assertEqual(job.user_id, self.backend.integration_user_id)
        self.assertEqual(job.channel, "root.retail")
        self.assertEqual(self.sim_state()["orders_created"], 0, "nothing sent at enqueue time")
        binding = self.env["retail.binding"]._find(self.backend, self.partner)
        self.assertEqual(binding.sync_state, "pending")
        self.assertEqual(self.partner.retail_sync_state, "pending")
        self.assertEqual(self.send("rec-1"), exchange, "same key, same exchange")

    def test_transient_failure_retries_then_succeeds(self):
        self.sim_faults(error_rate=1.0, seed=1)
        exchange = self.send("transient-1")
        self.run_one(exchange)
        self.assertEqual(exchange.state, "retry")
        self.assertEqual(exchange.failure_class, errors.TRANSIENT)
        self.assertEqual(exchange.http_status, 503)
        self.assertEqual(exchange.attempts, 1)
        self.assertGreater(exchange.next_retry_at, fields.Datetime.now())
        self.sim_faults(error_rate=0.0)
        self.run_jobs()
        self.assertEqual(exchange.state, "done")
        self.assertEqual(exchange.attempts, 2)
        self.assertEqual(self.sim_state()["orders_created"], 1)
        self.assertEqual(self.partner.retail_sync_state, "synced")

    def test_out_of_retries_lands_in_the_exception_queue(self):
        self.sim_faults(error_rate=1.0, seed=2)
        exchange = self.send("exhausted-1")
        self.run_jobs()
        self.assertEqual(exchange.state, "failed")
        self.assertEqual(exchange.attempts, self.backend.retry_max_attempts)
        self.assertIn("Out of retries after 4 attempts", exchange.error)
        self.assertEqual(self.partner.retail_sync_state, "error")

    def test_rate_limited_honours_retry_after(self):
        self.sim_faults(burst_429=1, retry_after_s=30)
        exchange = self.send("limited-1")
        before = fields.Datetime.now()
        self.run_one(exchange)
        self.assertEqual(exchange.state, "retry")
        self.assertEqual(exchange.failure_class, errors.RATE_LIMITED)
        self.assertGreaterEqual(exchange.next_retry_at, before + timedelta(seconds=29))
        self.run_jobs()
        self.assertEqual(exchange.state, "done")

    def test_auth_failure_is_not_retried(self):
        self.backend.with_user(self.manager).write({"api_key": "wrong-key"})
        exchange = self.send("auth-1")
        self.run_jobs()
        self.assertEqual(exchange.state, "failed")
        self.assertEqual(exchange.failure_class, errors.AUTH)
        self.assertEqual(exchange.attempts, 1)
        self.assertEqual(exchange.http_status, 401)
        self.assertNotIn("wrong-key", exchange.response or "")

    def test_validation_failure_goes_to_the_queue_and_retry_after_fix_succeeds(self):
        exchange = self.send("invalid-1", body=order_body("invalid-1", email="no-email"))
        self.run_jobs()
        self.assertEqual(exchange.state, "failed")
        self.assertEqual(exchange.failure_class, errors.VALIDATION)
        self.assertIn("customer.email", exchange.error)
        # A generic request has no builder: fix the stored request, then Retry.
        exchange.sudo().payload = exchange._dump(
            {"method": "POST", "path": "/v1/orders", "body": order_body("invalid-1")})
        exchange.with_user(self.retail_user).action_retry()
        self.assertIn("Retried by Retail User", exchange.message_ids[0].body)
        self.run_jobs()
        self.assertEqual(exchange.state, "done")
        self.assertEqual(self.sim_state()["orders_created"], 1)

    def test_replay_resends_the_stored_payload_under_the_same_key(self):
        exchange = self.send("replay-1")
        self.run_jobs()
        self.assertEqual(exchange.state, "done")
        exchange.with_user(self.retail_user).action_replay()
        self.run_jobs()
        self.assertEqual(exchange.state, "done")
        state = self.sim_state()
        self.assertEqual(state["orders_created"], 1, "the replay created nothing new")
        replays = [r for r in state["requests"] if r["idempotency_key"] == "replay-1"]
        self.assertEqual(len(replays), 2)
        self.assertTrue(replays[-1]["replayed"])

    def test_record_lock_retries_without_spending_an_attempt(self):
        self.backend.write({"rate_limit_per_second": 50, "rate_limit_burst": 5})
        self.backend._rate_limit_acquire()  # creates and commits the bucket row
        exchange = self.send("locked-1")
        with self.env.registry.cursor() as other:
            other.execute("SELECT 1 FROM retail_rate_bucket WHERE backend_id = %s FOR UPDATE",
                          [self.backend.id])
            with self.assertRaises(RetryableJobError) as caught:
                self.run_one(exchange)
            self.assertTrue(caught.exception.ignore_retry)
        self.assertEqual(exchange.attempts, 0)
        self.assertEqual(exchange.state, "pending")
        self.run_jobs()
        self.assertEqual(exchange.state, "done")
        with self.env.registry.cursor() as cr:
            cr.execute("DELETE FROM retail_rate_bucket WHERE backend_id = %s", [self.backend.id])

    def test_ignore_is_audited_and_final(self):
        self.sim_faults(error_rate=1.0, seed=3)
        exchange = self.send("ignore-1")
        self.run_one(exchange)
        exchange.with_user(self.retail_user).action_ignore()
        self.assertEqual(exchange.state, "ignored")
        self.assertEqual(exchange._job_process(), "Exchange already ignored.")

    def test_payload_retention_cron(self):
        exchange = self.send("old-1")
        self.run_jobs()
        self.env.cr.execute("UPDATE retail_exchange SET create_date = now() - interval '40 days' "
                            "WHERE id = %s", [exchange.id])
        exchange.invalidate_recordset()
        self.assertGreaterEqual(self.env["retail.exchange"]._cron_purge_payloads(), 1)
        self.assertTrue(exchange.payload_purged)
        self.assertFalse(exchange.payload)
        self.assertEqual(exchange.idempotency_key, "old-1", "metadata stays for the audit")

    def test_failed_batch_run_is_visible(self):
        flow = self.env["retail.flow"].create({
            "backend_id": self.backend.id, "name": "Broken batch", "code": "no_such_batch",
            "direction": "outbound", "mode": "batch"})
        self.env["retail.flow"]._cron_run_due_batches()
        failed = self.exchanges(self.backend, flow_id=flow.id, state="failed")
        self.assertEqual(len(failed), 1)
        self.assertIn("no batch handler", failed.error)

    def test_monitoring_figures(self):
        self.send("stats-1")
        self.run_jobs()
        self.sim_faults(error_rate=1.0, seed=4)
        self.send("stats-2")
        self.run_jobs(max_rounds=2)  # two failed attempts, a third waiting
        flow = self.backend._get_flow("generic_request")
        flow.invalidate_recordset()
        self.assertEqual(flow.stat_count, 2)
        self.env.cr.execute(
            "SELECT count(*) FROM retail_exchange WHERE flow_id = %s AND state = 'done' "
            "AND duration_ms IS NOT NULL", [flow.id])
        self.assertEqual(self.env.cr.fetchone()[0], 1, "a finished call records its duration")
        # Loopback calls can take under a millisecond: the percentiles are
        # checked on known durations, not on this machine's speed.
        self.env.cr.execute(
            "UPDATE retail_exchange SET duration_ms = CASE WHEN state = 'done' THEN 100 "
            "ELSE 300 END WHERE flow_id = %s", [flow.id])
        flow.invalidate_recordset()
        self.assertEqual(flow.stat_p50_ms, 200)
        self.assertEqual(flow.stat_p95_ms, 290)
        self.assertEqual(flow.stat_queue_depth, 1)
        self.assertEqual(flow.stat_retry_rate, 50.0)
        self.assertEqual(flow.stat_success_rate, 50.0)


@tagged("post_install", "-at_install")
class TestMappingAndBinding(RetailTestMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_retail()
        cls.backend = cls.create_backend()
        cls.warehouse = cls.env["stock.warehouse"].search([], limit=1)

    def test_mapping_both_ways_and_clear_error(self):
        Mapping = self.env["retail.mapping"]
        Mapping.create({"backend_id": self.backend.id, "mapping_type": "location",
                        "odoo_record": f"stock.warehouse,{self.warehouse.id}",
                        "external_value": "STORE-01"})
        Mapping.create({"backend_id": self.backend.id, "mapping_type": "carrier",
                        "odoo_value": "dhl_express", "external_value": "DHL"})
        self.assertEqual(Mapping._to_external(self.backend, "location", self.warehouse),
                         "STORE-01")
        self.assertEqual(Mapping._to_odoo(self.backend, "location", "STORE-01"), self.warehouse)
        self.assertEqual(Mapping._to_odoo(self.backend, "carrier", "DHL"), "dhl_express")
        with self.assertRaises(errors.MappingError) as caught:
            Mapping._to_odoo(self.backend, "carrier", "UPS")
        self.assertIn("No Carrier mapping for the partner value UPS", caught.exception.message)
        self.assertEqual(caught.exception.failure_class, errors.MAPPING)

    def test_binding_is_unique_per_record_and_per_external_id(self):
        partner = self.env["res.partner"].create({"name": "Bound"})
        other = self.env["res.partner"].create({"name": "Other"})
        Binding = self.env["retail.binding"]
        Binding._touch(self.backend, partner, "synced", external_id="EXT-1")
        self.assertEqual(partner.retail_external_ref, "EXT-1")
        self.assertEqual(Binding._find_record(self.backend, "res.partner", "EXT-1"), partner)
        with self.assertRaises(IntegrityError), self.env.cr.savepoint(), mute_logger("odoo.sql_db"):
            Binding.create({"backend_id": self.backend.id, "res_model": "res.partner",
                            "res_id": partner.id})
        with self.assertRaises(IntegrityError), self.env.cr.savepoint(), mute_logger("odoo.sql_db"):
            Binding.create({"backend_id": self.backend.id, "res_model": "res.partner",
                            "res_id": other.id, "external_id": "EXT-1"})

    def test_external_id_bound_elsewhere_is_a_business_error(self):
        first = self.env["res.partner"].create({"name": "First"})
        second = self.env["res.partner"].create({"name": "Second"})
        Binding = self.env["retail.binding"]
        Binding._touch(self.backend, first, "synced", external_id="EXT-9")
        with self.assertRaisesRegex(errors.BusinessRuleError, "EXT-9 is already bound to First"):
            Binding._touch(self.backend, second, "synced", external_id="EXT-9")

    def test_stale_sequence_is_refused(self):
        partner = self.env["res.partner"].create({"name": "Sequenced"})
        binding = self.env["retail.binding"]._touch(self.backend, partner, "synced")
        self.assertTrue(binding._accept_sequence(5))
        self.assertFalse(binding._accept_sequence(5))
        self.assertFalse(binding._accept_sequence(3))
        self.assertTrue(binding._accept_sequence(6))


@tagged("post_install", "-at_install")
class TestBackendActions(RetailTestMixin, SimulatorMixin, TransactionCase):
    simulator_class = OmsSimulator

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_retail()
        cls.start_simulator()
        cls.backend = cls.create_backend(base_url=cls.simulator.url)

    def test_test_connection_reports_and_records_the_call(self):
        action = self.backend.with_user(self.manager).action_test_connection()
        self.assertEqual(action["params"]["type"], "success")
        self.assertEqual(self.backend.health_state, "ok")
        health = self.exchanges(self.backend).filtered(
            lambda e: e.idempotency_key.startswith("health:"))
        self.assertEqual((health.state, health.http_status), ("done", 200))

    def test_test_connection_to_a_dead_port_is_a_clear_failure(self):
        self.backend.base_url = "http://127.0.0.1:9"
        action = self.backend.with_user(self.manager).action_test_connection()
        self.assertEqual(action["params"]["type"], "danger")
        self.assertIn("network error", action["params"]["message"])
        self.assertEqual(self.backend.health_state, "error")

    def test_production_needs_https_except_on_loopback(self):
        self.backend.write({"environment": "production"})  # loopback simulator: allowed
        with self.assertRaisesRegex(ValidationError, "must use HTTPS"):
            self.backend.write({"base_url": "http://oms.example.com"})
        self.backend.write({"base_url": "https://oms.example.com"})

    def test_settings_show_the_key_status_never_the_key(self):
        settings = self.env["res.config.settings"].create({})
        self.assertIn("Configured (1 key(s)", settings.retail_key_status)
        # What the settings form shows when it opens (a new record's onchange).
        shown = self.env["res.config.settings"].onchange({}, [], {"retail_key_status": {}})
        self.assertIn("Configured (1 key(s)", shown["value"]["retail_key_status"])
        self.assertNotIn(config.get("retail_integration_key"), settings.retail_key_status)
