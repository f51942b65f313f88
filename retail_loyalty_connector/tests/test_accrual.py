# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo.tests import HttpCase, tagged

from .common import LoyaltyTestMixin


@tagged("post_install", "-at_install")
class TestAccrual(LoyaltyTestMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_loyalty()

    def setUp(self):
        super().setUp()
        self.member_ref = self.enroll()

    def delivered_order(self, qty=5):
        order = self.make_order(qty=qty)
        order.action_confirm()
        self.deliver(order)
        return order

    def earns(self, order=None):
        return [t for t in self.platform_transactions(self.member_ref, ("earn",))
                if order is None or t["order_ref"] == order.name]

    def test_delivery_earns_the_points_once_even_with_faults_and_replays(self):
        self.sim_faults(error_rate=0.5, timeout_rate=0.3, timeout_sleep_s=2.5,
                        timeout_phase="after", seed=3)
        order = self.delivered_order()
        order._loyalty_accrue()  # asked twice: still one transaction
        self.assertEqual(order.retail_loyalty_accrual_state, "queued")
        for _round in range(20):
            self.run_jobs()
            if order.retail_loyalty_accrual_state == "posted":
                break
            self.env["retail.backend"]._cron_loyalty_recover()
        self.platform_up()
        self.run_jobs()
        earn = self.ledger(order_id=order.id, type="earn")
        self.assertEqual((len(earn), earn.state, earn.points), (1, "posted", 100))
        exchange = self.exchanges(self.backend, res_id=earn.id, res_model=earn._name)
        exchange.action_replay()
        self.run_jobs()
        self.assertEqual(len(self.earns(order)), 1, "exactly one earn on the platform")
        self.assertEqual(self.member_state(self.member_ref)["balance"], 100)

    def test_duplicate_member_webhooks_change_nothing(self):
        self.webhooks_to_odoo()
        self.sim_faults(duplicate_rate=1.0, seed=1)
        order = self.delivered_order()
        self.run_jobs()
        self.assertTrue(self.sim_wait_idle())
        self.run_jobs()
        deliveries = self.sim_state()["webhooks"]["deliveries"]
        self.assertTrue(any(d["duplicate"] for d in deliveries))
        self.assertEqual(self.customer.retail_loyalty_balance, 100)
        self.assertEqual(len(self.earns(order)), 1)

    def test_invoiced_policy_earns_when_the_order_is_invoiced(self):
        self.backend.loyalty_accrual_point = "invoiced"
        order = self.delivered_order()
        self.assertEqual(order.retail_loyalty_accrual_state, "none")
        invoice = order._create_invoices()
        invoice.action_post()
        self.run_jobs()
        self.assertEqual(order.retail_loyalty_accrual_state, "posted",
                         self.exchanges(self.backend).mapped(lambda e: (e.name, e.state, e.error)))
        self.assertEqual(len(self.earns(order)), 1)

    def oms_return(self, order, return_ref, amount):
        oms_backend = self.create_backend(name="OMS (test)", kind="oms")
        return self.env["retail.oms.return"].create({
            "backend_id": oms_backend.id, "order_id": order.id, "return_ref": return_ref,
            "refund_amount": amount, "currency_id": order.currency_id.id})

    def test_a_partial_return_reverses_in_proportion_and_only_once(self):
        order = self.delivered_order()
        self.run_jobs()
        earn = self.ledger(order_id=order.id, type="earn")
        oms_return = self.oms_return(order, "RET-1", 40.0)
        order._retail_oms_returned(oms_return)  # what the OMS returns flow calls
        order._retail_oms_returned(oms_return)  # the same return again
        self.run_jobs()
        reversal = self.ledger(order_id=order.id, type="reversal")
        self.assertEqual(len(reversal), 1)
        self.assertEqual((reversal.state, reversal.points, reversal.reverses_id),
                         ("posted", -40, earn))
        platform = self.platform_transactions(self.member_ref, ("reversal",))
        self.assertEqual([(t["points"], t["reverses_txn_ref"]) for t in platform],
                         [(-40, earn.txn_ref)])
        self.assertEqual(self.member_state(self.member_ref)["balance"], 60)

    def test_a_credit_note_made_in_odoo_reverses_points(self):
        self.backend.loyalty_accrual_point = "invoiced"
        order = self.delivered_order()
        invoice = order._create_invoices()
        invoice.action_post()
        self.run_jobs()
        wizard = self.env["account.move.reversal"].with_context(
            active_model="account.move", active_ids=invoice.ids).create({
                "journal_id": invoice.journal_id.id, "reason": "damaged"})
        refund = self.env["account.move"].browse(wizard.refund_moves()["res_id"])
        refund.invoice_line_ids.quantity = 2
        refund.action_post()
        self.run_jobs()
        reversal = self.ledger(order_id=order.id, type="reversal")
        self.assertEqual((reversal.points, reversal.credit_note_id), (-40, refund))

    def test_platform_down_defers_accruals_and_sends_them_in_order_when_back(self):
        self.platform_down()
        orders = [self.delivered_order(qty=n) for n in (1, 2, 3)]
        self.run_jobs()
        self.assertTrue(self.backend.loyalty_unavailable_since)
        states = [order.retail_loyalty_accrual_state for order in orders]
        self.assertEqual(states, ["deferred", "queued", "queued"])
        exchanges = self.exchanges(self.backend).filtered(
            lambda e: e.flow_id.code == "loyalty_posting")
        self.assertEqual(set(exchanges.mapped("attempts")), {0}, "an outage spends no attempt")
        posting = self.backend._get_flow("loyalty_posting")
        self.assertEqual(posting.stat_loyalty_waiting, 3, "the dashboard shows what waits")
        self.platform_up()
        self.env["retail.backend"]._cron_loyalty_recover()
        self.run_jobs()
        self.assertEqual([order.retail_loyalty_accrual_state for order in orders],
                         ["posted"] * 3)
        self.assertEqual([t["order_ref"] for t in self.earns()], [o.name for o in orders],
                         "in order")
        self.assertEqual([t["points"] for t in self.earns()], [20, 40, 60])
        posting.invalidate_recordset()
        self.assertEqual((posting.stat_loyalty_waiting, posting.stat_loyalty_posted_rate), (0, 100))
