# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo.tests import HttpCase, tagged

from .common import OmsTestMixin


@tagged("post_install", "-at_install")
class TestOmsTour(OmsTestMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_oms()
        cls.salesman.groups_id |= cls.env.ref("stock.group_stock_user")

    def test_order_confirmed_in_the_ui_comes_back_shipped(self):
        self.sim("POST", "/_sim/config", {
            "webhook_url": f"{self.base_url()}/retail/webhook/{self.backend.id}",
            "auto_fulfil": True, "auto_fulfil_delay": 0.1})
        order = self.make_order()
        self.start_tour(f"/odoo/action-sale.action_quotations/{order.id}",
                        "retail_oms_confirm_tour", login=self.salesman.login)
        self.assertEqual(order.state, "sale")
        self.assertEqual(order.retail_sync_state, "pending")
        self.run_jobs()  # the export
        self.assertIn(order.name, self.sim_state()["orders"])
        self.assertTrue(self.sim_wait_idle(), "the OMS accepted and shipped it")
        self.run_jobs()  # the fulfillment events
        picking = order.picking_ids
        self.assertEqual(picking.state, "done")
        self.start_tour(f"/odoo/action-stock.action_picking_tree_all/{picking.id}",
                        "retail_oms_shipped_tour", login=self.salesman.login)
