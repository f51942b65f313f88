# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo.exceptions import UserError
from odoo.tests import HttpCase, tagged

from .common import LoyaltyTestMixin


@tagged("post_install", "-at_install")
class TestRedemption(LoyaltyTestMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_loyalty()

    def setUp(self):
        super().setUp()
        self.member_ref = self.enroll(points=1000)

    def redeem(self, order, points):
        wizard = self.env["retail.loyalty.redeem.wizard"].with_user(self.salesman).create(
            {"order_id": order.id, "points": points})
        wizard.action_redeem()
        return order.retail_loyalty_transaction_ids.filtered(
            lambda t: t.type == "redeem").sorted("id")[-1]

    def redemption(self, txn):
        return next(r for r in self.sim("GET", "/_sim/redemptions")["redemptions"]
                    if r["redemption_ref"] == txn.platform_ref)

    def test_redeem_then_confirm_spends_exactly_the_points_the_platform_valued(self):
        order = self.make_order()  # 100.00
        txn = self.redeem(order, 300)
        self.assertEqual((txn.state, txn.points, txn.amount), ("held", -300, 3.0))
        line = order.order_line.filtered("retail_loyalty_transaction_id")
        self.assertEqual(line.price_unit, -3.0)
        self.assertEqual(order.amount_total, 97.0)
        self.assertEqual(self.member_state(self.member_ref)["pending"], 300)
        order.with_user(self.salesman).action_confirm()
        self.assertEqual(txn.state, "confirmed")
        self.assertTrue(txn.txn_ref)
        self.assertEqual(self.redemption(txn)["status"], "confirmed")
        member = self.member_state(self.member_ref)
        self.assertEqual((member["balance"], member["pending"]), (700, 0))

    def test_cancelling_the_quotation_releases_the_hold(self):
        order = self.make_order()
        txn = self.redeem(order, 200)
        order.with_user(self.salesman)._action_cancel()
        self.run_jobs()
        self.assertEqual(txn.state, "released")
        self.assertEqual(self.redemption(txn)["status"], "released",
                         self.exchanges(self.backend).mapped(lambda e: (e.name, e.state, e.error)))
        self.assertEqual(self.member_state(self.member_ref)["pending"], 0)

    def test_removing_the_discount_line_releases_the_hold(self):
        order = self.make_order()
        txn = self.redeem(order, 200)
        order.order_line.filtered("retail_loyalty_transaction_id").unlink()
        self.run_jobs()
        self.assertEqual(self.redemption(txn)["status"], "released")
        order.action_confirm()
        self.assertEqual(txn.state, "released", "nothing confirmed without a discount")

    def test_an_expired_quotation_releases_its_points(self):
        order = self.make_order()
        txn = self.redeem(order, 100)
        order.validity_date = "2020-01-01"
        self.env["sale.order"]._cron_loyalty_release_expired_quotations()
        self.run_jobs()
        self.assertEqual(self.redemption(txn)["status"], "released")
        self.assertFalse(order.order_line.filtered("retail_loyalty_transaction_id"))

    def test_a_hold_expired_on_the_platform_is_caught_before_confirmation(self):
        order = self.make_order()
        txn = self.redeem(order, 300)
        self.sim("POST", f"/_sim/redemptions/{txn.platform_ref}/expire")
        # No savepoint around the refusal: the expiry is written in a
        # transaction of its own, which a real rollback would keep.
        try:
            order.with_user(self.salesman).action_confirm()
        except UserError as exc:
            self.assertIn("no longer holds the 300 points", str(exc))
        else:
            self.fail("confirmation refused")
        self.assertEqual(order.state, "draft")
        self.assertEqual(txn.state, "expired")
        with self.assertRaisesRegex(UserError, "remove the loyalty line"):
            order.action_confirm()
        self.assertEqual(self.member_state(self.member_ref)["balance"], 1000)

    def test_insufficient_points_is_a_clear_user_error(self):
        order = self.make_order()
        with self.assertRaisesRegex(UserError, "not have enough points: 5000 asked, 1000"):
            self.redeem(order, 5000)
        self.assertFalse(order.order_line.filtered("retail_loyalty_transaction_id"))
        exchange = self.exchanges(self.backend, res_id=order.id).filtered(
            lambda e: e.flow_id.code == "loyalty_redemption")
        self.assertEqual((exchange.state, exchange.http_status), ("done", 422),
                         "an answer, not an exception for the back office")

    def test_cancelling_a_confirmed_order_gives_the_points_back(self):
        order = self.make_order()
        txn = self.redeem(order, 300)
        order.action_confirm()
        order._action_cancel()
        self.run_jobs()
        reversal = self.ledger(reverses_id=txn.id)
        self.assertEqual((reversal.state, reversal.points), ("posted", 300))
        self.assertEqual(self.member_state(self.member_ref)["balance"], 1000)

    def test_platform_down_with_the_refuse_policy_refuses_clearly(self):
        self.platform_down()
        order = self.make_order()
        with self.assertRaisesRegex(UserError, "unavailable: points cannot be redeemed"):
            self.redeem(order, 100)
        self.assertTrue(self.backend.loyalty_unavailable_since)
        self.assertFalse(order.order_line.filtered("retail_loyalty_transaction_id"))

    def test_platform_down_with_the_cap_policy_grants_then_reconciles(self):
        self.backend.write({"loyalty_degraded_redemption": "cap",
                            "loyalty_offline_points_cap": 200})
        self.platform_down()
        order = self.make_order()
        with self.assertRaisesRegex(UserError, "at most 200 points"):
            self.redeem(order, 300)
        txn = self.redeem(order, 150)
        self.assertEqual((txn.state, txn.amount), ("offline", 1.5))
        order.action_confirm()
        self.assertEqual(order.state, "sale", "checkout went on")
        self.platform_up()
        self.env["retail.backend"]._cron_loyalty_recover()
        self.run_jobs()
        self.assertFalse(self.backend.loyalty_unavailable_since)
        self.assertEqual(txn.state, "confirmed", self.exchanges(self.backend).mapped("error"))
        self.assertEqual(self.member_state(self.member_ref)["balance"], 850)
