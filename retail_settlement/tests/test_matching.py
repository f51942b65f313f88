# Copyright 2026 Retail Integration Suite contributors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo.tests import TransactionCase, tagged

from .common import SettlementTestMixin


@tagged("post_install", "-at_install")
class TestSettlementMatching(SettlementTestMixin, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.setup_settlement()
        cls.order4 = cls.make_order(cls.bob, 20.0, psp="PSP-ORDER-4")

    def setUp(self):
        super().setUp()
        self.sim_reset()

    def _import(self, ref, lines):
        self.create_payout(ref, lines)
        file = self.sim_file(ref, "canonical")
        self.upload(file["content"], file["filename"])
        return self.batches(payout_ref=ref)

    def test_every_exception_kind_lands_in_the_queue_and_a_fix_resolves_it(self):
        batch = self._import("PO-M", [
            {"type": "sale", "merchant_order_ref": "NO-SUCH-ORDER", "gross": 1000, "fee": 10},
            {"type": "sale", "merchant_order_ref": self.order1.name, "gross": 9000, "fee": 10},
            {"type": "sale", "merchant_order_ref": self.order2.name, "gross": 5000, "fee": 10},
            {"type": "sale", "merchant_order_ref": self.order2.name, "gross": 5000, "fee": 10},
            {"type": "refund", "merchant_order_ref": self.order3.name,
             "merchant_refund_ref": "RF-MISSING", "gross": -3000},
        ])
        lines = batch.line_ids.sorted("sequence")
        kinds = lines.mapped("exception_kind")
        self.assertEqual(kinds, ["unmatched", "amount_mismatch", False, "duplicate",
                                 "refund_missing", False])
        self.assertEqual(batch.state, "exception")
        self.assertEqual(batch.exception_count, 4)
        queue = lines.exchange_id
        self.assertEqual(len(queue), 4)
        self.assertEqual(set(queue.mapped("state")), {"failed"})
        self.assertEqual(queue.mapped("failure_class"),
                         ["mapping", "business", "business", "business"])
        self.assertIn("settled 9000 but Odoo says 10000", lines[1].exception_reason)
        self.assertIn("has no credit note in Odoo", lines[4].exception_reason)
        self.assertEqual(lines[0].exchange_id.error, lines[0].exception_reason)

        # Fix the data: the order reference was the customer's, the refund is
        # created in Odoo; the queue's Retry (as a back-office user) re-matches.
        self.order4.client_order_ref = "NO-SUCH-ORDER"
        self.order4.order_line.price_unit = 10.0
        self.make_refund(self.ada, 30.0, ref="RF-MISSING")
        retry = (lines[0] | lines[4]).exchange_id.with_user(self.retail_user)
        retry.action_retry()
        self.run_jobs()
        self.assertEqual(lines[0].state, "matched")
        self.assertEqual(lines[0].sale_order_id, self.order4)
        self.assertEqual(lines[4].state, "matched")
        self.assertEqual(set(retry.mapped("state")), {"done"})
        # The mismatch is within a configured rounding tolerance? Not 10.00:
        # it stays; the duplicate stays until a person ignores it.
        self.assertEqual(lines[1].exchange_id.state, "failed")
        self.assertEqual(batch.state, "exception")

    def test_rounding_tolerance(self):
        self.backend.settlement_tolerance = 2
        batch = self._import("PO-TOL", [
            {"type": "sale", "merchant_order_ref": self.order1.name, "gross": 10002, "fee": 0},
            {"type": "sale", "merchant_order_ref": self.order2.name, "gross": 4997, "fee": 0},
        ])
        self.assertEqual(batch.line_ids.mapped("exception_kind"), [False, "amount_mismatch", False])
        self.backend.settlement_tolerance = 3
        batch.action_rematch()
        self.assertEqual(batch.state, "matched")
        self.assertFalse(batch.line_ids.exchange_id.filtered(lambda e: e.state == "failed"))
        self.assertEqual(batch.settlement_variance, -0.01)

    def test_key_order_psp_reference_first(self):
        self.backend.settlement_key_order = "psp_ref,merchant_ref,refund_ref"
        batch = self._import("PO-PSP", [
            {"type": "sale", "merchant_order_ref": self.order1.name,
             "psp_reference": "PSP-ORDER-4", "gross": 2000, "fee": 0},
        ])
        line = batch.line_ids[0]
        self.assertEqual((line.sale_order_id, line.matched_by), (self.order4, "psp_ref"))

    def test_a_line_settled_in_another_payout_is_a_duplicate(self):
        self._import("PO-D1", [{"type": "sale", "merchant_order_ref": self.order1.name,
                                "gross": 10000, "fee": 0, "psp_reference": "PSP-D"}])
        batch = self._import("PO-D2", [{"type": "sale", "merchant_order_ref": self.order1.name,
                                        "gross": 10000, "fee": 0, "psp_reference": "PSP-D"}])
        self.assertEqual(batch.line_ids[0].exception_kind, "duplicate")
        self.assertIn("PO-D1", batch.line_ids[0].exception_reason)

    def test_fees_and_chargebacks_are_categorised(self):
        batch = self._import("PO-CAT", self.payout_lines())
        by_type = {line.line_type: line for line in batch.line_ids}
        self.assertEqual(by_type["fee"].fee_category, "service")
        self.assertEqual(by_type["chargeback"].fee_category, "chargeback")
        self.assertEqual(by_type["fee"].state, "none")
        self.assertEqual(by_type["chargeback"].sale_order_id, self.order3)
