# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo.tests import HttpCase, tagged

from .common import LoyaltyTestMixin


@tagged("post_install", "-at_install")
class TestLoyaltyTour(LoyaltyTestMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_loyalty()

    def test_a_user_redeems_points_on_a_quotation_and_sees_the_balance(self):
        member_ref = self.enroll(points=1000)
        order = self.make_order()
        self.start_tour(f"/odoo/action-sale.action_quotations/{order.id}",
                        "retail_loyalty_redeem_tour", login=self.salesman.login)
        self.assertEqual(order.state, "sale")
        txn = order.retail_loyalty_transaction_ids
        self.assertEqual((txn.state, txn.requested_points), ("confirmed", 300))
        self.assertEqual(self.member_state(member_ref)["balance"], 700)
        self.start_tour(f"/odoo/action-base.action_partner_form/{self.customer.id}",
                        "retail_loyalty_balance_tour", login=self.salesman.login)
