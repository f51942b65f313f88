# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import os
import re

from odoo.tests import TransactionCase, tagged

from odoo.addons.retail_integration_base.tests.common import RetailTestMixin, SimulatorMixin

from simulators.oms import OmsSimulator

ROOT = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
SUITE = ["retail_integration", "retail_integration_base", "retail_oms_connector",
         "retail_loyalty_connector", "retail_settlement"]


@tagged("post_install", "-at_install")
class TestSuiteInstall(TransactionCase):
    def test_every_module_of_the_suite_is_installed(self):
        modules = self.env["ir.module.module"].search([("name", "in", SUITE)])
        self.assertEqual(sorted(modules.mapped("name")), sorted(SUITE))
        self.assertEqual(set(modules.mapped("state")), {"installed"})

    def test_each_connector_adds_its_backend_kind(self):
        kinds = dict(self.env["retail.backend"]._fields["kind"].selection)
        self.assertTrue({"generic", "oms", "loyalty", "settlement"} <= set(kinds))

    def test_menu_reaches_every_screen(self):
        root = self.env.ref("retail_integration_base.retail_integration_menu_root")
        menus = self.env["ir.ui.menu"].search([("id", "child_of", root.id)])
        models = {m.action.res_model for m in menus
                  if m.action and m.action._name == "ir.actions.act_window"}
        self.assertTrue({"retail.backend", "retail.flow", "retail.exchange", "retail.mapping",
                         "retail.binding", "res.config.settings"} <= models)

    def test_ci_runs_the_test_command_the_readme_documents(self):
        with open(os.path.join(ROOT, "README.rst")) as handle:
            readme = handle.read()
        with open(os.path.join(ROOT, ".ci", "run")) as handle:
            ci = handle.read()
        documented = re.search(r"Run all tests.*?::\n\n\s+([^\n]+)\n", readme, re.S).group(1)
        self.assertEqual(documented.strip(), "./setup/suite test")
        self.assertIn(f"exec {documented.strip()}", ci)


@tagged("post_install", "-at_install")
class TestSuiteEndToEnd(RetailTestMixin, SimulatorMixin, TransactionCase):
    """A salesperson confirms orders; the suite gets them into the OMS once."""

    simulator_class = OmsSimulator

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_retail()
        cls.start_simulator()
        cls.oms = cls.create_backend(name="OMS", kind="oms", base_url=cls.simulator.url)
        cls.product = cls.env["product.product"].create({
            "name": "Suite test product", "default_code": "SUITE-1", "type": "consu",
            "is_storable": True, "list_price": 10.0})
        cls.customer = cls.env["res.partner"].create(
            {"name": "Suite customer", "email": "suite@example.com"})

    def test_orders_reach_the_oms_exactly_once_under_faults(self):
        self.oms.retry_max_attempts = 10
        self.sim_faults(error_rate=0.3, burst_429=1, retry_after_s=1, seed=42)
        orders = self.env["sale.order"].with_user(self.salesman).create([{
            "partner_id": self.customer.id,
            "order_line": [(0, 0, {"product_id": self.product.id, "product_uom_qty": n})],
        } for n in (1, 2, 3, 4)])
        orders.action_confirm()
        self.run_jobs(max_rounds=50)
        state = self.sim_state()
        self.assertEqual(state["orders_created"], 4)
        self.assertEqual(sorted(state["orders"]), sorted(orders.mapped("name")))
        for order in orders:
            sent = state["orders"][order.name]
            self.assertEqual(order.retail_external_ref, sent["oms_order_id"])
            self.assertEqual([line["qty"] for line in sent["lines"]],
                             [int(order.order_line.product_uom_qty)])
        exchanges = self.env["retail.exchange"].search([("backend_id", "=", self.oms.id)])
        self.assertEqual(set(exchanges.mapped("state")), {"done"})
        self.assertFalse(self.env["queue.job"].search(
            [("state", "in", ("pending", "enqueued", "started"))]), "queues drained")
