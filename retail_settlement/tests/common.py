# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import base64

from odoo.tests import new_test_user

from odoo.addons.retail_integration_base.tests.common import RetailTestMixin, SimulatorMixin

from simulators.settlement import SettlementSimulator


class SettlementTestMixin(RetailTestMixin, SimulatorMixin):
    """A settlement backend against the settlement simulator (3 lines a page),
    confirmed orders to settle, and a finance user with the fewest rights:
    integration user plus invoicing."""

    simulator_class = SettlementSimulator

    @classmethod
    def setup_settlement(cls):
        cls.setup_retail()
        cls.start_simulator(page_size=3)
        cls.finance = new_test_user(
            cls.env, login="retail_settlement_finance", name="Settlement Clerk",
            groups="base.group_user,retail_integration_base.group_retail_integration_user,"
                   "account.group_account_invoice")
        cls.backend = cls.create_backend(name="PSP (test)", kind="settlement",
                                         base_url=cls.simulator.url)
        cls.backend.settlement_since = "2026-01-01"
        cls.product = cls.env["product.product"].create({
            "name": "Gift card", "type": "service", "list_price": 100.0, "taxes_id": False,
            "invoice_policy": "order"})
        cls.ada = cls.env["res.partner"].create({"name": "Ada Buyer", "email": "ada@example.com"})
        cls.bob = cls.env["res.partner"].create({"name": "Bob Buyer", "email": "bob@example.com"})
        cls.order1 = cls.make_order(cls.ada, 100.0)
        cls.order2 = cls.make_order(cls.bob, 50.0)
        cls.order3 = cls.make_order(cls.ada, 30.0)
        cls.credit_note = cls.make_refund(cls.bob, 50.0, ref="RF-0002")

    @classmethod
    def make_order(cls, partner, price, psp=None):
        order = cls.env["sale.order"].create({
            "partner_id": partner.id,
            "order_line": [(0, 0, {"product_id": cls.product.id, "product_uom_qty": 1,
                                   "price_unit": price, "tax_id": False})]})
        order.action_confirm()
        if psp:
            order.retail_psp_reference = psp
        return order

    @classmethod
    def make_refund(cls, partner, amount, ref):
        move = cls.env["account.move"].create({
            "move_type": "out_refund", "partner_id": partner.id, "ref": ref,
            "invoice_line_ids": [(0, 0, {"name": "Refund", "quantity": 1, "price_unit": amount,
                                         "tax_ids": False})]})
        move.action_post()
        return move

    def payout_lines(self):
        """A realistic day: two sales, a refund with its credit note, a
        chargeback and its reversal, a monthly fee."""
        return [
            {"type": "sale", "merchant_order_ref": self.order1.name, "gross": 10000, "fee": 250,
             "booked_at": "2026-03-01T10:15:00+01:00"},
            {"type": "sale", "merchant_order_ref": self.order2.name, "gross": 5000, "fee": 140,
             "booked_at": "2026-03-01T11:00:00+01:00"},
            {"type": "refund", "merchant_order_ref": self.order2.name,
             "merchant_refund_ref": "RF-0002", "gross": -5000, "fee": 0,
             "booked_at": "2026-03-01T15:00:00+01:00"},
            {"type": "chargeback", "merchant_order_ref": self.order3.name, "gross": -3000,
             "fee": 1500, "booked_at": "2026-03-01T16:00:00+01:00"},
            {"type": "chargeback_reversal", "merchant_order_ref": self.order3.name,
             "gross": 3000, "fee": 0, "booked_at": "2026-03-01T17:00:00+01:00"},
            {"type": "fee", "gross": 0, "fee": 500, "booked_at": "2026-03-01T23:00:00+01:00"},
        ]

    def create_payout(self, ref="PO-1", lines=None, **extra):
        extra.setdefault("currency", self.env.company.currency_id.name)
        return self.sim("POST", "/_sim/payouts", dict(
            payout_ref=ref, paid_at="2026-03-02T06:00:00+00:00",
            lines=lines if lines is not None else self.payout_lines(), **extra))

    def sim_file(self, ref, layout):
        return self.sim("GET", f"/_sim/payouts/{ref}/file?layout={layout}")

    def upload(self, content, filename="settlement.csv", layout="auto", user=None):
        wizard = self.env["retail.settlement.import.wizard"].with_user(
            user or self.finance).create({
                "backend_id": self.backend.id, "layout": layout, "filename": filename,
                "data_file": base64.b64encode(content.encode())})
        return wizard.action_import()

    def batches(self, **domain):
        dom = [("backend_id", "=", self.backend.id)] + [(k, "=", v) for k, v in domain.items()]
        return self.env["retail.settlement.batch"].search(dom, order="id")

    def import_flow(self):
        return self.backend._get_flow("settlement_import")
