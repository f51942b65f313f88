# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo.tests import TransactionCase, new_test_user, tagged

from odoo.addons.retail_integration.scenario import settlement_day
from odoo.addons.retail_settlement.tests.common import SettlementTestMixin


@tagged("post_install", "-at_install")
class TestDaySettlement(SettlementTestMixin, TransactionCase):
    """The morning after the retailer's day: yesterday's invoiced orders and
    refunds are paid out by the provider (real HTTP to the simulator),
    imported by the scheduled run, matched by the jobs and posted."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_settlement()
        cls.carol = cls.env["res.partner"].create({"name": "Carol Buyer"})
        cls.sale_ada = cls.make_order(cls.ada, 120.0)
        cls.sale_bob = cls.make_order(cls.bob, 45.5, psp="PSP-DAY-BOB")
        cls.sale_carol = cls.make_order(cls.carol, 19.99)
        cls.day_orders = cls.sale_ada | cls.sale_bob | cls.sale_carol
        cls.invoices = cls.env["account.move"]
        for order in cls.day_orders:
            cls.invoices |= order._create_invoices()
        cls.invoices.action_post()
        # Bob returned part of his order: the return has its credit note.
        cls.credit_note = cls.make_refund(cls.bob, 15.5, ref="RET-DAY-BOB")
        cls.returned = {"order": cls.sale_bob, "amount": 15.5, "ref": "RET-DAY-BOB"}
        # Carol's refund went through the provider, but nobody created it in Odoo.
        cls.unrecorded = {"order": cls.sale_carol, "amount": 5.0, "ref": "RET-DAY-CAROL"}
        cls.finance_env = cls.env(user=cls.finance)

    def setUp(self):
        super().setUp()
        self.sim_reset()

    def settle(self, refunds, env=None, run_jobs=True):
        return settlement_day.settle_day(
            env or self.finance_env, self.simulator.url, self.backend, self.day_orders, refunds,
            run_jobs=self.run_jobs if run_jobs else None)

    def test_payout_of_the_day_posts_to_the_cent(self):
        report = self.settle([self.returned])
        self.assertEqual(report["exceptions"], [])
        self.assertEqual((report["lines"], report["matched"]), (4, 4))
        self.assertEqual(report["batch_state"], "posted")
        self.assertTrue(report["posted"])
        # 120.00 + 45.50 + 19.99 - 15.50 = 169.99; fees at 1.5%, half up per
        # line: 1.80 + 0.68 + 0.30 + 0.23 = 3.01.
        self.assertEqual(report["payout_net_minor"], 16698)
        self.assertEqual(report["posted_net_minor"], 16698)
        self.assertTrue(report["balanced"])
        self.assertGreater(report["seconds"], 0)
        batch = self.batches(payout_ref=report["payout_ref"])
        self.assertEqual(batch.move_id.state, "posted")
        self.assertEqual((batch.gross_minor, batch.fee_minor), (16999, 301))
        for document in self.invoices | self.credit_note:
            self.assertTrue(document.currency_id.is_zero(document.amount_residual),
                            f"{document.name} is cleared by the settlement")
        self.assertEqual(settlement_day.settlement_invariants(self.env, self.backend, report), [])

    def test_scheduled_run_posts_the_payout_when_auto_post_is_on(self):
        self.backend.settlement_auto_post = True
        report = self.settle([self.returned], run_jobs=False)  # jobs performed in process
        self.assertEqual(report["batch_state"], "posted", report["exceptions"])
        self.assertTrue(report["balanced"])
        move = self.batches(payout_ref=report["payout_ref"]).move_id
        self.assertNotEqual(move.create_uid, self.finance, "posted by the scheduled run")
        self.assertEqual(settlement_day.settlement_invariants(self.env, self.backend, report), [])

    def test_refund_without_credit_note_is_an_explained_exception(self):
        report = self.settle([self.returned, self.unrecorded])
        self.assertEqual((report["lines"], report["matched"]), (5, 4))
        self.assertEqual(len(report["exceptions"]), 1, report["exceptions"])
        exception = report["exceptions"][0]
        self.assertEqual(exception["kind"], "refund_missing")
        self.assertIn(f"Refund of {self.sale_carol.name}", exception["reason"])
        self.assertIn("has no credit note in Odoo", exception["reason"])
        # A batch with an open exception waits for a person: nothing is posted.
        self.assertEqual(report["batch_state"], "exception")
        self.assertFalse(report["posted"])
        self.assertIsNone(report["posted_net_minor"])
        line = self.batches(payout_ref=report["payout_ref"]).line_ids.filtered(
            lambda x: x.line_ref == exception["line_ref"])
        self.assertEqual(line.exchange_id.state, "failed")
        self.assertEqual(line.exchange_id.error, exception["reason"])
        self.assertEqual(settlement_day.settlement_invariants(self.env, self.backend, report), [])

    def test_amount_beyond_tolerance_is_reported(self):
        self.backend.settlement_tolerance = 2
        wrong = dict(self.returned, amount=15.53)  # the credit note says 15.50
        report = self.settle([wrong])
        self.assertEqual([e["kind"] for e in report["exceptions"]], ["amount_mismatch"])
        self.assertIn("settled 1553 but Odoo says 1550", report["exceptions"][0]["reason"])
        self.assertFalse(report["posted"])
        invariants = settlement_day.settlement_invariants
        self.assertEqual(invariants(self.env, self.backend, report), [],
                         "an exception in the queue with its reason is explained")
        # Dismissed from the queue, the mismatch is no longer explained.
        clerk = new_test_user(self.env, login="day_settlement_clerk",
                              groups="base.group_user,"
                                     "retail_integration_base.group_retail_integration_user")
        batch = self.batches(payout_ref=report["payout_ref"])
        batch.line_ids.exchange_id.with_user(clerk).action_ignore()
        problems = invariants(self.env, self.backend, report)
        self.assertEqual(len(problems), 1, problems)
        self.assertIn("amount_mismatch", problems[0])
        self.assertIn("no open message", problems[0])

    def test_invariants_flag_a_payout_that_does_not_add_up(self):
        # The provider also pays an older payout whose transfer is a cent short.
        self.create_payout("PO-SHORT", [
            {"type": "sale", "merchant_order_ref": self.order1.name, "gross": 10000,
             "fee": 150}], payout_net=9849)
        report = self.settle([self.returned])
        self.assertTrue(report["balanced"], report["exceptions"])
        problems = settlement_day.settlement_invariants(self.env, self.backend, report)
        self.assertEqual(len(problems), 1, problems)
        self.assertIn("PO-SHORT", problems[0])
        self.assertIn("cannot post to the cent", problems[0])
