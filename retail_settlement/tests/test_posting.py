# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo.exceptions import UserError
from odoo.tests import TransactionCase, tagged

from .common import SettlementTestMixin


@tagged("post_install", "-at_install")
class TestSettlementPosting(SettlementTestMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_settlement()
        Account = cls.env["account.account"]
        cls.fee_account = Account.create({"name": "PSP commissions", "code": "627100",
                                          "account_type": "expense"})
        cls.cb_account = Account.create({"name": "Chargebacks", "code": "467100",
                                         "account_type": "asset_current"})
        cls.tax = cls.env["account.tax"].create({
            "name": "VAT 20% on commissions", "amount": 20.0, "amount_type": "percent",
            "type_tax_use": "purchase"})
        cls.vat_account = Account.create({"name": "VAT deductible", "code": "445660",
                                          "account_type": "asset_current"})
        cls.tax.invoice_repartition_line_ids.filtered(
            lambda r: r.repartition_type == "tax").account_id = cls.vat_account
        cls.backend.write({
            "settlement_chargeback_account_id": cls.cb_account.id,
            "settlement_fee_account_ids": [(0, 0, {"category": "service",
                                                   "account_id": cls.fee_account.id,
                                                   "tax_id": cls.tax.id})]})
        # Ada's order is invoiced: posting clears her invoice.
        cls.invoice = cls.order1._create_invoices()
        cls.invoice.action_post()

    def setUp(self):
        super().setUp()
        self.sim_reset()

    def _batch(self, ref="PO-P", **extra):
        self.create_payout(ref, **extra)
        file = self.sim_file(ref, "canonical")
        self.upload(file["content"], file["filename"])
        return self.batches(payout_ref=ref)

    def test_posting_balances_to_the_cent_with_fees_by_category(self):
        batch = self._batch()
        self.assertEqual(batch.state, "matched")
        batch.with_user(self.finance).action_post()
        move = batch.move_id
        self.assertEqual(move.state, "posted")
        self.assertEqual(batch.state, "posted")
        self.assertEqual(batch.posted_amount, 76.10)
        balances = {}
        for line in move.line_ids:
            key = (line.account_id, line.partner_id)
            balances[key] = round(balances.get(key, 0.0) + line.balance, 2)
        receivable = self.ada.property_account_receivable_id
        self.assertEqual(balances[(receivable, self.ada)], -100.00)
        self.assertNotIn((receivable, self.bob), balances, "Bob's sale and refund net out")
        self.assertEqual(balances[(self.backend.settlement_outstanding_account_id,
                                   self.env["res.partner"])], 76.10)
        # The 5.00 service fee includes 20% VAT: 4.17 expense + 0.83 tax.
        self.assertEqual(balances[(self.fee_account, self.env["res.partner"])], 4.17)
        self.assertEqual(balances[(self.vat_account, self.env["res.partner"])], 0.83)
        default_fee = self.backend.settlement_fee_account_id
        self.assertEqual(balances[(default_fee, self.env["res.partner"])], 18.90,
                         "processing 2.50 + 1.40 and the 15.00 chargeback fee")
        self.assertEqual(round(sum(balances.values()), 2), 0.0)
        self.assertEqual(balances[(self.cb_account, self.ada)], 0.0,
                         "the chargeback and its reversal cancel out")
        self.assertEqual(self.invoice.payment_state, "paid", "the invoice is cleared")
        # Posting again changes nothing.
        batch.with_user(self.finance).action_post()
        self.assertEqual(batch.move_id, move)

    def test_net_that_does_not_add_up_cannot_be_posted(self):
        batch = self._batch("PO-VAR", payout_net=7600)
        self.assertEqual(batch.state, "exception")
        self.assertEqual(batch.variance, 0.10)
        self.assertIn("differs from the payout", batch.problem)
        with self.assertRaises(UserError):
            batch.with_user(self.finance).action_post()
        self.assertFalse(batch.move_id)

    def test_reversal_of_a_posting(self):
        batch = self._batch("PO-REV")
        batch.with_user(self.finance).action_post()
        batch.with_user(self.finance).action_reverse()
        self.assertEqual(batch.state, "reversed")
        self.assertEqual(batch.reversal_move_id.reversed_entry_id, batch.move_id)
        self.assertEqual(batch.move_id.reversal_move_ids, batch.reversal_move_id)
        self.assertTrue(all(line.reconciled for line in batch.move_id.line_ids
                            if line.account_id.reconcile))
        self.assertNotEqual(self.invoice.payment_state, "paid", "the invoice is open again")
        with self.assertRaises(UserError):
            batch.with_user(self.finance).action_reverse()

    def test_scheduled_run_posts_matched_batches_when_asked(self):
        self.backend.settlement_auto_post = True
        batch = self._batch("PO-AUTO")
        self.import_flow().action_run_now()
        self.run_jobs()
        self.assertEqual(batch.state, "posted")
        flow = self.import_flow()
        self.assertEqual(flow.stat_settlement_batches, 1)
        self.assertEqual(flow.stat_settlement_in_time, 100.0)
