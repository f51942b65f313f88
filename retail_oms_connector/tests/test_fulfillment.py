# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo.exceptions import UserError
from odoo.tests import HttpCase, tagged

from .common import OmsTestMixin


@tagged("post_install", "-at_install")
class TestFulfillmentEvents(OmsTestMixin, HttpCase):
    """Fulfillment events from the OMS simulator, over real signed webhooks."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_oms()

    def setUp(self):
        super().setUp()
        self.sim_webhooks_to_odoo()

    def exported_order(self, lines=None):
        order = self.make_order(lines=lines)
        order.action_confirm()
        self.run_jobs()
        self.assertEqual(order.retail_oms_state, "exported")
        return order

    def fulfil(self, order, **body):
        result = self.sim("POST", f"/_sim/orders/{order.name}/fulfil", body)
        self.assertTrue(self.sim_wait_idle(), "webhooks delivered")
        self.run_jobs()
        return result

    def line(self, order, product):
        return order.order_line.filtered(lambda line: line.product_id == product)

    def test_shipment_validates_the_delivery_with_tracking(self):
        order = self.exported_order()
        result = self.fulfil(order, events=["accepted", "shipped"], carrier="DHL")
        picking = order.picking_ids
        self.assertEqual(picking.state, "done")
        self.assertEqual(sorted(picking.move_ids.mapped("quantity")), [1.0, 2.0])
        self.assertEqual(picking.retail_tracking_numbers, ", ".join(result["tracking_numbers"]))
        self.assertEqual(picking.retail_carrier, "DHL")
        self.assertEqual(order.retail_oms_state, "fulfilled")
        self.assertEqual(order.retail_oms_fulfillment_ids.state, "shipped")

    def test_split_shipment_validates_each_part_with_a_backorder(self):
        store = self._map_store()
        order = self.exported_order()
        tshirt = self.line(order, self.tshirt)
        self.fulfil(order, location_ref="WH", events=["shipped"],
                    lines=[{"line_ref": str(tshirt.id), "sku": "TSHIRT-M", "qty": 1}])
        self.assertEqual(order.retail_oms_state, "partially_fulfilled")
        self.assertEqual(tshirt.qty_delivered, 1)
        self.assertEqual(len(order.picking_ids), 2, "the rest waits in a backorder")
        self.fulfil(order, location_ref="STORE-LYO", type="ship_from_store", events=["shipped"])
        self.assertEqual(order.retail_oms_state, "fulfilled")
        self.assertEqual(order.picking_ids.sorted("id")[-1].location_id, store.lot_stock_id,
                         "the second part left from the store")
        self.assertEqual(set(order.picking_ids.mapped("state")), {"done"})
        self.assertEqual([line.qty_delivered for line in order.order_line],
                         [line.product_uom_qty for line in order.order_line],
                         "never more than ordered")
        self.assertEqual(len(order.retail_oms_fulfillment_ids), 2)

    def test_duplicate_and_resent_shipped_events_apply_once(self):
        order = self.exported_order()
        shipped = self.fulfil(order, events=["shipped"])
        self.sim("POST", "/_sim/events", {"repeat": True})  # same webhook-id
        self.assertTrue(self.sim_wait_idle())
        data = {"order_ref": order.name, "fulfillment_ref": shipped["fulfillment_ref"],
                "lines": [{"line_ref": str(line.id), "sku": line.product_id.default_code,
                           "qty": int(line.product_uom_qty)} for line in order.order_line]}
        self.sim("POST", "/_sim/events", {  # the same shipment resent under a new id
            "type": "fulfillment.shipped", "order_ref": order.name, "data": data})
        self.assertTrue(self.sim_wait_idle())
        self.run_jobs()
        self.assertEqual(len(order.picking_ids), 1)
        self.assertEqual(order.picking_ids.state, "done")
        self.assertEqual([line.qty_delivered for line in order.order_line], [2, 1])
        outcomes = self.exchanges(self.backend, event_type="fulfillment.shipped")
        self.assertEqual(len(outcomes), 2, "the repeat of the same id was not recorded")
        self.assertEqual(set(outcomes.mapped("state")), {"done"})

    def test_delivered_before_shipped_never_moves_backwards(self):
        order = self.exported_order()
        lines = [{"line_ref": str(line.id), "sku": line.product_id.default_code,
                  "qty": int(line.product_uom_qty)} for line in order.order_line]
        data = {"order_ref": order.name, "fulfillment_ref": "F-LATE", "location_ref": "WH",
                "type": "ship", "lines": lines,
                "parcels": [{"carrier": "UPS", "tracking_number": "1Z999", "tracking_url": None}]}
        self.sim("POST", "/_sim/events", {"type": "fulfillment.delivered", "order_ref": order.name,
                                         "data": data, "sequence": 3})
        self.assertTrue(self.sim_wait_idle())
        self.run_jobs()
        self.sim("POST", "/_sim/events", {"type": "fulfillment.shipped", "order_ref": order.name,
                                         "data": data, "sequence": 2})
        self.assertTrue(self.sim_wait_idle())
        self.run_jobs()
        fulfillment = order.retail_oms_fulfillment_ids
        self.assertEqual(fulfillment.state, "delivered")
        self.assertEqual(order.picking_ids.state, "done")
        self.assertEqual(order.picking_ids.retail_tracking_numbers, "1Z999")
        self.assertEqual(order.retail_oms_state, "fulfilled")

    def test_over_delivery_is_refused_visibly(self):
        order = self.exported_order(lines=[(self.tshirt, 1)])
        line = order.order_line
        self.sim("POST", "/_sim/events", {
            "type": "fulfillment.shipped", "order_ref": order.name,
            "data": {"order_ref": order.name, "fulfillment_ref": "F-OVER",
                     "lines": [{"line_ref": str(line.id), "sku": "TSHIRT-M", "qty": 5}]}})
        self.assertTrue(self.sim_wait_idle())
        self.run_jobs()
        exchange = self.exchanges(self.backend, event_type="fulfillment.shipped")
        self.assertEqual(exchange.state, "failed")
        self.assertEqual(exchange.failure_class, "business")
        self.assertIn("over-delivery refused", exchange.error)
        self.assertNotEqual(order.picking_ids.state, "done")
        self.assertEqual(line.qty_delivered, 0)

    def test_event_for_an_unknown_order_waits_then_lands_in_the_queue(self):
        self.sim("POST", "/_sim/events", {
            "type": "fulfillment.accepted", "order_ref": "S-UNKNOWN",
            "data": {"order_ref": "S-UNKNOWN", "fulfillment_ref": "F-X"}})
        self.assertTrue(self.sim_wait_idle())
        self.run_jobs()
        exchange = self.exchanges(self.backend, event_type="fulfillment.accepted")
        self.assertEqual(exchange.state, "failed")
        self.assertEqual(exchange.attempts, self.backend.retry_max_attempts)
        self.assertIn("S-UNKNOWN is not known", exchange.error)

    def test_cancellation_reaches_the_oms(self):
        order = self.exported_order()
        order.with_context(disable_cancel_warning=True).action_cancel()
        self.run_jobs()
        cancel = self.exchanges(self.backend, res_id=order.id).filtered(
            lambda e: e.flow_id.code == "oms_order_cancel")
        self.assertEqual(cancel.state, "done")
        self.assertEqual(self.sim_state()["orders"][order.name]["status"], "cancelled")

    def test_cancellation_after_shipment_is_refused_with_a_clear_message(self):
        order = self.exported_order()
        self.fulfil(order, events=["shipped"])
        with self.assertRaisesRegex(UserError, "the OMS already shipped it"):
            order.action_cancel()
        self.assertEqual(order.state, "sale")

    def test_cancellation_before_export_sends_nothing(self):
        order = self.make_order()
        order.action_confirm()
        order.with_context(disable_cancel_warning=True).action_cancel()
        self.run_jobs()
        export = self.export_exchange(order)
        self.assertEqual(export.state, "ignored")
        self.assertIn("before it reached the OMS", export.message_ids[0].body)
        self.assertEqual(self.sim_state()["orders_created"], 0)

    def test_oms_refusing_a_cancellation_is_a_visible_business_exception(self):
        order = self.exported_order()
        # The OMS ships, but its webhook has not reached Odoo yet.
        self.sim("POST", "/_sim/config", {"webhook_url": "http://127.0.0.1:9/nowhere"})
        self.sim("POST", f"/_sim/orders/{order.name}/fulfil", {"events": ["shipped"]})
        order.with_context(disable_cancel_warning=True).action_cancel()
        self.run_jobs()
        cancel = self.exchanges(self.backend, res_id=order.id).filtered(
            lambda e: e.flow_id.code == "oms_order_cancel")
        self.assertEqual((cancel.state, cancel.failure_class), ("failed", "business"))
        self.assertIn("refused to cancel", cancel.error)

    def test_unfulfillable_line_reduces_what_is_left_to_deliver(self):
        order = self.exported_order()
        tshirt = self.line(order, self.tshirt)
        self.sim("POST", f"/_sim/orders/{order.name}/unfulfillable", {
            "lines": [{"line_ref": str(tshirt.id), "sku": "TSHIRT-M", "qty": 1}],
            "reason": "out_of_stock"})
        self.assertTrue(self.sim_wait_idle())
        self.run_jobs()
        open_moves = order.picking_ids.move_ids.filtered(lambda m: m.state != "cancel")
        self.assertEqual(sum(open_moves.filtered(
            lambda m: m.product_id == self.tshirt).mapped("product_uom_qty")), 1)
        self.assertIn("cannot fulfil 1 x", order.message_ids[0].body)
        self.assertIn("out_of_stock", order.message_ids[0].body)
        cancelled = order.retail_oms_fulfillment_ids.filtered(lambda f: f.state == "cancelled")
        self.assertEqual(cancelled.reason, "out_of_stock")
        self.fulfil(order, events=["shipped"])  # the OMS ships what it still can
        self.assertEqual(tshirt.qty_delivered, 1)
        self.assertEqual(self.line(order, self.sneaker).qty_delivered, 1)
        self.assertEqual(order.picking_ids.filtered(lambda p: p.state == "done").move_ids
                         .filtered(lambda m: m.product_id == self.tshirt).quantity, 1)
        self.assertEqual(order.retail_oms_state, "fulfilled", "nothing is left to deliver")

    def _map_store(self):
        store = self.env["stock.warehouse"].create({"name": "Store Lyon", "code": "SLY"})
        self.env["retail.mapping"].create({
            "backend_id": self.backend.id, "mapping_type": "location",
            "odoo_record": f"stock.warehouse,{store.id}", "external_value": "STORE-LYO"})
        return store

    def test_ship_from_store_validates_from_the_store_location(self):
        store = self._map_store()
        order = self.exported_order()
        self.fulfil(order, type="ship_from_store", location_ref="STORE-LYO", events=["shipped"])
        picking = order.picking_ids
        self.assertEqual(picking.state, "done")
        self.assertEqual(picking.move_ids.move_line_ids.location_id, store.lot_stock_id)
        self.assertEqual(order.retail_oms_fulfillment_ids.fulfillment_type, "ship_from_store")

    def test_buy_online_pick_up_in_store(self):
        store = self._map_store()
        order = self.make_order()
        order.write({"retail_fulfillment_type": "pickup", "retail_pickup_warehouse_id": store.id})
        order.action_confirm()
        self.run_jobs()
        sent = self.sim_state()["orders"][order.name]
        self.assertEqual((sent["fulfillment_type"], sent["pickup_location_ref"]),
                         ("pickup", "STORE-LYO"))
        ready = self.fulfil(order, type="pickup", location_ref="STORE-LYO",
                            events=["accepted", "ready_for_pickup"])
        self.assertEqual(order.retail_oms_state, "ready_for_pickup")
        self.assertNotEqual(order.picking_ids.state, "done", "still waiting for the customer")
        self.fulfil(order, fulfillment_ref=ready["fulfillment_ref"], events=["picked_up"])
        self.assertEqual(order.picking_ids.state, "done")
        self.assertEqual(order.picking_ids.move_ids.move_line_ids.location_id,
                         store.lot_stock_id)
        self.assertEqual(order.retail_oms_state, "fulfilled")

    def test_ship_from_an_unmapped_store_is_a_mapping_exception(self):
        order = self.exported_order()
        self.fulfil(order, type="ship_from_store", location_ref="STORE-UNKNOWN",
                    events=["shipped"])
        exchange = self.exchanges(self.backend, event_type="fulfillment.shipped")
        self.assertEqual((exchange.state, exchange.failure_class), ("failed", "mapping"))
        self.assertIn("STORE-UNKNOWN", exchange.error)

    def test_a_faulty_day_ends_with_every_order_right_and_nothing_doubled(self):
        """Errors, 429 bursts, latency, duplicate and out-of-order webhooks."""
        self.backend.retry_max_attempts = 12
        self.sim_faults(error_rate=0.25, burst_429=2, retry_after_s=1, latency_ms=5,
                        duplicate_rate=0.5, out_of_order=True, out_of_order_hold_s=0.3, seed=7)
        orders = self.env["sale.order"]
        for _i in range(6):
            orders |= self.make_order()
        orders.action_confirm()
        self.run_jobs(max_rounds=60)
        self.assertEqual(sorted(self.sim_state()["orders"]), sorted(orders.mapped("name")))
        # Read everything first: once webhooks fly, Odoo's HTTP thread shares
        # this test's cursor, so the test must not use it until they are in.
        plan = [(order.name, n % 2 and self.line(order, self.tshirt).id)
                for n, order in enumerate(orders)]
        for name, split_line in plan:
            if split_line:  # a split shipment: the T-shirts first, then the rest
                self.sim("POST", f"/_sim/orders/{name}/fulfil", {
                    "events": ["accepted", "shipped"],
                    "lines": [{"line_ref": str(split_line), "sku": "TSHIRT-M", "qty": 2}]})
            self.sim("POST", f"/_sim/orders/{name}/fulfil",
                     {"events": ["accepted", "shipped", "delivered"]})
        self.sim("POST", "/_sim/flush")
        self.assertTrue(self.sim_wait_idle(timeout=60))
        self.run_jobs(max_rounds=60)
        state = self.sim_state()
        deliveries = state["webhooks"]["deliveries"]
        self.assertTrue(any(d["duplicate"] for d in deliveries), "duplicates were injected")
        intake = self.exchanges(self.backend).filtered(lambda e: e.direction == "inbound")
        self.assertLess(len(intake), len(deliveries), "duplicate deliveries were not recorded")
        for order in orders:
            self.assertEqual(order.retail_oms_state, "fulfilled", order.name)
            self.assertEqual([line.qty_delivered for line in order.order_line], [2, 1])
            done = order.picking_ids.filtered(lambda p: p.state == "done")
            self.assertEqual(sum(done.move_ids.mapped("quantity")), 3, "nothing shipped twice")
            expected = 2 if orders.ids.index(order.id) % 2 else 1
            self.assertEqual(len(order.retail_oms_fulfillment_ids), expected)
        self.assertEqual(state["orders_created"], len(orders), "no order doubled in the OMS")
        self.assertFalse(self.env["retail.exchange"].search([
            ("backend_id", "=", self.backend.id), ("state", "not in", ("done",))]),
            "every message ended done")

    def test_order_cancelled_by_the_oms_is_cancelled_in_odoo(self):
        order = self.exported_order()
        self.sim("POST", f"/_sim/orders/{order.name}/cancel_event", {"reason": "fraud"})
        self.assertTrue(self.sim_wait_idle())
        self.run_jobs()
        self.assertEqual(order.state, "cancel")
        self.assertIn("Cancelled by the OMS (fraud)", order.message_ids[0].body)
        self.assertFalse(self.exchanges(self.backend).filtered(
            lambda e: e.flow_id.code == "oms_order_cancel"), "nothing sent back to the OMS")

    def test_quantity_reduction_before_fulfillment_reaches_the_oms(self):
        order = self.exported_order()
        tshirt = self.line(order, self.tshirt)
        tshirt.product_uom_qty = 1
        self.run_jobs()
        update = self.exchanges(self.backend, res_id=order.id).filtered(
            lambda e: e.flow_id.code == "oms_order_update")
        self.assertEqual(update.state, "done")
        sent = self.sim_state()["orders"][order.name]["lines"]
        self.assertEqual([line["qty"] for line in sent if line["line_ref"] == str(tshirt.id)],
                         [1])
        with self.assertRaisesRegex(UserError, "can only be reduced"):
            tshirt.product_uom_qty = 3
        self.fulfil(order, events=["shipped"])
        self.assertEqual(tshirt.qty_delivered, 1)
        with self.assertRaisesRegex(UserError, "already shipped"):
            tshirt.product_uom_qty = 0

    def test_an_event_naming_a_foreign_line_is_a_validation_exception(self):
        order = self.exported_order()
        self.sim("POST", "/_sim/events", {
            "type": "fulfillment.shipped", "order_ref": order.name,
            "data": {"order_ref": order.name, "fulfillment_ref": "F-FOREIGN",
                     "lines": [{"line_ref": "999999", "sku": "TSHIRT-M", "qty": 1}]}})
        self.assertTrue(self.sim_wait_idle())
        self.run_jobs()
        exchange = self.exchanges(self.backend, event_type="fulfillment.shipped")
        self.assertEqual((exchange.state, exchange.failure_class), ("failed", "validation"))
        self.assertIn("999999 is not a line of", exchange.error)
        self.assertNotEqual(order.picking_ids.state, "done")
