# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import json

from odoo.tests import TransactionCase, tagged

from odoo.addons.retail_integration_base.services import errors

from .common import OmsTestMixin


@tagged("post_install", "-at_install")
class TestOrderExport(OmsTestMixin, TransactionCase):
    """The proving flow: a confirmed order reaches the OMS exactly once."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_oms()

    def setUp(self):
        super().setUp()
        self.sim_reset()

    def test_confirmation_records_and_enqueues_without_calling_the_oms(self):
        order = self.make_order()
        order.with_user(self.salesman).action_confirm()
        exchange = self.export_exchange(order)
        self.assertEqual(exchange.state, "pending")
        self.assertEqual(exchange.idempotency_key, f"order:{order.name}:{self.backend.id}")
        job = self.env["queue.job"].search(
            [("model_name", "=", "retail.exchange")], order="id desc", limit=1)
        self.assertEqual(job.records, exchange)
        self.assertEqual(job.channel, "root.retail.oms")
        self.assertEqual(self.sim_state()["orders_created"], 0)
        self.assertEqual(order.retail_sync_state, "pending")

    def test_export_sends_the_contract_payload_and_binds_the_oms_id(self):
        order = self.make_order()
        order.action_confirm()
        self.run_jobs()
        exchange = self.export_exchange(order)
        self.assertEqual(exchange.state, "done")
        self.assertEqual(exchange.http_status, 201)
        state = self.sim_state()
        self.assertEqual(state["orders_created"], 1)
        sent = state["orders"][order.name]
        binding = self.env["retail.binding"]._find(self.backend, order)
        self.assertEqual(binding.sync_state, "synced")
        self.assertEqual(binding.external_id, sent["oms_order_id"])
        self.assertEqual(order.retail_external_ref, sent["oms_order_id"])
        self.assertEqual(order.retail_sync_state, "synced")
        payload = json.loads(exchange.payload)
        self.assertEqual(payload["currency"], order.currency_id.name)
        self.assertEqual(payload["customer"]["email"], "ada@example.com")
        self.assertEqual(
            [(line["sku"], line["qty"], line["unit_price"]) for line in payload["lines"]],
            [("TSHIRT-M", 2, 1999), ("SNEAKER-42", 1, 8900)])
        self.assertEqual(payload["totals"]["total"], round(order.amount_total * 100))
        self.assertTrue(all(isinstance(line["tax"], int) for line in payload["lines"]))
        requests_ = [r for r in state["requests"] if r["endpoint"] == "POST /v1/orders"]
        self.assertEqual(requests_[0]["idempotency_key"], exchange.idempotency_key)
        self.assertEqual(requests_[0]["correlation_id"], exchange.correlation_id)

    def test_faults_are_retried_and_every_order_ends_synced_once(self):
        self.backend.retry_max_attempts = 8
        self.sim_faults(error_rate=0.4, burst_429=2, retry_after_s=1, latency_ms=20, seed=11)
        orders = self.env["sale.order"]
        for _i in range(6):
            orders |= self.make_order()
        orders.action_confirm()
        self.run_jobs(max_rounds=40)
        exchanges = self.env["retail.exchange"].sudo().search([
            ("res_model", "=", "sale.order"), ("res_id", "in", orders.ids)])
        self.assertEqual(set(exchanges.mapped("state")), {"done"})
        self.assertTrue(any(e.attempts > 1 for e in exchanges), "faults caused retries")
        state = self.sim_state()
        self.assertEqual(state["orders_created"], 6, "no order lost, none duplicated")
        self.assertEqual(set(orders.mapped("retail_sync_state")), {"synced"})

    def test_timeout_after_the_oms_applied_the_order_does_not_duplicate_it(self):
        self.backend.read_timeout = 1
        self.sim_faults(timeout_rate=1.0, timeout_sleep_s=3, seed=5)
        order = self.make_order()
        order.action_confirm()
        exchange = self.export_exchange(order)
        exchange._job_process()
        self.assertEqual(exchange.state, "retry")
        self.assertEqual(exchange.failure_class, errors.TRANSIENT)
        self.assertIn("timeout", exchange.error)
        self.sim_faults(timeout_rate=0.0)
        self.run_jobs()
        self.assertEqual(exchange.state, "done")
        self.assertEqual(self.sim_state()["orders_created"], 1)

    def test_422_lands_in_the_queue_and_retry_after_the_fix_succeeds_once(self):
        customer = self.customer.copy({"email": False, "name": "No Email"})
        order = self.make_order(partner=customer)
        order.action_confirm()
        self.run_jobs()
        exchange = self.export_exchange(order)
        self.assertEqual(exchange.state, "failed")
        self.assertEqual(exchange.failure_class, errors.VALIDATION)
        self.assertEqual(exchange.http_status, 422)
        self.assertIn("customer.email", exchange.error)
        self.assertEqual(order.retail_sync_state, "error")
        customer.email = "fixed@example.com"
        exchange.with_user(self.retail_user).action_retry()
        self.run_jobs()
        self.assertEqual(exchange.state, "done")
        self.assertIn("fixed@example.com", exchange.payload, "Retry rebuilt the payload")
        self.assertEqual(self.sim_state()["orders_created"], 1)
        self.assertEqual(order.retail_sync_state, "synced")

    def test_order_already_in_the_oms_is_bound_not_duplicated(self):
        order = self.make_order()
        order.action_confirm()
        exchange = self.export_exchange(order)
        payload = order._retail_oms_order_payload(self.backend)
        self.env["retail.exchange"].sudo()._record_outbound(
            self.backend, self.backend._get_flow("oms_order_export"), "another-key",
            record=order, payload=payload)._send("POST", "/v1/orders", payload)
        self.run_jobs()
        self.assertEqual(exchange.state, "done")
        self.assertEqual(self.sim_state()["orders_created"], 1)
        self.assertTrue(order.retail_external_ref.startswith("OMS-"))

    def test_payment_condition_holds_the_export_until_captured(self):
        self.backend.oms_export_condition = "captured"
        order = self.make_order()
        order.action_confirm()
        self.assertFalse(self.export_exchange(order))
        self.assertEqual(order.retail_sync_state, "not_synced")
        order.retail_payment_status = "authorized"
        self.assertFalse(self.export_exchange(order))
        order.retail_payment_status = "captured"
        self.assertEqual(self.export_exchange(order).state, "pending")
        self.assertEqual(order.retail_sync_state, "pending")
        order.retail_payment_status = "captured"
        self.assertEqual(len(self.export_exchange(order)), 1)

    def test_product_without_sku_is_a_validation_exception(self):
        nosku = self.env["product.product"].create({"name": "No SKU", "type": "consu"})
        order = self.make_order(lines=[(nosku, 1)])
        order.action_confirm()
        self.run_jobs()
        exchange = self.export_exchange(order)
        self.assertEqual(exchange.state, "failed")
        self.assertEqual(exchange.failure_class, errors.VALIDATION)
        self.assertIn("no internal reference", exchange.error)
        self.assertEqual(self.sim_state()["orders_created"], 0)

    def test_archived_backend_gets_no_order_export(self):
        order = self.make_order()
        self.backend.active = False
        order.action_confirm()
        self.assertFalse(self.export_exchange(order))

    def test_the_dashboard_shows_orders_in_the_oms_and_waiting_stock_changes(self):
        order = self.make_order()
        order.action_confirm()
        flow = self.backend._get_flow("oms_order_export")
        self.assertLess(flow.stat_oms_synced_rate, 100, "confirmed, not yet in the OMS")
        self.run_jobs()
        flow.invalidate_recordset()
        self.assertGreaterEqual(flow.stat_oms_orders, 1)
        self.assertEqual(flow.stat_oms_synced_rate, 100)
        self.env.cr.execute("INSERT INTO retail_oms_inventory_dirty VALUES (%s, %s, 'WH1')",
                            [self.backend.id, self.tshirt.id])
        inventory = self.backend._get_flow("oms_inventory_sync")
        self.assertEqual(inventory.stat_oms_inventory_waiting, 1)
