# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import requests

from odoo.tests import HttpCase, tagged

from .common import LoyaltyTestMixin


@tagged("post_install", "-at_install")
class TestLedgerCompare(LoyaltyTestMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_loyalty()

    def compare(self):
        flow = self.backend._get_flow("loyalty_ledger_compare")
        flow.action_run_now()
        return self.exchanges(self.backend).filtered(lambda e: e.flow_id == flow)

    def test_matching_ledgers_report_nothing_and_an_injected_difference_is_an_exception(self):
        member_ref = self.enroll(points=500)
        order = self.make_order()
        wizard = self.env["retail.loyalty.redeem.wizard"].create(
            {"order_id": order.id, "points": 100})
        wizard.action_redeem()
        order.action_confirm()
        self.deliver(order)
        self.run_jobs()
        first = self.compare()
        self.assertEqual(first.mapped("state"), ["done"], "Odoo's ledger equals the platform's")
        # Another system posts an earn Odoo never made.
        response = requests.post(f"{self.simulator.url}/v1/transactions", timeout=10, json={
            "type": "earn", "member_ref": member_ref, "order_ref": "POS-999",
            "amount": {"amount": 5000, "currency": self.env.company.currency_id.name}, "lines": []},
            headers={"Authorization": f"Bearer {self.simulator.api_key}"})
        self.assertEqual(response.status_code, 201, response.text)
        second = self.compare() - first
        self.assertEqual((second.state, second.failure_class), ("failed", "business"))
        self.assertIn("POS-999", second.error)
        self.assertIn(member_ref, second.error)
        self.assertEqual(second.res_id, self.customer.id)
