# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import json

from odoo.tests import TransactionCase, tagged

from .common import OmsTestMixin


@tagged("post_install", "-at_install")
class TestInventoryAvailability(OmsTestMixin, TransactionCase):
    """Availability out, coalesced per SKU and location, batched, sequenced."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_oms()
        cls.warehouse = cls.env["stock.warehouse"].search(
            [("company_id", "=", cls.env.company.id)], limit=1)
        cls.store = cls.env["stock.warehouse"].create({"name": "Store Lyon", "code": "LYO"})
        Mapping = cls.env["retail.mapping"]
        for warehouse, ref in ((cls.warehouse, "WH1"), (cls.store, "STORE-LYO")):
            Mapping.create({"backend_id": cls.backend.id, "mapping_type": "location",
                            "odoo_record": f"stock.warehouse,{warehouse.id}",
                            "external_value": ref})
        cls.Quant = cls.env["stock.quant"]

    def setUp(self):
        super().setUp()
        self.sim_reset()
        self.env.cr.execute("DELETE FROM retail_oms_inventory_dirty")

    def commit_point(self):
        """What happens at commit: the buffered pairs are stored, jobs queued."""
        self.env.flush_all()
        self.env.cr.precommit.run()

    def add_stock(self, product, quantity, warehouse=None):
        self.Quant._update_available_quantity(
            product, (warehouse or self.warehouse).lot_stock_id, quantity)

    def level(self, sku, ref):
        levels = [lv for lv in self.sim_state()["inventory"]
                  if lv["sku"] == sku and lv["location_ref"] == ref]
        return levels[0] if levels else None

    def inventory_exchanges(self):
        return self.exchanges(self.backend).filtered(
            lambda e: e.flow_id.code == "oms_inventory_sync")

    def test_a_burst_of_moves_sends_one_update_per_sku_and_location(self):
        for _i in range(5):
            self.add_stock(self.tshirt, 2)
        self.commit_point()
        self.env.cr.execute("SELECT count(*) FROM retail_oms_inventory_dirty")
        self.assertEqual(self.env.cr.fetchone()[0], 1)
        flushes = self.env["queue.job"].search([("method_name", "=", "_job_oms_inventory_flush")])
        self.assertEqual(len(flushes), 1)
        self.assertTrue(flushes.eta, "the flush waits a moment for more moves to coalesce")
        self.run_jobs()
        exchanges = self.inventory_exchanges()
        self.assertEqual(len(exchanges), 1)
        self.assertEqual(exchanges.state, "done")
        levels = json.loads(exchanges.payload)["levels"]
        self.assertEqual(len(levels), 1)
        self.assertEqual(self.level("TSHIRT-M", "WH1")["available"], 10)
        self.assertEqual(self.sim_state()["inventory_totals"]["calls"], 1)

    def test_reservations_reduce_what_is_available(self):
        self.add_stock(self.sneaker, 10)
        self.commit_point()
        self.run_jobs()
        order = self.make_order(lines=[(self.sneaker, 3)])
        order.action_confirm()
        self.assertEqual(order.picking_ids.state, "assigned")
        self.commit_point()
        self.run_jobs()
        level = self.level("SNEAKER-42", "WH1")
        self.assertEqual((level["available"], level["on_hand"]), (7, 10))

    def test_moves_outside_mapped_locations_send_nothing(self):
        elsewhere = self.env["stock.location"].create(
            {"name": "Repair bench", "usage": "internal", "location_id": False})
        self.Quant._update_available_quantity(self.tshirt, elsewhere, 4)
        self.commit_point()
        self.assertFalse(self.env["queue.job"].search(
            [("method_name", "=", "_job_oms_inventory_flush")]))

    def test_snapshot_repairs_drift_and_old_levels_are_stale(self):
        self.add_stock(self.tshirt, 5)
        self.add_stock(self.sneaker, 1, self.store)
        self.commit_point()
        self.run_jobs()
        snapshot = self.backend._get_flow("oms_inventory_snapshot")
        snapshot._run_batch()
        self.run_jobs()
        first = self.inventory_exchanges().sorted("id")[-1]
        self.assertEqual(len(json.loads(first.payload)["levels"]), 4, "2 SKUs x 2 locations")
        self.assertEqual(self.level("SNEAKER-42", "STORE-LYO")["available"], 1)
        self.assertEqual(self.level("SNEAKER-42", "WH1")["available"], 0)
        # A snapshot whose call fails until a newer one went through...
        self.sim_faults(error_rate=1.0, seed=9)
        snapshot._run_batch()
        self.run_jobs()
        delayed = self.inventory_exchanges().sorted("id")[-1]
        self.assertEqual(delayed.state, "failed")
        self.sim_faults(error_rate=0.0)
        self.add_stock(self.tshirt, 1)
        snapshot._run_batch()
        self.run_jobs()
        self.assertEqual(self.level("TSHIRT-M", "WH1")["available"], 6)
        # ...is retried late: its levels are older, the OMS keeps the newer.
        delayed.with_user(self.retail_user).action_retry()
        self.run_jobs()
        self.assertEqual(delayed.state, "done")
        self.assertEqual(self.sim_state()["inventory_totals"]["stale"], 4)
        self.assertEqual(self.level("TSHIRT-M", "WH1")["available"], 6)

    def test_levels_go_in_calls_of_bounded_size(self):
        self.add_stock(self.tshirt, 1)
        self.add_stock(self.sneaker, 1)
        self.add_stock(self.sneaker, 1, self.store)
        self.commit_point()
        self.backend._job_oms_inventory_flush(chunk=2)
        self.run_jobs()
        sizes = [len(json.loads(e.payload)["levels"]) for e in self.inventory_exchanges()]
        self.assertEqual(sorted(sizes), [1, 2])
        self.assertEqual(self.sim_state()["inventory_totals"]["calls"], 2)

    def test_sweeper_sends_changes_no_flush_job_took(self):
        self.add_stock(self.tshirt, 3)
        self.commit_point()
        self.env["queue.job"].search([("method_name", "=", "_job_oms_inventory_flush")]).unlink()
        self.assertEqual(self.env["retail.backend"]._cron_oms_inventory_sweep(), 1)
        self.run_jobs()
        self.assertEqual(self.level("TSHIRT-M", "WH1")["available"], 3)
