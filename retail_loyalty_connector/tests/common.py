# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo.addons.retail_integration_base.tests.common import RetailTestMixin, SimulatorMixin

from simulators.loyalty import LoyaltySimulator


class LoyaltyTestMixin(RetailTestMixin, SimulatorMixin):
    """A loyalty backend against a running loyalty simulator, products and members."""

    simulator_class = LoyaltySimulator

    @classmethod
    def setup_loyalty(cls, **values):
        cls.setup_retail()
        cls.start_simulator()
        # The platform counts in the company's currency.
        cls.simulator.update_config({"currency": cls.env.company.currency_id.name})
        cls.backend = cls.create_backend(
            name="Loyalty (test)", kind="loyalty", base_url=cls.simulator.url,
            connect_timeout=1, read_timeout=2, **values)
        cls.salesman.groups_id |= cls.env.ref("stock.group_stock_user")
        Product = cls.env["product.product"]
        cls.tshirt = Product.create({
            "name": "T-shirt", "default_code": "TSHIRT-M", "type": "consu",
            "is_storable": True, "list_price": 20.0, "taxes_id": [(5, 0, 0)],
            "invoice_policy": "order"})
        cls.warehouse = cls.env["stock.warehouse"].search(
            [("company_id", "=", cls.env.company.id)], limit=1)
        cls.env["stock.quant"]._update_available_quantity(
            cls.tshirt, cls.warehouse.lot_stock_id, 1000)
        cls.customer = cls.env["res.partner"].create({
            "name": "Ada Member", "email": "ada@example.com", "phone": "+33 1 23 45 67 89",
            "retail_loyalty_consent": True})

    def setUp(self):
        super().setUp()
        self.sim_reset()
        self.addCleanup(self.sim_reset)
        self.sim("POST", "/_sim/config", {"webhook_url": None})

    def webhooks_to_odoo(self):
        self.sim("POST", "/_sim/config", {
            "webhook_url": f"{self.base_url()}/retail/webhook/{self.backend.id}"})

    def enroll(self, partner=None, points=0):
        partner = partner or self.customer
        partner.with_user(self.salesman).action_loyalty_enroll()
        self.run_jobs()
        self.assertTrue(partner.retail_loyalty_member_ref, "enrolled")
        if points:
            self.sim("POST", f"/_sim/members/{partner.retail_loyalty_member_ref}/adjust",
                     {"points": points, "reason": "welcome"})
            partner.action_loyalty_refresh()
        return partner.retail_loyalty_member_ref

    def make_order(self, qty=5, partner=None):
        return self.env["sale.order"].with_user(self.salesman).create({
            "partner_id": (partner or self.customer).id,
            "order_line": [(0, 0, {"product_id": self.tshirt.id, "product_uom_qty": qty})],
        })

    def deliver(self, order):
        picking = order.picking_ids.filtered(lambda p: p.state not in ("done", "cancel"))
        picking.move_ids.quantity = picking.move_ids.product_uom_qty
        picking.move_ids.picked = True
        picking.button_validate()
        self.assertEqual(picking.state, "done")

    def member_state(self, member_ref):
        return self.sim("GET", f"/_sim/members/{member_ref}")

    def platform_transactions(self, member_ref, types=("earn", "reversal", "redeem")):
        """The platform's ledger of a member, oldest first."""
        return [t for t in self.member_state(member_ref)["transactions"] if t["type"] in types]

    def platform_down(self):
        self.sim_faults(error_rate=1.0, error_status=503)

    def platform_up(self):
        self.sim_faults(error_rate=0.0)

    def ledger(self, **domain):
        dom = [(k, "=", v) for k, v in domain.items()]
        return self.env["retail.loyalty.transaction"].sudo().search(dom, order="id")
