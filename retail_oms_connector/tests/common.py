# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo.addons.retail_integration_base.tests.common import RetailTestMixin, SimulatorMixin

from simulators.oms import OmsSimulator


class OmsTestMixin(RetailTestMixin, SimulatorMixin):
    """An OMS backend against a running OMS simulator, products and a customer."""

    simulator_class = OmsSimulator

    @classmethod
    def setup_oms(cls):
        cls.setup_retail()
        cls.start_simulator()
        cls.backend = cls.create_backend(name="OMS (test)", kind="oms", base_url=cls.simulator.url)
        Product = cls.env["product.product"]
        cls.tshirt = Product.create({
            "name": "T-shirt", "default_code": "TSHIRT-M", "type": "consu",
            "is_storable": True, "list_price": 19.99})
        cls.sneaker = Product.create({
            "name": "Sneaker", "default_code": "SNEAKER-42", "type": "consu",
            "is_storable": True, "list_price": 89.00})
        cls.customer = cls.env["res.partner"].create({
            "name": "Ada Buyer", "email": "ada@example.com", "phone": "+33 1 23 45 67 89",
            "city": "Lyon", "zip": "69001", "country_id": cls.env.ref("base.fr").id})

    def sim_webhooks_to_odoo(self):
        """Point the simulator's webhooks at this test's Odoo server (HttpCase)."""
        self.sim_reset()
        # Nothing may reach this test's cursor once the test is over.
        self.addCleanup(self.sim_reset)
        self.sim("POST", "/_sim/config", {
            "webhook_url": f"{self.base_url()}/retail/webhook/{self.backend.id}"})

    def make_order(self, partner=None, lines=None):
        lines = lines or [(self.tshirt, 2), (self.sneaker, 1)]
        return self.env["sale.order"].with_user(self.salesman).create({
            "partner_id": (partner or self.customer).id,
            "order_line": [(0, 0, {"product_id": p.id, "product_uom_qty": q}) for p, q in lines],
        })

    def export_exchange(self, order):
        return self.env["retail.exchange"].sudo().search([
            ("backend_id", "=", self.backend.id), ("res_model", "=", "sale.order"),
            ("res_id", "=", order.id), ("flow_id.code", "=", "oms_order_export")])
